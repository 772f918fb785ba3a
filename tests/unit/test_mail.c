/*
 * Unit tests of mail building (src/notify/mime.c), .eml files and SMTP delivery
 * (src/adapters/eml.c, smtp.c).
 *
 * What a test built or a server stored is read back with Python's standard
 * `email` package (tests/lib/readmail.py, run with /usr/bin/python3), never
 * with our own code, so a message is checked by an independent decoder.
 *
 * The SMTP tests talk to a real server: Debian's python3-aiosmtpd, started
 * here on a free loopback port (/usr/bin/python3 -m aiosmtpd ... Mailbox DIR)
 * and killed when the test ends, also when it fails (teardown, atexit, and
 * PR_SET_PDEATHSIG should this process die). Without the module the tests fail
 * with a message saying how to install it; they never skip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "adapters/mail.h"
#include "notify/mime.h"
#include "util/crypto.h"

#define CAP (1024u * 1024u)

static const char SUBJECT[] =
    "eSignTrust 電子證書服務（政府機關） - 部門用戶電子證書續期《待續期》通知";
static const char FROM[] = "eSignTrust 電子認證服務 <noreply@esigntrust.com>";
static const char TEXT[] =
    "陳大文 先生／女士：\n"
    "\n"
    "閣下的電子證書（序號 4A3F00C1）將於 2026年12月24日 到期。貴部門已確認為閣下續期。\n"
    "請於到期前登入以下網址，完成身份核實及續期手續：\n"
    "https://renew.esigntrust.com/renew\n"
    "\n"
    "如有查詢，請致電 (853) 2833 6000。\n"
    "eSignTrust 電子認證服務\n";
static const char HTML[] =
    "<!doctype html><html><body><p>陳大文 先生／女士：</p>"
    "<p>閣下的電子證書將於 2026年12月24日 到期。</p>"
    "<p><a href=\"https://renew.esigntrust.com/renew\">https://renew.esigntrust.com/renew</a></p>"
    "</body></html>\n";

static char tmp_root[64];  /* mkdtemp'd; removed at exit */

#define PYTHON "/usr/bin/python3"

/* ------------------------------------------------------------ helpers */

static struct cr_mail
sample(void)
{
	return (struct cr_mail){
		.from = FROM,
		.reply_to = "help@esigntrust.com",
		.to = "chan.taiman@dsaj.gov.mo",
		.subject = SUBJECT,
		.text = TEXT,
		.html = HTML,
		.domain = "esigntrust.com",
		.date = 1795478400, /* 2026-11-24 00:00:00 UTC */
	};
}

/* Builds m into a fresh buffer (freed by the caller). */
static enum cr_err
build(const struct cr_mail *m, struct cr_buf *out, char *id, size_t idlen)
{
	cr_buf_init(out, CAP);
	return cr_mail_build(m, out, id, idlen);
}

/* Length of the header section (up to and including the empty line). */
static size_t
header_len(const char *msg)
{
	const char *e = strstr(msg, "\r\n\r\n");

	assert_non_null(e);
	return (size_t)(e - msg) + 4;
}

/* Every line ends in CRLF, has no bare CR or LF, and is at most max characters. */
static void
assert_lines(const char *p, size_t n, size_t max)
{
	size_t col = 0;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\r') {
			assert_true(i + 1 < n && p[i + 1] == '\n');
			if (col > max)
				fail_msg("line of %zu characters (max %zu): %.*s", col, max, (int)col, p + i - col);
			col = 0;
			i++;
			continue;
		}
		assert_true(p[i] != '\n');
		col++;
	}
	assert_int_equal(col, 0);  /* ends with CRLF */
}

/* Checks each RFC 2047 encoded-word in the header section on its own: at most
   75 characters, base64 of whole UTF-8 characters. Returns how many. */
static int
check_encoded_words(const char *hdr, size_t n)
{
	const char *p = hdr, *end = hdr + n;
	int count = 0;

	while ((p = memmem(p, (size_t)(end - p), "=?UTF-8?B?", 10)) != NULL) {
		const char *q = memmem(p + 10, (size_t)(end - p - 10), "?=", 2);
		unsigned char bin[128];
		size_t binlen = 0;

		assert_non_null(q);
		assert_true(q + 2 - p <= 75);
		assert_int_equal(sodium_base642bin(bin, sizeof(bin), p + 10, (size_t)(q - p - 10), NULL, &binlen,
		    NULL, sodium_base64_VARIANT_ORIGINAL), 0);
		{
			char s[129];

			memcpy(s, bin, binlen);
			s[binlen] = '\0';
			/* Whole characters only: a decoder showing each word alone must not see broken UTF-8. */
			struct cr_mail m = sample();

			m.subject = s;
			if (binlen > 0) {
				struct cr_buf b;

				assert_int_equal(build(&m, &b, NULL, 0), CR_OK);  /* build refuses invalid UTF-8 */
				cr_buf_free(&b);
			}
		}
		count++;
		p = q + 2;
	}
	return count;
}

