/*
 * fuzz_meter: an upstream's response body, through the tail parser and
 * the usage-chunk filter.
 *
 * An input is a control byte and then the body.  The control byte
 * seeds the chunk sizes (1 to 1 + its value) the body is cut into; the
 * body is also fed whole.  The meter must give the same result both
 * ways (the input is shorter than the tail), with counts that are never
 * negative and a model that is a string within its buffer.  The filter
 * must pass the same bytes both ways, never more than it was given,
 * and exactly what it was given when it dropped nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "meter.h"
#include "streamusage.h"

#include "fuzz.h"

static struct meter		 m;
static struct streamusage_filter f;
static char			 out[2][STREAMUSAGE_HOLD];
static size_t			 outlen[2];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

static int
collect(const char *data, size_t len, void *arg)
{
	int k = *(int *)arg;

	FUZZ_CHECK(outlen[k] + len <= sizeof(out[k]));
	memcpy(out[k] + outlen[k], data, len);
	outlen[k] += len;
	return 0;
}

static void
run(const uint8_t *body, size_t len, size_t step, int k,
    struct meter_result *r)
{
	size_t off, n;

	meter_begin(&m, NULL);
	streamusage_begin(&f);
	outlen[k] = 0;
	for (off = 0; off < len; off += n) {
		n = step == 0 ? len : step + off % 3;
		if (n > len - off)
			n = len - off;
		meter_feed(&m, body + off, n);
		FUZZ_CHECK(streamusage_feed(&f, (const char *)body + off, n,
		    collect, &k) == 0);
	}
	FUZZ_CHECK(streamusage_end(&f, collect, &k) == 0);
	FUZZ_CHECK(meter_finish(&m, r) == r->found);
	FUZZ_CHECK(r->found == 0 || r->found == 1);
	FUZZ_CHECK(r->prompt >= 0 && r->completion >= 0 &&
	    r->load_duration_ns >= 0);
	FUZZ_CHECK(memchr(r->model, '\0', sizeof(r->model)) != NULL);
	FUZZ_CHECK(outlen[k] <= len);
	if (!f.dropped)
		FUZZ_CHECK(outlen[k] == len &&
		    memcmp(out[k], body, len) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct meter_result a, b;

	if (size < 1 || size - 1 > STREAMUSAGE_HOLD)
		return 0;
	run(data + 1, size - 1, 0, 0, &a);
	run(data + 1, size - 1, 1 + data[0] % 64, 1, &b);
	FUZZ_CHECK(memcmp(&a, &b, sizeof(a)) == 0);
	FUZZ_CHECK(outlen[0] == outlen[1] &&
	    memcmp(out[0], out[1], outlen[0]) == 0);
	return 0;
}
