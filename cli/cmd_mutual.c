/* cmd_mutual.c - placeholder until the command is built (see talk_int.h). */
#include "cli.h"

int cmd_ask(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_err("not built yet");
	return 1;
}

int cmd_answer(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_err("not built yet");
	return 1;
}
