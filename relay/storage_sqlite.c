/*
 * storage_sqlite.c - the SQLite backend of the relay's storage (storage.h).
 *
 * One database file, <dir>/relay.db, in WAL mode with synchronous=FULL:
 * a transaction's COMMIT returns only after its WAL frames have been
 * fsync'd, so whatever commit() (or a write outside begin()) reported as
 * done survives kill -9 and power loss. The schema, the durability argument
 * and the error mapping are written out in docs/ARCHITECTURE.md ("Relay storage").
 *
 * Invariants:
 *  - The handle caches nothing from the database. Every counter a decision
 *    depends on (a mailbox's msgs/bytes/live_caps/onetime) is read from its
 *    row inside the transaction that changes it, so a rollback - asked for,
 *    or forced on us by an I/O error, a full disk or a failed fsync - can
 *    never leave the handle believing something the file does not say.
 *  - The mailbox row's counters equal the aggregates of its child rows: they
 *    change only in the same transaction (and savepoint) as the rows.
 *  - Message sequence numbers are the msg table's AUTOINCREMENT rowid: they
 *    strictly increase over the life of the file and are never reused, even
 *    after the highest row is deleted or the relay restarts.
 *  - Every prepared statement is created once, at open, and is reset (and
 *    its bindings cleared) before the function that stepped it returns, so
 *    no statement holds a read transaction or a pointer into the caller's
 *    memory between calls.
 *  - Each write operation runs in its own transaction (BEGIN IMMEDIATE ...
 *    COMMIT) outside a group, or in the savepoint "op" inside one; a failed
 *    operation rolls back to its savepoint and the group goes on. If SQLite
 *    itself abandoned the group's transaction (it may, on SQLITE_FULL,
 *    SQLITE_IOERR or SQLITE_NOMEM), group_broken is set: every further
 *    write of the group and the group's commit() fail with BC_ERR_STORAGE,
 *    so nothing of a lost group is ever acknowledged.
 *  - A fetch callback must not call back into the handle; every entry point
 *    returns BC_ERR_STATE while in_fetch is set (the statements are shared).
 *  - Checkpoints (copying the WAL into relay.db and fsyncing it) do not
 *    run inside commit(): a background thread with a connection of its own
 *    runs a PASSIVE checkpoint every WAL_CHECKPOINT_PAGES new frames (the
 *    WAL hook wakes it) and once a second. It shares nothing with the
 *    handle but struct ckpt (under its mutex), never writes a row, and its
 *    failures are harmless: until a checkpoint succeeds the WAL stays
 *    authoritative. The WAL can only be rewound when everything in it has
 *    been copied, which a background copy rarely achieves under steady
 *    load; so once the WAL holds WAL_RESTART_PAGES frames and the thread
 *    has copied all but at most WAL_CATCHUP_PAGES of them, the committing
 *    thread copies the rest itself (small, once per ~32 MiB of WAL) and the
 *    next transaction starts the WAL over. Beyond WAL_INLINE_PAGES (the
 *    thread cannot keep up) it checkpoints whatever the thread has left.
 *
 * Not thread-safe: one handle, one thread at a time (SQLITE_OPEN_NOMUTEX).
 * The checkpointer's connection is used by the checkpointer thread only.
 * Do not fork() with a handle open.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "internal.h"
#include "storage.h"

#define DB_NAME "relay.db"
/* PRAGMA application_id: "BCrl", so that no other SQLite file is taken for
 * a relay database (and no relay database for anything else). */
#define APP_ID 0x4243726c
#define BUSY_TIMEOUT_MS 2000
#define CACHE_KIB 65536		  /* page cache: 64 MiB */
#define WAL_CHECKPOINT_PAGES 1000 /* background copy every ~4 MiB */
#define WAL_RESTART_PAGES 8000	  /* rewind the WAL at ~32 MiB ... */
#define WAL_CATCHUP_PAGES 512	  /* ... copying at most ~2 MiB inline */
#define WAL_INLINE_PAGES 16000	  /* copy everything inline beyond ~64 MiB */
#define CKPT_CACHE_KIB 1024	  /* the checkpointer's page cache */
#define CKPT_PERIOD_S 1		  /* the checkpointer's idle wake-up */
#define WAL_SIZE_LIMIT 67108864	  /* truncate a WAL beyond 64 MiB */
#define STR_(x) #x
#define STR(x) STR_(x)

/* ---- schema ------------------------------------------------------------- */

/*
 * migrations[v] turns a database at user_version v into one at v + 1; it
 * runs inside the transaction that also sets the new user_version. A file
 * whose user_version is beyond the last migration was written by a newer
 * relay: it is refused (BC_ERR_VERSION), never downgraded.
 */
static const char *const migrations[] = {
	/* 0 -> 1: the initial schema. */
	"CREATE TABLE mailbox ("
	"  mbx       INTEGER PRIMARY KEY,"
	"  id        BLOB NOT NULL UNIQUE CHECK (length(id) = 32),"
	"  owner     BLOB NOT NULL CHECK (length(owner) = 32),"
	"  msgs      INTEGER NOT NULL DEFAULT 0 CHECK (msgs >= 0),"
	"  bytes     INTEGER NOT NULL DEFAULT 0 CHECK (bytes >= 0),"
	"  live_caps INTEGER NOT NULL DEFAULT 0 CHECK (live_caps >= 0),"
	"  onetime   INTEGER NOT NULL DEFAULT 0 CHECK (onetime >= 0)"
	");"
	"CREATE TABLE cap ("
	"  mbx     INTEGER NOT NULL REFERENCES mailbox (mbx),"
	"  hash    BLOB NOT NULL CHECK (length(hash) = 32),"
	"  revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),"
	"  PRIMARY KEY (mbx, hash)"
	") WITHOUT ROWID;"
	"CREATE TABLE msg ("
	"  seq    INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  mbx    INTEGER NOT NULL REFERENCES mailbox (mbx),"
	"  msg_id BLOB NOT NULL CHECK (length(msg_id) = 16),"
	"  body   BLOB NOT NULL"
	");"
	"CREATE UNIQUE INDEX msg_by_id ON msg (mbx, msg_id);"
	"CREATE INDEX msg_by_seq ON msg (mbx);"
	"CREATE TABLE prekey_signed ("
	"  mbx  INTEGER PRIMARY KEY REFERENCES mailbox (mbx),"
	"  blob BLOB NOT NULL"
	");"
	"CREATE TABLE prekey_onetime ("
	"  pk   INTEGER PRIMARY KEY,"
	"  mbx  INTEGER NOT NULL REFERENCES mailbox (mbx),"
	"  blob BLOB NOT NULL"
	");"
	"CREATE INDEX prekey_onetime_fifo ON prekey_onetime (mbx);",
};

#define SCHEMA_VERSION ((int)BC_ARRAY_LEN(migrations))

/* ---- prepared statements ------------------------------------------------ */