/* The value of the first header "name: " (unfolded) into out. */
static void
header_value(const char *msg, const char *name, char *out, size_t outlen)
{
	size_t hl = header_len(msg), nl = strlen(name), o = 0;
	const char *p = msg;

	while (p < msg + hl) {
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			p += nl + 1;
			for (;;) {
				while (*p != '\r') {
					assert_true(o + 1 < outlen);
					out[o++] = *p++;
				}
				p += 2;
				if (*p != ' ' && *p != '\t')
					break;
			}
			out[o] = '\0';
			return;
		}
		p = strstr(p, "\r\n") + 2;
	}
	fail_msg("no %s header", name);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
rm_tmp_root(void)
{
	if (tmp_root[0] != '\0')
		nftw(tmp_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh directory path under tmp_root (not created). */
static void
tmp_path(char *out, size_t outlen, const char *name)
{
	static int seq;

	snprintf(out, outlen, "%s/%s-%d", tmp_root, name, ++seq);
}

static char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* The directory of this file (tests/unit), for the helpers beside it. */
static void
test_dir(char *out)
{
	char file[] = __FILE__;

	if (realpath(dirname(file), out) == NULL)
		fail_msg("cannot find the test sources (%s): run the tests from the repository root", __FILE__);
}

/*
 * msg (len bytes) as Python's email package reads it: the object that
 * tests/lib/readmail.py prints for it (headers, decoded, parts, text, html).
 * Fails the test when Python finds it defective. json_decref the result.
 */
static json_t *
readmail(const char *msg, size_t len)
{
	char dir[PATH_MAX], script[PATH_MAX + 32], path[PATH_MAX];
	int fd, pipefd[2], st;
	struct cr_buf out;
	json_t *all, *one;
	pid_t pid;

	test_dir(dir);
	snprintf(script, sizeof(script), "%s/../lib/readmail.py", dir);
	tmp_path(path, sizeof(path), "msg");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, msg, len), (ssize_t)len);
	close(fd);
	assert_int_equal(pipe(pipefd), 0);
	if ((pid = fork()) == 0) {
		dup2(pipefd[1], 1);
		close(pipefd[0]);
		close(pipefd[1]);
		unsetenv("LD_PRELOAD");
		execl(PYTHON, "python3", script, path, (char *)NULL);
		_exit(127);
	}
	assert_true(pid > 0);
	close(pipefd[1]);
	cr_buf_init(&out, 64u * 1024u * 1024u);
	for (;;) {
		char chunk[65536];
		ssize_t n = read(pipefd[0], chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		assert_int_equal(cr_buf_add(&out, chunk, (size_t)n), CR_OK);
	}
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	unlink(path);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("%s could not read the message (status %d; its reason is above)", script, st);
	all = json_loadb(cr_buf_str(&out), out.len, 0, NULL);
	cr_buf_free(&out);
	assert_non_null(all);
	one = json_incref(json_array_get(all, 0));
	json_decref(all);
	assert_true(json_is_object(one));
	return one;
}

/* The first decoded value of header name (lower case) in a readmail object, or NULL. */
static const char *
rm_header(const json_t *m, const char *name)
{
	return json_string_value(json_array_get(json_object_get(json_object_get(m, "decoded"), name), 0));
}

/* Reads msg back and checks it gives back subject, text and html (html NULL: none). */
static void
assert_decodes_to(const char *msg, size_t len, const char *subject, const char *text, const char *html)
{
	json_t *m = readmail(msg, len);
	const json_t *h = json_object_get(m, "html");

	assert_non_null(rm_header(m, "subject"));
	assert_string_equal(rm_header(m, "subject"), subject);
	assert_non_null(json_string_value(json_object_get(m, "text")));
	assert_string_equal(json_string_value(json_object_get(m, "text")), text);
	if (html == NULL) {
		assert_true(json_is_null(h));
	} else {
		assert_non_null(json_string_value(h));
		assert_string_equal(json_string_value(h), html);
	}
	json_decref(m);
}

/* ------------------------------------------------------------ composition */

static void
test_roundtrip_chinese(void **state)
{
	struct cr_mail m = sample();
	struct cr_buf b;
	char id[256];

	(void)state;
	assert_int_equal(build(&m, &b, id, sizeof(id)), CR_OK);
	assert_decodes_to(b.data, b.len, SUBJECT, TEXT, HTML);
	/* The fixed headers. */
	assert_non_null(strstr(b.data, "Date: Tue, 24 Nov 2026 00:00:00 +0000\r\n"));
	assert_true(strncmp(b.data, "Date: ", 6) == 0);
	assert_non_null(strstr(b.data, "\r\nTo: chan.taiman@dsaj.gov.mo\r\n"));
	assert_non_null(strstr(b.data, "\r\nReply-To: help@esigntrust.com\r\n"));
	assert_non_null(strstr(b.data, "\r\nMIME-Version: 1.0\r\n"));
	assert_non_null(strstr(b.data, " <noreply@esigntrust.com>\r\n"));
	assert_non_null(strstr(b.data, "Content-Type: text/plain; charset=UTF-8\r\n"));
	assert_non_null(strstr(b.data, "Content-Type: text/html; charset=UTF-8\r\n"));
	/* No raw 8-bit byte anywhere: the message is 7-bit clean. */
	for (size_t i = 0; i < b.len; i++)
		assert_true((unsigned char)b.data[i] < 0x80);
	/* The Message-ID: "<random@domain>", as in the header. */
	assert_true(id[0] == '<' && id[strlen(id) - 1] == '>');
	assert_non_null(strstr(id, "@esigntrust.com>"));
	{
		char hv[512], want[300];

		header_value(b.data, "Message-ID", hv, sizeof(hv));
		snprintf(want, sizeof(want), " %s", id);
		assert_string_equal(hv, want);
	}
	cr_buf_free(&b);
}

static void
test_from_display_name(void **state)
{
	struct cr_mail m = sample();
	struct cr_buf b;
	char hv[512];

	(void)state;
	assert_int_equal(build(&m, &b, NULL, 0), CR_OK);
	header_value(b.data, "From", hv, sizeof(hv));
	/* Encoded (non-ASCII name), decodable, then the address. */
	assert_true(strncmp(hv, " =?UTF-8?B?", 11) == 0);
	{
		json_t *r = readmail(b.data, b.len);

		assert_string_equal(rm_header(r, "from"), FROM);
		json_decref(r);
	}
	cr_buf_free(&b);

	/* ASCII atext names stay readable; specials get encoded; a bare address stays bare. */
	m.from = "eSignTrust Notices <noreply@esigntrust.com>";
	assert_int_equal(build(&m, &b, NULL, 0), CR_OK);
	assert_non_null(strstr(b.data, "\r\nFrom: eSignTrust Notices <noreply@esigntrust.com>\r\n"));
	cr_buf_free(&b);
	m.from = "eSignTrust (HK), \"Ltd\" <noreply@esigntrust.com>";
	assert_int_equal(build(&m, &b, NULL, 0), CR_OK);
	header_value(b.data, "From", hv, sizeof(hv));
	assert_true(strncmp(hv, " =?UTF-8?B?", 11) == 0);
	cr_buf_free(&b);
	m.from = "noreply@esigntrust.com";
	assert_int_equal(build(&m, &b, NULL, 0), CR_OK);
	assert_non_null(strstr(b.data, "\r\nFrom: noreply@esigntrust.com\r\n"));
	cr_buf_free(&b);
}

static void
test_header_lines(void **state)
{
	struct cr_mail m = sample();
	struct cr_buf b;
	size_t hl;
	int words;

	(void)state;
	assert_int_equal(build(&m, &b, NULL, 0), CR_OK);
	hl = header_len(b.data);
	assert_lines(b.data, hl, 78);
	words = check_encoded_words(b.data, hl);
	assert_true(words >= 3);  /* subject folded into several words, plus the From name */
	/* Folded: a Subject continuation line exists. */
	{
		const char *s = strstr(b.data, "\r\nSubject:");

		assert_non_null(s);
		assert_true(strncmp(strstr(s + 2, "\r\n") + 2, " =?UTF-8?B?", 11) == 0);
	}
	/* Body lines too (base64 at 76). */
	assert_lines(b.data + hl, b.len - hl, 76);
	cr_buf_free(&b);
}

static void
test_long_mixed_subject(void **state)
{
	static const char *const subjects[] = {
	    "Renewal 續期 notice 通知 for certificate 電子證書 4A3F00C1 expiring 到期 on 2026-12-24; "
	    "please 請 log in 登入 at https://renew.esigntrust.com/renew before 之前 the date 日期 – thank you 多謝 🙏🏻 "
	    "(ref. ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyz 0123456789)",
	    /* 4-byte characters at every offset of a word. */
	    "𝐀𝐁𝐂𝐃𝐄𝐅𝐆𝐇𝐈𝐉𝐊𝐋𝐌𝐍𝐎𝐏𝐐𝐑𝐒𝐓𝐔𝐕𝐖𝐗𝐘𝐙 a𝐀𝐁𝐂𝐃𝐄𝐅𝐆𝐇𝐈𝐉𝐊𝐋𝐌𝐍𝐎𝐏𝐐𝐑𝐒𝐓𝐔𝐕𝐖𝐗𝐘𝐙 ab𝐀𝐁𝐂𝐃𝐄𝐅𝐆𝐇𝐈𝐉𝐊𝐋𝐌𝐍𝐎𝐏𝐐𝐑𝐒𝐓𝐔",
	    /* Plain ASCII, long: folded at spaces, given back exactly. */
	    "A long plain ASCII subject that certainly does not fit on one line of seventy-eight characters "
	    "and so must be folded, perhaps twice, without losing a single character of it",
	    /* ASCII that must be encoded: leading, doubled and trailing spaces, and an encoded-word look-alike. */
	    " two  spaces and =?UTF-8?B?SGk=?= literally ",
	    "x",
	    "",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(subjects) / sizeof(subjects[0]); i++) {
		struct cr_mail m = sample();
		struct cr_buf b;
		size_t hl;

		m.subject = subjects[i];
		assert_int_equal(build(&m, &b, NULL, 0), CR_OK);
		hl = header_len(b.data);
		assert_lines(b.data, hl, 78);
		check_encoded_words(b.data, hl);
		assert_decodes_to(b.data, b.len, subjects[i], TEXT, HTML);
		cr_buf_free(&b);
	}
}

static void
test_injection_refused(void **state)
{
	static const char *const bad_addr[] = {"", "a", "a b@c.d", "<a@b.cd>", "a@b@c.d", "a,b@c.d", "a;b@c.d",
	    "@b.cd", "a@", "a@.bc", "a@bc.", "a..b@c.d", ".a@b.cd", "a.@b.cd", "ä@b.cd", "a@b_c.d", "a@-b.cd",
	    "a@b-.cd", "\"a\"@b.cd", "a@[127.0.0.1]", "a(b)@c.d", "a\\b@c.d", "a@b.cd\n", "a@b.cd\r\nBcc: x@y.z"};
	struct cr_mail m;
	struct cr_buf b;

	(void)state;
	for (size_t i = 0; i < sizeof(bad_addr) / sizeof(bad_addr[0]); i++) {
		m = sample();
		m.to = bad_addr[i];
		assert_int_equal(build(&m, &b, NULL, 0), CR_ERR_INVALID);
		assert_int_equal(b.len, 0);  /* nothing half-written */
		m = sample();
		m.reply_to = bad_addr[i];
		assert_int_equal(build(&m, &b, NULL, 0), CR_ERR_INVALID);
		m = sample();
		{
			char from[128];

			snprintf(from, sizeof(from), "Name <%s>", bad_addr[i]);
			m.from = from;
			assert_int_equal(build(&m, &b, NULL, 0), CR_ERR_INVALID);
		}
	}
	m = sample();
	m.subject = "Renewal\r\nBcc: everyone@example.com";
	assert_int_equal(build(&m, &b, NULL, 0), CR_ERR_INVALID);
	m.subject = "Renewal\nBcc: everyone@example.com";
	assert_int_equal(build(&m, &b, NULL, 0), CR_ERR_INVALID);
	m.subject = "Renewal\rX";
	assert_int_equal(build(&m, &b, NULL, 0), CR_ERR_INVALID);
	m.subject = "tab\there";
	assert_int_equal(build(&m, &b, NULL, 0), CR_ERR_INVALID);
	m.subject = "bad \xe9\x9b utf-8";
	assert_int_equal(build(&m, &b, NULL, 0), CR_ERR_INVALID);
	m.subject = "overlong \xc0\xaf";
	assert_int_equal(build(&m, &b, NULL, 0), CR_ERR_INVALID);
	m = sample();
	m.to = "chan@dsaj.gov.mo\n";
	assert_int_equal(build(&m, &b, NULL, 0), CR_ERR_INVALID);
	m = sample();
	m.from = "Evil\r\nBcc: x@y.z <noreply@esigntrust.com>";
	assert_int_equal(build(&m, &b, NULL, 0), CR_ERR_INVALID);
	m.from = "Name <noreply@esigntrust.com";
	assert_int_equal(build(&m, &b, NULL, 0), CR_ERR_INVALID);
	m.from = "Name noreply@esigntrust.com>";
	assert_int_equal(build(&m, &b, NULL, 0), CR_ERR_INVALID);
	m = sample();
	m.domain = "esigntrust.com>\r\nX: y";
	assert_int_equal(build(&m, &b, NULL, 0), CR_ERR_INVALID);
	m.domain = "esign trust.com";
	assert_int_equal(build(&m, &b, NULL, 0), CR_ERR_INVALID);
	m = sample();
	m.text = "bad \xff body";
	assert_int_equal(build(&m, &b, NULL, 0), CR_ERR_INVALID);
	m = sample();
	m.html = "\xed\xa0\x80 surrogate";
	assert_int_equal(build(&m, &b, NULL, 0), CR_ERR_INVALID);
	m = sample();
	m.to = NULL;
	assert_int_equal(build(&m, &b, NULL, 0), CR_ERR_INVALID);
	m = sample();
	m.subject = NULL;
	assert_int_equal(build(&m, &b, NULL, 0), CR_ERR_INVALID);
	cr_buf_free(&b);

	/* Plausible addresses pass. */
	{
		static const char *const good[] = {"a@b", "chan.tai-man+renew@dsaj.gov.mo", "x_y@a-b.c-d.mo",
		    "o'brien@example.ie", "1@2.3"};

		for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
			m = sample();
			m.to = good[i];
			assert_int_equal(build(&m, &b, NULL, 0), CR_OK);
			cr_buf_free(&b);
		}
	}
}

