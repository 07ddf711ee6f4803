/*
 * harness.h - run the real backchanneld for integration tests.
 *
 * Each relay gets a fresh temporary data directory, a random port on
 * 127.0.0.1 (port 0, reported through --port-file) and its stderr in
 * DIR/relay.log, so tests can check what it logged.
 */
#ifndef BC_TEST_HARNESS_H
#define BC_TEST_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "addr.h"
#include "client.h"

struct relay {
	char dir[256];
	char log[300];
	pid_t pid;
	uint16_t port;
	bc_relay_addr addr;
	char extra[8][64]; /* extra "--key=value" arguments */
	int nextra;
};

/* The path of a built program ("backchanneld", "backchannel"). */
const char *harness_prog(const char *name);
/* Create the data dir and key, start the relay, wait until it listens. */
int relay_start(struct relay *r);
/* Start again on the same port and data dir (after stop or kill). */
int relay_restart(struct relay *r);
/* SIGTERM and wait; returns the exit status. */
int relay_stop(struct relay *r);
/* SIGKILL and wait. */
void relay_kill9(struct relay *r);
/* Remove the data directory. */
void relay_cleanup(struct relay *r);
/* Count log lines containing needle. */
int relay_log_count(const struct relay *r, const char *needle);
/* Wait up to ms for at least n log lines containing needle. */
int relay_log_wait(const struct relay *r, const char *needle, int n, int ms);

/* A client with a fresh random key, or a given one. */
bc_client *test_client(const struct relay *r, const uint8_t *priv);
/* Short retry budget, for tests of failures. */
bc_client *test_client_quick(const struct relay *r);

/* Create a mailbox owned by c with one capability; fills mb and cap. */
int test_mailbox(bc_client *c, uint8_t mb[32], uint8_t cap[32]);

/* Raw TCP connection to the relay; returns fd or -1. */
int raw_connect(const struct relay *r);
/* True if the peer closed fd within ms (reads and discards data). */
bool raw_wait_closed(int fd, int ms);

void msleep(int ms);

#endif
