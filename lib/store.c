/*
 * store.c - the client store: one encrypted SQLite file per profile
 * (see store.h; the format is specified in docs/ARCHITECTURE.md ("Client store")).
 *
 * Key hierarchy. A random data key DK encrypts everything. Two subkeys
 * are derived from it with HKDF-SHA-256 (salt = store id): the index key,
 * which turns (kind, lookup key) into a keyed BLAKE2b-256 tag, and the
 * record key, which seals each value with XChaCha20-Poly1305 under a
 * random nonce, bound (associated data) to the store id, the kind and the
 * tag. DK is stored wrapped under KEK = Argon2id(passphrase, salt), or in
 * the clear in the unprotected mode.
 *
 * Invariants:
 *  - Nothing but ciphertext, tags, kinds and the header reaches SQLite: a
 *    lookup key or a value is never bound to a statement in the clear.
 *  - DK and its subkeys live only in st->keys (sodium_malloc: guarded,
 *    locked, wiped on free), which is PROT_NONE except while a function
 *    is using it (keys_on .. keys_off within one call). Every stack copy of
 *    key material (KEK, DK while opening, headers of unprotected stores)
 *    is wiped before its function returns, on every path.
 *  - A decrypted plaintext lives in one bc_malloc'd buffer that is wiped
 *    before it is freed; values handed out are copies the caller wipes.
 *  - Opening never writes to an existing store before its passphrase has
 *    been checked, except for per-connection settings and SQLite's own
 *    -wal/-shm bookkeeping: a wrong passphrase leaves the file unchanged.
 *  - Each write outside bc_store_begin is one transaction; inside one, a
 *    multi-statement operation (append) runs in the savepoint "op". If
 *    SQLite abandons the caller's transaction on its own (SQLITE_FULL,
 *    SQLITE_IOERR, SQLITE_NOMEM), tx_broken is set and every later call
 *    of the transaction, and its commit, fail with BC_ERR_STORAGE: a
 *    statement never silently runs in autocommit mode in the middle of
 *    what the caller believes is one transaction.
 *  - Every prepared statement is reset, and its bindings cleared, before
 *    the function that stepped it returns (bc_store_list: before it
 *    returns, the callback runs in between), so no statement holds a
 *    read transaction or a pointer into the caller's memory between calls.
 *  - The KDF parameters read from a file are capped before use
 *    (bc_store_header_decode), and every length read from the file is
 *    checked against its cap before anything is allocated for it;
 *    SQLITE_LIMIT_LENGTH keeps SQLite itself from loading a larger row.
 *
 * Not thread-safe: one handle, one thread at a time (SQLITE_OPEN_NOMUTEX).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "codec.h"
#include "hmac.h"
#include "internal.h"
#include "store.h"

/* PRAGMA application_id: "BCst" (0x42437374), in decimal for the PRAGMA. */
#define APP_ID 1111716724
#define SCHEMA_VERSION 1
#define BUSY_TIMEOUT_MS 5000
#define REC_VERSION 1
/* SQLITE_LIMIT_LENGTH: the largest record value plus room for the rest of
 * its row. */
#define ROW_LIMIT ((int)BC_STORE_RECORD_MAX + 4096)

#define LABEL_DK "backchannel store v1 dk"
#define LABEL_RECORD "backchannel store v1 record"
#define LABEL_INDEX "backchannel store v1 index"
#define SEQ_KIND ".seq"
#define STR_(x) #x
#define STR(x) STR_(x)

/* Accepted Argon2id parameters when reading a header. */
#define OPS_MIN ((uint64_t)crypto_pwhash_OPSLIMIT_INTERACTIVE)
#define OPS_MAX ((uint64_t)crypto_pwhash_OPSLIMIT_SENSITIVE)
#define MEM_MIN ((uint64_t)crypto_pwhash_MEMLIMIT_INTERACTIVE)
#define MEM_MAX ((uint64_t)crypto_pwhash_MEMLIMIT_SENSITIVE)

/* st->keys layout. */
#define K_DK 0
#define K_INDEX 32
#define K_RECORD 64
#define KEYS_LEN 96

/* Associated data of a record value; of the wrapped DK. */
#define REC_AD_MAX                                                            \
	(sizeof(LABEL_RECORD) - 1 + BC_STORE_ID_LEN + BC_STORE_KIND_MAX + 1 + \
	 BC_STORE_TAG_LEN)
#define DK_AD_LEN (sizeof(LABEL_DK) - 1 + BC_STORE_ID_LEN)

/* ---- schema and statements ----------------------------------------------- */

static const char schema_sql[] =
	"CREATE TABLE header ("
	"  id       INTEGER PRIMARY KEY CHECK (id = 1),"
	"  format   INTEGER NOT NULL,"
	"  store_id BLOB NOT NULL,"
	"  mode     INTEGER NOT NULL,"
	"  salt     BLOB,"
	"  opslimit INTEGER NOT NULL,"
	"  memlimit INTEGER NOT NULL,"
	"  dk       BLOB NOT NULL"
	") STRICT;"
	"CREATE TABLE record ("
	"  rid  INTEGER PRIMARY KEY,"
	"  kind TEXT NOT NULL,"
	"  tag  BLOB NOT NULL,"
	"  val  BLOB NOT NULL,"
	"  UNIQUE (kind, tag)"
	") STRICT;"
	"CREATE INDEX record_by_kind ON record (kind);";

enum stmt_id {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_SAVEPOINT,
	S_RELEASE,
	S_ROLLBACK_TO,
	S_GET,
	S_PUT,
	S_DEL,
	S_LIST,
	S_COUNT_KIND,
	S_COUNT
};

static const char *const stmt_sql[S_COUNT] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_SAVEPOINT] = "SAVEPOINT op",
	[S_RELEASE] = "RELEASE op",
	[S_ROLLBACK_TO] = "ROLLBACK TO op",
	[S_GET] = "SELECT val FROM record WHERE kind = ?1 AND tag = ?2",
	[S_PUT] = ("INSERT INTO record (kind, tag, val) VALUES (?1, ?2, ?3)"
		   " ON CONFLICT (kind, tag) DO UPDATE SET val = excluded.val"),
	[S_DEL] = "DELETE FROM record WHERE kind = ?1 AND tag = ?2",
	[S_LIST] = "SELECT tag, val FROM record WHERE kind = ?1 ORDER BY rid",
	[S_COUNT_KIND] = "SELECT count(*) FROM record WHERE kind = ?1",
};

struct bc_store {
	sqlite3 *db;
	sqlite3_stmt *stmt[S_COUNT];
	uint8_t *keys; /* sodium_malloc(KEYS_LEN): DK | index key | record key */
	uint8_t store_id[BC_STORE_ID_LEN];
	bool unprotected;
	bool in_tx;	/* bc_store_begin succeeded; commit/rollback pending */
	bool tx_broken; /* SQLite rolled the caller's transaction back */
	bool in_list;	/* a list callback is running */
};

/* Bound in place of a NULL pointer for an empty blob (SQLite would store
 * a NULL pointer as SQL NULL), and passed to libsodium for empty input. */
static const uint8_t empty_blob[1];

/* ---- failure explanations ------------------------------------------------ */

static _Thread_local const char *last_why;

static void why(const char *s)
{
	last_why = s;
}

const char *bc_store_last_error(void)
{
	return last_why;
}

/* ---- SQLite helpers ------------------------------------------------------ */

/* SQLite result code -> bc_err (docs/ARCHITECTURE.md ("Client store"), "Errors"). */
static int map_rc(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE: return BC_OK;
	case SQLITE_NOMEM: return BC_ERR_NOMEM;
	case SQLITE_TOOBIG: return BC_ERR_TOOBIG;
	case SQLITE_BUSY:
	case SQLITE_LOCKED: return BC_ERR_TIMEOUT;
	case SQLITE_MISUSE:
	case SQLITE_RANGE: return BC_ERR_INTERNAL;
	default: /* IOERR, FULL, CORRUPT, NOTADB, CANTOPEN, ... */
		return BC_ERR_STORAGE;
	}
}

/* Forget the statement's last run (its result has been handled). */
static void done(sqlite3_stmt *s)
{
	(void)sqlite3_reset(s);
	(void)sqlite3_clear_bindings(s);
}

/* Bind n bytes at p without copying: the statement is reset before the
 * caller's buffer can go away. */
static int bind_blob(sqlite3_stmt *s, int i, const uint8_t *p, size_t n)
{
	if (n > INT_MAX)
		return BC_ERR_TOOBIG;
	return map_rc(sqlite3_bind_blob(s, i, n ? (const void *)p : empty_blob,
					(int)n, SQLITE_STATIC));
}

static int bind_text(sqlite3_stmt *s, int i, const char *t)
{
	return map_rc(sqlite3_bind_text(s, i, t, -1, SQLITE_STATIC));
}

static int bind_i64(sqlite3_stmt *s, int i, int64_t v)
{
	return map_rc(sqlite3_bind_int64(s, i, v));
}

/* Step s once: BC_OK with *row telling whether a row is available. */
static int step(sqlite3_stmt *s, bool *row)
{
	int rc = sqlite3_step(s);
	*row = rc == SQLITE_ROW;
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return BC_OK;
	return map_rc(rc);
}

/* Run a cached statement without parameters or rows, and reset it. */
static int ctl(bc_store *st, enum stmt_id id)
{
	bool row;
	int rc = step(st->stmt[id], &row);
	done(st->stmt[id]);
	return rc;
}

/* Run SQL text once (open, create and rekey only). */
static int exec_sql(sqlite3 *db, const char *sql)
{
	return map_rc(sqlite3_exec(db, sql, NULL, NULL, NULL));
}

