/* SPDX-License-Identifier: ISC */
/*
 * test_imap_parser.c - unit tests for imap/parser.c, the sans-I/O IMAP
 * response parser.
 *
 * The table holds real server output: lines captured from a Dovecot 2.3
 * session (tests/dovecot.sh), lightly trimmed, and examples from RFC 3501,
 * RFC 7162 and RFC 9051.  Each case is fed whole, one byte at a time and
 * in 50 random splits with a fixed seed, and every way must print the same
 * responses (imap_resp_print, one per line) as the expected text.  Each
 * chunk is copied into its own allocation, so that under ASan a parser
 * that reads past a chunk or keeps a pointer into it gets caught.  Further
 * tests cover each limit, the literal sink, malformed responses and a
 * parse -> print -> parse round trip.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/parser.h"
#include "tests/t.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/xalloc.h"

#define NSPLITS 50

struct tcase {
	const char *name;
	const char *in;
	size_t inlen;
	const char *want; /* printed responses, "\n" between them */
	size_t wantlen;
};

#define CASE(name, in, want)                                     \
	{                                                        \
		name, in, sizeof(in) - 1, want, sizeof(want) - 1 \
	}
/* One response that prints as it came, less its final CRLF. */
#define SAME(name, text) CASE(name, text "\r\n", text)

/* Message 1 of the Dovecot session; its body mimics IMAP on purpose. */
#define HDR1                                              \
	"From: Alice <alice@example.org>\r\n"             \
	"To: Bob <bob@example.org>, \"Carol \\\"C\\\"\" " \
	"<carol@example.org>\r\n"                         \
	"Subject: Hello there\r\n"                        \
	"Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n"        \
	"Message-ID: <1@example.org>\r\n"                 \
	"\r\n"
#define BODY1                                        \
	HDR1 "Hi Bob,\r\n"                           \
	     "how are things? (unbalanced paren\r\n" \
	     "* OK fake untagged inside body\r\n"    \
	     "a1 OK fake tagged\r\n"
#define CAPS                                                                  \
	"IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY " \
	"THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND "    \
	"URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS "           \
	"LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT "          \
	"SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE "            \
	"SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE LITERAL+ "  \
	"NOTIFY SPECIAL-USE COMPRESS=DEFLATE"
#define ENV1_IN                                                    \
	"* 1 FETCH (UID 1 FLAGS (\\Seen \\Recent) INTERNALDATE "   \
	"\"08-Feb-1994 05:52:25 +0000\" RFC822.SIZE 281 ENVELOPE " \
	"(\"Mon, 7 Feb 1994 21:52:25 -0800\" \"Hello there\" "     \
	"((\"Alice\" NIL \"alice\" \"example.org\")) "             \
	"((\"Alice\" NIL \"alice\" \"example.org\")) "             \
	"((\"Alice\" NIL \"alice\" \"example.org\")) "             \
	"((\"Bob\" NIL \"bob\" \"example.org\")"
#define ENV1_TAIL                                                         \
	"{9}\r\nCarol \"C\" NIL \"carol\" \"example.org\")) NIL NIL NIL " \
	"\"<1@example.org>\") BODYSTRUCTURE (\"text\" \"plain\" "         \
	"(\"charset\" \"us-ascii\") NIL NIL \"7bit\" 95 4 NIL NIL NIL NIL))"
#define BS2_A                                                         \
	"* 2 FETCH (BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" " \
	"\"utf-8\") NIL NIL \"8bit\" 22 0 NIL NIL NIL NIL)"
#define BS2_B                                                              \
	"(\"application\" \"octet-stream\" (\"name\" \"x.bin\") NIL NIL "  \
	"\"base64\" 24 NIL (\"attachment\" (\"filename\" \"x.bin\")) NIL " \
	"NIL) "                                                            \
	"\"mixed\" (\"boundary\" \"b1\") NIL NIL NIL))"
#define RFC_ENV_A                                                         \
	"* 12 FETCH (FLAGS (\\Seen) INTERNALDATE \"17-Jul-1996 02:44:25 " \
	"-0700\" RFC822.SIZE 4286 ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 " \
	"-0700 (PDT)\" \"IMAP4rev1 WG mtg summary and minutes\" "         \
	"((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "         \
	"((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "         \
	"((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "         \
	"((NIL NIL \"imap\" \"cac.washington.edu\")) "                    \
	"((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")"
#define RFC_ENV_B                                                            \
	"(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL "           \
	"\"<B27397-0100000@cac.washington.edu>\") BODY (\"TEXT\" \"PLAIN\" " \
	"(\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92))"
#define BIN16 "\000\001\002\003\004\005\006\007\010\011\012\013\014\015\016\017"

