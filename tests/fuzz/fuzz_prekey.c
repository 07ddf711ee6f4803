/*
 * fuzz_prekey.c - libFuzzer target for every parser of identities, prekeys
 * and session setup: lib/identity.c, lib/prekey.c, lib/x3dh.c.
 *
 * Input: byte 0 selects the parser (low 3 bits) and, with bit 3 set, byte 1
 * is the index of an allocation to fail (bc_alloc_fail_at) during the call;
 * the rest is the parser's input.
 *   0  bc_prekey_bundle_parse, expecting the identity the bundle carries
 *      (so the checks after the binding are reached) at the time it
 *      claims, then again one day after its maximum age
 *   1  bc_prekey_onetime_parse
 *   2  bc_identity_decode_public, and export -> import of what parsed
 *   3  bc_identity_import (the input as a string)
 *   4  bc_x3dh_header_parse and bc_x3dh_header_size
 *   5  bc_x3dh_respond for B of tests/vectors/x3dh_vectors.h (a fixed
 *      supply whose keys the seed headers were made for) - the supply must
 *      be left unchanged
 *   6  bc_prekey_supply_deserialize
 *   7  bc_identity_decode_private
 * Whenever something parses, it is encoded again and must give the input
 * bytes back (the formats are canonical: one encoding per value); an
 * imported b32c string must export to a string that imports to the same
 * identity. Any violation traps.
 *
 * Built by `make fuzz-build` (clang, -DBC_FUZZING=1). Compiled with
 * -DBC_FUZZ_MAKE_SEEDS and linked with the library by any compiler, this
 * file instead becomes a program that writes the seed corpus into the
 * directory named by its argument (tests/fuzz/corpus/fuzz_prekey/):
 *   cc -std=gnu11 -DBC_FUZZ_MAKE_SEEDS -Iinclude -Ilib tests/fuzz/fuzz_prekey.c \
 *      build/libbackchannel.a -lsodium -o /tmp/mkseeds && /tmp/mkseeds DIR
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "identity.h"
#include "internal.h"
#include "prekey.h"
#include "x3dh.h"
#include "../vectors/x3dh_vectors.h"

#define CHECK(c)                          \
	do {                              \
		if (!(c))                 \
			__builtin_trap(); \
	} while (0)

enum {
	T_BUNDLE,
	T_ONETIME,
	T_IDENTITY,
	T_IMPORT,
	T_HEADER,
	T_RESPOND,
	T_SUPPLY,
	T_PRIVATE
};

#define MAX_STRING 4096

static bc_identity fixed_b;
static bc_prekey_supply *fixed_supply;

static int feed_fn(void *ctx, uint8_t priv[BC_PREKEY_KEY_LEN])
{
	static const uint8_t *const keys[] = { xv_spk_priv, xv_opk1_priv, xv_opk2_priv };
	size_t *i = ctx;

	if (*i >= BC_ARRAY_LEN(keys))
		return -1;
	memcpy(priv, keys[(*i)++], BC_PREKEY_KEY_LEN);
	return 0;
}

/* B of the vectors with SPK 1 and one-time prekeys 1 and 2. */
static int setup(void)
{
	uint8_t blobs[2][BC_PREKEY_ONETIME_LEN];
	size_t fed = 0;

	if (sodium_init() < 0)
		return -1;
	if (bc_identity_from_seed(&fixed_b, xv_b_sign_seed, xv_b_dh_priv) != BC_OK)
		return -1;
	if (bc_prekey_supply_new_test(&fixed_supply, &fixed_b, xv_spk_created, feed_fn, &fed) !=
	    BC_OK)
		return -1;
	if (bc_prekey_supply_add_onetime(fixed_supply, 2, blobs) != BC_OK)
		return -1;
	return 0;
}

