/*
 * agreement.c - canonical agreement documents, party signatures and the
 * offline-verifiable export (agreement.h; docs/PROTOCOL.md §18).
 *
 * The document bytes are produced once (build, or taken verbatim from a
 * decoded signed agreement after a canonical re-parse) and kept in
 * a->doc: signatures always cover exactly those bytes. The export text is
 * a pure function of the signed agreement; the verifier regenerates it
 * and compares, which authenticates the human-readable header by
 * reduction to the signatures. Text that reaches the header is escaped
 * (C0 controls, DEL, backslash, bidirectional overrides) so that the
 * header cannot hide or reorder what it shows on a terminal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "agreement.h"
#include "encoding.h"
#include "internal.h"

#define LABEL_LEN (sizeof(BC_AGREEMENT_LABEL) - 1)
#define SIG_LABEL_LEN (sizeof(BC_AGREEMENT_SIG_LABEL) - 1)
#define HASH_LEN 64 /* BLAKE2b-512 */

static int fail(const char **why, const char *reason, int err)
{
	if (why != NULL)
		*why = reason;
	return err;
}

/* ---- allocation ------------------------------------------------------- */

static bc_agreement *agreement_new(void)
{
	return bc_calloc(1, sizeof(bc_agreement));
}

void bc_agreement_free(bc_agreement *a)
{
	if (a == NULL)
		return;
	bc_free(a->title);
	bc_proposal_terms_free(a->terms, a->nterms);
	if (a->parties != NULL)
		for (uint16_t i = 0; i < a->nparties; i++)
			bc_free(a->parties[i].side);
	bc_free(a->parties);
	bc_free(a->doc);
	bc_free(a);
}

/* ---- the document ------------------------------------------------------- */

static bool text_ok(const char *s, size_t min, size_t max)
{
	size_t n;

	if (s == NULL)
		return false;
	n = strlen(s);
	return n >= min && n <= max && bc_utf8_valid((const uint8_t *)s, n);
}

/* Encode a's fields into a->doc. */
static int doc_encode(bc_agreement *a)
{
	bc_wr w;
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	bc_wr_init(&w, BC_AGREEMENT_BIN_MAX);
	bc_wr_u8(&w, BC_AGREEMENT_VERSION);
	bc_wr_raw(&w, BC_AGREEMENT_LABEL, LABEL_LEN);
	bc_wr_raw(&w, a->channel_id, BC_AGREEMENT_CHANNEL_ID_LEN);
	bc_wr_str(&w, a->title);
	bc_wr_raw(&w, a->proposal_id, BC_PROPOSAL_ID_LEN);
	bc_wr_u32(&w, a->version);
	bc_proposal_terms_write(&w, a->terms, a->nterms);
	bc_wr_u16(&w, a->nparties);
	for (uint16_t i = 0; i < a->nparties; i++) {
		bc_identity_write_public(&w, &a->parties[i].id);
		bc_wr_str(&w, a->parties[i].side);
	}
	bc_wr_u64(&w, a->agreed_at);
	rc = bc_wr_finish(&w, &buf, &len);
	if (rc != BC_OK)
		return rc;
	bc_free(a->doc);
	a->doc = buf;
	a->doc_len = len;
	return BC_OK;
}