enum stmt_id {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_SAVEPOINT,
	S_RELEASE,
	S_ROLLBACK_TO,
	S_MBX_GET,
	S_MBX_INFO,
	S_MBX_INSERT,
	S_MBX_ADD_MSGS,
	S_MBX_ADD_CAPS,
	S_MBX_ADD_ONETIME,
	S_CAP_GET,
	S_CAP_CHECK,
	S_CAP_INSERT,
	S_CAP_REVOKE,
	S_MSG_INSERT,
	S_MSG_FIND,
	S_MSG_DELETE,
	S_MSG_FETCH,
	S_PK_SIGNED_PUT,
	S_PK_SIGNED_GET,
	S_PK_OT_ADD,
	S_PK_OT_OLDEST,
	S_PK_OT_DELETE,
	S_COUNT
};

static const char *const stmt_sql[S_COUNT] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_SAVEPOINT] = "SAVEPOINT op",
	[S_RELEASE] = "RELEASE op",
	[S_ROLLBACK_TO] = "ROLLBACK TO op",
	[S_MBX_GET] = "SELECT mbx, owner, msgs, bytes, live_caps, onetime"
		      " FROM mailbox WHERE id = ?1",
	[S_MBX_INFO] = "SELECT msgs, bytes, onetime, EXISTS (SELECT 1 FROM"
		       " prekey_signed p WHERE p.mbx = m.mbx)"
		       " FROM mailbox m WHERE id = ?1",
	[S_MBX_INSERT] = "INSERT INTO mailbox (id, owner) VALUES (?1, ?2)"
			 " ON CONFLICT (id) DO NOTHING",
	[S_MBX_ADD_MSGS] = "UPDATE mailbox SET msgs = msgs + ?2,"
			   " bytes = bytes + ?3 WHERE mbx = ?1",
	[S_MBX_ADD_CAPS] = "UPDATE mailbox SET live_caps = live_caps + ?2"
			   " WHERE mbx = ?1",
	[S_MBX_ADD_ONETIME] = "UPDATE mailbox SET onetime = onetime + ?2"
			      " WHERE mbx = ?1",
	[S_CAP_GET] = "SELECT revoked FROM cap WHERE mbx = ?1 AND hash = ?2",
	[S_CAP_CHECK] = "SELECT c.revoked FROM mailbox m JOIN cap c"
			" ON c.mbx = m.mbx WHERE m.id = ?1 AND c.hash = ?2",
	[S_CAP_INSERT] = "INSERT INTO cap (mbx, hash) VALUES (?1, ?2)",
	[S_CAP_REVOKE] = "UPDATE cap SET revoked = 1"
			 " WHERE mbx = ?1 AND hash = ?2",
	[S_MSG_INSERT] = "INSERT INTO msg (mbx, msg_id, body)"
			 " VALUES (?1, ?2, ?3)"
			 " ON CONFLICT (mbx, msg_id) DO NOTHING",
	[S_MSG_FIND] = "SELECT seq, length(body) FROM msg"
		       " WHERE mbx = ?1 AND msg_id = ?2",
	[S_MSG_DELETE] = "DELETE FROM msg WHERE seq = ?1",
	[S_MSG_FETCH] = "SELECT seq, msg_id, body FROM msg"
			" WHERE mbx = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
	[S_PK_SIGNED_PUT] = "INSERT INTO prekey_signed (mbx, blob)"
			    " VALUES (?1, ?2) ON CONFLICT (mbx)"
			    " DO UPDATE SET blob = excluded.blob",
	[S_PK_SIGNED_GET] = "SELECT blob FROM prekey_signed WHERE mbx = ?1",
	[S_PK_OT_ADD] = "INSERT INTO prekey_onetime (mbx, blob)"
			" VALUES (?1, ?2)",
	[S_PK_OT_OLDEST] = "SELECT pk, blob FROM prekey_onetime"
			   " WHERE mbx = ?1 ORDER BY pk LIMIT 1",
	[S_PK_OT_DELETE] = "DELETE FROM prekey_onetime WHERE pk = ?1",
};

/* The background checkpointer (see the invariants above). */
struct ckpt {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	sqlite3 *db;  /* its own connection */
	bool kick;    /* under mu: the WAL wants a checkpoint */
	bool stop;    /* under mu: close() is waiting for the thread */
	int log;      /* under mu: WAL frames at the thread's last checkpoint */
	int done;     /* under mu: ... of which copied into relay.db */
	bool started; /* owner thread only: thread, mu, cv and db exist */
	int last;     /* owner thread only: WAL frames at the last kick */
};

struct bc_storage {
	sqlite3 *db;
	struct ckpt ck;
	sqlite3_stmt *stmt[S_COUNT];
	bc_storage_limits lim;
	bool in_group;	   /* begin() succeeded; commit()/rollback() pending */
	bool group_broken; /* SQLite rolled the group back on its own */
	bool in_fetch;	   /* a fetch callback is running */
};

/* A mailbox row as the write paths need it. */
typedef struct mbx_row {
	int64_t mbx;
	uint8_t owner[BC_OWNER_KEY_LEN];
	int64_t msgs, bytes, live_caps, onetime;
} mbx_row;

/* Bound in place of a NULL pointer for an empty blob: SQLite would store
 * a NULL pointer as SQL NULL, not as a zero-length blob. */
static const uint8_t empty_blob[1];

/* ---- error mapping and statement helpers -------------------------------- */

/* SQLite result code -> bc_err (docs/ARCHITECTURE.md ("Relay storage"), "Errors"). */
static int map_rc(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE: return BC_OK;
	case SQLITE_NOMEM: return BC_ERR_NOMEM;
	case SQLITE_TOOBIG: return BC_ERR_TOOBIG;
	case SQLITE_MISUSE:
	case SQLITE_RANGE: return BC_ERR_INTERNAL;
	default: /* IOERR, FULL, CORRUPT, NOTADB, CANTOPEN, BUSY, ... */
		return BC_ERR_STORAGE;
	}
}

/* Forget the statement's last run. Its step result has been handled by the
 * caller; sqlite3_reset would only repeat it, and clear_bindings cannot
 * fail. */
static void done(sqlite3_stmt *s)
{
	(void)sqlite3_reset(s);
	(void)sqlite3_clear_bindings(s);
}

static int bind_i64(sqlite3_stmt *s, int i, int64_t v)
{
	return map_rc(sqlite3_bind_int64(s, i, v));
}

/* Bind n bytes at p without copying (the statement is reset before the
 * caller's buffer can go away). */
