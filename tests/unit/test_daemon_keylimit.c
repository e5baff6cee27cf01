/*
 * test_daemon_keylimit: rates and concurrency counted across processes
 * through the shared table, and a dead worker's slot given back.
 */
#include <sys/mman.h>
#include <sys/wait.h>

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "keylimit.h"

#define SEC	1000000000LL
#define T0	(1000 * SEC)

static int
setup(void **state)
{
	static int done;

	if (!done && keylimit_init(8) == -1)
		return -1;
	done = 1;
	return 0;
}

static void
test_rate(void **state)
{
	int i, ok = 0, retry;

	/* A burst of rpm, then one per interval. */
	for (i = 0; i < 70; i++)
		if (keylimit_acquire(0, 1, 60, 0, T0, &retry) == KEYLIMIT_OK)
			ok++;
	assert_int_equal(ok, 60);
	assert_int_equal(keylimit_acquire(0, 1, 60, 0, T0, &retry),
	    KEYLIMIT_RATE);
	assert_int_equal(retry, 1);
	assert_int_equal(keylimit_acquire(0, 1, 60, 0, T0 + SEC / 2, &retry),
	    KEYLIMIT_RATE);
	assert_int_equal(keylimit_acquire(0, 1, 60, 0, T0 + SEC, &retry),
	    KEYLIMIT_OK);
	assert_int_equal(keylimit_acquire(0, 1, 60, 0, T0 + SEC, &retry),
	    KEYLIMIT_RATE);
	/* A minute later the bucket is full again. */
	for (i = 0, ok = 0; i < 70; i++)
		if (keylimit_acquire(0, 1, 60, 0, T0 + 61 * SEC, &retry) ==
		    KEYLIMIT_OK)
			ok++;
	assert_int_equal(ok, 60);
	/* rpm 1: the next one in a minute. */
	assert_int_equal(keylimit_acquire(0, 2, 1, 0, T0, &retry), KEYLIMIT_OK);
	assert_int_equal(keylimit_acquire(0, 2, 1, 0, T0, &retry),
	    KEYLIMIT_RATE);
	assert_int_equal(retry, 60);
	/* Another key has a bucket of its own; no limits, no counting. */
	assert_int_equal(keylimit_acquire(0, 3, 1, 0, T0, &retry), KEYLIMIT_OK);
	for (i = 0; i < 100; i++)
		assert_int_equal(keylimit_acquire(0, 4, 0, 0, T0, &retry),
		    KEYLIMIT_OK);
	assert_int_equal(keylimit_acquire(0, 0, 1, 1, T0, &retry), KEYLIMIT_OK);
}

/* Two processes at once share one bucket: 60 pass in all. */
static void
test_rate_two_processes(void **state)
{
	int *passed, i, k, retry, status;
	pid_t pid[2];

	passed = mmap(NULL, 2 * sizeof(int), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(passed != MAP_FAILED);
	for (k = 0; k < 2; k++) {
		if ((pid[k] = fork()) == 0) {
			for (i = 0; i < 100; i++)
				if (keylimit_acquire(k, 10, 60, 0, T0, &retry)
				    == KEYLIMIT_OK)
					passed[k]++;
			_exit(0);
		}
		assert_true(pid[k] > 0);
	}
	for (k = 0; k < 2; k++) {
		assert_int_equal(waitpid(pid[k], &status, 0), pid[k]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_int_equal(passed[0] + passed[1], 60);
	munmap(passed, 2 * sizeof(int));
}

static void
test_concurrency(void **state)
{
	int retry;

	assert_int_equal(keylimit_acquire(0, 20, 0, 2, T0, &retry),
	    KEYLIMIT_OK);
	assert_int_equal(keylimit_acquire(1, 20, 0, 2, T0, &retry),
	    KEYLIMIT_OK);
	assert_int_equal(keylimit_acquire(2, 20, 0, 2, T0, &retry),
	    KEYLIMIT_CONCURRENCY);
	assert_int_equal(retry, 1);
	assert_int_equal(keylimit_inflight(20), 2);
	keylimit_release(0);
	assert_int_equal(keylimit_inflight(20), 1);
	assert_int_equal(keylimit_acquire(2, 20, 0, 2, T0, &retry),
	    KEYLIMIT_OK);
	keylimit_release(1);
	keylimit_release(2);
	keylimit_release(2);	/* twice is once */
	assert_int_equal(keylimit_inflight(20), 0);

	/* A rate refusal gives the concurrency slot back. */
	assert_int_equal(keylimit_acquire(0, 21, 1, 1, T0, &retry),
	    KEYLIMIT_OK);
	keylimit_release(0);
	assert_int_equal(keylimit_acquire(0, 21, 1, 1, T0, &retry),
	    KEYLIMIT_RATE);
	assert_int_equal(keylimit_inflight(21), 0);
	/* A slot out of range is refused, not uncounted. */
	assert_int_equal(keylimit_acquire(8, 22, 0, 5, T0, &retry),
	    KEYLIMIT_CONCURRENCY);
}

/* A worker SIGKILLed mid-request: the master gives its slot back. */
static void
test_dead_holder(void **state)
{
	int retry, status;
	pid_t pid;

	if ((pid = fork()) == 0) {
		if (keylimit_acquire(5, 30, 0, 1, T0, &retry) != KEYLIMIT_OK)
			_exit(1);
		raise(SIGKILL);
		_exit(2);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_int_equal(keylimit_inflight(30), 1);
	assert_int_equal(keylimit_acquire(6, 30, 0, 1, T0, &retry),
	    KEYLIMIT_CONCURRENCY);
	keylimit_release_dead(5);
	assert_int_equal(keylimit_inflight(30), 0);
	assert_int_equal(keylimit_acquire(6, 30, 0, 1, T0, &retry),
	    KEYLIMIT_OK);
	keylimit_release(6);
	/* A dead worker that held nothing gives nothing back. */
	keylimit_release_dead(7);
	assert_int_equal(keylimit_inflight(30), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_rate_two_processes),
		cmocka_unit_test(test_concurrency),
		cmocka_unit_test(test_dead_holder),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