/* Parse a document into a (which owns nothing yet); canonical. */
static int doc_decode(bc_agreement *a, const uint8_t *in, size_t len)
{
	bc_rd r;
	uint8_t ver = 0;
	const uint8_t *label = NULL;
	uint16_t np = 0;

	bc_rd_init(&r, in, len);
	bc_rd_u8(&r, &ver);
	if (r.err == BC_OK && ver != BC_AGREEMENT_VERSION)
		bc_rd_fail(&r, BC_ERR_VERSION);
	bc_rd_ref(&r, LABEL_LEN, &label);
	if (r.err == BC_OK && memcmp(label, BC_AGREEMENT_LABEL, LABEL_LEN) != 0)
		bc_rd_fail(&r, BC_ERR_MALFORMED);
	bc_rd_raw(&r, a->channel_id, BC_AGREEMENT_CHANNEL_ID_LEN);
	bc_rd_str(&r, BC_AGREEMENT_TITLE_MAX, &a->title);
	bc_rd_raw(&r, a->proposal_id, BC_PROPOSAL_ID_LEN);
	bc_rd_u32(&r, &a->version);
	if (r.err == BC_OK && bc_proposal_terms_read(&r, &a->terms, &a->nterms) != BC_OK)
		return r.err;
	bc_rd_count(&r, BC_AGREEMENT_MAX_PARTIES, &np);
	if (r.err == BC_OK && np == 0)
		bc_rd_fail(&r, BC_ERR_MALFORMED);
	if (r.err == BC_OK) {
		a->parties = bc_calloc(np, sizeof(*a->parties));
		if (a->parties == NULL)
			return bc_rd_fail(&r, BC_ERR_NOMEM);
		a->nparties = np;
	}
	for (uint16_t i = 0; r.err == BC_OK && i < np; i++) {
		bc_agreement_party *p = &a->parties[i];
		if (bc_identity_read_public(&r, &p->id) != BC_OK)
			break;
		if (bc_rd_str(&r, BC_AGREEMENT_SIDE_MAX, &p->side) != BC_OK)
			break;
		if (p->side[0] == '\0')
			bc_rd_fail(&r, BC_ERR_MALFORMED);
		if (bc_identity_fingerprint(&p->id, p->fingerprint) != BC_OK)
			bc_rd_fail(&r, BC_ERR_CRYPTO);
		if (r.err == BC_OK && i > 0 &&
		    memcmp(a->parties[i - 1].fingerprint, p->fingerprint, BC_FINGERPRINT_LEN) >= 0)
			bc_rd_fail(&r, BC_ERR_MALFORMED);
	}
	bc_rd_u64(&r, &a->agreed_at);
	return bc_rd_end(&r);
}

static int cmp_party(const void *x, const void *y)
{
	const bc_agreement_party *a = x, *b = y;
	return memcmp(a->fingerprint, b->fingerprint, BC_FINGERPRINT_LEN);
}

int bc_agreement_build(bc_agreement **out, const uint8_t channel_id[static BC_AGREEMENT_CHANNEL_ID_LEN],
		       const char *title, const uint8_t proposal_id[static BC_PROPOSAL_ID_LEN],
		       uint32_t version, const bc_term *terms, uint16_t nterms,
		       const bc_agreement_party_in *parties, uint16_t nparties,
		       uint64_t agreed_at)
{
	bc_agreement *a = NULL;
	int rc;

	if (out == NULL)
		return BC_ERR_INVALID;
	*out = NULL;
	if (title == NULL || parties == NULL || terms == NULL)
		return BC_ERR_INVALID;
	if (nparties == 0 || nparties > BC_AGREEMENT_MAX_PARTIES)
		return nparties == 0 ? BC_ERR_INVALID : BC_ERR_TOOBIG;
	if (!text_ok(title, 0, BC_AGREEMENT_TITLE_MAX))
		return BC_ERR_INVALID;
	if ((rc = bc_proposal_terms_check(terms, nterms, NULL)) != BC_OK)
		return rc;
	for (uint16_t i = 0; i < nparties; i++)
		if (parties[i].id == NULL || !text_ok(parties[i].side, 1, BC_AGREEMENT_SIDE_MAX))
			return BC_ERR_INVALID;

	if ((a = agreement_new()) == NULL)
		return BC_ERR_NOMEM;
	rc = BC_ERR_NOMEM;
	memcpy(a->channel_id, channel_id, BC_AGREEMENT_CHANNEL_ID_LEN);
	memcpy(a->proposal_id, proposal_id, BC_PROPOSAL_ID_LEN);
	a->version = version;
	a->agreed_at = agreed_at;
	if ((a->title = bc_strdup(title)) == NULL)
		goto out;
	if (bc_proposal_terms_copy(terms, nterms, &a->terms) != BC_OK)
		goto out;
	a->nterms = nterms;
	if ((a->parties = bc_calloc(nparties, sizeof(*a->parties))) == NULL)
		goto out;
	a->nparties = nparties;
	for (uint16_t i = 0; i < nparties; i++) {
		a->parties[i].id = *parties[i].id;
		if ((a->parties[i].side = bc_strdup(parties[i].side)) == NULL)
			goto out;
		if ((rc = bc_identity_fingerprint(&a->parties[i].id, a->parties[i].fingerprint)) != BC_OK)
			goto out;
		rc = BC_ERR_NOMEM;
	}
	qsort(a->parties, nparties, sizeof(*a->parties), cmp_party);
	for (uint16_t i = 1; i < nparties; i++)
		if (memcmp(a->parties[i - 1].fingerprint, a->parties[i].fingerprint,
			   BC_FINGERPRINT_LEN) == 0) {
			rc = BC_ERR_INVALID;
			goto out;
		}
	if ((rc = doc_encode(a)) != BC_OK)
		goto out;
	*out = a;
	return BC_OK;
out:
	bc_agreement_free(a);
	return rc;
}

