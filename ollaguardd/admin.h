/*
 * admin: the daemon's own endpoint, POST /key/generate.
 */
#ifndef ADMIN_H
#define ADMIN_H

#include <stdint.h>

struct auth_who;
struct client;
struct config;

void	admin_init(const struct config *);
/* 1 if a master key is configured, without which keys are not made. */
int	admin_enabled(void);
/* 1 if the request is for the daemon itself. */
int	admin_match(const struct client *);
/* Answers it; returns the status sent (0 if none), sets *close. */
int	admin_generate(struct client *, int auth, const struct auth_who *,
	    int *close);

#endif