static void
test_single_part(void **state)
{
	struct cr_mail m = sample();
	struct cr_buf b;
	size_t hl;

	(void)state;
	m.html = NULL;
	m.reply_to = NULL;
	assert_int_equal(build(&m, &b, NULL, 0), CR_OK);
	assert_null(strstr(b.data, "multipart"));
	assert_null(strstr(b.data, "Reply-To:"));
	hl = header_len(b.data);
	assert_non_null(memmem(b.data, hl, "\r\nContent-Type: text/plain; charset=UTF-8\r\n", 43));
	assert_non_null(memmem(b.data, hl, "\r\nContent-Transfer-Encoding: base64\r\n", 37));
	assert_lines(b.data, hl, 78);
	assert_lines(b.data + hl, b.len - hl, 76);
	assert_decodes_to(b.data, b.len, SUBJECT, TEXT, NULL);
	cr_buf_free(&b);

	/* An empty body and odd line ends: \r\n and lone \r come back as \n. */
	m.text = "";
	assert_int_equal(build(&m, &b, NULL, 0), CR_OK);
	assert_decodes_to(b.data, b.len, SUBJECT, "", NULL);
	cr_buf_free(&b);
	m.text = "a\r\nb\rc\n\nd";
	assert_int_equal(build(&m, &b, NULL, 0), CR_OK);
	assert_decodes_to(b.data, b.len, SUBJECT, "a\nb\nc\n\nd", NULL);
	cr_buf_free(&b);
}

