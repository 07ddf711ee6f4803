/*
 * log.h - the relay's log: one event per line on stderr.
 *
 * Format (docs/DEPLOY.md): "<UTC timestamp> <level> <event> key=value ...".
 * Values containing spaces are quoted. Nothing secret is ever logged:
 * payloads, capability tokens and private keys never reach this module;
 * public keys and mailbox ids are logged only at debug level, shortened.
 */
#ifndef BC_RELAY_LOG_H
#define BC_RELAY_LOG_H

enum bc_log_level { BC_LOG_ERROR, BC_LOG_WARN, BC_LOG_INFO, BC_LOG_DEBUG };

void bc_log_set_level(int level);
int bc_log_level(void);
/* Parse "error|warn|info|debug"; -1 if unknown. */
int bc_log_parse_level(const char *s);
void bc_log(int level, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
