/*
 * test_noise.c - unit tests for lib/noise.c (Noise Protocol Framework rev. 34).
 *
 * What is covered, and against what:
 *   - the relay protocol Noise_XX_25519_ChaChaPoly_BLAKE2b end to end between
 *     two in-memory parties, and replayed against the published cacophony
 *     vector for it (known answers, not just self-consistency);
 *   - every supported pattern x hash, self-interop, with one-way rules;
 *   - the six patterns the shared cacophony file lacks (NX KN KX XN IN IX):
 *     vectors produced by an independent implementation (emilbayes'
 *     noise-protocol for Node.js, with injected ephemerals), run through the
 *     noise-vectors tool, together with corrupted copies that must FAIL;
 *   - failure semantics: prologue mismatch, tampering, truncation, oversize,
 *     low-order points, calls out of turn, configuration errors, allocation
 *     failure at every point; after a failure every call is BC_ERR_STATE;
 *   - CipherState details: nonce encoding, reserved nonce, in-place use,
 *     output and nonce untouched on authentication failure, rekey.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "internal.h"
#include "noise.h"

#define XX_B2B "Noise_XX_25519_ChaChaPoly_BLAKE2b"

static uint8_t msgbuf[BC_NOISE_MAX_MSG + 64];
static uint8_t paybuf[BC_NOISE_MAX_MSG + 64];
static uint8_t bigbuf[BC_NOISE_MAX_MSG + 64];

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t len = 0;

	assert_int_equal(sodium_hex2bin(out, cap, hex, strlen(hex), NULL, &len, NULL), 0);
	assert_int_equal(len * 2, strlen(hex));
	return len;
}

static void keypair(uint8_t sk[32], uint8_t pk[32])
{
	randombytes_buf(sk, 32);
	assert_int_equal(crypto_scalarmult_base(pk, sk), 0);
}

/* ---- building and driving handshakes -------------------------------------- */

struct pair {
	bc_noise_hs *i, *r;
	uint8_t is[32], is_pub[32], rs[32], rs_pub[32];
};

/* The base pattern of a protocol name ("XX" from "Noise_XXpsk3_..."). */
static void base_pattern(const char *name, char out[3])
{
	size_t n = 0;

	for (const char *p = name + 6; *p >= 'A' && *p <= 'Z' && n < 2; p++)
		out[n++] = *p;
	out[n] = '\0';
}

/* Create both sides of `name` with fresh static keys wherever the pattern
 * uses them, the given prologues (NULL = none) and PSKs (npsk of each), and
 * start them. */
static void pair_new(struct pair *p, const char *name, const char *pro_i, const char *pro_r,
		     uint8_t (*psk_i)[32], uint8_t (*psk_r)[32], size_t npsk)
{
	char b[3];
	bool oneway, i_static, r_static, i_known, r_known;

	memset(p, 0, sizeof *p);
	base_pattern(name, b);
	oneway = b[1] == '\0';
	keypair(p->is, p->is_pub);
	keypair(p->rs, p->rs_pub);
	if (oneway) {
		i_static = b[0] != 'N';
		i_known = b[0] == 'K';
		r_static = r_known = true;
	} else {
		i_static = b[0] != 'N';
		i_known = b[0] == 'K';
		r_static = b[1] != 'N';
		r_known = b[1] == 'K';
	}
	assert_int_equal(bc_noise_hs_new(&p->i, name, true), BC_OK);
	assert_int_equal(bc_noise_hs_new(&p->r, name, false), BC_OK);
	assert_int_equal(bc_noise_hs_action(p->i), BC_NOISE_ACTION_START);
	if (pro_i != NULL)
		assert_int_equal(bc_noise_hs_set_prologue(p->i, (const uint8_t *)pro_i, strlen(pro_i)),
				 BC_OK);
	if (pro_r != NULL)
		assert_int_equal(bc_noise_hs_set_prologue(p->r, (const uint8_t *)pro_r, strlen(pro_r)),
				 BC_OK);
	if (i_static)
		assert_int_equal(bc_noise_hs_set_local_static(p->i, p->is), BC_OK);
	if (r_static)
		assert_int_equal(bc_noise_hs_set_local_static(p->r, p->rs), BC_OK);
	if (i_known)
		assert_int_equal(bc_noise_hs_set_remote_static(p->r, p->is_pub), BC_OK);
	if (r_known)
		assert_int_equal(bc_noise_hs_set_remote_static(p->i, p->rs_pub), BC_OK);
	for (size_t k = 0; k < npsk; k++) {
		assert_int_equal(bc_noise_hs_add_psk(p->i, psk_i[k]), BC_OK);
		assert_int_equal(bc_noise_hs_add_psk(p->r, psk_r[k]), BC_OK);
	}
	assert_int_equal(bc_noise_hs_start(p->i), BC_OK);
	assert_int_equal(bc_noise_hs_start(p->r), BC_OK);
	assert_int_equal(bc_noise_hs_action(p->i), BC_NOISE_ACTION_WRITE);
	assert_int_equal(bc_noise_hs_action(p->r), BC_NOISE_ACTION_READ);
}

static void pair_free(struct pair *p)
{
	bc_noise_hs_free(p->i);
	bc_noise_hs_free(p->r);
	p->i = p->r = NULL;
}

/* One handshake message from whichever side must write; returns the
 * reader's result. The payload is "handshake payload <k>". */
static int step(struct pair *p, int k)
{
	bc_noise_hs *w, *rd;
	char pay[64];
	size_t mlen = 0, plen = 0;
	int rc;

	if (bc_noise_hs_action(p->i) == BC_NOISE_ACTION_WRITE) {
		w = p->i;
		rd = p->r;
	} else {
		w = p->r;
		rd = p->i;
	}
	assert_int_equal(bc_noise_hs_action(w), BC_NOISE_ACTION_WRITE);
	assert_int_equal(bc_noise_hs_action(rd), BC_NOISE_ACTION_READ);
	snprintf(pay, sizeof pay, "handshake payload %d", k);
	assert_int_equal(bc_noise_hs_write_message(w, (const uint8_t *)pay, strlen(pay), msgbuf,
						   sizeof msgbuf, &mlen),
			 BC_OK);
	rc = bc_noise_hs_read_message(rd, msgbuf, mlen, paybuf, sizeof paybuf, &plen);
	if (rc == BC_OK) {
		assert_int_equal(plen, strlen(pay));
		assert_memory_equal(paybuf, pay, plen);
	}
	return rc;
}

/* Run the whole handshake; both sides must end at SPLIT with equal hashes. */
static void run_handshake(struct pair *p)
{
	uint8_t hi[64], hr[64];
	size_t li = sizeof hi, lr = sizeof hr;

	for (int k = 0; bc_noise_hs_action(p->i) != BC_NOISE_ACTION_SPLIT; k++) {
		assert_true(k < 3);
		assert_int_equal(step(p, k), BC_OK);
	}
	assert_int_equal(bc_noise_hs_action(p->r), BC_NOISE_ACTION_SPLIT);
	assert_int_equal(bc_noise_hs_get_handshake_hash(p->i, hi, &li), BC_OK);
	assert_int_equal(bc_noise_hs_get_handshake_hash(p->r, hr, &lr), BC_OK);
	assert_int_equal(li, lr);
	assert_memory_equal(hi, hr, li);
}

/* Send n transport messages from a to b and check each arrives. */
static void transport(bc_noise_cs *a, bc_noise_cs *b, int n)
{
	for (int k = 0; k < n; k++) {
		uint8_t pt[100], ct[100 + BC_NOISE_TAGLEN], back[100];
		size_t len = (size_t)(k * 13) % sizeof pt;
		uint64_t na = a->n, nb = b->n;

		randombytes_buf(pt, sizeof pt);
		assert_int_equal(bc_noise_cs_encrypt(a, NULL, 0, pt, len, ct), BC_OK);
		if (len >= 8)
			assert_memory_not_equal(ct, pt, len);
		assert_int_equal(bc_noise_cs_decrypt(b, NULL, 0, ct, len + BC_NOISE_TAGLEN, back), BC_OK);
		assert_memory_equal(back, pt, len);
		assert_true(a->n == na + 1 && b->n == nb + 1);
	}
}

/* Every call on a FAILED handshake is BC_ERR_STATE. */
static void assert_dead(bc_noise_hs *hs)
{
	uint8_t k[32] = { 1 }, out[64];
	size_t n = sizeof out;
	bc_noise_cs a, b;

	assert_int_equal(bc_noise_hs_action(hs), BC_NOISE_ACTION_FAILED);
	assert_int_equal(bc_noise_hs_write_message(hs, NULL, 0, msgbuf, sizeof msgbuf, &n),
			 BC_ERR_STATE);
	assert_int_equal(bc_noise_hs_read_message(hs, msgbuf, 48, paybuf, sizeof paybuf, &n),
			 BC_ERR_STATE);
	assert_int_equal(bc_noise_hs_split(hs, &a, &b), BC_ERR_STATE);
	assert_int_equal(bc_noise_hs_get_remote_static(hs, k), BC_ERR_STATE);
	assert_int_equal(bc_noise_hs_get_handshake_hash(hs, out, &n), BC_ERR_STATE);
	assert_int_equal(bc_noise_hs_set_prologue(hs, k, 1), BC_ERR_STATE);
	assert_int_equal(bc_noise_hs_set_local_static(hs, k), BC_ERR_STATE);
	assert_int_equal(bc_noise_hs_add_psk(hs, k), BC_ERR_STATE);
	assert_int_equal(bc_noise_hs_start(hs), BC_ERR_STATE);
}

/* ---- protocol names ------------------------------------------------------- */

