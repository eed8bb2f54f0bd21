/* SPDX-License-Identifier: ISC */
/*
 * corpus.c - the benchmark's deterministic mail corpus, written straight
 * into a Dovecot Maildir tree (LAYOUT=fs, modified UTF-7 folder names),
 * far faster than APPENDing it.
 *
 *   corpus gen PROFILE DIR      write profile small, medium or many
 *   corpus mutate DIR ROUND     the "incremental" change set, applied to
 *                               the server's Maildir: 200 new messages,
 *                               500 flag changes, 100 expunges
 *
 * The same profile gives the same bytes, names, flags, keywords and
 * mtimes (Dovecot's internal date for Maildir) on every machine: the only
 * randomness is a xorshift generator seeded from the profile or round.
 * Messages carry CRLF line ends, so the ",S=" and ",W=" sizes in their
 * names are both the file size.  Keywords are lowercase letters mapped by
 * each folder's dovecot-keywords file.  New and renamed files take the
 * owner of DIR, as Dovecot's mail processes need.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "imap/utf7.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/str.h"

static uint64_t rng = 88172645463325252ull;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static unsigned
rndn(unsigned n)
{
	return (unsigned)(rnd() % n);
}

static void
die(const char *what)
{
	fprintf(stderr, "corpus: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* 29 folders with the autocreated Drafts, Sent, Trash and Junk. */
static const char *const folders_all[] = {"INBOX", "Drafts", "Sent", "Trash",
    "Junk", "Archive", "Archive/2023", "Archive/2024", "Archive/2025", "Work",
    "Work/Projects", "Work/Projects/ferry",
    "Work/Projects/Gr\xc3\xb6\xc3\x9f"
    "e",
    "Work/Kunden", "Work/Kunden/M\xc3\xbcller", "Reisen",
    "Reisen/Z\xc3\xbcrich",
    "Reisen/Gr\xc3\xb6\xc3\x9f"
    "e",
    "Lists", "Lists/dovecot", "Lists/isync", "Lists/ferry-dev", "Family",
    "Family/\xd0\xa4\xd0\xbe\xd1\x82\xd0\xbe",
    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e/\xe3\x83\xa1\xe3\x83\xa2", "Receipts",
    "Receipts/\xc3\x9cn\xc3\xaf\x63\xc3\xb6\x64\xc3\xa9", "Notes"};
#define NFOLDERS (sizeof(folders_all) / sizeof(folders_all[0]))

static const char *const keywords[] = {
    "$Label1", "$Label2", "todo", "work", "$Important"};
#define NKW 5

struct profile {
	const char *name;
	unsigned count;
	unsigned nfolders; /* the first n of folders_all */
	unsigned attach_pct; /* messages with a 10-150 KB attachment */
	unsigned big_permille; /* messages with a 1-5 MB attachment (base64) */
};

static const struct profile profiles[] = {
    {"small", 2000, NFOLDERS, 9, 3},
    {"medium", 20000, NFOLDERS, 9, 3},
    {"many", 100000, 1, 0, 0},
};

static char root[4096];
static uid_t owner_uid;
static gid_t owner_gid;

/* The directory of folder f (UTF-8), created with cur, new and tmp. */
static void
folder_dir(const char *f, char *out, size_t n)
{
	struct buf b;
	struct err e;
	const char *sub[] = {"cur", "new", "tmp"};

	if (strcmp(f, "INBOX") == 0) {
		snprintf(out, n, "%s", root);
	} else {
		buf_init(&b, BUF_NOMAX);
		if (imap_utf8_to_utf7(str_from(f), &b, &e) == -1) {
			fprintf(stderr, "corpus: %s: %s\n", f, e.msg);
			exit(1);
		}
		if (buf_putc(&b, '\0') == -1 ||
		    (size_t)snprintf(out, n, "%s/%s", root, b.data) >= n)
			abort();
		buf_release(&b);
	}
	for (size_t i = 0; i < 3; i++) {
		char p[4200];
		char *s;

		snprintf(p, sizeof(p), "%s/%s", out, sub[i]);
		/* mkdir -p */
		for (s = p + strlen(root) + 1; *s != '\0'; s++) {
			if (*s != '/')
				continue;
			*s = '\0';
			if (mkdir(p, 0700) == -1 && errno != EEXIST)
				die(p);
			*s = '/';
		}
		if (mkdir(p, 0700) == -1 && errno != EEXIST)
			die(p);
	}
}

