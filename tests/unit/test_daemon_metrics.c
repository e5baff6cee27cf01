/*
 * test_daemon_metrics: the shared counters and their rendering: what
 * workers record shows up in the text format, label values are
 * escaped, a full table spills into key="other" and says so, a child
 * process's counts reach the parent, and promtool accepts the output.
 */
#include <sys/wait.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "metrics.h"
#include "scoreboard.h"

static char	 out[4 << 20];

static int
setup(void **state)
{
	/* A fresh mapping for each test; the old one is simply left. */
	assert_int_equal(sb_init(4), 0);
	assert_int_equal(metrics_init(), 0);
	return 0;
}

static const char *
render(void)
{
	int n = metrics_render(out, sizeof(out), "1.2.3");

	assert_true(n > 0);
	assert_int_equal(strlen(out), n);
	return out;
}

static void
has(const char *line)
{
	if (strstr(out, line) == NULL)
		fail_msg("missing: %s\n---\n%s", line, out);
}

static void
record(void)
{
	sb_slot(0)->pid = 100;
	sb_set_state(sb_slot(0), SB_IDLE);
	sb_slot(1)->pid = 101;
	sb_set_state(sb_slot(1), SB_PROXYING);
	metrics_request("team", "llama3:latest", "infer", 200, 10, 20,
	    1500000, 3000);
	metrics_request("team", "llama3:latest", "infer", 200, 1, 2, 20000,
	    -1);
	metrics_request("7", "", "read", 404, 0, 0, 100, 100);
	metrics_request("we\"ird\\na\nme", "m", "infer", 500, 0, 0, 1, 1);
	metrics_auth_failure("unknown-key");
	metrics_auth_failure("unknown-key");
	metrics_limited("team", "rpm");
	metrics_unmetered();
}

static void
test_render(void **state)
{
	record();
	render();
	has("# TYPE ollaguard_requests_total counter\n");
	has("ollaguard_requests_total{key=\"team\",model=\"llama3:latest\","
	    "class=\"infer\",code=\"200\"} 2\n");
	has("ollaguard_requests_total{key=\"7\",model=\"\",class=\"read\","
	    "code=\"404\"} 1\n");
	has("ollaguard_tokens_total{key=\"team\",model=\"llama3:latest\","
	    "class=\"infer\",code=\"200\",type=\"prompt\"} 11\n");
	has("ollaguard_tokens_total{key=\"team\",model=\"llama3:latest\","
	    "class=\"infer\",code=\"200\",type=\"completion\"} 22\n");
	has("{key=\"we\\\"ird\\\\na\\nme\",");
	has("# TYPE ollaguard_request_duration_seconds histogram\n");
	has("ollaguard_request_duration_seconds_bucket{model=\"llama3:latest\","
	    "le=\"0.025\"} 1\n");
	has("ollaguard_request_duration_seconds_bucket{model=\"llama3:latest\","
	    "le=\"1\"} 1\n");
	has("ollaguard_request_duration_seconds_bucket{model=\"llama3:latest\","
	    "le=\"2.5\"} 2\n");
	has("ollaguard_request_duration_seconds_bucket{model=\"llama3:latest\","
	    "le=\"+Inf\"} 2\n");
	has("ollaguard_request_duration_seconds_sum{model=\"llama3:latest\"} "
	    "1.520000\n");
	has("ollaguard_request_duration_seconds_count{model=\"llama3:latest\"}"
	    " 2\n");
	/* No first byte, no observation. */
	has("ollaguard_time_to_first_byte_seconds_count{model="
	    "\"llama3:latest\"} 1\n");
	has("ollaguard_workers{state=\"idle\"} 1\n");
	has("ollaguard_workers{state=\"proxying\"} 1\n");
	has("ollaguard_workers{state=\"reading\"} 0\n");
	has("ollaguard_auth_failures_total{reason=\"unknown-key\"} 2\n");
	has("ollaguard_limited_total{key=\"team\",limit=\"rpm\"} 1\n");
	has("ollaguard_unmetered_responses_total 1\n");
	has("ollaguard_metrics_overflow_total 0\n");
	has("ollaguard_build_info{version=\"1.2.3\"} 1\n");
	/* Too small a buffer says so instead of cutting a line. */
	assert_int_equal(metrics_render(out, 100, "x"), -1);
}

static void
test_overflow(void **state)
{
	char key[32], model[32];
	int i, n = METRICS_SERIES + 50;

	for (i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		snprintf(model, sizeof(model), "m%d", i % 100);
		metrics_request(key, model, "infer", 200, 1, 1, 10, 10);
	}
	render();
	has("ollaguard_requests_total{key=\"other\",model=\"other\","
	    "class=\"infer\",code=\"200\"} ");
	has("ollaguard_request_duration_seconds_count{model=\"other\"} ");
	has("ollaguard_metrics_lost_total 0\n");
	assert_null(strstr(out, "ollaguard_metrics_overflow_total 0\n"));
	/* The label sets already held keep counting as themselves. */
	metrics_request("k0", "m0", "infer", 200, 1, 1, 10, 10);
	render();
	has("ollaguard_requests_total{key=\"k0\",model=\"m0\","
	    "class=\"infer\",code=\"200\"} 2\n");
}

static void
test_shared_with_children(void **state)
{
	pid_t pid[2];
	int k, i, status;

	for (k = 0; k < 2; k++) {
		if ((pid[k] = fork()) == 0) {
			for (i = 0; i < 1000; i++)
				metrics_request("team", "m", "infer", 200, 1,
				    2, 10, 10);
			_exit(0);
		}
		assert_true(pid[k] > 0);
	}
	for (k = 0; k < 2; k++) {
		assert_int_equal(waitpid(pid[k], &status, 0), pid[k]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	render();
	has("ollaguard_requests_total{key=\"team\",model=\"m\","
	    "class=\"infer\",code=\"200\"} 2000\n");
	has("class=\"infer\",code=\"200\",type=\"completion\"} 4000\n");
}

static void
test_promtool(void **state)
{
	char path[] = "/tmp/test_metrics.XXXXXX", cmd[256];
	FILE *f;
	int fd, rc;

	if (system("command -v promtool >/dev/null 2>&1") != 0) {
		fprintf(stderr, "promtool not installed (Debian package "
		    "prometheus; make deps): skipping the format check\n");
		skip();
	}
	record();
	render();
	assert_true((fd = mkstemp(path)) != -1);
	assert_non_null(f = fdopen(fd, "w"));
	assert_int_equal(fputs(out, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", path);
	rc = system(cmd);
	unlink(path);
	if (rc != 0)
		fail_msg("promtool check metrics failed:\n%s", out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_render, setup),
		cmocka_unit_test_setup(test_overflow, setup),
		cmocka_unit_test_setup(test_shared_with_children, setup),
		cmocka_unit_test_setup(test_promtool, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
