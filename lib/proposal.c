/*
 * proposal.c - the proposal state machine (see proposal.h for the rules,
 * docs/PROTOCOL.md §18 for the layouts).
 *
 * bc_proposal_apply checks everything before it changes anything: the only
 * step that can fail after the checks is the allocation of the new version
 * (propose / counter), which happens before the state is touched. Hence
 * "every error leaves the state unchanged" holds by construction.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "proposal.h"

static const uint8_t zero_id[BC_MEMBER_ID_LEN];

/* ---- terms ------------------------------------------------------------- */

static int fail(const char **why, const char *reason, int err)
{
	if (why != NULL)
		*why = reason;
	return err;
}

int bc_proposal_terms_check(const bc_term *terms, size_t n, const char **why)
{
	if (n == 0 || terms == NULL)
		return fail(why, "a version needs at least one term", BC_ERR_INVALID);
	if (n > BC_PROPOSAL_MAX_TERMS)
		return fail(why, "too many terms", BC_ERR_TOOBIG);
	for (size_t i = 0; i < n; i++) {
		if (terms[i].key == NULL || terms[i].text == NULL)
			return fail(why, "missing term key or text", BC_ERR_INVALID);
		size_t kl = strlen(terms[i].key), tl = strlen(terms[i].text);
		if (kl == 0)
			return fail(why, "empty term key", BC_ERR_INVALID);
		if (kl > BC_PROPOSAL_KEY_MAX)
			return fail(why, "term key too long", BC_ERR_TOOBIG);
		if (tl > BC_PROPOSAL_TEXT_MAX)
			return fail(why, "term text too long", BC_ERR_TOOBIG);
		if (!bc_utf8_valid((const uint8_t *)terms[i].key, kl) ||
		    !bc_utf8_valid((const uint8_t *)terms[i].text, tl))
			return fail(why, "term is not valid UTF-8", BC_ERR_INVALID);
		for (size_t j = 0; j < i; j++)
			if (strcmp(terms[j].key, terms[i].key) == 0)
				return fail(why, "duplicate term key", BC_ERR_INVALID);
	}
	return BC_OK;
}

int bc_proposal_terms_write(bc_wr *w, const bc_term *terms, uint16_t n)
{
	bc_wr_u16(w, n);
	for (uint16_t i = 0; i < n; i++) {
		bc_wr_str(w, terms[i].key);
		bc_wr_str(w, terms[i].text);
	}
	return bc_wr_err(w);
}

void bc_proposal_terms_free(bc_term *terms, uint16_t n)
{
	if (terms == NULL)
		return;
	for (uint16_t i = 0; i < n; i++) {
		bc_free(terms[i].key);
		bc_free(terms[i].text);
	}
	bc_free(terms);
}

int bc_proposal_terms_read(bc_rd *r, bc_term **out, uint16_t *n)
{
	uint16_t cnt = 0;
	bc_term *t = NULL;

	*out = NULL;
	*n = 0;
	if (bc_rd_count(r, BC_PROPOSAL_MAX_TERMS, &cnt) != BC_OK)
		return r->err;
	if (cnt == 0)
		return bc_rd_fail(r, BC_ERR_MALFORMED);
	t = bc_calloc(cnt, sizeof(*t));
	if (t == NULL)
		return bc_rd_fail(r, BC_ERR_NOMEM);
	for (uint16_t i = 0; i < cnt; i++) {
		if (bc_rd_str(r, BC_PROPOSAL_KEY_MAX, &t[i].key) != BC_OK ||
		    bc_rd_str(r, BC_PROPOSAL_TEXT_MAX, &t[i].text) != BC_OK) {
			bc_proposal_terms_free(t, cnt);
			return r->err;
		}
	}
	if (bc_proposal_terms_check(t, cnt, NULL) != BC_OK) {
		bc_proposal_terms_free(t, cnt);
		return bc_rd_fail(r, BC_ERR_MALFORMED);
	}
	*out = t;
	*n = cnt;
	return BC_OK;
}

int bc_proposal_terms_copy(const bc_term *in, uint16_t n, bc_term **out)
{
	bc_term *t;

	*out = NULL;
	t = bc_calloc(n ? n : 1, sizeof(*t));
	if (t == NULL)
		return BC_ERR_NOMEM;
	for (uint16_t i = 0; i < n; i++) {
		t[i].key = bc_strdup(in[i].key);
		t[i].text = bc_strdup(in[i].text);
		if (t[i].key == NULL || t[i].text == NULL) {
			bc_proposal_terms_free(t, n);
			return BC_ERR_NOMEM;
		}
	}
	*out = t;
	return BC_OK;
}

