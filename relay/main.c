/*
 * main.c - backchanneld: command line, key file, signals, the loop.
 *
 *   backchanneld --init [--data-dir DIR] [--listen HOST:PORT]
 *   backchanneld [--config FILE] [--data-dir DIR] [--listen HOST:PORT]
 *                [--port-file FILE] [--KEY VALUE | --KEY=VALUE ...]
 *   backchanneld --address [--data-dir DIR] [--listen HOST:PORT]
 *
 * Every configuration key (see config.h, backchanneld.conf.example) can be
 * given as a flag, with '-' or '_' between words; flags override the file.
 * Exit status: 0 clean shutdown, 1 runtime failure, 2 usage/configuration.
 */
#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <unistd.h>

#include "addr.h"
#include "config.h"
#include "file.h"
#include "internal.h"
#include "log.h"
#include "server.h"
#include "storage.h"

static bc_server *g_server;
static uv_signal_t g_sigterm, g_sigint;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: backchanneld [--config FILE] [--data-dir DIR] "
		"[--listen HOST:PORT]\n"
		"                    [--port-file FILE] [--log-level LEVEL] "
		"[--KEY VALUE ...]\n"
		"       backchanneld --init [--data-dir DIR] [--listen "
		"HOST:PORT]\n"
		"       backchanneld --address [--data-dir DIR] [--listen "
		"HOST:PORT]\n"
		"       backchanneld --version | --help\n"
		"\n"
		"The Backchannel relay: stores and forwards sealed messages "
		"between mailboxes.\n"
		"--init creates DIR/relay.key and prints the relay address "
		"that clients pin.\n"
		"See backchanneld(8) and docs/DEPLOY.md.\n");
}

static void on_signal(uv_signal_t *h, int signum)
{
	bc_log(BC_LOG_INFO, "shutdown", "signal=%d", signum);
	(void)h;
	if (g_server != NULL)
		bc_server_shutdown(g_server);
	uv_close((uv_handle_t *)&g_sigterm, NULL);
	uv_close((uv_handle_t *)&g_sigint, NULL);
}

static void close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static int key_path(const bc_relay_config *cfg, char *out, size_t n)
{
	int k = snprintf(out, n, "%s/relay.key", cfg->data_dir);
	return k > 0 && (size_t)k < n ? 0 : -1;
}

static int print_address(const bc_relay_config *cfg, const uint8_t priv[32])
{
	bc_relay_addr a;
	char *s = NULL;
	memset(&a, 0, sizeof(a));
	if (bc_split_hostport(cfg->listen, a.host, sizeof(a.host), &a.port) !=
		    BC_OK ||
	    crypto_scalarmult_base(a.key, priv) != 0 ||
	    bc_relay_addr_format(&a, &s) != BC_OK) {
		fprintf(stderr, "backchanneld: cannot format the address\n");
		return 1;
	}
	printf("%s\n", s);
	if (strcmp(a.host, "0.0.0.0") == 0 || strcmp(a.host, "::") == 0)
		fprintf(stderr,
			"backchanneld: note: the relay listens on a wildcard "
			"address; give clients the host name they reach it "
			"by in place of %s\n",
			a.host);
	bc_free(s);
	return 0;
}

static int do_init(const bc_relay_config *cfg)
{
	char path[1200];
	uint8_t priv[32];
	int rc;
	if (key_path(cfg, path, sizeof(path)) != 0) {
		fprintf(stderr, "backchanneld: data_dir too long\n");
		return 2;
	}
	if (bc_mkdir_private(cfg->data_dir) != BC_OK) {
		fprintf(stderr, "backchanneld: cannot create %s: %s\n",
			cfg->data_dir, strerror(errno));
		return 1;
	}
	randombytes_buf(priv, sizeof(priv));
	rc = bc_file_write_secret(path, priv, sizeof(priv), true);
	if (rc == BC_ERR_CONFLICT) {
		fprintf(stderr,
			"backchanneld: %s already exists; the relay is "
			"already initialised (its address: backchanneld "
			"--address)\n",
			path);
		sodium_memzero(priv, sizeof(priv));
		return 1;
	}
	if (rc != BC_OK) {
		fprintf(stderr, "backchanneld: cannot write %s: %s\n", path,
			bc_strerror(rc));
		sodium_memzero(priv, sizeof(priv));
		return 1;
	}
	fprintf(stderr, "backchanneld: created %s; relay address:\n", path);
	rc = print_address(cfg, priv);
	sodium_memzero(priv, sizeof(priv));
	return rc;
}

static int load_key(const bc_relay_config *cfg, uint8_t priv[32])
{
	char path[1200];
	int rc;
	if (key_path(cfg, path, sizeof(path)) != 0)
		return 2;
	rc = bc_file_read_secret(path, priv, 32);
	if (rc == BC_OK)
		return 0;
	if (rc == BC_ERR_NOTFOUND)
		fprintf(stderr,
			"backchanneld: %s not found; run backchanneld --init "
			"--data-dir %s first\n",
			path, cfg->data_dir);
	else if (rc == BC_ERR_FORBIDDEN)
		fprintf(stderr,
			"backchanneld: refusing %s: it must be a regular file "
			"of this user with mode 0600 (chmod 600 %s)\n",
			path, path);
	else
		fprintf(stderr, "backchanneld: cannot read %s: %s\n", path,
			bc_strerror(rc));
	return 1;
}

/* One relay per data directory: two would interleave commits and hand out
 * the same sequence numbers' meaning twice. The lock lives as long as the
 * process (the descriptor is never closed). */
