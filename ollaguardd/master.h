/*
 * master: the parent process.  It keeps the worker pool sized to the
 * load, replaces workers that die, reloads on SIGHUP and stops on
 * SIGTERM, SIGINT or SIGQUIT.
 */
#ifndef MASTER_H
#define MASTER_H

struct config;

/*
 * Runs until told to stop; returns the exit status.  cfg is the master's
 * to keep and replace on reload; argv (a private copy) and cwd are what
 * a reload reads the settings with.  pid_fd (-1: none) is the locked
 * pidfile, which workers close at once: the lock is the master's alone.
 */
int	master_run(int listen_fd, int pid_fd, struct config *cfg, int argc,
	    char **argv, const char *cwd);

/*
 * Sets the send timeout accepted sockets inherit from the listen
 * socket, so a client that stops reading costs no per-connection call.
 */
int	listen_send_timeout(int listen_fd, int seconds);

#endif
