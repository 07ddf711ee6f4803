/*
 * cmd_debug.c - "backchannel debug ...": raw mailbox operations.
 *
 * These speak the relay protocol directly, with no end-to-end encryption:
 * they exist to test and demonstrate relays. Bodies are sent as given.
 *
 *   backchannel debug mailbox ADDR              create a mailbox + capability
 *   backchannel debug post ADDR MAILBOX CAP TEXT [--id HEX]
 *   backchannel debug fetch ADDR MAILBOX [--ack] [--after SEQ]
 *   backchannel debug watch ADDR MAILBOX [--count N] [--timeout SEC] [--ack]
 *   backchannel debug revoke ADDR MAILBOX CAP
 */
#include <getopt.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "encoding.h"
#include "internal.h"

struct dbg {
	bc_relay_addr a;
	bc_client *c;
	uint8_t mailbox[BC_MAILBOX_LEN];
	uint8_t cap[BC_CAP_LEN];
	uint8_t id[BC_MSGID_LEN];
	bool have_id, ack;
	long count, timeout;
	uint64_t after;
};

static void dbg_free(struct dbg *d)
{
	bc_client_free(d->c);
	sodium_memzero(d, sizeof(*d));
}

static int fail(struct dbg *d, int rc, const char *what)
{
	cli_err("%s: %s", what,
		d->c ? bc_client_last_error(d->c) : bc_strerror(rc));
	dbg_free(d);
	return cli_status(rc);
}

/* Parse options then the positional arguments: ADDR [MAILBOX [CAP]]. */
static int dbg_args(struct dbg *d, int argc, char **argv, int npos,
		    const char *usage, char ***rest)
{
	static const struct option opts[] = {
		{"id", required_argument, 0, 'i'},
		{"ack", no_argument, 0, 'a'},
		{"count", required_argument, 0, 'n'},
		{"timeout", required_argument, 0, 't'},
		{"after", required_argument, 0, 'A'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0}};
	int ch, rc;
	memset(d, 0, sizeof(*d));
	d->count = 1;
	d->timeout = 10;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'i':
			if (cli_hex(optarg, d->id, BC_MSGID_LEN, "--id") !=
			    BC_OK)
				return EXIT_USAGE;
			d->have_id = true;
			break;
		case 'a': d->ack = true; break;
		case 'n': d->count = strtol(optarg, NULL, 10); break;
		case 't': d->timeout = strtol(optarg, NULL, 10); break;
		case 'A': d->after = strtoull(optarg, NULL, 10); break;
		case 'h': printf("usage: %s\n", usage); return -1;
		default: return EXIT_USAGE;
		}
	}
	if (argc - optind < npos || d->count < 1 || d->timeout < 0) {
		cli_err("usage: %s", usage);
		return EXIT_USAGE;
	}
	if ((rc = cli_parse_relay(argv[optind], &d->a)) != BC_OK)
		return cli_status(rc);
	if (npos >= 2 && cli_hex(argv[optind + 1], d->mailbox, BC_MAILBOX_LEN,
				 "MAILBOX") != BC_OK)
		return EXIT_USAGE;
	if (npos >= 3 &&
	    cli_hex(argv[optind + 2], d->cap, BC_CAP_LEN, "CAP") != BC_OK)
		return EXIT_USAGE;
	*rest = argv + optind + npos;
	if ((rc = cli_client(&d->a, &d->c)) != BC_OK)
		return cli_status(rc);
	return 0;
}