/* ---- signatures --------------------------------------------------------- */

static int sig_message(const bc_agreement *a, uint8_t msg[static SIG_LABEL_LEN + HASH_LEN])
{
	memcpy(msg, BC_AGREEMENT_SIG_LABEL, SIG_LABEL_LEN);
	if (crypto_generichash(msg + SIG_LABEL_LEN, HASH_LEN, a->doc, a->doc_len, NULL, 0) != 0)
		return BC_ERR_CRYPTO;
	return BC_OK;
}

static const bc_agreement_party *find_party(const bc_agreement *a, const uint8_t *fp)
{
	for (uint16_t i = 0; i < a->nparties; i++)
		if (memcmp(a->parties[i].fingerprint, fp, BC_FINGERPRINT_LEN) == 0)
			return &a->parties[i];
	return NULL;
}

static int sig_verify(const bc_agreement *a, const bc_agreement_party *p, const uint8_t *sig)
{
	uint8_t msg[SIG_LABEL_LEN + HASH_LEN];
	int rc = sig_message(a, msg);

	if (rc != BC_OK)
		return rc;
	if (crypto_sign_verify_detached(sig, msg, sizeof(msg), p->id.sign_pub) != 0)
		return BC_ERR_AUTH;
	return BC_OK;
}

int bc_agreement_sign(const bc_agreement *a, const bc_identity *id,
		      uint8_t sig[static BC_IDENTITY_SIG_LEN])
{
	uint8_t fp[BC_FINGERPRINT_LEN], msg[SIG_LABEL_LEN + HASH_LEN];
	int rc;

	if (a == NULL || id == NULL || a->doc == NULL)
		return BC_ERR_INVALID;
	if ((rc = bc_identity_fingerprint(&id->pub, fp)) != BC_OK)
		return rc;
	if (find_party(a, fp) == NULL)
		return BC_ERR_FORBIDDEN;
	if ((rc = sig_message(a, msg)) != BC_OK)
		return rc;
	if (crypto_sign_detached(sig, NULL, msg, sizeof(msg), id->sign_sk) != 0)
		return BC_ERR_CRYPTO;
	return BC_OK;
}

int bc_agreement_add_signature(bc_agreement *a, const uint8_t fingerprint[static BC_FINGERPRINT_LEN],
			       const uint8_t sig[static BC_IDENTITY_SIG_LEN])
{
	const bc_agreement_party *p;
	uint16_t i;
	int rc;

	if (a == NULL)
		return BC_ERR_INVALID;
	if ((p = find_party(a, fingerprint)) == NULL)
		return BC_ERR_AUTH;
	for (i = 0; i < a->nsigs; i++)
		if (memcmp(a->sigs[i].fingerprint, fingerprint, BC_FINGERPRINT_LEN) == 0)
			return BC_ERR_CONFLICT;
	if (a->nsigs >= BC_AGREEMENT_MAX_PARTIES)
		return BC_ERR_INTERNAL; /* unreachable: one per party */
	if ((rc = sig_verify(a, p, sig)) != BC_OK)
		return rc;
	i = a->nsigs;
	while (i > 0 && memcmp(a->sigs[i - 1].fingerprint, fingerprint, BC_FINGERPRINT_LEN) > 0) {
		a->sigs[i] = a->sigs[i - 1];
		i--;
	}
	memcpy(a->sigs[i].fingerprint, fingerprint, BC_FINGERPRINT_LEN);
	memcpy(a->sigs[i].sig, sig, BC_IDENTITY_SIG_LEN);
	a->nsigs++;
	return BC_OK;
}