static const struct tcase cases[] = {
    SAME("dovecot greeting",
	"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE "
	"LITERAL+ AUTH=PLAIN AUTH=LOGIN] Dovecot (Debian) ready."),
    CASE("capability, then tagged OK",
	"* CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE "
	"LITERAL+ AUTH=PLAIN AUTH=LOGIN\r\n"
	"a1 OK Pre-login capabilities listed, post-login capabilities have "
	"more.\r\n",
	"* CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE "
	"LITERAL+ AUTH=PLAIN AUTH=LOGIN\n"
	"a1 OK Pre-login capabilities listed, post-login capabilities have "
	"more."),
    SAME("login with a CAPABILITY code",
	"a1 OK [CAPABILITY " CAPS "] Logged in"),
    CASE("enabled",
	"* ENABLED QRESYNC CONDSTORE\r\n"
	"a3 OK Enabled (0.001 + 0.000 secs).\r\n",
	"* ENABLED QRESYNC CONDSTORE\n"
	"a3 OK Enabled (0.001 + 0.000 secs)."),
    SAME("appenduid",
	"a100 OK [APPENDUID 1795628670 1] Append completed (0.002 + 0.000 + "
	"0.001 secs)."),
    CASE("continuation requests", "+ OK\r\n+ idling\r\n+ \r\n+\r\n",
	"+ OK\n+ idling\n+\n+"),
    CASE("select",
	"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Label1)\r\n"
	"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft "
	"$Label1 \\*)] Flags permitted.\r\n"
	"* 4 EXISTS\r\n"
	"* 4 RECENT\r\n"
	"* OK [UNSEEN 2] First unseen.\r\n"
	"* OK [UIDVALIDITY 1795628670] UIDs valid\r\n"
	"* OK [UIDNEXT 5] Predicted next UID\r\n"
	"* OK [HIGHESTMODSEQ 6] Highest\r\n"
	"a9 OK [READ-WRITE] Select completed (0.001 + 0.000 secs).\r\n",
	"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Label1)\n"
	"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft "
	"$Label1 \\*)] Flags permitted.\n"
	"* 4 EXISTS\n"
	"* 4 RECENT\n"
	"* OK [UNSEEN 2] First unseen.\n"
	"* OK [UIDVALIDITY 1795628670] UIDs valid\n"
	"* OK [UIDNEXT 5] Predicted next UID\n"
	"* OK [HIGHESTMODSEQ 6] Highest\n"
	"a9 OK [READ-WRITE] Select completed (0.001 + 0.000 secs)."),
    SAME("fetch BODY[] whose body looks like IMAP",
	"* 1 FETCH (FLAGS (\\Seen \\Recent) MODSEQ (2) BODY[] {281}\r\n" BODY1
	")"),
    CASE("fetch small body, then modseq updates",
	"* 3 FETCH (FLAGS (\\Flagged \\Seen \\Recent $Label1) MODSEQ (5) "
	"BODY[] {22}\r\nSubject: empty-ish\r\n\r\n)\r\n"
	"* 2 FETCH (UID 2 MODSEQ (7))\r\n",
	"* 3 FETCH (FLAGS (\\Flagged \\Seen \\Recent $Label1) MODSEQ (5) "
	"BODY[] {22}\r\nSubject: empty-ish\r\n\r\n)\n"
	"* 2 FETCH (UID 2 MODSEQ (7))"),
    CASE("envelope with a literal right after ')'",
	ENV1_IN "(" ENV1_TAIL "\r\n", ENV1_IN " (" ENV1_TAIL),
    CASE("multipart bodystructure", BS2_A BS2_B "\r\n", BS2_A " " BS2_B),
    SAME("header fields and a partial body",
	"* 1 FETCH (BODY[HEADER.FIELDS (FROM TO SUBJECT)] {119}\r\n"
	"From: Alice <alice@example.org>\r\n"
	"To: Bob <bob@example.org>, \"Carol \\\"C\\\"\" "
	"<carol@example.org>\r\n"
	"Subject: Hello there\r\n\r\n"
	" BODY[1]<0> {10}\r\nHi Bob,\r\nh)"),
    SAME("partial fetches and RFC822.HEADER",
	"* 1 FETCH (UID 1 BODY[]<0> {40}\r\n"
	"From: Alice <alice@example.org>\r\nTo: Bob BODY[TEXT]<5> {20}\r\n"
	"b,\r\nhow are things?  RFC822.HEADER {186}\r\n" HDR1 ")"),
    CASE("binary literal with NUL bytes",
	"* 2 FETCH (BINARY[2] ~{16}\r\n" BIN16 " BINARY.SIZE[2] 16)\r\n",
	"* 2 FETCH (BINARY[2] {16}\r\n" BIN16 " BINARY.SIZE[2] 16)"),
    SAME("8-bit preview literal",
	"* 2 FETCH (PREVIEW {22}\r\nGr\303\274\303\237e \342\200\224 8-bit "
	"body)"),
    CASE("store",
	"* 1 FETCH (UID 1 MODSEQ (8) FLAGS (\\Flagged \\Seen \\Recent))\r\n"
	"a15 OK [MODIFIED 1:4] Conditional store failed (0.001 + 0.000 "
	"secs).\r\n",
	"* 1 FETCH (UID 1 MODSEQ (8) FLAGS (\\Flagged \\Seen \\Recent))\n"
	"a15 OK [MODIFIED 1:4] Conditional store failed (0.001 + 0.000 "
	"secs)."),
    CASE("list with escapes, utf-7 and special-use",
	"* LIST (\\HasNoChildren) \"/\" \"quo\\\"te\\\\back\"\r\n"
	"* LIST (\\HasNoChildren) \"/\" Entw&APw-rfe\r\n"
	"* LIST (\\Subscribed \\HasNoChildren \\Drafts) \"/\" Drafts\r\n",
	"* LIST (\\HasNoChildren) \"/\" \"quo\\\"te\\\\back\"\n"
	"* LIST (\\HasNoChildren) \"/\" Entw&APw-rfe\n"
	"* LIST (\\Subscribed \\HasNoChildren \\Drafts) \"/\" Drafts"),
    CASE("list of odd names: unmatched '[' is plain",
	"* LIST (\\HasNoChildren) \"/\" foo[bar\r\n"
	"* LIST (\\HasNoChildren) \"/\" \"x{5}\"\r\n"
	"* LIST (\\HasNoChildren) \"/\" \"p(q\"\r\n",
	"* LIST (\\HasNoChildren) \"/\" foo[bar\n"
	"* LIST (\\HasNoChildren) \"/\" \"x{5}\"\n"
	"* LIST (\\HasNoChildren) \"/\" \"p(q\""),
    CASE("list-status",
	"* LIST () \"/\" \"with space\"\r\n"
	"* STATUS \"with space\" (MESSAGES 0 UNSEEN 0 HIGHESTMODSEQ 1)\r\n",
	"* LIST () \"/\" \"with space\"\n"
	"* STATUS \"with space\" (MESSAGES 0 UNSEEN 0 HIGHESTMODSEQ 1)"),
    CASE("status",
	"* STATUS INBOX (MESSAGES 4 UIDNEXT 5 UIDVALIDITY 1795628670 UNSEEN "
	"0 HIGHESTMODSEQ 8)\r\n"
	"a19 OK [CLIENTBUG] Status on selected mailbox completed (0.001 + "
	"0.000 secs).\r\n",
	"* STATUS INBOX (MESSAGES 4 UIDNEXT 5 UIDVALIDITY 1795628670 UNSEEN "
	"0 HIGHESTMODSEQ 8)\n"
	"a19 OK [CLIENTBUG] Status on selected mailbox completed (0.001 + "
	"0.000 secs)."),
    CASE("search, with modseq and empty",
	"* SEARCH 1 2 3 4\r\n* SEARCH 1 2 3 (MODSEQ 8)\r\n* SEARCH\r\n",
	"* SEARCH 1 2 3 4\n* SEARCH 1 2 3 (MODSEQ 8)\n* SEARCH"),
    SAME("esearch", "* ESEARCH (TAG \"a21\") UID MIN 1 MAX 4 ALL 1:4 COUNT 4"),
    CASE("namespace and id",
	"* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n* ID (\"name\" \"Dovecot\")\r\n",
	"* NAMESPACE ((\"\" \"/\")) NIL NIL\n* ID (\"name\" \"Dovecot\")"),
    CASE("copyuid, tagged and untagged",
	"a24 OK [COPYUID 1795628668 1:2 2:3] Copy completed (0.003 + 0.000 "
	"+ 0.002 secs).\r\n"
	"* OK [COPYUID 1795628668 4 4] Moved UIDs.\r\n",
	"a24 OK [COPYUID 1795628668 1:2 2:3] Copy completed (0.003 + 0.000 "
	"+ 0.002 secs).\n"
	"* OK [COPYUID 1795628668 4 4] Moved UIDs."),
    CASE("vanished and expunge",
	"* VANISHED 3\r\n* VANISHED (EARLIER) 3\r\n* 3 RECENT\r\n"
	"a27 OK [HIGHESTMODSEQ 10] Expunge completed (0.001 + 0.000 "
	"secs).\r\n",
	"* VANISHED 3\n* VANISHED (EARLIER) 3\n* 3 RECENT\n"
	"a27 OK [HIGHESTMODSEQ 10] Expunge completed (0.001 + 0.000 secs)."),
    CASE("BAD and NO with odd text",
	"a30 BAD Error in IMAP command FROBNICATE: Unknown command (0.001 + "
	"0.000 secs).\r\n"
	"a31 NO Mailbox doesn't exist: Nonexistent (0.001 + 0.000 secs).\r\n"
	"a51 BAD Error in IMAP command FETCH: Missing ')' (0.001 + 0.000 "
	"secs).\r\n"
	"a15 NO [CANNOT] Generic mailbox attributes not enabled (0.001 + "
	"0.000 secs).\r\n",
	"a30 BAD Error in IMAP command FROBNICATE: Unknown command (0.001 + "
	"0.000 secs).\n"
	"a31 NO Mailbox doesn't exist: Nonexistent (0.001 + 0.000 secs).\n"
	"a51 BAD Error in IMAP command FETCH: Missing ')' (0.001 + 0.000 "
	"secs).\n"
	"a15 NO [CANNOT] Generic mailbox attributes not enabled (0.001 + "
	"0.000 secs)."),
    CASE("logout",
	"* BYE Logging out\r\na33 OK Logout completed (0.001 + 0.000 "
	"secs).\r\n",
	"* BYE Logging out\na33 OK Logout completed (0.001 + 0.000 secs)."),
    CASE("thread and sort", "* THREAD (1)(2)(3)\r\n* SORT 1 3 2\r\n",
	"* THREAD (1) (2) (3)\n* SORT 1 3 2"),
    CASE("RFC 3501 fetch envelope", RFC_ENV_A RFC_ENV_B "\r\n",
	RFC_ENV_A " " RFC_ENV_B),
    CASE("RFC 3501 preauth, alert, no",
	"* PREAUTH IMAP4rev1 server logged in as Smith\r\n"
	"* OK [ALERT] System shutdown in 10 minutes\r\n"
	"* NO Disk is 98% full, please delete unnecessary data\r\n",
	"* PREAUTH IMAP4rev1 server logged in as Smith\n"
	"* OK [ALERT] System shutdown in 10 minutes\n"
	"* NO Disk is 98% full, please delete unnecessary data"),
    CASE("RFC 3501 list and status",
	"* LIST (\\Noselect) \"/\" ~/Mail/foo\r\n"
	"* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)\r\n",
	"* LIST (\\Noselect) \"/\" ~/Mail/foo\n"
	"* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)"),
    CASE("RFC 3501 select codes",
	"* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n"
	"* 22 EXPUNGE\r\n* 14 FETCH (FLAGS (\\Seen \\Deleted))\r\n"
	"A142 OK [READ-WRITE] SELECT completed\r\n",
	"* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\n"
	"* 22 EXPUNGE\n* 14 FETCH (FLAGS (\\Seen \\Deleted))\n"
	"A142 OK [READ-WRITE] SELECT completed"),
    SAME("RFC 3501 GSSAPI continuation",
	"+ YGgGCSqGSIb3EgECAgIBAAD/////6jcyG4GE3KkTzBeBiVHeceP2CWY0SR0fAQAgAA"
	"QEBAQ="),
    CASE("RFC 7162 condstore and qresync",
	"* OK [HIGHESTMODSEQ 715194045007]\r\n"
	"* 1 FETCH (UID 4 MODSEQ (65402) FLAGS (\\Seen))\r\n"
	"* VANISHED (EARLIER) 41,43:116,118,120:211,214:540\r\n"
	"d105 OK [MODIFIED 7,9] Conditional STORE failed\r\n"
	"* OK [NOMODSEQ] Sorry, this mailbox format doesn't support "
	"modsequences\r\n",
	"* OK [HIGHESTMODSEQ 715194045007]\n"
	"* 1 FETCH (UID 4 MODSEQ (65402) FLAGS (\\Seen))\n"
	"* VANISHED (EARLIER) 41,43:116,118,120:211,214:540\n"
	"d105 OK [MODIFIED 7,9] Conditional STORE failed\n"
	"* OK [NOMODSEQ] Sorry, this mailbox format doesn't support "
	"modsequences"),
    CASE("RFC 9051 esearch and namespace",
	"* ESEARCH (TAG \"A282\") MIN 2 COUNT 3\r\n"
	"* NAMESPACE ((\"\" \"/\")) ((\"~\" \"/\")) ((\"#shared/\" \"/\")"
	"(\"#public/\" \"/\")(\"#ftp/\" \"/\")(\"#news.\" \".\"))\r\n",
	"* ESEARCH (TAG \"A282\") MIN 2 COUNT 3\n"
	"* NAMESPACE ((\"\" \"/\")) ((\"~\" \"/\")) ((\"#shared/\" \"/\") "
	"(\"#public/\" \"/\") (\"#ftp/\" \"/\") (\"#news.\" \".\"))"),
    CASE("sections with spaces and BINARY[1.2]",
	"* 12 FETCH (BODY[HEADER.FIELDS (FROM TO)]<0> {11}\r\nFrom: a@b\r\n"
	" BINARY.SIZE[1.2] 4 BINARY[1.2] ~{4}\r\nab\r\n)\r\n",
	"* 12 FETCH (BODY[HEADER.FIELDS (FROM TO)]<0> {11}\r\nFrom: a@b\r\n"
	" BINARY.SIZE[1.2] 4 BINARY[1.2] {4}\r\nab\r\n)"),
    SAME("BADCHARSET code with a list",
	"a3 NO [BADCHARSET (UTF-8 \"US-ASCII\")] Unsupported charset"),
    CASE("status responses without text",
	"* OK\r\na1 OK [READ-WRITE]\r\n* OK [ALERT]text\r\n"
	"a2 NO  two  spaces \r\n*  OK  x\r\n",
	"* OK\na1 OK [READ-WRITE]\n* OK [ALERT] text\na2 NO  two  spaces \n"
	"* OK  x"),
    CASE("lower case and bare LF",
	"* ok [uidnext 4] predicted\n* 1 fetch (flags (\\seen) x nil)\n",
	"* OK [uidnext 4] predicted\n* 1 fetch (flags (\\seen) x NIL)"),
    CASE("a brace ending status text is no literal",
	"a8 NO Mailbox doesn't exist: nope{5}\r\n+ {3}\r\n* BYE {2}\r\n"
	"a9 OK{0}\r\n* OKAY {0}\r\n x\r\n",
	"a8 NO Mailbox doesn't exist: nope{5}\n+ {3}\n* BYE {2}\n"
	"a9 OK {0}\n* OKAY {0}\r\n x"),
    CASE("a code that does not parse stays in the text",
	"* OK [UIDNEXT (4] broken\r\n* NO [ALERT unterminated\r\n"
	"* BAD [X \"a\\\"b\" (] t\r\n* NO [X \"a\\\"b\"] t\r\n",
	"* OK [UIDNEXT (4] broken\n* NO [ALERT unterminated\n"
	"* BAD [X \"a\\\"b\" (] t\n* NO [X \"a\\\"b\"] t"),
    CASE("empty, adjacent and LITERAL+ literals",
	"* 5 FETCH (X {0}\r\n Y a{3}\r\nabc Z {3+}\r\nxyz)\r\n",
	"* 5 FETCH (X {0}\r\n Y a {3}\r\nabc Z {3}\r\nxyz)"),
    CASE("unbalanced '(' then a good response",
	"* 1 FETCH (FLAGS (\\Seen)\r\na1 OK done\r\n",
	"INVALID *: unbalanced '('\na1 OK done"),
    CASE("unbalanced ')'", "* 1 FETCH (FLAGS ()))\r\na2 OK\r\n",
	"INVALID *: unbalanced ')'\na2 OK"),
    CASE("unterminated quote", "* LIST () \"/\" \"abc\r\na3 NO x\r\n",
	"INVALID *: unterminated quoted string\na3 NO x"),
    CASE("NUL bytes in lines",
	"* 1 FETCH (X\0Y)\r\na4 OK\r\na5 OK te\0xt\r\n+ \0\r\na6 OK\r\n",
	"INVALID *: NUL byte in line\na4 OK\nINVALID a5: NUL byte in line\n"
	"INVALID +: NUL byte in line\na6 OK"),
    CASE("invalid responses keep their literals framed",
	"* 1 FETCH (X \"abc {5}\r\nhel)\n)\r\na6 OK\r\n"
	"* 2 FETCH (Y\0 {3}\r\n)\r\n)\r\na7 OK\r\n",
	"INVALID *: unterminated quoted string\na6 OK\n"
	"INVALID *: NUL byte in line\na7 OK"),
    CASE("literal in the middle of a line", "* 1 FETCH (X {5} Y)\r\na7 OK\r\n",
	"INVALID *: literal not at the end of a line\na7 OK"),
    CASE("empty line, bad tag, nothing after the tag",
	"\r\na(1 OK x\r\n* \r\n*\r\na8 OK\r\n",
	"INVALID: empty line\nINVALID: bad tag\n"
	"INVALID *: nothing after the tag\nINVALID *: nothing after the tag\n"
	"a8 OK"),
};

