#!/bin/sh
# SPDX-License-Identifier: ISC
#
# deps.sh - what the benchmark needs beyond "make check": isync (mbsync),
# GNU time (peak RSS), and, when the archive has it, interimap for the
# IMAP -> IMAP comparison.  Installs only what is missing; no network when
# nothing is.
set -eu
tests/deps.sh
missing=""
for p in isync time eatmydata; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q 'install ok installed' || missing="$missing $p"
done
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
if [ -n "$missing" ]; then
	echo "bench deps: installing:$missing"
	$SUDO apt-get update -qq
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
	    --no-install-recommends $missing
fi
if ! command -v interimap >/dev/null 2>&1; then
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
	    --no-install-recommends interimap >/dev/null 2>&1 ||
	    echo "bench deps: interimap not installable: IMAP -> IMAP is ferry only"
fi
exit 0
