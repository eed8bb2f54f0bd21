/* SPDX-License-Identifier: ISC */
/*
 * config_channel.c - the "channels:" section of the configuration, and
 * the folder patterns it holds.
 *
 * config.c reads the file into a tree of struct ynode (config_priv.h),
 * loads the stores, and then hands the value of "channels:" over to
 * conf_parse_channels(), so that every channel can be checked against
 * the stores.  A channel is read like a store, in three steps:
 *
 *   1. its keys are checked (known, not repeated) and their values set
 *      aside;
 *   2. the defaults are applied, then each value given, in the order of
 *      chan_keys[] whatever the order in the file: "rename" comes after
 *      "folders", since a renamed folder must be one the channel syncs;
 *   3. finish_channel() checks what involves more than one key or more
 *      than one channel: required keys, the stores, expunge against the
 *      mode, the default state file, and that no two channels share one.
 *
 * Patterns are matched by config_glob_match(), which runs the pattern's
 * automaton over the name one byte at a time: O(pattern * name) steps
 * and no backtracking, since patterns come from users and folder names
 * from servers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/config.h"
#include "cmd/config_priv.h"
#include "util/xalloc.h"

static const char *const mode_names[] = {
    [CONF_MODE_TWO_WAY] = "two-way",
    [CONF_MODE_PULL] = "pull",
    [CONF_MODE_PUSH] = "push",
    [CONF_MODE_MIRROR_PULL] = "mirror-pull",
    [CONF_MODE_MIRROR_PUSH] = "mirror-push",
};

enum {
	NMODES = sizeof(mode_names) / sizeof(mode_names[0]),
};

/* Patterns. */

/*
 * Let the wildcards among the live states of pat[0..m) match nothing:
 * state j is "pat[0..j) matched so far", so a live state in front of a
 * '*' or '%' makes the state after it live too.
 */
static void
skip_wildcards(const char *pat, size_t m, unsigned char *live)
{
	size_t j;

	for (j = 0; j < m; j++)
		if (live[j] && (pat[j] == '*' || pat[j] == '%'))
			live[j + 1] = 1;
}

/* Move the live states over the byte ch into next[0..m]. */
static void
step(const char *pat, size_t m, const unsigned char *live, char ch,
    unsigned char *next)
{
	size_t j;

	memset(next, 0, m + 1);
	for (j = 0; j < m; j++) {
		if (!live[j])
			continue;
		if (pat[j] == '*' || (pat[j] == '%' && ch != '/'))
			next[j] = 1;
		else if (pat[j] == ch)
			next[j + 1] = 1;
	}
	skip_wildcards(pat, m, next);
}

bool
config_glob_match(const char *pattern, const char *name)
{
	size_t m = strlen(pattern);
	unsigned char *states, *live, *next, *t;
	bool r;

	if (strpbrk(pattern, "*%") == NULL)
		return strcmp(pattern, name) == 0;
	states = xcalloc(2, m + 1);
	live = states;
	next = states + m + 1;
	live[0] = 1;
	skip_wildcards(pattern, m, live);
	for (; *name != '\0'; name++) {
		step(pattern, m, live, *name, next);
		t = live;
		live = next;
		next = t;
		if (memchr(live, 1, m + 1) == NULL)
			break; /* no way left to match */
	}
	r = *name == '\0' && live[m];
	free(states);
	return r;
}

bool
config_folder_selected(const struct channel_conf *ch, const char *folder)
{
	size_t i = ch->nfolders;

	/* The last pattern that matches decides: look from the end. */
	while (i-- > 0) {
		const char *p = ch->folders[i];
		bool exclude = p[0] == '!';

		if (config_glob_match(p + exclude, folder))
			return !exclude;
	}
	return false;
}

/*
 * Check the folder name or pattern v from byte skip on (past a '!'): no
 * control characters, and no empty level, which would be a leading,
 * trailing or doubled '/'.  what names it in messages.
 */