/* The single integer result of a one-off query. */
static int query_int(sqlite3 *db, const char *sql, int64_t *v)
{
	sqlite3_stmt *s = NULL;
	bool row = false;
	int rc;

	rc = map_rc(sqlite3_prepare_v2(db, sql, -1, &s, NULL));
	if (rc == BC_OK)
		rc = step(s, &row);
	if (rc == BC_OK && !row)
		rc = BC_ERR_STORAGE;
	if (rc == BC_OK)
		*v = sqlite3_column_int64(s, 0);
	/* finalize repeats the step's error, which is already in rc */
	(void)sqlite3_finalize(s);
	return rc;
}

/* The single text result of a one-off query, compared with want. */
static int query_is(sqlite3 *db, const char *sql, const char *want)
{
	sqlite3_stmt *s = NULL;
	const unsigned char *t;
	bool row = false;
	int rc;

	rc = map_rc(sqlite3_prepare_v2(db, sql, -1, &s, NULL));
	if (rc == BC_OK)
		rc = step(s, &row);
	if (rc == BC_OK && !row)
		rc = BC_ERR_STORAGE;
	if (rc == BC_OK) {
		t = sqlite3_column_text(s, 0);
		if (t == NULL || strcmp((const char *)t, want) != 0)
			rc = BC_ERR_STORAGE;
	}
	(void)sqlite3_finalize(s);
	return rc;
}

/* ---- names ---------------------------------------------------------------- */

/* 1..BC_STORE_KIND_MAX characters in 0x21..0x7e; a leading '.' only for
 * the store's own kinds. *len receives the length. */
static bool kind_ok(const char *kind, bool internal, size_t *len)
{
	size_t n;

	if (kind == NULL)
		return false;
	n = strnlen(kind, BC_STORE_KIND_MAX + 1);
	if (n == 0 || n > BC_STORE_KIND_MAX || (kind[0] == '.' && !internal))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)kind[i] < 0x21 ||
		    (unsigned char)kind[i] > 0x7e)
			return false;
	*len = n;
	return true;
}

/* ---- record crypto ------------------------------------------------------- */

/* AD = LABEL_RECORD || store_id || kind || 0x00 || tag; returns its length.
 * kind has been checked (at most BC_STORE_KIND_MAX bytes). */
static size_t record_ad(uint8_t ad[REC_AD_MAX], const uint8_t *store_id,
			const char *kind, size_t kindlen, const uint8_t *tag)
{
	size_t n = 0;

	memcpy(ad + n, LABEL_RECORD, sizeof(LABEL_RECORD) - 1);
	n += sizeof(LABEL_RECORD) - 1;
	memcpy(ad + n, store_id, BC_STORE_ID_LEN);
	n += BC_STORE_ID_LEN;
	memcpy(ad + n, kind, kindlen);
	n += kindlen;
	ad[n++] = 0;
	memcpy(ad + n, tag, BC_STORE_TAG_LEN);
	return n + BC_STORE_TAG_LEN;
}

int bc_store_record_seal(const uint8_t rkey[static BC_STORE_KEY_LEN],
			 const uint8_t store_id[static BC_STORE_ID_LEN],
			 const char *kind,
			 const uint8_t tag[static BC_STORE_TAG_LEN],
			 const uint8_t *pt, size_t ptlen, uint8_t **ct,
			 size_t *ctlen)
{
	uint8_t ad[REC_AD_MAX];
	uint8_t *c = NULL;
	size_t adlen, kindlen, n;
	int rc;

	if (ct == NULL || ctlen == NULL)
		return BC_ERR_INVALID;
	*ct = NULL;
	*ctlen = 0;
	if (!kind_ok(kind, true, &kindlen) || (pt == NULL && ptlen > 0))
		return BC_ERR_INVALID;
	if (ptlen > BC_STORE_RECORD_MAX - BC_STORE_NONCE_LEN - BC_STORE_MAC_LEN)
		return BC_ERR_TOOBIG;
	n = BC_STORE_NONCE_LEN + ptlen + BC_STORE_MAC_LEN;
	c = bc_malloc(n);
	if (c == NULL)
		return BC_ERR_NOMEM;
	randombytes_buf(c, BC_STORE_NONCE_LEN);
	adlen = record_ad(ad, store_id, kind, kindlen, tag);
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(
		    c + BC_STORE_NONCE_LEN, NULL, ptlen ? pt : empty_blob,
		    ptlen, ad, adlen, NULL, c, rkey) != 0) {
		rc = BC_ERR_CRYPTO;
		goto out;
	}
	*ct = c;
	*ctlen = n;
	c = NULL;
	rc = BC_OK;
out:
	bc_free(c);
	return rc;
}

int bc_store_record_encode(const uint8_t rkey[static BC_STORE_KEY_LEN],
			   const uint8_t store_id[static BC_STORE_ID_LEN],
			   const char *kind,
			   const uint8_t tag[static BC_STORE_TAG_LEN],
			   const uint8_t *key, size_t klen, const uint8_t *val,
			   size_t vlen, uint8_t **ct, size_t *ctlen)
{
	uint8_t *pt = NULL, *enc = NULL;
	size_t ptlen = 0, enclen = 0;
	bc_wr w;
	int rc;

	if (ct == NULL || ctlen == NULL)
		return BC_ERR_INVALID;
	*ct = NULL;
	*ctlen = 0;
	if ((key == NULL && klen > 0) || (val == NULL && vlen > 0))
		return BC_ERR_INVALID;
	if (klen > BC_STORE_LOOKUP_MAX || vlen > BC_STORE_VALUE_MAX)
		return BC_ERR_TOOBIG;
	ptlen = 1 + 4 + klen + 4 + vlen;
	pt = bc_malloc(ptlen);
	if (pt == NULL)
		return BC_ERR_NOMEM;
	bc_wr_init_fixed(&w, pt, ptlen);
	(void)bc_wr_u8(&w, REC_VERSION);
	(void)bc_wr_bytes(&w, klen ? key : empty_blob, klen);
	(void)bc_wr_bytes(&w, vlen ? val : empty_blob, vlen);
	/* sticky error: checked once here */
	rc = bc_wr_finish(&w, &enc, &enclen);
	if (rc == BC_OK && (enc != pt || enclen != ptlen))
		rc = BC_ERR_INTERNAL;
	if (rc == BC_OK)
		rc = bc_store_record_seal(rkey, store_id, kind, tag, pt, ptlen,
					  ct, ctlen);
	bc_free_secret(pt, ptlen);
	return rc;
}

int bc_store_record_decode(const uint8_t rkey[static BC_STORE_KEY_LEN],
			   const uint8_t store_id[static BC_STORE_ID_LEN],
			   const char *kind,
			   const uint8_t tag[static BC_STORE_TAG_LEN],
			   const uint8_t *ct, size_t ctlen, uint8_t **key,
			   size_t *klen, uint8_t **val, size_t *vlen)
{
	uint8_t ad[REC_AD_MAX];
	uint8_t *pt = NULL, *k = NULL, *v = NULL;
	const uint8_t *kp, *vp;
	size_t adlen, kindlen, ptlen = 0, kl = 0, vl = 0;
	uint8_t ver;
	bc_rd r;
	int rc;

	if (val == NULL || vlen == NULL || (key != NULL && klen == NULL))
		return BC_ERR_INVALID;
	*val = NULL;
	*vlen = 0;
	if (key != NULL) {
		*key = NULL;
		*klen = 0;
	}
	if (!kind_ok(kind, true, &kindlen) || (ct == NULL && ctlen > 0))
		return BC_ERR_INVALID;
	if (ctlen > BC_STORE_RECORD_MAX)
		return BC_ERR_TOOBIG;
	if (ctlen < BC_STORE_NONCE_LEN + BC_STORE_MAC_LEN)
		return BC_ERR_MALFORMED;
	ptlen = ctlen - BC_STORE_NONCE_LEN - BC_STORE_MAC_LEN;
	pt = bc_malloc(ptlen);
	if (pt == NULL)
		return BC_ERR_NOMEM;
	adlen = record_ad(ad, store_id, kind, kindlen, tag);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		    pt, NULL, NULL, ct + BC_STORE_NONCE_LEN,
		    ctlen - BC_STORE_NONCE_LEN, ad, adlen, ct, rkey) != 0) {
		rc = BC_ERR_AUTH;
		goto out;
	}
	bc_rd_init(&r, pt, ptlen);
	if (bc_rd_u8(&r, &ver) == BC_OK && ver != REC_VERSION) {
		rc = BC_ERR_VERSION;
		goto out;
	}
	(void)bc_rd_bytes(&r, BC_STORE_LOOKUP_MAX, &kp, &kl);
	(void)bc_rd_bytes(&r, BC_STORE_VALUE_MAX, &vp, &vl);
	rc = bc_rd_end(&r); /* sticky error, or trailing bytes */
	if (rc != BC_OK) {
		rc = rc == BC_ERR_NOMEM ? rc : BC_ERR_MALFORMED;
		goto out;
	}
	v = bc_memdup(vp, vl);
	if (v == NULL) {
		rc = BC_ERR_NOMEM;
		goto out;
	}
	if (key != NULL) {
		k = bc_memdup(kp, kl);
		if (k == NULL) {
			rc = BC_ERR_NOMEM;
			goto out;
		}
		*key = k;
		*klen = kl;
		k = NULL;
	}
	*val = v;
	*vlen = vl;
	v = NULL;
	rc = BC_OK;
out:
	bc_free_secret(v, vl);
	bc_free_secret(pt, ptlen);
	return rc;
}