/* The literal sink of the tests: a transcript of what it was given. */
enum sink_fail {
	FAIL_NONE,
	FAIL_OPEN,
	FAIL_WRITE,
	FAIL_CLOSE
};

struct sink_log {
	struct buf log; /* "<open N>bytes...<close>" */
	enum sink_fail fail;
	bool is_open;
	bool misuse; /* a callback came out of order */
};

static int
sk_open(void *arg, uint64_t size, struct str before)
{
	(void)before;
	struct sink_log *s = arg;

	if (s->is_open)
		s->misuse = true;
	s->is_open = true;
	if (buf_printf(&s->log, "<open %" PRIu64 ">", size) == -1)
		s->misuse = true;
	return s->fail == FAIL_OPEN ? -1 : 0;
}

static int
sk_write(void *arg, const char *data, size_t len)
{
	struct sink_log *s = arg;

	if (!s->is_open || len == 0 || buf_append(&s->log, data, len) == -1)
		s->misuse = true;
	return s->fail == FAIL_WRITE ? -1 : 0;
}

static int
sk_close(void *arg)
{
	struct sink_log *s = arg;

	if (!s->is_open || buf_puts(&s->log, "<close>") == -1)
		s->misuse = true;
	s->is_open = false;
	return s->fail == FAIL_CLOSE ? -1 : 0;
}

