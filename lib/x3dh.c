/*
 * x3dh.c - session setup between two identities (X3DH-style), producing
 * the inputs of the Double Ratchet with header encryption.
 *
 * Purpose and formats: x3dh.h and docs/PROTOCOL.md §12.4. This file holds
 * the initiator (one call), the responder (respond + commit), the strict
 * header codec, and the KDFs exposed for the known-answer tests.
 *
 * Invariants:
 *   - every X25519 input from the wire passed bc_x25519_check_public when
 *     it was parsed, and every DH output is still checked (libsodium
 *     reports an all-zero result): a zero output is BC_ERR_AUTH, never a
 *     key;
 *   - the initiator's identity is accepted only from a sealed_id that
 *     authenticated under the key from DH3 and that decodes to a verified
 *     public identity; it then determines DH1 and AD, so a header claiming
 *     someone else gives keys under which the first message fails;
 *   - bc_x3dh_respond never modifies the supply; bc_x3dh_commit changes it
 *     only on success, and re-checks what respond checked (two copies of a
 *     header may be in flight at once);
 *   - DH outputs, KM, the identity key, the ephemeral private key and the
 *     prekey private keys copied out of the supply live in automatic
 *     variables wiped at the single exit of each function; outputs holding
 *     secrets are wiped on failure.
 */
#include <string.h>

#include <sodium.h>

#include "hmac.h"
#include "identity.h"
#include "internal.h"
#include "prekey.h"
#include "x3dh.h"

#define F_LEN 32 /* 0xFF * 32 before the DH outputs (X3DH §2.2) */
#define DH_LEN 32
#define NONCE_LEN crypto_aead_chacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN crypto_aead_chacha20poly1305_ietf_ABYTES
#define INFO_LEN (sizeof(BC_X3DH_INFO) - 1)
#define ID_INFO_LEN (sizeof(BC_X3DH_ID_INFO) - 1)
#define AD_LABEL_LEN (sizeof(BC_X3DH_AD_LABEL) - 1)
#define REPLAY_LABEL_LEN (sizeof(BC_X3DH_REPLAY_LABEL) - 1)

_Static_assert(BC_X3DH_SEALED_ID_LEN == BC_IDENTITY_PUBLIC_LEN + TAG_LEN, "sealed id size");
_Static_assert(AD_LABEL_LEN + 4 * 32 == BC_X3DH_AD_LEN, "AD size");

static const uint8_t zero_salt[32];
static const uint8_t zero_nonce[NONCE_LEN];


static int dh(uint8_t out[static DH_LEN], const uint8_t priv[static 32], const uint8_t pub[static 32])
{
	if (crypto_scalarmult(out, priv, pub) != 0) {
		sodium_memzero(out, DH_LEN);
		return BC_ERR_AUTH;
	}
	return BC_OK;
}

void bc_x3dh_keys_wipe(bc_x3dh_keys *k)
{
	if (k != NULL)
		sodium_memzero(k, sizeof(*k));
}

void bc_x3dh_pending_wipe(bc_x3dh_pending *p)
{
	if (p != NULL)
		sodium_memzero(p, sizeof(*p));
}

/* ---- KDFs ------------------------------------------------------------------- */

