#!/bin/sh
# SPDX-License-Identifier: ISC
#
# cyrus.sh - a private Cyrus IMAP for ferry's OTP test (Dovecot has no
# OTP mechanism; Cyrus gets it from Cyrus SASL's libotp).
#
#   cyrus.sh start DIR PHRASE   start one in DIR (created) on a free port
#                               of 127.0.0.1, plain IMAP only, with user
#                               alice whose OTP secret (and password) is
#                               made from PHRASE; write DIR/env
#   cyrus.sh stop DIR           stop it, by its own pid
#
# saslpasswd2 stores alice in a private sasldb; Cyrus SASL's OTP plugin
# turns the pass phrase into an RFC 2289 secret (MD5, a random seed,
# sequence 499) that the server counts down on every login.  DIR/env sets
# FERRY_CYRUS_PORT.  Exits 3 with the reason when Cyrus, saslpasswd2 or
# the OTP plugin is missing, so that a test can skip loudly.  Nothing
# outside DIR is touched; under root the server runs as user cyrus.
#
# On Debian cyrus-imapd (which holds imapd) conflicts with dovecot-imapd,
# which the other tests need; so imapd may also come from CYRUS_IMAPD, for
# instance one unpacked with "apt-get download cyrus-imapd" and
# "dpkg-deb -x".  cyrus-common (the master process), sasl2-bin and
# libsasl2-modules-otp install beside Dovecot.
set -eu

die() {
	echo "cyrus.sh: $*" >&2
	exit 1
}

missing() {
	echo "cyrus.sh: $*" >&2
	exit 3
}

. "$(dirname "$0")/ports.sh"

# Debian's imapd, unpacked beside the tree without installing the
# package (which would remove dovecot-imapd): apt-get download, dpkg -x.
unpacked_imapd() {
	cache=$(cd "$(dirname "$0")/.." && pwd)/build-cache/cyrus-imapd
	bin=$cache/root/usr/lib/cyrus/bin/imapd
	if [ ! -x "$bin" ] && command -v apt-get >/dev/null 2>&1; then
		mkdir -p "$cache"
		(cd "$cache" && apt-get download -q cyrus-imapd >/dev/null 2>&1 &&
		    dpkg-deb -x cyrus-imapd_*.deb root) || true
	fi
	echo "$bin"
}

start() {
	dir=$1 phrase=$2
	master=/usr/lib/cyrus/bin/master
	imapd=${CYRUS_IMAPD:-/usr/lib/cyrus/bin/imapd}
	[ -x "$imapd" ] || [ -n "${CYRUS_IMAPD:-}" ] || imapd=$(unpacked_imapd)
	[ -x "$master" ] || missing "no $master (Debian: cyrus-common)"
	[ -x "$imapd" ] || missing "no Cyrus imapd at $imapd (Debian's \
cyrus-imapd conflicts with dovecot-imapd; set CYRUS_IMAPD to an unpacked one)"
	command -v saslpasswd2 >/dev/null 2>&1 ||
	    missing "no saslpasswd2 (Debian: sasl2-bin)"
	ls /usr/lib/*/sasl2/libotp.so* >/dev/null 2>&1 ||
	    missing "no Cyrus SASL OTP plugin (Debian: libsasl2-modules-otp)"
	mkdir -p "$dir/conf" "$dir/part" "$dir/run"
	dir=$(cd "$dir" && pwd)
	chmod 755 "$dir"
	port=$(pick_port)
	cat >"$dir/imapd.conf" <<CONF
configdirectory: $dir/conf
defaultpartition: default
partition-default: $dir/part
servername: localhost
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: $dir/sasldb2
sasl_mech_list: OTP PLAIN
allowplaintext: yes
idlesocket: $dir/run/idle
lmtpsocket: $dir/run/lmtp
notifysocket: $dir/run/notify
syslog_prefix: ferry-test
CONF
	cat >"$dir/cyrus.conf" <<CONF
START {
  recover cmd="ctl_cyrusdb -C $dir/imapd.conf -r"
}
SERVICES {
  imap cmd="$imapd -C $dir/imapd.conf" listen="127.0.0.1:$port" prefork=0
}
EVENTS {
}
DAEMON {
}
CONF
	printf '%s\n' "$phrase" |
	    saslpasswd2 -c -p -f "$dir/sasldb2" -u localhost -a ferry alice ||
	    die "saslpasswd2 failed"
	run="$master -C $dir/imapd.conf -M $dir/cyrus.conf -p $dir/run/master.pid -d"
	if [ "$(id -u)" -eq 0 ]; then
		id cyrus >/dev/null 2>&1 || missing "no user cyrus"
		chown -R cyrus "$dir"
		su -s /bin/sh cyrus -c "$run" || die "cyrus master did not start"
	else
		$run || die "cyrus master did not start"
	fi
	n=0
	while ! port_busy "$port"; do
		n=$((n + 1))
		[ "$n" -lt 500 ] || die "cyrus did not open port $port"
		sleep 0.01
	done
	{
		echo "FERRY_CYRUS_PORT=$port"
		echo "export FERRY_CYRUS_PORT"
	} >"$dir/env"
}

stop() {
	dir=$1
	pidfile="$dir/run/master.pid"
	[ -f "$pidfile" ] || return 0
	pid=$(cat "$pidfile")
	kill "$pid" 2>/dev/null || return 0
	n=0
	while kill -0 "$pid" 2>/dev/null && [ "$n" -lt 300 ]; do
		n=$((n + 1))
		sleep 0.01
	done
	rm -f "$pidfile"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
start) [ $# -eq 2 ] || die "usage: cyrus.sh start DIR PHRASE"; start "$1" "$2" ;;
stop) [ $# -eq 1 ] || die "usage: cyrus.sh stop DIR"; stop "$1" ;;
*) die "usage: cyrus.sh start DIR PHRASE | stop DIR" ;;
esac