static void
test_boundary(void **state)
{
	struct cr_mail m = sample();
	struct cr_buf b;
	char ct[256], boundary[128], delim[140];
	const char *p, *body;
	size_t hl, n = 0;

	(void)state;
	m.text = "";  /* an empty part too */
	assert_int_equal(build(&m, &b, NULL, 0), CR_OK);
	header_value(b.data, "Content-Type", ct, sizeof(ct));
	p = strstr(ct, "boundary=\"");
	assert_non_null(p);
	snprintf(boundary, sizeof(boundary), "%s", p + 10);
	assert_non_null(strchr(boundary, '"'));
	*strchr(boundary, '"') = '\0';
	assert_true(strlen(boundary) >= 20 && strlen(boundary) <= 70);
	hl = header_len(b.data);
	body = b.data + hl;
	/* The boundary occurs only in the three delimiter lines: never inside a part. */
	snprintf(delim, sizeof(delim), "--%s", boundary);
	for (p = body; (p = strstr(p, boundary)) != NULL; p++) {
		assert_true(p >= body + 2 && p[-1] == '-' && p[-2] == '-');
		assert_true(p == body + 2 || (p[-3] == '\n' && p[-4] == '\r'));
		assert_true(strncmp(p + strlen(boundary), "\r\n", 2) == 0 || strncmp(p + strlen(boundary), "--\r\n", 4) == 0);
		n++;
	}
	assert_int_equal(n, 3);
	assert_lines(body, b.len - hl, 76);
	assert_decodes_to(b.data, b.len, SUBJECT, "", HTML);
	cr_buf_free(&b);

	/* Two messages: two boundaries and two Message-IDs. */
	{
		struct cr_buf b1, b2;
		char id1[128], id2[128], ct2[256];

		m = sample();
		assert_int_equal(build(&m, &b1, id1, sizeof(id1)), CR_OK);
		assert_int_equal(build(&m, &b2, id2, sizeof(id2)), CR_OK);
		assert_string_not_equal(id1, id2);
		header_value(b1.data, "Content-Type", ct, sizeof(ct));
		header_value(b2.data, "Content-Type", ct2, sizeof(ct2));
		assert_string_not_equal(ct, ct2);
		cr_buf_free(&b1);
		cr_buf_free(&b2);
	}
}

