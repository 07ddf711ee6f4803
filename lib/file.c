/*
 * file.c - careful file access for secrets (see file.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"
#include "internal.h"

int bc_file_read_secret(const char *path, uint8_t *buf, size_t len)
{
	struct stat st;
	size_t got = 0;
	int fd, rc = BC_ERR_IO;
	uint8_t extra;
	/* O_NONBLOCK: opening a FIFO planted at path must not wait for a
	 * writer (it is refused below as not a regular file); reads of a
	 * regular file ignore the flag. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? BC_ERR_NOTFOUND
		       : errno == ELOOP ? BC_ERR_FORBIDDEN
					: BC_ERR_IO;
	if (fstat(fd, &st) != 0)
		goto out;
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077) != 0) {
		rc = BC_ERR_FORBIDDEN;
		goto out;
	}
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto out;
		if (n == 0) {
			rc = BC_ERR_MALFORMED;
			goto out;
		}
		got += (size_t)n;
	}
	if (read(fd, &extra, 1) != 0) {
		rc = BC_ERR_MALFORMED;
		goto out;
	}
	rc = BC_OK;
out:
	if (rc != BC_OK)
		memset(buf, 0, len);
	close(fd);
	return rc;
}

static int fsync_dir_of(const char *path)
{
	char tmp[4096];
	int fd, rc = BC_OK;
	if (strlen(path) >= sizeof(tmp))
		return BC_ERR_INVALID;
	memcpy(tmp, path, strlen(path) + 1);
	fd = open(dirname(tmp), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return BC_ERR_IO;
	if (fsync(fd) != 0)
		rc = BC_ERR_IO;
	close(fd);
	return rc;
}

int bc_file_write_secret(const char *path, const uint8_t *buf, size_t len,
			 bool exclusive)
{
	char tmp[4096];
	size_t done = 0;
	int fd, n, rc = BC_ERR_IO;
	struct stat st;
	n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return BC_ERR_INVALID;
	if (exclusive && lstat(path, &st) == 0)
		return BC_ERR_CONFLICT;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0)
		return BC_ERR_IO;
	while (done < len) {
		ssize_t w = write(fd, buf + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			goto fail;
		done += (size_t)w;
	}
	if (fsync(fd) != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (exclusive) {
		/* link() fails if path exists: no window for a race. */
		if (link(tmp, path) != 0) {
			rc = errno == EEXIST ? BC_ERR_CONFLICT : BC_ERR_IO;
			goto fail;
		}
		unlink(tmp);
	} else if (rename(tmp, path) != 0) {
		goto fail;
	}
	return fsync_dir_of(path);
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return rc;
}

int bc_mkdir_private(const char *path)
{
	char tmp[4096];
	struct stat st;
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(tmp))
		return BC_ERR_INVALID;
	memcpy(tmp, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
			return BC_ERR_IO;
		if (i < n)
			tmp[i] = '/';
	}
	if (lstat(path, &st) != 0)
		return BC_ERR_IO;
	if (!S_ISDIR(st.st_mode))
		return BC_ERR_FORBIDDEN;
	return BC_OK;
}