static int bind_blob(sqlite3_stmt *s, int i, const uint8_t *p, size_t n)
{
	if (n > INT_MAX)
		return BC_ERR_TOOBIG;
	return map_rc(sqlite3_bind_blob(s, i, n ? (const void *)p : empty_blob,
					(int)n, SQLITE_STATIC));
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

/* Run a statement without parameters or result rows (the transaction
 * statements) and reset it. */
static int ctl(bc_storage *st, enum stmt_id id)
{
	bool row;
	int rc = step(st->stmt[id], &row);
	done(st->stmt[id]);
	return rc;
}

/* A column that must be a blob of exactly n bytes; copies it to out.
 * A mismatch means the file does not hold what the schema promises. */
static int column_fixed(sqlite3_stmt *s, int col, uint8_t *out, size_t n)
{
	const void *p = sqlite3_column_blob(s, col);
	int len = sqlite3_column_bytes(s, col);
	if (p == NULL || len < 0 || (size_t)len != n)
		return BC_ERR_STORAGE;
	memcpy(out, p, n);
	return BC_OK;
}

/* A copy of a blob column in a new buffer (bc_free), never NULL on BC_OK. */
static int column_dup(sqlite3_stmt *s, int col, uint8_t **out, size_t *len)
{
	const void *p = sqlite3_column_blob(s, col);
	int n = sqlite3_column_bytes(s, col);
	if (n < 0 || (p == NULL && n > 0))
		return sqlite3_errcode(sqlite3_db_handle(s)) == SQLITE_NOMEM
			       ? BC_ERR_NOMEM
			       : BC_ERR_STORAGE;
	*out = bc_memdup(p ? p : empty_blob, (size_t)n);
	if (*out == NULL)
		return BC_ERR_NOMEM;
	*len = (size_t)n;
	return BC_OK;
}

/* ---- transactions ------------------------------------------------------- */

/* Drop whatever SQLite transaction is open, so the handle is back in
 * autocommit mode. Best effort: ROLLBACK fails only if SQLite already rolled
 * back (then there is nothing to do) or on a deeper fault, in which case the
 * next op_begin()/begin() tries again. */
static void abandon(bc_storage *st)
{
	if (sqlite3_get_autocommit(st->db))
		return;
	if (st->stmt[S_ROLLBACK] != NULL)
		(void)ctl(st, S_ROLLBACK);
	else /* open() failed before preparing statements */
		(void)sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Start a write operation: its own transaction outside a group, the
 * savepoint "op" inside one. On failure nothing is open. */
static int op_begin(bc_storage *st)
{
	if (!st->in_group) {
		abandon(st);
		return ctl(st, S_BEGIN);
	}
	/* Any statement of the group, a read included, may have made SQLite
	 * roll the group back (an I/O error reading a page does). A
	 * savepoint would then start a new transaction of its own. */
	if (sqlite3_get_autocommit(st->db))
		st->group_broken = true;
	return st->group_broken ? BC_ERR_STORAGE : ctl(st, S_SAVEPOINT);
}

/* End the write operation started by op_begin(): keep it if rc is BC_OK
 * (outside a group this is the durable COMMIT), otherwise undo all of it.
 * Returns rc, or the error of the failed COMMIT/RELEASE. */
static int op_end(bc_storage *st, int rc)
{
	if (rc == BC_OK) {
		rc = ctl(st, st->in_group ? S_RELEASE : S_COMMIT);
		if (rc == BC_OK)
			return BC_OK;
		if (!st->in_group)
			rc = BC_ERR_STORAGE; /* not durable, rolled back */
	}
	if (!st->in_group) {
		abandon(st);
		return rc;
	}
	if (sqlite3_get_autocommit(st->db) || ctl(st, S_ROLLBACK_TO) != BC_OK ||
	    ctl(st, S_RELEASE) != BC_OK) {
		st->group_broken = true;
		abandon(st);
	}
	return rc;
}

/* Entry check of every operation. */
static int usable(const bc_storage *st)
{
	if (st == NULL)
		return BC_ERR_INVALID;
	return st->in_fetch ? BC_ERR_STATE : BC_OK;
}

/* ---- row helpers (each resets the statements it used) ------------------- */

static int mbx_get(bc_storage *st, const uint8_t *id, mbx_row *r)
{
	sqlite3_stmt *s = st->stmt[S_MBX_GET];
	bool row;
	int rc;

	rc = bind_blob(s, 1, id, BC_MAILBOX_ID_LEN);
	if (rc != BC_OK)
		goto out;
	rc = step(s, &row);
	if (rc != BC_OK)
		goto out;
	if (!row) {
		rc = BC_ERR_NOTFOUND;
		goto out;
	}
	r->mbx = sqlite3_column_int64(s, 0);
	rc = column_fixed(s, 1, r->owner, sizeof(r->owner));
	r->msgs = sqlite3_column_int64(s, 2);
	r->bytes = sqlite3_column_int64(s, 3);
	r->live_caps = sqlite3_column_int64(s, 4);
	r->onetime = sqlite3_column_int64(s, 5);
	if (rc == BC_OK &&
	    (r->msgs < 0 || r->bytes < 0 || r->live_caps < 0 || r->onetime < 0))
		rc = BC_ERR_STORAGE;
out:
	done(s);
	return rc;
}

/* UPDATE mailbox SET <counter(s)> += delta WHERE mbx = ?. */
static int mbx_add(bc_storage *st, enum stmt_id id, int64_t mbx, int64_t d1,
		   int64_t d2)
{
	sqlite3_stmt *s = st->stmt[id];
	bool row;
	int rc;

	rc = bind_i64(s, 1, mbx);
	if (rc == BC_OK)
		rc = bind_i64(s, 2, d1);
	if (rc == BC_OK && id == S_MBX_ADD_MSGS)
		rc = bind_i64(s, 3, d2);
	if (rc == BC_OK)
		rc = step(s, &row);
	if (rc == BC_OK && sqlite3_changes(st->db) != 1)
		rc = BC_ERR_INTERNAL;
	done(s);
	return rc;
}

/* Insert (mbx, msg_id, body) unless that (mbx, msg_id) exists; *seq is the
 * new row's seq when *fresh. */
static int msg_insert(bc_storage *st, int64_t mbx, const uint8_t *msg_id,
		      const uint8_t *body, size_t len, int64_t *seq,
		      bool *fresh)
{
	sqlite3_stmt *s = st->stmt[S_MSG_INSERT];
	bool row;
	int rc;

	rc = bind_i64(s, 1, mbx);
	if (rc == BC_OK)
		rc = bind_blob(s, 2, msg_id, BC_MSG_ID_LEN);
	if (rc == BC_OK)
		rc = bind_blob(s, 3, body, len);
	if (rc == BC_OK)
		rc = step(s, &row);
	if (rc == BC_OK) {
		*fresh = sqlite3_changes(st->db) == 1;
		*seq = sqlite3_last_insert_rowid(st->db);
	}
	done(s);
	return rc;
}

/* The seq and body length of (mbx, msg_id); BC_ERR_NOTFOUND if absent. */
static int msg_find(bc_storage *st, int64_t mbx, const uint8_t *msg_id,
		    int64_t *seq, int64_t *len)
{
	sqlite3_stmt *s = st->stmt[S_MSG_FIND];
	bool row = false;
	int rc;

	rc = bind_i64(s, 1, mbx);
	if (rc == BC_OK)
		rc = bind_blob(s, 2, msg_id, BC_MSG_ID_LEN);
	if (rc == BC_OK)
		rc = step(s, &row);
	if (rc == BC_OK && !row)
		rc = BC_ERR_NOTFOUND;
	if (rc == BC_OK) {
		*seq = sqlite3_column_int64(s, 0);
		*len = sqlite3_column_int64(s, 1);
	}
	done(s);
	return rc;
}

/* Run a statement bound to one integer (a delete by key). */
static int exec_i64(bc_storage *st, enum stmt_id id, int64_t v)
{
	sqlite3_stmt *s = st->stmt[id];
	bool row;
	int rc;

	rc = bind_i64(s, 1, v);
	if (rc == BC_OK)
		rc = step(s, &row);
	if (rc == BC_OK && sqlite3_changes(st->db) != 1)
		rc = BC_ERR_INTERNAL;
	done(s);
	return rc;
}

/* Run a statement bound to (integer, blob) that changes exactly one row. */
static int exec_i64_blob(bc_storage *st, enum stmt_id id, int64_t v,
			 const uint8_t *p, size_t n)
{
	sqlite3_stmt *s = st->stmt[id];
	bool row;
	int rc;

	rc = bind_i64(s, 1, v);
	if (rc == BC_OK)
		rc = bind_blob(s, 2, p, n);
	if (rc == BC_OK)
		rc = step(s, &row);
	if (rc == BC_OK && sqlite3_changes(st->db) != 1)
		rc = BC_ERR_INTERNAL;
	done(s);
	return rc;
}

/* The revoked flag of (mbx, hash); BC_ERR_NOTFOUND if never registered. */
static int cap_get(bc_storage *st, int64_t mbx, const uint8_t *hash,
		   bool *revoked)
{
	sqlite3_stmt *s = st->stmt[S_CAP_GET];
	bool row = false;
	int rc;

	rc = bind_i64(s, 1, mbx);
	if (rc == BC_OK)
		rc = bind_blob(s, 2, hash, BC_CAP_HASH_LEN);
	if (rc == BC_OK)
		rc = step(s, &row);
	if (rc == BC_OK && !row)
		rc = BC_ERR_NOTFOUND;
	if (rc == BC_OK)
		*revoked = sqlite3_column_int64(s, 0) != 0;
	done(s);
	return rc;
}

/* ---- open and close ------------------------------------------------------ */

/* Run SQL text once (open-time only; never on a request path). */
static int exec_sql(sqlite3 *db, const char *sql)
{
	return map_rc(sqlite3_exec(db, sql, NULL, NULL, NULL));
}

/* The single integer result of a one-off query (a PRAGMA). */
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

/*
 * Create <dir>/relay.db if needed, without following a symlink, as a
 * regular file of ours with mode 0600; tighten the mode of an existing
 * file. On success *dev and *ino identify the file (checked again after SQLite
 * has opened the path). The descriptor is closed before SQLite opens the
 * file: closing any descriptor of a file drops the process's POSIX locks on
 * it, SQLite's included.
 */
static int prepare_file(const char *path, const char *dir, dev_t *dev,
			ino_t *ino)
{
	struct stat sb;
	int fd, dfd = -1, rc = BC_ERR_STORAGE;
	bool created = true;

	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0 && errno == EEXIST) {
		created = false;
		fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0) /* ELOOP: a symlink */
		goto out;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
	    sb.st_uid != geteuid())
		goto out;
	if ((sb.st_mode & 077) != 0 && fchmod(fd, 0600) != 0)
		goto out;
	if (created) {
		/* Make the new directory entry durable. */
		dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0 || fsync(fd) != 0 || fsync(dfd) != 0)
			goto out;
	}
	*dev = sb.st_dev;
	*ino = sb.st_ino;
	rc = BC_OK;
