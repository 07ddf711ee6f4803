/*
 * cmd_proposal.c - proposals and agreements of a talk.
 *
 *   backchannel propose TALK [--meeting] [--expires DURATION]
 *                       --term KEY=TEXT [--term KEY=TEXT ...] [--json]
 *   backchannel counter TALK PROPOSAL [--expires DURATION] --term KEY=TEXT ...
 *   backchannel accept TALK PROPOSAL [--version N]
 *   backchannel reject TALK PROPOSAL --reason TEXT
 *   backchannel withdraw TALK PROPOSAL
 *   backchannel proposals TALK [--json]
 *   backchannel agreement export TALK PROPOSAL [-o FILE]
 *
 * TALK is a talk id or a unique prefix; PROPOSAL a proposal id in hex or a
 * unique prefix of at least 4 hex digits, optionally written with its 'P'
 * (as shown: P1a2b3c4d). DURATION is a number with a unit: 90s, 30m, 24h,
 * 7d. A meeting proposal needs the terms level, place and window. Counter
 * gives the whole new set of terms; accept takes the latest version unless
 * --version names one (which must then be the latest).
 *
 * Every action is checked here exactly as every receiver will check it;
 * one that would be refused prints why, sends nothing and exits non-zero.
 * When a version is accepted by every party, each party's client signs
 * the agreement and sends its signature (at once, or at the next sync or
 * proposal command if the talk is suspended or the network fails).
 *
 * Exit status: 0 done; 1 refused (talk suspended or closed, withdrawn,
 * expired, superseded, not allowed for this role, unknown proposal,
 * agreement incomplete) or a network/storage failure; 2 usage error (bad
 * option, bad term, bad duration, malformed proposal id); 3 a security
 * refusal. Text from other members (terms, reasons, side labels) is shown
 * with control characters escaped.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "internal.h"
#include "talk_proposal.h"
#include "talkcli.h"

#define MAX_DURATION ((uint64_t)3650 * 86400)

/* ---- parsing ----------------------------------------------------------------- */

/* "90s", "30m", "24h", "7d" (a bare number is seconds) -> seconds. */
static int parse_duration(const char *s, uint64_t *out)
{
	char *end = NULL;
	unsigned long long v;
	uint64_t mul = 1;
	if (s[0] < '0' || s[0] > '9')
		goto bad;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s)
		goto bad;
	if (*end != '\0') {
		switch (*end) {
		case 's': mul = 1; break;
		case 'm': mul = 60; break;
		case 'h': mul = 3600; break;
		case 'd': mul = 86400; break;
		default: goto bad;
		}
		if (end[1] != '\0')
			goto bad;
	}
	if (v == 0 || v > MAX_DURATION / mul)
		goto bad;
	*out = v * mul;
	return BC_OK;
bad:
	cli_err("bad duration '%s' (a number with s, m, h or d: 90s, 30m, "
		"24h, 7d; at most 3650 days)",
		s);
	return BC_ERR_INVALID;
}

struct terms {
	bc_term v[BC_PROPOSAL_MAX_TERMS];
	uint16_t n;
};

static int add_term(struct terms *ts, char *arg)
{
	char *eq = strchr(arg, '=');
	if (eq == NULL || eq == arg) {
		cli_err("a term is KEY=TEXT (got '%s')", arg);
		return BC_ERR_INVALID;
	}
	if (ts->n == BC_PROPOSAL_MAX_TERMS) {
		cli_err("at most %d terms", BC_PROPOSAL_MAX_TERMS);
		return BC_ERR_INVALID;
	}
	*eq = '\0'; /* argv is ours to split */
	ts->v[ts->n].key = arg;
	ts->v[ts->n].text = eq + 1;
	ts->n++;
	return BC_OK;
}

static int check_terms(const struct terms *ts)
{
	const char *why = NULL;
	if (ts->n == 0) {
		cli_err("give the terms with --term KEY=TEXT (at least one)");
		return BC_ERR_INVALID;
	}
	if (bc_proposal_terms_check(ts->v, ts->n, &why) != BC_OK) {
		cli_err("bad terms: %s", why ? why : "invalid");
		return BC_ERR_INVALID;
	}
	return BC_OK;
}