static int
check_folder_text(
    struct ctx *c, const struct ynode *v, size_t skip, const char *what)
{
	const char *s = v->text + skip;
	size_t n = v->len - skip, i;
	char r[CONF_RENDER_SIZE];
	bool empty_level = s[0] == '/' || s[n - 1] == '/';

	conf_render(r, sizeof(r), v->text, v->len);
	if (v->len > CONFIG_MAX_STRING)
		return conf_error(c, v->line,
		    "%s \"%s\" is longer than %d bytes", what, r,
		    CONFIG_MAX_STRING);
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch < 0x20 || ch == 0x7f)
			return conf_error(c, v->line,
			    "%s \"%s\" contains a control character", what, r);
		if (ch == '/' && i + 1 < n && s[i + 1] == '/')
			empty_level = true;
	}
	if (empty_level)
		return conf_error(c, v->line,
		    "%s \"%s\" has an empty level (a leading, trailing or "
		    "doubled '/')",
		    what, r);
	return 0;
}

/* A pattern, with its '!' if it has one. */
static int
get_pattern(struct ctx *c, const struct ynode *v, char **out)
{
	bool exclude;

	if (v->kind != YN_SCALAR || conf_is_null(v))
		return conf_expected(c, v, "a pattern");
	if (v->len == 0)
		return conf_error(c, v->line, "a pattern may not be empty");
	exclude = v->text[0] == '!';
	if (exclude && v->len == 1)
		return conf_error(c, v->line,
		    "\"!\" alone excludes nothing; follow it with a pattern, "
		    "as in \"!Junk\"");
	if (check_folder_text(c, v, exclude, "pattern") == -1)
		return -1;
	*out = xstrndup(v->text, v->len);
	return 0;
}

/* A folder name, for renames. */
static int
get_folder(struct ctx *c, const struct ynode *v, char **out)
{
	if (v->kind != YN_SCALAR || conf_is_null(v))
		return conf_expected(c, v, "a folder name");
	if (v->len == 0)
		return conf_error(c, v->line, "a folder name may not be empty");
	if (check_folder_text(c, v, 0, "folder name") == -1)
		return -1;
	*out = xstrndup(v->text, v->len);
	return 0;
}

/* The channel keys. */

static void
free_folders(struct channel_conf *ch)
{
	size_t i;

	for (i = 0; i < ch->nfolders; i++)
		free(ch->folders[i]);
	free(ch->folders);
	ch->folders = NULL;
	ch->nfolders = 0;
}

/* A store name; finish_channel() checks that the store exists. */
static int
get_store_name(struct ctx *c, const struct ynode *v, char **out)
{
	if (v->kind != YN_SCALAR || conf_is_null(v))
		return conf_expected(c, v, "a store name");
	return conf_get_str(c, v, out);
}

static int
set_far(struct ctx *c, const struct ynode *v, struct channel_conf *ch)
{
	return get_store_name(c, v, &ch->far);
}

static int
set_near(struct ctx *c, const struct ynode *v, struct channel_conf *ch)
{
	return get_store_name(c, v, &ch->near);
}

static int
set_mode(struct ctx *c, const struct ynode *v, struct channel_conf *ch)
{
	int i;

	if (conf_get_enum(c, v, mode_names, NMODES, &i) == -1)
		return -1;
	ch->mode = (enum conf_mode)i;
	return 0;
}

/* Replaces the default list. */
static int
set_folders(struct ctx *c, const struct ynode *v, struct channel_conf *ch)
{
	bool includes = false;
	size_t i;

	if (v->kind != YN_LIST)
		return conf_expected(c, v, "a list of patterns");
	if (v->nkids == 0)
		return conf_error(
		    c, v->line, "no patterns; write [\"*\"] for every folder");
	if (v->nkids > CONFIG_MAX_PATTERNS)
		return conf_error(
		    c, v->line, "more than %d patterns", CONFIG_MAX_PATTERNS);
	free_folders(ch);
	ch->folders = xcalloc(v->nkids, sizeof(*ch->folders));
	for (i = 0; i < v->nkids; i++) {
		if (get_pattern(c, v->kids[i], &ch->folders[i]) == -1)
			return -1;
		ch->nfolders++;
		includes |= ch->folders[i][0] != '!';
	}
	if (!includes)
		return conf_error(c, v->line,
		    "every pattern excludes, so no folder is selected; begin "
		    "with \"*\"");
	return 0;
}

