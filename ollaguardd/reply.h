/*
 * reply: the small, complete responses the daemon makes itself.  Every
 * one is JSON, {"error": "..."} for errors, in Ollama's error shape.
 */
#ifndef REPLY_H
#define REPLY_H

#include <stddef.h>

struct client;

/*
 * Sends status with {"error": msg}; with close, says Connection: close.
 * Each returns 0, or -1 if the client is gone.
 */
int	reply_error(struct client *, int status, const char *msg, int close);
/* Like reply_error, with extra header lines (each ending in \r\n). */
int	reply_error_hdrs(struct client *, int status, const char *msg,
	    const char *hdrs, int close);
/* Sends status with body as the JSON body. */
int	reply_json(struct client *, int status, const char *body, size_t len,
	    int close);
const char *reply_reason(int status);

#endif
