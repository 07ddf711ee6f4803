/*
 * alloc.c - the allocation wrapper of libbackchannel.
 *
 * A thin layer over malloc that (a) counts allocations and (b) can be told
 * to fail the Nth one, so unit tests can walk every failure path.
 */
#include <stdlib.h>
#include <sodium.h>

#include "internal.h"

static unsigned long alloc_count;
static unsigned long fail_at; /* absolute index of the failing call, 0=off */

/* The counter is atomic so that threaded programs (the load generator,
 * the crash test) may allocate concurrently; the failure hook itself is
 * for single-threaded tests. */
static int should_fail(void)
{
	unsigned long n = __atomic_add_fetch(&alloc_count, 1, __ATOMIC_RELAXED);
	if (fail_at != 0 && n == fail_at) {
		fail_at = 0;
		return 1;
	}
	return 0;
}

void bc_alloc_fail_at(unsigned long n)
{
	fail_at = n ? __atomic_load_n(&alloc_count, __ATOMIC_RELAXED) + n : 0;
}

unsigned long bc_alloc_count(void)
{
	return __atomic_load_n(&alloc_count, __ATOMIC_RELAXED);
}

void *bc_malloc(size_t n)
{
	if (should_fail())
		return NULL;
	return malloc(n ? n : 1);
}

void *bc_calloc(size_t nmemb, size_t size)
{
	if (should_fail())
		return NULL;
	if (nmemb == 0 || size == 0)
		nmemb = size = 1;
	return calloc(nmemb, size);
}

void *bc_realloc(void *p, size_t n)
{
	if (should_fail())
		return NULL;
	return realloc(p, n ? n : 1);
}

void bc_free(void *p)
{
	free(p);
}

void bc_free_secret(void *p, size_t n)
{
	if (p == NULL)
		return;
	sodium_memzero(p, n);
	free(p);
}

char *bc_strdup(const char *s)
{
	return bc_memdup(s, strlen(s) + 1);
}

void *bc_memdup(const void *p, size_t n)
{
	void *q = bc_malloc(n);
	if (q != NULL && n > 0)
		memcpy(q, p, n);
	return q;
}
