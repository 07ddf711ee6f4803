/*
 * noise.h - the Noise Protocol Framework, revision 34.
 *
 * A handshake engine generic over handshake patterns: the patterns are data
 * (tables of tokens in noise.c) and one interpreter runs them, exactly as
 * the specification's CipherState / SymmetricState / HandshakeState objects
 * describe. Backchannel's relay transport is Noise_XX_25519_ChaChaPoly_BLAKE2b;
 * the other protocols exist so that the engine can be checked against the
 * published test vectors (tests/vectors/noise_vectors.c).
 *
 * Supported protocol names (strictly parsed, see bc_noise_hs_new):
 *   Noise_<P>[<mods>]_25519_ChaChaPoly_<H>
 *   P    one-way N K X; interactive NN NK NX KN KK KX XN XK XX IN IK IX
 *   mods pskN (N = 0 .. number of messages), several joined by '+', in
 *        ascending order, each at most once: "XXpsk3", "NNpsk0+psk2"
 *   H    SHA256 SHA512 BLAKE2b
 * Recognised but unsupported (BC_ERR_UNSUPPORTED): DH 448, cipher AESGCM,
 * hash BLAKE2s, the modifiers fallback/hfs and any other well-formed name.
 *
 * Typical use (one side):
 *   bc_noise_hs_new(&hs, "Noise_XX_25519_ChaChaPoly_BLAKE2b", initiator);
 *   bc_noise_hs_set_prologue(hs, ...);  bc_noise_hs_set_local_static(hs, sk);
 *   bc_noise_hs_start(hs);
 *   while action is WRITE or READ: bc_noise_hs_write_message / _read_message
 *   when action is SPLIT: bc_noise_hs_split(hs, &send, &recv);
 *   bc_noise_hs_free(hs);  then bc_noise_cs_encrypt(&send, ...) etc.
 *
 * Failure: any error while reading or writing a handshake message (failed
 * authentication, a malformed or oversized message, a DH output of all
 * zeros) moves the handshake to BC_NOISE_ACTION_FAILED, wipes its secrets,
 * and every later call on it returns BC_ERR_STATE. Caller mistakes that are
 * detected before anything is processed (a NULL pointer, an output buffer
 * too small, a call out of turn) return BC_ERR_INVALID / BC_ERR_STATE and
 * change nothing.
 */
#ifndef BC_NOISE_H
#define BC_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backchannel/error.h"

#define BC_NOISE_KEYLEN 32     /* cipher key, PSK */
#define BC_NOISE_DHLEN 32      /* X25519 public and private keys */
#define BC_NOISE_TAGLEN 16     /* AEAD tag */
#define BC_NOISE_HASHMAXLEN 64 /* largest HASHLEN (handshake hash size) */
#define BC_NOISE_MAX_MSG 65535 /* any Noise message, tag included */
#define BC_NOISE_MAX_PSKS 4    /* psk0 .. psk3 */
#define BC_NOISE_NAME_MAX 255  /* longest protocol name (spec §8) */

/* bc_noise_cs.cipher */
enum {
	BC_NOISE_CIPHER_NONE = 0,       /* unusable: zeroed or wiped state */
	BC_NOISE_CIPHER_CHACHAPOLY = 1, /* ChaCha20-Poly1305 IETF */
};

/* ---- CipherState ------------------------------------------------------------ */

/*
 * A CipherState (spec §5.1). A plain struct so a relay can embed one per
 * connection direction without allocating. Fields are read-only to users:
 *   k, has_key  the key, once InitializeKey() has run;
 *   n           the next nonce; 2^64-1 is reserved, so once n reaches it every
 *               encrypt/decrypt fails with BC_ERR_STATE (the session must be
 *               replaced);
 *   cipher      BC_NOISE_CIPHER_*; a zeroed or wiped struct has
 *               BC_NOISE_CIPHER_NONE and refuses every operation
 *               (BC_ERR_STATE), so a forgotten state cannot leak plaintext.
 * Nonce encoding on the wire of ChaChaPoly: 32 zero bits followed by n as a
 * little-endian 64-bit integer (spec §12.3).
 */
typedef struct bc_noise_cs {
	uint8_t k[BC_NOISE_KEYLEN];
	uint64_t n;
	uint8_t cipher;
	bool has_key;
} bc_noise_cs;

/* InitializeKey(key) for the given cipher: k = key, n = 0, has_key = true.
 * BC_ERR_INVALID for a NULL argument or an unknown cipher. */
int bc_noise_cs_init(bc_noise_cs *cs, uint8_t cipher, const uint8_t key[BC_NOISE_KEYLEN])
	BC_MUST_CHECK;

