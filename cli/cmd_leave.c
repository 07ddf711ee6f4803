/* cmd_leave.c - placeholder until the command is built (see talk_int.h). */
#include "cli.h"

int cmd_leave(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_err("not built yet");
	return 1;
}

int cmd_watch(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_err("not built yet");
	return 1;
}
