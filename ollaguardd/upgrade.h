/*
 * upgrade: replacing the running program without closing the listen
 * socket (SIGUSR2, as nginx does), and telling systemd which process
 * is the service's main one.
 */
#ifndef UPGRADE_H
#define UPGRADE_H

#include <sys/types.h>

/* At start: remembers the program's path (argv[0] made absolute against
 * cwd, else /proc/self/exe as it is now) for a later upgrade. */
void	upgrade_init(const char *argv0, const char *cwd);
/* In a new master: the listen socket the old one handed over, checked
 * to be a listening TCP socket on host and port; -1 if none was handed
 * over.  Exits if one was and it does not fit. */
int	upgrade_adopt(const char *host, long long port);
/* 1 in a master started by an upgrade. */
int	upgrade_adopted(void);
/* In the old master, on SIGUSR2: moves the pid file (if any) to
 * PIDFILE.oldbin and starts the new program with the socket. */
void	upgrade_start(int listen_fd, char **argv, const char *pidfile);
/* The old master reaps a child not in its pool: 1 if it was the new
 * master, which then failed; the pid file is moved back. */
int	upgrade_reaped(pid_t pid, int status);
/* Once the pool accepts: READY=1 to systemd, and in a new master
 * MAINPID= and SIGTERM to the old master, which then drains. */
void	upgrade_ready(void);
/* The path the pid file was moved to, for the old master to remove at
 * exit instead of the new master's; NULL if it was not moved. */
const char *upgrade_oldbin(void);

#endif