/* ---- state -------------------------------------------------------------- */

void bc_proposal_init(bc_proposal *p)
{
	memset(p, 0, sizeof(*p));
	p->status = BC_PROPOSAL_EMPTY;
}

static void version_free(bc_proposal_version *v)
{
	bc_proposal_terms_free(v->terms, v->nterms);
	bc_free(v->reject_reason);
	memset(v, 0, sizeof(*v));
}

void bc_proposal_clear(bc_proposal *p)
{
	if (p == NULL)
		return;
	for (uint16_t i = 0; i < p->nversions; i++)
		version_free(&p->versions[i]);
	bc_free(p->versions);
	bc_proposal_init(p);
}

const bc_proposal_version *bc_proposal_latest(const bc_proposal *p)
{
	if (p == NULL || p->status == BC_PROPOSAL_EMPTY || p->nversions == 0)
		return NULL;
	return &p->versions[p->nversions - 1];
}

const char *bc_proposal_status_name(int status)
{
	switch (status) {
	case BC_PROPOSAL_EMPTY: return "empty";
	case BC_PROPOSAL_OPEN: return "open";
	case BC_PROPOSAL_WITHDRAWN: return "withdrawn";
	case BC_PROPOSAL_AGREED: return "agreed";
	default: return "unknown";
	}
}

static bool in_set(const uint8_t (*set)[BC_MEMBER_ID_LEN], size_t n, const uint8_t *id)
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(set[i], id, BC_MEMBER_ID_LEN) == 0)
			return true;
	return false;
}

static int meeting_check(const bc_term *terms, uint16_t n)
{
	static const char *const keys[] = { BC_MEETING_KEY_LEVEL, BC_MEETING_KEY_PLACE,
					    BC_MEETING_KEY_WINDOW };
	for (size_t k = 0; k < BC_ARRAY_LEN(keys); k++) {
		bool found = false;
		for (uint16_t i = 0; i < n; i++)
			if (strcmp(terms[i].key, keys[k]) == 0)
				found = true;
		if (!found)
			return BC_ERR_INVALID;
	}
	return BC_OK;
}

/* Build (allocate) the version an event propose / counter creates. */
static int new_version(const bc_proposal_event *ev, bc_proposal_version *v)
{
	memset(v, 0, sizeof(*v));
	v->number = ev->version;
	memcpy(v->author, ev->actor, BC_MEMBER_ID_LEN);
	v->expiry = ev->expiry;
	v->nterms = ev->nterms;
	return bc_proposal_terms_copy(ev->terms, ev->nterms, &v->terms);
}

static int append_version(bc_proposal *p, const bc_proposal_event *ev)
{
	bc_proposal_version v, *nv;
	int rc = new_version(ev, &v);

	if (rc != BC_OK)
		return rc;
	nv = bc_realloc(p->versions, ((size_t)p->nversions + 1) * sizeof(*nv));
	if (nv == NULL) {
		version_free(&v);
		return BC_ERR_NOMEM;
	}
	p->versions = nv;
	p->versions[p->nversions++] = v;
	return BC_OK;
}

static void insert_sorted(bc_proposal_version *v, const uint8_t *id)
{
	uint16_t i = v->naccepted;

	while (i > 0 && memcmp(v->accepted[i - 1], id, BC_MEMBER_ID_LEN) > 0) {
		memcpy(v->accepted[i], v->accepted[i - 1], BC_MEMBER_ID_LEN);
		i--;
	}
	memcpy(v->accepted[i], id, BC_MEMBER_ID_LEN);
	v->naccepted++;
}

static bool accepted_by(const bc_proposal_version *v, const uint8_t *id)
{
	return in_set((const uint8_t (*)[BC_MEMBER_ID_LEN])v->accepted, v->naccepted, id);
}

