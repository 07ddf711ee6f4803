/*
 * cmd_talk.c - talks: create, invite, join, say, sync, read the timeline.
 *
 *   backchannel talk new --relay ADDR --title TITLE [--rules TEXT]
 *                        [--role ROLE] [--side LABEL]
 *   backchannel talk list [--json]
 *   backchannel talk show TALK [--json]
 *   backchannel invite TALK --role ROLE [--side LABEL] [--expires HOURS]
 *   backchannel join INVITE
 *   backchannel say TALK [--caucus|--direct FP,...|--plenary]
 *                   [--label LABEL] TEXT
 *   backchannel sync [TALK] [--json]
 *   backchannel log TALK [--json]
 *
 * TALK is a talk id (32 hex digits) or a unique prefix of one. Members are
 * shown by side (parties) or role and the first 8 hex digits of their
 * fingerprint. Text from other members is printed with control characters
 * escaped so that it cannot drive the terminal. Invites hold secrets: they
 * go to stdout only.
 */
#include <getopt.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "e2e.h"
#include "encoding.h"
#include "identity.h"
#include "internal.h"
#include "profile.h"
#include "talk.h"
#include "talkcli.h"

#define MAX_TALKS 1024

/* ---- talk new / list / show -------------------------------------------- */

static int talk_new(int argc, char **argv)
{
	static const struct option opts[] = {
		{"relay", required_argument, 0, 'r'},
		{"title", required_argument, 0, 't'},
		{"rules", required_argument, 0, 'R'},
		{"role", required_argument, 0, 'o'},
		{"side", required_argument, 0, 's'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0}};
	const char *relay = NULL, *title = NULL, *rules = "", *side = "";
	char raddr[BC_TALK_RELAY_MAX + 1];
	uint8_t role = BC_ROLE_MEDIATOR, id[BC_TALK_ID_LEN];
	bc_relay_addr addr;
	struct cli_talks c;
	int ch, rc;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'r': relay = optarg; break;
		case 't': title = optarg; break;
		case 'R': rules = optarg; break;
		case 's': side = optarg; break;
		case 'o':
			if (cli_parse_role(optarg, &role) != BC_OK)
				return EXIT_USAGE;
			break;
		case 'h':
			printf("usage: backchannel talk new --relay ADDR --title "
			       "TITLE [--rules TEXT]\n"
			       "                            [--role "
			       "mediator|party|observer] [--side LABEL]\n\n"
			       "Create a talk hosted on the relay ADDR, with "
			       "this profile as its registrar\n(the member who "
			       "invites the others). The role defaults to "
			       "mediator; a party\nneeds a side label. Prints "
			       "the talk id.\n");
			return 0;
		default: return EXIT_USAGE;
		}
	}
	if (optind != argc || relay == NULL || title == NULL) {
		cli_err("usage: backchannel talk new --relay ADDR --title TITLE "
			"[--rules TEXT] [--role ROLE] [--side LABEL]");
		return EXIT_USAGE;
	}
	if (role == BC_ROLE_PARTY && *side == '\0') {
		cli_err("a party needs a side label (--side)");
		return EXIT_USAGE;
	}
	if (role != BC_ROLE_PARTY && *side != '\0') {
		cli_err("only a party has a side label");
		return EXIT_USAGE;
	}
	if (strlen(title) == 0 || strlen(title) > BC_TALK_TITLE_MAX) {
		cli_err("the title must be 1..%d bytes", BC_TALK_TITLE_MAX);
		return EXIT_USAGE;
	}
	if (strlen(rules) > BC_TALK_RULES_MAX) {
		cli_err("the rules must be at most %d bytes", BC_TALK_RULES_MAX);
		return EXIT_USAGE;
	}
	if ((rc = cli_talks_open(&c)) != BC_OK)
		return cli_status(rc);
	if ((rc = cli_relay_lookup(&c, relay, raddr, sizeof(raddr))) != BC_OK ||
	    (rc = cli_parse_relay(raddr, &addr)) != BC_OK) {
		cli_talks_close(&c);
		return cli_status(rc);
	}
	rc = bc_talk_create(c.t, raddr, title, rules, role, side, id);
	if (rc != BC_OK)
		cli_err("cannot create the talk: %s", bc_strerror(rc));
	else if (g_json) {
		printf("{\"talk\":");
		json_hex(stdout, id, BC_TALK_ID_LEN);
		printf("}\n");
	} else {
		cli_print_hex(stdout, id, BC_TALK_ID_LEN);
		fputc('\n', stdout);
	}
	cli_talks_close(&c);
	return cli_status(rc);
}

static void info_json(const bc_talk_info *info)
{
	const char *r = cli_name_or(bc_talk_role_name(info->my_role), "?");
	printf("{\"talk\":");
	json_hex(stdout, info->id, BC_TALK_ID_LEN);
	printf(",\"title\":");
	json_str(stdout, info->title, strlen(info->title));
	printf(",\"rules\":");
	json_str(stdout, info->rules, strlen(info->rules));
	printf(",\"registrar\":%s,\"joined\":%s,\"left\":%s,\"role\":",
	       info->registrar ? "true" : "false",
	       info->joined ? "true" : "false", info->left ? "true" : "false");
	json_str(stdout, r, strlen(r));
	printf(",\"side\":");
	json_str(stdout, info->my_side, strlen(info->my_side));
	printf(",\"state\":\"%s\",\"state_by\":",
	       bc_talk_state_name(info->state));
	json_hex(stdout, info->state_by, BC_E2E_ID_LEN);
	printf(",\"state_reason\":");
	json_str(stdout, info->state_reason, strlen(info->state_reason));
	printf(",\"members\":[");
	for (size_t i = 0; i < info->nmembers; i++) {
		const bc_talk_member *m = &info->members[i];
		const char *mr = cli_name_or(bc_talk_role_name(m->role), "?");
		printf("%s{\"fingerprint\":", i ? "," : "");
		json_hex(stdout, m->id, BC_E2E_ID_LEN);
		printf(",\"role\":");
		json_str(stdout, mr, strlen(mr));
		printf(",\"side\":");
		json_str(stdout, m->side, strlen(m->side));
		printf(",\"relay\":");
		json_str(stdout, m->relay, strlen(m->relay));
		printf("}");
	}
	printf("]}");
}