int bc_x3dh_kdf(const uint8_t dh1[static 32], const uint8_t dh2[static 32],
		const uint8_t dh3[static 32], const uint8_t *dh4, uint8_t sk[static BC_X3DH_KEY_LEN],
		uint8_t hka[static BC_X3DH_KEY_LEN], uint8_t nhkb[static BC_X3DH_KEY_LEN])
{
	uint8_t km[F_LEN + 4 * DH_LEN];
	uint8_t okm[3 * BC_X3DH_KEY_LEN];
	size_t kmlen = F_LEN + (dh4 != NULL ? 4 : 3) * DH_LEN;
	bc_wr w;
	int err;

	bc_wr_init_fixed(&w, km, sizeof(km));
	for (size_t i = 0; i < F_LEN; i++)
		bc_wr_u8(&w, 0xFF);
	bc_wr_raw(&w, dh1, DH_LEN);
	bc_wr_raw(&w, dh2, DH_LEN);
	bc_wr_raw(&w, dh3, DH_LEN);
	if (dh4 != NULL)
		bc_wr_raw(&w, dh4, DH_LEN);
	if ((err = bc_wr_finish_exact(&w, kmlen)) != BC_OK)
		goto out;
	err = bc_hkdf(BC_HASH_SHA256, zero_salt, sizeof(zero_salt), km, kmlen,
		      (const uint8_t *)BC_X3DH_INFO, INFO_LEN, okm, sizeof(okm));
	if (err != BC_OK)
		goto out;
	memcpy(sk, okm, BC_X3DH_KEY_LEN);
	memcpy(hka, okm + BC_X3DH_KEY_LEN, BC_X3DH_KEY_LEN);
	memcpy(nhkb, okm + 2 * BC_X3DH_KEY_LEN, BC_X3DH_KEY_LEN);
out:
	if (err != BC_OK) {
		sodium_memzero(sk, BC_X3DH_KEY_LEN);
		sodium_memzero(hka, BC_X3DH_KEY_LEN);
		sodium_memzero(nhkb, BC_X3DH_KEY_LEN);
	}
	sodium_memzero(km, sizeof(km));
	sodium_memzero(okm, sizeof(okm));
	return err;
}

int bc_x3dh_identity_key(const uint8_t dh3[static 32], uint8_t key[static BC_X3DH_KEY_LEN])
{
	uint8_t km[F_LEN + DH_LEN];
	int err;

	memset(km, 0xFF, F_LEN);
	memcpy(km + F_LEN, dh3, DH_LEN);
	err = bc_hkdf(BC_HASH_SHA256, zero_salt, sizeof(zero_salt), km, sizeof(km),
		      (const uint8_t *)BC_X3DH_ID_INFO, ID_INFO_LEN, key, BC_X3DH_KEY_LEN);
	sodium_memzero(km, sizeof(km));
	return err;
}

int bc_x3dh_ad(const bc_identity_pub *a, const bc_identity_pub *b, uint8_t ad[static BC_X3DH_AD_LEN])
{
	bc_wr w;

	if (a == NULL || b == NULL)
		return BC_ERR_INVALID;
	bc_wr_init_fixed(&w, ad, BC_X3DH_AD_LEN);
	bc_wr_raw(&w, BC_X3DH_AD_LABEL, AD_LABEL_LEN);
	bc_wr_raw(&w, a->sign_pub, sizeof(a->sign_pub));
	bc_wr_raw(&w, a->dh_pub, sizeof(a->dh_pub));
	bc_wr_raw(&w, b->sign_pub, sizeof(b->sign_pub));
	bc_wr_raw(&w, b->dh_pub, sizeof(b->dh_pub));
	return bc_wr_finish_exact(&w, BC_X3DH_AD_LEN);
}

int bc_x3dh_replay_tag(const uint8_t ek_pub[static 32], uint32_t spk_id,
		       uint8_t tag[static BC_PREKEY_REPLAY_TAG_LEN])
{
	uint8_t msg[REPLAY_LABEL_LEN + 32 + 4];
	bc_wr w;
	int err;

	bc_wr_init_fixed(&w, msg, sizeof(msg));
	bc_wr_raw(&w, BC_X3DH_REPLAY_LABEL, REPLAY_LABEL_LEN);
	bc_wr_raw(&w, ek_pub, 32);
	bc_wr_u32(&w, spk_id);
	if ((err = bc_wr_finish_exact(&w, sizeof(msg))) != BC_OK)
		return err;
	if (crypto_generichash(tag, BC_PREKEY_REPLAY_TAG_LEN, msg, sizeof(msg), NULL, 0) != 0)
		return BC_ERR_CRYPTO;
	return BC_OK;
}

/* ---- header ------------------------------------------------------------------ */

/* Write the header fields before sealed_id (sealed_id's associated data);
 * errors stick to w. */
static void write_prefix(bc_wr *w, const bc_x3dh_header *h)
{
	bc_wr_u8(w, BC_X3DH_VERSION);
	bc_wr_raw(w, h->ek_pub, sizeof(h->ek_pub));
	bc_wr_u32(w, h->spk_id);
	bc_wr_bool(w, h->has_opk);
	if (h->has_opk)
		bc_wr_u32(w, h->opk_id);
}

