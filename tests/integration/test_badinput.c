/*
 * test_badinput.c - hostile bytes at the relay: truncated, oversized and
 * garbage frames, bad records, and handshakes with a wrong preamble,
 * version or prologue. Each must close that one connection with exactly
 * one logged reason, while a bystander client keeps working throughout.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "internal.h"
#include "noise.h"
#include "proto.h"

static struct relay R;
static bc_client *bystander;

static int setup(void **state)
{
	(void)state;
	memset(&R, 0, sizeof(R));
	if (relay_start(&R) != 0)
		return -1;
	bystander = test_client(&R, NULL);
	return bystander && bc_client_ping(bystander, NULL) == BC_OK ? 0 : -1;
}

static int teardown(void **state)
{
	int st;
	(void)state;
	bc_client_free(bystander);
	st = relay_stop(&R);
	relay_cleanup(&R);
	return st == 0 ? 0 : -1;
}

/* After each attack: exactly one more log line with the reason, and the
 * bystander still gets answers. */
static void expect_reason(const char *reason, int before)
{
	int after = relay_log_wait(&R, reason, before + 1, 3000);
	msleep(50);
	after = relay_log_count(&R, reason);
	assert_int_equal(after, before + 1);
	assert_int_equal(bc_client_ping(bystander, NULL), BC_OK);
}

static void send_all(int fd, const void *p, size_t n)
{
	assert_int_equal(write(fd, p, n), (ssize_t)n);
}

static void garbage_preamble(void **state)
{
	int before = relay_log_count(&R, "bad preamble");
	int fd = raw_connect(&R);
	(void)state;
	assert_true(fd >= 0);
	send_all(fd, "GET / HTTP/1.1\r\n\r\n", 18);
	assert_true(raw_wait_closed(fd, 3000));
	close(fd);
	expect_reason("bad preamble", before);
}

static void wrong_version(void **state)
{
	int before = relay_log_count(&R, "unsupported protocol version 7");
	uint8_t pre[8], back[8];
	int fd = raw_connect(&R);
	(void)state;
	assert_true(fd >= 0);
	bc_proto_preamble(pre, 7);
	send_all(fd, pre, 8);
	/* The relay answers with its own version before closing. */
	assert_int_equal(read(fd, back, 8), 8);
	assert_memory_equal(back, "BCRL", 4);
	assert_int_equal(bc_load16(back + 4), BC_PROTO_VERSION);
	assert_true(raw_wait_closed(fd, 3000));
	close(fd);
	expect_reason("unsupported protocol version 7", before);
}

static void bad_message1_length(void **state)
{
	int before = relay_log_count(&R, "bad handshake message 1");
	uint8_t buf[8 + 2 + 40];
	int fd = raw_connect(&R);
	(void)state;
	bc_proto_preamble(buf, BC_PROTO_VERSION);
	bc_store16(buf + 8, 40);
	randombytes_buf(buf + 10, 40);
	send_all(fd, buf, sizeof(buf));
	assert_true(raw_wait_closed(fd, 3000));
	close(fd);
	expect_reason("bad handshake message 1", before);
}

/* A client with another prologue: its message 3 cannot authenticate. */
static void wrong_prologue(void **state)
{
	int before = relay_log_count(&R, "handshake failed");
	bc_noise_hs *hs = NULL;
	uint8_t priv[32], buf[600], m3[66];
	size_t n;
	int fd = raw_connect(&R);
	(void)state;
	randombytes_buf(priv, sizeof(priv));
	assert_int_equal(bc_noise_hs_new(&hs, BC_PROTO_NOISE_NAME, true), BC_OK);
	assert_int_equal(bc_noise_hs_set_prologue(hs, (const uint8_t *)"backchannel relay v0", 20), BC_OK);
	assert_int_equal(bc_noise_hs_set_local_static(hs, priv), BC_OK);
	assert_int_equal(bc_noise_hs_start(hs), BC_OK);
	bc_proto_preamble(buf, BC_PROTO_VERSION);
	assert_int_equal(bc_noise_hs_write_message(hs, NULL, 0, buf + 10, sizeof(buf) - 10, &n), BC_OK);
	bc_store16(buf + 8, (uint16_t)n);
	send_all(fd, buf, 10 + n);
	/* Read preamble + message 2; this side cannot decrypt it. */
	assert_true(read(fd, buf, sizeof(buf)) > 10);
	/* Send a message 3 of the right length anyway. */
	bc_store16(m3, 64);
	randombytes_buf(m3 + 2, 64);
	send_all(fd, m3, sizeof(m3));
	assert_true(raw_wait_closed(fd, 3000));
	close(fd);
	bc_noise_hs_free(hs);
	expect_reason("handshake failed", before);
}