int bc_proposal_apply(bc_proposal *p, const bc_proposal_event *ev, int role,
		      const uint8_t (*parties)[BC_MEMBER_ID_LEN], size_t nparties,
		      uint64_t now, const char **why)
{
	bc_proposal_version *latest;
	int rc;

	if (why != NULL)
		*why = NULL;
	if (p == NULL || ev == NULL || parties == NULL)
		return fail(why, "missing argument", BC_ERR_INVALID);
	if (nparties == 0 || nparties > BC_PROPOSAL_MAX_PARTIES)
		return fail(why, "bad party set", BC_ERR_INVALID);
	for (size_t i = 0; i < nparties; i++)
		if (in_set(parties, i, parties[i]))
			return fail(why, "duplicate member in the party set", BC_ERR_INVALID);
	if (role != BC_ROLE_PARTY && role != BC_ROLE_MEDIATOR && role != BC_ROLE_OBSERVER)
		return fail(why, "unknown role", BC_ERR_INVALID);
	if (role == BC_ROLE_OBSERVER)
		return fail(why, "observers cannot act on proposals", BC_ERR_FORBIDDEN);
	if (role == BC_ROLE_PARTY && !in_set(parties, nparties, ev->actor))
		return fail(why, "actor is not a party of this talk", BC_ERR_FORBIDDEN);
	if (role == BC_ROLE_MEDIATOR && in_set(parties, nparties, ev->actor))
		return fail(why, "a party cannot act as the mediator", BC_ERR_FORBIDDEN);

	if (ev->type == BC_PEV_PROPOSE) {
		if (p->status != BC_PROPOSAL_EMPTY)
			return fail(why, "the proposal already exists", BC_ERR_STATE);
		if (ev->version != 1)
			return fail(why, "a proposal starts at version 1", BC_ERR_INVALID);
		if (ev->kind != BC_PROPOSAL_GENERAL && ev->kind != BC_PROPOSAL_MEETING)
			return fail(why, "unknown proposal kind", BC_ERR_INVALID);
	} else {
		if (ev->type < BC_PEV_COUNTER || ev->type > BC_PEV_WITHDRAW)
			return fail(why, "unknown event type", BC_ERR_INVALID);
		if (p->status == BC_PROPOSAL_EMPTY)
			return fail(why, "no such proposal", BC_ERR_STATE);
		if (memcmp(p->id, ev->proposal_id, BC_PROPOSAL_ID_LEN) != 0)
			return fail(why, "event is for another proposal", BC_ERR_INVALID);
		if (p->status == BC_PROPOSAL_AGREED)
			return fail(why, "the proposal is already agreed", BC_ERR_STATE);
		if (p->status == BC_PROPOSAL_WITHDRAWN)
			return fail(why, "the proposal was withdrawn", BC_ERR_STATE);
	}
	latest = p->status == BC_PROPOSAL_EMPTY ? NULL : &p->versions[p->nversions - 1];

	switch (ev->type) {
	case BC_PEV_PROPOSE:
	case BC_PEV_COUNTER:
		if (latest != NULL && ev->version != latest->number + 1)
			return fail(why, "counter does not follow the latest version", BC_ERR_STATE);
		if (latest != NULL && p->nversions >= BC_PROPOSAL_MAX_VERSIONS)
			return fail(why, "too many versions", BC_ERR_TOOBIG);
		if ((rc = bc_proposal_terms_check(ev->terms, ev->nterms, why)) != BC_OK)
			return rc;
		if ((ev->type == BC_PEV_PROPOSE ? ev->kind : p->kind) == BC_PROPOSAL_MEETING &&
		    meeting_check(ev->terms, ev->nterms) != BC_OK)
			return fail(why, "a meeting needs the terms level, place and window",
				    BC_ERR_INVALID);
		if (ev->expiry != 0 && ev->expiry <= now)
			return fail(why, "the expiry is already past", BC_ERR_INVALID);
		if (ev->type == BC_PEV_PROPOSE) {
			bc_proposal np;
			bc_proposal_init(&np);
			if ((rc = append_version(&np, ev)) != BC_OK)
				return fail(why, "out of memory", rc);
			memcpy(np.id, ev->proposal_id, BC_PROPOSAL_ID_LEN);
			memcpy(np.author, ev->actor, BC_MEMBER_ID_LEN);
			np.kind = ev->kind;
			np.status = BC_PROPOSAL_OPEN;
			*p = np;
			return BC_OK;
		}
		if ((rc = append_version(p, ev)) != BC_OK)
			return fail(why, "out of memory", rc);
		return BC_OK;

	case BC_PEV_ACCEPT:
	case BC_PEV_REJECT:
		if (role != BC_ROLE_PARTY)
			return fail(why, ev->type == BC_PEV_ACCEPT ? "only parties accept"
								   : "only parties reject",
				    BC_ERR_FORBIDDEN);
		if (ev->version < latest->number)
			return fail(why, "the version was superseded by a counter", BC_ERR_STATE);
		if (ev->version > latest->number)
			return fail(why, "no such version", BC_ERR_STATE);
		if (latest->rejected)
			return fail(why, "the version was rejected", BC_ERR_STATE);
		if (latest->expiry != 0 && now >= latest->expiry)
			return fail(why, "the version has expired", BC_ERR_STATE);
		if (accepted_by(latest, ev->actor))
			return fail(why, "already accepted this version", BC_ERR_STATE);
		if (ev->type == BC_PEV_REJECT) {
			const char *r = ev->reason != NULL ? ev->reason : "";
			size_t rl = strlen(r);
			char *copy;
			if (rl > BC_PROPOSAL_REASON_MAX)
				return fail(why, "reason too long", BC_ERR_TOOBIG);
			if (!bc_utf8_valid((const uint8_t *)r, rl))
				return fail(why, "reason is not valid UTF-8", BC_ERR_INVALID);
			if ((copy = bc_strdup(r)) == NULL)
				return fail(why, "out of memory", BC_ERR_NOMEM);
			latest->rejected = true;
			memcpy(latest->rejected_by, ev->actor, BC_MEMBER_ID_LEN);
			latest->reject_reason = copy;
			return BC_OK;
		}
		insert_sorted(latest, ev->actor);
		for (size_t i = 0; i < nparties; i++)
			if (!accepted_by(latest, parties[i]))
				return BC_OK;
		p->status = BC_PROPOSAL_AGREED;
		p->agreed_version = latest->number;
		return BC_OK;

	case BC_PEV_WITHDRAW:
		if (memcmp(ev->actor, latest->author, BC_MEMBER_ID_LEN) != 0)
			return fail(why, "only the author of the latest version may withdraw",
				    BC_ERR_FORBIDDEN);
		if (ev->version != latest->number)
			return fail(why, "withdraw names a version that is not the latest",
				    BC_ERR_STATE);
		p->status = BC_PROPOSAL_WITHDRAWN;
		memcpy(p->withdrawn_by, ev->actor, BC_MEMBER_ID_LEN);
		return BC_OK;
	default:
		return fail(why, "unknown event type", BC_ERR_INVALID);
	}
}

