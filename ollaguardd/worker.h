/*
 * worker: one prefork worker process.  It blocks in accept() on the
 * shared listen socket, serves the connection (keep-alive, many
 * requests), closes it, and goes back to accept().
 */
#ifndef WORKER_H
#define WORKER_H

#include <sys/types.h>

#include <signal.h>
#include <stdint.h>

struct config;

/*
 * Runs a worker in scoreboard slot slotno.  It starts with every signal
 * blocked; mask is what to unblock to once its handlers are in place.
 */
void	worker_main(int listen_fd, const struct config *, pid_t master,
	    int slotno, uint32_t generation, const sigset_t *mask)
	    __attribute__((noreturn));
/* 1 once the worker has been told to stop. */
int	worker_stopping(void);
/*
 * Marks fd as an idle connection (waiting for a request) that a stop may
 * close, or with -1 that the wait is over.  -1 if already stopping.
 */
int	worker_idle(int fd);

#endif
