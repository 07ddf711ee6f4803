/*
 * storage.h - the relay's storage interface.
 *
 * The network code (server.c) talks to storage only through this vtable, so
 * that a second backend (PostgreSQL, for relays that outgrow one machine)
 * can be added without touching it. The SQLite backend is storage_sqlite.c.
 *
 * Model: a mailbox (32-byte id) is owned by one Noise static public key.
 * Capabilities are stored as BLAKE2b-256 hashes only (the relay never needs
 * the token itself after checking it). A message is (mailbox, msg_id, body)
 * with a relay-assigned sequence number that increases strictly over the
 * life of the database and is never reused; (mailbox, msg_id) is unique, so
 * a retried post is stored once. Prekey blobs are opaque: per mailbox one
 * "signed" blob (replaced on upload) and a FIFO of one-time blobs, each
 * handed out once.
 *
 * Transactions and durability: writes may be grouped with begin()/commit().
 * commit() returns BC_OK only once the data is durable (fsync'd); until it
 * has returned BC_OK the server must not acknowledge anything done in the
 * transaction. Outside begin()/commit() every write is its own durable
 * transaction. post() is atomic on its own (a savepoint inside the group):
 * either every copy of the post is stored, or none is and the group goes on.
 *
 * Errors: BC_ERR_NOTFOUND, BC_ERR_FORBIDDEN (mailbox owned by another key),
 * BC_ERR_CAPABILITY, BC_ERR_QUOTA, BC_ERR_TOOBIG, and BC_ERR_STORAGE for
 * any database failure (disk full, I/O error). After BC_ERR_STORAGE from
 * commit() the transaction is rolled back and nothing of it is kept.
 *
 * Threading: a handle is used from one thread at a time.
 */
#ifndef BC_RELAY_STORAGE_H
#define BC_RELAY_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backchannel/error.h"

#define BC_MAILBOX_ID_LEN 32
#define BC_OWNER_KEY_LEN 32
#define BC_CAP_HASH_LEN 32
#define BC_MSG_ID_LEN 16

typedef struct bc_storage bc_storage; /* backend handle, opaque */

typedef struct bc_storage_limits {
	uint32_t mailbox_max_msgs;     /* messages stored per mailbox */
	uint64_t mailbox_max_bytes;    /* body bytes stored per mailbox */
	uint32_t max_body;             /* bytes per message body */
	uint32_t max_caps_per_mailbox; /* live (unrevoked) capabilities */
	uint32_t max_onetime_prekeys;  /* one-time prekey blobs per mailbox */
	uint32_t max_prekey_blob;      /* bytes per prekey blob */
} bc_storage_limits;

typedef struct bc_mailbox_info {
	uint32_t msgs;             /* messages waiting */
	uint64_t bytes;            /* their body bytes */
	uint32_t onetime_prekeys;  /* one-time prekey blobs left */
	bool has_signed_prekey;
	bool created;              /* mailbox_open created it just now */
} bc_mailbox_info;

/* One copy of a post: the mailbox it goes to and its body. The capability
 * has already been checked by the caller with cap_check(). */
typedef struct bc_post_copy {
	const uint8_t *mailbox; /* BC_MAILBOX_ID_LEN bytes */
	const uint8_t *body;
	size_t body_len;
} bc_post_copy;

/* A stored message handed to a fetch callback. Pointers are valid only
 * during the callback. */
typedef struct bc_stored_msg {
	uint64_t seq;
	const uint8_t *msg_id; /* BC_MSG_ID_LEN bytes */
	const uint8_t *body;
	size_t body_len;
} bc_stored_msg;

/* Return BC_OK to go on, anything else stops the fetch and is returned. */
typedef int (*bc_fetch_cb)(void *ctx, const bc_stored_msg *m);

