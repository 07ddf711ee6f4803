/*
 * fuzz_encoding.c - libFuzzer target for lib/encoding.c (hex and b32c).
 *
 * Byte 0 of the input picks a mode (low 2 bits), a prefix and a maxlen
 * (higher bits); the rest is the subject: a string to decode (modes 0
 * and 1, copied into a NUL-terminated buffer) or bytes to encode (modes 2
 * and 3).
 *
 *   0  b32c decode of arbitrary text. If it decodes: the input, with the
 *      forgiving rules applied by hand (separators dropped, case folded,
 *      o -> 0, i/l -> 1), must equal the canonical re-encoding without
 *      its '-' (so the decoder accepts exactly the spellings of one
 *      canonical string); decoding the re-encoding gives the same bytes;
 *      the prefix peek agrees. If it does not: outputs are cleared and
 *      the error is one of the documented ones.
 *   1  hex decode of arbitrary text; on success the re-encoding is the
 *      lower-cased input and decodes to the same bytes.
 *   2  b32c encode of arbitrary bytes, decode, compare; then substitute
 *      one character (position and value from the input): unless the
 *      substitution is a no-op under the forgiving rules it must be
 *      rejected (a miss has probability 2^-40 per try).
 *   3  hex encode of arbitrary bytes, decode, compare.
 * Any violated property traps.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "encoding.h"
#include "internal.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                           \
	do {                               \
		if (!(c))                  \
			__builtin_trap();  \
	} while (0)

static const char *const prefixes[] = {"bck", "bci", "bcr",
				       "a", "abcdefghijklmnop", "x"};
static const size_t maxlens[] = {0, 1, 5, 32, 64, 256, BC_B32C_DATA_MAX,
				 SIZE_MAX};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		__builtin_trap();
	return 0;
}

/* The canonical spelling of a b32c string as the spec's normalisation
 * defines it, without '-'; written independently of encoding.c. */
