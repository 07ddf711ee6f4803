/*
 * test_store.c - unit tests for the client store (lib/store.c).
 *
 * Every test runs in a fresh directory made with mkdtemp and removed
 * afterwards. Besides the documented behaviour of each call, the tests
 * check what the store's promises rest on:
 *   - a wrong passphrase fails with BC_ERR_AUTH and leaves the file
 *     byte-for-byte unchanged; a mode mismatch is a clear BC_ERR_STATE;
 *   - the file is refused (BC_ERR_FORBIDDEN) when it is a symlink, not a
 *     regular file, someone else's, or has any group/other permission bit,
 *     and so are such -wal/-shm files; the db, -wal and -shm are 0600;
 *   - neither a lookup key nor a value ever appears in the file's bytes;
 *   - a value flipped, or moved to another row, kind, tag or store, fails
 *     to authenticate; KDF parameters from the file are capped;
 *   - a process killed with SIGKILL in the middle of "message processing"
 *     (a re-executed copy of this binary) never leaves a store whose
 *     session state, message log and transcript disagree, nor one that
 *     would reuse a sending key index that already went out;
 *   - every allocation failure (bc_alloc_fail_at) is reported as
 *     BC_ERR_NOMEM and changes nothing; an injected fsync or read failure
 *     (a VFS shim) never leaves part of a transaction behind, nor lets a
 *     later call of a transaction SQLite abandoned autocommit on its own;
 *   - deleted records are overwritten in the file (secure_delete).
 * Passphrase-mode tests use Argon2id INTERACTIVE (64 MiB); the others use
 * the unprotected mode, whose record encryption is the same, to stay fast.
 */
#define _GNU_SOURCE /* memmem */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "internal.h"
#include "store.h"

#define PASS "correct horse battery staple"
#define PASSLEN (sizeof(PASS) - 1)
#define PASS2 "tr0ub4dor&3 is not a good one"
#define PASS2LEN (sizeof(PASS2) - 1)
#define U BC_STORE_UNPROTECTED
#define C BC_STORE_CREATE

typedef struct fx {
	char dir[64];
	char path[128];	 /* dir/profile.db */
	char path2[128]; /* dir/other.db */
} fx;

static const char *self_path; /* argv[0], for the crash children */

static void fault_vfs_remove(void);

/* ---- helpers ------------------------------------------------------------- */

/* Remove a directory tree (no symlinks are followed). */
static int rm_tree(const char *path)
{
	struct stat sb;
	struct dirent *e;
	DIR *d;
	char sub[512];
	int rc = 0;

	if (lstat(path, &sb) != 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(sb.st_mode))
		return unlink(path);
	(void)chmod(path, 0700);
	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name) >=
		    (int)sizeof(sub))
			rc = -1;
		else if (rm_tree(sub) != 0)
			rc = -1;
	}
	if (closedir(d) != 0)
		rc = -1;
	if (rmdir(path) != 0)
		rc = -1;
	return rc;
}

static int setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	strcpy(f->dir, "/tmp/bc-store.XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/profile.db", f->dir);
	snprintf(f->path2, sizeof(f->path2), "%s/other.db", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;
	int rc;

	bc_alloc_fail_at(0);
	fault_vfs_remove(); /* a failed fault test left it behind */
	rc = rm_tree(f->dir);
	free(f);
	return rc == 0 ? 0 : -1;
}

static bc_store *open_u(const char *path, unsigned flags)
{
	bc_store *st = NULL;
	assert_int_equal(bc_store_open(&st, path, NULL, 0, U | flags), BC_OK);
	assert_non_null(st);
	return st;
}

static void put_s(bc_store *st, const char *kind, const char *key,
		  const char *val)
{
	assert_int_equal(bc_store_put(st, kind, (const uint8_t *)key,
				      strlen(key), (const uint8_t *)val,
				      strlen(val)),
			 BC_OK);
}

/* get(kind, key) must be BC_OK with value val, or rc if val is NULL. */
static void expect_s(bc_store *st, const char *kind, const char *key,
		     const char *val, int rc)
{
	uint8_t *v = (uint8_t *)1;
	size_t vl = 1;

	if (val == NULL) {
		assert_int_equal(bc_store_get(st, kind, (const uint8_t *)key,
					      strlen(key), &v, &vl),
				 rc);
		assert_null(v);
		assert_int_equal(vl, 0);
		return;
	}
	assert_int_equal(bc_store_get(st, kind, (const uint8_t *)key,
				      strlen(key), &v, &vl),
			 BC_OK);
	assert_int_equal(vl, strlen(val));
	assert_memory_equal(v, val, vl);
	bc_free_secret(v, vl);
}

/* The whole file in a malloc'd buffer; NULL if absent. */
static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	*len = 0;
	if (fp == NULL)
		return NULL;
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n >= 0);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

static bool file_has(const char *path, const void *needle, size_t n)
{
	size_t len;
	uint8_t *buf = slurp(path, &len);
	bool found = buf != NULL && memmem(buf, len, needle, n) != NULL;
	free(buf);
	return found;
}

/* BLAKE2b-256 of a file's bytes. */
static void hash_file(const char *path, uint8_t out[32])
{
	size_t len;
	uint8_t *buf = slurp(path, &len);
	assert_non_null(buf);
	crypto_generichash(out, 32, buf, len, NULL, 0);
	free(buf);
}

static bool exists(const char *path)
{
	struct stat sb;
	return lstat(path, &sb) == 0;
}

static void side(char *out, size_t cap, const char *path, const char *sfx)
{
	assert_true(snprintf(out, cap, "%s%s", path, sfx) < (int)cap);
}

/* Raw SQL on the file, behind the store's back (as an attacker would). */
static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	char *err = NULL;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE,
					 NULL),
			 SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		print_error("raw_exec(%s): %s\n", sql, err);
		sqlite3_free(err);
		sqlite3_close(db);
		fail();
	}
	sqlite3_close(db);
}

/* The first column of the first row of sql, a blob, copied. */
static uint8_t *raw_blob(const char *path, const char *sql, size_t *len)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	uint8_t *out;
	int n;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE,
					 NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	n = sqlite3_column_bytes(s, 0);
	assert_true(n > 0);
	out = malloc((size_t)n);
	assert_non_null(out);
	memcpy(out, sqlite3_column_blob(s, 0), (size_t)n);
	*len = (size_t)n;
	sqlite3_finalize(s);
	sqlite3_close(db);
	return out;
}

/* Run sql with ?1 bound to blob. */
static void raw_set_blob(const char *path, const char *sql, const uint8_t *blob,
			 size_t len)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE,
					 NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_bind_blob(s, 1, blob, (int)len,
					   SQLITE_TRANSIENT),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_DONE);
	assert_int_equal(sqlite3_changes(db), 1);
	sqlite3_finalize(s);
	sqlite3_close(db);
}

static bool why_has(const char *word)
{
	const char *w = bc_store_last_error();
	return w != NULL && strstr(w, word) != NULL;
}

/* ---- open, close, modes ---------------------------------------------------- */

static void test_roundtrip_unprotected(void **state)
{
	fx *f = *state;
	bc_store *st = NULL;
	bool unprot = false;

	assert_int_equal(bc_store_open(&st, f->path, NULL, 0, U),
			 BC_ERR_NOTFOUND);
	assert_null(st);
	assert_false(exists(f->path));
	assert_int_equal(bc_store_probe(f->path, &unprot), BC_ERR_NOTFOUND);

	st = open_u(f->path, C);
	assert_true(bc_store_is_unprotected(st));
	put_s(st, "identity", "me", "secret identity key");
	bc_store_close(st);
	bc_store_close(NULL);

	assert_int_equal(bc_store_probe(f->path, &unprot), BC_OK);
	assert_true(unprot);
	st = open_u(f->path, 0);
	expect_s(st, "identity", "me", "secret identity key", 0);
	bc_store_close(st);
	/* CREATE on an existing store just opens it */
	st = open_u(f->path, C);
	expect_s(st, "identity", "me", "secret identity key", 0);
	bc_store_close(st);
}

static void test_roundtrip_passphrase(void **state)
{
	fx *f = *state;
	bc_store *st = NULL;
	bool unprot = true;

	assert_int_equal(bc_store_open(&st, f->path, PASS, PASSLEN, C), BC_OK);
	assert_false(bc_store_is_unprotected(st));
	put_s(st, "identity", "me", "secret identity key");
	bc_store_close(st);
	st = NULL;

	assert_int_equal(bc_store_probe(f->path, &unprot), BC_OK);
	assert_false(unprot);
	assert_int_equal(bc_store_open(&st, f->path, PASS, PASSLEN, 0), BC_OK);
	assert_false(bc_store_is_unprotected(st));
	expect_s(st, "identity", "me", "secret identity key", 0);
	bc_store_close(st);
}

static void test_wrong_passphrase(void **state)
{
	fx *f = *state;
	bc_store *st = NULL;
	uint8_t before[32], after[32];
	char wal[160], shm[160];

	assert_int_equal(bc_store_open(&st, f->path, PASS, PASSLEN, C), BC_OK);
	put_s(st, "session", "peer", "ratchet state");
	bc_store_close(st);
	st = NULL;
	side(wal, sizeof(wal), f->path, "-wal");
	side(shm, sizeof(shm), f->path, "-shm");
	assert_false(exists(wal));

	hash_file(f->path, before);
	assert_int_equal(bc_store_open(&st, f->path, PASS2, PASS2LEN, 0),
			 BC_ERR_AUTH);
	assert_null(st);
	assert_true(why_has("wrong passphrase"));
	/* a prefix of the right one is just as wrong */
	assert_int_equal(bc_store_open(&st, f->path, PASS, PASSLEN - 1, 0),
			 BC_ERR_AUTH);
	hash_file(f->path, after);
	assert_memory_equal(before, after, sizeof(before));
	assert_false(exists(wal));
	assert_false(exists(shm));
}

