/* cmd_text.c - placeholder until the command is built (see talk_int.h). */
#include "cli.h"

int cmd_text(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_err("not built yet");
	return 1;
}
