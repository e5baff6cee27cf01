/*
 * route: which upstream box a request goes to, decided from the shared
 * health table alone (no lock, no system call).
 */
#ifndef ROUTE_H
#define ROUTE_H

#include <stdint.h>

#include "health.h"

/* What routing needs of one configured upstream. */
struct route_box {
	const struct health_box	*h;
	int			 weight;	/* >= 1 */
	int			 max_conns;	/* 0: unlimited */
};

enum route_status {
	ROUTE_OK,	/* order[0] is the choice, then the fallbacks */
	ROUTE_FULL,	/* every candidate is at max-conns: wait, retry */
	ROUTE_NONE	/* no box is healthy */
};

/*
 * Ranks boxes[0 .. n) for a request naming the model whose hash is
 * model (health_model_hash; 0 when it names none).  Candidates are the
 * usable boxes that hold the model, or every usable box when none does;
 * boxes at max-conns are left out.  Best first: the model loaded, then
 * the fewest requests in flight for the weight, then configuration
 * order.  order must hold n entries; *norder receives how many it got.
 * On failover the caller tries order[1], order[2] ... in turn.
 */
enum route_status route_order(const struct route_box *boxes, int n,
		    uint64_t model, int *order, int *norder);

#endif
