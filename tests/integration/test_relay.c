/*
 * test_relay.c - the relay end to end: the real backchanneld on 127.0.0.1
 * with real clients (issue "foundation and relay", must-hold list).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"
#include "internal.h"

static struct relay R;

struct inbox {
	int n;
	uint8_t ids[64][BC_MSGID_LEN];
	char bodies[64][64];
	uint64_t seqs[64];
};

static int collect(void *ctx, const uint8_t *mb, const bc_msg_item *m)
{
	struct inbox *in = ctx;
	(void)mb;
	if (in->n >= 64)
		return BC_ERR_TOOBIG;
	memcpy(in->ids[in->n], m->msg_id, BC_MSGID_LEN);
	snprintf(in->bodies[in->n], 64, "%.*s", (int)m->body_len,
		 (const char *)m->body);
	in->seqs[in->n] = m->seq;
	in->n++;
	return BC_OK;
}

static int post1(bc_client *c, const uint8_t *mb, const uint8_t *cap,
		 const uint8_t id[16], const char *text, bool *dup)
{
	bc_client_copy cp = {mb, cap, (const uint8_t *)text, strlen(text)};
	return bc_client_post(c, id, &cp, 1, dup);
}

static int setup(void **state)
{
	(void)state;
	memset(&R, 0, sizeof(R));
	return relay_start(&R);
}

static int teardown(void **state)
{
	(void)state;
	int st = relay_stop(&R);
	relay_cleanup(&R);
	return st == 0 ? 0 : -1;
}

static void post_push_ack_deleted(void **state)
{
	bc_client *a = test_client(&R, NULL), *b = test_client(&R, NULL);
	uint8_t mb[32], cap[32], id[16];
	struct inbox in = {0};
	bool dup = true;
	(void)state;
	assert_int_equal(test_mailbox(b, mb, cap), BC_OK);
	assert_int_equal(bc_client_subscribe(b, mb), BC_OK);
	randombytes_buf(id, sizeof(id));
	assert_int_equal(post1(a, mb, cap, id, "hello", &dup), BC_OK);
	assert_false(dup);
	assert_int_equal(bc_client_poll_push(b, 5000, collect, &in), 1);
	assert_int_equal(in.n, 1);
	assert_memory_equal(in.ids[0], id, 16);
	assert_string_equal(in.bodies[0], "hello");
	/* Still there until acknowledged. */
	memset(&in, 0, sizeof(in));
	assert_int_equal(bc_client_fetch(b, mb, 0, 10, collect, &in, NULL),
			 BC_OK);
	assert_int_equal(in.n, 1);
	{
		uint16_t acked = 0;
		assert_int_equal(bc_client_ack(b, mb,
					       (const uint8_t(*)[16])id, 1,
					       &acked),
				 BC_OK);
		assert_int_equal(acked, 1);
		/* A second ack finds nothing: it was deleted. */
		assert_int_equal(bc_client_ack(b, mb,
					       (const uint8_t(*)[16])id, 1,
					       &acked),
				 BC_OK);
		assert_int_equal(acked, 0);
	}
	memset(&in, 0, sizeof(in));
	assert_int_equal(bc_client_fetch(b, mb, 0, 10, collect, &in, NULL),
			 BC_OK);
	assert_int_equal(in.n, 0);
	bc_client_free(a);
	bc_client_free(b);
}

static void offline_owner_receives_on_reconnect(void **state)
{
	uint8_t bkey[32], mb[32], cap[32], id[16];
	bc_client *a = test_client(&R, NULL), *b;
	struct inbox in = {0};
	(void)state;
	randombytes_buf(bkey, sizeof(bkey));
	b = test_client(&R, bkey);
	assert_int_equal(test_mailbox(b, mb, cap), BC_OK);
	bc_client_free(b); /* the owner goes offline */
	for (int i = 0; i < 3; i++) {
		char text[16];
		snprintf(text, sizeof(text), "m%d", i);
		randombytes_buf(id, sizeof(id));
		assert_int_equal(post1(a, mb, cap, id, text, NULL), BC_OK);
	}
	/* Back online, with the same key: the pushes come in post order. */
	b = test_client(&R, bkey);
	assert_int_equal(bc_client_subscribe(b, mb), BC_OK);
	while (in.n < 3)
		assert_true(bc_client_poll_push(b, 5000, collect, &in) > 0);
	assert_string_equal(in.bodies[0], "m0");
	assert_string_equal(in.bodies[1], "m1");
	assert_string_equal(in.bodies[2], "m2");
	assert_true(in.seqs[0] < in.seqs[1] && in.seqs[1] < in.seqs[2]);
	bc_client_free(a);
	bc_client_free(b);
}

