/*
 * test_codec.c - unit tests for the canonical binary codec (lib/codec.c).
 *
 * What is pinned down here: the exact big-endian byte layout of every
 * field type; round trips at the boundary values; that readers never
 * accept a non-canonical encoding (bool other than 0/1, trailing bytes,
 * invalid UTF-8, lengths and counts over their caps); that a message
 * truncated at any offset is rejected without an out-of-bounds read (the
 * truncated copies live in exact-size heap blocks, so ASan and valgrind
 * see any overread); the sticky-error discipline of reader and writer;
 * the writer's caps (fixed buffer, growable max, BC_CODEC_MAX); and that
 * every allocation failure inside the writer is reported as BC_ERR_NOMEM
 * without a leak. bc_utf8_valid is checked exhaustively for every string
 * of up to three bytes against an independent table-driven validator
 * written from the Unicode standard's table of well-formed sequences.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>

#include "codec.h"
#include "internal.h"

/* ---- helpers ------------------------------------------------------------ */

/* Finish a growable writer, expecting success; returns the buffer. */
static uint8_t *finish_ok(bc_wr *w, size_t *len)
{
	uint8_t *out = NULL;
	assert_int_equal(bc_wr_finish(w, &out, len), BC_OK);
	assert_non_null(out);
	return out;
}

/* An exact-size heap copy, so that reading one byte past it is caught. */
static uint8_t *exact_copy(const uint8_t *p, size_t n)
{
	uint8_t *q = bc_malloc(n);
	assert_non_null(q);
	if (n)
		memcpy(q, p, n);
	return q;
}

/* A reader over "u32 len, s[0..n)" for string tests. */
static uint8_t *lenpfx(const void *s, size_t n, size_t *outlen)
{
	uint8_t *b = bc_malloc(4 + n);
	assert_non_null(b);
	bc_store32(b, (uint32_t)n);
	if (n)
		memcpy(b + 4, s, n);
	*outlen = 4 + n;
	return b;
}

/* ---- layout and round trips --------------------------------------------- */

static void test_layout_big_endian(void **state)
{
	static const uint8_t want[] = {
		0x00, 0xff,                                     /* u8 */
		0x00, 0x00, 0xff, 0xff, 0x01, 0x02,             /* u16 */
		0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, /* u32 */
		0x01, 0x02, 0x03, 0x04,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* u64 */
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
		0x00, 0x01,                                     /* bool */
		0x00, 0x00, 0x00, 0x03, 'a', 'b', 'c',          /* bytes */
		0x00, 0x00, 0x00, 0x00,                         /* bytes "" */
		0x00, 0x00, 0x00, 0x03, 0xe2, 0x82, 0xac,       /* str "€" */
		0xde, 0xad,                                     /* raw */
	};
	bc_wr w;
	uint8_t *out;
	size_t len;
	(void)state;

	bc_wr_init(&w, 1024);
	assert_int_equal(bc_wr_u8(&w, 0), BC_OK);
	assert_int_equal(bc_wr_u8(&w, UINT8_MAX), BC_OK);
	assert_int_equal(bc_wr_u16(&w, 0), BC_OK);
	assert_int_equal(bc_wr_u16(&w, UINT16_MAX), BC_OK);
	assert_int_equal(bc_wr_u16(&w, 0x0102), BC_OK);
	assert_int_equal(bc_wr_u32(&w, 0), BC_OK);
	assert_int_equal(bc_wr_u32(&w, UINT32_MAX), BC_OK);
	assert_int_equal(bc_wr_u32(&w, 0x01020304), BC_OK);
	assert_int_equal(bc_wr_u64(&w, 0), BC_OK);
	assert_int_equal(bc_wr_u64(&w, UINT64_MAX), BC_OK);
	assert_int_equal(bc_wr_u64(&w, 0x0102030405060708ull), BC_OK);
	assert_int_equal(bc_wr_bool(&w, false), BC_OK);
	assert_int_equal(bc_wr_bool(&w, true), BC_OK);
	assert_int_equal(bc_wr_bytes(&w, "abc", 3), BC_OK);
	assert_int_equal(bc_wr_bytes(&w, NULL, 0), BC_OK);
	assert_int_equal(bc_wr_str(&w, "\xe2\x82\xac"), BC_OK);
	assert_int_equal(bc_wr_raw(&w, "\xde\xad", 2), BC_OK);
	assert_int_equal(bc_wr_err(&w), BC_OK);
	out = finish_ok(&w, &len);
	assert_int_equal(len, sizeof(want));
	for (size_t i = 0; i < len; i++) {
		if (out[i] != want[i])
			print_error("byte %zu: %02x, want %02x\n", i, out[i],
				    want[i]);
		assert_int_equal(out[i], want[i]);
	}
	bc_free(out);
}

static void test_roundtrip_ints(void **state)
{
	static const uint64_t v64[] = {0, 1, 0x7f, 0x80, 0xff, 0x100,
				       0x7fff, 0x8000, 0xffff, 0x10000,
				       0x7fffffff, 0x80000000u, 0xffffffffu,
				       0x100000000ull, 0x7fffffffffffffffull,
				       0x8000000000000000ull, UINT64_MAX - 1,
				       UINT64_MAX};
	bc_wr w;
	bc_rd r;
	uint8_t *out, a;
	uint16_t b;
	uint32_t c;
	uint64_t d;
	size_t len;
	(void)state;

	bc_wr_init(&w, 4096);
	for (size_t i = 0; i < BC_ARRAY_LEN(v64); i++) {
		assert_int_equal(bc_wr_u8(&w, (uint8_t)v64[i]), BC_OK);
		assert_int_equal(bc_wr_u16(&w, (uint16_t)v64[i]), BC_OK);
		assert_int_equal(bc_wr_u32(&w, (uint32_t)v64[i]), BC_OK);
		assert_int_equal(bc_wr_u64(&w, v64[i]), BC_OK);
	}
	out = finish_ok(&w, &len);
	assert_int_equal(len, BC_ARRAY_LEN(v64) * 15);
	bc_rd_init(&r, out, len);
	for (size_t i = 0; i < BC_ARRAY_LEN(v64); i++) {
		assert_int_equal(bc_rd_u8(&r, &a), BC_OK);
		assert_int_equal(a, (uint8_t)v64[i]);
		assert_int_equal(bc_rd_u16(&r, &b), BC_OK);
		assert_int_equal(b, (uint16_t)v64[i]);
		assert_int_equal(bc_rd_u32(&r, &c), BC_OK);
		assert_int_equal(c, (uint32_t)v64[i]);
		assert_int_equal(bc_rd_u64(&r, &d), BC_OK);
		assert_true(d == v64[i]);
	}
	assert_int_equal(bc_rd_left(&r), 0);
	assert_int_equal(bc_rd_end(&r), BC_OK);
	bc_free(out);
}

