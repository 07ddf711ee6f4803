/*
 * fuzz_exchange.c - libFuzzer target for the mediation messages and state
 * machines (lib/mutual.c, lib/exchange.c).
 *
 * Byte 0 selects (mod 16):
 *   0 mutual ask   1 mutual answer   2 mutual result
 *   3 commit       4 all-committed   5 reveal   6 release
 *   7 step-done    8 step-confirmed
 *     the rest is decoded as that message; if accepted, re-encoding must
 *     give back exactly the input (canonical codec); a decoded release is
 *     also checked against an all-committed list built from it.
 *   12 steps (the mediator's list of steps): decoded, re-encoded
 *      exactly, every step's performer != receiver; the kind byte read
 *      by bc_exchange_kind_of agrees with the decoder that accepted it
 *   9  drive a bc_mutual, 10 drive a bc_exround, 11 drive a bc_exseq:
 *     byte 1 sets the size, the rest is a list of events, each
 *       u8 op, u8 who, u16 len, len bytes (a message body, may be empty)
 *     An event either uses the decoded message (if it decodes) or an
 *     honest one built by the harness, so that deep states are reached.
 *     A reference model runs alongside and every answer of the library
 *     is compared with it; any difference traps.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "codec.h"
#include "exchange.h"
#include "internal.h"
#include "mutual.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                           \
	do {                               \
		if (!(c))                  \
			__builtin_trap();  \
	} while (0)

static const uint8_t CH[16] = { 0xf0, 0x0d };
static const uint8_t QID[16] = { 0x51 };
#define ROUND 5u

static void reenc(int rc, const uint8_t *out, size_t outlen,
		  const uint8_t *in, size_t inlen)
{
	CHECK(rc == BC_OK);
	CHECK(outlen == inlen);
	CHECK(memcmp(out, in, inlen) == 0);
}

static void decode_one(unsigned sel, const uint8_t *p, size_t n)
{
	uint8_t *out = NULL;
	size_t olen = 0;
	int rc;

	switch (sel) {
	case 0: {
		bc_mutual_ask m;
		if (bc_mutual_ask_decode(&m, p, n) != BC_OK)
			return;
		rc = bc_mutual_ask_encode(&m, &out, &olen);
		reenc(rc, out, olen, p, n);
		break;
	}
	case 1: {
		bc_mutual_answer m;
		if (bc_mutual_answer_decode(&m, p, n) != BC_OK)
			return;
		rc = bc_mutual_answer_encode(&m, &out, &olen);
		reenc(rc, out, olen, p, n);
		break;
	}
	case 2: {
		bc_mutual_result m;
		if (bc_mutual_result_decode(&m, p, n) != BC_OK)
			return;
		CHECK((m.outcome == BC_MUTUAL_MATCH) == (m.text_len > 0));
		rc = bc_mutual_result_encode(&m, &out, &olen);
		reenc(rc, out, olen, p, n);
		break;
	}
	case 3: {
		bc_exchange_commit m;
		if (bc_exchange_commit_decode(&m, p, n) != BC_OK)
			return;
		rc = bc_exchange_commit_encode(&m, &out, &olen);
		reenc(rc, out, olen, p, n);
		break;
	}
	case 4: {
		bc_exchange_allc m;
		if (bc_exchange_allc_decode(&m, p, n) != BC_OK)
			return;
		rc = bc_exchange_allc_encode(&m, &out, &olen);
		reenc(rc, out, olen, p, n);
		break;
	}
	case 5: {
		bc_exchange_reveal m;
		if (bc_exchange_reveal_decode(&m, p, n) != BC_OK)
			return;
		rc = bc_exchange_reveal_encode(&m, &out, &olen);
		reenc(rc, out, olen, p, n);
		break;
	}
	case 6: {
		static bc_exchange_release m;
		static bc_exchange_allc a;
		if (bc_exchange_release_decode(&m, p, n) != BC_OK)
			return;
		rc = bc_exchange_release_encode(&m, &out, &olen);
		reenc(rc, out, olen, p, n);
		memset(&a, 0, sizeof a);
		memcpy(a.channel, m.channel, 16);
		a.round = m.round;
		a.n = m.n;
		memcpy(a.author, m.author, sizeof a.author);
		memcpy(a.c, m.c, sizeof a.c);
		rc = bc_exchange_check_release(&a, &m);
		CHECK(rc == BC_OK || rc == BC_ERR_AUTH);
		break;
	}
	case 7: {
		bc_exchange_step m;
		if (bc_exchange_stepdone_decode(&m, p, n) != BC_OK)
			return;
		rc = bc_exchange_stepdone_encode(&m, &out, &olen);
		reenc(rc, out, olen, p, n);
		break;
	}
	case 8: {
		bc_exchange_step m;
		if (bc_exchange_stepconf_decode(&m, p, n) != BC_OK)
			return;
		rc = bc_exchange_stepconf_encode(&m, &out, &olen);
		reenc(rc, out, olen, p, n);
		break;
	}
	case 12: {
		static bc_exchange_steps m;
		uint8_t k = 0;
		if (bc_exchange_steps_decode(&m, p, n) != BC_OK)
			return;
		CHECK(m.n >= 1 && m.n <= BC_EXCHANGE_MAX_STEPS);
		for (size_t i = 0; i < m.n; i++)
			CHECK(memcmp(m.performer[i], m.receiver[i], 32) != 0);
		CHECK(bc_exchange_kind_of(p, n, &k) == BC_OK &&
		      k == BC_EXCHANGE_K_STEPS);
		rc = bc_exchange_steps_encode(&m, &out, &olen);
		reenc(rc, out, olen, p, n);
		break;
	}
	default:
		return;
	}
	bc_free(out);
}

/* ---- event stream ------------------------------------------------------- */

