/*
 * test_file.c - unit tests for secret files (lib/file.c).
 *
 * What is pinned down here:
 *   - bc_file_write_secret creates the file with mode 0600 whatever the
 *     umask, replaces an existing one atomically (no temporary file is
 *     left behind, a reader sees the old or the new content), refuses an
 *     existing path when exclusive (BC_ERR_CONFLICT, old content intact),
 *     and never writes through a symlink;
 *   - bc_file_read_secret reads exactly len bytes and refuses a symlink, a
 *     file readable by group or others, a directory, a FIFO (without
 *     blocking) with BC_ERR_FORBIDDEN, a wrong size with BC_ERR_MALFORMED
 *     (the buffer is wiped), and a missing file with BC_ERR_NOTFOUND;
 *   - bc_mkdir_private creates nested directories with mode 0700, accepts
 *     an existing directory, and refuses a regular file or a symlink where
 *     the directory should be.
 * Every test works in its own mkdtemp directory, removed afterwards.
 */
#define _GNU_SOURCE /* nftw */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "file.h"
#include "internal.h"

/* ---- fixture: a fresh directory per test -------------------------------- */

struct fx {
	char dir[64];
	char path[256]; /* scratch */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/bc-test-file.XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	chmod(path, 0700); /* in case a test removed permissions */
	return remove(path);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	int rc = nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return rc;
}

/* dir/name into f->path */
static const char *at(struct fx *f, const char *name)
{
	snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, name);
	return f->path;
}

/* Create a file with the given mode and content (not via the library). */
static void make_file(const char *path, mode_t mode, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, n), (ssize_t)n);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

/* Number of entries in dir (without . and ..). */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static mode_t mode_of(const char *path)
{
	struct stat st;
	assert_int_equal(lstat(path, &st), 0);
	return st.st_mode;
}

/* ---- writing ------------------------------------------------------------ */

static void test_write_mode_0600(void **state)
{
	struct fx *f = *state;
	static const mode_t masks[] = {0, 022, 077};
	uint8_t key[32], back[32];
	randombytes_buf(key, sizeof(key));
	for (int i = 0; i < 3; i++) {
		char name[16];
		mode_t old = umask(masks[i]);
		snprintf(name, sizeof(name), "key%d", i);
		assert_int_equal(bc_file_write_secret(at(f, name), key, 32,
						      false),
				 BC_OK);
		umask(old);
		assert_true(S_ISREG(mode_of(f->path)));
		assert_int_equal(mode_of(f->path) & 07777, 0600);
		assert_int_equal(bc_file_read_secret(f->path, back, 32), BC_OK);
		assert_memory_equal(back, key, 32);
	}
	/* nothing else was left in the directory */
	assert_int_equal(count_entries(f->dir), 3);
}

static void test_write_replaces_atomically(void **state)
{
	struct fx *f = *state;
	uint8_t a[64], b[64], back[64];
	struct stat st1, st2;
	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	assert_int_equal(bc_file_write_secret(at(f, "k"), a, 64, false), BC_OK);
	assert_int_equal(stat(f->path, &st1), 0);
	assert_int_equal(bc_file_write_secret(f->path, b, 64, false), BC_OK);
	assert_int_equal(stat(f->path, &st2), 0);
	/* a new inode renamed over the old one, not the old file rewritten */
	assert_int_not_equal(st1.st_ino, st2.st_ino);
	assert_int_equal(bc_file_read_secret(f->path, back, 64), BC_OK);
	assert_memory_equal(back, b, 64);
	assert_int_equal(count_entries(f->dir), 1);
	/* a loose existing file is replaced by a 0600 one */
	assert_int_equal(chmod(f->path, 0644), 0);
	assert_int_equal(bc_file_write_secret(f->path, a, 64, false), BC_OK);
	assert_int_equal(mode_of(f->path) & 07777, 0600);
	/* zero bytes */
	assert_int_equal(bc_file_write_secret(at(f, "empty"), a, 0, false),
			 BC_OK);
	assert_int_equal(bc_file_read_secret(f->path, back, 0), BC_OK);
}