static void test_mode_mismatch_and_args(void **state)
{
	fx *f = *state;
	bc_store *st = open_u(f->path, C);
	char big[BC_STORE_PASS_MAX + 1];

	bc_store_close(st);
	st = NULL;
	/* an unprotected store opened with a passphrase */
	assert_int_equal(bc_store_open(&st, f->path, PASS, PASSLEN, 0),
			 BC_ERR_STATE);
	assert_null(st);
	assert_true(why_has("unprotected"));
	assert_int_equal(bc_store_open(&st, f->path, PASS, PASSLEN, C),
			 BC_ERR_STATE);

	/* a protected store opened in unprotected mode */
	assert_int_equal(bc_store_open(&st, f->path2, PASS, PASSLEN, C), BC_OK);
	bc_store_close(st);
	st = NULL;
	assert_int_equal(bc_store_open(&st, f->path2, NULL, 0, U),
			 BC_ERR_STATE);
	assert_true(why_has("passphrase"));
	assert_int_equal(bc_store_open(&st, f->path2, NULL, 0, U | C),
			 BC_ERR_STATE);
	assert_null(st);

	/* arguments */
	assert_int_equal(bc_store_open(NULL, f->path, NULL, 0, U),
			 BC_ERR_INVALID);
	assert_int_equal(bc_store_open(&st, NULL, NULL, 0, U), BC_ERR_INVALID);
	assert_int_equal(bc_store_open(&st, f->path, NULL, 0, 0),
			 BC_ERR_INVALID);
	assert_true(why_has("passphrase is required"));
	assert_int_equal(bc_store_open(&st, f->path, PASS, 0, 0),
			 BC_ERR_INVALID);
	assert_int_equal(bc_store_open(&st, f->path, PASS, PASSLEN, U),
			 BC_ERR_INVALID);
	assert_int_equal(bc_store_open(&st, f->path, NULL, 0,
				       U | BC_STORE_KDF_MODERATE),
			 BC_ERR_INVALID);
	assert_int_equal(bc_store_open(&st, f->path, NULL, 0, U | 0x100),
			 BC_ERR_INVALID);
	memset(big, 'p', sizeof(big));
	assert_int_equal(bc_store_open(&st, f->path, big, sizeof(big), 0),
			 BC_ERR_INVALID);
	assert_int_equal(bc_store_open(&st, f->dir, NULL, 0, U),
			 BC_ERR_FORBIDDEN);
	assert_int_equal(bc_store_open(&st, "/tmp/bc-no-such-dir-7/x.db", NULL,
				       0, U | C),
			 BC_ERR_NOTFOUND);
	assert_int_equal(bc_store_probe(NULL, NULL), BC_ERR_INVALID);
	assert_null(st);
}