int bc_agreement_check(const bc_agreement *a, const char **why)
{
	if (why != NULL)
		*why = NULL;
	if (a == NULL || a->doc == NULL)
		return fail(why, "no agreement", BC_ERR_INVALID);
	for (uint16_t i = 0; i < a->nsigs; i++) {
		const bc_agreement_party *p = find_party(a, a->sigs[i].fingerprint);
		if (p == NULL)
			return fail(why, "a signature is from someone who is not a party", BC_ERR_AUTH);
		if (i > 0 && memcmp(a->sigs[i - 1].fingerprint, a->sigs[i].fingerprint,
				    BC_FINGERPRINT_LEN) == 0)
			return fail(why, "a party signed more than once", BC_ERR_AUTH);
		int rc = sig_verify(a, p, a->sigs[i].sig);
		if (rc == BC_ERR_AUTH)
			return fail(why, "a party's signature does not verify", BC_ERR_AUTH);
		if (rc != BC_OK)
			return fail(why, "signature check failed", rc);
	}
	/* Signatures are sorted, distinct and all from parties: counting
	 * them is enough. */
	if (a->nsigs != a->nparties)
		return fail(why, "a party has not signed", BC_ERR_AUTH);
	return BC_OK;
}

bool bc_agreement_is_complete(const bc_agreement *a)
{
	return a != NULL && a->nparties > 0 && bc_agreement_check(a, NULL) == BC_OK;
}

/* ---- binary signed agreement ---------------------------------------------- */

int bc_agreement_encode(const bc_agreement *a, uint8_t **out, size_t *outlen)
{
	bc_wr w;

	*out = NULL;
	*outlen = 0;
	if (a == NULL || a->doc == NULL)
		return BC_ERR_INVALID;
	bc_wr_init(&w, BC_AGREEMENT_BIN_MAX);
	bc_wr_bytes(&w, a->doc, a->doc_len);
	bc_wr_u16(&w, a->nsigs);
	for (uint16_t i = 0; i < a->nsigs; i++) {
		bc_wr_raw(&w, a->sigs[i].fingerprint, BC_FINGERPRINT_LEN);
		bc_wr_raw(&w, a->sigs[i].sig, BC_IDENTITY_SIG_LEN);
	}
	return bc_wr_finish(&w, out, outlen);
}

int bc_agreement_decode(bc_agreement **out, const uint8_t *in, size_t len)
{
	bc_agreement *a;
	const uint8_t *doc = NULL;
	size_t doc_len = 0;
	uint16_t ns = 0;
	bc_rd r;
	int rc;

	*out = NULL;
	if (len > BC_AGREEMENT_BIN_MAX)
		return BC_ERR_TOOBIG;
	if ((a = agreement_new()) == NULL)
		return BC_ERR_NOMEM;
	bc_rd_init(&r, in, len);
	bc_rd_bytes(&r, BC_AGREEMENT_BIN_MAX, &doc, &doc_len);
	if (r.err == BC_OK && (rc = doc_decode(a, doc, doc_len)) != BC_OK)
		bc_rd_fail(&r, rc);
	if (r.err == BC_OK && (a->doc = bc_memdup(doc, doc_len ? doc_len : 1)) == NULL)
		bc_rd_fail(&r, BC_ERR_NOMEM);
	a->doc_len = doc_len;
	bc_rd_count(&r, BC_AGREEMENT_MAX_PARTIES, &ns);
	for (uint16_t i = 0; r.err == BC_OK && i < ns; i++) {
		bc_rd_raw(&r, a->sigs[i].fingerprint, BC_FINGERPRINT_LEN);
		bc_rd_raw(&r, a->sigs[i].sig, BC_IDENTITY_SIG_LEN);
		/* Ascending; equal neighbours are left for bc_agreement_check
		 * to reject with a precise reason. */
		if (r.err == BC_OK && i > 0 &&
		    memcmp(a->sigs[i - 1].fingerprint, a->sigs[i].fingerprint, BC_FINGERPRINT_LEN) > 0)
			bc_rd_fail(&r, BC_ERR_MALFORMED);
		a->nsigs = (uint16_t)(i + 1);
	}
	rc = bc_rd_end(&r);
	if (rc != BC_OK) {
		bc_agreement_free(a);
		return rc;
	}
	*out = a;
	return BC_OK;
}