static void test_names(void **state)
{
	static const char *valid[] = {
		"Noise_N_25519_ChaChaPoly_BLAKE2b",
		"Noise_K_25519_ChaChaPoly_SHA256",
		"Noise_X_25519_ChaChaPoly_SHA512",
		"Noise_NN_25519_ChaChaPoly_BLAKE2b",
		"Noise_IX_25519_ChaChaPoly_SHA512",
		"Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b",
		"Noise_NNpsk0+psk2_25519_ChaChaPoly_SHA256",
		"Noise_XXpsk0+psk1+psk2+psk3_25519_ChaChaPoly_BLAKE2b",
		"Noise_Npsk0_25519_ChaChaPoly_BLAKE2b",
		"Noise_Xpsk1_25519_ChaChaPoly_BLAKE2b",
	};
	static const char *unsupported[] = {
		"Noise_XX_25519_ChaChaPoly_BLAKE2s",
		"Noise_XX_448_ChaChaPoly_BLAKE2b",
		"Noise_XX_25519_AESGCM_SHA256",
		"Noise_XXfallback_25519_ChaChaPoly_BLAKE2b",
		"Noise_XXhfs_25519+Kyber1024_ChaChaPoly_BLAKE2b",
		"Noise_XXfallback+psk0_25519_ChaChaPoly_BLAKE2b",
		"Noise_NK1_25519_ChaChaPoly_BLAKE2b", /* uppercase+digit: lexically "NK" + "1" */
		"Noise_ZZ_25519_ChaChaPoly_BLAKE2b",
		"Noise_XXX_25519_ChaChaPoly_BLAKE2b",
		"Noise_XX_25519_chachapoly_BLAKE2b",
		"Noise_XX_25519_ChaChaPoly_SHA3/256",
		"Noise_XXpskx_25519_ChaChaPoly_BLAKE2b",
		"Noise_XXPsk0_25519_ChaChaPoly_BLAKE2b", /* pattern "XXP", modifier "sk0" */
	};
	static const char *invalid[] = {
		"",
		"Noise_",
		"Noise",
		"noise_XX_25519_ChaChaPoly_BLAKE2b",
		"Noise_XX_25519_ChaChaPoly",
		"Noise_XX_25519_ChaChaPoly_BLAKE2b_",
		"Noise_XX_25519_ChaChaPoly_BLAKE2b_x",
		"Noise__25519_ChaChaPoly_BLAKE2b",
		"Noise_XX__ChaChaPoly_BLAKE2b",
		"Noise_xx_25519_ChaChaPoly_BLAKE2b",
		"Noise_psk0_25519_ChaChaPoly_BLAKE2b",
		"Noise_XX_25519_ChaChaPoly_BLAKE2b ",
		"Noise_XX_25519_ChaCha-Poly_BLAKE2b",
		"Noise_XX_25519+_ChaChaPoly_BLAKE2b",
		"Noise_XX_+25519_ChaChaPoly_BLAKE2b",
		"Noise_XX_25519_ChaChaPoly_BLAKE2\xc3\xa9",
		"Noise_XXpsk4_25519_ChaChaPoly_BLAKE2b",  /* XX has 3 messages */
		"Noise_NNpsk3_25519_ChaChaPoly_BLAKE2b",  /* NN has 2 */
		"Noise_Npsk2_25519_ChaChaPoly_BLAKE2b",   /* N has 1 */
		"Noise_XXpsk2+psk0_25519_ChaChaPoly_BLAKE2b", /* not sorted */
		"Noise_XXpsk1+psk1_25519_ChaChaPoly_BLAKE2b", /* twice */
		"Noise_XXpsk01_25519_ChaChaPoly_BLAKE2b",
		"Noise_XXpsk999999999999_25519_ChaChaPoly_BLAKE2b",
		"Noise_XX+psk0_25519_ChaChaPoly_BLAKE2b",
		"Noise_XXpsk0+_25519_ChaChaPoly_BLAKE2b",
		"Noise_XXpsk0++psk1_25519_ChaChaPoly_BLAKE2b",
		"Noise_XX/_25519_ChaChaPoly_BLAKE2b",
	};
	static char canary; /* any non-NULL value: a failed hs_new must reset *out */
	char longname[300];
	bc_noise_hs *hs = NULL;

	(void)state;
	for (size_t k = 0; k < BC_ARRAY_LEN(valid); k++) {
		assert_int_equal(bc_noise_hs_new(&hs, valid[k], k % 2 == 0), BC_OK);
		assert_non_null(hs);
		bc_noise_hs_free(hs);
	}
	for (size_t k = 0; k < BC_ARRAY_LEN(unsupported); k++) {
		hs = (bc_noise_hs *)&canary;
		if (bc_noise_hs_new(&hs, unsupported[k], true) != BC_ERR_UNSUPPORTED)
			fail_msg("%s: expected unsupported", unsupported[k]);
		assert_null(hs);
	}
	for (size_t k = 0; k < BC_ARRAY_LEN(invalid); k++) {
		hs = (bc_noise_hs *)&canary;
		if (bc_noise_hs_new(&hs, invalid[k], true) != BC_ERR_INVALID)
			fail_msg("\"%s\": expected invalid", invalid[k]);
		assert_null(hs);
	}
	assert_int_equal(bc_noise_hs_new(&hs, NULL, true), BC_ERR_INVALID);
	assert_int_equal(bc_noise_hs_new(NULL, XX_B2B, true), BC_ERR_INVALID);

	/* 255 bytes is the longest name (§8): pad the hash section so the name
	 * stays well-formed but unknown, then one more byte is malformed. */
	memset(longname, 0, sizeof longname);
	strcpy(longname, "Noise_XX_25519_ChaChaPoly_B");
	memset(longname + strlen(longname), 'x', 255 - strlen(longname));
	assert_int_equal(strlen(longname), 255);
	assert_int_equal(bc_noise_hs_new(&hs, longname, true), BC_ERR_UNSUPPORTED);
	longname[255] = 'x';
	assert_int_equal(bc_noise_hs_new(&hs, longname, true), BC_ERR_INVALID);
}

/* ---- the relay protocol ---------------------------------------------------- */

static void test_xx_roundtrip(void **state)
{
	struct pair p;
	bc_noise_cs is, ir, rs, rr;
	uint8_t key[32];

	(void)state;
	pair_new(&p, XX_B2B, "backchannel relay v1", "backchannel relay v1", NULL, NULL, 0);
	/* statics are transmitted: unknown until their message is read */
	assert_int_equal(bc_noise_hs_get_remote_static(p.i, key), BC_ERR_STATE);
	assert_int_equal(bc_noise_hs_get_remote_static(p.r, key), BC_ERR_STATE);
	assert_int_equal(step(&p, 0), BC_OK);
	assert_int_equal(bc_noise_hs_get_remote_static(p.r, key), BC_ERR_STATE);
	assert_int_equal(step(&p, 1), BC_OK);
	/* the initiator learns (and could now pin-check) the responder's key */
	assert_int_equal(bc_noise_hs_get_remote_static(p.i, key), BC_OK);
	assert_memory_equal(key, p.rs_pub, 32);
	assert_int_equal(bc_noise_hs_get_remote_static(p.r, key), BC_ERR_STATE);
	assert_int_equal(step(&p, 2), BC_OK);
	assert_int_equal(bc_noise_hs_get_remote_static(p.r, key), BC_OK);
	assert_memory_equal(key, p.is_pub, 32);
	run_handshake(&p); /* already complete: checks the hashes agree */

	assert_int_equal(bc_noise_hs_split(p.i, &is, &ir), BC_OK);
	assert_int_equal(bc_noise_hs_split(p.r, &rs, &rr), BC_OK);
	assert_int_equal(bc_noise_hs_action(p.i), BC_NOISE_ACTION_DONE);
	assert_int_equal(bc_noise_hs_split(p.i, &is, &ir), BC_ERR_STATE);
	/* send/recv pair up crosswise and the two directions differ */
	assert_memory_equal(is.k, rr.k, 32);
	assert_memory_equal(ir.k, rs.k, 32);
	assert_memory_not_equal(is.k, ir.k, 32);
	assert_true(is.n == 0 && ir.n == 0 && rs.n == 0 && rr.n == 0);
	transport(&is, &rr, 5);
	transport(&rs, &ir, 7);
	transport(&is, &rr, 3);
	/* after split: remote static and hash remain */
	assert_int_equal(bc_noise_hs_get_remote_static(p.i, key), BC_OK);
	assert_memory_equal(key, p.rs_pub, 32);
	{
		uint8_t h[64];
		size_t hl = 63;

		assert_int_equal(bc_noise_hs_get_handshake_hash(p.i, h, &hl), BC_ERR_INVALID);
		hl = 64;
		assert_int_equal(bc_noise_hs_get_handshake_hash(p.i, h, &hl), BC_OK);
		assert_int_equal(hl, 64);
	}
	/* rekey both ends of one direction: still in step */
	assert_int_equal(bc_noise_cs_rekey(&is), BC_OK);
	assert_int_equal(bc_noise_cs_rekey(&rr), BC_OK);
	transport(&is, &rr, 2);
	/* rekey only one end: the next message fails */
	assert_int_equal(bc_noise_cs_rekey(&rs), BC_OK);
	{
		uint8_t ct[16 + 4], out[4];

		assert_int_equal(bc_noise_cs_encrypt(&rs, NULL, 0, (const uint8_t *)"ping", 4, ct), BC_OK);
		assert_int_equal(bc_noise_cs_decrypt(&ir, NULL, 0, ct, sizeof ct, out), BC_ERR_AUTH);
	}
	bc_noise_cs_wipe(&is);
	bc_noise_cs_wipe(&ir);
	bc_noise_cs_wipe(&rs);
	bc_noise_cs_wipe(&rr);
	pair_free(&p);
}

/* Known answers replayed through the API (so that they are checked even
 * where the noise-vectors tool is not built): the relay protocol and three
 * others from the shared cacophony file - pre-messages on both sides (KK),
 * a one-way pattern (X), psk0 with its MixKey(e) rule (NNpsk0) - and NN
 * with no prologue at all (the empty prologue is still hashed), made by an
 * independent implementation. Hex strings; NULL = absent. */
struct kat {
	const char *name;
	const char *prologue, *is, *ie, *irs, *rs, *re, *rrs, *psk, *hash;
	size_t nmsg;
	const char *msg[6][2]; /* payload, ciphertext */
};

