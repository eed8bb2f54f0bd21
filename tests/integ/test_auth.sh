#!/bin/sh
# SPDX-License-Identifier: ISC
#
# test_auth.sh - every SASL mechanism ferry offers, against real servers on
# loopback: a private Dovecot started here with CRAM-MD5, SCRAM-SHA-1,
# SCRAM-SHA-256, LOGIN and PLAIN (tests/dovecot.sh start with
# DOVECOT_AUTH_MECHS).  For each mechanism, "ferry -vv check" with
# "auth: [mech]" logs in with the right password, fails with exit status
# 5 with a wrong one, and its trace holds neither password in any form.
. "$(dirname "$0")/lib.sh"

FERRY=${FERRY:-ferry}
TESTS=$(cd "$(dirname "$0")/.." && pwd)
# Not under T_TMP: Dovecot's unprivileged processes must reach its files.
AUTH_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ferry-auth.XXXXXX")
AUTH_PASS=alice-secret
BAD_PASS=not-alices-Pa55
export AUTH_PASS BAD_PASS

OAUTH_SERVER=${FERRY_OAUTH_SERVER:-$(dirname "$FERRY")/tests/oauth_server}
OAUTH_TTL=3

cleanup() {
	"$TESTS/dovecot.sh" stop "$AUTH_DIR/pw" 2>/dev/null
	"$TESTS/dovecot.sh" stop "$AUTH_DIR/oauth" 2>/dev/null
	"$TESTS/dovecot.sh" stop "$AUTH_DIR/gss" 2>/dev/null
	"$TESTS/krb5.sh" stop "$AUTH_DIR/krb5" 2>/dev/null
	"$TESTS/cyrus.sh" stop "$AUTH_DIR/cyrus" 2>/dev/null
	[ -f "$AUTH_DIR/pid" ] && kill "$(cat "$AUTH_DIR/pid")" 2>/dev/null
	rm -rf "$T_TMP" "$AUTH_DIR"
}
trap cleanup EXIT
chmod 755 "$AUTH_DIR"
# No anvil auth penalty (seconds of delay) after the failures tested here.
cat >"$AUTH_DIR/common.conf" <<CONF
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
CONF

AUTH_UP=no
if DOVECOT_AUTH_MECHS="cram-md5 scram-sha-1 scram-sha-256 login plain" \
    DOVECOT_EXTRA_CONF="$AUTH_DIR/common.conf" \
    "$TESTS/dovecot.sh" start "$AUTH_DIR/pw" >"$T_TMP/start.log" 2>&1; then
	AUTH_UP=yes
	. "$AUTH_DIR/pw/env"
fi

# A second Dovecot whose oauth2 passdb asks oauth_server about tokens.
OAUTH_UP=no
OAUTH_WHY="$OAUTH_SERVER is not built (make tests-build)"
if [ -x "$OAUTH_SERVER" ]; then
	"$OAUTH_SERVER" serve "$AUTH_DIR" "$OAUTH_TTL" &
	n=0
	while [ ! -s "$AUTH_DIR/port" ] && [ "$n" -lt 200 ]; do
		sleep 0.01
		n=$((n + 1))
	done
	{
		echo "tokeninfo_url = http://127.0.0.1:$(cat "$AUTH_DIR/port")/tokeninfo?access_token="
		echo "username_attribute = email"
	} >"$AUTH_DIR/oauth2.conf.ext"
	{
		cat "$AUTH_DIR/common.conf"
		echo "passdb {"
		echo "  driver = oauth2"
		echo "  mechanisms = xoauth2 oauthbearer"
		echo "  args = $AUTH_DIR/oauth2.conf.ext"
		echo "}"
	} >"$AUTH_DIR/oauth.conf"
	OAUTH_WHY="could not start a Dovecot with an oauth2 passdb"
	if DOVECOT_AUTH_MECHS="xoauth2 oauthbearer plain" \
	    DOVECOT_EXTRA_CONF="$AUTH_DIR/oauth.conf" \
	    "$TESTS/dovecot.sh" start "$AUTH_DIR/oauth" \
	    >"$T_TMP/start-oauth.log" 2>&1; then
		OAUTH_UP=yes
		OAUTH_PORT=$(. "$AUTH_DIR/oauth/env" && echo "$FERRY_IMAPS_PORT")
		OAUTH_CA=$AUTH_DIR/oauth/ca.pem
	fi
