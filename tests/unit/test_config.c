/* SPDX-License-Identifier: ISC */
/*
 * test_config.c - the configuration loader (cmd/config.c).
 *
 * A full configuration with every key, one with every default, a table
 * of broken files with the exact message each must give (file:line: key:
 * text), path resolution (~/ and relative to the file), loading from a
 * real file, and fetching passwords from a command, a file, the
 * environment and the file itself.  Channels get the same treatment,
 * plus a table of folder patterns, a cross-check of the pattern matcher
 * against a naive recursive one, and inputs that would make a
 * backtracking matcher take exponential time.  Warnings go to stderr,
 * which the tests that check them capture in a file.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/config.h"
#include "cmd/oauth.h"
#include "tests/t.h"
#include "util/buf.h"
#include "util/err.h"

#define NAME "config.yaml"
#define DIR "/etc/ferry"

static int
load(const char *yaml, struct config *cfg, struct err *err)
{
	return config_load_mem(yaml, strlen(yaml), NAME, DIR, cfg, err);
}

static void
write_file(const char *path, const char *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	T_ASSERT(fd != -1);
	T_EQ_INT(write(fd, data, len), (long)len);
	T_EQ_INT(fchmod(fd, mode), 0);
	close(fd);
}

static char *
tmp_path(const char *name)
{
	static char path[4][4096];
	static int next;
	char *p = path[next++ % 4];

	snprintf(p, sizeof(path[0]), "%s/%s", t_tmpdir(), name);
	return p;
}

/* Standard error goes to a file between capture_begin and capture_end. */
static int saved_stderr = -1;

