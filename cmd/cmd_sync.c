/* SPDX-License-Identifier: ISC */
/*
 * cmd_sync.c - "ferry sync [-n] [--force-deletes] [CHANNEL[:FOLDER]...]":
 * for each channel named (default: all), lock its state before any
 * network I/O, open both stores, hand them to sync_channel() and print
 * its summary.  This file turns a struct channel_conf into the sync
 * layer's options, which know nothing of the configuration file.
 *
 * Exit status: 0 when everything was done; EXIT_PARTIAL when a message or
 * a folder failed or a deletion brake held deletions back; otherwise the
 * status of the first fatal error (exitcode.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/config.h"
#include "cmd/exitcode.h"
#include "imap/client.h"
#include "store/imap_store.h"
#include "store/maildir.h"
#include "store/state.h"
#include "store/store.h"
#include "sync/sync.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"
#include "util/loop.h"

struct sync_args {
	bool dry_run;
	bool force_deletes;
	char **targets; /* CHANNEL[:FOLDER], or none: every channel */
	int ntargets;
};

static bool
selected(void *arg, const char *far)
{
	const struct channel_conf *ch = arg;

	return config_folder_selected(ch, far);
}

static const char *
map(void *arg, const char *name, enum state_side to)
{
	const struct channel_conf *ch = arg;
	size_t i;

	for (i = 0; i < ch->nrenames; i++) {
		const struct conf_rename *r = &ch->renames[i];

		if (to == STATE_NEAR && strcmp(r->far, name) == 0)
			return r->near;
		if (to == STATE_FAR && strcmp(r->near, name) == 0)
			return r->far;
	}
	return NULL;
}

static enum sync_mode
sync_mode(enum conf_mode m)
{
	switch (m) {
	case CONF_MODE_PULL:
		return SYNC_PULL;
	case CONF_MODE_PUSH:
		return SYNC_PUSH;
	case CONF_MODE_MIRROR_PULL:
		return SYNC_MIRROR_PULL;
	case CONF_MODE_MIRROR_PUSH:
		return SYNC_MIRROR_PUSH;
	case CONF_MODE_TWO_WAY:
	default:
		return SYNC_TWO_WAY;
	}
}

static int
get_secret(void *arg, struct buf *out, struct err *err)
{
	return config_get_password(arg, out, err);
}

static struct store *
imap_store(struct loop *loop, const struct store_conf *sc, struct err *err)
{
	const struct imap_conf *ic = &sc->imap;
	struct imap_store_opts o;
	struct cmd_client_strs b;
	struct imap_auth auth;

	memset(&o, 0, sizeof(o));
	cmd_client_opts(sc, &o.client, &b);
	/* Every connection logs in as the store's auth: says (the store
	 * copies the struct). */
	cmd_imap_auth(sc, &auth);
	o.auth = &auth;
	o.user = ic->user;
	if (ic->pass_source != CONF_PASS_NONE) {
		o.get_secret = get_secret;
		o.secret_arg = (void *)sc;
	}
	o.connections = ic->connections;
	return imap_store_new(loop, sc->name, &o, err);
}

static struct store *
open_store(struct loop *loop, const struct store_conf *sc, struct state *st,
    bool dry_run, struct err *err)
{
	struct maildir_opts o;

	if (sc->type == CONF_STORE_IMAP)
		return imap_store(loop, sc, err);
	maildir_opts_init(&o);
	o.path = sc->maildir.path;
	o.layout = sc->maildir.layout == CONF_LAYOUT_MAILDIRPP
		       ? MAILDIR_LAYOUT_PP
		       : MAILDIR_LAYOUT_FS;
	o.state = st;
	o.create = !dry_run;
	return maildir_store_new(loop, sc->name, &o, err);
}

/* mkdir -p the directory holding path (0700 for what it creates). */
static int
make_parent(const char *path, struct err *err)
{
	char dir[4096];
	char *p;

	if (strlen(path) >= sizeof(dir))
		return err_set(err, ERR_CONFIG, "state path too long");
	memcpy(dir, path, strlen(path) + 1);
	if ((p = strrchr(dir, '/')) == NULL || p == dir)
		return 0;
	*p = '\0';
	for (p = dir + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) == -1 && errno != EEXIST)
			return err_sys(err, "mkdir %s", dir);
		*p = '/';
	}
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		return err_sys(err, "mkdir %s", dir);
	return 0;
}

/*
 * Open the channel's state.  A dry run changes nothing: without a state
 * file yet it works on an empty in-memory one.
 */
static int
open_state(const struct channel_conf *ch, bool dry_run, struct state **st,
    struct err *err)
{
	if (dry_run && access(ch->state, F_OK) == -1 && errno == ENOENT)
		return state_open(":memory:", st, err);
	if (!dry_run && make_parent(ch->state, err) == -1)
		return -1;
	return state_open(ch->state, st, err);
}

static int
connect_stores(const struct config *cfg, const struct channel_conf *ch,
    struct loop *loop, struct state *st, bool dry_run, struct store **s,
    struct err *err)
{
	const char *names[2] = {ch->far, ch->near};
	int i;