/* ---- shared steps ----------------------------------------------------------- */

struct ctx {
	struct cli_talks c;
	uint8_t tid[BC_TALK_ID_LEN];
	bc_talk_info *info;
	bool open;
};

/* Timeline lines of an action, as they are recorded. */
static int print_line(void *vctx, const bc_talk_event *ev)
{
	struct ctx *x = vctx;
	if (g_json)
		return BC_OK;
	cli_print_who(stdout, x->info, ev->from);
	fputc(' ', stdout);
	cli_print_safe(stdout, ev->text ? ev->text : "");
	fputc('\n', stdout);
	return BC_OK;
}

/* Open the profile and the talk, and send any signature still pending. */
static int ctx_open(struct ctx *x, const char *talk)
{
	size_t sent = 0, left = 0;
	int rc;
	memset(x, 0, sizeof(*x));
	if ((x->info = bc_calloc(1, sizeof(*x->info))) == NULL) {
		cli_err("out of memory");
		return BC_ERR_NOMEM;
	}
	if ((rc = cli_talk_arg(&x->c, talk, x->tid, x->info)) != BC_OK) {
		bc_free(x->info);
		x->info = NULL;
		return rc;
	}
	x->open = true;
	rc = bc_talk_proposal_flush(x->c.t, x->tid, &sent, &left);
	if (sent > 0 && !g_json)
		printf("sent %zu pending agreement signature(s)\n", sent);
	if (left > 0 && rc != BC_ERR_STATE)
		cli_err("warning: %zu agreement signature(s) not sent yet: %s",
			left, bc_strerror(rc));
	return BC_OK;
}

static void ctx_close(struct ctx *x)
{
	if (x->open)
		cli_talks_close(&x->c);
	bc_free(x->info);
	x->info = NULL;
	x->open = false;
}

static int find_proposal(struct ctx *x, const char *s,
			 uint8_t pid[BC_PROPOSAL_ID_LEN])
{
	int rc = bc_talk_proposal_find(x->c.t, x->tid, s, pid);
	if (rc == BC_ERR_INVALID)
		cli_err("'%s' is not a proposal id (P followed by at least 4 "
			"hex digits)",
			s);
	else if (rc == BC_ERR_NOTFOUND)
		cli_err("no proposal '%s' in this talk (see 'backchannel "
			"proposals TALK')",
			s);
	else if (rc == BC_ERR_CONFLICT)
		cli_err("'%s' matches more than one proposal: give more digits",
			s);
	else if (rc != BC_OK)
		cli_err("cannot look up proposal '%s': %s", s, bc_strerror(rc));
	return rc;
}

static int report(int rc, const char *what, const char *arg, const char *why)
{
	if (rc == BC_OK)
		return 0;
	cli_err("cannot %s%s%s: %s", what, arg ? " " : "", arg ? arg : "",
		why ? why : bc_strerror(rc));
	/* Usage-like mistakes exit 2; refusals and failures 1. */
	return rc == BC_ERR_INVALID || rc == BC_ERR_TOOBIG ? EXIT_USAGE
							    : cli_status(rc);
}

/* ---- propose / counter -------------------------------------------------------- */