static int lock_data_dir(const bc_relay_config *cfg)
{
	char path[1200];
	int fd;
	snprintf(path, sizeof(path), "%s/relay.lock", cfg->data_dir);
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "backchanneld: cannot open %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		fprintf(stderr,
			"backchanneld: another relay is already running on %s\n",
			cfg->data_dir);
		close(fd);
		return -1;
	}
	return fd;
}

static int write_port_file(const char *path, uint16_t port)
{
	char tmp[4200];
	FILE *f;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (f == NULL)
		return -1;
	fprintf(f, "%u\n", port);
	if (fclose(f) != 0)
		return -1;
	return rename(tmp, path);
}

int main(int argc, char **argv)
{
	bc_relay_config cfg;
	const char *config_file = NULL, *port_file = NULL;
	bool init = false, address = false;
	char err[512];
	uint8_t priv[32];
	uv_loop_t loop;
	bc_storage *st = NULL;
	uint16_t port = 0;
	int rc, status = 1;
	struct rlimit rl;

	if (sodium_init() < 0) {
		fprintf(stderr, "backchanneld: libsodium failed to start\n");
		return 1;
	}
	bc_config_defaults(&cfg);
	/* The config file first (flags override it). */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			config_file = argv[i + 1];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			config_file = argv[i] + 9;
	if (config_file != NULL &&
	    bc_config_load(&cfg, config_file, err, sizeof(err)) != BC_OK) {
		fprintf(stderr, "backchanneld: %s\n", err);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		char key[64];
		const char *val, *eq;
		size_t klen;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(a, "--version") == 0) {
			printf("backchanneld %s\n", BC_VERSION);
			return 0;
		}
		if (strcmp(a, "--init") == 0) {
			init = true;
			continue;
		}
		if (strcmp(a, "--address") == 0) {
			address = true;
			continue;
		}
		if (strncmp(a, "--", 2) != 0) {
			fprintf(stderr, "backchanneld: unexpected argument '%s'\n",
				a);
			usage(stderr);
			return 2;
		}
		a += 2;
		eq = strchr(a, '=');
		klen = eq ? (size_t)(eq - a) : strlen(a);
		if (klen >= sizeof(key)) {
			fprintf(stderr, "backchanneld: unknown option --%s\n", a);
			return 2;
		}
		memcpy(key, a, klen);
		key[klen] = '\0';
		for (char *p = key; *p; p++)
			if (*p == '-')
				*p = '_';
		if (eq != NULL) {
			val = eq + 1;
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			fprintf(stderr, "backchanneld: --%s needs a value\n", key);
			return 2;
		}
		if (strcmp(key, "config") == 0)
			continue;
		if (strcmp(key, "port_file") == 0) {
			port_file = val;
			continue;
		}
		if (bc_config_set(&cfg, key, val, err, sizeof(err)) != BC_OK) {
			fprintf(stderr, "backchanneld: --%s: %s\n", a, err);
			return 2;
		}
	}
	if (bc_config_check(&cfg, err, sizeof(err)) != BC_OK) {
		fprintf(stderr, "backchanneld: %s\n", err);
		return 2;
	}
	bc_log_set_level(cfg.log_level);
	if (init)
		return do_init(&cfg);
	if ((rc = load_key(&cfg, priv)) != 0)
		return rc;
	if (address) {
		rc = print_address(&cfg, priv);
		sodium_memzero(priv, sizeof(priv));
		return rc;
	}

	/* Room for the configured connections. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur < (rlim_t)cfg.max_connections + 64) {
		rlim_t want = (rlim_t)cfg.max_connections + 64;
		rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	if (lock_data_dir(&cfg) < 0)
		goto out_key;

	rc = bc_storage_sqlite.open(&st, cfg.data_dir, &cfg.lim);
	if (rc != BC_OK) {
		bc_log(BC_LOG_ERROR, "storage-open-failed", "dir=\"%s\" err=%s",
		       cfg.data_dir, bc_errname(rc));
		goto out_key;
	}
	if (uv_loop_init(&loop) != 0)
		goto out_store;
	rc = bc_server_new(&g_server, &loop, &cfg, priv, &bc_storage_sqlite,
			   st);
	sodium_memzero(priv, sizeof(priv));
	if (rc != BC_OK)
		goto out_loop;
	if (bc_server_listen(g_server, &port) != BC_OK)
		goto out_server;
	if (port_file != NULL && write_port_file(port_file, port) != 0) {
		bc_log(BC_LOG_ERROR, "port-file-failed", "path=\"%s\"",
		       port_file);
		goto out_server;
	}
	uv_signal_init(&loop, &g_sigterm);
	uv_signal_init(&loop, &g_sigint);
	uv_signal_start(&g_sigterm, on_signal, SIGTERM);
	uv_signal_start(&g_sigint, on_signal, SIGINT);
	bc_log(BC_LOG_INFO, "listening",
	       "addr=%s port=%u data_dir=\"%s\" storage=%s version=%s",
	       cfg.listen, port, cfg.data_dir, bc_storage_sqlite.name,
	       BC_VERSION);
	uv_run(&loop, UV_RUN_DEFAULT);
	status = 0;
	bc_log(BC_LOG_INFO, "stopped", "status=%d", status);
out_server:
	if (status != 0) {
		bc_server_shutdown(g_server);
		uv_walk(&loop, close_walk, NULL);
		uv_run(&loop, UV_RUN_DEFAULT);
	}
	bc_server_free(g_server);
	g_server = NULL;
out_loop:
	uv_walk(&loop, close_walk, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	(void)uv_loop_close(&loop);
out_store:
	bc_storage_sqlite.close(st);
out_key:
	sodium_memzero(priv, sizeof(priv));
	return status;
}
