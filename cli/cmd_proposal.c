/* cmd_proposal.c - placeholder until the command is built (see talk_int.h). */
#include "cli.h"

int cmd_propose(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_err("not built yet");
	return 1;
}

int cmd_counter(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_err("not built yet");
	return 1;
}

int cmd_accept(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_err("not built yet");
	return 1;
}

int cmd_reject(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_err("not built yet");
	return 1;
}

int cmd_withdraw(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_err("not built yet");
	return 1;
}

int cmd_proposals(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_err("not built yet");
	return 1;
}

int cmd_agreement_export(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_err("not built yet");
	return 1;
}
