/*
 * store.h - the client store: one encrypted SQLite file per profile.
 *
 * A bc_store holds everything a client keeps between runs (identities,
 * prekeys, sessions, transcripts, message plaintexts) as records of a
 * generic key-value table, (kind, lookup key) -> value, every value
 * encrypted at rest. The file layout, the key hierarchy and the record
 * format are written out in docs/ARCHITECTURE.md ("Client store"); in short:
 *
 *   - a random 32-byte data key (DK) encrypts everything. It is stored
 *     wrapped under a key derived with Argon2id from a passphrase, or - in
 *     the explicit unprotected mode, for tests and demos only - in the
 *     clear;
 *   - a record's lookup key is replaced on disk by a keyed BLAKE2b tag, and
 *     its value by XChaCha20-Poly1305(lookup key, value) bound to the
 *     store, the kind and the tag, so a value moved to another row, kind or
 *     store fails to decrypt;
 *   - the file is 0600, opened without following a symlink, and refused
 *     (BC_ERR_FORBIDDEN) if it is a symlink, not a regular file, someone
 *     else's, or readable/writable by group or others.
 *
 * Crash safety. SQLite runs in WAL mode with synchronous=FULL: a write
 * outside a transaction, and bc_store_commit(), are durable when they
 * return. The rule the session layer follows on top of this (and which
 * the store exists to make possible):
 *   - an incoming message is processed in ONE transaction: the ratchet
 *     state update, the stored plaintext and the transcript update are
 *     committed together, or none of them is;
 *   - an outgoing message's ratchet state is committed BEFORE its
 *     ciphertext is handed to the network (best with the ciphertext in an
 *     outbox record of the same transaction, deleted once the relay has
 *     acknowledged it, so a crash re-sends it rather than losing it).
 * Then a crash at any instant (kill -9, power loss) never leaves a session
 * that reuses a message key or has lost one.
 *
 * Threads: a handle is used by one thread at a time. bc_store_open
 * briefly changes the process umask (see there).
 */
#ifndef BC_STORE_H
#define BC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backchannel/error.h"

typedef struct bc_store bc_store;

/* ---- sizes and limits ---------------------------------------------------- */

#define BC_STORE_KEY_LEN 32   /* DK, KEK, index key, record key */
#define BC_STORE_ID_LEN 16    /* random store id */
#define BC_STORE_SALT_LEN 16  /* Argon2id salt (crypto_pwhash_SALTBYTES) */
#define BC_STORE_TAG_LEN 32   /* keyed BLAKE2b tag replacing a lookup key */
#define BC_STORE_NONCE_LEN 24 /* XChaCha20-Poly1305 nonce */
#define BC_STORE_MAC_LEN 16   /* Poly1305 tag */
/* The stored DK in passphrase mode: nonce || ciphertext || MAC. */
#define BC_STORE_WRAPPED_LEN \
	(BC_STORE_NONCE_LEN + BC_STORE_KEY_LEN + BC_STORE_MAC_LEN)

#define BC_STORE_KIND_MAX 32		      /* bytes of a kind name */
#define BC_STORE_LOOKUP_MAX 1024	      /* bytes of a lookup key */
#define BC_STORE_VALUE_MAX ((size_t)16 << 20) /* bytes of a value (16 MiB) */
#define BC_STORE_PASS_MAX 1024		      /* bytes of a passphrase */
/* The largest stored record value: nonce || seal(u8, bytes, bytes). */
#define BC_STORE_RECORD_MAX                                     \
	(BC_STORE_NONCE_LEN + 1 + 4 + BC_STORE_LOOKUP_MAX + 4 + \
	 BC_STORE_VALUE_MAX + BC_STORE_MAC_LEN)

/* ---- open and close ------------------------------------------------------ */

/* bc_store_open flags. */
#define BC_STORE_CREATE 0x1u	   /* create the store if it is absent */
#define BC_STORE_UNPROTECTED 0x2u  /* no passphrase: tests and demos ONLY */
#define BC_STORE_KDF_MODERATE 0x4u /* Argon2id MODERATE, not INTERACTIVE */

