#!/bin/sh
# SPDX-License-Identifier: ISC
#
# run-suite.sh PROGRAM... - run test programs and add up their results.
#
# Every test program ends its output with "N passed, N failed".  This runs
# each one, prints its output when it failed (or always with VERBOSE=1),
# passes SKIPPED lines through so that a skipped test is never silent, and
# ends with the total in the same form.  A program that dies without its
# summary line, or exits non-zero with no failure counted, counts as one
# failure.  Exit status 1 when anything failed.
set -u

total_pass=0
total_fail=0
out=$(mktemp "${TMPDIR:-/tmp}/ferry-suite.XXXXXX")
trap 'rm -f "$out"' EXIT INT TERM

for prog in "$@"; do
	name=$(basename "$prog")
	start=$(date +%s)
	"$prog" >"$out" 2>&1 </dev/null
	rc=$?
	secs=$(( $(date +%s) - start ))
	last=$(tail -n 1 "$out")
	pass=$(printf '%s\n' "$last" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*$/\1/p')
	fail=$(printf '%s\n' "$last" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*$/\2/p')
	if [ -z "$pass" ] || [ -z "$fail" ]; then
		pass=0
		fail=1
		last="no summary line (exit status $rc)"
	elif [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
		fail=1
		last="$last, but exit status $rc"
	fi
	if [ "$fail" -ne 0 ] || [ "${VERBOSE:-0}" = 1 ]; then
		sed 's/^/    /' "$out"
	else
		grep '^SKIPPED' "$out" | sed "s/^/    $name: /"
	fi
	printf '  %-28s %s (%ss)\n' "$name" "$last" "$secs"
	total_pass=$((total_pass + pass))
	total_fail=$((total_fail + fail))
done

echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
