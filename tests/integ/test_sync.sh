#!/bin/sh
# SPDX-License-Identifier: ISC
#
# test_sync.sh - "ferry sync" against the private Dovecot, checked the way
# a user would: the messages and flags in the local Maildir against the
# server's own Maildir, what a second run does, what -n leaves behind,
# losing the state, flags and new mail both ways, and the deletion brake.
# bob's folder tree "Sync" is seeded once (first test) and only read
# after; the two-way tests use folders of carol's that only they touch.
# Other tests use the same accounts, so every channel selects its own
# folders.
. "$(dirname "$0")/lib.sh"

FERRY=${FERRY:-ferry}
SEED=$(cd "$(dirname "$0")/.." && pwd)/seed-mail.sh
SYNC_FOLDERS='folders: ["Sync", "Sync/*"]'
# carol's folders are new in every run of this script.
TW=TwoWay-$$
BR=Brake-$$
DL=Deletes-$$
KP=Keep-$$
II=ImapImap-$$
MX=Mixed-$$
NF=NearFolder-$$
OC=Own-$$
WN=Windows-$$

# config USER MODE [channel yaml lines...]: server -> ./Mail, state ./state.db
config() {
	user=$1 mode=$2
	shift 2
	{
		echo "stores:"
		echo "  server:"
		echo "    type: imap"
		echo "    host: localhost"
		echo "    port: $FERRY_IMAPS_PORT"
		echo "    tls: implicit"
		echo "    ca_file: $FERRY_CA"
		echo "    user: $user"
		echo "    password_env: FERRY_PASS_$user"
		echo "  local:"
		echo "    type: maildir"
		echo "    path: $PWD/Mail"
		echo "channels:"
		echo "  ch:"
		echo "    far: server"
		echo "    near: local"
		echo "    mode: $mode"
		echo "    state: $PWD/state.db"
		for l in "$@"; do
			echo "    $l"
		done
	} >config.yaml
}

# inventory MAILDIR: one line per message, "folder hash flags", sorted:
# flags are the standard letters of the file name; the hash is over the
# bytes without CRs, because Dovecot keeps an APPENDed message on disk
# with bare LFs (and serves it with CRLF), while ferry's Maildir holds
# exactly what IMAP served.
inventory() {
	(cd "$1" && find . -type f \( -path '*/cur/*' -o -path '*/new/*' \)) |
	    while IFS= read -r f; do
		dir=${f%/*}
		folder=${dir%/*}
		folder=${folder#./}
		[ "$folder" = . ] && folder=INBOX
		name=${f##*/}
		flags=
		case $name in
		*:2,*) flags=$(printf '%s' "${name##*:2,}" | tr -cd 'DFPRST') ;;
		esac
		h=$(tr -d '\r' <"$1/$f" | sha256sum | cut -c1-16)
		printf '%s %s %s\n' "$folder" "$h" "$flags"
	done | sed 's/Gr&APYA3w-e/Größe/' | sort
}

# count_files DIR: messages in one Maildir folder
count_files() {
	find "$1/cur" "$1/new" -type f 2>/dev/null | wc -l | tr -d ' '
}

sync_ok() {
	out=$("$FERRY" -c config.yaml sync "$@" 2>&1) ||
	    t_fail "ferry sync $*: exit status $?: $out"
}

test_pull_copies_everything() {
	t_need_dovecot
	"$SEED" "$FERRY_MAILDIR_bob/Sync" 30
	server_own bob
	config bob pull "$SYNC_FOLDERS"
	sync_ok
	t_contains "$out" "copied far -> near: 30 messages"
	t_contains "$out" "failed: 0"
	inventory "$FERRY_MAILDIR_bob/Sync" >server.inv
	inventory Mail/Sync >local.inv
	t_eq "$(wc -l <local.inv | tr -d ' ')" 30 "local messages"
	cmp -s server.inv local.inv ||
	    t_fail "local Maildir differs: $(diff server.inv local.inv)"
	# The counts "ferry check" shows per folder.
	chk=$("$FERRY" -c config.yaml check server 2>&1) || t_fail "check: $chk"
	for f in Sync Sync/Work Sync/Work/Projects Sync/Archive Sync/Reisen \
	    "Sync/Reisen/Größe"; do
		n=$(count_files "Mail/$f")
		printf '%s\n' "$chk" | grep -q "^  $f  *$n messages" ||
		    t_fail "$f: $n local messages, check says: $chk"
	done
	# A second run changes nothing.
	(cd Mail && find . | sort) >before
	sync_ok
	t_contains "$out" "copied far -> near: 0 messages"
	t_contains "$out" "flags updated: 0"
	(cd Mail && find . | sort) >after
	cmp -s before after || t_fail "second run changed: $(diff before after)"
}

