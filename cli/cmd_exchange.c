/*
 * cmd_exchange.c - commit-reveal exchanges and their sequenced steps
 * (lib/talk_exchange.h, docs/PROTOCOL.md §21).
 *
 *   backchannel exchange TALK commit TEXT     a party commits to its offer
 *                                             for the current round; only
 *                                             the commitment goes out, to
 *                                             the mediator
 *   backchannel exchange TALK reveal          a party reveals its offer to
 *                                             the mediator (only after the
 *                                             mediator's list of every
 *                                             commitment arrived)
 *   backchannel exchange TALK steps [--round N] --step "SIDE: what"
 *                                   [--step ...]
 *                                             the mediator lists the
 *                                             ordered steps of a released
 *                                             round; "A>B: what" names the
 *                                             confirming side B (needed
 *                                             with more than two parties;
 *                                             with two, B is the other)
 *   backchannel exchange TALK done STEP [--round N] [--note TEXT]
 *                                             the acting side did step
 *                                             STEP (1, 2, ...)
 *   backchannel exchange TALK confirm STEP [--round N]
 *                                             the receiving side confirms
 *   backchannel exchange TALK show [--json]   rounds, who committed, the
 *                                             released offers, the steps
 *
 * The mediator's ALLCOMMITTED and RELEASE go out from its 'sync' as soon
 * as the last commitment / reveal comes in; if the talk was suspended
 * then, any later exchange command of the mediator (e.g. 'show') sends
 * them. A round's offers are shown only once released (a party also sees
 * its own). Text from other members is printed with control characters
 * escaped.
 *
 * Exit status: 0 ok; 1 refused (not your role or turn, too early, already
 * done, the talk suspended or closed, network, storage); 2 usage (bad
 * arguments, an empty or too long text); 3 security (store
 * authentication).
 */
#include <getopt.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "codec.h"
#include "internal.h"
#include "talk_exchange.h"
#include "talk_int.h"
#include "talkcli.h"

static const char USAGE[] =
	"usage: backchannel exchange TALK commit TEXT\n"
	"       backchannel exchange TALK reveal\n"
	"       backchannel exchange TALK steps [--round N] --step \"SIDE: "
	"what\" [--step ...]\n"
	"       backchannel exchange TALK done STEP [--round N] [--note "
	"TEXT]\n"
	"       backchannel exchange TALK confirm STEP [--round N]\n"
	"       backchannel exchange TALK show [--json]\n";

static const char HELP[] =
	"\nA commit-reveal exchange through the mediator. Each party commits "
	"to its offer\n(a keyed hash bound to the talk, the round and its "
	"author; the offer itself\nstays with the party). When every party "
	"has committed, the mediator's sync\nsends everyone the list of "
	"commitments; then each party reveals its offer to\nthe mediator, "
	"and when all are in the mediator's sync releases them together.\n"
	"Every member checks each released offer against the commitments it "
	"saw: a\nchanged offer is refused and the round marked broken.\n\n"
	"After the release the mediator lists the steps in order: --step "
	"\"VE: release\nthe detainees\" means VE does it and the other party "
	"confirms it; with more\nthan two parties write \"VE>US: ...\" (US "
	"confirms). A step can be done only\nafter the previous one was "
	"confirmed, and only its receiving side confirms it.\nSTEP counts "
	"from 1; --round defaults to the latest round.\n\n"
	"Exit status: 0 ok, 1 refused (role, turn, state, suspended talk, "
	"network),\n2 usage, 3 security.\n";

static int usage_err(void)
{
	cli_err("usage: backchannel exchange TALK "
		"commit|reveal|steps|done|confirm|show ... (see --help)");
	return EXIT_USAGE;
}

/* Print why a call refused, or the error itself. */
static int report(int rc, const char *why)
{
	if (rc != BC_OK)
		cli_err("%s", why[0] ? why : bc_strerror(rc));
	return cli_status(rc);
}

static int parse_u32(const char *s, uint32_t *out, const char *what)
{
	char *end;
	unsigned long long v;
	if (s == NULL || *s < '0' || *s > '9')
		goto bad;
	v = strtoull(s, &end, 10);
	if (*end != '\0' || v == 0 || v > 1000000)
		goto bad;
	*out = (uint32_t)v;
	return BC_OK;
bad:
	cli_err("%s must be a number from 1", what);
	return BC_ERR_INVALID;
}

