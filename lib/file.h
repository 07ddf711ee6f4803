/*
 * file.h - careful file access for secrets.
 *
 * Secret files are opened with O_NOFOLLOW (a symlink is refused), must be
 * regular files owned by the current user with no group/other permission
 * bits (mode & 077 == 0), and are written to a temporary file that is
 * fsync'd and renamed into place, so a crash leaves either the old or the
 * new content, never a mix.
 */
#ifndef BC_FILE_H
#define BC_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backchannel/error.h"

/* Read exactly len bytes from path. BC_ERR_NOTFOUND if absent,
 * BC_ERR_FORBIDDEN for a symlink, a non-regular file, another owner or
 * loose permissions, BC_ERR_MALFORMED for a wrong size, BC_ERR_IO else. */
int bc_file_read_secret(const char *path, uint8_t *buf,
			size_t len) BC_MUST_CHECK;

/* Write len bytes to path with mode 0600, atomically (temp + fsync +
 * rename + fsync of the directory). With exclusive, BC_ERR_CONFLICT if
 * path already exists. */
int bc_file_write_secret(const char *path, const uint8_t *buf, size_t len,
			 bool exclusive) BC_MUST_CHECK;

/* Create directory path with mode 0700 if missing (parents too). An
 * existing directory is accepted if it is not a symlink. */
int bc_mkdir_private(const char *path) BC_MUST_CHECK;

#endif
