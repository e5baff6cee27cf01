/*
 * test_daemon_route: the routing decision on tables of box states
 * (loaded first, present next, least busy, weights, max-conns, an
 * unknown model, all down), the health table it reads (assignment
 * across a reload, passive marks, a dead worker's requests), and a
 * benchmark over 10 boxes of 200 models each.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "health.h"
#include "route.h"
#include "upstreams.h"

#define NSLOTS	64
#define H(s)	health_model_hash(s, strlen(s))

static struct upstreams	ups;
static int		box[CONFIG_UPSTREAMS_MAX];
static struct route_box	rb[CONFIG_UPSTREAMS_MAX];
static int		nextslot;
static int64_t		now_ms = 10000;	/* later than any mark of a test */

/* n boxes named b0, b1 ..., all up with no model, nothing in flight. */
static void
table(int n)
{
	int i;

	memset(&ups, 0, sizeof(ups));
	for (i = 0; i < n; i++) {
		snprintf(ups.u[i].url, sizeof(ups.u[i].url),
		    "http://10.0.0.%d:11434", i);
		snprintf(ups.u[i].name, sizeof(ups.u[i].name), "b%d", i);
		ups.u[i].weight = 1;
	}
	ups.n = n;
	health_assign(&ups, box);
	for (i = 0; i < n; i++) {
		while (health_box(box[i])->inflight > 0)
			health_slot_gone(--nextslot);
		health_store(box[i], 1, now_ms, NULL, 0, NULL, 0);
		rb[i].h = health_box(box[i]);
		rb[i].weight = 1;
		rb[i].max_conns = 0;
	}
	nextslot = 0;
	now_ms += 10000;
}

static void
models(int i, const char *present, const char *loaded)
{
	uint64_t p[2] = { H(present), H(loaded) }, l[1] = { H(loaded) };

	health_store(box[i], 1, now_ms, p, 2, l, 1);
}

static void
busy(int i, int n)
{
	while (n-- > 0)
		health_acquire(nextslot++, box[i]);
}

/* The ranking as a string of indexes, "" when not ROUTE_OK. */
static const char *
ranked(int n, const char *model, enum route_status want)
{
	static char buf[64];
	int order[HEALTH_BOXES], norder, i;

	assert_int_equal(route_order(rb, n, model != NULL ? H(model) : 0,
	    order, &norder), want);
	buf[0] = '\0';
	for (i = 0; i < norder; i++)
		buf[i] = '0' + order[i];
	buf[norder] = '\0';
	return buf;
}

static void
test_model_first(void **state)
{
	table(3);
	models(0, "phi3:mini", "qwen:7b");
	models(1, "llama3", "mistral:7b");
	models(2, "llama3:latest", "LLAMA3");
	/* Loaded beats present; only boxes with the model are candidates. */
	assert_string_equal(ranked(3, "llama3:latest", ROUTE_OK), "21");
	assert_string_equal(ranked(3, "mistral:7b", ROUTE_OK), "1");
	assert_string_equal(ranked(3, "phi3:mini", ROUTE_OK), "0");
	/* A model nobody has: every healthy box, least busy first. */
	busy(0, 2);
	busy(2, 1);
	assert_string_equal(ranked(3, "gemma:2b", ROUTE_OK), "120");
	/* No model named: the same. */
	assert_string_equal(ranked(3, NULL, ROUTE_OK), "120");
	/* Loaded wins over busy. */
	busy(2, 5);
	assert_string_equal(ranked(3, "llama3", ROUTE_OK), "21");
}

static void
test_least_busy_and_weights(void **state)
{
	table(3);
	assert_string_equal(ranked(3, NULL, ROUTE_OK), "012");
	busy(0, 1);
	assert_string_equal(ranked(3, NULL, ROUTE_OK), "120");
	/* Weight 3 takes three to the others' one. */
	rb[2].weight = 3;
	busy(1, 1);
	busy(2, 2);
	assert_string_equal(ranked(3, NULL, ROUTE_OK), "201");
	/* 6/3 against 2/1 and 2/1: a tie, so configuration order. */
	busy(2, 3);
	assert_string_equal(ranked(3, NULL, ROUTE_OK), "012");
}

