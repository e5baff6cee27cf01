/*
 * scoreboard: what every worker is doing, in memory shared by the
 * master and all workers.  Mapped once, before the first fork.
 *
 * A worker writes only its own slot, and only while it is alive; only
 * the master clears a slot, after waitpid() has collected its worker,
 * so a worker that crashes can never leak its slot.
 */
#ifndef SCOREBOARD_H
#define SCOREBOARD_H

#include <sys/types.h>

#include <stdint.h>

enum sb_state {
	SB_FREE = 0,
	SB_STARTING,
	SB_IDLE,		/* in accept() */
	SB_READING,		/* reading a request head */
	SB_PROXYING,		/* forwarding, streaming */
	SB_CLOSING		/* done with a connection */
};

#define SB_WHAT_MAX	96
#define SB_ADDR_MAX	46	/* INET6_ADDRSTRLEN */
#define SB_NAME_MAX	64	/* a key's or a model's name, cut short */

struct sb_slot {
	volatile pid_t		 pid;
	volatile int		 state;
	volatile int64_t	 req_start_ms;	/* 0 between requests */
	volatile int64_t	 key_id;	/* never the key */
	char			 what[SB_WHAT_MAX];	/* "GET /api/chat" */
	char			 client[SB_ADDR_MAX];	/* "" when none */
	/* For the admin status view; "" when not known. */
	volatile uint64_t	 bytes;		/* sent for this request */
	char			 key_name[SB_NAME_MAX];	/* or "master" */
	char			 model[SB_NAME_MAX];
};

/* Maps nslots slots and makes the wake-up descriptor; -1 on failure. */
int		 sb_init(int nslots);
int		 sb_size(void);
struct sb_slot	*sb_slot(int i);
/* Master only: marks the slot free after its worker was reaped. */
void		 sb_clear(int i);
/* Worker: its own slot's state, and what it serves (method and path). */
void		 sb_set_state(struct sb_slot *, enum sb_state);
void		 sb_set_what(struct sb_slot *, const char *method,
		    const char *path, size_t pathlen);
const char	*sb_state_name(int state);
/* When the scoreboard was made (the daemon's start), Unix seconds. */
int64_t		 sb_started(void);

/*
 * Growing the pool on demand.  Workers keep a shared count of the idle
 * (starting or in accept()); a worker that takes a connection and
 * leaves fewer than min-spare idle makes the wake-up descriptor (an
 * eventfd) readable, at most once until the master has looked.
 */
/* Worker, right after accept(): its slot is busy; wakes the master if
 * the pool is now short. */
void		 sb_note_busy(struct sb_slot *);
/* Master: the idle count workers compare with (min-spare). */
void		 sb_set_min_spare(int);
/* Master: the descriptor to poll, and taking a wake-up off it. */
int		 sb_wake_fd(void);
void		 sb_woken(void);

#endif
