/*
 * e2e.c - the end-to-end engine (see e2e.h, docs/PROTOCOL.md §11).
 *
 * Store layout (kinds and lookup keys of store.h):
 *   "e2e"     "identity"   private identity (identity.h)
 *             "prekeys"    the prekey supply (prekey.h)
 *             "transcript" the transcript state (transcript.h)
 *   "peer"    peer id      the peer record below
 *   "held"    msg_id||sender   typed content of a message held for a gap
 *   "rcvd"    relay id     marker: this relay message was processed
 *   "outbox"  msg_id       readers and bodies of a sealed message, until
 *                          the caller reports it posted (bc_e2e_sent)
 *   "inbox"   (append log) delivered messages: meta || content
 *
 * Peer record (codec): u8 version (1) || public identity (129) ||
 *   bool has_cur || [session] || bool has_prev || [session]
 * session: fixed[145] ad || bool confirmed || bytes setup || bytes ratchet
 *
 * Invariants: the in-memory identity, supply and transcript always equal
 * what the store holds as of its last commit (after any failure they are
 * reloaded); peers are loaded per call and never cached.
 */
#include <sodium.h>

#include "codec.h"
#include "e2e.h"
#include "envelope.h"
#include "internal.h"
#include "ratchet.h"
#include "x3dh.h"

#define PEER_VERSION 2
#define CT_APP 1
#define CT_CHECKPOINT 2
/* Sessions tried per incoming body (trial decryption). Talks have 2-10
 * members, but one profile may sit in many talks. */
#define MAX_PEERS 1024

struct sess {
	bc_ratchet *r;
	uint8_t ad[BC_X3DH_AD_LEN];
	bool confirmed;
	uint8_t setup[BC_X3DH_HEADER_MAX];
	size_t setup_len;
	uint64_t spk_created; /* initiator: the bundle's; 0 for a responder */
};

struct peer {
	bc_identity_pub id;
	uint8_t fp[BC_E2E_ID_LEN];
	bool has_cur, has_prev;
	struct sess cur, prev;
};

struct bc_e2e {
	bc_store *st;
	bc_identity self;
	uint8_t fp[BC_E2E_ID_LEN];
	bc_prekey_supply *supply;
	bc_transcript *tx;
	uint64_t data_version; /* the store's, when supply/tx were loaded */
};

static const char K_E2E[] = "e2e";
static const char K_PEER[] = "peer";

/* ---- peers -------------------------------------------------------------- */

static void sess_clear(struct sess *s)
{
	bc_ratchet_free(s->r);
	sodium_memzero(s, sizeof(*s));
}

static void peer_clear(struct peer *p)
{
	sess_clear(&p->cur);
	sess_clear(&p->prev);
	sodium_memzero(p, sizeof(*p));
}

static int sess_write(bc_wr *w, const struct sess *s)
{
	uint8_t *rs = NULL;
	size_t rl = 0;
	int rc = bc_ratchet_serialize(s->r, &rs, &rl);
	if (rc != BC_OK)
		return rc;
	bc_wr_raw(w, s->ad, sizeof(s->ad));
	bc_wr_bool(w, s->confirmed);
	bc_wr_bytes(w, s->setup, s->setup_len);
	bc_wr_bytes(w, rs, rl);
	bc_wr_u64(w, s->spk_created);
	bc_free_secret(rs, rl);
	return w->err;
}

static int sess_read(bc_rd *r, struct sess *s)
{
	const uint8_t *p;
	size_t n;
	int rc;
	bc_rd_raw(r, s->ad, sizeof(s->ad));
	bc_rd_bool(r, &s->confirmed);
	if ((rc = bc_rd_bytes(r, BC_X3DH_HEADER_MAX, &p, &n)) != BC_OK)
		return rc;
	memcpy(s->setup, p, n);
	s->setup_len = n;
	if ((rc = bc_rd_bytes(r, BC_CODEC_MAX, &p, &n)) != BC_OK)
		return rc;
	if ((rc = bc_rd_u64(r, &s->spk_created)) != BC_OK)
		return rc;
	return bc_ratchet_deserialize(&s->r, p, n);
}

static int peer_save(bc_e2e *e, const struct peer *p)
{
	bc_wr w;
	uint8_t *buf;
	size_t len;
	int rc;
	bc_wr_init(&w, BC_STORE_VALUE_MAX);
	bc_wr_u8(&w, PEER_VERSION);
	if ((rc = bc_identity_write_public(&w, &p->id)) != BC_OK)
		goto fail;
	bc_wr_bool(&w, p->has_cur);
	if (p->has_cur && (rc = sess_write(&w, &p->cur)) != BC_OK)
		goto fail;
	bc_wr_bool(&w, p->has_prev);
	if (p->has_prev && (rc = sess_write(&w, &p->prev)) != BC_OK)
		goto fail;
	if ((rc = bc_wr_finish(&w, &buf, &len)) != BC_OK)
		return rc;
	rc = bc_store_put(e->st, K_PEER, p->fp, sizeof(p->fp), buf, len);
	bc_free_secret(buf, len);
	return rc;
fail:
	bc_wr_free(&w);
	return rc;
}

static int peer_decode(struct peer *p, const uint8_t *in, size_t len)
{
	bc_rd r;
	uint8_t ver = 0;
	int rc;
	memset(p, 0, sizeof(*p));
	bc_rd_init(&r, in, len);
	bc_rd_u8(&r, &ver);
	if (r.err != BC_OK || ver != PEER_VERSION)
		return BC_ERR_MALFORMED;
	if ((rc = bc_identity_read_public(&r, &p->id)) != BC_OK)
		goto out;
	if ((rc = bc_identity_fingerprint(&p->id, p->fp)) != BC_OK)
		goto out;
	if ((rc = bc_rd_bool(&r, &p->has_cur)) != BC_OK)
		goto out;
	if (p->has_cur && (rc = sess_read(&r, &p->cur)) != BC_OK)
		goto out;
	if ((rc = bc_rd_bool(&r, &p->has_prev)) != BC_OK)
		goto out;
	if (p->has_prev && (rc = sess_read(&r, &p->prev)) != BC_OK)
		goto out;
	rc = bc_rd_end(&r);
out:
	if (rc != BC_OK)
		peer_clear(p);
	return rc;
}

