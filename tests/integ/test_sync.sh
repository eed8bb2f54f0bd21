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
	# And later runs have nothing left to do about it, also when the
	# folder changes again and is planned afresh.
	out=$("$FERRY" -c config.yaml sync -n 2>&1)
	t_contains "$out" "nothing to do"
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

t_run
