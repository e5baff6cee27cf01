/*
 * reply: responses the daemon writes whole: errors, /key/generate.
 * Each is formatted into one buffer and sent with one call.
 */
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "jsonesc.h"
#include "reply.h"

const char *
reply_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 417: return "Expectation Failed";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

static int	reply_typed(struct client *, int, const char *, const char *,
		    size_t, const char *, int);

static int
reply_send(struct client *c, int status, const char *body, size_t len,
    const char *hdrs, int close)
{
	return reply_typed(c, status, "application/json", body, len, hdrs,
	    close);
}

static int
reply_typed(struct client *c, int status, const char *ctype,
    const char *body, size_t len, const char *hdrs, int close)
{
	char head[1024];
	int n;

	/* The response of a request that is the connection's last must say
	 * so, whatever made it the last. */
	close = close || client_closing(c);
	n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\n"
	    "Content-Type: %s\r\n"
	    "Content-Length: %zu\r\n"
	    "%s%s\r\n", status, reply_reason(status), ctype, len,
	    hdrs != NULL ? hdrs : "",
	    close ? "Connection: close\r\n" :
	    c->req.http_minor == 0 ? "Connection: keep-alive\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(head))
		return -1;
	struct iovec iov[2] = {
		{ head, (size_t)n },
		{ (void *)(uintptr_t)body, len },
	};
	/* HEAD gets the head a GET would, Content-Length included. */
	return client_sendv(c, iov, c->req.method_id == HTTP_HEAD ? 1 : 2);
}

int
reply_error_hdrs(struct client *c, int status, const char *msg,
    const char *hdrs, int close)
{
	char body[1024];
	size_t n;

	n = (size_t)snprintf(body, sizeof(body), "{\"error\":\"");
	n += jsonesc(body + n, sizeof(body) - n - 3, msg, strlen(msg));
	n += (size_t)snprintf(body + n, sizeof(body) - n, "\"}");
	return reply_send(c, status, body, n, hdrs, close);
}

int
reply_error(struct client *c, int status, const char *msg, int close)
{
	return reply_error_hdrs(c, status, msg, NULL, close);
}

int
reply_json(struct client *c, int status, const char *body, size_t len,
    int close)
{
	return reply_send(c, status, body, len, NULL, close);
}

int
reply_body(struct client *c, int status, const char *ctype,
    const char *body, size_t len, int close)
{
	return reply_typed(c, status, ctype, body, len, NULL, close);
}

void
reply_fail(struct client *c, struct outcome *o, int status, const char *msg,
    const char *fail)
{
	o->status = status;
	o->fail = fail;
	o->close = o->close || client_closing(c);
	if (reply_error(c, status, msg, o->close) == -1)
		o->close = 1;
}
