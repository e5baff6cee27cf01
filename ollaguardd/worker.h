/*
 * worker: one prefork worker process.  It blocks in accept() on the
 * shared listen socket, serves the connection (keep-alive, many
 * requests), closes it, and goes back to accept().
 */
#ifndef WORKER_H
#define WORKER_H

#include <sys/types.h>

#include <signal.h>

struct config;

/*
 * Runs a worker in scoreboard slot slotno.  It starts with every signal
 * blocked; mask is what to unblock to once its handlers are in place.
 */
void	worker_main(int listen_fd, const struct config *, pid_t master,
	    int slotno, const sigset_t *mask) __attribute__((noreturn));

#endif