static size_t header_len(bool has_opk)
{
	return has_opk ? BC_X3DH_HEADER_MAX : BC_X3DH_HEADER_MIN;
}

int bc_x3dh_header_encode(const bc_x3dh_header *h, uint8_t out[static BC_X3DH_HEADER_MAX],
			  size_t *len)
{
	size_t want;
	bc_wr w;
	int err;

	if (h == NULL || len == NULL)
		return BC_ERR_INVALID;
	*len = 0;
	want = header_len(h->has_opk);
	bc_wr_init_fixed(&w, out, want);
	write_prefix(&w, h);
	bc_wr_raw(&w, h->sealed_id, sizeof(h->sealed_id));
	if ((err = bc_wr_finish_exact(&w, want)) != BC_OK)
		return err;
	*len = want;
	return BC_OK;
}

int bc_x3dh_header_size(const uint8_t *in, size_t len, size_t *hlen)
{
	const size_t flag_at = 1 + 32 + 4;

	if (hlen == NULL || (in == NULL && len > 0))
		return BC_ERR_INVALID;
	*hlen = 0;
	if (len < 1)
		return BC_ERR_MALFORMED;
	if (in[0] != BC_X3DH_VERSION)
		return BC_ERR_VERSION;
	if (len <= flag_at || in[flag_at] > 1)
		return BC_ERR_MALFORMED;
	*hlen = header_len(in[flag_at] == 1);
	return BC_OK;
}

int bc_x3dh_header_parse(bc_x3dh_header *h, const uint8_t *in, size_t len)
{
	bc_x3dh_header t;
	uint8_t version = 0;
	bc_rd r;
	int err;

	if (h == NULL || (in == NULL && len > 0))
		return BC_ERR_INVALID;
	memset(&t, 0, sizeof(t));
	bc_rd_init(&r, in, len);
	if ((err = bc_rd_u8(&r, &version)) != BC_OK)
		return err;
	if (version != BC_X3DH_VERSION)
		return BC_ERR_VERSION;
	bc_rd_raw(&r, t.ek_pub, sizeof(t.ek_pub));
	bc_rd_u32(&r, &t.spk_id);
	bc_rd_bool(&r, &t.has_opk);
	if (t.has_opk)
		bc_rd_u32(&r, &t.opk_id);
	bc_rd_raw(&r, t.sealed_id, sizeof(t.sealed_id));
	if ((err = bc_rd_end(&r)) != BC_OK)
		return err;
	if (t.spk_id == 0 || (t.has_opk && t.opk_id == 0))
		return BC_ERR_MALFORMED;
	if ((err = bc_x25519_check_public(t.ek_pub)) != BC_OK)
		return err;
	memcpy(h, &t, sizeof(t));
	return BC_OK;
}

/* ---- initiator ------------------------------------------------------------------- */