struct ev {
	uint8_t op, who;
	const uint8_t *body;
	size_t len;
};

static bool next_ev(const uint8_t **p, size_t *n, struct ev *e)
{
	if (*n < 4)
		return false;
	e->op = (*p)[0];
	e->who = (*p)[1];
	e->len = bc_load16(*p + 2);
	*p += 4;
	*n -= 4;
	if (e->len > *n)
		e->len = *n;
	e->body = *p;
	*p += e->len;
	*n -= e->len;
	return true;
}

static void mkid(uint8_t id[32], unsigned i)
{
	memset(id, (int)(0x10 + i), 32);
}

/* ---- mutual ------------------------------------------------------------- */

static void drive_mutual(const uint8_t *p, size_t n)
{
	uint8_t ids[16][32], id[32];
	bool answered[16] = { false }, yes[16] = { false };
	bool decided = false, cancelled = false;
	uint8_t *ref = NULL, *res = NULL;
	size_t reflen = 0, reslen = 0, np;
	bc_mutual *m = NULL;
	struct ev e;
	int rc, oc;

	if (n < 1)
		return;
	np = 2 + p[0] % 15;
	p++, n--;
	for (unsigned i = 0; i < np; i++)
		mkid(ids[i], i);
	if (bc_mutual_new(&m, CH, QID, "meet?", (const uint8_t(*)[32])ids,
			  np) != BC_OK)
		return;
	while (next_ev(&p, &n, &e)) {
		unsigned w = e.who % 20;
		bool party = w < np;
		bc_mutual_answer a;
		mkid(id, w);
		switch (e.op % 4) {
		case 0: /* honest answer */
		case 1: /* answer message from the fuzzer */
			memset(&a, 0, sizeof a);
			memcpy(a.channel, CH, 16);
			memcpy(a.qid, QID, 16);
			a.yes = e.op & 0x80;
			if (e.op % 4 == 1 &&
			    bc_mutual_answer_decode(&a, e.body, e.len) != BC_OK)
				break;
			rc = bc_mutual_record_msg(m, id, &a);
			if (memcmp(a.channel, CH, 16) || memcmp(a.qid, QID, 16)) {
				CHECK(rc == BC_ERR_PROTOCOL);
			} else if (!party) {
				CHECK(rc == BC_ERR_FORBIDDEN);
			} else if (decided || answered[w]) {
				CHECK(rc == BC_ERR_STATE);
			} else {
				CHECK(rc == BC_OK);
				answered[w] = true;
				yes[w] = a.yes;
				decided = true;
				for (size_t k = 0; k < np; k++)
					decided = decided && answered[k];
			}
			break;
		case 2:
			rc = bc_mutual_cancel(m);
			CHECK(rc == (decided ? BC_ERR_STATE : BC_OK));
			if (!decided)
				cancelled = decided = true;
			break;
		case 3:
			rc = bc_mutual_result_msg(m, &res, &reslen);
			CHECK(rc == (decided ? BC_OK : BC_ERR_STATE));
			if (rc == BC_OK) {
				/* always the same bytes once decided */
				if (ref == NULL) {
					ref = res;
					reflen = reslen;
				} else {
					CHECK(reslen == reflen &&
					      memcmp(res, ref, reflen) == 0);
					bc_free(res);
				}
				res = NULL;
			}
			break;
		}
		CHECK(bc_mutual_decided(m) == decided);
	}
	if (decided) {
		bool all = !cancelled;
		for (size_t k = 0; k < np; k++)
			all = all && yes[k];
		CHECK(bc_mutual_outcome(m, &oc) == BC_OK);
		CHECK(oc == (all ? BC_MUTUAL_MATCH : BC_MUTUAL_NO_MATCH));
	}
	bc_free(ref);
	bc_mutual_free(m);
}