static void test_bool(void **state)
{
	uint8_t b[1];
	bc_rd r;
	bool v;
	(void)state;

	for (int x = 0; x < 256; x++) {
		b[0] = (uint8_t)x;
		v = true;
		bc_rd_init(&r, b, 1);
		if (x <= 1) {
			assert_int_equal(bc_rd_bool(&r, &v), BC_OK);
			assert_int_equal(v, x == 1);
			assert_int_equal(bc_rd_end(&r), BC_OK);
		} else {
			assert_int_equal(bc_rd_bool(&r, &v), BC_ERR_MALFORMED);
			assert_false(v);
			assert_int_equal(bc_rd_end(&r), BC_ERR_MALFORMED);
		}
	}
}

static void test_bytes(void **state)
{
	static const uint8_t msg[] = {0, 0, 0, 3, 'x', 'y', 'z',
				      0, 0, 0, 0};
	const uint8_t *p;
	size_t n;
	bc_rd r;
	(void)state;

	bc_rd_init(&r, msg, sizeof(msg));
	assert_int_equal(bc_rd_bytes(&r, 3, &p, &n), BC_OK); /* cap exact */
	assert_int_equal(n, 3);
	assert_ptr_equal(p, msg + 4); /* by reference */
	assert_int_equal(bc_rd_bytes(&r, 0, &p, &n), BC_OK);
	assert_int_equal(n, 0);
	assert_int_equal(bc_rd_end(&r), BC_OK);

	/* Over the cap: TOOBIG, and the outputs are cleared. */
	bc_rd_init(&r, msg, sizeof(msg));
	assert_int_equal(bc_rd_bytes(&r, 2, &p, &n), BC_ERR_TOOBIG);
	assert_null(p);
	assert_int_equal(n, 0);
	assert_int_equal(bc_rd_end(&r), BC_ERR_TOOBIG);
}

static void test_bytes_huge_length(void **state)
{
	static const uint8_t ffff[] = {0xff, 0xff, 0xff, 0xff, 1, 2};
	static const uint8_t short_[] = {0, 0, 0, 9, 1, 2};
	const uint8_t *p;
	size_t n;
	bc_rd r;
	uint8_t *q;
	(void)state;

	/* A length over the cap is TOOBIG even though the data is absent. */
	bc_rd_init(&r, ffff, sizeof(ffff));
	assert_int_equal(bc_rd_bytes(&r, 1000, &p, &n), BC_ERR_TOOBIG);
	/* A length within the cap but past the end is MALFORMED. */
	bc_rd_init(&r, ffff, sizeof(ffff));
	assert_int_equal(bc_rd_bytes(&r, SIZE_MAX, &p, &n), BC_ERR_MALFORMED);
	bc_rd_init(&r, short_, sizeof(short_));
	assert_int_equal(bc_rd_bytes(&r, 100, &p, &n), BC_ERR_MALFORMED);
	assert_null(p);
	assert_int_equal(n, 0);

	/* Writer: a length that does not fit in u32 is refused before
	 * anything is read from p. */
	bc_wr w;
	bc_wr_init(&w, 64);
	assert_int_equal(bc_wr_bytes(&w, "x", (size_t)UINT32_MAX + 1),
			 BC_ERR_TOOBIG);
	assert_int_equal(bc_wr_finish(&w, &q, &n), BC_ERR_TOOBIG);
	assert_null(q);
}

static void test_count(void **state)
{
	static const uint8_t msg[] = {0x00, 0x05, 0xff, 0xff, 0x00, 0x00};
	uint16_t c = 77;
	bc_rd r;
	(void)state;

	bc_rd_init(&r, msg, sizeof(msg));
	assert_int_equal(bc_rd_count(&r, 5, &c), BC_OK);
	assert_int_equal(c, 5);
	assert_int_equal(bc_rd_count(&r, UINT16_MAX, &c), BC_OK);
	assert_int_equal(c, UINT16_MAX);
	assert_int_equal(bc_rd_count(&r, 0, &c), BC_OK);
	assert_int_equal(c, 0);
	assert_int_equal(bc_rd_end(&r), BC_OK);

	bc_rd_init(&r, msg, sizeof(msg));
	c = 77;
	assert_int_equal(bc_rd_count(&r, 4, &c), BC_ERR_TOOBIG);
	assert_int_equal(c, 0);
	assert_int_equal(bc_rd_end(&r), BC_ERR_TOOBIG);

	bc_rd_init(&r, msg + 2, 2);
	assert_int_equal(bc_rd_count(&r, UINT16_MAX - 1, &c), BC_ERR_TOOBIG);
}

static void test_end_trailing(void **state)
{
	static const uint8_t msg[] = {1, 2, 3};
	uint8_t a;
	uint16_t b;
	bc_rd r;
	(void)state;

	bc_rd_init(&r, msg, 0);
	assert_int_equal(bc_rd_end(&r), BC_OK); /* the empty message */

	bc_rd_init(&r, msg, sizeof(msg));
	assert_int_equal(bc_rd_u8(&r, &a), BC_OK);
	assert_int_equal(bc_rd_left(&r), 2);
	assert_int_equal(bc_rd_end(&r), BC_ERR_MALFORMED);
	/* bc_rd_end makes the error sticky */
	assert_int_equal(bc_rd_u16(&r, &b), BC_ERR_MALFORMED);
	assert_int_equal(b, 0);

	bc_rd_init(&r, msg, sizeof(msg));
	assert_int_equal(bc_rd_u8(&r, &a), BC_OK);
	assert_int_equal(bc_rd_u16(&r, &b), BC_OK);
	assert_int_equal(bc_rd_end(&r), BC_OK);
}

