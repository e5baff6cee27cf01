/*
 * upstreams: the Ollama servers the daemon forwards to, read from the
 * target-url values config.c keeps as given ("URL [name=N] [weight=W]
 * [max-conns=M]").  One value is today's single upstream.
 */
#ifndef UPSTREAMS_H
#define UPSTREAMS_H

#include <stdio.h>

#include "config.h"

#define UPSTREAM_NAME_MAX	64
#define UPSTREAM_WEIGHT_MAX	1000
#define UPSTREAM_CONNS_MAX	100000

struct upstream {
	char	url[CONFIG_URL_MAX];
	char	name[UPSTREAM_NAME_MAX];	/* default: host:port */
	int	weight;				/* 1 ... 1000, default 1 */
	int	max_conns;			/* 0: unlimited */
};

struct upstreams {
	struct upstream	u[CONFIG_UPSTREAMS_MAX];
	int		n;
};

/* One value; on error err says which option or value is wrong. */
int	upstream_parse(const char *value, struct upstream *, char *err,
	    size_t errlen);
/* Every target-url of cfg; names must differ.  On error err reads
 * "target-url \"VALUE\": why". */
int	upstreams_parse(const struct config *cfg, struct upstreams *,
	    char *err, size_t errlen);
/* The index of the upstream called name, or -1. */
int	upstreams_find(const struct upstreams *, const char *name);
/* One "# upstream NAME: URL weight W max-conns M" line each. */
void	upstreams_print(const struct upstreams *, FILE *out);

#endif