static void test_not_a_store(void **state)
{
	fx *f = *state;
	bc_store *st = NULL;
	uint8_t junk[8192];
	int fd;

	/* an empty file: not a store yet; CREATE makes it one */
	fd = open(f->path, O_CREAT | O_EXCL | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(bc_store_open(&st, f->path, NULL, 0, U),
			 BC_ERR_NOTFOUND);
	assert_true(exists(f->path));
	st = open_u(f->path, C);
	bc_store_close(st);
	st = NULL;
	assert_int_equal(unlink(f->path), 0);

	/* random bytes */
	randombytes_buf(junk, sizeof(junk));
	fd = open(f->path, O_CREAT | O_EXCL | O_WRONLY, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	close(fd);
	assert_int_equal(bc_store_open(&st, f->path, NULL, 0, U | C),
			 BC_ERR_STORAGE);
	assert_true(why_has("not a Backchannel store"));
	assert_int_equal(unlink(f->path), 0);

	/* somebody else's SQLite database */
	fd = open(f->path, O_CREAT | O_EXCL | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	raw_exec(f->path, "CREATE TABLE t (x); INSERT INTO t VALUES (1);");
	assert_int_equal(bc_store_open(&st, f->path, NULL, 0, U | C),
			 BC_ERR_STORAGE);
	assert_true(why_has("another SQLite database"));
	assert_null(st);
}

/* ---- file checks -------------------------------------------------------------- */

static void test_loose_permissions(void **state)
{
	fx *f = *state;
	static const mode_t bits[] = {040, 020, 010, 004, 002, 001};
	bc_store *st = open_u(f->path, C);
	char wal[160];
	bool unprot;
	int fd;

	bc_store_close(st);
	st = NULL;
	for (size_t i = 0; i < BC_ARRAY_LEN(bits); i++) {
		assert_int_equal(chmod(f->path, 0600 | bits[i]), 0);
		assert_int_equal(bc_store_open(&st, f->path, NULL, 0, U),
				 BC_ERR_FORBIDDEN);
		assert_null(st);
		assert_true(why_has("chmod 600"));
		assert_int_equal(bc_store_probe(f->path, &unprot),
				 BC_ERR_FORBIDDEN);
	}
	assert_int_equal(chmod(f->path, 0600), 0);
	st = open_u(f->path, 0);
	bc_store_close(st);
	st = NULL;

	/* a -wal file left readable by others */
	side(wal, sizeof(wal), f->path, "-wal");
	fd = open(wal, O_CREAT | O_EXCL | O_WRONLY, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(chmod(wal, 0644), 0);
	assert_int_equal(bc_store_open(&st, f->path, NULL, 0, U),
			 BC_ERR_FORBIDDEN);
	assert_int_equal(unlink(wal), 0);

	/* a directory others may write into (not sticky) */
	assert_int_equal(chmod(f->dir, 0777), 0);
	assert_int_equal(bc_store_open(&st, f->path, NULL, 0, U),
			 BC_ERR_FORBIDDEN);
	assert_true(why_has("chmod 700"));
	assert_int_equal(chmod(f->dir, 01777), 0); /* sticky, like /tmp */
	st = open_u(f->path, 0);
	bc_store_close(st);
	assert_int_equal(chmod(f->dir, 0700), 0);
}

static void test_other_owner(void **state)
{
	fx *f = *state;
	bc_store *st = open_u(f->path, C);

	bc_store_close(st);
	st = NULL;
	if (geteuid() != 0) {
		print_message("# skipped: chown needs root\n");
		return;
	}
	assert_int_equal(chown(f->path, 65534, 65534), 0);
	assert_int_equal(bc_store_open(&st, f->path, NULL, 0, U),
			 BC_ERR_FORBIDDEN);
	assert_true(why_has("another user"));
	assert_int_equal(chown(f->path, 0, 0), 0);
	st = open_u(f->path, 0);
	bc_store_close(st);
}

static void test_symlinks_and_special_files(void **state)
{
	fx *f = *state;
	bc_store *st = open_u(f->path, C);
	char link[160], wal[160], target[160];

	bc_store_close(st);
	st = NULL;

	/* a symlink to a real store */
	snprintf(link, sizeof(link), "%s/link.db", f->dir);
	assert_int_equal(symlink(f->path, link), 0);
	assert_int_equal(bc_store_open(&st, link, NULL, 0, U),
			 BC_ERR_FORBIDDEN);
	assert_true(why_has("symbolic link"));
	assert_int_equal(bc_store_open(&st, link, NULL, 0, U | C),
			 BC_ERR_FORBIDDEN);
	assert_int_equal(unlink(link), 0);

	/* a dangling symlink is not followed to create its target */
	snprintf(target, sizeof(target), "%s/target.db", f->dir);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(bc_store_open(&st, link, NULL, 0, U | C),
			 BC_ERR_FORBIDDEN);
	assert_false(exists(target));
	assert_int_equal(unlink(link), 0);

	/* a symlinked -wal */
	side(wal, sizeof(wal), f->path, "-wal");
	assert_int_equal(symlink(target, wal), 0);
	assert_int_equal(bc_store_open(&st, f->path, NULL, 0, U),
			 BC_ERR_FORBIDDEN);
	assert_false(exists(target));
	assert_int_equal(unlink(wal), 0);

	/* not regular files */
	assert_int_equal(mkfifo(f->path2, 0600), 0);
	assert_int_equal(bc_store_open(&st, f->path2, NULL, 0, U | C),
			 BC_ERR_FORBIDDEN);
	assert_true(why_has("not a regular file"));
	assert_int_equal(unlink(f->path2), 0);
	assert_int_equal(mkdir(f->path2, 0700), 0);
	assert_int_equal(bc_store_open(&st, f->path2, NULL, 0, U | C),
			 BC_ERR_FORBIDDEN);
	assert_null(st);

	st = open_u(f->path, 0);
	bc_store_close(st);
}

static void test_file_modes(void **state)
{
	fx *f = *state;
	const char *sfx[] = {"", "-wal", "-shm"};
	mode_t old = umask(0); /* the store must not rely on the caller */
	bc_store *st = open_u(f->path, C);
	char p[160];
	struct stat sb;

	assert_int_equal(umask(022), 0); /* and restores the caller's */
	put_s(st, "msg", "1", "hello");
	for (size_t i = 0; i < BC_ARRAY_LEN(sfx); i++) {
		side(p, sizeof(p), f->path, sfx[i]);
		assert_int_equal(lstat(p, &sb), 0);
		assert_true(S_ISREG(sb.st_mode));
		assert_int_equal(sb.st_mode & 07777, 0600);
	}
	bc_store_close(st);
	/* reopened under umask 022: still 0600 */
	st = open_u(f->path, 0);
	for (size_t i = 0; i < BC_ARRAY_LEN(sfx); i++) {
		side(p, sizeof(p), f->path, sfx[i]);
		assert_int_equal(lstat(p, &sb), 0);
		assert_int_equal(sb.st_mode & 07777, 0600);
	}
	bc_store_close(st);
	umask(old);
}

/* ---- records ------------------------------------------------------------------- */

struct seen {
	unsigned n, stop_at;
	char keys[16][40], vals[16][40];
	bc_store *st;
	int inner;
};

static int collect(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v,
		   size_t vl)
{
	struct seen *s = ctx;
	uint64_t n;

	assert_true(s->n < 16 && kl < 40 && vl < 40);
	memcpy(s->keys[s->n], k, kl);
	s->keys[s->n][kl] = '\0';
	memcpy(s->vals[s->n], v, vl);
	s->vals[s->n][vl] = '\0';
	s->n++;
	if (s->st != NULL) /* calling back into the store is refused */
		s->inner = bc_store_count(s->st, "x", &n);
	return s->n == s->stop_at ? 42 : 0;
}

static void test_put_get_del_count(void **state)
{
	fx *f = *state;
	bc_store *st = open_u(f->path, C);
	uint64_t n = 99;
	uint8_t *v = NULL;
	size_t vl = 0;

	expect_s(st, "session", "alice", NULL, BC_ERR_NOTFOUND);
	assert_int_equal(bc_store_count(st, "session", &n), BC_OK);
	assert_int_equal(n, 0);
	put_s(st, "session", "alice", "state A1");
	put_s(st, "session", "bob", "state B1");
	put_s(st, "prekey", "alice", "prekey of alice");
	expect_s(st, "session", "alice", "state A1", 0);
	expect_s(st, "prekey", "alice", "prekey of alice", 0);
	expect_s(st, "prekey", "bob", NULL, BC_ERR_NOTFOUND);
	put_s(st, "session", "alice", "state A2"); /* replace */
	expect_s(st, "session", "alice", "state A2", 0);
	assert_int_equal(bc_store_count(st, "session", &n), BC_OK);
	assert_int_equal(n, 2);
	assert_int_equal(bc_store_count(st, "prekey", &n), BC_OK);
	assert_int_equal(n, 1);

	assert_int_equal(bc_store_del(st, "session", (const uint8_t *)"alice",
				      5),
			 BC_OK);
	assert_int_equal(bc_store_del(st, "session", (const uint8_t *)"alice",
				      5),
			 BC_ERR_NOTFOUND);
	expect_s(st, "session", "alice", NULL, BC_ERR_NOTFOUND);
	expect_s(st, "prekey", "alice", "prekey of alice", 0);
	assert_int_equal(bc_store_count(st, "session", &n), BC_OK);
	assert_int_equal(n, 1);

	/* empty lookup key and empty value */
	assert_int_equal(bc_store_put(st, "identity", NULL, 0, NULL, 0), BC_OK);
	assert_int_equal(bc_store_get(st, "identity", NULL, 0, &v, &vl), BC_OK);
	assert_non_null(v);
	assert_int_equal(vl, 0);
	bc_free_secret(v, vl);
	/* binary keys: a prefix is another key */
	assert_int_equal(bc_store_put(st, "k", (const uint8_t *)"a\0b", 3,
				      (const uint8_t *)"3", 1),
			 BC_OK);
	assert_int_equal(bc_store_get(st, "k", (const uint8_t *)"a\0b", 2, &v,
				      &vl),
			 BC_ERR_NOTFOUND);

	bc_store_close(st);
	st = open_u(f->path, 0);
	expect_s(st, "session", "bob", "state B1", 0);
	bc_store_close(st);
}

static void test_bad_args(void **state)
{
	fx *f = *state;
	bc_store *st = open_u(f->path, C);
	const char *bad[] = {"",
			     ".seq",
			     ".x",
			     "has space",
			     "tab\tkind",
			     "caf\xc3\xa9",
			     "0123456789abcdef0123456789abcdefX"};
	uint8_t *v = NULL;
	size_t vl = 0;
	uint64_t n;

	for (size_t i = 0; i < BC_ARRAY_LEN(bad); i++) {
		assert_int_equal(bc_store_put(st, bad[i], (const uint8_t *)"k",
					      1, (const uint8_t *)"v", 1),
				 BC_ERR_INVALID);
		assert_int_equal(bc_store_get(st, bad[i], (const uint8_t *)"k",
					      1, &v, &vl),
				 BC_ERR_INVALID);
		assert_int_equal(bc_store_count(st, bad[i], &n),
				 BC_ERR_INVALID);
	}
	/* 32 characters is the limit */
	put_s(st, "0123456789abcdef0123456789abcdef", "k", "v");
	assert_int_equal(bc_store_put(st, NULL, NULL, 0, NULL, 0),
			 BC_ERR_INVALID);
	assert_int_equal(bc_store_put(NULL, "k", NULL, 0, NULL, 0),
			 BC_ERR_INVALID);
	assert_int_equal(bc_store_put(st, "k", NULL, 1, NULL, 0),
			 BC_ERR_INVALID);
	assert_int_equal(bc_store_put(st, "k", NULL, 0, NULL, 1),
			 BC_ERR_INVALID);
	assert_int_equal(bc_store_get(st, "k", NULL, 0, NULL, &vl),
			 BC_ERR_INVALID);
	assert_int_equal(bc_store_get(NULL, "k", NULL, 0, &v, &vl),
			 BC_ERR_INVALID);
	assert_int_equal(bc_store_list(st, "k", NULL, NULL), BC_ERR_INVALID);
	assert_int_equal(bc_store_count(st, "k", NULL), BC_ERR_INVALID);
	assert_int_equal(bc_store_append(st, ".seq", NULL, 0, NULL),
			 BC_ERR_INVALID);
	assert_int_equal(bc_store_begin(NULL), BC_ERR_INVALID);
	assert_int_equal(bc_store_commit(NULL), BC_ERR_INVALID);
	bc_store_rollback(NULL);
	assert_false(bc_store_is_unprotected(NULL));
	bc_store_close(st);
}

static void test_sizes(void **state)
{
	fx *f = *state;
	bc_store *st = open_u(f->path, C);
	size_t big = (size_t)1 << 20, vl = 0;
	uint8_t *val = malloc(BC_STORE_VALUE_MAX + 1), *v = NULL;
	uint8_t key[BC_STORE_LOOKUP_MAX + 1];

	assert_non_null(val);
	randombytes_buf(val, big);
	randombytes_buf(key, sizeof(key));
	assert_int_equal(bc_store_put(st, "msg", key, 16, val, big), BC_OK);
	assert_int_equal(bc_store_get(st, "msg", key, 16, &v, &vl), BC_OK);
	assert_int_equal(vl, big);
	assert_memory_equal(v, val, big);
	bc_free_secret(v, vl);

	assert_int_equal(bc_store_put(st, "msg", key, BC_STORE_LOOKUP_MAX, val,
				      1),
			 BC_OK);
	assert_int_equal(bc_store_get(st, "msg", key, BC_STORE_LOOKUP_MAX, &v,
				      &vl),
			 BC_OK);
	assert_int_equal(vl, 1);
	bc_free_secret(v, vl);
	assert_int_equal(bc_store_put(st, "msg", key, BC_STORE_LOOKUP_MAX + 1,
				      val, 1),
			 BC_ERR_TOOBIG);
	assert_int_equal(bc_store_get(st, "msg", key, BC_STORE_LOOKUP_MAX + 1,
				      &v, &vl),
			 BC_ERR_TOOBIG);
	assert_int_equal(bc_store_put(st, "msg", key, 1, val,
				      BC_STORE_VALUE_MAX + 1),
			 BC_ERR_TOOBIG);
	assert_int_equal(bc_store_append(st, "msg", val, BC_STORE_VALUE_MAX + 1,
					 NULL),
			 BC_ERR_TOOBIG);
	free(val);
	bc_store_close(st);
}

static void test_list_order(void **state)
{
	fx *f = *state;
	bc_store *st = open_u(f->path, C);
	struct seen s;

	put_s(st, "msg", "c", "1st");
	put_s(st, "msg", "a", "2nd");
	put_s(st, "msg", "b", "3rd");
	put_s(st, "other", "z", "not listed");
	put_s(st, "msg", "a", "2nd, edited"); /* keeps its place */

	memset(&s, 0, sizeof(s));
	assert_int_equal(bc_store_list(st, "msg", collect, &s), BC_OK);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.keys[0], "c");
	assert_string_equal(s.keys[1], "a");
	assert_string_equal(s.vals[1], "2nd, edited");
	assert_string_equal(s.keys[2], "b");

	/* delete and re-insert: goes to the end */
	assert_int_equal(bc_store_del(st, "msg", (const uint8_t *)"c", 1),
			 BC_OK);
	put_s(st, "msg", "c", "4th");
	memset(&s, 0, sizeof(s));
	assert_int_equal(bc_store_list(st, "msg", collect, &s), BC_OK);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.keys[0], "a");
	assert_string_equal(s.keys[2], "c");

	/* the callback stops the listing; calls from it are refused */
	memset(&s, 0, sizeof(s));
	s.stop_at = 2;
	s.st = st;
	assert_int_equal(bc_store_list(st, "msg", collect, &s), 42);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.inner, BC_ERR_STATE);
	/* and the handle works afterwards */
	memset(&s, 0, sizeof(s));
	assert_int_equal(bc_store_list(st, "nothing", collect, &s), BC_OK);
	assert_int_equal(s.n, 0);
	expect_s(st, "other", "z", "not listed", 0);
	bc_store_close(st);
}

static void test_append(void **state)
{
	fx *f = *state;
	bc_store *st = open_u(f->path, C);
	uint8_t k[8];
	uint64_t seq = 0;
	struct seen s;

	for (uint64_t i = 1; i <= 3; i++) {
		assert_int_equal(bc_store_append(st, "msg",
						 (const uint8_t *)"m", 1, &seq),
				 BC_OK);
		assert_int_equal(seq, i);
	}
	assert_int_equal(bc_store_append(st, "log", NULL, 0, &seq), BC_OK);
	assert_int_equal(seq, 1);
	/* sequence numbers are never reused, even after a delete */
	bc_store64(k, 3);
	assert_int_equal(bc_store_del(st, "msg", k, 8), BC_OK);
	bc_store_close(st);
	st = open_u(f->path, 0);
	assert_int_equal(bc_store_append(st, "msg", (const uint8_t *)"n", 1,
					 &seq),
			 BC_OK);
	assert_int_equal(seq, 4);
	assert_int_equal(bc_store_append(st, "msg", (const uint8_t *)"o", 1,
					 NULL),
			 BC_OK);
	bc_store64(k, 5);
	expect_s(st, "msg", "", NULL, BC_ERR_NOTFOUND);
	{
		uint8_t *v = NULL;
		size_t vl = 0;
		assert_int_equal(bc_store_get(st, "msg", k, 8, &v, &vl), BC_OK);
		assert_int_equal(vl, 1);
		assert_int_equal(v[0], 'o');
		bc_free_secret(v, vl);
	}
	memset(&s, 0, sizeof(s));
	assert_int_equal(bc_store_list(st, "msg", collect, &s), BC_OK);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.vals[2], "n");
	bc_store_close(st);
}

