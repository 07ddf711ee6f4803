/*
 * cmd_relay.c - "backchannel relay ...": talk to a relay.
 *
 *   backchannel relay ping ADDR|NAME [--count N]
 *   backchannel relay add NAME ADDR [--no-check]
 *   backchannel relay list [--json]
 *   backchannel relay remove NAME
 *
 * Named relays live in the profile's encrypted store (kind "relayname"),
 * so that which relays a member uses is not readable at rest. A NAME can
 * stand for an address wherever a command takes --relay.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "internal.h"
#include "store.h"
#include "talkcli.h"

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
	if (strchr(argv[optind], ':') == NULL) { /* a name */
		char addr[BC_TALK_RELAY_MAX + 1];
		struct cli_talks ct;
		if ((rc = cli_talks_open(&ct)) != BC_OK)
			return cli_status(rc);
		rc = cli_relay_lookup(&ct, argv[optind], addr, sizeof(addr));
		cli_talks_close(&ct);
		if (rc == BC_OK)
			rc = cli_parse_relay(addr, &a);
	} else {
		rc = cli_parse_relay(argv[optind], &a);
	}
	if (rc != BC_OK)
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

static bool name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 32)
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

static int relay_add(int argc, char **argv)
{
	static const char usage[] =
		"usage: backchannel relay add NAME ADDR [--no-check]";
	bool check = true;
	bc_relay_addr a;
	struct cli_talks ct;
	char *canon = NULL;
	int rc, pos = 0;
	const char *name = NULL, *addr = NULL;
	if (cli_wants_help(argc, argv)) {
		printf("%s\n\nName the relay at ADDR (HOST:PORT/bck:KEY) NAME "
		       "(a-z, 0-9, '-', '_'; up to 32),\nfor use wherever a "
		       "command takes --relay. The relay is contacted once to "
		       "check\nthat its key is the one in ADDR, unless "
		       "--no-check.\n",
		       usage);
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--no-check") == 0)
			check = false;
		else if (argv[i][0] == '-') {
			cli_err("%s", usage);
			return EXIT_USAGE;
		} else if (pos++ == 0)
			name = argv[i];
		else if (pos == 2)
			addr = argv[i];
	}
	if (pos != 2) {
		cli_err("%s", usage);
		return EXIT_USAGE;
	}
	if (!name_ok(name)) {
		cli_err("a relay name is 1 to 32 of a-z, 0-9, '-' and '_'");
		return EXIT_USAGE;
	}
	if ((rc = cli_parse_relay(addr, &a)) != BC_OK)
		return cli_status(rc);
	if (check) {
		bc_client *c = NULL;
		if ((rc = cli_client(&a, &c)) != BC_OK)
			return cli_status(rc);
		if ((rc = bc_client_connect(c)) != BC_OK)
			cli_err("cannot reach the relay (use --no-check to add it "
				"anyway): %s",
				bc_client_last_error(c));
		bc_client_free(c);
		if (rc != BC_OK)
			return cli_status(rc);
	}
	if ((rc = bc_relay_addr_format(&a, &canon)) != BC_OK)
		return cli_status(rc);
	if ((rc = cli_talks_open(&ct)) != BC_OK) {
		bc_free(canon);
		return cli_status(rc);
	}
	rc = bc_store_begin(ct.st);
	if (rc == BC_OK) {
		rc = bc_store_put(ct.st, "relayname", (const uint8_t *)name,
				  strlen(name), (const uint8_t *)canon,
				  strlen(canon));
		if (rc == BC_OK)
			rc = bc_store_commit(ct.st);
		else
			bc_store_rollback(ct.st);
	}
	if (rc != BC_OK)
		cli_err("cannot save the relay: %s", bc_strerror(rc));
	else
		printf("%s = %s\n", name, canon);
	cli_talks_close(&ct);
	bc_free(canon);
	return cli_status(rc);
}

struct relay_list_ctx {
	bool first;
};

static int list_one(void *vctx, const uint8_t *key, size_t klen,
		    const uint8_t *val, size_t vlen)
{
	struct relay_list_ctx *l = vctx;
	if (g_json) {
		printf("%s{\"name\":", l->first ? "" : ",");
		json_str(stdout, (const char *)key, klen);
		printf(",\"address\":");
		json_str(stdout, (const char *)val, vlen);
		fputc('}', stdout);
	} else {
		printf("%-16.*s %.*s\n", (int)klen, (const char *)key,
		       (int)vlen, (const char *)val);
	}
	l->first = false;
	return BC_OK;
}

static int relay_list(int argc, char **argv)
{
	struct relay_list_ctx l = {true};
	struct cli_talks ct;
	int rc;
	(void)argv;
	if (cli_wants_help(argc, argv)) {
		printf("usage: backchannel relay list [--json]\n\nThe named "
		       "relays of this profile.\n");
		return 0;
	}
	if (argc != 1) {
		cli_err("usage: backchannel relay list [--json]");
		return EXIT_USAGE;
	}
	if ((rc = cli_talks_open(&ct)) != BC_OK)
		return cli_status(rc);
	if (g_json)
		fputc('[', stdout);
	rc = bc_store_list(ct.st, "relayname", list_one, &l);
	if (g_json)
		printf("]\n");
	if (rc != BC_OK)
		cli_err("cannot list the relays: %s", bc_strerror(rc));
	cli_talks_close(&ct);
	return cli_status(rc);
}

static int relay_remove(int argc, char **argv)
{
	struct cli_talks ct;
	int rc;
	if (cli_wants_help(argc, argv)) {
		printf("usage: backchannel relay remove NAME\n\nForget a "
		       "named relay (talks already on it are not touched).\n");
		return 0;
	}
	if (argc != 2 || !name_ok(argv[1])) {
		cli_err("usage: backchannel relay remove NAME");
		return EXIT_USAGE;
	}
	if ((rc = cli_talks_open(&ct)) != BC_OK)
		return cli_status(rc);
	rc = bc_store_begin(ct.st);
	if (rc == BC_OK) {
		rc = bc_store_del(ct.st, "relayname", (const uint8_t *)argv[1],
				  strlen(argv[1]));
		if (rc == BC_OK)
			rc = bc_store_commit(ct.st);
		else
			bc_store_rollback(ct.st);
	}
	if (rc == BC_ERR_NOTFOUND)
		cli_err("no relay is named '%s'", argv[1]);
	else if (rc != BC_OK)
		cli_err("cannot remove the relay: %s", bc_strerror(rc));
	cli_talks_close(&ct);
	return cli_status(rc);
}

static const struct cli_cmd relay_cmds[] = {
	{"ping", relay_ping, "check a relay's key and measure round trips"},
	{"add", relay_add, "name a relay, for --relay NAME"},
	{"list", relay_list, "the named relays"},
	{"remove", relay_remove, "forget a named relay"},
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