fi

need_auth_dovecot() {
	[ "$AUTH_UP" = yes ] ||
	    t_skip "could not start a Dovecot: $(cat "$T_TMP/start.log")"
}

# config TLS PORT MECHS PASSWORD_VAR [extra yaml lines...]
config() {
	tls=$1 port=$2 mechs=$3 pwvar=$4
	shift 4
	{
		echo "stores:"
		echo "  work:"
		echo "    type: imap"
		echo "    host: localhost"
		echo "    port: $port"
		echo "    tls: $tls"
		[ "$tls" = none ] || echo "    ca_file: $FERRY_CA"
		echo "    user: alice"
		echo "    password_env: $pwvar"
		echo "    auth: [$mechs]"
		for l in "$@"; do
			echo "    $l"
		done
	} >config.yaml
}

# The forms a password can take on the wire: itself, and base64 of it
# alone, of the PLAIN payload, and of LOGIN's.
no_secret() {
	out=$1 pw=$2
	t_lacks "$out" "$pw" "trace"
	for form in "$pw" "$(printf '\000alice\000%s' "$pw")"; do
		t_lacks "$out" "$(printf '%s' "$form" | base64)" "trace"
	done
}

# mech_ok MECH [TLS PORT]: right password, then wrong password.
mech_ok() {
	need_auth_dovecot
	mech=$1 tls=${2:-implicit} port=${3:-$FERRY_IMAPS_PORT}
	config "$tls" "$port" "$mech" AUTH_PASS
	out=$("$FERRY" -vv -c config.yaml check work 2>&1) ||
	    t_fail "$mech: exit status $?: $out"
	t_contains "$out" "login: ok as alice"
	t_contains "$out" "AUTHENTICATE $(echo "$mech" | tr "[:lower:]" "[:upper:]")" "trace"
	no_secret "$out" "$AUTH_PASS"
	config "$tls" "$port" "$mech" BAD_PASS
	out=$("$FERRY" -vv -c config.yaml check work 2>&1)
	t_eq "$?" 5 "$mech: exit status with a wrong password"
	t_contains "$out" "$(echo "$mech" | tr "[:lower:]" "[:upper:]")" "error"
	no_secret "$out" "$BAD_PASS"
}

test_plain() {
	mech_ok plain
}

test_login() {
	mech_ok login
}

test_cram_md5() {
	mech_ok cram-md5
}

test_scram_sha_1() {
	mech_ok scram-sha-1
}

test_scram_sha_256() {
	mech_ok scram-sha-256
}

# Mechanisms that keep the password secret work without TLS.
# ferry sync logs in the same way as ferry check, on every connection.
test_sync_uses_the_configured_mechanism() {
	need_auth_dovecot
	config implicit "$FERRY_IMAPS_PORT" scram-sha-256 AUTH_PASS
	{
		echo "  local:"
		echo "    type: maildir"
		echo "    path: $PWD/Mail"
		echo "channels:"
		echo "  ch:"
		echo "    far: work"
		echo "    near: local"
		echo "    mode: pull"
		echo "    state: $PWD/state.db"
	} >>config.yaml
	out=$("$FERRY" -vv -c config.yaml sync 2>&1) ||
	    t_fail "exit status $?: $out"
	t_contains "$out" "AUTHENTICATE SCRAM-SHA-256" "trace"
	t_lacks "$out" "AUTHENTICATE PLAIN" "trace"
	no_secret "$out" "$AUTH_PASS"
	[ -d Mail/cur ] || t_fail "no local INBOX"
}

test_scram_without_tls() {
	mech_ok scram-sha-256 none "$FERRY_IMAP_PORT"
}

test_cram_md5_without_tls() {
	mech_ok cram-md5 none "$FERRY_IMAP_PORT"
}

