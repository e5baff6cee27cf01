/*
 * fuzztmp: the temporary directory a fuzz target keeps its key database
 * in.  A crash ends a process without its atexit cleanup, and libFuzzer
 * in fork mode crashes often, so each directory is named for the
 * process that made it, and a new process first removes the ones whose
 * process is gone.  Tmpfs (/dev/shm) is preferred: SQLite syncs.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

#define FUZZ_TMP_PREFIX	"ollaguard-fuzz."

void
fuzz_rmtree(const char *dir)
{
	struct dirent	*de;
	DIR		*d;
	char		 path[PATH_MAX];

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
		    de->d_name) < sizeof(path))
			unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

/* Removes the directories of fuzz processes that no longer run. */
static void
sweep(const char *tmp)
{
	struct dirent	*de;
	DIR		*d;
	char		 path[PATH_MAX];
	long		 pid;

	if ((d = opendir(tmp)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, FUZZ_TMP_PREFIX,
		    sizeof(FUZZ_TMP_PREFIX) - 1) != 0)
			continue;
		pid = strtol(de->d_name + sizeof(FUZZ_TMP_PREFIX) - 1, NULL,
		    10);
		if (pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", tmp,
		    de->d_name) < sizeof(path))
			fuzz_rmtree(path);
	}
	closedir(d);
}

void
fuzz_tmpdir(char *dir, size_t len)
{
	const char	*tmp;

	if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
		tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	sweep(tmp);
	if ((size_t)snprintf(dir, len, "%s/" FUZZ_TMP_PREFIX "%ld.XXXXXX",
	    tmp, (long)getpid()) >= len || mkdtemp(dir) == NULL) {
		perror(tmp);
		exit(1);
	}
}