static const struct kat kats[] = {
	{ /* Noise_XX_25519_ChaChaPoly_BLAKE2b, from cacophony */
	  "Noise_XX_25519_ChaChaPoly_BLAKE2b",
	  /* init_prologue */ "4a6f686e2047616c74",
	  /* init_static */ "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1",
	  /* init_ephemeral */ "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a",
	  /* init_remote_static */ NULL,
	  /* resp_static */ "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893",
	  /* resp_ephemeral */ "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b",
	  /* resp_remote_static */ NULL,
	  /* psk */ NULL,
	  /* handshake_hash */ "8cf47d7b3cb5804c0109d48e8bcdbee2cbb65687d8ea2c92994ca361fb86151a"
	  "d93627b98936cbb32de56e8abb21def3925011ac3e35db9cbeea73ab9a4392c2",
	  6,
	  {
		{ "4c756477696720766f6e204d69736573",
		  "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c7944"
		  "4c756477696720766f6e204d69736573" },
		{ "4d757272617920526f746862617264",
		  "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f144808843"
		  "0505b6745ce64a5f33f0e8e3b83f11ce8802bca507f4f2d8b564dbe277e19661"
		  "16e132faa2dfd70b8b077b9f94b913df5056ae1319469b824a98d54bbaa82c32"
		  "5595587064f978c4b6d104f7596e6f" },
		{ "462e20412e20486179656b",
		  "99579e1c1ee15e422a57ddd6b16d37087b17558e8369c18991b4b2ca3a824abf"
		  "904cdcf5458b5431a75af034ca9e9b982de039eaaf156775e2d580cd4e5ebae8"
		  "9c3f8cb2594b556d8a8169" },
		{ "4361726c204d656e676572",
		  "fc56eea290b3f3a21aac0c70cd5787b5ee99be37d2f4d751329b55" },
		{ "4a65616e2d426170746973746520536179",
		  "bb31c9da10d5639a4cdb88a12f5c61de41bbc7df09bf75d94f8184fe4157f5c6"
		  "8f" },
		{ "457567656e2042f6686d20766f6e2042617765726b",
		  "f6199cadb152fb27f82be0a0891ec76a33598ae92a46cab2fb5a8ed5bf48b7f2"
		  "67f8370af7" },
	  } },
	{ /* Noise_KK_25519_ChaChaPoly_SHA512, from cacophony */
	  "Noise_KK_25519_ChaChaPoly_SHA512",
	  /* init_prologue */ "4a6f686e2047616c74",
	  /* init_static */ "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1",
	  /* init_ephemeral */ "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a",
	  /* init_remote_static */ "31e0303fd6418d2f8c0e78b91f22e8caed0fbe48656dcf4767e4834f701b8f62",
	  /* resp_static */ "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893",
	  /* resp_ephemeral */ "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b",
	  /* resp_remote_static */ "6bc3822a2aa7f4e6981d6538692b3cdf3e6df9eea6ed269eb41d93c22757b75a",
	  /* psk */ NULL,
	  /* handshake_hash */ "5a4a51f1ca26b9b90959b5ee6969c2e033d7e22eb0cba1292eea4ad14120b461"
	  "ae662cd570a18ff2114d1ea6a6d137876b4b00773d0db3ab486b7e6e83f55667",
	  6,
	  {
		{ "4c756477696720766f6e204d69736573",
		  "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c7944"
		  "3dc7ac83f109398a11fb7390e6683d53b326b6456f28638ffe86dee5f38bb771" },
		{ "4d757272617920526f746862617264",
		  "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f144808843"
		  "014594ddf297e92b7927aa591f545ccec50efae8bc7b85aef1a104f7630cf8" },
		{ "462e20412e20486179656b",
		  "44b1bb44e215cf03f8ae9b92df8a3dd06fe864f22c51f8ad9871a1" },
		{ "4361726c204d656e676572",
		  "891391acbe76f40fa5b008aa5c9eb3290e124b30efad5671eede5a" },
		{ "4a65616e2d426170746973746520536179",
		  "0ef4cb13f5fd2aad8c3e2e0f51af5aaf0d1e635925705d0026cad4c7c90ce989"
		  "cf" },
		{ "457567656e2042f6686d20766f6e2042617765726b",
		  "2e61dab18314f9ece736ac49436f0a36deb483d9262c5f9e7aa46e993629b7f4"
		  "04ef33eb56" },
	  } },
	{ /* Noise_X_25519_ChaChaPoly_SHA256, from cacophony */
	  "Noise_X_25519_ChaChaPoly_SHA256",
	  /* init_prologue */ "4a6f686e2047616c74",
	  /* init_static */ "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1",
	  /* init_ephemeral */ "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a",
	  /* init_remote_static */ "31e0303fd6418d2f8c0e78b91f22e8caed0fbe48656dcf4767e4834f701b8f62",
	  /* resp_static */ "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893",
	  /* resp_ephemeral */ NULL,
	  /* resp_remote_static */ NULL,
	  /* psk */ NULL,
	  /* handshake_hash */ "e6adfaa886b76b16b2aa79c54434c77fed488c8aa66d2c545608f4352f70f664",
	  6,
	  {
		{ "4c756477696720766f6e204d69736573",
		  "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c7944"
		  "6c15957a594079a5bdeae05d01e089fbb7cc6ea2ecfd209b941f73c9235213bc"
		  "875f7283e9e17ebdac8112627915b455fdc3aaa6de60cb3c98302f370fdb03ea"
		  "850b9b0cf22fec13e4dc0707245c8721" },
		{ "4d757272617920526f746862617264",
		  "9868def631af6242aaf00c35218275832d8d022af1c67b9fc5e8ba90f4d91b" },
		{ "462e20412e20486179656b",
		  "9fdd2576d757f880de49b32b80abf53afec16ddc86769f0e92daff" },
		{ "4361726c204d656e676572",
		  "0e5a48d10dfd648145b78012bc9edc8440cbb6e9e237eb8d5b9c25" },
		{ "4a65616e2d426170746973746520536179",
		  "11a3818b2523d06a64168b814ff680e60930e7145378cd813055f00e1725b5f9"
		  "e8" },
		{ "457567656e2042f6686d20766f6e2042617765726b",
		  "184a48a82f921ee36371d880e2abd177f8967349e992958c66fa51bff262a378"
		  "45a200d26a" },
	  } },
	{ /* Noise_NNpsk0_25519_ChaChaPoly_SHA256, from cacophony */
	  "Noise_NNpsk0_25519_ChaChaPoly_SHA256",
	  /* init_prologue */ "4a6f686e2047616c74",
	  /* init_static */ NULL,
	  /* init_ephemeral */ "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a",
	  /* init_remote_static */ NULL,
	  /* resp_static */ NULL,
	  /* resp_ephemeral */ "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b",
	  /* resp_remote_static */ NULL,
	  /* psk */ "54686973206973206d7920417573747269616e20706572737065637469766521",
	  /* handshake_hash */ "f4d03dc34495c95729ea6de9e1b59004b59733102488b3e24bc441e0be208eaf",
	  6,
	  {
		{ "4c756477696720766f6e204d69736573",
		  "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c7944"
		  "79b962b8aff8485742ac32f905ba45369e2465fb59e138a93d67a0d1266b6a54" },
		{ "4d757272617920526f746862617264",
		  "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f144808843"
		  "d6062704d5a9c422a8e834423f8c1feada7e8d0d910a1a2cd030fb584221e3" },
		{ "462e20412e20486179656b",
		  "e632c3763d7669067383433197a3baddf146e9e70ad4b4e9e59e0f" },
		{ "4361726c204d656e676572",
		  "64c6bee32ea91c8474bb4c21d7a700109ad45af77b29764ba5eb1e" },
		{ "4a65616e2d426170746973746520536179",
		  "e2fa0bed0603b62d3ccac2ecabbf3fe33f3e86514909b323361626266cb2471c"
		  "c8" },
		{ "457567656e2042f6686d20766f6e2042617765726b",
		  "0c01dc9cec1fe4ddd692e8dd32188aa351088dc91183639a53b57aa4692b5ebd"
		  "ef8b8ca111" },
	  } },
	{ /* Noise_NN_25519_ChaChaPoly_BLAKE2b, from noise-protocol (Node.js), no prologue */
	  "Noise_NN_25519_ChaChaPoly_BLAKE2b",
	  /* init_prologue */ NULL,
	  /* init_static */ NULL,
	  /* init_ephemeral */ "31383f464d545b626970777e858c939aa1a8afb6bdc4cbd2d9e0e7eef5fc030a",
	  /* init_remote_static */ NULL,
	  /* resp_static */ NULL,
	  /* resp_ephemeral */ "41484f565d646b727980878e959ca3aab1b8bfc6cdd4dbe2e9f0f7fe050c131a",
	  /* resp_remote_static */ NULL,
	  /* psk */ NULL,
	  /* handshake_hash */ "647931722df361f9fa4650573c89a856427d5331752e4f00515af0d1901e38ec"
	  "dddcd5c342a23117fc7b305ce6973803c9fbf1fef80247abe540d2d80bfceec2",
	  6,
	  {
		{ "6d73672030206f66204e4e2f3178",
		  "b49ea8415fc5df13e0cfbb22e8c1c2c4459094ad393ca32c27bad8964a06be24"
		  "6d73672030206f66204e4e2f3178" },
		{ "6d73672031206f66204e4e2f31787878787878",
		  "1ea1990d2955df102c0fb87a4378b8037d1a7cc12200535b0f58809ff0518465"
		  "d0271a8e34669b6503a7a90ce5633d384fbd3a5985756f263e73c9db7a5bb01a"
		  "a29196" },
		{ "6d73672032206f66204e4e2f317878787878787878787878",
		  "edace1a4b1635f23d3e95e72f4bf650c5e6fa9621de42e9595f7552ee8526966"
		  "2ad29c1e22adff91" },
		{ "6d73672033206f66204e4e2f3178787878787878787878787878787878",
		  "2ccd09128395b1da821840c18c6ca70a2036075c5b05fc444e24ce2b964b9e8f"
		  "ead382395d416d1432214115dc" },
		{ "6d73672034206f66204e4e2f3178787878787878787878787878787878787878"
		  "7878",
		  "d1069f5d31787866d52a38238a14c8dbc114fad5d2370ae976096c97c472439d"
		  "9ce3ab5bcbb6371ccf57d8e49e19c4110677" },
		{ "6d73672035206f66204e4e2f31787878",
		  "909492c35ff4887b07618ddc17c70f7c063aa293c0aeac1c7823b5b2ee925b53" },
	  } },
};

/* Set one optional 32-byte key from hex. */
static void kat_key(bc_noise_hs *hs, const char *hex,
		    int (*set)(bc_noise_hs *, const uint8_t *))
{
	uint8_t k[32];

	if (hex == NULL)
		return;
	assert_int_equal(unhex(hex, k, sizeof k), 32);
	assert_int_equal(set(hs, k), BC_OK);
}

static void test_known_answers(void **state)
{
	(void)state;
	for (size_t v = 0; v < BC_ARRAY_LEN(kats); v++) {
		const struct kat *t = &kats[v];
		uint8_t buf[256], pt[128], ct[256], want_h[64], h[64];
		size_t n, ptlen, ctlen, hlen = sizeof h, want_hlen;
		bc_noise_hs *i = NULL, *r = NULL;
		bc_noise_cs c[4]; /* initiator send, recv; responder send, recv */
		bool oneway = t->name[7] == '_' || (t->name[7] >= 'a' && t->name[7] <= 'z');
		bool split = false;

		print_message("# %s\n", t->name);
		want_hlen = unhex(t->hash, want_h, sizeof want_h);
		assert_int_equal(bc_noise_hs_new(&i, t->name, true), BC_OK);
		assert_int_equal(bc_noise_hs_new(&r, t->name, false), BC_OK);
		if (t->prologue != NULL) {
			n = unhex(t->prologue, buf, sizeof buf);
			assert_int_equal(bc_noise_hs_set_prologue(i, buf, n), BC_OK);
			assert_int_equal(bc_noise_hs_set_prologue(r, buf, n), BC_OK);
		}
		kat_key(i, t->is, bc_noise_hs_set_local_static);
		kat_key(i, t->ie, bc_noise_hs_set_local_ephemeral);
		kat_key(i, t->irs, bc_noise_hs_set_remote_static);
		kat_key(r, t->rs, bc_noise_hs_set_local_static);
		kat_key(r, t->re, bc_noise_hs_set_local_ephemeral);
		kat_key(r, t->rrs, bc_noise_hs_set_remote_static);
		kat_key(i, t->psk, bc_noise_hs_add_psk);
		kat_key(r, t->psk, bc_noise_hs_add_psk);
		assert_int_equal(bc_noise_hs_start(i), BC_OK);
		assert_int_equal(bc_noise_hs_start(r), BC_OK);

		for (size_t k = 0; k < t->nmsg; k++) {
			bool from_i = oneway || k % 2 == 0;

			ptlen = unhex(t->msg[k][0], pt, sizeof pt);
			ctlen = unhex(t->msg[k][1], ct, sizeof ct);
			if (!split) {
				bc_noise_hs *w = from_i ? i : r, *rd = from_i ? r : i;

				assert_int_equal(bc_noise_hs_write_message(w, pt, ptlen, msgbuf,
									   sizeof msgbuf, &n),
						 BC_OK);
				assert_int_equal(n, ctlen);
				assert_memory_equal(msgbuf, ct, ctlen);
				assert_int_equal(bc_noise_hs_read_message(rd, ct, ctlen, paybuf,
									  sizeof paybuf, &n),
						 BC_OK);
				assert_int_equal(n, ptlen);
				assert_memory_equal(paybuf, pt, ptlen);
				if (bc_noise_hs_action(i) == BC_NOISE_ACTION_SPLIT) {
					assert_int_equal(bc_noise_hs_get_handshake_hash(i, h, &hlen), BC_OK);
					assert_int_equal(hlen, want_hlen);
					assert_memory_equal(h, want_h, want_hlen);
					assert_int_equal(bc_noise_hs_get_handshake_hash(r, h, &hlen), BC_OK);
					assert_memory_equal(h, want_h, want_hlen);
					assert_int_equal(bc_noise_hs_split(i, &c[0], &c[1]), BC_OK);
					assert_int_equal(bc_noise_hs_split(r, &c[2], &c[3]), BC_OK);
					split = true;
				}
			} else {
				bc_noise_cs *s = from_i ? &c[0] : &c[2], *d = from_i ? &c[3] : &c[1];

				assert_int_equal(bc_noise_cs_encrypt(s, NULL, 0, pt, ptlen, msgbuf), BC_OK);
				assert_int_equal(ptlen + BC_NOISE_TAGLEN, ctlen);
				assert_memory_equal(msgbuf, ct, ctlen);
				assert_int_equal(bc_noise_cs_decrypt(d, NULL, 0, ct, ctlen, paybuf), BC_OK);
				assert_memory_equal(paybuf, pt, ptlen);
			}
		}
		assert_true(split);
		bc_noise_hs_free(i);
		bc_noise_hs_free(r);
	}
}

/* Every pattern x hash (plus psk variants) against itself, with transport in
 * every allowed direction. */