out:
	if (dfd >= 0 && close(dfd) != 0)
		rc = BC_ERR_STORAGE;
	if (fd >= 0 && close(fd) != 0)
		rc = BC_ERR_STORAGE;
	return rc;
}

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
	if (rc == BC_OK)
		rc = exec_sql(db, "PRAGMA foreign_keys = ON;"
				  "PRAGMA temp_store = MEMORY;"
				  "PRAGMA mmap_size = 0;"
				  "PRAGMA cell_size_check = ON;");
	if (rc == BC_OK)
		rc = exec_sql(db, "PRAGMA cache_size = -" STR(CACHE_KIB));
	if (rc == BC_OK)
		rc = exec_sql(
			db, "PRAGMA journal_size_limit = " STR(WAL_SIZE_LIMIT));
	return rc;
}

/* Is this an empty file or a relay database of a version we know?
 * *version is its schema version (0: empty). Another application's file
 * is BC_ERR_STORAGE, a newer relay's BC_ERR_VERSION. Read-only: run before
 * the file is touched, and again inside the transaction that creates or
 * upgrades the schema. */
static int identify(sqlite3 *db, int64_t *version)
{
	int64_t app, ver, objs;
	int rc;

	rc = query_int(db, "PRAGMA application_id", &app);
	if (rc == BC_OK)
		rc = query_int(db, "PRAGMA user_version", &ver);
	if (rc == BC_OK)
		rc = query_int(db, "SELECT count(*) FROM sqlite_schema", &objs);
	if (rc != BC_OK)
		return rc == BC_ERR_NOMEM ? rc : BC_ERR_STORAGE; /* NOTADB */
	if (app == 0 && (ver != 0 || objs != 0))
		return BC_ERR_STORAGE; /* some other SQLite file */
	if (app != 0 && app != APP_ID)
		return BC_ERR_STORAGE;
	if (ver < 0 || ver > SCHEMA_VERSION)
		return BC_ERR_VERSION; /* written by a newer relay */
	*version = ver;
	return BC_OK;
}

/* Switch the file to WAL (persistent) and this connection to
 * synchronous=FULL, and read back what durability depends on. */
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
		rc = query_int(db, "PRAGMA foreign_keys", &v);
	if (rc == BC_OK && v != 1)
		rc = BC_ERR_STORAGE;
	return rc;
}

/* Check the file is sound (quick_check: b-tree structure, record formats,
 * index order; O(size of the file)) and create or upgrade the schema in
 * one transaction. */
static int setup_schema(sqlite3 *db)
{
	char sql[64];
	int64_t ver;
	int rc, n;

	rc = query_is(db, "PRAGMA quick_check", "ok");
	if (rc != BC_OK)
		return rc == BC_ERR_NOMEM ? rc : BC_ERR_STORAGE;
	rc = exec_sql(db, "BEGIN IMMEDIATE");
	if (rc != BC_OK)
		return rc;
	rc = identify(db, &ver);
	if (rc != BC_OK || ver == SCHEMA_VERSION)
		goto out;
	for (; ver < SCHEMA_VERSION && rc == BC_OK; ver++)
		rc = exec_sql(db, migrations[ver]);
	if (rc != BC_OK)
		goto out;
	n = snprintf(sql, sizeof(sql),
		     "PRAGMA user_version = %d; PRAGMA application_id = %d",
		     SCHEMA_VERSION, APP_ID);
	if (n < 0 || (size_t)n >= sizeof(sql)) {
		rc = BC_ERR_INTERNAL;
		goto out;
	}
	rc = exec_sql(db, sql);
out:
	if (rc == BC_OK)
		rc = exec_sql(db, "COMMIT");
	if (rc != BC_OK && !sqlite3_get_autocommit(db))
		(void)exec_sql(db, "ROLLBACK");
	return rc;
}

/* ---- the background checkpointer ---------------------------------------- */

/* fsync relay.db through the checkpointer connection's own file handle.
 * SQLite syncs relay.db only when a checkpoint reaches the end of the WAL,
 * which under steady load happens only in the catch-up inside commit();
 * syncing the partial copies here keeps that catch-up's fsync small. For
 * speed only: durability rests on the WAL, which is not rewound before a
 * checkpoint has synced relay.db itself. */
