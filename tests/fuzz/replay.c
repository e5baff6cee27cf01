/*
 * replay: runs a fuzz target over the files it is given, or over every
 * file in the directories it is given, without libFuzzer, so that the
 * committed corpus is a regression test any compiler can build.
 *
 * Each input runs in a child process of its own, which initializes the
 * target afresh: an input that crashes, trips a check, leaks (under
 * LeakSanitizer) or hangs is named, and the others still run.  With -n
 * the inputs run in this process, one after another, for a debugger or
 * valgrind.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

/* Seconds an input may take before it counts as a hang. */
#define REPLAY_TIMEOUT	60

static int	 argc0;
static char	**argv0;
static int	 inprocess;
static int	 initialized;
static long	 ninputs;
static long	 ncrashes;

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: %s [-n] file|directory ...\n", getprogname());
	exit(2);
}

/* The whole file, in a buffer exactly as large, as libFuzzer gives it,
 * so that a read past the end is caught. */
static uint8_t *
read_input(const char *path, size_t *len)
{
	struct stat	 st;
	uint8_t		*buf;
	size_t		 off = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		err(1, "%s", path);
	if (fstat(fd, &st) == -1)
		err(1, "%s", path);
	if ((buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1)) == NULL)
		err(1, NULL);
	while (off < (size_t)st.st_size) {
		n = read(fd, buf + off, (size_t)st.st_size - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			err(1, "%s", path);
		if (n == 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	*len = off;
	return buf;
}

static void
run_input(const char *path)
{
	uint8_t	*buf;
	size_t	 len;
	pid_t	 pid;
	int	 status;

	buf = read_input(path, &len);
	ninputs++;
	if (inprocess) {
		if (!initialized)
			LLVMFuzzerInitialize(&argc0, &argv0);
		initialized = 1;
		LLVMFuzzerTestOneInput(buf, len);
		free(buf);
		return;
	}
	fflush(NULL);
	if ((pid = fork()) == -1)
		err(1, "fork");
	if (pid == 0) {
		alarm(REPLAY_TIMEOUT);
		LLVMFuzzerInitialize(&argc0, &argv0);
		LLVMFuzzerTestOneInput(buf, len);
		free(buf);
		exit(0);
	}
	free(buf);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			err(1, "waitpid");
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return;
	ncrashes++;
	if (WIFSIGNALED(status))
		fprintf(stderr, "%s: %s: %s\n", getprogname(), path,
		    WTERMSIG(status) == SIGALRM ? "timed out" :
		    strsignal(WTERMSIG(status)));
	else
		fprintf(stderr, "%s: %s: exit status %d\n", getprogname(),
		    path, WEXITSTATUS(status));
}

/* Every regular file in dir, in name order, so runs compare. */
static void
run_dir(const char *dir)
{
	struct dirent	**names;
	struct stat	  st;
	char		  path[4096];
	int		  i, n;

	if ((n = scandir(dir, &names, NULL, alphasort)) == -1)
		err(1, "%s", dir);
	for (i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.' &&
		    (size_t)snprintf(path, sizeof(path), "%s/%s", dir,
		    names[i]->d_name) < sizeof(path) &&
		    stat(path, &st) == 0 && S_ISREG(st.st_mode))
			run_input(path);
		free(names[i]);
	}
	free(names);
}

int
main(int argc, char *argv[])
{
	struct stat	 st;
	int		 ch, i;

	while ((ch = getopt(argc, argv, "n")) != -1) {
		switch (ch) {
		case 'n':
			inprocess = 1;
			break;
		default:
			usage();
		}
	}
	if (optind == argc)
		usage();
	argc0 = argc;
	argv0 = argv;
	for (i = optind; i < argc; i++) {
		if (stat(argv[i], &st) == -1)
			err(1, "%s", argv[i]);
		if (S_ISDIR(st.st_mode))
			run_dir(argv[i]);
		else
			run_input(argv[i]);
	}
	printf("fuzz replay: %s: %ld inputs, %ld crashes\n", getprogname(),
	    ninputs, ncrashes);
	return ncrashes > 0;
}
