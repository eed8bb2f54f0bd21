/* SPDX-License-Identifier: ISC */
/*
 * maildir_proof.c - proving that a folder holds what the sync engine
 * believes, so that a folder ferry itself changed is not rescanned on the
 * next run.
 *
 * A folder's change token (md_stamp()) moves with every change to cur/
 * or new/, ferry's own included: the marks the engine keeps are the
 * tokens listed before a pass, so every folder a pass wrote to used to be
 * read in full again on the next run, just to find ferry's own changes.
 *
 * The driver keeps, per folder it works on in a run, a journal: the
 * digest and count of the file names it expects in cur/ and new/.  It
 * starts from a listing the engine was told about (a full scan), or from
 * the state's record of a listing proven earlier, when the folder is
 * still at that record's token (the engine skipped its scan because of
 * that same token).  Every rename, delivery and unlink the driver makes
 * updates it; anything unexpected (a file gone, a failed operation, a
 * folder created, renamed or deleted) breaks it.
 *
 * md_settle() then reads cur/ and new/ (names only) between two equal
 * stamps whose mtimes are settled (md_stamp()'s token is not 0), and
 * compares.  Equal means the folder holds exactly what the engine
 * believes, at that token: the engine may take it as its mark, and the
 * state records (token, digest, count) as the start of the next run's
 * journal.  Anything another program did before the second stamp shows
 * as a difference; anything after it moves the token.
 *
 * The digest is the sum of one 64-bit hash per name (its directory
 * included), so that adding, removing and renaming update it without
 * keeping the names; a collision needs two listings that differ and hash
 * to the same sum and count.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/maildir_int.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xalloc.h"

struct journal {
	struct journal *next;
	char name[STATE_NAME_MAX + 1];
	bool valid;
	uint64_t digest;
	uint64_t count;
};

uint64_t
md_name_hash(const char *name, bool in_new)
{
	uint64_t h = str_hash(name) ^ (in_new ? 0x6e : 0x63);

	/* A finalizer, so that sums of hashes of similar names spread. */
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h;
}

static struct journal *
find(struct maildir *md, const char *folder)
{
	struct journal *j;

	for (j = md->journals; j != NULL; j = j->next)
		if (strcmp(j->name, folder) == 0)
			return j;
	return NULL;
}

/* w's journal; a new one is broken (it proves nothing). */
static struct journal *
get(struct maildir *md, const struct where *w)
{
	struct journal *j = find(md, w->name);

	if (j != NULL)
		return j;
	j = xcalloc(1, sizeof(*j));
	snprintf(j->name, sizeof(j->name), "%s", w->name);
	j->next = md->journals;
	md->journals = j;
	return j;
}

/*
 * Before the driver's first change to w in this run, unless it was
 * scanned: start from the state's proven listing when the folder is
 * still at its token.
 */
void
md_journal_begin(struct maildir *md, const struct where *w)
{
	struct state_mdfolder f;
	struct err ignored;
	struct journal *j;
	uint64_t raw, token;

	if (find(md, w->name) != NULL)
		return;
	j = get(md, w);
	if (state_maildir_folder(md->state, w->name, &f, &ignored) < 0 ||
	    f.seen_token == 0 || md_stamp(w->path, &raw, &token) < 0 ||
	    token != f.seen_token)
		return;
	j->valid = true;
	j->digest = f.seen_digest;
	j->count = f.seen_count;
}

void
md_journal_set(
    struct maildir *md, const struct where *w, const struct ents *e, bool full)
{
	struct journal *j = get(md, w);
	size_t i;

	j->valid = full;
	j->digest = j->count = 0;
	for (i = 0; i < e->n; i++) {
		if (e->v[i].gone)
			j->valid = false;
		j->digest += md_name_hash(e->v[i].name, e->v[i].in_new);
		j->count++;
	}
}

void
md_journal_add(
    struct maildir *md, const struct where *w, const char *name, bool in_new)
{
	struct journal *j = get(md, w);

	j->digest += md_name_hash(name, in_new);
	j->count++;
}

void
md_journal_del(
    struct maildir *md, const struct where *w, const char *name, bool in_new)
{
	struct journal *j = get(md, w);

	j->digest -= md_name_hash(name, in_new);
	j->count--;
}

void
md_journal_break(struct maildir *md, const struct where *w)
{
	get(md, w)->valid = false;
}

void
md_journal_break_all(struct maildir *md)
{
	struct journal *j;

	for (j = md->journals; j != NULL; j = j->next)
		j->valid = false;
}

void
md_journal_free(struct maildir *md)
{
	struct journal *j;

	while ((j = md->journals) != NULL) {
		md->journals = j->next;
		free(j);
	}
}

/*
 * md_settle(md, w, out, err): see maildir_int.h.  The run's last changes
 * are usually just made: it waits for the mtimes to settle when that
 * takes at most SETTLE_MS (nanosecond mtimes), and gives up otherwise.
 */
int
md_settle(struct maildir *md, const struct where *w, struct store_folder *out,
    struct err *err)
{
	struct journal *j = find(md, w->name);
	struct state_mdfolder f;
	struct tally t = {0, 0};
	struct timespec pause;
	struct err ignored;
	uint64_t raw, token, after, token2;
	int64_t wait_ms;

	out->has_status = false;
	if (j == NULL || !j->valid)
		return 0;
	j->valid = false; /* until proven again */
	if (md_stamp_wait(w->path, &raw, &token, &wait_ms) < 0)
		return 0;
	if (token == 0) {
		if (wait_ms > SETTLE_MS + 1)
			return 0;
		pause.tv_sec = 0;
		pause.tv_nsec = (long)wait_ms * 1000000L;
		nanosleep(&pause, NULL);
		if (md_stamp(w->path, &raw, &token) < 0 || token == 0)
			return 0;
	}
	if (md_read_sub(md, w, true, NULL, &t, &ignored) < 0 ||
	    md_read_sub(md, w, false, NULL, &t, &ignored) < 0 ||
	    md_stamp(w->path, &after, &token2) < 0 || after != raw)
		return 0;
	if (t.digest != j->digest || t.count != j->count) {
		log_debug("maildir %s: folder %s changed during the run; it is "
			  "read again on the next one",
		    md->base.name, w->name);
		return 0;
	}
	if (md_record(md, w, &f, err) < 0 ||
	    state_maildir_seen(md->state, f.id, token, t.digest, t.count, err) <
		0)
		return -1;
	j->valid = true; /* the driver's next changes go on from here */
	out->has_status = true;
	out->uidvalidity = f.uidvalidity;
	out->uidnext = f.uidnext;
	out->messages = t.count > UINT32_MAX ? UINT32_MAX : (uint32_t)t.count;
	out->change_token = token;
	return 0;
}