static int peer_load(bc_e2e *e, const uint8_t fp[BC_E2E_ID_LEN],
		     struct peer *p)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = bc_store_get(e->st, K_PEER, fp, BC_E2E_ID_LEN, &buf, &len);
	memset(p, 0, sizeof(*p));
	if (rc != BC_OK)
		return rc;
	rc = peer_decode(p, buf, len);
	bc_free_secret(buf, len);
	return rc;
}

/* ---- singletons --------------------------------------------------------- */

static int save_blob(bc_e2e *e, const char *key, uint8_t *buf, size_t len)
{
	int rc = bc_store_put(e->st, K_E2E, (const uint8_t *)key, strlen(key),
			      buf, len);
	bc_free_secret(buf, len);
	return rc;
}

static int save_supply(bc_e2e *e)
{
	uint8_t *buf;
	size_t len;
	int rc = bc_prekey_supply_serialize(e->supply, &buf, &len);
	return rc != BC_OK ? rc : save_blob(e, "prekeys", buf, len);
}

static int save_transcript(bc_e2e *e)
{
	uint8_t *buf;
	size_t len;
	int rc = bc_transcript_serialize(e->tx, &buf, &len);
	return rc != BC_OK ? rc : save_blob(e, "transcript", buf, len);
}

static int get_blob(bc_e2e *e, const char *key, uint8_t **buf, size_t *len)
{
	return bc_store_get(e->st, K_E2E, (const uint8_t *)key, strlen(key),
			    buf, len);
}

/* Bring supply and transcript back to the committed state. */
static int reload(bc_e2e *e)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	bc_prekey_supply *s = NULL;
	bc_transcript *t = NULL;
	int rc = get_blob(e, "prekeys", &buf, &len);
	if (rc == BC_OK)
		rc = bc_prekey_supply_deserialize(&s, buf, len);
	bc_free_secret(buf, len);
	buf = NULL;
	if (rc == BC_OK)
		rc = get_blob(e, "transcript", &buf, &len);
	if (rc == BC_OK)
		rc = bc_transcript_deserialize(buf, len, &t);
	bc_free_secret(buf, len);
	if (rc != BC_OK) {
		bc_prekey_supply_free(s);
		return rc;
	}
	bc_prekey_supply_free(e->supply);
	bc_transcript_free(e->tx);
	e->supply = s;
	e->tx = t;
	return bc_store_data_version(e->st, &e->data_version);
}

/* Begin a transaction and bring the in-memory supply and transcript up to
 * date with the store (another process on the same profile may have
 * committed since): the store's write lock is held from here on. */
static int begin_tx(bc_e2e *e)
{
	uint64_t v = 0;
	int rc = bc_store_begin(e->st);
	if (rc != BC_OK)
		return rc;
	/* Re-read only if another process committed in between: our own
	 * commits keep the in-memory state equal to the store. */
	rc = bc_store_data_version(e->st, &v);
	if (rc == BC_OK && v != e->data_version)
		rc = reload(e);
	if (rc != BC_OK)
		bc_store_rollback(e->st);
	return rc;
}

static void abort_tx(bc_e2e *e)
{
	bc_store_rollback(e->st);
	/* If even the reload fails the handle keeps its (uncommitted) state;
	 * every later commit then fails too, which is safe. */
	(void)reload(e);
}

int bc_e2e_new(bc_e2e **out, bc_store *st, uint64_t now)
{
	bc_e2e *e = bc_calloc(1, sizeof(*e));
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;
	*out = NULL;
	if (e == NULL)
		return BC_ERR_NOMEM;
	e->st = st;
	rc = get_blob(e, "identity", &buf, &len);
	if (rc == BC_OK) {
		rc = bc_identity_decode_private(&e->self, buf, len);
		bc_free_secret(buf, len);
		if (rc == BC_OK)
			rc = bc_identity_fingerprint(&e->self.pub, e->fp);
		if (rc == BC_OK)
			rc = reload(e);
	} else if (rc == BC_ERR_NOTFOUND) {
		uint8_t enc[BC_IDENTITY_PRIVATE_LEN];
		if ((rc = bc_store_begin(st)) != BC_OK)
			goto out;
		rc = bc_identity_generate(&e->self);
		if (rc == BC_OK)
			rc = bc_identity_fingerprint(&e->self.pub, e->fp);
		if (rc == BC_OK)
			rc = bc_identity_encode_private(&e->self, enc);
		if (rc == BC_OK)
			rc = bc_store_put(st, K_E2E, (const uint8_t *)"identity",
					  8, enc, sizeof(enc));
		sodium_memzero(enc, sizeof(enc));
		if (rc == BC_OK)
			rc = bc_prekey_supply_new(&e->supply, &e->self, now);
		if (rc == BC_OK)
			rc = bc_transcript_new(e->fp, &e->tx);
		if (rc == BC_OK)
			rc = save_supply(e);
		if (rc == BC_OK)
			rc = save_transcript(e);
		if (rc == BC_OK)
			rc = bc_store_commit(st);
		else
			bc_store_rollback(st);
	}
out:
	if (rc != BC_OK) {
		bc_e2e_free(e);
		return rc;
	}
	*out = e;
	return BC_OK;
}

void bc_e2e_free(bc_e2e *e)
{
	if (e == NULL)
		return;
	bc_identity_wipe(&e->self);
	bc_prekey_supply_free(e->supply);
	bc_transcript_free(e->tx);
	bc_free_secret(e, sizeof(*e));
}

const bc_identity_pub *bc_e2e_identity(const bc_e2e *e)
{
	return &e->self.pub;
}

const bc_identity *bc_e2e_self(const bc_e2e *e)
{
	return &e->self;
}

const uint8_t *bc_e2e_id(const bc_e2e *e)
{
	return e->fp;
}

/* ---- prekeys and session setup ------------------------------------------ */

/* An initiator's session nobody has answered yet, whose setup names a
 * signed prekey the peer may have dropped by now (rotation + grace). */
static bool sess_stale(const struct sess *s, uint64_t now)
{
	return !s->confirmed && s->spk_created != 0 &&
	       now >= s->spk_created + BC_PREKEY_ROTATE_INTERVAL +
			      BC_PREKEY_GRACE;
}

