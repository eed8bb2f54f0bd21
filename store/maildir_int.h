/* SPDX-License-Identifier: ISC */
/*
 * maildir_int.h - what the Maildir driver's files share; nothing outside
 * store/maildir*.c includes it.  The driver's invariants are described
 * at the top of maildir.c.
 *
 *   maildir.c         the store: operations, completions, scanning
 *   maildir_fs.c      errors, paths and folder names, directory reading,
 *                     the directory cache
 *   maildir_folder.c  folder records in the state, change tokens,
 *                     listing, create, rename, delete
 *   maildir_msg.c     flag letters and keywords; fetch, append, set
 *                     flags, expunge
 *   maildir_proof.c   what a folder is expected to hold, and proving it
 *                     at a change token after a run's own changes
 *
 * Conventions: functions return 0 or -1 with err filled in (lookups: 1
 * found, 0 not, -1), and name the store and folder in every message.
 * File system errors are ERR_BOX (skip the folder), except a full or
 * broken file system (ERR_SYS); a message's own trouble is ERR_MSG.
 */
#ifndef FERRY_MAILDIR_INT_H
#define FERRY_MAILDIR_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/maildir.h"
#include "store/state.h"
#include "store/store.h"
#include "util/err.h"

#define KW_FILE "dovecot-keywords"
#define KW_MAX 26 /* letters 'a'..'z' */
#define KW_LEN_MAX 255 /* bytes of one keyword */
#define KW_FILE_MAX (64 * 1024) /* bytes of dovecot-keywords read */
#define HOST_MAX 64 /* bytes of the host name in file names */
#define SETTLE_SEC 2 /* a directory changed this recently (or, with */
#define SETTLE_MS 100 /* nanosecond mtimes, this)... */
#define SCAN_TRIES 3 /* ...or during a scan is read again */
#define DEPTH_MAX 32 /* folder levels listed in fs layout */
#define IDENT_MAX 256 /* a directory identity string */
#define COPY_CHUNK (64 * 1024) /* bytes per read() when copying */

struct job;
struct journal;

/* A message file in cur/ or new/. */
struct ent {
	char *name;
	size_t baselen; /* bytes before ':' */
	uint32_t uid; /* scan only */
	bool in_new;
	bool gone; /* vanished while we looked */
	bool known; /* scan only: the caller knows its UID */
	uint64_t size; /* scan only, files the caller does not know */
	int64_t mtime; /* likewise */
	unsigned char *fp; /* STORE_FP_LEN bytes (owned), or NULL */
};

struct ents {
	struct ent *v;
	size_t n, cap;
	/* When set: read only files with these base names (sorted). */
	char **want;
	size_t nwant;
};

/* A folder: its canonical name and its directory. */
struct where {
	char name[STATE_NAME_MAX + 1];
	char path[PATH_MAX];
};

/* A folder's keyword letters (dovecot-keywords). */
struct kwmap {
	char *kw[KW_MAX]; /* NULL: letter unused */
	bool dirty; /* must be saved before use */
};

/* The letters of a file name, as a set indexed by character. */
struct letters {
	bool on[128];
};

/* A folder list being built for store_list(). */
struct flist {
	struct store_folder *v;
	size_t n, cap;
};

struct maildir {
	struct store base;
	char *path; /* as configured */
	char *root; /* realpath(path) once connected */
	size_t rootlen;
	enum maildir_layout layout;
	struct state *state;
	bool fsync;
	bool create;
	char host[HOST_MAX + 1];
	struct job *jobs; /* completions not yet delivered */
	char *cache_folder; /* the folder cache holds, or NULL */
	struct ents cache; /* its files, sorted by base name */
	bool cache_some; /* only the files of some base names */
	unsigned long op; /* operations started */
	unsigned long cache_op; /* the one during which cache was read */
	struct journal *journals; /* maildir_proof.c */
};

/*
 * maildir_fs.c
 */

/* Fail with kind, naming the store and folder (may be NULL); -1. */
int md_fail(const struct maildir *, struct err *, enum err_kind,
    const char *folder, const char *, ...)
    __attribute__((format(printf, 5, 6)));
/* Likewise with ": strerror(errno)" appended. */
int md_fail_sys(const struct maildir *, struct err *, enum err_kind,
    const char *folder, const char *, ...)
    __attribute__((format(printf, 5, 6)));

