/*
 * invite.c - invites (see invite.h and docs/PROTOCOL.md §17).
 *
 * One validation routine (invite_check) decides what a well-formed invite
 * is; bc_invite_new and bc_invite_encode apply it to caller values, and
 * bc_invite_decode applies the same rules to wire bytes, so that whatever
 * decodes also encodes, to the same bytes. The relay address is the one
 * field whose text has several spellings (case of the key, separators,
 * leading zeros of the port, brackets): the encoder writes the spelling of
 * bc_relay_addr_format and the decoder accepts only that spelling.
 *
 * Secrets (capability, one-time secret) pass through the caller's struct,
 * the caller's buffers and local buffers only; each local buffer that may
 * hold them is wiped on the single exit path of its function.
 */
#include <string.h>

#include <sodium.h>

#include "codec.h"
#include "encoding.h"
#include "internal.h"
#include "invite.h"

/* ---- validation ------------------------------------------------------------ */

/* BC_OK iff s is NUL-terminated within cap bytes and valid UTF-8; *len is
 * its length. */
static int check_text(const char *s, size_t cap, size_t *len)
{
	const char *nul = memchr(s, '\0', cap);

	if (nul == NULL)
		return BC_ERR_INVALID;
	*len = (size_t)(nul - s);
	if (!bc_utf8_valid((const uint8_t *)s, *len))
		return BC_ERR_INVALID;
	return BC_OK;
}

/* BC_OK iff the side label of length side_len suits role. */
static bool side_fits_role(uint8_t role, size_t side_len)
{
	switch (role) {
	case BC_INVITE_PARTY:
		return side_len >= 1 && side_len <= BC_INVITE_SIDE_MAX;
	case BC_INVITE_MEDIATOR:
	case BC_INVITE_OBSERVER:
		return side_len == 0;
	default:
		return false;
	}
}

/* The canonical relay string of a: formatted, at most BC_INVITE_RELAY_MAX
 * bytes, and parsing back to a itself (else BC_ERR_INVALID, or
 * BC_ERR_TOOBIG for the length). On success *out is a new string
 * (bc_free); on error NULL. */
static int relay_text(const bc_relay_addr *a, char **out)
{
	bc_relay_addr back;
	size_t n;
	int err;

	*out = NULL;
	if (memchr(a->host, '\0', sizeof(a->host)) == NULL || a->host[0] == '\0' ||
	    a->port == 0)
		return BC_ERR_INVALID;
	if ((err = bc_relay_addr_format(a, out)) != BC_OK)
		return err;
	n = strlen(*out);
	if (n > BC_INVITE_RELAY_MAX) {
		err = BC_ERR_TOOBIG;
		goto out;
	}
	err = bc_relay_addr_parse(*out, &back);
	if (err == BC_ERR_NOMEM)
		goto out;
	if (err != BC_OK || strcmp(back.host, a->host) != 0 || back.port != a->port ||
	    sodium_memcmp(back.key, a->key, sizeof(back.key)) != 0)
		err = BC_ERR_INVALID;
out:
	if (err != BC_OK) {
		bc_free(*out);
		*out = NULL;
	}
	return err;
}

/* Every check of bc_invite_encode. On success *relay is the canonical relay
 * string (bc_free), *title_len and *side_len the string lengths. */
static int invite_check(const bc_invite *inv, char **relay, size_t *title_len,
			size_t *side_len)
{
	uint8_t idbuf[BC_IDENTITY_PUBLIC_LEN];
	bc_identity_pub idback;
	int err;

	*relay = NULL;
	size_t rules_len;
	if ((err = check_text(inv->title, sizeof(inv->title), title_len)) != BC_OK ||
	    (err = check_text(inv->rules, sizeof(inv->rules), &rules_len)) != BC_OK ||
	    (err = check_text(inv->side, sizeof(inv->side), side_len)) != BC_OK)
		return err;
	if (!side_fits_role(inv->role, *side_len))
		return BC_ERR_INVALID;
	if ((err = bc_identity_encode_public(&inv->inviter, idbuf)) != BC_OK)
		return err;
	if (bc_identity_decode_public(&idback, idbuf, sizeof(idbuf)) != BC_OK)
		return BC_ERR_INVALID;
	return relay_text(&inv->relay, relay);
}

/* ---- creating and wiping ----------------------------------------------------- */

