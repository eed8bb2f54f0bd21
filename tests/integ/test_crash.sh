#!/bin/sh
# SPDX-License-Identifier: ISC
#
# test_crash.sh - a run killed after any durable step resumes without
# losing or duplicating mail.  Per scenario: one uninterrupted run from an
# initial situation is the reference (its final messages and flags on both
# sides, and, from FERRY_TEST_CRASH_LIST=1, the number of steps it took);
# then, for every step N, the same initial situation again, a run with
# FERRY_TEST_CRASH_AFTER=N (it must _exit(99) there, see sync/crash.c), a
# run without (it must finish), the same messages and flags as the
# reference on both sides, each message once, and a dry run that plans
# nothing.  Scenarios: pull IMAP -> Maildir (also in windows of a few
# new messages), two-way IMAP <-> Maildir after changes on both sides,
# and pull IMAP -> IMAP (carol -> bob).
# Every folder name is new in each run of this script, and every
# iteration that changes a server uses folders of its own.
. "$(dirname "$0")/lib.sh"

FERRY=${FERRY:-ferry}
NMSG=12
CP=CrashPull-$$
CT=CrashTwo-$$
CI=CrashImap-$$
CW=CrashWindows-$$

# msg I: message I of the seed; the same bytes in every folder
msg() {
	printf 'From: Crash Test <crash@example.org>\r\nTo: bob@example.org\r\n'
	printf 'Subject: crash test %s\r\n' "$1"
	printf 'Message-ID: <crash-%s@example.org>\r\n\r\n' "$1"
	j=0
	while [ "$j" -lt "$1" ]; do
		printf 'line %s of message %s\r\n' "$j" "$1"
		j=$((j + 1))
	done
}

# seed_flags I: the seed's flags, mixed
seed_flags() {
	case $(($1 % 4)) in
	0) echo "" ;;
	1) echo "S" ;;
	2) echo "FS" ;;
	*) echo "RS" ;;
	esac
}

# server_own USER: the mail processes run as the owner of the home
server_own() {
	eval "m=\$FERRY_MAILDIR_$1"
	chown -R "$(stat -c %u:%g "$m/..")" "$m" 2>/dev/null || true
}

# seed USER FOLDER: the NMSG messages in a new folder of USER's server
# Maildir, with mixed flags and internal dates
seed() {
	eval "d=\$FERRY_MAILDIR_$1/$2"
	mkdir -p "$d/cur" "$d/new" "$d/tmp"
	i=1
	while [ "$i" -le "$NMSG" ]; do
		f="$d/cur/$((1793100000 + i)).M${i}P7.seed:2,$(seed_flags "$i")"
		msg "$i" >"$f"
		touch -d "@$((1793100000 + i * 3600))" "$f"
		i=$((i + 1))
	done
	server_own "$1"
}

# drop USER FOLDER: remove a checked folder from the server's Maildir, so
# that the tests after this one do not wade through them
drop() {
	eval "rm -rf \"\$FERRY_MAILDIR_$1/$2\""
}

# inv DIR: the messages of one Maildir folder, "text flags" per line,
# sorted; the text is the message with its line ends as "\n" and without
# CRs (Dovecot stores APPENDed mail with bare LFs).  One awk for all the
# files: a hash per file would cost three processes each.
inv() {
	find "$1/cur" "$1/new" -type f 2>/dev/null >inv.files
	[ -s inv.files ] || return 0
	xargs -d '\n' awk '
	{ sub(/\r$/, ""); text[FILENAME] = text[FILENAME] $0 "\\n" }
	END {
		for (f in text) {
			flags = ""
			if ((i = index(f, ":2,")) > 0) {
				flags = substr(f, i + 3)
				gsub(/[^DFPRST]/, "", flags)
			}
			print text[f] " " flags
		}
	}' <inv.files | sort
}

# config_md USER MODE FOLDER [LINE]: server -> ./Mail, state ./state.db
config_md() {
	cat >config.yaml <<EOF
stores:
  server:
    type: imap
    host: localhost
    port: $FERRY_IMAPS_PORT
    ca_file: $FERRY_CA
    user: $1
    password_env: FERRY_PASS_$1
  local:
    type: maildir
    path: $PWD/Mail
channels:
  ch:
    far: server
    near: local
    mode: $2
    state: $PWD/state.db
    folders: ["$3"]
    ${4:-}
EOF
}

