/*
 * cmd_text.c - the single negotiating text of a talk (lib/talk_text.h).
 *
 *   backchannel text TALK draft  [--note TEXT] (--file FILE | TEXT)
 *   backchannel text TALK revise [--note TEXT] (--file FILE | TEXT)
 *   backchannel text TALK comment [--version N] TEXT
 *   backchannel text TALK call   [--version N]
 *   backchannel text TALK vote   yes|no [--reason TEXT]
 *   backchannel text TALK show   [--version N] [--json]
 *
 * draft, revise and call are a mediator's, comment and vote a party's.
 * draft, revise, call and vote go to every member; a comment goes to the
 * mediator(s) only. --file - reads the text from standard input. The
 * current version is the latest; show prints it (or version N), the
 * version history, the comments this member can read (a mediator every
 * party's, a party its own), and the vote rounds with their votes.
 *
 * Exit status: 0 done; 1 refused (wrong role, the text's state does not
 * allow it, unknown version, the talk is suspended or closed) or a
 * network/storage failure; 2 usage error (bad arguments, empty or
 * over-long text); 3 a security refusal. On any refusal nothing is sent.
 *
 * Everything in a text, note, reason or comment comes from another member
 * and is printed with control characters escaped.
 */
#include <getopt.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "codec.h"
#include "internal.h"
#include "talk.h"
#include "talk_text.h"
#include "talkcli.h"

static const char usage_all[] =
	"usage: backchannel text TALK draft  [--note TEXT] (--file FILE | "
	"TEXT)\n"
	"       backchannel text TALK revise [--note TEXT] (--file FILE | "
	"TEXT)\n"
	"       backchannel text TALK comment [--version N] TEXT\n"
	"       backchannel text TALK call   [--version N]\n"
	"       backchannel text TALK vote   yes|no [--reason TEXT]\n"
	"       backchannel text TALK show   [--version N] [--json]\n";

static const char help_all[] =
	"\nThe single negotiating text: the mediator drafts a text (version "
	"1) and revises\nit (version 2, 3, ...), every member receiving each "
	"version; a party comments\nprivately on a version (only the "
	"mediator reads it); the mediator calls the\nfinal vote on a version "
	"(default the latest) and each party answers yes or no.\nWhen every "
	"party said yes the text is adopted and final; a no closes the "
	"round\nas not adopted, and the mediator may revise and call again. "
	"No revision while a\nround is open. --file - reads the text from "
	"standard input. Run 'backchannel\nsync' to receive what the others "
	"sent.\n\nExit status: 0 done, 1 refused or failed (nothing was "
	"sent), 2 usage error.\n";

/* ---- arguments ---------------------------------------------------------- */

static int parse_version(const char *s, uint32_t *v)
{
	char *end;
	unsigned long n;
	if (*s < '0' || *s > '9')
		goto bad;
	n = strtoul(s, &end, 10);
	if (*end != '\0' || n == 0 || n > BC_TEXT_VERSIONS_MAX)
		goto bad;
	*v = (uint32_t)n;
	return BC_OK;
bad:
	cli_err("--version takes a version number (1..%d)",
		BC_TEXT_VERSIONS_MAX);
	return BC_ERR_INVALID;
}

/* Read the text of FILE ("-": standard input): 1..BC_TEXT_MAX bytes of
 * UTF-8 without NUL. *out is NUL-terminated; free with bc_free_secret. */