test_dry_run_changes_nothing() {
	t_need_dovecot
	config bob pull "$SYNC_FOLDERS"
	out=$("$FERRY" -c config.yaml sync -n 2>&1)
	t_eq "$?" 2 "exit status without a Maildir"
	t_contains "$out" "does not exist yet"
	[ ! -e Mail ] && [ ! -e state.db ] || t_fail "-n created files"
	mkdir -p Mail/cur Mail/new Mail/tmp
	(cd Mail && find . | sort) >before
	out=$("$FERRY" -c config.yaml sync -n 2>&1) ||
	    t_fail "exit status $?: $out"
	t_contains "$out" "Sync/Work: copy"
	t_contains "$out" "(dry run)"
	(cd Mail && find . | sort) >after
	cmp -s before after || t_fail "-n changed the Maildir"
	[ ! -e state.db ] || t_fail "-n created the state"
	# CHANNEL:FOLDER looks at that far folder only.
	out=$("$FERRY" -c config.yaml sync -n ch:Sync/Work 2>&1) ||
	    t_fail "exit status $?: $out"
	t_contains "$out" "Sync/Work: copy"
	t_lacks "$out" "Archive"
	t_lacks "$out" "Sync/Work/Projects"
	# With a state: the file is not written to either.
	sync_ok
	sum1=$(cat state.db* | sha256sum)
	(cd Mail && find . | sort) >before
	out=$("$FERRY" -c config.yaml sync --dry-run 2>&1) ||
	    t_fail "exit status $?: $out"
	t_contains "$out" "planned: 0 operations"
	t_eq "$(cat state.db* | sha256sum)" "$sum1" "state after -n"
	(cd Mail && find . | sort) >after
	cmp -s before after || t_fail "-n changed the Maildir"
}

test_lost_state_pairs_by_fingerprint() {
	t_need_dovecot
	config bob pull "$SYNC_FOLDERS"
	sync_ok
	(cd Mail && find . | sort) >before
	rm -f state.db state.db-wal state.db-shm
	sync_ok
	t_contains "$out" "copied far -> near: 0 messages"
	t_contains "$out" "paired: 30"
	(cd Mail && find . | sort) >after
	cmp -s before after || t_fail "files changed: $(diff before after)"
}

