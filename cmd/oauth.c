/* SPDX-License-Identifier: ISC */
/*
 * oauth.c - the refresh_token grant of RFC 6749 over libcurl, with an
 * in-memory cache of the access token (see oauth.h).  libcurl is loaded
 * with dlopen() the first time a token is refreshed: linked in, it and
 * the libraries it brings cost every run of ferry some 6 MB of memory.  The
 * endpoint's JSON reply is read with a few string searches for the three
 * members we need (access_token, expires_in, error): enough for the replies of
 * Google, Microsoft and the test suite's server, bounded, and never evaluated.
 */
#include "oauth.h"

#include <ctype.h>
#include <curl/curl.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/config.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"
#include "util/os.h"

#define REPLY_MAX (64 * 1024)
#define LIBCURL "libcurl.so.4"
#define EARLY 60 /* seconds: refresh this long before expiry */

int
oauth_url_ok(const char *url)
{
	return strncmp(url, "https://", 8) == 0 ||
	       strncmp(url, "http://127.0.0.1:", 17) == 0 ||
	       strncmp(url, "http://localhost:", 17) == 0;
}

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;

	return buf_append(b, p, size * n) == 0 ? size * n : 0;
}

/* Append name=urlencoded(value) (and '&' before all but the first). */
static int
put_field(struct buf *b, const char *name, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)value;

	if ((b->len > 0 && buf_putc(b, '&') == -1) || buf_puts(b, name) == -1 ||
	    buf_putc(b, '=') == -1)
		return -1;
	for (; *p != '\0'; p++) {
		int r =
		    isalnum(*p) || strchr("-._~", *p) != NULL
			? buf_putc(b, (char)*p)
			: buf_printf(b, "%%%c%c", hex[*p >> 4], hex[*p & 15]);
		if (r == -1)
			return -1;
	}
	return 0;
}

/* The string member name of a flat JSON object, into out; 0 or -1. */
static int
json_string(const char *json, const char *name, struct buf *out)
{
	char key[64];
	const char *p;
	size_t n;

	snprintf(key, sizeof(key), "\"%s\"", name);
	if ((p = strstr(json, key)) == NULL)
		return -1;
	p += strlen(key);
	while (*p == ' ' || *p == ':' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p++ != '"')
		return -1;
	n = strcspn(p, "\"\\");
	if (p[n] != '"' || n == 0)
		return -1;
	return buf_append(out, p, n);
}

static long
json_number(const char *json, const char *name)
{
	char key[64];
	const char *p;

	snprintf(key, sizeof(key), "\"%s\"", name);
	if ((p = strstr(json, key)) == NULL)
		return -1;
	p += strlen(key);
	while (*p == ' ' || *p == ':' || *p == '"')
		p++;
	return isdigit((unsigned char)*p) ? strtol(p, NULL, 10) : -1;
}

/* The form body: grant, refresh token, client id and secret. */
static int
make_body(
    struct oauth_conf *o, const char *what, struct buf *body, struct err *err)
{
	struct buf sec;
	int r = -1;

	buf_init(&sec, CONFIG_MAX_TOKEN);
	if (config_run_command(what, "refresh_token_command",
		o->refresh_token_command, &sec, err) == -1)
		goto out_wipe;
	if (put_field(body, "grant_type", "refresh_token") == -1 ||
	    put_field(body, "refresh_token", sec.data) == -1 ||
	    put_field(body, "client_id", o->client_id) == -1)
		goto out_long;
	explicit_bzero(sec.data, sec.len);
	buf_reset(&sec);
	if (o->client_secret_command != NULL &&
	    (config_run_command(what, "client_secret_command",
		 o->client_secret_command, &sec, err) == -1 ||
		put_field(body, "client_secret", sec.data) == -1))
		goto out_wipe;
	r = 0;
	goto out_wipe;
out_long:
	err_set(err, ERR_LIMIT, "%s: request too long", what);
out_wipe:
	explicit_bzero(sec.data, sec.cap);
	buf_release(&sec);
	return r;
}

/* The libcurl calls we make, found by dlopen(). */
static struct {
	bool loaded;
	CURL *(*init)(void);
	CURLcode (*setopt)(CURL *, CURLoption, ...);
	CURLcode (*perform)(CURL *);
	CURLcode (*getinfo)(CURL *, CURLINFO, ...);
	void (*cleanup)(CURL *);
	const char *(*strerror)(CURLcode);
} curl;

