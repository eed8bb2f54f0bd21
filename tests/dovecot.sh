#!/bin/sh
# SPDX-License-Identifier: ISC
#
# dovecot.sh - a private Dovecot for ferry's tests and demo.
#
#   dovecot.sh start DIR     start one in DIR (created), write DIR/env
#   dovecot.sh stop DIR      stop the one in DIR, by its own pid
#   dovecot.sh run CMD...    start one in a temporary directory, run CMD
#                            with its settings in the environment, stop it,
#                            remove the directory, exit with CMD's status
#
# The instance listens on 127.0.0.1 only, on two free ports: plain IMAP
# with STARTTLS, and implicit TLS.  Its certificate is issued by a
# throwaway CA made here (DIR/ca.pem) for the name "localhost" only, so a
# client that connects to "127.0.0.1" sees a name mismatch.  Users alice,
# bob and carol log in with passwords from a passwd-file; mail is Maildir
# with "/" as the hierarchy delimiter.  Never touches the system service.
#
# Opt-in settings, from the environment of "start" (and "run"):
#   DOVECOT_AUTH_MECHS   auth_mechanisms instead of "plain login", e.g.
#                        "cram-md5 scram-sha-1 scram-sha-256 login plain"
#                        (the passdb holds {PLAIN} passwords, which
#                        CRAM-MD5 and SCRAM need)
#   DOVECOT_EXTRA_CONF   a file !include'd at the end of dovecot.conf
#                        (an oauth2 passdb, GSSAPI keytab settings, ...)
#
# DIR/env is a shell fragment with FERRY_TEST_DIR, FERRY_IMAP_PORT,
# FERRY_IMAPS_PORT, FERRY_CA, FERRY_USERS, FERRY_PASS_<user> and
# FERRY_MAILDIR_<user>; "run" exports the same variables.
set -eu

die() {
	echo "dovecot.sh: $*" >&2
	exit 1
}

find_dovecot() {
	for d in "${DOVECOT:-}" /usr/sbin/dovecot /usr/local/sbin/dovecot; do
		if [ -n "$d" ] && [ -x "$d" ]; then
			echo "$d"
			return
		fi
	done
	command -v dovecot 2>/dev/null || die "dovecot not found (run 'make deps')"
}

make_certs() {
	dir=$1
	(
		cd "$dir"
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		    -nodes -keyout ca.key -out ca.pem -days 2 \
		    -subj "/CN=ferry test CA" >/dev/null 2>&1
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		    -nodes -keyout server.key -out server.csr \
		    -subj "/CN=localhost" >/dev/null 2>&1
		printf 'subjectAltName=DNS:localhost\n' >san.ext
		openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key \
		    -CAcreateserial -out server.pem -days 2 -extfile san.ext \
		    >/dev/null 2>&1
		rm -f server.csr san.ext ca.srl
	) || die "openssl failed to make the test certificates"
}

write_config() {
	dir=$1 p1=$2 p2=$3
	uid=$(id -u) gid=$(id -g) user=$(id -un) group=$(id -gn)
	if [ "$uid" -eq 0 ]; then
		# Dovecot never delivers mail as root: run as root, the mail
		# processes take nobody's uid, and the tree must let them in.
		uid=$(id -u nobody) gid=$(id -g nobody)
		chmod 755 "$dir"
	fi
	: >"$dir/passwd"
	for u in alice bob carol; do
		mkdir -p "$dir/home/$u"
		chown "$uid:$gid" "$dir/home/$u"
		echo "$u:{PLAIN}$u-secret:$uid:$gid::$dir/home/$u::" >>"$dir/passwd"
	done
	if [ "$(id -u)" -ne 0 ]; then
		unpriv="default_internal_user = $user
default_internal_group = $group
default_login_user = $user
"
	else
		unpriv=""
	fi
	cat >"$dir/dovecot.conf" <<CONF
# Private test instance written by tests/dovecot.sh.
base_dir = $dir/run
state_dir = $dir/state
instance_name = ferry-test-$$
log_path = $dir/dovecot.log
protocols = imap
listen = 127.0.0.1
$unpriv
mail_location = maildir:~/Maildir:LAYOUT=fs
mailbox_list_index = yes
disable_plaintext_auth = no
auth_mechanisms = ${DOVECOT_AUTH_MECHS:-plain login}
auth_failure_delay = 0
ssl = yes
ssl_cert = <$dir/server.pem
ssl_key = <$dir/server.key
ssl_min_protocol = TLSv1.2
mail_plugins = \$mail_plugins
protocol imap {
  mail_plugins = \$mail_plugins imap_zlib
  mail_max_userip_connections = 100
}
namespace inbox {
  inbox = yes
  separator = /
  mailbox Drafts {
    special_use = \Drafts
    auto = subscribe
  }
  mailbox Sent {
    special_use = \Sent
    auto = subscribe
  }
  mailbox Trash {
    special_use = \Trash
    auto = subscribe
  }
  mailbox Junk {
    special_use = \Junk
    auto = subscribe
  }
  mailbox Archive {
    special_use = \Archive
  }
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%n $dir/passwd
}
userdb {
  driver = passwd-file
  args = username_format=%n $dir/passwd
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $p1
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $p2
    ssl = yes
  }
}
service pop3-login {
  inet_listener pop3 {
    port = 0
  }
  inet_listener pop3s {
    port = 0
  }
}
service submission-login {
  inet_listener submission {
    port = 0
  }
}
service lmtp {
  unix_listener lmtp {
    mode = 0600
  }
}
CONF
	if [ -n "${DOVECOT_EXTRA_CONF:-}" ]; then
		echo "!include $DOVECOT_EXTRA_CONF" >>"$dir/dovecot.conf"
	fi
}

