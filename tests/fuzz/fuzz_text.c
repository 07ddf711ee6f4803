/*
 * fuzz_text.c - libFuzzer target for the single negotiating text's codecs
 * (lib/talk_text.c): what a member decodes from other members' messages
 * and from its own store.
 *
 * Byte 0 picks a mode (mod 2); the rest is its input:
 *
 *   0  bc_text_msg_decode: a TEXT message body. When it decodes, every
 *      field is within its caps, it re-encodes to exactly the input
 *      (canonical), and its strings are valid UTF-8; on failure the
 *      strings are NULL.
 *   1  bc_text_state_decode: the state record. When it decodes, the
 *      numbering invariants hold and it re-encodes to exactly the input;
 *      on failure the output is NULL.
 * A violation traps.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "codec.h"
#include "internal.h"
#include "talk_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                          \
	do {                              \
		if (!(c))                 \
			__builtin_trap(); \
	} while (0)

static void mode_msg(const uint8_t *in, size_t len)
{
	bc_text_msg m;
	uint8_t *again = NULL;
	size_t alen = 0;
	int rc = bc_text_msg_decode(in, len, &m);
	if (rc != BC_OK) {
		CHECK(m.text == NULL && m.note == NULL);
		return;
	}
	CHECK(m.type >= BC_TEXT_DRAFT && m.type <= BC_TEXT_VOTE);
	CHECK(m.version >= 1 && m.version <= BC_TEXT_VERSIONS_MAX);
	if (m.text != NULL)
		CHECK(strlen(m.text) >= 1 && strlen(m.text) <= BC_TEXT_MAX &&
		      bc_utf8_valid((const uint8_t *)m.text, strlen(m.text)));
	if (m.note != NULL)
		CHECK(strlen(m.note) <= BC_TEXT_NOTE_MAX &&
		      bc_utf8_valid((const uint8_t *)m.note, strlen(m.note)));
	if (m.type == BC_TEXT_VOTE)
		CHECK(m.answer == BC_TEXT_YES || m.answer == BC_TEXT_NO);
	CHECK(bc_text_msg_encode(&m, &again, &alen) == BC_OK);
	CHECK(alen == len && memcmp(again, in, len) == 0);
	bc_free(again);
	bc_text_msg_clear(&m);
}

static void mode_state(const uint8_t *in, size_t len)
{
	bc_text_state *s = (bc_text_state *)1;
	uint8_t *again = NULL;
	size_t alen = 0;
	int rc = bc_text_state_decode(in, len, &s);
	if (rc != BC_OK) {
		CHECK(s == NULL);
		return;
	}
	CHECK(s != NULL);
	for (uint32_t i = 0; i < s->nversions; i++)
		CHECK(s->versions[i].number == i + 1);
	for (uint32_t i = 0; i < s->nrounds; i++) {
		CHECK(s->rounds[i].number == i + 1);
		CHECK(s->rounds[i].version >= 1 &&
		      s->rounds[i].version <= s->nversions);
		CHECK(s->rounds[i].state != BC_TEXT_OPEN ||
		      i + 1 == s->nrounds);
	}
	CHECK(bc_text_state_encode(s, &again, &alen) == BC_OK);
	CHECK(alen == len && memcmp(again, in, len) == 0);
	bc_free(again);
	bc_text_state_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] % 2 == 0)
		mode_msg(data + 1, size - 1);
	else
		mode_state(data + 1, size - 1);
	return 0;
}
