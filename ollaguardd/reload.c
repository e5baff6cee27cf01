/*
 * reload: the settings a reload keeps.  host, port, user, group,
 * pidfile, daemon, backlog and syslog are fixed at start (the socket is
 * bound, privileges dropped, the pid file locked), and max-workers may
 * not outgrow the scoreboard mapped then.
 */
#include <string.h>

#include "config.h"
#include "log.h"
#include "reload.h"

/* Keeps what cannot change without a restart, and says so. */
void
reload_keep_fixed(struct config *n, const struct config *o, int nslots)
{
	char changed[64];

	if (strcmp(n->host, o->host) != 0 || n->port != o->port) {
		log_warnx("reload: a new host or port needs a restart; still "
		    "listening on %s port %lld", o->host, o->port);
		strlcpy(n->host, o->host, sizeof(n->host));
		n->port = o->port;
	}
	/* Name only what changed: a list of all six hides the one that
	 * did. */
	changed[0] = '\0';
	if (strcmp(n->user, o->user) != 0)
		strlcat(changed, ", user", sizeof(changed));
	if (strcmp(n->group, o->group) != 0)
		strlcat(changed, ", group", sizeof(changed));
	if (strcmp(n->pidfile, o->pidfile) != 0)
		strlcat(changed, ", pidfile", sizeof(changed));
	if (n->daemon != o->daemon)
		strlcat(changed, ", daemon", sizeof(changed));
	if (n->backlog != o->backlog)
		strlcat(changed, ", backlog", sizeof(changed));
	if (n->syslog != o->syslog)
		strlcat(changed, ", syslog", sizeof(changed));
	if (changed[0] != '\0') {
		log_warnx("reload: a new %s needs a restart; keeping the "
		    "running value%s", changed + 2,
		    strchr(changed + 2, ',') != NULL ? "s" : "");
		strlcpy(n->user, o->user, sizeof(n->user));
		strlcpy(n->group, o->group, sizeof(n->group));
		strlcpy(n->pidfile, o->pidfile, sizeof(n->pidfile));
		n->daemon = o->daemon;
		n->backlog = o->backlog;
		n->syslog = o->syslog;
	}
	if (n->max_workers > nslots) {
		log_warnx("reload: max-workers above %d needs a restart", nslots);
		n->max_workers = nslots;
	}
}