static void test_all_patterns(void **state)
{
	static const char *pats[] = { "N", "K", "X", "NN", "NK", "NX", "KN", "KK", "KX",
				      "XN", "XK", "XX", "IN", "IK", "IX" };
	static const char *hashes[] = { "SHA256", "SHA512", "BLAKE2b" };
	char name[80];

	(void)state;
	for (size_t a = 0; a < BC_ARRAY_LEN(pats); a++) {
		for (size_t b = 0; b < BC_ARRAY_LEN(hashes); b++) {
			struct pair p;
			bc_noise_cs is, ir, rs, rr;
			bool oneway = strlen(pats[a]) == 1;

			snprintf(name, sizeof name, "Noise_%s_25519_ChaChaPoly_%s", pats[a], hashes[b]);
			pair_new(&p, name, "pro", "pro", NULL, NULL, 0);
			run_handshake(&p);
			assert_int_equal(bc_noise_hs_split(p.i, &is, &ir), BC_OK);
			assert_int_equal(bc_noise_hs_split(p.r, &rs, &rr), BC_OK);
			transport(&is, &rr, 3);
			if (oneway) {
				uint8_t buf[32];

				/* only c1 exists: the reverse direction is unusable */
				assert_int_equal(rs.cipher, BC_NOISE_CIPHER_NONE);
				assert_int_equal(ir.cipher, BC_NOISE_CIPHER_NONE);
				assert_int_equal(bc_noise_cs_encrypt(&rs, NULL, 0, buf, 1, buf),
						 BC_ERR_STATE);
				assert_int_equal(bc_noise_cs_decrypt(&ir, NULL, 0, buf, 17, buf),
						 BC_ERR_STATE);
			} else {
				transport(&rs, &ir, 3);
			}
			pair_free(&p);
		}
	}
}

static void test_psk(void **state)
{
	static const char *names[] = {
		"Noise_NNpsk0+psk2_25519_ChaChaPoly_SHA256",
		"Noise_Npsk0_25519_ChaChaPoly_BLAKE2b",
		"Noise_Kpsk0+psk1_25519_ChaChaPoly_SHA512",
		"Noise_Xpsk1_25519_ChaChaPoly_BLAKE2b",
		"Noise_XXpsk0+psk1+psk2+psk3_25519_ChaChaPoly_BLAKE2b",
		"Noise_KKpsk1_25519_ChaChaPoly_SHA256",
		"Noise_IXpsk2_25519_ChaChaPoly_BLAKE2b",
		"Noise_XNpsk3_25519_ChaChaPoly_SHA512",
	};
	uint8_t psk[4][32], wrong[4][32];

	(void)state;
	randombytes_buf(psk, sizeof psk);
	for (size_t k = 0; k < BC_ARRAY_LEN(names); k++) {
		size_t npsk = 0;
		struct pair p;
		bc_noise_cs is, ir, rs, rr;
		int rc = BC_OK;

		for (const char *q = strstr(names[k], "psk"); q != NULL; q = strstr(q + 1, "psk"))
			npsk++;
		pair_new(&p, names[k], NULL, NULL, psk, psk, npsk);
		run_handshake(&p);
		assert_int_equal(bc_noise_hs_split(p.i, &is, &ir), BC_OK);
		assert_int_equal(bc_noise_hs_split(p.r, &rs, &rr), BC_OK);
		transport(&is, &rr, 2);
		pair_free(&p);

		/* any one PSK different: the handshake fails with BC_ERR_AUTH at
		 * the first payload encrypted under it, and that reader is dead */
		for (size_t bad = 0; bad < npsk; bad++) {
			int kk;

			memcpy(wrong, psk, sizeof wrong);
			wrong[bad][31] ^= 0x80;
			pair_new(&p, names[k], NULL, NULL, psk, wrong, npsk);
			for (kk = 0; kk < 3 && bc_noise_hs_action(p.i) != BC_NOISE_ACTION_SPLIT; kk++)
				if ((rc = step(&p, kk)) != BC_OK)
					break;
			assert_int_equal(rc, BC_ERR_AUTH);
			assert_true(bc_noise_hs_action(p.i) == BC_NOISE_ACTION_FAILED ||
				    bc_noise_hs_action(p.r) == BC_NOISE_ACTION_FAILED);
			pair_free(&p);
		}
	}
}

/* ---- failures ----------------------------------------------------------------- */

/* Different prologues: the first AEAD check fails - in XX the initiator's
 * read of message 2 (its encrypted static is authenticated with h). In NN,
 * with no static keys at all, the initiator's read of message 2 too. */
static void test_prologue_mismatch(void **state)
{
	static const char *names[] = { XX_B2B, "Noise_NN_25519_ChaChaPoly_BLAKE2b",
				       "Noise_XX_25519_ChaChaPoly_SHA256" };

	(void)state;
	for (size_t k = 0; k < BC_ARRAY_LEN(names); k++) {
		struct pair p;

		pair_new(&p, names[k], "backchannel relay v1", "backchannel relay v2", NULL, NULL, 0);
		assert_int_equal(step(&p, 0), BC_OK); /* message 1 is not authenticated */
		memset(paybuf, 0xa5, 64);
		assert_int_equal(step(&p, 1), BC_ERR_AUTH);
		assert_int_equal(paybuf[0], 0xa5); /* payload buffer untouched */
		assert_dead(p.i);
		assert_int_not_equal(bc_noise_hs_action(p.r), BC_NOISE_ACTION_FAILED);
		pair_free(&p);
	}
	/* a missing prologue on one side is a mismatch as well */
	{
		struct pair p;

		pair_new(&p, XX_B2B, "x", NULL, NULL, NULL, 0);
		assert_int_equal(step(&p, 0), BC_OK);
		assert_int_equal(step(&p, 1), BC_ERR_AUTH);
		pair_free(&p);
	}
	/* KK authenticates message 1 already: the responder fails first */
	{
		struct pair p;

		pair_new(&p, "Noise_KK_25519_ChaChaPoly_BLAKE2b", "a", "b", NULL, NULL, 0);
		assert_int_equal(step(&p, 0), BC_ERR_AUTH);
		assert_dead(p.r);
		pair_free(&p);
	}
}

/* Write w's next handshake message with payload pay into msgbuf; returns
 * its length. */
static size_t write_msg(bc_noise_hs *w, const char *pay)
{
	size_t n = 0;

	assert_int_equal(bc_noise_hs_write_message(w, (const uint8_t *)pay, strlen(pay), msgbuf,
						   sizeof msgbuf, &n),
			 BC_OK);
	return n;
}

/* Flip one bit at each position of message 2 or 3 in turn: the reader
 * must fail with BC_ERR_AUTH, leave the payload buffer untouched, and die. */
static void test_tampered_handshake(void **state)
{
	uint8_t sentinel[32];

	(void)state;
	memset(sentinel, 0x5a, sizeof sentinel);
	for (int which = 2; which <= 3; which++) {
		size_t n = which == 2 ? 32 + 48 + 7 + 16 : 48 + 7 + 16; /* "payload" */

		for (size_t pos = 0; pos < n; pos += (pos < 40 ? 1 : 7)) {
			struct pair p;
			bc_noise_hs *rd;
			size_t plen = 99;

			pair_new(&p, XX_B2B, "p", "p", NULL, NULL, 0);
			for (int k = 0; k < which - 1; k++)
				assert_int_equal(step(&p, k), BC_OK);
			rd = which == 2 ? p.i : p.r;
			assert_int_equal(write_msg(which == 2 ? p.r : p.i, "payload"), n);
			msgbuf[pos] ^= (uint8_t)(1u << (pos % 8));
			memcpy(paybuf, sentinel, sizeof sentinel);
			assert_int_equal(bc_noise_hs_read_message(rd, msgbuf, n, paybuf, sizeof paybuf,
								  &plen),
					 BC_ERR_AUTH);
			assert_int_equal(plen, 0);
			assert_memory_equal(paybuf, sentinel, sizeof sentinel);
			assert_dead(rd);
			pair_free(&p);
		}
	}
}

/* Tampered transport message: BC_ERR_AUTH, output (also in place) and the
 * nonce unchanged, and the genuine message still decrypts afterwards. */
static void test_tampered_transport(void **state)
{
	struct pair p;
	bc_noise_cs is, ir, rs, rr;
	uint8_t pt[40], ct[56], copy[56], out[40], sentinel[40];

	(void)state;
	pair_new(&p, XX_B2B, NULL, NULL, NULL, NULL, 0);
	run_handshake(&p);
	assert_int_equal(bc_noise_hs_split(p.i, &is, &ir), BC_OK);
	assert_int_equal(bc_noise_hs_split(p.r, &rs, &rr), BC_OK);
	pair_free(&p);

	randombytes_buf(pt, sizeof pt);
	assert_int_equal(bc_noise_cs_encrypt(&is, (const uint8_t *)"ad", 2, pt, sizeof pt, ct), BC_OK);
	for (size_t pos = 0; pos < sizeof ct; pos++) {
		memcpy(copy, ct, sizeof ct);
		copy[pos] ^= 0x01;
		memset(out, 0xc3, sizeof out);
		memcpy(sentinel, out, sizeof out);
		assert_int_equal(bc_noise_cs_decrypt(&rr, (const uint8_t *)"ad", 2, copy, sizeof copy, out),
				 BC_ERR_AUTH);
		assert_memory_equal(out, sentinel, sizeof out);
		assert_true(rr.n == 0);
		/* in place: the caller's ciphertext buffer is not zeroed */
		memcpy(sentinel, copy, sizeof out);
		assert_int_equal(bc_noise_cs_decrypt(&rr, (const uint8_t *)"ad", 2, copy, sizeof copy, copy),
				 BC_ERR_AUTH);
		assert_memory_equal(copy, sentinel, sizeof out);
		assert_true(rr.n == 0);
	}
	/* wrong associated data, truncated tag, too short */
	assert_int_equal(bc_noise_cs_decrypt(&rr, (const uint8_t *)"ae", 2, ct, sizeof ct, out),
			 BC_ERR_AUTH);
	assert_int_equal(bc_noise_cs_decrypt(&rr, (const uint8_t *)"ad", 2, ct, sizeof ct - 1, out),
			 BC_ERR_AUTH);
	assert_int_equal(bc_noise_cs_decrypt(&rr, NULL, 0, ct, 15, out), BC_ERR_MALFORMED);
	assert_true(rr.n == 0);
	/* the genuine message, in place */
	memcpy(copy, ct, sizeof ct);
	assert_int_equal(bc_noise_cs_decrypt(&rr, (const uint8_t *)"ad", 2, copy, sizeof copy, copy),
			 BC_OK);
	assert_memory_equal(copy, pt, sizeof pt);
	assert_true(rr.n == 1);
	/* a replay of the same message fails: the nonce moved on */
	assert_int_equal(bc_noise_cs_decrypt(&rr, (const uint8_t *)"ad", 2, ct, sizeof ct, out),
			 BC_ERR_AUTH);
	bc_noise_cs_wipe(&is);
	bc_noise_cs_wipe(&ir);
	bc_noise_cs_wipe(&rs);
	bc_noise_cs_wipe(&rr);
}

static void test_truncated(void **state)
{
	struct pair p;
	size_t n, plen;

	(void)state;
	/* message 1 of XX is e || payload: 31 bytes cannot hold e */
	pair_new(&p, XX_B2B, NULL, NULL, NULL, NULL, 0);
	n = write_msg(p.i, "");
	assert_int_equal(n, 32);
	assert_int_equal(bc_noise_hs_read_message(p.r, msgbuf, 31, paybuf, sizeof paybuf, &plen),
			 BC_ERR_MALFORMED);
	assert_dead(p.r);
	pair_free(&p);

	/* message 2 is e || enc(s) || tag: 32 + 48 + 16 bytes at least */
	pair_new(&p, XX_B2B, NULL, NULL, NULL, NULL, 0);
	assert_int_equal(step(&p, 0), BC_OK);
	n = write_msg(p.r, "");
	assert_int_equal(n, 96);
	assert_int_equal(bc_noise_hs_read_message(p.i, msgbuf, 95, paybuf, sizeof paybuf, &plen),
			 BC_ERR_MALFORMED);
	assert_dead(p.i);
	pair_free(&p);

	/* message 2 with a payload, cut by one byte: the tag fails */
	pair_new(&p, XX_B2B, NULL, NULL, NULL, NULL, 0);
	assert_int_equal(step(&p, 0), BC_OK);
	n = write_msg(p.r, "some payload");
	assert_int_equal(bc_noise_hs_read_message(p.i, msgbuf, n - 1, paybuf, sizeof paybuf, &plen),
			 BC_ERR_AUTH);
	assert_dead(p.i);
	pair_free(&p);

	/* the empty message */
	pair_new(&p, XX_B2B, NULL, NULL, NULL, NULL, 0);
	assert_int_equal(bc_noise_hs_read_message(p.r, NULL, 0, paybuf, sizeof paybuf, &plen),
			 BC_ERR_MALFORMED);
	pair_free(&p);
}