int bc_e2e_prekeys(bc_e2e *e, uint32_t relay_remaining, uint64_t now,
		   uint8_t signed_blob[BC_PREKEY_BUNDLE_LEN],
		   uint8_t (**blobs)[BC_PREKEY_ONETIME_LEN], size_t *n)
{
	size_t want = bc_prekey_wanted(relay_remaining);
	uint8_t(*b)[BC_PREKEY_ONETIME_LEN] = NULL;
	bool rotated = false;
	int rc;
	*blobs = NULL;
	*n = 0;
	if (want > 0 && (b = bc_calloc(want, BC_PREKEY_ONETIME_LEN)) == NULL)
		return BC_ERR_NOMEM;
	if ((rc = begin_tx(e)) != BC_OK)
		goto out;
	rc = bc_prekey_supply_maintain(e->supply, &e->self, now, &rotated);
	if (rc == BC_OK && want > 0)
		rc = bc_prekey_supply_add_onetime(e->supply, want, b);
	if (rc == BC_OK)
		rc = bc_prekey_supply_bundle(e->supply, signed_blob);
	if (rc == BC_OK)
		rc = save_supply(e);
	if (rc == BC_OK)
		rc = bc_store_commit(e->st);
	if (rc != BC_OK)
		abort_tx(e);
out:
	if (rc != BC_OK) {
		bc_free(b);
		return rc;
	}
	*blobs = b;
	*n = want;
	return BC_OK;
}

bool bc_e2e_has_session(bc_e2e *e, const uint8_t peer[BC_E2E_ID_LEN])
{
	struct peer p;
	bool has;
	if (peer_load(e, peer, &p) != BC_OK)
		return false;
	has = p.has_cur;
	peer_clear(&p);
	return has;
}

int bc_e2e_peer_identity(bc_e2e *e, const uint8_t peer[BC_E2E_ID_LEN],
			 bc_identity_pub *out)
{
	struct peer p;
	int rc = peer_load(e, peer, &p);
	if (rc == BC_OK)
		*out = p.id;
	peer_clear(&p);
	return rc;
}

int bc_e2e_start(bc_e2e *e, const bc_identity_pub *peer,
		 const uint8_t *signed_blob, size_t slen,
		 const uint8_t *onetime, size_t olen, uint64_t now)
{
	bc_prekey_bundle bundle;
	bc_prekey_onetime opk;
	bc_x3dh_keys keys;
	struct peer p;
	uint8_t fp[BC_E2E_ID_LEN];
	bool in_tx = false;
	int rc;

	memset(&keys, 0, sizeof(keys));
	memset(&p, 0, sizeof(p));
	rc = bc_prekey_bundle_parse(&bundle, signed_blob, slen, peer, now,
				    BC_PREKEY_DEFAULT_MAX_AGE);
	if (rc != BC_OK)
		return rc;
	if (onetime != NULL &&
	    (rc = bc_prekey_onetime_parse(&opk, onetime, olen)) != BC_OK)
		return rc;
	if ((rc = bc_identity_fingerprint(peer, fp)) != BC_OK)
		return rc;
	if (sodium_memcmp(fp, e->fp, BC_E2E_ID_LEN) == 0)
		return BC_ERR_INVALID; /* no session with oneself */
	/* From reading the peer to saving it: one transaction. */
	if ((rc = begin_tx(e)) != BC_OK)
		return rc;
	in_tx = true;
	rc = peer_load(e, fp, &p);
	if (rc == BC_OK && p.has_cur && !sess_stale(&p.cur, now)) {
		rc = BC_ERR_STATE;
		goto out;
	}
	if (rc == BC_OK && p.has_cur) { /* stale: keep it to receive */
		sess_clear(&p.prev);
		p.prev = p.cur;
		p.has_prev = true;
		memset(&p.cur, 0, sizeof(p.cur));
		p.has_cur = false;
	}
	if (rc == BC_ERR_NOTFOUND) {
		/* Refuse a new peer beyond what trial decryption tries, rather
		 * than fail every incoming message later. */
		uint64_t npeers = 0;
		rc = bc_store_count(e->st, K_PEER, &npeers);
		if (rc == BC_OK && npeers >= MAX_PEERS)
			rc = BC_ERR_QUOTA;
	}
	if (rc != BC_OK)
		goto out;
	p.id = *peer;
	memcpy(p.fp, fp, sizeof(fp));
	rc = bc_x3dh_initiate(&e->self, &bundle, onetime ? &opk : NULL, &keys,
			      p.cur.setup, &p.cur.setup_len);
	if (rc == BC_OK)
		rc = bc_ratchet_new(&p.cur.r);
	if (rc == BC_OK)
		rc = bc_ratchet_init_initiator(p.cur.r, keys.sk, keys.spk_pub,
					       keys.hka, keys.nhkb);
	if (rc != BC_OK)
		goto out;
	memcpy(p.cur.ad, keys.ad, sizeof(p.cur.ad));
	p.cur.confirmed = false;
	p.cur.spk_created = bundle.created;
	p.has_cur = true;
	rc = peer_save(e, &p);
	if (rc == BC_OK)
		rc = bc_store_commit(e->st);
	in_tx = false;
	if (rc != BC_OK)
		abort_tx(e);
out:
	if (in_tx)
		abort_tx(e);
	bc_x3dh_keys_wipe(&keys);
	peer_clear(&p);
	return rc;
}

/* ---- sealing ------------------------------------------------------------ */

void bc_e2e_bodies_free(uint8_t **bodies, size_t *lens, size_t n)
{
	if (bodies != NULL)
		for (size_t i = 0; i < n; i++)
			bc_free(bodies[i]);
	bc_free(bodies);
	bc_free(lens);
}

/* The ratchet's associated data for a body: the session's AD (both
 * identities), followed by the setup header when the body carries one, so
 * that the header cannot be altered or dropped in transit. Callers pass
 * only whole X3DH headers (bc_e2e_open checks received ones), so the
 * fallback below is never taken. */
