/*
 * admin: the daemon's own endpoint, POST /key/generate.
 */
#ifndef ADMIN_H
#define ADMIN_H

#include <stdint.h>

#include "auth.h"

struct client;
struct config;
struct outcome;

void	admin_init(const struct config *);
/* 1 if a master key is configured, without which keys are not made. */
int	admin_enabled(void);
/* 1 if the request is for the daemon itself. */
int	admin_match(const struct client *);
/* Answers it, with a, the result of authenticating its key. */
void	admin_generate(struct client *, enum auth_result a,
	    const struct auth_who *, struct outcome *);

#endif
