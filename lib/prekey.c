/*
 * prekey.c - signed and one-time prekeys: the blobs the relay serves, and
 * the owner's supply of private keys behind them.
 *
 * Purpose: the sender side parses and verifies what PREKEY_GET returned;
 * the owner side makes, rotates, looks up, deletes and serialises the
 * private keys, and keeps the replay cache that x3dh.c consults for
 * initial messages without a one-time prekey. Formats: prekey.h and
 * docs/PROTOCOL.md §12.3, every layout through the codec.
 *
 * Invariants of a bc_prekey_supply:
 *   - owner is a verified public identity; cur (and prev when has_prev)
 *     carry a signature by owner that verifies, and pub = X25519(priv);
 *   - ids: 1 <= prev.id < cur.id; the one-time keys opk[0..n_opk) have
 *     strictly increasing ids, all in 1..last_opk_id; new keys always get
 *     ids above every id ever issued, so no id is reused;
 *   - replay[0..n_replay) is strictly increasing in (spk_id, tag) and every
 *     spk_id is cur.id or (with has_prev) prev.id; n_replay <=
 *     BC_PREKEY_REPLAY_MAX and entries are never evicted, only dropped with
 *     their signed prekey;
 *   - every slot past n_opk / n_replay is all zeros: removing an entry
 *     wipes the slot it vacates, so no deleted private key survives in the
 *     object (that deletion is what makes a replayed initial message that
 *     used a one-time prekey fail);
 *   - the whole object is one allocation, locked in memory when the system
 *     allows it (best effort), wiped before it is freed;
 *   - every mutating call either succeeds or leaves the supply unchanged.
 */
#include <string.h>

#include <sodium.h>

#include "identity.h"
#include "internal.h"
#include "prekey.h"

_Static_assert(BC_PREKEY_GRACE <= BC_PREKEY_ROTATE_INTERVAL, "one previous SPK is kept");
_Static_assert(BC_PREKEY_MAX_ONETIME <= UINT16_MAX && BC_PREKEY_REPLAY_MAX <= UINT16_MAX,
	       "counts are u16 on the wire");

#define SPK_LABEL_LEN (sizeof(BC_PREKEY_SPK_LABEL) - 1)
#define SPK_MSG_LEN (SPK_LABEL_LEN + 4 + BC_PREKEY_KEY_LEN + 8)
#define SUPPLY_VERSION 1

struct spk {
	uint32_t id;
	uint64_t created;
	uint64_t retired; /* prev only: when it was replaced */
	uint8_t priv[BC_PREKEY_KEY_LEN];
	uint8_t pub[BC_PREKEY_KEY_LEN];
	uint8_t sig[BC_PREKEY_SIG_LEN];
};

struct opk {
	uint32_t id;
	uint8_t priv[BC_PREKEY_KEY_LEN];
};

struct rentry {
	uint32_t spk_id;
	uint8_t tag[BC_PREKEY_REPLAY_TAG_LEN];
};

struct bc_prekey_supply {
	bc_identity_pub owner;
	struct spk cur;
	struct spk prev;
	bool has_prev;
	bool locked; /* sodium_mlock succeeded */
	uint32_t last_opk_id;
	size_t n_opk;
	size_t n_replay;
	bc_prekey_test_rng_fn rng;
	void *rng_ctx;
	struct opk opk[BC_PREKEY_MAX_ONETIME];
	struct rentry replay[BC_PREKEY_REPLAY_MAX];
};

/* Serialised sizes (docs/PROTOCOL.md §12.3.5). */
#define SER_SPK_LEN (4 + 8 + BC_PREKEY_KEY_LEN + BC_PREKEY_SIG_LEN)
#define SER_OPK_LEN (4 + BC_PREKEY_KEY_LEN)
#define SER_REPLAY_LEN (4 + BC_PREKEY_REPLAY_TAG_LEN)



/* ---- signatures ------------------------------------------------------------ */

static int spk_message(uint32_t spk_id, const uint8_t spk_pub[static BC_PREKEY_KEY_LEN],
		       uint64_t created, uint8_t msg[static SPK_MSG_LEN])
{
	bc_wr w;

	bc_wr_init_fixed(&w, msg, SPK_MSG_LEN);
	bc_wr_raw(&w, BC_PREKEY_SPK_LABEL, SPK_LABEL_LEN);
	bc_wr_u32(&w, spk_id);
	bc_wr_raw(&w, spk_pub, BC_PREKEY_KEY_LEN);
	bc_wr_u64(&w, created);
	return bc_wr_finish_exact(&w, SPK_MSG_LEN);
}