/* ---- export text -------------------------------------------------------- */

static void put(bc_wr *w, const char *s)
{
	bc_wr_raw(w, s, strlen(s));
}

/* Write s for display: C0 controls (except '\n' when indent != NULL:
 * a newline followed by indent), DEL and '\\' escaped, bidi controls
 * shown as \u{XXXX}. */
static void put_escaped(bc_wr *w, const char *s, const char *indent)
{
	const uint8_t *p = (const uint8_t *)s;
	char tmp[16];

	for (; *p != 0; p++) {
		if (*p == '\n' && indent != NULL) {
			put(w, "\n");
			put(w, indent);
		} else if (*p < 0x20 || *p == 0x7f) {
			snprintf(tmp, sizeof(tmp), "\\x%02x", *p);
			put(w, tmp);
		} else if (*p == '\\') {
			put(w, "\\\\");
		} else if (p[0] == 0xe2 && (p[1] == 0x80 || p[1] == 0x81) && p[2] != 0 &&
			   ((p[1] == 0x80 && ((p[2] >= 0xaa && p[2] <= 0xae) || p[2] == 0x8e ||
					      p[2] == 0x8f)) ||
			    (p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9))) {
			unsigned cp = 0x2000u | ((unsigned)(p[1] & 0x3f) << 6) | (p[2] & 0x3fu);
			snprintf(tmp, sizeof(tmp), "\\u{%04x}", cp);
			put(w, tmp);
			p += 2;
		} else {
			bc_wr_u8(w, *p);
		}
	}
}

static void put_hex(bc_wr *w, const uint8_t *b, size_t n)
{
	char hex[BC_HEX_SIZE(32)];

	if (n > 32 || bc_hex_encode(b, n, hex, sizeof(hex)) != BC_OK) {
		if (w->err == BC_OK)
			w->err = BC_ERR_INTERNAL;
		return;
	}
	put(w, hex);
}

static void put_date(bc_wr *w, uint64_t t)
{
	char tmp[64];
	struct tm tm;
	time_t tt;

	/* Years 1970..9999 only; beyond that just the number. */
	if (t <= 253402300799u) {
		tt = (time_t)t;
		if (gmtime_r(&tt, &tm) != NULL &&
		    strftime(tmp, sizeof(tmp), "%Y-%m-%d %H:%M:%S UTC", &tm) > 0) {
			put(w, tmp);
			put(w, " ");
		}
	}
	snprintf(tmp, sizeof(tmp), "(unix %llu)", (unsigned long long)t);
	put(w, tmp);
}

