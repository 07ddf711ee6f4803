/*
 * transport.h - Noise transport records and the frame stream on top of them.
 *
 * After the handshake, each direction of a relay connection is a sequence of
 * records:
 *
 *   u16 length L (16 <= L <= 65535)  ||  L bytes of Noise transport
 *                                        ciphertext (ChaChaPoly, empty AD)
 *
 * The plaintexts of the records, concatenated, form a stream of frames
 * (proto.h: u32 length || type || request id || body). Record boundaries
 * carry no meaning: a sender may put several frames in one record or split
 * one frame over several. The receiver rejects a frame header announcing
 * more than its max_frame before buffering it.
 *
 * Memory: buffers are allocated only while bytes are pending and released
 * as soon as they drain, so an idle connection holds no buffer at all.
 */
#ifndef BC_TRANSPORT_H
#define BC_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "backchannel/error.h"
#include "codec.h"
#include "noise.h"

#define BC_RECORD_MAX 65535
#define BC_RECORD_MAX_PLAIN (BC_RECORD_MAX - BC_NOISE_TAGLEN)

typedef struct bc_rx {
	uint8_t *raw;      /* undecrypted bytes (at most one partial record) */
	uint32_t raw_len, raw_cap;
	uint8_t *plain;    /* decrypted stream not yet consumed */
	uint32_t plain_off, plain_len, plain_cap;
	uint32_t max_frame;
} bc_rx;

void bc_rx_init(bc_rx *rx, uint32_t max_frame);
/* Wipe and free the buffers. */
void bc_rx_free(bc_rx *rx);

/* Append received bytes and decrypt every complete record with cs.
 * The caller drains the frames (bc_rx_next) after every feed; a single
 * feed may bring at most 2 records beyond a maximal frame (the relay and
 * the client feed at most 64 KiB at a time), else BC_ERR_TOOBIG.
 * Errors: BC_ERR_AUTH (a record failed authentication), BC_ERR_PROTOCOL
 * (record shorter than a tag), BC_ERR_TOOBIG (a frame header announces more
 * than max_frame), BC_ERR_NOMEM. After an error the connection is dead. */
int bc_rx_feed(bc_rx *rx, bc_noise_cs *cs, const uint8_t *data,
	       size_t len) BC_MUST_CHECK;

/* The next complete frame, if any: returns 1 and sets *frame and *len, 0 if
 * more bytes are needed, or an error
 * (BC_ERR_TOOBIG / BC_ERR_MALFORMED for a bad header). The frame is
 * consumed by this call; the pointer stays valid until the next bc_rx_feed
 * or bc_rx_compact. */
int bc_rx_next(bc_rx *rx, const uint8_t **frame, size_t *len) BC_MUST_CHECK;

/* Bytes buffered and not yet returned as a frame (raw + plaintext). */
size_t bc_rx_pending(const bc_rx *rx);

/* Release buffers that are empty. */
void bc_rx_compact(bc_rx *rx);

/* Encrypt plain[0..len) into records appended to out. */
int bc_tx_seal(bc_noise_cs *cs, const uint8_t *plain, size_t len,
	       bc_wr *out) BC_MUST_CHECK;

#endif