static void
put(struct buf *b, const char *s)
{
	if (buf_puts(b, s) == -1)
		abort();
}

static const char *const words[] = {"the", "mail", "sync", "server", "folder",
    "message", "report", "meeting", "friday", "build", "parser", "flags",
    "quarterly", "invoice", "travel", "Z\xc3\xbcrich", "design", "review",
    "budget", "deadline", "coffee", "photos", "minutes", "plan",
    ("Gr\xc3\xbc\xc3\x9f"
     "e"), /* split: "\x9fe" would be one escape */
    "release", "bug", "patch", "draft", "notes", "agenda", "and", "of", "to",
    "in", "for", "with", "on", "we", "please"};
#define NWORDS (sizeof(words) / sizeof(words[0]))

static void
text_lines(struct buf *b, size_t bytes)
{
	size_t start = b->len, col = 0;

	while (b->len - start < bytes) {
		const char *w = words[rndn(NWORDS)];

		put(b, w);
		col += strlen(w) + 1;
		if (col > 66) {
			put(b, "\r\n");
			col = 0;
		} else {
			put(b, " ");
		}
	}
	put(b, "\r\n");
}

static void
base64_lines(struct buf *b, size_t bytes)
{
	static const char t[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t out = (bytes + 2) / 3 * 4;
	char line[80];
	size_t n = 0;

	for (size_t i = 0; i < out; i++) {
		line[n++] = t[rnd() & 63];
		if (n == 76 || i + 1 == out) {
			line[n++] = '\r';
			line[n++] = '\n';
			if (buf_append(b, line, n) == -1)
				abort();
			n = 0;
		}
	}
}

/* Message id in b; its date (also the file's mtime) in *ts. */
static void
message(
    struct buf *b, const char *tag, unsigned id, unsigned attach, int64_t ts)
{
	static const char *const from[] = {"Ada Lovelace <ada@example.org>",
	    "Alan Turing <alan@example.org>",
	    "Grace Hopper <grace@example.net>",
	    "J\xc3\xb6rg M\xc3\xbcller <joerg@example.de>",
	    "Barbara Liskov <liskov@example.edu>"};
	static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t t = (time_t)ts;
	struct tm tm;
	char line[512];

	gmtime_r(&t, &tm);
	buf_reset(b);
	snprintf(line, sizeof(line),
	    "From: %s\r\nTo: Alice <alice@example.org>\r\n"
	    "Subject: %s %s #%u\r\n"
	    "Date: %02d %s %d %02d:%02d:%02d +0000\r\n"
	    "Message-ID: <bench-%s-%u@example.org>\r\nMIME-Version: 1.0\r\n",
	    from[id % 5], words[rndn(NWORDS)], words[rndn(NWORDS)], id,
	    tm.tm_mday, mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, tag, id);
	put(b, line);
	if (attach == 0) {
		put(b, "Content-Type: text/plain; charset=utf-8\r\n"
		       "Content-Transfer-Encoding: 8bit\r\n\r\n");
		text_lines(b, 600 + rndn(4000));
		return;
	}
	snprintf(line, sizeof(line),
	    "Content-Type: multipart/mixed; boundary=\"b%u\"\r\n\r\n"
	    "--b%u\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
	    id, id);
	put(b, line);
	text_lines(b, 300 + rndn(1500));
	snprintf(line, sizeof(line),
	    "\r\n--b%u\r\nContent-Type: application/octet-stream\r\n"
	    "Content-Transfer-Encoding: base64\r\n"
	    "Content-Disposition: attachment; filename=\"file-%u.bin\"\r\n\r\n",
	    id, id);
	put(b, line);
	base64_lines(b, attach);
	snprintf(line, sizeof(line), "--b%u--\r\n", id);
	put(b, line);
}

static void
flags_for(char *out)
{
	unsigned r = rndn(100);
	const char *f = r < 55   ? "S"
			: r < 65 ? "RS"
			: r < 73 ? "FS"
			: r < 75 ? "DS"
			: r < 90 ? ""
				 : "FRS";
	size_t n = strlen(f);

	memcpy(out, f, n);
	if (rndn(100) < 15) {
		unsigned k = rndn(NKW);

		out[n++] = (char)('a' + k);
		if (rndn(3) == 0 && k + 1 < NKW)
			out[n++] = (char)('a' + k + 1);
	}
	out[n] = '\0';
}

static void
write_file(const char *path, const struct buf *b, int64_t ts)
{
	struct timespec tv[2];
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);

	if (fd == -1)
		die(path);
	if (write(fd, b->data, b->len) != (ssize_t)b->len)
		die(path);
	tv[0].tv_sec = tv[1].tv_sec = (time_t)ts;
	tv[0].tv_nsec = tv[1].tv_nsec = 0;
	if (futimens(fd, tv) == -1 || fchown(fd, owner_uid, owner_gid) == -1)
		die(path);
	close(fd);
}