int bc_prekey_sign(const bc_identity *id, uint32_t spk_id,
		   const uint8_t spk_pub[static BC_PREKEY_KEY_LEN], uint64_t created,
		   uint8_t sig[static BC_PREKEY_SIG_LEN])
{
	uint8_t msg[SPK_MSG_LEN];
	int err;

	if (id == NULL)
		return BC_ERR_INVALID;
	if ((err = spk_message(spk_id, spk_pub, created, msg)) != BC_OK)
		return err;
	if (crypto_sign_detached(sig, NULL, msg, sizeof(msg), id->sign_sk) != 0)
		return BC_ERR_CRYPTO;
	return BC_OK;
}

static int spk_verify(const uint8_t sign_pub[static BC_IDENTITY_SIGN_PUB_LEN], uint32_t spk_id,
		      const uint8_t spk_pub[static BC_PREKEY_KEY_LEN], uint64_t created,
		      const uint8_t sig[static BC_PREKEY_SIG_LEN])
{
	uint8_t msg[SPK_MSG_LEN];
	int err;

	if ((err = spk_message(spk_id, spk_pub, created, msg)) != BC_OK)
		return err;
	if (crypto_sign_verify_detached(sig, msg, sizeof(msg), sign_pub) != 0)
		return BC_ERR_AUTH;
	return BC_OK;
}

/* ---- blobs ------------------------------------------------------------------ */

int bc_prekey_bundle_encode(const bc_prekey_bundle *b, uint8_t out[static BC_PREKEY_BUNDLE_LEN])
{
	bc_wr w;

	if (b == NULL)
		return BC_ERR_INVALID;
	bc_wr_init_fixed(&w, out, BC_PREKEY_BUNDLE_LEN);
	bc_wr_u8(&w, BC_PREKEY_VERSION);
	bc_identity_write_public(&w, &b->id);
	bc_wr_u32(&w, b->spk_id);
	bc_wr_raw(&w, b->spk_pub, sizeof(b->spk_pub));
	bc_wr_u64(&w, b->created);
	bc_wr_raw(&w, b->spk_sig, sizeof(b->spk_sig));
	return bc_wr_finish_exact(&w, BC_PREKEY_BUNDLE_LEN);
}

int bc_prekey_bundle_parse(bc_prekey_bundle *out, const uint8_t *in, size_t len,
			   const bc_identity_pub *expected, uint64_t now, uint64_t max_age)
{
	bc_prekey_bundle b;
	const uint8_t *idref = NULL;
	uint8_t version = 0;
	bc_rd r;
	int err;

	if (out == NULL || expected == NULL || (in == NULL && len > 0))
		return BC_ERR_INVALID;
	memset(&b, 0, sizeof(b));
	bc_rd_init(&r, in, len);
	if ((err = bc_rd_u8(&r, &version)) != BC_OK)
		return err;
	if (version != BC_PREKEY_VERSION)
		return BC_ERR_VERSION;
	bc_rd_ref(&r, BC_IDENTITY_PUBLIC_LEN, &idref);
	bc_rd_u32(&r, &b.spk_id);
	bc_rd_raw(&r, b.spk_pub, sizeof(b.spk_pub));
	bc_rd_u64(&r, &b.created);
	bc_rd_raw(&r, b.spk_sig, sizeof(b.spk_sig));
	if ((err = bc_rd_end(&r)) != BC_OK)
		return err;
	if (b.spk_id == 0)
		return BC_ERR_MALFORMED;

	if ((err = bc_identity_decode_public(&b.id, idref, BC_IDENTITY_PUBLIC_LEN)) != BC_OK)
		return err;
	if (!bc_identity_equal(&b.id, expected))
		return BC_ERR_AUTH;
	if ((err = bc_x25519_check_public(b.spk_pub)) != BC_OK)
		return err;
	if ((err = spk_verify(b.id.sign_pub, b.spk_id, b.spk_pub, b.created, b.spk_sig)) != BC_OK)
		return err;

	if (b.created < now && now - b.created > max_age)
		return BC_ERR_STATE;
	if (b.created > now && b.created - now > BC_PREKEY_MAX_FUTURE)
		return BC_ERR_STATE;
	memcpy(out, &b, sizeof(b));
	return BC_OK;
}