/* ---- transactions -------------------------------------------------------------- */

static void test_transactions(void **state)
{
	fx *f = *state;
	bc_store *st = open_u(f->path, C);
	uint64_t n;

	assert_int_equal(bc_store_commit(st), BC_ERR_STATE);
	bc_store_rollback(st); /* no-op */

	put_s(st, "session", "p", "v1");
	assert_int_equal(bc_store_begin(st), BC_OK);
	assert_int_equal(bc_store_begin(st), BC_ERR_STATE);
	put_s(st, "session", "p", "v2");
	put_s(st, "msg", "m", "plaintext");
	assert_int_equal(bc_store_append(st, "log", NULL, 0, NULL), BC_OK);
	assert_int_equal(bc_store_del(st, "session", (const uint8_t *)"p", 1),
			 BC_OK);
	expect_s(st, "session", "p", NULL, BC_ERR_NOTFOUND);
	bc_store_rollback(st);
	expect_s(st, "session", "p", "v1", 0);
	expect_s(st, "msg", "m", NULL, BC_ERR_NOTFOUND);
	assert_int_equal(bc_store_count(st, "log", &n), BC_OK);
	assert_int_equal(n, 0);

	assert_int_equal(bc_store_begin(st), BC_OK);
	put_s(st, "session", "p", "v3");
	put_s(st, "msg", "m", "plaintext");
	assert_int_equal(bc_store_commit(st), BC_OK);
	assert_int_equal(bc_store_commit(st), BC_ERR_STATE);

	/* close with a transaction open: rolled back */
	assert_int_equal(bc_store_begin(st), BC_OK);
	put_s(st, "session", "p", "v4");
	bc_store_close(st);

	st = open_u(f->path, 0);
	expect_s(st, "session", "p", "v3", 0);
	expect_s(st, "msg", "m", "plaintext", 0);
	bc_store_close(st);
}

/* ---- what the file shows -------------------------------------------------------- */

static void test_keys_and_values_hidden(void **state)
{
	fx *f = *state;
	static const char key[] = "zebra-peer-id-7731";
	static const char val[] = "ocelot-plaintext-0042";
	static const char kind[] = "visiblekind";
	bc_store *st = open_u(f->path, C);
	char wal[160];
	bool in_wal;

	for (int i = 0; i < 20; i++)
		put_s(st, kind, key, val);
	assert_int_equal(bc_store_append(st, kind, (const uint8_t *)val,
					 sizeof(val) - 1, NULL),
			 BC_OK);
	side(wal, sizeof(wal), f->path, "-wal");
	/* the scan works: the kind is stored in the clear (documented) */
	in_wal = file_has(wal, kind, sizeof(kind) - 1);
	assert_true(in_wal || file_has(f->path, kind, sizeof(kind) - 1));
	assert_false(file_has(wal, key, sizeof(key) - 1));
	assert_false(file_has(wal, val, sizeof(val) - 1));
	assert_false(file_has(f->path, key, sizeof(key) - 1));
	assert_false(file_has(f->path, val, sizeof(val) - 1));
	bc_store_close(st);
	assert_true(file_has(f->path, kind, sizeof(kind) - 1));
	assert_false(file_has(f->path, key, sizeof(key) - 1));
	assert_false(file_has(f->path, val, sizeof(val) - 1));
}

/* ---- tampering ----------------------------------------------------------------- */

static void test_tamper_value(void **state)
{
	fx *f = *state;
	bc_store *st = open_u(f->path, C);
	size_t len, where[3];
	uint8_t *orig, *bad;
	struct seen s;

	put_s(st, "session", "peer", "ratchet state of peer");
	bc_store_close(st);
	orig = raw_blob(f->path,
			"SELECT val FROM record WHERE kind = 'session'", &len);
	/* a byte of the nonce, of the ciphertext body, of the MAC */
	where[0] = 3;
	where[1] = BC_STORE_NONCE_LEN + 7;
	where[2] = len - 1;
	for (size_t i = 0; i < 3; i++) {
		bad = malloc(len);
		assert_non_null(bad);
		memcpy(bad, orig, len);
		bad[where[i]] ^= 0x01;
		raw_set_blob(
			f->path,
			"UPDATE record SET val = ?1 WHERE kind = 'session'",
			bad, len);
		free(bad);
		st = open_u(f->path, 0);
		expect_s(st, "session", "peer", NULL, BC_ERR_AUTH);
		memset(&s, 0, sizeof(s));
		assert_int_equal(bc_store_list(st, "session", collect, &s),
				 BC_ERR_AUTH);
		assert_int_equal(s.n, 0);
		bc_store_close(st);
	}
	/* truncated: too short to be a record */
	raw_set_blob(f->path,
		     "UPDATE record SET val = ?1 WHERE kind = 'session'", orig,
		     BC_STORE_NONCE_LEN + BC_STORE_MAC_LEN - 1);
	st = open_u(f->path, 0);
	expect_s(st, "session", "peer", NULL, BC_ERR_MALFORMED);
	bc_store_close(st);
	/* restored: fine again */
	raw_set_blob(f->path,
		     "UPDATE record SET val = ?1 WHERE kind = 'session'", orig,
		     len);
	st = open_u(f->path, 0);
	expect_s(st, "session", "peer", "ratchet state of peer", 0);
	bc_store_close(st);
	free(orig);
}

static void test_moved_values(void **state)
{
	fx *f = *state;
	bc_store *st = open_u(f->path, C);
	uint8_t *va, *tb;
	size_t la, lb;

	put_s(st, "session", "alice", "state of alice"); /* rid 1 */
	put_s(st, "session", "bob", "state of bob");	 /* rid 2 */
	put_s(st, "prekey", "alice", "prekey of alice"); /* rid 3 */
	bc_store_close(st);
	va = raw_blob(f->path, "SELECT val FROM record WHERE rid = 1", &la);
	tb = raw_blob(f->path, "SELECT tag FROM record WHERE rid = 2", &lb);
	assert_int_equal(lb, BC_STORE_TAG_LEN);

	/* alice's value in bob's row (same kind, other tag) */
	raw_set_blob(f->path, "UPDATE record SET val = ?1 WHERE rid = 2", va,
		     la);
	/* alice's value in alice's row of another kind */
	raw_set_blob(f->path, "UPDATE record SET val = ?1 WHERE rid = 3", va,
		     la);
	st = open_u(f->path, 0);
	expect_s(st, "session", "bob", NULL, BC_ERR_AUTH);
	expect_s(st, "prekey", "alice", NULL, BC_ERR_AUTH);
	expect_s(st, "session", "alice", "state of alice", 0);
	bc_store_close(st);

	/* alice's whole row moved under bob's tag */
	raw_exec(f->path, "DELETE FROM record WHERE rid = 2");
	raw_set_blob(f->path, "UPDATE record SET tag = ?1 WHERE rid = 1", tb,
		     lb);
	st = open_u(f->path, 0);
	expect_s(st, "session", "bob", NULL, BC_ERR_AUTH);
	expect_s(st, "session", "alice", NULL, BC_ERR_NOTFOUND);
	bc_store_close(st);
	free(tb);

	/* across stores: same kind and key, value from the other store */
	st = open_u(f->path2, C);
	put_s(st, "session", "alice", "other store's alice");
	bc_store_close(st);
	raw_set_blob(f->path2, "UPDATE record SET val = ?1 WHERE rid = 1", va,
		     la);
	st = open_u(f->path2, 0);
	expect_s(st, "session", "alice", NULL, BC_ERR_AUTH);
	bc_store_close(st);
	free(va);
}