static int propose_or_counter(int argc, char **argv, bool counter)
{
	static const struct option opts[] = {
		{"meeting", no_argument, 0, 'M'},
		{"expires", required_argument, 0, 'e'},
		{"term", required_argument, 0, 't'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0}};
	struct terms *ts = bc_calloc(1, sizeof(*ts));
	uint8_t pid[BC_PROPOSAL_ID_LEN];
	uint64_t dur = 0, expiry = 0;
	bool meeting = false;
	const char *why = NULL;
	uint32_t version = 0;
	struct ctx x;
	int ch, rc, st;
	memset(&x, 0, sizeof(x));
	if (ts == NULL) {
		cli_err("out of memory");
		return 1;
	}
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'M':
			if (counter)
				goto usage;
			meeting = true;
			break;
		case 'e':
			if (parse_duration(optarg, &dur) != BC_OK) {
				st = EXIT_USAGE;
				goto out;
			}
			break;
		case 't':
			if (add_term(ts, optarg) != BC_OK) {
				st = EXIT_USAGE;
				goto out;
			}
			break;
		case 'h':
			if (counter)
				printf("usage: backchannel counter TALK PROPOSAL "
				       "[--expires DURATION]\n"
				       "                           --term KEY=TEXT "
				       "[--term KEY=TEXT ...]\n\n"
				       "Answer a proposal with a new version: the "
				       "whole new set of terms, in order.\n"
				       "Acceptances of earlier versions no longer "
				       "count. DURATION: 90s, 30m, 24h, 7d.\n");
			else
				printf("usage: backchannel propose TALK "
				       "[--meeting] [--expires DURATION]\n"
				       "                           --term KEY=TEXT "
				       "[--term KEY=TEXT ...] [--json]\n\n"
				       "Put a proposal to every member of the talk "
				       "(a party or the mediator). Terms\nare kept "
				       "in the order given; keys are unique. A "
				       "--meeting proposal needs the terms\nlevel, "
				       "place and window. DURATION: 90s, 30m, 24h, "
				       "7d (the version cannot be\naccepted after "
				       "it). Prints the proposal id (32 hex "
				       "digits; shown as P + 8).\n");
			st = 0;
			goto out;
		default:
			goto usage;
		}
	}
	if (optind != argc - (counter ? 2 : 1))
		goto usage;
	if (check_terms(ts) != BC_OK) {
		st = EXIT_USAGE;
		goto out;
	}
	if ((rc = ctx_open(&x, argv[optind])) != BC_OK) {
		st = cli_status(rc);
		goto out;
	}
	if (counter && (rc = find_proposal(&x, argv[optind + 1], pid)) != BC_OK) {
		st = rc == BC_ERR_INVALID || rc == BC_ERR_CONFLICT ? EXIT_USAGE
								   : 1;
		goto out;
	}
	if (dur != 0)
		expiry = (uint64_t)time(NULL) + dur;
	if (counter) {
		rc = bc_talk_counter(x.c.t, x.tid, pid, expiry, ts->v, ts->n,
				     &version, print_line, &x, &why);
		st = report(rc, "counter", argv[optind + 1], why);
	} else {
		rc = bc_talk_propose(x.c.t, x.tid,
				     meeting ? BC_PROPOSAL_MEETING
					     : BC_PROPOSAL_GENERAL,
				     expiry, ts->v, ts->n, pid, NULL, NULL, &why);
		st = report(rc, "propose", NULL, why);
		if (rc == BC_OK && g_json) {
			char sp[BC_TP_SHORT_SIZE];
			bc_talk_proposal_short(pid, sp);
			printf("{\"proposal\":");
			json_hex(stdout, pid, sizeof(pid));
			printf(",\"short\":\"%s\",\"version\":1}\n", sp);
		} else if (rc == BC_OK) {
			cli_print_hex(stdout, pid, sizeof(pid));
			fputc('\n', stdout);
		}
	}
	goto out;
usage:
	cli_err(counter ? "usage: backchannel counter TALK PROPOSAL [--expires "
			  "DURATION] --term KEY=TEXT ..."
			: "usage: backchannel propose TALK [--meeting] "
			  "[--expires DURATION] --term KEY=TEXT ...");
	st = EXIT_USAGE;
out:
	ctx_close(&x);
	bc_free(ts);
	return st;
}

int cmd_propose(int argc, char **argv)
{
	return propose_or_counter(argc, argv, false);
}

int cmd_counter(int argc, char **argv)
{
	return propose_or_counter(argc, argv, true);
}

/* ---- accept / reject / withdraw ----------------------------------------------- */

enum { A_ACCEPT, A_REJECT, A_WITHDRAW };

