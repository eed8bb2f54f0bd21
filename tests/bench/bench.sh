#!/bin/sh
# SPDX-License-Identifier: ISC
#
# bench.sh PROFILE REPS - ferry against mbsync (and a pipelined-fetch
# floor) on one private Dovecot, on a cached corpus (small, medium, many).
# Run through "make bench" / "make bench-quick", which build the helpers
# and the measured ferry in $BENCH_BUILD.
#
# Scenarios, each tool REPS times, the order of the tools alternating per
# repetition: first sync IMAP -> Maildir; no-op resync; incremental (200
# new, 500 flag changes, 100 expunges written into the server's Maildir,
# then indexed by doveadm before the timed runs); no-op and incremental
# again through proxy (25 ms added round trip); first sync IMAP -> IMAP
# and its no-op.  After every run both sides are compared message by
# message (tests/bench/inventory.c): any difference for ferry fails the
# bench; for mbsync it is reported (it does not keep keywords).
#
# Output: one table of medians on stdout, build/bench/PROFILE.md and
# build/bench/PROFILE.json; raw samples in build/bench/PROFILE.samples.
# Only 127.0.0.1 is ever contacted.
set -eu

PROFILE=${1:-small}
REPS=${2:-3}
LAT=${BENCH_LATENCY_MS:-25}
TOP=$(pwd)
BB=$TOP/${BENCH_BUILD:-build-bench}
FERRY=$BB/ferry
H=$BB/bench
OUT=$TOP/build/bench
CACHE=$TOP/build/bench-corpus/$PROFILE
MBSYNC=$(command -v mbsync || true)
TIME=/usr/bin/time

die() {
	echo "bench: FAIL: $*" >&2
	exit 1
}
note() { echo "bench: $*" >&2; }

[ -x "$FERRY" ] || die "no $FERRY (run make bench)"
[ -n "$MBSYNC" ] || die "no mbsync (tests/bench/deps.sh installs isync)"
[ -x "$TIME" ] || die "no /usr/bin/time (package time)"

W=$(mktemp -d "${TMPDIR:-/tmp}/ferry-bench.XXXXXX")
chmod 755 "$W"
PROXY_PID=
cleanup() {
	[ -z "$PROXY_PID" ] || kill "$PROXY_PID" 2>/dev/null || true
	"$TOP/tests/dovecot.sh" stop "$W/dc" || true
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$OUT"

# The corpus, generated once per profile.
if [ ! -f "$CACHE/done" ]; then
	note "generating corpus $PROFILE into $CACHE"
	rm -rf "$CACHE"
	mkdir -p "$CACHE"
	"$H/corpus" gen "$PROFILE" "$CACHE/Maildir" >"$CACHE/info"
	touch "$CACHE/done"
fi
cat "$CACHE/info" >&2

"$TOP/tests/dovecot.sh" start "$W/dc"
. "$W/dc/env"
SRV=$FERRY_MAILDIR_alice
owner=$(stat -c %u:%g "${SRV%/*}")
rm -rf "$SRV"
cp -al "$CACHE/Maildir" "$SRV" 2>/dev/null || cp -a "$CACHE/Maildir" "$SRV"
chown -R "$owner" "$SRV"
DOVEADM="doveadm -c $FERRY_TEST_DIR/dovecot.conf"

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
	ferry_conf "$p" alice maildir "$W/ferry-md" "$W/ferry.db" \
	    mirror-pull >"$W/ferry$s.yaml"
	ferry_conf "$p" alice imap bob "$W/ferry-ii.db" pull >"$W/ii$s.yaml"
	mbsync_conf "$p" >"$W/mbsync$s.rc"
done

SAMPLES=$OUT/$PROFILE.samples
: >"$SAMPLES"
FAILED=0
NOTES=$W/notes
: >"$NOTES"

# measure SCENARIO TOOL LAT CMD...: time one run, append a sample line
# "scenario<TAB>tool<TAB>wall_s<TAB>cpu_s<TAB>rss_kb<TAB>turns".
measure() {
	sc=$1 tool=$2 lat=$3
	shift 3
	before=$(cat "$W/proxy.stats")
	t0=$(date +%s%N)
	if ! "$TIME" -f '%U %S %M' -o "$W/time" "$@" >"$W/run.log" 2>&1; then
		tail -n 5 "$W/run.log" >&2
		echo "bench: FAIL: $tool exited with an error in $sc" >&2
		echo "FAIL: $tool exited with an error in $sc: $(grep -m 1 -i 'warning\|error' "$W/run.log")" >>"$NOTES"
		FAILED=1
	fi
	t1=$(date +%s%N)
	sleep 0.05 # the proxy writes its totals when connections close
	after=$(cat "$W/proxy.stats")
	turns=-
	[ "$lat" = 0 ] || turns=$(echo "$before $after" |
	    awk '{ print $6 - $2 }')
	tail -n 1 "$W/time" | awk -v sc="$sc" -v tool="$tool" \
	    -v w="$(((t1 - t0) / 1000))" -v turns="$turns" \
	    '{ printf "%s\t%s\t%.3f\t%.2f\t%d\t%s\n", sc, tool, w / 1e6,
	    $1 + $2, $3, turns }' >>"$SAMPLES"
	tail -n 1 "$SAMPLES" >&2
}