static void
capture_begin(void)
{
	int fd;

	fflush(stderr);
	saved_stderr = dup(STDERR_FILENO);
	fd = open(tmp_path("stderr.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	T_ASSERT(saved_stderr != -1 && fd != -1);
	dup2(fd, STDERR_FILENO);
	close(fd);
}

/* What was written, NUL-terminated, in a static buffer. */
static const char *
capture_end(void)
{
	static char text[4096];
	ssize_t n;
	int fd;

	fflush(stderr);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	fd = open(tmp_path("stderr.txt"), O_RDONLY);
	T_ASSERT(fd != -1);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	text[n > 0 ? n : 0] = '\0';
	return text;
}

static const char full_yaml[] =
    "# every key\n"
    "stores:\n"
    "  work:\n"
    "    type: imap\n"
    "    host: imap.example.com\n"
    "    port: 1993\n"
    "    tls: starttls\n"
    "    ca_file: certs/ca.pem\n"
    "    tls_name: mail.example.com\n"
    "    user: alice@example.com\n"
    "    password_command: \"pass show mail/work\"\n"
    "    allow_plaintext: true\n"
    "    connections: 8\n"
    "    timeout: 60\n"
    "  pinned:\n"
    "    type: imap\n"
    "    host: 192.0.2.1\n"
    "    fingerprint: \"SHA256:00:01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:"
    "0F:10:11:12:13:14:15:16:17:18:19:1a:1b:1c:1d:1e:1f\"\n"
    "    user: bob\n"
    "    password_file: ~/.secrets/pinned\n"
    "  laptop:\n"
    "    layout: maildir++\n"
    "    path: ~/Mail/work\n"
    "    type: maildir\n"
    "  env-user_2.x:\n"
    "    type: imap\n"
    "    host: imap.example.net\n"
    "    user: dave\n"
    "    password_env: FERRY_PW\n"
    "    fingerprint: sha256:"
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
    "channels:\n"
    "  work:\n"
    "    far: work\n"
    "    near: laptop\n";

static void
test_full(void)
{
	static const unsigned char fp[32] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
	    11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27,
	    28, 29, 30, 31};
	const struct store_conf *s;
	struct config cfg;
	struct err err = {0};

	setenv("HOME", "/home/alice", 1);
	T_EQ_INT(load(full_yaml, &cfg, &err), 0);
	T_EQ_STR(cfg.path, NAME);
	T_EQ_STR(cfg.dir, DIR);
	T_EQ_INT(cfg.nstores, 4);

	s = config_store(&cfg, "work");
	T_ASSERT(s == &cfg.stores[0]);
	T_EQ_STR(s->name, "work");
	T_EQ_INT(s->line, 3);
	T_EQ_INT(s->type, CONF_STORE_IMAP);
	T_EQ_STR(s->imap.host, "imap.example.com");
	T_EQ_INT(s->imap.port, 1993);
	T_EQ_INT(s->imap.tls, CONF_TLS_STARTTLS);
	T_EQ_STR(s->imap.ca_file, DIR "/certs/ca.pem");
	T_EQ_INT(s->imap.fingerprint_len, 0);
	T_EQ_STR(s->imap.tls_name, "mail.example.com");
	T_EQ_STR(s->imap.user, "alice@example.com");
	T_EQ_INT(s->imap.pass_source, CONF_PASS_COMMAND);
	T_EQ_STR(s->imap.pass, "pass show mail/work");
	T_ASSERT(s->imap.allow_plaintext);
	T_EQ_INT(s->imap.connections, 8);
	T_EQ_INT(s->imap.timeout, 60);
	T_ASSERT(s->maildir.path == NULL);

	s = config_store(&cfg, "pinned");
	T_ASSERT(s != NULL);
	T_EQ_INT(s->imap.port, 993);
	T_EQ_INT(s->imap.tls, CONF_TLS_IMPLICIT);
	T_EQ_MEM(s->imap.fingerprint, s->imap.fingerprint_len, fp, 32);
	T_ASSERT(s->imap.ca_file == NULL);
	T_EQ_STR(s->imap.tls_name, "192.0.2.1");
	T_EQ_INT(s->imap.pass_source, CONF_PASS_FILE);
	T_EQ_STR(s->imap.pass, "/home/alice/.secrets/pinned");

	s = config_store(&cfg, "laptop");
	T_ASSERT(s != NULL);
	T_EQ_INT(s->type, CONF_STORE_MAILDIR);
	T_EQ_STR(s->maildir.path, "/home/alice/Mail/work");
	T_EQ_INT(s->maildir.layout, CONF_LAYOUT_MAILDIRPP);
	T_ASSERT(s->imap.host == NULL);

	s = config_store(&cfg, "env-user_2.x");
	T_ASSERT(s != NULL);
	T_EQ_INT(s->imap.pass_source, CONF_PASS_ENV);
	T_EQ_STR(s->imap.pass, "FERRY_PW");
	T_EQ_MEM(s->imap.fingerprint, s->imap.fingerprint_len, fp, 32);

	T_ASSERT(config_store(&cfg, "nope") == NULL);
	T_ASSERT(config_store(&cfg, "Work") == NULL);
	T_EQ_INT(cfg.nchannels, 1);
	T_ASSERT(config_channel(&cfg, "work") == &cfg.channels[0]);
	config_free(&cfg);
	T_ASSERT(cfg.stores == NULL && cfg.nstores == 0 && cfg.path == NULL);
	T_ASSERT(cfg.channels == NULL && cfg.nchannels == 0);
	config_free(&cfg); /* twice is harmless */
}

static void
test_defaults(void)
{
	static const char yaml[] = "stores:\n"
				   "  a:\n"
				   "    type: imap\n"
				   "    host: imap.example.org\n"
				   "    user: carol\n"
				   "  b:\n"
				   "    type: imap\n"
				   "    host: imap.example.org\n"
				   "    user: carol\n"
				   "    tls: starttls\n"
				   "  c:\n"
				   "    type: imap\n"
				   "    host: imap.example.org\n"
				   "    user: carol\n"
				   "    tls: none\n"
				   "  m:\n"
				   "    type: maildir\n"
				   "    path: Mail\n";
	const struct store_conf *s;
	struct config cfg;
	struct err err = {0};

	T_EQ_INT(load(yaml, &cfg, &err), 0);
	s = config_store(&cfg, "a");
	T_EQ_INT(s->imap.port, 993);
	T_EQ_INT(s->imap.tls, CONF_TLS_IMPLICIT);
	T_ASSERT(s->imap.ca_file == NULL);
	T_EQ_INT(s->imap.fingerprint_len, 0);
	T_EQ_STR(s->imap.tls_name, "imap.example.org");
	T_ASSERT(s->imap.tls_name != s->imap.host);
	T_EQ_INT(s->imap.pass_source, CONF_PASS_NONE);
	T_ASSERT(s->imap.pass == NULL);
	T_ASSERT(!s->imap.allow_plaintext);
	T_EQ_INT(s->imap.connections, 4);
	T_EQ_INT(s->imap.timeout, 30);
	s = config_store(&cfg, "b");
	T_EQ_INT(s->imap.port, 143);
	T_EQ_INT(s->imap.tls, CONF_TLS_STARTTLS);
	s = config_store(&cfg, "c");
	T_EQ_INT(s->imap.port, 143);
	T_EQ_INT(s->imap.tls, CONF_TLS_NONE);
	s = config_store(&cfg, "m");
	T_EQ_INT(s->maildir.layout, CONF_LAYOUT_FS);
	T_EQ_STR(s->maildir.path, DIR "/Mail");
	config_free(&cfg);
}

static void
test_no_base_dir(void)
{
	static const char yaml[] = "stores:\n"
				   "  m:\n"
				   "    type: maildir\n"
				   "    path: Mail/x\n";
	struct config cfg;
	struct err err = {0};

	T_EQ_INT(
	    config_load_mem(yaml, strlen(yaml), "x.yaml", NULL, &cfg, &err), 0);
	T_ASSERT(cfg.dir == NULL);
	T_EQ_STR(cfg.stores[0].maildir.path, "Mail/x");
	config_free(&cfg);
}

static void
test_tilde(void)
{
	static const char yaml[] = "stores:\n"
				   "  a:\n"
				   "    type: maildir\n"
				   "    path: \"~\"\n"
				   "  b:\n"
				   "    type: maildir\n"
				   "    path: ~/Mail\n"
				   "  c:\n"
				   "    type: maildir\n"
				   "    path: /abs/~/x\n"
				   "  d:\n"
				   "    type: maildir\n"
				   "    path: rel/~x\n";
	struct config cfg;
	struct err err = {0};

	setenv("HOME", "/home/bob/", 1);
	T_EQ_INT(load(yaml, &cfg, &err), 0);
	T_EQ_STR(cfg.stores[0].maildir.path, "/home/bob");
	T_EQ_STR(cfg.stores[1].maildir.path, "/home/bob/Mail");
	T_EQ_STR(cfg.stores[2].maildir.path, "/abs/~/x");
	T_EQ_STR(cfg.stores[3].maildir.path, DIR "/rel/~x");
	config_free(&cfg);

	setenv("HOME", "/", 1);
	T_EQ_INT(load(yaml, &cfg, &err), 0);
	T_EQ_STR(cfg.stores[0].maildir.path, "/");
	T_EQ_STR(cfg.stores[1].maildir.path, "/Mail");
	config_free(&cfg);

	unsetenv("HOME");
	T_EQ_INT(load(yaml, &cfg, &err), -1);
	T_EQ_STR(err.msg, NAME ":4: stores.a.path: cannot expand ~: HOME is "
			       "not an absolute path");
	setenv("HOME", "/home/alice", 1);
}

struct bad {
	const char *yaml;
	const char *msg;
};

#define STORE_HEAD "stores:\n  work:\n    type: imap\n"
#define IMAP_HEAD STORE_HEAD "    host: h\n    user: u\n"
#define CH_STORE_LIST                              \
	"stores:\n"                                \
	"  work: {type: imap, host: h, user: u}\n" \
	"  laptop: {type: maildir, path: Mail}\n"  \
	"  backup: {type: maildir, path: Backup}\n"
#define CH_STORES CH_STORE_LIST "channels:\n"
#define CH_HEAD CH_STORES "  w:\n    far: work\n    near: laptop\n"
#define CH_KEYS                                                             \
	"far, near, mode, folders, create, expunge, state, brake_percent, " \
	"brake_min, rename"
#define EMPTY_LEVEL "has an empty level (a leading, trailing or doubled '/')"
#define IMAP_KEYS                                                          \
	"type, host, port, tls, ca_file, fingerprint, tls_name, user, "    \
	"password_command, password_file, password, password_env, "        \
	"allow_plaintext, auth, oauth_token_command, oauth, connections, " \
	"timeout"

static const struct bad bad[] = {
    /* Values of the wrong type or out of range. */
    {IMAP_HEAD "    port: 99999\n",
	NAME ":6: stores.work.port: expected a number from 1 to 65535, got "
	     "\"99999\""},
    {IMAP_HEAD "    port: 0\n",
	NAME ":6: stores.work.port: expected a number from 1 to 65535, got "
	     "\"0\""},
    {IMAP_HEAD "    port: 0993\n",
	NAME ":6: stores.work.port: expected a number from 1 to 65535, got "
	     "\"0993\""},
    {IMAP_HEAD "    port: -1\n",
	NAME ":6: stores.work.port: expected a number from 1 to 65535, got "
	     "\"-1\""},
    {IMAP_HEAD "    port: \"993\"\n",
	NAME ":6: stores.work.port: expected a number from 1 to 65535, got "
	     "the string \"993\""},
    {IMAP_HEAD "    port: [993]\n",
	NAME ":6: stores.work.port: expected a number from 1 to 65535, got a "
	     "list"},
    {IMAP_HEAD "    port: 99999999999999999999999\n",
	NAME ":6: stores.work.port: expected a number from 1 to 65535, got "
	     "\"99999999999999999999999\""},
    {IMAP_HEAD "    connections: 33\n",
	NAME ":6: stores.work.connections: expected a number from 1 to 32, "
	     "got \"33\""},
    {IMAP_HEAD "    timeout: 0\n",
	NAME ":6: stores.work.timeout: expected a number from 1 to 3600, got "
	     "\"0\""},
    {IMAP_HEAD "    timeout: 1.5\n",
	NAME ":6: stores.work.timeout: expected a number from 1 to 3600, got "
	     "\"1.5\""},
    {IMAP_HEAD "    allow_plaintext: yes\n",
	NAME ":6: stores.work.allow_plaintext: expected true or false, got "
	     "\"yes\""},
    {IMAP_HEAD "    allow_plaintext: \"true\"\n",
	NAME ":6: stores.work.allow_plaintext: expected true or false, got "
	     "the string \"true\""},
    {IMAP_HEAD "    tls: ssl\n",
	NAME ":6: stores.work.tls: expected implicit, starttls or none, got "
	     "\"ssl\""},
    {IMAP_HEAD "    tls:\n",
	NAME ":6: stores.work.tls: expected implicit, starttls or none, got "
	     "nothing"},
    {"stores:\n  work:\n    type: pop3\n",
	NAME ":3: stores.work.type: expected imap or maildir, got \"pop3\""},
    {"stores:\n  m:\n    type: maildir\n    path: x\n    layout: mh\n",
	NAME ":5: stores.m.layout: expected fs or maildir++, got \"mh\""},
    {STORE_HEAD "    host: [a, b]\n",
	NAME ":4: stores.work.host: expected a string, got a list"},
    {STORE_HEAD "    host: {a: b}\n",
	NAME ":4: stores.work.host: expected a string, got a mapping"},
    {STORE_HEAD "    host:\n",
	NAME ":4: stores.work.host: expected a string, got nothing"},
    {STORE_HEAD "    host: ~\n",
	NAME ":4: stores.work.host: expected a string, got nothing"},
    {STORE_HEAD "    host: \"\"\n",
	NAME ":4: stores.work.host: expected a non-empty string"},
    {STORE_HEAD "    host: \"a b\"\n",
	NAME ":4: stores.work.host: contains a space or control character"},
    {"stores:\n  m:\n    type: maildir\n    path: \"a\\0b\"\n",
	NAME ":4: stores.m.path: contains a NUL byte"},
    {IMAP_HEAD "    fingerprint: sha1:abcd\n",
	NAME ":6: stores.work.fingerprint: expected \"sha256:\" and 64 hex "
	     "digits (colons allowed), got \"sha1:abcd\""},
    {IMAP_HEAD "    fingerprint: sha256:0001\n",
	NAME ":6: stores.work.fingerprint: expected \"sha256:\" and 64 hex "
	     "digits (colons allowed), got \"sha256:0001\""},
    {IMAP_HEAD
	"    fingerprint: \"sha256:"
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	":\"\n",
	NAME ":6: stores.work.fingerprint: expected \"sha256:\" and 64 hex "
	     "digits (colons allowed), got \"sha256:00010203040506070809"
	     "0a0b0c0d0e0f1...\""},
    {IMAP_HEAD "    password_env: 1PW\n",
	NAME ":6: stores.work.password_env: expected an environment variable "
	     "name, got \"1PW\""},
    {IMAP_HEAD "    password: [secret]\n",
	NAME ":6: stores.work.password: expected a string, got a list"},
    /* Unknown, misplaced and duplicate keys. */
    {IMAP_HEAD "    hots: x\n",
	NAME ":6: stores.work.hots: unknown key; valid keys for an imap store "
	     "are: " IMAP_KEYS},
    {IMAP_HEAD "    path: x\n",
	NAME ":6: stores.work.path: not valid for an imap store; valid keys "
	     "are: " IMAP_KEYS},
    {"stores:\n  m:\n    type: maildir\n    path: x\n    host: h\n",
	NAME ":5: stores.m.host: not valid for a maildir store; valid keys "
	     "are: type, path, layout"},
    {"stores:\n  m:\n    type: maildir\n    \"pa\\eth\": x\n",
	NAME ":4: stores.m.pa\\x1bth: unknown key; valid keys for a maildir "
	     "store are: type, path, layout"},
    {IMAP_HEAD "    host: h2\n",
	NAME ":6: stores.work.host: duplicate key (first given at line 4)"},
    {STORE_HEAD "    type: imap\n",
	NAME ":4: stores.work.type: duplicate key (first given at line 3)"},
    {"stores:\n  m:\n    type: maildir\n    path: x\n    [a]: b\n",
	NAME ":5: stores.m: keys must be strings"},
    {"stores:\n  m: {type: maildir, path: x}\n  m: {type: maildir, path: "
     "y}\n",
	NAME ":3: stores.m: duplicate store name (first defined at line 2)"},
    {"stores:\n  a: {type: maildir, path: x}\nstores:\n  b: {type: "
     "maildir, path: y}\n",
	NAME ":3: stores: duplicate key (first given at line 1)"},
    {"stores:\n  a: {type: maildir, path: x}\nchannel:\n  x: y\n",
	NAME ":3: channel: unknown key; valid keys are: stores, channels"},
    /* Missing keys, conflicting keys. */
    {"stores:\n  work:\n    host: h\n",
	NAME ":2: stores.work: missing required key \"type\" (imap or "
	     "maildir)"},
    {STORE_HEAD "    user: u\n",
	NAME ":2: stores.work: missing required key \"host\""},
    {STORE_HEAD "    host: h\n",
	NAME ":2: stores.work: missing required key \"user\""},
    {"stores:\n  m:\n    type: maildir\n    layout: fs\n",
	NAME ":2: stores.m: missing required key \"path\""},
    {IMAP_HEAD "    password_command: pass x\n    password_file: f\n",
	NAME ":7: stores.work.password_file: more than one password source "
	     "(password_command at line 6); keep only one"},
    {IMAP_HEAD "    password_env: PW\n    password_command: x\n",
	NAME ":7: stores.work.password_command: more than one password source "
	     "(password_env at line 6); keep only one"},
    {IMAP_HEAD "    ca_file: ca.pem\n    tls: none\n",
	NAME ":6: stores.work.ca_file: not used with tls: none"},
    {IMAP_HEAD "    tls: none\n    tls_name: x\n",
	NAME ":7: stores.work.tls_name: not used with tls: none"},
    {IMAP_HEAD
	"    fingerprint: sha256:"
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	"\n    ca_file: ca.pem\n",
	NAME ":6: stores.work.fingerprint: cannot be combined with ca_file: a "
	     "pinned certificate replaces CA verification"},
    /* Store names and the shape of the file. */
    {"stores:\n  \"wo rk\": {type: maildir, path: x}\n",
	NAME ":2: stores.wo rk: store names use letters, digits, '_', '.' and "
	     "'-', do not start with '.' or '-', and have at most 64 bytes"},
    {"stores:\n  .hidden: {type: maildir, path: x}\n",
	NAME ":2: stores..hidden: store names use letters, digits, '_', '.' "
	     "and '-', do not start with '.' or '-', and have at most 64 "
	     "bytes"},
    {"stores:\n  -x: {type: maildir, path: x}\n",
	NAME ":2: stores.-x: store names use letters, digits, '_', '.' and "
	     "'-', do not start with '.' or '-', and have at most 64 bytes"},
    {"stores:\n  \"caf\\u00e9\": {type: maildir, path: x}\n",
	NAME ":2: stores.caf\\xc3\\xa9: store names use letters, digits, '_', "
	     "'.' and '-', do not start with '.' or '-', and have at most 64 "
	     "bytes"},
    {"stores:\n  [a]: {type: maildir, path: x}\n",
	NAME ":2: stores: store names must be strings"},
    {"stores:\n  work: imap\n",
	NAME ":2: stores.work: expected a mapping of settings, got \"imap\""},
    {"stores:\n  work:\n",
	NAME ":2: stores.work: expected a mapping of settings, got nothing"},
    {"stores: [a, b]\n",
	NAME ":1: stores: expected a mapping of store names to settings, got "
	     "a list"},
    {"stores:\n", NAME ":1: stores: expected a mapping of store names to "
		       "settings, got nothing"},
    {"stores: {}\n", NAME ":1: stores: no stores defined"},
    {"channels: {}\n", NAME ":1: missing required key \"stores\""},
    {"{}\n", NAME ":1: missing required key \"stores\""},
    {"", NAME ": the file is empty; it needs a \"stores:\" mapping"},
    {"# just a comment\n\n",
	NAME ": the file is empty; it needs a \"stores:\" mapping"},
    {"---\n...\n", NAME ": the file is empty; it needs a \"stores:\" mapping"},
    {"- stores\n", NAME ":1: expected a mapping at the top level, got a list"},
    {"stores\n", NAME ":1: expected a mapping at the top level, got "
		      "\"stores\""},
    /* YAML we do not take. */
    {"stores:\n  a: &x {type: maildir, path: x}\n",
	NAME ":2: anchors and aliases (&name, *name) are not supported; write "
	     "each value out"},
    {"stores:\n  a: {type: maildir, path: x}\n  b: *x\n",
	NAME ":3: anchors and aliases (&name, *name) are not supported; write "
	     "each value out"},
    {"stores:\n  a: !!map {type: maildir, path: x}\n",
	NAME ":2: tags (!name) are not supported"},
    {"stores:\n  a: {type: maildir, path: !!str x}\n",
	NAME ":2: tags (!name) are not supported"},
    {"stores:\n  a: {type: maildir, path: x}\n---\nstores: {}\n",
	NAME ":3: only one YAML document is allowed"},
    {"stores:\n  a: {type: maildir, path: x}\nchannels: "
     "[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]\n",
	NAME ":3: nested too deeply"},
    /* Syntax errors, with libyaml's words, line and column. */
    {"stores:\n  work:\n    type: imap\n    user: [a\n",
	NAME ":5:1: YAML syntax error: did not find expected ',' or ']' "
	     "(while parsing a flow sequence at line 4)"},
    {"stores:\n\twork: {}\n",
	NAME ":2:1: YAML syntax error: found character that cannot start any "
	     "token (while scanning for the next token at line 2); indent "
	     "with spaces, not tabs"},
    {"stores:\n  a: b\n c: d\n",
	NAME ":3:2: YAML syntax error: did not find expected key (while "
	     "parsing a block mapping at line 1)"},
    {"stores:\n  a: \"x\n",
	NAME ":3:1: YAML syntax error: found unexpected end of stream (while "
	     "scanning a quoted scalar at line 2)"},
    {"stores:\n  x: \xff\n", NAME ":2: invalid leading UTF-8 octet at byte 13"},
    {"stores:\n  x: a\x01\n",
	NAME ":2: control characters are not allowed at byte 14"},
    /* Channels: the section and the names. */
    {CH_STORE_LIST "channels: [a]\n",
	NAME ":5: channels: expected a mapping of channel names to settings, "
	     "got a list"},
    {CH_STORE_LIST "channels:\n",
	NAME ":5: channels: expected a mapping of channel names to settings, "
	     "got nothing"},
    {CH_STORE_LIST "channels: {}\n", NAME ":5: channels: no channels defined"},
    {CH_STORE_LIST "channels:\n  w: {far: work, near: laptop}\nchannels:\n"
		   "  v: {}\n",
	NAME ":7: channels: duplicate key (first given at line 5)"},
    {CH_STORES "  w: work\n",
	NAME ":6: channels.w: expected a mapping of settings, got \"work\""},
    {CH_HEAD "  w:\n    far: work\n    near: backup\n",
	NAME ":9: channels.w: duplicate channel name (first defined at line "
	     "6)"},
    {CH_STORES "  \"w k\":\n    far: work\n    near: laptop\n",
	NAME ":6: channels.w k: channel names use letters, digits, '_', '.' "
	     "and '-', do not start with '.' or '-', and have at most 64 "
	     "bytes"},
    {CH_STORES "  ../x: {far: work, near: laptop}\n",
	NAME ":6: channels.../x: channel names use letters, digits, '_', '.' "
	     "and '-', do not start with '.' or '-', and have at most 64 "
	     "bytes"},
    {CH_STORES "  [a]: {far: work, near: laptop}\n",
	NAME ":6: channels: channel names must be strings"},
    /* Channels: keys. */
    {CH_HEAD "    patterns: [\"*\"]\n",
	NAME ":9: channels.w.patterns: unknown key; valid keys for a channel "
	     "are: " CH_KEYS},
    {CH_HEAD "    far: laptop\n",
	NAME ":9: channels.w.far: duplicate key (first given at line 7)"},
    {CH_HEAD "    [a]: b\n", NAME ":9: channels.w: keys must be strings"},
    {CH_STORES "  w:\n    near: laptop\n",
	NAME ":6: channels.w: missing required key \"far\""},
    {CH_STORES "  w:\n    far: work\n    mode: pull\n",
	NAME ":6: channels.w: missing required key \"near\""},
    /* Channels: stores. */
    {CH_STORES "  w:\n    far: x\n    near: laptop\n",
	NAME ":7: channels.w.far: no store named \"x\" (stores: work, laptop, "
	     "backup)"},
    {CH_STORES "  w:\n    far: work\n    near: Laptop\n",
	NAME ":8: channels.w.near: no store named \"Laptop\" (stores: work, "
	     "laptop, backup)"},
    {"channels:\n  w: {far: nowhere, near: m}\nstores:\n  m: {type: "
     "maildir, path: x}\n",
	NAME ":2: channels.w.far: no store named \"nowhere\" (stores: m)"},
    {CH_STORES "  w:\n    far: [work]\n    near: laptop\n",
	NAME ":7: channels.w.far: expected a store name, got a list"},
    {CH_STORES "  w:\n    far: ~\n    near: laptop\n",
	NAME ":7: channels.w.far: expected a store name, got nothing"},
    {CH_STORES "  w:\n    far: work\n    near: work\n",
	NAME ":8: channels.w.near: the same store as far; a channel joins two "
	     "different stores"},
    {CH_STORES "  w:\n    far: laptop\n    near: backup\n",
	NAME ":6: channels.w: a channel needs at least one IMAP store, but far "
	     "(laptop) and near (backup) are both maildir stores"},
    /* Channels: mode, expunge, create, brakes. */
    {CH_HEAD "    mode: sync\n",
	NAME ":9: channels.w.mode: expected two-way, pull, push, mirror-pull "
	     "or mirror-push, got \"sync\""},
    {CH_HEAD "    mode: pull\n    expunge: true\n",
	NAME ":10: channels.w.expunge: true has no effect in pull mode; use "
	     "mirror-pull"},
    {CH_HEAD "    expunge: true\n    mode: push\n",
	NAME ":9: channels.w.expunge: true has no effect in push mode; use "
	     "mirror-push"},
    {CH_HEAD "    expunge: yes\n",
	NAME ":9: channels.w.expunge: expected true or false, got \"yes\""},
    {CH_HEAD "    create: 1\n",
	NAME ":9: channels.w.create: expected true or false, got \"1\""},
    {CH_HEAD "    brake_percent: 0\n",
	NAME ":9: channels.w.brake_percent: expected a number from 1 to 100, "
	     "got \"0\""},
    {CH_HEAD "    brake_percent: 101\n",
	NAME ":9: channels.w.brake_percent: expected a number from 1 to 100, "
	     "got \"101\""},
    {CH_HEAD "    brake_min: -1\n",
	NAME ":9: channels.w.brake_min: expected a number from 0 to 1000000, "
	     "got \"-1\""},
    {CH_HEAD "    brake_min: \"5\"\n",
	NAME ":9: channels.w.brake_min: expected a number from 0 to 1000000, "
	     "got the string \"5\""},
    /* Channels: folder patterns. */
    {CH_HEAD "    folders: \"*\"\n",
	NAME ":9: channels.w.folders: expected a list of patterns, got \"*\""},
    {CH_HEAD "    folders: []\n",
	NAME ":9: channels.w.folders: no patterns; write [\"*\"] for every "
	     "folder"},
    {CH_HEAD "    folders: [\"*\", \"\"]\n",
	NAME ":9: channels.w.folders: a pattern may not be empty"},
    {CH_HEAD "    folders: [\"*\", \"!\"]\n",
	NAME ":9: channels.w.folders: \"!\" alone excludes nothing; follow it "
	     "with a pattern, as in \"!Junk\""},
    {CH_HEAD "    folders: [\"!Junk\", \"!Trash\"]\n",
	NAME ":9: channels.w.folders: every pattern excludes, so no folder is "
	     "selected; begin with \"*\""},
    {CH_HEAD "    folders:\n      - \"*\"\n      - Work//x\n",
	NAME ":11: channels.w.folders: pattern \"Work//x\" " EMPTY_LEVEL},
    {CH_HEAD "    folders: [/Work]\n",
	NAME ":9: channels.w.folders: pattern \"/Work\" " EMPTY_LEVEL},
    {CH_HEAD "    folders: [\"Work/\"]\n",
	NAME ":9: channels.w.folders: pattern \"Work/\" " EMPTY_LEVEL},
    {CH_HEAD "    folders: [\"*\", \"!/x\"]\n",
	NAME ":9: channels.w.folders: pattern \"!/x\" " EMPTY_LEVEL},
    {CH_HEAD "    folders: [\"a\\tb\"]\n",
	NAME ":9: channels.w.folders: pattern \"a\\x09b\" contains a control "
	     "character"},
    {CH_HEAD "    folders: [\"a\\0b\"]\n",
	NAME ":9: channels.w.folders: pattern \"a\\x00b\" contains a control "
	     "character"},
    {CH_HEAD "    folders: [[a]]\n",
	NAME ":9: channels.w.folders: expected a pattern, got a list"},
    {CH_HEAD "    folders: [\"*\", ~]\n",
	NAME ":9: channels.w.folders: expected a pattern, got nothing"},
    {CH_HEAD "    folders: [*all]\n",
	NAME ":9: anchors and aliases (&name, *name) are not supported; write "
	     "each value out"},
    /* Channels: the state file. */
    {CH_HEAD "    state: \"\"\n",
	NAME ":9: channels.w.state: expected a non-empty string"},
    {CH_HEAD "    state: db/\n",
	NAME ":9: channels.w.state: names a directory; name the file, as in "
	     "~/.local/state/ferry/w.db"},
    {CH_HEAD "    state: ~bob/w.db\n",
	NAME ":9: channels.w.state: ~user is not supported; write ~/ or a "
	     "full path"},
    {CH_HEAD "    state: s.db\n  v:\n    far: work\n    near: backup\n"
	     "    state: /etc/ferry/./s.db\n",
	NAME ":13: channels.v.state: the same file as the state of channel "
	     "\"w\" (line 6); each channel needs its own"},
    {CH_HEAD "    state: ~/.local/state/ferry//v.db\n"
	     "  v: {far: work, near: backup}\n",
	NAME ":10: channels.v: the default state file "
	     "/home/alice/.local/state/ferry/v.db is the state of channel "
	     "\"w\" (line 6); set \"state\" to another file"},
    /* Channels: renames. */
    {CH_HEAD "    rename: [a, b]\n",
	NAME ":9: channels.w.rename: expected a mapping of far folder names to "
	     "near folder names, got a list"},
    {CH_HEAD "    rename:\n      \"\": Sent\n",
	NAME ":10: channels.w.rename: a folder name may not be empty"},
    {CH_HEAD "    rename:\n      Sent Items: \"\"\n",
	NAME ":10: channels.w.rename.Sent Items: a folder name may not be "
	     "empty"},
    {CH_HEAD "    rename:\n      Sent Items: ~\n",
	NAME ":10: channels.w.rename.Sent Items: expected a folder name, got "
	     "nothing"},
    {CH_HEAD "    rename:\n      [a]: b\n",
	NAME ":10: channels.w.rename: expected a folder name, got a list"},
    {CH_HEAD "    rename:\n      a: x\n      b: y\n      a: z\n",
	NAME ":12: channels.w.rename.a: duplicate folder (first given at line "
	     "10)"},
    {CH_HEAD "    rename:\n      a: x\n      b: x\n",
	NAME ":11: channels.w.rename.b: \"x\" is already the near name of "
	     "\"a\" (line 10)"},
    {CH_HEAD "    rename:\n      Work/: x\n",
	NAME ":10: channels.w.rename: folder name \"Work/\" " EMPTY_LEVEL},
    {CH_HEAD "    rename:\n      a: \"x\\ty\"\n",
	NAME ":10: channels.w.rename.a: folder name \"x\\x09y\" contains a "
	     "control character"},
    {CH_HEAD "    rename:\n      Junk: Spam\n    folders: [\"*\", \"!Junk\"]\n",
	NAME ":10: channels.w.rename.Junk: the folder is not selected by "
	     "\"folders\", so there is nothing to rename"},
};

static void
test_errors(void)
{
	size_t i;

	setenv("HOME", "/home/alice", 1);
	unsetenv("XDG_STATE_HOME");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct config cfg;
		struct err err = {0};

		memset(&cfg, 0xa5, sizeof(cfg));
		if (load(bad[i].yaml, &cfg, &err) != -1)
			t_fail(__FILE__, __LINE__, "case %zu loaded", i);
		T_EQ_INT(err.kind, ERR_CONFIG);
		T_EQ_STR(err.msg, bad[i].msg);
		T_ASSERT(cfg.stores == NULL && cfg.nstores == 0);
		T_ASSERT(cfg.channels == NULL && cfg.nchannels == 0);
		T_ASSERT(cfg.path == NULL);
	}
}