int bc_x3dh_initiate_with_ephemeral(const bc_identity *self, const bc_prekey_bundle *bundle,
				    const bc_prekey_onetime *opk,
				    const uint8_t ek_priv[static BC_X3DH_KEY_LEN],
				    bc_x3dh_keys *keys, uint8_t header[static BC_X3DH_HEADER_MAX],
				    size_t *header_len_out)
{
	uint8_t ek[BC_X3DH_KEY_LEN];
	uint8_t dh1[DH_LEN], dh2[DH_LEN], dh3[DH_LEN], dh4[DH_LEN];
	uint8_t idkey[BC_X3DH_KEY_LEN];
	uint8_t idenc[BC_IDENTITY_PUBLIC_LEN];
	bc_x3dh_header h;
	size_t prefix_len, hlen = 0;
	unsigned long long clen = 0;
	bc_wr w;
	int err;

	if (self == NULL || bundle == NULL || keys == NULL || header_len_out == NULL)
		return BC_ERR_INVALID;
	*header_len_out = 0;
	memcpy(ek, ek_priv, sizeof(ek));
	memset(&h, 0, sizeof(h));
	bc_x3dh_keys_wipe(keys);

	err = BC_ERR_CRYPTO;
	if (crypto_scalarmult_base(h.ek_pub, ek) != 0)
		goto out;
	h.spk_id = bundle->spk_id;
	h.has_opk = opk != NULL;
	h.opk_id = opk != NULL ? opk->opk_id : 0;

	if ((err = dh(dh1, self->dh_priv, bundle->spk_pub)) != BC_OK ||
	    (err = dh(dh2, ek, bundle->id.dh_pub)) != BC_OK ||
	    (err = dh(dh3, ek, bundle->spk_pub)) != BC_OK)
		goto out;
	if (opk != NULL && (err = dh(dh4, ek, opk->opk_pub)) != BC_OK)
		goto out;

	/* The header: the prefix is sealed_id's associated data. */
	prefix_len = header_len(h.has_opk) - BC_X3DH_SEALED_ID_LEN;
	bc_wr_init_fixed(&w, header, prefix_len);
	write_prefix(&w, &h);
	if ((err = bc_wr_finish_exact(&w, prefix_len)) != BC_OK)
		goto out;
	if ((err = bc_x3dh_identity_key(dh3, idkey)) != BC_OK)
		goto out;
	if ((err = bc_identity_encode_public(&self->pub, idenc)) != BC_OK)
		goto out;
	if (crypto_aead_chacha20poly1305_ietf_encrypt(header + prefix_len, &clen, idenc,
						      sizeof(idenc), header, prefix_len, NULL,
						      zero_nonce, idkey) != 0 ||
	    clen != BC_X3DH_SEALED_ID_LEN) {
		err = BC_ERR_CRYPTO;
		goto out;
	}
	hlen = prefix_len + BC_X3DH_SEALED_ID_LEN;

	if ((err = bc_x3dh_kdf(dh1, dh2, dh3, opk != NULL ? dh4 : NULL, keys->sk, keys->hka,
			       keys->nhkb)) != BC_OK)
		goto out;
	if ((err = bc_x3dh_ad(&self->pub, &bundle->id, keys->ad)) != BC_OK)
		goto out;
	memcpy(keys->spk_pub, bundle->spk_pub, sizeof(keys->spk_pub));
	memcpy(&keys->peer, &bundle->id, sizeof(keys->peer));
	*header_len_out = hlen;
out:
	if (err != BC_OK) {
		bc_x3dh_keys_wipe(keys);
		sodium_memzero(header, BC_X3DH_HEADER_MAX);
	}
	sodium_memzero(ek, sizeof(ek));
	sodium_memzero(dh1, sizeof(dh1));
	sodium_memzero(dh2, sizeof(dh2));
	sodium_memzero(dh3, sizeof(dh3));
	sodium_memzero(dh4, sizeof(dh4));
	sodium_memzero(idkey, sizeof(idkey));
	return err;
}

int bc_x3dh_initiate(const bc_identity *self, const bc_prekey_bundle *bundle,
		     const bc_prekey_onetime *opk, bc_x3dh_keys *keys,
		     uint8_t header[static BC_X3DH_HEADER_MAX], size_t *header_len_out)
{
	uint8_t ek[BC_X3DH_KEY_LEN];
	int err;

	randombytes_buf(ek, sizeof(ek));
	err = bc_x3dh_initiate_with_ephemeral(self, bundle, opk, ek, keys, header, header_len_out);
	sodium_memzero(ek, sizeof(ek));
	return err;
}

/* ---- responder --------------------------------------------------------------------- */