static void test_raw_ref(void **state)
{
	static const uint8_t msg[] = {9, 8, 7, 6, 5};
	uint8_t buf[5] = {0};
	const uint8_t *p;
	bc_rd r;
	(void)state;

	bc_rd_init(&r, msg, sizeof(msg));
	assert_int_equal(bc_rd_raw(&r, buf, 0), BC_OK);
	assert_int_equal(bc_rd_raw(&r, buf, 2), BC_OK);
	assert_memory_equal(buf, msg, 2);
	assert_int_equal(bc_rd_ref(&r, 3, &p), BC_OK);
	assert_ptr_equal(p, msg + 2);
	assert_int_equal(bc_rd_ref(&r, 0, &p), BC_OK);
	assert_int_equal(bc_rd_ref(&r, 1, &p), BC_ERR_MALFORMED);
	assert_null(p);
	/* n larger than everything: no wrap-around in the bounds check */
	bc_rd_init(&r, msg, sizeof(msg));
	assert_int_equal(bc_rd_u8(&r, buf), BC_OK);
	assert_int_equal(bc_rd_ref(&r, SIZE_MAX, &p), BC_ERR_MALFORMED);
	bc_rd_init(&r, msg, sizeof(msg));
	assert_int_equal(bc_rd_raw(&r, buf, SIZE_MAX - 1), BC_ERR_MALFORMED);
}

static void test_rd_null_input(void **state)
{
	const uint8_t *p = (const uint8_t *)"x";
	uint32_t v;
	bc_rd r;
	(void)state;

	bc_rd_init(&r, NULL, 16); /* NULL means empty, whatever len says */
	assert_int_equal(bc_rd_left(&r), 0);
	assert_int_equal(bc_rd_u32(&r, &v), BC_ERR_MALFORMED);
	bc_rd_init(&r, NULL, 0);
	assert_int_equal(bc_rd_end(&r), BC_OK);
	/* A zero-length read of an empty (NULL) input succeeds. As for the
	 * writer's bc_wr_reserve, a success is never reported as a NULL
	 * pointer - and computing it as NULL + 0 is undefined behaviour,
	 * which clang's UBSan traps. */
	assert_int_equal(bc_rd_ref(&r, 0, &p), BC_OK);
	assert_non_null(p);
	assert_int_equal(bc_rd_end(&r), BC_OK);
}

/* ---- strings and UTF-8 --------------------------------------------------- */

struct u8case {
	const char *s;
	size_t n;
};
#define U8(lit) {lit, sizeof(lit) - 1}

static const struct u8case utf8_good[] = {
	U8(""),
	U8("hello"),
	U8("h\xc3\xa9llo"),           /* é, 2 bytes */
	U8("\xc2\x80"),               /* U+0080 */
	U8("\xdf\xbf"),               /* U+07FF */
	U8("\xe0\xa0\x80"),           /* U+0800 */
	U8("\xe2\x82\xac"),           /* € */
	U8("\xed\x9f\xbf"),           /* U+D7FF, just below the surrogates */
	U8("\xee\x80\x80"),           /* U+E000, just above */
	U8("\xef\xbf\xbf"),           /* U+FFFF */
	U8("\xf0\x90\x80\x80"),       /* U+10000 */
	U8("\xf0\x9d\x84\x9e"),       /* 𝄞 */
	U8("\xf4\x8f\xbf\xbf"),       /* U+10FFFF */
	U8("\x7f"),
	U8("Caf\xc3\xa9 \xe6\x9d\xb1\xe4\xba\xac \xf0\x9f\x98\x80 !"),
};

static const struct u8case utf8_bad[] = {
	U8("\xc0\x80"),         /* overlong NUL */
	U8("\xc1\xbf"),         /* overlong U+007F */
	U8("\xe0\x80\x80"),     /* overlong */
	U8("\xe0\x9f\xbf"),     /* overlong U+07FF */
	U8("\xf0\x80\x80\x80"), /* overlong */
	U8("\xf0\x8f\xbf\xbf"), /* overlong U+FFFF */
	U8("\xed\xa0\x80"),     /* U+D800 surrogate */
	U8("\xed\xbf\xbf"),     /* U+DFFF surrogate */
	U8("\xed\xa0\xbd\xed\xb8\x80"), /* CESU-8 surrogate pair */
	U8("\xf4\x90\x80\x80"), /* U+110000 */
	U8("\xf5\x80\x80\x80"),
	U8("\xf7\xbf\xbf\xbf"),
	U8("\xf8\x88\x80\x80\x80"), /* 5-byte form */
	U8("\xfc\x84\x80\x80\x80\x80"),
	U8("\xfe"),
	U8("\xff"),
	U8("\x80"),                 /* lone continuation bytes */
	U8("\xbf"),
	U8("a\x80"),
	U8("\xc3\xa9\xa9"),
	U8("\xc2"),                 /* truncated sequences */
	U8("\xe2\x82"),
	U8("\xf0\x9d\x84"),
	U8("abc\xe2"),
	U8("\xc2\x41"),             /* bad continuation */
	U8("\xe2\x28\xa1"),
	U8("\xe2\x82\x28"),
	U8("\xf0\x9d\x28\x9e"),
	U8("a\0b"),                 /* embedded NUL */
	U8("\0"),
};