static size_t body_ad(const uint8_t sad[BC_X3DH_AD_LEN], const uint8_t *setup,
		      size_t slen, uint8_t out[BC_X3DH_AD_LEN + BC_X3DH_HEADER_MAX])
{
	memcpy(out, sad, BC_X3DH_AD_LEN);
	if (setup != NULL && slen <= BC_X3DH_HEADER_MAX) {
		memcpy(out + BC_X3DH_AD_LEN, setup, slen);
		return BC_X3DH_AD_LEN + slen;
	}
	return BC_X3DH_AD_LEN;
}

static int seal_one(struct sess *s, const uint8_t *inner, size_t ilen,
		    uint8_t **body, size_t *blen)
{
	uint8_t ad[BC_X3DH_AD_LEN + BC_X3DH_HEADER_MAX];
	size_t adlen = body_ad(s->ad, s->confirmed ? NULL : s->setup,
			       s->setup_len, ad);
	uint8_t *rm = NULL;
	size_t rl = 0;
	int rc = bc_ratchet_encrypt(s->r, ad, adlen, inner, ilen, &rm, &rl);
	if (rc != BC_OK)
		return rc;
	rc = bc_env_body_encode(s->confirmed ? BC_ENV_KIND_MSG
					     : BC_ENV_KIND_SETUP,
				s->confirmed ? NULL : s->setup,
				s->confirmed ? 0 : s->setup_len, rm, rl, body,
				blen);
	bc_free(rm);
	return rc;
}

static int typed(uint8_t type, const uint8_t *c, size_t n, uint8_t **out)
{
	if (n > BC_ENV_MAX_CONTENT - 1)
		return BC_ERR_TOOBIG;
	*out = bc_malloc(n + 1);
	if (*out == NULL)
		return BC_ERR_NOMEM;
	(*out)[0] = type;
	if (n)
		memcpy(*out + 1, c, n);
	return BC_OK;
}

/* ---- the outbox --------------------------------------------------------- */

static int outbox_put(bc_e2e *e, const uint8_t msg_id[BC_TX_MSGID_LEN],
		      const uint8_t (*readers)[BC_E2E_ID_LEN],
		      uint8_t *const *bodies, const size_t *lens, size_t n)
{
	bc_wr w;
	uint8_t *val;
	size_t vlen;
	int rc;
	bc_wr_init(&w, BC_STORE_VALUE_MAX);
	bc_wr_u16(&w, (uint16_t)n);
	for (size_t i = 0; i < n; i++) {
		bc_wr_raw(&w, readers[i], BC_E2E_ID_LEN);
		bc_wr_bytes(&w, bodies[i], lens[i]);
	}
	if ((rc = bc_wr_finish(&w, &val, &vlen)) != BC_OK)
		return rc;
	rc = bc_store_put(e->st, "outbox", msg_id, BC_TX_MSGID_LEN, val, vlen);
	bc_free(val);
	return rc;
}

int bc_e2e_sent(bc_e2e *e, const uint8_t msg_id[BC_TX_MSGID_LEN])
{
	int rc = bc_store_del(e->st, "outbox", msg_id, BC_TX_MSGID_LEN);
	return rc == BC_ERR_NOTFOUND ? BC_OK : rc;
}

struct outbox_ctx {
	bc_e2e_outbox_fn fn;
	void *ctx;
};

static int outbox_one(void *ctx, const uint8_t *key, size_t klen,
		      const uint8_t *val, size_t vlen)
{
	struct outbox_ctx *o = ctx;
	uint8_t readers[BC_E2E_MAX_READERS][BC_E2E_ID_LEN];
	const uint8_t *bodies[BC_E2E_MAX_READERS];
	size_t lens[BC_E2E_MAX_READERS];
	uint16_t n;
	bc_rd r;
	int rc;
	if (klen != BC_TX_MSGID_LEN)
		return BC_ERR_MALFORMED;
	bc_rd_init(&r, val, vlen);
	if ((rc = bc_rd_count(&r, BC_E2E_MAX_READERS, &n)) != BC_OK)
		return rc;
	for (uint16_t i = 0; i < n; i++) {
		bc_rd_raw(&r, readers[i], BC_E2E_ID_LEN);
		bc_rd_bytes(&r, BC_ENV_MAX_BODY + BC_ENV_MAX_SETUP + 16,
			    &bodies[i], &lens[i]);
	}
	if ((rc = bc_rd_end(&r)) != BC_OK)
		return rc;
	return o->fn(o->ctx, key, (const uint8_t(*)[BC_E2E_ID_LEN])readers,
		     bodies, lens, n);
}

int bc_e2e_outbox(bc_e2e *e, bc_e2e_outbox_fn fn, void *ctx)
{
	struct outbox_ctx o = {fn, ctx};
	return bc_store_list(e->st, "outbox", outbox_one, &o);
}

/*
 * Seal for readers: contents[i] for reader i (all the same except in the
 * equivocation test). One transcript position for the message.
 */