static int answer(int argc, char **argv, int kind)
{
	static const struct option opts[] = {
		{"version", required_argument, 0, 'v'},
		{"reason", required_argument, 0, 'r'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0}};
	static const char *const usage[] = {
		"backchannel accept TALK PROPOSAL [--version N]",
		"backchannel reject TALK PROPOSAL --reason TEXT",
		"backchannel withdraw TALK PROPOSAL",
	};
	static const char *const help[] = {
		"Accept a version of a proposal (a party): the latest unless "
		"--version names\none, which must be the latest. Acceptance is "
		"of the whole version. When every\nparty has accepted it, the "
		"version is agreed and each party's client signs the\n"
		"agreement and sends its signature.",
		"Reject the latest version of a proposal (a party), with a "
		"reason every member\nsees. It can then only be revived by a "
		"counter.",
		"Withdraw the offer on the table: only the author of the latest "
		"version may.\nThe proposal is then closed for good.",
	};
	static const char *const verb[] = {"accept", "reject", "withdraw"};
	uint8_t pid[BC_PROPOSAL_ID_LEN];
	const char *reason = NULL, *why = NULL;
	unsigned long version = 0;
	uint32_t done = 0;
	struct ctx x;
	char *end;
	int ch, rc;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'v':
			if (kind != A_ACCEPT)
				goto usage;
			errno = 0;
			version = strtoul(optarg, &end, 10);
			if (errno || *end != '\0' || optarg[0] < '1' ||
			    optarg[0] > '9' || version > BC_PROPOSAL_MAX_VERSIONS) {
				cli_err("--version wants a version number "
					"(1..%d)",
					BC_PROPOSAL_MAX_VERSIONS);
				return EXIT_USAGE;
			}
			break;
		case 'r':
			if (kind != A_REJECT)
				goto usage;
			reason = optarg;
			break;
		case 'h':
			printf("usage: %s\n\n%s\n", usage[kind], help[kind]);
			return 0;
		default:
			goto usage;
		}
	}
	if (optind != argc - 2 || (kind == A_REJECT && reason == NULL))
		goto usage;
	if (reason && strlen(reason) > BC_PROPOSAL_REASON_MAX) {
		cli_err("the reason is limited to %d bytes",
			BC_PROPOSAL_REASON_MAX);
		return EXIT_USAGE;
	}
	if ((rc = ctx_open(&x, argv[optind])) != BC_OK)
		return cli_status(rc);
	if ((rc = find_proposal(&x, argv[optind + 1], pid)) != BC_OK) {
		ctx_close(&x);
		return rc == BC_ERR_INVALID || rc == BC_ERR_CONFLICT ? EXIT_USAGE
								     : 1;
	}
	if (kind == A_ACCEPT)
		rc = bc_talk_accept(x.c.t, x.tid, pid, (uint32_t)version, &done,
				    print_line, &x, &why);
	else if (kind == A_REJECT)
		rc = bc_talk_reject(x.c.t, x.tid, pid, reason, &done,
				    print_line, &x, &why);
	else
		rc = bc_talk_withdraw(x.c.t, x.tid, pid, print_line, &x, &why);
	ch = report(rc, verb[kind], argv[optind + 1], why);
	ctx_close(&x);
	return ch;
usage:
	cli_err("usage: %s", usage[kind]);
	return EXIT_USAGE;
}

int cmd_accept(int argc, char **argv)
{
	return answer(argc, argv, A_ACCEPT);
}

int cmd_reject(int argc, char **argv)
{
	return answer(argc, argv, A_REJECT);
}

int cmd_withdraw(int argc, char **argv)
{
	return answer(argc, argv, A_WITHDRAW);
}

/* ---- proposals ------------------------------------------------------------------ */

static uint64_t accept_time(const bc_talk_proposal *p, uint32_t version,
			    const uint8_t *party)
{
	for (uint16_t i = 0; i < p->naccepts; i++)
		if (p->accepts[i].version == version &&
		    memcmp(p->accepts[i].party, party, BC_MEMBER_ID_LEN) == 0)
			return p->accepts[i].time;
	return 0;
}

static bool has_signed(const bc_agreement *a, const uint8_t *fp)
{
	for (uint16_t i = 0; i < a->nsigs; i++)
		if (memcmp(a->sigs[i].fingerprint, fp, BC_FINGERPRINT_LEN) == 0)
			return true;
	return false;
}

struct show {
	struct ctx *x;
	size_t n;
	uint64_t now;
};

