/*
 * health: what the daemon knows about each upstream, in memory shared
 * by the master, the poller and the workers.  Mapped once, before the
 * first fork.
 *
 * One writer per field.  The master gives each configured upstream a
 * box (health_assign) at start and on reload; the poller writes what a
 * poll found (health_store) under the box's sequence counter, so a
 * worker reads a consistent box without a lock or a system call; a
 * worker marks a box down when it cannot connect (health_passive_down)
 * and counts its own requests in flight, which the master takes back
 * from a worker that died (health_slot_gone).
 */
#ifndef HEALTH_H
#define HEALTH_H

#include <stddef.h>
#include <stdint.h>

#include "upstreams.h"

/* Two generations of upstreams, so a reload never reuses the box an
 * old worker may still be forwarding to. */
#define HEALTH_BOXES	(2 * CONFIG_UPSTREAMS_MAX)
#define HEALTH_MODELS	256	/* per box and set; more are ignored */

enum health_state {
	HEALTH_UNKNOWN = 0,	/* not polled yet: usable, holds no model */
	HEALTH_UP,
	HEALTH_DOWN
};

struct health_box {
	/* The master's, set by health_assign. */
	char		 url[CONFIG_URL_MAX];
	char		 name[UPSTREAM_NAME_MAX];
	int		 in_use;
	/* The poller's, written between two increments of seq. */
	uint32_t	 seq;		/* odd while being written */
	int		 state;
	int64_t		 poll_ms;	/* monotonic start of the last poll */
	int		 npresent, nloaded;
	uint64_t	 present[HEALTH_MODELS];	/* sorted model hashes */
	uint64_t	 loaded[HEALTH_MODELS];		/* sorted */
	/* The workers', updated with atomics. */
	int64_t		 passive_down_ms;	/* a failed connect, or 0 */
	int32_t		 inflight;
};

/* Maps the table and one record per worker slot; -1 on failure. */
int		 health_init(int nslots);
struct health_box *health_box(int i);

/*
 * Master: gives each of ups its box, keeping the state of a box whose
 * URL stays; box[i] receives the box of ups->u[i].  A box left by a
 * reload is reused only after a later one, once nothing is in flight.
 */
void		 health_assign(const struct upstreams *ups, int *box);
/* Master: after waitpid(), gives back what slot had in flight. */
void		 health_slot_gone(int slot);

/* Poller: what one poll of box found.  present and loaded are model
 * hashes in any order; up == 0 keeps the last model sets. */
void		 health_store(int box, int up, int64_t poll_ms,
		    const uint64_t *present, int npresent,
		    const uint64_t *loaded, int nloaded);

/* Worker: a connect failure takes box out until its next good poll. */
void		 health_passive_down(int box, int64_t now_ms);
/* Worker: the request in slot goes to box; then it is over. */
void		 health_acquire(int slot, int box);
void		 health_release(int slot);

/* A consistent copy of what routing needs of one box: whether it is
 * usable, whether it holds the model (hash 0: none named) on disk or
 * loaded, and its requests in flight.  Lock-free; no system call. */
struct health_view {
	int	 usable;
	int	 present;
	int	 loaded;
	int	 inflight;
};
void		 health_read(const struct health_box *, uint64_t model,
		    struct health_view *);

/* The hash of a model name as Ollama means it: "llama3" is
 * "llama3:latest", case does not matter.  Never 0. */
uint64_t	 health_model_hash(const char *name, size_t len);

#endif