# PLAIN and LOGIN never go over an unencrypted link unless allowed.
test_plain_refused_without_tls() {
	need_auth_dovecot
	config none "$FERRY_IMAP_PORT" "plain, login" AUTH_PASS
	out=$("$FERRY" -vv -c config.yaml check work 2>&1)
	t_eq "$?" 2 "exit status"
	t_contains "$out" "unencrypted"
	t_lacks "$out" "AUTHENTICATE" "trace"
	config none "$FERRY_IMAP_PORT" plain AUTH_PASS "allow_plaintext: true"
	out=$("$FERRY" -vv -c config.yaml check work 2>&1) ||
	    t_fail "allow_plaintext: exit status $?: $out"
	no_secret "$out" "$AUTH_PASS"
}

# Without auth:, the strongest mechanism the server offers.
test_default_is_strongest() {
	need_auth_dovecot
	config implicit "$FERRY_IMAPS_PORT" "plain" AUTH_PASS
	sed -i '/auth:/d' config.yaml
	out=$("$FERRY" -vv -c config.yaml check work 2>&1) ||
	    t_fail "exit status $?: $out"
	t_contains "$out" "AUTHENTICATE SCRAM-SHA-256" "trace"
}

# The first mechanism of the list that the server offers.
test_preference_order() {
	need_auth_dovecot
	config implicit "$FERRY_IMAPS_PORT" "oauthbearer, cram-md5, plain" \
	    AUTH_PASS "oauth_token_command: echo unused"
	out=$("$FERRY" -vv -c config.yaml check work 2>&1) ||
	    t_fail "exit status $?: $out"
	t_contains "$out" "AUTHENTICATE CRAM-MD5" "trace"
}

test_mechanism_not_offered() {
	need_auth_dovecot
	config implicit "$FERRY_IMAPS_PORT" "xoauth2" AUTH_PASS \
	    "oauth_token_command: echo unused"
	out=$("$FERRY" -c config.yaml check work 2>&1)
	t_eq "$?" 5 "exit status"
	t_contains "$out" "XOAUTH2: not offered"
}

# A Kerberos realm (tests/krb5.sh) and a third Dovecot that accepts
# GSSAPI with its keytab.  Started on first use.
GSS_STATE=$AUTH_DIR/gss.state

gss_start() {
	"$TESTS/krb5.sh" start "$AUTH_DIR/krb5" >"$AUTH_DIR/krb5.log" 2>&1 || {
		echo "the Kerberos realm did not start: $(tail -3 "$AUTH_DIR/krb5.log")"
		return 1
	}
	. "$AUTH_DIR/krb5/env"
	cat "$AUTH_DIR/common.conf" - >"$AUTH_DIR/gss.conf" <<CONF
auth_gssapi_hostname = localhost
auth_krb5_keytab = $FERRY_KRB5_KEYTAB
import_environment = \$import_environment KRB5_CONFIG=$KRB5_CONFIG
CONF
	DOVECOT_AUTH_MECHS="gssapi plain" \
	    DOVECOT_EXTRA_CONF="$AUTH_DIR/gss.conf" \
	    "$TESTS/dovecot.sh" start "$AUTH_DIR/gss" >"$AUTH_DIR/gss.log" 2>&1 || {
		echo "no Dovecot with GSSAPI: $(tail -3 "$AUTH_DIR/gss.log")"
		return 1
	}
}

# Skip loudly, with the reason, when the realm cannot run here.
need_gssapi() {
	if [ ! -f "$GSS_STATE" ]; then
		if why=$(gss_start); then
			echo ok >"$GSS_STATE"
		else
			echo "$why" >"$GSS_STATE"
		fi
	fi
	[ "$(cat "$GSS_STATE")" = ok ] || t_skip "GSSAPI: $(cat "$GSS_STATE")"
	. "$AUTH_DIR/krb5/env"
	GSS_PORT=$(. "$AUTH_DIR/gss/env" && echo "$FERRY_IMAPS_PORT")
}

gss_config() {
	{
		echo "stores:"
		echo "  work:"
		echo "    type: imap"
		echo "    host: localhost"
		echo "    port: $GSS_PORT"
		echo "    ca_file: $AUTH_DIR/gss/ca.pem"
		echo "    user: alice"
		echo "    auth: [gssapi]"
	} >config.yaml
}

