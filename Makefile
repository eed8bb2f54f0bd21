# SPDX-License-Identifier: ISC
#
# ferry - one GNU Makefile, no autotools.
#
#   make              build ./ferry
#   make test         unit tests (no network, seconds)
#   make check        installs missing packages, then unit + corpus replay +
#                     integration tests against a private Dovecot
#   make demo         installs missing packages, then a sync on a demo Dovecot
#   make fuzz         libFuzzer targets (clang); make fuzz-run FUZZTIME=60
#   make lint         layer check and banned-call grep
#   make format       clang-format in place; format-check only checks
#
# Knobs: SANITIZE=address,undefined  DEVELOPER=1 (-Werror)  V=1 (full lines)
#        PREFIX DESTDIR CC CFLAGS LDFLAGS

VERSION   = 0.1.0
PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
DOCDIR   ?= $(PREFIX)/share/doc/ferry
PKG_CONFIG ?= pkg-config
PKGS      = openssl sqlite3 yaml-0.1 zlib krb5-gssapi libcurl
CFLAGS   ?= -O2 -g
BUILD    ?= build

WARN = -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
       -Wmissing-prototypes -Wold-style-definition -Wpointer-arith \
       -Wwrite-strings -Wformat=2 -Wvla -Wundef -Wcast-align \
       -Wimplicit-fallthrough -Wnull-dereference -fno-common

ALL_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -D_XOPEN_SOURCE=700 \
	     -D_DEFAULT_SOURCE \
	     -DFERRY_VERSION='"$(VERSION)"' -I. $(WARN) $(CFLAGS) \
	     $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null) -MMD -MP
ALL_LDFLAGS = $(LDFLAGS)
# libcurl's and GSS-API's headers only: cmd/oauth.c and
# imap/sasl_gssapi.c load those libraries when they need them.
LIBS = $(shell $(PKG_CONFIG) --libs \
	 $(filter-out libcurl krb5-gssapi,$(PKGS)) 2>/dev/null) -ldl

ifdef SANITIZE
ALL_CFLAGS  += -fsanitize=$(SANITIZE) -fno-sanitize-recover=all \
	       -fno-omit-frame-pointer
ALL_LDFLAGS += -fsanitize=$(SANITIZE)
endif
ifdef DEVELOPER
ALL_CFLAGS += -Werror
endif

ifeq ($(V),1)
Q =
quiet =
else
Q = @
quiet = @printf '  %-7s %s\n' $(1) $(2);
endif