static void retried_post_stored_once(void **state)
{
	bc_client *a = test_client(&R, NULL), *b = test_client(&R, NULL);
	uint8_t mb[32], cap[32], id[16];
	struct inbox in = {0};
	bool dup = false;
	(void)state;
	assert_int_equal(test_mailbox(b, mb, cap), BC_OK);
	randombytes_buf(id, sizeof(id));
	assert_int_equal(post1(a, mb, cap, id, "once", &dup), BC_OK);
	assert_false(dup);
	assert_int_equal(post1(a, mb, cap, id, "once", &dup), BC_OK);
	assert_true(dup);
	/* And after a reconnect, as a client retrying an unacked post. */
	bc_client_disconnect(a);
	assert_int_equal(post1(a, mb, cap, id, "once", &dup), BC_OK);
	assert_true(dup);
	assert_int_equal(bc_client_fetch(b, mb, 0, 10, collect, &in, NULL),
			 BC_OK);
	assert_int_equal(in.n, 1);
	bc_client_free(a);
	bc_client_free(b);
}

static void capability_refused(void **state)
{
	bc_client *a = test_client_quick(&R), *b = test_client(&R, NULL);
	uint8_t mb[32], cap[32], wrong[32], zero[32] = {0}, id[16];
	struct inbox in = {0};
	(void)state;
	assert_int_equal(test_mailbox(b, mb, cap), BC_OK);
	randombytes_buf(wrong, sizeof(wrong));
	randombytes_buf(id, sizeof(id));
	assert_int_equal(post1(a, mb, wrong, id, "x", NULL), BC_ERR_CAPABILITY);
	assert_non_null(strstr(bc_client_last_error(a), "capability"));
	assert_int_equal(post1(a, mb, zero, id, "x", NULL), BC_ERR_CAPABILITY);
	/* Revoked: refused from then on, and cannot be re-added. */
	assert_int_equal(post1(a, mb, cap, id, "before", NULL), BC_OK);
	assert_int_equal(bc_client_cap_revoke(b, mb, cap), BC_OK);
	randombytes_buf(id, sizeof(id));
	assert_int_equal(post1(a, mb, cap, id, "after", NULL),
			 BC_ERR_CAPABILITY);
	assert_int_not_equal(bc_client_cap_add(b, mb, cap), BC_OK);
	assert_int_equal(post1(a, mb, cap, id, "after", NULL),
			 BC_ERR_CAPABILITY);
	/* A capability of one mailbox does not open another. */
	{
		uint8_t mb2[32], cap2[32];
		assert_int_equal(test_mailbox(b, mb2, cap2), BC_OK);
		assert_int_equal(post1(a, mb, cap2, id, "cross", NULL),
				 BC_ERR_CAPABILITY);
	}
	assert_int_equal(bc_client_fetch(b, mb, 0, 10, collect, &in, NULL),
			 BC_OK);
	assert_int_equal(in.n, 1);
	assert_string_equal(in.bodies[0], "before");
	bc_client_free(a);
	bc_client_free(b);
}

static void other_keys_mailbox_refused(void **state)
{
	bc_client *b = test_client(&R, NULL), *eve = test_client_quick(&R);
	uint8_t mb[32], cap[32], id[16] = {1};
	struct inbox in = {0};
	(void)state;
	assert_int_equal(test_mailbox(b, mb, cap), BC_OK);
	assert_int_equal(bc_client_fetch(eve, mb, 0, 10, collect, &in, NULL),
			 BC_ERR_FORBIDDEN);
	assert_int_equal(bc_client_subscribe(eve, mb), BC_ERR_FORBIDDEN);
	assert_int_equal(bc_client_ack(eve, mb, (const uint8_t(*)[16])id, 1,
				       NULL),
			 BC_ERR_FORBIDDEN);
	assert_int_equal(bc_client_open(eve, mb, NULL), BC_ERR_FORBIDDEN);
	{
		uint8_t mycap[32];
		randombytes_buf(mycap, sizeof(mycap));
		assert_int_equal(bc_client_cap_add(eve, mb, mycap),
				 BC_ERR_FORBIDDEN);
	}
	assert_int_equal(in.n, 0);
	bc_client_free(b);
	bc_client_free(eve);
}

static void pinned_key_mismatch_refused(void **state)
{
	struct relay fake = R;
	bc_client *c;
	int before = relay_log_count(&R, "peer closed during handshake");
	(void)state;
	fake.addr.key[0] ^= 1;
	c = test_client_quick(&fake);
	assert_int_equal(bc_client_connect(c), BC_ERR_PINNING);
	assert_non_null(strstr(bc_client_last_error(c), "different key"));
	/* Requests do not go through either. */
	assert_int_equal(bc_client_ping(c, NULL), BC_ERR_PINNING);
	/* The client hung up before sending message 3 (its identity). */
	assert_true(relay_log_wait(&R, "peer closed during handshake",
				   before + 1, 3000) > before);
	bc_client_free(c);
}

