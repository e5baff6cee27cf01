/*
 * accesslog: one line per request, in a combined-like text format or
 * as JSON lines.  Never a key, and never the query string (it may carry
 * secrets).
 */
#ifndef ACCESSLOG_H
#define ACCESSLOG_H

#include <stddef.h>
#include <stdint.h>

struct config;

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
};

/* Opens the log as configured; -1 with a message if the file fails. */
int	accesslog_open(const struct config *);
/* Reopens the file (logrotate); keeps the old one if that fails. */
void	accesslog_reopen(void);
void	accesslog_write(const struct access_entry *);
void	accesslog_close(void);

#endif