/*
 * Open the store at path (the caller picks it; the CLI uses
 * $BACKCHANNEL_HOME/<profile>.db). On success *out is a new handle
 * (bc_store_close it); on failure *out is NULL, nothing was written to an
 * existing store, and bc_store_last_error() says what is wrong.
 *
 * Passphrase mode: passphrase[0..passlen) (1 <= passlen <=
 * BC_STORE_PASS_MAX; any bytes) unlocks the store; flags must not contain
 * BC_STORE_UNPROTECTED. Unprotected mode: flags contain
 * BC_STORE_UNPROTECTED, passphrase is NULL and passlen 0.
 * With BC_STORE_CREATE an absent (or empty) file is created as a store of
 * the requested mode (BC_STORE_KDF_MODERATE picks the slower Argon2id
 * parameters); an existing store is opened as usual (its recorded
 * parameters apply, BC_STORE_KDF_MODERATE is ignored). A creation that
 * fails removes the file it created.
 *
 * The file is created with O_CREAT|O_EXCL|O_NOFOLLOW and mode 0600; an
 * existing file, and any -wal/-shm/-journal beside it, must be a regular
 * file (no symlink) owned by the effective user with no group/other
 * permission bits, in a directory not writable by group/other unless it
 * is sticky. The umask is 077 while SQLite creates its -wal and -shm files
 * (the process-wide umask is restored before returning).
 *
 * Errors: BC_ERR_INVALID (arguments, unknown flags), BC_ERR_NOTFOUND (no
 * store and no BC_STORE_CREATE), BC_ERR_FORBIDDEN (file checks above),
 * BC_ERR_STATE (the store's mode is not the one asked for: a passphrase
 * for an unprotected store or the reverse), BC_ERR_AUTH (wrong
 * passphrase), BC_ERR_MALFORMED (a header that does not parse, or KDF
 * parameters outside the accepted range), BC_ERR_VERSION (a newer format),
 * BC_ERR_STORAGE (not a store, SQLite failure), BC_ERR_TIMEOUT (another
 * process holds the store locked), BC_ERR_CONFLICT (the file appeared
 * while this call was creating it: retry), BC_ERR_NOMEM, BC_ERR_IO.
 */
int bc_store_open(bc_store **out, const char *path, const char *passphrase,
		  size_t passlen, unsigned flags) BC_MUST_CHECK;

/* Roll back an open transaction, close the file and wipe every key.
 * st may be NULL. */
void bc_store_close(bc_store *st);

/* Without a passphrase, tell whether the store at path is unprotected
 * (*unprotected = true) or needs a passphrase, so that a caller knows
 * whether to prompt. Same file checks and errors as bc_store_open; writes
 * nothing. */
int bc_store_probe(const char *path, bool *unprotected) BC_MUST_CHECK;

/* A static, human-readable explanation of the last failure of
 * bc_store_open, bc_store_probe, bc_store_rekey or bc_passphrase_prompt in
 * the calling thread (what is wrong and what to do about it), or NULL.
 * Never contains a path, a passphrase or any stored data. */
const char *bc_store_last_error(void);

/* true iff the store keeps its data key in the clear (tests and demos). */
bool bc_store_is_unprotected(const bc_store *st);

/*
 * Change the passphrase of a passphrase-mode store: the data key is
 * re-wrapped under a key derived from passphrase[0..passlen) with a fresh
 * salt (flags: 0 or BC_STORE_KDF_MODERATE), durably, and the WAL is
 * checkpointed and truncated so the old wrapped key is overwritten in the
 * file (secure_delete). The data key itself, and so every record, is
 * unchanged. Not inside a transaction (BC_ERR_STATE); BC_ERR_STATE for an
 * unprotected store (create a new store instead).
 */
int bc_store_rekey(bc_store *st, const char *passphrase, size_t passlen,
		   unsigned flags) BC_MUST_CHECK;

/* ---- transactions -------------------------------------------------------- */

/*
 * BEGIN IMMEDIATE: take the write lock now; every later call on st until
 * commit/rollback belongs to the transaction. BC_ERR_STATE if one is open
 * already; BC_ERR_TIMEOUT if another process holds the lock too long.
 * If SQLite abandons the transaction on its own (disk full, I/O error),
 * every further call of the transaction and its commit fail with
 * BC_ERR_STORAGE: nothing of it is ever half-applied.
 */
int bc_store_begin(bc_store *st) BC_MUST_CHECK;
/* COMMIT: durable when it returns BC_OK. On any failure the transaction is
 * rolled back (BC_ERR_STORAGE). BC_ERR_STATE outside a transaction. */