static void test_moved_kind(void **state)
{
	fx *f = *state;
	bc_store *st = open_u(f->path, C);
	uint8_t *tag_b;
	size_t lt;

	/* The same lookup key in kinds "a" (row 1) and "b" (row 2). Row 1 is
	 * relabelled as kind "b" with row 2's tag, and row 2 removed: a
	 * lookup of ("b", key) now finds row 1, whose value is bound to
	 * ("a", tag of "a"). */
	put_s(st, "a", "key", "value in a");
	put_s(st, "b", "key", "value in b");
	bc_store_close(st);
	tag_b = raw_blob(f->path, "SELECT tag FROM record WHERE rid = 2", &lt);
	raw_exec(f->path, "DELETE FROM record WHERE rid = 2");
	raw_exec(f->path, "UPDATE record SET kind = 'b' WHERE rid = 1");
	st = open_u(f->path, 0);
	/* kind changed, tag not: the tag no longer matches the lookup */
	expect_s(st, "b", "key", NULL, BC_ERR_NOTFOUND);
	expect_s(st, "a", "key", NULL, BC_ERR_NOTFOUND);
	bc_store_close(st);
	raw_set_blob(f->path, "UPDATE record SET tag = ?1 WHERE rid = 1", tag_b,
		     lt);
	st = open_u(f->path, 0);
	expect_s(st, "b", "key", NULL, BC_ERR_AUTH);
	bc_store_close(st);
	free(tag_b);
}

/* ---- KDF parameters and the header ------------------------------------------ */

static void test_header_forgery(void **state)
{
	fx *f = *state;
	static const struct {
		const char *sql;
		int rc;
	} cases[] = {
		{"UPDATE header SET memlimit = 107374182400", BC_ERR_MALFORMED},
		{"UPDATE header SET memlimit = 1073741825", BC_ERR_MALFORMED},
		{"UPDATE header SET memlimit = 8192", BC_ERR_MALFORMED},
		{"UPDATE header SET memlimit = -1", BC_ERR_MALFORMED},
		{"UPDATE header SET opslimit = 4294967295", BC_ERR_MALFORMED},
		{"UPDATE header SET opslimit = 1", BC_ERR_MALFORMED},
		{"UPDATE header SET format = 2", BC_ERR_VERSION},
		{"UPDATE header SET format = 0", BC_ERR_MALFORMED},
		{"UPDATE header SET mode = 3", BC_ERR_MALFORMED},
		{"UPDATE header SET mode = 2", BC_ERR_MALFORMED},
		{"UPDATE header SET salt = x'00'", BC_ERR_MALFORMED},
		{"UPDATE header SET salt = NULL", BC_ERR_MALFORMED},
		{"UPDATE header SET store_id = x'0102'", BC_ERR_MALFORMED},
		{"UPDATE header SET dk = substr(dk, 2)", BC_ERR_MALFORMED},
		{"DELETE FROM header", BC_ERR_MALFORMED},
	};
	bc_store *st = NULL;
	bool unprot;
	time_t t0;

	assert_int_equal(bc_store_open(&st, f->path, PASS, PASSLEN, C), BC_OK);
	put_s(st, "k", "k", "v");
	bc_store_close(st);
	st = NULL;
	raw_exec(f->path, "CREATE TABLE saved AS SELECT * FROM header");
	for (size_t i = 0; i < BC_ARRAY_LEN(cases); i++) {
		raw_exec(f->path, cases[i].sql);
		t0 = time(NULL);
		/* refused before Argon2id runs: no allocation of the forged
		 * size, no time spent */
		assert_int_equal(bc_store_open(&st, f->path, PASS, PASSLEN, 0),
				 cases[i].rc);
		assert_null(st);
		assert_true(time(NULL) - t0 < 5);
		assert_int_equal(bc_store_probe(f->path, &unprot), cases[i].rc);
		raw_exec(f->path, "DELETE FROM header;"
				  " INSERT INTO header SELECT * FROM saved");
	}
	/* a file with a trigger is not our schema */
	raw_exec(f->path, "CREATE TRIGGER t AFTER INSERT ON record BEGIN"
			  " DELETE FROM record; END");
	assert_int_equal(bc_store_probe(f->path, &unprot), BC_ERR_STORAGE);
	raw_exec(f->path, "DROP TRIGGER t; DROP TABLE saved");
	assert_int_equal(bc_store_open(&st, f->path, PASS, PASSLEN, 0), BC_OK);
	expect_s(st, "k", "k", "v", 0);
	bc_store_close(st);
}

static void test_header_decode(void **state)
{
	uint8_t id[16] = {1}, salt[16] = {2}, dk[BC_STORE_WRAPPED_LEN] = {3};
	uint8_t out[BC_STORE_KEY_LEN], kek[BC_STORE_KEY_LEN] = {0};
	bc_store_header_cols c = {
		.format = BC_STORE_FORMAT,
		.mode = BC_STORE_MODE_PASSPHRASE,
		.opslimit = crypto_pwhash_OPSLIMIT_SENSITIVE,
		.memlimit = (int64_t)crypto_pwhash_MEMLIMIT_SENSITIVE,
		.store_id = id,
		.store_id_len = sizeof(id),
		.salt = salt,
		.salt_len = sizeof(salt),
		.dk = dk,
		.dk_len = sizeof(dk),
	};
	bc_store_header h;

	(void)state;
	assert_int_equal(bc_store_header_decode(&c, &h), BC_OK);
	assert_int_equal(h.memlimit, crypto_pwhash_MEMLIMIT_SENSITIVE);
	assert_int_equal(bc_store_header_unwrap(&h, kek, out), BC_ERR_AUTH);
	assert_int_equal(bc_store_header_unwrap(&h, NULL, out), BC_ERR_INVALID);
	c.memlimit++;
	assert_int_equal(bc_store_header_decode(&c, &h), BC_ERR_MALFORMED);
	assert_int_equal(h.mode, 0);
	c.memlimit = (int64_t)crypto_pwhash_MEMLIMIT_INTERACTIVE;
	c.opslimit = crypto_pwhash_OPSLIMIT_SENSITIVE + 1;
	assert_int_equal(bc_store_header_decode(&c, &h), BC_ERR_MALFORMED);
	c.opslimit = INT64_MIN;
	assert_int_equal(bc_store_header_decode(&c, &h), BC_ERR_MALFORMED);
	c.opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
	assert_int_equal(bc_store_header_decode(&c, &h), BC_OK);
	c.format = INT64_MAX;
	assert_int_equal(bc_store_header_decode(&c, &h), BC_ERR_VERSION);
	c.format = BC_STORE_FORMAT;
	/* unprotected: no salt, no limits, a 32-byte key */
	c.mode = BC_STORE_MODE_UNPROTECTED;
	assert_int_equal(bc_store_header_decode(&c, &h), BC_ERR_MALFORMED);
	c.salt = NULL;
	c.salt_len = 0;
	c.opslimit = c.memlimit = 0;
	assert_int_equal(bc_store_header_decode(&c, &h), BC_ERR_MALFORMED);
	c.dk_len = BC_STORE_KEY_LEN;
	assert_int_equal(bc_store_header_decode(&c, &h), BC_OK);
	assert_int_equal(bc_store_header_unwrap(&h, NULL, out), BC_OK);
	assert_memory_equal(out, dk, BC_STORE_KEY_LEN);
	assert_int_equal(bc_store_header_decode(NULL, &h), BC_ERR_INVALID);
}

/* ---- the record codec ------------------------------------------------------------ */

static void test_record_codec(void **state)
{
	uint8_t rkey[32], id[16], tag[32], *ct = NULL, *k = NULL, *v = NULL;
	uint8_t pt[64];
	size_t ctlen = 0, kl = 0, vl = 0;

	(void)state;
	randombytes_buf(rkey, sizeof(rkey));
	randombytes_buf(id, sizeof(id));
	randombytes_buf(tag, sizeof(tag));
	assert_int_equal(bc_store_record_encode(
				 rkey, id, "msg", tag, (const uint8_t *)"key",
				 3, (const uint8_t *)"value", 5, &ct, &ctlen),
			 BC_OK);
	assert_int_equal(ctlen, 24 + 1 + 4 + 3 + 4 + 5 + 16);
	assert_int_equal(bc_store_record_decode(rkey, id, "msg", tag, ct, ctlen,
						&k, &kl, &v, &vl),
			 BC_OK);
	assert_int_equal(kl, 3);
	assert_memory_equal(k, "key", 3);
	assert_int_equal(vl, 5);
	assert_memory_equal(v, "value", 5);
	bc_free_secret(k, kl);
	bc_free_secret(v, vl);
	/* without the key output */
	assert_int_equal(bc_store_record_decode(rkey, id, "msg", tag, ct, ctlen,
						NULL, NULL, &v, &vl),
			 BC_OK);
	bc_free_secret(v, vl);
	/* every AD part binds */
	assert_int_equal(bc_store_record_decode(rkey, id, "msh", tag, ct, ctlen,
						&k, &kl, &v, &vl),
			 BC_ERR_AUTH);
	assert_null(v);
	assert_null(k);
	tag[31] ^= 1;
	assert_int_equal(bc_store_record_decode(rkey, id, "msg", tag, ct, ctlen,
						&k, &kl, &v, &vl),
			 BC_ERR_AUTH);
	tag[31] ^= 1;
	id[0] ^= 1;
	assert_int_equal(bc_store_record_decode(rkey, id, "msg", tag, ct, ctlen,
						&k, &kl, &v, &vl),
			 BC_ERR_AUTH);
	id[0] ^= 1;
	rkey[5] ^= 1;
	assert_int_equal(bc_store_record_decode(rkey, id, "msg", tag, ct, ctlen,
						&k, &kl, &v, &vl),
			 BC_ERR_AUTH);
	rkey[5] ^= 1;
	assert_int_equal(bc_store_record_decode(rkey, id, "msg", tag, ct,
						ctlen - 1, &k, &kl, &v, &vl),
			 BC_ERR_AUTH);
	assert_int_equal(bc_store_record_decode(rkey, id, "msg", tag, ct, 39,
						&k, &kl, &v, &vl),
			 BC_ERR_MALFORMED);
	/* too big: refused before any allocation (ct is not read) */
	assert_int_equal(bc_store_record_decode(rkey, id, "msg", tag, ct,
						BC_STORE_RECORD_MAX + 1, &k,
						&kl, &v, &vl),
			 BC_ERR_TOOBIG);
	assert_int_equal(bc_store_record_decode(rkey, id, "", tag, ct, ctlen,
						&k, &kl, &v, &vl),
			 BC_ERR_INVALID);
	bc_free(ct);

	/* authentic but not canonical plaintexts */
	{
		static const struct {
			uint8_t b[16];
			size_t n;
			int rc;
		} pts[] = {
			{{1, 0, 0, 0, 0, 0, 0, 0, 0}, 9, BC_OK},
			{{1, 0, 0, 0, 0, 0, 0, 0, 0, 9}, 10, BC_ERR_MALFORMED},
			{{2, 0, 0, 0, 0, 0, 0, 0, 0}, 9, BC_ERR_VERSION},
			{{1, 0, 0, 0, 1}, 5, BC_ERR_MALFORMED},
			{{1, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0},
			 9,
			 BC_ERR_MALFORMED},
			{{0}, 0, BC_ERR_MALFORMED},
		};
		for (size_t i = 0; i < BC_ARRAY_LEN(pts); i++) {
			memcpy(pt, pts[i].b, pts[i].n);
			assert_int_equal(bc_store_record_seal(rkey, id, ".seq",
							      tag, pt, pts[i].n,
							      &ct, &ctlen),
					 BC_OK);
			assert_int_equal(bc_store_record_decode(
						 rkey, id, ".seq", tag, ct,
						 ctlen, &k, &kl, &v, &vl),
					 pts[i].rc);
			bc_free_secret(k, kl);
			bc_free_secret(v, vl);
			k = v = NULL;
			bc_free(ct);
		}
	}
}