/* ---- header crypto -------------------------------------------------------- */

int bc_store_header_decode(const bc_store_header_cols *c, bc_store_header *h)
{
	int rc = BC_ERR_MALFORMED;

	if (c == NULL || h == NULL)
		return BC_ERR_INVALID;
	memset(h, 0, sizeof(*h));
	if (c->format != BC_STORE_FORMAT) {
		rc = c->format > BC_STORE_FORMAT ? BC_ERR_VERSION
						 : BC_ERR_MALFORMED;
		goto out;
	}
	if (c->store_id == NULL || c->store_id_len != BC_STORE_ID_LEN ||
	    c->dk == NULL)
		goto out;
	switch (c->mode) {
	case BC_STORE_MODE_PASSPHRASE:
		if (c->salt == NULL || c->salt_len != BC_STORE_SALT_LEN ||
		    c->dk_len != BC_STORE_WRAPPED_LEN)
			goto out;
		/* The caps: a hostile file must not make Argon2id allocate
		 * more than MEM_MAX or run more than OPS_MAX passes. */
		if (c->opslimit < 0 || (uint64_t)c->opslimit < OPS_MIN ||
		    (uint64_t)c->opslimit > OPS_MAX)
			goto out;
		if (c->memlimit < 0 || (uint64_t)c->memlimit < MEM_MIN ||
		    (uint64_t)c->memlimit > MEM_MAX)
			goto out;
		memcpy(h->salt, c->salt, BC_STORE_SALT_LEN);
		h->opslimit = (unsigned long long)c->opslimit;
		h->memlimit = (size_t)c->memlimit;
		memcpy(h->dk, c->dk, BC_STORE_WRAPPED_LEN);
		break;
	case BC_STORE_MODE_UNPROTECTED:
		if (c->salt != NULL || c->salt_len != 0 || c->opslimit != 0 ||
		    c->memlimit != 0 || c->dk_len != BC_STORE_KEY_LEN)
			goto out;
		memcpy(h->dk, c->dk, BC_STORE_KEY_LEN);
		break;
	default: goto out;
	}
	h->mode = (int)c->mode;
	memcpy(h->store_id, c->store_id, BC_STORE_ID_LEN);
	rc = BC_OK;
out:
	if (rc != BC_OK)
		sodium_memzero(h, sizeof(*h));
	return rc;
}

static void dk_ad(uint8_t ad[DK_AD_LEN], const uint8_t *store_id)
{
	memcpy(ad, LABEL_DK, sizeof(LABEL_DK) - 1);
	memcpy(ad + sizeof(LABEL_DK) - 1, store_id, BC_STORE_ID_LEN);
}

int bc_store_header_unwrap(const bc_store_header *h, const uint8_t *kek,
			   uint8_t dk[static BC_STORE_KEY_LEN])
{
	uint8_t ad[DK_AD_LEN];

	if (h == NULL)
		return BC_ERR_INVALID;
	if (h->mode == BC_STORE_MODE_UNPROTECTED) {
		memcpy(dk, h->dk, BC_STORE_KEY_LEN);
		return BC_OK;
	}
	sodium_memzero(dk, BC_STORE_KEY_LEN);
	if (h->mode != BC_STORE_MODE_PASSPHRASE)
		return BC_ERR_MALFORMED;
	if (kek == NULL)
		return BC_ERR_INVALID;
	dk_ad(ad, h->store_id);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		    dk, NULL, NULL, h->dk + BC_STORE_NONCE_LEN,
		    BC_STORE_KEY_LEN + BC_STORE_MAC_LEN, ad, sizeof(ad), h->dk,
		    kek) != 0) {
		sodium_memzero(dk, BC_STORE_KEY_LEN);
		return BC_ERR_AUTH;
	}
	return BC_OK;
}

/* out = nonce || XChaCha20-Poly1305(kek, nonce, dk, LABEL_DK || id). */
static int dk_wrap(const uint8_t *kek, const uint8_t *store_id,
		   const uint8_t *dk, uint8_t out[BC_STORE_WRAPPED_LEN])
{
	uint8_t ad[DK_AD_LEN];

	dk_ad(ad, store_id);
	randombytes_buf(out, BC_STORE_NONCE_LEN);
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(
		    out + BC_STORE_NONCE_LEN, NULL, dk, BC_STORE_KEY_LEN, ad,
		    sizeof(ad), NULL, out, kek) != 0) {
		sodium_memzero(out, BC_STORE_WRAPPED_LEN);
		return BC_ERR_CRYPTO;
	}
	return BC_OK;
}

/* KEK = Argon2id13(passphrase, salt, ops, mem), 32 bytes. */
static int derive_kek(const char *pass, size_t passlen, const uint8_t *salt,
		      unsigned long long ops, size_t mem,
		      uint8_t kek[BC_STORE_KEY_LEN])
{
	errno = 0;
	if (crypto_pwhash(kek, BC_STORE_KEY_LEN, pass, passlen, salt, ops, mem,
			  crypto_pwhash_ALG_ARGON2ID13) != 0) {
		sodium_memzero(kek, BC_STORE_KEY_LEN);
		return errno == ENOMEM ? BC_ERR_NOMEM : BC_ERR_CRYPTO;
	}
	return BC_OK;
}

/* Fill keys[K_INDEX..] and keys[K_RECORD..] from keys[K_DK..]. */
static int derive_subkeys(uint8_t *keys, const uint8_t *store_id)
{
	int rc;

	rc = bc_hkdf(BC_HASH_SHA256, store_id, BC_STORE_ID_LEN, keys + K_DK,
		     BC_STORE_KEY_LEN, (const uint8_t *)LABEL_INDEX,
		     sizeof(LABEL_INDEX) - 1, keys + K_INDEX, BC_STORE_KEY_LEN);
	if (rc == BC_OK)
		rc = bc_hkdf(BC_HASH_SHA256, store_id, BC_STORE_ID_LEN,
			     keys + K_DK, BC_STORE_KEY_LEN,
			     (const uint8_t *)LABEL_RECORD,
			     sizeof(LABEL_RECORD) - 1, keys + K_RECORD,
			     BC_STORE_KEY_LEN);
	return rc;
}

/* tag = BLAKE2b-256(key = index key, kind || 0x00 || lookup key). */
static int make_tag(const uint8_t *ikey, const char *kind, size_t kindlen,
		    const uint8_t *key, size_t klen,
		    uint8_t tag[BC_STORE_TAG_LEN])
{
	crypto_generichash_state s;
	static const uint8_t zero = 0;
	int rc = BC_ERR_CRYPTO;

	if (crypto_generichash_init(&s, ikey, BC_STORE_KEY_LEN,
				    BC_STORE_TAG_LEN) != 0 ||
	    crypto_generichash_update(&s, (const uint8_t *)kind, kindlen) !=
		    0 ||
	    crypto_generichash_update(&s, &zero, 1) != 0 ||
	    (klen > 0 && crypto_generichash_update(&s, key, klen) != 0) ||
	    crypto_generichash_final(&s, tag, BC_STORE_TAG_LEN) != 0)
		goto out;
	rc = BC_OK;
out:
	sodium_memzero(&s, sizeof(s));
	return rc;
}

/* ---- the key region -------------------------------------------------------- */

static int keys_on(bc_store *st)
{
	return sodium_mprotect_readonly(st->keys) == 0 ? BC_OK
						       : BC_ERR_INTERNAL;
}

/* Back to PROT_NONE. Cannot fail on a region sodium_malloc returned; if it
 * did, the keys would merely stay readable. */
static void keys_off(bc_store *st)
{
	(void)sodium_mprotect_noaccess(st->keys);
}

/* ---- files ----------------------------------------------------------------- */

/* A store file (or one of SQLite's files beside it) must be a regular
 * file of the effective user with no group/other permission bit. */
static int check_stat(const struct stat *sb)
{
	if (S_ISLNK(sb->st_mode)) {
		why("the store path is a symbolic link; a store must be a"
		    " regular file: point the profile at the real file");
		return BC_ERR_FORBIDDEN;
	}
	if (!S_ISREG(sb->st_mode)) {
		why("the store path is not a regular file");
		return BC_ERR_FORBIDDEN;
	}
	if (sb->st_uid != geteuid()) {
		why("the store file belongs to another user; a store must be"
		    " owned by the user who opens it");
		return BC_ERR_FORBIDDEN;
	}
	if ((sb->st_mode & 077) != 0) {
		why("the store file (or its -wal/-shm/-journal file) is"
		    " accessible by group or others: run chmod 600 on it");
		return BC_ERR_FORBIDDEN;
	}
	return BC_OK;
}

/* Check "<path>-wal", "-shm" and "-journal" if they exist. */
static int check_side_files(const char *path)
{
	static const char *const sfx[] = {"-wal", "-shm", "-journal"};
	char side[PATH_MAX];
	struct stat sb;
	int rc, n;

	for (size_t i = 0; i < BC_ARRAY_LEN(sfx); i++) {
		n = snprintf(side, sizeof(side), "%s%s", path, sfx[i]);
		if (n < 0 || (size_t)n >= sizeof(side))
			return BC_ERR_INVALID;
		if (lstat(side, &sb) != 0) {
			if (errno == ENOENT)
				continue;
			why("cannot inspect the store's -wal/-shm files");
			return BC_ERR_IO;
		}
		rc = check_stat(&sb);
		if (rc != BC_OK)
			return rc;
	}
	return BC_OK;
}

/*
 * Resolve path to <realpath(dirname)>/<basename> in *real (bc_malloc), so
 * that only the last component must not be a symlink
 * (SQLITE_OPEN_NOFOLLOW refuses one anywhere). The directory must not be
 * writable by group/other unless it is sticky; its fd is returned in *dfd
 * for fsync after a creation.
 */
