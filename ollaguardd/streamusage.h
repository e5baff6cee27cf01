/*
 * streamusage: the setting "openai-stream-usage = add".  An
 * OpenAI-compatible stream carries token counts only when the client
 * asked with stream_options.include_usage; with the setting on, the
 * proxy asks on the client's behalf (streamusage_request) and takes the
 * extra chunk back out of what the client sees (the filter), so such a
 * client gets exactly the bytes it would have got, and the request is
 * still metered.
 */
#ifndef STREAMUSAGE_H
#define STREAMUSAGE_H

#include <stddef.h>

/* Whether a request path (query allowed) is one the setting applies
 * to: /v1/chat/completions and /v1/completions. */
int	streamusage_path(const char *path, size_t len);

/*
 * Given a request body, returns 1 and a new body in *out (malloc'd,
 * *outlen bytes; the caller frees it) with stream_options.include_usage
 * set to true, when the body is a JSON object with "stream": true and
 * without include_usage true: the client did not ask, and the stream
 * must then go through a filter.  Returns 0 when the body is to go as
 * it is (not streamed, or the client asked itself), -1 when it is not a
 * JSON object or repeats a member (it goes as it is, unmetered).
 */
int	streamusage_request(const char *body, size_t len, char **out,
	    size_t *outlen);

/* What the filter holds of an event not yet complete, at most. */
#define STREAMUSAGE_HOLD	16384

/*
 * The filter over the response body of a request rewritten above:
 * drops the SSE event whose data is an object with "choices": [] and a
 * "usage" object, and passes every other byte unchanged and in order.
 * Only the part of an event not yet terminated by its blank line is
 * held back; an event longer than STREAMUSAGE_HOLD is passed on
 * without being examined (the usage chunk is a few hundred bytes).
 */
struct streamusage_filter {
	char	 hold[STREAMUSAGE_HOLD];
	size_t	 len;
	int	 eols;		/* line ends in a row */
	int	 pass;		/* the current event is too long to hold */
	int	 dropped;	/* the usage chunk was taken out */
};

/* emit returns 0, or -1 to stop the filter (the client is gone). */
typedef int	(*streamusage_emit)(const char *, size_t, void *);

void	streamusage_begin(struct streamusage_filter *);
/* 0, or -1 if emit failed. */
int	streamusage_feed(struct streamusage_filter *, const char *, size_t,
	    streamusage_emit, void *);
/* Passes on whatever is held at the end of the body. */
int	streamusage_end(struct streamusage_filter *, streamusage_emit,
	    void *);

#endif