static int seal(bc_e2e *e, const uint8_t (*readers)[BC_E2E_ID_LEN], size_t n,
		const uint8_t msg_id[BC_TX_MSGID_LEN], uint8_t type,
		const uint8_t *const *contents, const size_t *clens,
		uint64_t now, uint8_t ***bodies_out, size_t **lens_out)
{
	struct peer *peers = NULL;
	uint8_t(*ids)[BC_TX_ID_LEN] = NULL;
	uint8_t **bodies = NULL;
	size_t *lens = NULL;
	bc_tx_audience aud;
	bc_tx_meta meta;
	bool in_tx = false;
	int rc;

	*bodies_out = NULL;
	*lens_out = NULL;
	if (n == 0 || n > BC_E2E_MAX_READERS)
		return BC_ERR_INVALID;
	peers = bc_calloc(n, sizeof(*peers));
	ids = bc_calloc(n + 1, BC_TX_ID_LEN);
	bodies = bc_calloc(n, sizeof(*bodies));
	lens = bc_calloc(n, sizeof(*lens));
	if (peers == NULL || ids == NULL || bodies == NULL || lens == NULL) {
		rc = BC_ERR_NOMEM;
		goto out;
	}
	memcpy(ids[0], e->fp, BC_TX_ID_LEN);
	/* Everything from reading the sessions to saving them is one
	 * transaction, so two processes on one profile cannot both use a
	 * message key. */
	if ((rc = begin_tx(e)) != BC_OK)
		goto out;
	in_tx = true;
	for (size_t i = 0; i < n; i++) {
		rc = peer_load(e, readers[i], &peers[i]);
		if (rc == BC_OK && !peers[i].has_cur)
			rc = BC_ERR_NOTFOUND;
		if (rc == BC_OK && sess_stale(&peers[i].cur, now))
			rc = BC_ERR_STATE; /* bc_e2e_start again */
		if (rc != BC_OK)
			goto out;
		memcpy(ids[i + 1], readers[i], BC_TX_ID_LEN);
	}
	if ((rc = bc_transcript_audience_set(&aud,
					     (const uint8_t(*)[BC_TX_ID_LEN])ids,
					     n + 1)) != BC_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		uint8_t *tc = NULL, *inner = NULL;
		uint8_t menc[BC_TX_META_MAX];
		size_t mlen, ilen;
		if ((rc = typed(type, contents[i], clens[i], &tc)) != BC_OK)
			goto out;
		if (i == 0 || contents[i] != contents[0]) {
			uint8_t h[BC_TX_HASH_LEN];
			rc = bc_transcript_content_hash(tc, clens[i] + 1, h);
			if (rc == BC_OK && i == 0)
				rc = bc_transcript_next(e->tx, &aud, msg_id, h,
							now, &meta);
			else if (rc == BC_OK)
				memcpy(meta.content_hash, h, sizeof(h));
		}
		if (rc == BC_OK)
			rc = bc_transcript_meta_encode(&meta, menc, &mlen);
		if (rc == BC_OK)
			rc = bc_env_inner_encode(menc, mlen, tc, clens[i] + 1,
						 &inner, &ilen);
		bc_free_secret(tc, clens[i] + 1);
		if (rc == BC_OK)
			rc = seal_one(&peers[i].cur, inner, ilen, &bodies[i],
				      &lens[i]);
		bc_free_secret(inner, ilen);
		if (rc == BC_OK)
			rc = peer_save(e, &peers[i]);
		if (rc != BC_OK)
			goto out;
	}
	if ((rc = save_transcript(e)) != BC_OK)
		goto out;
	if ((rc = outbox_put(e, msg_id, readers, bodies, lens, n)) != BC_OK)
		goto out;
	rc = bc_store_commit(e->st);
	in_tx = false;
	if (rc != BC_OK)
		(void)reload(e);
out:
	if (in_tx)
		abort_tx(e);
	if (peers != NULL)
		for (size_t i = 0; i < n; i++)
			peer_clear(&peers[i]);
	bc_free(peers);
	bc_free(ids);
	if (rc != BC_OK) {
		bc_e2e_bodies_free(bodies, lens, n);
		return rc;
	}
	*bodies_out = bodies;
	*lens_out = lens;
	return BC_OK;
}

int bc_e2e_seal(bc_e2e *e, const uint8_t (*readers)[BC_E2E_ID_LEN], size_t n,
		const uint8_t msg_id[BC_TX_MSGID_LEN], const uint8_t *content,
		size_t clen, uint64_t now, uint8_t ***bodies, size_t **lens)
{
	const uint8_t *cs[BC_E2E_MAX_READERS];
	size_t ls[BC_E2E_MAX_READERS];
	if (n == 0 || n > BC_E2E_MAX_READERS)
		return BC_ERR_INVALID;
	for (size_t i = 0; i < n; i++) {
		cs[i] = content;
		ls[i] = clen;
	}
	return seal(e, readers, n, msg_id, CT_APP, cs, ls, now, bodies, lens);
}

int bc_e2e_seal_equivocating_test(bc_e2e *e,
				  const uint8_t (*readers)[BC_E2E_ID_LEN],
				  size_t n, const uint8_t msg_id[BC_TX_MSGID_LEN],
				  const uint8_t *const *contents,
				  const size_t *clens, uint64_t now,
				  uint8_t ***bodies, size_t **lens)
{
	return seal(e, readers, n, msg_id, CT_APP, contents, clens, now, bodies,
		    lens);
}

int bc_e2e_seal_checkpoint(bc_e2e *e, const uint8_t (*readers)[BC_E2E_ID_LEN],
			   size_t n, const uint8_t msg_id[BC_TX_MSGID_LEN],
			   uint64_t now, uint8_t ***bodies, size_t **lens)
{
	uint8_t(*ids)[BC_TX_ID_LEN] = NULL;
	const uint8_t *cs[BC_E2E_MAX_READERS];
	size_t ls[BC_E2E_MAX_READERS];
	bc_tx_audience aud;
	bc_tx_checkpoint cp;
	uint8_t *enc = NULL;
	size_t elen = 0;
	int rc;
	memset(&cp, 0, sizeof(cp));
	if (n == 0 || n > BC_E2E_MAX_READERS)
		return BC_ERR_INVALID;
	if ((ids = bc_calloc(n + 1, BC_TX_ID_LEN)) == NULL)
		return BC_ERR_NOMEM;
	memcpy(ids[0], e->fp, BC_TX_ID_LEN);
	memcpy(ids[1], readers, n * BC_TX_ID_LEN);
	rc = bc_transcript_audience_set(&aud, (const uint8_t(*)[BC_TX_ID_LEN])ids,
					n + 1);
	if (rc == BC_OK)
		rc = bc_transcript_checkpoint(e->tx, &aud, &cp);
	if (rc == BC_OK)
		rc = bc_transcript_checkpoint_encode(&cp, &enc, &elen);
	bc_transcript_checkpoint_clear(&cp);
	bc_free(ids);
	if (rc != BC_OK)
		return rc;
	for (size_t i = 0; i < n; i++) {
		cs[i] = enc;
		ls[i] = elen;
	}
	rc = seal(e, readers, n, msg_id, CT_CHECKPOINT, cs, ls, now, bodies,
		  lens);
	bc_free(enc);
	return rc;
}

/* ---- opening ------------------------------------------------------------ */

void bc_e2e_result_clear(bc_e2e_result *res)
{
	if (res == NULL)
		return;
	for (size_t i = 0; i < res->nmsgs; i++)
		bc_free_secret(res->msgs[i].content, res->msgs[i].clen);
	bc_free(res->msgs);
	bc_free(res->reports);
	memset(res, 0, sizeof(*res));
}

