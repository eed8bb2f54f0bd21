/* SPDX-License-Identifier: ISC */
/*
 * oauth_server.c - a tiny OAuth2 authorization server for ferry's tests,
 * on 127.0.0.1 only: it issues short-lived access tokens and answers
 * Dovecot's oauth2 passdb when it checks one.  Not a general HTTP server:
 * one request per connection, GET and POST with small bodies, no TLS.
 *
 *   oauth_server serve DIR TTL   listen on a free port, write DIR/port and
 *                                DIR/pid, serve until killed; tokens live
 *                                TTL seconds
 *   oauth_server token DIR USER  ask the server in DIR for a token for
 *                                USER and print it (a token command)
 *
 * Endpoints:
 *   POST /token   body "user=U", or a refresh_token grant (see issue())
 *                                     200 {"access_token":...,
 *                                     "expires_in":TTL}; 400/401 {"error"}
 *   GET /tokeninfo?access_token=T     200 {"email":U,"active":true} while
 *                                     T is live, else 401
 *   GET /stats                        "issued N checked N rejected N"
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_TOKENS 256
#define REQ_MAX 8192

struct token {
	char value[48];
	char user[128];
	time_t expires;
};

static struct token tokens[MAX_TOKENS];
static unsigned ntokens, issued, checked, rejected;
static long ttl;

static int
write_file(const char *dir, const char *name, long v)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fprintf(f, "%ld\n", v);
	return fclose(f);
}

static void
reply(int fd, int status, const char *body)
{
	char head[256];
	int n;

	n = snprintf(head, sizeof(head),
	    "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n",
	    status,
	    status == 200   ? "OK"
	    : status == 400 ? "Bad Request"
			    : "Unauthorized",
	    strlen(body));
	if (write(fd, head, (size_t)n) != n ||
	    write(fd, body, strlen(body)) != (ssize_t)strlen(body))
		perror("oauth_server: write");
}

/* Read a request: the head, and a body up to Content-Length. */
static size_t
read_request(int fd, char *req)
{
	size_t len = 0, want = 0;
	char *end, *cl;
	ssize_t n;

	while (len < REQ_MAX - 1) {
		n = read(fd, req + len, REQ_MAX - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		req[len] = '\0';
		if ((end = strstr(req, "\r\n\r\n")) == NULL)
			continue;
		cl = strstr(req, "Content-Length: ");
		want = (size_t)(end + 4 - req) +
		       (cl && cl < end ? strtoul(cl + 16, NULL, 10) : 0);
		if (len >= want)
			break;
	}
	req[len] = '\0';
	return len;
}

/* The value of form field name in the body, into out; 0 or -1. */
static int
field(const char *req, const char *name, char *out, size_t size)
{
	const char *body = strstr(req, "\r\n\r\n"), *p;
	size_t n = strlen(name);

	for (p = body ? body + 4 : NULL; p != NULL && *p != '\0';) {
		if (strncmp(p, name, n) == 0 && p[n] == '=') {
			p += n + 1;
			snprintf(
			    out, size, "%.*s", (int)strcspn(p, "&\r\n"), p);
			return 0;
		}
		p = strchr(p, '&');
		p = p ? p + 1 : NULL;
	}
	return -1;
}

/*
 * A token for "user=U" (the token command of the tests), or for the
 * RFC 6749 refresh grant: refresh_token "rt-U", client_id "ferry-test"
 * and, when given, client_secret "cs-test".
 */
static void
issue(int fd, const char *req)
{
	char user[128] = "alice", grant[32], v[128], body[400];
	struct token *t;

	if (field(req, "grant_type", grant, sizeof(grant)) == 0) {
		if (strcmp(grant, "refresh_token") != 0 ||
		    field(req, "refresh_token", v, sizeof(v)) == -1 ||
		    strncmp(v, "rt-", 3) != 0) {
			reply(fd, 400, "{\"error\":\"invalid_grant\"}");
			return;
		}
		snprintf(user, sizeof(user), "%s", v + 3);
		if (field(req, "client_id", v, sizeof(v)) == -1 ||
		    strcmp(v, "ferry-test") != 0 ||
		    (field(req, "client_secret", v, sizeof(v)) == 0 &&
			strcmp(v, "cs-test") != 0)) {
			reply(fd, 401, "{\"error\":\"invalid_client\"}");
			return;
		}
	} else if (field(req, "user", v, sizeof(v)) == 0)
		snprintf(user, sizeof(user), "%s", v);
	t = &tokens[ntokens++ % MAX_TOKENS];
	snprintf(t->user, sizeof(t->user), "%s", user);
	snprintf(t->value, sizeof(t->value), "tok-%u-%08lx", ++issued,
	    (unsigned long)random());
	t->expires = time(NULL) + ttl;
	snprintf(body, sizeof(body),
	    "{\"access_token\":\"%s\",\"token_type\":\"Bearer\","
	    "\"expires_in\":%ld}",
	    t->value, ttl);
	reply(fd, 200, body);
}

static void
tokeninfo(int fd, const char *req)
{
	const char *v = strstr(req, "access_token=");
	size_t n = v ? strcspn(v + 13, " &\r\n") : 0;
	char body[256];
	unsigned i;

	checked++;
	for (i = 0; v != NULL && i < MAX_TOKENS && i < ntokens; i++) {
		const struct token *t = &tokens[i];

		if (strlen(t->value) == n && memcmp(t->value, v + 13, n) == 0 &&
		    time(NULL) < t->expires) {
			snprintf(body, sizeof(body),
			    "{\"email\":\"%s\",\"active\":true}", t->user);
			reply(fd, 200, body);
			return;
		}
	}
	rejected++;
	reply(fd, 401, "{\"error\":\"invalid_token\",\"active\":false}");
}

static int
serve(const char *dir)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	char req[REQ_MAX], body[128];
	int s, fd, one = 1;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((s = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(s, (struct sockaddr *)&a, sizeof(a)) == -1 ||
	    listen(s, 16) == -1 ||
	    getsockname(s, (struct sockaddr *)&a, &alen) == -1) {
		perror("oauth_server: listen");
		return 1;
	}
	if (write_file(dir, "pid", (long)getpid()) == -1 ||
	    write_file(dir, "port", ntohs(a.sin_port)) == -1) {
		perror("oauth_server: DIR");
		return 1;
	}
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	for (;;) {
		if ((fd = accept(s, NULL, NULL)) == -1)
			continue;
		read_request(fd, req);
		if (strncmp(req, "POST /token", 11) == 0)
			issue(fd, req);
		else if (strncmp(req, "GET /tokeninfo", 14) == 0)
			tokeninfo(fd, req);
		else if (strncmp(req, "GET /stats", 10) == 0) {
			snprintf(body, sizeof(body),
			    "issued %u checked %u rejected %u", issued, checked,
			    rejected);
			reply(fd, 200, body);
		} else
			reply(fd, 404, "{}");
		close(fd);
	}
}

/* The "token" and "stats" clients: one request, print the answer. */
static int
client(const char *dir, const char *what, const char *user)
{
	struct sockaddr_in a;
	char path[4096], req[512], resp[REQ_MAX];
	const char *v, *body;
	FILE *f;
	long port = 0;
	size_t n;
	int s;

	snprintf(path, sizeof(path), "%s/port", dir);
	if ((f = fopen(path, "r")) == NULL || fscanf(f, "%ld", &port) != 1) {
		fprintf(stderr, "oauth_server: no server in %s\n", dir);
		return 1;
	}
	fclose(f);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((unsigned short)port);
	if (user != NULL)
		snprintf(req, sizeof(req),
		    "POST /token HTTP/1.1\r\nHost: localhost\r\n"
		    "Content-Length: %zu\r\n\r\nuser=%s",
		    strlen(user) + 5, user);
	else
		snprintf(req, sizeof(req), "GET /%s HTTP/1.1\r\n\r\n", what);
	if ((s = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    connect(s, (struct sockaddr *)&a, sizeof(a)) == -1 ||
	    write(s, req, strlen(req)) != (ssize_t)strlen(req)) {
		perror("oauth_server: connect");
		return 1;
	}
	n = 0;
	while (n < sizeof(resp) - 1) {
		ssize_t r = read(s, resp + n, sizeof(resp) - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	resp[n] = '\0';
	close(s);
	if ((body = strstr(resp, "\r\n\r\n")) == NULL)
		return 1;
	body += 4;
	if (user == NULL) {
		printf("%s\n", body);
		return 0;
	}
	if ((v = strstr(body, "\"access_token\":\"")) == NULL)
		return 1;
	v += 16;
	printf("%.*s\n", (int)strcspn(v, "\""), v);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "serve") == 0) {
		ttl = strtol(argv[3], NULL, 10);
		return serve(argv[2]);
	}
	if (argc == 4 && strcmp(argv[1], "token") == 0)
		return client(argv[2], "token", argv[3]);
	if (argc == 3 && strcmp(argv[1], "stats") == 0)
		return client(argv[2], "stats", NULL);
	fprintf(stderr, "usage: oauth_server serve DIR TTL | token DIR USER | "
			"stats DIR\n");
	return 2;
}
