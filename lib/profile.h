/*
 * profile.h - where a member's store lives and how it is unlocked.
 *
 * One SQLite store per profile (store.h), at
 *     $BACKCHANNEL_HOME/<profile>.db        if BACKCHANNEL_HOME is set,
 *     $XDG_DATA_HOME/backchannel/<profile>.db  else if XDG_DATA_HOME is,
 *     ~/.local/share/backchannel/<profile>.db  otherwise,
 * with the directory created mode 0700. The default profile is "default"
 * (BACKCHANNEL_PROFILE overrides); names are 1..64 of [A-Za-z0-9_-].
 *
 * The passphrase comes, in this order, from: the environment variable
 * BACKCHANNEL_PASSPHRASE (for automation; it is read and then unset so
 * child processes do not inherit it), or a prompt on the terminal. A store
 * created with BC_PROFILE_UNPROTECTED needs none (tests and demos only; the
 * store records the mode, and opening it says so).
 */
#ifndef BC_PROFILE_H
#define BC_PROFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "backchannel/error.h"
#include "store.h"

#define BC_PROFILE_NAME_MAX 64
#define BC_PROFILE_CREATE 0x1u
#define BC_PROFILE_UNPROTECTED 0x2u

/* The directory holding the profiles (created 0700). */
int bc_profile_dir(char *out, size_t n) BC_MUST_CHECK;
/* The store path of profile name (NULL: BACKCHANNEL_PROFILE or
 * "default"). BC_ERR_INVALID for a bad name. */
int bc_profile_path(const char *name, char *out, size_t n) BC_MUST_CHECK;
/* Open (or with BC_PROFILE_CREATE create) the store of profile name,
 * getting the passphrase as described above. On failure *why is a static
 * human-readable reason (never a secret). BC_ERR_NOTFOUND if the profile
 * does not exist and CREATE was not given; BC_ERR_CONFLICT if it exists
 * and CREATE was given. */
int bc_profile_open(const char *name, unsigned flags, bc_store **out,
		    const char **why) BC_MUST_CHECK;

#endif