int bc_x3dh_respond(const bc_prekey_supply *s, const bc_identity *self, const uint8_t *in,
		    size_t len, bc_x3dh_pending *p)
{
	uint8_t spk_priv[BC_PREKEY_KEY_LEN], spk_pub[BC_PREKEY_KEY_LEN];
	uint8_t opk_priv[BC_PREKEY_KEY_LEN];
	uint8_t dh1[DH_LEN], dh2[DH_LEN], dh3[DH_LEN], dh4[DH_LEN];
	uint8_t idkey[BC_X3DH_KEY_LEN];
	uint8_t idenc[BC_IDENTITY_PUBLIC_LEN];
	bc_identity_pub peer;
	bc_x3dh_header h;
	size_t prefix_len;
	unsigned long long mlen = 0;
	int err;

	if (p == NULL)
		return BC_ERR_INVALID;
	bc_x3dh_pending_wipe(p);
	if (s == NULL || self == NULL ||
	    !bc_identity_equal(bc_prekey_supply_owner(s), &self->pub))
		return BC_ERR_INVALID;
	if ((err = bc_x3dh_header_parse(&h, in, len)) != BC_OK)
		return err;
	prefix_len = len - BC_X3DH_SEALED_ID_LEN;

	if ((err = bc_prekey_supply_find_spk(s, h.spk_id, spk_priv, spk_pub)) != BC_OK)
		goto out;
	if ((err = bc_x3dh_replay_tag(h.ek_pub, h.spk_id, p->replay_tag)) != BC_OK)
		goto out;
	if (h.has_opk)
		err = bc_prekey_supply_find_onetime(s, h.opk_id, opk_priv);
	else
		err = bc_prekey_supply_replay_check(s, h.spk_id, p->replay_tag);
	if (err != BC_OK)
		goto out;

	/* Open A's identity with the key only the holder of EK_A and we can
	 * compute. */
	if ((err = dh(dh3, spk_priv, h.ek_pub)) != BC_OK)
		goto out;
	if ((err = bc_x3dh_identity_key(dh3, idkey)) != BC_OK)
		goto out;
	if (crypto_aead_chacha20poly1305_ietf_decrypt(idenc, &mlen, NULL, in + prefix_len,
						      BC_X3DH_SEALED_ID_LEN, in, prefix_len,
						      zero_nonce, idkey) != 0 ||
	    mlen != sizeof(idenc)) {
		err = BC_ERR_AUTH;
		goto out;
	}
	if ((err = bc_identity_decode_public(&peer, idenc, sizeof(idenc))) != BC_OK)
		goto out;

	if ((err = dh(dh1, spk_priv, peer.dh_pub)) != BC_OK ||
	    (err = dh(dh2, self->dh_priv, h.ek_pub)) != BC_OK)
		goto out;
	if (h.has_opk && (err = dh(dh4, opk_priv, h.ek_pub)) != BC_OK)
		goto out;
	if ((err = bc_x3dh_kdf(dh1, dh2, dh3, h.has_opk ? dh4 : NULL, p->keys.sk, p->keys.hka,
			       p->keys.nhkb)) != BC_OK)
		goto out;
	if ((err = bc_x3dh_ad(&peer, &self->pub, p->keys.ad)) != BC_OK)
		goto out;
	memcpy(p->keys.spk_pub, spk_pub, sizeof(spk_pub));
	memcpy(&p->keys.peer, &peer, sizeof(peer));
	memcpy(p->spk_priv, spk_priv, sizeof(spk_priv));
	p->spk_id = h.spk_id;
	p->has_opk = h.has_opk;
	p->opk_id = h.opk_id;
out:
	if (err != BC_OK)
		bc_x3dh_pending_wipe(p);
	sodium_memzero(spk_priv, sizeof(spk_priv));
	sodium_memzero(opk_priv, sizeof(opk_priv));
	sodium_memzero(dh1, sizeof(dh1));
	sodium_memzero(dh2, sizeof(dh2));
	sodium_memzero(dh3, sizeof(dh3));
	sodium_memzero(dh4, sizeof(dh4));
	sodium_memzero(idkey, sizeof(idkey));
	sodium_memzero(idenc, sizeof(idenc));
	return err;
}

int bc_x3dh_commit(bc_prekey_supply *s, const bc_x3dh_pending *p)
{
	const bc_identity_pub *owner;
	int err;

	if (s == NULL || p == NULL || p->spk_id == 0)
		return BC_ERR_INVALID;
	/* AD = label || initiator keys || responder keys: p must be ours. */
	owner = bc_prekey_supply_owner(s);
	if (memcmp(p->keys.ad + AD_LABEL_LEN + 64, owner->sign_pub, 32) != 0 ||
	    memcmp(p->keys.ad + AD_LABEL_LEN + 96, owner->dh_pub, 32) != 0)
		return BC_ERR_INVALID;
	if (p->has_opk)
		return bc_prekey_supply_delete_onetime(s, p->opk_id);
	err = bc_prekey_supply_replay_add(s, p->spk_id, p->replay_tag);
	if (err == BC_ERR_NOTFOUND) /* the signed prekey is gone: so are replays */
		err = BC_OK;
	return err;
}
