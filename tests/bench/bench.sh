#!/bin/sh
# SPDX-License-Identifier: ISC
#
# bench.sh PROFILE REPS - ferry against mbsync and interimap (and a
# pipelined-fetch floor) on one private Dovecot, on a cached corpus
# (small, medium, many).  Run through "make bench" / "make bench-quick",
# which build the helpers and the measured ferry in $BENCH_BUILD.
#
# Scenarios, each tool REPS times, the order of the tools rotating per
# repetition: first sync IMAP -> Maildir; no-op resync; incremental (200
# new, 500 flag changes, 100 expunges written into the server's Maildir,
# then indexed by doveadm before the timed runs); no-op and incremental
# again through proxy (25 ms added round trip); first sync IMAP -> IMAP
# and its no-op.  IMAP -> IMAP copies alice's account into bob's (ferry),
# carol's (mbsync) and, when interimap is installed, a second Dovecot's:
# interimap syncs with a "local" server reached through a tunnel, here
# Dovecot's imap binary run by "doveadm exec" with its own configuration
# and mail directory (no daemon).  $BENCH_INTERIMAP_REPS (default REPS;
# "make bench-quick" sets 1) limits interimap to the first repetitions.
# $BENCH_IMAP_IMAP=0 leaves the IMAP -> IMAP scenarios out (on the many
# profile they take 20 minutes per repetition, mostly mbsync's).
# Each tool runs with its defaults (mbsync and interimap, for one, use
# COMPRESS=DEFLATE).
#
# After every run the copy is compared with the server message by message
# (tests/bench/inventory.c: folder, body, flags, keywords, internal date):
# any difference for ferry fails the bench; for the others it is reported
# (mbsync keeps neither keywords nor internal dates).  Commands are counted
# by the server (a Dovecot stats metric on imap_command_finished: every
# command after login, both accounts for IMAP -> IMAP); round trips by the
# proxy, which cannot read the encrypted commands.
#
# Nothing is deleted while runs are timed: a copy that is not needed any
# more is moved aside and removed at exit.  (On ext4 without a journal
# every file created for 30 seconds after a mass deletion nearby pays for
# skipping the freed inodes, which made runs after an "rm -rf" of the
# previous copy up to twice as slow.)  So the working directory holds up
# to three copies of the corpus per tool and scenario until the end.
#
# Output: one table of medians on stdout, PROFILE.md and PROFILE.json, raw
# samples in PROFILE.samples, all in build/bench (or $BENCH_OUT).  Only
# 127.0.0.1 is ever contacted.
set -eu

PROFILE=${1:-small}
REPS=${2:-3}
IIREPS=${BENCH_INTERIMAP_REPS:-$REPS}
IMAP_IMAP=${BENCH_IMAP_IMAP:-1}
LAT=${BENCH_LATENCY_MS:-25}
TOP=$(pwd)
BB=$TOP/${BENCH_BUILD:-build-bench}
FERRY=$BB/ferry
H=$BB/bench
OUT=${BENCH_OUT:-$TOP/build/bench}
CACHE=$TOP/build/bench-corpus/$PROFILE
MBSYNC=$(command -v mbsync || true)
EATMYDATA=$(command -v eatmydata || true)
INTERIMAP=$(command -v interimap || true)
DOVEADM_BIN=$(command -v doveadm || true)
TIME=/usr/bin/time
T_START=$(date +%s%N)

die() {
	echo "bench: FAIL: $*" >&2
	exit 1
}
elapsed() { echo $((($(date +%s%N) - T_START) / 1000000000)); }
note() { echo "bench: [$(elapsed) s] $*" >&2; }

[ -x "$FERRY" ] || die "no $FERRY (run make bench)"
[ -n "$MBSYNC" ] || die "no mbsync (tests/bench/deps.sh installs isync)"
[ -x "$TIME" ] || die "no /usr/bin/time (package time)"

