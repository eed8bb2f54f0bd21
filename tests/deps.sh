#!/bin/sh
# SPDX-License-Identifier: ISC
#
# deps.sh - install the Debian packages that building, testing and the demo
# need, when they are missing.  Uses sudo when not run as root.  Does
# nothing (and needs no network) when everything is already there.
set -eu

PKGS="build-essential pkg-config libssl-dev libsqlite3-dev libyaml-dev
zlib1g-dev openssl dovecot-core dovecot-imapd clang sqlite3
libkrb5-dev krb5-kdc krb5-admin-server krb5-user dovecot-gssapi
cyrus-common sasl2-bin libsasl2-modules-otp libcurl4-openssl-dev"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
	echo "deps.sh: missing packages:$missing" >&2
	echo "deps.sh: no apt-get here; install them with your package manager" >&2
	exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
fi
echo "deps.sh: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# The dovecot packages try to start the system service; ferry's tests run
# their own private instance and never need it.
if [ ! -e /usr/sbin/policy-rc.d ] && [ "$(id -u)" -eq 0 ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