static void test_utf8_table(void **state)
{
	uint8_t *c;
	(void)state;

	/* exact-size copies: an overread is caught by ASan / valgrind */
	for (size_t i = 0; i < BC_ARRAY_LEN(utf8_good); i++) {
		c = exact_copy((const uint8_t *)utf8_good[i].s, utf8_good[i].n);
		assert_true(bc_utf8_valid(c, utf8_good[i].n));
		bc_free(c);
	}
	for (size_t i = 0; i < BC_ARRAY_LEN(utf8_bad); i++) {
		c = exact_copy((const uint8_t *)utf8_bad[i].s, utf8_bad[i].n);
		if (bc_utf8_valid(c, utf8_bad[i].n))
			print_error("accepted bad UTF-8 case %zu\n", i);
		assert_false(bc_utf8_valid(c, utf8_bad[i].n));
		bc_free(c);
	}
	/* the length is respected even when the bytes after it would
	 * complete the sequence */
	assert_false(bc_utf8_valid((const uint8_t *)"\xc3\xa9", 1));
	assert_false(bc_utf8_valid((const uint8_t *)"\xe2\x82\xac", 2));
	assert_false(bc_utf8_valid((const uint8_t *)"\xf0\x9d\x84\x9e", 3));
	assert_true(bc_utf8_valid((const uint8_t *)"ab\xc3", 2));
}

/* Length of the well-formed sequence at s[0..n) per the Unicode
 * standard's Table 3-7, or 0. NUL is refused as the codec requires. */
static size_t ref_seq(const uint8_t *s, size_t n)
{
	uint8_t c = s[0], lo = 0x80, hi = 0xbf;
	size_t need;

	if (c == 0)
		return 0;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		need = 1;
	else if (c >= 0xe0 && c <= 0xef)
		need = 2;
	else if (c >= 0xf0 && c <= 0xf4)
		need = 3;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < need + 1)
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t k = 2; k <= need; k++)
		if (s[k] < 0x80 || s[k] > 0xbf)
			return 0;
	return need + 1;
}

static bool ref_valid(const uint8_t *s, size_t n)
{
	size_t i = 0, k;
	while (i < n) {
		k = ref_seq(s + i, n - i);
		if (k == 0)
			return false;
		i += k;
	}
	return true;
}

static void test_utf8_exhaustive(void **state)
{
	uint8_t s[4];
	static const uint8_t probe[] = {0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90,
					0x9f, 0xa0, 0xbf, 0xc0, 0xc2, 0xe0,
					0xf0, 0xff};
	(void)state;

	/* Every string of 1, 2 and 3 bytes. */
	for (unsigned a = 0; a < 256; a++) {
		s[0] = (uint8_t)a;
		assert_int_equal(bc_utf8_valid(s, 1), ref_valid(s, 1));
		for (unsigned b = 0; b < 256; b++) {
			s[1] = (uint8_t)b;
			/* n = 1 with a byte after it that might complete it */
			assert_int_equal(bc_utf8_valid(s, 1), ref_valid(s, 1));
			assert_int_equal(bc_utf8_valid(s, 2), ref_valid(s, 2));
			if (a < 0xc0 && a != 0x80 && a != 0x41)
				continue; /* leads that only start 1-byte
					     sequences (or are invalid) are
					     already covered */
			for (unsigned c = 0; c < 256; c++) {
				s[2] = (uint8_t)c;
				assert_int_equal(bc_utf8_valid(s, 2),
						 ref_valid(s, 2));
				if (bc_utf8_valid(s, 3) != ref_valid(s, 3))
					print_error("3-byte %02x %02x %02x\n", a,
						    b, c);
				assert_int_equal(bc_utf8_valid(s, 3),
						 ref_valid(s, 3));
			}
		}
	}
	/* 4-byte strings: every lead from 0xe0 up, every second byte, and
	 * representative third and fourth bytes. */
	for (unsigned a = 0xe0; a < 256; a++)
		for (unsigned b = 0; b < 256; b++)
			for (size_t i = 0; i < sizeof(probe); i++)
				for (size_t j = 0; j < sizeof(probe); j++) {
					s[0] = (uint8_t)a;
					s[1] = (uint8_t)b;
					s[2] = probe[i];
					s[3] = probe[j];
					assert_int_equal(bc_utf8_valid(s, 3),
							 ref_valid(s, 3));
					assert_int_equal(bc_utf8_valid(s, 4),
							 ref_valid(s, 4));
				}
}

static void test_str_writer_reader(void **state)
{
	bc_wr w;
	bc_rd r;
	uint8_t *out;
	size_t len;
	char *s;
	(void)state;

	/* every good string round-trips (they have no NUL) */
	for (size_t i = 0; i < BC_ARRAY_LEN(utf8_good); i++) {
		bc_wr_init(&w, 256);
		assert_int_equal(bc_wr_str(&w, utf8_good[i].s), BC_OK);
		out = finish_ok(&w, &len);
		assert_int_equal(len, 4 + utf8_good[i].n);
		assert_int_equal(bc_load32(out), utf8_good[i].n);
		bc_rd_init(&r, out, len);
		assert_int_equal(bc_rd_str(&r, 256, &s), BC_OK);
		assert_int_equal(bc_rd_end(&r), BC_OK);
		assert_string_equal(s, utf8_good[i].s);
		bc_free(s);
		bc_free(out);
	}
	/* every bad string is refused by the reader, and by the writer when
	 * it can be expressed as a C string */
	for (size_t i = 0; i < BC_ARRAY_LEN(utf8_bad); i++) {
		uint8_t *msg = lenpfx(utf8_bad[i].s, utf8_bad[i].n, &len);
		s = (char *)(uintptr_t)1;
		bc_rd_init(&r, msg, len);
		assert_int_equal(bc_rd_str(&r, 256, &s), BC_ERR_MALFORMED);
		assert_null(s);
		assert_int_equal(bc_rd_end(&r), BC_ERR_MALFORMED);
		bc_free(msg);
		if (memchr(utf8_bad[i].s, 0, utf8_bad[i].n) == NULL) {
			bc_wr_init(&w, 256);
			assert_int_equal(bc_wr_str(&w, utf8_bad[i].s),
					 BC_ERR_INVALID);
			assert_int_equal(bc_wr_finish(&w, &out, &len),
					 BC_ERR_INVALID);
			assert_null(out);
			assert_int_equal(len, 0);
		}
	}
}