static void
test_home_user(void)
{
	static const char yaml[] = "stores:\n"
				   "  m:\n"
				   "    type: maildir\n"
				   "    path: ~bob/Mail\n";
	struct config cfg;
	struct err err = {0};

	T_EQ_INT(load(yaml, &cfg, &err), -1);
	T_EQ_STR(err.msg, NAME ":4: stores.m.path: ~user is not supported; "
			       "write ~/ or a full path");
}

static void
test_limits(void)
{
	struct buf b;
	struct config cfg;
	struct err err = {0};
	char *big;
	int i;

	/* A string value over CONFIG_MAX_STRING. */
	buf_init(&b, BUF_NOMAX);
	T_EQ_INT(
	    buf_puts(&b, "stores:\n  m:\n    type: maildir\n    path: "), 0);
	for (i = 0; i <= CONFIG_MAX_STRING; i++)
		T_EQ_INT(buf_putc(&b, 'x'), 0);
	T_EQ_INT(buf_putc(&b, '\n'), 0);
	T_EQ_INT(config_load_mem(b.data, b.len, NAME, DIR, &cfg, &err), -1);
	T_EQ_STR(err.msg, NAME ":4: stores.m.path: longer than 4096 bytes");

	/* More stores than allowed. */
	buf_reset(&b);
	T_EQ_INT(buf_puts(&b, "stores:\n"), 0);
	for (i = 0; i <= CONFIG_MAX_STORES; i++)
		T_EQ_INT(
		    buf_printf(&b, "  s%d: {type: maildir, path: x}\n", i), 0);
	T_EQ_INT(config_load_mem(b.data, b.len, NAME, DIR, &cfg, &err), -1);
	T_EQ_STR(err.msg, NAME ":514: stores.s512: more than 512 stores");

	/* A store name that is too long. */
	buf_reset(&b);
	T_EQ_INT(buf_puts(&b, "stores:\n  "), 0);
	for (i = 0; i < 65; i++)
		T_EQ_INT(buf_putc(&b, 'n'), 0);
	T_EQ_INT(buf_puts(&b, ": {type: maildir, path: x}\n"), 0);
	T_EQ_INT(config_load_mem(b.data, b.len, NAME, DIR, &cfg, &err), -1);
	T_ASSERT(strstr(err.msg, "have at most 64 bytes") != NULL);
	T_ASSERT(strstr(err.msg, "nnnnnnnn...: store names") != NULL);
	buf_release(&b);

	/* The whole input. */
	big = calloc(1, CONFIG_MAX_FILE + 1);
	T_ASSERT(big != NULL);
	memset(big, '#', CONFIG_MAX_FILE + 1);
	T_EQ_INT(
	    config_load_mem(big, CONFIG_MAX_FILE + 1, NAME, DIR, &cfg, &err),
	    -1);
	T_EQ_STR(err.msg, NAME ": larger than 1048576 bytes");
	free(big);

	/* No input at all. */
	T_EQ_INT(config_load_mem(NULL, 0, NAME, NULL, &cfg, &err), -1);
	T_EQ_STR(err.msg, NAME ": the file is empty; it needs a \"stores:\" "
			       "mapping");
}