static void test_write_exclusive(void **state)
{
	struct fx *f = *state;
	uint8_t a[16], b[16], back[16];
	memset(a, 1, sizeof(a));
	memset(b, 2, sizeof(b));
	assert_int_equal(bc_file_write_secret(at(f, "k"), a, 16, true), BC_OK);
	assert_int_equal(mode_of(f->path) & 07777, 0600);
	assert_int_equal(bc_file_write_secret(f->path, b, 16, true),
			 BC_ERR_CONFLICT);
	assert_int_equal(bc_file_read_secret(f->path, back, 16), BC_OK);
	assert_memory_equal(back, a, 16);
	/* no temporary file left behind by either call */
	assert_int_equal(count_entries(f->dir), 1);
	/* an existing directory, or a dangling symlink, is a conflict too;
	 * the symlink's target must not be created */
	assert_int_equal(mkdir(at(f, "d"), 0700), 0);
	assert_int_equal(bc_file_write_secret(f->path, b, 16, true),
			 BC_ERR_CONFLICT);
	{
		char target[256];
		snprintf(target, sizeof(target), "%s/target", f->dir);
		assert_int_equal(symlink(target, at(f, "link")), 0);
		assert_int_equal(bc_file_write_secret(f->path, b, 16, true),
				 BC_ERR_CONFLICT);
		assert_int_equal(access(target, F_OK), -1);
	}
	assert_int_equal(count_entries(f->dir), 3);
}

/* Replacing a symlink replaces the link, never the file it points to. */
static void test_write_not_through_symlink(void **state)
{
	struct fx *f = *state;
	char target[256];
	uint8_t a[8] = "AAAAAAA", b[8] = "BBBBBBB", back[8];
	snprintf(target, sizeof(target), "%s/target", f->dir);
	make_file(target, 0600, a, 8);
	assert_int_equal(symlink(target, at(f, "link")), 0);
	assert_int_equal(bc_file_write_secret(f->path, b, 8, false), BC_OK);
	assert_true(S_ISREG(mode_of(f->path)));
	assert_int_equal(bc_file_read_secret(target, back, 8), BC_OK);
	assert_memory_equal(back, a, 8);
	assert_int_equal(bc_file_read_secret(f->path, back, 8), BC_OK);
	assert_memory_equal(back, b, 8);
}

static void test_write_bad_dir(void **state)
{
	struct fx *f = *state;
	uint8_t a[4] = {0};
	char longp[5000];
	assert_int_equal(bc_file_write_secret(at(f, "no/such/dir/k"), a, 4,
					      false),
			 BC_ERR_IO);
	memset(longp, 'x', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(bc_file_write_secret(longp, a, 4, false),
			 BC_ERR_INVALID);
	assert_int_equal(count_entries(f->dir), 0);
}

/* ---- reading ------------------------------------------------------------ */

static void test_read_symlink(void **state)
{
	struct fx *f = *state;
	char target[256];
	uint8_t a[32], back[32];
	memset(a, 7, sizeof(a));
	snprintf(target, sizeof(target), "%s/target", f->dir);
	make_file(target, 0600, a, 32);
	assert_int_equal(bc_file_read_secret(target, back, 32), BC_OK);
	assert_int_equal(symlink(target, at(f, "link")), 0);
	memset(back, 0x55, sizeof(back));
	assert_int_equal(bc_file_read_secret(f->path, back, 32),
			 BC_ERR_FORBIDDEN);
	/* a dangling link too */
	assert_int_equal(symlink("/nonexistent/x", at(f, "dangling")), 0);
	assert_int_equal(bc_file_read_secret(f->path, back, 32),
			 BC_ERR_FORBIDDEN);
}

static void test_read_permissions(void **state)
{
	struct fx *f = *state;
	static const mode_t bad[] = {0644, 0640, 0604, 0610, 0601, 0660, 0666,
				     0620, 0602};
	uint8_t a[32], back[32];
	memset(a, 9, sizeof(a));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		make_file(at(f, "k"), bad[i], a, 32);
		memset(back, 0x55, sizeof(back));
		assert_int_equal(bc_file_read_secret(f->path, back, 32),
				 BC_ERR_FORBIDDEN);
		assert_int_equal(unlink(f->path), 0);
	}
	/* owner-only modes are fine */
	make_file(at(f, "k"), 0400, a, 32);
	assert_int_equal(bc_file_read_secret(f->path, back, 32), BC_OK);
	assert_memory_equal(back, a, 32);
	/* a directory is not a secret file */
	assert_int_equal(mkdir(at(f, "d"), 0700), 0);
	assert_int_equal(bc_file_read_secret(f->path, back, 32),
			 BC_ERR_FORBIDDEN);
}

static void on_alarm(int sig)
{
	(void)sig;
	/* The read blocked: fail loudly rather than hang the suite. */
	static const char msg[] = "bc_file_read_secret blocked on a FIFO\n";
	(void)!write(2, msg, sizeof(msg) - 1);
	_exit(1);
}