static int
curl_load(const char *what, struct err *err)
{
	const char *why;
	void *lib;

	if (curl.loaded)
		return 0;
	if ((lib = dlopen(LIBCURL, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		why = dlerror();
		return err_set(err, ERR_CONFIG,
		    "%s: refreshing an OAuth2 token needs libcurl (%s): %s",
		    what, LIBCURL, why ? why : "not found");
	}
	if (!os_dlsym(lib, "curl_easy_init", &curl.init, sizeof(curl.init)) ||
	    !os_dlsym(
		lib, "curl_easy_setopt", &curl.setopt, sizeof(curl.setopt)) ||
	    !os_dlsym(lib, "curl_easy_perform", &curl.perform,
		sizeof(curl.perform)) ||
	    !os_dlsym(lib, "curl_easy_getinfo", &curl.getinfo,
		sizeof(curl.getinfo)) ||
	    !os_dlsym(lib, "curl_easy_cleanup", &curl.cleanup,
		sizeof(curl.cleanup)) ||
	    !os_dlsym(lib, "curl_easy_strerror", &curl.strerror,
		sizeof(curl.strerror))) {
		dlclose(lib);
		return err_set(
		    err, ERR_CONFIG, "%s: %s lacks a function", what, LIBCURL);
	}
	curl.loaded = true; /* and the library stays loaded */
	return 0;
}

/* POST body to the endpoint; the reply into reply, its status in *code. */
static int
post(const struct oauth_conf *o, const char *what, const struct buf *body,
    struct buf *reply, long *code, struct err *err)
{
	char ebuf[CURL_ERROR_SIZE] = "";
	CURLcode rc;
	CURL *h;

	if (curl_load(what, err) == -1)
		return -1;
	if ((h = curl.init()) == NULL)
		return err_set(err, ERR_SYS, "%s: libcurl failed", what);
	curl.setopt(h, CURLOPT_URL, o->token_url);
	curl.setopt(h, CURLOPT_POSTFIELDS, body->data);
	curl.setopt(h, CURLOPT_POSTFIELDSIZE, (long)body->len);
	curl.setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl.setopt(h, CURLOPT_WRITEDATA, reply);
	curl.setopt(h, CURLOPT_ERRORBUFFER, ebuf);
	curl.setopt(h, CURLOPT_TIMEOUT, 60L);
	curl.setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl.setopt(h, CURLOPT_PROTOCOLS_STR, "https,http");
	rc = curl.perform(h);
	curl.getinfo(h, CURLINFO_RESPONSE_CODE, code);
	curl.cleanup(h);
	if (rc != CURLE_OK)
		return err_set(err, ERR_CONN, "%s: token endpoint %s: %s", what,
		    o->token_url, ebuf[0] ? ebuf : curl.strerror(rc));
	return 0;
}

int
oauth_token(
    struct oauth_conf *o, const char *what, struct buf *out, struct err *err)
{
	struct buf body, reply, tok;
	long code = 0, ttl;
	int r = -1;

	if (o->token != NULL && time(NULL) < o->token_until)
		return buf_puts(out, o->token) == -1
			   ? err_set(err, ERR_LIMIT, "%s: token too long", what)
			   : 0;
	if (!oauth_url_ok(o->token_url))
		return err_set(err, ERR_CONFIG,
		    "%s: token_url must be https (or http on localhost)", what);
	buf_init(&body, 3 * CONFIG_MAX_TOKEN);
	buf_init(&reply, REPLY_MAX);
	buf_init(&tok, CONFIG_MAX_TOKEN);
	if (make_body(o, what, &body, err) == -1 ||
	    post(o, what, &body, &reply, &code, err) == -1)
		goto out_wipe;
	if (code != 200 ||
	    json_string(reply.data, "access_token", &tok) == -1) {
		buf_reset(&tok);
		(void)json_string(reply.data, "error", &tok);
		err_set(err, ERR_AUTH,
		    "%s: token endpoint refused (HTTP %ld): %s", what, code,
		    tok.len ? tok.data : "no access_token");
		goto out_wipe;
	}
	ttl = json_number(reply.data, "expires_in");
	log_debug("%s: new access token, valid %ld s", what, ttl);
	if (o->token != NULL) {
		explicit_bzero(o->token, strlen(o->token));
		free(o->token);
	}
	o->token = buf_detach(&tok, NULL);
	o->token_until = time(NULL) + (ttl > 2 * EARLY ? ttl - EARLY : ttl / 2);
	r = buf_puts(out, o->token) == -1
		? err_set(err, ERR_LIMIT, "%s: token too long", what)
		: 0;
out_wipe:
	explicit_bzero(body.data, body.cap);
	explicit_bzero(reply.data, reply.cap);
	explicit_bzero(tok.data, tok.cap);
	buf_release(&body);
	buf_release(&reply);
	buf_release(&tok);
	return r;
}

void
oauth_conf_free(struct oauth_conf *o)
{
	if (o == NULL)
		return;
	free(o->token_url);
	free(o->client_id);
	free(o->client_secret_command);
	free(o->refresh_token_command);
	if (o->token != NULL) {
		explicit_bzero(o->token, strlen(o->token));
		free(o->token);
	}
	free(o);
}