static void
keywords_file(const char *dir)
{
	char p[4200];
	FILE *f;

	snprintf(p, sizeof(p), "%s/dovecot-keywords", dir);
	if ((f = fopen(p, "w")) == NULL)
		die(p);
	for (unsigned i = 0; i < NKW; i++)
		fprintf(f, "%u %s\n", i, keywords[i]);
	fclose(f);
}

static unsigned
attach_size(const struct profile *p)
{
	unsigned r = rndn(1000);

	if (r < p->big_permille)
		return 750000 + rndn(3000000);
	if (r < p->big_permille + p->attach_pct * 10)
		return 10000 + rndn(140000);
	return 0;
}

/* Pick a folder: INBOX a third of the time, the others evenly. */
static unsigned
pick_folder(unsigned n)
{
	if (n == 1 || rndn(3) == 0)
		return 0;
	return 1 + rndn(n - 1);
}

static void
set_owner(void)
{
	struct stat st;

	if (stat(root, &st) == -1)
		die(root);
	owner_uid = st.st_uid;
	owner_gid = st.st_gid;
}

static int
gen(const char *name)
{
	const struct profile *p = NULL;
	char dirs[NFOLDERS][4096], path[4400], fl[16];
	struct buf b;
	uint64_t total = 0;
	int64_t step;

	for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++)
		if (strcmp(profiles[i].name, name) == 0)
			p = &profiles[i];
	if (p == NULL) {
		fprintf(stderr, "corpus: no profile %s\n", name);
		return 2;
	}
	if (mkdir(root, 0700) == -1 && errno != EEXIST)
		die(root);
	set_owner();
	for (unsigned i = 0; i < p->nfolders; i++) {
		folder_dir(folders_all[i], dirs[i], sizeof(dirs[i]));
		keywords_file(dirs[i]);
	}
	rng ^= (uint64_t)p->count * 2654435761u;
	buf_init(&b, BUF_NOMAX);
	/* Dates 1187 s apart, closer for the biggest profile so that the
	 * last stays in the past (2025): Dovecot stores a future APPEND
	 * date as the time of the APPEND, and the copies would differ. */
	step = (int64_t)p->count * 1187 > 60000000 ? 60000000 / p->count : 1187;
	for (unsigned i = 1; i <= p->count; i++) {
		unsigned f = pick_folder(p->nfolders);
		int64_t ts = 1700000000 + (int64_t)i * step;

		message(&b, p->name, i, attach_size(p), ts);
		flags_for(fl);
		snprintf(path, sizeof(path),
		    "%s/cur/%lld.M%uP1.bench,S=%zu,W=%zu:2,%s", dirs[f],
		    (long long)ts, i, b.len, b.len, fl);
		write_file(path, &b, ts);
		total += b.len;
	}
	buf_release(&b);
	printf("corpus: %s: %u messages, %llu bytes, %u folders\n", p->name,
	    p->count, (unsigned long long)total, p->nfolders);
	return 0;
}

/* Every message file under root, sorted by path. */
struct list {
	char **v;
	size_t n, cap;
};

static void
walk(const char *dir, struct list *l)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[4400];

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (lstat(p, &st) == -1)
			continue;
		if (S_ISDIR(st.st_mode)) {
			if (strcmp(de->d_name, "tmp") != 0)
				walk(p, l);
		} else if (S_ISREG(st.st_mode)) {
			size_t dl = strlen(dir);

			if (dl < 4 || (strcmp(dir + dl - 4, "/cur") != 0 &&
					  strcmp(dir + dl - 4, "/new") != 0))
				continue;
			if (l->n == l->cap) {
				l->cap = l->cap ? l->cap * 2 : 4096;
				l->v = realloc(l->v, l->cap * sizeof(*l->v));
				if (l->v == NULL)
					abort();
			}
			l->v[l->n++] = strdup(p);
		}
	}
	closedir(d);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Toggle one flag letter in the ":2," suffix of path into out. */