	for (i = 0; i < 2; i++) {
		const struct store_conf *sc = config_store(cfg, names[i]);

		if (sc == NULL)
			return err_set(
			    err, ERR_CONFIG, "no store %s", names[i]);
		if (dry_run && sc->type == CONF_STORE_MAILDIR &&
		    access(sc->maildir.path, F_OK) == -1)
			return err_set(err, ERR_CONFIG,
			    "store %s: %s does not exist yet, and a dry run "
			    "creates nothing (a real run creates it)",
			    names[i], sc->maildir.path);
		if ((s[i] = open_store(loop, sc, st, dry_run, err)) == NULL ||
		    store_connect(s[i], err) == -1)
			return err_prefix(err, "store %s", names[i]);
	}
	return 0;
}

/* Sync one channel; return its exit status. */
static int
run_channel(const struct cmd_ctx *ctx, const struct config *cfg,
    const struct channel_conf *ch, const char *folder,
    const struct sync_args *a)
{
	struct sync_channel_opts o;
	struct sync_summary sum;
	struct store *s[2] = {NULL, NULL};
	struct state *st = NULL;
	struct loop *loop;
	struct err err;
	int rc = EXIT_OK;

	err_clear(&err);
	if (open_state(ch, a->dry_run, &st, &err) == -1) {
		fprintf(stderr, "ferry: sync %s: %s\n", ch->name, err.msg);
		return cmd_exit_for(&err);
	}
	loop = loop_new();
	memset(&o, 0, sizeof(o));
	o.name = ch->name;
	o.mode = sync_mode(ch->mode);
	o.create = ch->create;
	o.expunge = ch->expunge;
	o.force_deletes = a->force_deletes;
	o.dry_run = a->dry_run;
	o.brake_percent = ch->brake_percent;
	o.brake_min = ch->brake_min;
	o.selected = selected;
	o.map = map;
	o.arg = (void *)ch;
	o.only_folder = folder;
	o.out = stdout;
	/* A progress line only for a person watching. */
	o.progress = log_get_level() >= LOG_INFO && isatty(STDERR_FILENO)
			 ? stderr
			 : NULL;
	if (connect_stores(cfg, ch, loop, st, a->dry_run, s, &err) == -1 ||
	    sync_channel(loop, &o, s[0], s[1], st, &sum, &err) == -1) {
		fprintf(stderr, "ferry: sync %s: %s\n", ch->name, err.msg);
		rc = cmd_exit_for(&err);
	} else {
		if (!ctx->quiet)
			sync_summary_print(&sum, ch->name, stdout);
		if (sum.failed > 0 || sum.failed_folders > 0 || sum.brakes > 0)
			rc = EXIT_PARTIAL;
	}
	store_free(s[0]);
	store_free(s[1]);
	loop_free(loop);
	state_close(st);
	return rc;
}

static int
parse_args(int argc, char **argv, struct sync_args *a)
{
	int i;

	memset(a, 0, sizeof(*a));
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (strcmp(argv[i], "-n") == 0 ||
		    strcmp(argv[i], "--dry-run") == 0)
			a->dry_run = true;
		else if (strcmp(argv[i], "--force-deletes") == 0)
			a->force_deletes = true;
		else {
			fprintf(stderr,
			    "ferry: sync: unknown option '%s'\n"
			    "usage: ferry sync [-n] [--force-deletes] "
			    "[channel[:folder] ...]\n",
			    argv[i]);
			return -1;
		}
	}
	a->targets = argv + i;
	a->ntargets = argc - i;
	return 0;
}

/* Keep the first failure's status; a fatal one beats a partial run. */
static int
worse(int rc, int r)
{
	if (rc == EXIT_OK || (rc == EXIT_PARTIAL && r != EXIT_OK))
		return r;
	return rc;
}

static int
run_target(const struct cmd_ctx *ctx, const struct config *cfg,
    const char *target, const struct sync_args *a)
{
	const struct channel_conf *ch;
	const char *colon = strchr(target, ':');
	char name[256];
	size_t len = colon != NULL ? (size_t)(colon - target) : strlen(target);

	if (len >= sizeof(name)) {
		fprintf(stderr, "ferry: sync: no channel '%s'\n", target);
		return EXIT_USAGE;
	}
	memcpy(name, target, len);
	name[len] = '\0';
	if ((ch = config_channel(cfg, name)) == NULL) {
		fprintf(stderr, "ferry: sync: no channel '%s' in %s\n", name,
		    cfg->path);
		return EXIT_USAGE;
	}
	return run_channel(ctx, cfg, ch, colon != NULL ? colon + 1 : NULL, a);
}

int
cmd_sync(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct sync_args a;
	struct config cfg;
	struct err err;
	size_t i;
	int t, rc = EXIT_OK;

	if (parse_args(argc, argv, &a) == -1)
		return EXIT_USAGE;
	if (cmd_load_config(ctx, &cfg, &err) == -1) {
		fprintf(stderr, "ferry: %s\n", err.msg);
		return EXIT_CONFIG;
	}
	if (a.ntargets == 0 && cfg.nchannels == 0) {
		fprintf(stderr, "ferry: sync: no channels in %s\n", cfg.path);
		rc = EXIT_CONFIG;
	}
	for (i = 0; a.ntargets == 0 && i < cfg.nchannels; i++)
		rc = worse(
		    rc, run_channel(ctx, &cfg, &cfg.channels[i], NULL, &a));
	for (t = 0; t < a.ntargets; t++)
		rc = worse(rc, run_target(ctx, &cfg, a.targets[t], &a));
	config_free(&cfg);
	return rc;
}