test_resume_after_lost_copies() {
	t_need_dovecot
	command -v sqlite3 >/dev/null || t_skip "no sqlite3(1)"
	config bob pull 'folders: ["Sync/Work"]'
	sync_ok
	n=$(count_files Mail/Sync/Work)
	[ "$n" -gt 0 ] || t_fail "nothing copied"
	# As after a kill between writing the copy intents and sending the
	# copies: intents recorded, nothing delivered, watermarks at zero.
	sqlite3 state.db "INSERT INTO pending (pair, side, source_uid,
	    fingerprint, dest_uidnext, created) SELECT pair, 'near', far_uid,
	    fingerprint, 1, 0 FROM msg; DELETE FROM msg;
	    UPDATE folder_pair SET far_uidvalidity = 0, far_uidnext = 0,
	    far_modseq = 0, far_messages = 0;" || t_fail "sqlite3"
	t_eq "$(sqlite3 state.db 'SELECT count(*) FROM pending')" "$n" \
	    "intents"
	rm -f Mail/Sync/Work/cur/* Mail/Sync/Work/new/*
	sync_ok
	t_contains "$out" "copied far -> near: $n messages"
	t_contains "$out" "failed: 0"
	t_eq "$(count_files Mail/Sync/Work)" "$n" "local messages"
	t_eq "$(sqlite3 state.db 'SELECT count(*) FROM pending')" 0 \
	    "intents left"
}

# msg N: a small message with Message-ID <sync-N@example.org>
msg() {
	printf 'From: T <t@example.org>\r\nSubject: sync test %s\r\n' "$1"
	printf 'Message-ID: <sync-%s@example.org>\r\n\r\nbody %s\r\n' "$1" "$1"
}

# server_own [USER]: the mail processes run as the owner of the home
server_own() {
	eval "m=\$FERRY_MAILDIR_${1:-carol}"
	chown -R "$(stat -c %u:%g "$m/..")" "$m" 2>/dev/null || true
}

# server_folder NAME COUNT: a folder in carol's server Maildir
server_folder() {
	d=$FERRY_MAILDIR_carol/$1
	mkdir -p "$d/cur" "$d/new" "$d/tmp"
	i=1
	while [ "$i" -le "$2" ]; do
		msg "$1-$i" >"$d/cur/17930000$i.M${i}P2.$1:2,S"
		i=$((i + 1))
	done
	server_own
}

test_two_way_flags_and_new_mail() {
	t_need_dovecot
	server_folder "$TW" 3
	config carol two-way "folders: [\"$TW\"]"
	sync_ok
	t_eq "$(count_files Mail/$TW)" 3 "local messages"
	# Flag one message locally, as a mail program does.
	f=$(find "Mail/$TW/cur" -type f | head -n 1)
	case $f in *:2,S) ;; *) t_fail "unexpected local file $f" ;; esac
	h=$(tr -d '\r' <"$f" | sha256sum | cut -c1-16)
	mv "$f" "${f%:2,*}:2,FS"
	sync_ok
	t_contains "$out" "flags updated: 1"
	inventory "$FERRY_MAILDIR_carol" | grep "^$TW $h " >srv
	t_eq "$(cat srv)" "$TW $h FS" "server flags"
	# New mail on the server shows up locally.
	msg "$TW-new" >"$FERRY_MAILDIR_carol/$TW/new/1793999999.M9P2.new"
	server_own
	sync_ok
	t_contains "$out" "copied far -> near: 1 messages"
	t_eq "$(count_files Mail/$TW)" 4 "local messages"
	# New local mail goes to the server.
	msg "$TW-local" >"Mail/$TW/new/1794000000.M1P3.local"
	sync_ok
	t_contains "$out" "copied near -> far: 1 messages"
	t_eq "$(count_files "$FERRY_MAILDIR_carol/$TW")" 5 "server messages"
	inventory "$FERRY_MAILDIR_carol" | grep "^$TW " >server.inv
	inventory Mail >local.inv
	cmp -s server.inv local.inv ||
	    t_fail "sides differ: $(diff server.inv local.inv)"
	sync_ok
	t_contains "$out" "copied far -> near: 0 messages"
	t_contains "$out" "copied near -> far: 0 messages"
	t_contains "$out" "flags updated: 0"
}

test_wrong_password_exit_5() {
	t_need_dovecot
	config bob pull
	out=$(FERRY_PASS_bob=wrong "$FERRY" -c config.yaml sync 2>&1)
	t_eq "$?" 5 "exit status"
	t_lacks "$out" "copied"
	[ ! -d Mail ] || t_fail "a failed login touched the Maildir"
}

test_locked_state_exit_6() {
	t_need_dovecot
	command -v flock >/dev/null || t_skip "no flock(1)"
	config carol two-way "folders: [\"$TW\"]"
	flock state.db.lock sleep 5 &
	sleep 1
	out=$("$FERRY" -c config.yaml sync 2>&1)
	t_eq "$?" 6 "exit status"
	t_contains "$out" "lock"
	[ ! -d Mail ] || t_fail "a locked run touched the Maildir"
	wait
}

test_deletion_brake() {
	t_need_dovecot
	server_folder "$BR" 12
	config carol two-way "folders: [\"$BR\"]" 'expunge: true'
	sync_ok
	t_eq "$(count_files Mail/$BR)" 12 "local messages"
	rm Mail/$BR/cur/*
	out=$("$FERRY" -c config.yaml sync 2>&1)
	t_eq "$?" 1 "exit status"
	t_contains "$out" "brakes: 1"
	t_contains "$out" "$BR: "
	t_contains "$out" "expunged: 0 far, 0 near"
	t_eq "$(count_files "$FERRY_MAILDIR_carol/$BR")" 12 "server messages"
}

test_two_way_expunge_propagates() {
	t_need_dovecot
	server_folder "$DL" 20
	config carol two-way "folders: [\"$DL\"]" 'expunge: true'
	sync_ok
	t_eq "$(count_files Mail/$DL)" 20 "local messages"
	# Deleting two messages locally (10 %) stays under the brake.
	find "Mail/$DL/cur" -type f | head -n 2 | xargs rm
	sync_ok
	t_contains "$out" "expunged: 2 far, 0 near"
	t_eq "$(count_files "$FERRY_MAILDIR_carol/$DL")" 18 "server messages"
	inventory "$FERRY_MAILDIR_carol" | grep "^$DL " >server.inv
	inventory Mail >local.inv
	cmp -s server.inv local.inv ||
	    t_fail "sides differ: $(diff server.inv local.inv)"
	out=$("$FERRY" -c config.yaml sync -n 2>&1)
	t_contains "$out" "nothing to do"
}

test_pull_keeps_what_the_server_deleted() {
	t_need_dovecot
	server_folder "$KP" 5
	config carol pull "folders: [\"$KP\"]"
	sync_ok
	t_eq "$(count_files Mail/$KP)" 5 "local messages"
	# The server loses a message: a backup keeps its copy.
	rm "$(find "$FERRY_MAILDIR_carol/$KP/cur" -type f | head -n 1)"
	sync_ok
	t_contains "$out" "expunged: 0 far, 0 near"
	t_eq "$(count_files Mail/$KP)" 5 "local messages"
	t_eq "$(count_files "$FERRY_MAILDIR_carol/$KP")" 4 "server messages"
	# The state knows the message is now only local.
	t_eq "$(sqlite3 state.db 'SELECT count(*) FROM msg WHERE far_uid IS NULL')" \
	    1 "rows kept for the near side only"
	# And later runs have nothing left to do about it (whether the folder
	# is still settling and scanned, or skipped as unchanged), also when
	# the folder changes again and is planned afresh.
	out=$("$FERRY" -c config.yaml sync -n 2>&1)
	t_contains "$out" "planned: 0 operations"
	msg "$KP-new" >"$FERRY_MAILDIR_carol/$KP/new/1794000001.M7P2.new"
	server_own
	out=$("$FERRY" -c config.yaml sync -n 2>&1)
	t_contains "$out" "copy 1 message"
	t_lacks "$out" "forget"
	sync_ok
	t_eq "$(count_files Mail/$KP)" 6 "local messages"
}

# An IMAP -> IMAP channel: carol's folder copied into bob's account.
test_imap_to_imap_pull() {
	t_need_dovecot
	server_folder "$II" 7
	{
		echo "stores:"
		for u in carol bob; do
			echo "  $u:"
			echo "    type: imap"
			echo "    host: localhost"
			echo "    port: $FERRY_IMAPS_PORT"
			echo "    ca_file: $FERRY_CA"
			echo "    user: $u"
			echo "    password_env: FERRY_PASS_$u"
		done
		echo "channels:"
		echo "  move:"
		echo "    far: carol"
		echo "    near: bob"
		echo "    mode: pull"
		echo "    state: $PWD/state.db"
		echo "    folders: [\"$II\"]"
	} >config.yaml
	sync_ok
	t_contains "$out" "copied far -> near: 7 messages"
	inventory "$FERRY_MAILDIR_carol" | grep "^$II " >carol.inv
	inventory "$FERRY_MAILDIR_bob" | grep "^$II " >bob.inv
	t_eq "$(wc -l <bob.inv | tr -d ' ')" 7 "messages in bob's copy"
	cmp -s carol.inv bob.inv ||
	    t_fail "accounts differ: $(diff carol.inv bob.inv)"
	sync_ok
	t_contains "$out" "copied far -> near: 0 messages"
	# Without the state, the copies are recognised, not made again.
	rm -f state.db state.db-wal state.db-shm
	sync_ok
	t_contains "$out" "copied far -> near: 0 messages"
	t_contains "$out" "paired: 7"
}

# On a terminal, a folder in windows shows one progress count for all of
# it, not one per window.
test_progress_counts_the_whole_folder() {
	t_need_dovecot
	command -v script >/dev/null 2>&1 || t_skip "no script(1) for a terminal"
	f=Progress-$$
	server_folder "$f" 35
	config carol pull "folders: [\"$f\"]"
	script -qec "FERRY_TEST_WINDOW=10 '$FERRY' -c config.yaml sync" \
	    /dev/null >tty.out 2>&1 || t_fail "sync: $(cat tty.out)"
	out=$(tr '\r' '\n' <tty.out)
	t_contains "$out" "copied far -> near: 35 messages"
	t_contains "$out" "$f: copied 20 of about 35"
	t_contains "$out" "$f: copied 10 of about 35"
	t_lacks "$out" "$f: copied 10/10" "the progress line"
}

# Between two accounts in windows: bob's folder is not scanned again for
# what each window appended, and every message lands once.
test_imap_to_imap_in_windows() {
	t_need_dovecot
	f=ImapWin-$$
	server_folder "$f" 35
	config_imap pull "$f"
	out=$(FERRY_TEST_WINDOW=10 "$FERRY" -v -c config.yaml sync 2>&1) ||
	    t_fail "sync: $out"
	t_contains "$out" "copied far -> near: 35 messages"
	t_eq "$(printf '%s\n' "$out" | grep -c "$f: far: window of UIDs")" 3 \
	    "windows"
	t_eq "$(printf '%s\n' "$out" | grep "$f: near: status" |
	    grep -c ': unchanged$')" 3 "windows that left bob's folder alone"
	inventory "$FERRY_MAILDIR_carol" | grep "^$f " >carol.inv
	inventory "$FERRY_MAILDIR_bob" | grep "^$f " >bob.inv
	t_eq "$(wc -l <bob.inv | tr -d ' ')" 35 "messages in bob's copy"
	cmp -s carol.inv bob.inv ||
	    t_fail "accounts differ: $(diff carol.inv bob.inv)"
	FERRY_TEST_WINDOW=10 sync_ok
	t_contains "$out" "copied far -> near: 0 messages"
}

# mixed_flags I: flags for seeded message I, mixed
mixed_flags() {
	case $(($1 % 5)) in
	0) echo "" ;;
	1) echo "S" ;;
	2) echo "FS" ;;
	3) echo "RS" ;;
	*) echo "DS" ;;
	esac
}

# seed_dir DIR TAG COUNT [lf]: COUNT messages <TAG-i@example.org> in
# DIR/cur with mixed flags and internal dates (the files' mtimes); with
# "lf", bare LFs, as a local mail program writes them
seed_dir() {
	mkdir -p "$1/cur" "$1/new" "$1/tmp"
	i=1
	while [ "$i" -le "$3" ]; do
		sf="$1/cur/$((1793200000 + i)).M${i}P5.$2:2,$(mixed_flags "$i")"
		if [ "${4:-}" = lf ]; then
			msg "$2-$i" | tr -d '\r' >"$sf"
		else
			msg "$2-$i" >"$sf"
		fi
		touch -d "@$((1793200000 + i * 7200))" "$sf"
		i=$((i + 1))
	done
}

# inv_dates DIR: one Maildir folder, "hash flags mtime" per message
inv_dates() {
	find "$1/cur" "$1/new" -type f 2>/dev/null | while IFS= read -r f; do
		name=${f##*/}
		flags=
		case $name in
		*:2,*) flags=$(printf '%s' "${name##*:2,}" | tr -cd 'DFPRST') ;;
		esac
		h=$(tr -d '\r' <"$f" | sha256sum | cut -c1-16)
		printf '%s %s %s\n' "$h" "$flags" "$(stat -c %Y "$f")"
	done | sort
}