static int dbg_mailbox(int argc, char **argv)
{
	struct dbg d;
	char **rest;
	bc_mbox_status st;
	int rc = dbg_args(&d, argc, argv, 1, "backchannel debug mailbox ADDR",
			  &rest);
	if (rc != 0)
		return rc < 0 ? 0 : rc;
	randombytes_buf(d.mailbox, sizeof(d.mailbox));
	randombytes_buf(d.cap, sizeof(d.cap));
	if ((rc = bc_client_open(d.c, d.mailbox, &st)) != BC_OK)
		return fail(&d, rc, "open");
	if ((rc = bc_client_cap_add(d.c, d.mailbox, d.cap)) != BC_OK)
		return fail(&d, rc, "capability");
	if (g_json) {
		printf("{\"mailbox\":");
		json_hex(stdout, d.mailbox, sizeof(d.mailbox));
		printf(",\"cap\":");
		json_hex(stdout, d.cap, sizeof(d.cap));
		printf("}\n");
	} else {
		char mb[BC_HEX_SIZE(BC_MAILBOX_LEN)], cap[BC_HEX_SIZE(BC_CAP_LEN)];
		if (bc_hex_encode(d.mailbox, sizeof(d.mailbox), mb, sizeof(mb)) !=
			    BC_OK ||
		    bc_hex_encode(d.cap, sizeof(d.cap), cap, sizeof(cap)) != BC_OK)
			return fail(&d, BC_ERR_INTERNAL, "hex");
		printf("%s %s\n", mb, cap);
		sodium_memzero(cap, sizeof(cap));
	}
	dbg_free(&d);
	return 0;
}

static int dbg_post(int argc, char **argv)
{
	struct dbg d;
	char **rest;
	bool dup = false;
	bc_client_copy cp;
	int rc = dbg_args(&d, argc, argv, 3,
			  "backchannel debug post ADDR MAILBOX CAP TEXT "
			  "[--id HEX]",
			  &rest);
	if (rc != 0)
		return rc < 0 ? 0 : rc;
	if (rest[0] == NULL || rest[1] != NULL) {
		dbg_free(&d);
		cli_err("usage: backchannel debug post ADDR MAILBOX CAP TEXT");
		return EXIT_USAGE;
	}
	if (!d.have_id)
		randombytes_buf(d.id, sizeof(d.id));
	cp.mailbox = d.mailbox;
	cp.cap = d.cap;
	cp.body = (const uint8_t *)rest[0];
	cp.body_len = strlen(rest[0]);
	if ((rc = bc_client_post(d.c, d.id, &cp, 1, &dup)) != BC_OK)
		return fail(&d, rc, "post");
	if (g_json) {
		printf("{\"id\":");
		json_hex(stdout, d.id, sizeof(d.id));
		printf(",\"duplicate\":%s}\n", dup ? "true" : "false");
	} else {
		char id[BC_HEX_SIZE(BC_MSGID_LEN)];
		if (bc_hex_encode(d.id, sizeof(d.id), id, sizeof(id)) != BC_OK)
			return fail(&d, BC_ERR_INTERNAL, "hex");
		printf("%s %s\n", id, dup ? "duplicate" : "stored");
	}
	dbg_free(&d);
	return 0;
}

struct got {
	uint8_t (*ids)[BC_MSGID_LEN];
	size_t n, cap;
	bool first;
};

static int print_msg(void *ctx, const uint8_t *mailbox, const bc_msg_item *m)
{
	struct got *g = ctx;
	(void)mailbox;
	if (g->n == g->cap) {
		size_t nc = g->cap ? g->cap * 2 : 16;
		uint8_t(*ni)[BC_MSGID_LEN] = bc_realloc(g->ids, nc * BC_MSGID_LEN);
		if (ni == NULL)
			return BC_ERR_NOMEM;
		g->ids = ni;
		g->cap = nc;
	}
	memcpy(g->ids[g->n++], m->msg_id, BC_MSGID_LEN);
	if (g_json) {
		printf("%s{\"seq\":%llu,\"id\":", g->first ? "" : ",",
		       (unsigned long long)m->seq);
		json_hex(stdout, m->msg_id, BC_MSGID_LEN);
		printf(",\"body\":");
		json_str(stdout, (const char *)m->body, m->body_len);
		printf("}");
	} else {
		printf("%llu ", (unsigned long long)m->seq);
		for (size_t i = 0; i < BC_MSGID_LEN; i++)
			printf("%02x", m->msg_id[i]);
		printf(" ");
		for (size_t i = 0; i < m->body_len; i++) {
			unsigned char ch = m->body[i];
			putchar(ch >= 0x20 && ch < 0x7f ? ch : '.');
		}
		printf("\n");
	}
	g->first = false;
	fflush(stdout);
	return BC_OK;
}

