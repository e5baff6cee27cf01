/*
 * meter: the token counts of one response, read from its tail.  The
 * proxy hands every body chunk to meter_feed as it relays it; nothing
 * is held back from the client.  meter_finish then reads the last line
 * or event of the bounded tail: Ollama's final object of /api/generate,
 * /api/chat (streamed as NDJSON or not) and /api/embed, an
 * OpenAI-compatible JSON answer's "usage", or the SSE chunk carrying
 * "usage" ("data: [DONE]" is skipped).
 */
#ifndef METER_H
#define METER_H

#include <stddef.h>
#include <stdint.h>

/* The tail kept: at least this much, at most twice as much. */
#define METER_TAIL		65536
#define METER_MODEL_MAX		128

struct meter {
	char		 buf[2 * METER_TAIL];
	size_t		 len;
	uint64_t	 total;		/* bytes fed */
	int		 off;		/* encoded body: not read */
};

struct meter_result {
	int		 found;		/* 0: unmetered */
	char		 model[METER_MODEL_MAX];	/* "" when absent */
	int64_t		 prompt;
	int64_t		 completion;
	int64_t		 load_duration_ns;
};

/*
 * Starts a response.  content_encoding is the upstream's
 * Content-Encoding header (NULL when absent): a body that is not
 * identity-encoded is not read at all and comes out unmetered.
 */
void	meter_begin(struct meter *, const char *content_encoding);
/* A body chunk as relayed (transfer-decoded); never fails. */
void	meter_feed(struct meter *, const void *, size_t);
/* Reads the tail into r; returns r->found. */
int	meter_finish(struct meter *, struct meter_result *r);

#endif
