# SPDX-License-Identifier: ISC
#
# lib.sh - helpers for integration tests written in sh.
#
# A test script sources this file, defines functions named test_*, and ends
# with `t_run`.  Each test function runs in a subshell with `set -e`-like
# discipline through the assertions below; the first failing assertion
# prints "file: test: message" and fails that test.  t_run prints the
# runner's usual last line "N passed, N failed" and exits 1 on failure.
# Tests that need the private Dovecot call t_need_dovecot, which skips
# loudly when it is not running.

T_NAME=$(basename "$0")
T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ferry-integ.XXXXXX")
trap 'rm -rf "$T_TMP"' EXIT

t_fail() {
	echo "$T_NAME: $T_CUR: $*"
	exit 1
}

t_skip() {
	echo "SKIPPED: $T_CUR: $*"
	exit 77
}

t_need_dovecot() {
	[ -n "${FERRY_IMAPS_PORT:-}" ] && [ -n "${FERRY_CA:-}" ] ||
	    t_skip "no Dovecot: run under tests/dovecot.sh"
}

# t_eq GOT WANT [what]
t_eq() {
	[ "$1" = "$2" ] || t_fail "${3:-value}: got '$1', want '$2'"
}

# t_contains HAYSTACK NEEDLE [what]
t_contains() {
	case $1 in
	*"$2"*) ;;
	*) t_fail "${3:-output} does not contain '$2': $1" ;;
	esac
}

# t_lacks HAYSTACK NEEDLE [what]
t_lacks() {
	case $1 in
	*"$2"*) t_fail "${3:-output} contains '$2'" ;;
	*) ;;
	esac
}

t_run() {
	pass=0
	fail=0
	for t in $(grep -o '^test_[A-Za-z0-9_]*' "$0"); do
		T_CUR=$t
		mkdir -p "$T_TMP/$t"
		( cd "$T_TMP/$t" && "$t" )
		rc=$?
		if [ "$rc" -eq 0 ]; then
			pass=$((pass + 1))
		elif [ "$rc" -ne 77 ]; then
			echo "FAIL: $t"
			fail=$((fail + 1))
		fi
	done
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}