# config_ii FOLDER: carol's folder pulled into bob's account
config_ii() {
	cat >config.yaml <<EOF
stores:
  carol:
    type: imap
    host: localhost
    port: $FERRY_IMAPS_PORT
    ca_file: $FERRY_CA
    user: carol
    password_env: FERRY_PASS_carol
  bob:
    type: imap
    host: localhost
    port: $FERRY_IMAPS_PORT
    ca_file: $FERRY_CA
    user: bob
    password_env: FERRY_PASS_bob
channels:
  ch:
    far: carol
    near: bob
    mode: pull
    state: $PWD/state.db
    folders: ["$1"]
EOF
}

fresh_local() {
	rm -rf Mail state.db state.db-wal state.db-shm state.db.lock
}

sync_ok() {
	out=$("$FERRY" -c config.yaml sync "$@" 2>&1) ||
	    t_fail "ferry sync $*: exit status $?: $out"
}

# reference: the uninterrupted run, with its steps listed in ./steps
reference() {
	out=$(FERRY_TEST_CRASH_LIST=1 "$FERRY" -c config.yaml sync 2>&1) ||
	    t_fail "reference run: exit status $?: $out"
	printf '%s\n' "$out" | grep '^crash point ' >steps
	nsteps=$(wc -l <steps | tr -d ' ')
	[ "$nsteps" -gt 0 ] || t_fail "no crash points listed: $out"
}

# crash_and_resume N: run with a crash after step N, then to the end,
# then a dry run must find nothing to do
crash_and_resume() {
	what=$(sed -n "${1}p" steps)
	out=$(FERRY_TEST_CRASH_AFTER=$1 "$FERRY" -c config.yaml sync 2>&1)
	rc=$?
	[ "$rc" -eq 99 ] || t_fail "step $1 ($what): exit status $rc: $out"
	out=$("$FERRY" -c config.yaml sync 2>&1) ||
	    t_fail "after step $1 ($what): resume: exit status $?: $out"
	t_contains "$out" "failed: 0" "resume after step $1 ($what)"
	out=$("$FERRY" -c config.yaml sync -n 2>&1) ||
	    t_fail "after step $1 ($what): dry run: exit status $?: $out"
	t_contains "$out" "planned: 0 operations" \
	    "dry run after step $1 ($what)"
}

# same WANT GOT N: the inventories are equal
same() {
	cmp -s "$1" "$2" || t_fail "after a crash at step $3 ($(sed -n "${3}p" \
	    steps)): $2 differs from the reference: $(diff "$1" "$2")"
}

# once INV COUNT: COUNT messages, each once
once() {
	t_eq "$(wc -l <"$1" | tr -d ' ')" "$2" "messages in $1"
	t_eq "$(sed 's/ [DFPRST]*$//' "$1" | sort | uniq -d)" "" \
	    "duplicates in $1"
}

# pull_case FOLDER: the pull scenario in a new FOLDER, crashed after
# every step of the reference run
pull_case() {
	seed carol "$1"
	config_md carol pull "$1"
	fresh_local
	reference
	inv "$FERRY_MAILDIR_carol/$1" >server.ref
	inv "Mail/$1" >local.ref
	once local.ref "$NMSG"
	cmp -s server.ref local.ref ||
	    t_fail "reference: sides differ: $(diff server.ref local.ref)"
	n=1
	while [ "$n" -le "$nsteps" ]; do
		fresh_local
		crash_and_resume "$n"
		inv "Mail/$1" >local.inv
		same local.ref local.inv "$n"
		inv "$FERRY_MAILDIR_carol/$1" >server.inv
		same server.ref server.inv "$n"
		n=$((n + 1))
	done
	drop carol "$1"
	echo "$T_CUR: $nsteps crash points"
}

test_crash_pull_imap_to_maildir() {
	t_need_dovecot
	pull_case "$CP"
}

# The same pull in windows of 5 new messages (sync/sync.c, window()):
# a crash in any window resumes where the marks say.
test_crash_pull_in_windows() {
	t_need_dovecot
	export FERRY_TEST_WINDOW=5
	pull_case "$CW"
	t_eq "$(grep -c 'watermarks advanced' steps)" 3 "passes"
}