static void test_oversized(void **state)
{
	struct pair p;
	size_t n = 1, plen;
	bc_noise_cs cs;
	uint8_t key[32];

	(void)state;
	pair_new(&p, XX_B2B, NULL, NULL, NULL, NULL, 0);
	/* message 1 = 32 + payload: 65503 is the largest payload */
	assert_int_equal(bc_noise_hs_write_message(p.i, bigbuf, 65504, msgbuf, sizeof msgbuf, &n),
			 BC_ERR_TOOBIG);
	assert_int_equal(n, 0);
	assert_int_equal(bc_noise_hs_action(p.i), BC_NOISE_ACTION_WRITE); /* nothing changed */
	assert_int_equal(bc_noise_hs_write_message(p.i, bigbuf, (size_t)1 << 40, msgbuf,
						   sizeof msgbuf, &n),
			 BC_ERR_TOOBIG);
	assert_int_equal(bc_noise_hs_write_message(p.i, bigbuf, 65503, msgbuf, sizeof msgbuf, &n),
			 BC_OK);
	assert_int_equal(n, BC_NOISE_MAX_MSG);
	/* the responder takes exactly 65535 bytes, and refuses one more */
	assert_int_equal(bc_noise_hs_read_message(p.r, msgbuf, n, paybuf, sizeof paybuf, &plen), BC_OK);
	assert_int_equal(plen, 65503);
	pair_free(&p);

	pair_new(&p, XX_B2B, NULL, NULL, NULL, NULL, 0);
	assert_int_equal(bc_noise_hs_read_message(p.r, msgbuf, BC_NOISE_MAX_MSG + 1, paybuf,
						  sizeof paybuf, &plen),
			 BC_ERR_TOOBIG);
	assert_dead(p.r);
	pair_free(&p);

	/* transport: 65535 - 16 bytes of plaintext at most */
	randombytes_buf(key, sizeof key);
	assert_int_equal(bc_noise_cs_init(&cs, BC_NOISE_CIPHER_CHACHAPOLY, key), BC_OK);
	assert_int_equal(bc_noise_cs_encrypt(&cs, NULL, 0, bigbuf, 65520, msgbuf), BC_ERR_TOOBIG);
	assert_true(cs.n == 0);
	assert_int_equal(bc_noise_cs_encrypt(&cs, NULL, 0, bigbuf, 65519, msgbuf), BC_OK);
	assert_true(cs.n == 1);
	assert_int_equal(bc_noise_cs_decrypt(&cs, NULL, 0, msgbuf, 65536, paybuf), BC_ERR_TOOBIG);
	bc_noise_cs_wipe(&cs);
}

/* A peer that sends a low-order point makes a DH output all zeros:
 * BC_ERR_AUTH wherever that DH is computed. */
static void test_low_order_points(void **state)
{
	static const char *points[] = {
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
	};
	uint8_t pt[32];
	size_t n, plen;

	(void)state;
	for (size_t k = 0; k < BC_ARRAY_LEN(points); k++) {
		struct pair p;

		unhex(points[k], pt, sizeof pt);
		/* XX: e arrives in message 1 and is first used (ee) when the
		 * responder writes message 2 */
		pair_new(&p, XX_B2B, NULL, NULL, NULL, NULL, 0);
		memcpy(msgbuf, pt, 32);
		assert_int_equal(bc_noise_hs_read_message(p.r, msgbuf, 32, paybuf, sizeof paybuf, &plen),
				 BC_OK);
		n = 77;
		assert_int_equal(bc_noise_hs_write_message(p.r, NULL, 0, msgbuf, sizeof msgbuf, &n),
				 BC_ERR_AUTH);
		assert_int_equal(n, 0);
		assert_dead(p.r);
		pair_free(&p);

		/* NK: message 1 is e, es - the responder's read fails */
		pair_new(&p, "Noise_NK_25519_ChaChaPoly_BLAKE2b", NULL, NULL, NULL, NULL, 0);
		memcpy(msgbuf, pt, 32);
		memset(msgbuf + 32, 0, 16);
		assert_int_equal(bc_noise_hs_read_message(p.r, msgbuf, 48, paybuf, sizeof paybuf, &plen),
				 BC_ERR_AUTH);
		assert_dead(p.r);
		pair_free(&p);

		/* IK responder given a low-order remote static in advance... */
		/* ...and an initiator configured with a low-order responder key:
		 * its own first write fails (es) */
		{
			bc_noise_hs *hs = NULL;
			uint8_t s[32];

			randombytes_buf(s, sizeof s);
			assert_int_equal(bc_noise_hs_new(&hs, "Noise_IK_25519_ChaChaPoly_SHA256", true),
					 BC_OK);
			assert_int_equal(bc_noise_hs_set_local_static(hs, s), BC_OK);
			assert_int_equal(bc_noise_hs_set_remote_static(hs, pt), BC_OK);
			assert_int_equal(bc_noise_hs_start(hs), BC_OK);
			assert_int_equal(bc_noise_hs_write_message(hs, NULL, 0, msgbuf, sizeof msgbuf, &n),
					 BC_ERR_AUTH);
			assert_dead(hs);
			bc_noise_hs_free(hs);
		}
	}
}

/* ---- configuration and call order ------------------------------------------ */

static void test_config_errors(void **state)
{
	uint8_t k[32], h[64];
	size_t n = 5, hl = sizeof h;
	bc_noise_hs *hs = NULL;
	bc_noise_cs a, b;

	(void)state;
	randombytes_buf(k, sizeof k);

	/* XX needs a local static on both sides, and no remote static */
	assert_int_equal(bc_noise_hs_new(&hs, XX_B2B, true), BC_OK);
	assert_int_equal(bc_noise_hs_write_message(hs, NULL, 0, msgbuf, sizeof msgbuf, &n),
			 BC_ERR_STATE); /* not started */
	assert_int_equal(bc_noise_hs_start(hs), BC_ERR_INVALID);
	assert_int_equal(bc_noise_hs_action(hs), BC_NOISE_ACTION_START); /* nothing changed */
	assert_int_equal(bc_noise_hs_set_local_static(hs, k), BC_OK);
	assert_int_equal(bc_noise_hs_set_remote_static(hs, k), BC_OK);
	assert_int_equal(bc_noise_hs_start(hs), BC_ERR_INVALID);
	bc_noise_hs_free(hs);

	/* IK initiator needs the responder's static */
	assert_int_equal(bc_noise_hs_new(&hs, "Noise_IK_25519_ChaChaPoly_BLAKE2b", true), BC_OK);
	assert_int_equal(bc_noise_hs_set_local_static(hs, k), BC_OK);
	assert_int_equal(bc_noise_hs_start(hs), BC_ERR_INVALID);
	assert_int_equal(bc_noise_hs_set_remote_static(hs, k), BC_OK);
	assert_int_equal(bc_noise_hs_start(hs), BC_OK);
	assert_int_equal(bc_noise_hs_start(hs), BC_ERR_STATE);
	/* known in advance: available at once */
	assert_int_equal(bc_noise_hs_get_remote_static(hs, h), BC_OK);
	assert_memory_equal(h, k, 32);
	/* configuration is closed once started */
	assert_int_equal(bc_noise_hs_set_prologue(hs, k, 3), BC_ERR_STATE);
	assert_int_equal(bc_noise_hs_set_local_static(hs, k), BC_ERR_STATE);
	assert_int_equal(bc_noise_hs_set_remote_static(hs, k), BC_ERR_STATE);
	assert_int_equal(bc_noise_hs_set_local_ephemeral(hs, k), BC_ERR_STATE);
	/* out of turn, too early */
	assert_int_equal(bc_noise_hs_read_message(hs, msgbuf, 100, paybuf, sizeof paybuf, &n),
			 BC_ERR_STATE);
	assert_int_equal(bc_noise_hs_split(hs, &a, &b), BC_ERR_STATE);
	assert_int_equal(bc_noise_hs_get_handshake_hash(hs, h, &hl), BC_ERR_STATE);
	/* output buffer too small: refused without any change */
	assert_int_equal(bc_noise_hs_write_message(hs, NULL, 0, msgbuf, 95, &n), BC_ERR_INVALID);
	assert_int_equal(bc_noise_hs_action(hs), BC_NOISE_ACTION_WRITE);
	assert_int_equal(bc_noise_hs_write_message(hs, NULL, 0, msgbuf, 96, &n), BC_OK);
	assert_int_equal(n, 96); /* e + enc(s) + tag */
	assert_int_equal(bc_noise_hs_write_message(hs, NULL, 0, msgbuf, 96, &n), BC_ERR_STATE);
	assert_int_equal(bc_noise_hs_action(hs), BC_NOISE_ACTION_READ);
	/* NULL arguments */
	assert_int_equal(bc_noise_hs_read_message(hs, NULL, 10, paybuf, 10, &n), BC_ERR_INVALID);
	assert_int_equal(bc_noise_hs_read_message(hs, msgbuf, 10, paybuf, 10, NULL), BC_ERR_INVALID);
	assert_int_equal(bc_noise_hs_read_message(NULL, msgbuf, 10, paybuf, 10, &n), BC_ERR_INVALID);
	assert_int_equal(bc_noise_hs_action(NULL), BC_NOISE_ACTION_FAILED);
	bc_noise_hs_free(hs);
	bc_noise_hs_free(NULL);

	/* extra keys the pattern has no use for */
	assert_int_equal(bc_noise_hs_new(&hs, "Noise_NN_25519_ChaChaPoly_BLAKE2b", true), BC_OK);
	assert_int_equal(bc_noise_hs_set_local_static(hs, k), BC_OK);
	assert_int_equal(bc_noise_hs_start(hs), BC_ERR_INVALID);
	bc_noise_hs_free(hs);
	assert_int_equal(bc_noise_hs_new(&hs, "Noise_N_25519_ChaChaPoly_BLAKE2b", false), BC_OK);
	assert_int_equal(bc_noise_hs_set_local_static(hs, k), BC_OK);
	assert_int_equal(bc_noise_hs_set_local_ephemeral(hs, k), BC_OK); /* N responder sends no e */
	assert_int_equal(bc_noise_hs_start(hs), BC_ERR_INVALID);
	bc_noise_hs_free(hs);

	/* PSKs: exactly one per psk token */
	assert_int_equal(bc_noise_hs_new(&hs, "Noise_NNpsk0+psk2_25519_ChaChaPoly_SHA256", true), BC_OK);
	assert_int_equal(bc_noise_hs_add_psk(hs, k), BC_OK);
	assert_int_equal(bc_noise_hs_start(hs), BC_ERR_INVALID);
	assert_int_equal(bc_noise_hs_add_psk(hs, k), BC_OK);
	assert_int_equal(bc_noise_hs_add_psk(hs, k), BC_ERR_INVALID);
	assert_int_equal(bc_noise_hs_start(hs), BC_OK);
	bc_noise_hs_free(hs);
	assert_int_equal(bc_noise_hs_new(&hs, "Noise_NN_25519_ChaChaPoly_SHA256", true), BC_OK);
	assert_int_equal(bc_noise_hs_add_psk(hs, k), BC_ERR_INVALID);
	/* the prologue at most once */
	assert_int_equal(bc_noise_hs_set_prologue(hs, NULL, 0), BC_OK);
	assert_int_equal(bc_noise_hs_set_prologue(hs, k, 1), BC_ERR_STATE);
	assert_int_equal(bc_noise_hs_set_prologue(hs, NULL, 1), BC_ERR_INVALID);
	bc_noise_hs_free(hs);
}

