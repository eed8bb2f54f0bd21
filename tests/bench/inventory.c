/* SPDX-License-Identifier: ISC */
/*
 * inventory.c - what a Maildir tree holds, one line per message, for the
 * benchmark's check that a copy agrees with the server after every run:
 *
 *   inventory [-tv] [-c CACHE] MAILDIR
 *
 *   folder <TAB> hash <TAB> flags <TAB> keywords <TAB> mtime
 *
 * It reads both layouts the benchmark meets: Dovecot's (and ferry's)
 * LAYOUT=fs, the top directory being INBOX, and mbsync's "SubFolders
 * Verbatim" with the inbox in a directory named INBOX.  The folder is the
 * directory's path below the tree, each level decoded from modified UTF-7
 * when it is valid modified UTF-7 (the server's, mbsync's and interimap's
 * spelling) and left as it is otherwise (ferry's UTF-8).  hash is SHA-256
 * over the file without CRs (Dovecot may store an APPENDed message with
 * bare LFs), cut to 16 hex digits; with -t an "X-TUID:" line in the
 * header is left out of it (mbsync adds one to every message it copies).
 * flags are the standard letters of the file name; keywords the names its
 * lowercase letters map to through the folder's dovecot-keywords file,
 * sorted, comma-separated.  mtime is the internal date.  Output is in
 * directory order, not sorted.
 *
 * With -c, hashes are remembered in CACHE between runs, keyed by device,
 * inode, size, mtime and ctime (any write to a file changes its ctime,
 * which no program can set), so a check after a run that changed little
 * reads little.  CACHE is rewritten with the files seen this time.  -v
 * tells on stderr how many files were read and how many came from CACHE.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "imap/utf7.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/str.h"

/* key: device, inode, size, mtime s and ns, ctime s and ns */
#define NKEY 7

struct centry {
	long long key[NKEY];
	char hash[17];
};

struct cache {
	struct centry *v;
	size_t n, cap;
};

#define CACHE_HDR "inventory cache 1\n"
#define CACHE_HDR_T "inventory cache 1 -t\n"

static char kw[26][128];
static int strip_tuid, verbose;
static struct cache old_cache, new_cache;
static unsigned long long n_hashed, n_cached;

static void *
xrealloc(void *p, size_t n)
{
	if ((p = realloc(p, n)) == NULL) {
		perror("inventory");
		exit(1);
	}
	return p;
}

static void
cache_add(struct cache *c, const struct centry *e)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 1024;
		c->v = xrealloc(c->v, c->cap * sizeof(c->v[0]));
	}
	c->v[c->n++] = *e;
}

static int
cmp_centry(const void *a, const void *b)
{
	const struct centry *x = a, *y = b;

	for (int i = 0; i < NKEY; i++)
		if (x->key[i] != y->key[i])
			return x->key[i] < y->key[i] ? -1 : 1;
	return 0;
}

static void
cache_load(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[256];

	if (f == NULL)
		return;
	/* Hashes with and without -t differ: a cache holds one kind. */
	if (fgets(line, sizeof(line), f) == NULL ||
	    strcmp(line, strip_tuid ? CACHE_HDR_T : CACHE_HDR) != 0) {
		fclose(f);
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		struct centry e;
		long long *k = e.key;

		if (sscanf(line, "%lld %lld %lld %lld %lld %lld %lld %16s",
			&k[0], &k[1], &k[2], &k[3], &k[4], &k[5], &k[6],
			e.hash) != 8 ||
		    strlen(e.hash) != 16)
			continue;
		cache_add(&old_cache, &e);
	}
	fclose(f);
	qsort(old_cache.v, old_cache.n, sizeof(old_cache.v[0]), cmp_centry);
}