static void multi_copy_post_is_atomic(void **state)
{
	bc_client *a = test_client_quick(&R), *b = test_client(&R, NULL),
		  *c = test_client(&R, NULL);
	uint8_t mb1[32], cap1[32], mb2[32], cap2[32], bad[32], id[16];
	struct inbox in = {0};
	bc_client_copy cp[2];
	(void)state;
	assert_int_equal(test_mailbox(b, mb1, cap1), BC_OK);
	assert_int_equal(test_mailbox(c, mb2, cap2), BC_OK);
	randombytes_buf(bad, sizeof(bad));
	randombytes_buf(id, sizeof(id));
	cp[0] = (bc_client_copy){mb1, cap1, (const uint8_t *)"for b", 5};
	cp[1] = (bc_client_copy){mb2, bad, (const uint8_t *)"for c", 5};
	assert_int_equal(bc_client_post(a, id, cp, 2, NULL), BC_ERR_CAPABILITY);
	assert_int_equal(bc_client_fetch(b, mb1, 0, 10, collect, &in, NULL),
			 BC_OK);
	assert_int_equal(in.n, 0);
	cp[1].cap = cap2;
	assert_int_equal(bc_client_post(a, id, cp, 2, NULL), BC_OK);
	assert_int_equal(bc_client_fetch(b, mb1, 0, 10, collect, &in, NULL),
			 BC_OK);
	assert_int_equal(bc_client_fetch(c, mb2, 0, 10, collect, &in, NULL),
			 BC_OK);
	assert_int_equal(in.n, 2);
	assert_string_equal(in.bodies[0], "for b");
	assert_string_equal(in.bodies[1], "for c");
	assert_memory_equal(in.ids[0], in.ids[1], 16);
	bc_client_free(a);
	bc_client_free(b);
	bc_client_free(c);
}

static void prekey_blobs(void **state)
{
	bc_client *a = test_client_quick(&R), *b = test_client(&R, NULL);
	uint8_t mb[32], cap[32], wrong[32];
	const uint8_t *blobs[3] = {(const uint8_t *)"one",
				   (const uint8_t *)"two",
				   (const uint8_t *)"three"};
	size_t lens[3] = {3, 3, 5};
	uint32_t left = 0;
	uint8_t *s = NULL, *o = NULL;
	size_t sl, ol;
	(void)state;
	assert_int_equal(test_mailbox(b, mb, cap), BC_OK);
	assert_int_equal(bc_client_prekey_get(a, mb, cap, &s, &sl, &o, &ol),
			 BC_ERR_NOTFOUND);
	assert_int_equal(bc_client_prekey_put(b, mb, (const uint8_t *)"signed",
					      6, blobs, lens, 3, &left),
			 BC_OK);
	assert_int_equal(left, 3);
	randombytes_buf(wrong, sizeof(wrong));
	assert_int_equal(bc_client_prekey_get(a, mb, wrong, &s, &sl, &o, &ol),
			 BC_ERR_CAPABILITY);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(
			bc_client_prekey_get(a, mb, cap, &s, &sl, &o, &ol),
			BC_OK);
		assert_int_equal(sl, 6);
		assert_memory_equal(s, "signed", 6);
		assert_non_null(o);
		assert_int_equal(ol, lens[i]);
		assert_memory_equal(o, blobs[i], lens[i]);
		bc_free(s);
		bc_free(o);
	}
	/* One-time blobs exhausted: the signed one still comes. */
	assert_int_equal(bc_client_prekey_get(a, mb, cap, &s, &sl, &o, &ol),
			 BC_OK);
	assert_null(o);
	assert_int_equal(sl, 6);
	bc_free(s);
	bc_client_free(a);
	bc_client_free(b);
}

static void ping_and_hello(void **state)
{
	bc_client *a = test_client(&R, NULL);
	uint64_t rtt = 0;
	(void)state;
	assert_int_equal(bc_client_ping(a, &rtt), BC_OK);
	assert_true(rtt > 0);
	assert_int_equal(bc_client_hello(a)->version, 1);
	assert_true(bc_client_hello(a)->max_frame >= 4096);
	bc_client_free(a);
}

static void one_relay_per_data_dir(void **state)
{
	char cmd[1024];
	int st;
	(void)state;
	snprintf(cmd, sizeof(cmd),
		 "timeout 5 %s --data-dir=%s --listen=127.0.0.1:0 "
		 "2>%s/second.err",
		 harness_prog("backchanneld"), R.dir, R.dir);
	st = system(cmd);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 1);
	{
		struct relay probe = R;
		snprintf(probe.log, sizeof(probe.log), "%s/second.err", R.dir);
		assert_int_equal(relay_log_count(&probe, "already running"), 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ping_and_hello),
		cmocka_unit_test(post_push_ack_deleted),
		cmocka_unit_test(offline_owner_receives_on_reconnect),
		cmocka_unit_test(retried_post_stored_once),
		cmocka_unit_test(capability_refused),
		cmocka_unit_test(other_keys_mailbox_refused),
		cmocka_unit_test(pinned_key_mismatch_refused),
		cmocka_unit_test(multi_copy_post_is_atomic),
		cmocka_unit_test(prekey_blobs),
		cmocka_unit_test(one_relay_per_data_dir),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("relay", tests, setup, teardown);
}