/* a "/" b into out; -1 with ENAMETOOLONG when it does not fit. */
int md_mkpath(char *out, size_t, const char *a, const char *b);
/* Are dir/cur and dir/new directories (not links)? */
bool md_is_maildir(const char *dir);
/* mkdir(0700) that accepts an existing directory. */
int md_mkdir_ok(const char *);
/* Create dir's cur/ new/ tmp/ where missing. */
int md_make_subdirs(const char *dir);
/* Create each directory of path after its first skip bytes (the last
 * one too when last_too). */
int md_make_parents(const char *path, size_t skip, bool last_too);
int md_fsync_dir(const char *dir);
int md_fsync_sub(const char *dir, const char *sub);
/* Write everything, through short writes and EINTR; -1 with errno. */
int md_write_all(int fd, const char *, size_t);
/* Copy in to out until EOF into *n_out bytes; on failure *reading says
 * which side failed (errno is kept). */
int md_copy_fd(int in, int out, uint64_t *n_out, bool *reading);

/* Why c (n bytes) cannot be one component of a folder name, or NULL. */
const char *md_component_problem(
    const struct maildir *, const char *c, size_t n);
/* Why name cannot be a folder name here, or NULL. */
const char *md_name_problem(const struct maildir *, const char *name);
/* Is name INBOX, or in its first component INBOX spelt otherwise? */
bool md_not_inbox(const char *name);
/* Is the resolved path real the root or below it? */
bool md_inside(const struct maildir *, const char *real);
/* Refuse w (ERR_BOX) when the existing part of its path leads outside
 * the root. */
int md_confine(const struct maildir *, const struct where *, struct err *);
/* Check folder's name and find its directory (which may not exist). */
int md_where(
    const struct maildir *, const char *folder, struct where *, struct err *);

/* The host name as file names carry it ('/' and ':' escaped). */
void md_set_host(struct maildir *);
/* A fresh unique base name: <time>.M<usec>P<pid>Q<n>.<host>. */
int md_unique_base(const struct maildir *, char *out, size_t);

/* e's base name as a string. */
void md_ent_base(const struct ent *, char out[STATE_BASE_MAX + 1]);
int md_base_cmp(const char *a, size_t alen, const char *b, size_t blen);
/* qsort: by base name, then cur/ before new/, then by file name. */
int md_ent_cmp(const void *, const void *);
/* qsort of struct ent *: oldest first, then by name. */
int md_ent_age_cmp(const void *, const void *);
/* The path of e in folder w; -1 with ENAMETOOLONG. */
int md_ent_path(const struct where *, const struct ent *, char *out, size_t);
void md_ents_clear(struct ents *);
void md_ents_free(struct ents *);
/* What md_read_sub() tells of files it does not keep. */
struct tally {
	uint64_t count;
	uint64_t digest; /* the sum of their md_name_hash() */
};

/*
 * md_read_sub(md, w, in_new, e, t, err): add the message files of w's
 * new/ (in_new) or cur/ to e (names only: a stat only where the
 * directory does not give the type); when e is NULL, add them to *t
 * instead.  Names that are no message file name are skipped (debug log).
 */
int md_read_sub(const struct maildir *, const struct where *, bool in_new,
    struct ents *, struct tally *t, struct err *);
/* Both: new/ first, as files move from new/ to cur/ and never back. */
int md_read_folder(
    const struct maildir *, const struct where *, struct ents *, struct err *);

/* The directory cache (see maildir_fs.c). */
void md_cache_drop(struct maildir *);
/* Keep e (sorted here) as the cache of folder w; e is emptied. */
void md_cache_take(struct maildir *, const struct where *, struct ents *);
/* Whether the cache holds every file of w. */
bool md_cache_whole(const struct maildir *, const struct where *);
/*
 * md_cache_some(md, w, bases, n, err): unless the cache holds all of w,
 * read into it only the files of these n base names (sorted with
 * strcmp), for an operation on those alone.  0 or -1.
 */
int md_cache_some(struct maildir *, const struct where *, char **bases,
    size_t n, struct err *);
/*
 * md_locate(md, w, base, stale, out, err): the file of base in w; stale
 * says the caller found the cached name gone.  1 found, 0 not, -1.
 */