/* EncryptWithAd(ad, pt) into out. With a key, writes ptlen + 16 bytes and
 * advances n; without a key (only possible inside a handshake) it copies the
 * ptlen plaintext bytes, as the spec says. out may equal pt (in place) but
 * must not otherwise overlap it; ad may be NULL when adlen is 0.
 * Errors: BC_ERR_INVALID (NULL pointers), BC_ERR_STATE (unusable state or
 * nonce exhausted), BC_ERR_TOOBIG (the output would exceed BC_NOISE_MAX_MSG),
 * BC_ERR_CRYPTO. On error n is unchanged. */
int bc_noise_cs_encrypt(bc_noise_cs *cs, const uint8_t *ad, size_t adlen, const uint8_t *pt,
			size_t ptlen, uint8_t *out) BC_MUST_CHECK;

/* DecryptWithAd(ad, ct) into out. With a key, writes ctlen - 16 bytes and
 * advances n, but only if the tag verifies: on BC_ERR_AUTH nothing at all is
 * written to out and n is unchanged. Without a key it copies ctlen bytes.
 * out may equal ct (in place) but must not otherwise overlap it.
 * Errors: BC_ERR_INVALID, BC_ERR_STATE, BC_ERR_TOOBIG (ctlen above
 * BC_NOISE_MAX_MSG), BC_ERR_MALFORMED (ctlen < 16 with a key), BC_ERR_AUTH. */
int bc_noise_cs_decrypt(bc_noise_cs *cs, const uint8_t *ad, size_t adlen, const uint8_t *ct,
			size_t ctlen, uint8_t *out) BC_MUST_CHECK;

/* Rekey() (spec §4.2, §11.3): k = first 32 bytes of ENCRYPT(k, 2^64-1, "",
 * 32 zero bytes); n is unchanged. BC_ERR_STATE without a key. */
int bc_noise_cs_rekey(bc_noise_cs *cs) BC_MUST_CHECK;

/* Wipe the state; it becomes unusable (BC_NOISE_CIPHER_NONE). NULL ok. */
void bc_noise_cs_wipe(bc_noise_cs *cs);

/* ---- HandshakeState --------------------------------------------------------- */

typedef struct bc_noise_hs bc_noise_hs; /* opaque, a few hundred bytes */

/* What the handshake expects next (bc_noise_hs_action). */
enum {
	BC_NOISE_ACTION_WRITE = 1, /* call bc_noise_hs_write_message */
	BC_NOISE_ACTION_READ,      /* call bc_noise_hs_read_message */
	BC_NOISE_ACTION_SPLIT,     /* handshake complete: call bc_noise_hs_split */
	BC_NOISE_ACTION_FAILED,    /* dead: only bc_noise_hs_free is useful */
	BC_NOISE_ACTION_START,     /* being configured: call bc_noise_hs_start */
	BC_NOISE_ACTION_DONE,      /* split done: handshake hash and rs remain */
};

/* Create a handshake for protocol_name (a NUL-terminated string) in the
 * given role, and run InitializeSymmetric(protocol_name). The result is
 * being configured (BC_NOISE_ACTION_START): set keys and prologue, then call
 * bc_noise_hs_start. Free with bc_noise_hs_free.
 * Errors: BC_ERR_INVALID (NULL, a malformed name: wrong prefix or section
 * count, characters outside [A-Za-z0-9+/], over 255 bytes, a bad psk
 * modifier), BC_ERR_UNSUPPORTED (a well-formed name this engine does not
 * implement), BC_ERR_NOMEM. On error *out is NULL. */
int bc_noise_hs_new(bc_noise_hs **out, const char *protocol_name, bool initiator) BC_MUST_CHECK;

/* MixHash(prologue). At most once, before bc_noise_hs_start (else
 * BC_ERR_STATE); not calling it means an empty prologue. p may be NULL when
 * len is 0. */
int bc_noise_hs_set_prologue(bc_noise_hs *hs, const uint8_t *p, size_t len) BC_MUST_CHECK;

/* The local static private key (copied; the public key is derived). Only
 * while configuring (BC_ERR_STATE otherwise). */
int bc_noise_hs_set_local_static(bc_noise_hs *hs, const uint8_t priv[BC_NOISE_DHLEN])
	BC_MUST_CHECK;

/* The remote party's static public key, for patterns whose responder (or
 * initiator) static key is known in advance ("<- s" / "-> s" pre-message).
 * Only while configuring. */
int bc_noise_hs_set_remote_static(bc_noise_hs *hs, const uint8_t pub[BC_NOISE_DHLEN])
	BC_MUST_CHECK;

/* Inject the local ephemeral private key instead of generating one (test
 * vectors only: reusing an ephemeral key destroys security). Only while
 * configuring. */
int bc_noise_hs_set_local_ephemeral(bc_noise_hs *hs, const uint8_t priv[BC_NOISE_DHLEN])
	BC_MUST_CHECK;

/* Append a 32-byte PSK; psk tokens consume them in order of appearance.
 * BC_ERR_INVALID if the pattern has no psk tokens left to feed; only while
 * configuring. */
