/* SPDX-License-Identifier: ISC */
/*
 * inventory.c - what a Maildir tree holds, one line per message, for the
 * benchmark's check that both sides agree after every run:
 *
 *   folder <TAB> hash <TAB> flags <TAB> keywords <TAB> mtime
 *
 * The folder is the directory's path below the tree ("INBOX" for the top,
 * or for a directory named INBOX, as mbsync keeps it), each level decoded
 * from modified UTF-7 when it is valid modified UTF-7 (the server's and
 * mbsync's spelling) and left as it is otherwise (ferry's UTF-8).  hash is
 * SHA-256 over the file without CRs (Dovecot may store an APPENDed
 * message with bare LFs), cut to 16 hex digits.  flags are the standard
 * letters of the file name; keywords the names its lowercase letters map
 * to through the folder's dovecot-keywords file, sorted, comma-separated.
 * mtime is the internal date.  Output is unsorted: pipe it through sort.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "imap/utf7.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/str.h"

static char kw[26][128];

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

static void
hash_file(const char *path, char *out)
{
	static char data[1 << 16];
	char clean[1 << 16];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd == -1 || ctx == NULL) {
		perror(path);
		exit(1);
	}
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	while ((n = read(fd, data, sizeof(data))) > 0) {
		size_t k = 0;

		for (ssize_t i = 0; i < n; i++)
			if (data[i] != '\r')
				clean[k++] = data[i];
		EVP_DigestUpdate(ctx, clean, k);
	}
	close(fd);
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	for (unsigned i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void
one(const char *folder, const char *path, const char *name)
{
	const char *info = strstr(name, ":2,");
	char flags[32] = "", hash[17];
	const char *names[26];
	size_t nf = 0, nk = 0;
	struct stat st;

	if (stat(path, &st) == -1)
		return; /* renamed under us */
	if (info != NULL)
		for (const char *s = info + 3; *s != '\0'; s++) {
			if (strchr("DFPRST", *s) != NULL && nf < 30)
				flags[nf++] = *s;
			else if (*s >= 'a' && *s <= 'z')
				names[nk++] =
				    kw[*s - 'a'][0] ? kw[*s - 'a'] : "?";
		}
	flags[nf] = '\0';
	qsort(names, nk, sizeof(names[0]), cmp_str);
	hash_file(path, hash);
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
	if (argc != 2) {
		fprintf(stderr, "usage: inventory MAILDIR\n");
		return 2;
	}
	walk(argv[1], "");
	return fflush(stdout) == 0 ? 0 : 1;
}