/* ---- passphrase change ------------------------------------------------------------ */

static void test_rekey(void **state)
{
	fx *f = *state;
	bc_store *st = NULL;
	uint8_t *old_dk, *old_salt;
	size_t dl, sl;
	char wal[160];

	assert_int_equal(bc_store_open(&st, f->path, PASS, PASSLEN, C), BC_OK);
	put_s(st, "identity", "me", "long-term key");
	bc_store_close(st);
	st = NULL;
	old_dk = raw_blob(f->path, "SELECT dk FROM header", &dl);
	old_salt = raw_blob(f->path, "SELECT salt FROM header", &sl);
	assert_int_equal(dl, BC_STORE_WRAPPED_LEN);

	assert_int_equal(bc_store_open(&st, f->path, PASS, PASSLEN, 0), BC_OK);
	assert_int_equal(bc_store_begin(st), BC_OK);
	assert_int_equal(bc_store_rekey(st, PASS2, PASS2LEN, 0), BC_ERR_STATE);
	bc_store_rollback(st);
	assert_int_equal(bc_store_rekey(st, NULL, 0, 0), BC_ERR_INVALID);
	assert_int_equal(bc_store_rekey(st, PASS2, PASS2LEN, U),
			 BC_ERR_INVALID);
	assert_int_equal(bc_store_rekey(st, PASS2, PASS2LEN, 0), BC_OK);
	/* the old wrapped key is gone from the file (secure_delete and the
	 * checkpoint), while the handle is still open */
	side(wal, sizeof(wal), f->path, "-wal");
	assert_false(file_has(f->path, old_dk, dl));
	assert_false(file_has(wal, old_dk, dl));
	assert_false(file_has(f->path, old_salt, sl));
	expect_s(st, "identity", "me", "long-term key", 0);
	bc_store_close(st);
	st = NULL;

	assert_int_equal(bc_store_open(&st, f->path, PASS, PASSLEN, 0),
			 BC_ERR_AUTH);
	assert_int_equal(bc_store_open(&st, f->path, PASS2, PASS2LEN, 0),
			 BC_OK);
	expect_s(st, "identity", "me", "long-term key", 0);
	bc_store_close(st);
	free(old_dk);
	free(old_salt);

	/* an unprotected store has no passphrase to change */
	st = open_u(f->path2, C);
	assert_int_equal(bc_store_rekey(st, PASS2, PASS2LEN, 0), BC_ERR_STATE);
	assert_true(why_has("unprotected"));
	bc_store_close(st);
}

/* ---- crashes ---------------------------------------------------------------------- */

static uint64_t get_u64(bc_store *st, const char *kind, const char *key)
{
	uint8_t *v = NULL;
	size_t vl = 0;
	uint64_t n;
	int rc = bc_store_get(st, kind, (const uint8_t *)key, strlen(key), &v,
			      &vl);
	if (rc == BC_ERR_NOTFOUND)
		return 0;
	if (rc != BC_OK || vl != 8)
		return UINT64_MAX;
	n = bc_load64(v);
	bc_free_secret(v, vl);
	return n;
}

static int put_u64(bc_store *st, const char *kind, const char *key, uint64_t n)
{
	uint8_t b[8];
	bc_store64(b, n);
	return bc_store_put(st, kind, (const uint8_t *)key, strlen(key), b, 8);
}

/*
 * The crash children (this binary re-executed, so that valgrind does not
 * follow them and no SQLite handle crosses fork()). They never return
 * normally: they are killed.
 *
 * "uncommitted": process one incoming message up to, not including, its
 * commit, then SIGKILL itself.
 *
 * "loop": process messages as the session layer will, until killed:
 *   incoming: BEGIN; recv = session/recv; append msg "message <recv+1>";
 *             transcript = H(transcript || msg); session/recv = recv+1;
 *             COMMIT
 *   outgoing: BEGIN; s = session/send; session/send = s+1; COMMIT; only
 *             then "send" s (write it to the pipe to the parent).
 */
static int crash_child(const char *mode, const char *path, int fd)
{
	bc_store *st = NULL;
	uint8_t h[32], *t = NULL;
	char msg[64];
	uint64_t r, s, seq;
	size_t tl;
	int n;

	if (bc_store_open(&st, path, NULL, 0, U) != BC_OK)
		return 2;
	if (strcmp(mode, "uncommitted") == 0) {
		if (bc_store_begin(st) != BC_OK ||
		    put_u64(st, "session", "recv", 2) != BC_OK ||
		    bc_store_append(st, "msg", (const uint8_t *)"message 2", 9,
				    NULL) != BC_OK ||
		    bc_store_put(st, "transcript", NULL, 0,
				 (const uint8_t *)"t2", 2) != BC_OK)
			return 3;
		kill(getpid(), SIGKILL);
		return 4;
	}
	for (;;) {
		if (bc_store_begin(st) != BC_OK)
			return 5;
		r = get_u64(st, "session", "recv");
		n = snprintf(msg, sizeof(msg), "message %llu",
			     (unsigned long long)(r + 1));
		if (bc_store_append(st, "msg", (const uint8_t *)msg, (size_t)n,
				    &seq) != BC_OK ||
		    seq != r + 1)
			return 6;
		memset(h, 0, sizeof(h));
		if (bc_store_get(st, "transcript", NULL, 0, &t, &tl) == BC_OK) {
			if (tl != 32)
				return 7;
			memcpy(h, t, 32);
			bc_free_secret(t, tl);
		}
		{
			crypto_generichash_state hs;
			crypto_generichash_init(&hs, NULL, 0, 32);
			crypto_generichash_update(&hs, h, 32);
			crypto_generichash_update(&hs, (const uint8_t *)msg,
						  (unsigned long long)n);
			crypto_generichash_final(&hs, h, 32);
		}
		if (bc_store_put(st, "transcript", NULL, 0, h, 32) != BC_OK ||
		    put_u64(st, "session", "recv", r + 1) != BC_OK ||
		    bc_store_commit(st) != BC_OK)
			return 8;

		if (bc_store_begin(st) != BC_OK)
			return 9;
		s = get_u64(st, "session", "send");
		if (put_u64(st, "session", "send", s + 1) != BC_OK ||
		    bc_store_commit(st) != BC_OK)
			return 10;
		if (write(fd, &s, sizeof(s)) != (ssize_t)sizeof(s))
			return 11;
	}
}

static pid_t spawn_child(const char *mode, const char *path, int fd)
{
	char fdstr[16];
	pid_t pid;

	snprintf(fdstr, sizeof(fdstr), "%d", fd);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl(self_path, self_path, "--crash-child", mode, path, fdstr,
		      (char *)NULL);
		_exit(127);
	}
	return pid;
}

struct chain {
	uint8_t h[32];
	uint64_t n;
	int bad;
};

static int chain_msg(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v,
		     size_t vl)
{
	struct chain *c = ctx;
	crypto_generichash_state hs;
	char want[64];
	int n;

	c->n++;
	n = snprintf(want, sizeof(want), "message %llu",
		     (unsigned long long)c->n);
	if (kl != 8 || bc_load64(k) != c->n || vl != (size_t)n ||
	    memcmp(v, want, vl) != 0)
		c->bad++;
	crypto_generichash_init(&hs, NULL, 0, 32);
	crypto_generichash_update(&hs, c->h, 32);
	crypto_generichash_update(&hs, v, vl);
	crypto_generichash_final(&hs, c->h, 32);
	return 0;
}