static int add_reports(bc_e2e_result *res, const bc_tx_report *r, size_t n)
{
	bc_tx_report *nr;
	if (n == 0)
		return BC_OK;
	nr = bc_realloc(res->reports, (res->nreports + n) * sizeof(*nr));
	if (nr == NULL)
		return BC_ERR_NOMEM;
	memcpy(nr + res->nreports, r, n * sizeof(*nr));
	res->reports = nr;
	res->nreports += n;
	return BC_OK;
}

struct collect {
	uint8_t (*fps)[BC_E2E_ID_LEN];
	size_t n, cap;
};

static int collect_peer(void *ctx, const uint8_t *key, size_t klen,
			const uint8_t *val, size_t vlen)
{
	struct collect *c = ctx;
	(void)val;
	(void)vlen;
	if (klen != BC_E2E_ID_LEN)
		return BC_ERR_MALFORMED;
	if (c->n == c->cap) {
		size_t nc = c->cap ? c->cap * 2 : 16;
		uint8_t(*nf)[BC_E2E_ID_LEN];
		if (c->cap >= MAX_PEERS)
			return BC_ERR_QUOTA;
		nf = bc_realloc(c->fps, nc * BC_E2E_ID_LEN);
		if (nf == NULL)
			return BC_ERR_NOMEM;
		c->fps = nf;
		c->cap = nc;
	}
	memcpy(c->fps[c->n++], key, BC_E2E_ID_LEN);
	return BC_OK;
}

/* Find the session that opens rmsg. On BC_OK *p holds the peer and *which
 * is 0 (current) or 1 (previous), *pt the inner plaintext. BC_ERR_AUTH if
 * no session opens it; any other error comes from the session whose
 * header key matched (a replay, too many skipped keys). */
static int trial_sessions(bc_e2e *e, uint8_t (*fps)[BC_E2E_ID_LEN], size_t n,
			  const uint8_t *setup, size_t slen,
			  const uint8_t *rmsg, size_t rlen, uint64_t now,
			  struct peer *p, int *which, uint8_t **pt,
			  size_t *ptlen);

static int trial_open(bc_e2e *e, const uint8_t *setup, size_t slen,
		      const uint8_t *rmsg, size_t rlen, uint64_t now,
		      struct peer *p, int *which, uint8_t **pt, size_t *ptlen)
{
	struct collect c = {NULL, 0, 0};
	int rc = bc_store_list(e->st, K_PEER, collect_peer, &c);
	if (rc == BC_OK)
		rc = trial_sessions(e, c.fps, c.n, setup, slen, rmsg, rlen, now,
				    p, which, pt, ptlen);
	bc_free(c.fps);
	return rc;
}

static int trial_sessions(bc_e2e *e, uint8_t (*fps)[BC_E2E_ID_LEN], size_t n,
			  const uint8_t *setup, size_t slen,
			  const uint8_t *rmsg, size_t rlen, uint64_t now,
			  struct peer *p, int *which, uint8_t **pt,
			  size_t *ptlen)
{
	uint8_t ad[BC_X3DH_AD_LEN + BC_X3DH_HEADER_MAX];
	int rc;
	for (size_t i = 0; i < n; i++) {
		if ((rc = peer_load(e, fps[i], p)) != BC_OK)
			return rc;
		for (int k = 0; k < 2; k++) {
			struct sess *s = k == 0 ? &p->cur : &p->prev;
			if (!(k == 0 ? p->has_cur : p->has_prev))
				continue;
			size_t adlen = body_ad(s->ad, setup, slen, ad);
			rc = bc_ratchet_decrypt(s->r, ad, adlen, rmsg, rlen, now,
						pt, ptlen);
			if (rc == BC_ERR_AUTH)
				continue;
			if (rc == BC_OK)
				*which = k;
			else
				peer_clear(p);
			return rc;
		}
		peer_clear(p);
	}
	return BC_ERR_AUTH;
}

/* A setup header no session knows: derive the responder session. */
static int setup_open(bc_e2e *e, const uint8_t *setup, size_t slen,
		      const uint8_t *rmsg, size_t rlen, uint64_t now,
		      struct peer *p, int *which, uint8_t **pt, size_t *ptlen)
{
	bc_x3dh_pending pend;
	struct sess s;
	uint8_t ad[BC_X3DH_AD_LEN + BC_X3DH_HEADER_MAX];
	size_t adlen;
	int rc;
	memset(&s, 0, sizeof(s));
	rc = bc_x3dh_respond(e->supply, &e->self, setup, slen, &pend);
	if (rc != BC_OK)
		return rc;
	rc = bc_ratchet_new(&s.r);
	if (rc == BC_OK)
		rc = bc_ratchet_init_responder(s.r, pend.keys.sk, pend.spk_priv,
					       pend.keys.hka, pend.keys.nhkb);
	memcpy(s.ad, pend.keys.ad, sizeof(s.ad));
	s.confirmed = true; /* a responder never sends the setup header */
	adlen = body_ad(s.ad, setup, slen, ad);
	if (rc == BC_OK)
		rc = bc_ratchet_decrypt(s.r, ad, adlen, rmsg, rlen, now, pt,
					ptlen);
	if (rc != BC_OK) {
		rc = rc == BC_ERR_REPLAY ? BC_ERR_AUTH : rc;
		goto out;
	}
	/* Authenticated: now consume the one-time prekey / record it. */
	if ((rc = bc_x3dh_commit(e->supply, &pend)) != BC_OK) {
		bc_free_secret(*pt, *ptlen);
		*pt = NULL;
		goto out;
	}
	{
		uint8_t fp[BC_E2E_ID_LEN];
		if ((rc = bc_identity_fingerprint(&pend.keys.peer, fp)) != BC_OK)
			goto out;
		rc = peer_load(e, fp, p);
		if (rc == BC_ERR_NOTFOUND) {
			memset(p, 0, sizeof(*p));
			p->id = pend.keys.peer;
			memcpy(p->fp, fp, sizeof(fp));
			rc = BC_OK;
		}
		if (rc != BC_OK)
			goto out;
	}
	/* Which session sends from now on (e2e.h: the lower fingerprint's
	 * when both opened one at once). */
	if (p->has_cur && !p->cur.confirmed &&
	    memcmp(e->fp, p->fp, BC_E2E_ID_LEN) < 0) {
		sess_clear(&p->prev);
		p->prev = s; /* keep ours to send; theirs receives */
		p->has_prev = true;
		*which = 1;
	} else {
		if (p->has_cur) {
			sess_clear(&p->prev);
			p->prev = p->cur;
			p->has_prev = true;
		}
		p->cur = s;
		p->has_cur = true;
		*which = 0;
	}
	memset(&s, 0, sizeof(s));
out:
	sess_clear(&s);
	bc_x3dh_pending_wipe(&pend);
	return rc;
}

