/*
 * xfer: the state of one forwarded request and the libcurl callbacks
 * that move its bytes, shared by proxy.c (which arms the easy handle and
 * runs the transfer) and xfer.c (the callbacks).  Internal to the proxy:
 * nothing else includes it.
 */
#ifndef XFER_H
#define XFER_H

#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>

#include "modellist.h"
#include "upstreams.h"

struct client;
struct proxy_req;

#define RESP_HEAD_MAX	(32 * 1024)
#define REPLAY_MAX	(64 * 1024)
#define GONE_CHECK_MS	250
#define HEAD_HOLD_MS	200
#define EXPOSE_MAX	(UPSTREAM_NAME_MAX + 32)

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
	curl_off_t	 last_dl, last_ul;
	int		 last_queued;	/* unsent bytes on the upstream socket */

	size_t		 rawlen;	/* upstream header lines in raw */
	size_t		 headlen;	/* head for the client in head */

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

	CURL		*curl;		/* the worker's easy handle */
	long		 limit_ms;	/* silence limit for this request */
};

struct xbufs {
	char		 raw[RESP_HEAD_MAX];
	char		 head[RESP_HEAD_MAX + 256 + EXPOSE_MAX];
	char		 replay[REPLAY_MAX];
};

/* The large buffers, one set per worker, beside the one struct xfer. */
extern struct xbufs	xfer_bufs;

const char	*xfer_fail_name(enum proxy_fail);
/* Sends the pending response head alone; -1 if the client is gone. */
int		 xfer_send_head(struct xfer *);
size_t		 xfer_header_cb(char *, size_t, size_t, void *);
size_t		 xfer_write_cb(char *, size_t, size_t, void *);
/* Body bytes to the client, with the pending head and the chunk framing
 * in one sendmsg.  0, or -1 with the xfer's fail set. */
int		 xfer_relay(const char *, size_t, void *);
size_t		 xfer_read_cb(char *, size_t, size_t, void *);
int		 xfer_seek_cb(void *, curl_off_t, int);
int		 xfer_progress_cb(void *, curl_off_t, curl_off_t, curl_off_t,
		    curl_off_t);

#endif