/* A payload buffer too small is refused before anything is processed: the
 * same message can then be read with a large enough buffer. */
static void test_small_payload_buffer(void **state)
{
	struct pair p;
	size_t n, plen = 7;
	uint8_t small[4];

	(void)state;
	pair_new(&p, XX_B2B, NULL, NULL, NULL, NULL, 0);
	n = write_msg(p.i, "hello");
	assert_int_equal(bc_noise_hs_read_message(p.r, msgbuf, n, small, sizeof small, &plen),
			 BC_ERR_INVALID);
	assert_int_equal(plen, 0);
	assert_int_equal(bc_noise_hs_action(p.r), BC_NOISE_ACTION_READ);
	assert_int_equal(bc_noise_hs_read_message(p.r, msgbuf, n, paybuf, 5, &plen), BC_OK);
	assert_int_equal(plen, 5);
	assert_memory_equal(paybuf, "hello", 5);
	/* an empty payload needs no buffer */
	n = write_msg(p.r, "");
	assert_int_equal(bc_noise_hs_read_message(p.i, msgbuf, n, NULL, 0, &plen), BC_OK);
	assert_int_equal(plen, 0);
	pair_free(&p);
}

/* ---- CipherState ------------------------------------------------------------- */

static void test_cipherstate(void **state)
{
	uint8_t key[32], nonce[12] = { 0, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1 };
	uint8_t pt[21], ct[21 + 16], want[21 + 16], zeros32[32] = { 0 }, rk[48], buf[64];
	unsigned long long wl = 0;
	bc_noise_cs cs, zero;

	(void)state;
	randombytes_buf(key, sizeof key);
	randombytes_buf(pt, sizeof pt);

	/* nonce = 32 zero bits || little-endian n (spec §12.3) */
	assert_int_equal(bc_noise_cs_init(&cs, BC_NOISE_CIPHER_CHACHAPOLY, key), BC_OK);
	cs.n = 0x0102030405060708ull;
	assert_int_equal(bc_noise_cs_encrypt(&cs, (const uint8_t *)"ad", 2, pt, sizeof pt, ct), BC_OK);
	assert_int_equal(crypto_aead_chacha20poly1305_ietf_encrypt(want, &wl, pt, sizeof pt,
								   (const uint8_t *)"ad", 2, NULL,
								   nonce, key),
			 0);
	assert_memory_equal(ct, want, sizeof want);
	assert_true(cs.n == 0x0102030405060709ull);

	/* in place */
	memcpy(buf, pt, sizeof pt);
	cs.n = 0x0102030405060708ull;
	assert_int_equal(bc_noise_cs_encrypt(&cs, (const uint8_t *)"ad", 2, buf, sizeof pt, buf), BC_OK);
	assert_memory_equal(buf, want, sizeof want);
	cs.n = 0x0102030405060708ull;
	assert_int_equal(bc_noise_cs_decrypt(&cs, (const uint8_t *)"ad", 2, buf, sizeof want, buf), BC_OK);
	assert_memory_equal(buf, pt, sizeof pt);

	/* 2^64-1 is reserved: the last usable nonce is 2^64-2 */
	cs.n = UINT64_MAX - 1;
	assert_int_equal(bc_noise_cs_encrypt(&cs, NULL, 0, pt, sizeof pt, ct), BC_OK);
	assert_true(cs.n == UINT64_MAX);
	assert_int_equal(bc_noise_cs_encrypt(&cs, NULL, 0, pt, sizeof pt, ct), BC_ERR_STATE);
	assert_int_equal(bc_noise_cs_decrypt(&cs, NULL, 0, ct, sizeof ct, buf), BC_ERR_STATE);
	assert_true(cs.n == UINT64_MAX);

	/* Rekey: k = ENCRYPT(k, 2^64-1, "", zeros)[0..32), n unchanged */
	memset(nonce, 0xff, sizeof nonce);
	memset(nonce, 0, 4);
	assert_int_equal(crypto_aead_chacha20poly1305_ietf_encrypt(rk, &wl, zeros32, 32, NULL, 0,
								   NULL, nonce, key),
			 0);
	assert_int_equal(bc_noise_cs_init(&cs, BC_NOISE_CIPHER_CHACHAPOLY, key), BC_OK);
	cs.n = 5;
	assert_int_equal(bc_noise_cs_rekey(&cs), BC_OK);
	assert_memory_equal(cs.k, rk, 32);
	assert_true(cs.n == 5);

	/* no key (inside a handshake): plaintext passes through, n stays */
	memset(&cs, 0, sizeof cs);
	cs.cipher = BC_NOISE_CIPHER_CHACHAPOLY;
	assert_int_equal(bc_noise_cs_encrypt(&cs, NULL, 0, pt, sizeof pt, buf), BC_OK);
	assert_memory_equal(buf, pt, sizeof pt);
	assert_int_equal(bc_noise_cs_decrypt(&cs, NULL, 0, pt, sizeof pt, buf), BC_OK);
	assert_true(cs.n == 0);
	assert_int_equal(bc_noise_cs_rekey(&cs), BC_ERR_STATE);

	/* a zeroed or wiped state refuses everything */
	memset(&zero, 0, sizeof zero);
	assert_int_equal(bc_noise_cs_encrypt(&zero, NULL, 0, pt, sizeof pt, buf), BC_ERR_STATE);
	assert_int_equal(bc_noise_cs_decrypt(&zero, NULL, 0, ct, sizeof ct, buf), BC_ERR_STATE);
	assert_int_equal(bc_noise_cs_init(&cs, BC_NOISE_CIPHER_CHACHAPOLY, key), BC_OK);
	bc_noise_cs_wipe(&cs);
	assert_true(sodium_is_zero((const unsigned char *)&cs, sizeof cs));
	assert_int_equal(bc_noise_cs_encrypt(&cs, NULL, 0, pt, sizeof pt, buf), BC_ERR_STATE);
	bc_noise_cs_wipe(NULL);

	/* argument errors */
	assert_int_equal(bc_noise_cs_init(&cs, 7, key), BC_ERR_INVALID);
	assert_int_equal(bc_noise_cs_init(&cs, BC_NOISE_CIPHER_NONE, key), BC_ERR_INVALID);
	assert_int_equal(bc_noise_cs_init(&cs, BC_NOISE_CIPHER_CHACHAPOLY, key), BC_OK);
	assert_int_equal(bc_noise_cs_encrypt(&cs, NULL, 1, pt, 1, buf), BC_ERR_INVALID);
	assert_int_equal(bc_noise_cs_encrypt(&cs, NULL, 0, NULL, 1, buf), BC_ERR_INVALID);
	assert_int_equal(bc_noise_cs_encrypt(&cs, NULL, 0, pt, 1, NULL), BC_ERR_INVALID);
	assert_int_equal(bc_noise_cs_decrypt(NULL, NULL, 0, ct, 17, buf), BC_ERR_INVALID);
	assert_true(cs.n == 0);
	/* an empty plaintext still carries a tag */
	assert_int_equal(bc_noise_cs_encrypt(&cs, NULL, 0, NULL, 0, buf), BC_OK);
	assert_int_equal(cs.n, 1);
	bc_noise_cs_wipe(&cs);
}

/* ---- allocation failure -------------------------------------------------------- */

/* Two parties through a whole XX handshake, returning the first error. */
static int try_handshake(void)
{
	bc_noise_hs *i = NULL, *r = NULL;
	uint8_t si[32], sr[32];
	size_t n, plen;
	int rc;

	randombytes_buf(si, sizeof si);
	randombytes_buf(sr, sizeof sr);
	if ((rc = bc_noise_hs_new(&i, XX_B2B, true)) != BC_OK)
		goto out;
	if ((rc = bc_noise_hs_new(&r, XX_B2B, false)) != BC_OK)
		goto out;
	assert_int_equal(bc_noise_hs_set_local_static(i, si), BC_OK);
	assert_int_equal(bc_noise_hs_set_local_static(r, sr), BC_OK);
	assert_int_equal(bc_noise_hs_start(i), BC_OK);
	assert_int_equal(bc_noise_hs_start(r), BC_OK);
	for (int k = 0; k < 3; k++) {
		bc_noise_hs *w = k % 2 == 0 ? i : r, *rd = k % 2 == 0 ? r : i;

		assert_int_equal(bc_noise_hs_write_message(w, NULL, 0, msgbuf, sizeof msgbuf, &n), BC_OK);
		assert_int_equal(bc_noise_hs_read_message(rd, msgbuf, n, paybuf, sizeof paybuf, &plen),
				 BC_OK);
	}
	assert_int_equal(bc_noise_hs_action(i), BC_NOISE_ACTION_SPLIT);
out:
	bc_noise_hs_free(i);
	bc_noise_hs_free(r);
	return rc;
}

/* Fail the 1st, 2nd, ... allocation until the handshake gets through: every
 * failure must be a clean BC_ERR_NOMEM (ASan/valgrind check for leaks). */
static void test_alloc_failure(void **state)
{
	static char canary;
	unsigned long n;
	bc_noise_hs *hs = (bc_noise_hs *)&canary; /* must be reset to NULL */

	(void)state;
	bc_alloc_fail_at(1);
	assert_int_equal(bc_noise_hs_new(&hs, XX_B2B, true), BC_ERR_NOMEM);
	assert_null(hs);
	bc_alloc_fail_at(0);
	for (n = 1; n < 100; n++) {
		int rc;

		bc_alloc_fail_at(n);
		rc = try_handshake();
		bc_alloc_fail_at(0);
		if (rc == BC_ERR_NOMEM)
			continue;
		assert_int_equal(rc, BC_OK);
		break;
	}
	/* both handshake objects' allocations were failed once each */
	assert_true(n >= 3 && n < 100);
}

/* ---- the noise-vectors tool --------------------------------------------------- */

/* Vectors for the patterns missing from the shared cacophony file, made by
 * an independent implementation (noise-protocol 3.0.2 for Node.js, with its
 * ephemeral key generation replaced by fixed keys). */