int bc_invite_new(bc_invite *inv, const bc_relay_addr *relay,
		  const bc_identity_pub *inviter,
		  const uint8_t mailbox[static BC_INVITE_MAILBOX_LEN],
		  const uint8_t capability[static BC_INVITE_CAP_LEN],
		  const uint8_t channel[static BC_INVITE_CHANNEL_LEN],
		  const char *title, bc_invite_role role, const char *side,
		  uint64_t expires)
{
	char *relay_s = NULL;
	size_t tlen, slen;
	int err;

	if (inv == NULL)
		return BC_ERR_INVALID;
	sodium_memzero(inv, sizeof(*inv));
	if (relay == NULL || inviter == NULL || mailbox == NULL || capability == NULL ||
	    channel == NULL || title == NULL)
		return BC_ERR_INVALID;
	if (side == NULL)
		side = "";
	if (strlen(title) > BC_INVITE_TITLE_MAX || strlen(side) > BC_INVITE_SIDE_MAX)
		return BC_ERR_TOOBIG;
	if (role != BC_INVITE_PARTY && role != BC_INVITE_MEDIATOR && role != BC_INVITE_OBSERVER)
		return BC_ERR_INVALID;

	inv->relay = *relay;
	inv->inviter = *inviter;
	memcpy(inv->mailbox, mailbox, BC_INVITE_MAILBOX_LEN);
	memcpy(inv->capability, capability, BC_INVITE_CAP_LEN);
	memcpy(inv->channel, channel, BC_INVITE_CHANNEL_LEN);
	memcpy(inv->title, title, strlen(title) + 1);
	inv->role = (uint8_t)role;
	memcpy(inv->side, side, strlen(side) + 1);
	randombytes_buf(inv->secret, sizeof(inv->secret));
	inv->expires = expires;

	err = invite_check(inv, &relay_s, &tlen, &slen);
	bc_free(relay_s);
	if (err != BC_OK)
		sodium_memzero(inv, sizeof(*inv));
	return err;
}

int bc_invite_set_rules(bc_invite *inv, const char *rules)
{
	size_t n;
	if (inv == NULL || rules == NULL)
		return BC_ERR_INVALID;
	n = strlen(rules);
	if (n > BC_INVITE_RULES_MAX)
		return BC_ERR_TOOBIG;
	if (!bc_utf8_valid((const uint8_t *)rules, n))
		return BC_ERR_INVALID;
	memcpy(inv->rules, rules, n + 1);
	return BC_OK;
}

void bc_invite_wipe(bc_invite *inv)
{
	if (inv != NULL)
		sodium_memzero(inv, sizeof(*inv));
}

/* ---- binary form ------------------------------------------------------------- */

int bc_invite_encode(const bc_invite *inv, uint8_t *out, size_t outcap, size_t *outlen)
{
	char *relay = NULL;
	size_t tlen = 0, slen = 0, n = 0;
	uint8_t *p = NULL;
	bc_wr w;
	int err;

	if (outlen != NULL)
		*outlen = 0;
	if (inv == NULL || out == NULL || outlen == NULL)
		return BC_ERR_INVALID;
	if ((err = invite_check(inv, &relay, &tlen, &slen)) != BC_OK)
		goto out;

	bc_wr_init_fixed(&w, out, outcap);
	bc_wr_u8(&w, BC_INVITE_VERSION);
	bc_wr_str(&w, relay);
	bc_identity_write_public(&w, &inv->inviter);
	bc_wr_raw(&w, inv->mailbox, sizeof(inv->mailbox));
	bc_wr_raw(&w, inv->capability, sizeof(inv->capability));
	bc_wr_raw(&w, inv->channel, sizeof(inv->channel));
	bc_wr_str(&w, inv->title);
	bc_wr_str(&w, inv->rules);
	bc_wr_u8(&w, inv->role);
	bc_wr_str(&w, inv->side);
	bc_wr_raw(&w, inv->secret, sizeof(inv->secret));
	bc_wr_u64(&w, inv->expires);
	if ((err = bc_wr_finish(&w, &p, &n)) != BC_OK)
		goto out;
	*outlen = n;
out:
	bc_free(relay);
	if (err != BC_OK && out != NULL)
		sodium_memzero(out, outcap);
	return err;
}

/* Read a string of at most max bytes into buf (max + 1 bytes), checking
 * UTF-8 and the absence of NUL; *len is its length. */
static int read_text(bc_rd *r, size_t max, char *buf, size_t *len)
{
	const uint8_t *p = NULL;
	size_t n = 0;
	int err;

	if ((err = bc_rd_bytes(r, max, &p, &n)) != BC_OK)
		return err;
	if (!bc_utf8_valid(p, n))
		return bc_rd_fail(r, BC_ERR_MALFORMED);
	memcpy(buf, p, n);
	buf[n] = '\0';
	*len = n;
	return BC_OK;
}

/* Parse the relay string s (len bytes) into *a, requiring the canonical
 * spelling. */
static int read_relay(bc_rd *r, const char *s, size_t len, bc_relay_addr *a)
{
	char *canon = NULL;
	int err;

	if (len == 0)
		return bc_rd_fail(r, BC_ERR_MALFORMED);
	err = bc_relay_addr_parse(s, a);
	if (err == BC_OK)
		err = bc_relay_addr_format(a, &canon);
	if (err == BC_OK && (strlen(canon) != len || memcmp(canon, s, len) != 0))
		err = BC_ERR_MALFORMED;
	if (err != BC_OK && err != BC_ERR_NOMEM)
		err = BC_ERR_MALFORMED;   /* a bad relay key checksum included */
	bc_free(canon);
	if (err != BC_OK)
		return bc_rd_fail(r, err);
	return BC_OK;
}

