/*
 * codec.h - the canonical binary codec used by every format of Backchannel.
 *
 * Wire rules (docs/PROTOCOL.md §2):
 *   u8/u16/u32/u64   fixed width, big-endian
 *   bool             one byte, exactly 0 or 1
 *   fixed[n]         n raw bytes, n known from context
 *   bytes            u32 length L, then L bytes; every reader passes a cap
 *   string           as bytes, valid UTF-8 without NUL
 *   list             u16 count, then the elements; every reader passes a cap
 * A message is canonical iff it parses and nothing follows it: readers must
 * finish with bc_rd_end(), which rejects trailing bytes. Since every field
 * has exactly one encoding, encode(decode(x)) == x for every accepted x.
 *
 * Both the writer and the reader have a sticky error: after the first
 * failure every later call fails with the same code, so a sequence of calls
 * can be checked once at the end (bc_wr_finish / bc_rd_end). Each call also
 * returns the code for callers that want to stop early.
 */
#ifndef BC_CODEC_H
#define BC_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backchannel/error.h"

/* Absolute cap on any single encoded object (64 MiB). */
#define BC_CODEC_MAX ((size_t)64 << 20)

typedef struct bc_wr {
	uint8_t *buf;
	size_t len;   /* bytes written */
	size_t cap;   /* bytes allocated (or size of the fixed buffer) */
	size_t max;   /* hard limit on len */
	int err;      /* sticky error */
	bool fixed;   /* buf belongs to the caller and never grows */
} bc_wr;

/* A growable writer whose output may never exceed max bytes (capped at
 * BC_CODEC_MAX). Release with bc_wr_free unless bc_wr_finish took the
 * buffer. */
void bc_wr_init(bc_wr *w, size_t max);
/* A writer over a caller buffer of size bytes; it never allocates. */
void bc_wr_init_fixed(bc_wr *w, uint8_t *buf, size_t size);

int bc_wr_u8(bc_wr *w, uint8_t v);
int bc_wr_u16(bc_wr *w, uint16_t v);
int bc_wr_u32(bc_wr *w, uint32_t v);
int bc_wr_u64(bc_wr *w, uint64_t v);
int bc_wr_bool(bc_wr *w, bool v);
int bc_wr_raw(bc_wr *w, const void *p, size_t n);
int bc_wr_bytes(bc_wr *w, const void *p, size_t n);
/* s must be valid UTF-8 without NUL (else BC_ERR_INVALID). */
int bc_wr_str(bc_wr *w, const char *s);
/* Reserve n bytes and return a pointer to them (NULL on error). The pointer
 * is valid until the next call on w. */
uint8_t *bc_wr_reserve(bc_wr *w, size_t n);
/* Overwrite 4 bytes at offset off with v (for lengths known afterwards). */
int bc_wr_patch32(bc_wr *w, size_t off, uint32_t v);

/* On success hands the buffer to the caller (free with bc_free) and resets
 * w; on a sticky error frees everything and returns it. For a fixed writer
 * *out points into the caller's buffer. */
int bc_wr_finish(bc_wr *w, uint8_t **out, size_t *outlen) BC_MUST_CHECK;
/* Finish a fixed writer that must have produced exactly want bytes:
 * its sticky error, or BC_ERR_INTERNAL for another length (a bug). */
int bc_wr_finish_exact(bc_wr *w, size_t want) BC_MUST_CHECK;
/* Wipe and free the buffer (if owned). Safe on a finished writer. */
void bc_wr_free(bc_wr *w);
static inline int bc_wr_err(const bc_wr *w) { return w->err; }

typedef struct bc_rd {
	const uint8_t *p;
	size_t len;
	size_t pos;
	int err;
} bc_rd;

void bc_rd_init(bc_rd *r, const void *p, size_t len);

int bc_rd_u8(bc_rd *r, uint8_t *v);
int bc_rd_u16(bc_rd *r, uint16_t *v);
int bc_rd_u32(bc_rd *r, uint32_t *v);
int bc_rd_u64(bc_rd *r, uint64_t *v);
int bc_rd_bool(bc_rd *r, bool *v);
/* Copy n bytes into out. */
int bc_rd_raw(bc_rd *r, void *out, size_t n);
/* Point *out at the next n bytes (no copy). */
int bc_rd_ref(bc_rd *r, size_t n, const uint8_t **out);
/* A length-prefixed byte string of at most max bytes, by reference. */
int bc_rd_bytes(bc_rd *r, size_t max, const uint8_t **out, size_t *outlen);
/* A length-prefixed string of at most max bytes, copied into a new
 * NUL-terminated buffer (free with bc_free). Invalid UTF-8 or an embedded
 * NUL is BC_ERR_MALFORMED. */
int bc_rd_str(bc_rd *r, size_t max, char **out);
/* A list count of at most max elements. */
int bc_rd_count(bc_rd *r, uint16_t max, uint16_t *count);
/* Record err as the reader's sticky error (if it has none yet) and return
 * the sticky error: for checks a parser makes beyond the codec's own. */
int bc_rd_fail(bc_rd *r, int err);
/* Bytes not yet read. */
static inline size_t bc_rd_left(const bc_rd *r) { return r->len - r->pos; }
/* The sticky error, or BC_ERR_MALFORMED if bytes are left over. */
int bc_rd_end(bc_rd *r) BC_MUST_CHECK;

/* true iff s[0..n) is valid UTF-8 (RFC 3629: no overlongs, no surrogates,
 * nothing above U+10FFFF) and contains no NUL. */
bool bc_utf8_valid(const uint8_t *s, size_t n);

#endif
