/*
 * reqcheck: what fuzz_request checks of a parsed request, against the
 * rules request.c promises to enforce, read from RFC 9110 and 9112
 * rather than from request.c: each check fails with FUZZ_CHECK.
 */
#ifndef REQCHECK_H
#define REQCHECK_H

#include <stddef.h>

#include "request.h"

/* An accepted head: buf[0, pos) is the head as it sits in the buffer
 * the parser read. */
void	reqcheck_head(const struct request *, const char *buf, size_t pos);
/* A refused request: a status a client may get and a reason. */
void	reqcheck_refused(const struct request *);
/* Two parses of the same head agree. */
void	reqcheck_same(const struct request *, const struct request *);

#endif
