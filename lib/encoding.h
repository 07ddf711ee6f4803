/*
 * encoding.h - text encodings for bytes that people and programs handle:
 * hexadecimal, and "b32c", a checksummed base32 for strings that people
 * copy, read aloud or retype (keys, relay addresses, invites).
 *
 * The exact b32c format is specified in docs/PROTOCOL.md §9; in short:
 *
 *     <prefix> ':' <base32(data || check)> grouped by '-' every 5 chars
 *     e.g.  bci:d1jpr-v3f5g-g7evv-jdhj1-hrmvv-ts0   ("hello, world")
 *
 *   prefix  1..16 lower-case ASCII letters naming the kind of object
 *           ("bck" key, "bcr" relay address, "bci" invite, ...).
 *   check   the first 5 bytes of BLAKE2b-256 over
 *             "backchannel b32c v1" 0x00 u8(len(prefix)) prefix ':'
 *             u32be(len(data)) data
 *   base32  Crockford's alphabet 0123456789abcdefghjkmnpqrstvwxyz, 5 bits
 *           per character, most significant bit first; the final partial
 *           group is padded with zero bits, which the decoder requires.
 *
 * The decoder is forgiving where humans err (case, '-' / space / tab /
 * CR / LF anywhere, o for 0, i and l for 1) and strict everywhere else:
 * any other character, non-zero padding, an impossible length, a wrong
 * prefix or a wrong checksum is rejected. Each (prefix, data) pair has
 * exactly one canonical encoding, the one bc_b32c_encode produces.
 *
 * Constant time: the hex functions are libsodium's constant-time
 * sodium_bin2hex / sodium_hex2bin; the b32c data path (character mapping,
 * bit packing, checksum comparison) has no branch or table lookup that
 * depends on the value of a data character, only on its position, on
 * the public length and on whether the input is well formed. Invites
 * carry capabilities and one-time secrets, so this matters.
 */
#ifndef BC_ENCODING_H
#define BC_ENCODING_H

#include <stddef.h>
#include <stdint.h>

#include "backchannel/error.h"

/* Bytes needed by bc_hex_encode for n input bytes (including the NUL). */
#define BC_HEX_SIZE(n) (2 * (size_t)(n) + 1)

/* Longest prefix, in letters. */
#define BC_B32C_PREFIX_MAX 16
/* Bytes of checksum appended to the data. */
#define BC_B32C_CHECK_LEN 5
/* Absolute cap on the data of one b32c string, whatever maxlen says. */
#define BC_B32C_DATA_MAX 4096
/* The domain label that starts every checksum input (19 bytes, no NUL). */
#define BC_B32C_LABEL "backchannel b32c v1"

/*
 * Write len bytes of in as 2*len lower-case hex digits and a NUL into out.
 * in may be NULL when len is 0.
 * Errors: BC_ERR_INVALID (out NULL), BC_ERR_TOOBIG (outcap < 2*len+1; out
 * is then left untouched).
 */
int bc_hex_encode(const uint8_t *in, size_t len, char *out, size_t outcap)
	BC_MUST_CHECK;

/*
 * Decode the NUL-terminated hex string hex into out (outcap bytes) and set
 * *outlen to the number of bytes written. Strict: an even number of hex
 * digits (either case), nothing else - no separators, no whitespace, no
 * "0x". The empty string decodes to zero bytes.
 * Errors: BC_ERR_INVALID (NULL argument), BC_ERR_MALFORMED (odd length or a
 * non-hex character), BC_ERR_TOOBIG (the result would exceed outcap). On any
 * error *outlen is 0 and no byte of out holds decoded data (it was never
 * written or has been zeroed).
 */
int bc_hex_decode(const char *hex, uint8_t *out, size_t outcap,
		  size_t *outlen) BC_MUST_CHECK;

/*
 * Encode data[0..len) as a canonical b32c string of kind prefix. On success
 * *out is a new NUL-terminated string (free with bc_free; it holds whatever
 * secret data holds, so wipe it first when that matters). data may be NULL
 * when len is 0.
 * Errors: BC_ERR_INVALID (out NULL, prefix not 1..16 lower-case ASCII
 * letters), BC_ERR_TOOBIG (len > BC_B32C_DATA_MAX), BC_ERR_CRYPTO,
 * BC_ERR_NOMEM. On error *out is NULL.
 */
int bc_b32c_encode(const char *prefix, const uint8_t *data, size_t len,
		   char **out) BC_MUST_CHECK;

/*
 * Decode the NUL-terminated b32c string s, which must be of kind prefix
 * and carry at most maxlen bytes of data (maxlen is further capped at
 * BC_B32C_DATA_MAX). On success *data is a new buffer of *len bytes (free
 * with bc_free_secret(*data, *len) or bc_free; never NULL, even for 0
 * bytes). Errors:
 *   BC_ERR_INVALID    data, len or s is NULL, or prefix is not valid
 *   BC_ERR_MALFORMED  the prefix part is missing or not 1..16 letters, or
 *                     there is no ':' separator
 *   BC_ERR_INVALID    a string of another kind: its prefix differs (the
 *                     data part is then not examined)
 *   BC_ERR_MALFORMED  a forbidden data character (u, ':', punctuation,
 *                     control, non-ASCII, ...)
 *   BC_ERR_TOOBIG     more data characters than maxlen allows (found
 *                     while scanning, before anything is allocated)
 *   BC_ERR_MALFORMED  an impossible number of data characters
 *   BC_ERR_NOMEM
 *   BC_ERR_MALFORMED  non-zero padding bits
 *   BC_ERR_CHECKSUM   an otherwise valid string whose checksum does not
 *                     match (a typo)
 * The checks run in the order listed; the data part is scanned left to
 * right, so of a forbidden character and an excess of characters the one
 * met first is reported.
 * On error *data is NULL and *len is 0.
 */
int bc_b32c_decode(const char *prefix, const char *s, size_t maxlen,
		   uint8_t **data, size_t *len) BC_MUST_CHECK;

/*
 * Copy the (lower-cased) prefix of the b32c string s into
 * out[BC_B32C_PREFIX_MAX + 1], so that a caller can tell what kind of
 * object a user pasted ("this is an invite, not a key"). Nothing else of
 * s is checked.
 * Errors: BC_ERR_INVALID (NULL argument), BC_ERR_MALFORMED (no separator
 * or not a valid prefix); out is then the empty string.
 */
int bc_b32c_prefix(const char *s, char out[BC_B32C_PREFIX_MAX + 1])
	BC_MUST_CHECK;

#endif
