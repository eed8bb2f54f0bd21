#!/bin/sh
# SPDX-License-Identifier: ISC
#
# krb5.sh - a throwaway MIT Kerberos realm for ferry's GSSAPI test.
#
#   krb5.sh start DIR    make realm FERRY.TEST in DIR (created): a KDC on
#                        a free port of 127.0.0.1, principals alice and
#                        imap/localhost, DIR/imap.keytab for the server,
#                        a ticket for alice in DIR/ccache; write DIR/env
#   krb5.sh stop DIR     stop the KDC of DIR, by its own pid
#
# DIR/env sets KRB5_CONFIG, KRB5_KDC_PROFILE and KRB5CCNAME (all inside
# DIR) and FERRY_KRB5_KEYTAB; nothing outside DIR is read or written, so
# the system's Kerberos configuration, if any, is never touched.  Exits 3
# with the reason on standard error when the tools are missing, so that
# a test can skip loudly.
set -eu

REALM=FERRY.TEST

die() {
	echo "krb5.sh: $*" >&2
	exit 1
}

missing() {
	echo "krb5.sh: $*" >&2
	exit 3
}

find_tool() {
	for d in /usr/sbin /usr/bin /usr/local/sbin /usr/local/bin; do
		if [ -x "$d/$1" ]; then
			echo "$d/$1"
			return
		fi
	done
	command -v "$1" 2>/dev/null ||
	    missing "$1 not found (Debian: krb5-kdc krb5-admin-server krb5-user)"
}

. "$(dirname "$0")/ports.sh"

start() {
	dir=$1
	kdc=$(find_tool krb5kdc)
	kdb5_util=$(find_tool kdb5_util)
	kadmin=$(find_tool kadmin.local)
	kinit=$(find_tool kinit)
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	chmod 755 "$dir"
	port=$(pick_port)
	cat >"$dir/krb5.conf" <<CONF
[libdefaults]
	default_realm = $REALM
	dns_lookup_kdc = false
	dns_lookup_realm = false
	rdns = false
	dns_canonicalize_hostname = false
	udp_preference_limit = 1
[realms]
	$REALM = {
		kdc = 127.0.0.1:$port
	}
[domain_realm]
	localhost = $REALM
CONF
	cat >"$dir/kdc.conf" <<CONF
[kdcdefaults]
	kdc_listen = 127.0.0.1:$port
	kdc_tcp_listen = 127.0.0.1:$port
[realms]
	$REALM = {
		database_name = $dir/principal
		key_stash_file = $dir/stash
		acl_file = $dir/kadm5.acl
		max_life = 1h
	}
[logging]
	kdc = FILE:$dir/kdc.log
CONF
	: >"$dir/kadm5.acl"
	KRB5_CONFIG=$dir/krb5.conf KRB5_KDC_PROFILE=$dir/kdc.conf
	KRB5CCNAME=FILE:$dir/ccache
	export KRB5_CONFIG KRB5_KDC_PROFILE KRB5CCNAME
	"$kdb5_util" -r "$REALM" create -s -P "master-$$-$port" \
	    >"$dir/setup.log" 2>&1 || { cat "$dir/setup.log" >&2; die "kdb5_util failed"; }
	for q in "addprinc -randkey alice" "addprinc -randkey imap/localhost" \
	    "ktadd -k $dir/imap.keytab imap/localhost" \
	    "ktadd -k $dir/alice.keytab alice"; do
		"$kadmin" -r "$REALM" -q "$q" >>"$dir/setup.log" 2>&1 ||
		    { cat "$dir/setup.log" >&2; die "kadmin.local: $q failed"; }
	done
	# Dovecot's auth process runs unprivileged and must read its keytab.
	chmod 644 "$dir/imap.keytab"
	"$kdc" -P "$dir/kdc.pid" -r "$REALM" >>"$dir/setup.log" 2>&1 ||
	    { cat "$dir/setup.log" >&2; die "krb5kdc did not start"; }
	n=0
	while ! port_busy "$port"; do
		n=$((n + 1))
		[ "$n" -lt 300 ] || die "the KDC did not open port $port"
		sleep 0.01
	done
	"$kinit" -k -t "$dir/alice.keytab" alice >>"$dir/setup.log" 2>&1 ||
	    { cat "$dir/setup.log" >&2; die "kinit failed"; }
	{
		echo "KRB5_CONFIG='$dir/krb5.conf'"
		echo "KRB5_KDC_PROFILE='$dir/kdc.conf'"
		echo "KRB5CCNAME='FILE:$dir/ccache'"
		echo "FERRY_KRB5_KEYTAB='$dir/imap.keytab'"
		echo "export KRB5_CONFIG KRB5_KDC_PROFILE KRB5CCNAME FERRY_KRB5_KEYTAB"
	} >"$dir/env"
}

stop() {
	dir=$1
	[ -f "$dir/kdc.pid" ] || return 0
	pid=$(cat "$dir/kdc.pid")
	kill "$pid" 2>/dev/null || true
	rm -f "$dir/kdc.pid"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
start) [ $# -eq 1 ] || die "usage: krb5.sh start DIR"; start "$1" ;;
stop) [ $# -eq 1 ] || die "usage: krb5.sh stop DIR"; stop "$1" ;;
*) die "usage: krb5.sh start DIR | stop DIR" ;;
esac