static int read_text_file(const char *path, char **out, size_t *outlen)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char *buf;
	size_t n = 0;
	int rc = BC_OK;
	*out = NULL;
	*outlen = 0;
	if (f == NULL) {
		cli_err("cannot open '%s'", path);
		return BC_ERR_INVALID;
	}
	if ((buf = bc_malloc(BC_TEXT_MAX + 2)) == NULL) {
		if (f != stdin)
			fclose(f);
		return BC_ERR_NOMEM;
	}
	/* one byte more than allowed, to tell a full text from a long one */
	n = fread(buf, 1, BC_TEXT_MAX + 1, f);
	if (ferror(f)) {
		cli_err("cannot read '%s'", path);
		rc = BC_ERR_INVALID;
	} else if (n == 0 || n > BC_TEXT_MAX) {
		cli_err("the text must be 1..%d bytes", BC_TEXT_MAX);
		rc = BC_ERR_INVALID;
	} else if (!bc_utf8_valid((const uint8_t *)buf, n)) {
		cli_err("the text must be UTF-8 without NUL bytes");
		rc = BC_ERR_INVALID;
	}
	if (f != stdin)
		fclose(f);
	if (rc != BC_OK) {
		bc_free_secret(buf, BC_TEXT_MAX + 2);
		return rc;
	}
	buf[n] = '\0';
	*out = buf;
	*outlen = BC_TEXT_MAX + 2;
	return BC_OK;
}

/* Report a refused or failed action; returns the exit status. */
static int report(int rc, const char *why, const char *what)
{
	if (rc == BC_OK)
		return 0;
	if (why != NULL)
		cli_err("cannot %s: %s", what, why);
	else
		cli_err("cannot %s: %s", what, bc_strerror(rc));
	return cli_status(rc);
}

/* ---- draft / revise ----------------------------------------------------- */

static int text_put(const char *talk, bool revise, int argc, char **argv)
{
	static const struct option opts[] = {
		{"file", required_argument, 0, 'f'},
		{"note", required_argument, 0, 'n'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0}};
	const char *file = NULL, *note = "", *why = NULL, *text;
	char *buf = NULL;
	size_t buflen = 0;
	uint8_t id[BC_TALK_ID_LEN];
	uint32_t v = 0;
	struct cli_talks c;
	int ch, rc;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'f': file = optarg; break;
		case 'n': note = optarg; break;
		case 'h':
			printf("usage: backchannel text TALK %s [--note TEXT] "
			       "(--file FILE | TEXT)\n\n%s",
			       revise ? "revise" : "draft",
			       revise ? "The mediator's next version of the "
					"text, to every member (not while a "
					"vote\nround is open). --note says what "
					"changed.\n"
				      : "The mediator's first version of the "
					"text, to every member.\n");
			return 0;
		default: return EXIT_USAGE;
		}
	}
	if ((file == NULL) == (optind + 1 != argc)) {
		cli_err("usage: backchannel text TALK %s [--note TEXT] (--file "
			"FILE | TEXT)",
			revise ? "revise" : "draft");
		return EXIT_USAGE;
	}
	if (strlen(note) > BC_TEXT_NOTE_MAX) {
		cli_err("the note is limited to %d bytes", BC_TEXT_NOTE_MAX);
		return EXIT_USAGE;
	}
	if (file != NULL) {
		if (read_text_file(file, &buf, &buflen) != BC_OK)
			return EXIT_USAGE;
		text = buf;
	} else {
		text = argv[optind];
		if (strlen(text) == 0 || strlen(text) > BC_TEXT_MAX) {
			cli_err("the text must be 1..%d bytes", BC_TEXT_MAX);
			return EXIT_USAGE;
		}
	}
	if ((rc = cli_talk_arg(&c, talk, id, NULL)) != BC_OK) {
		bc_free_secret(buf, buflen);
		return cli_status(rc);
	}
	rc = revise ? bc_text_revise(c.t, id, text, note, &v, &why)
		    : bc_text_draft(c.t, id, text, note, &v, &why);
	if (rc == BC_OK && g_json)
		printf("{\"version\":%u,\"size\":%zu}\n", v, strlen(text));
	else if (rc == BC_OK)
		printf("%s text v%u (%zu bytes), sent to every member\n",
		       revise ? "revised the" : "drafted", v, strlen(text));
	cli_talks_close(&c);
	bc_free_secret(buf, buflen);
	return report(rc, why, revise ? "revise the text" : "draft the text");
}

/* ---- comment ------------------------------------------------------------ */

