/*
 * util.c - helpers shared by the CLI's commands.
 */
#include <errno.h>
#include <pwd.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "encoding.h"
#include "file.h"
#include "internal.h"

bool g_json;

void cli_err(const char *fmt, ...)
{
	va_list ap;
	fputs("backchannel: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_status(int rc)
{
	switch (rc) {
	case BC_OK: return 0;
	case BC_ERR_PINNING:
	case BC_ERR_AUTH:
	case BC_ERR_CHECKSUM: return EXIT_SECURITY;
	case BC_ERR_INVALID: return EXIT_USAGE;
	default: return 1;
	}
}

bool cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return true;
	return false;
}

int cli_dispatch(const char *prefix, const struct cli_cmd *cmds, int argc,
		 char **argv)
{
	if (argc < 2 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		FILE *f = argc < 2 ? stderr : stdout;
		fprintf(f, "usage: %s <command> [options]\n\ncommands:\n",
			prefix);
		for (const struct cli_cmd *c = cmds; c->name; c++)
			fprintf(f, "  %-16s %s\n", c->name, c->summary);
		fprintf(f, "\nRun '%s <command> --help' for a command's "
			   "options.\n",
			prefix);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	for (const struct cli_cmd *c = cmds; c->name; c++)
		if (strcmp(c->name, argv[1]) == 0)
			return c->fn(argc - 1, argv + 1);
	cli_err("unknown command '%s %s' (see '%s --help')", prefix, argv[1],
		prefix);
	return EXIT_USAGE;
}

int cli_home(char *out, size_t n)
{
	const char *h = getenv("BACKCHANNEL_HOME");
	int k;
	if (h != NULL && *h != '\0') {
		k = snprintf(out, n, "%s", h);
	} else if ((h = getenv("XDG_DATA_HOME")) != NULL && *h != '\0') {
		k = snprintf(out, n, "%s/backchannel", h);
	} else {
		const char *home = getenv("HOME");
		if (home == NULL || *home == '\0') {
			struct passwd *pw = getpwuid(getuid());
			home = pw ? pw->pw_dir : NULL;
		}
		if (home == NULL) {
			cli_err("cannot find a home directory; set "
				"BACKCHANNEL_HOME");
			return BC_ERR_INVALID;
		}
		k = snprintf(out, n, "%s/.local/share/backchannel", home);
	}
	if (k < 0 || (size_t)k >= n) {
		cli_err("profile path too long");
		return BC_ERR_INVALID;
	}
	if (bc_mkdir_private(out) != BC_OK) {
		cli_err("cannot create the profile directory %s", out);
		return BC_ERR_IO;
	}
	return BC_OK;
}

int cli_transport_key(uint8_t priv[32])
{
	char home[3000], path[3100];
	int rc;
	if ((rc = cli_home(home, sizeof(home))) != BC_OK)
		return rc;
	snprintf(path, sizeof(path), "%s/transport.key", home);
	rc = bc_file_read_secret(path, priv, 32);
	if (rc == BC_ERR_NOTFOUND) {
		randombytes_buf(priv, 32);
		rc = bc_file_write_secret(path, priv, 32, true);
		if (rc == BC_ERR_CONFLICT) /* created concurrently */
			rc = bc_file_read_secret(path, priv, 32);
	}
	if (rc == BC_ERR_FORBIDDEN)
		cli_err("refusing %s: it must be a regular file of yours with "
			"mode 0600 (chmod 600 %s)",
			path, path);
	else if (rc != BC_OK)
		cli_err("cannot use %s: %s", path, bc_strerror(rc));
	return rc;
}

int cli_parse_relay(const char *s, bc_relay_addr *a)
{
	int rc = bc_relay_addr_parse(s, a);
	if (rc == BC_ERR_CHECKSUM)
		cli_err("the relay address '%s' has a typo (checksum "
			"mismatch): copy it again",
			s);
	else if (rc != BC_OK)
		cli_err("'%s' is not a relay address (expected "
			"HOST:PORT/bck:KEY)",
			s);
	return rc;
}

int cli_client(const bc_relay_addr *a, bc_client **out)
{
	uint8_t priv[32];
	int rc = cli_transport_key(priv);
	if (rc != BC_OK)
		return rc;
	rc = bc_client_new(out, a, priv, NULL);
	sodium_memzero(priv, sizeof(priv));
	if (rc != BC_OK)
		cli_err("%s", bc_strerror(rc));
	return rc;
}

int cli_hex(const char *s, uint8_t *out, size_t n, const char *what)
{
	size_t got = 0;
	int rc = bc_hex_decode(s, out, n, &got);
	if (rc != BC_OK || got != n) {
		cli_err("%s must be %zu bytes of hex (%zu digits)", what, n,
			2 * n);
		return BC_ERR_INVALID;
	}
	return BC_OK;
}

void json_str(FILE *f, const char *s, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch == '\n')
			fputs("\\n", f);
		else if (ch == '\t')
			fputs("\\t", f);
		else if (ch == '\r')
			fputs("\\r", f);
		else if (ch < 0x20 || ch == 0x7f)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

void json_hex(FILE *f, const uint8_t *p, size_t n)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", p[i]);
	fputc('"', f);
}