static void ckpt_sync(sqlite3 *db)
{
	sqlite3_file *fp = NULL;

	if (sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &fp) ==
		    SQLITE_OK &&
	    fp != NULL && fp->pMethods != NULL)
		(void)fp->pMethods->xSync(fp, SQLITE_SYNC_NORMAL);
}

static void *ckpt_main(void *arg)
{
	struct ckpt *ck = arg;
	struct timespec ts;
	int rc, log, done, synced = 0;

	if (pthread_mutex_lock(&ck->mu) != 0)
		return NULL;
	while (!ck->stop) {
		if (!ck->kick && clock_gettime(CLOCK_MONOTONIC, &ts) == 0) {
			ts.tv_sec += CKPT_PERIOD_S;
			/* ETIMEDOUT is the idle tick */
			(void)pthread_cond_timedwait(&ck->cv, &ck->mu, &ts);
		}
		if (ck->stop)
			break;
		ck->kick = false;
		(void)pthread_mutex_unlock(&ck->mu);
		/* A failed or partial checkpoint leaves the WAL in charge;
		 * the next one starts over. Nothing to report. */
		log = done = -1;
		rc = sqlite3_wal_checkpoint_v2(
			ck->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
		if (rc == SQLITE_OK && done > 0 && done != synced) {
			ckpt_sync(ck->db);
			synced = done;
		}
		if (pthread_mutex_lock(&ck->mu) != 0)
			return NULL;
		if (rc == SQLITE_OK && log >= 0 && done >= 0) {
			ck->log = log;
			ck->done = done;
		}
	}
	(void)pthread_mutex_unlock(&ck->mu);
	return NULL;
}

/* Called by SQLite after each commit on the handle's connection, with the
 * number of frames in the WAL; see the invariants at the top. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct ckpt *ck = arg;
	int log = 0, done = 0;
	bool locked;

	locked = pthread_mutex_lock(&ck->mu) == 0;
	if (locked && frames < ck->last) {
		/* The WAL was started over: the thread's numbers are about
		 * the old one. */
		ck->log = ck->done = 0;
		ck->last = 0;
	}
	if (locked) {
		log = ck->log;
		done = ck->done;
		if (frames >= WAL_CHECKPOINT_PAGES &&
		    frames - ck->last >= WAL_CHECKPOINT_PAGES) {
			ck->last = frames;
			ck->kick = true;
			(void)pthread_cond_signal(&ck->cv);
		}
		(void)pthread_mutex_unlock(&ck->mu);
	}
	/* PASSIVE never waits: if the thread is checkpointing, this one
	 * returns SQLITE_BUSY at once and the next commit tries again. */
	if (frames >= WAL_INLINE_PAGES ||
	    (frames >= WAL_RESTART_PAGES && done > 0 && done == log &&
	     log <= frames && frames - done <= WAL_CATCHUP_PAGES))
		(void)sqlite3_wal_checkpoint_v2(
			db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	return SQLITE_OK;
}

static void ckpt_stop(struct ckpt *ck)
{
	if (!ck->started)
		return;
	if (pthread_mutex_lock(&ck->mu) == 0) {
		ck->stop = true;
		(void)pthread_cond_signal(&ck->cv);
		(void)pthread_mutex_unlock(&ck->mu);
	}
	(void)pthread_join(ck->thread, NULL);
	(void)sqlite3_close_v2(ck->db);
	(void)pthread_cond_destroy(&ck->cv);
	(void)pthread_mutex_destroy(&ck->mu);
	ck->started = false;
	ck->db = NULL;
}

/* Start the checkpointer on path and hook it to the handle's connection.
 * If it cannot be started, SQLite's own auto-checkpoint (inside the commit
 * that crosses WAL_CHECKPOINT_PAGES) is used instead: the same guarantees,
 * slower commits. */