int bc_agreement_render(const bc_agreement *a, char **out)
{
	uint8_t *bin = NULL, *txt = NULL;
	size_t binlen = 0, txtlen = 0;
	char tmp[64], fp[BC_FINGERPRINT_TEXT_SIZE];
	bc_wr w;
	int rc;

	if (out == NULL)
		return BC_ERR_INVALID;
	*out = NULL;
	if (a == NULL || a->doc == NULL)
		return BC_ERR_INVALID;
	if ((rc = bc_agreement_encode(a, &bin, &binlen)) != BC_OK)
		return rc;
	bc_wr_init(&w, BC_AGREEMENT_TEXT_MAX);
	put(&w, "BACKCHANNEL AGREEMENT\n");
	put(&w, "Title: ");
	put_escaped(&w, a->title, NULL);
	put(&w, "\nChannel: ");
	put_hex(&w, a->channel_id, BC_AGREEMENT_CHANNEL_ID_LEN);
	put(&w, "\nProposal: ");
	put_hex(&w, a->proposal_id, BC_PROPOSAL_ID_LEN);
	snprintf(tmp, sizeof(tmp), ", version %lu\n", (unsigned long)a->version);
	put(&w, tmp);
	put(&w, "Agreed at: ");
	put_date(&w, a->agreed_at);
	snprintf(tmp, sizeof(tmp), "\nParties (%u):\n", (unsigned)a->nparties);
	put(&w, tmp);
	for (uint16_t i = 0; i < a->nparties; i++) {
		if ((rc = bc_identity_fingerprint_text(&a->parties[i].id, fp)) != BC_OK)
			goto out;
		put(&w, "  ");
		put_escaped(&w, a->parties[i].side, NULL);
		put(&w, "\n    fingerprint ");
		put(&w, fp);
		put(&w, "\n");
	}
	snprintf(tmp, sizeof(tmp), "Terms (%u):\n", (unsigned)a->nterms);
	put(&w, tmp);
	for (uint16_t i = 0; i < a->nterms; i++) {
		snprintf(tmp, sizeof(tmp), "  %u. ", (unsigned)i + 1);
		put(&w, tmp);
		put_escaped(&w, a->terms[i].key, NULL);
		put(&w, "\n");
		if (a->terms[i].text[0] != '\0') {
			put(&w, "     ");
			put_escaped(&w, a->terms[i].text, "     ");
			put(&w, "\n");
		}
	}
	snprintf(tmp, sizeof(tmp), "Signatures: %u of %u parties\n\n", (unsigned)a->nsigs,
		 (unsigned)a->nparties);
	put(&w, tmp);
	put(&w, BC_AGREEMENT_BEGIN "\n");
	for (size_t off = 0; off < binlen; off += BC_AGREEMENT_CHUNK) {
		size_t n = binlen - off < BC_AGREEMENT_CHUNK ? binlen - off : BC_AGREEMENT_CHUNK;
		char *s = NULL;
		size_t sl;
		if ((rc = bc_b32c_encode(BC_AGREEMENT_B32C_KIND, bin + off, n, &s)) != BC_OK)
			goto out;
		if (off > 0)
			put(&w, "\n");
		sl = strlen(s);
		for (size_t c = 0; c < sl; c += BC_AGREEMENT_WRAP) {
			size_t k = sl - c < BC_AGREEMENT_WRAP ? sl - c : BC_AGREEMENT_WRAP;
			bc_wr_raw(&w, s + c, k);
			put(&w, "\n");
		}
		bc_free(s);
	}
	put(&w, BC_AGREEMENT_END "\n");
	bc_wr_u8(&w, 0);
	rc = bc_wr_finish(&w, &txt, &txtlen);
	if (rc == BC_OK)
		*out = (char *)txt;
out:
	bc_wr_free(&w);
	bc_free(bin);
	return rc;
}

int bc_agreement_export(const bc_agreement *a, char **out)
{
	if (out == NULL)
		return BC_ERR_INVALID;
	*out = NULL;
	if (!bc_agreement_is_complete(a))
		return BC_ERR_STATE;
	return bc_agreement_render(a, out);
}

/* ---- verification ------------------------------------------------------- */

/* Offset of needle in hay[from..len), or len if absent. */
static size_t find(const char *hay, size_t len, size_t from, const char *needle)
{
	size_t n = strlen(needle);

	for (size_t i = from; i + n <= len; i++)
		if (memcmp(hay + i, needle, n) == 0)
			return i;
	return len;
}

/* Decode the b32c chunks of text[from..to) (lines; an empty line ends a
 * chunk) into one buffer. */