static bc_client *open_client(void)
{
	bc_client *c = test_client_quick(&R);
	assert_non_null(c);
	assert_int_equal(bc_client_connect(c), BC_OK);
	return c;
}

/* Wait for the relay's error frame (or the close). */
static int relay_reaction(bc_client *c)
{
	bc_frame f;
	int rc = bc_client_recv_frame(c, 3000, &f);
	if (rc == BC_OK && f.type == BC_T_ERROR)
		return -(int)f.err_code;
	return rc;
}

static void oversized_frame(void **state)
{
	int before = relay_log_count(&R, "oversized frame");
	bc_client *c = open_client();
	uint8_t hdr[16] = {0};
	(void)state;
	bc_store32(hdr, bc_client_hello(c)->max_frame); /* +4 > max */
	hdr[4] = BC_T_PING;
	assert_int_equal(bc_client_send_frames(c, hdr, sizeof(hdr)), BC_OK);
	assert_int_equal(relay_reaction(c), BC_ERR_TOOBIG);
	bc_client_free(c);
	expect_reason("oversized frame", before);
}

static void garbage_frame(void **state)
{
	int before = relay_log_count(&R, "malformed frame\"");
	bc_client *c = open_client();
	uint8_t fr[4 + 40];
	(void)state;
	bc_store32(fr, 40);
	randombytes_buf(fr + 4, 40);
	fr[4] = BC_T_POST; /* a post whose fields are noise */
	bc_store32(fr + 5, 1);
	bc_store16(fr + 5 + 4 + 16, 9); /* 9 copies announced, none there */
	assert_int_equal(bc_client_send_frames(c, fr, sizeof(fr)), BC_OK);
	assert_int_equal(relay_reaction(c), BC_ERR_MALFORMED);
	bc_client_free(c);
	expect_reason("malformed frame\"", before);
}

static void unknown_frame_type(void **state)
{
	int before = relay_log_count(&R, "unknown frame type");
	bc_client *c = open_client();
	uint8_t fr[9];
	(void)state;
	bc_store32(fr, 5);
	fr[4] = 0x33;
	bc_store32(fr + 5, 1);
	assert_int_equal(bc_client_send_frames(c, fr, sizeof(fr)), BC_OK);
	assert_int_equal(relay_reaction(c), BC_ERR_PROTOCOL);
	bc_client_free(c);
	expect_reason("unknown frame type", before);
}

static void forged_record(void **state)
{
	int before = relay_log_count(&R, "record failed authentication");
	bc_client *c = open_client();
	uint8_t rec[2 + 48];
	(void)state;
	bc_store16(rec, 48);
	randombytes_buf(rec + 2, 48);
	assert_int_equal(bc_client_send_raw(c, rec, sizeof(rec)), BC_OK);
	(void)relay_reaction(c);
	bc_client_free(c);
	expect_reason("record failed authentication", before);
}

static void truncated_frame(void **state)
{
	int before = relay_log_count(&R, "truncated");
	bc_client *c = open_client();
	uint8_t fr[4 + 20] = {0};
	(void)state;
	bc_store32(fr, 100); /* announces 100 bytes, sends 20 */
	fr[4] = BC_T_PING;
	assert_int_equal(bc_client_send_frames(c, fr, sizeof(fr)), BC_OK);
	msleep(50);
	bc_client_free(c); /* and hangs up */
	expect_reason("truncated", before);
}

static void handshake_timeout(void **state)
{
	struct relay r2;
	int fd;
	(void)state;
	memset(&r2, 0, sizeof(r2));
	snprintf(r2.extra[r2.nextra++], 64, "--handshake-timeout=1");
	assert_int_equal(relay_start(&r2), 0);
	fd = raw_connect(&r2);
	send_all(fd, "BCRL", 4); /* half a preamble, then silence */
	assert_true(raw_wait_closed(fd, 4000));
	close(fd);
	assert_int_equal(relay_log_count(&r2, "handshake timeout"), 1);
	assert_int_equal(relay_stop(&r2), 0);
	relay_cleanup(&r2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(garbage_preamble),
		cmocka_unit_test(wrong_version),
		cmocka_unit_test(bad_message1_length),
		cmocka_unit_test(wrong_prologue),
		cmocka_unit_test(oversized_frame),
		cmocka_unit_test(garbage_frame),
		cmocka_unit_test(unknown_frame_type),
		cmocka_unit_test(forged_record),
		cmocka_unit_test(truncated_frame),
		cmocka_unit_test(handshake_timeout),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("bad input", tests, setup, teardown);
}
