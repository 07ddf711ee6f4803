/*
 * test_proposal_talk.c - proposals and agreement signatures through a
 * real relay, with hostile members: messages the CLI never sends, crafted
 * with bc_talk_send, must be refused by every receiver and change nothing.
 *
 *   - a SIGN from a non-party (the mediator), even a real Ed25519
 *     signature of the document by its own key: refused (FORBIDDEN);
 *   - a SIGN from a party over another document (wrong hash) and one with
 *     forged signature bytes: refused (AUTH);
 *   - a resent copy of a valid SIGN: harmless, no event;
 *   - an acceptance by the mediator, an event in another member's name,
 *     one not sent to every member, one with a false time: refused;
 *   - a signature that arrives before its version is agreed is held and
 *     checked when it is (a bad one is then reported);
 *   - every member builds the same document (same hash everywhere).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "codec.h"
#include "harness.h"
#include "internal.h"
#include "talk.h"
#include "talk_int.h"
#include "talk_proposal.h"

#define RULES "No public statements."

static struct relay R;
static char dir[128];

struct who {
	bc_store *st;
	bc_talks *t;
};

static void open_who(struct who *w, const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s.db", dir, name);
	assert_int_equal(bc_store_open(&w->st, path, NULL, 0,
				       BC_STORE_CREATE | BC_STORE_UNPROTECTED),
			 BC_OK);
	assert_int_equal(bc_talks_open(&w->t, w->st, (uint64_t)time(NULL)),
			 BC_OK);
}

static void close_who(struct who *w)
{
	bc_talks_free(w->t);
	bc_store_close(w->st);
}

/* The texts of the events one sync produced. */
struct seen {
	char texts[64][200];
	uint8_t kinds[64];
	int n;
};

static int saw(void *ctx, const bc_talk_event *ev)
{
	struct seen *s = ctx;
	if (s->n < 64) {
		s->kinds[s->n] = ev->kind;
		snprintf(s->texts[s->n++], 200, "%s", ev->text);
	}
	return BC_OK;
}

static bool has(const struct seen *s, const char *needle)
{
	for (int i = 0; i < s->n; i++)
		if (strstr(s->texts[i], needle) != NULL)
			return true;
	return false;
}

static void sync_into(struct who *w, const uint8_t *id, struct seen *s)
{
	memset(s, 0, sizeof(*s));
	assert_int_equal(bc_talk_sync(w->t, id, saw, s), BC_OK);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/bc-ptalk-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	memset(&R, 0, sizeof(R));
	return relay_start(&R);
}

