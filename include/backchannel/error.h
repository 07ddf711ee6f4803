/*
 * backchannel/error.h - the one error enum of libbackchannel.
 *
 * Every fallible function of the library returns an int that is either
 * BC_OK (zero) or one of the negative codes below. The numeric values are
 * stable: they appear in docs/PROTOCOL.md (relay error frames carry the
 * absolute value) and in the CLI's exit status mapping. Never renumber;
 * add new codes at the end.
 */
#ifndef BACKCHANNEL_ERROR_H
#define BACKCHANNEL_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define BC_MUST_CHECK __attribute__((warn_unused_result))
#else
#define BC_MUST_CHECK
#endif

typedef enum bc_err {
	BC_OK = 0,
	BC_ERR_NOMEM = -1,       /* an allocation failed */
	BC_ERR_MALFORMED = -2,   /* input does not parse / is not canonical */
	BC_ERR_TOOBIG = -3,      /* a length exceeds its cap */
	BC_ERR_AUTH = -4,        /* authentication (MAC, signature, DH) failed */
	BC_ERR_REPLAY = -5,      /* input was already processed */
	BC_ERR_IO = -6,          /* an operating-system I/O call failed */
	BC_ERR_STATE = -7,       /* call not valid in the object's state */
	BC_ERR_INVALID = -8,     /* a caller-supplied argument is invalid */
	BC_ERR_CRYPTO = -9,      /* a libsodium primitive reported failure */
	BC_ERR_CHECKSUM = -10,   /* a human-entered string has a bad checksum */
	BC_ERR_PINNING = -11,    /* the peer's static key is not the pinned one */
	BC_ERR_VERSION = -12,    /* unsupported protocol version */
	BC_ERR_NOTFOUND = -13,   /* no such object (mailbox, message, prekey) */
	BC_ERR_FORBIDDEN = -14,  /* authenticated, but not allowed */
	BC_ERR_CAPABILITY = -15, /* missing, wrong or revoked capability */
	BC_ERR_QUOTA = -16,      /* a quota or rate limit was exceeded */
	BC_ERR_TIMEOUT = -17,    /* an operation timed out */
	BC_ERR_CLOSED = -18,     /* the connection was closed */
	BC_ERR_PROTOCOL = -19,   /* the peer broke the protocol */
	BC_ERR_STORAGE = -20,    /* the database failed (disk full, I/O error) */
	BC_ERR_UNAVAILABLE = -21,/* the relay is temporarily not accepting */
	BC_ERR_CONFLICT = -22,   /* an id was reused for different content */
	BC_ERR_UNSUPPORTED = -23,/* a feature/algorithm is not supported */
	BC_ERR_INTERNAL = -24,   /* a bug: an invariant did not hold */
} bc_err;

#define BC_ERR_MIN BC_ERR_INTERNAL

/* A short, static, human-readable description of an error code. Never NULL;
 * unknown codes yield "unknown error". */
const char *bc_strerror(int err);

/* The stable lower-case identifier of a code ("malformed", "auth", ...),
 * used in logs and --json output. Never NULL. */
const char *bc_errname(int err);

#ifdef __cplusplus
}
#endif
#endif