write_env() {
	dir=$1 p1=$2 p2=$3
	{
		echo "FERRY_TEST_DIR='$dir'"
		echo "FERRY_IMAP_PORT=$p1"
		echo "FERRY_IMAPS_PORT=$p2"
		echo "FERRY_CA='$dir/ca.pem'"
		echo "FERRY_USERS='alice bob carol'"
		for u in alice bob carol; do
			echo "FERRY_PASS_$u='$u-secret'"
			echo "FERRY_MAILDIR_$u='$dir/home/$u/Maildir'"
		done
		echo "export FERRY_TEST_DIR FERRY_IMAP_PORT FERRY_IMAPS_PORT FERRY_CA FERRY_USERS"
		echo "export FERRY_PASS_alice FERRY_PASS_bob FERRY_PASS_carol"
		echo "export FERRY_MAILDIR_alice FERRY_MAILDIR_bob FERRY_MAILDIR_carol"
	} >"$dir/env"
}

. "$(dirname "$0")/ports.sh"

start() {
	dir=$1
	dovecot=$(find_dovecot)
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	[ -f "$dir/ca.pem" ] || make_certs "$dir"
	tries=0
	while :; do
		p1=$(pick_port)
		p2=$(pick_port)
		[ "$p1" != "$p2" ] || continue
		write_config "$dir" "$p1" "$p2"
		if "$dovecot" -c "$dir/dovecot.conf" 2>"$dir/start.err"; then
			break
		fi
		tries=$((tries + 1))
		if [ "$tries" -ge 5 ] || ! grep -q 'in use' "$dir/start.err" "$dir/dovecot.log" 2>/dev/null; then
			cat "$dir/start.err" "$dir/dovecot.log" >&2 2>/dev/null || true
			die "dovecot did not start"
		fi
	done
	# Wait until both listeners accept (normally a few milliseconds).
	n=0
	while ! port_busy "$p1" || ! port_busy "$p2"; do
		n=$((n + 1))
		[ "$n" -lt 200 ] || die "dovecot did not open its ports"
		sleep 0.01
	done
	write_env "$dir" "$p1" "$p2"
}

stop() {
	dir=$1
	pidfile="$dir/run/master.pid"
	[ -f "$pidfile" ] || return 0
	pid=$(cat "$pidfile")
	kill "$pid" 2>/dev/null || return 0
	n=0
	while kill -0 "$pid" 2>/dev/null; do
		n=$((n + 1))
		if [ "$n" -gt 500 ]; then
			kill -9 "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.01
	done
	rm -f "$pidfile"
}

run() {
	dir=$(mktemp -d "${TMPDIR:-/tmp}/ferry-dovecot.XXXXXX")
	trap 'stop "$dir"; rm -rf "$dir"' EXIT
	trap 'exit 130' INT TERM
	start "$dir"
	set -a
	. "$dir/env"
	set +a
	set +e
	"$@"
	rc=$?
	set -e
	return $rc
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
start) [ $# -eq 1 ] || die "usage: dovecot.sh start DIR"; start "$1" ;;
stop) [ $# -eq 1 ] || die "usage: dovecot.sh stop DIR"; stop "$1" ;;
run) [ $# -ge 1 ] || die "usage: dovecot.sh run CMD..."; run "$@" ;;
*) die "usage: dovecot.sh start DIR | stop DIR | run CMD..." ;;
esac
