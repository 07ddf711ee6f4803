/*
 * main.c - backchannel, the command-line client: the subcommand table.
 *
 * Global options (before or after the command): --json (machine-readable
 * output on read commands), --help. See backchannel(1).
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("backchannel %s (relay protocol %d)\n", BC_VERSION,
	       BC_PROTO_VERSION);
	return 0;
}

static const struct cli_cmd commands[] = {
	{"relay", cmd_relay, "talk to a relay (ping)"},
	{"debug", cmd_debug, "raw mailbox operations for testing relays"},
	{"version", cmd_version, "print the version"},
	{NULL, NULL, NULL},
};

int main(int argc, char **argv)
{
	int n = 0;
	if (sodium_init() < 0) {
		cli_err("libsodium failed to start");
		return 1;
	}
	/* Take --json out of argv wherever it is. */
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			g_json = true;
			continue;
		}
		argv[n++] = argv[i];
	}
	argv[n] = NULL;
	return cli_dispatch("backchannel", commands, n, argv);
}
