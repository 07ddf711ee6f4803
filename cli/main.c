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

static int cmd_init(int argc, char **argv)
{
	return cli_identity_cmds[0].fn(argc, argv);
}
static int cmd_identity(int argc, char **argv)
{
	return cli_identity_cmds[1].fn(argc, argv);
}
static int cmd_verify(int argc, char **argv)
{
	return cli_identity_cmds[2].fn(argc, argv);
}

static const struct cli_cmd commands[] = {
	{"init", cmd_init, "create this profile and its identity"},
	{"identity", cmd_identity, "show this profile's identity"},
	{"verify", cmd_verify, "safety number with another member"},
	{"talk", cmd_talk, "create, list and show talks"},
	{"invite", cmd_invite, "invite someone to a talk (registrar)"},
	{"join", cmd_join, "join a talk with an invite"},
	{"say", cmd_say, "say something in a talk"},
	{"sync", cmd_sync, "fetch and show what is new in your talks"},
	{"log", cmd_log, "a talk's timeline as you saw it"},
	{"suspend", cmd_suspend, "halt a talk, with a reason (a party)"},
	{"resume", cmd_resume, "resume a suspended talk (a party)"},
	{"close", cmd_close, "close a talk for good (a mediator)"},
	{"leave", cmd_leave, "leave a talk (told to every member)"},
	{"propose", cmd_propose, "put a proposal to the talk"},
	{"counter", cmd_counter, "answer a proposal with a new version"},
	{"accept", cmd_accept, "accept a proposal's version (a party)"},
	{"reject", cmd_reject, "reject a proposal's version, with a reason"},
	{"withdraw", cmd_withdraw, "withdraw your proposal"},
	{"proposals", cmd_proposals, "the proposals of a talk, as a tree"},
	{"text", cmd_text, "the single negotiating text (draft, comment, "
			   "vote)"},
	{"ask", cmd_ask, "mediator: ask the parties a double-blind question"},
	{"answer", cmd_answer, "answer a double-blind question (a party)"},
	{"exchange", cmd_exchange, "commit-reveal exchanges and their steps"},
	{"watch", cmd_watch, "follow a talk live"},
	{"agreement", cmd_agreement, "export or verify a signed agreement"},
	{"relay", cmd_relay, "mediator: pass a statement on (relay TALK #ID); "
			     "relay ping ADDR"},
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
	/* Take the global options out of argv wherever they are. */
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			g_json = true;
			continue;
		}
		if (strcmp(argv[i], "--profile") == 0 && i + 1 < argc) {
			setenv("BACKCHANNEL_PROFILE", argv[++i], 1);
			continue;
		}
		if (strncmp(argv[i], "--profile=", 10) == 0) {
			setenv("BACKCHANNEL_PROFILE", argv[i] + 10, 1);
			continue;
		}
		argv[n++] = argv[i];
	}
	argv[n] = NULL;
	return cli_dispatch("backchannel", commands, n, argv);
}