/* The mediator sends what is pending before anything else. */
static void flush(struct cli_talks *c, const uint8_t id[BC_TALK_ID_LEN])
{
	int rc = bc_talk_exchange_flush(c->t, id, NULL, NULL);
	if (rc != BC_OK)
		cli_err("warning: could not send the pending exchange "
			"messages: %s", bc_strerror(rc));
}

/* ---- commit / reveal ------------------------------------------------------ */

static int ex_commit(struct cli_talks *c, const uint8_t id[BC_TALK_ID_LEN],
		     int argc, char **argv)
{
	char why[256] = "";
	uint32_t round = 0;
	int rc;
	if (argc != 2)
		return usage_err();
	if (strlen(argv[1]) == 0 || strlen(argv[1]) > BC_EXCHANGE_MAX_TEXT) {
		cli_err("the offer must be 1..%d bytes", BC_EXCHANGE_MAX_TEXT);
		return EXIT_USAGE;
	}
	rc = bc_talk_exchange_commit(c->t, id, argv[1], &round, why,
				     sizeof(why), NULL, NULL);
	if (rc == BC_OK)
		printf("committed to round %u: the mediator holds only the "
		       "commitment; reveal after\nevery side has committed "
		       "('backchannel exchange TALK reveal')\n",
		       round);
	return report(rc, why);
}

static int ex_reveal(struct cli_talks *c, const uint8_t id[BC_TALK_ID_LEN],
		     int argc)
{
	char why[256] = "";
	uint32_t round = 0;
	int rc;
	if (argc != 1)
		return usage_err();
	rc = bc_talk_exchange_reveal(c->t, id, &round, why, sizeof(why), NULL,
				     NULL);
	if (rc == BC_OK)
		printf("revealed round %u to the mediator; it releases every "
		       "offer together once all\nare in\n",
		       round);
	return report(rc, why);
}

/* ---- steps --------------------------------------------------------------- */

/* The party whose side label is s[0..n), or NULL. */
static const bc_talk_member *party_named(const bc_talk_info *info,
					 const char *s, size_t n)
{
	for (size_t i = 0; i < info->nmembers; i++) {
		const bc_talk_member *m = &info->members[i];
		if (m->role == BC_ROLE_PARTY && strlen(m->side) == n &&
		    strncasecmp(m->side, s, n) == 0)
			return m;
	}
	return NULL;
}

/* "SIDE: text" or "SIDE>SIDE: text" into def and *text. */
static int parse_step(const bc_talk_info *info, const char *s,
		      bc_exseq_def *def, const char **text)
{
	const char *colon = strchr(s, ':'), *gt, *p;
	const bc_talk_member *a, *b = NULL;
	size_t la;
	if (colon == NULL)
		goto bad;
	gt = memchr(s, '>', (size_t)(colon - s));
	la = (size_t)((gt ? gt : colon) - s);
	while (la > 0 && s[la - 1] == ' ')
		la--;
	if ((a = party_named(info, s, la)) == NULL) {
		cli_err("step '%s': '%.*s' is not the side of a party (see "
			"'backchannel talk show')", s, (int)la, s);
		return BC_ERR_INVALID;
	}
	if (gt != NULL) {
		const char *q = gt + 1;
		size_t lb;
		while (*q == ' ')
			q++;
		lb = (size_t)(colon - q);
		while (lb > 0 && q[lb - 1] == ' ')
			lb--;
		if ((b = party_named(info, q, lb)) == NULL) {
			cli_err("step '%s': '%.*s' is not the side of a party",
				s, (int)lb, q);
			return BC_ERR_INVALID;
		}
	} else {
		/* two parties: the receiving side is the other one */
		size_t np = 0;
		for (size_t i = 0; i < info->nmembers; i++)
			if (info->members[i].role == BC_ROLE_PARTY) {
				np++;
				if (&info->members[i] != a)
					b = &info->members[i];
			}
		if (np != 2) {
			cli_err("step '%s': with %zu parties name the "
				"confirming side too (\"A>B: what\")", s, np);
			return BC_ERR_INVALID;
		}
	}
	if (a == b) {
		cli_err("step '%s': a side cannot confirm its own step", s);
		return BC_ERR_INVALID;
	}
	for (p = colon + 1; *p == ' '; p++)
		;
	if (*p == '\0' || strlen(p) > BC_EXCHANGE_MAX_STEP_TEXT) {
		cli_err("step '%s': say what is done, in 1..%d bytes", s,
			BC_EXCHANGE_MAX_STEP_TEXT);
		return BC_ERR_INVALID;
	}
	memcpy(def->performer, a->id, BC_E2E_ID_LEN);
	memcpy(def->receiver, b->id, BC_E2E_ID_LEN);
	*text = p;
	return BC_OK;
bad:
	cli_err("a step is \"SIDE: what is done\" (or \"SIDE>SIDE: what\"), "
		"not '%s'", s);
	return BC_ERR_INVALID;
}

