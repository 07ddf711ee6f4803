/*
 * agreement.h - the canonical agreement document, the parties' signatures
 * over it, and the self-contained export that anyone can verify offline
 * (DESIGN.md §4 "Agreement"; every byte in docs/PROTOCOL.md §18).
 *
 *   document  u8 version (1) || "backchannel v1 agreement" (24 raw bytes)
 *             || fixed[16] channel id || string title || fixed[16] proposal
 *             id || u32 version || list term (string key, string text) ||
 *             list party (fixed[129] public identity, string side label),
 *             strictly ascending by fingerprint || u64 agreed_at
 *   signature Ed25519(sign_sk, "backchannel v1 agreement signature"
 *             || BLAKE2b-512(document))
 *   signed    bytes document || list (fixed[32] fingerprint, fixed[64]
 *             signature), ascending by fingerprint
 *   export    a human-readable header, then "-----BEGIN BACKCHANNEL
 *             AGREEMENT-----", the signed agreement as b32c strings of kind
 *             "bca" (chunks of <= 4096 bytes, each wrapped at 72 columns,
 *             chunks separated by an empty line), "-----END BACKCHANNEL
 *             AGREEMENT-----" and a newline. The export is a deterministic
 *             function of the signed agreement.
 *
 * Verification (bc_agreement_verify) needs nothing but the text: it
 * decodes the armored block canonically, requires exactly one valid
 * signature per party and none from anyone else, then regenerates the
 * whole export and requires it to equal the input byte for byte, so the
 * visible header cannot be edited without detection.
 *
 * Invariants of a bc_agreement from this module: doc_bytes is the
 * canonical encoding of the decoded fields, parties are sorted strictly by
 * fingerprint and have valid identities, sigs are sorted by fingerprint.
 * Only signatures from add_signature are known to verify; a decoded
 * agreement's signatures are checked by bc_agreement_check.
 */
#ifndef BC_AGREEMENT_H
#define BC_AGREEMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backchannel/error.h"
#include "identity.h"
#include "proposal.h"

#define BC_AGREEMENT_VERSION 1
#define BC_AGREEMENT_LABEL "backchannel v1 agreement"
#define BC_AGREEMENT_SIG_LABEL "backchannel v1 agreement signature"
#define BC_AGREEMENT_B32C_KIND "bca"
#define BC_AGREEMENT_BEGIN "-----BEGIN BACKCHANNEL AGREEMENT-----"
#define BC_AGREEMENT_END "-----END BACKCHANNEL AGREEMENT-----"
#define BC_AGREEMENT_CHANNEL_ID_LEN 16
#define BC_AGREEMENT_TITLE_MAX 256
#define BC_AGREEMENT_SIDE_MAX 64
#define BC_AGREEMENT_MAX_PARTIES BC_PROPOSAL_MAX_PARTIES
/* Caps on the binary signed agreement and on an export text. */
#define BC_AGREEMENT_BIN_MAX ((size_t)512 << 10)
#define BC_AGREEMENT_TEXT_MAX ((size_t)4 << 20)
#define BC_AGREEMENT_WRAP 72
#define BC_AGREEMENT_CHUNK 4096

typedef struct bc_agreement_party {
	bc_identity_pub id;
	uint8_t fingerprint[BC_FINGERPRINT_LEN];
	char *side;
} bc_agreement_party;

typedef struct bc_agreement_sig {
	uint8_t fingerprint[BC_FINGERPRINT_LEN];
	uint8_t sig[BC_IDENTITY_SIG_LEN];
} bc_agreement_sig;

typedef struct bc_agreement {
	uint8_t channel_id[BC_AGREEMENT_CHANNEL_ID_LEN];
	char *title;
	uint8_t proposal_id[BC_PROPOSAL_ID_LEN];
	uint32_t version;
	uint16_t nterms;
	bc_term *terms;
	uint16_t nparties;
	bc_agreement_party *parties;
	uint64_t agreed_at;
	uint8_t *doc;      /* canonical document */
	size_t doc_len;
	uint16_t nsigs;
	bc_agreement_sig sigs[BC_AGREEMENT_MAX_PARTIES];
} bc_agreement;