static void held_key(const bc_tx_meta *m,
		     uint8_t key[BC_TX_MSGID_LEN + BC_TX_ID_LEN])
{
	memcpy(key, m->msg_id, BC_TX_MSGID_LEN);
	memcpy(key + BC_TX_MSGID_LEN, m->sender, BC_TX_ID_LEN);
}

static int deliver(bc_e2e *e, bc_e2e_result *res, const bc_tx_meta *m,
		   bc_tx_event kind, const uint8_t *tc, size_t tlen)
{
	bc_e2e_msg *nm;
	uint8_t menc[BC_TX_META_MAX];
	size_t mlen;
	bc_wr w;
	uint8_t *rec;
	size_t rlen;
	uint64_t seq;
	int rc;
	if (tlen < 1)
		return BC_ERR_MALFORMED;
	if (tc[0] == CT_CHECKPOINT) {
		bc_tx_checkpoint cp;
		const bc_tx_report *reps;
		size_t nr;
		memset(&cp, 0, sizeof(cp));
		rc = bc_transcript_checkpoint_decode(tc + 1, tlen - 1, &cp);
		if (rc == BC_OK)
			rc = bc_transcript_check(e->tx, m->sender, &cp, &reps,
						 &nr);
		if (rc == BC_OK)
			rc = add_reports(res, reps, nr);
		bc_transcript_checkpoint_clear(&cp);
		/* A bad checkpoint is the sender's problem, not ours: it is
		 * reported, not fatal. */
		return rc == BC_ERR_NOMEM ? rc : BC_OK;
	}
	if (tc[0] != CT_APP)
		return BC_OK; /* unknown content types are skipped */
	/* Keep it (the application reads the inbox). */
	if ((rc = bc_transcript_meta_encode(m, menc, &mlen)) != BC_OK)
		return rc;
	bc_wr_init(&w, BC_STORE_VALUE_MAX);
	bc_wr_u8(&w, (uint8_t)kind);
	bc_wr_bytes(&w, menc, mlen);
	bc_wr_bytes(&w, tc + 1, tlen - 1);
	if ((rc = bc_wr_finish(&w, &rec, &rlen)) != BC_OK)
		return rc;
	rc = bc_store_append(e->st, "inbox", rec, rlen, &seq);
	bc_free_secret(rec, rlen);
	if (rc != BC_OK)
		return rc;
	nm = bc_realloc(res->msgs, (res->nmsgs + 1) * sizeof(*nm));
	if (nm == NULL)
		return BC_ERR_NOMEM;
	res->msgs = nm;
	nm += res->nmsgs;
	memset(nm, 0, sizeof(*nm));
	nm->meta = *m;
	nm->kind = kind;
	nm->content = bc_memdup(tc + 1, tlen - 1);
	nm->clen = tlen - 1;
	if (nm->content == NULL)
		return BC_ERR_NOMEM;
	res->nmsgs++;
	return BC_OK;
}

/* Held messages: meta and typed content, until their gap is filled. */
static int held_put(bc_e2e *e, const bc_tx_meta *m, const uint8_t *tc,
		    size_t tlen)
{
	uint8_t key[BC_TX_MSGID_LEN + BC_TX_ID_LEN];
	uint8_t menc[BC_TX_META_MAX];
	size_t mlen, vlen;
	uint8_t *val;
	bc_wr w;
	int rc = bc_transcript_meta_encode(m, menc, &mlen);
	if (rc != BC_OK)
		return rc;
	bc_wr_init(&w, BC_STORE_VALUE_MAX);
	bc_wr_bytes(&w, menc, mlen);
	bc_wr_bytes(&w, tc, tlen);
	if ((rc = bc_wr_finish(&w, &val, &vlen)) != BC_OK)
		return rc;
	held_key(m, key);
	rc = bc_store_put(e->st, "held", key, sizeof(key), val, vlen);
	bc_free_secret(val, vlen);
	return rc;
}

/* Deliver the held message (sender, msg_id) and forget it. */
static int held_release(bc_e2e *e, bc_e2e_result *res,
			const bc_tx_report *r)
{
	uint8_t key[BC_TX_MSGID_LEN + BC_TX_ID_LEN];
	uint8_t *val = NULL;
	size_t vlen = 0, mlen, tlen;
	const uint8_t *menc, *tc;
	bc_tx_meta hm;
	bc_rd rd;
	int rc;
	memcpy(key, r->msg_id, BC_TX_MSGID_LEN);
	memcpy(key + BC_TX_MSGID_LEN, r->sender, BC_TX_ID_LEN);
	rc = bc_store_get(e->st, "held", key, sizeof(key), &val, &vlen);
	if (rc != BC_OK)
		return rc;
	bc_rd_init(&rd, val, vlen);
	bc_rd_bytes(&rd, BC_TX_META_MAX, &menc, &mlen);
	bc_rd_bytes(&rd, BC_ENV_MAX_CONTENT, &tc, &tlen);
	rc = bc_rd_end(&rd);
	if (rc == BC_OK)
		rc = bc_transcript_meta_decode(menc, mlen, &hm);
	if (rc == BC_OK)
		rc = bc_store_del(e->st, "held", key, sizeof(key));
	if (rc == BC_OK)
		rc = deliver(e, res, &hm, BC_TX_RELEASED, tc, tlen);
	bc_free_secret(val, vlen);
	return rc;
}

/* Process the transcript's reports for message m (content tc). The
 * reports are copied into res first: delivering a checkpoint calls the
 * transcript again, which invalidates the transcript's own array. */
