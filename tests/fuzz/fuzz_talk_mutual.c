/*
 * fuzz_talk_mutual.c - libFuzzer target for the receiving side of mutual
 * questions in a talk: bc_talk_on_mutual (lib/talk_mutual.c), with a
 * hostile sender choosing the body, its own role and the readers.
 *
 * One member store (unprotected, in a temporary directory) is opened once;
 * its "mutual" and "talklog" records are wiped before every input, so an
 * input's outcome depends on the input alone.
 *
 * Input layout:
 *   byte 0   bits 0-1  this member's role: 0 mediator, 1 party, 2 observer
 *            bits 2-3  a question record planted first (the format of
 *                      docs/PROTOCOL.md §20, built here, not by the code
 *                      under test), qid QID, asking the parties:
 *                      0 none; mediator: 1..3 asked by me, open;
 *                      party: 1 open unanswered, 2 answered yes,
 *                      3 answered no (asked by the fake mediator)
 *   then messages: u8 sender (0..3, mod 4: the fake members below),
 *                  u8 readers (bit 0: me, bits 1..4: fake members 0..3),
 *                  u16 length, body (the MUTUAL body)
 *
 * Members: me, fake 0 = a mediator, fakes 1 and 2 = parties, fake 3 = an
 * observer.
 *
 * Checked after every message:
 *   - a refusal by return code (MALFORMED, FORBIDDEN, AUTH) leaves the
 *     question record byte for byte as it was;
 *   - a party that answered no (or has not answered) never ends up with
 *     a "match";
 *   - the asking mediator's record never names more answerers than
 *     parties, and only parties asked.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "codec.h"
#include "internal.h"
#include "mutual.h"
#include "store.h"
#include "talk.h"
#include "talk_int.h"
#include "talk_mutual.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                          \
	do {                              \
		if (!(c))                 \
			__builtin_trap(); \
	} while (0)

static const uint8_t TALK[16] = {0x7a, 0x1c};
static const uint8_t QID[16] = {0x51, 0xa5};
static const char TEXT[] = "Would you accept a leader-level meeting?";

static bc_store *st;
static bc_talks *tk;
static uint8_t fake[4][32];
static char dir[] = "/tmp/bc-fuzz-mutual-XXXXXX";
static char path[64];

/* Leave no store behind in /tmp. */
static void cleanup(void)
{
	static const char *const ext[] = {"", "-wal", "-shm", "-journal"};
	char p[80];
	bc_talks_free(tk);
	bc_store_close(st);
	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", path, ext[i]);
		(void)unlink(p);
	}
	(void)rmdir(dir);
}

static void init_once(void)
{
	if (tk != NULL)
		return;
	CHECK(sodium_init() >= 0);
	CHECK(mkdtemp(dir) != NULL);
	memcpy(path, dir, sizeof(dir));
	memcpy(path + sizeof(dir) - 1, "/m.db", 6);
	CHECK(bc_store_open(&st, path, NULL, 0,
			    BC_STORE_CREATE | BC_STORE_UNPROTECTED) == BC_OK);
	CHECK(bc_talks_open(&tk, st, (uint64_t)time(NULL)) == BC_OK);
	CHECK(atexit(cleanup) == 0);
	for (int i = 0; i < 4; i++) {
		memset(fake[i], 0x10 * (i + 1), 32);
		fake[i][31] = (uint8_t)i;
	}
}

struct keys {
	uint8_t k[64][64];
	size_t len[64];
	size_t n;
};

static int collect(void *ctx, const uint8_t *key, size_t klen,
		   const uint8_t *val, size_t vlen)
{
	struct keys *k = ctx;
	(void)val;
	(void)vlen;
	if (k->n < 64 && klen <= 64) {
		if (klen > 0)
			memcpy(k->k[k->n], key, klen);
		k->len[k->n++] = klen;
	}
	return 0;
}

static void wipe_kind(const char *kind)
{
	struct keys *k = calloc(1, sizeof(*k));
	CHECK(k != NULL);
	do {
		k->n = 0;
		CHECK(bc_store_list(st, kind, collect, k) == BC_OK);
		for (size_t i = 0; i < k->n; i++)
			CHECK(bc_store_del(st, kind, k->len[i] ? k->k[i] : NULL,
					   k->len[i]) == BC_OK);
	} while (k->n == 64);
	free(k);
}

/* The planted record, per docs/PROTOCOL.md §20 "Store records". */
static void plant(bool mine, const uint8_t asker[32], uint8_t my_answer,
		  const uint8_t (*parties)[32], size_t np)
{
	bc_mutual_ask a;
	uint8_t *ask = NULL, *rec = NULL, key[32], msg[16] = {1};
	size_t alen = 0, rlen = 0;
	bc_wr w;
	memset(&a, 0, sizeof(a));
	memcpy(a.channel, TALK, 16);
	memcpy(a.qid, QID, 16);
	a.text = (const uint8_t *)TEXT;
	a.text_len = strlen(TEXT);
	a.nparties = np;
	/* ascending */
	for (size_t i = 0; i < np; i++) {
		size_t j = i;
		while (j > 0 && memcmp(a.parties[j - 1], parties[i], 32) > 0) {
			memcpy(a.parties[j], a.parties[j - 1], 32);
			j--;
		}
		memcpy(a.parties[j], parties[i], 32);
	}
	CHECK(bc_mutual_ask_encode(&a, &ask, &alen) == BC_OK);
	bc_wr_init(&w, 4096);
	bc_wr_u8(&w, 1);
	bc_wr_bool(&w, mine);
	bc_wr_raw(&w, asker, 32);
	bc_wr_raw(&w, msg, 16);
	bc_wr_u64(&w, 1);
	bc_wr_bytes(&w, ask, alen);
	bc_wr_bool(&w, false);
	bc_wr_u8(&w, 0);
	bc_wr_u8(&w, my_answer);
	bc_wr_bool(&w, false);
	bc_wr_u16(&w, 0);
	CHECK(bc_wr_finish(&w, &rec, &rlen) == BC_OK);
	memcpy(key, TALK, 16);
	memcpy(key + 16, QID, 16);
	CHECK(bc_store_put(st, "mutual", key, 32, rec, rlen) == BC_OK);
	bc_free(ask);
	bc_free(rec);
}