static int
set_create(struct ctx *c, const struct ynode *v, struct channel_conf *ch)
{
	return conf_get_bool(c, v, &ch->create);
}

static int
set_expunge(struct ctx *c, const struct ynode *v, struct channel_conf *ch)
{
	return conf_get_bool(c, v, &ch->expunge);
}

/*
 * Drop repeated '/' and "." levels from the path p in place, so that two
 * spellings of one file compare equal.  ".." stays: with symbolic links,
 * a/b/.. need not be a.
 */
static void
tidy_path(char *p)
{
	const char *r = p;
	char *w = p;

	while (*r != '\0') {
		bool level_start = w == p || w[-1] == '/';

		if (*r == '/' && w > p && w[-1] == '/')
			r++;
		else if (level_start && r[0] == '.' && r[1] == '/')
			for (r++; *r == '/';)
				r++; /* ".//x" is "x", not "/x" */
		else if (level_start && w > p && r[0] == '.' && r[1] == '\0')
			r++;
		else
			*w++ = *r++;
	}
	if (w > p + 1 && w[-1] == '/')
		w--;
	if (w == p && *p != '\0')
		*w++ = '.'; /* it was "./" */
	*w = '\0';
}

static int
set_state(struct ctx *c, const struct ynode *v, struct channel_conf *ch)
{
	char *s = NULL;
	int r = -1;

	if (conf_get_str(c, v, &s) == -1)
		return -1;
	if (s[v->len - 1] == '/')
		conf_error(c, v->line,
		    "names a directory; name the file, as in "
		    "~/.local/state/ferry/%s.db",
		    ch->name);
	else if ((r = conf_expand_path(c, v->line, s, &ch->state)) == 0)
		tidy_path(ch->state);
	free(s);
	return r;
}

static int
set_brake_percent(struct ctx *c, const struct ynode *v, struct channel_conf *ch)
{
	return conf_get_uint(c, v, 1, 100, &ch->brake_percent);
}

static int
set_brake_min(struct ctx *c, const struct ynode *v, struct channel_conf *ch)
{
	return conf_get_uint(c, v, 0, CONFIG_MAX_BRAKE_MIN, &ch->brake_min);
}

/*
 * Add the rename k: v of the mapping map, whose earlier entries are
 * ch->renames[] in order.  The key path names the rename's far folder.
 */
static int
add_rename(
    struct ctx *c, const struct ynode *map, size_t i, struct channel_conf *ch)
{
	const struct ynode *k = map->kids[2 * i], *v = map->kids[2 * i + 1];
	char near[CONF_RENDER_SIZE], far[CONF_RENDER_SIZE];
	struct conf_rename *rn;
	size_t j;

	ch->renames =
	    xreallocarray(ch->renames, ch->nrenames + 1, sizeof(*ch->renames));
	rn = &ch->renames[ch->nrenames];
	rn->far = rn->near = NULL;
	if (get_folder(c, k, &rn->far) == -1)
		return -1;
	ch->nrenames++; /* from here on config_free() releases it */
	conf_key_push(c, k->text, k->len);
	if (get_folder(c, v, &rn->near) == -1)
		return -1;
	for (j = 0; j < i; j++) {
		const struct conf_rename *o = &ch->renames[j];

		if (strcmp(o->far, rn->far) == 0)
			return conf_error(c, k->line,
			    "duplicate folder (first given at line %u)",
			    map->kids[2 * j]->line);
		if (strcmp(o->near, rn->near) != 0)
			continue;
		conf_render(near, sizeof(near), o->near, strlen(o->near));
		conf_render(far, sizeof(far), o->far, strlen(o->far));
		return conf_error(c, v->line,
		    "\"%s\" is already the near name of \"%s\" (line %u)", near,
		    far, map->kids[2 * j]->line);
	}
	if (!config_folder_selected(ch, rn->far))
		return conf_error(c, k->line,
		    "the folder is not selected by \"folders\", so there is "
		    "nothing to rename");
	return 0;
}