int bc_prekey_onetime_encode(const bc_prekey_onetime *o, uint8_t out[static BC_PREKEY_ONETIME_LEN])
{
	bc_wr w;

	if (o == NULL)
		return BC_ERR_INVALID;
	bc_wr_init_fixed(&w, out, BC_PREKEY_ONETIME_LEN);
	bc_wr_u8(&w, BC_PREKEY_VERSION);
	bc_wr_u32(&w, o->opk_id);
	bc_wr_raw(&w, o->opk_pub, sizeof(o->opk_pub));
	return bc_wr_finish_exact(&w, BC_PREKEY_ONETIME_LEN);
}

int bc_prekey_onetime_parse(bc_prekey_onetime *out, const uint8_t *in, size_t len)
{
	bc_prekey_onetime o;
	uint8_t version = 0;
	bc_rd r;
	int err;

	if (out == NULL || (in == NULL && len > 0))
		return BC_ERR_INVALID;
	bc_rd_init(&r, in, len);
	if ((err = bc_rd_u8(&r, &version)) != BC_OK)
		return err;
	if (version != BC_PREKEY_VERSION)
		return BC_ERR_VERSION;
	bc_rd_u32(&r, &o.opk_id);
	bc_rd_raw(&r, o.opk_pub, sizeof(o.opk_pub));
	if ((err = bc_rd_end(&r)) != BC_OK)
		return err;
	if (o.opk_id == 0)
		return BC_ERR_MALFORMED;
	if ((err = bc_x25519_check_public(o.opk_pub)) != BC_OK)
		return err;
	memcpy(out, &o, sizeof(o));
	return BC_OK;
}

size_t bc_prekey_wanted(uint32_t relay_remaining)
{
	size_t n;

	if (relay_remaining >= BC_PREKEY_LOW_WATER)
		return 0;
	n = BC_PREKEY_TARGET - relay_remaining;
	return n < BC_PREKEY_MAX_BATCH ? n : BC_PREKEY_MAX_BATCH;
}

/* ---- supply: helpers ---------------------------------------------------------- */

static bool owner_is(const bc_prekey_supply *s, const bc_identity *id)
{
	return id != NULL && bc_identity_equal(&s->owner, &id->pub);
}

/* A fresh X25519 key pair from the hook or the system. */
static int new_key(const bc_prekey_supply *s, uint8_t priv[static BC_PREKEY_KEY_LEN],
		   uint8_t pub[static BC_PREKEY_KEY_LEN])
{
	if (s->rng != NULL) {
		if (s->rng(s->rng_ctx, priv) != 0)
			goto fail;
	} else {
		randombytes_buf(priv, BC_PREKEY_KEY_LEN);
	}
	if (crypto_scalarmult_base(pub, priv) != 0)
		goto fail;
	return BC_OK;
fail:
	sodium_memzero(priv, BC_PREKEY_KEY_LEN);
	return BC_ERR_CRYPTO;
}

/* A new signed prekey into *k (wiped on failure). */
static int make_spk(const bc_prekey_supply *s, const bc_identity *id, uint32_t spk_id,
		    uint64_t now, struct spk *k)
{
	int err;

	memset(k, 0, sizeof(*k));
	k->id = spk_id;
	k->created = now;
	if ((err = new_key(s, k->priv, k->pub)) != BC_OK)
		goto out;
	err = bc_prekey_sign(id, spk_id, k->pub, now, k->sig);
out:
	if (err != BC_OK)
		sodium_memzero(k, sizeof(*k));
	return err;
}

static int rentry_cmp(uint32_t spk_id, const uint8_t *tag, const struct rentry *e)
{
	if (spk_id != e->spk_id)
		return spk_id < e->spk_id ? -1 : 1;
	return memcmp(tag, e->tag, BC_PREKEY_REPLAY_TAG_LEN);
}