/* ---- encodings ---------------------------------------------------------- */

/* Decoded states may hold a whole history: cap the encoding generously. */
#define PROPOSAL_ENC_MAX ((size_t)BC_PROPOSAL_MAX_VERSIONS * 300000u + 4096u)
#define EVENT_ENC_MAX ((size_t)300000)

int bc_proposal_encode(const bc_proposal *p, uint8_t **out, size_t *outlen)
{
	bc_wr w;

	*out = NULL;
	*outlen = 0;
	if (p->status == BC_PROPOSAL_EMPTY || p->nversions == 0)
		return BC_ERR_INVALID;
	bc_wr_init(&w, PROPOSAL_ENC_MAX);
	bc_wr_u8(&w, BC_PROPOSAL_FORMAT);
	bc_wr_raw(&w, p->id, BC_PROPOSAL_ID_LEN);
	bc_wr_raw(&w, p->author, BC_MEMBER_ID_LEN);
	bc_wr_u8(&w, p->kind);
	bc_wr_u8(&w, p->status);
	bc_wr_u32(&w, p->agreed_version);
	bc_wr_raw(&w, p->withdrawn_by, BC_MEMBER_ID_LEN);
	bc_wr_u16(&w, p->nversions);
	for (uint16_t i = 0; i < p->nversions; i++) {
		const bc_proposal_version *v = &p->versions[i];
		bc_wr_u32(&w, v->number);
		bc_wr_raw(&w, v->author, BC_MEMBER_ID_LEN);
		bc_wr_u64(&w, v->expiry);
		bc_proposal_terms_write(&w, v->terms, v->nterms);
		bc_wr_u16(&w, v->naccepted);
		for (uint16_t j = 0; j < v->naccepted; j++)
			bc_wr_raw(&w, v->accepted[j], BC_MEMBER_ID_LEN);
		bc_wr_bool(&w, v->rejected);
		bc_wr_raw(&w, v->rejected_by, BC_MEMBER_ID_LEN);
		bc_wr_str(&w, v->reject_reason != NULL ? v->reject_reason : "");
	}
	return bc_wr_finish(&w, out, outlen);
}