static const char extra_vectors[] =
	"{\"vectors\":[{\"protocol_name\":\"Noise_NX_25519_ChaChaPoly_BLAKE2b\",\"init_prologue\":\"626163"
	"6b6368616e6e656c20657874726120766563746f72204e5831\",\"resp_prologue\":\"6261636b6368616e6e6"
	"56c20657874726120766563746f72204e5831\",\"init_ephemeral\":\"31383f464d545b626970777e858c939"
	"aa1a8afb6bdc4cbd2d9e0e7eef5fc030a\",\"resp_static\":\"21282f363d444b525960676e757c838a91989f"
	"a6adb4bbc2c9d0d7dee5ecf3fa\",\"resp_ephemeral\":\"41484f565d646b727980878e959ca3aab1b8bfc6cd"
	"d4dbe2e9f0f7fe050c131a\",\"messages\":[{\"payload\":\"6d73672030206f66204e582f3178\",\"ciphertex"
	"t\":\"b49ea8415fc5df13e0cfbb22e8c1c2c4459094ad393ca32c27bad8964a06be246d73672030206f66204e"
	"582f3178\"},{\"payload\":\"6d73672031206f66204e582f31787878787878\",\"ciphertext\":\"1ea1990d295"
	"5df102c0fb87a4378b8037d1a7cc12200535b0f58809ff051846500573f9032d12a22eac4ef332363a25bad0"
	"d6a00b02e42b593da3f92cf80e5280ad40366139dfd0b9f6f8e1835a87aa1dcd724e4059c7d2d208592aee27"
	"1c19b624fb850295b03a2c7fccfd1635ec366c5e9c0\"},{\"payload\":\"6d73672032206f66204e582f317878"
	"787878787878787878\",\"ciphertext\":\"d321569cff05ce0762493d1aa1c9963e1d511deb87142d69b8999c"
	"fc2deae9eb0f952ea5c22cbf69\"},{\"payload\":\"6d73672033206f66204e582f31787878787878787878787"
	"87878787878\",\"ciphertext\":\"29cf1c9d89c0807524a5fce3199d003ee3f3d329a1ac4905b07c46d94749e"
	"62813ef247fe289f4974af2279658\"},{\"payload\":\"6d73672034206f66204e582f31787878787878787878"
	"787878787878787878787878\",\"ciphertext\":\"342a6dec726d801c3c0ed6a936cf794742bb83d74949f9b7"
	"7e59de7c9a585126124b45a2dac2c1788bb237eb6b70f30dd4e1\"},{\"payload\":\"6d73672035206f66204e5"
	"82f31787878\",\"ciphertext\":\"06798cc0b2dbc2c7ec5d1d7d26dd6ebe342c919c8eabbdbd54c6e51a10eb4"
	"b5a\"}],\"handshake_hash\":\"5554d336447632fbe42b281a5ed6ba1d134da0e4bf8fca2fe5b6023aceb097e"
	"ba87abe767c20469443e4c0f930255f86102f6638b4e440f73bd29dad8079dcea\"},{\"protocol_name\":\"No"
	"ise_KN_25519_ChaChaPoly_BLAKE2b\",\"init_prologue\":\"6261636b6368616e6e656c2065787472612076"
	"6563746f72204b4e31\",\"resp_prologue\":\"6261636b6368616e6e656c20657874726120766563746f72204"
	"b4e31\",\"init_static\":\"11181f262d343b424950575e656c737a81888f969da4abb2b9c0c7ced5dce3ea\","
	"\"init_ephemeral\":\"31383f464d545b626970777e858c939aa1a8afb6bdc4cbd2d9e0e7eef5fc030a\",\"res"
	"p_ephemeral\":\"41484f565d646b727980878e959ca3aab1b8bfc6cdd4dbe2e9f0f7fe050c131a\",\"resp_re"
	"mote_static\":\"e52b940ad182cfed595624daaaa892f68f14d52c49ae9016b6ab870e080e8300\",\"message"
	"s\":[{\"payload\":\"6d73672030206f66204b4e2f3178\",\"ciphertext\":\"b49ea8415fc5df13e0cfbb22e8c1"
	"c2c4459094ad393ca32c27bad8964a06be246d73672030206f66204b4e2f3178\"},{\"payload\":\"6d7367203"
	"1206f66204b4e2f31787878787878\",\"ciphertext\":\"1ea1990d2955df102c0fb87a4378b8037d1a7cc1220"
	"0535b0f58809ff0518465fff4f45b634990ffc8ed1b49a59937d7ee4fc24ffd87b21543afe6dd57ffa3103ec"
	"86d\"},{\"payload\":\"6d73672032206f66204b4e2f317878787878787878787878\",\"ciphertext\":\"96381c"
	"be167a84bb7ae32439ba15c52554b54f56a6a37b19e17335ebf01fb4e74e8dfc6264680fd4\"},{\"payload\":"
	"\"6d73672033206f66204b4e2f3178787878787878787878787878787878\",\"ciphertext\":\"deb38628c73f9"
	"5e49262166d6dec0b14f1f42a816d59af8a7ba020524f82cd0745e66fa86193dd63a78a9dfe5a\"},{\"payloa"
	"d\":\"6d73672034206f66204b4e2f31787878787878787878787878787878787878787878\",\"ciphertext\":\""
	"db311d839c9ce1b4bc663960d15041f6f3b5a02cf998ab975cea467de2319afcf09fd482401b8ba6e4a7a1ee"
	"66be3bb29160\"},{\"payload\":\"6d73672035206f66204b4e2f31787878\",\"ciphertext\":\"97c48e4330ffb"
	"373306e20eb644fc8a5b46b81e8848d677810b95515ee80906a\"}],\"handshake_hash\":\"19e37fc67dfa727"
	"b44f3e6f98ee9daedb43ee75053843eca50cb60428e9fea26bc377ff524fe97820de6a13a64d0fd95bb10afc"
	"367e98c930b8da66387be6012\"},{\"protocol_name\":\"Noise_KX_25519_ChaChaPoly_BLAKE2b\",\"init_p"
	"rologue\":\"6261636b6368616e6e656c20657874726120766563746f72204b5831\",\"resp_prologue\":\"626"
	"1636b6368616e6e656c20657874726120766563746f72204b5831\",\"init_static\":\"11181f262d343b4249"
	"50575e656c737a81888f969da4abb2b9c0c7ced5dce3ea\",\"init_ephemeral\":\"31383f464d545b62697077"
	"7e858c939aa1a8afb6bdc4cbd2d9e0e7eef5fc030a\",\"resp_static\":\"21282f363d444b525960676e757c8"
	"38a91989fa6adb4bbc2c9d0d7dee5ecf3fa\",\"resp_ephemeral\":\"41484f565d646b727980878e959ca3aab"
	"1b8bfc6cdd4dbe2e9f0f7fe050c131a\",\"resp_remote_static\":\"e52b940ad182cfed595624daaaa892f68"
	"f14d52c49ae9016b6ab870e080e8300\",\"messages\":[{\"payload\":\"6d73672030206f66204b582f3178\",\""
	"ciphertext\":\"b49ea8415fc5df13e0cfbb22e8c1c2c4459094ad393ca32c27bad8964a06be246d736720302"
	"06f66204b582f3178\"},{\"payload\":\"6d73672031206f66204b582f31787878787878\",\"ciphertext\":\"1e"
	"a1990d2955df102c0fb87a4378b8037d1a7cc12200535b0f58809ff0518465b3c3e6fadd27b0eddcf65eb613"
	"5197c9cbce4aae3bdbced4dd7406bce6a3b12411e66ce0070f3712887fb57b80bbde3cb36b437110881e52fd"
	"6167966c8bf6de88f5b161b463f60fb51aa10644188510f99908\"},{\"payload\":\"6d73672032206f66204b5"
	"82f317878787878787878787878\",\"ciphertext\":\"3c35ed940021ff265779ffd298abdcd008e0b5b313918"
	"3752b28b5714955095d0aeae281137b20fb\"},{\"payload\":\"6d73672033206f66204b582f31787878787878"
	"78787878787878787878\",\"ciphertext\":\"c014127a50a0de9fe64ef34b0f7214af08bafe266fedc8dd91c4"
	"5470109eb167d642f4f26e60a5153c8b4b11ba\"},{\"payload\":\"6d73672034206f66204b582f31787878787"
	"878787878787878787878787878787878\",\"ciphertext\":\"2409076c592ced99c12021c6aa61c4220a9ce28"
	"99c5c70468f3e6e8f235d5f46b187d61b0e81d7926544d824242834b700dd\"},{\"payload\":\"6d7367203520"
	"6f66204b582f31787878\",\"ciphertext\":\"c7f88653014720d894a2e7659cc288696e1a50f70020b6169af1"
	"4bdeba957058\"}],\"handshake_hash\":\"e12cb08670545000838cd8a22647f379c8b40497ce1f4bcd79cfbc"
	"dba3758fcb81e5e7cbfcb5f1fcf89cf5e51e179e8a4228e1796eb4daba9c222d07e8366940\"},{\"protocol_"
	"name\":\"Noise_XN_25519_ChaChaPoly_BLAKE2b\",\"init_prologue\":\"6261636b6368616e6e656c2065787"
	"4726120766563746f7220584e31\",\"resp_prologue\":\"6261636b6368616e6e656c20657874726120766563"
	"746f7220584e31\",\"init_static\":\"11181f262d343b424950575e656c737a81888f969da4abb2b9c0c7ced"
	"5dce3ea\",\"init_ephemeral\":\"31383f464d545b626970777e858c939aa1a8afb6bdc4cbd2d9e0e7eef5fc0"
	"30a\",\"resp_ephemeral\":\"41484f565d646b727980878e959ca3aab1b8bfc6cdd4dbe2e9f0f7fe050c131a\""
	",\"messages\":[{\"payload\":\"6d73672030206f6620584e2f3178\",\"ciphertext\":\"b49ea8415fc5df13e0c"
	"fbb22e8c1c2c4459094ad393ca32c27bad8964a06be246d73672030206f6620584e2f3178\"},{\"payload\":\""
	"6d73672031206f6620584e2f31787878787878\",\"ciphertext\":\"1ea1990d2955df102c0fb87a4378b8037d"
	"1a7cc12200535b0f58809ff05184654c7f393d23a432f98a3bc8912f5d99559fdbb4d0f22e2d22fc5566e161"
	"a9daca1dff92\"},{\"payload\":\"6d73672032206f6620584e2f317878787878787878787878\",\"ciphertext"
	"\":\"85fe7cd1b6feb486672eb291807c006c74bfc406aeabda4d15c48294dac2e27071983b770d2da5a92c21b"
	"3acc263ff118bc1dc05c6420be4a6214c87367adff0f88073fe4b60f259602dcded148ff8d910356a957a43c"
	"078\"},{\"payload\":\"6d73672033206f6620584e2f3178787878787878787878787878787878\",\"ciphertex"
	"t\":\"20e05cb3d9683512c587c3dead04452890ffee8abc1163d280ff2d68a48115b6caa4b4b1886eb946290a"
	"9a7564\"},{\"payload\":\"6d73672034206f6620584e2f3178787878787878787878787878787878787878787"
	"8\",\"ciphertext\":\"e40ef7434c8fa60c1d28a23c0017042554fef2cb7c4df3180884bc9c1eb8084d71f4e35"
	"03c6729a326fa3b4d9bc642ad2a57\"},{\"payload\":\"6d73672035206f6620584e2f31787878\",\"ciphertex"
	"t\":\"e1737043a395214b6028573d9e53a66792e11b7beea123d739d9d7503b8bc07a\"},{\"payload\":\"6d736"
	"72036206f6620584e2f317878787878787878\",\"ciphertext\":\"50cdef4f135d8622d9e7d6b2ff5146ea959"
	"be9d3a81c3b6c95aeb8192ab013bf76e22e05d7\"}],\"handshake_hash\":\"c2ccf26bf1e4d7b6dca4e6ad4b3"
	"8622616a68b17596335b64d0d3e672e39630138236cb241bfcc1c6500d2648c4bb911af5ae3195edf5d004e5"
	"d9e3ef489891a\"},{\"protocol_name\":\"Noise_IN_25519_ChaChaPoly_BLAKE2b\",\"init_prologue\":\"62"
	"61636b6368616e6e656c20657874726120766563746f7220494e31\",\"resp_prologue\":\"6261636b6368616"
	"e6e656c20657874726120766563746f7220494e31\",\"init_static\":\"11181f262d343b424950575e656c73"
	"7a81888f969da4abb2b9c0c7ced5dce3ea\",\"init_ephemeral\":\"31383f464d545b626970777e858c939aa1"
	"a8afb6bdc4cbd2d9e0e7eef5fc030a\",\"resp_ephemeral\":\"41484f565d646b727980878e959ca3aab1b8bf"
	"c6cdd4dbe2e9f0f7fe050c131a\",\"messages\":[{\"payload\":\"6d73672030206f6620494e2f3178\",\"ciphe"
	"rtext\":\"b49ea8415fc5df13e0cfbb22e8c1c2c4459094ad393ca32c27bad8964a06be24e52b940ad182cfed"
	"595624daaaa892f68f14d52c49ae9016b6ab870e080e83006d73672030206f6620494e2f3178\"},{\"payload"
	"\":\"6d73672031206f6620494e2f31787878787878\",\"ciphertext\":\"1ea1990d2955df102c0fb87a4378b80"
	"37d1a7cc12200535b0f58809ff051846562b9ea8ee1faee168869b56d6927f7104848d3ec2fec19310dc9787"
	"f51dd58222cda01\"},{\"payload\":\"6d73672032206f6620494e2f317878787878787878787878\",\"ciphert"
	"ext\":\"bcf0ea784d18722d5455cc19c5d0d627f8ee57c04f5f2f5a75d54725a0aa4247017303ed36412afd\"}"
	",{\"payload\":\"6d73672033206f6620494e2f3178787878787878787878787878787878\",\"ciphertext\":\"4"
	"23ab84ab650b0e3a6968f4986137133479bbcad695cc96b9e0ff8636ab62a2303bfa86904e2e07698e46ecaa"
	"0\"},{\"payload\":\"6d73672034206f6620494e2f31787878787878787878787878787878787878787878\",\"c"
	"iphertext\":\"dea79f9bd4a23d8c888e3c1f92250a370ba5dab5786211c8a02e98ed9101d27b2ba60fab2f98"
	"e5542cbd5adcebebb3530806\"},{\"payload\":\"6d73672035206f6620494e2f31787878\",\"ciphertext\":\"7"
	"efea29fba1695c2504166be59e4b8a2addc3656aaf8fb7212dc9338419f9d01\"}],\"handshake_hash\":\"a60"
	"b9367f6af3aaf6545b2600cd9e1c643a8adf0fe33d8e718cc1b09eb41fdd4d5d2b0c02afbb40fe0aba9c48c5"
	"23e08319b4fd043e5cd3cb16bbb1b308b046b\"},{\"protocol_name\":\"Noise_IX_25519_ChaChaPoly_BLAK"
	"E2b\",\"init_prologue\":\"6261636b6368616e6e656c20657874726120766563746f7220495831\",\"resp_pr"
	"ologue\":\"6261636b6368616e6e656c20657874726120766563746f7220495831\",\"init_static\":\"11181f"
	"262d343b424950575e656c737a81888f969da4abb2b9c0c7ced5dce3ea\",\"init_ephemeral\":\"31383f464d"
	"545b626970777e858c939aa1a8afb6bdc4cbd2d9e0e7eef5fc030a\",\"resp_static\":\"21282f363d444b525"
	"960676e757c838a91989fa6adb4bbc2c9d0d7dee5ecf3fa\",\"resp_ephemeral\":\"41484f565d646b7279808"
	"78e959ca3aab1b8bfc6cdd4dbe2e9f0f7fe050c131a\",\"messages\":[{\"payload\":\"6d73672030206f66204"
	"9582f3178\",\"ciphertext\":\"b49ea8415fc5df13e0cfbb22e8c1c2c4459094ad393ca32c27bad8964a06be2"
	"4e52b940ad182cfed595624daaaa892f68f14d52c49ae9016b6ab870e080e83006d73672030206f662049582"
	"f3178\"},{\"payload\":\"6d73672031206f662049582f31787878787878\",\"ciphertext\":\"1ea1990d2955df"
	"102c0fb87a4378b8037d1a7cc12200535b0f58809ff0518465547687bc907d41048e3b2b212bb91cebbd3326"
	"bef7e896afa29ebaad658284d7cad4573c70c77b24dff9683d4f75181fda33c0e3a697d7ba29fa5af5cd1be0"
	"d0f8957a7770695e90d8baa77d7b74c72857e68a\"},{\"payload\":\"6d73672032206f662049582f317878787"
	"878787878787878\",\"ciphertext\":\"09b0ee6f77c08c2488665d720eccaaae253e92e17ecad132b054258b9"
	"f486988979bf4c0aacd463d\"},{\"payload\":\"6d73672033206f662049582f31787878787878787878787878"
	"78787878\",\"ciphertext\":\"3f8aba21de70bb2b90c0447db14abca44c7c6e77f89808839ef7bbcc6331dc94"
	"e07633bfde90fe31495f60263e\"},{\"payload\":\"6d73672034206f662049582f31787878787878787878787"
	"878787878787878787878\",\"ciphertext\":\"ec2cf34df7f0bfa78319df74cb81b9ab4f8be77691cfe6bbcf3"
	"2d2c2b4ef5eac94793cf8a3444a2514b3399a4847d9863eed\"},{\"payload\":\"6d73672035206f662049582f"
	"31787878\",\"ciphertext\":\"2ff1c2e11a41ca98a98479bbbc9270039eff8849f7cae11df4249687a74cba01"
	"\"}],\"handshake_hash\":\"fa3c79551ed8062e443317ee48fdd2e434f92a885c75df160dcf2a7c784ddf1d27"
	"992c82811b2e8d403cf2277fc4cdfb139e55c2c4240921057ee33bfa520c09\"}]}";