struct list_ctx {
	size_t n;
};

static int list_one(void *vctx, const bc_talk_info *info)
{
	struct list_ctx *lc = vctx;
	if (g_json) {
		if (lc->n > 0)
			fputc(',', stdout);
		info_json(info);
	} else {
		cli_print_hex(stdout, info->id, BC_TALK_ID_LEN);
		printf("  %-8s %-10s %2zu members  ",
		       cli_name_or(bc_talk_role_name(info->my_role), "?"),
		       info->joined ? "joined" : "pending", info->nmembers);
		cli_print_safe(stdout, info->title);
		fputc('\n', stdout);
	}
	lc->n++;
	return BC_OK;
}

static int talk_list(int argc, char **argv)
{
	struct list_ctx lc = {0};
	struct cli_talks c;
	int rc;
	if (cli_wants_help(argc, argv)) {
		printf("usage: backchannel talk list [--json]\n\n"
		       "List this profile's talks: id, my role, whether the "
		       "registrar has confirmed\nmy membership, member count "
		       "and title.\n");
		return 0;
	}
	if (argc != 1) {
		cli_err("usage: backchannel talk list [--json]");
		return EXIT_USAGE;
	}
	if ((rc = cli_talks_open(&c)) != BC_OK)
		return cli_status(rc);
	if (g_json)
		fputc('[', stdout);
	rc = bc_talk_list(c.t, list_one, &lc);
	if (g_json)
		printf("]\n");
	if (rc != BC_OK)
		cli_err("cannot list the talks: %s", bc_strerror(rc));
	cli_talks_close(&c);
	return cli_status(rc);
}

static int talk_show(int argc, char **argv)
{
	uint8_t id[BC_TALK_ID_LEN];
	bc_talk_info *info;
	struct cli_talks c;
	int rc;
	if (cli_wants_help(argc, argv)) {
		printf("usage: backchannel talk show TALK [--json]\n\n"
		       "Show a talk: title, ground rules, my role and side, "
		       "and the members with\ntheir role, side and "
		       "fingerprint.\n");
		return 0;
	}
	if (argc != 2) {
		cli_err("usage: backchannel talk show TALK [--json]");
		return EXIT_USAGE;
	}
	if ((info = bc_calloc(1, sizeof(*info))) == NULL) {
		cli_err("out of memory");
		return 1;
	}
	if ((rc = cli_talks_open(&c)) != BC_OK) {
		bc_free(info);
		return cli_status(rc);
	}
	if ((rc = cli_find_talk(&c, argv[1], id)) == BC_OK &&
	    (rc = bc_talk_get(c.t, id, info)) != BC_OK)
		cli_err("cannot read the talk: %s", bc_strerror(rc));
	if (rc == BC_OK && g_json) {
		info_json(info);
		fputc('\n', stdout);
	} else if (rc == BC_OK) {
		printf("talk      ");
		cli_print_hex(stdout, info->id, BC_TALK_ID_LEN);
		printf("\ntitle     ");
		cli_print_safe(stdout, info->title);
		printf("\nrules     ");
		cli_print_safe(stdout, info->rules);
		printf("\nmy role   %s",
		       cli_name_or(bc_talk_role_name(info->my_role), "?"));
		if (info->my_side[0] != '\0') {
			printf(" (side ");
			cli_print_safe(stdout, info->my_side);
			fputc(')', stdout);
		}
		printf("%s\nstatus    %s\nstate     %s",
		       info->registrar ? ", registrar" : "",
		       info->joined ? "joined"
				    : "pending (the registrar has not "
				      "synced yet)",
		       bc_talk_state_name(info->state));
		if (info->state != BC_TALK_OPEN) {
			printf(" by ");
			cli_print_hex(stdout, info->state_by, FP_PREFIX);
			if (info->state_reason[0] != '\0') {
				printf(": ");
				cli_print_safe(stdout, info->state_reason);
			}
		}
		printf("\nmembers   %zu\n", info->nmembers);
		for (size_t i = 0; i < info->nmembers; i++) {
			const bc_talk_member *m = &info->members[i];
			printf("  ");
			cli_print_hex(stdout, m->id, 8);
			printf("  %-8s ",
			       cli_name_or(bc_talk_role_name(m->role), "?"));
			cli_print_safe(stdout, m->side[0] ? m->side : "-");
			fputc('\n', stdout);
		}
	}
	cli_talks_close(&c);
	sodium_memzero(info, sizeof(*info));
	bc_free(info);
	return cli_status(rc);
}

static const struct cli_cmd talk_cmds[] = {
	{"new", talk_new, "create a talk (you become its registrar)"},
	{"list", talk_list, "list this profile's talks"},
	{"show", talk_show, "a talk's rules, roles and members"},
	{NULL, NULL, NULL},
};