static int ex_steps(struct cli_talks *c, const uint8_t id[BC_TALK_ID_LEN],
		    const bc_talk_info *info, int argc, char **argv)
{
	static const struct option opts[] = {
		{"step", required_argument, 0, 's'},
		{"round", required_argument, 0, 'r'},
		{0, 0, 0, 0}};
	bc_exseq_def *defs = bc_calloc(BC_EXCHANGE_MAX_STEPS, sizeof(*defs));
	const char *texts[BC_EXCHANGE_MAX_STEPS];
	char why[256] = "";
	uint32_t round = 0;
	size_t n = 0;
	int ch, rc = BC_OK;
	if (defs == NULL) {
		cli_err("out of memory");
		return 1;
	}
	optind = 1;
	while (rc == BC_OK &&
	       (ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			if (n == BC_EXCHANGE_MAX_STEPS) {
				cli_err("at most %d steps",
					BC_EXCHANGE_MAX_STEPS);
				rc = BC_ERR_INVALID;
				break;
			}
			rc = parse_step(info, optarg, &defs[n], &texts[n]);
			n++;
			break;
		case 'r': rc = parse_u32(optarg, &round, "--round"); break;
		default: rc = BC_ERR_INVALID; break;
		}
	}
	if (rc == BC_OK && (optind != argc || n == 0)) {
		cli_err("usage: backchannel exchange TALK steps [--round N] "
			"--step \"SIDE: what\" [--step ...]");
		rc = BC_ERR_INVALID;
	}
	if (rc != BC_OK) {
		bc_free(defs);
		return EXIT_USAGE;
	}
	rc = bc_talk_exchange_steps(c->t, id, round, defs, texts, n, why,
				    sizeof(why), NULL, NULL);
	if (rc == BC_OK)
		printf("sent %zu step(s) to every member; step 1 is open\n", n);
	bc_free(defs);
	return report(rc, why);
}

static int ex_step(struct cli_talks *c, const uint8_t id[BC_TALK_ID_LEN],
		   int argc, char **argv, bool confirm)
{
	static const struct option opts[] = {
		{"round", required_argument, 0, 'r'},
		{"note", required_argument, 0, 'n'},
		{0, 0, 0, 0}};
	const char *note = NULL;
	char why[256] = "";
	uint32_t round = 0, step = 0;
	int ch, rc = BC_OK;
	optind = 1;
	while (rc == BC_OK &&
	       (ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'r': rc = parse_u32(optarg, &round, "--round"); break;
		case 'n':
			if (confirm)
				rc = BC_ERR_INVALID;
			note = optarg;
			break;
		default: rc = BC_ERR_INVALID; break;
		}
	}
	if (rc == BC_OK && optind + 1 != argc)
		rc = BC_ERR_INVALID;
	if (rc == BC_OK)
		rc = parse_u32(argv[optind], &step, "STEP");
	if (rc != BC_OK) {
		cli_err(confirm ? "usage: backchannel exchange TALK confirm "
				  "STEP [--round N]"
				: "usage: backchannel exchange TALK done STEP "
				  "[--round N] [--note TEXT]");
		return EXIT_USAGE;
	}
	if (note != NULL && strlen(note) > BC_EXCHANGE_MAX_NOTE) {
		cli_err("the note is limited to %d bytes", BC_EXCHANGE_MAX_NOTE);
		return EXIT_USAGE;
	}
	rc = confirm ? bc_talk_exchange_confirm(c->t, id, round, step, why,
						sizeof(why), NULL, NULL)
		     : bc_talk_exchange_done(c->t, id, round, step, note, why,
					     sizeof(why), NULL, NULL);
	if (rc == BC_OK)
		printf(confirm ? "confirmed step %u\n"
			       : "reported step %u done; the receiving side "
				 "confirms it\n",
		       step);
	return report(rc, why);
}

