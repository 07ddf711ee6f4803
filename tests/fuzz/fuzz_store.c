/*
 * fuzz_store.c - libFuzzer target for the client store's decoders
 * (lib/store.c): stored record values (bc_store_record_decode) and the
 * header row (bc_store_header_decode, bc_store_header_unwrap).
 *
 * Input layout:
 *
 *   byte 0      bits 0-1  mode (below)
 *               bit 2     inject an allocation failure: byte 1 says
 *                         which allocation from now fails
 *               bits 3-5  kind: index into kinds[] (mod its length)
 *   [byte 1]    with bit 2
 *   rest        the body, per mode:
 *
 *   0 raw      a stored record value, nonce || ciphertext || MAC, decoded
 *              under the fixed record key, store id, kind and tag. Only a
 *              seed made for those (tests/fuzz/corpus/fuzz_store/) gets
 *              past the MAC; everything else must be refused cleanly.
 *   1 sealed   a record PLAINTEXT. The harness seals it itself with
 *              libsodium, building the associated data from the format in
 *              docs/ARCHITECTURE.md ("Client store") (not with store.c's code), so the MAC
 *              passes and the fuzzer drives the plaintext parser. The
 *              decoder's verdict is compared with an independent parser
 *              of the same layout (u8 1, u32 klen, key, u32 vlen, value,
 *              nothing after; klen <= BC_STORE_LOOKUP_MAX): accepted iff
 *              the oracle accepts, and then with the same key and value;
 *              an accepted record must survive encode -> decode.
 *   2 header   a header row: format, mode, opslimit, memlimit as 8-byte
 *              big-endian two's-complement integers, then store_id, salt
 *              and dk, each as a length byte (0xff: SQL NULL) and that
 *              many bytes. bc_store_header_decode must agree with an
 *              independent statement of the rules (the KDF caps
 *              included); an accepted header is then unwrapped with a
 *              fixed KEK.
 *   3 wrapped  as 2, but a passphrase-mode dk field of the right length is
 *              replaced by a genuine wrap of a fixed DK under the fixed KEK
 *              (built by the harness from the documented format): unwrap
 *              must then return exactly that DK.
 *
 * Nothing here runs Argon2id (far too slow per input); the KDF caps are
 * checked on the decoded header, before any KDF could run.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                          \
	do {                              \
		if (!(c))                 \
			__builtin_trap(); \
	} while (0)

static const char *const kinds[] = {
	"msg",	    "session", ".seq",
	"identity", "a",       "0123456789abcdef0123456789abcdef",
};

static uint8_t rkey[32], store_id[16], tag[32], kek[32], dk_fixed[32];
static bool ready;

static void init(void)
{
	if (ready)
		return;
	CHECK(sodium_init() >= 0);
	for (int i = 0; i < 32; i++) {
		rkey[i] = (uint8_t)i;
		tag[i] = (uint8_t)(0x50 + i);
		kek[i] = (uint8_t)(0x80 + i);
		dk_fixed[i] = (uint8_t)(0xc0 + i);
	}
	for (int i = 0; i < 16; i++)
		store_id[i] = (uint8_t)(0xa0 + i);
	ready = true;
}

/* AD of a record, from docs/ARCHITECTURE.md ("Client store"). */
static size_t rec_ad(uint8_t *ad, const char *kind)
{
	static const char label[] = "backchannel store v1 record";
	size_t n = 0, kl = strlen(kind);
	memcpy(ad, label, sizeof(label) - 1);
	n += sizeof(label) - 1;
	memcpy(ad + n, store_id, 16);
	n += 16;
	memcpy(ad + n, kind, kl);
	n += kl;
	ad[n++] = 0;
	memcpy(ad + n, tag, 32);
	return n + 32;
}

/* The oracle for mode 1: is pt a canonical record plaintext? */
static int ref_parse(const uint8_t *pt, size_t n, size_t *koff, size_t *kl,
		     size_t *voff, size_t *vl)
{
	uint32_t a, b;
	if (n < 1)
		return BC_ERR_MALFORMED;
	if (pt[0] != 1)
		return BC_ERR_VERSION;
	if (n < 5)
		return BC_ERR_MALFORMED;
	a = bc_load32(pt + 1);
	if (a > BC_STORE_LOOKUP_MAX || (size_t)a > n - 5)
		return BC_ERR_MALFORMED;
	if (n - 5 - a < 4)
		return BC_ERR_MALFORMED;
	b = bc_load32(pt + 5 + a);
	if ((size_t)b != n - 9 - a)
		return BC_ERR_MALFORMED;
	*koff = 5;
	*kl = a;
	*voff = 9 + (size_t)a;
	*vl = b;
	return BC_OK;
}