# config_imap MODE FOLDER [channel yaml lines...]: carol (far) and bob
# (near) on the server, state ./state.db
config_imap() {
	mode=$1 folder=$2
	shift 2
	{
		echo "stores:"
		for u in carol bob; do
			echo "  $u:"
			echo "    type: imap"
			echo "    host: localhost"
			echo "    port: $FERRY_IMAPS_PORT"
			echo "    ca_file: $FERRY_CA"
			echo "    user: $u"
			echo "    password_env: FERRY_PASS_$u"
		done
		echo "channels:"
		echo "  ch:"
		echo "    far: carol"
		echo "    near: bob"
		echo "    mode: $mode"
		echo "    state: $PWD/state.db"
		echo "    folders: [\"$folder\"]"
		for l in "$@"; do
			echo "    $l"
		done
	} >config.yaml
}

# A folder whose UIDVALIDITY changes on the server (Dovecot loses its
# uidlist and indexes) keeps its messages: they are re-paired, not copied.
test_uidvalidity_change_repairs() {
	t_need_dovecot
	f=UidValidity-$$
	server_folder "$f" 6
	config carol two-way "folders: [\"$f\"]"
	sync_ok
	t_contains "$out" "copied far -> near: 6 messages"
	uv1=$(sqlite3 state.db "SELECT far_uidvalidity FROM folder_pair")
	d=$FERRY_MAILDIR_carol/$f
	rm -f "$d"/dovecot-uidlist "$d"/dovecot.index* \
	    "$FERRY_MAILDIR_carol"/dovecot.list.index*
	# A new UIDVALIDITY is the time of the mailbox's creation.
	sleep 1
	# The folder's files keep their names; Dovecot numbers them afresh.
	sync_ok
	t_contains "$out" "UIDVALIDITY changed on far"
	t_contains "$out" "copied far -> near: 0 messages"
	t_contains "$out" "copied near -> far: 0 messages"
	t_contains "$out" "paired: 6"
	uv2=$(sqlite3 state.db "SELECT far_uidvalidity FROM folder_pair")
	[ "$uv1" != "$uv2" ] || t_fail "UIDVALIDITY did not change ($uv1)"
	t_eq "$(count_files "Mail/$f")" 6 "local messages"
	t_eq "$(count_files "$d")" 6 "server messages"
	out=$("$FERRY" -c config.yaml sync -n 2>&1)
	t_contains "$out" "planned: 0 operations"
}