int bc_store_commit(bc_store *st) BC_MUST_CHECK;
/* Discard the open transaction; does nothing outside one. */
void bc_store_rollback(bc_store *st);

/* ---- records --------------------------------------------------------------- */

/*
 * kind: 1..BC_STORE_KIND_MAX printable ASCII characters (0x21-0x7e), not
 * starting with '.' (reserved for the store); it is visible on disk.
 * key: the lookup key, 0..BC_STORE_LOOKUP_MAX bytes (NULL if klen is 0);
 * it is NOT visible on disk. Values are 0..BC_STORE_VALUE_MAX bytes.
 * Outside a transaction every write is its own durable transaction.
 * Bad kinds and NULL pointers are BC_ERR_INVALID; over-long keys and
 * values BC_ERR_TOOBIG. Calling any function from inside a list callback
 * is BC_ERR_STATE.
 */

/* Insert or replace. A replaced record keeps its place in list order. */
int bc_store_put(bc_store *st, const char *kind, const uint8_t *key,
		 size_t klen, const uint8_t *val, size_t vlen) BC_MUST_CHECK;

/* Look a record up. On BC_OK *val is a new buffer of *vlen bytes (bc_malloc;
 * free it with bc_free_secret(*val, *vlen)); on failure *val is NULL and
 * *vlen 0. BC_ERR_NOTFOUND if absent; BC_ERR_AUTH if the stored value does
 * not authenticate for this store, kind and key (tampered or moved). */
int bc_store_get(bc_store *st, const char *kind, const uint8_t *key,
		 size_t klen, uint8_t **val, size_t *vlen) BC_MUST_CHECK;

/* Delete a record (its bytes are overwritten in the file: secure_delete).
 * BC_ERR_NOTFOUND if absent. */
int bc_store_del(bc_store *st, const char *kind, const uint8_t *key,
		 size_t klen) BC_MUST_CHECK;

/* Called once per record by bc_store_list. key and val are valid only
 * during the call (they are wiped afterwards). Return 0 to go on; any
 * other value stops the listing, and bc_store_list returns it. */
typedef int (*bc_store_list_fn)(void *ctx, const uint8_t *key, size_t klen,
				const uint8_t *val, size_t vlen);

/* Every record of kind, in the order of first insertion. The callback must
 * not call into st. A record that fails to authenticate stops the listing
 * with BC_ERR_AUTH (records before it were already reported). */
int bc_store_list(bc_store *st, const char *kind, bc_store_list_fn fn,
		  void *ctx) BC_MUST_CHECK;

/* *n = the number of records of kind. */
int bc_store_count(bc_store *st, const char *kind, uint64_t *n) BC_MUST_CHECK;

/* A number that changes whenever another connection (another process on
 * the same profile) has committed since this handle last looked; this
 * handle's own commits do not change it (SQLite's PRAGMA data_version).
 * Lets a caller that caches decoded state skip re-reading it. */
int bc_store_data_version(bc_store *st, uint64_t *v) BC_MUST_CHECK;

/* Append-only log helper: store val under the lookup key
 * bc_store64(seq) (8 bytes, big-endian) where seq = 1 + the last seq ever
 * handed out for kind (sequence numbers are never reused, even after a
 * delete). The counter is itself an encrypted record (kind ".seq") and
 * changes atomically with the new record. *seq may be NULL. */
int bc_store_append(bc_store *st, const char *kind, const uint8_t *val,
		    size_t vlen, uint64_t *seq) BC_MUST_CHECK;

/* ---- passphrase prompt ------------------------------------------------------ */

/*
 * Write prompt to /dev/tty and read one line from it with echo off; the
 * line (without its newline) goes to buf, NUL-terminated, and its length
 * to *len. The terminal is restored on every path; a signal that arrives
 * while echo is off (SIGINT, SIGTERM, SIGTSTP, ...) restores it and is then
 * re-delivered. BC_ERR_IO if there is no terminal (use the environment
 * variable then), BC_ERR_TOOBIG if the line does not fit in cap - 1 bytes,
 * BC_ERR_INVALID for bad arguments. On failure buf is wiped and *len is 0.
 * Not thread-safe (it installs signal handlers for its duration).
 */
int bc_passphrase_prompt(const char *prompt, char *buf, size_t cap,
			 size_t *len) BC_MUST_CHECK;

/* ---- internals exposed for tests and fuzzing ------------------------------ */

