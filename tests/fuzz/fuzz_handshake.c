/*
 * fuzz_handshake.c - libFuzzer target for the Noise handshake state machine
 * as the relay runs it (responder of Noise_XX_25519_ChaChaPoly_BLAKE2b with
 * a fixed static key and the prologue "backchannel relay v1"), and for the
 * protocol-name parser.
 *
 * Input: the first byte selects the mode.
 *   even  responder: the rest is a sequence of chunks, each a 2-byte
 *         big-endian length and that many bytes (a short last chunk is
 *         taken as it is). Chunk 1 is read as message 1; the responder then
 *         writes message 2; chunk 2 is read as message 3; if the handshake
 *         completes, every further chunk is decrypted as a transport message
 *         (and, when that succeeds, answered with one encrypted reply).
 *   odd   the rest (up to 300 bytes) is a protocol name for
 *         bc_noise_hs_new, in the role given by bit 1 of the first byte;
 *         an accepted name is also started and freed.
 * The responder's ephemeral key is fixed too, so that a recorded message 3
 * stays valid and the fuzzer can get past the handshake.
 *
 * Built by `make fuzz-build` (clang, -DBC_FUZZING=1). Compiled with
 * -DBC_FUZZ_MAKE_SEEDS and linked with the library by any compiler, this
 * file instead becomes a program that writes the seed corpus into the
 * directory named by its argument (tests/fuzz/corpus/fuzz_handshake/).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "noise.h"

#define PROTO "Noise_XX_25519_ChaChaPoly_BLAKE2b"
#define PROLOGUE "backchannel relay v1"

/* Fixed keys: responder static and ephemeral private keys. */
static const uint8_t resp_static[32] = {
	0x52, 0x65, 0x6c, 0x61, 0x79, 0x20, 0x73, 0x74, 0x61, 0x74, 0x69, 0x63, 0x20, 0x6b, 0x65, 0x79,
	0x20, 0x66, 0x6f, 0x72, 0x20, 0x66, 0x75, 0x7a, 0x7a, 0x69, 0x6e, 0x67, 0x20, 0x6f, 0x6e, 0x6c,
};
static const uint8_t resp_ephemeral[32] = {
	0x45, 0x70, 0x68, 0x65, 0x6d, 0x65, 0x72, 0x61, 0x6c, 0x20, 0x66, 0x6f, 0x72, 0x20, 0x66, 0x75,
	0x7a, 0x7a, 0x69, 0x6e, 0x67, 0x20, 0x6f, 0x6e, 0x6c, 0x79, 0x21, 0x21, 0x21, 0x21, 0x21, 0x21,
};

static uint8_t outbuf[BC_NOISE_MAX_MSG];
static uint8_t paybuf[BC_NOISE_MAX_MSG];

/* The next chunk into (*p, *n); false when the input is exhausted. */
static bool next_chunk(const uint8_t **data, size_t *size, const uint8_t **p, size_t *n)
{
	size_t len;

	if (*size < 2)
		return false;
	len = bc_load16(*data);
	*data += 2;
	*size -= 2;
	if (len > *size)
		len = *size;
	*p = *data;
	*n = len;
	*data += len;
	*size -= len;
	return true;
}

static bc_noise_hs *new_responder(void)
{
	bc_noise_hs *hs = NULL;

	if (bc_noise_hs_new(&hs, PROTO, false) != BC_OK)
		return NULL;
	if (bc_noise_hs_set_prologue(hs, (const uint8_t *)PROLOGUE, strlen(PROLOGUE)) != BC_OK ||
	    bc_noise_hs_set_local_static(hs, resp_static) != BC_OK ||
	    bc_noise_hs_set_local_ephemeral(hs, resp_ephemeral) != BC_OK ||
	    bc_noise_hs_start(hs) != BC_OK) {
		bc_noise_hs_free(hs);
		return NULL;
	}
	return hs;
}

static void run_responder(const uint8_t *data, size_t size)
{
	bc_noise_hs *hs = new_responder();
	bc_noise_cs send, recv;
	const uint8_t *p;
	size_t n, outlen, plen;
	uint8_t rs[32], h[64];
	size_t hlen = sizeof h;

	memset(&send, 0, sizeof send);
	memset(&recv, 0, sizeof recv);
	if (hs == NULL)
		return;
	if (!next_chunk(&data, &size, &p, &n) ||
	    bc_noise_hs_read_message(hs, p, n, paybuf, sizeof paybuf, &plen) != BC_OK)
		goto out;
	if (bc_noise_hs_write_message(hs, (const uint8_t *)"relay", 5, outbuf, sizeof outbuf,
				      &outlen) != BC_OK)
		goto out;
	if (!next_chunk(&data, &size, &p, &n) ||
	    bc_noise_hs_read_message(hs, p, n, paybuf, sizeof paybuf, &plen) != BC_OK)
		goto out;
	/* the handshake is complete: these must now succeed */
	if (bc_noise_hs_action(hs) != BC_NOISE_ACTION_SPLIT ||
	    bc_noise_hs_get_remote_static(hs, rs) != BC_OK ||
	    bc_noise_hs_get_handshake_hash(hs, h, &hlen) != BC_OK || hlen != 64 ||
	    bc_noise_hs_split(hs, &send, &recv) != BC_OK)
		__builtin_trap();
	while (next_chunk(&data, &size, &p, &n)) {
		uint64_t before = recv.n;

		if (bc_noise_cs_decrypt(&recv, NULL, 0, p, n, paybuf) != BC_OK) {
			if (recv.n != before)
				__builtin_trap(); /* a failure must not advance the nonce */
			continue;
		}
		if (recv.n != before + 1 || n < BC_NOISE_TAGLEN)
			__builtin_trap();
		if (bc_noise_cs_encrypt(&send, NULL, 0, paybuf, n - BC_NOISE_TAGLEN, outbuf) != BC_OK)
			__builtin_trap();
	}
out:
	bc_noise_cs_wipe(&send);
	bc_noise_cs_wipe(&recv);
	bc_noise_hs_free(hs);
}