static void check_record(const char *kind, const uint8_t *ct, size_t ctlen,
			 bool nomem, const uint8_t *pt, size_t ptlen)
{
	uint8_t *k = NULL, *v = NULL, *ct2 = NULL, *k2 = NULL, *v2 = NULL;
	size_t kl = 0, vl = 0, ct2len = 0, kl2 = 0, vl2 = 0;
	size_t rko = 0, rkl = 0, rvo = 0, rvl = 0;
	int rc, want = BC_ERR_AUTH;

	rc = bc_store_record_decode(rkey, store_id, kind, tag, ct, ctlen, &k,
				    &kl, &v, &vl);
	if (pt != NULL)
		want = ref_parse(pt, ptlen, &rko, &rkl, &rvo, &rvl);
	if (rc == BC_ERR_NOMEM) {
		CHECK(nomem);
		CHECK(k == NULL && v == NULL && kl == 0 && vl == 0);
		return;
	}
	if (rc != BC_OK) {
		CHECK(k == NULL && v == NULL && kl == 0 && vl == 0);
		CHECK(rc == BC_ERR_AUTH || rc == BC_ERR_MALFORMED ||
		      rc == BC_ERR_VERSION || rc == BC_ERR_TOOBIG);
		if (pt != NULL)
			CHECK(rc == want);
		return;
	}
	CHECK(k != NULL && v != NULL);
	CHECK(kl <= BC_STORE_LOOKUP_MAX && vl <= BC_STORE_VALUE_MAX);
	CHECK(9 + kl + vl + 40 == ctlen);
	if (pt != NULL) {
		CHECK(want == BC_OK && rkl == kl && rvl == vl);
		CHECK(kl == 0 || memcmp(k, pt + rko, kl) == 0);
		CHECK(vl == 0 || memcmp(v, pt + rvo, vl) == 0);
	}
	/* encode(decode(x)) decodes to the same record */
	rc = bc_store_record_encode(rkey, store_id, kind, tag, k, kl, v, vl,
				    &ct2, &ct2len);
	if (rc == BC_OK) {
		CHECK(ct2len == ctlen);
		rc = bc_store_record_decode(rkey, store_id, kind, tag, ct2,
					    ct2len, &k2, &kl2, &v2, &vl2);
		if (rc == BC_OK) {
			CHECK(kl2 == kl && vl2 == vl);
			CHECK(kl == 0 || memcmp(k, k2, kl) == 0);
			CHECK(vl == 0 || memcmp(v, v2, vl) == 0);
		} else {
			CHECK(nomem && rc == BC_ERR_NOMEM);
		}
	} else {
		CHECK(nomem && rc == BC_ERR_NOMEM);
	}
	bc_free_secret(k, kl);
	bc_free_secret(v, vl);
	bc_free_secret(k2, kl2);
	bc_free_secret(v2, vl2);
	bc_free(ct2);
}

/* Mode 1: seal the body as a plaintext, independently of store.c. */
static void fuzz_sealed(const char *kind, const uint8_t *pt, size_t ptlen,
			bool nomem)
{
	uint8_t ad[27 + 16 + 33 + 32], *ct;
	size_t adlen = rec_ad(ad, kind), ctlen = 24 + ptlen + 16;

	ct = bc_malloc(ctlen);
	if (ct == NULL)
		return;
	randombytes_buf(ct, 24);
	CHECK(crypto_aead_xchacha20poly1305_ietf_encrypt(ct + 24, NULL, pt,
							 ptlen, ad, adlen, NULL,
							 ct, rkey) == 0);
	check_record(kind, ct, ctlen, nomem, pt, ptlen);
	bc_free(ct);
}

/* A fuzzer-chosen blob field: length byte (0xff: NULL), then bytes. */
static bool take_blob(const uint8_t **p, size_t *n, const uint8_t **out,
		      size_t *outlen)
{
	uint8_t l;
	if (*n < 1)
		return false;
	l = (*p)[0];
	(*p)++;
	(*n)--;
	if (l == 0xff) {
		*out = NULL;
		*outlen = 0;
		return true;
	}
	if (*n < l)
		return false;
	*out = *p;
	*outlen = l;
	*p += l;
	*n -= l;
	return true;
}