static int text_comment(const char *talk, int argc, char **argv)
{
	static const struct option opts[] = {{"version", required_argument, 0,
					      'v'},
					     {"help", no_argument, 0, 'h'},
					     {0, 0, 0, 0}};
	const char *why = NULL;
	uint8_t id[BC_TALK_ID_LEN];
	uint32_t v = 0, done = 0;
	struct cli_talks c;
	int ch, rc;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'v':
			if (parse_version(optarg, &v) != BC_OK)
				return EXIT_USAGE;
			break;
		case 'h':
			printf("usage: backchannel text TALK comment [--version "
			       "N] TEXT\n\nA party's private comment on "
			       "version N of the text (default the latest):\n"
			       "only the mediator(s) read it.\n");
			return 0;
		default: return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		cli_err("usage: backchannel text TALK comment [--version N] "
			"TEXT");
		return EXIT_USAGE;
	}
	if (strlen(argv[optind]) == 0 ||
	    strlen(argv[optind]) > BC_TEXT_COMMENT_MAX) {
		cli_err("a comment must be 1..%d bytes", BC_TEXT_COMMENT_MAX);
		return EXIT_USAGE;
	}
	if ((rc = cli_talk_arg(&c, talk, id, NULL)) != BC_OK)
		return cli_status(rc);
	rc = bc_text_comment_on(c.t, id, v, argv[optind], &done, &why);
	if (rc == BC_OK && g_json)
		printf("{\"version\":%u}\n", done);
	else if (rc == BC_OK)
		printf("commented on text v%u (only the mediator reads it)\n",
		       done);
	cli_talks_close(&c);
	return report(rc, why, "comment");
}

/* ---- call / vote -------------------------------------------------------- */

static int text_call(const char *talk, int argc, char **argv)
{
	static const struct option opts[] = {{"version", required_argument, 0,
					      'v'},
					     {"help", no_argument, 0, 'h'},
					     {0, 0, 0, 0}};
	const char *why = NULL;
	uint8_t id[BC_TALK_ID_LEN];
	uint32_t v = 0, done = 0;
	struct cli_talks c;
	int ch, rc;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'v':
			if (parse_version(optarg, &v) != BC_OK)
				return EXIT_USAGE;
			break;
		case 'h':
			printf("usage: backchannel text TALK call [--version "
			       "N]\n\nThe mediator opens the final yes/no "
			       "round on version N (default the latest),\n"
			       "told to every member.\n");
			return 0;
		default: return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		cli_err("usage: backchannel text TALK call [--version N]");
		return EXIT_USAGE;
	}
	if ((rc = cli_talk_arg(&c, talk, id, NULL)) != BC_OK)
		return cli_status(rc);
	rc = bc_text_call(c.t, id, v, &done, &why);
	if (rc == BC_OK && g_json)
		printf("{\"version\":%u}\n", done);
	else if (rc == BC_OK)
		printf("called the final vote on text v%u\n", done);
	cli_talks_close(&c);
	return report(rc, why, "call the vote");
}

static int text_vote(const char *talk, int argc, char **argv)
{
	static const struct option opts[] = {{"reason", required_argument, 0,
					      'r'},
					     {"help", no_argument, 0, 'h'},
					     {0, 0, 0, 0}};
	const char *why = NULL, *reason = "";
	uint8_t id[BC_TALK_ID_LEN];
	uint32_t done = 0;
	bc_text_state *s = NULL;
	struct cli_talks c;
	bool yes;
	int ch, rc;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'r': reason = optarg; break;
		case 'h':
			printf("usage: backchannel text TALK vote yes|no "
			       "[--reason TEXT]\n\nA party's answer in the "
			       "open round, to every member; one per party "
			       "and round.\n");
			return 0;
		default: return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc || (strcmp(argv[optind], "yes") != 0 &&
				   strcmp(argv[optind], "no") != 0)) {
		cli_err("usage: backchannel text TALK vote yes|no [--reason "
			"TEXT]");
		return EXIT_USAGE;
	}
	yes = strcmp(argv[optind], "yes") == 0;
	if (strlen(reason) > BC_TEXT_NOTE_MAX) {
		cli_err("the reason is limited to %d bytes", BC_TEXT_NOTE_MAX);
		return EXIT_USAGE;
	}
	if ((rc = cli_talk_arg(&c, talk, id, NULL)) != BC_OK)
		return cli_status(rc);
	rc = bc_text_vote(c.t, id, yes, reason, &done, &why);
	if (rc == BC_OK && bc_text_get(c.t, id, &s) != BC_OK)
		s = NULL;
	if (rc == BC_OK && g_json) {
		printf("{\"version\":%u,\"vote\":\"%s\",\"adopted\":%s}\n",
		       done, yes ? "yes" : "no",
		       s != NULL && s->adopted == done ? "true" : "false");
	} else if (rc == BC_OK) {
		printf("voted %s on text v%u\n", yes ? "yes" : "no", done);
		if (s != NULL && s->adopted == done)
			printf("text v%u adopted: every party said yes\n",
			       done);
		else if (!yes)
			printf("text v%u not adopted\n", done);
	}
	bc_text_state_free(s);
	cli_talks_close(&c);
	return report(rc, why, "vote");
}

