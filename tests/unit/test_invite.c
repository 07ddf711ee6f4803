/*
 * test_invite.c - tests for lib/invite.c: the binary and text forms of
 * invites, every field's bounds, typos, expiry, the secret tag, wiping.
 *
 * Invalid encodings are built field by field with the codec writer
 * (struct spec below), independently of bc_invite_encode, so that each
 * negative test changes exactly one field of an otherwise valid invite; a
 * sanity test checks that the unchanged spec decodes and re-encodes to the
 * same bytes. The secret tag is recomputed here with one-shot
 * crypto_generichash over the concatenated input, as a second
 * implementation of docs/PROTOCOL.md §17.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "codec.h"
#include "encoding.h"
#include "identity.h"
#include "internal.h"
#include "invite.h"

#define TITLE "Harbour talks \xe2\x80\x94 round 2"
#define RULES "Nothing said here is quoted outside. \xe2\x80\x94 Qatar"

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= b[i];
	return acc == 0;
}

static bc_identity inviter;   /* generated once in main */

static void make_relay(bc_relay_addr *a)
{
	memset(a, 0, sizeof(*a));
	strcpy(a->host, "relay.example.org");
	a->port = 7737;
	randombytes_buf(a->key, sizeof(a->key));
}

static void make_invite(bc_invite *inv, bc_invite_role role, const char *side, uint64_t expires)
{
	bc_relay_addr relay;
	uint8_t mailbox[32], cap[32], channel[16];

	make_relay(&relay);
	randombytes_buf(mailbox, sizeof(mailbox));
	randombytes_buf(cap, sizeof(cap));
	randombytes_buf(channel, sizeof(channel));
	assert_int_equal(bc_invite_new(inv, &relay, &inviter.pub, mailbox, cap, channel, TITLE,
				       role, side, expires),
			 BC_OK);
	assert_int_equal(bc_invite_set_rules(inv, RULES), BC_OK);
	sodium_memzero(cap, sizeof(cap));
}

static size_t encode(const bc_invite *inv, uint8_t buf[BC_INVITE_MAX_LEN])
{
	size_t n = 0;

	assert_int_equal(bc_invite_encode(inv, buf, BC_INVITE_MAX_LEN, &n), BC_OK);
	assert_true(n > 0 && n <= BC_INVITE_MAX_LEN);
	return n;
}

static void assert_same(const bc_invite *a, const bc_invite *b)
{
	uint8_t ea[BC_INVITE_MAX_LEN], eb[BC_INVITE_MAX_LEN];
	size_t na = encode(a, ea), nb = encode(b, eb);

	assert_int_equal(na, nb);
	assert_memory_equal(ea, eb, na);
	assert_string_equal(a->relay.host, b->relay.host);
	assert_int_equal(a->relay.port, b->relay.port);
	assert_memory_equal(a->relay.key, b->relay.key, 32);
	assert_true(bc_identity_equal(&a->inviter, &b->inviter));
	assert_memory_equal(a->mailbox, b->mailbox, 32);
	assert_memory_equal(a->capability, b->capability, 32);
	assert_memory_equal(a->channel, b->channel, 16);
	assert_string_equal(a->title, b->title);
	assert_string_equal(a->rules, b->rules);
	assert_int_equal(a->role, b->role);
	assert_string_equal(a->side, b->side);
	assert_memory_equal(a->secret, b->secret, 32);
	assert_int_equal(a->expires, b->expires);
	sodium_memzero(ea, sizeof(ea));
	sodium_memzero(eb, sizeof(eb));
}

/* ---- a field-by-field builder for hand-made encodings -------------------- */

struct spec {
	uint8_t version;
	const char *relay;          /* NUL-terminated; written with bc_wr_bytes */
	size_t relay_len;
	uint8_t id[BC_IDENTITY_PUBLIC_LEN];
	uint8_t mailbox[32], cap[32], channel[16];
	const char *title;
	size_t title_len;
	const char *rules;
	size_t rules_len;
	uint8_t role;
	const char *side;
	size_t side_len;
	uint8_t secret[32];
	uint64_t expires;
	char relay_buf[512];
};

