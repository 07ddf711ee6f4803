/*
 * test_alloc.c - unit tests for the allocation wrapper (lib/alloc.c).
 *
 * The fault-injection hook is what every other test relies on to walk
 * out-of-memory paths, so its exact semantics are pinned down here:
 * bc_alloc_fail_at(n) fails exactly the nth allocation from now (counting
 * bc_malloc, bc_calloc, bc_realloc and the helpers built on them), once;
 * later allocations succeed again; 0 disables a pending failure.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>

#include "internal.h"

static void test_fail_next(void **state)
{
	void *p, *q;
	(void)state;

	bc_alloc_fail_at(1);
	p = bc_malloc(16);
	assert_null(p);
	q = bc_malloc(16); /* one-shot: works again */
	assert_non_null(q);
	bc_free(q);
}

static void test_fail_nth(void **state)
{
	void *p[5] = {0};
	(void)state;

	bc_alloc_fail_at(3);
	for (int i = 0; i < 5; i++)
		p[i] = bc_malloc(8);
	assert_non_null(p[0]);
	assert_non_null(p[1]);
	assert_null(p[2]);
	assert_non_null(p[3]);
	assert_non_null(p[4]);
	for (int i = 0; i < 5; i++)
		bc_free(p[i]);
}

static void test_fail_disable(void **state)
{
	void *p;
	(void)state;

	bc_alloc_fail_at(1);
	bc_alloc_fail_at(0);
	p = bc_malloc(8);
	assert_non_null(p);
	bc_free(p);

	/* A later call replaces a pending one. */
	bc_alloc_fail_at(1);
	bc_alloc_fail_at(2);
	p = bc_malloc(8);
	assert_non_null(p);
	assert_null(bc_malloc(8));
	bc_free(p);
}

static void test_fail_every_kind(void **state)
{
	void *p;
	(void)state;

	bc_alloc_fail_at(1);
	assert_null(bc_calloc(4, 4));
	bc_alloc_fail_at(1);
	assert_null(bc_realloc(NULL, 4));
	bc_alloc_fail_at(1);
	assert_null(bc_strdup("abc"));
	bc_alloc_fail_at(1);
	assert_null(bc_memdup("abc", 3));

	/* A failed realloc leaves the original block alone. */
	p = bc_malloc(4);
	assert_non_null(p);
	memcpy(p, "wxyz", 4);
	bc_alloc_fail_at(1);
	assert_null(bc_realloc(p, 4096));
	assert_memory_equal(p, "wxyz", 4);
	bc_free(p);
}

static void test_count(void **state)
{
	unsigned long c0 = bc_alloc_count();
	void *p, *q;
	(void)state;

	p = bc_malloc(1);
	q = bc_calloc(2, 2);
	assert_int_equal(bc_alloc_count(), c0 + 2);
	bc_free(p);
	bc_free(q);
	assert_int_equal(bc_alloc_count(), c0 + 2); /* frees are not counted */

	/* A failed allocation still counts as an attempt. */
	bc_alloc_fail_at(1);
	assert_null(bc_malloc(1));
	assert_int_equal(bc_alloc_count(), c0 + 3);
}

static void test_zero_sizes(void **state)
{
	void *p;
	(void)state;

	p = bc_malloc(0);
	assert_non_null(p);
	bc_free(p);
	p = bc_calloc(0, 16);
	assert_non_null(p);
	bc_free(p);
	p = bc_calloc(16, 0);
	assert_non_null(p);
	bc_free(p);
	p = bc_realloc(NULL, 0);
	assert_non_null(p);
	p = bc_realloc(p, 0);
	assert_non_null(p);
	bc_free(p);
	p = bc_memdup("", 0);
	assert_non_null(p);
	bc_free(p);
}

static void test_calloc_zeroed(void **state)
{
	uint8_t *p;
	(void)state;

	p = bc_calloc(64, 1);
	assert_non_null(p);
	for (int i = 0; i < 64; i++)
		assert_int_equal(p[i], 0);
	bc_free(p);
}

static void test_realloc_keeps_contents(void **state)
{
	char *p;
	(void)state;

	p = bc_malloc(4);
	assert_non_null(p);
	memcpy(p, "abcd", 4);
	p = bc_realloc(p, 1 << 16);
	assert_non_null(p);
	assert_memory_equal(p, "abcd", 4);
	bc_free(p);
}

static void test_strdup_memdup(void **state)
{
	char *s;
	uint8_t *m;
	const uint8_t bin[5] = {0, 1, 0, 0xff, 7};
	(void)state;

	s = bc_strdup("backchannel");
	assert_non_null(s);
	assert_string_equal(s, "backchannel");
	bc_free(s);

	s = bc_strdup("");
	assert_non_null(s);
	assert_string_equal(s, "");
	bc_free(s);

	m = bc_memdup(bin, sizeof(bin)); /* embedded NULs are copied */
	assert_non_null(m);
	assert_memory_equal(m, bin, sizeof(bin));
	bc_free(m);
}

static void test_free_null_and_secret(void **state)
{
	uint8_t *p;
	(void)state;

	bc_free(NULL);
	bc_free_secret(NULL, 0);
	bc_free_secret(NULL, 1000); /* must not touch the (absent) memory */

	p = bc_malloc(32);
	assert_non_null(p);
	memset(p, 0xa5, 32);
	bc_free_secret(p, 32);
	p = bc_malloc(0);
	assert_non_null(p);
	bc_free_secret(p, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fail_next),
		cmocka_unit_test(test_fail_nth),
		cmocka_unit_test(test_fail_disable),
		cmocka_unit_test(test_fail_every_kind),
		cmocka_unit_test(test_count),
		cmocka_unit_test(test_zero_sizes),
		cmocka_unit_test(test_calloc_zeroed),
		cmocka_unit_test(test_realloc_keeps_contents),
		cmocka_unit_test(test_strdup_memdup),
		cmocka_unit_test(test_free_null_and_secret),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("alloc", tests, NULL, NULL);
}