/* ---- show --------------------------------------------------------------- */

/* Untrusted multi-line text: escaped like cli_print_safe, but each line
 * on its own, indented, so it cannot pass for our own output. */
static void print_block(const char *s)
{
	fputs("  | ", stdout);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '\n') {
			if (p[1] != '\0')
				fputs("\n  | ", stdout);
		} else if (*p == '\\') {
			fputs("\\\\", stdout);
		} else if ((*p < 0x20 && *p != '\t') || *p == 0x7f) {
			printf("\\x%02x", *p);
		} else {
			fputc(*p, stdout);
		}
	}
	fputc('\n', stdout);
}

static const char *round_state(uint8_t st)
{
	switch (st) {
	case BC_TEXT_OPEN: return "open";
	case BC_TEXT_ADOPTED: return "adopted";
	case BC_TEXT_NOT_ADOPTED: return "not adopted";
	default: return "?";
	}
}

static const char *status_of(const bc_text_state *s)
{
	if (s->adopted != 0)
		return "adopted";
	if (s->nrounds > 0 && s->rounds[s->nrounds - 1].state == BC_TEXT_OPEN)
		return "voting";
	return "drafting";
}

struct show_ctx {
	const bc_talk_info *info;
	size_t n;
};

static int comment_text(void *vctx, const bc_text_comment *cm)
{
	struct show_ctx *sc = vctx;
	if (sc->n++ == 0)
		printf("comments (each read only by its author and the "
		       "mediator):\n");
	printf("  v%u  ", cm->version);
	cli_print_time(stdout, cm->time);
	fputs("  ", stdout);
	cli_print_who(stdout, sc->info, cm->author);
	fputs("  ", stdout);
	cli_print_safe(stdout, cm->text);
	fputc('\n', stdout);
	return BC_OK;
}

static int comment_json(void *vctx, const bc_text_comment *cm)
{
	struct show_ctx *sc = vctx;
	printf("%s{\"version\":%u,\"time\":%llu,", sc->n++ ? "," : "",
	       cm->version, (unsigned long long)cm->time);
	cli_json_who(stdout, "from", sc->info, cm->author);
	printf(",\"text\":");
	json_str(stdout, cm->text, strlen(cm->text));
	fputc('}', stdout);
	return BC_OK;
}