/* ---- exchange round ----------------------------------------------------- */

static void drive_round(const uint8_t *p, size_t n)
{
	static uint8_t ids[16][32], key[16][32], c[16][32];
	static char text[16][8];
	bool committed[16] = { false }, revealed[16] = { false };
	bool forged[16] = { false }, aborted = false;
	bc_exround *r = NULL;
	size_t ns, ncom = 0, nrev = 0;
	bc_exchange_allc allc;
	bool have_allc = false;
	uint8_t id[32];
	struct ev e;
	int rc;

	if (n < 1)
		return;
	ns = 2 + p[0] % 15;
	p++, n--;
	for (unsigned i = 0; i < ns; i++) {
		mkid(ids[i], i);
		memcpy(text[i], "step ", 5);
		text[i][5] = (char)('a' + i);
		text[i][6] = 0;
		CHECK(bc_exchange_commit_new(key[i], c[i], CH, ROUND, ids[i],
					     (const uint8_t *)text[i], 6) ==
		      BC_OK);
	}
	if (bc_exround_new(&r, CH, ROUND, (const uint8_t(*)[32])ids, ns) !=
	    BC_OK)
		return;
	while (next_ev(&p, &n, &e)) {
		unsigned w = e.who % 20;
		bool side = w < ns;
		mkid(id, w);
		switch (e.op % 6) {
		case 0: { /* honest commit */
			bc_exchange_commit m;
			memset(&m, 0, sizeof m);
			memcpy(m.channel, CH, 16);
			m.round = ROUND;
			memcpy(m.c, side ? c[w] : c[0], 32);
			rc = bc_exround_commit(r, id, &m);
			if (!side)
				CHECK(rc == BC_ERR_FORBIDDEN);
			else if (aborted || ncom == ns || committed[w])
				CHECK(rc == BC_ERR_STATE);
			else {
				CHECK(rc == BC_OK);
				committed[w] = true;
				ncom++;
			}
			break;
		}
		case 1: { /* honest reveal */
			bc_exchange_reveal m;
			memset(&m, 0, sizeof m);
			memcpy(m.channel, CH, 16);
			m.round = ROUND;
			memcpy(m.key, key[side ? w : 0], 32);
			m.text = (const uint8_t *)text[side ? w : 0];
			m.text_len = 6;
			rc = bc_exround_reveal(r, id, &m);
			if (!side)
				CHECK(rc == BC_ERR_FORBIDDEN);
			else if (aborted || ncom < ns || revealed[w] ||
				 nrev == ns)
				CHECK(rc == BC_ERR_STATE);
			else if (forged[w])
				CHECK(rc == BC_ERR_AUTH);
			else {
				CHECK(rc == BC_OK);
				revealed[w] = true;
				nrev++;
			}
			break;
		}
		case 2: { /* fuzzer's commit */
			bc_exchange_commit m;
			if (bc_exchange_commit_decode(&m, e.body, e.len) !=
			    BC_OK)
				break;
			rc = bc_exround_commit(r, id, &m);
			if (rc == BC_OK) {
				/* a side's commitment from the fuzzer: its
				 * honest opening will not match */
				CHECK(side && !aborted && !committed[w] &&
				      ncom < ns);
				committed[w] = forged[w] = true;
				ncom++;
			}
			break;
		}
		case 3: { /* fuzzer's reveal: must not open an honest c */
			bc_exchange_reveal m;
			if (bc_exchange_reveal_decode(&m, e.body, e.len) !=
			    BC_OK)
				break;
			rc = bc_exround_reveal(r, id, &m);
			CHECK(rc != BC_OK);
			break;
		}
		case 4: {
			uint8_t *out = NULL;
			size_t olen = 0;
			rc = bc_exround_allc_msg(r, &out, &olen);
			CHECK((rc == BC_OK) == (ncom == ns && !aborted));
			if (rc == BC_OK) {
				CHECK(bc_exchange_allc_decode(&allc, out,
							      olen) == BC_OK);
				have_allc = true;
				for (unsigned i = 0; i < ns; i++)
					CHECK(bc_exchange_check_allc(
						      &allc, CH, ROUND, ids[i],
						      c[i]) ==
					      (forged[i] ? BC_ERR_AUTH : BC_OK));
			}
			bc_free(out);
			out = NULL;
			rc = bc_exround_release_msg(r, &out, &olen);
			CHECK((rc == BC_OK) == (nrev == ns));
			if (rc == BC_OK) {
				static bc_exchange_release rel;
				CHECK(have_allc);
				CHECK(bc_exchange_release_decode(&rel, out,
								 olen) ==
				      BC_OK);
				CHECK(bc_exchange_check_release(&allc, &rel) ==
				      BC_OK);
				if (e.len > 0 && rel.n > 0) {
					/* a tampered release must fail */
					size_t k = e.body[0] % rel.n;
					rel.key[k][e.len % 32] ^= 1;
					CHECK(bc_exchange_check_release(
						      &allc, &rel) ==
					      BC_ERR_AUTH);
				}
			}
			bc_free(out);
			break;
		}
		case 5:
			rc = bc_exround_abort(r);
			CHECK(rc == (nrev == ns ? BC_ERR_STATE : BC_OK));
			if (rc == BC_OK)
				aborted = true;
			break;
		}
	}
	bc_exround_free(r);
}

