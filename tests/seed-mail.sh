#!/bin/sh
# SPDX-License-Identifier: ISC
#
# seed-mail.sh MAILDIR COUNT - put COUNT sample messages into a user's
# Maildir on the private Dovecot (INBOX and a few nested folders, one with
# a non-ASCII name), deterministic from run to run: varied senders,
# subjects, dates and flags, some with an attachment.  Dovecot picks the
# files up on its next look at the folder.  Run before any client has the
# folders open.
set -eu

root=$1
count=$2

# Folders as Dovecot stores them with LAYOUT=fs: modified UTF-7 names.
# "Reisen/Größe" is Reisen/Gr&APYA3w-e.
folders=". Work Work/Projects Archive Reisen Reisen/Gr&APYA3w-e"

mkfolder() {
	d=$root
	[ "$1" = . ] || d=$root/$1
	mkdir -p "$d/cur" "$d/new" "$d/tmp"
}

for f in $folders; do
	mkfolder "$f"
done
[ -f "$root/subscriptions" ] || printf 'V\t2\n\nWork\tWork/Projects\tArchive\tReisen\tReisen/Gr&APYA3w-e\n' >"$root/subscriptions"

senders="Ada Lovelace <ada@example.org>|Alan Turing <alan@example.org>|Grace Hopper <grace@example.net>|Edsger Dijkstra <ewd@example.nl>|Barbara Liskov <liskov@example.edu>|Ken Thompson <ken@example.com>"
topics="Quarterly report|Lunch on Friday?|Re: build is red again|Invitation: design review|Photos from the trip|Invoice 2026-11|Reading list|Re: Re: the parser bug|Travel plans: Zürich|Minutes of the meeting"

i=1
while [ "$i" -le "$count" ]; do
	set -- $folders
	n=$(( (i % $#) + 1 ))
	eval "folder=\${$n}"
	dir=$root
	[ "$folder" = . ] || dir=$root/$folder
	sender=$(printf '%s\n' "$senders" | cut -d'|' -f$(( (i % 6) + 1 )))
	topic=$(printf '%s\n' "$topics" | cut -d'|' -f$(( (i % 10) + 1 )))
	day=$(( (i % 28) + 1 ))
	hour=$(( i % 24 ))
	ts=$(( 1793000000 + i * 3600 ))
	case $(( i % 5 )) in
	0) flags="S" ;;
	1) flags="FS" ;;
	2) flags="" ;;
	3) flags="RS" ;;
	*) flags="S" ;;
	esac
	name="$ts.M${i}P1.demo:2,$flags"
	file="$dir/cur/$name"
	{
		printf 'From: %s\r\n' "$sender"
		printf 'To: Alice <alice@example.org>\r\n'
		printf 'Subject: %s (#%d)\r\n' "$topic" "$i"
		printf 'Date: %s, %02d Nov 2026 %02d:%02d:00 +0000\r\n' Mon "$day" "$hour" $(( i % 60 ))
		printf 'Message-ID: <demo-%d@example.org>\r\n' "$i"
		printf 'MIME-Version: 1.0\r\n'
		if [ $(( i % 7 )) -eq 0 ]; then
			printf 'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n' "$i"
			printf -- '--b%d\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n' "$i"
			printf 'Message %d with an attachment.\r\n\r\n' "$i"
			printf -- '--b%d\r\nContent-Type: application/octet-stream\r\n' "$i"
			printf 'Content-Transfer-Encoding: base64\r\n'
			printf 'Content-Disposition: attachment; filename="data-%d.bin"\r\n\r\n' "$i"
			head -c $(( 2000 + i * 37 )) /dev/zero | tr '\0' 'x' | base64 | sed 's/$/\r/'
			printf -- '--b%d--\r\n' "$i"
		else
			printf 'Content-Type: text/plain; charset=utf-8\r\n\r\n'
			printf 'Hello Alice,\r\n\r\nthis is message %d about "%s".\r\n' "$i" "$topic"
			printf 'Grüße aus dem Testlabor.\r\n'
		fi
	} >"$file"
	touch -d "@$ts" "$file"
	i=$((i + 1))
done

# The mail processes run as the owner of the Maildir's home.
owner=$(stat -c %u:%g "$(dirname "$root")")
chown -R "$owner" "$root" 2>/dev/null || true
