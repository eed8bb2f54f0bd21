/* SPDX-License-Identifier: ISC */
/*
 * fuzz_config.c - libFuzzer target for the configuration loader.
 *
 * Feeds the input to config_load_mem() as a whole file and checks the
 * loader's promises: it returns 0 or -1; on failure the error is of kind
 * ERR_CONFIG with a message and the output config is empty; on success
 * every store has a name, its required keys and sane defaults.  Then it
 * frees everything, so that leaks show up under ASan.  Defines only
 * LLVMFuzzerTestOneInput: replay_main.c supplies main() for gcc builds.
 */
#include <stdint.h>
#include <stdlib.h>

#include "cmd/config.h"
#include "util/err.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* A loaded store must look the way config.h says it does. */
static void
check_store(const struct store_conf *s)
{
	if (s->name == NULL || s->name[0] == '\0')
		abort();
	if (s->type == CONF_STORE_MAILDIR) {
		if (s->maildir.path == NULL || s->imap.host != NULL)
			abort();
		return;
	}
	if (s->type != CONF_STORE_IMAP || s->imap.host == NULL ||
	    s->imap.user == NULL || s->imap.tls_name == NULL)
		abort();
	if (s->imap.port == 0 || s->imap.connections == 0 ||
	    s->imap.connections > 32 || s->imap.timeout == 0)
		abort();
	if ((s->imap.pass_source == CONF_PASS_NONE) != (s->imap.pass == NULL))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	struct err err = {0};
	size_t i;

	log_set_level(LOG_ERROR); /* no inline-password warnings */
	if (config_load_mem((const char *)data, size, "fuzz.yaml", "/fuzz",
		&cfg, &err) == -1) {
		if (err.kind != ERR_CONFIG || err.msg[0] == '\0' ||
		    cfg.stores != NULL || cfg.nstores != 0)
			abort();
		return 0;
	}
	if (cfg.nstores == 0)
		abort();
	for (i = 0; i < cfg.nstores; i++) {
		check_store(&cfg.stores[i]);
		if (config_store(&cfg, cfg.stores[i].name) != &cfg.stores[i])
			abort();
	}
	config_free(&cfg);
	return 0;
}