int md_locate(struct maildir *, const struct where *, const char *base,
    bool stale, struct ent **out, struct err *);

/*
 * maildir_msg.c
 */

/* Read w's dovecot-keywords into m (empty when there is none). */
int md_kw_load(const struct maildir *, const struct where *, struct kwmap *m,
    struct err *);
void md_kw_release(struct kwmap *);
/* The flag letters in e's name (none in new/). */
void md_letters_of(const struct ent *, struct letters *);
/* The canonical flags that letters l mean, in buf. */
#define MD_FLAGS_MAX (128 + KW_MAX * (KW_LEN_MAX + 1))
const char *md_letters_flags(
    const struct letters *, const struct kwmap *, char buf[MD_FLAGS_MAX]);
/* PERMANENTFLAGS (heap); *more_out: new keywords can still be stored. */
char *md_permflags(const struct kwmap *, bool *more_out);

int md_fetch_msg(struct maildir *, const struct where *, uint32_t uid,
    struct store_body *, struct err *);
/* Deliver items (see store_append_batch); 0, or -1 with err for the
 * batch (items then say which got in: uid != 0). */
int md_append_batch(struct maildir *, const struct where *, struct store_item *,
    size_t n, struct err *);
/* Read the directory cache for these UIDs (see maildir_msg.c). */
int md_will_touch(struct maildir *, const struct where *, const uint32_t *uids,
    size_t n, struct err *);
int md_set_flags(struct maildir *, const struct where *, const uint32_t *uids,
    size_t n, const char *add, const char *remove, struct err *);
int md_expunge(struct maildir *, const struct where *, const uint32_t *uids,
    size_t n, struct err *);

/*
 * maildir_folder.c
 */

/* Open a transaction unless the caller has one; *mine says if we did. */
int md_txn_begin(struct maildir *, bool *mine, struct err *);
/* Commit ours when rc is 0, else roll it back; return rc or -1. */
int md_txn_end(struct maildir *, bool mine, int rc, struct err *);
/*
 * md_record(md, w, f, err): the state's record of folder w (created on
 * first sight), after dealing with a replaced directory.
 */
int md_record(struct maildir *, const struct where *, struct state_mdfolder *f,
    struct err *);
/* The change token of folder dir (raw, and 0 when too fresh to trust);
 * -1 with errno. */
int md_stamp(const char *dir, uint64_t *raw, uint64_t *token);
/* The same, and when the token is 0, in how many ms it would not be. */
int md_stamp_wait(
    const char *dir, uint64_t *raw, uint64_t *token, int64_t *wait_ms);
/* Every folder with its status, INBOX first, then by name. */
int md_list_folders(struct maildir *, struct flist *, struct err *);
void md_flist_free(struct flist *);
int md_create_folder(struct maildir *, const struct where *, struct err *);
int md_rename_folder(struct maildir *, const struct where *from,
    const struct where *to, struct err *);
int md_delete_folder(struct maildir *, const struct where *, struct err *);

/*
 * maildir_proof.c
 */

/* The hash of one file name in cur/ or new/ (in_new). */
uint64_t md_name_hash(const char *name, bool in_new);
/* Start w's journal before a change, unless it has one. */
void md_journal_begin(struct maildir *, const struct where *);
/* w's journal is the listing e (a full one when full). */
void md_journal_set(
    struct maildir *, const struct where *, const struct ents *e, bool full);
/* The driver put a file named name into w's new/ (in_new) or cur/... */
void md_journal_add(
    struct maildir *, const struct where *, const char *name, bool in_new);
/* ...or took it out. */
void md_journal_del(
    struct maildir *, const struct where *, const char *name, bool in_new);
/* Something unexpected happened in w (or in the tree). */
void md_journal_break(struct maildir *, const struct where *);
void md_journal_break_all(struct maildir *);
void md_journal_free(struct maildir *);
/*
 * md_settle(md, w, out, err): when w holds exactly what its journal
 * expects, with settled mtimes, record that in the state and fill *out
 * with w's status at that change token (has_status), and go on from
 * there (a big folder's next window settles again); else has_status is
 * false and the journal is broken.  -1 only on a state error.
 */
int md_settle(struct maildir *, const struct where *, struct store_folder *out,
    struct err *);

#endif