static int
set_rename(struct ctx *c, const struct ynode *v, struct channel_conf *ch)
{
	size_t i, old = c->keylen;

	if (v->kind != YN_MAP)
		return conf_expected(
		    c, v, "a mapping of far folder names to near folder names");
	if (v->nkids / 2 > CONFIG_MAX_RENAMES)
		return conf_error(
		    c, v->line, "more than %d renames", CONFIG_MAX_RENAMES);
	for (i = 0; i < v->nkids / 2; i++) {
		if (add_rename(c, v, i, ch) == -1)
			return -1;
		conf_key_pop(c, old);
	}
	return 0;
}

/* Indexes into chan_keys[]. */
enum chan_key_index {
	K_FAR,
	K_NEAR,
	K_MODE,
	K_FOLDERS,
	K_CREATE,
	K_EXPUNGE,
	K_STATE,
	K_BRAKE_PERCENT,
	K_BRAKE_MIN,
	K_RENAME,
	NCHAN_KEYS
};

struct chan_key {
	const char *name;
	int (*set)(struct ctx *, const struct ynode *, struct channel_conf *);
};

/* In the order they are applied and listed in messages. */
static const struct chan_key chan_keys[NCHAN_KEYS] = {
    [K_FAR] = {"far", set_far},
    [K_NEAR] = {"near", set_near},
    [K_MODE] = {"mode", set_mode},
    [K_FOLDERS] = {"folders", set_folders},
    [K_CREATE] = {"create", set_create},
    [K_EXPUNGE] = {"expunge", set_expunge},
    [K_STATE] = {"state", set_state},
    [K_BRAKE_PERCENT] = {"brake_percent", set_brake_percent},
    [K_BRAKE_MIN] = {"brake_min", set_brake_min},
    [K_RENAME] = {"rename", set_rename},
};

/* Index of the channel key called s[0..len), or -1. */
static int
find_chan_key(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < NCHAN_KEYS; i++)
		if (strlen(chan_keys[i].name) == len &&
		    memcmp(chan_keys[i].name, s, len) == 0)
			return (int)i;
	return -1;
}

static const char *
valid_chan_keys(char *buf, size_t size)
{
	size_t i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < NCHAN_KEYS && o < size; i++)
		o += (size_t)snprintf(buf + o, size - o, "%s%s", o ? ", " : "",
		    chan_keys[i].name);
	return buf;
}

/*
 * Step 1 for one "key: value": seen[i] is the line where chan_keys[i]
 * was given (or 0), and val[i] its value.
 */
static int
channel_key(struct ctx *c, const struct ynode *k, const struct ynode *v,
    unsigned *seen, const struct ynode **val)
{
	char valid[192];
	size_t old;
	int idx;

	if (k->kind != YN_SCALAR)
		return conf_error(c, k->line, "keys must be strings");
	old = conf_key_push(c, k->text, k->len);
	if ((idx = find_chan_key(k->text, k->len)) < 0)
		return conf_error(c, k->line,
		    "unknown key; valid keys for a channel are: %s",
		    valid_chan_keys(valid, sizeof(valid)));
	if (seen[idx])
		return conf_error(c, k->line,
		    "duplicate key (first given at line %u)", seen[idx]);
	seen[idx] = k->line;
	val[idx] = v;
	conf_key_pop(c, old);
	return 0;
}

/* Put key idx on the key path for a message; return its line. */
static unsigned
at_key(struct ctx *c, const unsigned *seen, enum chan_key_index idx)
{
	conf_key_push(c, chan_keys[idx].name, strlen(chan_keys[idx].name));
	return seen[idx];
}