static int resolve_path(const char *path, char **real, int *dfd)
{
	char dir[PATH_MAX], rdir[PATH_MAX];
	const char *base, *slash;
	struct stat sb;
	size_t dlen, blen;
	char *p;

	slash = strrchr(path, '/');
	base = slash ? slash + 1 : path;
	blen = strlen(base);
	if (blen == 0 || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
		why("the store path must name a file");
		return BC_ERR_INVALID;
	}
	if (slash == NULL) {
		memcpy(dir, ".", 2);
	} else if (slash == path) {
		memcpy(dir, "/", 2);
	} else {
		dlen = (size_t)(slash - path);
		if (dlen >= sizeof(dir))
			return BC_ERR_INVALID;
		memcpy(dir, path, dlen);
		dir[dlen] = '\0';
	}
	if (realpath(dir, rdir) == NULL) {
		why("the directory of the store does not exist");
		return errno == ENOENT ? BC_ERR_NOTFOUND : BC_ERR_IO;
	}
	*dfd = open(rdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*dfd < 0 || fstat(*dfd, &sb) != 0) {
		why("cannot open the directory of the store");
		return BC_ERR_IO;
	}
	if ((sb.st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
	    (sb.st_mode & S_ISVTX) == 0) {
		why("the directory of the store is writable by group or"
		    " others: run chmod 700 on it");
		return BC_ERR_FORBIDDEN;
	}
	dlen = strlen(rdir);
	if (dlen + 1 + blen + sizeof("-journal") > PATH_MAX)
		return BC_ERR_INVALID;
	p = bc_malloc(dlen + 1 + blen + 1);
	if (p == NULL)
		return BC_ERR_NOMEM;
	memcpy(p, rdir, dlen);
	p[dlen] = '/';
	memcpy(p + dlen + 1, base, blen + 1);
	*real = p;
	return BC_OK;
}

/*
 * Make sure path is a store file we may use: create it (O_EXCL,
 * O_NOFOLLOW, 0600, fsync'd with its directory) if absent and create is
 * set, else lstat it and open it with O_NOFOLLOW, and check both views.
 * *created tells whether this call made it; *dev and *ino identify it. The
 * descriptor is closed before SQLite opens the file: closing any
 * descriptor of a file drops the process's POSIX locks on it, SQLite's
 * included.
 */
static int prepare_file(const char *path, int dfd, bool create, bool *created,
			dev_t *dev, ino_t *ino)
{
	struct stat lsb, fsb;
	int fd = -1, rc = BC_ERR_IO;

	*created = false;
	if (lstat(path, &lsb) != 0) {
		if (errno != ENOENT) {
			why("cannot inspect the store file");
			return BC_ERR_IO;
		}
		if (!create) {
			why("no store at this path: create it first");
			return BC_ERR_NOTFOUND;
		}
		fd = open(path,
			  O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			  0600);
		if (fd < 0) {
			why(errno == EEXIST ? "the store file appeared while"
					      " it was being created: retry"
					    : "cannot create the store file");
			return errno == EEXIST ? BC_ERR_CONFLICT : BC_ERR_IO;
		}
		*created = true;
		/* 0600 exactly, whatever the caller's umask removed. */
		if (fchmod(fd, 0600) != 0 || fsync(fd) != 0 ||
		    fsync(dfd) != 0) {
			why("cannot sync the new store file");
			goto out;
		}
	} else {
		rc = check_stat(&lsb);
		if (rc != BC_OK)
			return rc;
		rc = BC_ERR_IO;
		fd = open(path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ELOOP) {
				rc = BC_ERR_FORBIDDEN;
				why("the store path is a symbolic link");
			} else {
				why("cannot open the store file");
			}
			return rc;
		}
	}
	if (fstat(fd, &fsb) != 0) {
		why("cannot inspect the store file");
		goto out;
	}
	rc = check_stat(&fsb);
	if (rc != BC_OK)
		goto out;
	if (!*created &&
	    (fsb.st_dev != lsb.st_dev || fsb.st_ino != lsb.st_ino)) {
		why("the store file changed while it was being opened");
		rc = BC_ERR_FORBIDDEN;
		goto out;
	}
	*dev = fsb.st_dev;
	*ino = fsb.st_ino;
	rc = BC_OK;
out:
	if (close(fd) != 0 && rc == BC_OK)
		rc = BC_ERR_IO;
	return rc;
}

/* ---- opening ----------------------------------------------------------------- */

/* Connection settings that change nothing in the file. */
static int configure(sqlite3 *db)
{
	int rc, on;

	rc = map_rc(sqlite3_extended_result_codes(db, 1));
	if (rc == BC_OK)
		rc = map_rc(sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS));
	if (rc == BC_OK)
		rc = map_rc(sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1,
					      &on));
	if (rc == BC_OK)
		rc = map_rc(sqlite3_db_config(
			db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, &on));
	/* sqlite3_limit cannot fail; it returns the previous limit. */
	(void)sqlite3_limit(db, SQLITE_LIMIT_LENGTH, ROW_LIMIT);
	if (rc == BC_OK)
		rc = exec_sql(db, "PRAGMA foreign_keys = ON;"
				  "PRAGMA secure_delete = ON;"
				  "PRAGMA temp_store = MEMORY;"
				  "PRAGMA mmap_size = 0;"
				  "PRAGMA cell_size_check = ON;");
	return rc;
}

enum db_kind {
	DB_EMPTY,
	DB_STORE
};

/* Is this an empty file or a store of our format? Read-only: run before
 * anything is written, and again inside the creating transaction. */
static int identify(sqlite3 *db, enum db_kind *kind)
{
	int64_t app, ver, objs, odd;
	int rc;

	rc = query_int(db, "PRAGMA application_id", &app);
	if (rc == BC_OK)
		rc = query_int(db, "PRAGMA user_version", &ver);
	if (rc == BC_OK)
		rc = query_int(db, "SELECT count(*) FROM sqlite_schema", &objs);
	if (rc != BC_OK) {
		if (rc == BC_ERR_NOMEM || rc == BC_ERR_TIMEOUT)
			return rc;
		why("the file is not a Backchannel store (not an SQLite"
		    " database, or damaged)");
		return BC_ERR_STORAGE;
	}
	if (app == 0 && ver == 0 && objs == 0) {
		*kind = DB_EMPTY;
		return BC_OK;
	}
	if (app != APP_ID) {
		why("the file is not a Backchannel store (another SQLite"
		    " database)");
		return BC_ERR_STORAGE;
	}
	if (ver > SCHEMA_VERSION) {
		why("the store was written by a newer version of Backchannel");
		return BC_ERR_VERSION;
	}
	if (ver != SCHEMA_VERSION) {
		why("the store is damaged (bad schema version)");
		return BC_ERR_STORAGE;
	}
	/* Our schema has neither; a hostile file's could run code on our
	 * writes (TRUSTED_SCHEMA is off as well). */
	rc = query_int(db,
		       "SELECT count(*) FROM sqlite_schema"
		       " WHERE type IN ('trigger', 'view')",
		       &odd);
	if (rc != BC_OK)
		return rc;
	if (odd != 0) {
		why("the store is damaged (unexpected triggers or views)");
		return BC_ERR_STORAGE;
	}
	*kind = DB_STORE;
	return BC_OK;
}

/* WAL (persistent in the file) and synchronous=FULL, read back. */
static int make_durable(sqlite3 *db)
{
	int64_t v;
	int rc;

	rc = query_is(db, "PRAGMA journal_mode = WAL", "wal");
	if (rc == BC_OK)
		rc = exec_sql(db, "PRAGMA synchronous = FULL");
	if (rc == BC_OK)
		rc = query_int(db, "PRAGMA synchronous", &v);
	if (rc == BC_OK && v != 2)
		rc = BC_ERR_STORAGE;
	if (rc == BC_OK)
		rc = query_int(db, "PRAGMA secure_delete", &v);
	if (rc == BC_OK && v != 1)
		rc = BC_ERR_STORAGE;
	if (rc == BC_OK)
		rc = query_int(db, "PRAGMA foreign_keys", &v);
	if (rc == BC_OK && v != 1)
		rc = BC_ERR_STORAGE;
	return rc;
}

/* A blob column as (pointer, length); NULL is (NULL, 0). Any other type
 * is malformed. */
static int col_blob(sqlite3_stmt *s, int i, const uint8_t **p, size_t *n)
{
	int t = sqlite3_column_type(s, i), len;

	*p = NULL;
	*n = 0;
	if (t == SQLITE_NULL)
		return BC_OK;
	if (t != SQLITE_BLOB)
		return BC_ERR_MALFORMED;
	*p = sqlite3_column_blob(s, i);
	len = sqlite3_column_bytes(s, i);
	if (len < 0 || (*p == NULL && len > 0))
		return BC_ERR_NOMEM;
	*n = (size_t)len;
	return BC_OK;
}

static int col_int(sqlite3_stmt *s, int i, int64_t *v)
{
	if (sqlite3_column_type(s, i) != SQLITE_INTEGER)
		return BC_ERR_MALFORMED;
	*v = sqlite3_column_int64(s, i);
	return BC_OK;
}