test_gssapi() {
	need_gssapi
	gss_config
	out=$("$FERRY" -vv -c config.yaml check work 2>&1) ||
	    t_fail "exit status $?: $out"
	t_contains "$out" "AUTHENTICATE GSSAPI" "trace"
	t_contains "$out" "login: ok as alice"
}

test_gssapi_without_ticket() {
	need_gssapi
	gss_config
	out=$(KRB5CCNAME=FILE:$PWD/no-such-ccache "$FERRY" -c config.yaml \
	    check work 2>&1)
	t_eq "$?" 5 "exit status"
	t_contains "$out" "GSSAPI"
}

# OTP: a private Cyrus IMAP (tests/cyrus.sh), started on first use.
OTP_PHRASE="This is a test."
OTP_STATE=$AUTH_DIR/otp.state

need_otp() {
	if [ ! -f "$OTP_STATE" ]; then
		if "$TESTS/cyrus.sh" start "$AUTH_DIR/cyrus" "$OTP_PHRASE" \
		    >"$AUTH_DIR/cyrus.log" 2>&1; then
			echo ok >"$OTP_STATE"
		else
			tail -3 "$AUTH_DIR/cyrus.log" >"$OTP_STATE"
		fi
	fi
	[ "$(cat "$OTP_STATE")" = ok ] ||
	    t_skip "OTP: no Cyrus IMAP: $(cat "$OTP_STATE")"
	. "$AUTH_DIR/cyrus/env"
}

# otp_config PHRASE_VAR
otp_config() {
	{
		echo "stores:"
		echo "  work:"
		echo "    type: imap"
		echo "    host: localhost"
		echo "    port: $FERRY_CYRUS_PORT"
		echo "    tls: none"
		echo "    user: alice"
		echo "    password_env: $1"
		echo "    auth: [otp]"
	} >config.yaml
}

# Every login uses the next one-time password: the sequence counts down.
test_otp_cyrus() {
	need_otp
	export OTP_PHRASE
	otp_config OTP_PHRASE
	for n in 1 2; do
		out=$("$FERRY" -vv -c config.yaml check work 2>&1) ||
		    t_fail "login $n: exit status $?: $out"
		t_contains "$out" "AUTHENTICATE OTP" "trace"
		t_contains "$out" "login: ok as alice"
		t_lacks "$out" "$OTP_PHRASE" "trace"
	done
	BAD_PHRASE="not the phrase"
	export BAD_PHRASE
	otp_config BAD_PHRASE
	out=$("$FERRY" -vv -c config.yaml check work 2>&1)
	t_eq "$?" 5 "exit status with a wrong pass phrase"
	t_contains "$out" "AUTHENTICATE OTP for user alice failed"
	t_lacks "$out" "not the phrase" "output"
}

need_oauth() {
	[ "$OAUTH_UP" = yes ] || t_skip "$OAUTH_WHY"
}

# oauth_config MECH TOKEN_COMMAND
oauth_config() {
	{
		echo "stores:"
		echo "  work:"
		echo "    type: imap"
		echo "    host: localhost"
		echo "    port: $OAUTH_PORT"
		echo "    ca_file: $OAUTH_CA"
		echo "    user: alice"
		echo "    oauth_token_command: \"$2\""
		echo "    auth: [$1]"
	} >config.yaml
}

issued() {
	"$OAUTH_SERVER" stats "$AUTH_DIR" | sed 's/issued \([0-9]*\).*/\1/'
}

oauth_ok() {
	need_oauth
	oauth_config "$1" "$OAUTH_SERVER token $AUTH_DIR alice"
	before=$(issued)
	out=$("$FERRY" -vv -c config.yaml check work 2>&1) ||
	    t_fail "$1: exit status $?: $out"
	t_contains "$out" "login: ok as alice"
	t_contains "$out" "AUTHENTICATE $(echo "$1" | tr "[:lower:]" "[:upper:]") <redacted>"
	t_lacks "$out" "tok-" "trace"
	t_lacks "$out" "auth=Bearer" "trace"
	t_eq "$(issued)" $((before + 1)) "tokens issued"
}