int bc_proposal_decode(bc_proposal *out, const uint8_t *in, size_t len)
{
	bc_proposal p;
	bc_rd r;
	uint8_t fmt = 0;
	uint16_t nv = 0;
	int rc;

	bc_proposal_init(&p);
	bc_rd_init(&r, in, len);
	bc_rd_u8(&r, &fmt);
	if (r.err == BC_OK && fmt != BC_PROPOSAL_FORMAT)
		bc_rd_fail(&r, BC_ERR_VERSION);
	bc_rd_raw(&r, p.id, BC_PROPOSAL_ID_LEN);
	bc_rd_raw(&r, p.author, BC_MEMBER_ID_LEN);
	bc_rd_u8(&r, &p.kind);
	bc_rd_u8(&r, &p.status);
	bc_rd_u32(&r, &p.agreed_version);
	bc_rd_raw(&r, p.withdrawn_by, BC_MEMBER_ID_LEN);
	bc_rd_count(&r, BC_PROPOSAL_MAX_VERSIONS, &nv);
	if (r.err == BC_OK && nv == 0)
		bc_rd_fail(&r, BC_ERR_MALFORMED);
	if (r.err == BC_OK) {
		p.versions = bc_calloc(nv, sizeof(*p.versions));
		if (p.versions == NULL)
			bc_rd_fail(&r, BC_ERR_NOMEM);
	}
	for (uint16_t i = 0; r.err == BC_OK && i < nv; i++) {
		bc_proposal_version *v = &p.versions[i];
		uint16_t na = 0;
		p.nversions = (uint16_t)(i + 1);
		bc_rd_u32(&r, &v->number);
		bc_rd_raw(&r, v->author, BC_MEMBER_ID_LEN);
		bc_rd_u64(&r, &v->expiry);
		if (bc_proposal_terms_read(&r, &v->terms, &v->nterms) != BC_OK)
			break;
		bc_rd_count(&r, BC_PROPOSAL_MAX_PARTIES, &na);
		for (uint16_t j = 0; r.err == BC_OK && j < na; j++) {
			bc_rd_raw(&r, v->accepted[j], BC_MEMBER_ID_LEN);
			if (r.err == BC_OK && j > 0 &&
			    memcmp(v->accepted[j - 1], v->accepted[j], BC_MEMBER_ID_LEN) >= 0)
				bc_rd_fail(&r, BC_ERR_MALFORMED);
		}
		v->naccepted = na;
		bc_rd_bool(&r, &v->rejected);
		bc_rd_raw(&r, v->rejected_by, BC_MEMBER_ID_LEN);
		bc_rd_str(&r, BC_PROPOSAL_REASON_MAX, &v->reject_reason);
		if (r.err != BC_OK)
			break;
		if (v->number != (uint32_t)i + 1)
			bc_rd_fail(&r, BC_ERR_MALFORMED);
		if (!v->rejected) {
			if (v->reject_reason[0] != '\0' ||
			    memcmp(v->rejected_by, zero_id, BC_MEMBER_ID_LEN) != 0)
				bc_rd_fail(&r, BC_ERR_MALFORMED);
			bc_free(v->reject_reason);
			v->reject_reason = NULL;
		}
		if (p.kind == BC_PROPOSAL_MEETING && r.err == BC_OK &&
		    meeting_check(v->terms, v->nterms) != BC_OK)
			bc_rd_fail(&r, BC_ERR_MALFORMED);
	}
	if (r.err == BC_OK) {
		if (p.kind > BC_PROPOSAL_MEETING ||
		    memcmp(p.versions[0].author, p.author, BC_MEMBER_ID_LEN) != 0)
			bc_rd_fail(&r, BC_ERR_MALFORMED);
		switch (p.status) {
		case BC_PROPOSAL_OPEN:
		case BC_PROPOSAL_WITHDRAWN:
			if (p.agreed_version != 0)
				bc_rd_fail(&r, BC_ERR_MALFORMED);
			break;
		case BC_PROPOSAL_AGREED:
			if (p.agreed_version != nv)
				bc_rd_fail(&r, BC_ERR_MALFORMED);
			break;
		default:
			bc_rd_fail(&r, BC_ERR_MALFORMED);
		}
		if ((p.status == BC_PROPOSAL_WITHDRAWN) !=
		    (memcmp(p.withdrawn_by, zero_id, BC_MEMBER_ID_LEN) != 0))
			bc_rd_fail(&r, BC_ERR_MALFORMED);
	}
	rc = bc_rd_end(&r);
	if (rc != BC_OK) {
		bc_proposal_clear(&p);
		return rc;
	}
	*out = p;
	return BC_OK;
}