/* Read and validate the header row into *h (wipe it after use). */
static int read_header(sqlite3 *db, bc_store_header *h)
{
	sqlite3_stmt *s = NULL;
	bc_store_header_cols c;
	bool row = false;
	int rc;

	memset(&c, 0, sizeof(c));
	rc = map_rc(sqlite3_prepare_v2(
		db,
		"SELECT format, store_id, mode, salt, opslimit, memlimit, dk"
		" FROM header WHERE id = 1",
		-1, &s, NULL));
	if (rc != BC_OK) {
		if (rc != BC_ERR_NOMEM && rc != BC_ERR_TIMEOUT) {
			why("the store is damaged (no header table)");
			rc = BC_ERR_MALFORMED;
		}
		goto out;
	}
	rc = step(s, &row);
	if (rc == BC_OK && !row)
		rc = BC_ERR_MALFORMED;
	if (rc == BC_OK)
		rc = col_int(s, 0, &c.format);
	if (rc == BC_OK)
		rc = col_blob(s, 1, &c.store_id, &c.store_id_len);
	if (rc == BC_OK)
		rc = col_int(s, 2, &c.mode);
	if (rc == BC_OK)
		rc = col_blob(s, 3, &c.salt, &c.salt_len);
	if (rc == BC_OK)
		rc = col_int(s, 4, &c.opslimit);
	if (rc == BC_OK)
		rc = col_int(s, 5, &c.memlimit);
	if (rc == BC_OK)
		rc = col_blob(s, 6, &c.dk, &c.dk_len);
	if (rc == BC_OK)
		rc = bc_store_header_decode(&c, h);
	if (rc == BC_ERR_MALFORMED)
		why("the store header is malformed (or its key-derivation"
		    " parameters are out of the accepted range)");
	else if (rc == BC_ERR_VERSION)
		why("the store was written by a newer version of Backchannel");
out:
	/* the row may hold an unprotected DK: SQLite's copy goes with s */
	(void)sqlite3_finalize(s);
	sodium_memzero(&c, sizeof(c));
	return rc;
}

/* Create the schema and the header in one transaction. BC_ERR_CONFLICT if
 * another process created the store meanwhile (nothing written). */
static int create_schema(sqlite3 *db, const bc_store_header *h)
{
	sqlite3_stmt *s = NULL;
	enum db_kind kind;
	bool row;
	int rc;

	rc = exec_sql(db, "BEGIN IMMEDIATE");
	if (rc != BC_OK)
		return rc;
	rc = identify(db, &kind);
	if (rc == BC_OK && kind != DB_EMPTY)
		rc = BC_ERR_CONFLICT;
	if (rc == BC_OK)
		rc = exec_sql(db, schema_sql);
	if (rc == BC_OK)
		rc = map_rc(sqlite3_prepare_v2(
			db,
			"INSERT INTO header (id, format, store_id, mode, salt,"
			" opslimit, memlimit, dk)"
			" VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7)",
			-1, &s, NULL));
	if (rc == BC_OK)
		rc = bind_i64(s, 1, BC_STORE_FORMAT);
	if (rc == BC_OK)
		rc = bind_blob(s, 2, h->store_id, BC_STORE_ID_LEN);
	if (rc == BC_OK)
		rc = bind_i64(s, 3, h->mode);
	if (rc == BC_OK && h->mode == BC_STORE_MODE_PASSPHRASE) {
		rc = bind_blob(s, 4, h->salt, BC_STORE_SALT_LEN);
		if (rc == BC_OK)
			rc = bind_i64(s, 5, (int64_t)h->opslimit);
		if (rc == BC_OK)
			rc = bind_i64(s, 6, (int64_t)h->memlimit);
		if (rc == BC_OK)
			rc = bind_blob(s, 7, h->dk, BC_STORE_WRAPPED_LEN);
	} else if (rc == BC_OK) {
		rc = map_rc(sqlite3_bind_null(s, 4));
		if (rc == BC_OK)
			rc = bind_i64(s, 5, 0);
		if (rc == BC_OK)
			rc = bind_i64(s, 6, 0);
		if (rc == BC_OK)
			rc = bind_blob(s, 7, h->dk, BC_STORE_KEY_LEN);
	}
	if (rc == BC_OK)
		rc = step(s, &row);
	if (rc == BC_OK)
		rc = exec_sql(
			db,
			"PRAGMA user_version = " STR(
				SCHEMA_VERSION) "; PRAGMA application_id = " STR(APP_ID));
	if (rc == BC_OK)
		rc = exec_sql(db, "COMMIT");
	(void)sqlite3_finalize(s);
	if (rc != BC_OK && !sqlite3_get_autocommit(db))
		(void)exec_sql(db, "ROLLBACK");
	return rc;
}

/* A new store's header and DK: random store id and DK; in passphrase mode
 * a fresh salt, the KDF parameters of flags and the wrapped DK. */
static int new_header(bc_store_header *h, uint8_t dk[BC_STORE_KEY_LEN],
		      const char *pass, size_t passlen, unsigned flags)
{
	uint8_t kek[BC_STORE_KEY_LEN];
	int rc;

	memset(h, 0, sizeof(*h));
	randombytes_buf(h->store_id, BC_STORE_ID_LEN);
	randombytes_buf(dk, BC_STORE_KEY_LEN);
	if (flags & BC_STORE_UNPROTECTED) {
		h->mode = BC_STORE_MODE_UNPROTECTED;
		memcpy(h->dk, dk, BC_STORE_KEY_LEN);
		return BC_OK;
	}
	h->mode = BC_STORE_MODE_PASSPHRASE;
	randombytes_buf(h->salt, BC_STORE_SALT_LEN);
	h->opslimit = (flags & BC_STORE_KDF_MODERATE)
			      ? crypto_pwhash_OPSLIMIT_MODERATE
			      : crypto_pwhash_OPSLIMIT_INTERACTIVE;
	h->memlimit = (flags & BC_STORE_KDF_MODERATE)
			      ? crypto_pwhash_MEMLIMIT_MODERATE
			      : crypto_pwhash_MEMLIMIT_INTERACTIVE;
	rc = derive_kek(pass, passlen, h->salt, h->opslimit, h->memlimit, kek);
	if (rc == BC_OK)
		rc = dk_wrap(kek, h->store_id, dk, h->dk);
	sodium_memzero(kek, sizeof(kek));
	return rc;
}

/* The arguments of bc_store_open / bc_store_rekey. */
static int check_pass(const char *pass, size_t passlen, unsigned flags)
{
	if (flags & BC_STORE_UNPROTECTED) {
		if (pass != NULL || passlen != 0 ||
		    (flags & BC_STORE_KDF_MODERATE)) {
			why("the unprotected mode takes no passphrase");
			return BC_ERR_INVALID;
		}
		return BC_OK;
	}
	if (pass == NULL || passlen == 0) {
		why("a passphrase is required (or the explicit unprotected"
		    " mode, for tests and demos)");
		return BC_ERR_INVALID;
	}
	if (passlen > BC_STORE_PASS_MAX) {
		why("the passphrase is too long");
		return BC_ERR_INVALID;
	}
	return BC_OK;
}

static void mask_on(mode_t *saved, bool *on)
{
	if (!*on)
		*saved = umask(077);
	*on = true;
}

static void mask_off(mode_t saved, bool *on)
{
	if (*on)
		(void)umask(saved);
	*on = false;
}

/* Remove a file this call created and could not make a store of, with any
 * -wal/-shm SQLite left beside it (best effort: it holds nothing
 * committed). */
static void discard_new_file(const char *path, int dfd)
{
	char side[PATH_MAX];

	(void)unlink(path);
	if (snprintf(side, sizeof(side), "%s-wal", path) < (int)sizeof(side))
		(void)unlink(side);
	if (snprintf(side, sizeof(side), "%s-shm", path) < (int)sizeof(side))
		(void)unlink(side);
	(void)fsync(dfd);
}

/*
 * bc_store_open and bc_store_probe. With probe != NULL: no creation, no
 * passphrase; *probe receives whether the store is unprotected and
 * nothing is handed out.
 */
