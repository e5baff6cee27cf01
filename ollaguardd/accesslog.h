/*
 * accesslog: one line per request, in a combined-like text format or
 * as JSON lines.  Never a key, the query string or a URL's userinfo
 * (they may carry secrets); what a client sent is escaped, so it can
 * never forge a field.
 */
#ifndef ACCESSLOG_H
#define ACCESSLOG_H

#include <stddef.h>
#include <stdint.h>

/* A line never exceeds this: each field's share is bounded. */
#define ACCESSLOG_LINE_MAX	8192
/* The most bytes of a target (before escaping) a line shows. */
#define ACCESSLOG_PATH_MAX	512

struct config;
struct timespec;

struct access_entry {
	const char	*client;
	const char	*key;		/* "master", "open", "-" or NULL */
	int64_t		 key_id;	/* when key is NULL */
	const char	*key_name;	/* "" when none */
	const char	*method;
	const char	*target;	/* the query is cut off here */
	size_t		 target_len;
	int		 http_minor;
	int		 status;	/* 0: no response was sent */
	uint64_t	 bytes_in;
	uint64_t	 bytes_out;
	int64_t		 duration_us;
	int64_t		 ttfb_us;	/* -1: no upstream byte */
	const char	*fail;		/* "-" when the request succeeded */
	const char	*upstream;	/* several upstreams: the box, or NULL */
	int		 retries;	/* other boxes tried before it */
	int		 metered;	/* forwarded: the usage fields hold */
	const char	*model;		/* "" when unknown */
	int64_t		 prompt_tokens;
	int64_t		 completion_tokens;
	int64_t		 load_us;	/* Ollama's load_duration; -1: none */
};

/* Opens the log as configured; -1 with a message if the file fails. */
int	accesslog_open(const struct config *);
/* Reopens the file (logrotate); keeps the old one if that fails. */
void	accesslog_reopen(void);
void	accesslog_write(const struct access_entry *);
/*
 * 1 when access lines land where the daemon's own messages do (both on
 * standard error, or both in syslog): a refused request's access line
 * then is its one line, and the fail2ban filter reads it.
 */
int	accesslog_beside_messages(void);
/* Formats e's line (combined, or JSON if as_json), newline included,
 * into line; its length, or 0 if it does not fit.  For the fuzzer. */
size_t	accesslog_format(char *, size_t, const struct access_entry *,
	    int as_json, const struct timespec *);
void	accesslog_close(void);

#endif