static void show_json(const bc_talk_info *info, const bc_text_state *s,
		      uint32_t v, const char *text, struct cli_talks *c,
		      int *rc)
{
	const bc_text_version *cur = &s->versions[v - 1];
	struct show_ctx sc = {info, 0};
	printf("{\"talk\":");
	json_hex(stdout, info->id, BC_TALK_ID_LEN);
	printf(",\"status\":\"%s\",\"adopted\":%u,\"latest\":%u,", status_of(s),
	       s->adopted, s->nversions);
	printf("\"version\":{\"number\":%u,\"time\":%llu,\"size\":%u,",
	       cur->number, (unsigned long long)cur->time, cur->size);
	cli_json_who(stdout, "author", info, cur->author);
	printf(",\"digest\":");
	json_hex(stdout, cur->digest, BC_TEXT_DIGEST_LEN);
	printf(",\"note\":");
	json_str(stdout, cur->note, strlen(cur->note));
	printf(",\"text\":");
	json_str(stdout, text, strlen(text));
	printf("},\"versions\":[");
	for (uint32_t i = 0; i < s->nversions; i++) {
		const bc_text_version *x = &s->versions[i];
		printf("%s{\"number\":%u,\"time\":%llu,\"size\":%u,\"note\":",
		       i ? "," : "", x->number, (unsigned long long)x->time,
		       x->size);
		json_str(stdout, x->note, strlen(x->note));
		fputc('}', stdout);
	}
	printf("],\"comments\":[");
	*rc = bc_text_comments(c->t, info->id, comment_json, &sc);
	printf("],\"rounds\":[");
	for (uint32_t i = 0; i < s->nrounds; i++) {
		const bc_text_round *r = &s->rounds[i];
		printf("%s{\"round\":%u,\"version\":%u,\"time\":%llu,"
		       "\"state\":\"%s\",\"votes\":[",
		       i ? "," : "", r->number, r->version,
		       (unsigned long long)r->time, round_state(r->state));
		for (uint16_t j = 0; j < r->nvotes; j++) {
			const bc_text_ballot *b = &r->votes[j];
			printf("%s{", j ? "," : "");
			cli_json_who(stdout, "from", info, b->party);
			printf(",\"vote\":\"%s\",\"late\":%s,\"time\":%llu,"
			       "\"reason\":",
			       b->answer == BC_TEXT_YES ? "yes" : "no",
			       b->late ? "true" : "false",
			       (unsigned long long)b->time);
			json_str(stdout, b->reason, strlen(b->reason));
			fputc('}', stdout);
		}
		printf("]}");
	}
	printf("]}\n");
}

static void show_text(const bc_talk_info *info, const bc_text_state *s,
		      uint32_t v, const char *text, struct cli_talks *c,
		      int *rc)
{
	const bc_text_version *cur = &s->versions[v - 1];
	struct show_ctx sc = {info, 0};
	printf("text v%u of %u (%u bytes) by ", v, s->nversions, cur->size);
	cli_print_who(stdout, info, cur->author);
	fputs(", ", stdout);
	cli_print_time(stdout, cur->time);
	if (s->adopted == v)
		fputs("  [ADOPTED]", stdout);
	else if (v != s->nversions)
		fputs("  [superseded]", stdout);
	printf("\nstatus: %s\n", status_of(s));
	print_block(text);
	printf("versions:\n");
	for (uint32_t i = 0; i < s->nversions; i++) {
		const bc_text_version *x = &s->versions[i];
		printf("  v%u  ", x->number);
		cli_print_time(stdout, x->time);
		printf("  %u bytes  ", x->size);
		cli_print_safe(stdout, x->note[0] ? x->note : "-");
		fputc('\n', stdout);
	}
	*rc = bc_text_comments(c->t, info->id, comment_text, &sc);
	if (sc.n == 0)
		printf("comments: none you can read\n");
	for (uint32_t i = 0; i < s->nrounds; i++) {
		const bc_text_round *r = &s->rounds[i];
		printf("round %u on v%u, called ", r->number, r->version);
		cli_print_time(stdout, r->time);
		printf(": %s\n", round_state(r->state));
		for (uint16_t j = 0; j < r->nvotes; j++) {
			const bc_text_ballot *b = &r->votes[j];
			fputs("  ", stdout);
			cli_print_who(stdout, info, b->party);
			printf(" %s%s", b->answer == BC_TEXT_YES ? "yes" : "no",
			       b->late ? " (late: not counted)" : "");
			if (b->reason[0] != '\0') {
				fputs(": ", stdout);
				cli_print_safe(stdout, b->reason);
			}
			fputc('\n', stdout);
		}
	}
}