int bc_invite_decode(bc_invite *out, const uint8_t *in, size_t len)
{
	char relay[BC_INVITE_RELAY_MAX + 1];
	size_t relay_len = 0, title_len = 0, rules_len = 0, side_len = 0;
	uint8_t version = 0;
	bc_rd r;
	int err;

	if (out == NULL)
		return BC_ERR_INVALID;
	sodium_memzero(out, sizeof(*out));
	if (in == NULL && len != 0)
		return BC_ERR_INVALID;

	bc_rd_init(&r, in, len);
	if ((err = bc_rd_u8(&r, &version)) != BC_OK)
		goto out;
	if (version != BC_INVITE_VERSION) {
		err = bc_rd_fail(&r, BC_ERR_VERSION);
		goto out;
	}
	if ((err = read_text(&r, BC_INVITE_RELAY_MAX, relay, &relay_len)) != BC_OK ||
	    (err = read_relay(&r, relay, relay_len, &out->relay)) != BC_OK ||
	    (err = bc_identity_read_public(&r, &out->inviter)) != BC_OK ||
	    (err = bc_rd_raw(&r, out->mailbox, sizeof(out->mailbox))) != BC_OK ||
	    (err = bc_rd_raw(&r, out->capability, sizeof(out->capability))) != BC_OK ||
	    (err = bc_rd_raw(&r, out->channel, sizeof(out->channel))) != BC_OK ||
	    (err = read_text(&r, BC_INVITE_TITLE_MAX, out->title, &title_len)) != BC_OK ||
	    (err = read_text(&r, BC_INVITE_RULES_MAX, out->rules, &rules_len)) != BC_OK ||
	    (err = bc_rd_u8(&r, &out->role)) != BC_OK)
		goto out;
	if (out->role < BC_INVITE_PARTY || out->role > BC_INVITE_OBSERVER) {
		err = bc_rd_fail(&r, BC_ERR_MALFORMED);
		goto out;
	}
	if ((err = read_text(&r, BC_INVITE_SIDE_MAX, out->side, &side_len)) != BC_OK)
		goto out;
	if (!side_fits_role(out->role, side_len)) {
		err = bc_rd_fail(&r, BC_ERR_MALFORMED);
		goto out;
	}
	if ((err = bc_rd_raw(&r, out->secret, sizeof(out->secret))) != BC_OK ||
	    (err = bc_rd_u64(&r, &out->expires)) != BC_OK)
		goto out;
	err = bc_rd_end(&r);
out:
	if (err != BC_OK)
		sodium_memzero(out, sizeof(*out));
	return err;
}

/* ---- text form --------------------------------------------------------------- */

int bc_invite_export(const bc_invite *inv, char **out)
{
	uint8_t buf[BC_INVITE_MAX_LEN];
	size_t n = 0;
	int err;

	if (out == NULL)
		return BC_ERR_INVALID;
	*out = NULL;
	if ((err = bc_invite_encode(inv, buf, sizeof(buf), &n)) != BC_OK)
		goto out;
	err = bc_b32c_encode(BC_INVITE_B32C_PREFIX, buf, n, out);
out:
	sodium_memzero(buf, sizeof(buf));
	return err;
}

int bc_invite_import(bc_invite *out, const char *s)
{
	uint8_t *data = NULL;
	size_t len = 0;
	int err;

	if (out == NULL)
		return BC_ERR_INVALID;
	sodium_memzero(out, sizeof(*out));
	if (s == NULL)
		return BC_ERR_INVALID;
	err = bc_b32c_decode(BC_INVITE_B32C_PREFIX, s, BC_INVITE_MAX_LEN, &data, &len);
	if (err == BC_OK)
		err = bc_invite_decode(out, data, len);
	bc_free_secret(data, len);
	return err;
}

void bc_invite_text_free(char *s)
{
	if (s != NULL)
		bc_free_secret(s, strlen(s));
}

/* ---- expiry and the secret tag ----------------------------------------------- */

bool bc_invite_expired(const bc_invite *inv, uint64_t now)
{
	if (inv == NULL)
		return true;   /* fail closed */
	return inv->expires != 0 && now >= inv->expires;
}

int bc_invite_secret_tag(const bc_invite *inv, uint8_t out[static BC_INVITE_TAG_LEN])
{
	crypto_generichash_state st;
	int err = BC_OK;

	if (inv == NULL || out == NULL)
		return BC_ERR_INVALID;
	if (crypto_generichash_init(&st, NULL, 0, BC_INVITE_TAG_LEN) != 0 ||
	    crypto_generichash_update(&st, (const uint8_t *)BC_INVITE_SECRET_LABEL,
				      sizeof(BC_INVITE_SECRET_LABEL) - 1) != 0 ||
	    crypto_generichash_update(&st, inv->channel, sizeof(inv->channel)) != 0 ||
	    crypto_generichash_update(&st, inv->secret, sizeof(inv->secret)) != 0 ||
	    crypto_generichash_final(&st, out, BC_INVITE_TAG_LEN) != 0) {
		sodium_memzero(out, BC_INVITE_TAG_LEN);
		err = BC_ERR_CRYPTO;
	}
	sodium_memzero(&st, sizeof(st));
	return err;
}