static void show_agreement_text(const bc_talk_proposal *p)
{
	const bc_agreement *a = p->agreement;
	if (a == NULL) {
		printf("  agreement: no document could be built here\n");
		return;
	}
	printf("  agreement v%u, agreed at ", a->version);
	cli_print_time(stdout, a->agreed_at);
	printf(": %u of %u signatures", a->nsigs, a->nparties);
	for (uint16_t i = 0; i < a->nparties; i++) {
		printf("%s", i == 0 ? " (" : ", ");
		cli_print_safe(stdout, a->parties[i].side);
		printf(has_signed(a, a->parties[i].fingerprint) ? " signed"
								: " MISSING");
	}
	printf(")%s\n", p->sign_pending ? "; your signature is not sent yet"
					: "");
}

static int show_text(void *vctx, const bc_talk_proposal *p)
{
	struct show *s = vctx;
	const bc_talk_info *info = s->x->info;
	char sp[BC_TP_SHORT_SIZE];
	bc_talk_proposal_short(p->p.id, sp);
	printf("%s%s %s (%s, by ", s->n++ ? "\n" : "", sp,
	       bc_talk_proposal_status(p),
	       p->p.kind == BC_PROPOSAL_MEETING ? "meeting" : "general");
	cli_print_who(stdout, info, p->p.author);
	printf(")\n");
	for (uint16_t i = 0; i < p->p.nversions; i++) {
		const bc_proposal_version *v = &p->p.versions[i];
		printf("  v%u by ", v->number);
		cli_print_who(stdout, info, v->author);
		printf(" at ");
		cli_print_time(stdout, p->created[i]);
		if (v->expiry != 0) {
			printf(", %s ", v->expiry <= s->now ? "expired" : "expires");
			cli_print_time(stdout, v->expiry);
		}
		printf("\n");
		for (uint16_t j = 0; j < v->nterms; j++) {
			printf("    %u. ", j + 1);
			cli_print_safe(stdout, v->terms[j].key);
			printf(": ");
			cli_print_safe(stdout, v->terms[j].text);
			printf("\n");
		}
		if (v->naccepted > 0) {
			printf("    accepted by");
			for (uint16_t j = 0; j < v->naccepted; j++) {
				printf("%s", j ? ", " : " ");
				cli_print_who(stdout, info, v->accepted[j]);
			}
			printf("\n");
		}
		if (v->rejected) {
			printf("    rejected by ");
			cli_print_who(stdout, info, v->rejected_by);
			if (v->reject_reason[0]) {
				printf(": ");
				cli_print_safe(stdout, v->reject_reason);
			}
			printf("\n");
		}
	}
	if (p->p.status == BC_PROPOSAL_WITHDRAWN) {
		printf("  withdrawn by ");
		cli_print_who(stdout, info, p->p.withdrawn_by);
		printf("\n");
	}
	if (p->p.status == BC_PROPOSAL_AGREED)
		show_agreement_text(p);
	return BC_OK;
}

static void json_who(const char *key, const bc_talk_info *info,
		     const uint8_t *id)
{
	cli_json_who(stdout, key, info, id);
}

