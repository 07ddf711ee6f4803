/*
 * cmd_identity.c - the profile and its identity.
 *
 *   backchannel init [--unprotected]     create the profile and identity
 *   backchannel identity                 fingerprint and public identity
 *   backchannel verify BCID              safety number with another member
 */
#include <getopt.h>
#include <sodium.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "e2e.h"
#include "identity.h"
#include "internal.h"
#include "profile.h"

/* Open the profile and its engine; a message on failure. */
static int open_engine(unsigned flags, bc_store **st, bc_e2e **e)
{
	const char *why = NULL;
	int rc = bc_profile_open(NULL, flags, st, &why);
	if (rc != BC_OK) {
		cli_err("%s", why ? why : bc_strerror(rc));
		return rc;
	}
	rc = bc_e2e_new(e, *st, (uint64_t)time(NULL));
	if (rc != BC_OK) {
		cli_err("cannot load the identity: %s", bc_strerror(rc));
		bc_store_close(*st);
		*st = NULL;
	}
	return rc;
}

static int print_identity(const bc_identity_pub *id, bool unprotected)
{
	char fp[BC_FINGERPRINT_TEXT_SIZE];
	char *exp = NULL;
	if (bc_identity_fingerprint_text(id, fp) != BC_OK ||
	    bc_identity_export(id, &exp) != BC_OK) {
		cli_err("cannot format the identity");
		return 1;
	}
	if (g_json) {
		printf("{\"fingerprint\":");
		json_str(stdout, fp, strlen(fp));
		printf(",\"identity\":");
		json_str(stdout, exp, strlen(exp));
		printf(",\"unprotected\":%s}\n", unprotected ? "true" : "false");
	} else {
		printf("fingerprint  %s\nidentity     %s\n", fp, exp);
		if (unprotected)
			printf("warning      this profile is stored WITHOUT a "
			       "passphrase (tests and demos only)\n");
	}
	bc_free(exp);
	return 0;
}

static int cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{"unprotected", no_argument, 0, 'u'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0}};
	bool unprotected = false;
	bc_store *st = NULL;
	bc_e2e *e = NULL;
	int ch, rc;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'u': unprotected = true; break;
		case 'h':
			printf("usage: backchannel [--profile NAME] init "
			       "[--unprotected]\n\n"
			       "Create this profile's encrypted store and its "
			       "identity. The passphrase comes from\n"
			       "BACKCHANNEL_PASSPHRASE or a prompt; "
			       "--unprotected stores keys without one (tests "
			       "and\ndemos only).\n");
			return 0;
		default: return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		cli_err("usage: backchannel init [--unprotected]");
		return EXIT_USAGE;
	}
	rc = open_engine(BC_PROFILE_CREATE |
				 (unprotected ? BC_PROFILE_UNPROTECTED : 0),
			 &st, &e);
	if (rc != BC_OK)
		return cli_status(rc);
	rc = print_identity(bc_e2e_identity(e), unprotected);
	bc_e2e_free(e);
	bc_store_close(st);
	return rc;
}

static int cmd_identity(int argc, char **argv)
{
	bc_store *st = NULL;
	bc_e2e *e = NULL;
	int rc;
	if (cli_wants_help(argc, argv)) {
		printf("usage: backchannel [--profile NAME] identity [--json]\n\n"
		       "Show this profile's fingerprint and public identity "
		       "(give the identity to\nthe people you talk with; "
		       "compare fingerprints out of band).\n");
		return 0;
	}
	if (argc != 1) {
		cli_err("usage: backchannel identity [--json]");
		return EXIT_USAGE;
	}
	if ((rc = open_engine(0, &st, &e)) != BC_OK)
		return cli_status(rc);
	rc = print_identity(bc_e2e_identity(e), bc_store_is_unprotected(st));
	bc_e2e_free(e);
	bc_store_close(st);
	return rc;
}

static int cmd_verify(int argc, char **argv)
{
	bc_identity_pub other;
	char sn[BC_SAFETY_TEXT_SIZE], fp[BC_FINGERPRINT_TEXT_SIZE];
	bc_store *st = NULL;
	bc_e2e *e = NULL;
	int rc;
	if (cli_wants_help(argc, argv)) {
		printf("usage: backchannel [--profile NAME] verify IDENTITY\n\n"
		       "Print the safety number of this profile and IDENTITY "
		       "(a bcid: string).\nRead it to each other over a channel "
		       "you trust: both sides must see the same\n60 digits.\n");
		return 0;
	}
	if (argc != 2) {
		cli_err("usage: backchannel verify IDENTITY");
		return EXIT_USAGE;
	}
	rc = bc_identity_import(&other, argv[1]);
	if (rc != BC_OK) {
		cli_err(rc == BC_ERR_CHECKSUM
				? "that identity has a typo (checksum mismatch)"
			: rc == BC_ERR_INVALID
				? "that is not an identity (expected bcid:...)"
				: "that identity is not valid (%s)",
			bc_strerror(rc));
		return rc == BC_ERR_CHECKSUM || rc == BC_ERR_AUTH
			       ? EXIT_SECURITY
			       : EXIT_USAGE;
	}
	if ((rc = open_engine(0, &st, &e)) != BC_OK)
		return cli_status(rc);
	if (bc_identity_safety_number(bc_e2e_identity(e), &other, sn) != BC_OK ||
	    bc_identity_fingerprint_text(&other, fp) != BC_OK) {
		cli_err("cannot compute the safety number");
		rc = 1;
	} else if (g_json) {
		printf("{\"safety_number\":");
		json_str(stdout, sn, strlen(sn));
		printf(",\"their_fingerprint\":");
		json_str(stdout, fp, strlen(fp));
		printf("}\n");
		rc = 0;
	} else {
		printf("safety number  %s\ntheir key      %s\n", sn, fp);
		rc = 0;
	}
	bc_e2e_free(e);
	bc_store_close(st);
	return rc;
}

const struct cli_cmd cli_identity_cmds[] = {
	{"init", cmd_init, "create this profile and its identity"},
	{"identity", cmd_identity, "show this profile's identity"},
	{"verify", cmd_verify, "safety number with another member"},
	{NULL, NULL, NULL},
};
