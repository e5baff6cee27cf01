/*
 * reply: responses the daemon writes whole: errors, /key/generate.
 * Each is copied into one buffer and sent with one call.
 */
#include <stddef.h>
#include <string.h>

#include "client.h"
#include "jsonesc.h"
#include "reply.h"

const char *
reply_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 308: return "Permanent Redirect";
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

/* Appends len bytes of s at *p if they fit before end: 0, else -1. */
static int
put(char **p, const char *end, const char *s, size_t len)
{
	if (len > (size_t)(end - *p))
		return -1;
	memcpy(*p, s, len);
	*p += len;
	return 0;
}

static int
puts0(char **p, const char *end, const char *s)
{
	return s == NULL ? 0 : put(p, end, s, strlen(s));
}

/* The decimal digits of v, at the end of buf[21]; returns where. */
static const char *
digits(char *buf, size_t v, size_t *len)
{
	char *d = buf + 21;

	do
		*--d = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	*len = (size_t)(buf + 21 - d);
	return d;
}

/*
 * The head is copied together, not formatted: every refusal and every
 * daemon-made answer goes through here.
 */
int
reply_body(struct client *c, int status, const char *ctype, const char *body,
    size_t len, const char *hdrs, int close)
{
	char head[2048], num[21], code[4];
	const char *end = head + sizeof(head), *d;
	char *p = head;
	size_t dl;

	/* The response of a request that is the connection's last must say
	 * so, whatever made it the last. */
	close = close || client_closing(c);
	if (status < 100 || status > 999)
		status = 500;
	code[0] = (char)('0' + status / 100);
	code[1] = (char)('0' + status / 10 % 10);
	code[2] = (char)('0' + status % 10);
	code[3] = ' ';
	d = digits(num, len, &dl);
	if (put(&p, end, "HTTP/1.1 ", 9) || put(&p, end, code, 4) ||
	    puts0(&p, end, reply_reason(status)) ||
	    put(&p, end, "\r\nContent-Type: ", 16) || puts0(&p, end, ctype) ||
	    put(&p, end, "\r\nContent-Length: ", 18) ||
	    put(&p, end, d, dl) || put(&p, end, "\r\n", 2) ||
	    puts0(&p, end, hdrs) || puts0(&p, end, c->xhdrs) ||
	    puts0(&p, end, close ? "Connection: close\r\n" :
	    c->req.http_minor == 0 ? "Connection: keep-alive\r\n" : NULL) ||
	    put(&p, end, "\r\n", 2))
		return -1;
	struct iovec iov[2] = {
		{ head, (size_t)(p - head) },
		{ (void *)(uintptr_t)body, len },
	};
	/* HEAD gets the head a GET would, Content-Length included. */
	return client_sendv(c, iov, c->req.method_id == HTTP_HEAD ? 1 : 2);
}

static int
reply_send(struct client *c, int status, const char *body, size_t len,
    const char *hdrs, int close)
{
	return reply_body(c, status, "application/json", body, len, hdrs,
	    close);
}

int
reply_error_hdrs(struct client *c, int status, const char *msg,
    const char *hdrs, int close)
{
	char body[1024];
	size_t n;

	memcpy(body, "{\"error\":\"", 10);
	n = 10 + jsonesc(body + 10, sizeof(body) - 10 - 3, msg, strlen(msg));
	memcpy(body + n, "\"}", 3);
	return reply_send(c, status, body, n + 2, hdrs, close);
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
