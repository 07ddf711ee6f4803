/*
 * talk_proposal.c - proposals and signed agreements inside a talk (see
 * talk_proposal.h; every byte in docs/PROTOCOL.md §18).
 *
 * One rule drives the design: every member must reach the same state from
 * the same messages. So a message is judged only on what every reader
 * sees identically - the event, the sender, its sealed readers and the
 * time the sender put in the message - and on the proposal's state built
 * from earlier messages; never on the reader's own clock. The sender runs
 * exactly the same checks (bc_proposal_apply with the same time) on a
 * copy before sending, so an action that receivers would refuse is never
 * sent. The agreement's time is the latest acceptance time of the agreed
 * version, which every member knows, so every member builds a
 * byte-identical document.
 *
 * Invariants: a proposal record changes only inside a store transaction
 * together with the timeline lines that describe the change; a record is
 * written only after the network step it reflects succeeded (an action is
 * sent, then recorded); our own signature is recorded before it is sent
 * and marked pending until the talk layer took it.
 */
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "encoding.h"
#include "internal.h"
#include "talk_int.h"
#include "talk_proposal.h"

static const char K_PROP[] = "proposal";

#define EVENT_MAX ((size_t)300000)
#define STATE_MAX ((size_t)BC_PROPOSAL_MAX_VERSIONS * 300000u + 4096u)
#define KEY_LEN (BC_TALK_ID_LEN + BC_PROPOSAL_ID_LEN)
#define LINE_MAX_TERMS 4000 /* bytes of terms quoted in a timeline line */
#define MAX_LINES (8 + 3 * BC_PROPOSAL_MAX_PARTIES)

/* ---- names and small helpers --------------------------------------------- */

void bc_talk_proposal_short(const uint8_t pid[BC_PROPOSAL_ID_LEN],
			    char out[BC_TP_SHORT_SIZE])
{
	snprintf(out, BC_TP_SHORT_SIZE, "P%02x%02x%02x%02x", pid[0], pid[1],
		 pid[2], pid[3]);
}

const char *bc_talk_proposal_status(const bc_talk_proposal *p)
{
	if (p->p.status == BC_PROPOSAL_AGREED)
		return bc_agreement_is_complete(p->agreement) ? "signed"
							      : "agreed";
	return bc_proposal_status_name(p->p.status);
}

static void fmt_time(uint64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (t > (uint64_t)253402300799ull || gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "%llu", (unsigned long long)t);
}

static int doc_hash(const bc_agreement *a, uint8_t out[32])
{
	if (crypto_generichash(out, 32, a->doc, a->doc_len, NULL, 0) != 0)
		return BC_ERR_CRYPTO;
	return BC_OK;
}

/* ---- timeline lines, collected then written with the record ------------ */

struct line {
	uint8_t kind;
	uint8_t from[BC_E2E_ID_LEN];
	char *text;
};

struct lines {
	size_t n;
	struct line l[MAX_LINES];
};

