/*
 * cmd_mutual.c - double-blind mutual questions (lib/talk_mutual.h,
 * docs/PROTOCOL.md §20).
 *
 *   backchannel ask TALK TEXT              the mediator asks every party
 *                                          TEXT; prints the question id
 *                                          (Q + 8 hex digits)
 *   backchannel ask TALK --list [--json]   the questions this member knows
 *   backchannel answer TALK QID yes|no     a party answers, to the asking
 *                                          mediator only
 *   backchannel answer TALK --list [--json]   (the same list)
 *
 * QID is "Q1a2b3c4d" as printed, or any hex prefix (>= 4 digits) of the
 * question id. Questions arrive with 'backchannel sync'. The answer is
 * revealed to all only if every party said yes ("match", with the
 * question); otherwise every party learns only "no match".
 *
 * What the list shows: a party sees each question, its own answer and the
 * outcome - never anything about another party's answer. The asking
 * mediator sees, while a question is open, WHO has answered, not how
 * (its software knows the answers - it is the trusted decider in this
 * version - but does not display them, and forgets them once the outcome
 * is decided); then the outcome. Observers are never asked and see none.
 *
 * Exit status: 0 ok; 1 refused (wrong role, unknown question, already
 * answered or decided, talk suspended or closed, network, storage);
 * 2 usage (bad arguments, a question text that is empty, too long or
 * holds control characters); 3 security (store authentication).
 * Text from other members is printed with control characters escaped.
 */
#include <getopt.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "codec.h"
#include "internal.h"
#include "talk_int.h"
#include "talk_mutual.h"
#include "talkcli.h"

static const char ASK_USAGE[] =
	"usage: backchannel ask TALK TEXT\n"
	"       backchannel ask TALK --list [--json]\n";
static const char ANSWER_USAGE[] =
	"usage: backchannel answer TALK QID yes|no\n"
	"       backchannel answer TALK --list [--json]\n";

/* ---- the list ------------------------------------------------------------ */

struct list_ctx {
	const bc_talk_info *info;
	size_t n;
};

static const char *status_name(const bc_talk_question *q)
{
	if (q->decided)
		return q->outcome == BC_MUTUAL_MATCH ? "match" : "no match";
	if (q->my_answer != BC_TQ_NONE)
		return "answered";
	return "open";
}

static bool answered(const bc_talk_question *q, const uint8_t *id)
{
	for (size_t i = 0; i < q->nanswered; i++)
		if (memcmp(q->answered[i], id, BC_E2E_ID_LEN) == 0)
			return true;
	return false;
}

static void print_json(struct list_ctx *l, const bc_talk_question *q)
{
	char lbl[10];
	const char *st = status_name(q);
	bc_talk_mutual_label(q->qid, lbl);
	printf("%s{\"question\":\"%s\",\"id\":", l->n ? "," : "", lbl);
	json_hex(stdout, q->qid, sizeof(q->qid));
	printf(",\"asked_at\":%llu,", (unsigned long long)q->time);
	cli_json_who(stdout, "asked_by", l->info, q->asker);
	printf(",\"mine\":%s,\"text\":", q->mine ? "true" : "false");
	json_str(stdout, q->text, strlen(q->text));
	printf(",\"status\":");
	json_str(stdout, st, strlen(st));
	printf(",\"parties\":[");
	for (size_t i = 0; i < q->nparties; i++) {
		if (i > 0)
			fputc(',', stdout);
		json_hex(stdout, q->parties[i], BC_E2E_ID_LEN);
	}
	fputc(']', stdout);
	if (q->mine) {
		/* who has answered (never how) while open */
		printf(",\"answered\":[");
		for (size_t i = 0; !q->decided && i < q->nanswered; i++) {
			if (i > 0)
				fputc(',', stdout);
			json_hex(stdout, q->answered[i], BC_E2E_ID_LEN);
		}
		printf("],\"result_pending\":%s",
		       q->result_pending ? "true" : "false");
	} else {
		printf(",\"my_answer\":%s",
		       q->my_answer == BC_TQ_YES  ? "\"yes\""
		       : q->my_answer == BC_TQ_NO ? "\"no\""
						  : "null");
	}
	fputc('}', stdout);
}