static void
test_inline_password_warns(void)
{
	static const char yaml[] = "stores:\n"
				   "  work:\n"
				   "    type: imap\n"
				   "    host: h\n"
				   "    user: u\n"
				   "    password: \"hunter2 \"\n";
	struct config cfg;
	struct err err = {0};
	struct buf pw;
	const char *out;
	int r;

	capture_begin();
	r = load(yaml, &cfg, &err);
	out = capture_end();
	T_EQ_INT(r, 0);
	T_EQ_STR(out, "ferry: warning: " NAME ":6: stores.work.password: the "
		      "password is written in the config file; prefer "
		      "password_command or password_file\n");
	T_ASSERT(strstr(out, "hunter2") == NULL);
	T_EQ_INT(cfg.stores[0].imap.pass_source, CONF_PASS_INLINE);
	buf_init(&pw, 64);
	T_EQ_INT(config_get_password(&cfg.stores[0], &pw, &err), 0);
	T_EQ_STR(pw.data, "hunter2 ");
	buf_release(&pw);
	config_free(&cfg);
}

/* Load one IMAP store whose password settings are the line extra. */
static void
load_store(const char *extra, struct config *cfg)
{
	char yaml[1024];
	struct err err = {0};

	snprintf(yaml, sizeof(yaml),
	    "stores:\n  work:\n    type: imap\n    host: h\n    user: u\n"
	    "    %s\n",
	    extra);
	if (load(yaml, cfg, &err) != 0)
		t_fail(__FILE__, __LINE__, "load: %s", err.msg);
}

/* Fetch the password of cfg's first store; return 0/-1. */
static int
get_pw(struct config *cfg, struct buf *pw, struct err *err)
{
	buf_reset(pw);
	return config_get_password(&cfg->stores[0], pw, err);
}

static void
test_password_command(void)
{
	struct config cfg;
	struct err err = {0};
	struct buf pw;

	buf_init(&pw, BUF_NOMAX);
	load_store("password_command: \"printf 'hunter2\\\\n'\"", &cfg);
	T_EQ_INT(get_pw(&cfg, &pw, &err), 0);
	T_EQ_STR(pw.data, "hunter2");
	config_free(&cfg);

	/* Only one newline goes; "\r\n" counts as one. */
	load_store("password_command: \"printf 'a b\\\\n\\\\n'\"", &cfg);
	T_EQ_INT(get_pw(&cfg, &pw, &err), 0);
	T_EQ_STR(pw.data, "a b\n");
	config_free(&cfg);
	load_store("password_command: \"printf 'pw\\\\r\\\\n'\"", &cfg);
	T_EQ_INT(get_pw(&cfg, &pw, &err), 0);
	T_EQ_STR(pw.data, "pw");
	config_free(&cfg);
	load_store("password_command: \"printf nonl\"", &cfg);
	T_EQ_INT(get_pw(&cfg, &pw, &err), 0);
	T_EQ_STR(pw.data, "nonl");
	config_free(&cfg);

	/* The environment reaches the command; stdout only is captured. */
	setenv("FERRY_TEST_SECRET", "from env", 1);
	load_store("password_command: 'echo noise >&2; echo "
		   "\"$FERRY_TEST_SECRET\"'",
	    &cfg);
	capture_begin();
	T_EQ_INT(get_pw(&cfg, &pw, &err), 0);
	T_EQ_STR(capture_end(), "noise\n");
	T_EQ_STR(pw.data, "from env");
	config_free(&cfg);
	buf_release(&pw);
}

static void
test_password_command_fails(void)
{
	struct config cfg;
	struct err err = {0};
	struct buf pw;

	buf_init(&pw, BUF_NOMAX);
	load_store("password_command: \"echo s3cret; exit 3\"", &cfg);
	T_EQ_INT(get_pw(&cfg, &pw, &err), -1);
	T_EQ_INT(err.kind, ERR_AUTH);
	T_EQ_STR(err.msg, "stores.work.password_command: exited with status 3");
	T_EQ_INT(pw.len, 0);
	config_free(&cfg);

	load_store("password_command: /nonexistent/ferry-pw", &cfg);
	capture_begin(); /* sh complains */
	T_EQ_INT(get_pw(&cfg, &pw, &err), -1);
	capture_end();
	T_EQ_STR(err.msg, "stores.work.password_command: exited with status "
			  "127 (command not found?)");
	config_free(&cfg);

	load_store("password_command: \"kill -9 $$\"", &cfg);
	T_EQ_INT(get_pw(&cfg, &pw, &err), -1);
	T_EQ_STR(err.msg, "stores.work.password_command: killed by signal 9");
	config_free(&cfg);

	load_store("password_command: \"true\"", &cfg);
	T_EQ_INT(get_pw(&cfg, &pw, &err), -1);
	T_EQ_INT(err.kind, ERR_AUTH);
	T_EQ_STR(
	    err.msg, "stores.work.password_command: the password is empty");
	config_free(&cfg);

	load_store("password_command: \"echo\"", &cfg);
	T_EQ_INT(get_pw(&cfg, &pw, &err), -1);
	T_EQ_STR(
	    err.msg, "stores.work.password_command: the password is empty");
	config_free(&cfg);

	load_store("password_command: \"printf 'a\\\\000b'\"", &cfg);
	T_EQ_INT(get_pw(&cfg, &pw, &err), -1);
	T_EQ_STR(err.msg, "stores.work.password_command: the password "
			  "contains a NUL byte");
	config_free(&cfg);

	/* Endless output: stopped, not waited for forever. */
	load_store("password_command: \"yes\"", &cfg);
	T_EQ_INT(get_pw(&cfg, &pw, &err), -1);
	T_EQ_STR(err.msg, "stores.work.password_command: the password is "
			  "longer than 8192 bytes");
	config_free(&cfg);
	buf_release(&pw);
}