# A destination that already holds half of the messages (copied by
# another tool, same bytes and dates): only the other half is copied.
# local_copies FOLDER head|tail N: the first or last N files of carol's
# FOLDER copied into the local one, as another tool would have
local_copies() {
	mkdir -p "Mail/$1/cur" "Mail/$1/new" "Mail/$1/tmp"
	for x in $(find "$FERRY_MAILDIR_carol/$1/cur" -type f | sort |
	    "$2" -n "$3"); do
		cp -p "$x" "Mail/$1/cur/"
	done
}

# same_as_server FOLDER: the local FOLDER holds what carol's does
same_as_server() {
	inventory "$FERRY_MAILDIR_carol" | grep "^$1 " >server.inv
	inventory Mail >local.inv
	cmp -s server.inv local.inv ||
	    t_fail "sides differ: $(diff server.inv local.inv)"
}

test_half_populated_destination() {
	t_need_dovecot
	f=Half-$$
	server_folder "$f" 10
	local_copies "$f" head 5
	config carol pull "folders: [\"$f\"]"
	sync_ok
	t_contains "$out" "copied far -> near: 5 messages"
	t_contains "$out" "paired: 5"
	t_eq "$(count_files "Mail/$f")" 10 "local messages"
	same_as_server "$f"
}

# The same with a folder big enough for windows, whose local copies are
# of the last messages: each is paired, none copied twice.
test_half_populated_destination_windows() {
	t_need_dovecot
	f=HalfWin-$$
	server_folder "$f" 35
	local_copies "$f" tail 15
	config carol pull "folders: [\"$f\"]"
	out=$(FERRY_TEST_WINDOW=10 "$FERRY" -v -c config.yaml sync 2>&1) ||
	    t_fail "sync: $out"
	t_contains "$out" "copied far -> near: 20 messages"
	t_contains "$out" "paired: 15"
	t_lacks "$out" "window of UIDs" "a pass facing new local messages"
	t_eq "$(count_files "Mail/$f")" 35 "local messages"
	same_as_server "$f"
}