static int open_store(bc_store **out, bool *probe, const char *path,
		      const char *pass, size_t passlen, unsigned flags)
{
	uint8_t kek[BC_STORE_KEY_LEN], dk[BC_STORE_KEY_LEN];
	bc_store_header h;
	bc_store *st = NULL;
	char *real = NULL;
	struct stat sb;
	enum db_kind kind = DB_EMPTY;
	bool create = probe == NULL && (flags & BC_STORE_CREATE);
	bool masked = false, created = false, committed = false;
	mode_t saved_mask = 0;
	int64_t objs;
	dev_t dev;
	ino_t ino;
	int dfd = -1, rc;

	memset(&h, 0, sizeof(h));
	memset(dk, 0, sizeof(dk));
	memset(kek, 0, sizeof(kek));
	st = bc_calloc(1, sizeof(*st));
	if (st == NULL) {
		rc = BC_ERR_NOMEM;
		goto out;
	}
	rc = resolve_path(path, &real, &dfd);
	if (rc == BC_OK)
		rc = check_side_files(real);
	if (rc == BC_OK)
		rc = prepare_file(real, dfd, create, &created, &dev, &ino);
	if (rc != BC_OK)
		goto out;

	/* SQLite creates -wal and -shm with the store's mode less the
	 * umask; 077 makes sure of 0600 whatever the caller's umask. */
	mask_on(&saved_mask, &masked);
	rc = map_rc(sqlite3_open_v2(
		real, &st->db,
		SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW |
			SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
		NULL));
	if (rc != BC_OK) {
		why("SQLite cannot open the store file");
		rc = rc == BC_ERR_NOMEM ? rc : BC_ERR_STORAGE;
		goto out;
	}
	/* The file SQLite opened is the one checked above. */
	if (lstat(real, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_dev != dev ||
	    sb.st_ino != ino) {
		why("the store file changed while it was being opened");
		rc = BC_ERR_FORBIDDEN;
		goto out;
	}
	/* Nothing is written before we know the file is ours. */
	rc = configure(st->db);
	if (rc == BC_OK)
		rc = identify(st->db, &kind);
	if (rc != BC_OK)
		goto out;
	if (kind == DB_EMPTY && !create) {
		why("the file is empty, not a store yet: create the store");
		rc = BC_ERR_NOTFOUND;
		goto out;
	}
	rc = make_durable(st->db);
	/* A read opens (creates) -wal and -shm now, under the umask. */
	if (rc == BC_OK)
		rc = query_int(st->db, "SELECT count(*) FROM sqlite_schema",
			       &objs);
	if (rc != BC_OK)
		goto out;

	if (kind == DB_EMPTY) {
		/* Argon2id runs with the caller's umask. */
		mask_off(saved_mask, &masked);
		rc = new_header(&h, dk, pass, passlen, flags);
		if (rc != BC_OK)
			goto out;
		mask_on(&saved_mask, &masked);
		rc = create_schema(st->db, &h);
		if (rc == BC_OK) {
			committed = true;
		} else if (rc == BC_ERR_CONFLICT) {
			/* Another process made it a store meanwhile: it is
			 * not ours to remove, and it opens as usual. */
			created = false;
			sodium_memzero(&h, sizeof(h));
			sodium_memzero(dk, sizeof(dk));
		} else {
			goto out;
		}
	}
	rc = check_side_files(real);
	if (rc != BC_OK)
		goto out;
	mask_off(saved_mask, &masked);

	if (!committed) {
		rc = read_header(st->db, &h);
		if (rc != BC_OK)
			goto out;
		if (probe != NULL) {
			*probe = h.mode == BC_STORE_MODE_UNPROTECTED;
			goto out;
		}
		if (h.mode == BC_STORE_MODE_PASSPHRASE &&
		    (flags & BC_STORE_UNPROTECTED)) {
			why("the store is protected by a passphrase: give the"
			    " passphrase (prompt or BACKCHANNEL_PASSPHRASE)"
			    " instead of the unprotected mode");
			rc = BC_ERR_STATE;
			goto out;
		}
		if (h.mode == BC_STORE_MODE_UNPROTECTED &&
		    !(flags & BC_STORE_UNPROTECTED)) {
			why("the store is unprotected (made for tests and"
			    " demos): open it in unprotected mode, without a"
			    " passphrase");
			rc = BC_ERR_STATE;
			goto out;
		}
		if (h.mode == BC_STORE_MODE_PASSPHRASE) {
			rc = derive_kek(pass, passlen, h.salt, h.opslimit,
					h.memlimit, kek);
			if (rc != BC_OK)
				goto out;
		}
		rc = bc_store_header_unwrap(&h, kek, dk);
		if (rc == BC_ERR_AUTH)
			why("wrong passphrase (or a damaged store header)");
		if (rc != BC_OK)
			goto out;
	}

	st->keys = sodium_malloc(KEYS_LEN);
	if (st->keys == NULL) {
		rc = BC_ERR_NOMEM;
		goto out;
	}
	memcpy(st->keys + K_DK, dk, BC_STORE_KEY_LEN);
	memcpy(st->store_id, h.store_id, BC_STORE_ID_LEN);
	st->unprotected = h.mode == BC_STORE_MODE_UNPROTECTED;
	rc = derive_subkeys(st->keys, st->store_id);
	keys_off(st);
	for (size_t i = 0; i < S_COUNT && rc == BC_OK; i++)
		rc = map_rc(sqlite3_prepare_v3(st->db, stmt_sql[i], -1,
					       SQLITE_PREPARE_PERSISTENT,
					       &st->stmt[i], NULL));
	if (rc != BC_OK)
		goto out;
	*out = st;
	st = NULL;
out:
	mask_off(saved_mask, &masked);
	sodium_memzero(kek, sizeof(kek));
	sodium_memzero(dk, sizeof(dk));
	sodium_memzero(&h, sizeof(h));
	bc_store_close(st);
	if (rc != BC_OK && created && !committed)
		discard_new_file(real, dfd);
	if (dfd >= 0)
		(void)close(dfd); /* read-only directory descriptor */
	bc_free(real);
	return rc;
}

int bc_store_open(bc_store **out, const char *path, const char *passphrase,
		  size_t passlen, unsigned flags)
{
	int rc;

	last_why = NULL;
	if (out == NULL)
		return BC_ERR_INVALID;
	*out = NULL;
	if (path == NULL || (flags & ~(BC_STORE_CREATE | BC_STORE_UNPROTECTED |
				       BC_STORE_KDF_MODERATE)) != 0) {
		why("invalid arguments");
		return BC_ERR_INVALID;
	}
	rc = check_pass(passphrase, passlen, flags);
	if (rc != BC_OK)
		return rc;
	return open_store(out, NULL, path, passphrase, passlen, flags);
}

int bc_store_probe(const char *path, bool *unprotected)
{
	last_why = NULL;
	if (path == NULL || unprotected == NULL)
		return BC_ERR_INVALID;
	return open_store(NULL, unprotected, path, NULL, 0, 0);
}

/* Drop whatever SQLite transaction is open. Best effort: ROLLBACK fails
 * only if SQLite already rolled back or on a deeper fault, and the next
 * begin tries again. */
static void abandon(bc_store *st)
{
	if (sqlite3_get_autocommit(st->db))
		return;
	if (st->stmt[S_ROLLBACK] != NULL)
		(void)ctl(st, S_ROLLBACK);
	else /* open failed before preparing statements */
		(void)exec_sql(st->db, "ROLLBACK");
}

void bc_store_close(bc_store *st)
{
	if (st == NULL)
		return;
	if (st->db != NULL) {
		abandon(st);
		for (size_t i = 0; i < S_COUNT; i++)
			(void)sqlite3_finalize(st->stmt[i]);
		/* Every statement is finalized, so this closes now (and
		 * checkpoints the WAL into the database file). */
		(void)sqlite3_close_v2(st->db);
	}
	/* sodium_free makes the region writable again and wipes it. */
	if (st->keys != NULL)
		sodium_free(st->keys);
	sodium_memzero(st, sizeof(*st));
	bc_free(st);
}

bool bc_store_is_unprotected(const bc_store *st)
{
	return st != NULL && st->unprotected;
}

/* ---- transactions ----------------------------------------------------------- */

/* Entry check of every operation. */
static int usable(const bc_store *st)
{
	if (st == NULL)
		return BC_ERR_INVALID;
	return st->in_list ? BC_ERR_STATE : BC_OK;
}

/* Before any statement run for the caller: inside a transaction that
 * SQLite has abandoned, nothing may run (it would autocommit). */
static int tx_guard(bc_store *st)
{
	if (st->in_tx && (st->tx_broken || sqlite3_get_autocommit(st->db))) {
		st->tx_broken = true;
		return BC_ERR_STORAGE;
	}
	return BC_OK;
}

/* After an operation: if it failed, did SQLite drop the caller's
 * transaction with it? Returns rc. */
static int tx_check(bc_store *st, int rc)
{
	if (rc != BC_OK && st->in_tx && sqlite3_get_autocommit(st->db))
		st->tx_broken = true;
	return rc;
}

/* Start a multi-statement operation: its own transaction outside one, the
 * savepoint "op" inside one. On failure nothing is open. */
static int op_begin(bc_store *st)
{
	int rc = tx_guard(st);
	if (rc != BC_OK)
		return rc;
	if (!st->in_tx) {
		abandon(st);
		return ctl(st, S_BEGIN);
	}
	return tx_check(st, ctl(st, S_SAVEPOINT));
}

/* End what op_begin started: keep it if rc is BC_OK (outside a
 * transaction: the durable COMMIT), else undo all of it. */
static int op_end(bc_store *st, int rc)
{
	if (rc == BC_OK) {
		rc = ctl(st, st->in_tx ? S_RELEASE : S_COMMIT);
		if (rc == BC_OK)
			return BC_OK;
		if (!st->in_tx)
			rc = BC_ERR_STORAGE; /* not durable: rolled back */
	}
	if (!st->in_tx) {
		abandon(st);
		return rc;
	}
	if (sqlite3_get_autocommit(st->db) || ctl(st, S_ROLLBACK_TO) != BC_OK ||
	    ctl(st, S_RELEASE) != BC_OK) {
		st->tx_broken = true;
		abandon(st);
	}
	return rc;
}

int bc_store_begin(bc_store *st)
{
	int rc = usable(st);
	if (rc != BC_OK)
		return rc;
	if (st->in_tx)
		return BC_ERR_STATE;
	abandon(st);
	rc = ctl(st, S_BEGIN);
	if (rc == BC_OK) {
		st->in_tx = true;
		st->tx_broken = false;
	}
	return rc;
}

int bc_store_commit(bc_store *st)
{
	int rc = usable(st);
	if (rc != BC_OK)
		return rc;
	if (!st->in_tx)
		return BC_ERR_STATE;
	st->in_tx = false;
	if (st->tx_broken || sqlite3_get_autocommit(st->db))
		rc = BC_ERR_STORAGE;
	else
		rc = ctl(st, S_COMMIT);
	st->tx_broken = false;
	if (rc != BC_OK) {
		abandon(st);
		rc = BC_ERR_STORAGE; /* whatever the cause: rolled back */
	}
	return rc;
}

void bc_store_rollback(bc_store *st)
{
	if (usable(st) != BC_OK || !st->in_tx)
		return;
	st->in_tx = false;
	st->tx_broken = false;
	abandon(st);
}

/* ---- records ------------------------------------------------------------------ */

/* Common argument checks of the record functions. */
static int rec_args(const bc_store *st, const char *kind, size_t *kindlen,
		    const uint8_t *key, size_t klen)
{
	int rc = usable(st);
	if (rc != BC_OK)
		return rc;
	if (!kind_ok(kind, false, kindlen) || (key == NULL && klen > 0))
		return BC_ERR_INVALID;
	return klen > BC_STORE_LOOKUP_MAX ? BC_ERR_TOOBIG : BC_OK;
}

static int put_rec(bc_store *st, const char *kind, size_t kindlen,
		   const uint8_t *key, size_t klen, const uint8_t *val,
		   size_t vlen)
{
	sqlite3_stmt *s = st->stmt[S_PUT];
	uint8_t tag[BC_STORE_TAG_LEN];
	uint8_t *ct = NULL;
	size_t ctlen = 0;
	bool row;
	int rc;

	rc = tx_guard(st);
	if (rc != BC_OK)
		return rc;
	rc = keys_on(st);
	if (rc == BC_OK)
		rc = make_tag(st->keys + K_INDEX, kind, kindlen, key, klen,
			      tag);
	if (rc == BC_OK)
		rc = bc_store_record_encode(st->keys + K_RECORD, st->store_id,
					    kind, tag, key, klen, val, vlen,
					    &ct, &ctlen);
	keys_off(st);
	if (rc == BC_OK)
		rc = bind_text(s, 1, kind);
	if (rc == BC_OK)
		rc = bind_blob(s, 2, tag, sizeof(tag));
	if (rc == BC_OK)
		rc = bind_blob(s, 3, ct, ctlen);
	if (rc == BC_OK)
		rc = step(s, &row);
	done(s);
	bc_free(ct); /* ciphertext: nothing to wipe */
	return tx_check(st, rc);
}

int bc_store_put(bc_store *st, const char *kind, const uint8_t *key,
		 size_t klen, const uint8_t *val, size_t vlen)
{
	size_t kindlen;
	int rc = rec_args(st, kind, &kindlen, key, klen);
	if (rc != BC_OK)
		return rc;
	if (val == NULL && vlen > 0)
		return BC_ERR_INVALID;
	if (vlen > BC_STORE_VALUE_MAX)
		return BC_ERR_TOOBIG;
	return put_rec(st, kind, kindlen, key, klen, val, vlen);
}

static int get_rec(bc_store *st, const char *kind, size_t kindlen,
		   const uint8_t *key, size_t klen, uint8_t **val, size_t *vlen)
{
	sqlite3_stmt *s = st->stmt[S_GET];
	uint8_t tag[BC_STORE_TAG_LEN];
	uint8_t *dkey = NULL;
	const uint8_t *p;
	size_t n, dklen = 0;
	bool row = false;
	int rc;

	*val = NULL;
	*vlen = 0;
	rc = tx_guard(st);
	if (rc != BC_OK)
		return rc;
	rc = keys_on(st);
	if (rc == BC_OK)
		rc = make_tag(st->keys + K_INDEX, kind, kindlen, key, klen,
			      tag);
	if (rc == BC_OK)
		rc = bind_text(s, 1, kind);
	if (rc == BC_OK)
		rc = bind_blob(s, 2, tag, sizeof(tag));
	if (rc == BC_OK)
		rc = step(s, &row);
	if (rc == BC_OK && !row)
		rc = BC_ERR_NOTFOUND;
	if (rc == BC_OK)
		rc = col_blob(s, 0, &p, &n);
	if (rc == BC_OK)
		rc = bc_store_record_decode(st->keys + K_RECORD, st->store_id,
					    kind, tag, p, n, &dkey, &dklen, val,
					    vlen);
	keys_off(st);
	done(s);
	/* The AD binds the tag, the tag the key: a mismatch here means a
	 * record written with our keys under another lookup key. */
	if (rc == BC_OK &&
	    (dklen != klen ||
	     (klen > 0 && sodium_memcmp(dkey, key, klen) != 0))) {
		bc_free_secret(*val, *vlen);
		*val = NULL;
		*vlen = 0;
		rc = BC_ERR_AUTH;
	}
	bc_free_secret(dkey, dklen);
	return tx_check(st, rc);
}

int bc_store_get(bc_store *st, const char *kind, const uint8_t *key,
		 size_t klen, uint8_t **val, size_t *vlen)
{
	size_t kindlen;
	int rc;

	if (val == NULL || vlen == NULL)
		return BC_ERR_INVALID;
	*val = NULL;
	*vlen = 0;
	rc = rec_args(st, kind, &kindlen, key, klen);
	if (rc != BC_OK)
		return rc;
	return get_rec(st, kind, kindlen, key, klen, val, vlen);
}

int bc_store_del(bc_store *st, const char *kind, const uint8_t *key,
		 size_t klen)
{
	sqlite3_stmt *s;
	uint8_t tag[BC_STORE_TAG_LEN];
	size_t kindlen;
	bool row;
	int rc;

	rc = rec_args(st, kind, &kindlen, key, klen);
	if (rc == BC_OK)
		rc = tx_guard(st);
	if (rc != BC_OK)
		return rc;
	s = st->stmt[S_DEL];
	rc = keys_on(st);
	if (rc == BC_OK)
		rc = make_tag(st->keys + K_INDEX, kind, kindlen, key, klen,
			      tag);
	keys_off(st);
	if (rc == BC_OK)
		rc = bind_text(s, 1, kind);
	if (rc == BC_OK)
		rc = bind_blob(s, 2, tag, sizeof(tag));
	if (rc == BC_OK)
		rc = step(s, &row);
	if (rc == BC_OK && sqlite3_changes(st->db) == 0)
		rc = BC_ERR_NOTFOUND;
	done(s);
	return tx_check(st, rc);
}

/* Decode the current row of S_LIST and check that its tag is the one of
 * the lookup key inside. */
static int list_row(bc_store *st, sqlite3_stmt *s, const char *kind,
		    size_t kindlen, uint8_t **k, size_t *kl, uint8_t **v,
		    size_t *vl)
{
	uint8_t tag[BC_STORE_TAG_LEN], again[BC_STORE_TAG_LEN];
	const uint8_t *p;
	size_t n;
	int rc;

	rc = col_blob(s, 0, &p, &n);
	if (rc == BC_OK && n != BC_STORE_TAG_LEN)
		rc = BC_ERR_MALFORMED;
	if (rc != BC_OK)
		return rc;
	memcpy(tag, p, sizeof(tag));
	rc = col_blob(s, 1, &p, &n);
	if (rc != BC_OK)
		return rc;
	rc = keys_on(st);
	if (rc == BC_OK)
		rc = bc_store_record_decode(st->keys + K_RECORD, st->store_id,
					    kind, tag, p, n, k, kl, v, vl);
	if (rc == BC_OK)
		rc = make_tag(st->keys + K_INDEX, kind, kindlen, *k, *kl,
			      again);
	keys_off(st);
	if (rc == BC_OK && sodium_memcmp(tag, again, sizeof(tag)) != 0)
		rc = BC_ERR_AUTH;
	if (rc != BC_OK && *v != NULL) {
		bc_free_secret(*k, *kl);
		bc_free_secret(*v, *vl);
		*k = *v = NULL;
		*kl = *vl = 0;
	}
	return rc;
}

int bc_store_list(bc_store *st, const char *kind, bc_store_list_fn fn,
		  void *ctx)
{
	sqlite3_stmt *s;
	uint8_t *k = NULL, *v = NULL;
	size_t kindlen, kl = 0, vl = 0;
	bool row = false;
	int rc;

	rc = rec_args(st, kind, &kindlen, NULL, 0);
	if (rc == BC_OK && fn == NULL)
		rc = BC_ERR_INVALID;
	if (rc == BC_OK)
		rc = tx_guard(st);
	if (rc != BC_OK)
		return rc;
	s = st->stmt[S_LIST];
	rc = bind_text(s, 1, kind);
	st->in_list = true;
	while (rc == BC_OK) {
		rc = step(s, &row);
		if (rc != BC_OK || !row)
			break;
		rc = list_row(st, s, kind, kindlen, &k, &kl, &v, &vl);
		if (rc != BC_OK)
			break;
		rc = fn(ctx, k, kl, v, vl);
		bc_free_secret(k, kl);
		bc_free_secret(v, vl);
		k = v = NULL;
		kl = vl = 0;
	}
	st->in_list = false;
	done(s);
	return tx_check(st, rc);
}

int bc_store_data_version(bc_store *st, uint64_t *v)
{
	int64_t x = 0;
	int rc;
	if (st == NULL || v == NULL)
		return BC_ERR_INVALID;
	rc = query_int(st->db, "PRAGMA data_version", &x);
	*v = (uint64_t)x;
	return rc;
}

int bc_store_count(bc_store *st, const char *kind, uint64_t *n)
{
	sqlite3_stmt *s;
	size_t kindlen;
	bool row = false;
	int64_t c;
	int rc;

	if (n == NULL)
		return BC_ERR_INVALID;
	*n = 0;
	rc = rec_args(st, kind, &kindlen, NULL, 0);
	if (rc == BC_OK)
		rc = tx_guard(st);
	if (rc != BC_OK)
		return rc;
	s = st->stmt[S_COUNT_KIND];
	rc = bind_text(s, 1, kind);
	if (rc == BC_OK)
		rc = step(s, &row);
	if (rc == BC_OK && !row)
		rc = BC_ERR_STORAGE;
	if (rc == BC_OK) {
		c = sqlite3_column_int64(s, 0);
		if (c < 0)
			rc = BC_ERR_STORAGE;
		else
			*n = (uint64_t)c;
	}
	done(s);
	return tx_check(st, rc);
}

int bc_store_append(bc_store *st, const char *kind, const uint8_t *val,
		    size_t vlen, uint64_t *seq)
{
	uint8_t *cur = NULL, next[8];
	size_t kindlen, curlen = 0;
	uint64_t n = 0;
	int rc;

	rc = rec_args(st, kind, &kindlen, NULL, 0);
	if (rc != BC_OK)
		return rc;
	if (val == NULL && vlen > 0)
		return BC_ERR_INVALID;
	if (vlen > BC_STORE_VALUE_MAX)
		return BC_ERR_TOOBIG;
	rc = op_begin(st);
	if (rc != BC_OK)
		return rc;
	/* The counter of kind: record (".seq", kind) -> u64. */
	rc = get_rec(st, SEQ_KIND, sizeof(SEQ_KIND) - 1, (const uint8_t *)kind,
		     kindlen, &cur, &curlen);
	if (rc == BC_OK) {
		if (curlen == 8)
			n = bc_load64(cur);
		else
			rc = BC_ERR_MALFORMED;
	} else if (rc == BC_ERR_NOTFOUND) {
		rc = BC_OK;
	}
	if (rc == BC_OK && n == UINT64_MAX)
		rc = BC_ERR_TOOBIG;
	if (rc == BC_OK) {
		bc_store64(next, ++n);
		rc = put_rec(st, SEQ_KIND, sizeof(SEQ_KIND) - 1,
			     (const uint8_t *)kind, kindlen, next, 8);
	}
	if (rc == BC_OK)
		rc = put_rec(st, kind, kindlen, next, 8, val, vlen);
	rc = op_end(st, rc);
	bc_free_secret(cur, curlen);
	if (rc == BC_OK && seq != NULL)
		*seq = n;
	return rc;
}

/* ---- passphrase change ------------------------------------------------------- */

int bc_store_rekey(bc_store *st, const char *passphrase, size_t passlen,
		   unsigned flags)
{
	uint8_t salt[BC_STORE_SALT_LEN], kek[BC_STORE_KEY_LEN];
	uint8_t wrapped[BC_STORE_WRAPPED_LEN];
	unsigned long long ops;
	sqlite3_stmt *s = NULL;
	size_t mem;
	bool row;
	int rc;

	last_why = NULL;
	rc = usable(st);
	if (rc != BC_OK)
		return rc;
	if (st->in_tx) {
		why("finish the open transaction before changing the"
		    " passphrase");
		return BC_ERR_STATE;
	}
	if (st->unprotected) {
		why("an unprotected store has no passphrase to change: create"
		    " a new, protected store");
		return BC_ERR_STATE;
	}
	if ((flags & ~BC_STORE_KDF_MODERATE) != 0) {
		why("invalid arguments");
		return BC_ERR_INVALID;
	}
	rc = check_pass(passphrase, passlen, flags);
	if (rc != BC_OK)
		return rc;
	ops = (flags & BC_STORE_KDF_MODERATE)
		      ? crypto_pwhash_OPSLIMIT_MODERATE
		      : crypto_pwhash_OPSLIMIT_INTERACTIVE;
	mem = (flags & BC_STORE_KDF_MODERATE)
		      ? crypto_pwhash_MEMLIMIT_MODERATE
		      : crypto_pwhash_MEMLIMIT_INTERACTIVE;
	randombytes_buf(salt, sizeof(salt));
	rc = derive_kek(passphrase, passlen, salt, ops, mem, kek);
	if (rc == BC_OK) {
		rc = keys_on(st);
		if (rc == BC_OK)
			rc = dk_wrap(kek, st->store_id, st->keys + K_DK,
				     wrapped);
		keys_off(st);
	}
	if (rc != BC_OK)
		goto out;
	abandon(st);
	rc = map_rc(sqlite3_prepare_v2(
		st->db,
		"UPDATE header SET salt = ?1, opslimit = ?2, memlimit = ?3,"
		" dk = ?4 WHERE id = 1 AND mode = 1",
		-1, &s, NULL));
	if (rc == BC_OK)
		rc = bind_blob(s, 1, salt, sizeof(salt));
	if (rc == BC_OK)
		rc = bind_i64(s, 2, (int64_t)ops);
	if (rc == BC_OK)
		rc = bind_i64(s, 3, (int64_t)mem);
	if (rc == BC_OK)
		rc = bind_blob(s, 4, wrapped, sizeof(wrapped));
	/* One statement in autocommit mode: durable when it returns. */
	if (rc == BC_OK)
		rc = step(s, &row);
	if (rc == BC_OK && sqlite3_changes(st->db) != 1)
		rc = BC_ERR_STORAGE;
	if (rc != BC_OK) {
		why("the new passphrase could not be saved; the old one"
		    " still applies");
		goto out;
	}
	/* Copy the new header page into the file and empty the WAL, so the
	 * old wrapped DK is overwritten (secure_delete). Best effort: a
	 * reader in another process may hold the WAL; the next checkpoint
	 * then does it. The change itself is already durable. */
	(void)exec_sql(st->db, "PRAGMA wal_checkpoint(TRUNCATE)");
out:
	(void)sqlite3_finalize(s);
	sodium_memzero(kek, sizeof(kek));
	sodium_memzero(wrapped, sizeof(wrapped));
	return rc;
}

/* ---- passphrase prompt ------------------------------------------------------- */

static const int prompt_signals[] = {SIGALRM, SIGHUP,  SIGINT,
				     SIGPIPE, SIGQUIT, SIGTERM,
				     SIGTSTP, SIGTTIN, SIGTTOU};
static volatile sig_atomic_t prompt_caught[BC_ARRAY_LEN(prompt_signals)];

static void prompt_handler(int sig)
{
	for (size_t i = 0; i < BC_ARRAY_LEN(prompt_signals); i++)
		if (prompt_signals[i] == sig)
			prompt_caught[i] = 1;
}

static bool prompt_interrupted(void)
{
	for (size_t i = 0; i < BC_ARRAY_LEN(prompt_signals); i++)
		if (prompt_caught[i])
			return true;
	return false;
}

/* Write all of s to fd unless a signal was caught. */
static int tty_write(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR && !prompt_interrupted())
			continue;
		if (w <= 0)
			return BC_ERR_IO;
		s += w;
		n -= (size_t)w;
	}
	return BC_OK;
}

