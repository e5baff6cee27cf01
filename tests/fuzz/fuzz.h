/*
 * fuzz: what the fuzz targets share with each other and with replay.c,
 * the driver that runs them over a corpus without libFuzzer: the two
 * libFuzzer entry points, the check that stops a run on a broken
 * promise, and their temporary directories (fuzztmp.c).  A failed
 * check aborts, so libFuzzer and the replay driver both see it as a
 * crash and keep the input that caused it.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Called once per process, before the first input. */
int	LLVMFuzzerInitialize(int *argc, char ***argv);
/* Runs one input; always returns 0. */
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Makes a new temporary directory into dir, after removing those of
 * fuzz processes that died; exits if it cannot. */
void	fuzz_tmpdir(char *dir, size_t len);
/* Removes dir and the files in it. */
void	fuzz_rmtree(const char *dir);

#define FUZZ_CHECK(cond) do {						\
	if (!(cond))							\
		fuzz_fail(__FILE__, __LINE__, #cond);			\
} while (0)

static inline void __attribute__((noreturn))
fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
	abort();
}

#endif