/* Committed data survives; the uncommitted message is absent entirely. */
static void test_sigkill_before_commit(void **state)
{
	fx *f = *state;
	bc_store *st = open_u(f->path, C);
	int status;
	pid_t pid;
	uint64_t n;

	assert_int_equal(bc_store_begin(st), BC_OK);
	assert_int_equal(put_u64(st, "session", "recv", 1), BC_OK);
	assert_int_equal(bc_store_append(st, "msg",
					 (const uint8_t *)"message 1", 9, NULL),
			 BC_OK);
	assert_int_equal(bc_store_put(st, "transcript", NULL, 0,
				      (const uint8_t *)"t1", 2),
			 BC_OK);
	assert_int_equal(bc_store_commit(st), BC_OK);
	bc_store_close(st);

	pid = spawn_child("uncommitted", f->path, -1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);

	st = open_u(f->path, 0);
	assert_int_equal(get_u64(st, "session", "recv"), 1);
	assert_int_equal(bc_store_count(st, "msg", &n), BC_OK);
	assert_int_equal(n, 1);
	expect_s(st, "transcript", "", "t1", 0);
	/* the killed transaction's sequence number was not consumed */
	assert_int_equal(bc_store_append(st, "msg",
					 (const uint8_t *)"message 2", 9, &n),
			 BC_OK);
	assert_int_equal(n, 2);
	bc_store_close(st);
}

/* SIGKILL during a message-processing loop, 16 rounds on the same store,
 * at random instants and right after a message went out: after each, the
 * store opens, the session counter, the message log and the transcript
 * agree, and the stored sending index is beyond every index that was
 * handed to the "network". */
static void test_sigkill_random(void **state)
{
	fx *f = *state;
	bc_store *st = open_u(f->path, C);
	uint64_t max_sent = 0, prev_send = 0, r, s, n, got;
	bool sent_any = false;
	struct chain c;
	int fds[2], status;
	pid_t pid;

	bc_store_close(st);
	for (int round = 0; round < 16; round++) {
		struct timespec ts = {0, 0};
		ssize_t k;

		assert_int_equal(pipe(fds), 0);
		pid = spawn_child("loop", f->path, fds[1]);
		close(fds[1]);
		if (round % 2 == 0) {
			/* at a random instant */
			ts.tv_nsec = (long)(20 + randombytes_uniform(100)) *
				     1000000L;
			nanosleep(&ts, NULL);
		} else {
			/* right after a message went out: the moment a
			 * send-before-commit bug would show */
			k = read(fds[0], &got, sizeof(got));
			assert_int_equal(k, (ssize_t)sizeof(got));
			sent_any = true;
			if (got > max_sent)
				max_sent = got;
		}
		assert_int_equal(kill(pid, SIGKILL), 0);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		/* it was still running (not failed) when killed */
		assert_true(WIFSIGNALED(status));
		while ((k = read(fds[0], &got, sizeof(got))) ==
		       (ssize_t)sizeof(got)) {
			sent_any = true;
			if (got > max_sent)
				max_sent = got;
		}
		assert_true(k == 0);
		close(fds[0]);

		st = open_u(f->path, 0);
		r = get_u64(st, "session", "recv");
		s = get_u64(st, "session", "send");
		assert_true(r != UINT64_MAX && s != UINT64_MAX);
		assert_int_equal(bc_store_count(st, "msg", &n), BC_OK);
		assert_int_equal(n, r);
		memset(&c, 0, sizeof(c));
		assert_int_equal(bc_store_list(st, "msg", chain_msg, &c),
				 BC_OK);
		assert_int_equal(c.n, r);
		assert_int_equal(c.bad, 0);
		if (r > 0) {
			uint8_t *t = NULL;
			size_t tl = 0;
			assert_int_equal(bc_store_get(st, "transcript", NULL, 0,
						      &t, &tl),
					 BC_OK);
			assert_int_equal(tl, 32);
			assert_memory_equal(t, c.h, 32);
			bc_free_secret(t, tl);
		}
		/* no sending index that went out can be used again */
		if (sent_any)
			assert_true(s > max_sent);
		assert_true(s >= prev_send);
		prev_send = s;
		bc_store_close(st);
		print_message("# round %d: %llu received, next send index"
			      " %llu\n",
			      round, (unsigned long long)r,
			      (unsigned long long)s);
	}
	assert_true(sent_any); /* the test was not vacuous */
}

/* ---- allocation failures ----------------------------------------------------------- */

static int noop_cb(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v,
		   size_t vl)
{
	(void)k;
	(void)kl;
	(void)v;
	(void)vl;
	++*(unsigned *)ctx;
	return 0;
}

/* Run op with the nth allocation failing for n = 1, 2, ... until it
 * succeeds; each failure must be BC_ERR_NOMEM, after which on_fail checks
 * that nothing changed. failures counts them. */
#define FAIL_LOOP(failures, rc, op, on_fail)                      \
	do {                                                      \
		for (unsigned long n_ = 1;; n_++) {               \
			unsigned long before_ = bc_alloc_count(); \
			bc_alloc_fail_at(n_);                     \
			rc = (op);                                \
			bc_alloc_fail_at(0);                      \
			if (bc_alloc_count() - before_ < n_) {    \
				assert_int_equal(rc, BC_OK);      \
				break;                            \
			}                                         \
			assert_int_equal(rc, BC_ERR_NOMEM);       \
			failures++;                               \
			on_fail;                                  \
			assert_true(n_ < 1000);                   \
		}                                                 \
	} while (0)

static void test_alloc_failures(void **state)
{
	fx *f = *state;
	bc_store *st = NULL;
	unsigned failures = 0, cnt;
	uint8_t *v = NULL;
	size_t vl = 0;
	uint64_t n, seq = 0;
	int rc;

	/* open, creating */
	FAIL_LOOP(failures, rc, bc_store_open(&st, f->path, NULL, 0, U | C), {
		assert_null(st);
		assert_false(exists(f->path));
	});
	put_s(st, "session", "peer", "v1");
	bc_store_close(st);
	st = NULL;
	/* open, existing */
	FAIL_LOOP(failures, rc, bc_store_open(&st, f->path, NULL, 0, U),
		  assert_null(st));

	/* put (new), put (replace) */
	FAIL_LOOP(failures, rc,
		  bc_store_put(st, "session", (const uint8_t *)"new", 3,
			       (const uint8_t *)"x", 1),
		  expect_s(st, "session", "new", NULL, BC_ERR_NOTFOUND));
	FAIL_LOOP(failures, rc,
		  bc_store_put(st, "session", (const uint8_t *)"peer", 4,
			       (const uint8_t *)"v2", 2),
		  expect_s(st, "session", "peer", "v1", 0));
	expect_s(st, "session", "peer", "v2", 0);
	/* get */
	FAIL_LOOP(failures, rc,
		  bc_store_get(st, "session", (const uint8_t *)"peer", 4, &v,
			       &vl),
		  {
			  assert_null(v);
			  assert_int_equal(vl, 0);
		  });
	assert_int_equal(vl, 2);
	bc_free_secret(v, vl);
	/* list */
	cnt = 0;
	FAIL_LOOP(failures, rc, bc_store_list(st, "session", noop_cb, &cnt),
		  cnt = 0);
	assert_int_equal(cnt, 2);
	/* append: a failure consumes no sequence number */
	FAIL_LOOP(failures, rc,
		  bc_store_append(st, "msg", (const uint8_t *)"m", 1, &seq), {
			  assert_int_equal(bc_store_count(st, "msg", &n),
					   BC_OK);
			  assert_int_equal(n, 0);
		  });
	assert_int_equal(seq, 1);
	/* inside a transaction: a failed op leaves the transaction usable */
	assert_int_equal(bc_store_begin(st), BC_OK);
	FAIL_LOOP(failures, rc,
		  bc_store_append(st, "msg", (const uint8_t *)"m", 1, &seq), {
			  assert_int_equal(bc_store_count(st, "msg", &n),
					   BC_OK);
			  assert_int_equal(n, 1);
		  });
	assert_int_equal(seq, 2);
	assert_int_equal(bc_store_commit(st), BC_OK);
	/* del */
	FAIL_LOOP(failures, rc,
		  bc_store_del(st, "session", (const uint8_t *)"new", 3),
		  expect_s(st, "session", "new", "x", 0));
	assert_int_equal(bc_store_count(st, "msg", &n), BC_OK);
	assert_int_equal(n, 2);
	bc_store_close(st);
	print_message("# %u allocation failures injected\n", failures);
	assert_true(failures > 10);
}

/* ---- injected I/O faults ---------------------------------------------------------- */

/* A VFS shim over the default one (after tests/unit/test_storage.c):
 * xSync fails with SQLITE_IOERR_FSYNC while fail_sync is set, and every
 * read fails with SQLITE_IOERR_READ while fail_read is set. */
typedef struct fault_file {
	sqlite3_file base;
	sqlite3_file *real; /* the wrapped file, right after this struct */
} fault_file;

static struct {
	sqlite3_vfs vfs;
	sqlite3_vfs *real;
	bool installed, fail_sync, fail_read;
	unsigned failed;
} flt;

#define REAL(f) (((fault_file *)(f))->real)

