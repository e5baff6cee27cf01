/*
 * xfer: the state of one forwarded request, shared by proxy.c (which
 * starts it and turns its end into an outcome), exchange.c (which moves
 * its bytes over the upstream connection) and xfer.c (what is done with
 * them: the response head checked and rebuilt, body bytes relayed, the
 * request body read).  Internal to the proxy: nothing else includes it.
 */
#ifndef XFER_H
#define XFER_H

#include <curl/curl.h>
#include <llhttp.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "modellist.h"
#include "request.h"
#include "upstreams.h"

struct client;
struct proxy_req;
struct upconn;

#define RESP_HEAD_MAX	(32 * 1024)
#define REPLAY_MAX	(64 * 1024)
#define GONE_CHECK_MS	250
#define HEAD_HOLD_MS	200
#define EXPOSE_MAX	(UPSTREAM_NAME_MAX + 32)
#define XFER_IO_MAX	(64 * 1024)
/* The request head: the client's, the box's prefix, Host, Basic auth. */
#define REQ_HEAD_MAX	(REQUEST_HEAD_MAX + 4 * CONFIG_URL_MAX + 1024)

/* Why a forwarded request failed, for the log. */
enum proxy_fail {
	PF_NONE = 0,
	PF_CLIENT_GONE,
	PF_CLIENT_SLOW,		/* stopped reading for --send-timeout */
	PF_CLIENT_BODY,
	PF_UPSTREAM_REFUSED,
	PF_UPSTREAM_TIMEOUT,
	PF_UPSTREAM_BAD
};

/*
 * Everything one forwarded request knows.  It is cleared with one
 * assignment per request, so nothing can leak into the next one, and
 * handed to every libcurl callback as its userdata.  The large buffers
 * live beside it (struct xbufs) and are valid only up to the lengths
 * kept here.
 */
struct xfer {
	struct client	*c;
	int		 is_head;
	int		 status;
	int		 head_pending;	/* head built, not yet sent */
	int		 head_sent;
	int		 chunked_out;	/* we chunk the body to the client */
	int		 close_after;	/* close-delimited, or upstream said */
	int		 done_headers;
	int64_t		 head_ready_ms;
	enum proxy_fail	 fail;
	const char	*fail_msg;
	int64_t		 last_rx_ms;
	int64_t		 start_us;
	int64_t		 ttfb_us;
	int64_t		 last_gone_ms;
	int		 last_queued;	/* unsent bytes on the upstream socket */

	size_t		 rawlen;	/* upstream's head so far in raw */
	size_t		 linestart;	/* where its current line starts */
	size_t		 headlen;	/* head for the client in head */

	/* The exchange with upstream (exchange.c). */
	struct upconn	*up;
	llhttp_t	 parser;	/* frames the response's body */
	int		 got_bytes;	/* any byte of a response came */
	int		 body_sent;	/* the request body went out whole */
	int		 sent_any;	/* body bytes went out */
	int		 msg_done;	/* the response ended */
	int		 up_keep;	/* the connection may serve again */
	int		 framed_up;	/* a request body follows the head */
	int		 chunked_up;	/* we chunk it to upstream */
	int		 have_early;	/* early_n came before the body went */
	ssize_t		 early_n;	/* bytes in xfer_bufs.in, 0 or error */
	const char	*detail;	/* what went wrong, for the log */

	/* The start of the request body, kept so a retry can resend it. */
	size_t		 replay_len;
	size_t		 replay_pos;
	int		 replay_ok;
	int		 replaying;

	/* The caller's body and list filter (proxy_req), if any. */
	const struct proxy_req *pr;
	size_t		 body_pos;
	int		 listing;	/* collect the answer in list */
	struct modellist list;		/* freed by proxy_forward */

	/* With several boxes: a 502 or 503 is held back in list, for the
	 * caller to try another box; the box's name goes in the head. */
	int		 may_hold;
	int		 holding;
	const char	*expose;

	long		 limit_ms;	/* silence limit for this request */
};

struct xbufs {
	char		 raw[RESP_HEAD_MAX];
	char		 head[RESP_HEAD_MAX + 256 + EXPOSE_MAX];
	char		 replay[REPLAY_MAX];
	char		 req[REQ_HEAD_MAX];
	/* Room for a chunk's size line before a body piece, CRLF after. */
	char		 out[24 + XFER_IO_MAX + 2];
	char		 in[XFER_IO_MAX];
};

/* The large buffers, one set per worker, beside the one struct xfer. */
extern struct xbufs	xfer_bufs;

const char	*xfer_fail_name(enum proxy_fail);
/* Sends the pending response head alone; -1 if the client is gone. */
int		 xfer_send_head(struct xfer *);
/*
 * Upstream's response bytes up to the end of its final head: collected
 * into raw, checked line by line, 1xx heads skipped.  Returns how many
 * bytes of data were taken (the rest is body), or -1 with the xfer's
 * fail set.  done_headers says when the head is complete.
 */
ssize_t		 xfer_head(struct xfer *, const char *data, size_t len);
/* A piece of the response body, decoded: kept, filtered or relayed.
 * 0, or -1 with the xfer's fail set. */
int		 xfer_body(struct xfer *, const char *, size_t);
/* Body bytes to the client, with the pending head and the chunk framing
 * in one sendmsg.  0, or -1 with the xfer's fail set. */
int		 xfer_relay(const char *, size_t, void *);
/* The next piece of the request body into buf: bytes, 0 at its end, or
 * -1 (PF_CLIENT_BODY).  Its first REPLAY_MAX bytes are kept. */
ssize_t		 xfer_body_in(struct xfer *, char *buf, size_t room);
/* Starts the request body again from its first byte, for a new
 * connection; -1 if it cannot be (more than REPLAY_MAX went out). */
int		 xfer_rewind(struct xfer *);
/* A head built and held for the body's first bytes, which goes alone
 * HEAD_HOLD_MS after it was ready (a HEAD's, a list's and a held 502's
 * never go alone). */
int		 xfer_head_held(const struct xfer *);
/* What a wait on upstream checks when it ends without bytes: the held
 * head, upstream silence, the client gone.  0, or -1 with fail set. */
int		 xfer_tick(struct xfer *);

/* exchange.c: one request and its response on the box xf->up.  CURLE_OK,
 * or what went wrong as libcurl would say it (a connect error, nothing
 * or part of a response, CURLE_ABORTED_BY_CALLBACK with the fail set). */
CURLcode	 exchange_run(struct xfer *, const char *head, size_t headlen);
/* Its parts, apart for the fuzzer: a new response parser, and
 * upstream's bytes as they come (its head first, then the body through
 * llhttp; msg_done at its end).  -1 when the response is refused or its
 * relay failed (fail set). */
void		 exchange_begin(struct xfer *);
int		 exchange_take(struct xfer *, const char *, size_t);

#endif
