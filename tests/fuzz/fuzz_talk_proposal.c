/*
 * fuzz_talk_proposal.c - libFuzzer target for the parsers of
 * lib/talk_proposal.c (what a hostile member or a damaged store hands it).
 *
 * Byte 0 picks a mode (mod 3); the rest is its input:
 *
 *   0  bc_tp_body_decode: a PROPOSAL message body (u8 1 || u64 time ||
 *      bytes event). On success the event re-encodes to the same bytes
 *      it was read from (canonical).
 *   1  bc_tp_sign_decode: a SIGN body; it decodes iff it is exactly
 *      BC_TP_SIGN_LEN bytes starting with format 1.
 *   2  bc_talk_proposal_decode: a stored proposal record. On success it
 *      re-encodes to exactly the input (canonical) and its invariants
 *      hold (created times per version, the agreement belongs to the
 *      agreed version of this talk's proposal).
 * A violation traps.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"
#include "talk_proposal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                          \
	do {                              \
		if (!(c))                 \
			__builtin_trap(); \
	} while (0)

static const uint8_t TID[BC_TALK_ID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8,
					    9, 10, 11, 12, 13, 14, 15, 16};

static void mode_body(const uint8_t *in, size_t len)
{
	bc_proposal_event ev;
	uint64_t tm = 0;
	uint8_t *e = NULL;
	size_t el = 0;
	if (bc_tp_body_decode(in, len, &tm, &ev) != BC_OK)
		return;
	/* u8 fmt || u64 time || u32 len || event */
	CHECK(len >= 13);
	CHECK(bc_proposal_event_encode(&ev, &e, &el) == BC_OK);
	CHECK(el == len - 13 && memcmp(e, in + 13, el) == 0);
	bc_free(e);
	bc_proposal_event_free(&ev);
}

static void mode_sign(const uint8_t *in, size_t len)
{
	bc_tp_sign s;
	int rc = bc_tp_sign_decode(in, len, &s);
	CHECK((rc == BC_OK) == (len == BC_TP_SIGN_LEN && in[0] == 1));
	if (rc == BC_OK)
		CHECK(memcmp(s.proposal_id, in + 1, 16) == 0 &&
		      memcmp(s.sig, in + 53, 64) == 0);
}

static void mode_record(const uint8_t *in, size_t len)
{
	bc_talk_proposal *p = (bc_talk_proposal *)1;
	uint8_t *out = NULL;
	size_t ol = 0;
	if (bc_talk_proposal_decode(&p, TID, in, len) != BC_OK) {
		CHECK(p == NULL);
		return;
	}
	CHECK(p != NULL && p->p.nversions >= 1);
	CHECK(p->agreement == NULL || p->p.status == BC_PROPOSAL_AGREED);
	CHECK(!p->sign_pending || p->agreement != NULL);
	CHECK(bc_talk_proposal_encode(p, &out, &ol) == BC_OK);
	CHECK(ol == len && memcmp(out, in, len) == 0);
	(void)bc_talk_proposal_status(p);
	bc_free(out);
	bc_talk_proposal_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0: mode_body(data + 1, size - 1); break;
	case 1: mode_sign(data + 1, size - 1); break;
	default: mode_record(data + 1, size - 1); break;
	}
	return 0;
}
