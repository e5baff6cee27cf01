/*
 * route: ranks the upstream boxes for one request.
 *
 * The ranking loads nothing and allocates nothing: one consistent read
 * of each box (health_read, two binary searches), then an insertion
 * sort of at most HEALTH_BOXES entries.  In-flight counts are compared
 * as (inflight + 1) / weight, the load a box would have with this
 * request, by cross-multiplying, so that idle boxes split by weight too.
 */
#include "health.h"
#include "route.h"

struct rank {
	int	idx;
	int	loaded;
	int	load;		/* inflight + 1 */
	int	weight;
};

/* Whether a goes before b; ties keep configuration order. */
static int
before(const struct rank *a, const struct rank *b)
{
	if (a->loaded != b->loaded)
		return a->loaded;
	return (int64_t)a->load * b->weight < (int64_t)b->load * a->weight;
}

enum route_status
route_order(const struct route_box *boxes, int n, uint64_t model,
    int *order, int *norder)
{
	struct health_view v[HEALTH_BOXES];
	struct rank r[HEALTH_BOXES], x;
	int i, j, nusable = 0, nhave = 0, nr = 0;

	if (n > HEALTH_BOXES)
		n = HEALTH_BOXES;
	for (i = 0; i < n; i++) {
		health_read(boxes[i].h, model, &v[i]);
		if (!v[i].usable)
			continue;
		nusable++;
		if (v[i].present || v[i].loaded)
			nhave++;
	}
	*norder = 0;
	if (nusable == 0)
		return ROUTE_NONE;
	for (i = 0; i < n; i++) {
		if (!v[i].usable || (nhave > 0 && !v[i].present &&
		    !v[i].loaded))
			continue;
		if (boxes[i].max_conns > 0 &&
		    v[i].inflight >= boxes[i].max_conns)
			continue;
		x.idx = i;
		x.loaded = v[i].loaded;
		x.load = v[i].inflight + 1;
		x.weight = boxes[i].weight > 0 ? boxes[i].weight : 1;
		for (j = nr; j > 0 && before(&x, &r[j - 1]); j--)
			r[j] = r[j - 1];
		r[j] = x;
		nr++;
	}
	if (nr == 0)
		return ROUTE_FULL;
	for (i = 0; i < nr; i++)
		order[i] = r[i].idx;
	*norder = nr;
	return ROUTE_OK;
}