# mode_case MODE md|imap: the first run copies every message the way the
# mode copies, with flags and internal dates; the second copies nothing
mode_case() {
	mode=$1 kind=$2
	f=Mode-$mode-$kind-$$
	far=$FERRY_MAILDIR_carol/$f
	if [ "$kind" = md ]; then
		near=$PWD/Mail/$f
		config carol "$mode" "folders: [\"$f\"]"
	else
		near=$FERRY_MAILDIR_bob/$f
		config_imap "$mode" "$f"
	fi
	nfar=0 nnear=0
	case $mode in
	two-way | pull | mirror-pull)
		seed_dir "$far" "$f-far" 5
		nfar=5 ;;
	esac
	case $mode in
	two-way | push | mirror-push)
		if [ "$kind" = md ]; then
			seed_dir "$near" "$f-near" 4 lf
		else
			seed_dir "$near" "$f-near" 4
		fi
		nnear=4 ;;
	esac
	server_own carol
	server_own bob
	sync_ok
	t_contains "$out" "copied far -> near: $nfar messages" "$mode $kind"
	t_contains "$out" "copied near -> far: $nnear messages" "$mode $kind"
	t_contains "$out" "failed: 0" "$mode $kind"
	inv_dates "$far" >far.inv
	inv_dates "$near" >near.inv
	t_eq "$(wc -l <near.inv | tr -d ' ')" $((nfar + nnear)) \
	    "$mode $kind: messages"
	cmp -s far.inv near.inv ||
	    t_fail "$mode $kind: sides differ: $(diff far.inv near.inv)"
	sync_ok
	t_contains "$out" "copied far -> near: 0 messages" "$mode $kind again"
	t_contains "$out" "copied near -> far: 0 messages" "$mode $kind again"
	t_contains "$out" "flags updated: 0" "$mode $kind again"
	rm -f state.db state.db-wal state.db-shm
}

test_mode_two_way() {
	t_need_dovecot
	mode_case two-way md
	mode_case two-way imap
}

test_mode_pull() {
	t_need_dovecot
	mode_case pull md
	mode_case pull imap
}

test_mode_push() {
	t_need_dovecot
	mode_case push md
	mode_case push imap
}

test_mode_mirror_pull() {
	t_need_dovecot
	mode_case mirror-pull md
	mode_case mirror-pull imap
}

test_mode_mirror_push() {
	t_need_dovecot
	mode_case mirror-push md
	mode_case mirror-push imap
}

# mirror-pull with expunge: a message the server lost goes locally too,
# and a local deletion does not reach the server.
test_mirror_pull_expunges_locally() {
	t_need_dovecot
	f=Mirror-$$
	server_folder "$f" 12
	config carol mirror-pull "folders: [\"$f\"]" 'expunge: true'
	sync_ok
	t_eq "$(count_files "Mail/$f")" 12 "local messages"
	x=$(find "$FERRY_MAILDIR_carol/$f/cur" -type f | sort | head -n 1)
	h=$(tr -d '\r' <"$x" | sha256sum | cut -c1-16)
	rm "$x"
	sync_ok
	t_contains "$out" "expunged: 0 far, 1 near"
	t_eq "$(count_files "Mail/$f")" 11 "local messages"
	inventory "$FERRY_MAILDIR_carol" | grep "^$f " >server.inv
	inventory Mail >local.inv
	cmp -s server.inv local.inv ||
	    t_fail "sides differ: $(diff server.inv local.inv)"
	t_lacks "$(cat local.inv)" "$h" "local messages"
	rm "$(find "Mail/$f/cur" -type f | sort | head -n 1)"
	sync_ok
	t_contains "$out" "expunged: 0 far, 0 near"
	t_eq "$(count_files "$FERRY_MAILDIR_carol/$f")" 11 "server messages"
}