/* Input to bc_agreement_build: one party of the talk. */
typedef struct bc_agreement_party_in {
	const bc_identity_pub *id;
	const char *side; /* 1..64 bytes UTF-8 */
} bc_agreement_party_in;

/*
 * Build the document of an agreed proposal version. Terms are copied in
 * order; parties (1..16, distinct identities) are sorted by fingerprint.
 * On success *out is new (bc_agreement_free) with no signatures.
 * Errors: BC_ERR_INVALID (NULL, bad terms/title/side, duplicate party),
 * BC_ERR_TOOBIG, BC_ERR_CRYPTO, BC_ERR_NOMEM; *out NULL on error.
 */
int bc_agreement_build(bc_agreement **out, const uint8_t channel_id[static BC_AGREEMENT_CHANNEL_ID_LEN],
		       const char *title, const uint8_t proposal_id[static BC_PROPOSAL_ID_LEN],
		       uint32_t version, const bc_term *terms, uint16_t nterms,
		       const bc_agreement_party_in *parties, uint16_t nparties,
		       uint64_t agreed_at) BC_MUST_CHECK;

void bc_agreement_free(bc_agreement *a);

/* The party's signature over a's document. BC_ERR_FORBIDDEN if id is not
 * a party; BC_ERR_CRYPTO. Does not change a. */
int bc_agreement_sign(const bc_agreement *a, const bc_identity *id,
		      uint8_t sig[static BC_IDENTITY_SIG_LEN]) BC_MUST_CHECK;

/* Verify a party's signature and insert it (sorted). BC_ERR_AUTH (not a
 * party, or the signature does not verify), BC_ERR_CONFLICT (that party
 * already signed). a unchanged on error. */
int bc_agreement_add_signature(bc_agreement *a, const uint8_t fingerprint[static BC_FINGERPRINT_LEN],
			       const uint8_t sig[static BC_IDENTITY_SIG_LEN]) BC_MUST_CHECK;

/* true iff every party has signed (signatures from add_signature). */
bool bc_agreement_is_complete(const bc_agreement *a);

/* Full check of a (decoded) agreement: each signature from a party, at
 * most one per party, each valid, and one from every party. BC_OK or
 * BC_ERR_AUTH with *why (may be NULL) a static reason. */
int bc_agreement_check(const bc_agreement *a, const char **why) BC_MUST_CHECK;

/* The binary signed agreement (bc_free). Canonical. */
int bc_agreement_encode(const bc_agreement *a, uint8_t **out, size_t *outlen) BC_MUST_CHECK;
/* Decode exactly len bytes (document re-parsed canonically, identities
 * verified, signatures sorted; NOT verified: see bc_agreement_check).
 * BC_ERR_MALFORMED, BC_ERR_TOOBIG, BC_ERR_VERSION, BC_ERR_AUTH (a bad
 * identity), BC_ERR_NOMEM. *out new on success, NULL on error. */
int bc_agreement_decode(bc_agreement **out, const uint8_t *in, size_t len) BC_MUST_CHECK;

/* The export text of a complete agreement (NUL-terminated, bc_free).
 * BC_ERR_STATE if not every party has signed. */
int bc_agreement_export(const bc_agreement *a, char **out) BC_MUST_CHECK;
/* The export text regardless of completeness (used by verify). */
int bc_agreement_render(const bc_agreement *a, char **out) BC_MUST_CHECK;

/*
 * Verify an export text of len bytes offline. On success *out is the
 * parsed agreement (bc_agreement_free) and *why NULL. On error *out is
 * NULL and *why (why may be NULL) a static reason:
 *   BC_ERR_TOOBIG     text or block over its cap
 *   BC_ERR_MALFORMED  no armor, bad b32c, not a canonical agreement
 *   BC_ERR_CHECKSUM   a b32c chunk with a wrong checksum
 *   BC_ERR_AUTH       a signature problem, or the text differs from the
 *                     canonical export of the signed agreement
 */
int bc_agreement_verify(const char *text, size_t len, bc_agreement **out,
			const char **why) BC_MUST_CHECK;

#endif
