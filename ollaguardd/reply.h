/*
 * reply: the small, complete responses the daemon makes itself.  Every
 * one is JSON, {"error": "..."} for errors, in Ollama's error shape.
 */
#ifndef REPLY_H
#define REPLY_H

#include <stddef.h>
#include <stdint.h>

struct client;

/*
 * What became of one request, whoever answered it (serve, admin or
 * proxy): one convention for the access log and for the connection.
 */
struct outcome {
	int		 status;	/* sent to the client; 0 if none */
	int		 close;		/* 1: the connection must close */
	const char	*fail;		/* why it failed, for the log: "-" */
	int64_t		 ttfb_us;	/* first upstream byte; -1 if none */
};

/*
 * Sends status with {"error": msg}; the response says Connection:
 * close when close is set or the connection closes anyway.  To HEAD,
 * the same head with no body.  Each returns 0, or -1 if the client is
 * gone.
 */
int	reply_error(struct client *, int status, const char *msg, int close);
/* Like reply_error, with extra header lines (each ending in \r\n). */
int	reply_error_hdrs(struct client *, int status, const char *msg,
	    const char *hdrs, int close);
/* Sends status with body as the JSON body. */
int	reply_json(struct client *, int status, const char *body, size_t len,
	    int close);
/* Sends status with body of type ctype. */
int	reply_body(struct client *, int status, const char *ctype,
	    const char *body, size_t len, int close);
/* Answers with an error and records it in o (status, close, fail). */
void	reply_fail(struct client *, struct outcome *o, int status,
	    const char *msg, const char *fail);
const char *reply_reason(int status);

#endif