int cmd_talk(int argc, char **argv)
{
	return cli_dispatch("backchannel talk", talk_cmds, argc, argv);
}

/* ---- invite / join ------------------------------------------------------ */

int cmd_invite(int argc, char **argv)
{
	static const struct option opts[] = {
		{"role", required_argument, 0, 'o'},
		{"side", required_argument, 0, 's'},
		{"expires", required_argument, 0, 'e'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0}};
	const char *side = "";
	uint8_t role = 0, id[BC_TALK_ID_LEN];
	uint64_t expires = 0;
	char *text = NULL, *end;
	unsigned long long hours;
	struct cli_talks c;
	int ch, rc;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'o':
			if (cli_parse_role(optarg, &role) != BC_OK)
				return EXIT_USAGE;
			break;
		case 's': side = optarg; break;
		case 'e':
			hours = strtoull(optarg, &end, 10);
			if (*optarg < '0' || *optarg > '9' || *end != '\0' ||
			    hours == 0 || hours > 24ull * 366) {
				cli_err("--expires takes a number of hours "
					"(1..8784)");
				return EXIT_USAGE;
			}
			expires = (uint64_t)time(NULL) + hours * 3600;
			break;
		case 'h':
			printf("usage: backchannel invite TALK --role "
			       "party|mediator|observer [--side LABEL]\n"
			       "                          [--expires HOURS]\n\n"
			       "Issue a one-time invite to TALK (registrar "
			       "only); a party needs a side label.\nPrints the "
			       "invite string: it holds secrets, so hand it over "
			       "privately,\nand only once.\n");
			return 0;
		default: return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc || role == 0) {
		cli_err("usage: backchannel invite TALK --role ROLE [--side "
			"LABEL] [--expires HOURS]");
		return EXIT_USAGE;
	}
	if (role == BC_ROLE_PARTY && *side == '\0') {
		cli_err("a party needs a side label (--side)");
		return EXIT_USAGE;
	}
	if (role != BC_ROLE_PARTY && *side != '\0') {
		cli_err("only a party has a side label");
		return EXIT_USAGE;
	}
	if (strlen(side) > BC_TALK_SIDE_MAX) {
		cli_err("the side label must be at most %d bytes",
			BC_TALK_SIDE_MAX);
		return EXIT_USAGE;
	}
	if ((rc = cli_talks_open(&c)) != BC_OK)
		return cli_status(rc);
	if ((rc = cli_find_talk(&c, argv[optind], id)) == BC_OK) {
		rc = bc_talk_invite(c.t, id, role, side, expires, &text);
		if (rc == BC_ERR_FORBIDDEN)
			cli_err("only the talk's registrar can invite");
		else if (rc != BC_OK)
			cli_err("cannot issue the invite: %s", bc_strerror(rc));
	}
	if (rc == BC_OK) {
		printf("%s\n", text);
		fflush(stdout);
	}
	if (text != NULL) {
		sodium_memzero(text, strlen(text));
		bc_free(text);
	}
	cli_talks_close(&c);
	return cli_status(rc);
}