static void
test_password_file(void)
{
	struct config cfg;
	struct err err = {0};
	struct buf pw;
	char line[512];

	buf_init(&pw, BUF_NOMAX);
	write_file(tmp_path("pw"), "s3cret pw\nsecond line\n", 22, 0600);
	snprintf(line, sizeof(line), "password_file: %s", tmp_path("pw"));
	load_store(line, &cfg);
	T_EQ_STR(cfg.stores[0].imap.pass, tmp_path("pw"));
	capture_begin();
	T_EQ_INT(get_pw(&cfg, &pw, &err), 0);
	T_EQ_STR(capture_end(), "");
	T_EQ_STR(pw.data, "s3cret pw");

	write_file(tmp_path("pw"), "crlf\r\n", 6, 0600);
	T_EQ_INT(get_pw(&cfg, &pw, &err), 0);
	T_EQ_STR(pw.data, "crlf");
	write_file(tmp_path("pw"), "no newline", 10, 0400);
	T_EQ_INT(get_pw(&cfg, &pw, &err), 0);
	T_EQ_STR(pw.data, "no newline");

	write_file(tmp_path("pw"), "\nsecond\n", 8, 0600);
	T_EQ_INT(get_pw(&cfg, &pw, &err), -1);
	T_EQ_INT(err.kind, ERR_CONFIG);
	T_EQ_STR(err.msg, "stores.work.password_file: the password is empty");
	T_EQ_INT(pw.len, 0);

	T_EQ_INT(unlink(tmp_path("pw")), 0);
	T_EQ_INT(get_pw(&cfg, &pw, &err), -1);
	T_EQ_INT(err.kind, ERR_CONFIG);
	snprintf(line, sizeof(line),
	    "stores.work.password_file: cannot open %s: No such file or "
	    "directory",
	    tmp_path("pw"));
	T_EQ_STR(err.msg, line);
	config_free(&cfg);
	buf_release(&pw);
}

/* A group-readable file works, with a warning, and loads without one. */
static void
test_password_file_readable(void)
{
	struct config cfg;
	struct err err = {0};
	struct buf pw;
	char want[1024];
	const char *out;

	buf_init(&pw, BUF_NOMAX);
	write_file(tmp_path("pw"), "open secret\n", 12, 0640);
	snprintf(want, sizeof(want), "password_file: %s", tmp_path("pw"));
	capture_begin();
	load_store(want, &cfg);
	out = capture_end();
	T_EQ_STR(out, "");
	capture_begin();
	T_EQ_INT(get_pw(&cfg, &pw, &err), 0);
	out = capture_end();
	T_EQ_STR(pw.data, "open secret");
	snprintf(want, sizeof(want),
	    "ferry: warning: stores.work.password_file: %s is readable by "
	    "group or others; chmod 600 it\n",
	    tmp_path("pw"));
	T_EQ_STR(out, want);
	T_ASSERT(strstr(out, "open secret") == NULL);
	config_free(&cfg);
	buf_release(&pw);
}

static void
test_password_env(void)
{
	struct config cfg;
	struct err err = {0};
	struct buf pw;

	buf_init(&pw, BUF_NOMAX);
	load_store("password_env: FERRY_TEST_PW", &cfg);
	setenv("FERRY_TEST_PW", "env secret", 1);
	T_EQ_INT(get_pw(&cfg, &pw, &err), 0);
	T_EQ_STR(pw.data, "env secret");
	setenv("FERRY_TEST_PW", "", 1);
	T_EQ_INT(get_pw(&cfg, &pw, &err), -1);
	T_EQ_STR(err.msg, "stores.work.password_env: the password is empty");
	unsetenv("FERRY_TEST_PW");
	T_EQ_INT(get_pw(&cfg, &pw, &err), -1);
	T_EQ_INT(err.kind, ERR_CONFIG);
	T_EQ_STR(err.msg, "stores.work.password_env: FERRY_TEST_PW is not set");
	config_free(&cfg);
	buf_release(&pw);
}

static void
test_password_none_and_limit(void)
{
	struct config cfg;
	struct err err = {0};
	struct buf pw;

	buf_init(&pw, 4);
	load_store("timeout: 5", &cfg);
	T_EQ_INT(get_pw(&cfg, &pw, &err), -1);
	T_EQ_INT(err.kind, ERR_CONFIG);
	T_EQ_STR(err.msg, "stores.work: no password_command, password_file, "
			  "password_env or password");
	config_free(&cfg);

	load_store("password_command: \"echo 12345\"", &cfg);
	T_EQ_INT(get_pw(&cfg, &pw, &err), -1);
	T_EQ_INT(err.kind, ERR_LIMIT);
	T_EQ_INT(pw.len, 0);
	config_free(&cfg);
	buf_release(&pw);
}

/* A real file: relative paths follow the file, not the reader's cwd. */
static void
test_load_file(void)
{
	static const char yaml[] = "stores:\n"
				   "  work:\n"
				   "    type: imap\n"
				   "    host: h\n"
				   "    user: u\n"
				   "    ca_file: certs/ca.pem\n"
				   "    password_file: ../pw\n"
				   "  m:\n"
				   "    type: maildir\n"
				   "    path: Mail\n";
	char old_cwd[4096], want[4200], cwd[4096];
	struct config cfg;
	struct err err = {0};

	T_EQ_INT(mkdir(tmp_path("etc"), 0700), 0);
	write_file(tmp_path("etc/config.yaml"), yaml, strlen(yaml), 0600);
	T_EQ_INT(config_load(tmp_path("etc/config.yaml"), &cfg, &err), 0);
	T_EQ_STR(cfg.path, tmp_path("etc/config.yaml"));
	T_EQ_STR(cfg.dir, tmp_path("etc"));
	snprintf(want, sizeof(want), "%s/certs/ca.pem", tmp_path("etc"));
	T_EQ_STR(cfg.stores[0].imap.ca_file, want);
	snprintf(want, sizeof(want), "%s/../pw", tmp_path("etc"));
	T_EQ_STR(cfg.stores[0].imap.pass, want);
	snprintf(want, sizeof(want), "%s/Mail", tmp_path("etc"));
	T_EQ_STR(cfg.stores[1].maildir.path, want);
	config_free(&cfg);

	/* Named relative to the current directory. */
	T_ASSERT(getcwd(old_cwd, sizeof(old_cwd)) != NULL);
	T_EQ_INT(chdir(t_tmpdir()), 0);
	T_ASSERT(getcwd(cwd, sizeof(cwd)) != NULL);
	T_EQ_INT(config_load("etc/config.yaml", &cfg, &err), 0);
	T_EQ_STR(cfg.path, "etc/config.yaml");
	snprintf(want, sizeof(want), "%s/etc/Mail", cwd);
	T_EQ_STR(cfg.stores[1].maildir.path, want);
	config_free(&cfg);
	T_EQ_INT(chdir("etc"), 0);
	T_EQ_INT(config_load("config.yaml", &cfg, &err), 0);
	snprintf(want, sizeof(want), "%s/etc/Mail", cwd);
	T_EQ_STR(cfg.stores[1].maildir.path, want);
	config_free(&cfg);
	T_EQ_INT(chdir(old_cwd), 0);
}

static void
test_load_file_errors(void)
{
	struct config cfg;
	struct err err = {0};
	char want[4200];
	char *big;

	T_EQ_INT(config_load(tmp_path("missing.yaml"), &cfg, &err), -1);
	T_EQ_INT(err.kind, ERR_CONFIG);
	snprintf(want, sizeof(want),
	    "%s: cannot open: No such file or directory",
	    tmp_path("missing.yaml"));
	T_EQ_STR(err.msg, want);

	T_EQ_INT(config_load(t_tmpdir(), &cfg, &err), -1);
	snprintf(want, sizeof(want), "%s: not a regular file", t_tmpdir());
	T_EQ_STR(err.msg, want);

	big = malloc(CONFIG_MAX_FILE + 1);
	T_ASSERT(big != NULL);
	memset(big, '\n', CONFIG_MAX_FILE + 1);
	write_file(tmp_path("big.yaml"), big, CONFIG_MAX_FILE + 1, 0600);
	free(big);
	T_EQ_INT(config_load(tmp_path("big.yaml"), &cfg, &err), -1);
	snprintf(want, sizeof(want), "%s: larger than 1048576 bytes",
	    tmp_path("big.yaml"));
	T_EQ_STR(err.msg, want);

	/* Errors inside the file name it as it was given. */
	write_file(tmp_path("c.yaml"), "stores:\n  x: 1\n", 15, 0600);
	T_EQ_INT(config_load(tmp_path("c.yaml"), &cfg, &err), -1);
	snprintf(want, sizeof(want),
	    "%s:2: stores.x: expected a mapping of settings, got \"1\"",
	    tmp_path("c.yaml"));
	T_EQ_STR(err.msg, want);
}

static void
test_default_path(void)
{
	struct buf b;

	buf_init(&b, BUF_NOMAX);
	setenv("HOME", "/home/alice", 1);
	setenv("XDG_CONFIG_HOME", "/xdg/", 1);
	T_EQ_INT(config_default_path(&b), 0);
	T_EQ_STR(b.data, "/xdg/ferry/config.yaml");
	buf_reset(&b);
	setenv("XDG_CONFIG_HOME", "relative/is/ignored", 1);
	T_EQ_INT(config_default_path(&b), 0);
	T_EQ_STR(b.data, "/home/alice/.config/ferry/config.yaml");
	buf_reset(&b);
	unsetenv("XDG_CONFIG_HOME");
	T_EQ_INT(config_default_path(&b), 0);
	T_EQ_STR(b.data, "/home/alice/.config/ferry/config.yaml");
	buf_reset(&b);
	unsetenv("HOME");
	T_EQ_INT(config_default_path(&b), -1);
	T_EQ_INT(b.len, 0);
	setenv("HOME", "/home/alice", 1);
	buf_release(&b);

	buf_init(&b, 10);
	T_EQ_INT(config_default_path(&b), -1);
	T_EQ_INT(b.len, 0);
	buf_release(&b);
}

static const char channel_yaml[] =
    "channels:\n"
    "  work:\n"
    "    far: work\n"
    "    near: laptop\n"
    "    mode: mirror-pull\n"
    "    folders: [\"*\", \"!Junk\", \"!Trash/*\"]\n"
    "    create: false\n"
    "    expunge: true\n"
    "    state: state/./office.db\n"
    "    brake_percent: 50\n"
    "    brake_min: 0\n"
    "    rename:\n"
    "      \"Sent Items\": Sent\n"
    "      Gel\xc3\xb6schte Elemente: Trash\n"
    "  backup.2:\n"
    "    near: work\n"
    "    far: laptop\n"
    "stores:\n"
    "  work: {type: imap, host: h, user: u}\n"
    "  laptop: {type: maildir, path: Mail}\n";

