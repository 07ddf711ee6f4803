/*
 * test_crash.c - kill -9 the relay during a stream of posts from several
 * clients; after restarts, every acknowledged post is delivered, and none
 * twice. The posters are real clients that retry under the same message
 * id across the crashes, as applications do.
 *
 * CRASH_KILLS and CRASH_POSTS (environment) lengthen the run (make soak).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "internal.h"

#define POSTERS 4

static struct relay R;
static uint8_t MB[32], CAP[32], OWNER[32];
static int posts_per_thread = 300;

struct poster {
	pthread_t th;
	int idx;
	int acked, failed;
	bool *ok; /* ok[i]: post i was acknowledged */
	volatile int *total;
};

static void make_id(uint8_t id[16], int thread, int i)
{
	memset(id, 0, 16);
	bc_store32(id, 0xC0FFEE00u);
	bc_store32(id + 8, (uint32_t)thread);
	bc_store32(id + 12, (uint32_t)i);
}

static void *poster_main(void *arg)
{
	struct poster *p = arg;
	bc_client_opts o;
	bc_client *c = NULL;
	uint8_t key[32];
	bc_client_opts_default(&o);
	o.retry_budget_ms = 60000;
	o.backoff_max_ms = 200;
	o.io_timeout_ms = 5000;
	randombytes_buf(key, sizeof(key));
	if (bc_client_new(&c, &R.addr, key, &o) != BC_OK)
		return NULL;
	for (int i = 0; i < posts_per_thread; i++) {
		uint8_t id[16];
		char body[32];
		bc_client_copy cp;
		make_id(id, p->idx, i);
		snprintf(body, sizeof(body), "t%d-m%d", p->idx, i);
		cp = (bc_client_copy){MB, CAP, (const uint8_t *)body,
				      strlen(body)};
		if (bc_client_post(c, id, &cp, 1, NULL) == BC_OK) {
			p->ok[i] = true;
			p->acked++;
			__atomic_add_fetch(p->total, 1, __ATOMIC_RELAXED);
		} else {
			p->failed++;
		}
	}
	bc_client_free(c);
	return NULL;
}

struct seen {
	int count[POSTERS][4096];
	int total, bad;
	uint8_t (*ids)[16];
	size_t n, cap;
};

static int see(void *ctx, const uint8_t *mb, const bc_msg_item *m)
{
	struct seen *s = ctx;
	uint32_t t = bc_load32(m->msg_id + 8), i = bc_load32(m->msg_id + 12);
	(void)mb;
	if (t >= POSTERS || i >= 4096 || bc_load32(m->msg_id) != 0xC0FFEE00u) {
		s->bad++;
		return BC_OK;
	}
	s->count[t][i]++;
	s->total++;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 256;
		s->ids = realloc(s->ids, s->cap * 16);
		if (s->ids == NULL)
			return BC_ERR_NOMEM;
	}
	memcpy(s->ids[s->n++], m->msg_id, 16);
	return BC_OK;
}

static void kill9_under_load(void **state)
{
	struct poster ps[POSTERS];
	volatile int total = 0;
	int kills = 3, done_kills = 0, lost = 0, dups = 0, acked = 0;
	struct seen *s = calloc(1, sizeof(*s));
	bc_client *owner;
	const char *e;
	(void)state;
	if ((e = getenv("CRASH_KILLS")) != NULL)
		kills = atoi(e);
	if ((e = getenv("CRASH_POSTS")) != NULL)
		posts_per_thread = atoi(e);
	if (posts_per_thread > 4096)
		posts_per_thread = 4096;
	assert_non_null(s);
	memset(&R, 0, sizeof(R));
	assert_int_equal(relay_start(&R), 0);
	randombytes_buf(OWNER, sizeof(OWNER));
	owner = test_client(&R, OWNER);
	assert_int_equal(test_mailbox(owner, MB, CAP), BC_OK);
	bc_client_free(owner);

	for (int t = 0; t < POSTERS; t++) {
		ps[t] = (struct poster){.idx = t, .total = &total};
		ps[t].ok = calloc((size_t)posts_per_thread, sizeof(bool));
		assert_non_null(ps[t].ok);
		assert_int_equal(pthread_create(&ps[t].th, NULL, poster_main,
						&ps[t]),
				 0);
	}
	/* Kill at spread-out points of the stream. */
	for (int k = 0; k < kills; k++) {
		int target = (k + 1) * POSTERS * posts_per_thread / (kills + 2);
		int spins = 0;
		while (__atomic_load_n(&total, __ATOMIC_RELAXED) < target &&
		       spins++ < 3000)
			msleep(2);
		msleep((int)randombytes_uniform(20));
		relay_kill9(&R);
		done_kills++;
		msleep(50 + (int)randombytes_uniform(150));
		assert_int_equal(relay_restart(&R), 0);
	}
	for (int t = 0; t < POSTERS; t++)
		pthread_join(ps[t].th, NULL);

	/* Drain the mailbox as its owner, acknowledging as we go. */
	owner = test_client(&R, OWNER);
	for (;;) {
		bool more = false;
		size_t before = s->n;
		assert_int_equal(bc_client_fetch(owner, MB, 0, 1024, see, s,
						 &more),
				 BC_OK);
		if (s->n == before)
			break;
		assert_int_equal(bc_client_ack(owner, MB,
					       (const uint8_t(*)[16])s->ids +
						       before,
					       s->n - before, NULL),
				 BC_OK);
	}
	bc_client_free(owner);

	for (int t = 0; t < POSTERS; t++) {
		for (int i = 0; i < posts_per_thread; i++) {
			if (ps[t].ok[i]) {
				acked++;
				if (s->count[t][i] == 0)
					lost++;
			}
			if (s->count[t][i] > 1)
				dups++;
		}
		assert_int_equal(ps[t].failed, 0);
		free(ps[t].ok);
	}
	printf("# crash: %d kills, %d posts acknowledged, %d delivered, "
	       "%d lost, %d duplicated, %d foreign\n",
	       done_kills, acked, s->total, lost, dups, s->bad);
	assert_int_equal(done_kills, kills);
	assert_int_equal(acked, POSTERS * posts_per_thread);
	assert_int_equal(lost, 0);
	assert_int_equal(dups, 0);
	assert_int_equal(s->bad, 0);
	assert_int_equal(s->total, acked);
	/* The relay really did restart from a crash each time. */
	assert_true(relay_log_count(&R, "listening") == kills + 1);
	assert_int_equal(relay_stop(&R), 0);
	relay_cleanup(&R);
	free(s->ids);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(kill9_under_load),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("crash", tests, NULL, NULL);
}