static void
toggle(const char *path, char letter, char *out, size_t n)
{
	const char *info = strstr(path, ":2,");
	char fl[64];
	size_t k = 0, base;
	int had = 0;

	base = info ? (size_t)(info - path) : strlen(path);
	if (info != NULL)
		for (const char *s = info + 3; *s != '\0' && k < 60; s++) {
			if (*s == letter)
				had = 1;
			else
				fl[k++] = *s;
		}
	if (!had)
		fl[k++] = letter;
	fl[k] = '\0';
	/* ASCII order: system flags, then keyword letters. */
	for (size_t i = 1; i < k; i++)
		for (size_t j = i; j > 0 && fl[j - 1] > fl[j]; j--) {
			char t = fl[j];

			fl[j] = fl[j - 1];
			fl[j - 1] = t;
		}
	snprintf(out, n, "%.*s:2,%s", (int)base, path, fl);
	/* A new message in new/ moves to cur/ once it has flags. */
	char *nw = strstr(out, "/new/");
	if (nw != NULL)
		memcpy(nw, "/cur/", 5);
}

static int
mutate(unsigned round)
{
	struct list l = {NULL, 0, 0};
	unsigned char *used;
	char dirs[NFOLDERS][4096], path[4400];
	unsigned nf = 0, nexp = 0, nflag = 0;
	struct buf b;

	set_owner();
	walk(root, &l);
	if (l.n < 1000) {
		fprintf(stderr, "corpus: only %zu messages in %s\n", l.n, root);
		return 1;
	}
	qsort(l.v, l.n, sizeof(*l.v), cmp_str);
	rng ^= (uint64_t)round * 0x9e3779b97f4a7c15ull;
	used = calloc(l.n, 1);
	while (nexp < 100) {
		size_t i = rnd() % l.n;

		if (used[i])
			continue;
		used[i] = 1;
		if (unlink(l.v[i]) == -1)
			die(l.v[i]);
		nexp++;
	}
	while (nflag < 500) {
		size_t i = rnd() % l.n;
		static const char letters[] = "SFSFRa";

		if (used[i])
			continue;
		used[i] = 1;
		toggle(l.v[i], letters[rndn(6)], path, sizeof(path));
		if (rename(l.v[i], path) == -1)
			die(l.v[i]);
		nflag++;
	}
	/* Which folders exist: those of the first 29 that have a cur/. */
	for (unsigned i = 0; i < NFOLDERS; i++) {
		struct stat st;
		char d[4096], c[4200];

		/* folder_dir creates; only use folders already there. */
		if (strcmp(folders_all[i], "INBOX") != 0) {
			struct buf nb;
			struct err e;

			buf_init(&nb, BUF_NOMAX);
			if (imap_utf8_to_utf7(
				str_from(folders_all[i]), &nb, &e) == -1)
				abort();
			snprintf(c, sizeof(c), "%s/%.*s/cur", root, (int)nb.len,
			    nb.data);
			buf_release(&nb);
			if (stat(c, &st) == -1)
				continue;
		}
		folder_dir(folders_all[i], d, sizeof(d));
		memcpy(dirs[nf++], d, sizeof(d));
	}
	buf_init(&b, BUF_NOMAX);
	for (unsigned j = 0; j < 200; j++) {
		unsigned id = 10000000 + round * 1000 + j;
		/* In the past: Dovecot stores a future APPEND date as now. */
		int64_t ts = 1750000000 + (int64_t)round * 86400 + j * 60;
		unsigned f = pick_folder(nf);

		message(&b, "new", id, rndn(10) == 0 ? 20000 : 0, ts);
		snprintf(path, sizeof(path), "%s/new/%lld.M%uP2.bench", dirs[f],
		    (long long)ts, id);
		write_file(path, &b, ts);
	}
	buf_release(&b);
	printf("corpus: round %u: 200 new, %u flag changes, %u expunged\n",
	    round, nflag, nexp);
	for (size_t i = 0; i < l.n; i++)
		free(l.v[i]);
	free(l.v);
	free(used);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "gen") == 0) {
		snprintf(root, sizeof(root), "%s", argv[3]);
		return gen(argv[2]);
	}
	if (argc == 4 && strcmp(argv[1], "mutate") == 0) {
		snprintf(root, sizeof(root), "%s", argv[2]);
		return mutate((unsigned)strtoul(argv[3], NULL, 10));
	}
	fprintf(stderr, "usage: corpus gen PROFILE DIR | mutate DIR ROUND\n");
	return 2;
}
