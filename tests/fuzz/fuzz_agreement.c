/*
 * fuzz_agreement.c - libFuzzer target for lib/agreement.c.
 *
 * Byte 0 picks a mode (mod 3); the rest is its input:
 *
 *   0  bc_agreement_verify on the rest as export text. When it verifies,
 *      the parsed agreement is complete (bc_agreement_check is BC_OK) and
 *      its export is exactly the input (the header is authenticated).
 *   1  bc_agreement_decode on the rest as a binary signed agreement. When
 *      it decodes, it re-encodes to exactly the same bytes (canonical),
 *      its document re-encodes to the stored document bytes, and
 *      bc_agreement_check and bc_agreement_render must not crash; the
 *      rendered text must verify iff the check passes.
 *   2  bc_proposal_decode / bc_proposal_event_decode (the shared term
 *      reader), canonical on success.
 * On any error the output pointer must be NULL. A violation traps.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "agreement.h"
#include "internal.h"
#include "proposal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                           \
	do {                               \
		if (!(c))                  \
			__builtin_trap();  \
	} while (0)

static void mode_verify(const uint8_t *in, size_t len)
{
	bc_agreement *a = (bc_agreement *)1;
	const char *why = NULL;
	char *again = NULL;
	int rc = bc_agreement_verify((const char *)in, len, &a, &why);

	if (rc != BC_OK) {
		CHECK(a == NULL);
		CHECK(why != NULL);
		return;
	}
	CHECK(a != NULL && why == NULL);
	CHECK(bc_agreement_check(a, NULL) == BC_OK);
	CHECK(bc_agreement_export(a, &again) == BC_OK);
	CHECK(strlen(again) == len && memcmp(again, in, len) == 0);
	bc_free(again);
	bc_agreement_free(a);
}

static void mode_binary(const uint8_t *in, size_t len)
{
	bc_agreement *a = (bc_agreement *)1, *b = NULL;
	uint8_t *enc = NULL;
	size_t enclen = 0;
	char *text = NULL;
	const char *why = NULL;
	int rc = bc_agreement_decode(&a, in, len);

	if (rc != BC_OK) {
		CHECK(a == NULL);
		return;
	}
	CHECK(bc_agreement_encode(a, &enc, &enclen) == BC_OK);
	CHECK(enclen == len && memcmp(enc, in, len) == 0);
	bc_free(enc);
	int ck = bc_agreement_check(a, &why);
	CHECK((ck == BC_OK) == (why == NULL));
	if (bc_agreement_render(a, &text) == BC_OK) {
		rc = bc_agreement_verify(text, strlen(text), &b, NULL);
		CHECK((rc == BC_OK) == (ck == BC_OK));
		bc_agreement_free(b);
		bc_free(text);
	}
	bc_agreement_free(a);
}

static void mode_proposal(const uint8_t *in, size_t len)
{
	bc_proposal p;
	bc_proposal_event ev;
	uint8_t *enc = NULL;
	size_t enclen = 0;

	if (bc_proposal_decode(&p, in, len) == BC_OK) {
		CHECK(bc_proposal_encode(&p, &enc, &enclen) == BC_OK);
		CHECK(enclen == len && memcmp(enc, in, len) == 0);
		bc_free(enc);
		bc_proposal_clear(&p);
	}
	if (bc_proposal_event_decode(&ev, in, len) == BC_OK) {
		CHECK(bc_proposal_event_encode(&ev, &enc, &enclen) == BC_OK);
		CHECK(enclen == len && memcmp(enc, in, len) == 0);
		bc_free(enc);
		bc_proposal_event_free(&ev);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;

	if (!init) {
		if (sodium_init() < 0)
			abort();
		init = true;
	}
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0: mode_verify(data + 1, size - 1); break;
	case 1: mode_binary(data + 1, size - 1); break;
	default: mode_proposal(data + 1, size - 1); break;
	}
	return 0;
}