static void print_text(struct list_ctx *l, const bc_talk_question *q)
{
	char lbl[10];
	bc_talk_mutual_label(q->qid, lbl);
	printf("%s  ", lbl);
	cli_print_time(stdout, q->time);
	if (q->mine && !q->decided) {
		printf("  open, %zu of %zu answered", q->nanswered,
		       q->nparties);
	} else if (q->mine) {
		printf("  %s%s", status_name(q),
		       q->result_pending ? " (result not sent yet: the talk "
					   "is not open)"
					 : "");
	} else if (q->decided) {
		printf("  %s", status_name(q));
		if (q->my_answer != BC_TQ_NONE)
			printf(" (you answered %s)",
			       q->my_answer == BC_TQ_YES ? "yes" : "no");
	} else if (q->my_answer != BC_TQ_NONE) {
		printf("  answered %s, waiting for the result",
		       q->my_answer == BC_TQ_YES ? "yes" : "no");
	} else {
		printf("  open, asked by ");
		cli_print_who(stdout, l->info, q->asker);
	}
	printf("\n    ");
	cli_print_safe(stdout, q->text);
	fputc('\n', stdout);
	if (q->mine && !q->decided) {
		for (int pass = 0; pass < 2; pass++) {
			bool any = false;
			printf("    %s:", pass == 0 ? "answered" : "waiting for");
			for (size_t i = 0; i < q->nparties; i++) {
				if (answered(q, q->parties[i]) != (pass == 0))
					continue;
				fputc(' ', stdout);
				cli_print_who(stdout, l->info, q->parties[i]);
				any = true;
			}
			printf("%s\n", any ? "" : " -");
		}
	}
}

static int list_one(void *vctx, const bc_talk_question *q)
{
	struct list_ctx *l = vctx;
	if (g_json)
		print_json(l, q);
	else
		print_text(l, q);
	l->n++;
	return BC_OK;
}

static int do_list(const char *talk)
{
	uint8_t id[BC_TALK_ID_LEN];
	bc_talk_info *info;
	struct cli_talks c;
	struct list_ctx l;
	int rc;
	if ((info = bc_calloc(1, sizeof(*info))) == NULL) {
		cli_err("out of memory");
		return 1;
	}
	if ((rc = cli_talk_arg(&c, talk, id, info)) != BC_OK) {
		bc_free(info);
		return cli_status(rc);
	}
	/* the mediator: results held back while the talk was suspended */
	if (info->my_role == BC_ROLE_MEDIATOR &&
	    (rc = bc_talk_mutual_flush(c.t, id, NULL, NULL)) != BC_OK)
		cli_err("warning: cannot send a pending result yet: %s",
			bc_strerror(rc));
	l.info = info;
	l.n = 0;
	if (g_json)
		fputc('[', stdout);
	rc = bc_talk_mutual_list(c.t, id, list_one, &l);
	if (g_json)
		printf("]\n");
	else if (rc == BC_OK && l.n == 0)
		printf("no questions (they arrive with 'backchannel sync')\n");
	if (rc != BC_OK)
		cli_err("cannot read the questions: %s", bc_strerror(rc));
	cli_talks_close(&c);
	bc_free_secret(info, sizeof(*info));
	return cli_status(rc);
}

/* Parse the common options: --list and --help. Returns -1 to go on, or
 * an exit status. */
static int parse_opts(int argc, char **argv, bool *list, const char *usage,
		      const char *help)
{
	static const struct option opts[] = {
		{"list", no_argument, 0, 'l'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0}};
	int ch;
	*list = false;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'l': *list = true; break;
		case 'h': printf("%s\n%s", usage, help); return 0;
		default: cli_err("%s", usage); return EXIT_USAGE;
		}
	}
	return -1;
}

/* ---- ask ------------------------------------------------------------------- */

/* The rule the library enforces too, checked here for a usage error. */
static bool text_printable(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	if (n == 0 || n > BC_MUTUAL_MAX_TEXT || !bc_utf8_valid(p, n))
		return false;
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] == 0x7f ||
		    (p[i] == 0xc2 && i + 1 < n && p[i + 1] >= 0x80 &&
		     p[i + 1] <= 0x9f))
			return false;
	return true;
}

