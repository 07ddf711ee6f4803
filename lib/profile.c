/*
 * profile.c - profile paths and unlocking (see profile.h).
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "file.h"
#include "internal.h"
#include "profile.h"

int bc_profile_dir(char *out, size_t n)
{
	const char *h = getenv("BACKCHANNEL_HOME");
	int k;
	if (h != NULL && *h != '\0') {
		k = snprintf(out, n, "%s", h);
	} else if ((h = getenv("XDG_DATA_HOME")) != NULL && *h == '/') {
		k = snprintf(out, n, "%s/backchannel", h);
	} else {
		const char *home = getenv("HOME");
		if (home == NULL || *home == '\0') {
			struct passwd *pw = getpwuid(getuid());
			home = pw ? pw->pw_dir : NULL;
		}
		if (home == NULL)
			return BC_ERR_NOTFOUND;
		k = snprintf(out, n, "%s/.local/share/backchannel", home);
	}
	if (k < 0 || (size_t)k >= n)
		return BC_ERR_TOOBIG;
	return bc_mkdir_private(out);
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > BC_PROFILE_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

int bc_profile_path(const char *name, char *out, size_t n)
{
	char dir[4096];
	int rc, k;
	if (name == NULL)
		name = getenv("BACKCHANNEL_PROFILE");
	if (name == NULL || *name == '\0')
		name = "default";
	if (!name_ok(name))
		return BC_ERR_INVALID;
	if ((rc = bc_profile_dir(dir, sizeof(dir))) != BC_OK)
		return rc;
	k = snprintf(out, n, "%s/%s.db", dir, name);
	return k < 0 || (size_t)k >= n ? BC_ERR_TOOBIG : BC_OK;
}

/* The passphrase from the environment (then removed from it) or a prompt;
 * on creation a prompted one is asked twice. */
static int get_passphrase(bool create, char *buf, size_t cap, size_t *len,
			  const char **why)
{
	const char *env = getenv("BACKCHANNEL_PASSPHRASE");
	char again[BC_STORE_PASS_MAX + 2];
	size_t alen = 0;
	int rc;
	if (env != NULL) {
		size_t n = strlen(env);
		if (n == 0 || n >= cap) {
			*why = "BACKCHANNEL_PASSPHRASE is empty or too long";
			return BC_ERR_INVALID;
		}
		memcpy(buf, env, n + 1);
		*len = n;
		(void)unsetenv("BACKCHANNEL_PASSPHRASE");
		return BC_OK;
	}
	rc = bc_passphrase_prompt(create ? "New passphrase for this profile: "
					 : "Passphrase: ",
				  buf, cap, len);
	if (rc != BC_OK) {
		*why = "no passphrase: run in a terminal or set "
		       "BACKCHANNEL_PASSPHRASE";
		return rc;
	}
	if (*len == 0) {
		*why = "the passphrase is empty";
		sodium_memzero(buf, cap);
		return BC_ERR_INVALID;
	}
	if (!create)
		return BC_OK;
	rc = bc_passphrase_prompt("Repeat it: ", again, sizeof(again), &alen);
	if (rc == BC_OK && (alen != *len || sodium_memcmp(again, buf, alen) != 0)) {
		*why = "the two passphrases differ";
		rc = BC_ERR_INVALID;
	}
	sodium_memzero(again, sizeof(again));
	if (rc != BC_OK) {
		sodium_memzero(buf, cap);
		*len = 0;
		if (*why == NULL)
			*why = "cannot read the passphrase";
	}
	return rc;
}

int bc_profile_open(const char *name, unsigned flags, bc_store **out,
		    const char **why)
{
	char path[4200], pass[BC_STORE_PASS_MAX + 2];
	size_t plen = 0;
	bool create = (flags & BC_PROFILE_CREATE) != 0, unprotected = false;
	struct stat st;
	int rc;
	*out = NULL;
	*why = NULL;
	if ((rc = bc_profile_path(name, path, sizeof(path))) != BC_OK) {
		*why = rc == BC_ERR_INVALID
			       ? "a profile name is 1 to 64 of A-Z a-z 0-9 _ -"
			       : "cannot find or create the profile directory "
				 "(set BACKCHANNEL_HOME)";
		return rc;
	}
	if (lstat(path, &st) == 0) {
		if (create) {
			*why = "this profile exists already";
			return BC_ERR_CONFLICT;
		}
		if ((rc = bc_store_probe(path, &unprotected)) != BC_OK) {
			*why = bc_store_last_error();
			return rc;
		}
	} else if (!create) {
		*why = "no such profile: create it with 'backchannel init'";
		return BC_ERR_NOTFOUND;
	}
	if (create)
		unprotected = (flags & BC_PROFILE_UNPROTECTED) != 0;
	if (!unprotected &&
	    (rc = get_passphrase(create, pass, sizeof(pass), &plen, why)) !=
		    BC_OK)
		return rc;
	rc = bc_store_open(out, path, unprotected ? NULL : pass,
			   unprotected ? 0 : plen,
			   (create ? BC_STORE_CREATE : 0) |
				   (unprotected ? BC_STORE_UNPROTECTED : 0));
	sodium_memzero(pass, sizeof(pass));
	if (rc != BC_OK) {
		*why = rc == BC_ERR_AUTH ? "wrong passphrase"
					 : bc_store_last_error();
		if (*why == NULL)
			*why = bc_strerror(rc);
	}
	return rc;
}