/* Index of the first entry >= (spk_id, tag); *found if equal. */
static size_t replay_search(const bc_prekey_supply *s, uint32_t spk_id, const uint8_t *tag,
			    bool *found)
{
	size_t lo = 0, hi = s->n_replay;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (rentry_cmp(spk_id, tag, &s->replay[mid]) > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < s->n_replay && rentry_cmp(spk_id, tag, &s->replay[lo]) == 0;
	return lo;
}

/* Drop every replay entry of spk_id, wiping the vacated slots. */
static void replay_drop(bc_prekey_supply *s, uint32_t spk_id)
{
	size_t o = 0;

	for (size_t i = 0; i < s->n_replay; i++) {
		if (s->replay[i].spk_id == spk_id)
			continue;
		if (o != i)
			s->replay[o] = s->replay[i];
		o++;
	}
	sodium_memzero(&s->replay[o], (s->n_replay - o) * sizeof(s->replay[0]));
	s->n_replay = o;
}

static size_t opk_search(const bc_prekey_supply *s, uint32_t opk_id, bool *found)
{
	size_t lo = 0, hi = s->n_opk;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->opk[mid].id < opk_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < s->n_opk && s->opk[lo].id == opk_id;
	return lo;
}

/* Remove opk[i..i+n), shifting the rest down and wiping the vacated tail. */
static void opk_remove(bc_prekey_supply *s, size_t i, size_t n)
{
	memmove(&s->opk[i], &s->opk[i + n], (s->n_opk - i - n) * sizeof(s->opk[0]));
	sodium_memzero(&s->opk[s->n_opk - n], n * sizeof(s->opk[0]));
	s->n_opk -= n;
}

static bool spk_held(const bc_prekey_supply *s, uint32_t spk_id)
{
	return s->cur.id == spk_id || (s->has_prev && s->prev.id == spk_id);
}

static int supply_alloc(bc_prekey_supply **out)
{
	bc_prekey_supply *s = bc_calloc(1, sizeof(*s));

	if (s == NULL)
		return BC_ERR_NOMEM;
	/* Best effort: RLIMIT_MEMLOCK may forbid it; the object is wiped
	 * before it is freed either way. */
	s->locked = sodium_mlock(s, sizeof(*s)) == 0;
	*out = s;
	return BC_OK;
}

void bc_prekey_supply_free(bc_prekey_supply *s)
{
	if (s == NULL)
		return;
	if (s->locked) {
		if (sodium_munlock(s, sizeof(*s)) != 0) /* wipes, then unlocks */
			sodium_memzero(s, sizeof(*s));
	} else {
		sodium_memzero(s, sizeof(*s));
	}
	bc_free(s);
}

/* ---- supply: life cycle --------------------------------------------------------- */

int bc_prekey_supply_new_test(bc_prekey_supply **out, const bc_identity *id, uint64_t now,
			      bc_prekey_test_rng_fn fn, void *ctx)
{
	bc_prekey_supply *s = NULL;
	int err;

	if (out == NULL || id == NULL)
		return BC_ERR_INVALID;
	if ((err = supply_alloc(&s)) != BC_OK)
		return err;
	memcpy(&s->owner, &id->pub, sizeof(s->owner));
	s->rng = fn;
	s->rng_ctx = ctx;
	if ((err = make_spk(s, id, 1, now, &s->cur)) != BC_OK)
		goto out;
	*out = s;
	s = NULL;
out:
	bc_prekey_supply_free(s);
	return err;
}

int bc_prekey_supply_new(bc_prekey_supply **out, const bc_identity *id, uint64_t now)
{
	return bc_prekey_supply_new_test(out, id, now, NULL, NULL);
}

int bc_prekey_supply_bundle(const bc_prekey_supply *s, uint8_t out[static BC_PREKEY_BUNDLE_LEN])
{
	bc_prekey_bundle b;

	if (s == NULL)
		return BC_ERR_INVALID;
	memcpy(&b.id, &s->owner, sizeof(b.id));
	b.spk_id = s->cur.id;
	memcpy(b.spk_pub, s->cur.pub, sizeof(b.spk_pub));
	b.created = s->cur.created;
	memcpy(b.spk_sig, s->cur.sig, sizeof(b.spk_sig));
	return bc_prekey_bundle_encode(&b, out);
}

const bc_identity_pub *bc_prekey_supply_owner(const bc_prekey_supply *s)
{
	return &s->owner;
}

uint32_t bc_prekey_supply_spk_id(const bc_prekey_supply *s)
{
	return s->cur.id;
}

uint64_t bc_prekey_supply_spk_created(const bc_prekey_supply *s)
{
	return s->cur.created;
}

size_t bc_prekey_supply_onetime_count(const bc_prekey_supply *s)
{
	return s->n_opk;
}

size_t bc_prekey_supply_replay_count(const bc_prekey_supply *s)
{
	return s->n_replay;
}

static void drop_prev(bc_prekey_supply *s)
{
	if (!s->has_prev)
		return;
	replay_drop(s, s->prev.id);
	sodium_memzero(&s->prev, sizeof(s->prev));
	s->has_prev = false;
}

int bc_prekey_supply_rotate(bc_prekey_supply *s, const bc_identity *id, uint64_t now)
{
	struct spk next;
	int err;

	if (s == NULL || !owner_is(s, id))
		return BC_ERR_INVALID;
	if (s->cur.id == UINT32_MAX)
		return BC_ERR_STATE;
	if ((err = make_spk(s, id, s->cur.id + 1, now, &next)) != BC_OK)
		return err;
	drop_prev(s);
	s->prev = s->cur;
	s->prev.retired = now;
	s->has_prev = true;
	s->cur = next;
	sodium_memzero(&next, sizeof(next));
	return BC_OK;
}

bool bc_prekey_supply_expire(bc_prekey_supply *s, uint64_t now, uint64_t grace)
{
	if (s == NULL || !s->has_prev || now < s->prev.retired || now - s->prev.retired < grace)
		return false;
	drop_prev(s);
	return true;
}

int bc_prekey_supply_maintain(bc_prekey_supply *s, const bc_identity *id, uint64_t now,
			      bool *rotated)
{
	int err;

	if (rotated != NULL)
		*rotated = false;
	if (s == NULL || !owner_is(s, id))
		return BC_ERR_INVALID;
	(void)bc_prekey_supply_expire(s, now, BC_PREKEY_GRACE);
	if (now < s->cur.created || now - s->cur.created < BC_PREKEY_ROTATE_INTERVAL)
		return BC_OK;
	if ((err = bc_prekey_supply_rotate(s, id, now)) != BC_OK)
		return err;
	if (rotated != NULL)
		*rotated = true;
	return BC_OK;
}

int bc_prekey_supply_add_onetime(bc_prekey_supply *s, size_t n,
				 uint8_t (*blobs)[BC_PREKEY_ONETIME_LEN])
{
	struct opk fresh[BC_PREKEY_MAX_BATCH];
	bc_prekey_onetime o;
	size_t i = 0;
	int err = BC_OK;

	if (s == NULL || blobs == NULL || n == 0 || n > BC_PREKEY_MAX_BATCH)
		return BC_ERR_INVALID;
	if ((uint64_t)s->last_opk_id + n > UINT32_MAX)
		return BC_ERR_STATE;
	for (i = 0; i < n; i++) {
		fresh[i].id = s->last_opk_id + (uint32_t)i + 1;
		o.opk_id = fresh[i].id;
		if ((err = new_key(s, fresh[i].priv, o.opk_pub)) != BC_OK)
			goto out;
		if ((err = bc_prekey_onetime_encode(&o, blobs[i])) != BC_OK)
			goto out;
	}
	if (s->n_opk + n > BC_PREKEY_MAX_ONETIME)
		opk_remove(s, 0, s->n_opk + n - BC_PREKEY_MAX_ONETIME);
	memcpy(&s->opk[s->n_opk], fresh, n * sizeof(fresh[0]));
	s->n_opk += n;
	s->last_opk_id += (uint32_t)n;
out:
	if (err != BC_OK)
		sodium_memzero(blobs, n * sizeof(blobs[0]));
	sodium_memzero(fresh, sizeof(fresh));
	return err;
}

/* ---- supply: lookups ------------------------------------------------------------ */

int bc_prekey_supply_find_spk(const bc_prekey_supply *s, uint32_t spk_id,
			      uint8_t priv[static BC_PREKEY_KEY_LEN],
			      uint8_t pub[static BC_PREKEY_KEY_LEN])
{
	const struct spk *k;

	if (s == NULL)
		return BC_ERR_INVALID;
	if (spk_id != 0 && s->cur.id == spk_id)
		k = &s->cur;
	else if (spk_id != 0 && s->has_prev && s->prev.id == spk_id)
		k = &s->prev;
	else
		return BC_ERR_NOTFOUND;
	memcpy(priv, k->priv, BC_PREKEY_KEY_LEN);
	memcpy(pub, k->pub, BC_PREKEY_KEY_LEN);
	return BC_OK;
}

int bc_prekey_supply_find_onetime(const bc_prekey_supply *s, uint32_t opk_id,
				  uint8_t priv[static BC_PREKEY_KEY_LEN])
{
	bool found;
	size_t i;

	if (s == NULL)
		return BC_ERR_INVALID;
	i = opk_search(s, opk_id, &found);
	if (!found)
		return BC_ERR_NOTFOUND;
	memcpy(priv, s->opk[i].priv, BC_PREKEY_KEY_LEN);
	return BC_OK;
}

int bc_prekey_supply_delete_onetime(bc_prekey_supply *s, uint32_t opk_id)
{
	bool found;
	size_t i;

	if (s == NULL)
		return BC_ERR_INVALID;
	i = opk_search(s, opk_id, &found);
	if (!found)
		return BC_ERR_NOTFOUND;
	opk_remove(s, i, 1);
	return BC_OK;
}

int bc_prekey_supply_replay_check(const bc_prekey_supply *s, uint32_t spk_id,
				  const uint8_t tag[static BC_PREKEY_REPLAY_TAG_LEN])
{
	bool found;

	if (s == NULL)
		return BC_ERR_INVALID;
	if (spk_id == 0 || !spk_held(s, spk_id))
		return BC_ERR_NOTFOUND;
	(void)replay_search(s, spk_id, tag, &found);
	if (found)
		return BC_ERR_REPLAY;
	if (s->n_replay >= BC_PREKEY_REPLAY_MAX)
		return BC_ERR_QUOTA;
	return BC_OK;
}

int bc_prekey_supply_replay_add(bc_prekey_supply *s, uint32_t spk_id,
				const uint8_t tag[static BC_PREKEY_REPLAY_TAG_LEN])
{
	bool found;
	size_t i;
	int err;

	if ((err = bc_prekey_supply_replay_check(s, spk_id, tag)) != BC_OK)
		return err;
	i = replay_search(s, spk_id, tag, &found);
	memmove(&s->replay[i + 1], &s->replay[i], (s->n_replay - i) * sizeof(s->replay[0]));
	s->replay[i].spk_id = spk_id;
	memcpy(s->replay[i].tag, tag, BC_PREKEY_REPLAY_TAG_LEN);
	s->n_replay++;
	return BC_OK;
}

/* ---- supply: serialisation --------------------------------------------------------- */

static void write_spk(bc_wr *w, const struct spk *k, bool with_retired)
{
	bc_wr_u32(w, k->id);
	bc_wr_u64(w, k->created);
	if (with_retired)
		bc_wr_u64(w, k->retired);
	bc_wr_raw(w, k->priv, sizeof(k->priv));
	bc_wr_raw(w, k->sig, sizeof(k->sig));
}

int bc_prekey_supply_serialize(const bc_prekey_supply *s, uint8_t **out, size_t *outlen)
{
	uint8_t *buf = NULL;
	size_t len;
	bc_wr w;
	int err;

	if (s == NULL || out == NULL || outlen == NULL)
		return BC_ERR_INVALID;
	*out = NULL;
	*outlen = 0;
	len = 1 + BC_IDENTITY_PUBLIC_LEN + SER_SPK_LEN + 1 + (s->has_prev ? (size_t)SER_SPK_LEN + 8 : 0) +
	      4 + 2 + s->n_opk * SER_OPK_LEN + 2 + s->n_replay * SER_REPLAY_LEN;
	if ((buf = bc_malloc(len)) == NULL)
		return BC_ERR_NOMEM;
	bc_wr_init_fixed(&w, buf, len);
	bc_wr_u8(&w, SUPPLY_VERSION);
	bc_identity_write_public(&w, &s->owner);
	write_spk(&w, &s->cur, false);
	bc_wr_bool(&w, s->has_prev);
	if (s->has_prev)
		write_spk(&w, &s->prev, true);
	bc_wr_u32(&w, s->last_opk_id);
	bc_wr_u16(&w, (uint16_t)s->n_opk);
	for (size_t i = 0; i < s->n_opk; i++) {
		bc_wr_u32(&w, s->opk[i].id);
		bc_wr_raw(&w, s->opk[i].priv, sizeof(s->opk[i].priv));
	}
	bc_wr_u16(&w, (uint16_t)s->n_replay);
	for (size_t i = 0; i < s->n_replay; i++) {
		bc_wr_u32(&w, s->replay[i].spk_id);
		bc_wr_raw(&w, s->replay[i].tag, sizeof(s->replay[i].tag));
	}
	if ((err = bc_wr_finish_exact(&w, len)) != BC_OK)
		goto out;
	*out = buf;
	*outlen = len;
	buf = NULL;
out:
	bc_free_secret(buf, len);
	return err;
}

/* Read a signed prekey and check it against owner (AUTH). */
static int read_spk(bc_rd *r, const bc_identity_pub *owner, struct spk *k, bool with_retired)
{
	int err;

	bc_rd_u32(r, &k->id);
	bc_rd_u64(r, &k->created);
	if (with_retired)
		bc_rd_u64(r, &k->retired);
	bc_rd_raw(r, k->priv, sizeof(k->priv));
	if ((err = bc_rd_raw(r, k->sig, sizeof(k->sig))) != BC_OK)
		return err;
	if (k->id == 0)
		return bc_rd_fail(r, BC_ERR_MALFORMED);
	if (crypto_scalarmult_base(k->pub, k->priv) != 0)
		return bc_rd_fail(r, BC_ERR_AUTH);
	if ((err = spk_verify(owner->sign_pub, k->id, k->pub, k->created, k->sig)) != BC_OK)
		return bc_rd_fail(r, err);
	return BC_OK;
}

int bc_prekey_supply_deserialize(bc_prekey_supply **out, const uint8_t *in, size_t len)
{
	bc_prekey_supply *s = NULL;
	uint8_t version = 0;
	uint16_t n = 0;
	bc_rd r;
	int err;

	if (out == NULL || (in == NULL && len > 0))
		return BC_ERR_INVALID;
	bc_rd_init(&r, in, len);
	if ((err = bc_rd_u8(&r, &version)) != BC_OK)
		return err;
	if (version != SUPPLY_VERSION)
		return BC_ERR_VERSION;
	if ((err = supply_alloc(&s)) != BC_OK)
		return err;

	if ((err = bc_identity_read_public(&r, &s->owner)) != BC_OK)
		goto out;
	if ((err = read_spk(&r, &s->owner, &s->cur, false)) != BC_OK)
		goto out;
	if ((err = bc_rd_bool(&r, &s->has_prev)) != BC_OK)
		goto out;
	if (s->has_prev) {
		if ((err = read_spk(&r, &s->owner, &s->prev, true)) != BC_OK)
			goto out;
		if (s->prev.id >= s->cur.id) {
			err = BC_ERR_MALFORMED;
			goto out;
		}
	}

	bc_rd_u32(&r, &s->last_opk_id);
	if ((err = bc_rd_count(&r, (uint16_t)BC_PREKEY_MAX_ONETIME, &n)) != BC_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct opk *k = &s->opk[i];
		bc_rd_u32(&r, &k->id);
		if ((err = bc_rd_raw(&r, k->priv, sizeof(k->priv))) != BC_OK)
			goto out;
		if (k->id == 0 || k->id > s->last_opk_id || (i > 0 && k->id <= s->opk[i - 1].id)) {
			err = BC_ERR_MALFORMED;
			goto out;
		}
		s->n_opk = i + 1;
	}

	if ((err = bc_rd_count(&r, (uint16_t)BC_PREKEY_REPLAY_MAX, &n)) != BC_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct rentry *e = &s->replay[i];
		bc_rd_u32(&r, &e->spk_id);
		if ((err = bc_rd_raw(&r, e->tag, sizeof(e->tag))) != BC_OK)
			goto out;
		if (!spk_held(s, e->spk_id) ||
		    (i > 0 && rentry_cmp(e->spk_id, e->tag, &s->replay[i - 1]) <= 0)) {
			err = BC_ERR_MALFORMED;
			goto out;
		}
		s->n_replay = i + 1;
	}
	if ((err = bc_rd_end(&r)) != BC_OK)
		goto out;
	*out = s;
	s = NULL;
out:
	bc_prekey_supply_free(s);
	return err;
}