static void
test_base64_lines(void **state)
{
	struct cr_mail m = sample();
	struct cr_buf b;
	char *big;
	size_t n = 100 * 1000, hl;

	(void)state;
	/* A long body of 3-byte characters and newlines, so chunks straddle both. */
	big = malloc(n + 1);
	assert_non_null(big);
	for (size_t i = 0; i < n;) {
		if (i % 97 == 0 && i + 1 <= n) {
			big[i++] = '\n';
		} else if (i + 3 <= n) {
			memcpy(big + i, "續", 3);
			i += 3;
		} else {
			big[i++] = 'x';
		}
	}
	big[n] = '\0';
	m.text = big;
	assert_int_equal(build(&m, &b, NULL, 0), CR_OK);
	hl = header_len(b.data);
	assert_lines(b.data + hl, b.len - hl, 76);
	assert_decodes_to(b.data, b.len, SUBJECT, big, HTML);
	cr_buf_free(&b);

	/* A cap smaller than the message: CR_ERR_TOOBIG and out untouched. */
	cr_buf_init(&b, 1000);
	assert_int_equal(cr_mail_build(&m, &b, NULL, 0), CR_ERR_TOOBIG);
	assert_int_equal(b.len, 0);
	cr_buf_free(&b);
	free(big);

	/* A message-id buffer too small. */
	{
		char id[8];

		m = sample();
		assert_int_equal(build(&m, &b, id, sizeof(id)), CR_ERR_TOOBIG);
		cr_buf_free(&b);
	}
}

/* ------------------------------------------------------------ .eml files */