int cmd_join(int argc, char **argv)
{
	static const struct option opts[] = {
		{"accept-rules", no_argument, 0, 'a'},
		{"relay", required_argument, 0, 'r'},
		{0, 0, 0, 0},
	};
	static const char usage[] =
		"usage: backchannel join INVITE [--accept-rules] "
		"[--relay ADDR|NAME]";
	uint8_t id[BC_TALK_ID_LEN];
	char title[BC_TALK_TITLE_MAX + 1] = "";
	bc_talk_offer *of = NULL;
	bool accept = false;
	const char *home = NULL;
	char haddr[BC_TALK_RELAY_MAX + 1];
	bc_relay_addr ha;
	struct cli_talks c;
	int rc, o;
	if (cli_wants_help(argc, argv)) {
		printf("%s\n\n"
		       "Join a talk with an invite. Joining means accepting the "
		       "talk's ground rules,\nwhich the invite carries: without "
		       "--accept-rules they are shown and, on a\nterminal, you "
		       "are asked to type 'yes'. The membership is pending until "
		       "the\nregistrar syncs; run 'backchannel sync' after "
		       "that. Your mailbox for the talk is on the\n"
		       "inviter's relay, or with --relay on yours: members of "
		       "one talk may sit on\ndifferent relays.\n",
		       usage);
		return 0;
	}
	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'a')
			accept = true;
		else if (o == 'r')
			home = optarg;
		else {
			cli_err("%s", usage);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		cli_err("%s", usage);
		return EXIT_USAGE;
	}
	if ((of = bc_calloc(1, sizeof(*of))) == NULL)
		return cli_status(BC_ERR_NOMEM);
	rc = bc_talk_offer_read(argv[optind], of);
	if (rc == BC_OK && !accept) {
		char line[16] = "";
		/* show what is being accepted */
		fprintf(stderr, "talk    ");
		cli_print_safe(stderr, of->title);
		fprintf(stderr, "\nrole    %s%s",
			cli_name_or(bc_talk_role_name(of->role), "?"),
			of->side[0] ? " " : "");
		cli_print_safe(stderr, of->side);
		fprintf(stderr, "\nground rules:\n  ");
		cli_print_safe(stderr, of->rules[0] ? of->rules : "(none)");
		fputc('\n', stderr);
		if (!isatty(STDIN_FILENO)) {
			cli_err("joining accepts these ground rules: run again "
				"with --accept-rules");
			bc_free(of);
			return EXIT_USAGE;
		}
		fprintf(stderr, "Accept these ground rules and join? Type "
				"'yes': ");
		if (fgets(line, sizeof(line), stdin) == NULL ||
		    strcmp(line, "yes\n") != 0) {
			cli_err("not joined: the ground rules were not "
				"accepted");
			bc_free(of);
			return 1;
		}
	}
	if (rc == BC_OK && (rc = cli_talks_open(&c)) != BC_OK) {
		bc_free(of);
		return cli_status(rc);
	}
	if (rc == BC_OK && home != NULL &&
	    ((rc = cli_relay_lookup(&c, home, haddr, sizeof(haddr))) != BC_OK ||
	     (rc = cli_parse_relay(haddr, &ha)) != BC_OK)) {
		cli_talks_close(&c);
		bc_free(of);
		return cli_status(rc);
	}
	if (rc == BC_OK) {
		rc = bc_talk_join_at(c.t, argv[optind], of->rules,
				     home ? haddr : NULL, id, title,
				     sizeof(title));
		cli_talks_close(&c);
	}
	bc_free(of);
	if (rc == BC_ERR_CHECKSUM)
		cli_err("that invite has a typo (checksum mismatch): copy it "
			"again");
	else if (rc == BC_ERR_MALFORMED || rc == BC_ERR_INVALID)
		cli_err("that is not a valid invite (expected bci...)");
	else if (rc == BC_ERR_PINNING)
		cli_err("the relay's key is not the one the invite names");
	else if (rc == BC_ERR_CONFLICT)
		cli_err("this profile is already in that talk");
	else if (rc == BC_ERR_STATE)
		cli_err("that invite has expired: ask for a new one");
	else if (rc != BC_OK)
		cli_err("cannot join: %s", bc_strerror(rc));
	if (rc == BC_OK && g_json) {
		printf("{\"talk\":");
		json_hex(stdout, id, BC_TALK_ID_LEN);
		printf(",\"title\":");
		json_str(stdout, title, strlen(title));
		printf(",\"joined\":false}\n");
	} else if (rc == BC_OK) {
		printf("talk    ");
		cli_print_hex(stdout, id, BC_TALK_ID_LEN);
		printf("\ntitle   ");
		cli_print_safe(stdout, title);
		printf("\nstatus  pending: the membership is confirmed when "
		       "the registrar syncs\n");
	}
	/* a checksum error and a mistyped invite are security refusals */
	return rc == BC_ERR_MALFORMED ? EXIT_SECURITY : cli_status(rc);
}

/* ---- say ---------------------------------------------------------------- */

int cmd_say(int argc, char **argv)
{
	static const struct option opts[] = {
		{"caucus", no_argument, 0, 'c'},
		{"direct", required_argument, 0, 'd'},
		{"plenary", no_argument, 0, 'p'},
		{"label", required_argument, 0, 'l'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0}};
	uint8_t audience = 0, label = BC_LABEL_NONE, id[BC_TALK_ID_LEN];
	uint8_t(*to)[BC_E2E_ID_LEN] = NULL;
	const char *direct = NULL;
	bc_talk_info *info = NULL;
	size_t nto = 0;
	struct cli_talks c;
	int ch, rc, naud = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': audience = BC_AUD_CAUCUS; naud++; break;
		case 'p': audience = BC_AUD_PLENARY; naud++; break;
		case 'd':
			audience = BC_AUD_DIRECT;
			direct = optarg;
			naud++;
			break;
		case 'l':
			if (cli_parse_label(optarg, &label) != BC_OK)
				return EXIT_USAGE;
			break;
		case 'h':
			printf("usage: backchannel say TALK [--caucus | --direct "
			       "FP,... | --plenary]\n"
			       "                       [--label "
			       "private|paraphrase|verbatim|attributed] "
			       "TEXT\n\n"
			       "Say TEXT in TALK. --plenary (the default): every "
			       "member reads it;\n--caucus: only you and the "
			       "mediator(s), with a disclosure --label that "
			       "says\nwhat the mediator may pass on; --direct: "
			       "only the members whose fingerprints\nstart with "
			       "the given hex prefixes (the mediator does not "
			       "read it).\n");
			return 0;
		default: return EXIT_USAGE;
		}
	}
	if (optind + 2 != argc) {
		cli_err("usage: backchannel say TALK [--caucus|--direct "
			"FP,...|--plenary] [--label LABEL] TEXT");
		return EXIT_USAGE;
	}
	if (naud > 1) {
		cli_err("give one of --caucus, --direct and --plenary");
		return EXIT_USAGE;
	}
	if (audience == 0)
		audience = BC_AUD_PLENARY;
	if (label != BC_LABEL_NONE && audience != BC_AUD_CAUCUS) {
		cli_err("--label applies to caucus statements only");
		return EXIT_USAGE;
	}
	if (audience == BC_AUD_CAUCUS && label == BC_LABEL_NONE)
		label = BC_LABEL_PRIVATE; /* the safe default */
	if (strlen(argv[optind + 1]) == 0 ||
	    strlen(argv[optind + 1]) > BC_TALK_TEXT_MAX) {
		cli_err("the text must be 1..%d bytes", BC_TALK_TEXT_MAX);
		return EXIT_USAGE;
	}
	if ((rc = cli_talks_open(&c)) != BC_OK)
		return cli_status(rc);
	if ((rc = cli_find_talk(&c, argv[optind], id)) != BC_OK)
		goto out;
	if (direct != NULL) {
		info = bc_calloc(1, sizeof(*info));
		to = bc_calloc(BC_TALK_MAX_MEMBERS, sizeof(*to));
		if (info == NULL || to == NULL) {
			cli_err("out of memory");
			rc = BC_ERR_NOMEM;
			goto out;
		}
		if ((rc = bc_talk_get(c.t, id, info)) != BC_OK) {
			cli_err("cannot read the talk: %s", bc_strerror(rc));
			goto out;
		}
		if ((rc = cli_resolve_members(info, bc_e2e_id(bc_talks_e2e(c.t)),
					 direct, to, &nto)) != BC_OK) {
			cli_talks_close(&c);
			bc_free(info);
			bc_free(to);
			return EXIT_USAGE;
		}
	}
	rc = bc_talk_say(c.t, id, audience, (const uint8_t(*)[BC_E2E_ID_LEN])to,
			 nto, label, argv[optind + 1]);
	if (rc == BC_ERR_STATE)
		cli_err("the talk is suspended or closed: only resume and close "
			"may be sent (see 'backchannel talk show')");
	else if (rc == BC_ERR_FORBIDDEN)
		cli_err("you cannot speak in this talk: observers cannot, and "
			"a new member must wait until the registrar has synced "
			"(then run 'backchannel sync')");
	else if (rc == BC_ERR_NOTFOUND)
		cli_err("nobody to say that to (a caucus is between a member "
			"and the mediator: a mediator speaks to one party with "
			"--direct)");
	else if (rc != BC_OK)
		cli_err("cannot send: %s", bc_strerror(rc));