/* Every channel key, with "channels:" before "stores:". */
static void
test_channel_full(void)
{
	const struct channel_conf *ch;
	struct config cfg;
	struct err err = {0};

	setenv("HOME", "/home/alice", 1);
	unsetenv("XDG_STATE_HOME");
	T_EQ_INT(load(channel_yaml, &cfg, &err), 0);
	T_EQ_INT(cfg.nchannels, 2);
	ch = config_channel(&cfg, "work");
	T_ASSERT(ch == &cfg.channels[0]);
	T_EQ_STR(ch->name, "work");
	T_EQ_INT(ch->line, 2);
	T_EQ_STR(ch->far, "work");
	T_EQ_STR(ch->near, "laptop");
	T_EQ_INT(ch->mode, CONF_MODE_MIRROR_PULL);
	T_EQ_INT(ch->nfolders, 3);
	T_EQ_STR(ch->folders[0], "*");
	T_EQ_STR(ch->folders[1], "!Junk");
	T_EQ_STR(ch->folders[2], "!Trash/*");
	T_ASSERT(!ch->create);
	T_ASSERT(ch->expunge);
	T_EQ_STR(ch->state, DIR "/state/office.db");
	T_EQ_INT(ch->brake_percent, 50);
	T_EQ_INT(ch->brake_min, 0);
	T_EQ_INT(ch->nrenames, 2);
	T_EQ_STR(ch->renames[0].far, "Sent Items");
	T_EQ_STR(ch->renames[0].near, "Sent");
	T_EQ_STR(ch->renames[1].far, "Gel\xc3\xb6schte Elemente");
	T_EQ_STR(ch->renames[1].near, "Trash");

	/* The reverse pair is another channel, with its own state. */
	ch = config_channel(&cfg, "backup.2");
	T_ASSERT(ch == &cfg.channels[1]);
	T_EQ_STR(ch->far, "laptop");
	T_EQ_STR(ch->near, "work");
	T_EQ_STR(ch->state, "/home/alice/.local/state/ferry/backup.2.db");
	T_ASSERT(config_channel(&cfg, "Work") == NULL);
	T_ASSERT(config_channel(&cfg, "backup") == NULL);
	config_free(&cfg);
	T_ASSERT(cfg.channels == NULL && cfg.nchannels == 0);
}

/* A channel of two IMAP stores, with nothing but far and near. */
static const char channel_min_yaml[] =
    "stores:\n"
    "  a: {type: imap, host: a.example, user: u}\n"
    "  b: {type: imap, host: b.example, user: u}\n"
    "channels:\n"
    "  a-to-b: {far: a, near: b}\n";

static void
test_channel_defaults(void)
{
	const struct channel_conf *ch;
	struct config cfg;
	struct err err = {0};

	setenv("HOME", "/home/alice", 1);
	unsetenv("XDG_STATE_HOME");
	T_EQ_INT(load(channel_min_yaml, &cfg, &err), 0);
	ch = config_channel(&cfg, "a-to-b");
	T_ASSERT(ch != NULL);
	T_EQ_INT(ch->line, 5);
	T_EQ_INT(ch->mode, CONF_MODE_TWO_WAY);
	T_EQ_INT(ch->nfolders, 1);
	T_EQ_STR(ch->folders[0], "*");
	T_ASSERT(ch->create);
	T_ASSERT(!ch->expunge);
	T_EQ_STR(ch->state, "/home/alice/.local/state/ferry/a-to-b.db");
	T_EQ_INT(ch->brake_percent, 25);
	T_EQ_INT(ch->brake_min, 10);
	T_EQ_INT(ch->nrenames, 0);
	T_ASSERT(ch->renames == NULL);
	config_free(&cfg);
}

/* The default state file follows the environment at load time. */
static void
test_channel_state_default(void)
{
	struct config cfg;
	struct err err = {0};

	setenv("HOME", "/home/alice", 1);
	setenv("XDG_STATE_HOME", "/xdg/state//", 1);
	T_EQ_INT(load(channel_min_yaml, &cfg, &err), 0);
	T_EQ_STR(cfg.channels[0].state, "/xdg/state/ferry/a-to-b.db");
	config_free(&cfg);

	setenv("XDG_STATE_HOME", "relative/is/ignored", 1);
	T_EQ_INT(load(channel_min_yaml, &cfg, &err), 0);
	T_EQ_STR(
	    cfg.channels[0].state, "/home/alice/.local/state/ferry/a-to-b.db");
	config_free(&cfg);

	unsetenv("XDG_STATE_HOME");
	setenv("HOME", "/", 1);
	T_EQ_INT(load(channel_min_yaml, &cfg, &err), 0);
	T_EQ_STR(cfg.channels[0].state, "/.local/state/ferry/a-to-b.db");
	config_free(&cfg);

	unsetenv("HOME");
	T_EQ_INT(load(channel_min_yaml, &cfg, &err), -1);
	T_EQ_INT(err.kind, ERR_CONFIG);
	T_EQ_STR(err.msg, NAME ":5: channels.a-to-b: no default state file: "
			       "neither XDG_STATE_HOME nor HOME is an "
			       "absolute path; set \"state\"");
	T_ASSERT(cfg.channels == NULL);

	/* Without HOME, an explicit absolute state still works. */
	setenv("XDG_STATE_HOME", "/xdg", 1);
	T_EQ_INT(load(channel_min_yaml, &cfg, &err), 0);
	T_EQ_STR(cfg.channels[0].state, "/xdg/ferry/a-to-b.db");
	config_free(&cfg);
	setenv("HOME", "/home/alice", 1);
	unsetenv("XDG_STATE_HOME");
}

/* Given state paths: ~/, relative to the file, tidied. */
static void
test_channel_state_paths(void)
{
	static const struct {
		const char *state, *base, *want;
	} t[] = {
	    {"~/s/w.db", DIR, "/home/alice/s/w.db"},
	    {"s//w.db", DIR, DIR "/s/w.db"},
	    {"./s/./w.db", DIR, DIR "/s/w.db"},
	    {"s/../w.db", DIR, DIR "/s/../w.db"},
	    {"/var//lib/./ferry/.w.db", DIR, "/var/lib/ferry/.w.db"},
	    {"s/w.db", NULL, "s/w.db"},
	    {"./w.db", NULL, "w.db"},
	    {"./.", NULL, "."},
	    {".//w.db", NULL, "w.db"},
	    {"a/.//./b", NULL, "a/b"},
	    {"//x/.", NULL, "/x"},
	    {"a/..//b/..", NULL, "a/../b/.."},
	};
	char yaml[512];
	size_t i;

	setenv("HOME", "/home/alice", 1);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct config cfg;
		struct err err = {0};

		snprintf(yaml, sizeof(yaml),
		    "stores:\n"
		    "  a: {type: imap, host: h, user: u}\n"
		    "  m: {type: maildir, path: x}\n"
		    "channels:\n"
		    "  w: {far: a, near: m, state: \"%s\"}\n",
		    t[i].state);
		T_EQ_INT(config_load_mem(
			     yaml, strlen(yaml), NAME, t[i].base, &cfg, &err),
		    0);
		T_EQ_STR(cfg.channels[0].state, t[i].want);
		config_free(&cfg);
	}
}

/* The modes, and expunge where it means something. */
static void
test_channel_modes(void)
{
	static const struct {
		const char *mode;
		enum conf_mode want;
		bool expunge_ok;
	} t[] = {
	    {"two-way", CONF_MODE_TWO_WAY, true},
	    {"pull", CONF_MODE_PULL, false},
	    {"push", CONF_MODE_PUSH, false},
	    {"mirror-pull", CONF_MODE_MIRROR_PULL, true},
	    {"mirror-push", CONF_MODE_MIRROR_PUSH, true},
	};
	char yaml[512];
	size_t i;

	setenv("HOME", "/home/alice", 1);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct config cfg;
		struct err err = {0};

		snprintf(yaml, sizeof(yaml),
		    "stores:\n"
		    "  a: {type: imap, host: h, user: u}\n"
		    "  m: {type: maildir, path: x}\n"
		    "channels:\n"
		    "  w: {far: a, near: m, mode: %s, expunge: true}\n",
		    t[i].mode);
		T_EQ_INT(load(yaml, &cfg, &err), t[i].expunge_ok ? 0 : -1);
		if (t[i].expunge_ok) {
			T_EQ_INT(cfg.channels[0].mode, t[i].want);
			T_ASSERT(cfg.channels[0].expunge);
			config_free(&cfg);
		}
		T_EQ_STR(config_mode_name(t[i].want), t[i].mode);
	}
	T_EQ_STR(config_mode_name((enum conf_mode)99), "?");
}

/* The bounds on channels, patterns and renames. */
static void
test_channel_limits(void)
{
	struct buf b;
	struct config cfg;
	struct err err = {0};
	int i;

	setenv("HOME", "/home/alice", 1);
	unsetenv("XDG_STATE_HOME");
	buf_init(&b, BUF_NOMAX);
	T_EQ_INT(buf_puts(&b, "stores:\n  a: {type: imap, host: h, user: u}\n"
			      "  m: {type: maildir, path: x}\n"
			      "channels:\n"),
	    0);
	for (i = 0; i < CONFIG_MAX_CHANNELS; i++)
		T_EQ_INT(buf_printf(&b, "  c%d: {far: a, near: m}\n", i), 0);
	T_EQ_INT(config_load_mem(b.data, b.len, NAME, DIR, &cfg, &err), 0);
	T_EQ_INT(cfg.nchannels, CONFIG_MAX_CHANNELS);
	T_EQ_STR(
	    cfg.channels[511].state, "/home/alice/.local/state/ferry/c511.db");
	config_free(&cfg);
	T_EQ_INT(buf_puts(&b, "  c512: {far: a, near: m}\n"), 0);
	T_EQ_INT(config_load_mem(b.data, b.len, NAME, DIR, &cfg, &err), -1);
	T_EQ_STR(err.msg, NAME ":517: channels.c512: more than 512 channels");

	buf_reset(&b);
	T_EQ_INT(buf_puts(&b, CH_HEAD "    folders: [\"*\""), 0);
	for (i = 1; i <= CONFIG_MAX_PATTERNS; i++)
		T_EQ_INT(buf_printf(&b, ", \"!f%d\"", i), 0);
	T_EQ_INT(buf_puts(&b, "]\n"), 0);
	T_EQ_INT(config_load_mem(b.data, b.len, NAME, DIR, &cfg, &err), -1);
	T_EQ_STR(err.msg, NAME ":9: channels.w.folders: more than 256 "
			       "patterns");

	buf_reset(&b);
	T_EQ_INT(buf_puts(&b, CH_HEAD "    rename:\n"), 0);
	for (i = 0; i < CONFIG_MAX_RENAMES; i++)
		T_EQ_INT(buf_printf(&b, "      f%d: n%d\n", i, i), 0);
	T_EQ_INT(config_load_mem(b.data, b.len, NAME, DIR, &cfg, &err), 0);
	T_EQ_INT(cfg.channels[0].nrenames, CONFIG_MAX_RENAMES);
	T_EQ_STR(cfg.channels[0].renames[1023].near, "n1023");
	config_free(&cfg);
	T_EQ_INT(buf_puts(&b, "      one: more\n"), 0);
	T_EQ_INT(config_load_mem(b.data, b.len, NAME, DIR, &cfg, &err), -1);
	T_EQ_STR(
	    err.msg, NAME ":10: channels.w.rename: more than 1024 renames");

	/* A long list of stores is cut in the message. */
	buf_reset(&b);
	T_EQ_INT(buf_puts(&b, "stores:\n"), 0);
	for (i = 0; i < 40; i++)
		T_EQ_INT(buf_printf(&b,
			     "  store-with-a-long-name-%02d: {type: maildir, "
			     "path: x}\n",
			     i),
		    0);
	T_EQ_INT(buf_puts(&b, "channels:\n  w: {far: x, near: y}\n"), 0);
	T_EQ_INT(config_load_mem(b.data, b.len, NAME, DIR, &cfg, &err), -1);
	T_EQ_STR(err.msg, NAME ":43: channels.w.far: no store named \"x\" "
			       "(stores: store-with-a-long-name-00, "
			       "store-with-a-long-name-01, "
			       "store-with-a-long-name-02, "
			       "store-with-a-long-name-03, "
			       "store-with-a-long-name-04, "
			       "store-with-a-long-name-05, "
			       "store-with-a-long-name-06, "
			       "store-with-a-long-name-07, "
			       "store-with-a-long-name-08, ...)");
	buf_release(&b);
}