static void
test_max_conns(void **state)
{
	table(2);
	models(0, "a", "x");
	models(1, "a", "y");
	rb[0].max_conns = 1;
	rb[1].max_conns = 2;
	busy(0, 1);
	assert_string_equal(ranked(2, "a", ROUTE_OK), "1");
	busy(1, 2);
	assert_string_equal(ranked(2, "a", ROUTE_FULL), "");
	health_release(--nextslot);
	assert_string_equal(ranked(2, "a", ROUTE_OK), "1");
}

static void
test_down(void **state)
{
	table(3);
	models(1, "m", "m");
	health_store(box[0], 0, now_ms, NULL, 0, NULL, 0);
	assert_string_equal(ranked(3, NULL, ROUTE_OK), "12");
	/* A failed connect takes a box out at once ... */
	health_passive_down(box[1], now_ms + 500);
	assert_string_equal(ranked(3, "m", ROUTE_OK), "2");
	/* ... until a poll that started after it succeeds. */
	models(1, "m", "m");
	assert_string_equal(ranked(3, "m", ROUTE_OK), "2");
	health_store(box[1], 1, now_ms + 600, NULL, 0, NULL, 0);
	assert_string_equal(ranked(3, NULL, ROUTE_OK), "12");
	health_store(box[1], 0, now_ms, NULL, 0, NULL, 0);
	health_store(box[2], 0, now_ms, NULL, 0, NULL, 0);
	assert_string_equal(ranked(3, NULL, ROUTE_NONE), "");
}

static void
test_assign_and_dead_worker(void **state)
{
	struct upstreams two;
	int b2[CONFIG_UPSTREAMS_MAX], old1;

	table(2);
	models(1, "kept", "kept");
	busy(1, 1);
	old1 = box[1];
	/* A reload keeps the box of a URL that stays, and its state. */
	two = ups;
	two.u[0] = ups.u[1];
	strlcpy(two.u[1].url, "http://new:1", sizeof(two.u[1].url));
	strlcpy(two.u[1].name, "new", sizeof(two.u[1].name));
	health_assign(&two, b2);
	assert_int_equal(b2[0], old1);
	assert_int_not_equal(b2[1], box[0]);
	assert_string_equal(health_box(b2[1])->name, "new");
	rb[0].h = health_box(b2[0]);
	rb[1].h = health_box(b2[1]);
	assert_string_equal(ranked(2, "kept", ROUTE_OK), "0");
	/* The master takes back what a dead worker had in flight. */
	assert_int_equal(health_box(old1)->inflight, 1);
	health_slot_gone(0);
	assert_int_equal(health_box(old1)->inflight, 0);
	nextslot = 0;
}

static void
test_model_hash(void **state)
{
	assert_true(H("llama3") == H("llama3:latest"));
	assert_true(H("Llama3") == H("llama3:LATEST"));
	assert_true(H("library/llama3") == H("library/llama3:latest"));
	assert_true(H("host:5000/ns/m") == H("host:5000/ns/m:latest"));
	assert_true(H("llama3") != H("llama3:8b"));
}

/* 10 boxes of 200 models, 20 loaded each: ns per decision. */
static void
test_bench(void **state)
{
	uint64_t p[200], l[20];
	struct timespec t0, t1;
	char name[32];
	int i, j, order[HEALTH_BOXES], norder, rounds = 200000;
	double ns;

	table(10);
	for (i = 0; i < 10; i++) {
		for (j = 0; j < 200; j++) {
			snprintf(name, sizeof(name), "model%d:%d", (i + j) % 300,
			    j);
			p[j] = H(name);
		}
		memcpy(l, p, sizeof(l));
		health_store(box[i], 1, now_ms, p, 200, l, 20);
		busy(i, i % 3);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < rounds; i++) {
		snprintf(name, sizeof(name), "model%d:%d", i % 300, i % 200);
		route_order(rb, 10, H(name), order, &norder);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ns = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) /
	    rounds;
	printf("route_order, 10 boxes x 200 models: %.0f ns per decision "
	    "(hash and snprintf of the name included; target 2000)\n", ns);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model_first),
		cmocka_unit_test(test_least_busy_and_weights),
		cmocka_unit_test(test_max_conns),
		cmocka_unit_test(test_down),
		cmocka_unit_test(test_assign_and_dead_worker),
		cmocka_unit_test(test_model_hash),
		cmocka_unit_test(test_bench),
	};

	if (health_init(NSLOTS) == -1)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