static int show_json(void *vctx, const bc_talk_proposal *p)
{
	struct show *s = vctx;
	const bc_talk_info *info = s->x->info;
	const char *st = bc_talk_proposal_status(p);
	char sp[BC_TP_SHORT_SIZE];
	bc_talk_proposal_short(p->p.id, sp);
	printf("%s{\"id\":", s->n++ ? "," : "");
	json_hex(stdout, p->p.id, BC_PROPOSAL_ID_LEN);
	printf(",\"short\":\"%s\",\"kind\":\"%s\",\"status\":", sp,
	       p->p.kind == BC_PROPOSAL_MEETING ? "meeting" : "general");
	json_str(stdout, st, strlen(st));
	printf(",");
	json_who("author", info, p->p.author);
	printf(",\"agreed_version\":%u", p->p.agreed_version);
	if (p->p.status == BC_PROPOSAL_WITHDRAWN) {
		printf(",");
		json_who("withdrawn_by", info, p->p.withdrawn_by);
	}
	printf(",\"versions\":[");
	for (uint16_t i = 0; i < p->p.nversions; i++) {
		const bc_proposal_version *v = &p->p.versions[i];
		printf("%s{\"number\":%u,", i ? "," : "", v->number);
		json_who("author", info, v->author);
		printf(",\"created\":%llu,\"expiry\":%llu,\"expired\":%s,"
		       "\"terms\":[",
		       (unsigned long long)p->created[i],
		       (unsigned long long)v->expiry,
		       v->expiry != 0 && v->expiry <= s->now ? "true" : "false");
		for (uint16_t j = 0; j < v->nterms; j++) {
			printf("%s{\"key\":", j ? "," : "");
			json_str(stdout, v->terms[j].key, strlen(v->terms[j].key));
			printf(",\"text\":");
			json_str(stdout, v->terms[j].text,
				 strlen(v->terms[j].text));
			printf("}");
		}
		printf("],\"accepted\":[");
		for (uint16_t j = 0; j < v->naccepted; j++) {
			printf("%s{", j ? "," : "");
			json_who("member", info, v->accepted[j]);
			printf(",\"time\":%llu}",
			       (unsigned long long)accept_time(p, v->number,
							       v->accepted[j]));
		}
		printf("],\"rejected\":%s", v->rejected ? "true" : "false");
		if (v->rejected) {
			printf(",");
			json_who("rejected_by", info, v->rejected_by);
			printf(",\"reason\":");
			json_str(stdout, v->reject_reason,
				 strlen(v->reject_reason));
		}
		printf("}");
	}
	printf("]");
	if (p->p.status == BC_PROPOSAL_AGREED && p->agreement != NULL) {
		const bc_agreement *a = p->agreement;
		printf(",\"agreement\":{\"version\":%u,\"agreed_at\":%llu,"
		       "\"parties\":%u,\"signatures\":%u,\"complete\":%s,"
		       "\"own_signature_pending\":%s,\"signed\":[",
		       a->version, (unsigned long long)a->agreed_at,
		       a->nparties, a->nsigs,
		       bc_agreement_is_complete(a) ? "true" : "false",
		       p->sign_pending ? "true" : "false");
		for (int pass = 0; pass < 2; pass++) {
			bool first = true;
			if (pass == 1)
				printf("],\"missing\":[");
			for (uint16_t i = 0; i < a->nparties; i++) {
				if (has_signed(a, a->parties[i].fingerprint) !=
				    (pass == 0))
					continue;
				printf("%s{\"fingerprint\":", first ? "" : ",");
				json_hex(stdout, a->parties[i].fingerprint,
					 BC_FINGERPRINT_LEN);
				printf(",\"side\":");
				json_str(stdout, a->parties[i].side,
					 strlen(a->parties[i].side));
				printf("}");
				first = false;
			}
		}
		printf("]}");
	}
	printf("}");
	return BC_OK;
}

int cmd_proposals(int argc, char **argv)
{
	struct show s;
	struct ctx x;
	int rc;
	if (cli_wants_help(argc, argv)) {
		printf("usage: backchannel proposals TALK [--json]\n\n"
		       "The proposals of the talk as this member recorded "
		       "them: each version with\nits author, terms, expiry, "
		       "who accepted it, its rejection and reason; the\n"
		       "status (open, withdrawn, agreed: every party accepted, "
		       "signed: every party\nsigned the agreement) and the "
		       "agreement's signatures. Run 'sync' first to see\n"
		       "the others' latest actions.\n");
		return 0;
	}
	if (argc != 2) {
		cli_err("usage: backchannel proposals TALK [--json]");
		return EXIT_USAGE;
	}
	if ((rc = ctx_open(&x, argv[1])) != BC_OK)
		return cli_status(rc);
	memset(&s, 0, sizeof(s));
	s.x = &x;
	s.now = (uint64_t)time(NULL);
	if (g_json)
		printf("[");
	rc = bc_talk_proposal_list(x.c.t, x.tid, g_json ? show_json : show_text,
				   &s);
	if (g_json)
		printf("]\n");
	else if (rc == BC_OK && s.n == 0)
		printf("no proposals yet\n");
	if (rc != BC_OK)
		cli_err("cannot read the proposals: %s", bc_strerror(rc));
	ctx_close(&x);
	return cli_status(rc);
}