static uint32_t
xorshift(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

enum mode {
	WHOLE,
	BYTES,
	RANDOM
};

/* How much to feed next: everything, one byte, or a random piece. */
static size_t
chunk_len(enum mode mode, uint32_t *rng, size_t left)
{
	size_t max;

	if (mode == WHOLE)
		return left;
	if (mode == BYTES)
		return 1;
	max = xorshift(rng) % 4 == 0 || left < 16 ? left : 16;
	return 1 + xorshift(rng) % max;
}

static void
append_resp(struct buf *out, const struct imap_resp *r)
{
	if (out->len > 0)
		T_EQ_INT(buf_putc(out, '\n'), 0);
	T_EQ_INT(imap_resp_print(r, out), 0);
}

/*
 * Feed in[0..len) to a new parser in pieces chosen by mode; print each
 * response into out, then "FATAL kind" after a fatal error, or
 * "INCOMPLETE" when the input ends inside a response.
 */
static void
run(const char *in, size_t len, const struct imap_limits *lim,
    struct sink_log *sink, enum mode mode, uint32_t seed, struct buf *out)
{
	struct imap_parser *p = imap_parser_new(lim);
	struct imap_sink sk = {sk_open, sk_write, sk_close, sink};
	const struct imap_resp *resp;
	size_t off = 0, pending = 0, n, pos, used;
	struct err err;
	char *chunk;
	int r = 0;

	if (sink != NULL)
		imap_parser_set_sink(p, &sk);
	while (off < len && r != -1) {
		n = chunk_len(mode, &seed, len - off);
		chunk = xmalloc(n);
		memcpy(chunk, in + off, n);
		for (pos = 0; pos < n; pos += used) {
			r = imap_parser_feed(
			    p, chunk + pos, n - pos, &used, &resp, &err);
			if (r == -1)
				break;
			pending += used;
			if (r == 1) {
				append_resp(out, resp);
				pending = 0;
			} else {
				T_EQ_INT(used, n - pos);
			}
		}
		free(chunk);
		off += n;
	}
	if (r == -1)
		T_EQ_INT(buf_printf(out, "%sFATAL %s", out->len ? "\n" : "",
			     err_kind_name(err.kind)),
		    0);
	else if (pending > 0)
		T_EQ_INT(
		    buf_printf(out, "%sINCOMPLETE", out->len ? "\n" : ""), 0);
	imap_parser_free(p);
}

/*
 * Run in every way (whole, bytes, NSPLITS random splits) and check that
 * each prints want and gives the sink the same transcript.
 */
static void
check_all(const char *name, const char *in, size_t len,
    const struct imap_limits *lim, struct sink_log *sink, const char *want,
    size_t wantlen)
{
	struct buf out, first_log;
	unsigned i;

	buf_init(&out, BUF_NOMAX);
	buf_init(&first_log, BUF_NOMAX);
	for (i = 0; i < NSPLITS + 2; i++) {
		enum mode mode = i == 0 ? WHOLE : i == 1 ? BYTES : RANDOM;

		buf_reset(&out);
		if (sink != NULL) {
			buf_reset(&sink->log);
			sink->is_open = false;
		}
		run(in, len, lim, sink, mode, 0x9e3779b9u + i, &out);
		if (out.len != wantlen || memcmp(out.data, want, wantlen) != 0)
			printf("%s: fed %s\n", name,
			    i == 0   ? "whole"
			    : i == 1 ? "byte by byte"
				     : "in random pieces");
		T_EQ_MEM(out.data, out.len, want, wantlen);
		/* Where a write fails depends on the split. */
		if (sink == NULL || sink->fail == FAIL_WRITE)
			continue;
		T_ASSERT(!sink->misuse);
		if (i == 0)
			T_EQ_INT(buf_append(
				     &first_log, sink->log.data, sink->log.len),
			    0);
		T_EQ_MEM(sink->log.data, sink->log.len, first_log.data,
		    first_log.len);
	}
	buf_release(&out);
	buf_release(&first_log);
}

static void
test_table(void)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_all(cases[i].name, cases[i].in, cases[i].inlen, NULL,
		    NULL, cases[i].want, cases[i].wantlen);
}