#ifndef BC_FUZZ_MAKE_SEEDS

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_bundle(const uint8_t *in, size_t len)
{
	bc_prekey_bundle b;
	bc_identity_pub expected;
	uint8_t enc[BC_PREKEY_BUNDLE_LEN];
	uint64_t created;
	int err;

	/* Bind to the identity the bundle names, if it names a valid one. */
	if (len < 1 + BC_IDENTITY_PUBLIC_LEN ||
	    bc_identity_decode_public(&expected, in + 1, BC_IDENTITY_PUBLIC_LEN) != BC_OK)
		expected = fixed_b.pub;
	created = len >= BC_PREKEY_BUNDLE_LEN ? bc_load64(in + 1 + BC_IDENTITY_PUBLIC_LEN + 4 + 32)
					      : xv_spk_created;
	err = bc_prekey_bundle_parse(&b, in, len, &expected, created, BC_PREKEY_DEFAULT_MAX_AGE);
	if (err == BC_OK) {
		CHECK(len == BC_PREKEY_BUNDLE_LEN);
		CHECK(bc_identity_equal(&b.id, &expected));
		CHECK(b.spk_id != 0 && b.created == created);
		CHECK(bc_prekey_bundle_encode(&b, enc) == BC_OK);
		CHECK(memcmp(enc, in, len) == 0);
		CHECK(bc_x25519_check_public(b.spk_pub) == BC_OK);
		/* stale one second after its maximum age */
		if (created <= UINT64_MAX - BC_PREKEY_DEFAULT_MAX_AGE - 1)
			CHECK(bc_prekey_bundle_parse(&b, in, len, &expected,
						     created + BC_PREKEY_DEFAULT_MAX_AGE + 1,
						     BC_PREKEY_DEFAULT_MAX_AGE) == BC_ERR_STATE);
	}
}

static void fuzz_onetime(const uint8_t *in, size_t len)
{
	bc_prekey_onetime o;
	uint8_t enc[BC_PREKEY_ONETIME_LEN];

	if (bc_prekey_onetime_parse(&o, in, len) == BC_OK) {
		CHECK(len == BC_PREKEY_ONETIME_LEN && o.opk_id != 0);
		CHECK(bc_prekey_onetime_encode(&o, enc) == BC_OK);
		CHECK(memcmp(enc, in, len) == 0);
	}
}

static void fuzz_identity(const uint8_t *in, size_t len)
{
	bc_identity_pub p, q;
	uint8_t enc[BC_IDENTITY_PUBLIC_LEN];
	char *s = NULL;
	int err;

	if (bc_identity_decode_public(&p, in, len) != BC_OK)
		return;
	CHECK(len == BC_IDENTITY_PUBLIC_LEN);
	CHECK(bc_identity_encode_public(&p, enc) == BC_OK);
	CHECK(memcmp(enc, in, len) == 0);
	err = bc_identity_export(&p, &s);
	CHECK(err == BC_OK || err == BC_ERR_NOMEM);
	if (err == BC_OK) {
		err = bc_identity_import(&q, s);
		CHECK(err == BC_OK || err == BC_ERR_NOMEM);
		if (err == BC_OK)
			CHECK(memcmp(&p, &q, sizeof(p)) == 0);
	}
	bc_free(s);
}

static void fuzz_import(const uint8_t *in, size_t len)
{
	char str[MAX_STRING + 1];
	bc_identity_pub p, q;
	uint8_t enc[BC_IDENTITY_PUBLIC_LEN];
	char *s = NULL;

	if (len > MAX_STRING)
		len = MAX_STRING;
	memcpy(str, in, len);
	str[len] = '\0';
	if (bc_identity_import(&p, str) != BC_OK)
		return;
	CHECK(bc_identity_encode_public(&p, enc) == BC_OK);
	CHECK(bc_identity_decode_public(&q, enc, sizeof(enc)) == BC_OK);
	CHECK(memcmp(&p, &q, sizeof(p)) == 0);
	if (bc_identity_export(&p, &s) == BC_OK) {
		if (bc_identity_import(&q, s) == BC_OK)
			CHECK(memcmp(&p, &q, sizeof(p)) == 0);
	}
	bc_free(s);
}

