/*
 * envelope.h - sealed envelopes: what one reader's copy of a message is.
 *
 * A message to several readers is pairwise fan-out: the sender seals the
 * same inner plaintext once per reader, under the Double Ratchet session it
 * shares with that reader, and posts all copies in one atomic relay POST.
 *
 *   body  = u8 version (1) || u8 kind || [bytes setup] || bytes ratchet_msg
 *           kind 1 (SETUP): the first message of a session; `setup` is the
 *                   X3DH initial header (x3dh.h) the reader needs to derive
 *                   the session;
 *           kind 2 (MSG):   a message of an established session.
 *   inner = u8 version (1) || bytes meta || bytes content || bytes pad
 *           (the ratchet plaintext; meta is the transcript metadata of
 *           transcript.h: message id, sender, audience, sequence number,
 *           previous hash, content hash; pad is all zero bytes)
 *
 * Padding: the inner plaintext (13 bytes of version and length fields, the
 * meta, the content) is padded to the smallest bucket that holds it: 256, 1024, 4096, 16384 or 65536 bytes, then a multiple of 65536. The
 * relay sees only the bucket. Readers require the padding to be zeros, so
 * every inner plaintext has one encoding.
 *
 * The body carries no sender and no session identifier: the reader finds
 * the session by trial decryption of the (encrypted) ratchet header, so the
 * relay cannot link copies to sessions. docs/PROTOCOL.md §14 is normative.
 */
#ifndef BC_ENVELOPE_H
#define BC_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "backchannel/error.h"

#define BC_ENV_VERSION 1
#define BC_ENV_KIND_SETUP 1
#define BC_ENV_KIND_MSG 2
#define BC_ENV_MAX_SETUP 1024
#define BC_ENV_MAX_META 8192
#define BC_ENV_MAX_CONTENT ((size_t)4 << 20)
#define BC_ENV_MAX_BODY ((size_t)8 << 20)

/* The padded size of an inner plaintext of n bytes (before padding). */
size_t bc_env_bucket(size_t n);

/* Encode meta and content into a padded inner plaintext (new buffer, holds
 * plaintext: free with bc_free_secret). BC_ERR_TOOBIG over the caps. */
int bc_env_inner_encode(const uint8_t *meta, size_t mlen,
			const uint8_t *content, size_t clen, uint8_t **out,
			size_t *outlen) BC_MUST_CHECK;
/* Decode an inner plaintext; *meta and *content point into in.
 * BC_ERR_MALFORMED for a bad layout, non-zero padding or a size that is
 * not a bucket; BC_ERR_VERSION for another version. */
int bc_env_inner_decode(const uint8_t *in, size_t len, const uint8_t **meta,
			size_t *mlen, const uint8_t **content,
			size_t *clen) BC_MUST_CHECK;

/* Encode a body (new buffer). setup is NULL for kind MSG. */
int bc_env_body_encode(uint8_t kind, const uint8_t *setup, size_t slen,
		       const uint8_t *rmsg, size_t rlen, uint8_t **out,
		       size_t *outlen) BC_MUST_CHECK;
/* Decode a body; pointers point into in (*setup NULL for kind MSG). */
int bc_env_body_decode(const uint8_t *in, size_t len, uint8_t *kind,
		       const uint8_t **setup, size_t *slen,
		       const uint8_t **rmsg, size_t *rlen) BC_MUST_CHECK;

#endif