/* Parse whole; return the printed text of all responses. */
static void
parse_print(const char *in, size_t len, struct buf *out)
{
	buf_reset(out);
	run(in, len, NULL, NULL, WHOLE, 1, out);
}

/* Print each valid response, parse that again, print it again. */
static void
test_round_trip(void)
{
	struct buf printed, again;
	size_t i, n = 0;

	buf_init(&printed, BUF_NOMAX);
	buf_init(&again, BUF_NOMAX);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct imap_parser *p = imap_parser_new(NULL);
		const char *in = cases[i].in, *end = in + cases[i].inlen;
		const struct imap_resp *r;
		struct err err;
		size_t used;

		while (in < end && imap_parser_feed(p, in, (size_t)(end - in),
				       &used, &r, &err) == 1) {
			in += used;
			if (r->kind == IMAP_RESP_INVALID)
				continue;
			buf_reset(&printed);
			T_EQ_INT(imap_resp_print(r, &printed), 0);
			T_EQ_INT(buf_puts(&printed, "\r\n"), 0);
			parse_print(printed.data, printed.len, &again);
			T_EQ_MEM(again.data, again.len, printed.data,
			    printed.len - 2);
			n++;
		}
		T_ASSERT(in == end);
		imap_parser_free(p);
	}
	T_ASSERT(n > 60);
	buf_release(&printed);
	buf_release(&again);
}