static void run_name(uint8_t sel, const uint8_t *data, size_t size)
{
	char name[301];
	bc_noise_hs *hs = NULL;
	int rc;

	if (size > 300)
		size = 300;
	memcpy(name, data, size);
	name[size] = '\0';
	rc = bc_noise_hs_new(&hs, name, (sel & 2) != 0);
	if ((rc == BC_OK) != (hs != NULL))
		__builtin_trap();
	if (rc == BC_OK) {
		if (bc_noise_hs_set_prologue(hs, data, size) != BC_OK)
			__builtin_trap();
		/* without keys, start fails unless the pattern needs none */
		rc = bc_noise_hs_start(hs);
		if (rc != BC_OK && rc != BC_ERR_INVALID)
			__builtin_trap();
		/* the initiator writes the first message, the responder reads
		 * it (a responder that needs no key of its own, as in XN, can
		 * start without any) */
		if (bc_noise_hs_action(hs) !=
		    (rc != BC_OK ? BC_NOISE_ACTION_START
		     : (sel & 2) ? BC_NOISE_ACTION_WRITE
				 : BC_NOISE_ACTION_READ))
			__builtin_trap();
		bc_noise_hs_free(hs);
	}
}

#ifndef BC_FUZZ_MAKE_SEEDS

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;

	if (!ready) {
		if (sodium_init() < 0)
			__builtin_trap();
		ready = true;
	}
	if (size == 0)
		return 0;
	if (data[0] & 1)
		run_name(data[0], data + 1, size - 1);
	else
		run_responder(data + 1, size - 1);
	return 0;
}

#else /* BC_FUZZ_MAKE_SEEDS: write the seed corpus */

static uint8_t seed[4 * (2 + BC_NOISE_MAX_MSG)];

static size_t put_chunk(size_t at, const uint8_t *p, size_t n)
{
	bc_store16(seed + at, (uint16_t)n);
	memcpy(seed + at + 2, p, n);
	return at + 2 + n;
}

static int write_seed(const char *dir, const char *name, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL || fwrite(seed, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const uint8_t init_static[32] = { 'i', 'n', 'i', 't', ' ', 's' };
	static const uint8_t init_ephemeral[32] = { 'i', 'n', 'i', 't', ' ', 'e' };
	bc_noise_hs *i = NULL, *r = new_responder();
	bc_noise_cs is, ir;
	uint8_t m1[128], m3[128], t[64];
	size_t m1len, m3len, n, plen, at;
	int bad = 0;

	if (argc != 2 || sodium_init() < 0 || r == NULL)
		return 2;
	if (bc_noise_hs_new(&i, PROTO, true) != BC_OK ||
	    bc_noise_hs_set_prologue(i, (const uint8_t *)PROLOGUE, strlen(PROLOGUE)) != BC_OK ||
	    bc_noise_hs_set_local_static(i, init_static) != BC_OK ||
	    bc_noise_hs_set_local_ephemeral(i, init_ephemeral) != BC_OK || bc_noise_hs_start(i) != BC_OK)
		return 1;
	if (bc_noise_hs_write_message(i, NULL, 0, m1, sizeof m1, &m1len) != BC_OK ||
	    bc_noise_hs_read_message(r, m1, m1len, paybuf, sizeof paybuf, &plen) != BC_OK ||
	    bc_noise_hs_write_message(r, (const uint8_t *)"relay", 5, outbuf, sizeof outbuf, &n) != BC_OK ||
	    bc_noise_hs_read_message(i, outbuf, n, paybuf, sizeof paybuf, &plen) != BC_OK ||
	    bc_noise_hs_write_message(i, (const uint8_t *)"client", 6, m3, sizeof m3, &m3len) != BC_OK ||
	    bc_noise_hs_split(i, &is, &ir) != BC_OK)
		return 1;

	/* 1: message 1 only */
	seed[0] = 0;
	at = put_chunk(1, m1, m1len);
	bad |= write_seed(argv[1], "msg1", at);
	/* 2: a whole handshake and two transport messages */
	at = put_chunk(at, m3, m3len);
	if (bc_noise_cs_encrypt(&is, NULL, 0, (const uint8_t *)"hello relay", 11, t) != BC_OK)
		return 1;
	at = put_chunk(at, t, 11 + BC_NOISE_TAGLEN);
	if (bc_noise_cs_encrypt(&is, NULL, 0, NULL, 0, t) != BC_OK)
		return 1;
	at = put_chunk(at, t, BC_NOISE_TAGLEN);
	bad |= write_seed(argv[1], "handshake-and-transport", at);
	run_responder(seed + 1, at - 1); /* replay it once through the target */
	/* 3: a protocol name */
	seed[0] = 1;
	memcpy(seed + 1, "Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b", 37);
	bad |= write_seed(argv[1], "name", 38);
	run_name(seed[0], seed + 1, 37);

	bc_noise_cs_wipe(&is);
	bc_noise_cs_wipe(&ir);
	bc_noise_hs_free(i);
	bc_noise_hs_free(r);
	return bad;
}

#endif
