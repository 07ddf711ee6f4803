/*
 * test_talk_proposal.c - the encodings of lib/talk_proposal.c: the
 * PROPOSAL and SIGN bodies and the stored record (canonical round trips,
 * and refusal of wrong formats, trailing bytes and broken invariants).
 * The behaviour over a relay is in tests/integration/test_proposal_talk.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <string.h>

#include "codec.h"
#include "identity.h"
#include "internal.h"
#include "talk_proposal.h"

static const uint8_t TID[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
				15, 16};
static bc_term terms[2] = {{"prisoners", "release 10"},
			   {"flights", "3 per week"}};

static uint8_t *body(uint8_t fmt, uint64_t tm, const bc_proposal_event *ev,
		     size_t extra, size_t *len)
{
	uint8_t *e = NULL, *b = NULL;
	size_t el = 0;
	bc_wr w;
	assert_int_equal(bc_proposal_event_encode(ev, &e, &el), BC_OK);
	bc_wr_init(&w, 1 << 20);
	bc_wr_u8(&w, fmt);
	bc_wr_u64(&w, tm);
	bc_wr_bytes(&w, e, el);
	for (size_t i = 0; i < extra; i++)
		bc_wr_u8(&w, 0);
	assert_int_equal(bc_wr_finish(&w, &b, len), BC_OK);
	bc_free(e);
	return b;
}

static void propose_event(bc_proposal_event *ev, const uint8_t *actor)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = BC_PEV_PROPOSE;
	memset(ev->proposal_id, 0x22, 16);
	memcpy(ev->actor, actor, 32);
	ev->version = 1;
	ev->terms = terms;
	ev->nterms = 2;
}

static void bodies(void **state)
{
	bc_proposal_event ev, out;
	uint8_t actor[32], *b, sb[BC_TP_SIGN_LEN];
	uint64_t tm = 0;
	size_t len;
	bc_tp_sign s;
	(void)state;
	memset(actor, 7, sizeof(actor));
	propose_event(&ev, actor);
	b = body(1, 1234, &ev, 0, &len);
	assert_int_equal(bc_tp_body_decode(b, len, &tm, &out), BC_OK);
	assert_int_equal(tm, 1234);
	assert_int_equal(out.type, BC_PEV_PROPOSE);
	assert_int_equal(out.nterms, 2);
	assert_string_equal(out.terms[1].text, "3 per week");
	bc_proposal_event_free(&out);
	/* a truncated body */
	assert_int_not_equal(bc_tp_body_decode(b, len - 1, &tm, &out), BC_OK);
	bc_free(b);
	/* another format, trailing bytes */
	b = body(2, 1234, &ev, 0, &len);
	assert_int_equal(bc_tp_body_decode(b, len, &tm, &out), BC_ERR_VERSION);
	bc_free(b);
	b = body(1, 1234, &ev, 1, &len);
	assert_int_equal(bc_tp_body_decode(b, len, &tm, &out), BC_ERR_MALFORMED);
	bc_free(b);

	memset(sb, 0x33, sizeof(sb));
	sb[0] = 1;
	assert_int_equal(bc_tp_sign_decode(sb, sizeof(sb), &s), BC_OK);
	assert_int_equal(s.version, 0x33333333u);
	assert_int_not_equal(bc_tp_sign_decode(sb, sizeof(sb) - 1, &s), BC_OK);
	sb[0] = 2;
	assert_int_not_equal(bc_tp_sign_decode(sb, sizeof(sb), &s), BC_OK);
}