/* One input, limits and sink, checked in every way. */
static void
check(const char *in, const struct imap_limits *lim, struct sink_log *sink,
    const char *want)
{
	check_all(in, in, strlen(in), lim, sink, want, strlen(want));
}

static void
test_limit_line(void)
{
	struct imap_limits lim = imap_default_limits;

	lim.max_line = 20;
	check("* SEARCH 1 2 3 4 5\r\n", &lim, NULL, "* SEARCH 1 2 3 4 5");
	check("* SEARCH 1 2 3 4 56\r\n", &lim, NULL, "FATAL limit");
	/* A line that never ends fails as soon as it is too long. */
	check("* SEARCH 1 2 3 4 5678", &lim, NULL, "FATAL limit");
	check("* SEARCH 1 2 3 4 567", &lim, NULL, "INCOMPLETE");
	/* The limit is per response: literals do not count, lines add up. */
	lim.max_line = 13;
	check("* X {3}\r\nabc Y\r\n* X {3}\r\nabc Y\r\n", &lim, NULL,
	    "* X {3}\r\nabc Y\n* X {3}\r\nabc Y");
	lim.max_line = 12;
	check("* X {3}\r\nabc Y\r\n", &lim, NULL, "FATAL limit");
}

static void
test_limit_depth(void)
{
	struct imap_limits lim = imap_default_limits;

	lim.max_depth = 3;
	check("* X (((a)))\r\n* X ((((a))))\r\na1 OK\r\n", &lim, NULL,
	    "* X (((a)))\nINVALID *: lists nested too deep\na1 OK");
	check("* OK [X ((((a))))] t\r\n* OK [X (((a)))] t\r\n", &lim, NULL,
	    "INVALID *: lists nested too deep\n* OK [X (((a)))] t");
	lim.max_depth = 0;
	check("* X ()\r\n* SEARCH 1\r\n", &lim, NULL,
	    "INVALID *: lists nested too deep\n* SEARCH 1");
}

static void
test_limit_args(void)
{
	struct imap_limits lim = imap_default_limits;

	lim.max_args = 4;
	check("* SEARCH 1 2 3\r\n* SEARCH 1 2 3 4\r\n* X (a b)\r\n"
	      "* X (a b c)\r\na1 OK [A B C D E] x\r\na2 OK [A B C D E F] x\r\n",
	    &lim, NULL,
	    "* SEARCH 1 2 3\nINVALID *: too many arguments\n* X (a b)\n"
	    "INVALID *: too many arguments\na1 OK [A B C D E] x\n"
	    "INVALID a2: too many arguments");
}