static void fuzz_header(const uint8_t *in, size_t len)
{
	bc_x3dh_header h;
	uint8_t enc[BC_X3DH_HEADER_MAX];
	size_t n = 0, sz = 0;
	int err = bc_x3dh_header_parse(&h, in, len);
	int serr = bc_x3dh_header_size(in, len, &sz);

	if (serr == BC_OK)
		CHECK(sz == BC_X3DH_HEADER_MIN || sz == BC_X3DH_HEADER_MAX);
	if (err != BC_OK)
		return;
	CHECK(serr == BC_OK && sz == len);
	CHECK(h.spk_id != 0 && (h.has_opk ? h.opk_id != 0 : h.opk_id == 0));
	CHECK(bc_x3dh_header_encode(&h, enc, &n) == BC_OK);
	CHECK(n == len && memcmp(enc, in, len) == 0);
}

static void fuzz_respond(const uint8_t *in, size_t len)
{
	bc_x3dh_pending p;
	size_t opks = bc_prekey_supply_onetime_count(fixed_supply);
	size_t entries = bc_prekey_supply_replay_count(fixed_supply);
	int err = bc_x3dh_respond(fixed_supply, &fixed_b, in, len, &p);

	if (err == BC_OK) {
		uint8_t enc[BC_IDENTITY_PUBLIC_LEN];
		bc_identity_pub q;
		CHECK(p.spk_id == xv_spk_id);
		CHECK(memcmp(p.keys.spk_pub, xv_spk_pub, 32) == 0);
		CHECK(bc_identity_encode_public(&p.keys.peer, enc) == BC_OK);
		CHECK(bc_identity_decode_public(&q, enc, sizeof(enc)) == BC_OK);
	}
	bc_x3dh_pending_wipe(&p);
	CHECK(bc_prekey_supply_onetime_count(fixed_supply) == opks);
	CHECK(bc_prekey_supply_replay_count(fixed_supply) == entries);
}

static void fuzz_supply(const uint8_t *in, size_t len)
{
	bc_prekey_supply *s = NULL;
	uint8_t *enc = NULL;
	size_t n = 0;
	int err;

	if (bc_prekey_supply_deserialize(&s, in, len) != BC_OK) {
		CHECK(s == NULL);
		return;
	}
	err = bc_prekey_supply_serialize(s, &enc, &n);
	CHECK(err == BC_OK || err == BC_ERR_NOMEM);
	if (err == BC_OK)
		CHECK(n == len && memcmp(enc, in, len) == 0);
	bc_free_secret(enc, n);
	bc_prekey_supply_free(s);
}

static void fuzz_private(const uint8_t *in, size_t len)
{
	bc_identity id;
	uint8_t enc[BC_IDENTITY_PRIVATE_LEN];

	if (bc_identity_decode_private(&id, in, len) == BC_OK) {
		CHECK(bc_identity_encode_private(&id, enc) == BC_OK);
		CHECK(len == sizeof(enc) && memcmp(enc, in, len) == 0);
	}
	bc_identity_wipe(&id);
	sodium_memzero(enc, sizeof(enc));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	unsigned long fail = 0;
	uint8_t sel;

	if (!ready) {
		CHECK(setup() == 0);
		ready = true;
	}
	if (size < 1)
		return 0;
	sel = data[0];
	data++, size--;
	if (sel & 0x08) {
		if (size < 1)
			return 0;
		fail = (unsigned long)data[0] + 1;
		data++, size--;
	}
	bc_alloc_fail_at(fail);
	switch (sel & 0x07) {
	case T_BUNDLE: fuzz_bundle(data, size); break;
	case T_ONETIME: fuzz_onetime(data, size); break;
	case T_IDENTITY: fuzz_identity(data, size); break;
	case T_IMPORT: fuzz_import(data, size); break;
	case T_HEADER: fuzz_header(data, size); break;
	case T_RESPOND: fuzz_respond(data, size); break;
	case T_SUPPLY: fuzz_supply(data, size); break;
	default: fuzz_private(data, size); break;
	}
	bc_alloc_fail_at(0);
	return 0;
}