int cmd_ask(int argc, char **argv)
{
	uint8_t id[BC_TALK_ID_LEN], qid[BC_MUTUAL_QID_LEN];
	bc_talk_info *info;
	struct cli_talks c;
	char lbl[10];
	bool list;
	int rc;
	rc = parse_opts(
		argc, argv, &list, ASK_USAGE,
		"\nThe mediator asks every party of TALK the question TEXT "
		"(1..1024 bytes, one\nline), privately: observers never see "
		"it. Each party answers yes or no\n('backchannel answer'); "
		"when all have answered, every party learns the\nsame result: "
		"\"match\" with the question if all said yes, otherwise only\n"
		"\"no match\" - never who said no. Prints the question id "
		"(Q + 8 hex digits).\n\n--list: the questions this member "
		"knows and their status; the mediator sees\nwho has answered "
		"so far, not how. Results that could not be sent while the\n"
		"talk was suspended are sent then. --json: as JSON.\n\n"
		"Exit status: 0 ok, 1 refused (not the mediator, talk "
		"suspended, fewer\nthan two parties, network), 2 usage.\n");
	if (rc >= 0)
		return rc;
	if (list) {
		if (optind + 1 != argc) {
			cli_err("%s", ASK_USAGE);
			return EXIT_USAGE;
		}
		return do_list(argv[optind]);
	}
	if (optind + 2 != argc) {
		cli_err("%s", ASK_USAGE);
		return EXIT_USAGE;
	}
	if (!text_printable(argv[optind + 1])) {
		cli_err("the question must be 1..%d bytes of UTF-8 text on one "
			"line, without control characters",
			BC_MUTUAL_MAX_TEXT);
		return EXIT_USAGE;
	}
	if ((info = bc_calloc(1, sizeof(*info))) == NULL) {
		cli_err("out of memory");
		return 1;
	}
	if ((rc = cli_talk_arg(&c, argv[optind], id, info)) != BC_OK) {
		bc_free(info);
		return cli_status(rc);
	}
	if (info->my_role == BC_ROLE_MEDIATOR &&
	    bc_talk_mutual_flush(c.t, id, NULL, NULL) != BC_OK) {
		/* a held-back result: retried by the next ask or --list */
	}
	rc = bc_talk_mutual_ask(c.t, id, argv[optind + 1], qid, NULL, NULL);
	if (rc == BC_OK) {
		bc_talk_mutual_label(qid, lbl);
		if (g_json) {
			printf("{\"question\":\"%s\",\"id\":", lbl);
			json_hex(stdout, qid, sizeof(qid));
			printf("}\n");
		} else {
			printf("%s\n", lbl);
		}
	} else if (rc == BC_ERR_FORBIDDEN) {
		if (info->my_role == BC_ROLE_MEDIATOR)
			cli_err("you cannot send in this talk yet: wait until "
				"the registrar has synced, then run "
				"'backchannel sync'");
		else
			cli_err("only the mediator asks mutual questions (you "
				"are %s)",
				cli_name_or(bc_talk_role_name(info->my_role),
					    "?"));
	} else if (rc == BC_ERR_STATE) {
		cli_err("the talk is %s: nothing but resume and close may be "
			"sent; ask again once it is resumed",
			bc_talk_state_name(info->state));
	} else if (rc == BC_ERR_NOTFOUND) {
		cli_err("a mutual question needs at least two parties in the "
			"talk");
	} else {
		cli_err("cannot ask: %s", bc_strerror(rc));
	}
	cli_talks_close(&c);
	bc_free_secret(info, sizeof(*info));
	return cli_status(rc);
}

/* ---- answer ---------------------------------------------------------------- */