static void
test_write_eml(void **state)
{
	static const char *const bad[] = {"", "../x", "a/b", ".hidden", "a b", "x\n", "名", "a:b",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
	struct cr_mail m = sample();
	struct cr_buf b;
	char dir[PATH_MAX], path[PATH_MAX + 32];
	struct stat st;
	size_t len;
	char *got;
	DIR *d;
	struct dirent *e;
	int files = 0;

	(void)state;
	assert_int_equal(build(&m, &b, NULL, 0), CR_OK);
	tmp_path(dir, sizeof(dir), "var");
	strncat(dir, "/mail", sizeof(dir) - strlen(dir) - 1);  /* two levels that do not exist yet */
	assert_int_equal(cr_mail_write_eml(dir, "00000001", b.data, b.len), CR_OK);
	snprintf(path, sizeof(path), "%s/00000001.eml", dir);
	got = read_file(path, &len);
	assert_int_equal(len, b.len);
	assert_memory_equal(got, b.data, len);
	free(got);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	assert_int_equal(stat(dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0027, 0);  /* 0750 or tighter under the umask */
	/* Rewriting replaces the file whole. */
	assert_int_equal(cr_mail_write_eml(dir, "00000001", "short", 5), CR_OK);
	got = read_file(path, &len);
	assert_int_equal(len, 5);
	free(got);
	assert_int_equal(cr_mail_write_eml(dir, "n-2_x.y", b.data, b.len), CR_OK);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cr_mail_write_eml(dir, bad[i], b.data, b.len), CR_ERR_INVALID);
	/* A directory that cannot be created. */
	assert_int_equal(cr_mail_write_eml("/proc/certrenew-no", "x", "y", 1), CR_ERR_IO);
	/* Only the two files: no temporary left behind. */
	d = opendir(dir);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			files++;
	closedir(d);
	assert_int_equal(files, 2);
	cr_buf_free(&b);
}

/* ------------------------------------------------------------ SMTP against aiosmtpd */

static pid_t server_pid = -1;
static int server_port;
static char server_dir[PATH_MAX], server_log[PATH_MAX + 16];

static void
kill_server(void)
{
	int st;

	if (server_pid <= 0)
		return;
	kill(server_pid, SIGTERM);
	for (int i = 0; i < 200; i++) {  /* 2 s, then no more asking */
		if (waitpid(server_pid, &st, WNOHANG) == server_pid) {
			server_pid = -1;
			return;
		}
		usleep(10000);
	}
	kill(server_pid, SIGKILL);
	waitpid(server_pid, &st, 0);
	server_pid = -1;
}

static int
teardown_server(void **state)
{
	(void)state;
	kill_server();
	return 0;
}

/* A loopback port nobody listens on right now. */
static int
free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static bool
port_accepts(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool ok;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static void
print_server_log(void)
{
	FILE *f = fopen(server_log, "r");
	char line[512];

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL)
		fprintf(stderr, "    aiosmtpd: %s", line);
	fclose(f);
}

/* Whether /usr/bin/python3 can import aiosmtpd. */
static bool
have_aiosmtpd(void)
{
	pid_t pid;
	int st;

	if (access(PYTHON, X_OK) != 0)
		return false;
	if ((pid = fork()) == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		dup2(null, 2);
		execl(PYTHON, "python3", "-c", "import aiosmtpd", (char *)NULL);
		_exit(127);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/*
 * Starts aiosmtpd with handler class cls storing into a fresh Maildir
 * (server_dir, created by the server) on a free port (server_port); returns
 * once the port accepts connections, at most 10 s later.
 */
static void
start_server(const char *cls)
{
	char listen[32], srcdir[PATH_MAX];
	struct timespec t0, t;

	if (!have_aiosmtpd())
		fail_msg("%s cannot import aiosmtpd: the SMTP tests need a real server. "
		    "Install it with `apt-get install python3-aiosmtpd` (or `make deps`).", PYTHON);
	test_dir(srcdir);
	server_port = free_port();
	tmp_path(server_dir, sizeof(server_dir), "maildir");
	snprintf(server_log, sizeof(server_log), "%s.log", server_dir);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", server_port);
	server_pid = fork();
	assert_true(server_pid >= 0);
	if (server_pid == 0) {
		int log = open(server_log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		/* Dies with us, whatever kills us. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(1);
		if (log >= 0) {
			dup2(log, 1);
			dup2(log, 2);
		}
		setenv("PYTHONPATH", srcdir, 1);
		unsetenv("LD_PRELOAD");
		execl(PYTHON, "python3", "-m", "aiosmtpd", "-n", "-l", listen, "-c", cls, server_dir, (char *)NULL);
		_exit(127);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int st;

		if (waitpid(server_pid, &st, WNOHANG) == server_pid) {
			server_pid = -1;
			print_server_log();
			fail_msg("aiosmtpd exited at start (status %d); its output is above", st);
		}
		if (port_accepts(server_port))
			return;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec >= 10) {
			print_server_log();
			fail_msg("aiosmtpd did not accept connections on %s within 10 s", listen);
		}
		usleep(20000);
	}
}

static struct cr_smtp *
session(int port, long timeout_ms)
{
	struct cr_smtp_config cfg = {
		.envelope_from = "bounces@esigntrust.com",
		.helo_domain = "certrenew.test",
		.timeout_ms = timeout_ms,
	};
	char url[64];
	struct cr_smtp *s = NULL;

	snprintf(url, sizeof(url), "smtp://127.0.0.1:%d", port);
	cfg.url = url;
	assert_int_equal(cr_smtp_new(&cfg, &s), CR_OK);
	assert_non_null(s);
	return s;
}

/* Reads every message of the Maildir's new/ into msgs (at most max); returns how many. */
static size_t
read_maildir(char **msgs, size_t *lens, size_t max)
{
	char path[PATH_MAX + 8], f[PATH_MAX * 2];
	DIR *d;
	struct dirent *e;
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/new", server_dir);
	d = opendir(path);
	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		assert_true(n < max);
		snprintf(f, sizeof(f), "%s/%s", path, e->d_name);
		msgs[n] = read_file(f, &lens[n]);
		n++;
	}
	closedir(d);
	return n;
}

/* The X-Peer header aiosmtpd adds: "('127.0.0.1', PORT)", the client's address and port. */
static void
peer_of(const char *msg, char *out, size_t outlen)
{
	const char *p = strstr(msg, "\nX-Peer: ");
	size_t n;

	assert_non_null(p);
	p += 9;
	n = strcspn(p, "\r\n");
	assert_true(n < outlen);
	memcpy(out, p, n);
	out[n] = '\0';
}

static void
test_smtp_delivers_three_on_one_connection(void **state)
{
	struct cr_smtp *s;
	char *msgs[8], peer0[64], peer[64], errbuf[256];
	size_t lens[8], n;
	bool seen[3] = {false, false, false};

	(void)state;
	start_server("aiosmtpd.handlers.Mailbox");
	s = session(server_port, 5000);
	for (int i = 0; i < 3; i++) {
		struct cr_mail m = sample();
		struct cr_buf b;
		char subject[256], text[1024];

		snprintf(subject, sizeof(subject), "%s #%d", SUBJECT, i + 1);
		snprintf(text, sizeof(text), "%s第 %d 封\n", TEXT, i + 1);
		m.subject = subject;
		m.text = text;
		assert_int_equal(build(&m, &b, NULL, 0), CR_OK);
		if (cr_smtp_send(s, m.to, b.data, b.len, errbuf, sizeof(errbuf)) != CR_OK)
			fail_msg("send %d: %s", i + 1, errbuf);
		cr_buf_free(&b);
	}
	n = read_maildir(msgs, lens, 8);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++) {
		json_t *r = readmail(msgs[i], lens[i]);
		const char *sub = rm_header(r, "subject");
		int k;

		assert_non_null(sub);
		k = sub[strlen(sub) - 1] - '1';
		assert_true(k >= 0 && k < 3 && !seen[k]);
		seen[k] = true;
		{
			char subject[256], text[1024];

			snprintf(subject, sizeof(subject), "%s #%d", SUBJECT, k + 1);
			snprintf(text, sizeof(text), "%s第 %d 封\n", TEXT, k + 1);
			assert_string_equal(sub, subject);
			assert_string_equal(json_string_value(json_object_get(r, "text")), text);
			assert_string_equal(json_string_value(json_object_get(r, "html")), HTML);
		}
		json_decref(r);
		assert_non_null(strstr(msgs[i], "\nX-MailFrom: bounces@esigntrust.com\n"));
		assert_non_null(strstr(msgs[i], "\nX-RcptTo: chan.taiman@dsaj.gov.mo\n"));
		/* One TCP connection: the same client port for all three. */
		peer_of(msgs[i], i == 0 ? peer0 : peer, sizeof(peer));
		if (i > 0)
			assert_string_equal(peer, peer0);
		free(msgs[i]);
	}
	cr_smtp_free(s);
}

static void
test_smtp_refusals(void **state)
{
	struct cr_mail m = sample();
	struct cr_smtp *s;
	struct cr_buf b;
	char errbuf[256], *msgs[4];
	size_t lens[4];

	(void)state;
	start_server("smtp_peer.Refuser");
	s = session(server_port, 5000);
	m.html = NULL;
	m.subject = "secret-subject-words";
	assert_int_equal(build(&m, &b, NULL, 0), CR_OK);

	assert_int_equal(cr_smtp_send(s, "gone@dsaj.gov.mo", b.data, b.len, errbuf, sizeof(errbuf)), CR_ERR_DENIED);
	assert_non_null(strstr(errbuf, "RCPT"));
	assert_non_null(strstr(errbuf, "550"));
	assert_null(strstr(errbuf, "secret"));
	assert_int_equal(cr_smtp_send(s, "busy@dsaj.gov.mo", b.data, b.len, errbuf, sizeof(errbuf)), CR_ERR_REMOTE);
	assert_non_null(strstr(errbuf, "451"));
	assert_int_equal(cr_smtp_send(s, "spam@dsaj.gov.mo", b.data, b.len, errbuf, sizeof(errbuf)), CR_ERR_DENIED);
	assert_non_null(strstr(errbuf, "554"));
	assert_null(strstr(errbuf, "secret"));
	/* The session recovers after refusals. */
	assert_int_equal(cr_smtp_send(s, "ok@dsaj.gov.mo", b.data, b.len, errbuf, sizeof(errbuf)), CR_OK);
	assert_int_equal(cr_smtp_send(s, "ok2@dsaj.gov.mo", b.data, b.len, NULL, 0), CR_OK);
	/* A bad recipient never reaches the server (SMTP command injection). */
	assert_int_equal(cr_smtp_send(s, "x@y.z>\r\nRSET", b.data, b.len, errbuf, sizeof(errbuf)), CR_ERR_INVALID);
	assert_int_equal(cr_smtp_send(s, "a b@c.d", b.data, b.len, errbuf, sizeof(errbuf)), CR_ERR_INVALID);
	cr_smtp_free(s);
	assert_int_equal(read_maildir(msgs, lens, 4), 2);
	free(msgs[0]);
	free(msgs[1]);

	/* STARTTLS required but not offered: transient (a configuration problem, not the message's). */
	{
		struct cr_smtp_config cfg = {.envelope_from = "b@esigntrust.com", .require_starttls = true,
		    .timeout_ms = 5000};
		char url[64];

		snprintf(url, sizeof(url), "smtp://127.0.0.1:%d", server_port);
		cfg.url = url;
		assert_int_equal(cr_smtp_new(&cfg, &s), CR_OK);
		assert_int_equal(cr_smtp_send(s, "ok@dsaj.gov.mo", b.data, b.len, errbuf, sizeof(errbuf)), CR_ERR_REMOTE);
		cr_smtp_free(s);
	}
	cr_buf_free(&b);
}

static double
now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void
test_smtp_down(void **state)
{
	struct cr_smtp *s = session(free_port(), 2000);
	char errbuf[256];
	double t0 = now_s();

	(void)state;
	assert_int_equal(cr_smtp_send(s, "a@b.cd", "Subject: x\r\n\r\nx\r\n", 17, errbuf, sizeof(errbuf)), CR_ERR_REMOTE);
	assert_true(now_s() - t0 < 2.0);
	assert_true(errbuf[0] != '\0');
	cr_smtp_free(s);
}

static void
test_smtp_timeout(void **state)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct cr_smtp *s;
	char errbuf[256];
	double t0, dt;

	(void)state;
	/* Listens but never greets: the connection completes in the backlog and hangs. */
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	s = session(ntohs(a.sin_port), 600);
	t0 = now_s();
	assert_int_equal(cr_smtp_send(s, "a@b.cd", "Subject: x\r\n\r\nx\r\n", 17, errbuf, sizeof(errbuf)), CR_ERR_REMOTE);
	dt = now_s() - t0;
	assert_true(dt >= 0.5 && dt < 3.0);
	t0 = now_s();
	cr_smtp_free(s);
	assert_true(now_s() - t0 < 3.0);
	close(fd);
}

static void
test_smtp_config(void **state)
{
	static const char *const bad_urls[] = {"http://127.0.0.1:25", "smtp://", "smtp://host/path",
	    "smtp://user@host", "smtp://ho st", "127.0.0.1:25", "smtps://h:465/x/y"};
	struct cr_smtp_config cfg = {.url = "smtp://127.0.0.1:25", .envelope_from = "b@esigntrust.com"};
	struct cr_smtp *s = (struct cr_smtp *)&cfg;

	(void)state;
	for (size_t i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++) {
		cfg.url = bad_urls[i];
		assert_int_equal(cr_smtp_new(&cfg, &s), CR_ERR_CONFIG);
		assert_null(s);
	}
	cfg.url = "smtp://127.0.0.1:25/";
	assert_int_equal(cr_smtp_new(&cfg, &s), CR_OK);
	cr_smtp_free(s);
	cfg.envelope_from = "b@e>\r\nRSET";
	assert_int_equal(cr_smtp_new(&cfg, &s), CR_ERR_CONFIG);
	cfg.envelope_from = "b@esigntrust.com";
	cfg.helo_domain = "bad helo";
	assert_int_equal(cr_smtp_new(&cfg, &s), CR_ERR_CONFIG);
	cfg.helo_domain = NULL;
	/* AUTH in clear is refused; with STARTTLS or smtps it is accepted. */
	cfg.username = "user";
	cfg.password = "pw";
	assert_int_equal(cr_smtp_new(&cfg, &s), CR_ERR_CONFIG);
	cfg.require_starttls = true;
	assert_int_equal(cr_smtp_new(&cfg, &s), CR_OK);
	cr_smtp_free(s);
	cfg.require_starttls = false;
	cfg.url = "smtps://127.0.0.1:465";
	assert_int_equal(cr_smtp_new(&cfg, &s), CR_OK);
	cr_smtp_free(s);
	cr_smtp_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_chinese),
		cmocka_unit_test(test_from_display_name),
		cmocka_unit_test(test_header_lines),
		cmocka_unit_test(test_long_mixed_subject),
		cmocka_unit_test(test_injection_refused),
		cmocka_unit_test(test_single_part),
		cmocka_unit_test(test_boundary),
		cmocka_unit_test(test_base64_lines),
		cmocka_unit_test(test_write_eml),
		cmocka_unit_test_teardown(test_smtp_delivers_three_on_one_connection, teardown_server),
		cmocka_unit_test_teardown(test_smtp_refusals, teardown_server),
		cmocka_unit_test(test_smtp_down),
		cmocka_unit_test(test_smtp_timeout),
		cmocka_unit_test(test_smtp_config),
	};
	int rc;

	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	snprintf(tmp_root, sizeof(tmp_root), "/tmp/cr_test_mail_XXXXXX");
	if (mkdtemp(tmp_root) == NULL)
		return 1;
	atexit(rm_tmp_root);
	atexit(kill_server);  /* runs first: the server goes before its directory */
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