static void normalise(const char *s, char *out)
{
	bool data = false;
	for (; *s; s++) {
		char c = *s;
		if (c == '-' || c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (data && c == 'o')
			c = '0';
		if (data && (c == 'i' || c == 'l'))
			c = '1';
		if (c == ':')
			data = true;
		*out++ = c;
	}
	*out = '\0';
}

static void strip_dashes(const char *s, char *out)
{
	for (; *s; s++)
		if (*s != '-')
			*out++ = *s;
	*out = '\0';
}

static bool is_b32c_err(int rc)
{
	return rc == BC_ERR_MALFORMED || rc == BC_ERR_INVALID ||
	       rc == BC_ERR_TOOBIG || rc == BC_ERR_CHECKSUM;
}

static void b32c_text(const char *prefix, size_t maxlen, const char *s,
		      size_t slen)
{
	uint8_t *d = (uint8_t *)(uintptr_t)1, *d2 = NULL;
	size_t n = 77, n2 = 0;
	char *enc = NULL, *a, *b, peek[BC_B32C_PREFIX_MAX + 1];
	int rc = bc_b32c_decode(prefix, s, maxlen, &d, &n);

	if (rc != BC_OK) {
		CHECK(is_b32c_err(rc) && d == NULL && n == 0);
		return;
	}
	CHECK(d != NULL && n <= maxlen && n <= BC_B32C_DATA_MAX);
	CHECK(bc_b32c_prefix(s, peek) == BC_OK);
	CHECK(strcmp(peek, prefix) == 0);
	CHECK(bc_b32c_encode(prefix, d, n, &enc) == BC_OK);
	a = bc_malloc(slen + 1);
	b = bc_malloc(strlen(enc) + 1);
	CHECK(a != NULL && b != NULL);
	normalise(s, a);
	strip_dashes(enc, b);
	CHECK(strcmp(a, b) == 0);
	CHECK(bc_b32c_decode(prefix, enc, n, &d2, &n2) == BC_OK);
	CHECK(n2 == n && (n == 0 || memcmp(d, d2, n) == 0));
	bc_free(a);
	bc_free(b);
	bc_free(enc);
	bc_free_secret(d, n);
	bc_free_secret(d2, n2);
}

static void hex_text(const char *s, size_t slen, size_t cap)
{
	uint8_t *out = bc_malloc(cap), *back;
	char *enc;
	size_t n = 77, n2 = 0;
	int rc;

	CHECK(out != NULL);
	rc = bc_hex_decode(s, out, cap, &n);
	if (rc != BC_OK) {
		CHECK((rc == BC_ERR_MALFORMED || rc == BC_ERR_TOOBIG) && n == 0);
		bc_free(out);
		return;
	}
	CHECK(n * 2 == slen && n <= cap);
	enc = bc_malloc(BC_HEX_SIZE(n));
	back = bc_malloc(n);
	CHECK(enc != NULL && back != NULL);
	CHECK(bc_hex_encode(out, n, enc, BC_HEX_SIZE(n)) == BC_OK);
	for (size_t i = 0; i < slen; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		CHECK(enc[i] == c);
	}
	CHECK(bc_hex_decode(enc, back, n, &n2) == BC_OK);
	CHECK(n2 == n && (n == 0 || memcmp(out, back, n) == 0));
	bc_free(enc);
	bc_free(back);
	bc_free(out);
}

static void b32c_bytes(const char *prefix, const uint8_t *p, size_t n,
		       uint8_t pos_sel, uint8_t chr)
{
	char *enc = NULL, *a, *b;
	uint8_t *d = NULL;
	size_t dn = 0, len, pos;
	int rc;

	rc = bc_b32c_encode(prefix, p, n, &enc);
	if (n > BC_B32C_DATA_MAX) {
		CHECK(rc == BC_ERR_TOOBIG && enc == NULL);
		return;
	}
	CHECK(rc == BC_OK);
	CHECK(bc_b32c_decode(prefix, enc, n, &d, &dn) == BC_OK);
	CHECK(dn == n && (n == 0 || memcmp(d, p, n) == 0));
	bc_free_secret(d, dn);
	if (n > 0)
		CHECK(bc_b32c_decode(prefix, enc, n - 1, &d, &dn) ==
		      BC_ERR_TOOBIG);

	/* one substitution; chr == 0 would end the string: skip it */
	len = strlen(enc);
	pos = (size_t)pos_sel * len / 256;
	if (chr != 0 && (unsigned char)enc[pos] != chr) {
		a = bc_malloc(len + 1);
		b = bc_malloc(len + 1);
		CHECK(a != NULL && b != NULL);
		normalise(enc, a);
		enc[pos] = (char)chr;
		normalise(enc, b);
		rc = bc_b32c_decode(prefix, enc, n, &d, &dn);
		if (strcmp(a, b) == 0) {
			CHECK(rc == BC_OK && dn == n &&
			      (n == 0 || memcmp(d, p, n) == 0));
			bc_free_secret(d, dn);
		} else {
			CHECK(is_b32c_err(rc) && d == NULL);
		}
		bc_free(a);
		bc_free(b);
	}
	bc_free(enc);
}

static void hex_bytes(const uint8_t *p, size_t n)
{
	char *enc = bc_malloc(BC_HEX_SIZE(n));
	uint8_t *back = bc_malloc(n);
	size_t n2 = 0;

	CHECK(enc != NULL && back != NULL);
	CHECK(bc_hex_encode(p, n, enc, BC_HEX_SIZE(n)) == BC_OK);
	CHECK(strlen(enc) == 2 * n);
	CHECK(bc_hex_encode(p, n, enc, BC_HEX_SIZE(n) - 1) == BC_ERR_TOOBIG);
	CHECK(bc_hex_decode(enc, back, n, &n2) == BC_OK);
	CHECK(n2 == n && (n == 0 || memcmp(p, back, n) == 0));
	if (n > 0)
		CHECK(bc_hex_decode(enc, back, n - 1, &n2) == BC_ERR_TOOBIG);
	bc_free(enc);
	bc_free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *prefix;
	size_t maxlen, n;
	unsigned sel;
	char *s;

	if (size < 1)
		return 0;
	sel = data[0];
	prefix = prefixes[(sel >> 2) % BC_ARRAY_LEN(prefixes)];
	maxlen = maxlens[(sel >> 5) % BC_ARRAY_LEN(maxlens)];
	data++;
	size--;

	switch (sel & 3u) {
	case 0:
	case 1:
		/* exact-size NUL-terminated copy (stops at an embedded NUL) */
		n = strnlen((const char *)data, size);
		s = bc_malloc(n + 1);
		if (s == NULL)
			return 0;
		memcpy(s, data, n);
		s[n] = '\0';
		if ((sel & 3u) == 0)
			b32c_text(prefix, maxlen, s, n);
		else
			hex_text(s, n, maxlen > 4096 ? n / 2 : maxlen);
		bc_free(s);
		break;
	case 2:
		if (size < 2)
			return 0;
		b32c_bytes(prefix, data + 2, size - 2, data[0], data[1]);
		break;
	default:
		hex_bytes(data, size);
		break;
	}
	return 0;
}