static void test_str_cap(void **state)
{
	size_t len;
	uint8_t *msg = lenpfx("abcdef", 6, &len);
	char *s;
	bc_rd r;
	(void)state;

	bc_rd_init(&r, msg, len);
	assert_int_equal(bc_rd_str(&r, 5, &s), BC_ERR_TOOBIG);
	assert_null(s);
	bc_rd_init(&r, msg, len);
	assert_int_equal(bc_rd_str(&r, 6, &s), BC_OK);
	assert_string_equal(s, "abcdef");
	bc_free(s);
	bc_free(msg);

	/* the empty string is a real, freeable, empty C string */
	msg = lenpfx("", 0, &len);
	bc_rd_init(&r, msg, len);
	assert_int_equal(bc_rd_str(&r, 0, &s), BC_OK);
	assert_non_null(s);
	assert_string_equal(s, "");
	bc_free(s);
	bc_free(msg);
}

static void test_str_nomem(void **state)
{
	size_t len;
	uint8_t *msg = lenpfx("abc", 3, &len);
	char *s;
	bc_rd r;
	(void)state;

	bc_rd_init(&r, msg, len);
	bc_alloc_fail_at(1);
	assert_int_equal(bc_rd_str(&r, 16, &s), BC_ERR_NOMEM);
	assert_null(s);
	assert_int_equal(bc_rd_end(&r), BC_ERR_NOMEM);
	bc_free(msg);
}

/* ---- a sample message: truncation at every offset ------------------------ */

static uint8_t *sample_message(size_t *len)
{
	bc_wr w;
	bc_wr_init(&w, 4096);
	(void)bc_wr_u8(&w, 7);
	(void)bc_wr_u16(&w, 0xbeef);
	(void)bc_wr_u32(&w, 0xdeadbeef);
	(void)bc_wr_u64(&w, 0x0123456789abcdefull);
	(void)bc_wr_bool(&w, true);
	(void)bc_wr_bytes(&w, "\x00\x01\x02", 3);
	(void)bc_wr_str(&w, "h\xc3\xa9llo");
	(void)bc_wr_u16(&w, 3); /* list count */
	for (uint16_t i = 0; i < 3; i++) {
		(void)bc_wr_u16(&w, i);
		(void)bc_wr_str(&w, i == 1 ? "" : "item");
	}
	(void)bc_wr_raw(&w, "\xca\xfe\xba\xbe", 4);
	return finish_ok(&w, len);
}

/* Decode the sample schema; returns bc_rd_end's verdict. Every call is
 * made even after a failure, which also exercises the sticky error. */
static int parse_sample(const uint8_t *p, size_t n, bool check_values)
{
	bc_rd r;
	uint8_t a, raw[4];
	uint16_t b, cnt;
	uint32_t c;
	uint64_t d;
	bool e;
	const uint8_t *bp;
	size_t bn;
	char *s1 = NULL;
	int first = BC_OK, rc;

	bc_rd_init(&r, p, n);
#define STEP(call)                                                   \
	do {                                                         \
		rc = (call);                                         \
		if (first == BC_OK)                                  \
			first = rc;                                  \
		else                                                 \
			assert_int_equal(rc, first); /* sticky */    \
	} while (0)
	STEP(bc_rd_u8(&r, &a));
	STEP(bc_rd_u16(&r, &b));
	STEP(bc_rd_u32(&r, &c));
	STEP(bc_rd_u64(&r, &d));
	STEP(bc_rd_bool(&r, &e));
	STEP(bc_rd_bytes(&r, 16, &bp, &bn));
	STEP(bc_rd_str(&r, 16, &s1));
	if (check_values && first == BC_OK) {
		assert_int_equal(a, 7);
		assert_int_equal(b, 0xbeef);
		assert_int_equal(c, 0xdeadbeef);
		assert_true(d == 0x0123456789abcdefull);
		assert_true(e);
		assert_int_equal(bn, 3);
		assert_memory_equal(bp, "\x00\x01\x02", 3);
		assert_string_equal(s1, "h\xc3\xa9llo");
	}
	bc_free(s1);
	STEP(bc_rd_count(&r, 8, &cnt));
	for (uint16_t i = 0; i < cnt; i++) {
		char *s2 = NULL;
		STEP(bc_rd_u16(&r, &b));
		STEP(bc_rd_str(&r, 16, &s2));
		if (first != BC_OK)
			assert_null(s2);
		bc_free(s2);
	}
	STEP(bc_rd_raw(&r, raw, 4));
#undef STEP
	rc = bc_rd_end(&r);
	if (first != BC_OK)
		assert_int_equal(rc, first);
	return rc;
}

static void test_truncation_every_offset(void **state)
{
	size_t len;
	uint8_t *msg = sample_message(&len);
	(void)state;

	assert_int_equal(parse_sample(msg, len, true), BC_OK);
	for (size_t k = 0; k < len; k++) {
		uint8_t *cut = exact_copy(msg, k);
		int rc = parse_sample(cut, k, false);
		if (rc != BC_ERR_MALFORMED)
			print_error("truncated at %zu of %zu: %d\n", k, len, rc);
		assert_int_equal(rc, BC_ERR_MALFORMED);
		bc_free(cut);
	}
	/* and one byte too many */
	{
		uint8_t *longer = bc_malloc(len + 1);
		assert_non_null(longer);
		memcpy(longer, msg, len);
		longer[len] = 0;
		assert_int_equal(parse_sample(longer, len + 1, false),
				 BC_ERR_MALFORMED);
		bc_free(longer);
	}
	bc_free(msg);
}

