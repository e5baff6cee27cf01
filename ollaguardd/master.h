/*
 * master: the parent process.  It forks the workers and keeps their
 * number up until it is told to stop.
 */
#ifndef MASTER_H
#define MASTER_H

struct config;

/* Runs until SIGTERM or SIGINT; returns the exit status. */
int	master_run(int listen_fd, const struct config *);

#endif