# The brake holds a mass deletion back until --force-deletes.
test_force_deletes_releases_brake() {
	t_need_dovecot
	f=Force-$$
	server_folder "$f" 20
	config carol mirror-pull "folders: [\"$f\"]" 'expunge: true'
	sync_ok
	t_eq "$(count_files "Mail/$f")" 20 "local messages"
	find "$FERRY_MAILDIR_carol/$f/cur" -type f | sort | head -n 11 |
	    xargs rm
	out=$("$FERRY" -c config.yaml sync 2>&1)
	t_eq "$?" 1 "exit status with the brake"
	t_contains "$out" "brakes: 1"
	t_contains "$out" "expunged: 0 far, 0 near"
	t_eq "$(count_files "Mail/$f")" 20 "local messages"
	# The brake keeps the watermarks: the next run sees it again.
	out=$("$FERRY" -c config.yaml sync 2>&1)
	t_eq "$?" 1 "exit status with the brake again"
	t_contains "$out" "brakes: 1"
	sync_ok --force-deletes
	t_contains "$out" "expunged: 0 far, 11 near"
	t_contains "$out" "brakes: 0"
	t_eq "$(count_files "Mail/$f")" 9 "local messages"
	sync_ok
	t_contains "$out" "expunged: 0 far, 0 near"
}

# Another client changes the server folder while ferry syncs it: the
# next run brings both sides together.
test_concurrent_changes_converge() {
	t_need_dovecot
	f=Busy-$$
	d=$FERRY_MAILDIR_carol/$f
	server_folder "$f" 400
	config carol two-way "folders: [\"$f\"]" 'expunge: true'
	"$FERRY" -c config.yaml sync >run1.out 2>&1 &
	pid=$!
	i=1
	while [ "$i" -le 5 ]; do
		msg "$f-late-$i" >"$d/new/1794100000.M${i}P8.late"
		x=$(find "$d/cur" -type f -name "*.M$((i * 7))P2.*" | head -n 1)
		[ -z "$x" ] || mv "$x" "${x%:2,*}:2,FS"
		x=$(find "$d/cur" -type f -name "*.M$((i * 11 + 100))P2.*" |
		    head -n 1)
		[ -z "$x" ] || rm "$x"
		server_own
		sleep 0.1
		i=$((i + 1))
	done
	# A message gone before it was fetched is a failure of that run.
	wait "$pid"
	rc=$?
	[ "$rc" -le 1 ] || t_fail "first run: exit status $rc: $(cat run1.out)"
	sync_ok
	inv_dates "$d" >server.inv
	inv_dates "Mail/$f" >local.inv
	cmp -s server.inv local.inv ||
	    t_fail "sides differ: $(diff server.inv local.inv)"
	t_eq "$(wc -l <local.inv | tr -d ' ')" 400 "messages"
	t_eq "$(grep -c ' FS ' local.inv)" 5 "flagged"
	out=$("$FERRY" -c config.yaml sync -n 2>&1)
	t_contains "$out" "planned: 0 operations"
}

# Small and big bodies (above the parser's 64 KiB inline limit) fetched
# pipelined over one connection each land in their own file: a server
# may answer pipelined FETCHes interleaved.
test_big_and_small_bodies_land_in_their_files() {
	t_need_dovecot
	d=$FERRY_MAILDIR_carol/$MX
	mkdir -p "$d/cur" "$d/new" "$d/tmp"
	i=1
	while [ "$i" -le 12 ]; do
		{
			msg "$MX-$i"
			if [ $((i % 3)) -eq 0 ]; then
				head -c 150000 /dev/urandom | base64
			fi
		} >"$d/cur/17931000$i.M${i}P4.$MX:2,S"
		i=$((i + 1))
	done
	server_own
	config carol pull "folders: [\"$MX\"]"
	sync_ok
	inventory "$FERRY_MAILDIR_carol" | grep "^$MX " >server.inv
	inventory Mail >local.inv
	t_eq "$(wc -l <local.inv | tr -d ' ')" 12 "local messages"
	cmp -s server.inv local.inv ||
	    t_fail "bodies differ: $(diff server.inv local.inv)"
}

# Two-way with create: a folder made locally appears on the server with
# its mail, and a folder made on the server appears locally.
test_two_way_creates_folders_both_ways() {
	t_need_dovecot
	server_folder "$NF-far" 2
	config carol two-way "folders: [\"$NF-far\", \"$NF-near\", \"$NF-near/*\"]"
	sync_ok
	t_eq "$(count_files "Mail/$NF-far")" 2 "local copy of the server folder"
	mkdir -p "Mail/$NF-near/Sub/cur" "Mail/$NF-near/Sub/new" "Mail/$NF-near/Sub/tmp"
	msg "$NF-local" >"Mail/$NF-near/Sub/new/1794000002.M2P5.local"
	sync_ok
	t_eq "$(count_files "$FERRY_MAILDIR_carol/$NF-near/Sub")" 1 \
	    "server copy of the local folder"
	sync_ok
	t_contains "$out" "copied near -> far: 0 messages"
}