static void records(void **state)
{
	uint8_t parties[1][32], sig[64], *enc = NULL, *enc2 = NULL;
	size_t el = 0, el2 = 0;
	bc_identity id;
	bc_identity_pub pub;
	bc_talk_proposal *p = bc_calloc(1, sizeof(*p)), *q = NULL;
	bc_proposal_event ev;
	const char *why = NULL;
	(void)state;
	assert_non_null(p);
	assert_int_equal(bc_identity_generate(&id), BC_OK);
	bc_identity_public(&id, &pub);
	assert_int_equal(bc_identity_fingerprint(&pub, parties[0]), BC_OK);
	bc_proposal_init(&p->p);
	memcpy(p->talk_id, TID, 16);
	propose_event(&ev, parties[0]);
	assert_int_equal(bc_proposal_apply(&p->p, &ev, BC_ROLE_PARTY,
					   (const uint8_t(*)[32])parties, 1,
					   1000, &why),
			 BC_OK);
	p->created[0] = 1000;
	assert_string_equal(bc_talk_proposal_status(p), "open");
	assert_int_equal(bc_talk_proposal_encode(p, &enc, &el), BC_OK);
	assert_int_equal(bc_talk_proposal_decode(&q, TID, enc, el), BC_OK);
	assert_int_equal(bc_talk_proposal_encode(q, &enc2, &el2), BC_OK);
	assert_int_equal(el, el2);
	assert_memory_equal(enc, enc2, el);
	bc_talk_proposal_free(q);
	q = (bc_talk_proposal *)1;
	bc_free(enc2);
	/* trailing byte; truncated */
	enc = bc_realloc(enc, el + 1);
	enc[el] = 0;
	assert_int_equal(bc_talk_proposal_decode(&q, TID, enc, el + 1),
			 BC_ERR_MALFORMED);
	assert_null(q);
	assert_int_not_equal(bc_talk_proposal_decode(&q, TID, enc, el - 1),
			     BC_OK);
	bc_free(enc);

	/* agreed, signed by its only party */
	ev.type = BC_PEV_ACCEPT;
	ev.terms = NULL;
	ev.nterms = 0;
	assert_int_equal(bc_proposal_apply(&p->p, &ev, BC_ROLE_PARTY,
					   (const uint8_t(*)[32])parties, 1,
					   1001, &why),
			 BC_OK);
	p->naccepts = 1;
	p->accepts[0].version = 1;
	memcpy(p->accepts[0].party, parties[0], 32);
	p->accepts[0].time = p->agreed_at = 1001;
	{
		bc_agreement_party_in in[1] = {{&pub, "US"}};
		assert_int_equal(bc_agreement_build(&p->agreement, TID, "Talks",
						    p->p.id, 1, terms, 2, in, 1,
						    1001),
				 BC_OK);
	}
	assert_string_equal(bc_talk_proposal_status(p), "agreed");
	assert_int_equal(bc_agreement_sign(p->agreement, &id, sig), BC_OK);
	assert_int_equal(bc_agreement_add_signature(p->agreement, parties[0],
						    sig),
			 BC_OK);
	assert_string_equal(bc_talk_proposal_status(p), "signed");
	assert_int_equal(bc_talk_proposal_encode(p, &enc, &el), BC_OK);
	assert_int_equal(bc_talk_proposal_decode(&q, TID, enc, el), BC_OK);
	assert_string_equal(bc_talk_proposal_status(q), "signed");
	bc_talk_proposal_free(q);
	/* the agreement must belong to this talk */
	{
		uint8_t other[16];
		memset(other, 9, sizeof(other));
		assert_int_equal(bc_talk_proposal_decode(&q, other, enc, el),
				 BC_ERR_MALFORMED);
	}
	bc_free(enc);
	/* agreed_at must match the document's */
	p->agreed_at = 5;
	assert_int_equal(bc_talk_proposal_encode(p, &enc, &el), BC_OK);
	assert_int_equal(bc_talk_proposal_decode(&q, TID, enc, el),
			 BC_ERR_MALFORMED);
	bc_free(enc);
	bc_talk_proposal_free(p);
	bc_identity_wipe(&id);
}

static void short_ids(void **state)
{
	uint8_t pid[16] = {0x1a, 0x2b, 0x3c, 0x4d, 0xff};
	char s[BC_TP_SHORT_SIZE];
	(void)state;
	bc_talk_proposal_short(pid, s);
	assert_string_equal(s, "P1a2b3c4d");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bodies),
		cmocka_unit_test(records),
		cmocka_unit_test(short_ids),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("talk proposals", tests, NULL, NULL);
}
