/*
 * reload: what a reload (SIGHUP) may not change.  The new settings keep
 * the running values of those that need a restart, and the log names
 * only the ones that were asked to change.
 */
#ifndef RELOAD_H
#define RELOAD_H

struct config;

/* n: the new settings, o: the running ones, nslots: the slots mapped at
 * start, which max-workers may not exceed. */
void	reload_keep_fixed(struct config *n, const struct config *o,
	    int nslots);

#endif
