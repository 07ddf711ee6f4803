/*
 * fuzz_invite.c - libFuzzer target for the invite parsers of lib/invite.c.
 *
 * Input: byte 0 selects the parser (bit 0) and, with bit 1 set, byte 1 is
 * the index of an allocation to fail (bc_alloc_fail_at) during the call;
 * the rest is the parser's input.
 *   0  bc_invite_decode of the bytes
 *   1  bc_invite_import of the bytes as a NUL-terminated string
 * Whenever something parses, it must encode again: the binary form to the
 * very input bytes (the format is canonical), the text form to a string
 * that imports to the same invite; the decoded fields must satisfy the
 * invariants of invite.h. On failure the output must be wiped. Any
 * violation traps.
 *
 * Built by `make fuzz-build` (clang, -DBC_FUZZING=1). Compiled with
 * -DBC_FUZZ_MAKE_SEEDS and linked with the library by any compiler, this
 * file instead writes the seed corpus into the directory named by its
 * argument (tests/fuzz/corpus/fuzz_invite/):
 *   cc -std=gnu11 -DBC_FUZZ_MAKE_SEEDS -Iinclude -Ilib tests/fuzz/fuzz_invite.c \
 *      build/libbackchannel.a -lsodium -o /tmp/mkseeds && /tmp/mkseeds DIR
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "identity.h"
#include "internal.h"
#include "invite.h"

#define CHECK(c)                          \
	do {                              \
		if (!(c))                 \
			__builtin_trap(); \
	} while (0)

#define MAX_STRING 8192

#ifndef BC_FUZZ_MAKE_SEEDS

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= b[i];
	return acc == 0;
}

/* Invariants of a decoded invite (invite.h). */
static void check_invite(const bc_invite *inv)
{
	size_t side = strnlen(inv->side, sizeof(inv->side));

	CHECK(side < sizeof(inv->side));
	CHECK(strnlen(inv->title, sizeof(inv->title)) < sizeof(inv->title));
	CHECK(inv->role >= BC_INVITE_PARTY && inv->role <= BC_INVITE_OBSERVER);
	CHECK(inv->role == BC_INVITE_PARTY ? side >= 1 : side == 0);
	CHECK(inv->relay.port != 0 && inv->relay.host[0] != '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_binary(const uint8_t *in, size_t len)
{
	bc_invite inv;
	uint8_t enc[BC_INVITE_MAX_LEN];
	size_t n = 0;

	memset(&inv, 0xa5, sizeof(inv));
	if (bc_invite_decode(&inv, in, len) != BC_OK) {
		CHECK(all_zero(&inv, sizeof(inv)));
		return;
	}
	CHECK(len <= BC_INVITE_MAX_LEN && len >= BC_INVITE_MIN_LEN);
	check_invite(&inv);
	bc_alloc_fail_at(0);
	CHECK(bc_invite_encode(&inv, enc, sizeof(enc), &n) == BC_OK);
	CHECK(n == len && memcmp(enc, in, len) == 0);
	bc_invite_wipe(&inv);
	sodium_memzero(enc, sizeof(enc));
}

static void fuzz_text(const uint8_t *in, size_t len)
{
	bc_invite inv, back;
	uint8_t a[BC_INVITE_MAX_LEN], b[BC_INVITE_MAX_LEN];
	size_t na = 0, nb = 0;
	char *s, *again = NULL;

	if (len > MAX_STRING)
		return;
	s = malloc(len + 1);
	if (s == NULL)
		return;
	memcpy(s, in, len);
	s[len] = '\0';
	memset(&inv, 0xa5, sizeof(inv));
	if (bc_invite_import(&inv, s) != BC_OK) {
		CHECK(all_zero(&inv, sizeof(inv)));
		goto out;
	}
	check_invite(&inv);
	bc_alloc_fail_at(0);
	CHECK(bc_invite_export(&inv, &again) == BC_OK);
	CHECK(bc_invite_import(&back, again) == BC_OK);
	CHECK(bc_invite_encode(&inv, a, sizeof(a), &na) == BC_OK);
	CHECK(bc_invite_encode(&back, b, sizeof(b), &nb) == BC_OK);
	CHECK(na == nb && memcmp(a, b, na) == 0);
	bc_invite_text_free(again);
	bc_invite_wipe(&inv);
	bc_invite_wipe(&back);
	sodium_memzero(a, sizeof(a));
	sodium_memzero(b, sizeof(b));
out:
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	size_t skip = 1;

	if (!ready) {
		if (sodium_init() < 0)
			return 0;
		ready = true;
	}
	if (size < 1)
		return 0;
	if (data[0] & 2) {
		if (size < 2)
			return 0;
		bc_alloc_fail_at((unsigned long)data[1] + 1);
		skip = 2;
	}
	if (data[0] & 1)
		fuzz_text(data + skip, size - skip);
	else
		fuzz_binary(data + skip, size - skip);
	bc_alloc_fail_at(0);
	return 0;
}

#else /* BC_FUZZ_MAKE_SEEDS */

/* Write the header bytes hdr[0..hl) then p[0..n) to dir/name. */
static void put(const char *dir, const char *name, const uint8_t *hdr, size_t hl,
		const void *p, size_t n)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(hdr, 1, hl, f) != hl || fwrite(p, 1, n, f) != n) {
		perror(path);
		exit(1);
	}
	if (fclose(f) != 0)
		exit(1);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		bc_invite_role role;
		const char *side;
		const char *host;
		uint64_t expires;
	} cases[] = {
		{ "party", BC_INVITE_PARTY, "US", "relay.example.org", 1800000000 },
		{ "mediator", BC_INVITE_MEDIATOR, NULL, "2001:db8::1", 0 },
		{ "observer", BC_INVITE_OBSERVER, NULL, "127.0.0.1", UINT64_MAX },
	};
	bc_identity id;
	bc_relay_addr relay;
	uint8_t mailbox[32], cap[32], channel[16], buf[BC_INVITE_MAX_LEN];
	char name[64];

	if (argc != 2 || sodium_init() < 0)
		return 2;
	/* deterministic keys: seeds must not change from run to run */
	memset(mailbox, 0x11, sizeof(mailbox));
	memset(cap, 0x22, sizeof(cap));
	memset(channel, 0x33, sizeof(channel));
	memset(buf, 0x44, 32);
	if (bc_identity_from_seed(&id, buf, mailbox) != BC_OK)
		return 1;
	for (size_t i = 0; i < BC_ARRAY_LEN(cases); i++) {
		bc_invite inv;
		char *s = NULL;
		size_t n = 0;

		memset(&relay, 0, sizeof(relay));
		strcpy(relay.host, cases[i].host);
		relay.port = 7737;
		memset(relay.key, 0x55, sizeof(relay.key));
		if (bc_invite_new(&inv, &relay, &id.pub, mailbox, cap, channel,
				  "Harbour talks \xe2\x80\x94 round 2", cases[i].role, cases[i].side,
				  cases[i].expires) != BC_OK)
			return 1;
		memset(inv.secret, 0x66, sizeof(inv.secret));
		if (bc_invite_encode(&inv, buf, sizeof(buf), &n) != BC_OK ||
		    bc_invite_export(&inv, &s) != BC_OK)
			return 1;
		snprintf(name, sizeof(name), "bin_%s", cases[i].name);
		put(argv[1], name, (const uint8_t[]){ 0 }, 1, buf, n);
		snprintf(name, sizeof(name), "text_%s", cases[i].name);
		put(argv[1], name, (const uint8_t[]){ 1 }, 1, s, strlen(s));
		if (i == 0) {
			put(argv[1], "bin_truncated", (const uint8_t[]){ 0 }, 1, buf, n / 2);
			/* the first allocation fails during the text import */
			put(argv[1], "text_allocfail", (const uint8_t[]){ 3, 0 }, 2, s, strlen(s));
		}
		bc_invite_text_free(s);
		bc_invite_wipe(&inv);
	}
	bc_identity_wipe(&id);
	return 0;
}

#endif