/* A FIFO planted where a key should be must be refused, not waited on
 * (an open for reading blocks until a writer appears). */
static void test_read_fifo(void **state)
{
	struct fx *f = *state;
	uint8_t back[32];
	struct sigaction sa, old;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	assert_int_equal(mkfifo(at(f, "fifo"), 0600), 0);
	assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
	alarm(5);
	assert_int_equal(bc_file_read_secret(f->path, back, 32),
			 BC_ERR_FORBIDDEN);
	alarm(0);
	assert_int_equal(sigaction(SIGALRM, &old, NULL), 0);
}

static void test_read_wrong_size(void **state)
{
	struct fx *f = *state;
	uint8_t a[64], back[32];
	static const uint8_t zero[32];
	memset(a, 3, sizeof(a));
	/* short */
	make_file(at(f, "short"), 0600, a, 31);
	memset(back, 0x55, sizeof(back));
	assert_int_equal(bc_file_read_secret(f->path, back, 32),
			 BC_ERR_MALFORMED);
	assert_memory_equal(back, zero, 32); /* no partial secret left */
	/* long */
	make_file(at(f, "long"), 0600, a, 33);
	memset(back, 0x55, sizeof(back));
	assert_int_equal(bc_file_read_secret(f->path, back, 32),
			 BC_ERR_MALFORMED);
	assert_memory_equal(back, zero, 32);
	/* empty */
	make_file(at(f, "empty"), 0600, a, 0);
	assert_int_equal(bc_file_read_secret(f->path, back, 32),
			 BC_ERR_MALFORMED);
	/* exact */
	make_file(at(f, "exact"), 0600, a, 32);
	assert_int_equal(bc_file_read_secret(f->path, back, 32), BC_OK);
	assert_memory_equal(back, a, 32);
}

static void test_read_missing(void **state)
{
	struct fx *f = *state;
	uint8_t back[32];
	assert_int_equal(bc_file_read_secret(at(f, "nope"), back, 32),
			 BC_ERR_NOTFOUND);
	assert_int_equal(bc_file_read_secret(at(f, "nodir/nope"), back, 32),
			 BC_ERR_NOTFOUND);
}

/* ---- directories -------------------------------------------------------- */

static void test_mkdir_private(void **state)
{
	struct fx *f = *state;
	char p[256];
	mode_t old = umask(0);
	snprintf(p, sizeof(p), "%s/a/b/c", f->dir);
	assert_int_equal(bc_mkdir_private(p), BC_OK);
	umask(old);
	assert_true(S_ISDIR(mode_of(p)));
	assert_int_equal(mode_of(p) & 07777, 0700);
	assert_int_equal(mode_of(at(f, "a")) & 07777, 0700);
	assert_int_equal(mode_of(at(f, "a/b")) & 07777, 0700);
	/* again: an existing directory is fine */
	assert_int_equal(bc_mkdir_private(p), BC_OK);
	/* a trailing slash and doubled slashes */
	snprintf(p, sizeof(p), "%s/x//y/", f->dir);
	assert_int_equal(bc_mkdir_private(p), BC_OK);
	assert_true(S_ISDIR(mode_of(at(f, "x/y"))));
	/* the empty path */
	assert_int_equal(bc_mkdir_private(""), BC_ERR_INVALID);
}

static void test_mkdir_refuses_file(void **state)
{
	struct fx *f = *state;
	char p[256];
	make_file(at(f, "file"), 0600, "x", 1);
	assert_int_equal(bc_mkdir_private(f->path), BC_ERR_FORBIDDEN);
	assert_true(S_ISREG(mode_of(f->path)));
	/* below a regular file */
	snprintf(p, sizeof(p), "%s/file/sub", f->dir);
	assert_int_not_equal(bc_mkdir_private(p), BC_OK);
	/* a symlink to a directory is not accepted as the directory */
	assert_int_equal(mkdir(at(f, "real"), 0700), 0);
	snprintf(p, sizeof(p), "%s/real", f->dir);
	assert_int_equal(symlink(p, at(f, "link")), 0);
	assert_int_equal(bc_mkdir_private(f->path), BC_ERR_FORBIDDEN);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_write_mode_0600),
		T(test_write_replaces_atomically),
		T(test_write_exclusive),
		T(test_write_not_through_symlink),
		T(test_write_bad_dir),
		T(test_read_symlink),
		T(test_read_permissions),
		T(test_read_fifo),
		T(test_read_wrong_size),
		T(test_read_missing),
		T(test_mkdir_private),
		T(test_mkdir_refuses_file),
	};
#undef T

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("file", tests, NULL, NULL);
}