server_inventory() {
	"$H/inventory" "$SRV" | LC_ALL=C sort >"$W/srv.inv"
}
# check TOOL DIR [USER]: compare the copy in DIR with alice's server
check() {
	"$H/inventory" "$2" | LC_ALL=C sort >"$W/near.inv"
	if [ "$1" = ferry ]; then
		cmp -s "$W/srv.inv" "$W/near.inv" || {
			d=$(diff "$W/srv.inv" "$W/near.inv" | grep -c '^[<>]' || true)
			diff "$W/srv.inv" "$W/near.inv" | head -n 6 >&2
			echo "bench: FAIL: ferry ($sc): $d messages differ" >&2
			echo "FAIL: ferry ($sc): $d inventory lines differ from the server" >>"$NOTES"
			FAILED=1
		}
		return
	fi
	cut -f1-3 "$W/srv.inv" >"$W/a"
	cut -f1-3 "$W/near.inv" >"$W/b"
	cmp -s "$W/a" "$W/b" || {
		d=$(diff "$W/a" "$W/b" | grep -c '^[<>]' || true)
		echo "$1 ($sc): $d lines of messages/flags differ" >>"$NOTES"
		diff "$W/a" "$W/b" | head -n 5 >&2
	}
	cut -f1-4 "$W/srv.inv" >"$W/a"
	cut -f1-4 "$W/near.inv" >"$W/b"
	if ! cmp -s "$W/a" "$W/b"; then
		k=$(diff "$W/a" "$W/b" | grep -c '^>' || true)
		grep -q "^$1 drops keywords" "$NOTES" 2>/dev/null ||
		    echo "$1 drops keywords ($k messages differ in keywords)" >>"$NOTES"
	fi
}

# order REP: the tools of one repetition, alternating
order() { [ $(($1 % 2)) -eq 1 ] && echo "ferry mbsync" || echo "mbsync ferry"; }

reset_account() { # USER
	eval "d=\$FERRY_MAILDIR_$1"
	rm -rf "$d"
}

# Dovecot builds its indexes on first access: do that, and the floor's
# first (untimed) run, before anything is measured.
note "warming up Dovecot"
"$H/floor" localhost "$FERRY_IMAPS_PORT" "$FERRY_CA" alice FERRY_PASS_alice \
    "$W/floor" >&2 || die "floor failed"
server_inventory

sc="first sync IMAP->Maildir"
note "$sc"
for r in $(seq "$REPS"); do
	rm -rf "$W/floor"
	measure "$sc" floor 0 "$H/floor" localhost "$FERRY_IMAPS_PORT" \
	    "$FERRY_CA" alice FERRY_PASS_alice "$W/floor"
	for tool in $(order "$r"); do
		if [ "$tool" = ferry ]; then
			rm -rf "$W/ferry-md" "$W/ferry.db"*
			measure "$sc" ferry 0 "$FERRY" -c "$W/ferry.yaml" sync
			check ferry "$W/ferry-md"
		else
			rm -rf "$W/mbsync-md"
			mkdir -p "$W/mbsync-md"
			measure "$sc" mbsync 0 "$MBSYNC" -q -c "$W/mbsync.rc" md
			check mbsync "$W/mbsync-md"
		fi
	done
done
rm -rf "$W/floor"