static int apply_reports(bc_e2e *e, bc_e2e_result *res, const bc_tx_meta *m,
			 const uint8_t *tc, size_t tlen,
			 const bc_tx_report *reps, size_t nr)
{
	size_t base = res->nreports;
	int rc = add_reports(res, reps, nr);
	for (size_t i = 0; rc == BC_OK && i < nr; i++) {
		bc_tx_report r = res->reports[base + i];
		bool self = memcmp(r.msg_id, m->msg_id, BC_TX_MSGID_LEN) == 0 &&
			    memcmp(r.sender, m->sender, BC_TX_ID_LEN) == 0;
		if (self && r.kind == BC_TX_GAP)
			rc = held_put(e, m, tc, tlen);
		else if (self && (r.kind == BC_TX_OK || r.kind == BC_TX_REORDER))
			rc = deliver(e, res, m, r.kind, tc, tlen);
		else if (r.kind == BC_TX_RELEASED)
			rc = held_release(e, res, &r);
	}
	return rc;
}

int bc_e2e_open(bc_e2e *e, const uint8_t relay_id[BC_TX_MSGID_LEN],
		const uint8_t *body, size_t len, uint64_t now,
		bc_e2e_result *res)
{
	uint8_t kind;
	const uint8_t *setup, *rmsg, *menc, *tc;
	size_t slen, rlen, mlen, tlen, ptlen = 0, nr = 0;
	uint8_t *pt = NULL, *mark = NULL;
	size_t marklen = 0;
	struct peer p;
	int which = 0, rc;
	bool in_tx = false;
	bc_tx_meta meta;
	const bc_tx_report *reps = NULL;
	uint8_t h[BC_TX_HASH_LEN];

	memset(res, 0, sizeof(*res));
	memset(&p, 0, sizeof(p));
	rc = bc_store_get(e->st, "rcvd", relay_id, BC_TX_MSGID_LEN, &mark,
			  &marklen);
	bc_free(mark);
	if (rc == BC_OK) {
		res->duplicate = true;
		return BC_OK;
	}
	if (rc != BC_ERR_NOTFOUND)
		return rc;
	if ((rc = bc_env_body_decode(body, len, &kind, &setup, &slen, &rmsg,
				     &rlen)) != BC_OK)
		return rc;
	/* A setup field holds exactly one X3DH header, so AD(SETUP) is longer
	 * than AD(MSG) and the kind is bound by the AD. Without this, a kind
	 * MSG body re-wrapped with an empty or over-long setup field opens on
	 * the existing session (docs/PROTOCOL.md §14.5). */
	if (kind == BC_ENV_KIND_SETUP) {
		size_t hl;
		if ((rc = bc_x3dh_header_size(setup, slen, &hl)) != BC_OK)
			return rc;
		if (hl != slen)
			return BC_ERR_MALFORMED;
	}
	if ((rc = begin_tx(e)) != BC_OK)
		return rc;
	in_tx = true;
	/* Existing sessions first: an unconfirmed initiator repeats its
	 * setup header on every message of the session. */
	rc = trial_open(e, setup, slen, rmsg, rlen, now, &p, &which, &pt,
			&ptlen);
	if (rc == BC_ERR_AUTH && kind == BC_ENV_KIND_SETUP) {
		rc = setup_open(e, setup, slen, rmsg, rlen, now, &p, &which, &pt,
				&ptlen);
		if (rc == BC_OK && memcmp(p.fp, e->fp, BC_E2E_ID_LEN) == 0)
			rc = BC_ERR_AUTH;
	}
	if (rc != BC_OK)
		goto out;
	res->from_known = true;
	memcpy(res->sender, p.fp, BC_E2E_ID_LEN);
	/* The first message on our own session: the peer has it. */
	if (which == 0 && !p.cur.confirmed)
		p.cur.confirmed = true;
	rc = bc_env_inner_decode(pt, ptlen, &menc, &mlen, &tc, &tlen);
	if (rc == BC_OK)
		rc = bc_transcript_meta_decode(menc, mlen, &meta);
	if (rc != BC_OK)
		goto out;
	/* The metadata must be the session peer's, and the content the one
	 * the metadata commits to. */
	if (sodium_memcmp(meta.sender, p.fp, BC_E2E_ID_LEN) != 0 ||
	    tlen < 1 ||
	    bc_transcript_content_hash(tc, tlen, h) != BC_OK ||
	    sodium_memcmp(h, meta.content_hash, sizeof(h)) != 0) {
		rc = BC_ERR_AUTH;
		goto out;
	}
	rc = bc_transcript_receive(e->tx, &meta, &reps, &nr);
	if (rc == BC_OK)
		rc = apply_reports(e, res, &meta, tc, tlen, reps, nr);
	if (rc == BC_OK)
		rc = peer_save(e, &p);
	if (rc == BC_OK)
		rc = save_transcript(e);
	if (rc == BC_OK)
		rc = save_supply(e);
	if (rc == BC_OK)
		rc = bc_store_put(e->st, "rcvd", relay_id, BC_TX_MSGID_LEN,
				  (const uint8_t *)"", 0);
	if (rc != BC_OK)
		goto out;
	rc = bc_store_commit(e->st);
	in_tx = false;
	if (rc != BC_OK)
		(void)reload(e);
out:
	if (in_tx)
		abort_tx(e);
	bc_free_secret(pt, ptlen);
	peer_clear(&p);
	if (rc != BC_OK)
		bc_e2e_result_clear(res);
	return rc;
}

int bc_e2e_acked(bc_e2e *e, const uint8_t relay_id[BC_TX_MSGID_LEN])
{
	int rc = bc_store_del(e->st, "rcvd", relay_id, BC_TX_MSGID_LEN);
	return rc == BC_ERR_NOTFOUND ? BC_OK : rc;
}

int bc_e2e_missing(bc_e2e *e, bc_tx_gap *out, size_t cap, size_t *count)
{
	return bc_transcript_missing(e->tx, out, cap, count);
}

int bc_e2e_maintain(bc_e2e *e, uint64_t now, bool *reupload)
{
	int rc;
	*reupload = false;
	if ((rc = begin_tx(e)) != BC_OK)
		return rc;
	rc = bc_prekey_supply_maintain(e->supply, &e->self, now, reupload);
	if (rc == BC_OK)
		rc = save_supply(e);
	if (rc == BC_OK)
		rc = bc_store_commit(e->st);
	if (rc != BC_OK)
		abort_tx(e);
	return rc;
}