/* "no store named ..., (stores: a, b, ...)" */
static int
no_store(
    struct ctx *c, const struct config *cfg, const char *name, unsigned line)
{
	char r[CONF_RENDER_SIZE], list[256] = "";
	size_t i, o = 0;

	conf_render(r, sizeof(r), name, strlen(name));
	for (i = 0; i < cfg->nstores; i++) {
		const char *s = cfg->stores[i].name;

		/* Leave room for ", ..." and the NUL after this one. */
		if (o + 2 + strlen(s) + 6 > sizeof(list)) {
			snprintf(
			    list + o, sizeof(list) - o, "%s...", o ? ", " : "");
			break;
		}
		o += (size_t)snprintf(
		    list + o, sizeof(list) - o, "%s%s", o ? ", " : "", s);
	}
	return conf_error(
	    c, line, "no store named \"%s\" (stores: %s)", r, list);
}

/* far and near name two different stores, not both Maildir. */
static int
check_stores(struct ctx *c, const struct config *cfg,
    const struct channel_conf *ch, const unsigned *seen)
{
	const struct store_conf *far = config_store(cfg, ch->far);
	const struct store_conf *near = config_store(cfg, ch->near);

	if (far == NULL)
		return no_store(c, cfg, ch->far, at_key(c, seen, K_FAR));
	if (near == NULL)
		return no_store(c, cfg, ch->near, at_key(c, seen, K_NEAR));
	if (far == near)
		return conf_error(c, at_key(c, seen, K_NEAR),
		    "the same store as far; a channel joins two different "
		    "stores");
	if (far->type == CONF_STORE_MAILDIR && near->type == CONF_STORE_MAILDIR)
		return conf_error(c, ch->line,
		    "a channel needs at least one IMAP store, but far (%s) "
		    "and near (%s) are both maildir stores",
		    far->name, near->name);
	return 0;
}

/* $XDG_STATE_HOME/ferry/<name>.db, or ~/.local/state/ferry/<name>.db. */
static int
default_state(struct ctx *c, struct channel_conf *ch)
{
	const char *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	const char *base, *sub;
	size_t len;

	if (xdg != NULL && xdg[0] == '/') {
		base = xdg;
		sub = "";
	} else if (home != NULL && home[0] == '/') {
		base = home;
		sub = "/.local/state";
	} else {
		return conf_error(c, ch->line,
		    "no default state file: neither XDG_STATE_HOME nor HOME "
		    "is an absolute path; set \"state\"");
	}
	len = strlen(base);
	while (len > 0 && base[len - 1] == '/')
		len--;
	ch->state =
	    xasprintf("%.*s%s/ferry/%s.db", (int)len, base, sub, ch->name);
	tidy_path(ch->state);
	return 0;
}

/* No earlier channel of cfg uses ch's state file. */
static int
check_state_unique(struct ctx *c, const struct config *cfg,
    const struct channel_conf *ch, const unsigned *seen)
{
	size_t i;

	for (i = 0; i < cfg->nchannels; i++) {
		const struct channel_conf *o = &cfg->channels[i];

		if (o == ch || strcmp(o->state, ch->state) != 0)
			continue;
		if (seen[K_STATE])
			return conf_error(c, at_key(c, seen, K_STATE),
			    "the same file as the state of channel \"%s\" "
			    "(line %u); each channel needs its own",
			    o->name, o->line);
		return conf_error(c, ch->line,
		    "the default state file %s is the state of channel "
		    "\"%s\" (line %u); set \"state\" to another file",
		    ch->state, o->name, o->line);
	}
	return 0;
}

/* Step 3: required keys, and checks across keys and channels. */
static int
finish_channel(struct ctx *c, const struct config *cfg, struct channel_conf *ch,
    const unsigned *seen)
{
	const char *mode = mode_names[ch->mode];

	if (ch->far == NULL)
		return conf_error(c, ch->line, "missing required key \"far\"");
	if (ch->near == NULL)
		return conf_error(c, ch->line, "missing required key \"near\"");
	if (check_stores(c, cfg, ch, seen) == -1)
		return -1;
	if (ch->expunge &&
	    (ch->mode == CONF_MODE_PULL || ch->mode == CONF_MODE_PUSH))
		return conf_error(c, at_key(c, seen, K_EXPUNGE),
		    "true has no effect in %s mode; use mirror-%s", mode, mode);
	if (ch->state == NULL && default_state(c, ch) == -1)
		return -1;
	return check_state_unique(c, cfg, ch, seen);
}