/* ---- show ----------------------------------------------------------------- */

struct show_ctx {
	const bc_talk_info *info;
	size_t n;
};

static const char *step_state(const bc_talk_exround *x, size_t i)
{
	if (i < x->cur)
		return "confirmed";
	if (i == x->cur)
		return x->cur_done ? "done" : "open";
	return "waiting";
}

static int show_json(void *vctx, const bc_talk_exround *x)
{
	struct show_ctx *sc = vctx;
	const char *ph = bc_talk_exchange_phase_name(x->phase);
	bool released = x->phase == BC_TEX_RELEASED;
	printf("%s{\"round\":%u,\"phase\":", sc->n++ ? "," : "", x->round);
	json_str(stdout, ph, strlen(ph));
	printf(",\"reason\":");
	json_str(stdout, x->reason, strlen(x->reason));
	printf(",\"i_committed\":%s,\"i_revealed\":%s",
	       x->i_committed ? "true" : "false",
	       x->i_revealed ? "true" : "false");
	if (x->i_committed) {
		printf(",\"my_offer\":");
		json_str(stdout, x->my_text, strlen(x->my_text));
	}
	printf(",\"pending\":{\"all_committed\":%s,\"release\":%s}",
	       x->allc_pending ? "true" : "false",
	       x->release_pending ? "true" : "false");
	printf(",\"sides\":[");
	for (size_t i = 0; i < x->nsides; i++) {
		const bc_talk_exside *s = &x->sides[i];
		printf("%s{", i ? "," : "");
		cli_json_who(stdout, "member", sc->info, s->id);
		printf(",\"committed\":%s,\"revealed\":%s,\"commitment\":",
		       s->committed ? "true" : "false",
		       s->revealed ? "true" : "false");
		if (s->committed)
			json_hex(stdout, s->c, sizeof(s->c));
		else
			printf("null");
		printf(",\"offer\":");
		if (released && s->revealed)
			json_str(stdout, s->text, strlen(s->text));
		else
			printf("null");
		printf("}");
	}
	printf("],\"steps\":[");
	for (size_t i = 0; x->steps_set && i < x->nsteps; i++) {
		const bc_talk_exstep *s = &x->steps[i];
		const char *st = step_state(x, i);
		printf("%s{\"step\":%zu,", i ? "," : "", i + 1);
		cli_json_who(stdout, "performer", sc->info, s->performer);
		printf(",");
		cli_json_who(stdout, "receiver", sc->info, s->receiver);
		printf(",\"text\":");
		json_str(stdout, s->text, strlen(s->text));
		printf(",\"state\":");
		json_str(stdout, st, strlen(st));
		printf(",\"note\":");
		json_str(stdout, s->note, strlen(s->note));
		printf("}");
	}
	printf("]}");
	return BC_OK;
}