int bc_passphrase_prompt(const char *prompt, char *buf, size_t cap, size_t *len)
{
	struct sigaction sa, saved[BC_ARRAY_LEN(prompt_signals)];
	struct termios term, quiet;
	bool installed[BC_ARRAY_LEN(prompt_signals)] = {false};
	bool term_set = false, full = false;
	size_t n = 0;
	int fd = -1, rc = BC_ERR_IO;
	ssize_t r;
	char c = 0;

	last_why = NULL;
	if (len != NULL)
		*len = 0;
	if (prompt == NULL || buf == NULL || cap == 0 || len == NULL)
		return BC_ERR_INVALID;
	buf[0] = '\0';
	fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 || tcgetattr(fd, &term) != 0) {
		why("no terminal to ask for the passphrase on: set"
		    " BACKCHANNEL_PASSPHRASE, or run from a terminal");
		goto out;
	}
	for (size_t i = 0; i < BC_ARRAY_LEN(prompt_signals); i++)
		prompt_caught[i] = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = prompt_handler;
	(void)sigemptyset(&sa.sa_mask); /* cannot fail */
	sa.sa_flags = 0; /* no SA_RESTART: a signal ends the read */
	for (size_t i = 0; i < BC_ARRAY_LEN(prompt_signals); i++) {
		if (sigaction(prompt_signals[i], &sa, &saved[i]) != 0) {
			why("cannot install signal handlers");
			goto out;
		}
		installed[i] = true;
	}
	quiet = term;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
	quiet.c_lflag |= ICANON;
	if (tcsetattr(fd, TCSAFLUSH, &quiet) != 0) {
		why("cannot turn terminal echo off");
		goto out;
	}
	term_set = true;
	if (tty_write(fd, prompt, strlen(prompt)) != BC_OK) {
		why("cannot write to the terminal");
		goto out;
	}
	for (;;) {
		r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR && !prompt_interrupted())
			continue;
		if (r < 0) {
			why(prompt_interrupted() ? "interrupted"
						 : "cannot read the terminal");
			goto out;
		}
		if (r == 0 || c == '\n' || c == '\r')
			break;
		if (n + 1 < cap)
			buf[n++] = c;
		else
			full = true; /* read on to the end of the line */
	}
	/* Echo was off: end the prompt's line. */
	(void)tty_write(fd, "\n", 1);
	if (full) {
		why("the passphrase is too long");
		rc = BC_ERR_TOOBIG;
		goto out;
	}
	buf[n] = '\0';
	*len = n;
	rc = BC_OK;
out:
	c = 0;
	if (term_set)
		while (tcsetattr(fd, TCSAFLUSH, &term) != 0 && errno == EINTR)
			;
	for (size_t i = 0; i < BC_ARRAY_LEN(prompt_signals); i++)
		if (installed[i])
			(void)sigaction(prompt_signals[i], &saved[i], NULL);
	if (fd >= 0)
		(void)close(fd);
	if (rc != BC_OK) {
		sodium_memzero(buf, cap);
		*len = 0;
	}
	/* Deliver what arrived while echo was off, now that it is on. */
	for (size_t i = 0; i < BC_ARRAY_LEN(prompt_signals); i++)
		if (prompt_caught[i])
			(void)kill(getpid(), prompt_signals[i]);
	sodium_memzero(&c, sizeof(c));
	return rc;
}