out:
	cli_talks_close(&c);
	if (info != NULL) {
		sodium_memzero(info, sizeof(*info));
		bc_free(info);
	}
	bc_free(to);
	return cli_status(rc);
}

/* ---- sync / log --------------------------------------------------------- */

/* Events are copied while the library runs and printed afterwards, when the
 * member list (which the same sync may have changed) is known. */
struct saved_event {
	bc_talk_event ev;
	char *text;
	uint8_t (*to)[BC_E2E_ID_LEN];
};

struct events {
	struct saved_event *v;
	size_t n, cap;
	int err;
};

static int save_event(void *vctx, const bc_talk_event *ev)
{
	struct events *es = vctx;
	struct saved_event *s;
	if (es->n == es->cap) {
		size_t cap = es->cap ? 2 * es->cap : 16;
		struct saved_event *v = bc_realloc(es->v, cap * sizeof(*v));
		if (v == NULL) {
			es->err = BC_ERR_NOMEM;
			return BC_OK; /* keep the sync going; report later */
		}
		es->v = v;
		es->cap = cap;
	}
	s = &es->v[es->n];
	memset(s, 0, sizeof(*s));
	s->ev = *ev;
	s->text = bc_strdup(ev->text ? ev->text : "");
	if (ev->nto > 0)
		s->to = bc_calloc(ev->nto, sizeof(*s->to));
	if (s->text == NULL || (ev->nto > 0 && s->to == NULL)) {
		bc_free(s->text);
		bc_free(s->to);
		es->err = BC_ERR_NOMEM;
		return BC_OK;
	}
	if (ev->nto > 0)
		memcpy(s->to, ev->to, ev->nto * sizeof(*s->to));
	s->ev.text = s->text;
	s->ev.to = (const uint8_t(*)[BC_E2E_ID_LEN])s->to;
	es->n++;
	return BC_OK;
}

static void events_free(struct events *es)
{
	for (size_t i = 0; i < es->n; i++) {
		if (es->v[i].text != NULL) {
			sodium_memzero(es->v[i].text, strlen(es->v[i].text));
			bc_free(es->v[i].text);
		}
		bc_free(es->v[i].to);
	}
	bc_free(es->v);
	memset(es, 0, sizeof(*es));
}

/* Print the saved events of one talk; *first tracks JSON commas. */
static void events_print(const bc_talk_info *info, const struct events *es,
			 bool *first)
{
	for (size_t i = 0; i < es->n; i++) {
		if (g_json) {
			cli_print_event_json(info, &es->v[i].ev, *first);
			*first = false;
		} else {
			cli_print_event(info, &es->v[i].ev);
		}
	}
}

struct ids {
	uint8_t (*v)[BC_TALK_ID_LEN];
	size_t n;
};

static int collect_id(void *vctx, const bc_talk_info *info)
{
	struct ids *ids = vctx;
	if (ids->n == MAX_TALKS)
		return BC_ERR_TOOBIG;
	memcpy(ids->v[ids->n++], info->id, BC_TALK_ID_LEN);
	return BC_OK;
}

/* The talks a sync or a watch covers, and room for one talk's state. */
struct sync_set {
	struct cli_talks c;
	struct ids ids;
	bc_talk_info *info;
};

static void sync_set_close(struct sync_set *s)
{
	if (s->c.t != NULL)
		cli_talks_close(&s->c);
	bc_free(s->ids.v);
	if (s->info != NULL) {
		sodium_memzero(s->info, sizeof(*s->info));
		bc_free(s->info);
	}
	memset(s, 0, sizeof(*s));
}

/* Every talk of the profile (talks joined meanwhile count too). */
static int sync_set_list(struct sync_set *s)
{
	int rc;
	s->ids.n = 0;
	if ((rc = bc_talk_list(s->c.t, collect_id, &s->ids)) != BC_OK)
		cli_err("cannot list the talks: %s", bc_strerror(rc));
	return rc;
}