static int teardown(void **state)
{
	char cmd[200];
	(void)state;
	relay_stop(&R);
	relay_cleanup(&R);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A SIGN body. */
static void sign_body(uint8_t out[BC_TP_SIGN_LEN], const uint8_t *pid,
		      uint32_t version, const uint8_t hash[32],
		      const uint8_t sig[64])
{
	out[0] = 1;
	memcpy(out + 1, pid, 16);
	bc_store32(out + 17, version);
	memcpy(out + 21, hash, 32);
	memcpy(out + 53, sig, 64);
}

/* A PROPOSAL body for ev at time tm (sent as-is: no local checks). */
static void send_event(struct who *w, const uint8_t *id,
		       const bc_proposal_event *ev, uint64_t tm,
		       const uint8_t (*to)[32], size_t nto)
{
	uint8_t *e = NULL, *b = NULL;
	size_t el = 0, bl = 0;
	bc_wr wr;
	assert_int_equal(bc_proposal_event_encode(ev, &e, &el), BC_OK);
	bc_wr_init(&wr, 1 << 20);
	bc_wr_u8(&wr, 1);
	bc_wr_u64(&wr, tm);
	bc_wr_bytes(&wr, e, el);
	assert_int_equal(bc_wr_finish(&wr, &b, &bl), BC_OK);
	assert_int_equal(bc_talk_send(w->t, id, BC_TK_PROPOSAL, b, bl, to, nto,
				      false, NULL),
			 BC_OK);
	bc_free(e);
	bc_free(b);
}

static void doc_hash_of(struct who *w, const uint8_t *id, const uint8_t *pid,
			uint8_t out[32], uint16_t *nsigs)
{
	bc_talk_proposal *p = NULL;
	assert_int_equal(bc_talk_proposal_get(w->t, id, pid, &p), BC_OK);
	assert_non_null(p->agreement);
	assert_int_equal(crypto_generichash(out, 32, p->agreement->doc,
					    p->agreement->doc_len, NULL, 0),
			 0);
	if (nsigs)
		*nsigs = p->agreement->nsigs;
	bc_talk_proposal_free(p);
}

static void hostile_members(void **state)
{
	struct who qa, us, ve;
	uint8_t id[16], id2[16], pid[16], pid2[16];
	uint8_t h_us[32], h_ve[32], h_qa[32], body[BC_TP_SIGN_LEN], sig[64];
	char *addr = NULL, *inv_us = NULL, *inv_ve = NULL;
	bc_term terms[2] = {{"prisoners", "release 10"},
			    {"flights", "3 per week"}};
	bc_talk_proposal *p = NULL;
	bc_proposal_event ev;
	uint16_t nsigs = 0;
	const char *why = NULL;
	struct seen s;
	(void)state;
	open_who(&qa, "qatar");
	open_who(&us, "us");
	open_who(&ve, "ve");
	assert_int_equal(bc_relay_addr_format(&R.addr, &addr), BC_OK);
	assert_int_equal(bc_talk_create(qa.t, addr, "Detainees and flights",
					RULES, BC_ROLE_MEDIATOR, NULL, id),
			 BC_OK);
	assert_int_equal(bc_talk_invite(qa.t, id, BC_ROLE_PARTY, "US", 0,
					&inv_us),
			 BC_OK);
	assert_int_equal(bc_talk_invite(qa.t, id, BC_ROLE_PARTY, "VE", 0,
					&inv_ve),
			 BC_OK);
	assert_int_equal(bc_talk_join(us.t, inv_us, RULES, id2, NULL, 0), BC_OK);
	assert_int_equal(bc_talk_join(ve.t, inv_ve, RULES, id2, NULL, 0), BC_OK);
	assert_int_equal(bc_talk_sync(qa.t, id, NULL, NULL), BC_OK);
	assert_int_equal(bc_talk_sync(us.t, id, NULL, NULL), BC_OK);
	assert_int_equal(bc_talk_sync(ve.t, id, NULL, NULL), BC_OK);

	/* --- an agreement, both parties signing ------------------------------ */
	assert_int_equal(bc_talk_propose(us.t, id, BC_PROPOSAL_GENERAL, 0, terms,
					 2, pid, NULL, NULL, &why),
			 BC_OK);
	assert_int_equal(bc_talk_accept(us.t, id, pid, 0, NULL, NULL, NULL, &why),
			 BC_OK);
	sync_into(&ve, id, &s);
	assert_true(has(&s, "accepted P"));
	assert_int_equal(bc_talk_accept(ve.t, id, pid, 1, NULL, NULL, NULL, &why),
			 BC_OK);
	sync_into(&us, id, &s);
	assert_true(has(&s, "complete: signed by every party"));
	sync_into(&qa, id, &s);
	assert_true(has(&s, "complete: signed by every party"));
	/* the same document everywhere */
	doc_hash_of(&us, id, pid, h_us, &nsigs);
	assert_int_equal(nsigs, 2);
	doc_hash_of(&ve, id, pid, h_ve, NULL);
	doc_hash_of(&qa, id, pid, h_qa, &nsigs);
	assert_int_equal(nsigs, 2);
	assert_memory_equal(h_us, h_ve, 32);
	assert_memory_equal(h_us, h_qa, 32);

	/* --- a SIGN from a non-party: the mediator, with a real signature of
	 * the document under its own key ------------------------------------ */
	{
		static const char label[] = BC_AGREEMENT_SIG_LABEL;
		uint8_t msg[sizeof(label) - 1 + 64];
		assert_int_equal(bc_talk_proposal_get(qa.t, id, pid, &p), BC_OK);
		memcpy(msg, label, sizeof(label) - 1);
		assert_int_equal(crypto_generichash(msg + sizeof(label) - 1, 64,
						    p->agreement->doc,
						    p->agreement->doc_len, NULL,
						    0),
				 0);
		assert_int_equal(crypto_sign_detached(sig, NULL, msg, sizeof(msg),
						      bc_talks_identity(qa.t)
							      ->sign_sk),
				 0);
		bc_talk_proposal_free(p);
		p = NULL;
	}
	sign_body(body, pid, 1, h_qa, sig);
	assert_int_equal(bc_talk_send(qa.t, id, BC_TK_SIGN, body, sizeof(body),
				      NULL, 0, false, NULL),
			 BC_OK);
	sync_into(&us, id, &s);
	assert_true(has(&s, "refused a signature from mediator: only parties "
			    "sign agreements"));
	/* talk.c's own integrity event is in the timeline too */
	memset(&s, 0, sizeof(s));
	assert_int_equal(bc_talk_log(us.t, id, saw, &s), BC_OK);
	assert_true(has(&s, "refused a message its sender may not send"));
	doc_hash_of(&us, id, pid, h_us, &nsigs);
	assert_int_equal(nsigs, 2);

	/* --- a party's SIGN over another document, and forged bytes ------------ */
	memset(sig, 0x5a, sizeof(sig));
	h_ve[0] ^= 1;
	sign_body(body, pid, 1, h_ve, sig);
	assert_int_equal(bc_talk_send(ve.t, id, BC_TK_SIGN, body, sizeof(body),
				      NULL, 0, false, NULL),
			 BC_OK);
	h_ve[0] ^= 1;
	sign_body(body, pid, 1, h_ve, sig);
	assert_int_equal(bc_talk_send(ve.t, id, BC_TK_SIGN, body, sizeof(body),
				      NULL, 0, false, NULL),
			 BC_OK);
	sync_into(&us, id, &s);
	assert_true(has(&s, "refused a signature from VE: the signer's agreement "
			    "document differs from ours"));
	assert_true(has(&s, "refused a signature from VE: the signature does not "
			    "verify"));
	/* --- a resent valid SIGN is harmless ------------------------------------- */
	assert_int_equal(bc_talk_proposal_get(ve.t, id, pid, &p), BC_OK);
	for (uint16_t i = 0; i < p->agreement->nsigs; i++)
		if (memcmp(p->agreement->sigs[i].fingerprint,
			   bc_talks_self(ve.t), 32) == 0)
			memcpy(sig, p->agreement->sigs[i].sig, 64);
	bc_talk_proposal_free(p);
	p = NULL;
	sign_body(body, pid, 1, h_ve, sig);
	assert_int_equal(bc_talk_send(ve.t, id, BC_TK_SIGN, body, sizeof(body),
				      NULL, 0, false, NULL),
			 BC_OK);
	sync_into(&us, id, &s);
	assert_int_equal(s.n, 0);
	assert_int_equal(bc_talk_proposal_get(us.t, id, pid, &p), BC_OK);
	assert_string_equal(bc_talk_proposal_status(p), "signed");
	bc_talk_proposal_free(p);
	p = NULL;

	/* --- proposal events the CLI never sends ------------------------------ */
	assert_int_equal(bc_talk_propose(ve.t, id, BC_PROPOSAL_GENERAL, 0, terms,
					 2, pid2, NULL, NULL, &why),
			 BC_OK);
	sync_into(&us, id, &s);
	sync_into(&qa, id, &s);
	memset(&ev, 0, sizeof(ev));
	ev.type = BC_PEV_ACCEPT;
	memcpy(ev.proposal_id, pid2, 16);
	ev.version = 1;
	/* the mediator accepts */
	memcpy(ev.actor, bc_talks_self(qa.t), 32);
	send_event(&qa, id, &ev, (uint64_t)time(NULL), NULL, 0);
	/* VE accepts in US's name */
	memcpy(ev.actor, bc_talks_self(us.t), 32);
	send_event(&ve, id, &ev, (uint64_t)time(NULL), NULL, 0);
	/* VE's acceptance with a time an hour from its sending time */
	memcpy(ev.actor, bc_talks_self(ve.t), 32);
	send_event(&ve, id, &ev, (uint64_t)time(NULL) - 3600, NULL, 0);
	/* VE's acceptance sent to US only, hidden from the mediator */
	{
		uint8_t to[1][32];
		memcpy(to[0], bc_talks_self(us.t), 32);
		send_event(&ve, id, &ev, (uint64_t)time(NULL), to, 1);
	}
	sync_into(&us, id, &s);
	assert_true(has(&s, "refused an acceptance from mediator: only parties "
			    "accept"));
	assert_true(has(&s, "refused an acceptance from VE: it acts in another "
			    "member's name"));
	assert_true(has(&s, "refused an acceptance from VE: its time is not"));
	assert_true(has(&s, "refused an acceptance from VE: it was not sent to "
			    "every member"));
	assert_false(has(&s, "accepted P"));
	assert_int_equal(bc_talk_proposal_get(us.t, id, pid2, &p), BC_OK);
	assert_int_equal(p->p.versions[0].naccepted, 0);
	bc_talk_proposal_free(p);
	p = NULL;

	/* --- a signature before agreement: held, then checked ------------------- */
	memset(sig, 0x11, sizeof(sig));
	sign_body(body, pid2, 1, h_ve, sig);
	assert_int_equal(bc_talk_send(ve.t, id, BC_TK_SIGN, body, sizeof(body),
				      NULL, 0, false, NULL),
			 BC_OK);
	sync_into(&us, id, &s);
	assert_int_equal(s.n, 0); /* held quietly */
	assert_int_equal(bc_talk_accept(ve.t, id, pid2, 0, NULL, NULL, NULL, &why),
			 BC_OK);
	sync_into(&us, id, &s);
	assert_true(has(&s, "accepted P"));
	assert_int_equal(bc_talk_accept(us.t, id, pid2, 0, NULL, saw, &s, &why),
			 BC_OK);
	assert_true(has(&s, "refused VE's signature on agreement"));
	assert_true(has(&s, "agreement P"));
	sync_into(&ve, id, &s);
	assert_true(has(&s, "complete: signed by every party"));
	/* VE signed when it saw the agreement; the held forgery was dropped */
	sync_into(&us, id, &s);
	assert_int_equal(bc_talk_proposal_get(us.t, id, pid2, &p), BC_OK);
	assert_string_equal(bc_talk_proposal_status(p), "signed");
	bc_talk_proposal_free(p);
	p = NULL;

	sodium_memzero(inv_us, strlen(inv_us));
	sodium_memzero(inv_ve, strlen(inv_ve));
	bc_free(inv_us);
	bc_free(inv_ve);
	bc_free(addr);
	close_who(&qa);
	close_who(&us);
	close_who(&ve);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hostile_members),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("proposal talks", tests, setup,
					   teardown);
}