static int show_text(void *vctx, const bc_talk_exround *x)
{
	struct show_ctx *sc = vctx;
	bool released = x->phase == BC_TEX_RELEASED;
	sc->n++;
	printf("round %u  %s", x->round,
	       bc_talk_exchange_phase_name(x->phase));
	if (x->phase == BC_TEX_BROKEN) {
		printf(": ");
		cli_print_safe(stdout, x->reason);
	}
	if (x->allc_pending)
		printf("  (the list of commitments is not sent yet)");
	if (x->release_pending)
		printf("  (the release is not sent yet)");
	fputc('\n', stdout);
	if (x->i_committed && !released) {
		printf("  my offer (hidden from the others until the "
		       "release): ");
		cli_print_safe(stdout, x->my_text);
		printf("\n  I %s\n", x->i_revealed
					   ? "revealed it to the mediator"
					   : "have not revealed it yet");
	}
	if (x->phase == BC_TEX_COMMITTING && x->i_committed)
		printf("  waiting for the mediator's list of every "
		       "commitment\n");
	for (size_t i = 0; i < x->nsides; i++) {
		const bc_talk_exside *s = &x->sides[i];
		if (x->i_committed && x->phase == BC_TEX_COMMITTING)
			break; /* only my own entry: shown above */
		printf("  ");
		cli_print_who(stdout, sc->info, s->id);
		printf("  %s", s->committed ? "committed" : "not committed");
		if (s->revealed)
			printf(", revealed");
		if (released && s->revealed) {
			printf("  offer: ");
			cli_print_safe(stdout, s->text);
		}
		fputc('\n', stdout);
	}
	if (x->steps_set) {
		printf("  steps:\n");
		for (size_t i = 0; i < x->nsteps; i++) {
			const bc_talk_exstep *s = &x->steps[i];
			printf("    %zu. ", i + 1);
			cli_print_who(stdout, sc->info, s->performer);
			printf(" -> ");
			cli_print_who(stdout, sc->info, s->receiver);
			printf("  %-9s  ", step_state(x, i));
			cli_print_safe(stdout, s->text);
			if (s->note[0] != '\0') {
				printf("  (note: ");
				cli_print_safe(stdout, s->note);
				fputc(')', stdout);
			}
			fputc('\n', stdout);
		}
	}
	return BC_OK;
}

static int ex_show(struct cli_talks *c, const uint8_t id[BC_TALK_ID_LEN],
		   const bc_talk_info *info, int argc)
{
	struct show_ctx sc = {info, 0};
	int rc;
	if (argc != 1)
		return usage_err();
	if (g_json) {
		printf("{\"talk\":");
		json_hex(stdout, id, BC_TALK_ID_LEN);
		printf(",\"rounds\":[");
	}
	rc = bc_talk_exchange_list(c->t, id, g_json ? show_json : show_text,
				   &sc);
	if (g_json)
		printf("]}\n");
	else if (rc == BC_OK && sc.n == 0)
		printf("no exchange yet ('backchannel exchange TALK commit "
		       "TEXT' starts one)\n");
	if (rc != BC_OK)
		cli_err("cannot read the exchange: %s", bc_strerror(rc));
	return cli_status(rc);
}

/* ---- dispatch ------------------------------------------------------------- */

int cmd_exchange(int argc, char **argv)
{
	uint8_t id[BC_TALK_ID_LEN];
	bc_talk_info *info;
	struct cli_talks c;
	const char *sub;
	int rc, st;
	if (argc < 2 || cli_wants_help(argc, argv)) {
		fputs(USAGE, argc < 2 ? stderr : stdout);
		if (argc < 2)
			return EXIT_USAGE;
		fputs(HELP, stdout);
		return 0;
	}
	if (argc < 3)
		return usage_err();
	sub = argv[2];
	if (strcmp(sub, "commit") && strcmp(sub, "reveal") &&
	    strcmp(sub, "steps") && strcmp(sub, "done") &&
	    strcmp(sub, "confirm") && strcmp(sub, "show")) {
		cli_err("unknown exchange command '%s'", sub);
		return usage_err();
	}
	if ((info = bc_calloc(1, sizeof(*info))) == NULL) {
		cli_err("out of memory");
		return 1;
	}
	if ((rc = cli_talk_arg(&c, argv[1], id, info)) != BC_OK) {
		bc_free(info);
		return cli_status(rc);
	}
	flush(&c, id);
	/* argv from the subcommand on: argv[0] is its name */
	argc -= 2;
	argv += 2;
	if (strcmp(sub, "commit") == 0)
		st = ex_commit(&c, id, argc, argv);
	else if (strcmp(sub, "reveal") == 0)
		st = ex_reveal(&c, id, argc);
	else if (strcmp(sub, "steps") == 0)
		st = ex_steps(&c, id, info, argc, argv);
	else if (strcmp(sub, "done") == 0)
		st = ex_step(&c, id, argc, argv, false);
	else if (strcmp(sub, "confirm") == 0)
		st = ex_step(&c, id, argc, argv, true);
	else
		st = ex_show(&c, id, info, argc);
	cli_talks_close(&c);
	sodium_memzero(info, sizeof(*info));
	bc_free(info);
	return st;
}