struct glob_case {
	const char *pattern;
	const char *name;
	bool match;
};

static const struct glob_case globs[] = {
    /* Literals: the whole name, byte for byte. */
    {"INBOX", "INBOX", true},
    {"INBOX", "inbox", false},
    {"INBOX", "INBOX/Sub", false},
    {"INBOX", "INBO", false},
    {"", "", true},
    {"", "a", false},
    /* '*' crosses levels. */
    {"*", "INBOX", true},
    {"*", "", true},
    {"*", "Work/a/b", true},
    {"Work/*", "Work/a/b", true},
    {"Work/*", "Work", false},
    {"Work*", "Work", true},
    {"Work*", "Workshop/x", true},
    {"*/b", "a/x/b", true},
    {"*a*a*b", "aaaab", true},
    {"*a*a*b", "aaaa", false},
    {"**", "a/b", true},
    /* '%' stays within one level. */
    {"%", "INBOX", true},
    {"%", "Work/a", false},
    {"Work/%", "Work/a", true},
    {"Work/%", "Work/a/b", false},
    {"Work%", "Workshop/x", false},
    {"a%b", "ab", true},
    {"a%b", "a/b", false},
    {"%/%", "a/b", true},
    {"%/%", "a/b/c", false},
    {"Lists/%/Archive", "Lists/ferry/Archive", true},
    {"Lists/%/Archive", "Lists/a/b/Archive", false},
    {"Lists/*/Archive", "Lists/a/b/Archive", true},
    {"%%%", "abc", true},
    {"*%", "a/b", true},
    {"%*", "a/b", true},
    {"*/%", "a/b/c", true},
    {"%/*", "a/b/c", true},
    {"a*%c", "a/b/c", true},
    {"a%*c", "a/b/c", true},
    {"a%/%c", "a/b/c", false},
    {"a*/%c", "ab/x/c", true},
    {"%x*y%", "ax/b/yc", true},
    {"%x*y%", "a/x/b/yc", false},
    /* Nothing else is special, '!' included. */
    {"[Gmail]/*", "[Gmail]/Sent Mail", true},
    {"[Gmail]/*", "G/x", false},
    {"?", "a", false},
    {"?", "?", true},
    {"a\\*", "a\\bc", true},
    {"a\\*", "a*", false},
    {"!Junk", "!Junk", true},
    {"!Junk", "Junk", false},
    /* UTF-8: bytes, so a wildcard may match part of a character only
     * when the rest of the pattern allows it. */
    {"Entw\xc3\xbcrfe", "Entw\xc3\xbcrfe", true},
    {"Entw%rfe", "Entw\xc3\xbcrfe", true},
    {"Entw\xc3\xbc%", "Entwurf", false},
    {"\xe6\x97\xa5\xe6\x9c\xac/*", "\xe6\x97\xa5\xe6\x9c\xac/\xe5\x8f\x97",
	true},
    {"\xe6\x97\xa5\xe6\x9c\xac/%", "\xe6\x97\xa5\xe6\x9c\xac/a/b", false},
    {"*\xc3\xa9", "Caf\xc3\xa9", true},
    {"*\xc3\xa9", "Cafe", false},
};

static void
test_glob(void)
{
	size_t i;

	for (i = 0; i < sizeof(globs) / sizeof(globs[0]); i++)
		if (config_glob_match(globs[i].pattern, globs[i].name) !=
		    globs[i].match)
			t_fail(__FILE__, __LINE__, "\"%s\" vs \"%s\": want %s",
			    globs[i].pattern, globs[i].name,
			    globs[i].match ? "a match" : "no match");
}

/* The obvious exponential matcher, as the reference. */
static bool
naive_match(const char *p, const char *n)
{
	if (*p == '\0')
		return *n == '\0';
	if (*p == '*' || *p == '%') {
		if (naive_match(p + 1, n))
			return true;
		return *n != '\0' && (*p == '*' || *n != '/') &&
		       naive_match(p, n + 1);
	}
	return *n == *p && naive_match(p + 1, n + 1);
}

/* Random short patterns and names agree with the reference. */
static void
test_glob_reference(void)
{
	static const char pat_chars[] = "ab/*%";
	static const char name_chars[] = "ab/";
	uint32_t seed = 12345;
	char p[9], n[11];
	int round, i, len, matches = 0;

	for (round = 0; round < 20000; round++) {
		seed = seed * 1103515245u + 12345u;
		len = (int)(seed >> 16) % 9;
		for (i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			p[i] = pat_chars[(seed >> 16) % 5];
		}
		p[len] = '\0';
		seed = seed * 1103515245u + 12345u;
		len = (int)(seed >> 16) % 11;
		for (i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			n[i] = name_chars[(seed >> 16) % 3];
		}
		n[len] = '\0';
		if (config_glob_match(p, n) != naive_match(p, n))
			t_fail(__FILE__, __LINE__, "\"%s\" vs \"%s\"", p, n);
		matches += naive_match(p, n);
	}
	T_ASSERT(matches > 1000 && matches < 19000); /* both kinds seen */
}

/*
 * Inputs that take a backtracking matcher exponential or cubic time:
 * here each is pattern * name steps, well under a second.
 */
static void
test_glob_pathological(void)
{
	struct buf p, n;
	int i;

	buf_init(&p, BUF_NOMAX);
	buf_init(&n, BUF_NOMAX);
	for (i = 0; i < 2000; i++)
		T_EQ_INT(buf_puts(&p, i % 2 ? "%a" : "*a"), 0);
	T_EQ_INT(buf_putc(&p, 'b'), 0);
	for (i = 0; i < 8000; i++)
		T_EQ_INT(buf_putc(&n, i % 100 == 99 ? '/' : 'a'), 0);
	T_ASSERT(!config_glob_match(p.data, n.data));
	T_EQ_INT(buf_puts(&n, "aab"), 0);
	T_ASSERT(config_glob_match(p.data, n.data));

	buf_reset(&p);
	for (i = 0; i < 4000; i++)
		T_EQ_INT(buf_putc(&p, '%'), 0);
	T_EQ_INT(buf_puts(&p, "/x"), 0);
	T_ASSERT(!config_glob_match(p.data, n.data));
	buf_release(&p);
	buf_release(&n);
}

/* Load a channel whose folders are the YAML list patterns. */
static void
load_folders(const char *patterns, struct config *cfg)
{
	char yaml[1024];
	struct err err = {0};

	snprintf(yaml, sizeof(yaml),
	    "stores:\n"
	    "  a: {type: imap, host: h, user: u}\n"
	    "  m: {type: maildir, path: x}\n"
	    "channels:\n"
	    "  w: {far: a, near: m, state: /s.db, folders: %s}\n",
	    patterns);
	if (load(yaml, cfg, &err) != 0)
		t_fail(__FILE__, __LINE__, "load: %s", err.msg);
}

struct selection {
	const char *patterns; /* a YAML list */
	const char *folder;
	bool selected;
};

static const struct selection selections[] = {
    {"[\"*\"]", "INBOX", true},
    {"[\"*\"]", "a/b/c", true},
    {"[INBOX]", "INBOX", true},
    {"[INBOX]", "Sent", false},
    {"[INBOX]", "INBOX/Sub", false},
    {"[\"*\", \"!Junk\"]", "INBOX", true},
    {"[\"*\", \"!Junk\"]", "Junk", false},
    {"[\"*\", \"!Junk\"]", "Junk/Old", true},
    {"[\"*\", \"!Junk\", \"!Junk/*\"]", "Junk/Old", false},
    {"[\"%\"]", "Work", true},
    {"[\"%\"]", "Work/a", false},
    {"[\"Work/%\"]", "Work/a", true},
    {"[\"Work/%\"]", "Work/a/b", false},
    /* The last pattern that matches wins. */
    {"[\"*\", \"!Work/*\", \"Work/Important\"]", "Work/Important", true},
    {"[\"*\", \"!Work/*\", \"Work/Important\"]", "Work/Other", false},
    {"[\"*\", \"!Work/*\", \"Work/Important\"]", "Work", true},
    {"[\"Work/Important\", \"!Work/*\", \"*\"]", "Work/Other", true},
    {"[\"Work/Important\", \"!Work/*\"]", "Work/Important", false},
    {"[\"!Work/*\", \"Work/%\"]", "Work/a", true},
    {"[\"!Work/*\", \"Work/%\"]", "Work/a/b", false},
    {"[\"!Work/*\", \"Work/%\"]", "INBOX", false},
    /* Non-ASCII names. */
    {"[\"*\", \"!Entw\xc3\xbcrfe\"]", "Entw\xc3\xbcrfe", false},
    {"[\"*\", \"!Entw\xc3\xbcrfe\"]", "Entwurf", true},
    {"[\"\xe6\x97\xa5\xe6\x9c\xac/%\"]",
	"\xe6\x97\xa5\xe6\x9c\xac/\xe5\x8f\x97", true},
    {"[\"\xe6\x97\xa5\xe6\x9c\xac/%\"]", "\xe6\x97\xa5\xe6\x9c\xac", false},
    {"[\"Caf\xc3\xa9/*\", \"!Caf\xc3\xa9/%/Old\"]",
	"Caf\xc3\xa9/Men\xc3\xbc/Old", false},
    {"[\"Caf\xc3\xa9/*\", \"!Caf\xc3\xa9/%/Old\"]",
	"Caf\xc3\xa9/Men\xc3\xbc/New", true},
};

static void
test_folder_selected(void)
{
	size_t i;

	for (i = 0; i < sizeof(selections) / sizeof(selections[0]); i++) {
		const struct selection *t = &selections[i];
		struct config cfg;

		load_folders(t->patterns, &cfg);
		if (config_folder_selected(&cfg.channels[0], t->folder) !=
		    t->selected)
			t_fail(__FILE__, __LINE__, "%s vs \"%s\": want %s",
			    t->patterns, t->folder,
			    t->selected ? "selected" : "not selected");
		config_free(&cfg);
	}
}