static void spec_default(struct spec *s)
{
	bc_relay_addr a;
	char *r = NULL;

	memset(s, 0, sizeof(*s));
	s->version = 1;
	make_relay(&a);
	assert_int_equal(bc_relay_addr_format(&a, &r), BC_OK);
	strcpy(s->relay_buf, r);
	bc_free(r);
	s->relay = s->relay_buf;
	s->relay_len = strlen(s->relay_buf);
	assert_int_equal(bc_identity_encode_public(&inviter.pub, s->id), BC_OK);
	randombytes_buf(s->mailbox, 32);
	randombytes_buf(s->cap, 32);
	randombytes_buf(s->channel, 16);
	s->title = TITLE;
	s->title_len = strlen(TITLE);
	s->rules = RULES;
	s->rules_len = strlen(RULES);
	s->role = BC_INVITE_PARTY;
	s->side = "US";
	s->side_len = 2;
	randombytes_buf(s->secret, 32);
	s->expires = 1700000000;
}

/* The encoding of s (bc_free the result). */
static uint8_t *spec_build(const struct spec *s, size_t *len)
{
	uint8_t *out = NULL;
	bc_wr w;

	bc_wr_init(&w, 8192);
	bc_wr_u8(&w, s->version);
	bc_wr_bytes(&w, s->relay, s->relay_len);
	bc_wr_raw(&w, s->id, sizeof(s->id));
	bc_wr_raw(&w, s->mailbox, 32);
	bc_wr_raw(&w, s->cap, 32);
	bc_wr_raw(&w, s->channel, 16);
	bc_wr_bytes(&w, s->title, s->title_len);
	bc_wr_bytes(&w, s->rules, s->rules_len);
	bc_wr_u8(&w, s->role);
	bc_wr_bytes(&w, s->side, s->side_len);
	bc_wr_raw(&w, s->secret, 32);
	bc_wr_u64(&w, s->expires);
	assert_int_equal(bc_wr_finish(&w, &out, len), BC_OK);
	return out;
}

/* Decode the encoding of s; on failure check that the output was wiped. */
static int spec_decode(const struct spec *s)
{
	bc_invite inv;
	size_t len = 0;
	uint8_t *buf = spec_build(s, &len);
	int err;

	memset(&inv, 0xa5, sizeof(inv));
	err = bc_invite_decode(&inv, buf, len);
	if (err != BC_OK)
		assert_true(all_zero(&inv, sizeof(inv)));
	bc_invite_wipe(&inv);
	bc_free_secret(buf, len);
	return err;
}

/* ---- round trips ------------------------------------------------------------ */

static void test_roundtrip_binary(void **state)
{
	static const struct {
		bc_invite_role role;
		const char *side;
		uint64_t expires;
	} cases[] = {
		{ BC_INVITE_PARTY, "US", 0 },
		{ BC_INVITE_PARTY, "\xc3\x89tat du Nord", UINT64_MAX },
		{ BC_INVITE_MEDIATOR, NULL, 1700000000 },
		{ BC_INVITE_OBSERVER, "", 1 },
	};
	(void)state;

	for (size_t i = 0; i < BC_ARRAY_LEN(cases); i++) {
		bc_invite inv, back;
		uint8_t buf[BC_INVITE_MAX_LEN], again[BC_INVITE_MAX_LEN];
		size_t n, m;

		make_invite(&inv, cases[i].role, cases[i].side, cases[i].expires);
		n = encode(&inv, buf);
		assert_int_equal(buf[0], BC_INVITE_VERSION);
		assert_int_equal(bc_invite_decode(&back, buf, n), BC_OK);
		assert_same(&inv, &back);
		m = encode(&back, again);
		assert_int_equal(m, n);
		assert_memory_equal(again, buf, n);
		bc_invite_wipe(&inv);
		bc_invite_wipe(&back);
		sodium_memzero(buf, sizeof(buf));
		sodium_memzero(again, sizeof(again));
	}
}

static void test_roundtrip_ipv6_relay(void **state)
{
	bc_invite inv, back;
	uint8_t buf[BC_INVITE_MAX_LEN];
	size_t n;
	(void)state;

	make_invite(&inv, BC_INVITE_MEDIATOR, NULL, 0);
	strcpy(inv.relay.host, "2001:db8::1");
	n = encode(&inv, buf);
	assert_int_equal(bc_invite_decode(&back, buf, n), BC_OK);
	assert_string_equal(back.relay.host, "2001:db8::1");
	assert_same(&inv, &back);
	bc_invite_wipe(&inv);
	bc_invite_wipe(&back);
	sodium_memzero(buf, sizeof(buf));
}

