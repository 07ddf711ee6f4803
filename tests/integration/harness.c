/*
 * harness.c - run the real backchanneld for integration tests.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "file.h"
#include "harness.h"

void msleep(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

const char *harness_prog(const char *name)
{
	static char path[4][1024];
	static int k;
	const char *top = getenv("BC_TOP");
	const char *build = getenv("BUILD");
	char *p = path[k++ % 4];
	snprintf(p, 1024, "%s/%s/%s", top ? top : ".", build ? build : "build",
		 name);
	return p;
}

static int read_port(const char *path, uint16_t *port)
{
	FILE *f = fopen(path, "r");
	unsigned p = 0;
	int ok;
	if (f == NULL)
		return -1;
	ok = fscanf(f, "%u", &p) == 1 && p > 0 && p < 65536;
	fclose(f);
	if (!ok)
		return -1;
	*port = (uint16_t)p;
	return 0;
}

static int spawn(struct relay *r, uint16_t port)
{
	char listen[64], portfile[300], datadir[300];
	char *argv[24];
	int n = 0, fd;
	snprintf(listen, sizeof(listen), "--listen=127.0.0.1:%u", port);
	snprintf(portfile, sizeof(portfile), "--port-file=%s/port", r->dir);
	snprintf(datadir, sizeof(datadir), "--data-dir=%s", r->dir);
	snprintf(r->log, sizeof(r->log), "%s/relay.log", r->dir);
	{
		char pf[300];
		snprintf(pf, sizeof(pf), "%s/port", r->dir);
		unlink(pf);
	}
	argv[n++] = (char *)harness_prog("backchanneld");
	argv[n++] = datadir;
	argv[n++] = listen;
	argv[n++] = portfile;
	argv[n++] = (char *)"--log-level=debug";
	for (int i = 0; i < r->nextra; i++)
		argv[n++] = r->extra[i];
	argv[n] = NULL;
	r->pid = fork();
	if (r->pid < 0)
		return -1;
	if (r->pid == 0) {
		fd = open(r->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, 2);
			close(fd);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		char pf[300];
		int st;
		snprintf(pf, sizeof(pf), "%s/port", r->dir);
		if (read_port(pf, &r->port) == 0) {
			r->addr.port = r->port;
			return 0;
		}
		if (waitpid(r->pid, &st, WNOHANG) == r->pid) {
			r->pid = 0;
			return -1;
		}
		msleep(10);
	}
	return -1;
}

int relay_start(struct relay *r)
{
	char keypath[300];
	uint8_t priv[32];
	char tmpl[] = "/tmp/bc-relay-XXXXXX";
	if (mkdtemp(tmpl) == NULL)
		return -1;
	snprintf(r->dir, sizeof(r->dir), "%s", tmpl);
	snprintf(keypath, sizeof(keypath), "%s/relay.key", r->dir);
	randombytes_buf(priv, sizeof(priv));
	if (bc_file_write_secret(keypath, priv, 32, true) != BC_OK)
		return -1;
	memset(&r->addr, 0, sizeof(r->addr));
	snprintf(r->addr.host, sizeof(r->addr.host), "127.0.0.1");
	if (crypto_scalarmult_base(r->addr.key, priv) != 0)
		return -1;
	sodium_memzero(priv, sizeof(priv));
	return spawn(r, 0);
}

int relay_restart(struct relay *r)
{
	for (int i = 0; i < 100; i++) {
		if (spawn(r, r->port) == 0)
			return 0;
		msleep(50); /* the port may linger briefly */
	}
	return -1;
}

int relay_stop(struct relay *r)
{
	int st = -1;
	if (r->pid <= 0)
		return -1;
	kill(r->pid, SIGTERM);
	if (waitpid(r->pid, &st, 0) != r->pid)
		return -1;
	r->pid = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void relay_kill9(struct relay *r)
{
	if (r->pid <= 0)
		return;
	kill(r->pid, SIGKILL);
	waitpid(r->pid, NULL, 0);
	r->pid = 0;
}

void relay_cleanup(struct relay *r)
{
	char cmd[400];
	if (r->pid > 0)
		relay_kill9(r);
	if (getenv("BC_KEEP_TMP") == NULL && r->dir[0] == '/') {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", r->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", r->dir);
	}
}

int relay_log_count(const struct relay *r, const char *needle)
{
	FILE *f = fopen(r->log, "r");
	char line[2048];
	int n = 0;
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, needle) != NULL)
			n++;
	fclose(f);
	return n;
}

int relay_log_wait(const struct relay *r, const char *needle, int n, int ms)
{
	int got = 0;
	for (int t = 0; t <= ms; t += 20) {
		got = relay_log_count(r, needle);
		if (got >= n)
			break;
		msleep(20);
	}
	return got;
}

bc_client *test_client(const struct relay *r, const uint8_t *priv)
{
	uint8_t k[32];
	bc_client *c = NULL;
	if (priv)
		memcpy(k, priv, 32);
	else
		randombytes_buf(k, sizeof(k));
	if (bc_client_new(&c, &r->addr, k, NULL) != BC_OK)
		c = NULL;
	sodium_memzero(k, sizeof(k));
	return c;
}

bc_client *test_client_quick(const struct relay *r)
{
	uint8_t k[32];
	bc_client_opts o;
	bc_client *c = NULL;
	bc_client_opts_default(&o);
	o.retry_budget_ms = 300;
	o.io_timeout_ms = 3000;
	o.connect_timeout_ms = 2000;
	randombytes_buf(k, sizeof(k));
	if (bc_client_new(&c, &r->addr, k, &o) != BC_OK)
		c = NULL;
	return c;
}

int test_mailbox(bc_client *c, uint8_t mb[32], uint8_t cap[32])
{
	int rc;
	randombytes_buf(mb, 32);
	randombytes_buf(cap, 32);
	if ((rc = bc_client_open(c, mb, NULL)) != BC_OK)
		return rc;
	return bc_client_cap_add(c, mb, cap);
}

int raw_connect(const struct relay *r)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(r->port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

bool raw_wait_closed(int fd, int ms)
{
	uint8_t buf[4096];
	for (int t = 0; t < ms;) {
		struct pollfd p = {fd, POLLIN, 0};
		int n = poll(&p, 1, 50);
		if (n > 0) {
			ssize_t k = read(fd, buf, sizeof(buf));
			if (k == 0 || (k < 0 && errno == ECONNRESET))
				return true;
		} else {
			t += 50;
		}
	}
	return false;
}