static int f_close(sqlite3_file *f)
{
	return REAL(f)->pMethods->xClose(REAL(f));
}
static int f_read(sqlite3_file *f, void *b, int n, sqlite3_int64 off)
{
	if (flt.fail_read) {
		flt.failed++;
		return SQLITE_IOERR_READ;
	}
	return REAL(f)->pMethods->xRead(REAL(f), b, n, off);
}
static int f_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 off)
{
	return REAL(f)->pMethods->xWrite(REAL(f), b, n, off);
}
static int f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int f_sync(sqlite3_file *f, int flags)
{
	if (flt.fail_sync) {
		flt.failed++;
		return SQLITE_IOERR_FSYNC;
	}
	return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int f_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return REAL(f)->pMethods->xFileSize(REAL(f), size);
}
static int f_lock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xLock(REAL(f), l);
}
static int f_unlock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), l);
}
static int f_reserved(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int f_fcntl(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int f_sector(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int f_devchar(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int f_shmmap(sqlite3_file *f, int pg, int sz, int ext,
		    void volatile **pp)
{
	return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, ext, pp);
}
static int f_shmlock(sqlite3_file *f, int off, int n, int flags)
{
	return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}
static void f_shmbarrier(sqlite3_file *f)
{
	REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int f_shmunmap(sqlite3_file *f, int del)
{
	return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}
static int f_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp)
{
	return REAL(f)->pMethods->xFetch(REAL(f), off, n, pp);
}
static int f_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

static const sqlite3_io_methods fault_io = {
	.iVersion = 3,
	.xClose = f_close,
	.xRead = f_read,
	.xWrite = f_write,
	.xTruncate = f_truncate,
	.xSync = f_sync,
	.xFileSize = f_size,
	.xLock = f_lock,
	.xUnlock = f_unlock,
	.xCheckReservedLock = f_reserved,
	.xFileControl = f_fcntl,
	.xSectorSize = f_sector,
	.xDeviceCharacteristics = f_devchar,
	.xShmMap = f_shmmap,
	.xShmLock = f_shmlock,
	.xShmBarrier = f_shmbarrier,
	.xShmUnmap = f_shmunmap,
	.xFetch = f_fetch,
	.xUnfetch = f_unfetch,
};

static int f_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file,
		  int flags, int *out_flags)
{
	fault_file *f = (fault_file *)file;
	int rc;

	(void)vfs;
	f->real = (sqlite3_file *)(f + 1);
	rc = flt.real->xOpen(flt.real, name, f->real, flags, out_flags);
	f->base.pMethods = f->real->pMethods != NULL ? &fault_io : NULL;
	return rc;
}

static void fault_vfs_install(void)
{
	flt.fail_sync = flt.fail_read = false;
	flt.failed = 0;
	flt.real = sqlite3_vfs_find(NULL);
	assert_non_null(flt.real);
	flt.vfs = *flt.real;
	flt.vfs.zName = "bc-store-fault";
	flt.vfs.pNext = NULL;
	flt.vfs.szOsFile = (int)sizeof(fault_file) + flt.real->szOsFile;
	flt.vfs.xOpen = f_open;
	assert_int_equal(sqlite3_vfs_register(&flt.vfs, 1), SQLITE_OK);
	flt.installed = true;
}

static void fault_vfs_remove(void)
{
	if (!flt.installed)
		return;
	flt.fail_sync = flt.fail_read = false;
	flt.installed = false;
	assert_int_equal(sqlite3_vfs_unregister(&flt.vfs), SQLITE_OK);
	assert_int_equal(sqlite3_vfs_register(flt.real, 1), SQLITE_OK);
}

static void test_io_faults(void **state)
{
	fx *f = *state;
	bc_store *st;
	struct seen s;
	uint64_t n;

	fault_vfs_install();
	st = open_u(f->path, C);
	put_s(st, "session", "a", "1");

	/* fsync fails at commit: nothing of the transaction is kept, and
	 * the handle goes on working */
	assert_int_equal(bc_store_begin(st), BC_OK);
	put_s(st, "session", "a", "2");
	put_s(st, "msg", "m", "plaintext");
	flt.fail_sync = true;
	assert_int_equal(bc_store_commit(st), BC_ERR_STORAGE);
	flt.fail_sync = false;
	assert_true(flt.failed > 0);
	expect_s(st, "session", "a", "1", 0);
	expect_s(st, "msg", "m", NULL, BC_ERR_NOTFOUND);

	/* fsync fails on writes outside a transaction */
	flt.fail_sync = true;
	assert_int_equal(bc_store_put(st, "session", (const uint8_t *)"a", 1,
				      (const uint8_t *)"3", 1),
			 BC_ERR_STORAGE);
	assert_int_equal(bc_store_append(st, "msg", (const uint8_t *)"x", 1,
					 NULL),
			 BC_ERR_STORAGE);
	flt.fail_sync = false;
	expect_s(st, "session", "a", "1", 0);
	assert_int_equal(bc_store_count(st, "msg", &n), BC_OK);
	assert_int_equal(n, 0);

	/* A read error in the middle of a transaction makes SQLite roll all
	 * of it back: every later call of the transaction, and its commit,
	 * must fail rather than autocommit on their own. Make the page
	 * cache stale (a write through another connection) so that the
	 * listing has to read pages from the file. */
	for (int i = 0; i < 40; i++) {
		char k[16];
		snprintf(k, sizeof(k), "k%d", i);
		put_s(st, "bulk", k, "some bulk value to fill pages");
	}
	raw_exec(f->path, "UPDATE record SET kind = 'tmp' WHERE kind = 'bulk';"
			  "UPDATE record SET kind = 'bulk' WHERE kind = 'tmp'");
	assert_int_equal(bc_store_begin(st), BC_OK);
	put_s(st, "session", "a", "4");
	flt.fail_read = true;
	memset(&s, 0, sizeof(s));
	assert_int_equal(bc_store_list(st, "bulk", collect, &s),
			 BC_ERR_STORAGE);
	flt.fail_read = false;
	assert_int_equal(bc_store_put(st, "session", (const uint8_t *)"a", 1,
				      (const uint8_t *)"5", 1),
			 BC_ERR_STORAGE);
	assert_int_equal(bc_store_count(st, "bulk", &n), BC_ERR_STORAGE);
	assert_int_equal(bc_store_commit(st), BC_ERR_STORAGE);
	/* and after it, the handle works again */
	expect_s(st, "session", "a", "1", 0);
	assert_int_equal(bc_store_count(st, "bulk", &n), BC_OK);
	assert_int_equal(n, 40);
	put_s(st, "session", "a", "6");
	bc_store_close(st);
	fault_vfs_remove();

	st = open_u(f->path, 0);
	expect_s(st, "session", "a", "6", 0);
	expect_s(st, "msg", "m", NULL, BC_ERR_NOTFOUND);
	bc_store_close(st);
}

/* Deleted records are overwritten in the file (secure_delete). */
static void test_secure_delete(void **state)
{
	fx *f = *state;
	bc_store *st = open_u(f->path, C);
	uint8_t val[300], *ct;
	size_t len;

	randombytes_buf(val, sizeof(val));
	assert_int_equal(bc_store_put(st, "msg", (const uint8_t *)"x", 1, val,
				      sizeof(val)),
			 BC_OK);
	put_s(st, "msg", "y", "stays");
	bc_store_close(st);
	ct = raw_blob(f->path, "SELECT val FROM record WHERE rid = 1", &len);
	assert_true(file_has(f->path, ct, len));
	st = open_u(f->path, 0);
	assert_int_equal(bc_store_del(st, "msg", (const uint8_t *)"x", 1),
			 BC_OK);
	bc_store_close(st);
	assert_false(file_has(f->path, ct, len));
	free(ct);
}

/* ---- the prompt -------------------------------------------------------------------- */

static void test_prompt_without_tty(void **state)
{
	char buf[64];
	size_t len = 7;
	int status;
	pid_t pid;

	(void)state;
	assert_int_equal(bc_passphrase_prompt(NULL, buf, sizeof(buf), &len),
			 BC_ERR_INVALID);
	assert_int_equal(len, 0);
	assert_int_equal(bc_passphrase_prompt("p: ", NULL, 8, &len),
			 BC_ERR_INVALID);
	assert_int_equal(bc_passphrase_prompt("p: ", buf, 0, &len),
			 BC_ERR_INVALID);
	assert_int_equal(bc_passphrase_prompt("p: ", buf, sizeof(buf), NULL),
			 BC_ERR_INVALID);
	/* In a new session there is no controlling terminal: /dev/tty
	 * cannot be opened, and the prompt fails at once. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int rc;
		if (setsid() < 0)
			_exit(2);
		memset(buf, 'x', sizeof(buf));
		rc = bc_passphrase_prompt("passphrase: ", buf, sizeof(buf),
					  &len);
		if (rc != BC_ERR_IO || len != 0 || buf[0] != '\0' ||
		    bc_store_last_error() == NULL ||
		    strstr(bc_store_last_error(), "BACKCHANNEL_PASSPHRASE") ==
			    NULL)
			_exit(1);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_roundtrip_unprotected),
		T(test_roundtrip_passphrase),
		T(test_wrong_passphrase),
		T(test_mode_mismatch_and_args),
		T(test_not_a_store),
		T(test_loose_permissions),
		T(test_other_owner),
		T(test_symlinks_and_special_files),
		T(test_file_modes),
		T(test_put_get_del_count),
		T(test_bad_args),
		T(test_sizes),
		T(test_list_order),
		T(test_append),
		T(test_transactions),
		T(test_keys_and_values_hidden),
		T(test_tamper_value),
		T(test_moved_values),
		T(test_moved_kind),
		T(test_header_forgery),
		T(test_header_decode),
		T(test_record_codec),
		T(test_rekey),
		T(test_sigkill_before_commit),
		T(test_sigkill_random),
		T(test_alloc_failures),
		T(test_io_faults),
		T(test_secure_delete),
		T(test_prompt_without_tty),
#undef T
	};

	if (sodium_init() < 0)
		return 1;
	if (argc == 5 && strcmp(argv[1], "--crash-child") == 0)
		return crash_child(argv[2], argv[3], atoi(argv[4]));
	self_path = argv[0];
	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