int bc_noise_hs_add_psk(bc_noise_hs *hs, const uint8_t psk[BC_NOISE_KEYLEN]) BC_MUST_CHECK;

/* Finish configuration: check that exactly the keys the pattern needs are
 * present (the local static iff this side sends or pre-shares it, the remote
 * static iff it is pre-shared, an ephemeral only if this side sends one,
 * one PSK per psk token), else BC_ERR_INVALID with nothing changed; then mix
 * the (possibly empty) prologue and the pre-message keys, initiator's first.
 * Afterwards the action is WRITE (initiator) or READ (responder). */
int bc_noise_hs_start(bc_noise_hs *hs) BC_MUST_CHECK;

/* The next action (BC_NOISE_ACTION_*); FAILED for NULL. */
int bc_noise_hs_action(const bc_noise_hs *hs);

/* WriteMessage(payload) into out[0..outcap); *outlen receives its length.
 * The message is the tokens' public keys followed by the payload, which is
 * encrypted (16 bytes longer) once a key exists. payload may be NULL when
 * plen is 0 and must not overlap out.
 * Errors without state change: BC_ERR_STATE (not this side's turn, or FAILED),
 * BC_ERR_INVALID (NULL pointers, outcap too small for the message),
 * BC_ERR_TOOBIG (the message would exceed BC_NOISE_MAX_MSG).
 * Errors that move the handshake to FAILED: BC_ERR_AUTH (a DH output of all
 * zeros: the peer sent a low-order key), BC_ERR_CRYPTO; then out is wiped
 * and *outlen is 0. */
int bc_noise_hs_write_message(bc_noise_hs *hs, const uint8_t *payload, size_t plen, uint8_t *out,
			      size_t outcap, size_t *outlen) BC_MUST_CHECK;

/* ReadMessage(msg): processes the message and writes its plaintext payload
 * to payload[0..pcap), its length to *plen. payload may be NULL when pcap
 * is 0 and must not overlap msg.
 * Errors without state change: BC_ERR_STATE (not this side's turn, or
 * FAILED), BC_ERR_INVALID (NULL pointers, or pcap smaller than this
 * message's payload: retry with a larger buffer).
 * Errors that move the handshake to FAILED (the message is hostile or
 * corrupt): BC_ERR_TOOBIG (mlen > BC_NOISE_MAX_MSG), BC_ERR_MALFORMED (too
 * short for its keys and tag), BC_ERR_AUTH (an AEAD tag did not verify -
 * e.g. tampering or a prologue mismatch - or a DH output was all zeros),
 * BC_ERR_CRYPTO. The payload buffer is left untouched on every error, and
 * *plen is 0. */
int bc_noise_hs_read_message(bc_noise_hs *hs, const uint8_t *msg, size_t mlen, uint8_t *payload,
			     size_t pcap, size_t *plen) BC_MUST_CHECK;

/* Copy the remote static public key to pub once it is known (pre-shared, or
 * received in a handshake message, even before the handshake completes -
 * e.g. to check a pinned key before answering). BC_ERR_STATE until then,
 * and after a failure. */
int bc_noise_hs_get_remote_static(const bc_noise_hs *hs, uint8_t pub[BC_NOISE_DHLEN])
	BC_MUST_CHECK;

/* GetHandshakeHash(): once the handshake is complete (action SPLIT or
 * DONE), copy h to out. On input *len is the capacity of out (at least
 * HASHLEN, else BC_ERR_INVALID); on success it is set to HASHLEN (32 or 64).
 * BC_ERR_STATE before completion and after a failure. */
int bc_noise_hs_get_handshake_hash(const bc_noise_hs *hs, uint8_t *out, size_t *len)
	BC_MUST_CHECK;

/* Split() (spec §5.2) from this side's point of view:
 *   send  the CipherState this side encrypts with,
 *   recv  the CipherState this side decrypts with.
 * For the initiator send = c1 (initiator->responder) and recv = c2; for the
 * responder send = c2 and recv = c1. Both start at n = 0. In one-way
 * patterns (N, K, X and their psk variants) only c1 may be used: the
 * initiator's recv and the responder's send are returned wiped
 * (BC_NOISE_CIPHER_NONE, every use fails with BC_ERR_STATE). Either pointer
 * may be NULL to discard that direction. Only when the action is SPLIT
 * (BC_ERR_STATE otherwise); afterwards it is DONE: the chaining key, all
 * private keys and PSKs are wiped, and only the handshake hash and the
 * remote static key remain readable. */
int bc_noise_hs_split(bc_noise_hs *hs, bc_noise_cs *send, bc_noise_cs *recv) BC_MUST_CHECK;

/* Wipe and free. NULL ok. */
void bc_noise_hs_free(bc_noise_hs *hs);

#endif