/* ---- sequenced steps ---------------------------------------------------- */

static void drive_seq(const uint8_t *p, size_t n)
{
	bc_exseq_def d[BC_EXCHANGE_MAX_STEPS];
	uint32_t ns, cur = 0;
	bool cur_done = false;
	bc_exseq *s = NULL;
	uint8_t id[32];
	struct ev e;
	bool dd = false;
	int rc, why;

	if (n < 1)
		return;
	ns = 1 + p[0] % BC_EXCHANGE_MAX_STEPS;
	p++, n--;
	for (uint32_t i = 0; i < ns; i++) {
		mkid(d[i].performer, i % 3);
		mkid(d[i].receiver, (i + 1) % 3);
	}
	CHECK(bc_exseq_new(&s, CH, ROUND, d, ns) == BC_OK);
	while (next_ev(&p, &n, &e)) {
		bc_exchange_step m;
		bool done_op = e.op & 1;
		memset(&m, 0, sizeof m);
		memcpy(m.channel, CH, 16);
		m.round = ROUND;
		m.step = (e.op & 2) ? cur : (uint32_t)e.who % 70;
		if (e.op & 4) {
			if ((done_op ? bc_exchange_stepdone_decode(&m, e.body,
								   e.len)
				     : bc_exchange_stepconf_decode(&m, e.body,
								   e.len)) !=
			    BC_OK)
				continue;
		}
		mkid(id, (e.who >> 4) % 4);
		why = -1;
		rc = done_op ? bc_exseq_done(s, id, &m, &why)
			     : bc_exseq_confirm(s, id, &m, &why);
		CHECK(why >= 0);
		CHECK((rc == BC_OK) == (why == BC_EXSEQ_OK));
		if (memcmp(m.channel, CH, 16) || m.round != ROUND)
			CHECK(why == BC_EXSEQ_WRONG_EXCHANGE);
		else if (cur >= ns)
			CHECK(why == BC_EXSEQ_COMPLETE);
		else if (m.step != cur)
			CHECK(why == BC_EXSEQ_OUT_OF_ORDER);
		else if (done_op) {
			if (memcmp(id, d[cur].performer, 32))
				CHECK(why == BC_EXSEQ_NOT_PERFORMER);
			else if (cur_done)
				CHECK(why == BC_EXSEQ_ALREADY_DONE);
			else {
				CHECK(why == BC_EXSEQ_OK);
				cur_done = true;
			}
		} else {
			if (memcmp(id, d[cur].receiver, 32))
				CHECK(why == BC_EXSEQ_NOT_RECEIVER);
			else if (!cur_done)
				CHECK(why == BC_EXSEQ_NOT_DONE);
			else {
				CHECK(why == BC_EXSEQ_OK);
				cur++;
				cur_done = false;
			}
		}
		CHECK(bc_exseq_current(s, &dd) == cur && dd == cur_done);
	}
	CHECK(bc_exseq_complete(s) == (cur >= ns));
	bc_exseq_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	unsigned sel;

	if (!init) {
		if (sodium_init() < 0)
			__builtin_trap();
		init = true;
	}
	if (size < 1)
		return 0;
	sel = data[0] % 16;
	if (sel <= 8 || sel == 12)
		decode_one(sel, data + 1, size - 1);
	else if (sel == 9)
		drive_mutual(data + 1, size - 1);
	else if (sel == 10)
		drive_round(data + 1, size - 1);
	else if (sel == 11)
		drive_seq(data + 1, size - 1);
	return 0;
}
