/* SPDX-License-Identifier: ISC */
/*
 * oauth.h - OAuth2 access tokens from a refresh token (RFC 6749 section
 * 6), for the XOAUTH2 and OAUTHBEARER mechanisms.  The only libcurl user.
 *
 * A struct oauth_conf says where the token endpoint is and how to get the
 * client's secrets; oauth_token() posts a refresh_token grant to it and
 * returns the access token, keeping it in memory (only) until shortly
 * before it expires, so that connections opened in one run share it.
 * The refresh token and client secret come from commands run with
 * /bin/sh -c (never on a command line ferry builds) and are wiped after
 * use, as is the request body.
 *
 * Ownership: a struct oauth_conf owns its strings and its cache;
 * oauth_conf_free() wipes and frees them.
 */
#ifndef FERRY_OAUTH_H
#define FERRY_OAUTH_H

#include <time.h>

struct buf;
struct err;

/* The token endpoints of the presets ("provider:"). */
#define OAUTH_GOOGLE_URL "https://oauth2.googleapis.com/token"
#define OAUTH_MICROSOFT_URL \
	"https://login.microsoftonline.com/common/oauth2/v2.0/token"

struct oauth_conf {
	char *token_url; /* https, or http on 127.0.0.1/localhost only */
	char *client_id;
	char *client_secret_command; /* NULL: a public client */
	char *refresh_token_command; /* required */
	/* The cache: the last access token and when to stop using it. */
	char *token;
	time_t token_until;
};

/*
 * oauth_token(conf, what, out, err): append a valid access token to out,
 * from the cache or from the token endpoint.  what names the store in
 * messages ("stores.work.oauth").  Return 0, or -1 with err: ERR_AUTH
 * when the endpoint refuses (its "error" text, never a secret), ERR_CONN
 * when it cannot be reached, ERR_CONFIG for a bad URL.
 */
int oauth_token(
    struct oauth_conf *, const char *what, struct buf *out, struct err *err);

/* Whether url may be used as a token endpoint. */
int oauth_url_ok(const char *url);

void oauth_conf_free(struct oauth_conf *);

#endif
