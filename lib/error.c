/*
 * error.c - names and descriptions for the bc_err codes.
 */
#include "backchannel/error.h"

struct errinfo {
	const char *name;
	const char *text;
};

/* Indexed by -code. */
static const struct errinfo errs[] = {
	{"ok", "success"},
	{"nomem", "out of memory"},
	{"malformed", "malformed or non-canonical input"},
	{"toobig", "length exceeds its limit"},
	{"auth", "authentication failed"},
	{"replay", "replayed input"},
	{"io", "input/output error"},
	{"state", "operation not valid in the current state"},
	{"invalid", "invalid argument"},
	{"crypto", "cryptographic primitive failed"},
	{"checksum", "checksum mismatch (mistyped string?)"},
	{"pinning", "peer key does not match the pinned key"},
	{"version", "unsupported protocol version"},
	{"notfound", "not found"},
	{"forbidden", "not allowed"},
	{"capability", "missing, wrong or revoked capability"},
	{"quota", "quota or rate limit exceeded"},
	{"timeout", "timed out"},
	{"closed", "connection closed"},
	{"protocol", "protocol violation"},
	{"storage", "storage failure"},
	{"unavailable", "temporarily unavailable"},
	{"conflict", "identifier reused for different content"},
	{"unsupported", "not supported"},
	{"internal", "internal error"},
};

static const struct errinfo *lookup(int err)
{
	if (err > 0 || err < BC_ERR_MIN)
		return 0;
	return &errs[-err];
}

const char *bc_strerror(int err)
{
	const struct errinfo *e = lookup(err);
	return e ? e->text : "unknown error";
}

const char *bc_errname(int err)
{
	const struct errinfo *e = lookup(err);
	return e ? e->name : "unknown";
}