static void test_roundtrip_text(void **state)
{
	bc_invite inv, back;
	char *s = NULL, *upper, *broken;
	size_t len, j = 0;
	(void)state;

	make_invite(&inv, BC_INVITE_PARTY, "US", 1800000000);
	assert_int_equal(bc_invite_export(&inv, &s), BC_OK);
	assert_non_null(s);
	assert_memory_equal(s, "bci:", 4);
	assert_int_equal(bc_invite_import(&back, s), BC_OK);
	assert_same(&inv, &back);
	bc_invite_wipe(&back);

	/* upper case */
	len = strlen(s);
	upper = bc_strdup(s);
	assert_non_null(upper);
	for (size_t i = 0; i < len; i++)
		if (upper[i] >= 'a' && upper[i] <= 'z')
			upper[i] = (char)(upper[i] - 'a' + 'A');
	assert_int_equal(bc_invite_import(&back, upper), BC_OK);
	assert_same(&inv, &back);
	bc_invite_wipe(&back);

	/* line breaks (CRLF every 16 characters of the data part) and spaces */
	broken = bc_malloc(3 * len + 8);
	assert_non_null(broken);
	for (size_t i = 0; i < len; i++) {
		broken[j++] = s[i];
		if (i > 4 && i % 16 == 0) {
			broken[j++] = '\r';
			broken[j++] = '\n';
		} else if (i > 4 && i % 7 == 0) {
			broken[j++] = ' ';
		}
	}
	broken[j++] = '\n';
	broken[j] = '\0';
	assert_int_equal(bc_invite_import(&back, broken), BC_OK);
	assert_same(&inv, &back);

	bc_invite_text_free(broken);
	bc_invite_text_free(upper);
	bc_invite_text_free(s);
	bc_invite_wipe(&inv);
	bc_invite_wipe(&back);
}

/* ---- truncation and trailing bytes ----------------------------------------- */

static void test_truncations(void **state)
{
	bc_invite inv, back;
	uint8_t buf[BC_INVITE_MAX_LEN + 1];
	size_t n;
	(void)state;

	make_invite(&inv, BC_INVITE_PARTY, "US", 0);
	n = encode(&inv, buf);
	for (size_t k = 0; k < n; k++) {
		memset(&back, 0x5a, sizeof(back));
		assert_int_not_equal(bc_invite_decode(&back, buf, k), BC_OK);
		assert_true(all_zero(&back, sizeof(back)));
	}
	assert_int_equal(bc_invite_decode(&back, NULL, 0), BC_ERR_MALFORMED);

	buf[n] = 0;
	assert_int_equal(bc_invite_decode(&back, buf, n + 1), BC_ERR_MALFORMED);
	assert_true(all_zero(&back, sizeof(back)));
	assert_int_equal(bc_invite_decode(&back, buf, n), BC_OK);
	bc_invite_wipe(&inv);
	bc_invite_wipe(&back);
	sodium_memzero(buf, sizeof(buf));
}

/* ---- each field's bounds, via hand-built encodings ------------------------ */

static void test_spec_sanity(void **state)
{
	struct spec s;
	bc_invite inv;
	uint8_t *buf, again[BC_INVITE_MAX_LEN];
	size_t len = 0, n = 0;
	(void)state;

	spec_default(&s);
	buf = spec_build(&s, &len);
	assert_int_equal(bc_invite_decode(&inv, buf, len), BC_OK);
	assert_int_equal(bc_invite_encode(&inv, again, sizeof(again), &n), BC_OK);
	assert_int_equal(n, len);
	assert_memory_equal(again, buf, len);
	assert_int_equal(inv.expires, 1700000000);
	assert_string_equal(inv.side, "US");
	bc_free_secret(buf, len);
	bc_invite_wipe(&inv);
	sodium_memzero(again, sizeof(again));
}

static void test_version(void **state)
{
	struct spec s;
	(void)state;

	spec_default(&s);
	s.version = 0;
	assert_int_equal(spec_decode(&s), BC_ERR_VERSION);
	s.version = 2;
	assert_int_equal(spec_decode(&s), BC_ERR_VERSION);
}