static void test_list_count_cap(void **state)
{
	size_t len;
	uint8_t *msg = sample_message(&len);
	/* offset of the list count: 1+2+4+8+1 + (4+3) + (4+6) = 33 */
	(void)state;

	assert_int_equal(bc_load16(msg + 33), 3);
	bc_store16(msg + 33, 9); /* over the cap of 8 used by the parser */
	assert_int_equal(parse_sample(msg, len, false), BC_ERR_TOOBIG);
	bc_store16(msg + 33, 8); /* within the cap, but elements missing */
	assert_int_equal(parse_sample(msg, len, false), BC_ERR_MALFORMED);
	bc_free(msg);
}

/* ---- sticky errors -------------------------------------------------------- */

static void test_rd_sticky(void **state)
{
	static const uint8_t msg[] = {2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	bc_rd r;
	bool e;
	uint8_t a = 9, raw[2];
	uint16_t b = 9, cnt = 9;
	uint64_t d = 9;
	const uint8_t *p = msg;
	size_t n = 9;
	char *s = (char *)(uintptr_t)1;
	(void)state;

	bc_rd_init(&r, msg, sizeof(msg));
	assert_int_equal(bc_rd_bool(&r, &e), BC_ERR_MALFORMED);
	/* later calls fail with the first error, read nothing, and clear
	 * their outputs */
	assert_int_equal(bc_rd_u8(&r, &a), BC_ERR_MALFORMED);
	assert_int_equal(a, 0);
	assert_int_equal(bc_rd_u16(&r, &b), BC_ERR_MALFORMED);
	assert_int_equal(b, 0);
	assert_int_equal(bc_rd_u64(&r, &d), BC_ERR_MALFORMED);
	assert_true(d == 0);
	assert_int_equal(bc_rd_bytes(&r, 100, &p, &n), BC_ERR_MALFORMED);
	assert_null(p);
	assert_int_equal(n, 0);
	assert_int_equal(bc_rd_str(&r, 100, &s), BC_ERR_MALFORMED);
	assert_null(s);
	assert_int_equal(bc_rd_count(&r, 100, &cnt), BC_ERR_MALFORMED);
	assert_int_equal(cnt, 0);
	assert_int_equal(bc_rd_raw(&r, raw, 2), BC_ERR_MALFORMED);
	assert_int_equal(bc_rd_ref(&r, 0, &p), BC_ERR_MALFORMED);
	assert_int_equal(r.pos, 1); /* nothing consumed after the failure */
	assert_int_equal(bc_rd_end(&r), BC_ERR_MALFORMED);

	/* a different later failure does not overwrite the first */
	bc_rd_init(&r, msg + 1, 2);
	assert_int_equal(bc_rd_count(&r, 0, &cnt), BC_ERR_TOOBIG);
	assert_int_equal(bc_rd_u64(&r, &d), BC_ERR_TOOBIG);
	assert_int_equal(bc_rd_end(&r), BC_ERR_TOOBIG);
}

static void test_wr_sticky(void **state)
{
	bc_wr w;
	uint8_t *out = (uint8_t *)(uintptr_t)1;
	size_t len = 9, before;
	(void)state;

	bc_wr_init(&w, 1024);
	assert_int_equal(bc_wr_u32(&w, 1), BC_OK);
	assert_int_equal(bc_wr_str(&w, "\xc0\x80"), BC_ERR_INVALID);
	before = w.len;
	assert_int_equal(bc_wr_u8(&w, 1), BC_ERR_INVALID);
	assert_int_equal(bc_wr_u16(&w, 1), BC_ERR_INVALID);
	assert_int_equal(bc_wr_u32(&w, 1), BC_ERR_INVALID);
	assert_int_equal(bc_wr_u64(&w, 1), BC_ERR_INVALID);
	assert_int_equal(bc_wr_bool(&w, true), BC_ERR_INVALID);
	assert_int_equal(bc_wr_raw(&w, "ab", 2), BC_ERR_INVALID);
	assert_int_equal(bc_wr_bytes(&w, "ab", 2), BC_ERR_INVALID);
	assert_int_equal(bc_wr_str(&w, "ok"), BC_ERR_INVALID);
	assert_int_equal(bc_wr_bytes(&w, "x", (size_t)UINT32_MAX + 1),
			 BC_ERR_INVALID);
	assert_null(bc_wr_reserve(&w, 1));
	assert_int_equal(bc_wr_patch32(&w, 0, 5), BC_ERR_INVALID);
	assert_int_equal(w.len, before);
	assert_int_equal(bc_wr_err(&w), BC_ERR_INVALID);
	/* finish reports the first error, frees, and clears the outputs
	 * (a leak here is reported by valgrind / ASan) */
	assert_int_equal(bc_wr_finish(&w, &out, &len), BC_ERR_INVALID);
	assert_null(out);
	assert_int_equal(len, 0);
	assert_null(w.buf);
	bc_wr_free(&w); /* safe after finish */
}

/* ---- writer caps ---------------------------------------------------------- */

static void test_wr_fixed_overflow(void **state)
{
	uint8_t area[32];
	uint8_t *buf = area + 8; /* 8 guard bytes on each side of 16 */
	uint8_t *out;
	size_t len;
	bc_wr w;
	(void)state;

	memset(area, 0xee, sizeof(area));
	bc_wr_init_fixed(&w, buf, 16);
	assert_int_equal(bc_wr_u64(&w, 0x0102030405060708ull), BC_OK);
	assert_int_equal(bc_wr_u32(&w, 0x090a0b0c), BC_OK);
	assert_int_equal(bc_wr_u16(&w, 0x0d0e), BC_OK);
	assert_int_equal(bc_wr_u8(&w, 0x0f), BC_OK);
	/* 15 bytes written, 1 left: a u16 does not fit and writes nothing */
	assert_int_equal(bc_wr_u16(&w, 0xffff), BC_ERR_TOOBIG);
	assert_int_equal(buf[15], 0xee);
	assert_int_equal(bc_wr_u8(&w, 0x10), BC_ERR_TOOBIG); /* sticky */
	for (size_t i = 0; i < 8; i++) {
		assert_int_equal(area[i], 0xee);
		assert_int_equal(area[24 + i], 0xee);
	}
	for (size_t i = 0; i < 15; i++)
		assert_int_equal(buf[i], i + 1);
	assert_int_equal(bc_wr_finish(&w, &out, &len), BC_ERR_TOOBIG);
	assert_null(out);

	/* exactly full is fine; finish points into the caller's buffer */
	bc_wr_init_fixed(&w, buf, 16);
	assert_int_equal(bc_wr_u64(&w, 1), BC_OK);
	assert_int_equal(bc_wr_u64(&w, 2), BC_OK);
	assert_int_equal(bc_wr_finish(&w, &out, &len), BC_OK);
	assert_ptr_equal(out, buf);
	assert_int_equal(len, 16);
	assert_int_equal(area[24], 0xee);

	/* a huge reservation cannot wrap the bounds check */
	bc_wr_init_fixed(&w, buf, 16);
	assert_int_equal(bc_wr_u8(&w, 1), BC_OK);
	assert_null(bc_wr_reserve(&w, SIZE_MAX));
	assert_int_equal(bc_wr_err(&w), BC_ERR_TOOBIG);
	bc_wr_free(&w); /* does not free the caller's buffer */
}

static void test_wr_fixed_never_allocates(void **state)
{
	uint8_t one[1];
	uint8_t *out = NULL;
	size_t len = 9;
	unsigned long count;
	bc_wr w;
	(void)state;

	count = bc_alloc_count();
	bc_wr_init_fixed(&w, one, 0);
	assert_int_equal(bc_wr_u8(&w, 1), BC_ERR_TOOBIG);
	bc_wr_free(&w);
	bc_wr_init_fixed(&w, one, 0);
	assert_int_equal(bc_wr_finish(&w, &out, &len), BC_OK);
	assert_ptr_equal(out, one);
	assert_int_equal(len, 0);
	/* "A writer over a caller buffer ... never allocates", also when
	 * the caller's buffer is empty (NULL, 0): otherwise bc_wr_finish
	 * hands out heap memory that the caller of a fixed writer does not
	 * know it must free. */
	bc_wr_init_fixed(&w, NULL, 0);
	assert_int_equal(bc_wr_finish(&w, &out, &len), BC_OK);
	assert_int_equal(len, 0);
	assert_int_equal(bc_alloc_count(), count);
	assert_null(out);
}

static void test_wr_growable_max(void **state)
{
	bc_wr w;
	uint8_t *out, big[300];
	size_t len;
	unsigned long count;
	(void)state;

	/* a small max: exact fit, then one more byte fails */
	bc_wr_init(&w, 10);
	assert_int_equal(bc_wr_u64(&w, 1), BC_OK);
	assert_int_equal(bc_wr_u16(&w, 2), BC_OK);
	assert_int_equal(bc_wr_u8(&w, 3), BC_ERR_TOOBIG);
	assert_int_equal(w.len, 10);
	assert_int_equal(bc_wr_finish(&w, &out, &len), BC_ERR_TOOBIG);
	assert_null(out);

	/* a max that is reached while growing */
	memset(big, 0x5a, sizeof(big));
	bc_wr_init(&w, 600);
	assert_int_equal(bc_wr_raw(&w, big, 300), BC_OK);
	assert_int_equal(bc_wr_raw(&w, big, 299), BC_OK);
	assert_int_equal(bc_wr_raw(&w, big, 2), BC_ERR_TOOBIG);
	assert_int_equal(w.len, 599);
	bc_wr_free(&w);

	/* max 0: only the empty message */
	bc_wr_init(&w, 0);
	assert_int_equal(bc_wr_u8(&w, 0), BC_ERR_TOOBIG);
	bc_wr_free(&w);

	/* max is capped at BC_CODEC_MAX; an over-cap request fails before
	 * anything is allocated */
	bc_wr_init(&w, SIZE_MAX);
	assert_true(w.max == BC_CODEC_MAX);
	count = bc_alloc_count();
	assert_null(bc_wr_reserve(&w, BC_CODEC_MAX + 1));
	assert_int_equal(bc_alloc_count(), count);
	assert_int_equal(bc_wr_err(&w), BC_ERR_TOOBIG);
	bc_wr_free(&w);
}

static void test_wr_growth_preserves(void **state)
{
	bc_wr w;
	uint8_t *out;
	size_t len;
	(void)state;

	bc_wr_init(&w, 1 << 20);
	for (uint32_t i = 0; i < 50000; i++)
		assert_int_equal(bc_wr_u16(&w, (uint16_t)i), BC_OK);
	out = finish_ok(&w, &len);
	assert_int_equal(len, 100000);
	for (uint32_t i = 0; i < 50000; i++)
		assert_int_equal(bc_load16(out + 2 * i), (uint16_t)i);
	bc_free(out);
	/* the writer was reset by finish and can be freed again */
	bc_wr_free(&w);
}

static void test_wr_empty(void **state)
{
	bc_wr w;
	uint8_t *out;
	size_t len = 9;
	uint8_t *p;
	(void)state;

	bc_wr_init(&w, 100);
	out = finish_ok(&w, &len);
	assert_int_equal(len, 0);
	bc_free(out);

	/* finish on an empty writer can fail to allocate */
	bc_wr_init(&w, 100);
	bc_alloc_fail_at(1);
	assert_int_equal(bc_wr_finish(&w, &out, &len), BC_ERR_NOMEM);
	assert_null(out);
	bc_wr_free(&w);

	/* reserving (or writing) zero bytes is a success, and a success
	 * is never reported as NULL ("NULL on error") */
	bc_wr_init(&w, 100);
	assert_int_equal(bc_wr_raw(&w, NULL, 0), BC_OK);
	p = bc_wr_reserve(&w, 0);
	assert_int_equal(bc_wr_err(&w), BC_OK);
	assert_non_null(p);
	bc_wr_free(&w);
}

static void test_wr_reserve(void **state)
{
	bc_wr w;
	uint8_t *p, *out;
	size_t len;
	(void)state;

	bc_wr_init(&w, 100);
	assert_int_equal(bc_wr_u8(&w, 0xaa), BC_OK);
	p = bc_wr_reserve(&w, 3);
	assert_non_null(p);
	memcpy(p, "xyz", 3);
	out = finish_ok(&w, &len);
	assert_int_equal(len, 4);
	assert_memory_equal(out, "\xaaxyz", 4);
	bc_free(out);
}

static void test_wr_patch32(void **state)
{
	bc_wr w;
	uint8_t *out;
	size_t len, off;
	(void)state;

	bc_wr_init(&w, 100);
	assert_int_equal(bc_wr_u8(&w, 0x11), BC_OK);
	off = w.len;
	assert_int_equal(bc_wr_u32(&w, 0), BC_OK); /* placeholder */
	assert_int_equal(bc_wr_raw(&w, "hello", 5), BC_OK);
	assert_int_equal(bc_wr_patch32(&w, off, 5), BC_OK);
	assert_int_equal(bc_wr_patch32(&w, w.len - 4, 0xa1b2c3d4), BC_OK);
	out = finish_ok(&w, &len);
	assert_int_equal(len, 10);
	assert_memory_equal(out, "\x11\x00\x00\x00\x05h\xa1\xb2\xc3\xd4", 10);
	bc_free(out);

	/* out of range: straddling the end, past the end, huge offsets */
	static const size_t bad_off[] = {7, 8, 9, 12, SIZE_MAX - 2, SIZE_MAX};
	for (size_t i = 0; i < BC_ARRAY_LEN(bad_off); i++) {
		bc_wr_init(&w, 100);
		assert_int_equal(bc_wr_raw(&w, "12345678", 8), BC_OK);
		assert_int_equal(bc_wr_patch32(&w, bad_off[i], 1),
				 BC_ERR_INVALID);
		assert_int_equal(bc_wr_finish(&w, &out, &len), BC_ERR_INVALID);
		assert_null(out);
	}
	/* on an empty writer nothing can be patched */
	bc_wr_init(&w, 100);
	assert_int_equal(bc_wr_patch32(&w, 0, 1), BC_ERR_INVALID);
	bc_wr_free(&w);

	/* on a fixed writer */
	uint8_t fbuf[6] = {0};
	bc_wr_init_fixed(&w, fbuf, sizeof(fbuf));
	assert_int_equal(bc_wr_u16(&w, 0x0102), BC_OK);
	assert_int_equal(bc_wr_u32(&w, 0), BC_OK);
	assert_int_equal(bc_wr_patch32(&w, 2, 0x03040506), BC_OK);
	assert_memory_equal(fbuf, "\x01\x02\x03\x04\x05\x06", 6);
	bc_wr_free(&w);
}

/* ---- allocation failure --------------------------------------------------- */

static int write_big(bc_wr *w)
{
	static const uint8_t blob[700] = {1};
	bc_wr_init(w, 1 << 16);
	for (int i = 0; i < 20; i++) {
		(void)bc_wr_u32(w, (uint32_t)i);
		(void)bc_wr_bytes(w, blob, sizeof(blob));
		(void)bc_wr_str(w, "n\xc3\xa4me");
	}
	return bc_wr_err(w);
}

static void test_wr_nomem(void **state)
{
	bc_wr w;
	uint8_t *out;
	size_t len, want_len;
	int rc = BC_ERR_NOMEM;
	unsigned long k, count;
	(void)state;

	count = bc_alloc_count();
	assert_int_equal(write_big(&w), BC_OK);
	out = finish_ok(&w, &want_len);
	bc_free(out);
	assert_true(bc_alloc_count() - count >= 4); /* several growths */

	/* fail each allocation in turn until none is left to fail */
	for (k = 1; rc == BC_ERR_NOMEM; k++) {
		assert_true(k < 100);
		bc_alloc_fail_at(k);
		rc = write_big(&w);
		if (rc == BC_ERR_NOMEM) {
			/* sticky, then freed by finish; valgrind/ASan check
			 * that nothing leaks */
			assert_int_equal(bc_wr_u8(&w, 1), BC_ERR_NOMEM);
			assert_int_equal(bc_wr_finish(&w, &out, &len),
					 BC_ERR_NOMEM);
			assert_null(out);
			assert_int_equal(len, 0);
		}
	}
	bc_alloc_fail_at(0);
	assert_int_equal(rc, BC_OK);
	assert_true(k > 4);
	out = finish_ok(&w, &len);
	assert_int_equal(len, want_len);
	bc_free(out);

	/* bc_wr_free after a failure is also clean */
	bc_alloc_fail_at(2);
	assert_int_equal(write_big(&w), BC_ERR_NOMEM);
	bc_wr_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout_big_endian),
		cmocka_unit_test(test_roundtrip_ints),
		cmocka_unit_test(test_bool),
		cmocka_unit_test(test_bytes),
		cmocka_unit_test(test_bytes_huge_length),
		cmocka_unit_test(test_count),
		cmocka_unit_test(test_end_trailing),
		cmocka_unit_test(test_raw_ref),
		cmocka_unit_test(test_rd_null_input),
		cmocka_unit_test(test_utf8_table),
		cmocka_unit_test(test_utf8_exhaustive),
		cmocka_unit_test(test_str_writer_reader),
		cmocka_unit_test(test_str_cap),
		cmocka_unit_test(test_str_nomem),
		cmocka_unit_test(test_truncation_every_offset),
		cmocka_unit_test(test_list_count_cap),
		cmocka_unit_test(test_rd_sticky),
		cmocka_unit_test(test_wr_sticky),
		cmocka_unit_test(test_wr_fixed_overflow),
		cmocka_unit_test(test_wr_fixed_never_allocates),
		cmocka_unit_test(test_wr_growable_max),
		cmocka_unit_test(test_wr_growth_preserves),
		cmocka_unit_test(test_wr_empty),
		cmocka_unit_test(test_wr_reserve),
		cmocka_unit_test(test_wr_patch32),
		cmocka_unit_test(test_wr_nomem),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("codec", tests, NULL, NULL);
}