static void
cache_save(const char *path)
{
	char tmp[4200];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((f = fopen(tmp, "w")) == NULL) {
		perror(tmp);
		exit(1);
	}
	fputs(strip_tuid ? CACHE_HDR_T : CACHE_HDR, f);
	for (size_t i = 0; i < new_cache.n; i++) {
		const long long *k = new_cache.v[i].key;

		fprintf(f, "%lld %lld %lld %lld %lld %lld %lld %s\n", k[0],
		    k[1], k[2], k[3], k[4], k[5], k[6], new_cache.v[i].hash);
	}
	if (fclose(f) != 0 || rename(tmp, path) == -1) {
		perror(path);
		exit(1);
	}
}

static void
read_keywords(const char *dir)
{
	char p[4400], line[256];
	FILE *f;

	memset(kw, 0, sizeof(kw));
	snprintf(p, sizeof(p), "%s/dovecot-keywords", dir);
	if ((f = fopen(p, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *end;
		unsigned long n = strtoul(line, &end, 10);

		if (end == line || *end != ' ' || n >= 26)
			continue;
		end++;
		end[strcspn(end, "\r\n")] = '\0';
		snprintf(kw[n], sizeof(kw[n]), "%s", end);
	}
	fclose(f);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The whole file, CRs removed, into *data (grown as needed); its length. */
static size_t
read_clean(const char *path, char **data, size_t *cap)
{
	int fd = open(path, O_RDONLY);
	size_t len = 0;
	ssize_t n;

	if (fd == -1) {
		perror(path);
		exit(1);
	}
	for (;;) {
		if (*cap - len < 65536) {
			*cap = *cap ? 2 * *cap : 1 << 20;
			*data = xrealloc(*data, *cap);
		}
		n = read(fd, *data + len, *cap - len);
		if (n == -1) {
			perror(path);
			exit(1);
		}
		if (n == 0)
			break;
		for (char *s = *data + len, *end = s + n; s < end; s++)
			if (*s != '\r')
				(*data)[len++] = *s;
	}
	close(fd);
	return len;
}

static void
hash_file(const char *path, char *out)
{
	static char *data;
	static size_t cap;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t len = read_clean(path, &data, &cap), start = 0;

	if (ctx == NULL) {
		perror("inventory");
		exit(1);
	}
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	if (strip_tuid) {
		/* Header lines up to the empty one; hash all but X-TUID. */
		size_t i = 0;

		while (i < len && data[i] != '\n') {
			char *nl = memchr(data + i, '\n', len - i);
			size_t end = nl ? (size_t)(nl - data) + 1 : len;

			if (end - i >= 7 &&
			    strncasecmp(data + i, "X-TUID:", 7) == 0) {
				EVP_DigestUpdate(ctx, data + start, i - start);
				start = end;
			}
			i = end;
		}
	}
	EVP_DigestUpdate(ctx, data + start, len - start);
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	for (unsigned i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	n_hashed++;
}

static void
hash_cached(const char *path, const struct stat *st, char *out)
{
	struct centry e, *hit;

	e.key[0] = (long long)st->st_dev;
	e.key[1] = (long long)st->st_ino;
	e.key[2] = (long long)st->st_size;
	e.key[3] = (long long)st->st_mtim.tv_sec;
	e.key[4] = (long long)st->st_mtim.tv_nsec;
	e.key[5] = (long long)st->st_ctim.tv_sec;
	e.key[6] = (long long)st->st_ctim.tv_nsec;
	hit = old_cache.n == 0 ? NULL
			       : bsearch(&e, old_cache.v, old_cache.n,
				     sizeof(e), cmp_centry);
	if (hit != NULL) {
		memcpy(e.hash, hit->hash, sizeof(e.hash));
		n_cached++;
	} else {
		hash_file(path, e.hash);
	}
	memcpy(out, e.hash, sizeof(e.hash));
	cache_add(&new_cache, &e);
}

static void
one(const char *folder, const char *path, const char *name)
{
	const char *info = strstr(name, ":2,");
	char flags[32] = "", hash[17];
	const char *names[26];
	size_t nf = 0, nk = 0;
	struct stat st;

	if (stat(path, &st) == -1 || !S_ISREG(st.st_mode))
		return; /* renamed under us */
	if (info != NULL)
		for (const char *s = info + 3; *s != '\0'; s++) {
			if (strchr("DFPRST", *s) != NULL && nf < 30)
				flags[nf++] = *s;
			else if (*s >= 'a' && *s <= 'z' && nk < 26)
				names[nk++] =
				    kw[*s - 'a'][0] ? kw[*s - 'a'] : "?";
		}
	flags[nf] = '\0';
	qsort(names, nk, sizeof(names[0]), cmp_str);
	hash_cached(path, &st, hash);
	printf("%s\t%s\t%s\t", folder, hash, flags);
	for (size_t i = 0; i < nk; i++)
		printf("%s%s", i ? "," : "", names[i]);
	printf("\t%lld\n", (long long)st.st_mtim.tv_sec);
}

static void
folder_files(const char *folder, const char *dir)
{
	const char *sub[] = {"cur", "new"};

	read_keywords(dir);
	for (int i = 0; i < 2; i++) {
		char p[4400], f[4800];
		DIR *d;
		struct dirent *de;

		snprintf(p, sizeof(p), "%s/%s", dir, sub[i]);
		if ((d = opendir(p)) == NULL)
			continue;
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(f, sizeof(f), "%s/%s", p, de->d_name);
			one(folder, f, de->d_name);
		}
		closedir(d);
	}
}

/* Append level name to folder, decoded from modified UTF-7 if it is. */
static void
add_level(char *folder, size_t n, const char *name)
{
	struct buf b;
	struct err e;
	size_t len = strlen(folder);

	buf_init(&b, 4096);
	if (strchr(name, '&') != NULL &&
	    imap_utf7_to_utf8(str_from(name), &b, &e) == 0)
		snprintf(folder + len, n - len, "%s%.*s", len ? "/" : "",
		    (int)b.len, b.data);
	else
		snprintf(folder + len, n - len, "%s%s", len ? "/" : "", name);
	buf_release(&b);
}

static void
walk(const char *dir, const char *folder)
{
	char p[4400], sub[4400];
	struct stat st;
	DIR *d;
	struct dirent *de;

	snprintf(p, sizeof(p), "%s/cur", dir);
	if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
		folder_files(folder[0] ? folder : "INBOX", dir);
	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char f[4400];

		if (de->d_name[0] == '.' || strcmp(de->d_name, "cur") == 0 ||
		    strcmp(de->d_name, "new") == 0 ||
		    strcmp(de->d_name, "tmp") == 0)
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name);
		if (stat(sub, &st) == -1 || !S_ISDIR(st.st_mode))
			continue;
		snprintf(f, sizeof(f), "%s", folder);
		if (folder[0] == '\0' && strcmp(de->d_name, "INBOX") == 0)
			snprintf(f, sizeof(f), "INBOX");
		else
			add_level(f, sizeof(f), de->d_name);
		walk(sub, f);
	}
	closedir(d);
}

int
main(int argc, char **argv)
{
	const char *cache = NULL;
	int c;

	while ((c = getopt(argc, argv, "tvc:")) != -1)
		switch (c) {
		case 't':
			strip_tuid = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'c':
			cache = optarg;
			break;
		default:
			goto usage;
		}
	if (argc - optind != 1)
		goto usage;
	if (cache != NULL)
		cache_load(cache);
	walk(argv[optind], "");
	if (fflush(stdout) != 0)
		return 1;
	if (cache != NULL)
		cache_save(cache);
	if (verbose)
		fprintf(stderr, "inventory: %llu hashed, %llu from the cache\n",
		    n_hashed, n_cached);
	return 0;
usage:
	fprintf(stderr, "usage: inventory [-tv] [-c CACHE] MAILDIR\n");
	return 2;
}
