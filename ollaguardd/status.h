/*
 * status: the admin API's GET /admin/api/status, read from the
 * scoreboard and the health table without a lock: the version and
 * uptime, the settings that matter (no secret), the pool by state, what
 * each busy worker serves, and the upstream boxes.
 */
#ifndef STATUS_H
#define STATUS_H

struct config;
struct json_t;

void		 status_init(const struct config *);
/* The status as a JSON object, or NULL if out of memory. */
struct json_t	*status_json(void);

#endif
