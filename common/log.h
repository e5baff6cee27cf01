/*
 * log: the one way both programs report.  Foreground processes write to
 * stderr, daemons to syslog.  No key and no key hash is ever passed here.
 */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>

#define LOG_LEVEL_ERROR	0
#define LOG_LEVEL_WARN	1
#define LOG_LEVEL_INFO	2
#define LOG_LEVEL_DEBUG	3

void	log_init(const char *ident, int to_stderr, int level);
void	log_setlevel(int level);
/* From now on, log to syslog with this facility (LOG_DAEMON, ...). */
void	log_syslog(int facility);
/* 1 when messages go to standard error, 0 when to syslog. */
int	log_on_stderr(void);
int	log_level_parse(const char *name);
/* The syslog facility (LOG_DAEMON, ...) called name, or -1. */
int	log_facility_parse(const char *name);
void	log_setprefix(const char *prefix);

/* log_warn appends strerror(errno); the x variants do not. */
void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