#else /* BC_FUZZ_MAKE_SEEDS */

static int put(const char *dir, const char *name, uint8_t sel, const void *p, size_t n)
{
	char path[4096];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL)
		return -1;
	ok = fwrite(&sel, 1, 1, f) == 1 && fwrite(p, 1, n, f) == n;
	return fclose(f) == 0 && ok ? 0 : -1;
}

int main(int argc, char **argv)
{
	bc_prekey_supply *s = NULL;
	uint8_t *enc = NULL;
	size_t len = 0;
	int rc = 0;

	if (argc != 2 || setup() != 0) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	rc |= put(argv[1], "bundle", T_BUNDLE, xv_bundle, sizeof(xv_bundle));
	rc |= put(argv[1], "bundle_truncated", T_BUNDLE, xv_bundle, sizeof(xv_bundle) - 1);
	rc |= put(argv[1], "onetime", T_ONETIME, xv_opk1_blob, sizeof(xv_opk1_blob));
	rc |= put(argv[1], "identity", T_IDENTITY, xv_a_public, sizeof(xv_a_public));
	rc |= put(argv[1], "import", T_IMPORT, xv_b_export, strlen(xv_b_export));
	rc |= put(argv[1], "header_opk", T_HEADER, xv_x1_header, sizeof(xv_x1_header));
	rc |= put(argv[1], "header_noopk", T_HEADER, xv_x2_header, sizeof(xv_x2_header));
	rc |= put(argv[1], "respond_opk", T_RESPOND, xv_x1_header, sizeof(xv_x1_header));
	rc |= put(argv[1], "respond_noopk", T_RESPOND, xv_x2_header, sizeof(xv_x2_header));
	rc |= put(argv[1], "supply_new", T_SUPPLY, xv_supply1, sizeof(xv_supply1));
	rc |= put(argv[1], "supply_rotated", T_SUPPLY, xv_supply2, sizeof(xv_supply2));
	rc |= put(argv[1], "private", T_PRIVATE, xv_a_private, sizeof(xv_a_private));
	{
		uint8_t nomem[1 + sizeof(xv_supply2)];
		nomem[0] = 3; /* fail the third allocation */
		memcpy(nomem + 1, xv_supply2, sizeof(xv_supply2));
		rc |= put(argv[1], "supply_nomem", T_SUPPLY | 0x08, nomem, sizeof(nomem));
	}
	/* A larger supply: previous prekey, many one-time keys and replay
	 * entries, all made by the library. */
	if (bc_prekey_supply_new(&s, &fixed_b, xv_spk_created) == BC_OK) {
		uint8_t blobs[20][BC_PREKEY_ONETIME_LEN], tag[32];
		rc |= bc_prekey_supply_add_onetime(s, 20, blobs) != BC_OK;
		rc |= bc_prekey_supply_rotate(s, &fixed_b, xv_spk_created + 100) != BC_OK;
		for (int i = 0; i < 5; i++) {
			randombytes_buf(tag, sizeof(tag));
			rc |= bc_prekey_supply_replay_add(s, (uint32_t)(1 + i % 2), tag) != BC_OK;
		}
		rc |= bc_prekey_supply_serialize(s, &enc, &len) != BC_OK;
		if (enc != NULL)
			rc |= put(argv[1], "supply_full", T_SUPPLY, enc, len);
	} else {
		rc = 1;
	}
	bc_free_secret(enc, len);
	bc_prekey_supply_free(s);
	bc_prekey_supply_free(fixed_supply);
	bc_identity_wipe(&fixed_b);
	if (rc != 0)
		fprintf(stderr, "writing seeds failed\n");
	return rc != 0;
}

#endif
