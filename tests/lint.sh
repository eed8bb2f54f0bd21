#!/bin/sh
# SPDX-License-Identifier: ISC
#
# lint.sh layers FILE...  - dependencies point down only:
#                           cmd -> sync -> store -> imap -> util
# lint.sh banned FILE...  - no calls that are easy to misuse
#
# Includes between our directories are written "dir/file.h"; a bare
# "file.h" must name a header in the including file's own directory.
set -u
mode=$1
shift
bad=0

allowed() {
	case $1 in
	util) echo "util" ;;
	imap) echo "imap util" ;;
	store) echo "store imap util" ;;
	sync) echo "sync store util" ;;
	cmd) echo "cmd sync store imap util" ;;
	tests) echo "tests cmd sync store imap util" ;;
	*) echo "" ;;
	esac
}

layers() {
	for f in "$@"; do
		dir=${f%%/*}
		ok=$(allowed "$dir")
		[ -n "$ok" ] || continue
		grep -n '^#[[:space:]]*include[[:space:]]*"' "$f" | while IFS= read -r line; do
			inc=$(printf '%s\n' "$line" | sed 's/.*"\(.*\)".*/\1/')
			case $inc in
			*/*)
				top=${inc%%/*}
				case " $ok " in
				*" $top "*) ;;
				*) echo "$f: ${line%%:*}: $dir/ may not include $inc"
				   echo x >>"$tmp" ;;
				esac ;;
			*)
				if [ ! -f "$(dirname "$f")/$inc" ] &&
				    { [ "$dir" != tests ] || [ ! -f "tests/$inc" ]; }; then
					echo "$f: ${line%%:*}: \"$inc\" is not in $(dirname "$f")/"
					echo x >>"$tmp"
				fi ;;
			esac
		done
	done
}

banned() {
	if grep -n -E '\b(strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|gets|tmpnam|mktemp)[[:space:]]*\(' "$@"; then
		echo "banned call: use the bounded or checked alternative"
		echo x >>"$tmp"
	fi
}

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
case $mode in
layers) layers "$@" ;;
banned) banned "$@" ;;
*) echo "usage: lint.sh layers|banned FILE..." >&2; exit 2 ;;
esac
[ -s "$tmp" ] && bad=1
exit $bad