/* The settings v of channel ch, which is already part of cfg. */
static int
parse_channel(struct ctx *c, const struct config *cfg, const struct ynode *v,
    struct channel_conf *ch)
{
	const struct ynode *val[NCHAN_KEYS] = {NULL};
	unsigned seen[NCHAN_KEYS] = {0};
	size_t i, old;

	if (v->kind != YN_MAP)
		return conf_expected(c, v, "a mapping of settings");
	for (i = 0; i < v->nkids; i += 2)
		if (channel_key(c, v->kids[i], v->kids[i + 1], seen, val) == -1)
			return -1;
	ch->mode = CONF_MODE_TWO_WAY;
	ch->folders = xcalloc(1, sizeof(*ch->folders));
	ch->folders[0] = xstrdup("*");
	ch->nfolders = 1;
	ch->create = true;
	ch->expunge = false;
	ch->brake_percent = 25;
	ch->brake_min = 10;
	for (i = 0; i < NCHAN_KEYS; i++) {
		if (val[i] == NULL)
			continue;
		old = conf_key_push(
		    c, chan_keys[i].name, strlen(chan_keys[i].name));
		if (chan_keys[i].set(c, val[i], ch) == -1)
			return -1;
		conf_key_pop(c, old);
	}
	return finish_channel(c, cfg, ch, seen);
}

int
conf_parse_channels(struct ctx *c, const struct ynode *v, struct config *cfg)
{
	size_t i, j, old;

	if (v->kind != YN_MAP)
		return conf_expected(
		    c, v, "a mapping of channel names to settings");
	if (v->nkids == 0)
		return conf_error(c, v->line, "no channels defined");
	for (i = 0; i < v->nkids; i += 2) {
		const struct ynode *k = v->kids[i];
		struct channel_conf *ch;

		unsigned dup = 0;

		for (j = 0; k->kind == YN_SCALAR && j < cfg->nchannels; j++)
			if (strcmp(cfg->channels[j].name, k->text) == 0)
				dup = cfg->channels[j].line;
		if (conf_entry_name(c, k, "channel", dup, cfg->nchannels,
			CONFIG_MAX_CHANNELS, &old) == -1)
			return -1;
		cfg->channels = xreallocarray(
		    cfg->channels, cfg->nchannels + 1, sizeof(*cfg->channels));
		ch = &cfg->channels[cfg->nchannels++];
		memset(ch, 0, sizeof(*ch));
		ch->name = xstrndup(k->text, k->len);
		ch->line = k->line;
		if (parse_channel(c, cfg, v->kids[i + 1], ch) == -1)
			return -1;
		conf_key_pop(c, old);
	}
	return 0;
}

void
conf_channels_free(struct config *cfg)
{
	size_t i, j;

	for (i = 0; i < cfg->nchannels; i++) {
		struct channel_conf *ch = &cfg->channels[i];

		free(ch->name);
		free(ch->far);
		free(ch->near);
		free_folders(ch);
		free(ch->state);
		for (j = 0; j < ch->nrenames; j++) {
			free(ch->renames[j].far);
			free(ch->renames[j].near);
		}
		free(ch->renames);
	}
	free(cfg->channels);
	cfg->channels = NULL;
	cfg->nchannels = 0;
}

const struct channel_conf *
config_channel(const struct config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->nchannels; i++)
		if (strcmp(cfg->channels[i].name, name) == 0)
			return &cfg->channels[i];
	return NULL;
}

const char *
config_mode_name(enum conf_mode m)
{
	return (unsigned)m < NMODES ? mode_names[m] : "?";
}
