# SPDX-License-Identifier: ISC
#
# ports.sh - free loopback ports for the test servers (sourced by
# dovecot.sh, krb5.sh and cyrus.sh).  /proc/net/tcp is read instead of
# probing with a connection, since not every sh has /dev/tcp.

# Is something listening on 127.0.0.1 or the wildcard address, port $1?
port_busy() {
	hex=$(printf '%04X' "$1")
	grep -q ":$hex 00000000:0000 0A" /proc/net/tcp 2>/dev/null
}

# A random port in 20000-49999 that nothing listens on right now.
pick_port() {
	while :; do
		p=$(( ($(od -An -N2 -tu2 /dev/urandom) % 30000) + 20000 ))
		port_busy "$p" || { echo "$p"; return; }
	done
}