# local_file FOLDER I: the local file of message I
local_file() {
	grep -l "^Message-ID: <crash-$2@" "Mail/$1"/cur/* "Mail/$1"/new/* \
	    2>/dev/null | head -n 1
}

# server_file FOLDER I: carol's server file of message I
server_file() {
	grep -l "^Message-ID: <crash-$2@" "$FERRY_MAILDIR_carol/$1"/cur/* \
	    "$FERRY_MAILDIR_carol/$1"/new/* 2>/dev/null | head -n 1
}

# reflag FILE FLAGS: set a Maildir file's flags, as a mail program does
reflag() {
	[ -n "$1" ] || t_fail "no file to flag"
	dir=${1%/*}
	dir=${dir%/*}
	base=${1##*/}
	mv "$1" "$dir/cur/${base%%:2,*}:2,$2"
}

# two_way_start FOLDER: the initial situation of the two-way scenario:
# a synced folder, then on each side a new message, flag changes and a
# deletion
two_way_start() {
	seed carol "$1"
	config_md carol two-way "$1" "expunge: true"
	fresh_local
	sync_ok
	t_contains "$out" "copied far -> near: $NMSG messages" "first sync"
	reflag "$(local_file "$1" 1)" FS # add F
	reflag "$(local_file "$1" 2)" S # remove F
	reflag "$(local_file "$1" 4)" RS # add R and S
	# as a local MDA writes it: bare LFs
	msg 100 | tr -d '\r' >"Mail/$1/new/1794000000.M1P9.local"
	rm "$(local_file "$1" 7)"
	rm "$(server_file "$1" 8)"
	reflag "$(server_file "$1" 3)" FRS # add F
	reflag "$(server_file "$1" 5)" "" # remove S
	reflag "$(server_file "$1" 6)" FRS # add R
	msg 200 >"$FERRY_MAILDIR_carol/$1/new/1794000001.M2P9.server"
	touch -d @1794000001 "$FERRY_MAILDIR_carol/$1/new/1794000001.M2P9.server"
	server_own carol
}

test_crash_two_way_imap_maildir() {
	t_need_dovecot
	two_way_start "$CT-ref"
	reference
	t_contains "$out" "copied far -> near: 1 messages" "reference"
	t_contains "$out" "copied near -> far: 1 messages" "reference"
	inv "$FERRY_MAILDIR_carol/$CT-ref" >server.ref
	inv "Mail/$CT-ref" >local.ref
	t_contains "$out" "expunged: 1 far, 1 near" "reference"
	once local.ref "$NMSG"
	cmp -s server.ref local.ref ||
	    t_fail "reference: sides differ: $(diff server.ref local.ref)"
	grep -q ' FS$' local.ref || t_fail "no flagged message: $(cat local.ref)"
	n=1
	while [ "$n" -le "$nsteps" ]; do
		two_way_start "$CT-$n"
		crash_and_resume "$n"
		inv "Mail/$CT-$n" >local.inv
		same local.ref local.inv "$n"
		inv "$FERRY_MAILDIR_carol/$CT-$n" >server.inv
		same server.ref server.inv "$n"
		drop carol "$CT-$n"
		n=$((n + 1))
	done
	drop carol "$CT-ref"
	echo "$T_CUR: $nsteps crash points"
}

test_crash_pull_imap_to_imap() {
	t_need_dovecot
	seed carol "$CI-ref"
	config_ii "$CI-ref"
	fresh_local
	reference
	inv "$FERRY_MAILDIR_carol/$CI-ref" >src.ref
	inv "$FERRY_MAILDIR_bob/$CI-ref" >dst.ref
	once dst.ref "$NMSG"
	cmp -s src.ref dst.ref ||
	    t_fail "reference: accounts differ: $(diff src.ref dst.ref)"
	n=1
	while [ "$n" -le "$nsteps" ]; do
		seed carol "$CI-$n"
		config_ii "$CI-$n"
		fresh_local
		crash_and_resume "$n"
		inv "$FERRY_MAILDIR_bob/$CI-$n" >dst.inv
		same dst.ref dst.inv "$n"
		inv "$FERRY_MAILDIR_carol/$CI-$n" >src.inv
		same src.ref src.inv "$n"
		drop carol "$CI-$n"
		drop bob "$CI-$n"
		n=$((n + 1))
	done
	drop carol "$CI-ref"
	drop bob "$CI-ref"
	echo "$T_CUR: $nsteps crash points"
}

t_run