static void test_relay_bounds(void **state)
{
	struct spec s;
	char canon[512], *slash;
	(void)state;

	spec_default(&s);
	strcpy(canon, s.relay_buf);
	slash = strchr(canon, '/');
	assert_non_null(slash);

	s.relay = "";
	s.relay_len = 0;
	assert_int_equal(spec_decode(&s), BC_ERR_MALFORMED);

	/* no port */
	snprintf(s.relay_buf, sizeof(s.relay_buf), "relay.example.org%s", slash);
	s.relay = s.relay_buf;
	s.relay_len = strlen(s.relay_buf);
	assert_int_equal(spec_decode(&s), BC_ERR_MALFORMED);
	/* port 0 */
	snprintf(s.relay_buf, sizeof(s.relay_buf), "relay.example.org:0%s", slash);
	s.relay_len = strlen(s.relay_buf);
	assert_int_equal(spec_decode(&s), BC_ERR_MALFORMED);
	/* not canonical: leading zero in the port */
	snprintf(s.relay_buf, sizeof(s.relay_buf), "relay.example.org:07737%s", slash);
	s.relay_len = strlen(s.relay_buf);
	assert_int_equal(spec_decode(&s), BC_ERR_MALFORMED);
	/* not canonical: upper-case key (parses, but is not the one spelling) */
	strcpy(s.relay_buf, canon);
	for (char *p = strchr(s.relay_buf, '/') + 5; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	s.relay_len = strlen(s.relay_buf);
	assert_int_equal(spec_decode(&s), BC_ERR_MALFORMED);
	/* a typo in the relay key (its own checksum) */
	strcpy(s.relay_buf, canon);
	{
		char *p = strchr(s.relay_buf, '/') + 5;
		*p = *p == '0' ? '1' : '0';
	}
	assert_int_equal(spec_decode(&s), BC_ERR_MALFORMED);
	/* a key of another kind */
	strcpy(s.relay_buf, canon);
	memcpy(strchr(s.relay_buf, '/') + 1, "bci", 3);
	assert_int_equal(spec_decode(&s), BC_ERR_MALFORMED);
	/* an embedded NUL */
	strcpy(s.relay_buf, canon);
	s.relay_buf[3] = '\0';
	s.relay_len = strlen(canon);
	assert_int_equal(spec_decode(&s), BC_ERR_MALFORMED);
	/* over the cap: 301 bytes */
	memset(s.relay_buf, 'a', 301);
	s.relay_buf[301] = '\0';
	s.relay_len = 301;
	assert_int_equal(spec_decode(&s), BC_ERR_TOOBIG);

	/* the canonical spelling is accepted */
	strcpy(s.relay_buf, canon);
	s.relay_len = strlen(canon);
	assert_int_equal(spec_decode(&s), BC_OK);
}

static void test_identity_bounds(void **state)
{
	struct spec s;
	(void)state;

	spec_default(&s);
	s.id[0] ^= 1;   /* identity version */
	assert_int_equal(spec_decode(&s), BC_ERR_VERSION);
	s.id[0] ^= 1;
	/* a flipped bit anywhere in sign_pub, dh_pub or the certificate */
	for (size_t i = 1; i < BC_IDENTITY_PUBLIC_LEN; i++) {
		s.id[i] ^= (uint8_t)(1u << (i % 8));
		assert_int_not_equal(spec_decode(&s), BC_OK);
		s.id[i] ^= (uint8_t)(1u << (i % 8));
	}
	s.id[BC_IDENTITY_PUBLIC_LEN - 1] ^= 0x80;   /* in the certificate */
	assert_int_equal(spec_decode(&s), BC_ERR_AUTH);
	s.id[BC_IDENTITY_PUBLIC_LEN - 1] ^= 0x80;
	assert_int_equal(spec_decode(&s), BC_OK);
}

static void test_role_and_side(void **state)
{
	struct spec s;
	char side65[66];
	(void)state;

	spec_default(&s);
	s.role = 0;
	assert_int_equal(spec_decode(&s), BC_ERR_MALFORMED);
	s.role = 4;
	assert_int_equal(spec_decode(&s), BC_ERR_MALFORMED);
	s.role = 255;
	assert_int_equal(spec_decode(&s), BC_ERR_MALFORMED);

	/* a party needs a side label of 1..64 bytes */
	s.role = BC_INVITE_PARTY;
	s.side = "";
	s.side_len = 0;
	assert_int_equal(spec_decode(&s), BC_ERR_MALFORMED);
	memset(side65, 'x', 65);
	side65[65] = '\0';
	s.side = side65;
	s.side_len = 64;
	assert_int_equal(spec_decode(&s), BC_OK);
	s.side_len = 65;
	assert_int_equal(spec_decode(&s), BC_ERR_TOOBIG);
	s.side = "\xff";
	s.side_len = 1;
	assert_int_equal(spec_decode(&s), BC_ERR_MALFORMED);

	/* the other roles have none */
	s.side = "US";
	s.side_len = 2;
	s.role = BC_INVITE_OBSERVER;
	assert_int_equal(spec_decode(&s), BC_ERR_MALFORMED);
	s.role = BC_INVITE_MEDIATOR;
	assert_int_equal(spec_decode(&s), BC_ERR_MALFORMED);
	s.side = "";
	s.side_len = 0;
	assert_int_equal(spec_decode(&s), BC_OK);
	s.role = BC_INVITE_OBSERVER;
	assert_int_equal(spec_decode(&s), BC_OK);
}

static void test_title_bounds(void **state)
{
	struct spec s;
	char title[202];
	(void)state;

	spec_default(&s);
	memset(title, 't', 201);
	title[201] = '\0';
	s.title = title;
	s.title_len = 200;
	assert_int_equal(spec_decode(&s), BC_OK);
	s.title_len = 201;
	assert_int_equal(spec_decode(&s), BC_ERR_TOOBIG);
	s.title_len = 0;
	assert_int_equal(spec_decode(&s), BC_OK);   /* an empty title is allowed */

	s.title = "bad \xc3\x28 utf-8";
	s.title_len = strlen(s.title);
	assert_int_equal(spec_decode(&s), BC_ERR_MALFORMED);
	s.title = "overlong \xc0\xaf";
	s.title_len = strlen(s.title);
	assert_int_equal(spec_decode(&s), BC_ERR_MALFORMED);
	s.title = "surrogate \xed\xa0\x80";
	s.title_len = strlen(s.title);
	assert_int_equal(spec_decode(&s), BC_ERR_MALFORMED);
	s.title = "nul\0inside";
	s.title_len = 10;
	assert_int_equal(spec_decode(&s), BC_ERR_MALFORMED);
}

/* The ground rules: up to 4096 bytes of UTF-8, possibly empty. */
static void test_rules_bounds(void **state)
{
	static char rules[BC_INVITE_RULES_MAX + 2];
	struct spec s;
	bc_invite inv;
	(void)state;
	spec_default(&s);
	memset(rules, 'r', BC_INVITE_RULES_MAX + 1);
	rules[BC_INVITE_RULES_MAX + 1] = '\0';
	s.rules = rules;
	s.rules_len = BC_INVITE_RULES_MAX;
	assert_int_equal(spec_decode(&s), BC_OK);
	s.rules_len = BC_INVITE_RULES_MAX + 1;
	assert_int_equal(spec_decode(&s), BC_ERR_TOOBIG);
	s.rules_len = 0;
	assert_int_equal(spec_decode(&s), BC_OK);
	s.rules = "bad \xc3\x28 utf-8";
	s.rules_len = strlen(s.rules);
	assert_int_equal(spec_decode(&s), BC_ERR_MALFORMED);
	make_invite(&inv, BC_INVITE_OBSERVER, NULL, 0);
	assert_int_equal(bc_invite_set_rules(&inv, rules), BC_ERR_TOOBIG);
	assert_int_equal(bc_invite_set_rules(&inv, "bad \xc3\x28"), BC_ERR_INVALID);
	assert_string_equal(inv.rules, RULES);
	bc_invite_wipe(&inv);
}

/* ---- what the encoder and bc_invite_new refuse ----------------------------- */

static void test_encode_refuses(void **state)
{
	bc_invite inv, bad;
	uint8_t buf[BC_INVITE_MAX_LEN];
	size_t n = 99;
	(void)state;

	make_invite(&inv, BC_INVITE_PARTY, "US", 0);

	bad = inv;
	bad.role = 0;
	assert_int_equal(bc_invite_encode(&bad, buf, sizeof(buf), &n), BC_ERR_INVALID);
	assert_int_equal(n, 0);
	bad.role = 4;
	assert_int_equal(bc_invite_encode(&bad, buf, sizeof(buf), &n), BC_ERR_INVALID);

	bad = inv;
	bad.side[0] = '\0';   /* party without a side */
	assert_int_equal(bc_invite_encode(&bad, buf, sizeof(buf), &n), BC_ERR_INVALID);
	bad = inv;
	bad.role = BC_INVITE_OBSERVER;   /* observer with a side */
	assert_int_equal(bc_invite_encode(&bad, buf, sizeof(buf), &n), BC_ERR_INVALID);

	bad = inv;
	memset(bad.title, 'x', sizeof(bad.title));   /* unterminated */
	assert_int_equal(bc_invite_encode(&bad, buf, sizeof(buf), &n), BC_ERR_INVALID);
	bad = inv;
	strcpy(bad.title, "bad \xc3\x28");
	assert_int_equal(bc_invite_encode(&bad, buf, sizeof(buf), &n), BC_ERR_INVALID);

	bad = inv;
	bad.inviter.cert_sig[7] ^= 0x10;
	assert_int_equal(bc_invite_encode(&bad, buf, sizeof(buf), &n), BC_ERR_INVALID);

	bad = inv;
	bad.relay.port = 0;
	assert_int_equal(bc_invite_encode(&bad, buf, sizeof(buf), &n), BC_ERR_INVALID);
	bad = inv;
	strcpy(bad.relay.host, "[oops");   /* formats to a string that does not parse */
	assert_int_equal(bc_invite_encode(&bad, buf, sizeof(buf), &n), BC_ERR_INVALID);
	bad = inv;
	memset(bad.relay.host, 'h', BC_HOST_MAX);   /* formats to over 300 bytes */
	bad.relay.host[BC_HOST_MAX] = '\0';
	assert_int_equal(bc_invite_encode(&bad, buf, sizeof(buf), &n), BC_ERR_TOOBIG);

	/* a buffer one byte short: refused, and wiped */
	{
		size_t full = encode(&inv, buf);

		memset(buf, 0xee, sizeof(buf));
		assert_int_equal(bc_invite_encode(&inv, buf, full - 1, &n), BC_ERR_TOOBIG);
		assert_int_equal(n, 0);
		assert_true(all_zero(buf, full - 1));
		assert_int_equal(buf[full - 1], 0xee);   /* nothing beyond outcap */
	}

	bc_invite_wipe(&inv);
	bc_invite_wipe(&bad);
	sodium_memzero(buf, sizeof(buf));
}

static void test_new(void **state)
{
	bc_invite a, b;
	bc_relay_addr relay;
	uint8_t mailbox[32] = { 1 }, cap[32] = { 2 }, channel[16] = { 3 };
	char long_title[202];
	(void)state;

	make_relay(&relay);
	make_invite(&a, BC_INVITE_PARTY, "US", 0);
	make_invite(&b, BC_INVITE_PARTY, "US", 0);
	assert_memory_not_equal(a.secret, b.secret, 32);
	assert_false(all_zero(a.secret, 32));

	memset(long_title, 'x', 201);
	long_title[201] = '\0';
	memset(&a, 0x77, sizeof(a));
	assert_int_equal(bc_invite_new(&a, &relay, &inviter.pub, mailbox, cap, channel,
				       long_title, BC_INVITE_MEDIATOR, NULL, 0),
			 BC_ERR_TOOBIG);
	assert_true(all_zero(&a, sizeof(a)));
	memset(&a, 0x77, sizeof(a));
	assert_int_equal(bc_invite_new(&a, &relay, &inviter.pub, mailbox, cap, channel, "t",
				       BC_INVITE_OBSERVER, "US", 0),
			 BC_ERR_INVALID);
	assert_true(all_zero(&a, sizeof(a)));
	assert_int_equal(bc_invite_new(&a, &relay, &inviter.pub, mailbox, cap, channel, "t",
				       BC_INVITE_PARTY, NULL, 0),
			 BC_ERR_INVALID);
	assert_true(all_zero(&a, sizeof(a)));
	assert_int_equal(bc_invite_new(&a, &relay, &inviter.pub, mailbox, cap, channel, "t",
				       (bc_invite_role)257, "US", 0),
			 BC_ERR_INVALID);
	assert_int_equal(bc_invite_new(&a, NULL, &inviter.pub, mailbox, cap, channel, "t",
				       BC_INVITE_MEDIATOR, NULL, 0),
			 BC_ERR_INVALID);
	assert_int_equal(bc_invite_new(&a, &relay, &inviter.pub, mailbox, cap, channel, "t",
				       BC_INVITE_MEDIATOR, NULL, 0),
			 BC_OK);
	assert_memory_equal(a.capability, cap, 32);
	assert_memory_equal(a.mailbox, mailbox, 32);
	assert_memory_equal(a.channel, channel, 16);
	assert_string_equal(a.side, "");
	bc_invite_wipe(&a);
	bc_invite_wipe(&b);
}

/* ---- typos and strings of other kinds --------------------------------------- */

static void test_typo(void **state)
{
	bc_invite inv, back;
	char *s = NULL;
	size_t len, tried = 0, last_dash;
	static const char alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";
	(void)state;

	make_invite(&inv, BC_INVITE_PARTY, "US", 0);
	assert_int_equal(bc_invite_export(&inv, &s), BC_OK);
	len = strlen(s);
	last_dash = (size_t)(strrchr(s, '-') - s);
	/* one substituted character anywhere before the last group (whose
	 * final character also carries padding bits) */
	for (size_t i = 4; i < last_dash; i++) {
		char orig = s[i];
		const char *pos;

		if (orig == '-')
			continue;
		pos = strchr(alphabet, orig);
		assert_non_null(pos);
		s[i] = alphabet[((size_t)(pos - alphabet) + 1 + i % 31) % 32];
		memset(&back, 0x33, sizeof(back));
		assert_int_equal(bc_invite_import(&back, s), BC_ERR_CHECKSUM);
		assert_true(all_zero(&back, sizeof(back)));
		s[i] = orig;
		tried++;
	}
	assert_true(tried > 100);
	/* two adjacent characters swapped */
	for (size_t i = 4; i + 1 < last_dash; i += 37) {
		char t = s[i];

		if (t == '-' || s[i + 1] == '-' || t == s[i + 1])
			continue;
		s[i] = s[i + 1];
		s[i + 1] = t;
		assert_int_equal(bc_invite_import(&back, s), BC_ERR_CHECKSUM);
		s[i + 1] = s[i];
		s[i] = t;
	}
	/* a character lost */
	memmove(s + 10, s + 11, len - 10);
	assert_int_not_equal(bc_invite_import(&back, s), BC_OK);

	bc_invite_text_free(s);
	bc_invite_wipe(&inv);
	bc_invite_wipe(&back);
}

static void test_other_kinds(void **state)
{
	bc_invite inv, back;
	uint8_t key[32], buf[BC_INVITE_MAX_LEN];
	char *k = NULL, *id = NULL, *s = NULL, *fake = NULL;
	size_t n;
	(void)state;

	randombytes_buf(key, sizeof(key));
	assert_int_equal(bc_b32c_encode("bck", key, sizeof(key), &k), BC_OK);
	memset(&back, 0x11, sizeof(back));
	assert_int_equal(bc_invite_import(&back, k), BC_ERR_INVALID);
	assert_true(all_zero(&back, sizeof(back)));

	assert_int_equal(bc_identity_export(&inviter.pub, &id), BC_OK);
	assert_int_equal(bc_invite_import(&back, id), BC_ERR_INVALID);

	/* a valid invite body under another kind is still another kind */
	make_invite(&inv, BC_INVITE_MEDIATOR, NULL, 0);
	n = encode(&inv, buf);
	assert_int_equal(bc_b32c_encode("bcx", buf, n, &fake), BC_OK);
	assert_int_equal(bc_invite_import(&back, fake), BC_ERR_INVALID);
	/* and the "bci" kind over bytes that are not an invite is malformed */
	key[0] = BC_INVITE_VERSION;   /* the right version, an empty relay */
	memset(key + 1, 0, 4);
	assert_int_equal(bc_b32c_encode("bci", key, sizeof(key), &s), BC_OK);
	assert_int_equal(bc_invite_import(&back, s), BC_ERR_MALFORMED);

	assert_int_equal(bc_invite_import(&back, "no separator"), BC_ERR_MALFORMED);
	assert_int_equal(bc_invite_import(&back, "bci:"), BC_ERR_MALFORMED);
	assert_int_equal(bc_invite_import(&back, NULL), BC_ERR_INVALID);
	assert_int_equal(bc_invite_import(NULL, k), BC_ERR_INVALID);

	bc_free(k);
	bc_free(id);
	bc_free(s);
	bc_invite_text_free(fake);
	bc_invite_wipe(&inv);
	bc_invite_wipe(&back);
	sodium_memzero(buf, sizeof(buf));
}

/* ---- expiry, secret tag, wiping, allocation failures --------------------- */

static void test_expiry(void **state)
{
	bc_invite inv;
	(void)state;

	make_invite(&inv, BC_INVITE_OBSERVER, NULL, 0);
	assert_false(bc_invite_expired(&inv, 0));
	assert_false(bc_invite_expired(&inv, UINT64_MAX));
	inv.expires = 1000;
	assert_false(bc_invite_expired(&inv, 0));
	assert_false(bc_invite_expired(&inv, 999));
	assert_true(bc_invite_expired(&inv, 1000));
	assert_true(bc_invite_expired(&inv, 1001));
	assert_true(bc_invite_expired(NULL, 0));
	bc_invite_wipe(&inv);
}

static void tag_reference(const uint8_t channel[16], const uint8_t secret[32], uint8_t out[32])
{
	uint8_t msg[28 + 16 + 32];

	assert_int_equal(sizeof(BC_INVITE_SECRET_LABEL) - 1, 28);
	memcpy(msg, "backchannel v1 invite secret", 28);
	memcpy(msg + 28, channel, 16);
	memcpy(msg + 44, secret, 32);
	assert_int_equal(crypto_generichash(out, 32, msg, sizeof(msg), NULL, 0), 0);
	sodium_memzero(msg, sizeof(msg));
}

static void test_secret_tag(void **state)
{
	bc_invite inv;
	uint8_t t1[32], t2[32], ref[32];
	(void)state;

	make_invite(&inv, BC_INVITE_PARTY, "EU", 0);
	assert_int_equal(bc_invite_secret_tag(&inv, t1), BC_OK);
	tag_reference(inv.channel, inv.secret, ref);
	assert_memory_equal(t1, ref, 32);
	assert_int_equal(bc_invite_secret_tag(&inv, t2), BC_OK);
	assert_memory_equal(t1, t2, 32);

	/* fixed input: all-zero channel and secret against the reference */
	memset(inv.channel, 0, 16);
	memset(inv.secret, 0, 32);
	assert_int_equal(bc_invite_secret_tag(&inv, t1), BC_OK);
	tag_reference(inv.channel, inv.secret, ref);
	assert_memory_equal(t1, ref, 32);

	/* per channel */
	inv.channel[15] = 1;
	assert_int_equal(bc_invite_secret_tag(&inv, t2), BC_OK);
	assert_memory_not_equal(t1, t2, 32);
	/* per secret */
	inv.channel[15] = 0;
	inv.secret[0] = 1;
	assert_int_equal(bc_invite_secret_tag(&inv, t2), BC_OK);
	assert_memory_not_equal(t1, t2, 32);
	/* other fields do not matter */
	inv.secret[0] = 0;
	inv.expires = 42;
	inv.mailbox[0] ^= 1;
	assert_int_equal(bc_invite_secret_tag(&inv, t2), BC_OK);
	assert_memory_equal(t1, t2, 32);

	assert_int_equal(bc_invite_secret_tag(NULL, t2), BC_ERR_INVALID);
	bc_invite_wipe(&inv);
}

static void test_wipe(void **state)
{
	bc_invite inv;
	(void)state;

	make_invite(&inv, BC_INVITE_PARTY, "US", 5);
	assert_false(all_zero(inv.capability, 32));
	bc_invite_wipe(&inv);
	assert_true(all_zero(&inv, sizeof(inv)));
	bc_invite_wipe(NULL);
	bc_invite_text_free(NULL);
}

static void test_alloc_failures(void **state)
{
	bc_invite inv, back;
	char *s = NULL;
	int err = BC_ERR_NOMEM;
	unsigned long k;
	(void)state;

	make_invite(&inv, BC_INVITE_PARTY, "US", 0);
	for (k = 1; k < 64 && err != BC_OK; k++) {
		s = NULL;
		bc_alloc_fail_at(k);
		err = bc_invite_export(&inv, &s);
		bc_alloc_fail_at(0);
		if (err != BC_OK) {
			assert_int_equal(err, BC_ERR_NOMEM);
			assert_null(s);
		}
	}
	assert_int_equal(err, BC_OK);
	err = BC_ERR_NOMEM;
	for (k = 1; k < 64 && err != BC_OK; k++) {
		memset(&back, 0x44, sizeof(back));
		bc_alloc_fail_at(k);
		err = bc_invite_import(&back, s);
		bc_alloc_fail_at(0);
		if (err != BC_OK) {
			assert_int_equal(err, BC_ERR_NOMEM);
			assert_true(all_zero(&back, sizeof(back)));
		}
	}
	assert_int_equal(err, BC_OK);
	assert_true(k > 2);   /* at least one failure was injected */
	assert_same(&inv, &back);
	bc_invite_text_free(s);
	bc_invite_wipe(&inv);
	bc_invite_wipe(&back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_binary),
		cmocka_unit_test(test_roundtrip_ipv6_relay),
		cmocka_unit_test(test_roundtrip_text),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_spec_sanity),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_relay_bounds),
		cmocka_unit_test(test_identity_bounds),
		cmocka_unit_test(test_role_and_side),
		cmocka_unit_test(test_title_bounds),
		cmocka_unit_test(test_rules_bounds),
		cmocka_unit_test(test_encode_refuses),
		cmocka_unit_test(test_new),
		cmocka_unit_test(test_typo),
		cmocka_unit_test(test_other_kinds),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_secret_tag),
		cmocka_unit_test(test_wipe),
		cmocka_unit_test(test_alloc_failures),
	};
	int rc;

	if (sodium_init() < 0)
		return 1;
	if (bc_identity_generate(&inviter) != BC_OK)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	bc_identity_wipe(&inviter);
	return rc;
}
