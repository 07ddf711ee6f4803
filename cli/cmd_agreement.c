/*
 * cmd_agreement.c - "backchannel agreement ...".
 *
 *   backchannel agreement verify FILE [--json]
 *           check an exported agreement offline; exit 0 valid, 3 not
 *           valid, 1 the file cannot be read, 2 usage
 *   backchannel agreement export TALK PROPOSAL [-o FILE]
 *           write a talk's signed agreement (cmd_proposal.c)
 *
 * Verification needs no profile and no network: the file carries the
 * document, every party's identity and every signature, and the readable
 * part is regenerated from the signed bytes and compared. What it prints
 * (title, sides, terms) comes from the file: control characters are
 * escaped.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agreement.h"
#include "cli.h"
#include "identity.h"
#include "internal.h"
#include "talkcli.h"

static int read_file(const char *path, char **out, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	size_t cap = BC_AGREEMENT_TEXT_MAX + 1, n = 0;
	char *buf;
	if (f == NULL) {
		cli_err("cannot open %s: %s", path, strerror(errno));
		return BC_ERR_IO;
	}
	buf = bc_malloc(cap);
	if (buf == NULL) {
		if (f != stdin)
			fclose(f);
		return BC_ERR_NOMEM;
	}
	n = fread(buf, 1, cap, f);
	if (ferror(f)) {
		cli_err("cannot read %s", path);
		n = SIZE_MAX;
	}
	if (f != stdin)
		fclose(f);
	if (n == SIZE_MAX || n == cap) {
		if (n == cap)
			cli_err("%s: larger than any agreement (%zu bytes)", path,
				(size_t)BC_AGREEMENT_TEXT_MAX);
		bc_free(buf);
		return n == cap ? BC_ERR_TOOBIG : BC_ERR_IO;
	}
	*out = buf;
	*len = n;
	return BC_OK;
}

static void hex16(FILE *f, const uint8_t *p)
{
	for (int i = 0; i < 16; i++)
		fprintf(f, "%02x", p[i]);
}

static int agreement_verify(int argc, char **argv)
{
	bc_agreement *a = NULL;
	const char *why = NULL;
	char *text = NULL;
	size_t len = 0;
	int rc;
	if (cli_wants_help(argc, argv)) {
		printf("usage: backchannel agreement verify FILE [--json]\n\n"
		       "Check an exported agreement offline: every party "
		       "signed exactly this document,\nno one else signed, and "
		       "the readable text is the signed one. No profile is\n"
		       "needed. Exit status 0 if valid, 3 if not.\n");
		return 0;
	}
	if (argc != 2) {
		cli_err("usage: backchannel agreement verify FILE");
		return EXIT_USAGE;
	}
	if ((rc = read_file(argv[1], &text, &len)) != BC_OK)
		return rc == BC_ERR_TOOBIG ? EXIT_SECURITY : 1;
	rc = bc_agreement_verify(text, len, &a, &why);
	bc_free(text);
	if (rc != BC_OK) {
		if (g_json) {
			printf("{\"valid\":false,\"reason\":");
			json_str(stdout, why ? why : bc_strerror(rc),
				 strlen(why ? why : bc_strerror(rc)));
			printf("}\n");
		}
		cli_err("NOT a valid agreement: %s",
			why ? why : bc_strerror(rc));
		return EXIT_SECURITY;
	}
	if (g_json) {
		printf("{\"valid\":true,\"title\":");
		json_str(stdout, a->title, strlen(a->title));
		printf(",\"channel\":\"");
		hex16(stdout, a->channel_id);
		printf("\",\"proposal\":\"");
		hex16(stdout, a->proposal_id);
		printf("\",\"version\":%u,\"agreed_at\":%llu,\"parties\":[",
		       a->version, (unsigned long long)a->agreed_at);
		for (uint16_t i = 0; i < a->nparties; i++) {
			printf("%s{\"side\":", i ? "," : "");
			json_str(stdout, a->parties[i].side,
				 strlen(a->parties[i].side));
			printf(",\"fingerprint\":");
			json_hex(stdout, a->parties[i].fingerprint,
				 BC_FINGERPRINT_LEN);
			printf("}");
		}
		printf("],\"terms\":[");
		for (uint16_t i = 0; i < a->nterms; i++) {
			printf("%s{\"key\":", i ? "," : "");
			json_str(stdout, a->terms[i].key, strlen(a->terms[i].key));
			printf(",\"text\":");
			json_str(stdout, a->terms[i].text,
				 strlen(a->terms[i].text));
			printf("}");
		}
		printf("]}\n");
	} else {
		printf("VALID agreement \"");
		cli_print_safe(stdout, a->title);
		printf("\", version %u, signed by all %u parties:\n", a->version,
		       a->nparties);
		for (uint16_t i = 0; i < a->nparties; i++) {
			char fp[BC_FINGERPRINT_TEXT_SIZE];
			if (bc_identity_fingerprint_text(&a->parties[i].id, fp) !=
			    BC_OK)
				fp[0] = '\0';
			printf("  ");
			cli_print_safe(stdout, a->parties[i].side);
			printf("  %s\n", fp);
		}
		printf("Terms:\n");
		for (uint16_t i = 0; i < a->nterms; i++) {
			printf("  %u. ", i + 1);
			cli_print_safe(stdout, a->terms[i].key);
			printf(": ");
			cli_print_safe(stdout, a->terms[i].text);
			printf("\n");
		}
		printf("Compare these fingerprints with the ones you verified "
		       "(backchannel verify).\n");
	}
	bc_agreement_free(a);
	return 0;
}

static const struct cli_cmd agreement_cmds[] = {
	{"export", cmd_agreement_export,
	 "write a talk's signed agreement (TALK PROPOSAL [-o FILE])"},
	{"verify", agreement_verify, "check an exported agreement offline"},
	{NULL, NULL, NULL},
};

int cmd_agreement(int argc, char **argv)
{
	return cli_dispatch("backchannel agreement", agreement_cmds, argc,
			    argv);
}