static int text_show(const char *talk, int argc, char **argv)
{
	static const struct option opts[] = {{"version", required_argument, 0,
					      'v'},
					     {"help", no_argument, 0, 'h'},
					     {0, 0, 0, 0}};
	uint8_t id[BC_TALK_ID_LEN];
	uint32_t v = 0;
	bc_talk_info *info;
	bc_text_state *s = NULL;
	char *text = NULL;
	struct cli_talks c;
	int ch, rc;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'v':
			if (parse_version(optarg, &v) != BC_OK)
				return EXIT_USAGE;
			break;
		case 'h':
			printf("usage: backchannel text TALK show [--version N] "
			       "[--json]\n\nThe current version of the text "
			       "(or version N), the version history,\nthe "
			       "comments you can read (a mediator every "
			       "party's, a party its own),\nand the vote "
			       "rounds with their votes.\n");
			return 0;
		default: return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		cli_err("usage: backchannel text TALK show [--version N] "
			"[--json]");
		return EXIT_USAGE;
	}
	if ((info = bc_calloc(1, sizeof(*info))) == NULL)
		return cli_status(BC_ERR_NOMEM);
	if ((rc = cli_talk_arg(&c, talk, id, info)) != BC_OK) {
		bc_free(info);
		return cli_status(rc);
	}
	rc = bc_text_get(c.t, id, &s);
	if (rc == BC_ERR_NOTFOUND)
		cli_err("this talk has no text yet (the mediator drafts it; "
			"run 'backchannel sync' to receive it)");
	else if (rc != BC_OK)
		cli_err("cannot read the text: %s", bc_strerror(rc));
	if (rc == BC_OK && v > s->nversions) {
		cli_err("there is no text v%u (the latest is v%u)", v,
			s->nversions);
		rc = BC_ERR_NOTFOUND;
	}
	if (rc == BC_OK) {
		if (v == 0)
			v = s->nversions;
		if ((rc = bc_text_body(c.t, id, v, &text)) != BC_OK)
			cli_err("cannot read text v%u: %s", v, bc_strerror(rc));
	}
	if (rc == BC_OK) {
		if (g_json)
			show_json(info, s, v, text, &c, &rc);
		else
			show_text(info, s, v, text, &c, &rc);
		if (rc != BC_OK)
			cli_err("cannot read the comments: %s",
				bc_strerror(rc));
	}
	if (text != NULL)
		bc_free_secret(text, strlen(text) + 1);
	bc_text_state_free(s);
	cli_talks_close(&c);
	sodium_memzero(info, sizeof(*info));
	bc_free(info);
	return cli_status(rc);
}

/* ---- dispatch ----------------------------------------------------------- */

int cmd_text(int argc, char **argv)
{
	const char *talk, *sub;
	if (argc >= 2 &&
	    (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	     strcmp(argv[1], "help") == 0)) {
		printf("%s%s", usage_all, help_all);
		return 0;
	}
	if (argc >= 3 &&
	    (strcmp(argv[2], "-h") == 0 || strcmp(argv[2], "--help") == 0)) {
		printf("%s%s", usage_all, help_all);
		return 0;
	}
	if (argc < 3) {
		fputs(usage_all, stderr);
		return EXIT_USAGE;
	}
	talk = argv[1];
	sub = argv[2];
	/* the subcommand's own options: argv[2] is its argv[0] */
	argc -= 2;
	argv += 2;
	if (strcmp(sub, "draft") == 0)
		return text_put(talk, false, argc, argv);
	if (strcmp(sub, "revise") == 0)
		return text_put(talk, true, argc, argv);
	if (strcmp(sub, "comment") == 0)
		return text_comment(talk, argc, argv);
	if (strcmp(sub, "call") == 0)
		return text_call(talk, argc, argv);
	if (strcmp(sub, "vote") == 0)
		return text_vote(talk, argc, argv);
	if (strcmp(sub, "show") == 0)
		return text_show(talk, argc, argv);
	cli_err("unknown text command '%s' (draft, revise, comment, call, "
		"vote, show)",
		sub);
	return EXIT_USAGE;
}
