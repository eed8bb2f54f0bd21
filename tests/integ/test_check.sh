#!/bin/sh
# SPDX-License-Identifier: ISC
#
# test_check.sh - "ferry check" against the private Dovecot, as a user
# runs it: what it prints, its exit status for each kind of failure, and
# that a -vv trace never shows the password.
. "$(dirname "$0")/lib.sh"

FERRY=${FERRY:-ferry}

# config NAME TLS PORT [extra yaml lines...]
config() {
	name=$1 tls=$2 port=$3
	shift 3
	{
		echo "stores:"
		echo "  $name:"
		echo "    type: imap"
		echo "    host: ${HOST:-localhost}"
		echo "    port: $port"
		echo "    tls: $tls"
		[ "$tls" = none ] || echo "    ca_file: $FERRY_CA"
		echo "    user: alice"
		for l in "$@"; do
			echo "    $l"
		done
	} >config.yaml
}

test_check_implicit_tls() {
	t_need_dovecot
	config work implicit "$FERRY_IMAPS_PORT" \
	    "password_env: FERRY_PASS_alice"
	out=$("$FERRY" -c config.yaml check work 2>&1) ||
	    t_fail "exit status $?: $out"
	t_contains "$out" "tls: TLSv1."
	t_contains "$out" "certificate: CN=localhost"
	t_contains "$out" "login: ok as alice"
	t_contains "$out" "CONDSTORE" "capabilities after login"
	t_contains "$out" "INBOX"
	t_contains "$out" "\\Sent"
}

test_check_starttls() {
	t_need_dovecot
	config work starttls "$FERRY_IMAP_PORT" \
	    "password_env: FERRY_PASS_alice"
	out=$("$FERRY" -c config.yaml check work 2>&1) ||
	    t_fail "exit status $?: $out"
	t_contains "$out" "tls: TLSv1."
	t_contains "$out" "login: ok as alice"
}

test_trace_has_no_secret() {
	t_need_dovecot
	printf '%s\n' "$FERRY_PASS_alice" >pw
	chmod 600 pw
	config work implicit "$FERRY_IMAPS_PORT" "password_file: pw"
	out=$("$FERRY" -vv -c config.yaml check work 2>&1) ||
	    t_fail "exit status $?: $out"
	t_contains "$out" "<redacted>" "trace"
	t_lacks "$out" "$FERRY_PASS_alice" "trace"
	# The SASL PLAIN payload would be base64 of \0alice\0password.
	b64=$(printf '\000alice\000%s' "$FERRY_PASS_alice" | base64)
	t_lacks "$out" "$b64" "trace"
	# Same through LOGIN (no SASL-IR path): plaintext allowed on loopback.
	config work none "$FERRY_IMAP_PORT" "password_file: pw" \
	    "allow_plaintext: true"
	out=$("$FERRY" -vv -c config.yaml check work 2>&1) ||
	    t_fail "exit status $?: $out"
	t_lacks "$out" "$FERRY_PASS_alice" "trace"
}

test_wrong_password_exit_5() {
	t_need_dovecot
	config work implicit "$FERRY_IMAPS_PORT" "password: wrong-one"
	out=$("$FERRY" -c config.yaml check work 2>&1)
	t_eq "$?" 5 "exit status"
	t_contains "$out" "login"
	t_lacks "$out" "wrong-one"
}

test_unknown_ca_exit_4() {
	t_need_dovecot
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -keyout other.key -out other.pem -days 1 \
	    -subj "/CN=other" >/dev/null 2>&1
	config work implicit "$FERRY_IMAPS_PORT" \
	    "password_env: FERRY_PASS_alice"
	sed -i "s|ca_file: .*|ca_file: other.pem|" config.yaml
	out=$("$FERRY" -c config.yaml check work 2>&1)
	t_eq "$?" 4 "exit status"
	t_contains "$out" "certificate"
}

test_wrong_host_name_exit_4() {
	t_need_dovecot
	HOST=127.0.0.1 config work implicit "$FERRY_IMAPS_PORT" \
	    "password_env: FERRY_PASS_alice"
	out=$("$FERRY" -c config.yaml check work 2>&1)
	t_eq "$?" 4 "exit status"
}

test_plaintext_refused_exit_2() {
	t_need_dovecot
	config work none "$FERRY_IMAP_PORT" "password_env: FERRY_PASS_alice"
	out=$("$FERRY" -c config.yaml check work 2>&1)
	t_eq "$?" 2 "exit status"
	t_contains "$out" "unencrypted"
}

test_connection_refused_exit_3() {
	# A loopback port nobody listens on: bind one, close it, use it.
	t_need_dovecot
	config work implicit 1 "password_env: FERRY_PASS_alice"
	out=$("$FERRY" -c config.yaml check work 2>&1)
	t_eq "$?" 3 "exit status"
}

test_config_errors() {
	out=$("$FERRY" -c does-not-exist.yaml check work 2>&1)
	t_eq "$?" 2 "exit status for a missing file"
	printf 'stores:\n  work:\n    type: imap\n    hots: x\n' >bad.yaml
	out=$("$FERRY" -c bad.yaml check work 2>&1)
	t_eq "$?" 2 "exit status for a bad key"
	t_contains "$out" "bad.yaml:4"
	printf 'stores:\n  a:\n    type: maildir\n    path: x\n' >ok.yaml
	out=$("$FERRY" -c ok.yaml check nosuch 2>&1)
	t_eq "$?" 2 "exit status for an unknown store"
	t_contains "$out" "nosuch"
	out=$("$FERRY" -c ok.yaml check 2>&1)
	t_eq "$?" 64 "exit status for a missing argument"
	out=$("$FERRY" frobnicate 2>&1)
	t_eq "$?" 64 "exit status for an unknown command"
}

t_run