int cmd_answer(int argc, char **argv)
{
	uint8_t id[BC_TALK_ID_LEN], qid[BC_MUTUAL_QID_LEN];
	bc_talk_question *q = NULL;
	bc_talk_info *info;
	struct cli_talks c;
	const char *qs;
	char lbl[10];
	bool list, yes;
	int rc;
	rc = parse_opts(
		argc, argv, &list, ANSWER_USAGE,
		"\nA party answers the mutual question QID (as printed by "
		"'backchannel ask' or\n--list: Q + 8 hex digits) yes or no. "
		"The answer goes to the asking mediator\nalone and cannot be "
		"changed. When every party has answered, each learns\n"
		"\"match\" (all said yes) or only \"no match\". Questions "
		"arrive with\n'backchannel sync'.\n\n--list: the questions "
		"this member knows, with its own answer and the\noutcome. "
		"--json: as JSON.\n\nExit status: 0 ok, 1 refused (not a "
		"party, unknown question, already\nanswered or decided, talk "
		"suspended, network), 2 usage.\n");
	if (rc >= 0)
		return rc;
	if (list) {
		if (optind + 1 != argc) {
			cli_err("%s", ANSWER_USAGE);
			return EXIT_USAGE;
		}
		return do_list(argv[optind]);
	}
	if (optind + 3 != argc) {
		cli_err("%s", ANSWER_USAGE);
		return EXIT_USAGE;
	}
	qs = argv[optind + 1];
	if (strcasecmp(argv[optind + 2], "yes") == 0) {
		yes = true;
	} else if (strcasecmp(argv[optind + 2], "no") == 0) {
		yes = false;
	} else {
		cli_err("answer yes or no");
		return EXIT_USAGE;
	}
	info = bc_calloc(1, sizeof(*info));
	q = bc_calloc(1, sizeof(*q));
	if (info == NULL || q == NULL) {
		bc_free(info);
		bc_free(q);
		cli_err("out of memory");
		return 1;
	}
	if ((rc = cli_talk_arg(&c, argv[optind], id, info)) != BC_OK) {
		bc_free(info);
		bc_free(q);
		return cli_status(rc);
	}
	if (info->my_role != BC_ROLE_PARTY) {
		if (info->my_role == BC_ROLE_MEDIATOR)
			cli_err("the mediator does not answer mutual "
				"questions: the parties do");
		else
			cli_err("only a party answers mutual questions (you "
				"are %s)",
				cli_name_or(bc_talk_role_name(info->my_role),
					    "?"));
		rc = BC_ERR_FORBIDDEN;
		goto out;
	}
	rc = bc_talk_mutual_find(c.t, id, qs, qid);
	if (rc == BC_ERR_INVALID) {
		cli_err("'%s' is not a question id: give Q and 8 hex digits, "
			"as 'backchannel answer TALK --list' shows",
			qs);
		cli_talks_close(&c);
		bc_free_secret(info, sizeof(*info));
		bc_free(q);
		return EXIT_USAGE;
	}
	if (rc == BC_ERR_NOTFOUND) {
		cli_err("no question %s in this talk (see 'backchannel answer "
			"TALK --list'; questions arrive with 'backchannel "
			"sync')",
			qs);
		goto out;
	}
	if (rc == BC_ERR_CONFLICT) {
		cli_err("several questions start with %s: give more digits",
			qs);
		goto out;
	}
	if (rc != BC_OK) {
		cli_err("cannot read the questions: %s", bc_strerror(rc));
		goto out;
	}
	bc_talk_mutual_label(qid, lbl);
	if ((rc = bc_talk_mutual_get(c.t, id, qid, q)) != BC_OK) {
		cli_err("cannot read question %s: %s", lbl, bc_strerror(rc));
		goto out;
	}
	rc = bc_talk_mutual_answer(c.t, id, qid, yes, NULL, NULL);
	if (rc == BC_OK)
		printf("answered %s: %s\n", lbl, yes ? "yes" : "no");
	else if (rc == BC_ERR_CONFLICT && q->my_answer != BC_TQ_NONE)
		cli_err("you already answered %s (%s): an answer cannot be "
			"changed",
			lbl, q->my_answer == BC_TQ_YES ? "yes" : "no");
	else if (rc == BC_ERR_CONFLICT)
		cli_err("%s is already decided: it can no longer be answered",
			lbl);
	else if (rc == BC_ERR_FORBIDDEN)
		cli_err("%s was not asked of you", lbl);
	else if (rc == BC_ERR_STATE)
		cli_err("the talk is %s: nothing but resume and close may be "
			"sent; answer once it is resumed",
			bc_talk_state_name(info->state));
	else if (rc == BC_ERR_NOTFOUND)
		cli_err("the mediator who asked %s is no longer a member", lbl);
	else
		cli_err("cannot answer: %s", bc_strerror(rc));
out:
	cli_talks_close(&c);
	bc_free_secret(info, sizeof(*info));
	bc_free_secret(q, sizeof(*q));
	return cli_status(rc);
}