/* The documented sample loads as it is (run from the source tree). */
static void
test_sample(void)
{
	const struct channel_conf *ch;
	const struct store_conf *s;
	char want_state[4096];
	struct config cfg;
	struct err err = {0};

	if (access("sample.yaml", R_OK) != 0)
		t_skip("sample.yaml not in the current directory");
	setenv("HOME", "/home/alice", 1);
	/* The state file goes under XDG_STATE_HOME, here the test's own
	 * directory. */
	setenv("XDG_STATE_HOME", t_tmpdir(), 1);
	/* The sample's channel is "work": its state is <channel>.db. */
	snprintf(want_state, sizeof(want_state), "%s/ferry/%s.db", t_tmpdir(),
	    "work");
	capture_begin();
	T_EQ_INT(config_load("sample.yaml", &cfg, &err), 0);
	T_EQ_STR(capture_end(), "");
	T_EQ_INT(cfg.nstores, 2);
	s = config_store(&cfg, "work");
	T_ASSERT(s != NULL && s->type == CONF_STORE_IMAP);
	T_EQ_INT(s->imap.pass_source, CONF_PASS_COMMAND);
	s = config_store(&cfg, "laptop");
	T_ASSERT(s != NULL && s->type == CONF_STORE_MAILDIR);
	T_EQ_STR(s->maildir.path, "/home/alice/Mail/work");
	T_EQ_INT(cfg.nchannels, 1);
	ch = config_channel(&cfg, "work");
	T_ASSERT(ch != NULL);
	T_EQ_STR(ch->far, "work");
	T_EQ_STR(ch->near, "laptop");
	T_EQ_INT(ch->mode, CONF_MODE_TWO_WAY);
	T_ASSERT(ch->create && !ch->expunge);
	T_EQ_STR(ch->state, want_state);
	T_EQ_INT(ch->brake_percent, 25);
	T_EQ_INT(ch->brake_min, 10);
	T_ASSERT(config_folder_selected(ch, "INBOX"));
	T_ASSERT(!config_folder_selected(ch, "Junk"));
	T_EQ_INT(ch->nrenames, 1);
	config_free(&cfg);
	unsetenv("XDG_STATE_HOME");
}

static void
test_names(void)
{
	T_EQ_STR(config_store_type_name(CONF_STORE_IMAP), "imap");
	T_EQ_STR(config_store_type_name(CONF_STORE_MAILDIR), "maildir");
	T_EQ_STR(config_tls_name(CONF_TLS_STARTTLS), "starttls");
	T_EQ_STR(config_layout_name(CONF_LAYOUT_MAILDIRPP), "maildir++");
	T_EQ_STR(config_pass_name(CONF_PASS_FILE), "password_file");
	T_EQ_STR(config_mode_name(CONF_MODE_MIRROR_PUSH), "mirror-push");
}

/* auth: a list of mechanisms in order, checked against the credentials. */
static void
test_auth(void)
{
	struct config cfg;
	struct err err = {0};
	const struct imap_conf *ic;

	load_store("password_env: PW\n    auth: [SCRAM-SHA-256, cram-md5, "
		   "plain]",
	    &cfg);
	ic = &cfg.stores[0].imap;
	T_EQ_INT(ic->nauth, 3);
	T_EQ_INT(ic->auth[0], SASL_SCRAM_SHA_256);
	T_EQ_INT(ic->auth[1], SASL_CRAM_MD5);
	T_EQ_INT(ic->auth[2], SASL_PLAIN);
	T_EQ_INT(config_credentials(&cfg.stores[0]),
	    1u << SASL_CRED_PASSWORD | 1u << SASL_CRED_PASSPHRASE);
	config_free(&cfg);
	load_store("auth: gssapi", &cfg);
	T_EQ_INT(cfg.stores[0].imap.nauth, 1);
	T_EQ_INT(cfg.stores[0].imap.auth[0], SASL_GSSAPI);
	config_free(&cfg);
	load_store("password_env: PW", &cfg);
	T_EQ_INT(cfg.stores[0].imap.nauth, 0);
	config_free(&cfg);
	T_EQ_INT(load(IMAP_HEAD "    password_env: PW\n    auth: [plain, "
				"PLAIN]\n",
		     &cfg, &err),
	    -1);
	T_ASSERT(strstr(err.msg, "PLAIN is listed twice") != NULL);
	T_EQ_INT(
	    load(IMAP_HEAD "    password_env: PW\n    auth: [digest-md5]\n",
		&cfg, &err),
	    -1);
	T_ASSERT(strstr(err.msg, "stores.work.auth") != NULL);
	T_EQ_INT(load(IMAP_HEAD "    auth: [kerberos_v4]\n", &cfg, &err), -1);
	T_ASSERT(strstr(err.msg, "KERBEROS_V4 is not supported") != NULL);
	T_EQ_INT(load(IMAP_HEAD "    auth: [scram-sha-1]\n", &cfg, &err), -1);
	T_ASSERT(strstr(err.msg, "needs a password source") != NULL);
	T_EQ_INT(load(IMAP_HEAD "    password_env: PW\n    auth: [xoauth2]\n",
		     &cfg, &err),
	    -1);
	T_ASSERT(strstr(err.msg, "needs oauth_token_command") != NULL);
	T_EQ_INT(load(IMAP_HEAD "    auth: {plain: 1}\n", &cfg, &err), -1);
	T_EQ_INT(load(IMAP_HEAD "    auth: []\n", &cfg, &err), -1);
}

/* oauth_token_command runs on every call; its token is one line. */
static void
test_oauth_token_command(void)
{
	struct config cfg;
	struct err err = {0};
	struct buf tok;

	buf_init(&tok, BUF_NOMAX);
	load_store("oauth_token_command: \"printf 'ya29.abc\\\\n'\"\n"
		   "    auth: [oauthbearer, xoauth2]",
	    &cfg);
	T_EQ_INT(config_credentials(&cfg.stores[0]), 1u << SASL_CRED_TOKEN);
	T_EQ_INT(
	    config_get_credential(&cfg.stores[0], SASL_CRED_TOKEN, &tok, &err),
	    0);
	T_EQ_STR(tok.data, "ya29.abc");
	buf_reset(&tok);
	T_EQ_INT(
	    config_get_credential(&cfg.stores[0], SASL_CRED_NONE, &tok, &err),
	    0);
	T_EQ_INT(tok.len, 0);
	T_EQ_INT(config_get_credential(
		     &cfg.stores[0], SASL_CRED_PASSWORD, &tok, &err),
	    -1);
	config_free(&cfg);
	load_store("oauth_token_command: \"echo secret-token; exit 3\"", &cfg);
	T_EQ_INT(
	    config_get_credential(&cfg.stores[0], SASL_CRED_TOKEN, &tok, &err),
	    -1);
	T_EQ_INT(err.kind, ERR_AUTH);
	T_ASSERT(strstr(err.msg, "oauth_token_command: exited with status 3") !=
		 NULL);
	T_ASSERT(strstr(err.msg, "secret-token") == NULL);
	config_free(&cfg);
	load_store("oauth_token_command: \"printf 'a\\\\nb\\\\n'\"", &cfg);
	T_EQ_INT(
	    config_get_credential(&cfg.stores[0], SASL_CRED_TOKEN, &tok, &err),
	    -1);
	config_free(&cfg);
	buf_release(&tok);
}

/* oauth: presets, required keys, and URLs that may carry secrets. */
static void
test_oauth_refresh_conf(void)
{
	struct config cfg;
	struct err err = {0};
	const struct oauth_conf *o;

	load_store("oauth: {provider: google, client_id: abc, "
		   "refresh_token_command: \"pass rt\"}\n    auth: [xoauth2]",
	    &cfg);
	o = cfg.stores[0].imap.oauth;
	T_ASSERT(o != NULL);
	T_EQ_STR(o->token_url, OAUTH_GOOGLE_URL);
	T_EQ_STR(o->client_id, "abc");
	T_ASSERT(o->client_secret_command == NULL);
	T_EQ_INT(config_credentials(&cfg.stores[0]), 1u << SASL_CRED_TOKEN);
	config_free(&cfg);
	load_store("oauth: {provider: microsoft, client_id: abc, "
		   "client_secret_command: x, refresh_token_command: y}",
	    &cfg);
	T_EQ_STR(cfg.stores[0].imap.oauth->token_url, OAUTH_MICROSOFT_URL);
	config_free(&cfg);
	T_EQ_INT(load(IMAP_HEAD "    oauth: {provider: google, "
				"refresh_token_command: y}\n",
		     &cfg, &err),
	    -1);
	T_ASSERT(strstr(err.msg, "needs client_id") != NULL);
	T_EQ_INT(
	    load(IMAP_HEAD "    oauth: {token_url: \"http://example.com/t\","
			   " client_id: a, refresh_token_command: y}\n",
		&cfg, &err),
	    -1);
	T_ASSERT(strstr(err.msg, "https") != NULL);
	T_EQ_INT(
	    load(IMAP_HEAD "    oauth: {provider: yahoo}\n", &cfg, &err), -1);
	T_EQ_INT(load(IMAP_HEAD "    oauth_token_command: t\n"
				"    oauth: {provider: google, client_id: a, "
				"refresh_token_command: y}\n",
		     &cfg, &err),
	    -1);
	T_ASSERT(strstr(err.msg, "cannot be combined") != NULL);
}

static const struct t_case cases[] = {
    {"full configuration", test_full},
    {"defaults", test_defaults},
    {"no base directory", test_no_base_dir},
    {"~ expansion", test_tilde},
    {"~user is rejected", test_home_user},
    {"errors: exact messages", test_errors},
    {"limits", test_limits},
    {"inline password warns", test_inline_password_warns},
    {"password_command", test_password_command},
    {"password_command failures", test_password_command_fails},
    {"password_file", test_password_file},
    {"password_file readable by group", test_password_file_readable},
    {"password_env", test_password_env},
    {"no password source; out too small", test_password_none_and_limit},
    {"load a file; relative paths", test_load_file},
    {"load a file: errors", test_load_file_errors},
    {"default path", test_default_path},
    {"channels: every key, before stores:", test_channel_full},
    {"channels: defaults", test_channel_defaults},
    {"channels: default state from the environment",
	test_channel_state_default},
    {"channels: state paths", test_channel_state_paths},
    {"channels: modes and expunge", test_channel_modes},
    {"channels: limits", test_channel_limits},
    {"glob: table", test_glob},
    {"glob: against a naive matcher", test_glob_reference},
    {"glob: pathological inputs", test_glob_pathological},
    {"folders: selection, last match wins", test_folder_selected},
    {"sample.yaml loads", test_sample},
    {"enum names", test_names},
    {"auth: mechanism lists", test_auth},
    {"oauth_token_command", test_oauth_token_command},
    {"oauth: refresh settings", test_oauth_refresh_conf},
};

int
main(int argc, char **argv)
{
	return T_MAIN(cases);
}