test_xoauth2() {
	oauth_ok xoauth2
}

test_oauthbearer() {
	oauth_ok oauthbearer
}

test_oauth_bad_token() {
	need_oauth
	for m in xoauth2 oauthbearer; do
		oauth_config "$m" "echo tok-forged-by-the-test"
		out=$("$FERRY" -vv -c config.yaml check work 2>&1)
		t_eq "$?" 5 "$m: exit status"
		t_contains "$out" "AUTHENTICATE $(echo "$m" | tr "[:lower:]" "[:upper:]") for user alice failed"
		t_lacks "$out" "tok-forged" "output"
	done
}

# Each connection runs the token command again, so a token that expired
# meanwhile is replaced; a command that repeats a stale token fails.
test_oauth_token_expires_and_is_fetched_again() {
	need_oauth
	"$OAUTH_SERVER" token "$AUTH_DIR" alice >token
	oauth_config oauthbearer "cat $PWD/token"
	"$FERRY" -c config.yaml check work >out 2>&1 ||
	    t_fail "fresh token: $(cat out)"
	sleep $((OAUTH_TTL + 1))
	"$FERRY" -c config.yaml check work >out 2>&1
	t_eq "$?" 5 "exit status with an expired token"
	oauth_config oauthbearer "$OAUTH_SERVER token $AUTH_DIR alice"
	before=$(issued)
	"$FERRY" -c config.yaml check work >out 2>&1 ||
	    t_fail "refreshed token: $(cat out)"
	t_eq "$(issued)" $((before + 1)) "tokens issued"
}

# oauth:, the refresh grant against the suite's token endpoint (libcurl).
# refresh_config REFRESH_TOKEN
refresh_config() {
	{
		echo "stores:"
		echo "  work:"
		echo "    type: imap"
		echo "    host: localhost"
		echo "    port: $OAUTH_PORT"
		echo "    ca_file: $OAUTH_CA"
		echo "    user: alice"
		echo "    auth: [oauthbearer]"
		echo "    oauth:"
		echo "      token_url: http://127.0.0.1:$(cat "$AUTH_DIR/port")/token"
		echo "      client_id: ferry-test"
		echo "      client_secret_command: echo cs-test"
		echo "      refresh_token_command: echo $1"
	} >config.yaml
}

test_oauth_refresh() {
	need_oauth
	refresh_config rt-alice
	before=$(issued)
	out=$("$FERRY" -vv -c config.yaml check work 2>&1) ||
	    t_fail "exit status $?: $out"
	t_contains "$out" "login: ok as alice"
	t_eq "$(issued)" $((before + 1)) "tokens issued"
	for secret in rt-alice cs-test tok-; do
		t_lacks "$out" "$secret" "trace"
	done
	# The token expires; the next run refreshes it and logs in again.
	sleep $((OAUTH_TTL + 1))
	out=$("$FERRY" -c config.yaml check work 2>&1) ||
	    t_fail "after expiry: exit status $?: $out"
	t_eq "$(issued)" $((before + 2)) "tokens issued"
}

test_oauth_refresh_refused() {
	need_oauth
	refresh_config rt-revoked-by-nobody-but-wrong-client
	sed -i 's/cs-test/cs-wrong/' config.yaml
	out=$("$FERRY" -c config.yaml check work 2>&1)
	t_eq "$?" 5 "exit status"
	t_contains "$out" "invalid_client"
	t_lacks "$out" "cs-wrong" "output"
	refresh_config bogus
	out=$("$FERRY" -c config.yaml check work 2>&1)
	t_eq "$?" 5 "exit status"
	t_contains "$out" "stores.work.oauth: token endpoint refused (HTTP 400): invalid_grant"
	t_lacks "$out" "bogus" "output"
}

test_oauth_command_fails() {
	need_oauth
	oauth_config xoauth2 "echo oops >&2; exit 4"
	out=$("$FERRY" -c config.yaml check work 2>&1)
	t_eq "$?" 5 "exit status"
	t_contains "$out" "oauth_token_command: exited with status 4"
}

t_run