W=$(mktemp -d "${TMPDIR:-/tmp}/ferry-bench.XXXXXX")
chmod 755 "$W"
PROXY_PID=
cleanup() {
	[ -z "$PROXY_PID" ] || kill "$PROXY_PID" 2>/dev/null || true
	# Nothing is timed any more: the copies go while Dovecot stops,
	# several at a time (each unlink waits for the disk here).
	for d in "$W"/old/* "$W"/*-md "$W"/interimap "$W"/dc/home/*; do
		[ ! -e "$d" ] || rm -rf "$d" &
	done
	"$TOP/tests/dovecot.sh" stop "$W/dc" || true
	wait
	rm -rf "$W"
	note "finished"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$OUT" "$W/old" "$W/hc"

# discard PATH...: move out of the way, to be deleted at exit (see above).
nold=0
discard() {
	for p in "$@"; do
		[ -e "$p" ] || continue
		nold=$((nold + 1))
		mv "$p" "$W/old/$nold"
	done
}

# The corpus, generated once per profile.
if [ ! -f "$CACHE/done" ]; then
	note "generating corpus $PROFILE into $CACHE"
	rm -rf "$CACHE"
	mkdir -p "$CACHE"
	"$H/corpus" gen "$PROFILE" "$CACHE/Maildir" >"$CACHE/info"
	touch "$CACHE/done"
fi
cat "$CACHE/info" >&2

# The server, with a metric counting the IMAP commands it completes.
{
	echo "metric bench_commands {"
	echo "  filter = event=imap_command_finished"
	echo "}"
	[ -z "${DOVECOT_EXTRA_CONF:-}" ] || echo "!include $DOVECOT_EXTRA_CONF"
} >"$W/dovecot-bench.conf"
DOVECOT_EXTRA_CONF=$W/dovecot-bench.conf "$TOP/tests/dovecot.sh" start "$W/dc"
. "$W/dc/env"
SRV=$FERRY_MAILDIR_alice
owner=$(stat -c %u:%g "${SRV%/*}")
rm -rf "$SRV"
cp -al "$CACHE/Maildir" "$SRV" 2>/dev/null || cp -a "$CACHE/Maildir" "$SRV"
chown -R "$owner" "$SRV"
DOVEADM="$DOVEADM_BIN -c $FERRY_TEST_DIR/dovecot.conf"

# commands: the server's count so far, once no session is left (the
# count of a session is complete when it has ended).  Nothing but the
# measured runs sends IMAP commands after the warm-up, so a run's count
# starts where the previous one's ended ($CMDS).
commands() {
	n=0
	while [ "$($DOVEADM who 2>/dev/null | wc -l)" -gt 1 ] && [ "$n" -lt 300 ]; do
		n=$((n + 1))
		sleep 0.01
	done
	$DOVEADM stats dump 2>/dev/null |
	    awk '$1 == "bench_commands" { c = $3 } END { print c + 0 }'
}

# The latency proxy, on a free port.
port_busy() {
	grep -q ":$(printf '%04X' "$1") 00000000:0000 0A" /proc/net/tcp
}
while :; do
	PPORT=$((($(od -An -N2 -tu2 /dev/urandom) % 30000) + 20000))
	port_busy "$PPORT" || break
done
"$H/proxy" "$PPORT" "$FERRY_IMAPS_PORT" "$LAT" "$W/proxy.stats" \
    2>"$W/proxy.err" &
PROXY_PID=$!
n=0
until port_busy "$PPORT"; do
	n=$((n + 1))
	[ "$n" -lt 200 ] || die "proxy did not start: $(cat "$W/proxy.err")"
	sleep 0.01
done
# proxy_idle: wait until the proxy has drained and counted every
# connection ("connections turns up down open").
proxy_idle() {
	n=0
	until [ "$(cut -d ' ' -f 5 "$W/proxy.stats")" = 0 ] || [ "$n" -ge 400 ]; do
		n=$((n + 1))
		sleep 0.005
	done
}

# Configurations: NAME.yaml / NAME.rc for the direct port, NAME-lat.* for
# the proxy.
ferry_conf() { # PORT FAR NEAR_TYPE NEAR_USER_OR_PATH STATE MODE
	{
		echo "stores:"
		echo "  far:"
		echo "    type: imap"
		echo "    host: localhost"
		echo "    port: $1"
		echo "    ca_file: $FERRY_CA"
		echo "    user: $2"
		echo "    password_env: FERRY_PASS_$2"
		echo "  near:"
		if [ "$3" = maildir ]; then
			echo "    type: maildir"
			echo "    path: $4"
		else
			echo "    type: imap"
			echo "    host: localhost"
			echo "    port: $1"
			echo "    ca_file: $FERRY_CA"
			echo "    user: $4"
			echo "    password_env: FERRY_PASS_$4"
		fi
		echo "channels:"
		echo "  bench:"
		echo "    far: far"
		echo "    near: near"
		echo "    mode: $6"
		[ "$6" = pull ] || echo "    expunge: true"
		echo "    brake_percent: 100"
		echo "    state: $5"
	}
}
imap_acct() { # NAME PORT USER
	printf 'IMAPAccount %s\nHost localhost\nPort %s\nUser %s\n' "$1" "$2" "$3"
	printf 'PassCmd "echo %s-secret"\n%s IMAPS\n' "$3" "$TLSKW"
	printf 'CertificateFile %s\n\nIMAPStore %s-store\nAccount %s\n\n' \
	    "$FERRY_CA" "$1" "$1"
}
# isync before 1.5 calls TLSType SSLType.
case $("$MBSYNC" --version) in
*" 1."[0-4].*) TLSKW=SSLType ;;
*) TLSKW=TLSType ;;
esac
mbsync_conf() { # PORT
	imap_acct alice "$1" alice
	imap_acct carol "$1" carol
	cat <<EOF
MaildirStore local
Path $W/mbsync-md/
Inbox $W/mbsync-md/INBOX
SubFolders Verbatim

Channel md
Far :alice-store:
Near :local:
Patterns *
Create Near
Sync Pull
Expunge Near
SyncState *

Channel ii
Far :alice-store:
Near :carol-store:
Patterns *
Create Near
Sync Pull
SyncState $W/mbsync-ii-state/
EOF
}
for v in "$FERRY_IMAPS_PORT:" "$PPORT:-lat"; do
	p=${v%%:*} s=${v#*:}
	ferry_conf "$p" alice maildir "$W/ferry-md" "$W/ferry-state/ferry.db" \
	    mirror-pull >"$W/ferry$s.yaml"
	ferry_conf "$p" alice imap bob "$W/ferry-ii-state/ferry.db" pull \
	    >"$W/ii$s.yaml"
	mbsync_conf "$p" >"$W/mbsync$s.rc"
done

# interimap: alice's account (remote, IMAPS) into a second Dovecot (local,
# a tunnel to its imap binary) whose mail is in $II/home/Maildir.  Its
# commands go to the server's stats, so that they are counted as well.
II=$W/interimap
if [ -n "$INTERIMAP" ]; then
	mkdir -p "$II/home"
	as=""
	if [ "$(id -u)" -eq 0 ]; then
		# Dovecot's imap will not run as root on a socket (it takes
		# that for inetd): run it as nobody, in the group that may
		# write to the server's stats socket.
		nuid=$(id -u nobody) ngid=$(id -g nobody)
		sgid=$(stat -c %g "$FERRY_TEST_DIR/run/stats-writer")
		chown -R "$nuid:$ngid" "$II"
		as="setpriv --reuid=$nuid --regid=$ngid --groups=$sgid"
	fi
	cat >"$II/dovecot.conf" <<EOF
# interimap's local Dovecot, written by tests/bench/bench.sh: no daemon,
# only "doveadm exec imap" over a pipe.
base_dir = $II/run
state_dir = $II/state
log_path = $II/home/dovecot.log
ssl = no
mail_location = maildir:~/Maildir:LAYOUT=fs
mailbox_list_index = yes
stats_writer_socket_path = $FERRY_TEST_DIR/run/stats-writer
namespace inbox {
  inbox = yes
  separator = /
  mailbox Drafts {
    special_use = \Drafts
    auto = subscribe
  }
  mailbox Sent {
    special_use = \Sent
    auto = subscribe
  }
  mailbox Trash {
    special_use = \Trash
    auto = subscribe
  }
  mailbox Junk {
    special_use = \Junk
    auto = subscribe
  }
  mailbox Archive {
    special_use = \Archive
  }
}
EOF
	cat >"$W/interimap.conf" <<EOF
database = $W/interimap-state/bench.db

[local]
type = tunnel
command = $as env -i PATH=/usr/bin:/bin USER=bench HOME=$II/home $DOVEADM_BIN -c $II/dovecot.conf exec imap
null-stderr = YES

[remote]
type = imaps
host = localhost
port = $FERRY_IMAPS_PORT
username = alice
password = $FERRY_PASS_alice
SSL_CAfile = $FERRY_CA
EOF
fi

SAMPLES=$OUT/$PROFILE.samples
: >"$SAMPLES"
FAILED=0
NOTES=$W/notes
VERIFY=$W/verify
: >"$NOTES"
: >"$VERIFY"

# measure SCENARIO TOOL LAT CMD...: time one run, append a sample line
# "scenario<TAB>tool<TAB>wall_s<TAB>cpu_s<TAB>rss_kb<TAB>turns<TAB>commands".
measure() {
	sc=$1 tool=$2 lat=$3
	shift 3
	# What earlier steps left to write back (the floor does not fsync,
	# nor do corpus mutate and Dovecot's indexes) is not this run's.
	sync -f "$W"
	before=$(cat "$W/proxy.stats")
	t0=$(date +%s%N)
	if ! "$TIME" -f '%U %S %M' -o "$W/time" "$@" >"$W/run.log" 2>&1; then
		tail -n 5 "$W/run.log" >&2
		echo "bench: FAIL: $tool exited with an error in $sc" >&2
		echo "FAIL: $tool exited with an error in $sc: $(grep -m 1 -i 'warning\|error' "$W/run.log")" >>"$NOTES"
		FAILED=1
	fi
	t1=$(date +%s%N)
	turns=-
	if [ "$lat" != 0 ]; then
		proxy_idle
		turns=$(echo "$before $(cat "$W/proxy.stats")" |
		    awk '{ print $7 - $2 }')
	fi
	c0=$CMDS
	CMDS=$(commands)
	cmds=$((CMDS - c0))
	tail -n 1 "$W/time" | awk -v sc="$sc" -v tool="$tool" \
	    -v w="$(((t1 - t0) / 1000))" -v turns="$turns" -v cmds="$cmds" \
	    '{ printf "%s\t%s\t%.3f\t%.2f\t%d\t%s\t%s\n", sc, tool, w / 1e6,
	    $1 + $2, $3, turns, cmds }' >>"$SAMPLES"
	tail -n 1 "$SAMPLES" >&2
}

# inventory [-t] DIR: its lines, with the hashes cached per directory.
inventory() {
	for d; do :; done
	"$H/inventory" -c "$W/hc/$(printf '%s' "$d" | tr -c 'A-Za-z0-9' _)" "$@"
}
server_inventory() {
	inventory "$SRV" >"$W/srv.inv"
}
# compare SERVER COPY: "missing extra keywords dates", the number of the
# server's messages not in the copy, of the copy's not on the server (by
# folder, body and flags), and of the matched ones whose keywords or
# internal date differ; up to 6 examples in $W/diff.
compare() {
	awk -F '\t' -v ex="$W/diff" '
	function show(s) { if (shown++ < 6) print s > ex }
	NR == FNR { k = $1 FS $2 FS $3; n[k]++; kw[k] = $4; dt[k] = $5; next }
	{
		k = $1 FS $2 FS $3
		if (n[k] > 0) {
			n[k]--
			if ($4 != kw[k]) {
				nk++
				show("keywords " $0 " (server: " kw[k] ")")
			}
			if ($5 != dt[k]) {
				nd++
				show("date " $0 " (server: " dt[k] ")")
			}
		} else {
			extra++
			show("extra " $0)
		}
	}
	END {
		for (k in n)
			if (n[k] > 0) {
				missing += n[k]
				show("missing " k)
			}
		printf "%d %d %d %d\n", missing, extra, nk, nd
	}' "$1" "$2"
}
# check TOOL DIR: compare the copy in DIR with alice's account
check() {
	: >"$W/diff"
	if [ "$1" = mbsync ]; then
		inventory -t "$2" >"$W/copy.inv"
	else
		inventory "$2" >"$W/copy.inv"
	fi
	r=$(compare "$W/srv.inv" "$W/copy.inv")
	printf '%s\t%s\t%s\n' "$1" "$sc" "$(echo "$r" | tr ' ' '\t')" >>"$VERIFY"
	[ "$1" = ferry ] || return 0
	case $r in
	"0 0 0 0") ;;
	*)
		sed 's/^/  /' "$W/diff" >&2
		# shellcheck disable=SC2086
		set -- $r
		echo "bench: FAIL: ferry ($sc): $1 missing, $2 extra, $3 keywords, $4 dates differ" >&2
		echo "FAIL: ferry ($sc): $1 of the server's messages missing or with other flags, $2 not on the server, $3 with other keywords, $4 with another internal date" >>"$NOTES"
		FAILED=1
		;;
	esac
}

# The tools of one repetition, in turns: order REP TOOL...
order() {
	r=$1
	shift
	i=$(((r - 1) % $#))
	while [ "$i" -gt 0 ]; do
		t=$1
		shift
		set -- "$@" "$t"
		i=$((i - 1))
	done
	echo "$@"
}

# Dovecot builds its indexes on first access: do that, and the floor's
# first (untimed) run, before anything is measured.
note "warming up Dovecot"
"$H/floor" localhost "$FERRY_IMAPS_PORT" "$FERRY_CA" alice FERRY_PASS_alice \
    "$W/floor" >&2 || die "floor failed"
server_inventory
CMDS=$(commands)

sc="first sync IMAP->Maildir"
note "$sc"
for r in $(seq "$REPS"); do
	discard "$W/floor"
	measure "$sc" floor 0 "$H/floor" localhost "$FERRY_IMAPS_PORT" \
	    "$FERRY_CA" alice FERRY_PASS_alice "$W/floor"
	for tool in $(order "$r" ferry mbsync); do
		if [ "$tool" = ferry ]; then
			discard "$W/ferry-md" "$W/ferry-state"
			mkdir "$W/ferry-state"
			measure "$sc" ferry 0 "$FERRY" -c "$W/ferry.yaml" sync
			check ferry "$W/ferry-md"
			# The same with fsync() a no-op: what durability costs.
			[ -n "$EATMYDATA" ] || continue
			discard "$W/ferry-md" "$W/ferry-state"
			mkdir "$W/ferry-state"
			measure "$sc" "ferry (no fsync)" 0 "$EATMYDATA" "$FERRY" \
			    -c "$W/ferry.yaml" sync
			check ferry "$W/ferry-md"
		else
			discard "$W/mbsync-md"
			mkdir "$W/mbsync-md"
			measure "$sc" mbsync 0 "$MBSYNC" -q -c "$W/mbsync.rc" md
			check mbsync "$W/mbsync-md"
		fi
	done
done
discard "$W/floor"

both() { # SCENARIO LAT SUFFIX REP
	for tool in $(order "$4" ferry mbsync); do
		if [ "$tool" = ferry ]; then
			measure "$1" ferry "$2" "$FERRY" -c "$W/ferry$3.yaml" sync
			check ferry "$W/ferry-md"
		else
			measure "$1" mbsync "$2" "$MBSYNC" -q -c "$W/mbsync$3.rc" md
			check mbsync "$W/mbsync-md"
		fi
	done
}

round=0
for v in "0:" "$LAT:-lat"; do
	lat=${v%%:*} s=${v#*:}
	tag=
	[ "$lat" = 0 ] || tag=" +${lat}ms"
	sc="no-op resync$tag"
	note "$sc"
	for r in $(seq "$REPS"); do
		both "$sc" "$lat" "$s" "$r"
	done
	sc="incremental$tag"
	note "$sc"
	for r in $(seq "$REPS"); do
		round=$((round + 1))
		"$H/corpus" mutate "$SRV" "$round" >&2
		$DOVEADM mailbox status -u alice messages '*' >/dev/null 2>&1 ||
		    note "doveadm could not index the changes"
		server_inventory
		both "$sc" "$lat" "$s" "$r"
	done
done

# IMAP -> IMAP: alice's account into bob's (ferry), carol's (mbsync) and
# the second Dovecot (interimap).
# ii_tools REP: the tools of one repetition, in turns
ii_tools() {
	if [ -z "$INTERIMAP" ]; then
		order "$1" ferry mbsync
	elif [ "$1" -le "$IIREPS" ]; then
		order "$1" ferry mbsync interimap
	else
		order "$1" ferry mbsync interimap | sed 's/ *interimap//'
	fi
}
ii_run() { # SCENARIO TOOL FIRST
	case $2 in
	ferry)
		if [ "$3" = 1 ]; then
			discard "$FERRY_MAILDIR_bob" "$W/ferry-ii-state"
			mkdir "$W/ferry-ii-state"
		fi
		measure "$1" ferry 0 "$FERRY" -c "$W/ii.yaml" sync
		check ferry "$FERRY_MAILDIR_bob"
		;;
	mbsync)
		if [ "$3" = 1 ]; then
			discard "$FERRY_MAILDIR_carol" "$W/mbsync-ii-state"
			mkdir "$W/mbsync-ii-state"
		fi
		measure "$1" mbsync 0 "$MBSYNC" -q -c "$W/mbsync.rc" ii
		check mbsync "$FERRY_MAILDIR_carol"
		;;
	interimap)
		if [ "$3" = 1 ]; then
			discard "$II/home/Maildir" "$W/interimap-state"
			mkdir "$W/interimap-state"
		fi
		measure "$1" interimap 0 "$INTERIMAP" --quiet \
		    --config="$W/interimap.conf"
		check interimap "$II/home/Maildir"
		;;
	esac
}
if [ "$IMAP_IMAP" != 0 ]; then
	sc="first sync IMAP->IMAP"
	note "$sc"
	server_inventory
	for r in $(seq "$REPS"); do
		for tool in $(ii_tools "$r"); do
			ii_run "$sc" "$tool" 1
		done
	done
	sc="no-op IMAP->IMAP"
	note "$sc"
	for r in $(seq "$REPS"); do
		for tool in $(ii_tools "$r"); do
			ii_run "$sc" "$tool" 0
		done
	done
	[ -n "$INTERIMAP" ] ||
	    echo "interimap not available: IMAP->IMAP compares ferry with mbsync only" >>"$NOTES"
else
	echo "IMAP->IMAP left out (BENCH_IMAP_IMAP=0)" >>"$NOTES"
fi
note "runs done"

# What the checks found, per tool: differences in folder, body or flags;
# keywords; internal dates.
awk -F '\t' '
{
	t = $1
	if (!(t in seen)) { seen[t] = 1; tools[++nt] = t }
	checks[t]++
	if ($3 + $4 > 0) {
		bad[t]++
		if (!((t, $2) in badsc)) {
			badsc[t, $2] = 1
			where[t] = where[t] (where[t] == "" ? "" : "; ") $2 \
			    ": " $3 " missing or with other flags, " $4 \
			    " not on the server"
		}
	}
	if ($5 > 0) { kwn[t]++; if ($5 > kwmax[t]) kwmax[t] = $5 }
	if ($6 > 0) { dtn[t]++; if ($6 > dtmax[t]) dtmax[t] = $6 }
}
END {
	for (i = 1; i <= nt; i++) {
		t = tools[i]
		if (bad[t] == 0)
			printf "%s: every message arrived with its folder, body and flags (%d checks)\n", t, checks[t]
		else
			printf "%s: messages differ in folder, body or flags in %d of %d checks (%s)\n", t, bad[t], checks[t], where[t]
		if (kwn[t] > 0)
			printf "%s: keywords differ in %d of %d checks, on up to %d messages\n", t, kwn[t], checks[t], kwmax[t]
		if (dtn[t] > 0)
			printf "%s: internal dates differ in %d of %d checks, on up to %d messages\n", t, dtn[t], checks[t], dtmax[t]
	}
}' "$VERIFY" >>"$NOTES"

# Medians and ratios.
awk -F '\t' -v profile="$PROFILE" -v reps="$REPS" \
    -v info="$(cat "$CACHE/info")" -v md="$OUT/$PROFILE.md" \
    -v iireps="$([ -z "$INTERIMAP" ] || [ "$IIREPS" = "$REPS" ] || echo "$IIREPS")" \
    -v js="$OUT/$PROFILE.json" '
function median(key, col,    n, i, j, t, v) {
	n = split(vals[key, col], v, " ")
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) {
			t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
		}
	return v[int((n + 1) / 2)]
}
function ratio(sc, tool, w) {
	if (!((sc, tool) in seen))
		return ""
	return sprintf("%.2f", w / median(sc SUBSEP tool, 3))
}
function jnum(s) { return s == "" || s == "-" ? "null" : s + 0 }
{
	key = $1 SUBSEP $2
	if (!(key in seen)) { seen[key] = 1; order[++nk] = key }
	for (c = 3; c <= 7; c++)
		vals[key, c] = vals[key, c] (vals[key, c] == "" ? "" : " ") $c
}
END {
	hdr = "| scenario | tool | wall s | CPU s | peak RSS MB | round trips | commands | ferry / mbsync | ferry / interimap |"
	print "## ferry benchmark: " profile " (" info "), median of " reps \
	    (iireps == "" ? "" : " (interimap: " iireps ")") > md
	print "" > md
	print hdr > md
	print "|---|---|---:|---:|---:|---:|---:|---:|---:|" > md
	print hdr
	printf "[" > js
	for (i = 1; i <= nk; i++) {
		split(order[i], k, SUBSEP)
		w = median(order[i], 3); cpu = median(order[i], 4)
		rss = median(order[i], 5); tr = median(order[i], 6)
		cm = median(order[i], 7)
		rm = ri = rf = ""
		if (k[2] == "ferry") {
			rm = ratio(k[1], "mbsync", w)
			ri = ratio(k[1], "interimap", w)
			rf = ratio(k[1], "floor", w)
		}
		line = sprintf("| %s | %s | %.3f | %.2f | %.1f | %s | %s | %s%s | %s |",
		    k[1], k[2], w, cpu, rss / 1024, tr, cm, rm,
		    rf == "" ? "" : " (" rf " x floor)", ri)
		print line > md
		print line
		printf "%s\n  {\"scenario\": \"%s\", \"tool\": \"%s\", \"wall_s\": %s, \"cpu_s\": %s, \"peak_rss_kb\": %d, \"round_trips\": %s, \"commands\": %s, \"ratio_to_mbsync\": %s, \"ratio_to_interimap\": %s, \"ratio_to_floor\": %s}", \
		    (i > 1 ? "," : ""), k[1], k[2], w, cpu, rss, jnum(tr), \
		    jnum(cm), jnum(rm), jnum(ri), jnum(rf) > js
	}
	print "\n]" > js
}' "$SAMPLES"
{
	echo
	echo "Notes:"
	sed 's/^/- /' "$NOTES"
} | tee -a "$OUT/$PROFILE.md"
echo "bench: wrote $OUT/$PROFILE.md and $OUT/$PROFILE.json"
[ "$FAILED" = 0 ] || die "runs failed or copies differ from the server (see Notes)"