static void
test_limit_literal(void)
{
	struct imap_limits lim = imap_default_limits;
	struct sink_log sink = {.fail = FAIL_NONE};

	buf_init(&sink.log, BUF_NOMAX);
	lim.max_literal = 100;
	lim.max_inline_lit = 10;
	check("* X {100}\r\n", &lim, &sink, "INCOMPLETE");
	T_EQ_STR(sink.log.data, "<open 100>");
	check("* X {101}\r\n", &lim, &sink, "FATAL limit");
	T_EQ_STR(sink.log.data, "");
	/* 2^63, and more than 64 bits: refused before any allocation. */
	check("* X {9223372036854775808}\r\n", NULL, &sink, "FATAL limit");
	check("* X ~{99999999999999999999}\r\n", NULL, &sink, "FATAL limit");
	T_EQ_STR(sink.log.data, "");
	lim.max_literal = UINT64_MAX;
	check("* X {18446744073709551616}\r\n", &lim, &sink, "FATAL limit");
	check("* X {18446744073709551615}\r\n", &lim, &sink, "INCOMPLETE");
	T_EQ_STR(sink.log.data, "<open 18446744073709551615>");
	check("* X {0000000000000000000000000003}\r\nabc\r\n", &lim, &sink,
	    "* X {3}\r\nabc");
	check("* X {}\r\n", &lim, &sink, "FATAL protocol");
	check("* X {+}\r\n", &lim, &sink, "FATAL protocol");
	buf_release(&sink.log);
}

static void
test_limit_inline(void)
{
	struct imap_limits lim = imap_default_limits;
	struct sink_log sink = {.fail = FAIL_NONE};
	const char *four = "* X {4}\r\nabcd {4}\r\nabcd {4}\r\nabcd {4}\r\n"
			   "abcd\r\n";
	const char *five = "* X {4}\r\nabcd {4}\r\nabcd {4}\r\nabcd {4}\r\n"
			   "abcd {4}\r\nabcd\r\n";

	lim.max_inline_lit = 4;
	check("* X {5}\r\nabcde\r\n", &lim, NULL, "FATAL limit");
	check("* X {4}\r\nabcd\r\n", &lim, NULL, "* X {4}\r\nabcd");
	/* Four times max_inline_lit per response fit in memory. */
	check(four, &lim, NULL,
	    "* X {4}\r\nabcd {4}\r\nabcd {4}\r\nabcd {4}\r\nabcd");
	check(five, &lim, NULL, "FATAL limit");
	buf_init(&sink.log, BUF_NOMAX);
	check(five, &lim, &sink,
	    "* X {4}\r\nabcd {4}\r\nabcd {4}\r\nabcd {4}\r\nabcd {4}");
	T_EQ_STR(sink.log.data, "<open 4>abcd<close>");
	buf_release(&sink.log);
}

static void
test_sink(void)
{
	static const char in[] = "* 1 FETCH (BODY[] {20}\r\nline {3}\r\n\r\n"
				 "more\0 \r\n X {3}\r\nabc Y {9}\r\n)\r\n\r\n"
				 "ab\r\n)\r\n* 2 FETCH (UID 2)\r\n";
	static const char want[] = "* 1 FETCH (BODY[] {20} X {3}\r\nabc Y "
				   "{9})\n* 2 FETCH (UID 2)";
	static const char log[] = "<open 20>line {3}\r\n\r\nmore\0 \r\n"
				  "<close><open 9>)\r\n\r\nab\r\n<close>";
	static const char body[] = "* 1 FETCH (BODY[] {20}\r\n"
				   "01234567890123456789)\r\n";
	struct imap_limits lim = imap_default_limits;
	struct sink_log sink = {.fail = FAIL_NONE};

	lim.max_inline_lit = 8;
	buf_init(&sink.log, BUF_NOMAX);
	check_all(
	    "sink", in, sizeof(in) - 1, &lim, &sink, want, sizeof(want) - 1);
	T_EQ_MEM(sink.log.data, sink.log.len, log, sizeof(log) - 1);
	/* Any callback failing is fatal, and no callback follows. */
	sink.fail = FAIL_OPEN;
	check(body, &lim, &sink, "FATAL system");
	T_EQ_STR(sink.log.data, "<open 20>");
	sink.fail = FAIL_WRITE;
	check(body, &lim, &sink, "FATAL system");
	T_ASSERT(strncmp(sink.log.data, "<open 20>0", 10) == 0);
	T_ASSERT(strstr(sink.log.data, "<close>") == NULL);
	sink.fail = FAIL_CLOSE;
	check(body, &lim, &sink, "FATAL system");
	T_EQ_STR(sink.log.data, "<open 20>01234567890123456789<close>");
	buf_release(&sink.log);
}

/* After a fatal error every feed fails the same way. */
static void
test_fatal_is_sticky(void)
{
	struct imap_limits lim = imap_default_limits;
	struct imap_parser *p;
	const struct imap_resp *r;
	struct err err;
	size_t used;

	lim.max_line = 8;
	p = imap_parser_new(&lim);
	T_EQ_INT(
	    imap_parser_feed(p, "* 1 EXISTS\r\n", 12, &used, &r, &err), -1);
	T_EQ_INT(err.kind, ERR_LIMIT);
	T_ASSERT(r == NULL);
	err_clear(&err);
	T_EQ_INT(imap_parser_feed(p, "a1 OK\r\n", 7, &used, &r, &err), -1);
	T_EQ_INT(err.kind, ERR_LIMIT);
	T_EQ_INT(used, 0);
	imap_parser_free(p);
	imap_parser_free(NULL);
}