/*
 * Not API: the record and header codecs, so that unit tests and
 * tests/fuzz/fuzz_store.c reach them with chosen bytes.
 */

/* seal/encode: ct = nonce || XChaCha20-Poly1305(rkey, nonce, pt, AD) with
 * AD = "backchannel store v1 record" || store_id || kind || 0x00 || tag.
 * _seal takes an arbitrary plaintext; _encode the canonical one,
 * u8 1 || bytes key || bytes val. *ct is bc_malloc'd (*ctlen bytes). */
int bc_store_record_seal(const uint8_t rkey[static BC_STORE_KEY_LEN],
			 const uint8_t store_id[static BC_STORE_ID_LEN],
			 const char *kind,
			 const uint8_t tag[static BC_STORE_TAG_LEN],
			 const uint8_t *pt, size_t ptlen, uint8_t **ct,
			 size_t *ctlen) BC_MUST_CHECK;
int bc_store_record_encode(const uint8_t rkey[static BC_STORE_KEY_LEN],
			   const uint8_t store_id[static BC_STORE_ID_LEN],
			   const char *kind,
			   const uint8_t tag[static BC_STORE_TAG_LEN],
			   const uint8_t *key, size_t klen, const uint8_t *val,
			   size_t vlen, uint8_t **ct,
			   size_t *ctlen) BC_MUST_CHECK;

/* Decrypt and decode a stored record value. On BC_OK *key (if key is not
 * NULL) and *val are new bc_malloc'd buffers of *klen / *vlen bytes (free
 * with bc_free_secret). BC_ERR_TOOBIG for ctlen > BC_STORE_RECORD_MAX
 * (checked before anything is allocated), BC_ERR_MALFORMED if too short or
 * the plaintext does not parse canonically, BC_ERR_VERSION for another
 * record version, BC_ERR_AUTH if it does not authenticate, BC_ERR_INVALID
 * for a bad kind. On failure the outputs are NULL / 0. */
int bc_store_record_decode(const uint8_t rkey[static BC_STORE_KEY_LEN],
			   const uint8_t store_id[static BC_STORE_ID_LEN],
			   const char *kind,
			   const uint8_t tag[static BC_STORE_TAG_LEN],
			   const uint8_t *ct, size_t ctlen, uint8_t **key,
			   size_t *klen, uint8_t **val,
			   size_t *vlen) BC_MUST_CHECK;

/* Header modes (column header.mode). */
#define BC_STORE_MODE_PASSPHRASE 1
#define BC_STORE_MODE_UNPROTECTED 2
#define BC_STORE_FORMAT 1 /* column header.format */

/* The raw header row as SQLite returned it. A NULL blob is (NULL, 0). */
typedef struct bc_store_header_cols {
	int64_t format, mode, opslimit, memlimit;
	const uint8_t *store_id, *salt, *dk;
	size_t store_id_len, salt_len, dk_len;
} bc_store_header_cols;

/* The validated header. dk holds the wrapped DK (passphrase mode,
 * BC_STORE_WRAPPED_LEN bytes) or the DK itself (unprotected, the first
 * BC_STORE_KEY_LEN bytes): wipe it after use. */
typedef struct bc_store_header {
	uint8_t store_id[BC_STORE_ID_LEN];
	int mode;
	uint8_t salt[BC_STORE_SALT_LEN];
	unsigned long long opslimit;
	size_t memlimit;
	uint8_t dk[BC_STORE_WRAPPED_LEN];
} bc_store_header;

/* Validate cols into *h. BC_ERR_VERSION for a format other than
 * BC_STORE_FORMAT above it, BC_ERR_MALFORMED for anything else out of
 * place, including Argon2id parameters outside [INTERACTIVE, SENSITIVE]
 * (so a hostile file cannot make us allocate more than 1 GiB or spin for
 * long). Allocates nothing; on failure *h is zeroed. */
int bc_store_header_decode(const bc_store_header_cols *cols,
			   bc_store_header *h) BC_MUST_CHECK;

/* Recover the DK from a validated header: unwrap with kek (passphrase
 * mode; BC_ERR_AUTH if it does not authenticate) or copy it (unprotected;
 * kek is ignored and may be NULL). On failure dk is zeroed. */
int bc_store_header_unwrap(const bc_store_header *h, const uint8_t *kek,
			   uint8_t dk[static BC_STORE_KEY_LEN]) BC_MUST_CHECK;

#endif