/* Open the profile with the talk named `talk`, or every talk (NULL).
 * Prints its errors; on failure everything is released. */
static int sync_set_open(struct sync_set *s, const char *talk)
{
	int rc;
	memset(s, 0, sizeof(*s));
	s->ids.v = bc_calloc(MAX_TALKS, sizeof(*s->ids.v));
	s->info = bc_calloc(1, sizeof(*s->info));
	if (s->ids.v == NULL || s->info == NULL) {
		cli_err("out of memory");
		rc = BC_ERR_NOMEM;
	} else if ((rc = cli_talks_open(&s->c)) == BC_OK) {
		if (talk == NULL)
			rc = sync_set_list(s);
		else if ((rc = cli_find_talk(&s->c, talk, s->ids.v[0])) ==
			 BC_OK)
			s->ids.n = 1;
	}
	if (rc != BC_OK)
		sync_set_close(s);
	return rc;
}

/* Sync talk i into es, then load its state into s->info (also after a
 * failed sync: what did arrive is printed). */
static int sync_set_one(struct sync_set *s, size_t i, struct events *es)
{
	int rc = bc_talk_sync(s->c.t, s->ids.v[i], save_event, es);
	if (bc_talk_get(s->c.t, s->ids.v[i], s->info) != BC_OK) {
		memset(s->info, 0, sizeof(*s->info));
		memcpy(s->info->id, s->ids.v[i], BC_TALK_ID_LEN);
	}
	return rc;
}

int cmd_sync(int argc, char **argv)
{
	struct sync_set ss;
	struct events es = {0};
	bool first = true;
	int rc, failed = BC_OK;
	if (cli_wants_help(argc, argv)) {
		printf("usage: backchannel sync [TALK] [--json]\n\n"
		       "Fetch and process what is waiting for this member in "
		       "TALK (default: every\ntalk), then print each new event "
		       "on one line: time, kind, from (side or role\nand "
		       "fingerprint prefix), audience, label and text. The "
		       "registrar's sync also\naccepts joins and sends the "
		       "member list.\n");
		return 0;
	}
	if (argc > 2) {
		cli_err("usage: backchannel sync [TALK] [--json]");
		return EXIT_USAGE;
	}
	if ((rc = sync_set_open(&ss, argc == 2 ? argv[1] : NULL)) != BC_OK)
		return cli_status(rc);
	if (g_json)
		fputc('[', stdout);
	for (size_t i = 0; i < ss.ids.n; i++) {
		rc = sync_set_one(&ss, i, &es);
		if (rc == BC_OK && es.err != BC_OK)
			rc = es.err;
		if (rc != BC_OK) {
			char hex[2 * BC_TALK_ID_LEN + 1];
			if (bc_hex_encode(ss.ids.v[i], BC_TALK_ID_LEN, hex,
					  sizeof(hex)) != BC_OK)
				hex[0] = '\0';
			cli_err("talk %.8s: sync failed: %s", hex,
				bc_strerror(rc));
			failed = rc;
		}
		if (!g_json && ss.ids.n > 1 && es.n > 0) {
			printf("== talk ");
			cli_print_hex(stdout, ss.info->id, FP_PREFIX);
			fputc(' ', stdout);
			cli_print_safe(stdout, ss.info->title);
			fputc('\n', stdout);
		}
		events_print(ss.info, &es, &first);
		events_free(&es);
	}
	if (g_json)
		printf("]\n");
	sync_set_close(&ss);
	return cli_status(failed);
}

int cmd_log(int argc, char **argv)
{
	uint8_t id[BC_TALK_ID_LEN];
	struct events es = {0};
	bc_talk_info *info = NULL;
	bool first = true;
	struct cli_talks c;
	int rc;
	if (cli_wants_help(argc, argv)) {
		printf("usage: backchannel log TALK [--json]\n\n"
		       "Print the timeline of TALK as this member saw it, one "
		       "event per line (see\n'backchannel sync').\n");
		return 0;
	}
	if (argc != 2) {
		cli_err("usage: backchannel log TALK [--json]");
		return EXIT_USAGE;
	}
	if ((info = bc_calloc(1, sizeof(*info))) == NULL) {
		cli_err("out of memory");
		return 1;
	}
	if ((rc = cli_talks_open(&c)) != BC_OK) {
		bc_free(info);
		return cli_status(rc);
	}
	if ((rc = cli_find_talk(&c, argv[1], id)) != BC_OK)
		goto out;
	if ((rc = bc_talk_get(c.t, id, info)) != BC_OK) {
		cli_err("cannot read the talk: %s", bc_strerror(rc));
		goto out;
	}
	rc = bc_talk_log(c.t, id, save_event, &es);
	if (rc == BC_OK && es.err != BC_OK)
		rc = es.err;
	if (rc != BC_OK) {
		cli_err("cannot read the timeline: %s", bc_strerror(rc));
	} else {
		if (g_json)
			fputc('[', stdout);
		events_print(info, &es, &first);
		if (g_json)
			printf("]\n");
	}
	events_free(&es);
out:
	cli_talks_close(&c);
	sodium_memzero(info, sizeof(*info));
	bc_free(info);
	return cli_status(rc);
}

/* ---- suspend, resume, close ------------------------------------------- */

