#!/bin/sh
# SPDX-License-Identifier: ISC
#
# test_harness.sh - the private Dovecot is what the other tests assume:
# it answers on both ports, its certificate chains to the throwaway CA and
# names "localhost" only, users log in, and the extensions ferry relies on
# are announced.  Checked with openssl s_client, independently of ferry's
# own client.
. "$(dirname "$0")/lib.sh"

# imap PORT MODE: send stdin's lines to the server, print its answers.
imap() {
	port=$1
	shift
	{ cat; sleep 0.5; } | timeout 10 openssl s_client -quiet \
	    -connect "127.0.0.1:$port" -CAfile "$FERRY_CA" \
	    -verify_return_error -verify_hostname localhost "$@" 2>&1
}

login_script() {
	printf 'a1 LOGIN alice %s\r\na2 CAPABILITY\r\na3 LOGOUT\r\n' \
	    "$FERRY_PASS_alice"
}

test_implicit_tls_login() {
	t_need_dovecot
	out=$(login_script | imap "$FERRY_IMAPS_PORT")
	t_contains "$out" "a1 OK" "login over implicit TLS"
	for cap in IDLE CONDSTORE QRESYNC UIDPLUS MOVE LITERAL+ SPECIAL-USE \
	    LIST-STATUS NOTIFY MULTIAPPEND COMPRESS=DEFLATE; do
		t_contains "$out" " $cap" "capabilities"
	done
}

test_starttls_login() {
	t_need_dovecot
	out=$(login_script | imap "$FERRY_IMAP_PORT" -starttls imap)
	t_contains "$out" "a1 OK" "login after STARTTLS"
}

test_unknown_ca_refused() {
	t_need_dovecot
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -keyout other.key -out other.pem -days 1 \
	    -subj "/CN=other" >/dev/null 2>&1
	out=$(printf 'a LOGOUT\r\n' | timeout 10 openssl s_client -quiet \
	    -connect "127.0.0.1:$FERRY_IMAPS_PORT" -CAfile other.pem \
	    -verify_return_error 2>&1) && t_fail "handshake succeeded"
	t_contains "$out" "verify error"
}

test_wrong_name_refused() {
	t_need_dovecot
	out=$(printf 'a LOGOUT\r\n' | timeout 10 openssl s_client -quiet \
	    -connect "127.0.0.1:$FERRY_IMAPS_PORT" -CAfile "$FERRY_CA" \
	    -verify_return_error -verify_hostname 127.0.0.1 2>&1) &&
	    t_fail "handshake succeeded"
	t_contains "$out" "verify error"
}

test_wrong_password_refused() {
	t_need_dovecot
	out=$(printf 'a1 LOGIN alice wrong\r\na2 LOGOUT\r\n' |
	    imap "$FERRY_IMAPS_PORT")
	t_contains "$out" "a1 NO"
}

t_run