# A run proves the Maildir folders it changed (store_settle()): the next
# run does not read them again, yet a mail program's change made right
# after a run, within the same second, is seen.
test_own_changes_not_rescanned() {
	t_need_dovecot
	server_folder "$OC" 3
	config carol two-way "folders: [\"$OC\"]"
	sync_ok
	t_contains "$out" "copied far -> near: 3 messages"
	out=$("$FERRY" -v -c config.yaml sync 2>&1) || t_fail "second run: $out"
	t_contains "$out" "$OC: near: status"
	printf '%s\n' "$out" | grep "$OC: near: status" | grep -q ": unchanged$" ||
	    t_fail "the local folder was read again: $out"
	t_contains "$out" "1 folders (1 unchanged"
	# New server mail lands locally; at once a mail program flags a
	# message and delivers one.
	msg "$OC-new" >"$FERRY_MAILDIR_carol/$OC/new/1794100000.M1P2.new"
	server_own
	sync_ok
	t_contains "$out" "copied far -> near: 1 messages"
	f=$(find "Mail/$OC/cur" -type f -name '*:2,S' | head -n 1)
	[ -n "$f" ] || t_fail "no seen local message in Mail/$OC/cur"
	mv "$f" "${f%:2,*}:2,FS"
	msg "$OC-local" >"Mail/$OC/new/1794100001.M2P3.local"
	sync_ok
	t_contains "$out" "flags updated: 1"
	t_contains "$out" "copied near -> far: 1 messages"
	inventory "$FERRY_MAILDIR_carol" | grep "^$OC " >server.inv
	inventory Mail >local.inv
	t_eq "$(wc -l <local.inv | tr -d ' ')" 5 "local messages"
	cmp -s server.inv local.inv ||
	    t_fail "sides differ: $(diff server.inv local.inv)"
	out=$("$FERRY" -v -c config.yaml sync 2>&1) || t_fail "last run: $out"
	t_contains "$out" "copied near -> far: 0 messages"
	t_contains "$out" "copied far -> near: 0 messages"
	printf '%s\n' "$out" | grep "$OC: near: status" | grep -q ": unchanged$" ||
	    t_fail "the local folder was read again: $out"
}

# A big folder goes in windows of new messages (FERRY_TEST_WINDOW makes
# them 10 messages): all of it lands once, with its flags, the local
# folder is not read again between windows, and a later run with many
# new messages and deletions goes in windows too.
test_big_folder_in_windows() {
	t_need_dovecot
	server_folder "$WN" 35
	for i in 3 17 29; do
		f=$(find "$FERRY_MAILDIR_carol/$WN/cur" -name "*P2.$WN:2,S" |
		    sort | sed -n "${i}p")
		mv "$f" "${f%:2,S}:2,FS"
	done
	server_own
	config carol mirror-pull "folders: [\"$WN\"]" 'expunge: true'
	out=$(FERRY_TEST_WINDOW=10 "$FERRY" -v -c config.yaml sync 2>&1) ||
	    t_fail "first run: $out"
	t_contains "$out" "copied far -> near: 35 messages"
	t_contains "$out" "failed: 0"
	t_eq "$(printf '%s\n' "$out" | grep -c "$WN: far: window of UIDs")" 3 \
	    "windows"
	t_contains "$out" "window of UIDs 11:20"
	printf '%s\n' "$out" | grep "$WN: near: status" | grep -q ": scan$" &&
	    t_fail "the local folder was read again between windows: $out"
	same_as_server "$WN"
	t_eq "$(wc -l <local.inv | tr -d ' ')" 35 "local messages"
	# The windows proved what they delivered: the next run does not
	# read the local folder.
	out=$(FERRY_TEST_WINDOW=10 "$FERRY" -v -c config.yaml sync 2>&1) ||
	    t_fail "second run: $out"
	t_contains "$out" "copied far -> near: 0 messages"
	t_contains "$out" "flags updated: 0"
	printf '%s\n' "$out" | grep "$WN: near: status" |
	    grep -q ": unchanged$" || t_fail "the local folder was read: $out"
	# 25 new on the server, two deleted there.
	d=$FERRY_MAILDIR_carol/$WN
	i=1
	while [ "$i" -le 25 ]; do
		msg "$WN-more-$i" >"$d/new/17940000$i.M${i}P4.more"
		i=$((i + 1))
	done
	rm "$(find "$d/cur" -type f | sort | sed -n 5p)" \
	    "$(find "$d/cur" -type f | sort | sed -n 30p)"
	server_own
	out=$(FERRY_TEST_WINDOW=10 "$FERRY" -v -c config.yaml sync 2>&1) ||
	    t_fail "third run: $out"
	t_contains "$out" "copied far -> near: 25 messages"
	t_contains "$out" "expunged: 0 far, 2 near"
	t_contains "$out" "window of UIDs 36:"
	same_as_server "$WN"
	t_eq "$(wc -l <local.inv | tr -d ' ')" 58 "local messages"
	FERRY_TEST_WINDOW=10 sync_ok
	t_contains "$out" "copied far -> near: 0 messages"
	t_contains "$out" "expunged: 0 far, 0 near"
}

t_run