typedef struct bc_storage_ops {
	const char *name;

	/* Open (creating if needed) the store under directory dir (which
	 * exists and is not world-writable). Files are created mode 0600; a
	 * symlinked store file is refused (BC_ERR_STORAGE). lim NULL means
	 * the defaults. BC_ERR_VERSION if the store was written by a newer
	 * version. */
	int (*open)(bc_storage **out, const char *dir,
		    const bc_storage_limits *lim);
	/* Close; NULL is a no-op. Rolls back an open transaction. */
	void (*close)(bc_storage *st);

	int (*begin)(bc_storage *st);
	int (*commit)(bc_storage *st); /* durable on BC_OK */
	void (*rollback)(bc_storage *st);

	/* Create the mailbox owned by owner, or check that it exists with
	 * that owner (BC_ERR_FORBIDDEN otherwise). info may be NULL. */
	int (*mailbox_open)(bc_storage *st, const uint8_t *id,
			    const uint8_t *owner, bc_mailbox_info *info);
	/* The owner of a mailbox, BC_ERR_NOTFOUND if it does not exist. */
	int (*mailbox_owner)(bc_storage *st, const uint8_t *id,
			     uint8_t owner[BC_OWNER_KEY_LEN]);

	/* Register a capability hash (idempotent). BC_ERR_QUOTA beyond
	 * max_caps_per_mailbox live capabilities; BC_ERR_CAPABILITY if the
	 * hash was revoked (it stays revoked); BC_ERR_NOTFOUND for an
	 * unknown mailbox. */
	int (*cap_add)(bc_storage *st, const uint8_t *mailbox,
		       const uint8_t *cap_hash);
	/* Revoke: the hash is kept as revoked, so it can never be re-added.
	 * BC_ERR_NOTFOUND if it was never registered. */
	int (*cap_revoke)(bc_storage *st, const uint8_t *mailbox,
			  const uint8_t *cap_hash);
	/* BC_OK if the hash is registered and not revoked for that mailbox,
	 * else BC_ERR_CAPABILITY (also for an unknown mailbox). */
	int (*cap_check)(bc_storage *st, const uint8_t *mailbox,
			 const uint8_t *cap_hash);

	/* Store every copy atomically under msg_id. If (mailbox, msg_id)
	 * already exists for every copy, nothing is written, *dup is set and
	 * BC_OK is returned (a retry). A post that is partly present (the
	 * id reused with other mailboxes) stores the missing copies. Each
	 * copy's seq is written to seqs[i] (the existing seq for a duplicate)
	 * if seqs is not NULL (unspecified on error). BC_ERR_QUOTA /
	 * BC_ERR_TOOBIG if a limit would be exceeded; BC_ERR_NOTFOUND if a
	 * mailbox does not exist; BC_ERR_INVALID if a new post names the same
	 * mailbox twice. */
	int (*post)(bc_storage *st, const uint8_t *msg_id,
		    const bc_post_copy *copies, size_t n, uint64_t *seqs,
		    bool *dup);

	/* Call cb for waiting messages of the mailbox with seq > after_seq,
	 * in seq order, at most max_msgs of them and stopping before the
	 * total body bytes would exceed max_bytes (but always at least one
	 * message if any is waiting; none if max_msgs is 0). cb must not call
	 * back into st (BC_ERR_STATE). BC_ERR_NOTFOUND for an unknown
	 * mailbox. */
	int (*fetch)(bc_storage *st, const uint8_t *mailbox,
		     uint64_t after_seq, uint32_t max_msgs, size_t max_bytes,
		     bc_fetch_cb cb, void *ctx);
	/* Delete a message after its owner acknowledged it.
	 * BC_ERR_NOTFOUND if it is not there (already acknowledged - also
	 * after a commit() that failed, then a crash: a failed commit may
	 * still turn out to have happened, never the reverse). */
	int (*ack)(bc_storage *st, const uint8_t *mailbox,
		   const uint8_t *msg_id);

	/* Replace the mailbox's signed-prekey blob. */
	int (*prekey_put_signed)(bc_storage *st, const uint8_t *mailbox,
				 const uint8_t *blob, size_t len);
	/* Append one-time blobs (all or none; BC_ERR_QUOTA beyond
	 * max_onetime_prekeys). */
	int (*prekey_add_onetime)(bc_storage *st, const uint8_t *mailbox,
				  const uint8_t *const *blobs,
				  const size_t *lens, size_t n);
	/* Hand out the signed blob and remove-and-return the oldest one-time
	 * blob, if any. *signed_blob / *onetime_blob are new buffers (free
	 * with bc_free), NULL when absent. BC_ERR_NOTFOUND if the mailbox has
	 * no signed blob. */
	int (*prekey_take)(bc_storage *st, const uint8_t *mailbox,
			   uint8_t **signed_blob, size_t *signed_len,
			   uint8_t **onetime_blob, size_t *onetime_len);

	/* Counters of a mailbox (BC_ERR_NOTFOUND if absent). */
	int (*mailbox_info)(bc_storage *st, const uint8_t *mailbox,
			    bc_mailbox_info *info);

	/* A static description of the last database failure, for the log
	 * line that goes with BC_ERR_STORAGE ("disk I/O error", "database
	 * or disk is full", ...). Never NULL. Read it before rolling back. */
	const char *(*last_error)(bc_storage *st);
} bc_storage_ops;

extern const bc_storage_ops bc_storage_sqlite;

/* Fill lim with the defaults documented in docs/PROTOCOL.md. */
void bc_storage_limits_default(bc_storage_limits *lim);

#endif