both() { # SCENARIO LAT SUFFIX REP
	for tool in $(order "$4"); do
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

# IMAP -> IMAP: alice's account into bob's (ferry), into carol's (mbsync).
sc="first sync IMAP->IMAP"
note "$sc"
server_inventory
for r in $(seq "$REPS"); do
	for tool in $(order "$r"); do
		if [ "$tool" = ferry ]; then
			reset_account bob
			rm -f "$W/ferry-ii.db"*
			measure "$sc" ferry 0 "$FERRY" -c "$W/ii.yaml" sync
			check ferry "$FERRY_MAILDIR_bob"
		else
			reset_account carol
			rm -rf "$W/mbsync-ii-state"
			mkdir -p "$W/mbsync-ii-state"
			measure "$sc" mbsync 0 "$MBSYNC" -q -c "$W/mbsync.rc" ii
			check mbsync "$FERRY_MAILDIR_carol"
		fi
	done
done
sc="no-op IMAP->IMAP"
note "$sc"
for r in $(seq "$REPS"); do
	for tool in $(order "$r"); do
		if [ "$tool" = ferry ]; then
			measure "$sc" ferry 0 "$FERRY" -c "$W/ii.yaml" sync
			check ferry "$FERRY_MAILDIR_bob"
		else
			measure "$sc" mbsync 0 "$MBSYNC" -q -c "$W/mbsync.rc" ii
			check mbsync "$FERRY_MAILDIR_carol"
		fi
	done
done
if command -v interimap >/dev/null 2>&1; then
	echo "interimap installed but not benchmarked: it needs a second" \
	    "Dovecot reached through a tunnel command, not set up here" >>"$NOTES"
else
	echo "interimap not available: IMAP->IMAP compares ferry with mbsync only" >>"$NOTES"
fi

# Medians and ratios.
awk -F '\t' -v profile="$PROFILE" -v reps="$REPS" \
    -v info="$(cat "$CACHE/info")" -v md="$OUT/$PROFILE.md" \
    -v js="$OUT/$PROFILE.json" '
function median(key, col,    n, i, j, t, v) {
	n = split(vals[key, col], v, " ")
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) {
			t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
		}
	return v[int((n + 1) / 2)]
}
{
	key = $1 SUBSEP $2
	if (!(key in seen)) { seen[key] = 1; order[++nk] = key }
	if (!($1 in sseen)) { sseen[$1] = 1 }
	for (c = 3; c <= 6; c++)
		vals[key, c] = vals[key, c] (vals[key, c] == "" ? "" : " ") $c
}
END {
	hdr = "| scenario | tool | wall s | CPU s | peak RSS MB | round trips | ferry / mbsync |"
	print "## ferry benchmark: " profile " (" info "), median of " reps > md
	print "" > md
	print hdr > md
	print "|---|---|---:|---:|---:|---:|---:|" > md
	printf "[" > js
	for (i = 1; i <= nk; i++) {
		split(order[i], k, SUBSEP)
		w = median(order[i], 3); cpu = median(order[i], 4)
		rss = median(order[i], 5); tr = median(order[i], 6)
		ratio = ""
		if (k[2] == "ferry" && ((k[1], "mbsync") in seen))
			ratio = sprintf("%.2f", w / median(k[1] SUBSEP "mbsync", 3))
		if (k[2] == "ferry" && ((k[1], "floor") in seen))
			ratio = ratio sprintf(" (%.2f x floor)",
			    w / median(k[1] SUBSEP "floor", 3))
		line = sprintf("| %s | %s | %.3f | %.2f | %.1f | %s | %s |",
		    k[1], k[2], w, cpu, rss / 1024, tr, ratio)
		print line > md
		print line
		printf "%s\n  {\"scenario\": \"%s\", \"tool\": \"%s\", \"wall_s\": %s, \"cpu_s\": %s, \"peak_rss_kb\": %d, \"round_trips\": %s, \"ratio_to_mbsync\": %s}", \
		    (i > 1 ? "," : ""), k[1], k[2], w, cpu, rss, \
		    (tr == "-" ? "null" : tr), \
		    (ratio == "" ? "null" : (ratio + 0)) > js
	}
	print "\n]" > js
}' "$SAMPLES"
if [ -s "$NOTES" ]; then
	{
		echo
		echo "Notes:"
		sed 's/^/- /' "$NOTES"
	} | tee -a "$OUT/$PROFILE.md"
fi
echo "bench: wrote $OUT/$PROFILE.md and $OUT/$PROFILE.json"
[ "$FAILED" = 0 ] || die "runs failed or copies differ from the server (see Notes)"
