/*
 * cmd_relay.c - "backchannel relay ...": talk to a relay.
 *
 *   backchannel relay ping ADDR [--count N]
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "internal.h"

static int relay_ping(int argc, char **argv)
{
	static const struct option opts[] = {{"count", required_argument, 0, 'c'},
					     {"help", no_argument, 0, 'h'},
					     {0, 0, 0, 0}};
	bc_relay_addr a;
	bc_client *c = NULL;
	long count = 1;
	int ch, rc;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			count = strtol(optarg, NULL, 10);
			if (count < 1 || count > 100000) {
				cli_err("--count takes 1 to 100000");
				return EXIT_USAGE;
			}
			break;
		case 'h':
			printf("usage: backchannel relay ping ADDR [--count N] "
			       "[--json]\n\n"
			       "Connect to the relay at ADDR "
			       "(HOST:PORT/bck:KEY), check its key against\n"
			       "the address, and measure the round trip of N "
			       "pings.\n");
			return 0;
		default: return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		cli_err("usage: backchannel relay ping ADDR [--count N]");
		return EXIT_USAGE;
	}
	if ((rc = cli_parse_relay(argv[optind], &a)) != BC_OK)
		return cli_status(rc);
	if ((rc = cli_client(&a, &c)) != BC_OK)
		return cli_status(rc);
	if ((rc = bc_client_connect(c)) != BC_OK) {
		cli_err("%s", bc_client_last_error(c));
		bc_client_free(c);
		return cli_status(rc);
	}
	if (g_json)
		printf("{\"relay\":\"%s:%u\",\"pings\":[", a.host, a.port);
	for (long i = 0; i < count; i++) {
		uint64_t rtt;
		rc = bc_client_ping(c, &rtt);
		if (rc != BC_OK) {
			if (g_json)
				printf("]}\n");
			cli_err("ping failed: %s", bc_client_last_error(c));
			bc_client_free(c);
			return cli_status(rc);
		}
		if (g_json)
			printf("%s{\"rtt_us\":%llu}", i ? "," : "",
			       (unsigned long long)rtt);
		else
			printf("pong from %s:%u: time=%.3f ms\n", a.host, a.port,
			       (double)rtt / 1000.0);
	}
	if (g_json)
		printf("],\"max_frame\":%u,\"max_body\":%u,\"version\":%u}\n",
		       bc_client_hello(c)->max_frame,
		       bc_client_hello(c)->max_body,
		       bc_client_hello(c)->version);
	bc_client_free(c);
	return 0;
}

static const struct cli_cmd relay_cmds[] = {
	{"ping", relay_ping, "check a relay's key and measure round trips"},
	{NULL, NULL, NULL},
};

int cmd_relay(int argc, char **argv)
{
	/* "relay ping ADDR" talks to a relay; "relay TALK STATEMENT ..." is
	 * the mediator passing a statement on (cmd_talk.c). */
	if (argc >= 2 && argv[1][0] != '-') {
		bool sub = false;
		for (const struct cli_cmd *c = relay_cmds; c->name; c++)
			if (strcmp(c->name, argv[1]) == 0)
				sub = true;
		if (!sub && strcmp(argv[1], "help") != 0)
			return cmd_pass_on(argc, argv);
	}
	return cli_dispatch("backchannel relay", relay_cmds, argc, argv);
}
