/*
 * cli.h - shared definitions of the backchannel command-line client.
 *
 * Each command is a function `int cmd_x(int argc, char **argv)` returning
 * the process exit status (documented in backchannel(1)):
 *   0  success
 *   1  failure (the relay refused, network, storage)
 *   2  usage error (bad arguments)
 *   3  security refusal (relay key mismatch, failed authentication,
 *      mistyped key or address)
 */
#ifndef BC_CLI_H
#define BC_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "addr.h"
#include "client.h"

#define EXIT_USAGE 2
#define EXIT_SECURITY 3

struct cli_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

/* Options common to every command, parsed out of argv by cli_getopts. */
extern bool g_json;

/* Print "backchannel: <msg>" to stderr. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Exit status for a library error code. */
int cli_status(int rc);
/* Run a subcommand table: argv[0] is the table's name. */
int cli_dispatch(const char *prefix, const struct cli_cmd *cmds, int argc,
		 char **argv);
/* True if argv holds -h/--help. */
bool cli_wants_help(int argc, char **argv);

/* The profile directory ($BACKCHANNEL_HOME, else $XDG_DATA_HOME/backchannel,
 * else ~/.local/share/backchannel); created 0700. */
int cli_home(char *out, size_t n);
/* This profile's transport (Noise static) key, created on first use. */
int cli_transport_key(uint8_t priv[32]);
/* Parse a relay address, with a clear message on failure. */
int cli_parse_relay(const char *s, bc_relay_addr *a);
/* Connect a client to relay (one attempt with retries inside requests). */
int cli_client(const bc_relay_addr *a, bc_client **out);
/* Parse exactly n bytes of hex. */
int cli_hex(const char *s, uint8_t *out, size_t n, const char *what);

/* JSON output helpers. */
void json_str(FILE *f, const char *s, size_t n);
void json_hex(FILE *f, const uint8_t *p, size_t n);

int cmd_relay(int argc, char **argv);
extern const struct cli_cmd cli_identity_cmds[];
int cmd_debug(int argc, char **argv);
int cmd_agreement(int argc, char **argv);
int cmd_talk(int argc, char **argv);
int cmd_suspend(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_close(int argc, char **argv);
int cmd_pass_on(int argc, char **argv);
int cmd_invite(int argc, char **argv);
int cmd_join(int argc, char **argv);
int cmd_say(int argc, char **argv);
int cmd_sync(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_leave(int argc, char **argv);
int cmd_watch(int argc, char **argv);
/* cmd_proposal.c */
int cmd_propose(int argc, char **argv);
int cmd_counter(int argc, char **argv);
int cmd_accept(int argc, char **argv);
int cmd_reject(int argc, char **argv);
int cmd_withdraw(int argc, char **argv);
int cmd_proposals(int argc, char **argv);
/* in cmd_proposal.c: agreement export (called by cmd_agreement) */
int cmd_agreement_export(int argc, char **argv);
/* cmd_text.c */
int cmd_text(int argc, char **argv);
/* cmd_mutual.c */
int cmd_ask(int argc, char **argv);
int cmd_answer(int argc, char **argv);
/* cmd_exchange.c */
int cmd_exchange(int argc, char **argv);

#endif