static int unarmor(const char *text, size_t from, size_t to, uint8_t **out, size_t *outlen)
{
	bc_wr bin, chunk;
	uint8_t *tmp = NULL;
	size_t tmplen = 0;
	int rc = BC_OK;

	*out = NULL;
	*outlen = 0;
	bc_wr_init(&bin, BC_AGREEMENT_BIN_MAX);
	bc_wr_init(&chunk, BC_AGREEMENT_TEXT_MAX);
	for (size_t i = from; i <= to && rc == BC_OK;) {
		size_t eol = i;
		while (eol < to && text[eol] != '\n')
			eol++;
		if (eol > i && (rc = bc_wr_raw(&chunk, text + i, eol - i)) != BC_OK)
			break;
		if ((eol == i || eol >= to) && chunk.len > 0) {
			uint8_t *data = NULL;
			size_t dlen = 0;
			bc_wr_u8(&chunk, 0);
			if ((rc = bc_wr_err(&chunk)) != BC_OK)
				break;
			if (memchr(chunk.buf, 0, chunk.len - 1) != NULL) {
				rc = BC_ERR_MALFORMED;
				break;
			}
			rc = bc_b32c_decode(BC_AGREEMENT_B32C_KIND, (const char *)chunk.buf,
					    BC_AGREEMENT_CHUNK, &data, &dlen);
			if (rc != BC_OK)
				break;
			bc_wr_raw(&bin, data, dlen);
			bc_free(data);
			rc = bc_wr_err(&bin);
			chunk.len = 0;
		}
		i = eol + 1;
	}
	bc_wr_free(&chunk);
	if (rc != BC_OK) {
		bc_wr_free(&bin);
		return rc == BC_ERR_NOMEM || rc == BC_ERR_CHECKSUM ? rc : BC_ERR_MALFORMED;
	}
	rc = bc_wr_finish(&bin, &tmp, &tmplen);
	if (rc != BC_OK)
		return rc;
	*out = tmp;
	*outlen = tmplen;
	return BC_OK;
}

int bc_agreement_verify(const char *text, size_t len, bc_agreement **out, const char **why)
{
	static const char begin[] = "\n" BC_AGREEMENT_BEGIN "\n";
	static const char end[] = "\n" BC_AGREEMENT_END "\n";
	bc_agreement *a = NULL;
	uint8_t *bin = NULL;
	size_t binlen = 0, b, e;
	char *again = NULL;
	int rc;

	if (why != NULL)
		*why = NULL;
	if (out == NULL)
		return fail(why, "missing argument", BC_ERR_INVALID);
	*out = NULL;
	if (text == NULL)
		return fail(why, "missing argument", BC_ERR_INVALID);
	if (len > BC_AGREEMENT_TEXT_MAX)
		return fail(why, "the file is too large", BC_ERR_TOOBIG);
	b = find(text, len, 0, begin);
	if (b == len)
		return fail(why, "no BEGIN BACKCHANNEL AGREEMENT line", BC_ERR_MALFORMED);
	b += sizeof(begin) - 1;
	e = find(text, len, b - 1, end);
	if (e == len)
		return fail(why, "no END BACKCHANNEL AGREEMENT line", BC_ERR_MALFORMED);
	rc = unarmor(text, b, e, &bin, &binlen);
	if (rc != BC_OK)
		return fail(why, rc == BC_ERR_CHECKSUM ? "the armored block is corrupted (checksum)"
						       : "the armored block does not decode", rc);
	rc = bc_agreement_decode(&a, bin, binlen);
	bc_free(bin);
	if (rc != BC_OK)
		return fail(why, "the armored block is not a canonical signed agreement", rc);
	if ((rc = bc_agreement_check(a, why)) != BC_OK)
		goto out;
	if ((rc = bc_agreement_render(a, &again)) != BC_OK) {
		(void)fail(why, "cannot regenerate the export", rc);
		goto out;
	}
	if (strlen(again) != len || memcmp(again, text, len) != 0) {
		rc = fail(why, "the human-readable text differs from the signed agreement",
			  BC_ERR_AUTH);
		goto out;
	}
	*out = a;
	a = NULL;
out:
	bc_free(again);
	bc_agreement_free(a);
	return rc;
}