static int ack_all(struct dbg *d, struct got *g)
{
	int rc = BC_OK;
	if (d->ack && g->n > 0)
		rc = bc_client_ack(d->c, d->mailbox,
				   (const uint8_t(*)[BC_MSGID_LEN])g->ids, g->n,
				   NULL);
	g->n = 0;
	return rc;
}

static int dbg_fetch(int argc, char **argv)
{
	struct dbg d;
	struct got g = {NULL, 0, 0, true};
	char **rest;
	bool more = false;
	int rc = dbg_args(&d, argc, argv, 2,
			  "backchannel debug fetch ADDR MAILBOX [--ack] "
			  "[--after SEQ]",
			  &rest);
	if (rc != 0)
		return rc < 0 ? 0 : rc;
	if (g_json)
		printf("[");
	rc = bc_client_fetch(d.c, d.mailbox, d.after, 0, print_msg, &g, &more);
	if (rc == BC_OK)
		rc = ack_all(&d, &g);
	if (g_json)
		printf("]\n");
	bc_free(g.ids);
	if (rc != BC_OK)
		return fail(&d, rc, "fetch");
	if (more)
		cli_err("more messages are waiting: fetch again%s",
			d.ack ? "" : " with --after SEQ");
	dbg_free(&d);
	return 0;
}

static int dbg_watch(int argc, char **argv)
{
	struct dbg d;
	struct got g = {NULL, 0, 0, true};
	char **rest;
	long got = 0;
	uint64_t deadline_s;
	int rc = dbg_args(&d, argc, argv, 2,
			  "backchannel debug watch ADDR MAILBOX [--count N] "
			  "[--timeout SEC] [--ack]",
			  &rest);
	if (rc != 0)
		return rc < 0 ? 0 : rc;
	if ((rc = bc_client_subscribe(d.c, d.mailbox)) != BC_OK) {
		bc_free(g.ids);
		return fail(&d, rc, "subscribe");
	}
	deadline_s = (uint64_t)time(NULL) + (uint64_t)d.timeout;
	if (g_json)
		printf("[");
	while (got < d.count && (uint64_t)time(NULL) < deadline_s) {
		int n = bc_client_poll_push(
			d.c, (int)((deadline_s - (uint64_t)time(NULL)) * 1000),
			print_msg, &g);
		if (n < 0) {
			rc = n;
			break;
		}
		got += n;
		if ((rc = ack_all(&d, &g)) != BC_OK)
			break;
	}
	if (g_json)
		printf("]\n");
	bc_free(g.ids);
	if (rc != BC_OK)
		return fail(&d, rc, "watch");
	if (got < d.count) {
		cli_err("timed out after %ld of %ld messages", got, d.count);
		dbg_free(&d);
		return 1;
	}
	dbg_free(&d);
	return 0;
}

static int dbg_revoke(int argc, char **argv)
{
	struct dbg d;
	char **rest;
	int rc = dbg_args(&d, argc, argv, 3,
			  "backchannel debug revoke ADDR MAILBOX CAP", &rest);
	if (rc != 0)
		return rc < 0 ? 0 : rc;
	if ((rc = bc_client_cap_revoke(d.c, d.mailbox, d.cap)) != BC_OK)
		return fail(&d, rc, "revoke");
	if (!g_json)
		printf("revoked\n");
	else
		printf("{\"revoked\":true}\n");
	dbg_free(&d);
	return 0;
}

static const struct cli_cmd debug_cmds[] = {
	{"mailbox", dbg_mailbox, "create a mailbox and a capability for it"},
	{"post", dbg_post, "post a raw message to a mailbox"},
	{"fetch", dbg_fetch, "fetch waiting messages of your mailbox"},
	{"watch", dbg_watch, "wait for messages pushed to your mailbox"},
	{"revoke", dbg_revoke, "revoke a capability of your mailbox"},
	{NULL, NULL, NULL},
};

int cmd_debug(int argc, char **argv)
{
	return cli_dispatch("backchannel debug", debug_cmds, argc, argv);
}
