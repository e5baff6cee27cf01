/*
 * fuzz_response: an upstream's response as a worker reads it: its head
 * collected and checked line by line (xfer_head), rebuilt for the
 * client, and its body framed by llhttp in response mode
 * (exchange_take), then the end of the connection (llhttp_finish).
 *
 * An input is a control byte and then the response.  Bit 0 of the
 * control byte makes the request a HEAD, bit 1 the client HTTP/1.0;
 * the other bits seed the sizes of the pieces the response is cut into
 * (as recv(2) would), and it is also fed whole.  The body is collected
 * (the model-list mode, which sends nothing to a client).
 *
 * What is promised: the same outcome whole and in pieces (refused or
 * not and why, the status, the head and the message complete, the body
 * bytes); never more body bytes than the input had; a rebuilt head
 * that starts "HTTP/1.1 ", ends at its one blank line, carries no
 * control byte but tab and no bare CR or LF, and frames the body itself
 * (no Transfer-Encoding of upstream's, one framing at most).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "proxy.h"
#include "xfer.h"

#include "fuzz.h"

struct result {
	int		 refused;
	const char	*why;
	int		 status;
	int		 done_headers;
	int		 msg_done;
	char		*body;
	size_t		 bodylen;
};

static struct client	 c;
static struct xfer	 xf;
static struct proxy_req	 pr = { .list_max = 1 << 20 };

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	client_init(&c);
	return 0;
}

/* The rebuilt head for the client, as promised above. */
static void
check_head(void)
{
	const char *h = xfer_bufs.head, *end = h + xf.headlen, *p;
	int framing = 0;

	FUZZ_CHECK(xf.headlen >= 13 && memcmp(h, "HTTP/1.1 ", 9) == 0);
	FUZZ_CHECK(memcmp(end - 4, "\r\n\r\n", 4) == 0);
	for (p = h; p < end; p++) {
		FUZZ_CHECK((unsigned char)*p >= 0x20 || *p == '\t' ||
		    (*p == '\r' && p[1] == '\n') || (*p == '\n' && p > h &&
		    p[-1] == '\r'));
		FUZZ_CHECK(*p != 0x7f);
		if (p + 4 <= end && memcmp(p, "\r\n\r\n", 4) == 0)
			FUZZ_CHECK(p + 4 == end);
	}
	for (p = h; (p = memmem(p, (size_t)(end - p), "\r\n", 2)) != NULL;
	    p += 2) {
		if ((size_t)(end - p) > 20 &&
		    strncasecmp(p + 2, "transfer-encoding:", 18) == 0) {
			FUZZ_CHECK(strncmp(p + 2, "Transfer-Encoding: chunked"
			    "\r\n", 28) == 0 && xf.chunked_out);
			framing++;
		}
		if ((size_t)(end - p) > 17 &&
		    strncasecmp(p + 2, "content-length:", 15) == 0)
			framing++;
	}
	FUZZ_CHECK(framing <= 1);
}

static void
run(const char *data, size_t len, size_t step, int head, int minor,
    struct result *out)
{
	size_t off, n;
	int rc = 0;

	c.req.method_id = head ? HTTP_HEAD : HTTP_GET;
	c.req.http_minor = minor;
	c.req.keepalive = 1;
	xf = (struct xfer){
		.c = &c,
		.is_head = head,
		.pr = &pr,
		.listing = 1,
		.replay_ok = 1,
	};
	exchange_begin(&xf);
	for (off = 0; off < len && rc == 0 && !xf.msg_done; off += n) {
		n = step == 0 ? len : step + off % 7;
		if (n > len - off)
			n = len - off;
		rc = exchange_take(&xf, data + off, n);
	}
	if (rc == 0 && xf.done_headers && !xf.msg_done)
		(void)llhttp_finish(&xf.parser);
	if (xf.done_headers && rc == 0)
		check_head();
	out->refused = rc == -1;
	out->why = xf.fail_msg;
	out->status = xf.status;
	out->done_headers = xf.done_headers;
	out->msg_done = xf.msg_done;
	out->body = xf.list.buf;
	out->bodylen = xf.list.len;
	FUZZ_CHECK(out->bodylen <= len);
	memset(&xf.list, 0, sizeof(xf.list));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct result whole, cut;
	const char *resp = (const char *)data + 1;
	size_t len = size - 1;

	if (size < 1)
		return 0;
	run(resp, len, 0, data[0] & 1, data[0] & 2 ? 0 : 1, &whole);
	run(resp, len, 1 + (data[0] >> 2), data[0] & 1, data[0] & 2 ? 0 : 1,
	    &cut);
	FUZZ_CHECK(whole.refused == cut.refused);
	FUZZ_CHECK(whole.status == cut.status);
	FUZZ_CHECK(whole.done_headers == cut.done_headers);
	FUZZ_CHECK(whole.msg_done == cut.msg_done);
	if (!whole.refused) {
		FUZZ_CHECK(whole.bodylen == cut.bodylen);
		FUZZ_CHECK(whole.bodylen == 0 ||
		    memcmp(whole.body, cut.body, whole.bodylen) == 0);
	} else
		FUZZ_CHECK((whole.why == NULL) == (cut.why == NULL));
	free(whole.body);
	free(cut.body);
	return 0;
}