static int line_add(struct lines *ls, uint8_t kind, const uint8_t *from,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int line_add(struct lines *ls, uint8_t kind, const uint8_t *from,
		    const char *fmt, ...)
{
	va_list ap;
	int n;
	char *s;
	if (ls->n == MAX_LINES)
		return BC_OK; /* cannot happen: bounded by the parties */
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return BC_ERR_INTERNAL;
	if ((s = bc_malloc((size_t)n + 1)) == NULL)
		return BC_ERR_NOMEM;
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	ls->l[ls->n].kind = kind;
	memcpy(ls->l[ls->n].from, from, BC_E2E_ID_LEN);
	ls->l[ls->n].text = s;
	ls->n++;
	return BC_OK;
}

static void lines_free(struct lines *ls)
{
	for (size_t i = 0; i < ls->n; i++)
		bc_free_secret(ls->l[i].text, strlen(ls->l[i].text) + 1);
	ls->n = 0;
}

/* "key: text; key: text", cut (on a UTF-8 boundary) after about
 * LINE_MAX_TERMS bytes: the timeline is a summary, `proposals` shows all. */
static char *terms_summary(const bc_term *terms, uint16_t n)
{
	size_t cap = LINE_MAX_TERMS + 8, len = 0;
	char *s = bc_malloc(cap);
	bool cut = false;
	if (s == NULL)
		return NULL;
	for (uint16_t i = 0; i < n && !cut; i++) {
		const char *parts[4] = {i ? "; " : "", terms[i].key, ": ",
					terms[i].text};
		for (int j = 0; j < 4 && !cut; j++) {
			size_t pl = strlen(parts[j]);
			if (len + pl > LINE_MAX_TERMS) {
				pl = LINE_MAX_TERMS - len;
				while (pl > 0 &&
				       ((unsigned char)parts[j][pl] & 0xc0) == 0x80)
					pl--;
				cut = true;
			}
			memcpy(s + len, parts[j], pl);
			len += pl;
		}
	}
	if (cut) {
		memcpy(s + len, "...", 3);
		len += 3;
	}
	s[len] = '\0';
	return s;
}

/* ---- the stored record ---------------------------------------------------- */

static void rec_key(uint8_t key[KEY_LEN], const uint8_t *tid,
		    const uint8_t *pid)
{
	memcpy(key, tid, BC_TALK_ID_LEN);
	memcpy(key + BC_TALK_ID_LEN, pid, BC_PROPOSAL_ID_LEN);
}

void bc_talk_proposal_free(bc_talk_proposal *p)
{
	if (p == NULL)
		return;
	bc_proposal_clear(&p->p);
	bc_agreement_free(p->agreement);
	bc_free_secret(p, sizeof(*p));
}

static bc_talk_proposal *rec_new(const uint8_t *tid)
{
	bc_talk_proposal *p = bc_calloc(1, sizeof(*p));
	if (p != NULL) {
		bc_proposal_init(&p->p);
		memcpy(p->talk_id, tid, BC_TALK_ID_LEN);
	}
	return p;
}

int bc_talk_proposal_encode(const bc_talk_proposal *p, uint8_t **out,
			    size_t *len)
{
	uint8_t *st = NULL, *ag = NULL;
	size_t stl = 0, agl = 0;
	bc_wr w;
	int rc;
	*out = NULL;
	*len = 0;
	if ((rc = bc_proposal_encode(&p->p, &st, &stl)) != BC_OK)
		return rc;
	if (p->agreement != NULL &&
	    (rc = bc_agreement_encode(p->agreement, &ag, &agl)) != BC_OK) {
		bc_free_secret(st, stl);
		return rc;
	}
	bc_wr_init(&w, BC_STORE_VALUE_MAX);
	bc_wr_u8(&w, BC_TP_FORMAT);
	bc_wr_bytes(&w, st, stl);
	bc_wr_u16(&w, p->p.nversions);
	for (uint16_t i = 0; i < p->p.nversions; i++)
		bc_wr_u64(&w, p->created[i]);
	bc_wr_u16(&w, p->naccepts);
	for (uint16_t i = 0; i < p->naccepts; i++) {
		bc_wr_u32(&w, p->accepts[i].version);
		bc_wr_raw(&w, p->accepts[i].party, BC_MEMBER_ID_LEN);
		bc_wr_u64(&w, p->accepts[i].time);
	}
	bc_wr_u64(&w, p->agreed_at);
	bc_wr_bytes(&w, ag, agl);
	bc_wr_bool(&w, p->sign_pending);
	bc_wr_u16(&w, p->nheld);
	for (uint16_t i = 0; i < p->nheld; i++) {
		bc_wr_u32(&w, p->held[i].version);
		bc_wr_raw(&w, p->held[i].party, BC_MEMBER_ID_LEN);
		bc_wr_raw(&w, p->held[i].doc_hash, 32);
		bc_wr_raw(&w, p->held[i].sig, BC_IDENTITY_SIG_LEN);
	}
	rc = bc_wr_finish(&w, out, len);
	bc_free_secret(st, stl);
	bc_free(ag);
	return rc;
}

int bc_talk_proposal_decode(bc_talk_proposal **out,
			    const uint8_t talk_id[BC_TALK_ID_LEN],
			    const uint8_t *in, size_t len)
{
	bc_talk_proposal *p;
	const uint8_t *b;
	size_t bl;
	uint8_t fmt = 0;
	uint16_t n = 0;
	bc_rd r;
	int rc;
	*out = NULL;
	if ((p = rec_new(talk_id)) == NULL)
		return BC_ERR_NOMEM;
	bc_rd_init(&r, in, len);
	bc_rd_u8(&r, &fmt);
	if ((rc = bc_rd_bytes(&r, STATE_MAX, &b, &bl)) != BC_OK)
		goto out;
	if (fmt != BC_TP_FORMAT) {
		rc = BC_ERR_VERSION;
		goto out;
	}
	if ((rc = bc_proposal_decode(&p->p, b, bl)) != BC_OK)
		goto out;
	if ((rc = bc_rd_count(&r, BC_PROPOSAL_MAX_VERSIONS, &n)) != BC_OK)
		goto out;
	if (n != p->p.nversions) {
		rc = BC_ERR_MALFORMED;
		goto out;
	}
	for (uint16_t i = 0; i < n; i++)
		bc_rd_u64(&r, &p->created[i]);
	if ((rc = bc_rd_count(&r, BC_TP_MAX_ACCEPTS, &p->naccepts)) != BC_OK)
		goto out;
	for (uint16_t i = 0; i < p->naccepts; i++) {
		bc_rd_u32(&r, &p->accepts[i].version);
		bc_rd_raw(&r, p->accepts[i].party, BC_MEMBER_ID_LEN);
		bc_rd_u64(&r, &p->accepts[i].time);
		if (r.err == BC_OK && (p->accepts[i].version == 0 ||
				       p->accepts[i].version > p->p.nversions)) {
			rc = BC_ERR_MALFORMED;
			goto out;
		}
	}
	bc_rd_u64(&r, &p->agreed_at);
	if ((rc = bc_rd_bytes(&r, BC_AGREEMENT_BIN_MAX, &b, &bl)) != BC_OK)
		goto out;
	if (bl > 0) {
		if (p->p.status != BC_PROPOSAL_AGREED) {
			rc = BC_ERR_MALFORMED;
			goto out;
		}
		if ((rc = bc_agreement_decode(&p->agreement, b, bl)) != BC_OK)
			goto out;
		if (memcmp(p->agreement->channel_id, talk_id, BC_TALK_ID_LEN) ||
		    memcmp(p->agreement->proposal_id, p->p.id,
			   BC_PROPOSAL_ID_LEN) ||
		    p->agreement->version != p->p.agreed_version ||
		    p->agreement->agreed_at != p->agreed_at) {
			rc = BC_ERR_MALFORMED;
			goto out;
		}
	}
	bc_rd_bool(&r, &p->sign_pending);
	if ((rc = bc_rd_count(&r, BC_PROPOSAL_MAX_PARTIES, &p->nheld)) != BC_OK)
		goto out;
	for (uint16_t i = 0; i < p->nheld; i++) {
		bc_rd_u32(&r, &p->held[i].version);
		bc_rd_raw(&r, p->held[i].party, BC_MEMBER_ID_LEN);
		bc_rd_raw(&r, p->held[i].doc_hash, 32);
		bc_rd_raw(&r, p->held[i].sig, BC_IDENTITY_SIG_LEN);
	}
	if ((rc = bc_rd_end(&r)) != BC_OK)
		goto out;
	if (p->sign_pending && p->agreement == NULL)
		rc = BC_ERR_MALFORMED;
out:
	if (rc != BC_OK) {
		bc_talk_proposal_free(p);
		return rc == BC_ERR_NOMEM || rc == BC_ERR_VERSION ||
				       rc == BC_ERR_TOOBIG
			       ? rc
			       : BC_ERR_MALFORMED;
	}
	*out = p;
	return BC_OK;
}

static int rec_load(bc_talks *t, const uint8_t *tid, const uint8_t *pid,
		    bc_talk_proposal **out)
{
	uint8_t key[KEY_LEN], *v = NULL;
	size_t vl = 0;
	int rc;
	*out = NULL;
	rec_key(key, tid, pid);
	rc = bc_store_get(bc_talks_store(t), K_PROP, key, sizeof(key), &v, &vl);
	if (rc == BC_OK)
		rc = bc_talk_proposal_decode(out, tid, v, vl);
	bc_free_secret(v, vl);
	return rc;
}

static int rec_put(bc_talks *t, const bc_talk_proposal *p)
{
	uint8_t key[KEY_LEN], *v = NULL;
	size_t vl = 0;
	int rc;
	rec_key(key, p->talk_id, p->p.id);
	if ((rc = bc_talk_proposal_encode(p, &v, &vl)) != BC_OK)
		return rc;
	rc = bc_store_put(bc_talks_store(t), K_PROP, key, sizeof(key), v, vl);
	bc_free_secret(v, vl);
	return rc;
}

/* The record and the lines that describe its change, atomically. */
static int save_and_emit(bc_talks *t, const bc_talk_proposal *p,
			 const struct lines *ls, const uint8_t *msg_id,
			 bc_talk_event_fn fn, void *ctx)
{
	bc_store *st = bc_talks_store(t);
	int rc = bc_store_begin(st);
	if (rc != BC_OK)
		return rc;
	rc = rec_put(t, p);
	for (size_t i = 0; rc == BC_OK && i < ls->n; i++)
		rc = bc_talk_emit(t, p->talk_id, i == 0 ? msg_id : NULL,
				  ls->l[i].kind, ls->l[i].from, ls->l[i].text,
				  NULL, 0, fn, ctx);
	if (rc == BC_OK)
		rc = bc_store_commit(st);
	else
		bc_store_rollback(st);
	return rc;
}

/* ---- message bodies ---------------------------------------------------- */

static int body_encode(uint64_t time, const bc_proposal_event *ev,
		       uint8_t **out, size_t *len)
{
	uint8_t *e = NULL;
	size_t el = 0;
	bc_wr w;
	int rc;
	*out = NULL;
	*len = 0;
	if ((rc = bc_proposal_event_encode(ev, &e, &el)) != BC_OK)
		return rc;
	bc_wr_init(&w, EVENT_MAX + 16);
	bc_wr_u8(&w, BC_TP_FORMAT);
	bc_wr_u64(&w, time);
	bc_wr_bytes(&w, e, el);
	rc = bc_wr_finish(&w, out, len);
	bc_free(e);
	return rc;
}

int bc_tp_body_decode(const uint8_t *in, size_t len, uint64_t *time,
		      bc_proposal_event *ev)
{
	const uint8_t *e = NULL;
	size_t el = 0;
	uint8_t fmt = 0;
	bc_rd r;
	int rc;
	memset(ev, 0, sizeof(*ev));
	bc_rd_init(&r, in, len);
	bc_rd_u8(&r, &fmt);
	bc_rd_u64(&r, time);
	bc_rd_bytes(&r, EVENT_MAX, &e, &el);
	if ((rc = bc_rd_end(&r)) != BC_OK)
		return rc;
	if (fmt != BC_TP_FORMAT)
		return BC_ERR_VERSION;
	return bc_proposal_event_decode(ev, e, el);
}

static void sign_encode(const bc_tp_sign *s, uint8_t out[BC_TP_SIGN_LEN])
{
	out[0] = BC_TP_FORMAT;
	memcpy(out + 1, s->proposal_id, BC_PROPOSAL_ID_LEN);
	bc_store32(out + 17, s->version);
	memcpy(out + 21, s->doc_hash, 32);
	memcpy(out + 53, s->sig, BC_IDENTITY_SIG_LEN);
}

int bc_tp_sign_decode(const uint8_t *in, size_t len, bc_tp_sign *out)
{
	uint8_t fmt = 0;
	bc_rd r;
	int rc;
	memset(out, 0, sizeof(*out));
	bc_rd_init(&r, in, len);
	bc_rd_u8(&r, &fmt);
	bc_rd_raw(&r, out->proposal_id, BC_PROPOSAL_ID_LEN);
	bc_rd_u32(&r, &out->version);
	bc_rd_raw(&r, out->doc_hash, 32);
	bc_rd_raw(&r, out->sig, BC_IDENTITY_SIG_LEN);
	if ((rc = bc_rd_end(&r)) != BC_OK)
		return rc;
	return fmt == BC_TP_FORMAT ? BC_OK : BC_ERR_VERSION;
}

/* ---- agreements ----------------------------------------------------------- */

/* BC_OK iff sig is party's valid signature of a's document (the rule of
 * agreement.h), without touching a. */
static int sig_valid(const bc_agreement *a, const uint8_t *party,
		     const uint8_t *sig)
{
	static const char label[] = BC_AGREEMENT_SIG_LABEL;
	uint8_t msg[sizeof(label) - 1 + crypto_generichash_BYTES_MAX];
	for (uint16_t i = 0; i < a->nparties; i++) {
		if (memcmp(a->parties[i].fingerprint, party,
			   BC_FINGERPRINT_LEN) != 0)
			continue;
		memcpy(msg, label, sizeof(label) - 1);
		if (crypto_generichash(msg + sizeof(label) - 1,
				       crypto_generichash_BYTES_MAX, a->doc,
				       a->doc_len, NULL, 0) != 0)
			return BC_ERR_CRYPTO;
		return crypto_sign_verify_detached(
			       sig, msg, sizeof(msg),
			       a->parties[i].id.sign_pub) == 0
			       ? BC_OK
			       : BC_ERR_AUTH;
	}
	return BC_ERR_AUTH;
}

/* Take the signature of `party` on p's agreement. BC_OK with *dup when
 * that party had signed already (a duplicate is harmless); BC_ERR_AUTH
 * with *why when it is not a valid signature of this document. */
static int take_sig(const bc_talk_info *info, bc_talk_proposal *p,
		    const uint8_t *party, const uint8_t hash[32],
		    const uint8_t *sig, struct lines *ls, const char **why)
{
	bc_agreement *a = p->agreement;
	char sp[BC_TP_SHORT_SIZE];
	uint8_t h[32];
	int rc;
	bc_talk_proposal_short(p->p.id, sp);
	if ((rc = doc_hash(a, h)) != BC_OK)
		return rc;
	if (sodium_memcmp(h, hash, sizeof(h)) != 0) {
		*why = "the signer's agreement document differs from ours";
		return BC_ERR_AUTH;
	}
	for (uint16_t i = 0; i < a->nsigs; i++) {
		if (memcmp(a->sigs[i].fingerprint, party, BC_MEMBER_ID_LEN) != 0)
			continue;
		/* A repeat of the signature we hold is harmless (a resend);
		 * other bytes are still checked so a forgery is reported. */
		if (sodium_memcmp(a->sigs[i].sig, sig, BC_IDENTITY_SIG_LEN) == 0)
			return BC_OK;
		if ((rc = sig_valid(a, party, sig)) == BC_ERR_AUTH) {
			*why = "the signature does not verify against the "
			       "agreement";
			return rc;
		}
		return rc; /* valid, other bytes: nothing to add */
	}
	rc = bc_agreement_add_signature(a, party, sig);
	if (rc == BC_ERR_AUTH || rc == BC_ERR_CONFLICT) {
		*why = "the signature does not verify against the agreement";
		return BC_ERR_AUTH;
	}
	if (rc != BC_OK)
		return rc;
	if ((rc = line_add(ls, BC_TK_SIGN, party,
			   "agreement %s v%u signed by %s", sp, a->version,
			   bc_talk_member_name(info, party))) != BC_OK)
		return rc;
	if (bc_agreement_is_complete(a))
		rc = line_add(ls, BC_TK_SIGN, party,
			      "agreement %s v%u complete: signed by every party",
			      sp, a->version);
	return rc;
}

/* p just became AGREED: build the document from what every member shares
 * (the talk's id, title and parties, the version's terms, the latest
 * acceptance time), sign it if we are a party, take held signatures. */
static int form_agreement(bc_talks *t, const bc_talk_info *info,
			  bc_talk_proposal *p, struct lines *ls)
{
	const bc_proposal_version *v = &p->p.versions[p->p.agreed_version - 1];
	bc_agreement_party_in in[BC_AGREEMENT_MAX_PARTIES];
	const uint8_t *self = bc_talks_self(t);
	uint8_t sig[BC_IDENTITY_SIG_LEN];
	char sp[BC_TP_SHORT_SIZE];
	uint16_t n = 0;
	int rc;
	bc_talk_proposal_short(p->p.id, sp);
	p->agreed_at = 0;
	for (uint16_t i = 0; i < p->naccepts; i++)
		if (p->accepts[i].version == v->number &&
		    p->accepts[i].time > p->agreed_at)
			p->agreed_at = p->accepts[i].time;
	for (size_t i = 0; i < info->nmembers; i++)
		if (info->members[i].role == BC_ROLE_PARTY &&
		    n < BC_AGREEMENT_MAX_PARTIES) {
			in[n].id = &info->members[i].identity;
			in[n].side = info->members[i].side;
			n++;
		}
	rc = bc_agreement_build(&p->agreement, info->id, info->title, p->p.id,
				v->number, v->terms, v->nterms, in, n,
				p->agreed_at);
	if (rc == BC_ERR_NOMEM)
		return rc;
	if (rc != BC_OK) /* e.g. a title over the document's cap */
		return line_add(ls, BC_TEV_INTEGRITY, self,
				"cannot build the agreement document of %s "
				"v%u: %s",
				sp, v->number, bc_strerror(rc));
	if (info->my_role == BC_ROLE_PARTY) {
		rc = bc_agreement_sign(p->agreement, bc_talks_identity(t), sig);
		if (rc == BC_OK)
			rc = bc_agreement_add_signature(p->agreement, self, sig);
		if (rc != BC_OK)
			return rc;
		p->sign_pending = true;
		if ((rc = line_add(ls, BC_TK_SIGN, self,
				   "agreement %s v%u signed by %s", sp,
				   v->number, bc_talk_member_name(info, self))) != BC_OK)
			return rc;
		if (bc_agreement_is_complete(p->agreement) &&
		    (rc = line_add(ls, BC_TK_SIGN, self,
				   "agreement %s v%u complete: signed by every "
				   "party",
				   sp, v->number)) != BC_OK)
			return rc;
	}
	/* Signatures that arrived before the version was agreed here. */
	for (uint16_t i = 0; i < p->nheld; i++) {
		const char *why = NULL;
		if (p->held[i].version != v->number)
			continue;
		rc = take_sig(info, p, p->held[i].party, p->held[i].doc_hash,
			      p->held[i].sig, ls, &why);
		if (rc == BC_ERR_AUTH)
			rc = line_add(ls, BC_TEV_INTEGRITY, p->held[i].party,
				      "refused %s's signature on agreement %s "
				      "v%u: %s",
				      bc_talk_member_name(info, p->held[i].party), sp,
				      v->number, why);
		if (rc != BC_OK)
			return rc;
	}
	p->nheld = 0;
	sodium_memzero(p->held, sizeof(p->held));
	return BC_OK;
}

/* Send our signature on p's agreement if it is pending. BC_ERR_STATE
 * while the talk is not open: it stays pending. */
static int send_sig(bc_talks *t, bc_talk_proposal *p)
{
	const uint8_t *self = bc_talks_self(t);
	uint8_t body[BC_TP_SIGN_LEN];
	bc_tp_sign s;
	bool found = false;
	int rc;
	if (!p->sign_pending || p->agreement == NULL)
		return BC_OK;
	memset(&s, 0, sizeof(s));
	for (uint16_t i = 0; i < p->agreement->nsigs && !found; i++)
		if (memcmp(p->agreement->sigs[i].fingerprint, self,
			   BC_MEMBER_ID_LEN) == 0) {
			memcpy(s.sig, p->agreement->sigs[i].sig,
			       BC_IDENTITY_SIG_LEN);
			found = true;
		}
	if (found) {
		memcpy(s.proposal_id, p->p.id, BC_PROPOSAL_ID_LEN);
		s.version = p->agreement->version;
		if ((rc = doc_hash(p->agreement, s.doc_hash)) != BC_OK)
			return rc;
		sign_encode(&s, body);
		rc = bc_talk_send(t, p->talk_id, BC_TK_SIGN, body, sizeof(body),
				  NULL, 0, false, NULL);
		/* NOTFOUND: nobody else is left in the talk to tell. */
		if (rc != BC_OK && rc != BC_ERR_NOTFOUND)
			return rc;
	}
	p->sign_pending = false;
	return rec_put(t, p);
}

/* ---- applying an event (both ends) ---------------------------------------- */

/* Apply ev (by its actor with role, at `time`) to p and record it with its
 * timeline lines. *refused tells that the state machine refused it
 * (rc and *why are then its answer; nothing was written). */
static int record(bc_talks *t, const bc_talk_info *info, bc_talk_proposal *p,
		  const bc_proposal_event *ev, uint64_t time, int role,
		  const uint8_t *msg_id, bc_talk_event_fn fn, void *ctx,
		  bool *refused, const char **why)
{
	uint8_t parties[BC_TALK_MAX_MEMBERS][BC_E2E_ID_LEN];
	size_t np = bc_talk_parties(info, parties);
	uint8_t before = p->p.status;
	const bc_proposal_version *v;
	struct lines ls;
	char sp[BC_TP_SHORT_SIZE], exp[48] = "", *terms = NULL;
	int rc;
	*refused = false;
	ls.n = 0;
	rc = bc_proposal_apply(&p->p, ev, role,
			       (const uint8_t(*)[BC_MEMBER_ID_LEN])parties, np,
			       time, why);
	if (rc != BC_OK) {
		*refused = rc != BC_ERR_NOMEM;
		return rc;
	}
	bc_talk_proposal_short(p->p.id, sp);
	v = bc_proposal_latest(&p->p);
	switch (ev->type) {
	case BC_PEV_PROPOSE:
	case BC_PEV_COUNTER:
		p->created[p->p.nversions - 1] = time;
		if (v->expiry != 0) {
			char ts[32];
			fmt_time(v->expiry, ts);
			snprintf(exp, sizeof(exp), " (expires %s)", ts);
		}
		if ((terms = terms_summary(v->terms, v->nterms)) == NULL) {
			rc = BC_ERR_NOMEM;
			break;
		}
		if (ev->type == BC_PEV_PROPOSE)
			rc = line_add(&ls, BC_TK_PROPOSAL, ev->actor,
				      "proposed %s%s v1%s: %s",
				      p->p.kind == BC_PROPOSAL_MEETING
					      ? "a meeting "
					      : "",
				      sp, exp, terms);
		else
			rc = line_add(&ls, BC_TK_PROPOSAL, ev->actor,
				      "countered %s with v%u%s: %s", sp,
				      v->number, exp, terms);
		break;
	case BC_PEV_ACCEPT:
		if (p->naccepts < BC_TP_MAX_ACCEPTS) {
			p->accepts[p->naccepts].version = ev->version;
			memcpy(p->accepts[p->naccepts].party, ev->actor,
			       BC_MEMBER_ID_LEN);
			p->accepts[p->naccepts].time = time;
			p->naccepts++;
		}
		rc = line_add(&ls, BC_TK_PROPOSAL, ev->actor, "accepted %s v%u",
			      sp, ev->version);
		break;
	case BC_PEV_REJECT:
		rc = line_add(&ls, BC_TK_PROPOSAL, ev->actor, "rejected %s v%u%s%s",
			      sp, ev->version, v->reject_reason[0] ? ": " : "",
			      v->reject_reason);
		break;
	default:
		rc = line_add(&ls, BC_TK_PROPOSAL, ev->actor,
			      "withdrew %s (v%u)", sp, ev->version);
		break;
	}
	if (rc == BC_OK && before != BC_PROPOSAL_AGREED &&
	    p->p.status == BC_PROPOSAL_AGREED) {
		rc = line_add(&ls, BC_TK_PROPOSAL, ev->actor,
			      "%s v%u agreed: every party accepted it", sp,
			      p->p.agreed_version);
		if (rc == BC_OK)
			rc = form_agreement(t, info, p, &ls);
	}
	if (rc == BC_OK)
		rc = save_and_emit(t, p, &ls, msg_id, fn, ctx);
	if (terms)
		bc_free_secret(terms, strlen(terms) + 1);
	lines_free(&ls);
	return rc;
}

/* ---- local actions ---------------------------------------------------------- */

static int preflight(const bc_talk_info *info, const char **why)
{
	if (!info->joined || info->left) {
		*why = "you are not (or no longer) a member of this talk";
		return BC_ERR_FORBIDDEN;
	}
	if (info->state == BC_TALK_CLOSED) {
		*why = "the talk is closed";
		return BC_ERR_STATE;
	}
	if (info->state != BC_TALK_OPEN) {
		*why = "the talk is suspended: nothing can be proposed or "
		       "answered until a party resumes it";
		return BC_ERR_STATE;
	}
	if (info->my_role == BC_ROLE_OBSERVER) {
		*why = "observers cannot act on proposals";
		return BC_ERR_FORBIDDEN;
	}
	return BC_OK;
}

/* Check ev as every receiver will, send it, record it. ev->actor is set
 * here; ev->version 0 means the latest version (counter: the next). */
static int act(bc_talks *t, const uint8_t *tid, bc_proposal_event *ev,
	       uint32_t *version_out, bc_talk_event_fn fn, void *ctx,
	       const char **why)
{
	uint8_t parties[BC_TALK_MAX_MEMBERS][BC_E2E_ID_LEN];
	bc_talk_info *info = bc_calloc(1, sizeof(*info));
	bc_talk_proposal *p = NULL;
	bc_proposal probe;
	uint8_t msg_id[16], *body = NULL, *sb = NULL;
	size_t blen = 0, sbl = 0, np;
	const char *dummy;
	uint64_t now = bc_talks_now();
	bool refused;
	int rc;
	if (why == NULL)
		why = &dummy;
	*why = NULL;
	bc_proposal_init(&probe);
	if (info == NULL)
		return BC_ERR_NOMEM;
	if ((rc = bc_talk_get(t, tid, info)) != BC_OK)
		goto out;
	if ((rc = preflight(info, why)) != BC_OK)
		goto out;
	memcpy(ev->actor, bc_talks_self(t), BC_MEMBER_ID_LEN);
	rc = rec_load(t, tid, ev->proposal_id, &p);
	if (ev->type == BC_PEV_PROPOSE) {
		if (rc == BC_OK) {
			*why = "the proposal already exists";
			rc = BC_ERR_STATE;
			goto out;
		}
		if (rc != BC_ERR_NOTFOUND)
			goto out;
		if ((p = rec_new(tid)) == NULL) {
			rc = BC_ERR_NOMEM;
			goto out;
		}
	} else {
		const bc_proposal_version *l;
		if (rc == BC_ERR_NOTFOUND)
			*why = "no such proposal in this talk";
		if (rc != BC_OK)
			goto out;
		l = bc_proposal_latest(&p->p);
		if (ev->type == BC_PEV_COUNTER)
			ev->version = l->number + 1;
		else if (ev->version == 0)
			ev->version = l->number;
		/* A copy to try the event on: the real state changes only
		 * once the event went out. */
		if ((rc = bc_proposal_encode(&p->p, &sb, &sbl)) != BC_OK ||
		    (rc = bc_proposal_decode(&probe, sb, sbl)) != BC_OK)
			goto out;
	}
	np = bc_talk_parties(info, parties);
	rc = bc_proposal_apply(&probe, ev, info->my_role,
			       (const uint8_t(*)[BC_MEMBER_ID_LEN])parties, np,
			       now, why);
	if (rc != BC_OK)
		goto out;
	if ((rc = body_encode(now, ev, &body, &blen)) != BC_OK)
		goto out;
	if (blen > BC_TP_BODY_MAX) {
		*why = "the proposal is too large to send (at most about 72 "
		       "KiB of terms)";
		rc = BC_ERR_TOOBIG;
		goto out;
	}
	rc = bc_talk_send(t, tid, BC_TK_PROPOSAL, body, blen, NULL, 0, false,
			  msg_id);
	if (rc == BC_ERR_NOTFOUND)
		*why = "there is nobody else in the talk yet";
	if (rc != BC_OK)
		goto out;
	rc = record(t, info, p, ev, now, info->my_role, msg_id, fn, ctx,
		    &refused, why);
	if (rc != BC_OK)
		goto out;
	if (version_out)
		*version_out = ev->version;
	/* We completed the agreement: our signature goes out at once. A
	 * failure leaves it pending for bc_talk_proposal_flush. */
	(void)send_sig(t, p);
out:
	bc_proposal_clear(&probe);
	bc_free_secret(sb, sbl);
	bc_free_secret(body, blen);
	bc_talk_proposal_free(p);
	bc_free_secret(info, sizeof(*info));
	return rc;
}

int bc_talk_propose(bc_talks *t, const uint8_t talk_id[BC_TALK_ID_LEN],
		    uint8_t kind, uint64_t expiry, const bc_term *terms,
		    uint16_t nterms, uint8_t pid_out[BC_PROPOSAL_ID_LEN],
		    bc_talk_event_fn fn, void *ctx, const char **why)
{
	bc_proposal_event ev;
	int rc;
	memset(&ev, 0, sizeof(ev));
	ev.type = BC_PEV_PROPOSE;
	randombytes_buf(ev.proposal_id, sizeof(ev.proposal_id));
	ev.version = 1;
	ev.kind = kind;
	ev.expiry = expiry;
	ev.terms = (bc_term *)terms;
	ev.nterms = nterms;
	rc = act(t, talk_id, &ev, NULL, fn, ctx, why);
	if (rc == BC_OK)
		memcpy(pid_out, ev.proposal_id, BC_PROPOSAL_ID_LEN);
	return rc;
}

int bc_talk_counter(bc_talks *t, const uint8_t talk_id[BC_TALK_ID_LEN],
		    const uint8_t pid[BC_PROPOSAL_ID_LEN], uint64_t expiry,
		    const bc_term *terms, uint16_t nterms, uint32_t *version_out,
		    bc_talk_event_fn fn, void *ctx, const char **why)
{
	bc_proposal_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = BC_PEV_COUNTER;
	memcpy(ev.proposal_id, pid, BC_PROPOSAL_ID_LEN);
	ev.expiry = expiry;
	ev.terms = (bc_term *)terms;
	ev.nterms = nterms;
	return act(t, talk_id, &ev, version_out, fn, ctx, why);
}

int bc_talk_accept(bc_talks *t, const uint8_t talk_id[BC_TALK_ID_LEN],
		   const uint8_t pid[BC_PROPOSAL_ID_LEN], uint32_t version,
		   uint32_t *version_out, bc_talk_event_fn fn, void *ctx,
		   const char **why)
{
	bc_proposal_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = BC_PEV_ACCEPT;
	memcpy(ev.proposal_id, pid, BC_PROPOSAL_ID_LEN);
	ev.version = version;
	return act(t, talk_id, &ev, version_out, fn, ctx, why);
}

int bc_talk_reject(bc_talks *t, const uint8_t talk_id[BC_TALK_ID_LEN],
		   const uint8_t pid[BC_PROPOSAL_ID_LEN], const char *reason,
		   uint32_t *version_out, bc_talk_event_fn fn, void *ctx,
		   const char **why)
{
	bc_proposal_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = BC_PEV_REJECT;
	memcpy(ev.proposal_id, pid, BC_PROPOSAL_ID_LEN);
	ev.reason = (char *)(reason ? reason : "");
	return act(t, talk_id, &ev, version_out, fn, ctx, why);
}

int bc_talk_withdraw(bc_talks *t, const uint8_t talk_id[BC_TALK_ID_LEN],
		     const uint8_t pid[BC_PROPOSAL_ID_LEN], bc_talk_event_fn fn,
		     void *ctx, const char **why)
{
	bc_proposal_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = BC_PEV_WITHDRAW;
	memcpy(ev.proposal_id, pid, BC_PROPOSAL_ID_LEN);
	return act(t, talk_id, &ev, NULL, fn, ctx, why);
}

/* ---- listing and finding ---------------------------------------------------- */

struct collect {
	const uint8_t *tid;
	bc_talk_proposal **v;
	size_t n, cap;
	/* find */
	const char *prefix;
	uint8_t pid[BC_PROPOSAL_ID_LEN];
	int found;
};

static int collect_one(void *vctx, const uint8_t *key, size_t klen,
		       const uint8_t *val, size_t vlen)
{
	struct collect *c = vctx;
	bc_talk_proposal *p;
	int rc;
	if (klen != KEY_LEN)
		return BC_ERR_MALFORMED;
	if (memcmp(key, c->tid, BC_TALK_ID_LEN) != 0)
		return BC_OK;
	if (c->prefix != NULL) {
		char hex[BC_HEX_SIZE(BC_PROPOSAL_ID_LEN)];
		if (bc_hex_encode(key + BC_TALK_ID_LEN, BC_PROPOSAL_ID_LEN, hex,
				  sizeof(hex)) != BC_OK)
			return BC_ERR_INTERNAL;
		if (strncasecmp(hex, c->prefix, strlen(c->prefix)) == 0) {
			memcpy(c->pid, key + BC_TALK_ID_LEN, BC_PROPOSAL_ID_LEN);
			c->found++;
		}
		return BC_OK;
	}
	if (c->n == c->cap) {
		size_t nc = c->cap ? 2 * c->cap : 8;
		bc_talk_proposal **nv = bc_realloc(c->v, nc * sizeof(*nv));
		if (nv == NULL)
			return BC_ERR_NOMEM;
		c->v = nv;
		c->cap = nc;
	}
	if ((rc = bc_talk_proposal_decode(&p, c->tid, val, vlen)) != BC_OK)
		return rc;
	c->v[c->n++] = p;
	return BC_OK;
}

int bc_talk_proposal_find(bc_talks *t, const uint8_t talk_id[BC_TALK_ID_LEN],
			  const char *s, uint8_t pid[BC_PROPOSAL_ID_LEN])
{
	struct collect c;
	size_t len;
	int rc;
	memset(&c, 0, sizeof(c));
	if (s[0] == 'P' || s[0] == 'p')
		s++;
	len = strlen(s);
	if (len < 4 || len > 2 * BC_PROPOSAL_ID_LEN ||
	    strspn(s, "0123456789abcdefABCDEF") != len)
		return BC_ERR_INVALID;
	c.tid = talk_id;
	c.prefix = s;
	if ((rc = bc_store_list(bc_talks_store(t), K_PROP, collect_one, &c)) !=
	    BC_OK)
		return rc;
	if (c.found == 0)
		return BC_ERR_NOTFOUND;
	if (c.found > 1)
		return BC_ERR_CONFLICT;
	memcpy(pid, c.pid, BC_PROPOSAL_ID_LEN);
	return BC_OK;
}

int bc_talk_proposal_get(bc_talks *t, const uint8_t talk_id[BC_TALK_ID_LEN],
			 const uint8_t pid[BC_PROPOSAL_ID_LEN],
			 bc_talk_proposal **out)
{
	return rec_load(t, talk_id, pid, out);
}

static void collect_free(struct collect *c)
{
	for (size_t i = 0; i < c->n; i++)
		bc_talk_proposal_free(c->v[i]);
	bc_free(c->v);
}

int bc_talk_proposal_list(bc_talks *t, const uint8_t talk_id[BC_TALK_ID_LEN],
			  int (*fn)(void *ctx, const bc_talk_proposal *p),
			  void *ctx)
{
	struct collect c;
	int rc;
	memset(&c, 0, sizeof(c));
	c.tid = talk_id;
	rc = bc_store_list(bc_talks_store(t), K_PROP, collect_one, &c);
	for (size_t i = 0; rc == BC_OK && i < c.n; i++)
		rc = fn(ctx, c.v[i]);
	collect_free(&c);
	return rc;
}

int bc_talk_proposal_flush(bc_talks *t, const uint8_t talk_id[BC_TALK_ID_LEN],
			   size_t *sent, size_t *left)
{
	struct collect c;
	size_t ns = 0, nl = 0;
	int rc, first = BC_OK;
	memset(&c, 0, sizeof(c));
	c.tid = talk_id;
	rc = bc_store_list(bc_talks_store(t), K_PROP, collect_one, &c);
	for (size_t i = 0; rc == BC_OK && i < c.n; i++) {
		int src;
		if (!c.v[i]->sign_pending)
			continue;
		src = send_sig(t, c.v[i]);
		if (src == BC_OK) {
			ns++;
		} else {
			nl++;
			if (first == BC_OK)
				first = src;
		}
	}
	collect_free(&c);
	if (sent)
		*sent = ns;
	if (left)
		*left = nl;
	return rc != BC_OK ? rc : first;
}

/* ---- receiving ---------------------------------------------------------------- */

/* Refuse a message: one detailed timeline line, then the code talk.c
 * turns into its integrity event. */
static int refuse(bc_talks *t, const bc_talk_info *info, const bc_e2e_msg *m,
		  bc_talk_event_fn fn, void *ctx, int err, const char *what,
		  const char *why)
{
	char line[400];
	int rc;
	snprintf(line, sizeof(line), "refused %s from %s: %s", what,
		 bc_talk_member_name(info, m->meta.sender), why ? why : bc_strerror(err));
	rc = bc_talk_emit(t, info->id, m->meta.msg_id, BC_TEV_INTEGRITY,
			  m->meta.sender, line, NULL, 0, fn, ctx);
	return rc != BC_OK ? rc : err;
}

static const char *event_name(uint8_t type)
{
	switch (type) {
	case BC_PEV_PROPOSE: return "a proposal";
	case BC_PEV_COUNTER: return "a counter-proposal";
	case BC_PEV_ACCEPT: return "an acceptance";
	case BC_PEV_REJECT: return "a rejection";
	case BC_PEV_WITHDRAW: return "a withdrawal";
	default: return "a proposal event";
	}
}

int bc_talk_on_proposal(bc_talks *t, const bc_talk_info *info,
			const bc_e2e_msg *m, bc_rd *r, bc_talk_event_fn fn,
			void *ctx)
{
	const bc_talk_member *s = bc_talk_member_of(info, m->meta.sender);
	bc_talk_proposal *p = NULL;
	bc_proposal_event ev;
	const uint8_t *body = NULL;
	size_t blen = bc_rd_left(r);
	const char *why = NULL, *what;
	uint64_t time = 0, ts = m->meta.timestamp;
	bool refused = false;
	int rc;
	memset(&ev, 0, sizeof(ev));
	bc_rd_ref(r, blen, &body);
	if ((rc = bc_rd_end(r)) != BC_OK)
		return BC_ERR_MALFORMED;
	rc = bc_tp_body_decode(body, blen, &time, &ev);
	if (rc == BC_ERR_NOMEM)
		return rc;
	if (rc != BC_OK)
		return refuse(t, info, m, fn, ctx, BC_ERR_MALFORMED,
			      "a proposal message", "it does not parse");
	what = event_name(ev.type);
	if (s == NULL) {
		rc = BC_ERR_FORBIDDEN;
	} else if (memcmp(ev.actor, m->meta.sender, BC_MEMBER_ID_LEN) != 0) {
		rc = refuse(t, info, m, fn, ctx, BC_ERR_FORBIDDEN, what,
			    "it acts in another member's name");
	} else if (s->role == BC_ROLE_OBSERVER) {
		rc = refuse(t, info, m, fn, ctx, BC_ERR_FORBIDDEN, what,
			    "observers cannot act on proposals");
	} else if (!bc_talk_readers_all(info, m)) {
		rc = refuse(t, info, m, fn, ctx, BC_ERR_AUTH, what,
			    "it was not sent to every member");
	} else if (time > ts + BC_TP_SKEW || time + BC_TP_SKEW < ts) {
		rc = refuse(t, info, m, fn, ctx, BC_ERR_MALFORMED, what,
			    "its time is not the time it was sent");
	} else {
		rc = rec_load(t, info->id, ev.proposal_id, &p);
		if (rc == BC_ERR_NOTFOUND && ev.type == BC_PEV_PROPOSE) {
			rc = (p = rec_new(info->id)) ? BC_OK : BC_ERR_NOMEM;
		} else if (rc == BC_ERR_NOTFOUND) {
			rc = refuse(t, info, m, fn, ctx, BC_ERR_FORBIDDEN, what,
				    "no such proposal");
			goto out;
		}
		if (rc != BC_OK)
			goto out;
		rc = record(t, info, p, &ev, time, s->role, m->meta.msg_id, fn,
			    ctx, &refused, &why);
		if (refused)
			rc = refuse(t, info, m, fn, ctx,
				    rc == BC_ERR_INVALID || rc == BC_ERR_TOOBIG
					    ? BC_ERR_MALFORMED
					    : BC_ERR_FORBIDDEN,
				    what, why);
		else if (rc == BC_OK)
			/* This accept completed the agreement here: sign now;
			 * if that fails it stays pending (flush). */
			(void)send_sig(t, p);
	}
out:
	bc_talk_proposal_free(p);
	bc_proposal_event_free(&ev);
	return rc;
}

int bc_talk_on_sign(bc_talks *t, const bc_talk_info *info,
		    const bc_e2e_msg *m, bc_rd *r, bc_talk_event_fn fn,
		    void *ctx)
{
	static const char what[] = "a signature";
	const bc_talk_member *s = bc_talk_member_of(info, m->meta.sender);
	bc_talk_proposal *p = NULL;
	const uint8_t *body = NULL;
	size_t blen = bc_rd_left(r);
	const char *why = NULL;
	struct lines ls;
	bc_tp_sign sg;
	int rc;
	ls.n = 0;
	bc_rd_ref(r, blen, &body);
	if ((rc = bc_rd_end(r)) != BC_OK)
		return BC_ERR_MALFORMED;
	if (bc_tp_sign_decode(body, blen, &sg) != BC_OK)
		return refuse(t, info, m, fn, ctx, BC_ERR_MALFORMED, what,
			      "it does not parse");
	if (s == NULL || s->role != BC_ROLE_PARTY)
		return refuse(t, info, m, fn, ctx, BC_ERR_FORBIDDEN, what,
			      "only parties sign agreements");
	if (!bc_talk_readers_all(info, m))
		return refuse(t, info, m, fn, ctx, BC_ERR_AUTH, what,
			      "it was not sent to every member");
	rc = rec_load(t, info->id, sg.proposal_id, &p);
	if (rc == BC_ERR_NOTFOUND)
		return refuse(t, info, m, fn, ctx, BC_ERR_FORBIDDEN, what,
			      "no such proposal");
	if (rc != BC_OK)
		return rc;
	if (p->p.status == BC_PROPOSAL_OPEN &&
	    sg.version == bc_proposal_latest(&p->p)->number) {
		/* Its version is not agreed here yet (the last acceptance may
		 * come through another member's mailbox later): hold it, to
		 * be checked when the version is agreed. */
		uint16_t i;
		for (i = 0; i < p->nheld; i++)
			if (memcmp(p->held[i].party, m->meta.sender,
				   BC_MEMBER_ID_LEN) == 0)
				break;
		if (i == p->nheld && p->nheld < BC_PROPOSAL_MAX_PARTIES)
			p->nheld++;
		if (i < p->nheld) {
			p->held[i].version = sg.version;
			memcpy(p->held[i].party, m->meta.sender,
			       BC_MEMBER_ID_LEN);
			memcpy(p->held[i].doc_hash, sg.doc_hash, 32);
			memcpy(p->held[i].sig, sg.sig, BC_IDENTITY_SIG_LEN);
		}
		rc = rec_put(t, p);
	} else if (p->p.status != BC_PROPOSAL_AGREED ||
		   sg.version != p->p.agreed_version) {
		rc = refuse(t, info, m, fn, ctx, BC_ERR_FORBIDDEN, what,
			    "that version is not agreed");
	} else if (p->agreement == NULL) {
		rc = refuse(t, info, m, fn, ctx, BC_ERR_AUTH, what,
			    "there is no agreement document here to check it "
			    "against");
	} else {
		rc = take_sig(info, p, m->meta.sender, sg.doc_hash, sg.sig, &ls,
			      &why);
		if (rc == BC_ERR_AUTH)
			rc = refuse(t, info, m, fn, ctx, rc, what, why);
		else if (rc == BC_OK && ls.n > 0)
			rc = save_and_emit(t, p, &ls, NULL, fn, ctx);
	}
	/* Our own signature may still be waiting (a suspended talk). */
	if (rc == BC_OK)
		(void)send_sig(t, p);
	lines_free(&ls);
	bc_talk_proposal_free(p);
	return rc;
}