static int set_state(int argc, char **argv, uint8_t state, const char *usage,
		     const char *help)
{
	static const struct option opts[] = {
		{"reason", required_argument, 0, 'r'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0}};
	const char *reason = "";
	uint8_t id[BC_TALK_ID_LEN];
	struct cli_talks c;
	int ch, rc;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'r': reason = optarg; break;
		case 'h': printf("usage: %s\n\n%s\n", usage, help); return 0;
		default: return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		cli_err("usage: %s", usage);
		return EXIT_USAGE;
	}
	if (strlen(reason) > 256) {
		cli_err("the reason is limited to 256 bytes");
		return EXIT_USAGE;
	}
	if ((rc = cli_talks_open(&c)) != BC_OK)
		return cli_status(rc);
	if ((rc = cli_find_talk(&c, argv[optind], id)) == BC_OK) {
		rc = bc_talk_set_state(c.t, id, state, reason);
		if (rc == BC_ERR_FORBIDDEN)
			cli_err(state == BC_TALK_CLOSED
					? "only a mediator may close a talk"
					: "only a party may suspend or resume "
					  "a talk");
		else if (rc == BC_ERR_STATE)
			cli_err("the talk is already %s",
				state == BC_TALK_OPEN ? "open or closed"
						      : "in that state or closed");
		else if (rc != BC_OK)
			cli_err("%s", bc_strerror(rc));
		else
			printf("talk %s\n", bc_talk_state_name(state));
	}
	cli_talks_close(&c);
	return cli_status(rc);
}

int cmd_suspend(int argc, char **argv)
{
	return set_state(argc, argv, BC_TALK_SUSPENDED,
			 "backchannel suspend TALK [--reason TEXT]",
			 "Halt the talk (a party): until someone resumes it, "
			 "members send nothing but\nresume and close. Every "
			 "member is told, with the reason.");
}

int cmd_resume(int argc, char **argv)
{
	return set_state(argc, argv, BC_TALK_OPEN,
			 "backchannel resume TALK [--reason TEXT]",
			 "Resume a suspended talk (a party).");
}

int cmd_close(int argc, char **argv)
{
	return set_state(argc, argv, BC_TALK_CLOSED,
			 "backchannel close TALK [--reason TEXT]",
			 "Close the talk for good (a mediator).");
}

/* ---- the mediator passes statements on --------------------------------- */

int cmd_pass_on(int argc, char **argv)
{
	static const struct option opts[] = {
		{"as", required_argument, 0, 'a'},
		{"to", required_argument, 0, 't'},
		{"plenary", no_argument, 0, 'p'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0}};
	uint8_t id[BC_TALK_ID_LEN], mode = BC_LABEL_PARAPHRASE;
	uint8_t to[BC_TALK_MAX_MEMBERS][BC_E2E_ID_LEN];
	const char *to_list = NULL, *text = NULL;
	bc_talk_info *info = NULL;
	size_t nto = 0;
	struct cli_talks c;
	int ch, rc;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			if (cli_parse_label(optarg, &mode) != BC_OK ||
			    mode == BC_LABEL_PRIVATE)
				return EXIT_USAGE;
			break;
		case 't': to_list = optarg; break;
		case 'p': to_list = NULL; break;
		case 'h':
			printf("usage: backchannel relay TALK STATEMENT "
			       "[--as paraphrase|verbatim|attributed]\n"
			       "                         [--to FP,... | "
			       "--plenary] [TEXT]\n\n"
			       "The mediator passes on a caucus statement "
			       "(STATEMENT: the #id shown by\n'backchannel "
			       "log') under its author's disclosure label: a "
			       "private statement\nnever; a paraphrase only "
			       "in your own words (TEXT), unattributed; "
			       "verbatim\nword for word, unattributed; "
			       "attributed with the author's side. The "
			       "author\nis told what went out and to whom.\n");
			return 0;
		default: return EXIT_USAGE;
		}
	}
	if (argc - optind < 2 || argc - optind > 3) {
		cli_err("usage: backchannel relay TALK STATEMENT [--as MODE] "
			"[--to FP,...|--plenary] [TEXT]");
		return EXIT_USAGE;
	}
	if (argc - optind == 3)
		text = argv[optind + 2];
	if (mode == BC_LABEL_PARAPHRASE && text == NULL) {
		cli_err("a paraphrase needs your own wording as TEXT");
		return EXIT_USAGE;
	}
	if ((info = bc_calloc(1, sizeof(*info))) == NULL)
		return 1;
	if ((rc = cli_talks_open(&c)) != BC_OK) {
		bc_free(info);
		return cli_status(rc);
	}
	rc = cli_find_talk(&c, argv[optind], id);
	if (rc == BC_OK && to_list != NULL) {
		rc = bc_talk_get(c.t, id, info);
		if (rc == BC_OK)
			rc = cli_resolve_members(info, bc_e2e_id(bc_talks_e2e(c.t)),
					    to_list, to, &nto);
	}
	if (rc == BC_OK) {
		const char *st = argv[optind + 1];
		if (st[0] == '#')
			st++;
		rc = bc_talk_pass_on(c.t, id, st, mode,
				     to_list ? BC_AUD_DIRECT : BC_AUD_PLENARY,
				     (const uint8_t(*)[BC_E2E_ID_LEN])to, nto,
				     text);
		if (rc == BC_ERR_FORBIDDEN)
			cli_err("refused: only the mediator passes statements "
				"on, and only as the author's label allows "
				"(private: never; paraphrase: your own words, "
				"unattributed; verbatim: word for word, "
				"unattributed)");
		else if (rc == BC_ERR_NOTFOUND)
			cli_err("no caucus statement of another member starts "
				"with that id (see 'backchannel log')");
		else if (rc == BC_ERR_CONFLICT)
			cli_err("that id matches several statements: give more "
				"digits");
		else if (rc == BC_ERR_STATE)
			cli_err("the talk is suspended or closed");
		else if (rc != BC_OK)
			cli_err("%s", bc_strerror(rc));
		else
			printf("passed on\n");
	}
	cli_talks_close(&c);
	bc_free(info);
	return cli_status(rc);
}