/* The header rules, stated independently of store.c. */
static int ref_header(const bc_store_header_cols *c)
{
	if (c->format > 1)
		return BC_ERR_VERSION;
	if (c->format != 1 || c->store_id == NULL || c->store_id_len != 16 ||
	    c->dk == NULL)
		return BC_ERR_MALFORMED;
	if (c->mode == 1)
		return c->salt != NULL && c->salt_len == 16 &&
				       c->dk_len == 72 && c->opslimit >= 2 &&
				       c->opslimit <= 4 &&
				       c->memlimit >= 64 * 1024 * 1024 &&
				       c->memlimit <= 1024 * 1024 * 1024
			       ? BC_OK
			       : BC_ERR_MALFORMED;
	if (c->mode == 2)
		return c->salt == NULL && c->salt_len == 0 &&
				       c->opslimit == 0 && c->memlimit == 0 &&
				       c->dk_len == 32
			       ? BC_OK
			       : BC_ERR_MALFORMED;
	return BC_ERR_MALFORMED;
}

static void fuzz_header(const uint8_t *p, size_t n, bool genuine)
{
	static const char label[] = "backchannel store v1 dk";
	uint8_t wrapped[72], ad[sizeof(label) - 1 + 16], dk[32];
	bc_store_header_cols c;
	bc_store_header h;
	int rc, want;

	memset(&c, 0, sizeof(c));
	if (n < 32)
		return;
	c.format = (int64_t)bc_load64(p);
	c.mode = (int64_t)bc_load64(p + 8);
	c.opslimit = (int64_t)bc_load64(p + 16);
	c.memlimit = (int64_t)bc_load64(p + 24);
	p += 32;
	n -= 32;
	if (!take_blob(&p, &n, &c.store_id, &c.store_id_len) ||
	    !take_blob(&p, &n, &c.salt, &c.salt_len) ||
	    !take_blob(&p, &n, &c.dk, &c.dk_len))
		return;
	if (genuine && c.mode == 1 && c.dk_len == 72 && c.store_id != NULL &&
	    c.store_id_len == 16) {
		memcpy(ad, label, sizeof(label) - 1);
		memcpy(ad + sizeof(label) - 1, c.store_id, 16);
		randombytes_buf(wrapped, 24);
		CHECK(crypto_aead_xchacha20poly1305_ietf_encrypt(
			      wrapped + 24, NULL, dk_fixed, 32, ad, sizeof(ad),
			      NULL, wrapped, kek) == 0);
		c.dk = wrapped;
	} else {
		genuine = false;
	}
	want = ref_header(&c);
	rc = bc_store_header_decode(&c, &h);
	CHECK(rc == want);
	if (rc != BC_OK) {
		/* the output is wiped on failure */
		for (size_t i = 0; i < sizeof(h.dk); i++)
			CHECK(h.dk[i] == 0);
		CHECK(h.mode == 0 && h.memlimit == 0 && h.opslimit == 0);
		return;
	}
	CHECK(h.mode == c.mode);
	CHECK(memcmp(h.store_id, c.store_id, 16) == 0);
	rc = bc_store_header_unwrap(&h, kek, dk);
	if (h.mode == BC_STORE_MODE_UNPROTECTED) {
		CHECK(rc == BC_OK && memcmp(dk, c.dk, 32) == 0);
	} else {
		CHECK(h.opslimit >= crypto_pwhash_OPSLIMIT_INTERACTIVE &&
		      h.opslimit <= crypto_pwhash_OPSLIMIT_SENSITIVE);
		CHECK(h.memlimit >= crypto_pwhash_MEMLIMIT_INTERACTIVE &&
		      h.memlimit <= crypto_pwhash_MEMLIMIT_SENSITIVE);
		if (genuine)
			CHECK(rc == BC_OK && memcmp(dk, dk_fixed, 32) == 0);
		else
			CHECK(rc == BC_ERR_AUTH || rc == BC_OK);
		if (rc != BC_OK)
			for (size_t i = 0; i < 32; i++)
				CHECK(dk[i] == 0);
	}
	sodium_memzero(dk, sizeof(dk));
	sodium_memzero(&h, sizeof(h));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *kind;
	uint8_t *body;
	size_t hdr = 1, n;
	bool nomem = false;

	init();
	if (size < 1)
		return 0;
	kind = kinds[((data[0] >> 3) & 7u) % BC_ARRAY_LEN(kinds)];
	if (data[0] & 4) {
		if (size < 2)
			return 0;
		hdr = 2;
	}
	/* An exact-size copy: ASan sees any overread. */
	n = size - hdr;
	body = bc_malloc(n);
	if (body == NULL)
		return 0;
	if (n > 0)
		memcpy(body, data + hdr, n);
	if (data[0] & 4) {
		bc_alloc_fail_at(data[1]);
		nomem = true;
	}
	switch (data[0] & 3u) {
	case 0: check_record(kind, body, n, nomem, NULL, 0); break;
	case 1: fuzz_sealed(kind, body, n, nomem); break;
	case 2: fuzz_header(body, n, false); break;
	default: fuzz_header(body, n, true); break;
	}
	bc_alloc_fail_at(0);
	bc_free(body);
	return 0;
}