/* One feed returns one response and says how far it read. */
static void
test_used_and_accessors(void)
{
	static const char in[] = "* 12 FETCH (UID 7 FLAGS (\\Seen) BODY[] NIL "
				 "\"q\\\"\\\\\" {2}\r\nhi)\r\na1 OK\r\n";
	struct imap_parser *p = imap_parser_new(NULL);
	const struct imap_resp *r;
	const struct imap_arg *list, *flags;
	size_t used, n, nflags;
	uint64_t v;
	struct str s;
	struct err err;

	T_EQ_INT(imap_parser_feed(p, in, sizeof(in) - 1, &used, &r, &err), 1);
	T_EQ_INT(used, sizeof(in) - 1 - 7);
	T_EQ_INT(r->kind, IMAP_RESP_UNTAGGED);
	T_EQ_INT(r->status, IMAP_STATUS_NONE);
	T_EQ_INT(r->nargs, 3);
	T_ASSERT(imap_arg_number(&r->args[0], UINT32_MAX, &v) && v == 12);
	T_ASSERT(!imap_arg_number(&r->args[0], 11, &v));
	T_ASSERT(imap_arg_is_atom(&r->args[1], "fetch"));
	T_ASSERT(!imap_arg_is_atom(&r->args[2], "FETCH"));
	T_ASSERT(imap_arg_list(&r->args[2], &list, &n) && n == 8);
	T_ASSERT(imap_arg_list(&list[3], &flags, &nflags) && nflags == 1);
	T_ASSERT(imap_arg_is_atom(&flags[0], "\\seen"));
	T_ASSERT(imap_arg_string(&list[4], &s) && str_eq_cstr(s, "BODY[]"));
	T_ASSERT(!imap_arg_string(&list[5], &s));
	T_ASSERT(imap_arg_nstring(&list[5], &s) && s.p == NULL && s.len == 0);
	T_ASSERT(imap_arg_string(&list[6], &s) && str_eq_cstr(s, "q\"\\"));
	T_EQ_INT(list[7].type, IMAP_ARG_LITERAL);
	T_ASSERT(imap_arg_nstring(&list[7], &s) && str_eq_cstr(s, "hi"));
	T_ASSERT(!imap_arg_list(&list[0], &flags, &nflags));
	T_ASSERT(!imap_arg_is_atom(NULL, "x"));
	T_ASSERT(!imap_arg_string(NULL, &s) && !imap_arg_nstring(NULL, &s));
	T_ASSERT(!imap_arg_number(NULL, 1, &v));
	T_ASSERT(!imap_arg_list(NULL, &flags, &nflags));
	T_EQ_INT(imap_parser_feed(p, in + used, 7, &used, &r, &err), 1);
	T_EQ_INT(used, 7);
	T_EQ_INT(r->kind, IMAP_RESP_TAGGED);
	T_EQ_INT(r->status, IMAP_STATUS_OK);
	T_ASSERT(str_eq_cstr(r->tag, "a1"));
	T_EQ_INT(r->text.len, 0);
	T_EQ_INT(imap_parser_feed(p, in, 0, &used, &r, &err), 0);
	T_EQ_INT(used, 0);
	T_ASSERT(r == NULL);
	imap_parser_free(p);
}

/* The fields of a status response. */
static void
test_status_fields(void)
{
	static const char in[] = "a7 no [COPYUID 38505 304,319:320 3956:3958] "
				 "Done [sort of\r\n";
	struct imap_parser *p = imap_parser_new(NULL);
	const struct imap_resp *r;
	size_t used;
	struct err err;

	T_EQ_INT(imap_parser_feed(p, in, sizeof(in) - 1, &used, &r, &err), 1);
	T_EQ_INT(r->kind, IMAP_RESP_TAGGED);
	T_EQ_INT(r->status, IMAP_STATUS_NO);
	T_ASSERT(str_eq_cstr(r->code, "COPYUID"));
	T_EQ_INT(r->ncode_args, 3);
	T_ASSERT(imap_arg_is_atom(&r->code_args[1], "304,319:320"));
	T_ASSERT(str_eq_cstr(r->text, "Done [sort of"));
	T_EQ_INT(r->nargs, 0);
	imap_parser_free(p);
}

/* Printing stops cleanly at the buffer's maximum. */
static void
test_print_bounded(void)
{
	static const char in[] = "* 1 FETCH (FLAGS (\\Seen))\r\n";
	struct imap_parser *p = imap_parser_new(NULL);
	const struct imap_resp *r;
	struct buf b;
	size_t used;
	struct err err;

	T_EQ_INT(imap_parser_feed(p, in, sizeof(in) - 1, &used, &r, &err), 1);
	buf_init(&b, 10);
	T_EQ_INT(buf_puts(&b, "ab"), 0);
	T_EQ_INT(imap_resp_print(r, &b), -1);
	T_EQ_STR(b.data, "ab");
	buf_release(&b);
	imap_parser_free(p);
}

static const struct t_case tests[] = {
    {"table: whole, bytes, random splits", test_table},
    {"parse, print, parse round trip", test_round_trip},
    {"max_line", test_limit_line},
    {"max_depth", test_limit_depth},
    {"max_args", test_limit_args},
    {"max_literal and literal sizes", test_limit_literal},
    {"max_inline_lit and the inline budget", test_limit_inline},
    {"sink", test_sink},
    {"fatal errors are sticky", test_fatal_is_sticky},
    {"used_out and accessors", test_used_and_accessors},
    {"status response fields", test_status_fields},
    {"print is bounded", test_print_bounded},
};

int
main(int argc, char **argv)
{
	return T_MAIN(tests);
}