int bc_proposal_event_encode(const bc_proposal_event *ev, uint8_t **out, size_t *outlen)
{
	bc_wr w;

	*out = NULL;
	*outlen = 0;
	if (ev->type < BC_PEV_PROPOSE || ev->type > BC_PEV_WITHDRAW)
		return BC_ERR_INVALID;
	if ((ev->type == BC_PEV_PROPOSE || ev->type == BC_PEV_COUNTER) &&
	    bc_proposal_terms_check(ev->terms, ev->nterms, NULL) != BC_OK)
		return BC_ERR_INVALID;
	bc_wr_init(&w, EVENT_ENC_MAX);
	bc_wr_u8(&w, BC_PROPOSAL_FORMAT);
	bc_wr_u8(&w, ev->type);
	bc_wr_raw(&w, ev->proposal_id, BC_PROPOSAL_ID_LEN);
	bc_wr_raw(&w, ev->actor, BC_MEMBER_ID_LEN);
	bc_wr_u32(&w, ev->version);
	switch (ev->type) {
	case BC_PEV_PROPOSE:
		bc_wr_u8(&w, ev->kind);
		/* fall through */
	case BC_PEV_COUNTER:
		bc_wr_u64(&w, ev->expiry);
		bc_proposal_terms_write(&w, ev->terms, ev->nterms);
		break;
	case BC_PEV_REJECT:
		if (ev->reason != NULL && strlen(ev->reason) > BC_PROPOSAL_REASON_MAX) {
			bc_wr_free(&w);
			return BC_ERR_TOOBIG;
		}
		bc_wr_str(&w, ev->reason != NULL ? ev->reason : "");
		break;
	default:
		break;
	}
	return bc_wr_finish(&w, out, outlen);
}

void bc_proposal_event_free(bc_proposal_event *ev)
{
	if (ev == NULL)
		return;
	bc_proposal_terms_free(ev->terms, ev->nterms);
	bc_free(ev->reason);
	memset(ev, 0, sizeof(*ev));
}

int bc_proposal_event_decode(bc_proposal_event *out, const uint8_t *in, size_t len)
{
	bc_proposal_event ev;
	bc_rd r;
	uint8_t fmt = 0;
	int rc;

	memset(&ev, 0, sizeof(ev));
	bc_rd_init(&r, in, len);
	bc_rd_u8(&r, &fmt);
	if (r.err == BC_OK && fmt != BC_PROPOSAL_FORMAT)
		bc_rd_fail(&r, BC_ERR_VERSION);
	bc_rd_u8(&r, &ev.type);
	bc_rd_raw(&r, ev.proposal_id, BC_PROPOSAL_ID_LEN);
	bc_rd_raw(&r, ev.actor, BC_MEMBER_ID_LEN);
	bc_rd_u32(&r, &ev.version);
	if (r.err == BC_OK) {
		switch (ev.type) {
		case BC_PEV_PROPOSE:
			bc_rd_u8(&r, &ev.kind);
			if (r.err == BC_OK && ev.kind > BC_PROPOSAL_MEETING)
				bc_rd_fail(&r, BC_ERR_MALFORMED);
			/* fall through */
		case BC_PEV_COUNTER:
			bc_rd_u64(&r, &ev.expiry);
			if (r.err == BC_OK &&
			    bc_proposal_terms_read(&r, &ev.terms, &ev.nterms) != BC_OK)
				break; /* r carries the error */
			break;
		case BC_PEV_REJECT:
			bc_rd_str(&r, BC_PROPOSAL_REASON_MAX, &ev.reason);
			break;
		case BC_PEV_ACCEPT:
		case BC_PEV_WITHDRAW:
			break;
		default:
			bc_rd_fail(&r, BC_ERR_MALFORMED);
		}
	}
	rc = bc_rd_end(&r);
	if (rc != BC_OK) {
		bc_proposal_event_free(&ev);
		return rc;
	}
	*out = ev;
	return BC_OK;
}