/* ---- leave ---------------------------------------------------------------- */

int cmd_leave(int argc, char **argv)
{
	static const struct option opts[] = {
		{"reason", required_argument, 0, 'r'},
		{0, 0, 0, 0},
	};
	static const char usage[] =
		"usage: backchannel leave TALK [--reason TEXT]";
	const char *reason = "";
	uint8_t id[BC_TALK_ID_LEN];
	struct cli_talks c;
	int rc, o;
	if (cli_wants_help(argc, argv)) {
		printf("%s\n\nLeave a talk, telling every member (with an "
		       "optional reason). The registrar\ndrops you from the "
		       "member list; you send nothing more to the talk. The "
		       "registrar\nitself cannot leave: it closes the talk "
		       "('backchannel close').\n",
		       usage);
		return 0;
	}
	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o != 'r') {
			cli_err("%s", usage);
			return EXIT_USAGE;
		}
		reason = optarg;
	}
	if (argc - optind != 1) {
		cli_err("%s", usage);
		return EXIT_USAGE;
	}
	if (strlen(reason) > 256) {
		cli_err("the reason is limited to 256 bytes");
		return EXIT_USAGE;
	}
	if ((rc = cli_talk_arg(&c, argv[optind], id, NULL)) != BC_OK)
		return cli_status(rc);
	rc = bc_talk_leave(c.t, id, reason);
	if (rc == BC_ERR_FORBIDDEN)
		cli_err("the registrar cannot leave its talk: close it instead "
			"('backchannel close')");
	else if (rc == BC_ERR_STATE)
		cli_err("you have already left this talk");
	else if (rc != BC_OK)
		cli_err("cannot leave: %s", bc_strerror(rc));
	cli_talks_close(&c);
	return cli_status(rc);
}

/* ---- watch ---------------------------------------------------------------- */

static volatile sig_atomic_t watch_stop;

static void watch_signal(int sig)
{
	(void)sig;
	watch_stop = 1;
}

int cmd_watch(int argc, char **argv)
{
	static const struct option opts[] = {
		{"interval", required_argument, 0, 'i'},
		{"for", required_argument, 0, 'f'},
		{0, 0, 0, 0},
	};
	static const char usage[] = "usage: backchannel watch [TALK] "
				    "[--interval SECONDS] [--for SECONDS] "
				    "[--json]";
	struct sync_set ss;
	struct events es = {0};
	double interval = 2, limit = 0;
	struct sigaction sa;
	struct timespec t0, now;
	int rc = BC_OK, o;
	if (cli_wants_help(argc, argv)) {
		printf("%s\n\nFollow TALK (default: every talk) live: fetch "
		       "what arrives every --interval\nseconds (default 2) "
		       "and print each new event as 'sync' does, until "
		       "interrupted\n(Ctrl-C) or for --for seconds. With "
		       "--json, one JSON object per line.\n",
		       usage);
		return 0;
	}
	optind = 1;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *end = NULL;
		double v;
		if (o != 'i' && o != 'f') {
			cli_err("%s", usage);
			return EXIT_USAGE;
		}
		v = strtod(optarg, &end);
		if (end == optarg || *end != '\0' || !(v >= 0.1 && v <= 86400)) {
			cli_err("--%s takes seconds (0.1 to 86400)",
				o == 'i' ? "interval" : "for");
			return EXIT_USAGE;
		}
		if (o == 'i')
			interval = v;
		else
			limit = v;
	}
	if (argc - optind > 1) {
		cli_err("%s", usage);
		return EXIT_USAGE;
	}
	if ((rc = sync_set_open(&ss, argc - optind == 1 ? argv[optind]
							 : NULL)) != BC_OK)
		return cli_status(rc);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = watch_signal;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!watch_stop) {
		struct timespec ts;
		double el, wait;
		if (argc - optind == 0 && (rc = sync_set_list(&ss)) != BC_OK)
			break;
		for (size_t i = 0; i < ss.ids.n && !watch_stop; i++) {
			int src = sync_set_one(&ss, i, &es);
			if (src != BC_OK) /* the relay may come back: go on */
				cli_err("sync failed: %s (retrying)",
					bc_strerror(src));
			for (size_t j = 0; j < es.n; j++) {
				if (g_json) {
					cli_print_event_json(ss.info,
							     &es.v[j].ev, true);
					fputc('\n', stdout);
				} else {
					cli_print_event(ss.info, &es.v[j].ev);
				}
			}
			events_free(&es);
			fflush(stdout);
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		el = (double)(now.tv_sec - t0.tv_sec) +
		     (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
		if (limit > 0 && el >= limit)
			break;
		wait = limit > 0 && limit - el < interval ? limit - el
							  : interval;
		ts.tv_sec = (time_t)wait;
		ts.tv_nsec = (long)((wait - (double)ts.tv_sec) * 1e9);
		(void)nanosleep(&ts, NULL); /* a signal ends it early */
	}
	sync_set_close(&ss);
	return cli_status(rc);
}