/* ---- agreement export ------------------------------------------------------------- */

static int write_out(const char *path, const char *text)
{
	size_t len = strlen(text), off = 0;
	int fd;
	if (path == NULL || strcmp(path, "-") == 0) {
		if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0) {
			cli_err("cannot write the agreement to stdout");
			return BC_ERR_IO;
		}
		return BC_OK;
	}
	/* An agreement is public: 0644; never through a symlink. */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		  0644);
	if (fd < 0) {
		cli_err("cannot create %s: %s", path, strerror(errno));
		return BC_ERR_IO;
	}
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			cli_err("cannot write %s: %s", path, strerror(errno));
			close(fd);
			return BC_ERR_IO;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		cli_err("cannot write %s: %s", path, strerror(errno));
		return BC_ERR_IO;
	}
	return BC_OK;
}

int cmd_agreement_export(int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, 0, 'o'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0}};
	uint8_t pid[BC_PROPOSAL_ID_LEN];
	bc_talk_proposal *p = NULL;
	const char *path = NULL;
	char *text = NULL, sp[BC_TP_SHORT_SIZE];
	struct ctx x;
	int ch, rc, st = 1;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
		switch (ch) {
		case 'o': path = optarg; break;
		case 'h':
			printf("usage: backchannel agreement export TALK PROPOSAL "
			       "[-o FILE]\n\n"
			       "Write the signed agreement of an agreed proposal "
			       "(its text, the parties'\nidentities and every "
			       "party's signature) to FILE or stdout. Anyone "
			       "can check\nit offline with 'backchannel "
			       "agreement verify FILE'. Refused while a\nparty "
			       "has not signed (the missing signers are "
			       "named).\n");
			return 0;
		default:
			goto usage;
		}
	}
	if (optind != argc - 2)
		goto usage;
	if ((rc = ctx_open(&x, argv[optind])) != BC_OK)
		return cli_status(rc);
	if ((rc = find_proposal(&x, argv[optind + 1], pid)) != BC_OK) {
		st = rc == BC_ERR_INVALID || rc == BC_ERR_CONFLICT ? EXIT_USAGE
								   : 1;
		goto out;
	}
	bc_talk_proposal_short(pid, sp);
	if ((rc = bc_talk_proposal_get(x.c.t, x.tid, pid, &p)) != BC_OK) {
		cli_err("cannot read %s: %s", sp, bc_strerror(rc));
		goto out;
	}
	if (p->p.status != BC_PROPOSAL_AGREED || p->agreement == NULL) {
		cli_err("%s is not agreed (it is %s): there is no agreement to "
			"export",
			sp, bc_talk_proposal_status(p));
		goto out;
	}
	if (!bc_agreement_is_complete(p->agreement)) {
		const bc_agreement *a = p->agreement;
		fprintf(stderr, "backchannel: the agreement %s v%u is not signed "
				"by every party yet: missing ",
			sp, a->version);
		for (uint16_t i = 0, k = 0; i < a->nparties; i++) {
			if (has_signed(a, a->parties[i].fingerprint))
				continue;
			fputs(k++ ? ", " : "", stderr);
			cli_print_safe(stderr, a->parties[i].side);
		}
		fputs(" (run 'backchannel sync' and try again)\n", stderr);
		goto out;
	}
	if ((rc = bc_agreement_export(p->agreement, &text)) != BC_OK) {
		cli_err("cannot export %s: %s", sp, bc_strerror(rc));
		goto out;
	}
	if (write_out(path, text) == BC_OK) {
		st = 0;
		if (path != NULL && strcmp(path, "-") != 0)
			fprintf(stderr, "wrote the agreement %s v%u to %s\n", sp,
				p->agreement->version, path);
	}
out:
	bc_free(text);
	bc_talk_proposal_free(p);
	ctx_close(&x);
	return st;
usage:
	cli_err("usage: backchannel agreement export TALK PROPOSAL [-o FILE]");
	return EXIT_USAGE;
}