static int get_rec(uint8_t **val, size_t *vlen)
{
	uint8_t key[32];
	memcpy(key, TALK, 16);
	memcpy(key + 16, QID, 16);
	return bc_store_get(st, "mutual", key, 32, val, vlen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bc_talk_info info;
	static bc_e2e_msg m;
	const uint8_t *self;
	uint8_t parties[3][32], role, plantsel;
	size_t np = 0, off = 1;
	if (size < 1)
		return 0;
	init_once();
	wipe_kind("mutual");
	wipe_kind("talklog");
	self = bc_talks_self(tk);
	role = (uint8_t)(data[0] & 3) % 3 + 1;
	role = role == 1 ? BC_ROLE_MEDIATOR
	       : role == 2 ? BC_ROLE_PARTY
			   : BC_ROLE_OBSERVER;
	plantsel = (data[0] >> 2) & 3;

	memset(&info, 0, sizeof(info));
	memcpy(info.id, TALK, 16);
	info.joined = true;
	info.my_role = role;
	info.state = BC_TALK_OPEN;
	memcpy(info.members[0].id, self, 32);
	info.members[0].role = role;
	for (int i = 0; i < 4; i++) {
		memcpy(info.members[1 + i].id, fake[i], 32);
		info.members[1 + i].role = i == 0   ? BC_ROLE_MEDIATOR
					   : i == 3 ? BC_ROLE_OBSERVER
						    : BC_ROLE_PARTY;
	}
	info.nmembers = 5;
	if (role == BC_ROLE_PARTY)
		memcpy(parties[np++], self, 32);
	memcpy(parties[np++], fake[1], 32);
	memcpy(parties[np++], fake[2], 32);
	if (plantsel != 0 && role == BC_ROLE_MEDIATOR)
		plant(true, self, 0, (const uint8_t(*)[32])parties, np);
	else if (plantsel != 0 && role == BC_ROLE_PARTY)
		plant(false, fake[0], plantsel - 1,
		      (const uint8_t(*)[32])parties, np);

	while (size - off >= 4) {
		uint8_t sender = data[off] % 4, readers = data[off + 1];
		size_t blen = (size_t)data[off + 2] << 8 | data[off + 3];
		uint8_t *before = NULL, *after = NULL, *content;
		size_t bl = 0, al = 0;
		bc_talk_question q;
		bc_rd r;
		int rc;
		off += 4;
		if (blen > size - off)
			blen = size - off;
		memset(&m, 0, sizeof(m));
		randombytes_buf(m.meta.msg_id, 16);
		memcpy(m.meta.sender, fake[sender], 32);
		memcpy(m.meta.audience.ids[m.meta.audience.count++],
		       fake[sender], 32);
		if (readers & 1)
			memcpy(m.meta.audience.ids[m.meta.audience.count++],
			       self, 32);
		for (int i = 0; i < 4; i++)
			if ((readers >> (i + 1)) & 1 && i != sender)
				memcpy(m.meta.audience
					       .ids[m.meta.audience.count++],
				       fake[i], 32);
		/* a copy, so that ASan sees reads past the body */
		content = malloc(blen ? blen : 1);
		CHECK(content != NULL);
		if (blen)
			memcpy(content, data + off, blen);
		off += blen;
		(void)get_rec(&before, &bl);
		bc_rd_init(&r, content, blen);
		rc = bc_talk_on_mutual(tk, &info, &m, &r, NULL, NULL);
		(void)get_rec(&after, &al);
		if (rc == BC_ERR_MALFORMED || rc == BC_ERR_FORBIDDEN ||
		    rc == BC_ERR_AUTH)
			CHECK(bl == al &&
			      (bl == 0 || memcmp(before, after, bl) == 0));
		if (bc_talk_mutual_get(tk, TALK, QID, &q) == BC_OK) {
			if (!q.mine && q.decided &&
			    q.outcome == BC_MUTUAL_MATCH)
				CHECK(q.my_answer == BC_TQ_YES);
			CHECK(q.nanswered <= q.nparties);
			for (size_t i = 0; i < q.nanswered; i++) {
				bool asked = false;
				for (size_t j = 0; j < q.nparties; j++)
					asked = asked ||
						memcmp(q.answered[i],
						       q.parties[j], 32) == 0;
				CHECK(asked);
			}
		}
		bc_free_secret(before, bl);
		bc_free_secret(after, al);
		free(content);
	}
	return 0;
}