/* Write text to a new temporary file; returns its path (free it). */
static char *write_temp(const char *text, size_t len)
{
	const char *dir = getenv("TMPDIR");
	char *path = malloc(4096);
	int fd;

	assert_non_null(path);
	snprintf(path, 4096, "%s/bc-noise-vectors-XXXXXX", dir && *dir ? dir : "/tmp");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
	return path;
}

/* Run the tool on text; returns its exit status and the last line of its
 * output, plus whether `needle` appeared in the output. */
static int run_tool(const char *tool, const char *text, char *last, size_t lastcap,
		    const char *needle, bool *found)
{
	char *path = write_temp(text, strlen(text));
	char cmd[8192], line[512];
	FILE *f;
	int status;

	snprintf(cmd, sizeof cmd, "'%s' '%s' 2>&1", tool, path);
	f = popen(cmd, "r");
	assert_non_null(f);
	last[0] = '\0';
	*found = false;
	while (fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (needle != NULL && strstr(line, needle) != NULL)
			*found = true;
		snprintf(last, lastcap, "%s", line);
	}
	status = pclose(f);
	unlink(path);
	free(path);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* Replace the n-th (0-based) occurrence of `key":"` 's first hex digit. */
static char *corrupt(const char *text, const char *key, int nth)
{
	char *copy = strdup(text), *p = copy;
	char pat[64];

	assert_non_null(copy);
	snprintf(pat, sizeof pat, "\"%s\":\"", key);
	for (int k = 0; k <= nth; k++) {
		p = strstr(p, pat);
		assert_non_null(p);
		p += strlen(pat);
	}
	*p = *p == '0' ? '1' : '0';
	return copy;
}

/* A copy of text with "fail":true added to its first vector. */
static char *mark_fail(const char *text)
{
	static const char anchor[] = "{\"vectors\":[{", ins[] = "\"fail\":true,";
	char *out = malloc(strlen(text) + sizeof ins);

	assert_non_null(out);
	assert_memory_equal(text, anchor, strlen(anchor));
	memcpy(out, anchor, strlen(anchor));
	memcpy(out + strlen(anchor), ins, strlen(ins));
	strcpy(out + strlen(anchor) + strlen(ins), text + strlen(anchor));
	return out;
}

/* Where the tool is: $BUILD (default "build"), relative to $BC_TOP (the
 * repository top, exported by tests/run) when that is set. */
static void tool_path(char *out, size_t cap)
{
	const char *build = getenv("BUILD"), *top = getenv("BC_TOP");

	if (build == NULL || *build == '\0')
		build = "build";
	if (build[0] != '/' && top != NULL && *top != '\0')
		snprintf(out, cap, "%s/%s/tests/noise-vectors", top, build);
	else
		snprintf(out, cap, "%s/tests/noise-vectors", build);
}

static void test_vector_tool(void **state)
{
	char tool[4096], last[512];
	bool found;
	char *bad;

	(void)state;
	tool_path(tool, sizeof tool);
	if (access(tool, X_OK) != 0) {
		print_message("# %s not built: skipping\n", tool);
		skip();
	}
	/* genuine: all pass */
	assert_int_equal(run_tool(tool, extra_vectors, last, sizeof last, "FAIL", &found), 0);
	assert_false(found);
	assert_string_equal(last, "6 passed, 0 failed, 0 skipped");

	/* one handshake ciphertext byte changed: that vector FAILs, exit 1 */
	bad = corrupt(extra_vectors, "ciphertext", 1);
	assert_int_equal(run_tool(tool, bad, last, sizeof last,
				  "FAIL Noise_NX_25519_ChaChaPoly_BLAKE2b: message 1: ciphertext differs",
				  &found),
			 1);
	assert_true(found);
	assert_string_equal(last, "5 passed, 1 failed, 0 skipped");
	free(bad);

	/* a transport ciphertext (the 6th message of the first vector) */
	bad = corrupt(extra_vectors, "ciphertext", 5);
	assert_int_equal(run_tool(tool, bad, last, sizeof last,
				  "FAIL Noise_NX_25519_ChaChaPoly_BLAKE2b: message 5: transport", &found),
			 1);
	assert_true(found);
	free(bad);

	/* a payload, a key, the handshake hash */
	bad = corrupt(extra_vectors, "payload", 0);
	assert_int_equal(run_tool(tool, bad, last, sizeof last, "FAIL", &found), 1);
	free(bad);
	bad = corrupt(extra_vectors, "resp_static", 1); /* NX, KX, IX have one */
	assert_int_equal(run_tool(tool, bad, last, sizeof last, "FAIL Noise_KX", &found), 1);
	assert_true(found);
	free(bad);
	bad = corrupt(extra_vectors, "handshake_hash", 3);
	assert_int_equal(run_tool(tool, bad, last, sizeof last,
				  "FAIL Noise_XN_25519_ChaChaPoly_BLAKE2b: initiator handshake hash differs",
				  &found),
			 1);
	assert_true(found);
	free(bad);

	/* unsupported protocols are skipped, not failed */
	assert_int_equal(run_tool(tool,
				  "{\"vectors\":[{\"protocol_name\":\"Noise_NN_25519_ChaChaPoly_BLAKE2s\","
				  "\"messages\":[]}],\"extra\":null}",
				  last, sizeof last, "skip Noise_NN_25519_ChaChaPoly_BLAKE2s", &found),
			 0);
	assert_true(found);
	assert_string_equal(last, "0 passed, 0 failed, 1 skipped");

	/* "fail": true turns a failure into a pass, and a pass into a failure */
	bad = corrupt(extra_vectors, "ciphertext", 0);
	{
		char *marked = mark_fail(bad);

		assert_int_equal(run_tool(tool, marked, last, sizeof last, "pass Noise_NX", &found), 0);
		assert_true(found);
		assert_string_equal(last, "6 passed, 0 failed, 0 skipped");
		free(marked);
	}
	free(bad);
	{
		char *marked = mark_fail(extra_vectors);

		assert_int_equal(run_tool(tool, marked, last, sizeof last,
					  "FAIL Noise_NX_25519_ChaChaPoly_BLAKE2b: expected to fail", &found),
				 1);
		assert_true(found);
		free(marked);
	}

	/* not JSON, or not the expected shape: exit 1 */
	assert_int_equal(run_tool(tool, "{\"vectors\":[],}", last, sizeof last, NULL, &found), 1);
	assert_int_equal(run_tool(tool, "{\"vectors\":[], \"vectors\":[]}", last, sizeof last,
				  NULL, &found),
			 1);
	assert_int_equal(run_tool(tool, "[1,2", last, sizeof last, NULL, &found), 1);
	assert_int_equal(run_tool(tool, "{\"vectors\":{}}", last, sizeof last, NULL, &found), 1);
	assert_int_equal(run_tool(tool, "{\"vectors\":[]}", last, sizeof last, NULL, &found), 0);
	assert_string_equal(last, "0 passed, 0 failed, 0 skipped");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_xx_roundtrip),
		cmocka_unit_test(test_known_answers),
		cmocka_unit_test(test_all_patterns),
		cmocka_unit_test(test_psk),
		cmocka_unit_test(test_prologue_mismatch),
		cmocka_unit_test(test_tampered_handshake),
		cmocka_unit_test(test_tampered_transport),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_low_order_points),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_small_payload_buffer),
		cmocka_unit_test(test_cipherstate),
		cmocka_unit_test(test_alloc_failure),
		cmocka_unit_test(test_vector_tool),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("noise", tests, NULL, NULL);
}
