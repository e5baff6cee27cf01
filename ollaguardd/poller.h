/*
 * poller: with several upstreams, a child of the master asks each box
 * every health-interval seconds for /api/version, /api/tags and
 * /api/ps, and writes what it learns to the health table.  With one
 * upstream there is no poller and no table lookup: today's path.
 */
#ifndef POLLER_H
#define POLLER_H

#include <sys/types.h>

#include "config.h"
#include "upstreams.h"

/*
 * Master, at start and after each reload: reads cfg's upstreams, gives
 * each its box in the health table, and starts a poller for them (the
 * previous one, if any, is told to stop).  Workers forked afterwards
 * inherit the list (poller_upstreams).  -1 when cfg's upstreams do not
 * parse (main and reload have checked them already).
 */
int	poller_start(const struct config *cfg);
/* Master, for each child waitpid() returned: 1 if it was the poller. */
int	poller_reaped(pid_t pid);
/* Master, every tick: starts again a poller that died, once a second
 * at most. */
void	poller_tick(void);
/* Master, on shutdown. */
void	poller_stop(void);

/* The upstreams of the configuration this process was forked with, and
 * the health box of each (box[i] for ups->u[i]). */
const struct upstreams *poller_upstreams(const int **box);

#endif