static void ckpt_start(bc_storage *st, const char *path)
{
	struct ckpt *ck = &st->ck;
	pthread_condattr_t ca;
	bool mu = false, cv = false;
	int rc;

	if (!sqlite3_threadsafe())
		goto fallback;
	rc = sqlite3_open_v2(path, &ck->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW |
				     SQLITE_OPEN_NOMUTEX,
			     NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_busy_timeout(ck->db, BUSY_TIMEOUT_MS);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(ck->db,
				  "PRAGMA synchronous = FULL;"
				  "PRAGMA mmap_size = 0;"
				  "PRAGMA cache_size = -" STR(CKPT_CACHE_KIB),
				  NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto fallback;
	mu = pthread_mutex_init(&ck->mu, NULL) == 0;
	if (mu && pthread_condattr_init(&ca) == 0) {
		cv = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
		     pthread_cond_init(&ck->cv, &ca) == 0;
		(void)pthread_condattr_destroy(&ca);
	}
	if (!cv || pthread_create(&ck->thread, NULL, ckpt_main, ck) != 0)
		goto fallback;
	ck->started = true;
	(void)sqlite3_wal_hook(st->db, wal_hook, ck);
	return;
fallback:
	if (cv)
		(void)pthread_cond_destroy(&ck->cv);
	if (mu)
		(void)pthread_mutex_destroy(&ck->mu);
	(void)sqlite3_close_v2(ck->db); /* NULL is a no-op */
	ck->db = NULL;
	(void)sqlite3_wal_autocheckpoint(st->db, WAL_CHECKPOINT_PAGES);
}

static void sq_close(bc_storage *st)
{
	if (st == NULL)
		return;
	ckpt_stop(&st->ck);
	if (st->db != NULL) {
		abandon(st);
		for (size_t i = 0; i < S_COUNT; i++)
			(void)sqlite3_finalize(st->stmt[i]);
		/* Every statement is finalized, so this closes now (and
		 * checkpoints the WAL into the database file). */
		(void)sqlite3_close_v2(st->db);
	}
	bc_free(st);
}

static int sq_open(bc_storage **out, const char *dir,
		   const bc_storage_limits *lim)
{
	char real[PATH_MAX];
	bc_storage *st = NULL;
	char *path = NULL;
	struct stat sb;
	dev_t dev;
	ino_t ino;
	int64_t ver;
	size_t dlen;
	int rc;

	if (out == NULL || dir == NULL)
		return BC_ERR_INVALID;
	*out = NULL;
	if (lim != NULL && lim->mailbox_max_bytes > INT64_MAX)
		return BC_ERR_INVALID;
	/* Resolve the directory: SQLITE_OPEN_NOFOLLOW refuses a symlink
	 * anywhere in the path, and only relay.db itself must not be one. */
	if (realpath(dir, real) == NULL || stat(real, &sb) != 0 ||
	    !S_ISDIR(sb.st_mode) || (sb.st_mode & S_IWOTH) != 0)
		return BC_ERR_STORAGE;
	st = bc_calloc(1, sizeof(*st));
	if (st == NULL) {
		rc = BC_ERR_NOMEM;
		goto out;
	}
	if (lim != NULL)
		st->lim = *lim;
	else
		bc_storage_limits_default(&st->lim);
	dlen = strlen(real);
	path = bc_malloc(dlen + sizeof("/" DB_NAME));
	if (path == NULL) {
		rc = BC_ERR_NOMEM;
		goto out;
	}
	memcpy(path, real, dlen);
	memcpy(path + dlen, "/" DB_NAME, sizeof("/" DB_NAME));

	rc = prepare_file(path, real, &dev, &ino);
	if (rc != BC_OK)
		goto out;
	rc = map_rc(sqlite3_open_v2(
		path, &st->db,
		SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW |
			SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
		NULL));
	if (rc != BC_OK) {
		rc = rc == BC_ERR_NOMEM ? rc : BC_ERR_STORAGE;
		goto out;
	}
	/* The file SQLite opened is the one checked above. */
	if (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_dev != dev ||
	    sb.st_ino != ino) {
		rc = BC_ERR_STORAGE;
		goto out;
	}
	/* Nothing is written to a file that is not ours. */
	rc = configure(st->db);
	if (rc == BC_OK)
		rc = identify(st->db, &ver);
	if (rc == BC_OK)
		rc = make_durable(st->db);
	if (rc == BC_OK)
		rc = setup_schema(st->db);
	for (size_t i = 0; i < S_COUNT && rc == BC_OK; i++)
		rc = map_rc(sqlite3_prepare_v3(st->db, stmt_sql[i], -1,
					       SQLITE_PREPARE_PERSISTENT,
					       &st->stmt[i], NULL));
	if (rc != BC_OK)
		goto out;
	ckpt_start(st, path);
	*out = st;
	st = NULL;
out:
	sq_close(st);
	bc_free(path);
	return rc;
}

/* ---- group transactions -------------------------------------------------- */

static int sq_begin(bc_storage *st)
{
	int rc = usable(st);
	if (rc != BC_OK)
		return rc;
	if (st->in_group)
		return BC_ERR_STATE;
	abandon(st);
	rc = ctl(st, S_BEGIN);
	if (rc == BC_OK) {
		st->in_group = true;
		st->group_broken = false;
	}
	return rc;
}

static int sq_commit(bc_storage *st)
{
	int rc = usable(st);
	if (rc != BC_OK)
		return rc;
	if (!st->in_group)
		return BC_ERR_STATE;
	st->in_group = false;
	if (st->group_broken || sqlite3_get_autocommit(st->db)) {
		st->group_broken = false;
		rc = BC_ERR_STORAGE;
	} else {
		rc = ctl(st, S_COMMIT);
	}
	if (rc != BC_OK) {
		abandon(st);
		rc = BC_ERR_STORAGE; /* whatever the cause: rolled back */
	}
	return rc;
}

static void sq_rollback(bc_storage *st)
{
	if (usable(st) != BC_OK || !st->in_group)
		return;
	st->in_group = false;
	st->group_broken = false;
	abandon(st);
}

/* ---- mailboxes ----------------------------------------------------------- */

static int sq_mailbox_info(bc_storage *st, const uint8_t *mailbox,
			   bc_mailbox_info *info)
{
	sqlite3_stmt *s;
	int64_t msgs, bytes, onetime;
	bool row = false;
	int rc = usable(st);

	if (rc != BC_OK)
		return rc;
	if (mailbox == NULL || info == NULL)
		return BC_ERR_INVALID;
	s = st->stmt[S_MBX_INFO];
	rc = bind_blob(s, 1, mailbox, BC_MAILBOX_ID_LEN);
	if (rc == BC_OK)
		rc = step(s, &row);
	if (rc == BC_OK && !row)
		rc = BC_ERR_NOTFOUND;
	if (rc != BC_OK)
		goto out;
	msgs = sqlite3_column_int64(s, 0);
	bytes = sqlite3_column_int64(s, 1);
	onetime = sqlite3_column_int64(s, 2);
	if (msgs < 0 || msgs > UINT32_MAX || bytes < 0 || onetime < 0 ||
	    onetime > UINT32_MAX) {
		rc = BC_ERR_STORAGE;
		goto out;
	}
	memset(info, 0, sizeof(*info));
	info->msgs = (uint32_t)msgs;
	info->bytes = (uint64_t)bytes;
	info->onetime_prekeys = (uint32_t)onetime;
	info->has_signed_prekey = sqlite3_column_int64(s, 3) != 0;
out:
	done(s);
	return rc;
}

static int sq_mailbox_open(bc_storage *st, const uint8_t *id,
			   const uint8_t *owner, bc_mailbox_info *info)
{
	sqlite3_stmt *s;
	mbx_row r;
	bool created = false, row;
	int rc = usable(st);

	if (rc != BC_OK)
		return rc;
	if (id == NULL || owner == NULL)
		return BC_ERR_INVALID;
	/* The common case, an existing mailbox, needs no write transaction. */
	rc = mbx_get(st, id, &r);
	if (rc == BC_ERR_NOTFOUND) {
		rc = op_begin(st);
		if (rc != BC_OK)
			return rc;
		s = st->stmt[S_MBX_INSERT];
		rc = bind_blob(s, 1, id, BC_MAILBOX_ID_LEN);
		if (rc == BC_OK)
			rc = bind_blob(s, 2, owner, BC_OWNER_KEY_LEN);
		if (rc == BC_OK)
			rc = step(s, &row);
		if (rc == BC_OK)
			created = sqlite3_changes(st->db) == 1;
		done(s);
		if (rc == BC_OK)
			rc = mbx_get(st, id, &r);
		if (rc == BC_ERR_NOTFOUND)
			rc = BC_ERR_INTERNAL;
		rc = op_end(st, rc);
	}
	if (rc != BC_OK)
		goto out;
	if (memcmp(r.owner, owner, BC_OWNER_KEY_LEN) != 0) {
		rc = BC_ERR_FORBIDDEN;
		goto out;
	}
	if (info != NULL) {
		if (created) {
			memset(info, 0, sizeof(*info));
			info->created = true;
		} else {
			rc = sq_mailbox_info(st, id, info);
		}
	}
out:
	return rc;
}

static int sq_mailbox_owner(bc_storage *st, const uint8_t *id,
			    uint8_t owner[BC_OWNER_KEY_LEN])
{
	mbx_row r;
	int rc = usable(st);

	if (rc != BC_OK)
		return rc;
	if (id == NULL || owner == NULL)
		return BC_ERR_INVALID;
	rc = mbx_get(st, id, &r);
	if (rc == BC_OK)
		memcpy(owner, r.owner, BC_OWNER_KEY_LEN);
	return rc;
}

/* ---- capabilities -------------------------------------------------------- */

static int sq_cap_add(bc_storage *st, const uint8_t *mailbox,
		      const uint8_t *cap_hash)
{
	mbx_row r;
	bool revoked;
	int rc = usable(st);

	if (rc != BC_OK)
		return rc;
	if (mailbox == NULL || cap_hash == NULL)
		return BC_ERR_INVALID;
	rc = op_begin(st);
	if (rc != BC_OK)
		return rc;
	rc = mbx_get(st, mailbox, &r);
	if (rc != BC_OK)
		goto out;
	rc = cap_get(st, r.mbx, cap_hash, &revoked);
	if (rc == BC_OK) {
		/* Registered already: idempotent, unless it was revoked,
		 * which is for ever. */
		rc = revoked ? BC_ERR_CAPABILITY : BC_OK;
		goto out;
	}
	if (rc != BC_ERR_NOTFOUND)
		goto out;
	if (r.live_caps >= (int64_t)st->lim.max_caps_per_mailbox) {
		rc = BC_ERR_QUOTA;
		goto out;
	}
	rc = exec_i64_blob(st, S_CAP_INSERT, r.mbx, cap_hash, BC_CAP_HASH_LEN);
	if (rc == BC_OK)
		rc = mbx_add(st, S_MBX_ADD_CAPS, r.mbx, 1, 0);
out:
	return op_end(st, rc);
}

static int sq_cap_revoke(bc_storage *st, const uint8_t *mailbox,
			 const uint8_t *cap_hash)
{
	mbx_row r;
	bool revoked;
	int rc = usable(st);

	if (rc != BC_OK)
		return rc;
	if (mailbox == NULL || cap_hash == NULL)
		return BC_ERR_INVALID;
	rc = op_begin(st);
	if (rc != BC_OK)
		return rc;
	rc = mbx_get(st, mailbox, &r);
	if (rc == BC_OK)
		rc = cap_get(st, r.mbx, cap_hash, &revoked);
	if (rc != BC_OK || revoked)
		goto out; /* revoking twice is not an error */
	rc = exec_i64_blob(st, S_CAP_REVOKE, r.mbx, cap_hash, BC_CAP_HASH_LEN);
	if (rc == BC_OK)
		rc = mbx_add(st, S_MBX_ADD_CAPS, r.mbx, -1, 0);
out:
	return op_end(st, rc);
}

static int sq_cap_check(bc_storage *st, const uint8_t *mailbox,
			const uint8_t *cap_hash)
{
	sqlite3_stmt *s;
	bool row = false;
	int rc = usable(st);

	if (rc != BC_OK)
		return rc;
	if (mailbox == NULL || cap_hash == NULL)
		return BC_ERR_INVALID;
	s = st->stmt[S_CAP_CHECK];
	rc = bind_blob(s, 1, mailbox, BC_MAILBOX_ID_LEN);
	if (rc == BC_OK)
		rc = bind_blob(s, 2, cap_hash, BC_CAP_HASH_LEN);
	if (rc == BC_OK)
		rc = step(s, &row);
	if (rc == BC_OK && (!row || sqlite3_column_int64(s, 0) != 0))
		rc = BC_ERR_CAPABILITY;
	done(s);
	return rc;
}

/* ---- messages ------------------------------------------------------------ */

/*
 * Store one copy of a post, inside the post's savepoint. first_new is the
 * seq of the first copy this post inserted (0 if none yet): an existing row
 * at or beyond it was inserted by this very post, i.e. the same mailbox is
 * named twice. The quota is checked after the insert so that a retried
 * post to a full mailbox is still recognised as a duplicate; the savepoint
 * undoes the insert when the quota says no.
 */
static int post_copy(bc_storage *st, const uint8_t *msg_id,
		     const bc_post_copy *c, int64_t first_new, int64_t *seq,
		     bool *fresh)
{
	mbx_row r;
	int64_t len;
	int rc;

	*fresh = false;
	rc = mbx_get(st, c->mailbox, &r);
	if (rc == BC_OK)
		rc = msg_insert(st, r.mbx, msg_id, c->body, c->body_len, seq,
				fresh);
	if (rc != BC_OK)
		goto out;
	if (!*fresh) {
		rc = msg_find(st, r.mbx, msg_id, seq, &len);
		if (rc == BC_ERR_NOTFOUND)
			rc = BC_ERR_INTERNAL; /* the insert saw it */
		else if (rc == BC_OK && first_new != 0 && *seq >= first_new)
			rc = BC_ERR_INVALID;
		goto out;
	}
	if (r.msgs >= (int64_t)st->lim.mailbox_max_msgs ||
	    (uint64_t)r.bytes + c->body_len > st->lim.mailbox_max_bytes) {
		rc = BC_ERR_QUOTA;
		goto out;
	}
	rc = mbx_add(st, S_MBX_ADD_MSGS, r.mbx, 1, (int64_t)c->body_len);
out:
	return rc;
}

static int sq_post(bc_storage *st, const uint8_t *msg_id,
		   const bc_post_copy *copies, size_t n, uint64_t *seqs,
		   bool *dup)
{
	int64_t seq, first_new = 0;
	bool fresh;
	int rc = usable(st);

	if (rc != BC_OK)
		return rc;
	if (msg_id == NULL || copies == NULL || n == 0)
		return BC_ERR_INVALID;
	for (size_t i = 0; i < n; i++) {
		if (copies[i].mailbox == NULL ||
		    (copies[i].body == NULL && copies[i].body_len != 0))
			return BC_ERR_INVALID;
		if (copies[i].body_len > st->lim.max_body)
			return BC_ERR_TOOBIG;
	}
	rc = op_begin(st);
	if (rc != BC_OK)
		return rc;
	for (size_t i = 0; i < n; i++) {
		rc = post_copy(st, msg_id, &copies[i], first_new, &seq, &fresh);
		if (rc != BC_OK)
			goto out;
		if (fresh && first_new == 0)
			first_new = seq;
		if (seqs != NULL)
			seqs[i] = (uint64_t)seq;
	}
out:
	rc = op_end(st, rc);
	if (rc == BC_OK && dup != NULL)
		*dup = first_new == 0;
	return rc;
}

static int sq_fetch(bc_storage *st, const uint8_t *mailbox, uint64_t after_seq,
		    uint32_t max_msgs, size_t max_bytes, bc_fetch_cb cb,
		    void *ctx)
{
	sqlite3_stmt *s = NULL;
	bc_stored_msg m;
	mbx_row r;
	size_t total = 0;
	uint32_t count = 0;
	const void *body;
	int blen, src;
	int rc = usable(st);

	if (rc != BC_OK)
		return rc;
	if (mailbox == NULL || cb == NULL)
		return BC_ERR_INVALID;
	rc = mbx_get(st, mailbox, &r);
	if (rc != BC_OK || max_msgs == 0)
		return rc;
	s = st->stmt[S_MSG_FETCH];
	rc = bind_i64(s, 1, r.mbx);
	if (rc == BC_OK)
		rc = bind_i64(s, 2,
			      after_seq > INT64_MAX ? INT64_MAX
						    : (int64_t)after_seq);
	if (rc == BC_OK)
		rc = bind_i64(s, 3, max_msgs);
	if (rc != BC_OK)
		goto out;
	st->in_fetch = true;
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		m.msg_id = sqlite3_column_blob(s, 1);
		body = sqlite3_column_blob(s, 2);
		blen = sqlite3_column_bytes(s, 2);
		if (sqlite3_column_bytes(s, 1) != BC_MSG_ID_LEN ||
		    m.msg_id == NULL || blen < 0 ||
		    (body == NULL && blen > 0)) {
			rc = sqlite3_errcode(st->db) == SQLITE_NOMEM
				     ? BC_ERR_NOMEM
				     : BC_ERR_STORAGE;
			goto out;
		}
		/* Stop before max_bytes would be exceeded, but hand out at
		 * least one message. */
		if (count > 0 && (size_t)blen > max_bytes - total)
			break;
		total += (size_t)blen;
		m.seq = (uint64_t)sqlite3_column_int64(s, 0);
		m.body = body ? body : empty_blob;
		m.body_len = (size_t)blen;
		count++;
		rc = cb(ctx, &m);
		if (rc != BC_OK)
			goto out;
		if (total > max_bytes)
			break; /* only the first message can get here */
	}
	if (src != SQLITE_ROW)
		rc = map_rc(src);
out:
	st->in_fetch = false;
	done(s);
	return rc;
}

static int sq_ack(bc_storage *st, const uint8_t *mailbox, const uint8_t *msg_id)
{
	mbx_row r;
	int64_t seq, len;
	int rc = usable(st);

	if (rc != BC_OK)
		return rc;
	if (mailbox == NULL || msg_id == NULL)
		return BC_ERR_INVALID;
	rc = op_begin(st);
	if (rc != BC_OK)
		return rc;
	rc = mbx_get(st, mailbox, &r);
	if (rc == BC_OK)
		rc = msg_find(st, r.mbx, msg_id, &seq, &len);
	if (rc == BC_OK)
		rc = exec_i64(st, S_MSG_DELETE, seq);
	if (rc == BC_OK)
		rc = mbx_add(st, S_MBX_ADD_MSGS, r.mbx, -1, -len);
	return op_end(st, rc);
}

/* ---- prekeys ------------------------------------------------------------- */

static int sq_prekey_put_signed(bc_storage *st, const uint8_t *mailbox,
				const uint8_t *blob, size_t len)
{
	sqlite3_stmt *s;
	mbx_row r;
	bool row;
	int rc = usable(st);

	if (rc != BC_OK)
		return rc;
	if (mailbox == NULL || blob == NULL || len == 0)
		return BC_ERR_INVALID;
	if (len > st->lim.max_prekey_blob)
		return BC_ERR_TOOBIG;
	rc = op_begin(st);
	if (rc != BC_OK)
		return rc;
	rc = mbx_get(st, mailbox, &r);
	if (rc != BC_OK)
		goto out;
	/* An upsert (insert or replace the blob). */
	s = st->stmt[S_PK_SIGNED_PUT];
	rc = bind_i64(s, 1, r.mbx);
	if (rc == BC_OK)
		rc = bind_blob(s, 2, blob, len);
	if (rc == BC_OK)
		rc = step(s, &row);
	done(s);
out:
	return op_end(st, rc);
}

static int sq_prekey_add_onetime(bc_storage *st, const uint8_t *mailbox,
				 const uint8_t *const *blobs,
				 const size_t *lens, size_t n)
{
	mbx_row r;
	int rc = usable(st);

	if (rc != BC_OK)
		return rc;
	if (mailbox == NULL || (n > 0 && (blobs == NULL || lens == NULL)))
		return BC_ERR_INVALID;
	for (size_t i = 0; i < n; i++) {
		if (blobs[i] == NULL || lens[i] == 0)
			return BC_ERR_INVALID;
		if (lens[i] > st->lim.max_prekey_blob)
			return BC_ERR_TOOBIG;
	}
	rc = op_begin(st);
	if (rc != BC_OK)
		return rc;
	rc = mbx_get(st, mailbox, &r);
	if (rc != BC_OK)
		goto out;
	if (r.onetime > (int64_t)st->lim.max_onetime_prekeys ||
	    n > st->lim.max_onetime_prekeys - (uint64_t)r.onetime) {
		rc = BC_ERR_QUOTA;
		goto out;
	}
	for (size_t i = 0; i < n && rc == BC_OK; i++)
		rc = exec_i64_blob(st, S_PK_OT_ADD, r.mbx, blobs[i], lens[i]);
	if (rc == BC_OK && n > 0)
		rc = mbx_add(st, S_MBX_ADD_ONETIME, r.mbx, (int64_t)n, 0);
out:
	return op_end(st, rc);
}

static int sq_prekey_take(bc_storage *st, const uint8_t *mailbox,
			  uint8_t **signed_blob, size_t *signed_len,
			  uint8_t **onetime_blob, size_t *onetime_len)
{
	sqlite3_stmt *s = NULL;
	mbx_row r;
	int64_t pk = 0;
	bool row = false;
	int rc = usable(st);

	if (rc != BC_OK)
		return rc;
	if (mailbox == NULL || signed_blob == NULL || signed_len == NULL ||
	    onetime_blob == NULL || onetime_len == NULL)
		return BC_ERR_INVALID;
	*signed_blob = *onetime_blob = NULL;
	*signed_len = *onetime_len = 0;
	rc = op_begin(st);
	if (rc != BC_OK)
		return rc;
	rc = mbx_get(st, mailbox, &r);
	if (rc != BC_OK)
		goto out;

	s = st->stmt[S_PK_SIGNED_GET];
	rc = bind_i64(s, 1, r.mbx);
	if (rc == BC_OK)
		rc = step(s, &row);
	if (rc == BC_OK && !row)
		rc = BC_ERR_NOTFOUND;
	if (rc == BC_OK)
		rc = column_dup(s, 0, signed_blob, signed_len);
	done(s);
	if (rc != BC_OK)
		goto out;

	s = st->stmt[S_PK_OT_OLDEST];
	rc = bind_i64(s, 1, r.mbx);
	if (rc == BC_OK)
		rc = step(s, &row);
	if (rc == BC_OK && row) {
		pk = sqlite3_column_int64(s, 0);
		rc = column_dup(s, 1, onetime_blob, onetime_len);
	}
	done(s);
	if (rc != BC_OK || *onetime_blob == NULL)
		goto out;
	rc = exec_i64(st, S_PK_OT_DELETE, pk);
	if (rc == BC_OK)
		rc = mbx_add(st, S_MBX_ADD_ONETIME, r.mbx, -1, 0);
out:
	rc = op_end(st, rc);
	if (rc != BC_OK) {
		/* Not handed out: the one-time blob stays queued. */
		bc_free(*signed_blob);
		bc_free(*onetime_blob);
		*signed_blob = *onetime_blob = NULL;
		*signed_len = *onetime_len = 0;
	}
	return rc;
}

/* ---- the vtable ---------------------------------------------------------- */

/* The contract of every op is in storage.h; where it leaves room, the
 * choices made here are listed in docs/ARCHITECTURE.md ("Relay storage") ("Semantics"). */
/* SQLite's text for the most recent failure on this handle; read it
 * before any further call (a rollback resets it). */
static const char *sq_last_error(bc_storage *st)
{
	const char *m = st && st->db ? sqlite3_errmsg(st->db) : NULL;
	return m ? m : "no database";
}

const bc_storage_ops bc_storage_sqlite = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.mailbox_open = sq_mailbox_open,
	.mailbox_owner = sq_mailbox_owner,
	.cap_add = sq_cap_add,
	.cap_revoke = sq_cap_revoke,
	.cap_check = sq_cap_check,
	.post = sq_post,
	.fetch = sq_fetch,
	.ack = sq_ack,
	.prekey_put_signed = sq_prekey_put_signed,
	.prekey_add_onetime = sq_prekey_add_onetime,
	.prekey_take = sq_prekey_take,
	.mailbox_info = sq_mailbox_info,
	.last_error = sq_last_error,
};