LIB_SRC   = $(wildcard util/*.c imap/*.c store/*.c sync/*.c) \
	    $(filter-out cmd/main.c,$(wildcard cmd/*.c))
LIB_OBJ   = $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB       = $(BUILD)/libferry.a
UNIT_SRC  = $(wildcard tests/unit/test_*.c)
UNIT_BIN  = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
INTEG_SRC = $(wildcard tests/integ/test_*.c)
INTEG_BIN = $(INTEG_SRC:tests/integ/%.c=$(BUILD)/tests/%)
INTEG_SH  = $(sort $(wildcard tests/integ/test_*.sh))
FUZZ_SRC  = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN  = $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)
REPLAY_BIN = $(FUZZ_SRC:tests/fuzz/fuzz_%.c=$(BUILD)/tests/replay_%)
TEST_LIB  = $(BUILD)/tests/t.o $(BUILD)/tests/helpers.o
# Servers the integration tests start (tests/oauth_server.c: OAuth2).
HELPER_BIN = $(BUILD)/tests/oauth_server

.SECONDARY:

.PHONY: all tests-build test check check-run demo demo-run deps install uninstall \
	format format-check lint check-layers fuzz fuzz-run clean

# The default build puts the binary at ./ferry; other build trees
# (BUILD=build-asan ...) keep theirs inside the tree.
BIN = $(if $(filter build,$(BUILD)),ferry,$(BUILD)/ferry)

all: $(BIN)

$(BIN): $(BUILD)/cmd/main.o $(LIB)
	$(call quiet,LINK,$@)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(LIB): $(LIB_OBJ)
	$(call quiet,AR,$@)rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(call quiet,CC,$<)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(TEST_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(call quiet,CCLD,$@)$(CC) $(ALL_CFLAGS) -Itests $(ALL_LDFLAGS) \
	    -o $@ $< $(TEST_LIB) $(LIB) $(LIBS)

$(BUILD)/tests/%: tests/integ/%.c $(TEST_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(call quiet,CCLD,$@)$(CC) $(ALL_CFLAGS) -Itests $(ALL_LDFLAGS) \
	    -o $@ $< $(TEST_LIB) $(LIB) $(LIBS)

$(BUILD)/tests/oauth_server: tests/oauth_server.c
	@mkdir -p $(dir $@)
	$(call quiet,CCLD,$@)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $<

$(BUILD)/tests/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay_main.c $(LIB)
	@mkdir -p $(dir $@)
	$(call quiet,CCLD,$@)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) \
	    -DREPLAY_CORPUS='"tests/fuzz/corpus/$*"' -o $@ \
	    $< tests/fuzz/replay_main.c $(LIB) $(LIBS)

tests-build: $(BIN) $(UNIT_BIN) $(INTEG_BIN) $(REPLAY_BIN) $(HELPER_BIN)

# Unit tests: no network, no Dovecot.
test: $(UNIT_BIN)
	$(Q)tests/run-suite.sh $(UNIT_BIN)

# check installs what the tests need, then re-reads this Makefile so that
# pkg-config sees the freshly installed libraries.
check: deps
	$(Q)$(MAKE) --no-print-directory check-run

check-run: $(BIN) $(UNIT_BIN) $(INTEG_BIN) $(REPLAY_BIN) $(HELPER_BIN)
	$(Q)FERRY=$(abspath $(BIN)) \
	    FERRY_OAUTH_SERVER=$(abspath $(BUILD)/tests/oauth_server) \
	    tests/dovecot.sh run tests/run-suite.sh \
	    $(UNIT_BIN) $(REPLAY_BIN) $(INTEG_BIN) $(INTEG_SH)

demo: deps
	$(Q)$(MAKE) --no-print-directory demo-run

demo-run: $(BIN)
	$(Q)FERRY=$(abspath $(BIN)) tests/demo.sh

deps:
	$(Q)tests/deps.sh

install: $(BIN)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DOCDIR)
	install -m 755 $(BIN) $(DESTDIR)$(BINDIR)/ferry
	install -m 644 sample.yaml README.md $(DESTDIR)$(DOCDIR)/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/ferry
	rm -f $(DESTDIR)$(DOCDIR)/sample.yaml $(DESTDIR)$(DOCDIR)/README.md
	-rmdir $(DESTDIR)$(DOCDIR)

# Benchmarks against mbsync and interimap on a private Dovecot
# (tests/bench/; never part of check).  Helpers and the ferry measured
# build in BENCH_BUILD; results go to build/bench (BENCH_OUT).
#   make bench-quick                 small corpus, under two minutes
#                                    (interimap timed once, not REPS times)
#   make bench [PROFILE=medium|many] [REPS=3]
PROFILE     ?= medium
REPS        ?= 3
BENCH_BUILD ?= build-bench
BENCH_BIN    = $(patsubst tests/bench/%.c,$(BUILD)/bench/%,\
	       $(wildcard tests/bench/*.c))

.PHONY: bench bench-quick bench-bins
$(BUILD)/bench/%: tests/bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(call quiet,CCLD,$@)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< \
	    $(LIB) $(LIBS)

bench-bins: $(BIN) $(BENCH_BIN)

bench:
	$(Q)tests/bench/deps.sh
	$(Q)$(MAKE) --no-print-directory BUILD=$(BENCH_BUILD) bench-bins
	$(Q)BENCH_BUILD=$(BENCH_BUILD) tests/bench/bench.sh $(PROFILE) $(REPS)

bench-quick:
	$(Q)$(MAKE) --no-print-directory bench PROFILE=small REPS=3 \
	    BENCH_INTERIMAP_REPS=1

SOURCES = $(shell git ls-files '*.c' '*.h' 2>/dev/null || \
	    find cmd sync store imap util tests -name '*.[ch]')

format:
	clang-format -i $(SOURCES)

format-check:
	$(Q)clang-format --dry-run --Werror $(SOURCES)

lint: check-layers
	$(Q)tests/lint.sh banned $(SOURCES)

check-layers:
	$(Q)tests/lint.sh layers $(SOURCES)

# libFuzzer targets.  Each links the library built with clang and the
# fuzzer's sanitizers into its own tree so that it never mixes with a gcc
# build.  UBSan must not recover, or libFuzzer never sees what it finds.
# Crash files go under $(BUILD), never into the source tree.
FUZZ_CC    ?= clang
FUZZ_SAN    = -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_FLAGS  = -g -O1 -fsanitize=fuzzer $(FUZZ_SAN)
FUZZTIME   ?= 60

.PHONY: fuzz-bins
fuzz:
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)/fuzz-build CC=$(FUZZ_CC) \
	    CFLAGS="-g -O1 $(FUZZ_SAN) -fsanitize=fuzzer-no-link" \
	    fuzz-bins

fuzz-bins: $(LIB)
	$(Q)mkdir -p $(BUILD)/fuzz; for f in $(FUZZ_SRC); do \
	    n=$$(basename $$f .c); \
	    echo "  FUZZ    $$n"; \
	    $(CC) $(ALL_CFLAGS) $(FUZZ_FLAGS) -o $(BUILD)/fuzz/$$n $$f $(LIB) \
	        $(LIBS) || exit 1; done

fuzz-run: fuzz
	$(Q)for f in $(FUZZ_SRC); do \
	    n=$$(basename $$f .c); t=$${n#fuzz_}; \
	    mkdir -p $(BUILD)/corpus/$$t $(BUILD)/fuzz-crashes; \
	    $(BUILD)/fuzz-build/fuzz/$$n -max_total_time=$(FUZZTIME) \
	        -artifact_prefix=$(BUILD)/fuzz-crashes/$$t- \
	        -dict=tests/fuzz/$$t.dict $(BUILD)/corpus/$$t \
	        tests/fuzz/corpus/$$t || exit 1; done

clean:
	rm -rf $(BUILD) ferry

-include $(shell find $(BUILD) -name '*.d' -type f 2>/dev/null)
