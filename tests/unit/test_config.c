/*
 * test_config.c - unit tests for the relay configuration (relay/config.c)
 * and relay address strings (lib/addr.c).
 *
 * What is pinned down here:
 *   - the defaults pass bc_config_check, and the cross-field rules
 *     (max_body at least 1024 below max_frame, max_body within
 *     mailbox_max_bytes) are enforced;
 *   - every numeric key takes exactly the integers of its documented range,
 *     written as plain decimal digits; too small, too large, negative,
 *     signed, padded, non-numeric, overflowing and empty values are
 *     refused with a message naming the key, and leave the setting as it
 *     was;
 *   - the string keys (listen, data_dir, log_level) and unknown keys;
 *   - the file loader: comments, blank lines, spaces, tabs, CRLF, a last
 *     line without newline; a bad line is refused as "file:line: message"
 *     and stops the load; a missing file is BC_ERR_IO; an overlong line
 *     is refused;
 *   - bc_split_hostport, bc_relay_addr_parse and bc_relay_addr_format:
 *     IPv4, IPv6 in brackets, missing / zero / out-of-range ports, empty
 *     hosts, host length limits, a mistyped key (BC_ERR_CHECKSUM), a key of
 *     another kind or size, and round trips both ways.
 */
#define _GNU_SOURCE /* nftw */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "addr.h"
#include "config.h"
#include "encoding.h"
#include "internal.h"
#include "log.h"
#include "proto.h"

/* ---- helpers ------------------------------------------------------------ */

static char tmpdir[64];

static int setup_dir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/bc-test-config.XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown_dir(void **state)
{
	(void)state;
	return nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Write text to a file in tmpdir; returns its path (static buffer). */
static const char *write_file(const char *name, const char *text)
{
	static char path[256];
	FILE *f;
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
	return path;
}

/* Every numeric key, with its documented range and where it lands. */
struct numkey {
	const char *name;
	uint64_t min, max;
	size_t off, width;
};

#define K(n, mn, mx, field)                                                   \
	{n, mn, mx, offsetof(bc_relay_config, field),                         \
	 sizeof(((bc_relay_config *)0)->field)}

static const struct numkey numkeys[] = {
	K("max_frame", 4096, 16u << 20, max_frame),
	K("max_connections", 1, 1000000, max_connections),
	K("handshake_timeout", 1, 3600, handshake_timeout),
	K("idle_timeout", 1, 86400, idle_timeout),
	K("posts_per_second", 0, 10000000, posts_per_second),
	K("post_burst", 1, 100000000, post_burst),
	K("max_copies", 1, 64, max_copies),
	K("push_window", 1, 65536, push_window),
	K("max_subscriptions", 1, 65536, max_subscriptions),
	K("mailbox_max_msgs", 1, 100000000, lim.mailbox_max_msgs),
	K("mailbox_max_bytes", 1, (uint64_t)1 << 50, lim.mailbox_max_bytes),
	K("max_body", 1, 16u << 20, lim.max_body),
	K("max_caps_per_mailbox", 1, 1000000, lim.max_caps_per_mailbox),
	K("max_onetime_prekeys", 0, 100000, lim.max_onetime_prekeys),
};

static uint64_t get(const bc_relay_config *c, const struct numkey *k)
{
	const uint8_t *p = (const uint8_t *)c + k->off;
	if (k->width == 2) {
		uint16_t v;
		memcpy(&v, p, 2);
		return v;
	}
	if (k->width == 4) {
		uint32_t v;
		memcpy(&v, p, 4);
		return v;
	}
	{
		uint64_t v;
		assert_int_equal(k->width, 8);
		memcpy(&v, p, 8);
		return v;
	}
}

/* Set key = value expecting success. */
static void set_ok(bc_relay_config *c, const char *key, const char *value)
{
	char err[256] = "";
	assert_int_equal(bc_config_set(c, key, value, err, sizeof(err)),
			 BC_OK);
}

/* Set key = value expecting refusal; nothing may change. */
static void set_bad(bc_relay_config *c, const char *key, const char *value,
		    const char *msg_part)
{
	bc_relay_config before = *c;
	char err[512] = "";
	assert_int_equal(bc_config_set(c, key, value, err, sizeof(err)),
			 BC_ERR_INVALID);
	assert_memory_equal(&before, c, sizeof(before));
	if (msg_part != NULL && strstr(err, msg_part) == NULL)
		fail_msg("message '%s' lacks '%s'", err, msg_part);
}

/* ---- defaults and check ------------------------------------------------- */

static void test_defaults(void **state)
{
	bc_relay_config c;
	char err[256] = "";
	(void)state;
	memset(&c, 0xa5, sizeof(c));
	bc_config_defaults(&c);
	assert_int_equal(bc_config_check(&c, err, sizeof(err)), BC_OK);
	assert_string_equal(c.listen, "127.0.0.1:7737");
	assert_string_equal(c.data_dir, "/var/lib/backchannel");
	assert_int_equal(c.max_frame, BC_PROTO_DEFAULT_MAX_FRAME);
	assert_int_equal(c.max_copies, BC_PROTO_MAX_COPIES);
	assert_int_equal(c.log_level, BC_LOG_INFO);
	/* the documented default: max_body = max_frame - 1024 */
	assert_int_equal(c.lim.max_body, c.max_frame - 1024);
	/* every numeric default lies in its own range */
	for (size_t i = 0; i < sizeof(numkeys) / sizeof(numkeys[0]); i++) {
		uint64_t v = get(&c, &numkeys[i]);
		assert_in_range(v, numkeys[i].min, numkeys[i].max);
	}
}

static void test_check(void **state)
{
	bc_relay_config c;
	char err[256] = "";
	(void)state;
	bc_config_defaults(&c);
	set_ok(&c, "max_frame", "4096");
	/* An unset max_body follows a smaller max_frame... */
	assert_int_equal(bc_config_check(&c, err, sizeof(err)), BC_OK);
	assert_int_equal(c.lim.max_body, 4096 - 1024);
	/* ...but one given explicitly must fit. */
	set_ok(&c, "max_body", "3500");
	assert_int_equal(bc_config_check(&c, err, sizeof(err)), BC_ERR_INVALID);
	assert_non_null(strstr(err, "max_body"));
	set_ok(&c, "max_body", "3072"); /* exactly 1024 below */
	assert_int_equal(bc_config_check(&c, err, sizeof(err)), BC_OK);
	set_ok(&c, "max_body", "3073");
	assert_int_equal(bc_config_check(&c, err, sizeof(err)), BC_ERR_INVALID);
	set_ok(&c, "max_body", "3000");
	set_ok(&c, "mailbox_max_bytes", "2999");
	err[0] = '\0';
	assert_int_equal(bc_config_check(&c, err, sizeof(err)), BC_ERR_INVALID);
	assert_non_null(strstr(err, "mailbox_max_bytes"));
	set_ok(&c, "mailbox_max_bytes", "3000");
	assert_int_equal(bc_config_check(&c, err, sizeof(err)), BC_OK);
	/* the largest frame with the largest body that fits */
	set_ok(&c, "max_frame", "16777216");
	set_ok(&c, "max_body", "16776192");
	set_ok(&c, "mailbox_max_bytes", "1125899906842624");
	assert_int_equal(bc_config_check(&c, err, sizeof(err)), BC_OK);
}

/* ---- numeric keys ------------------------------------------------------- */

static void test_numeric_keys(void **state)
{
	static const char *const junk[] = {
		"", "-1", "-0", " -0", "+1", " 1", "1 ", "\t1", "abc", "12abc",
		"1.5", "0x10", "1e3", "1,000", "18446744073709551616",
		"99999999999999999999999", "18446744073709551615",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(numkeys) / sizeof(numkeys[0]); i++) {
		const struct numkey *k = &numkeys[i];
		bc_relay_config c;
		char v[32];
		uint64_t mid = k->min + (k->max - k->min) / 2;
		bc_config_defaults(&c);

		snprintf(v, sizeof(v), "%llu", (unsigned long long)k->min);
		set_ok(&c, k->name, v);
		assert_int_equal(get(&c, k), k->min);
		snprintf(v, sizeof(v), "%llu", (unsigned long long)k->max);
		set_ok(&c, k->name, v);
		assert_int_equal(get(&c, k), k->max);
		snprintf(v, sizeof(v), "%llu", (unsigned long long)mid);
		set_ok(&c, k->name, v);
		assert_int_equal(get(&c, k), mid);
		/* leading zeros are still decimal */
		snprintf(v, sizeof(v), "000%llu", (unsigned long long)mid);
		set_ok(&c, k->name, v);
		assert_int_equal(get(&c, k), mid);

		/* out of range */
		if (k->min > 0) {
			snprintf(v, sizeof(v), "%llu",
				 (unsigned long long)k->min - 1);
			set_bad(&c, k->name, v, k->name);
		}
		snprintf(v, sizeof(v), "%llu", (unsigned long long)k->max + 1);
		set_bad(&c, k->name, v, k->name);
		/* not a plain decimal number */
		for (size_t j = 0; j < sizeof(junk) / sizeof(junk[0]); j++)
			set_bad(&c, k->name, junk[j], k->name);
		assert_int_equal(get(&c, k), mid);
	}
}

/* A negative number must never be taken, however it is spelled. */
static void test_negative_spellings(void **state)
{
	static const char *const neg[] = {" -0", "\t-0", "\v-0", "\n-5",
					  " -18446744073709551615", "+0"};
	bc_relay_config c;
	(void)state;
	bc_config_defaults(&c);
	for (size_t i = 0; i < sizeof(neg) / sizeof(neg[0]); i++) {
		set_bad(&c, "posts_per_second", neg[i], "posts_per_second");
		set_bad(&c, "max_onetime_prekeys", neg[i], NULL);
		set_bad(&c, "max_connections", neg[i], NULL);
	}
	assert_int_equal(c.posts_per_second, 1000);
}

/* ---- string keys -------------------------------------------------------- */

static void test_listen(void **state)
{
	static const char *const good[] = {
		"0.0.0.0:7737", "[::]:7737", "[::1]:1", "localhost:65535",
		"relay.example.org:443",
	};
	static const char *const bad[] = {
		"", "7737", "host", "host:", ":7737", "[::1]", "[::1]7737",
		"::1:7737", "[]:7737", "host:65536", "host:-1", "host:+1",
		"host:x", "host:1 ", "[::1:7737",
	};
	char longv[300];
	bc_relay_config c;
	(void)state;
	bc_config_defaults(&c);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		set_ok(&c, "listen", good[i]);
		assert_string_equal(c.listen, good[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		set_bad(&c, "listen", bad[i], "listen");
	/* as long as the field holds (255 characters), and one more */
	memset(longv, 'h', sizeof(longv));
	memcpy(longv + 255 - 5, ":7737", 6);
	set_ok(&c, "listen", longv);
	assert_int_equal(strlen(c.listen), 255);
	memset(longv, 'h', sizeof(longv));
	memcpy(longv + 256 - 5, ":7737", 6);
	set_bad(&c, "listen", longv, "listen");
	memset(longv, 'h', sizeof(longv));
	memcpy(longv + 300 - 6, ":7737", 6);
	set_bad(&c, "listen", longv, "listen");
}

static void test_data_dir_log_level(void **state)
{
	static const char *const levels[] = {"error", "warn", "info", "debug"};
	char longv[1100];
	bc_relay_config c;
	(void)state;
	bc_config_defaults(&c);
	set_ok(&c, "data_dir", "/srv/bc data");
	assert_string_equal(c.data_dir, "/srv/bc data");
	set_bad(&c, "data_dir", "", "data_dir");
	memset(longv, 'd', sizeof(longv));
	longv[1023] = '\0';
	set_ok(&c, "data_dir", longv);
	assert_int_equal(strlen(c.data_dir), 1023);
	longv[1023] = 'd';
	longv[1024] = '\0';
	set_bad(&c, "data_dir", longv, "data_dir");

	for (int i = 0; i < 4; i++) {
		set_ok(&c, "log_level", levels[i]);
		assert_int_equal(c.log_level, i);
	}
	set_bad(&c, "log_level", "DEBUG", "log_level");
	set_bad(&c, "log_level", "", "log_level");
	set_bad(&c, "log_level", "verbose", "log_level");
	set_bad(&c, "log_level", "3", "log_level");
}

static void test_unknown_key(void **state)
{
	bc_relay_config c;
	(void)state;
	bc_config_defaults(&c);
	set_bad(&c, "max_frames", "4096", "unknown setting 'max_frames'");
	set_bad(&c, "", "1", "unknown setting");
	set_bad(&c, "MAX_FRAME", "4096", "MAX_FRAME");
	set_bad(&c, "max-frame", "4096", NULL); /* the file uses '_' */
	set_bad(&c, "max_frame ", "4096", NULL); /* the loader trims */
}

/* ---- the file loader ---------------------------------------------------- */

static void test_load_good(void **state)
{
	const char *path = write_file(
		"good.conf",
		"# a relay\n"
		"\n"
		"   \t  \n"
		"max_frame = 65536   # trailing comment\n"
		"\tmax_body=64512\n"
		"listen   =   [::1]:9000\n"
		"data_dir = /srv/bc data\r\n"
		"log_level = debug\r\n"
		"   # indented comment = not a setting\n"
		"posts_per_second = 0\n"
		"max_copies = 8"); /* no newline at the end */
	bc_relay_config c;
	char err[512] = "";
	(void)state;
	bc_config_defaults(&c);
	assert_int_equal(bc_config_load(&c, path, err, sizeof(err)), BC_OK);
	assert_int_equal(c.max_frame, 65536);
	assert_int_equal(c.lim.max_body, 64512);
	assert_string_equal(c.listen, "[::1]:9000");
	assert_string_equal(c.data_dir, "/srv/bc data");
	assert_int_equal(c.log_level, BC_LOG_DEBUG);
	assert_int_equal(c.posts_per_second, 0);
	assert_int_equal(c.max_copies, 8);
	assert_int_equal(bc_config_check(&c, err, sizeof(err)), BC_OK);

	/* an empty file changes nothing */
	path = write_file("empty.conf", "");
	bc_config_defaults(&c);
	{
		bc_relay_config d;
		bc_config_defaults(&d);
		assert_int_equal(bc_config_load(&c, path, err, sizeof(err)),
				 BC_OK);
		assert_memory_equal(&c, &d, sizeof(c));
	}
}

static void load_bad(const char *text, const char *want_line,
		     const char *msg_part)
{
	const char *path = write_file("bad.conf", text);
	char err[512] = "", want[300];
	bc_relay_config c;
	bc_config_defaults(&c);
	assert_int_equal(bc_config_load(&c, path, err, sizeof(err)),
			 BC_ERR_INVALID);
	snprintf(want, sizeof(want), "%s:%s: ", path, want_line);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("'%s' does not start with '%s'", err, want);
	if (strstr(err, msg_part) == NULL)
		fail_msg("'%s' lacks '%s'", err, msg_part);
	/* the load stopped at the bad line */
	assert_int_not_equal(c.max_connections, 7);
}

static void test_load_bad(void **state)
{
	char *longline;
	(void)state;
	load_bad("# x\nmax_frame = 4096\nthis line has no equals sign\n"
		 "max_connections = 7\n",
		 "3", "expected 'key = value'");
	load_bad("\n\nnope = 1\nmax_connections = 7\n", "3",
		 "unknown setting 'nope'");
	load_bad("max_frame = 4095\nmax_connections = 7\n", "1",
		 "max_frame: expected an integer from 4096 to 16777216");
	load_bad("max_frame = -1\n", "1", "max_frame");
	load_bad("max_frame =\n", "1", "max_frame");
	load_bad("= 5\n", "1", "unknown setting ''");
	load_bad("listen = nowhere\nmax_connections = 7\n", "1", "listen");
	/* a value's comment is not part of it, but a value needs digits */
	load_bad("max_frame = #4096\n", "1", "max_frame");

	/* a line longer than the loader's buffer */
	longline = malloc(5000);
	assert_non_null(longline);
	memcpy(longline, "data_dir = /", 12);
	memset(longline + 12, 'a', 5000 - 12);
	longline[4998] = '\n';
	longline[4999] = '\0';
	load_bad(longline, "1", "line too long");
	free(longline);
}

static void test_load_missing(void **state)
{
	bc_relay_config c, d;
	char err[512] = "", path[256];
	(void)state;
	bc_config_defaults(&c);
	bc_config_defaults(&d);
	snprintf(path, sizeof(path), "%s/does-not-exist.conf", tmpdir);
	assert_int_equal(bc_config_load(&c, path, err, sizeof(err)),
			 BC_ERR_IO);
	assert_non_null(strstr(err, path));
	assert_memory_equal(&c, &d, sizeof(c));
	/* a directory is not a config file either */
	assert_int_not_equal(bc_config_load(&c, tmpdir, err, sizeof(err)),
			     BC_OK);
}

/* ---- host:port ---------------------------------------------------------- */

static void test_split_hostport(void **state)
{
	static const struct {
		const char *in, *host;
		uint16_t port;
	} good[] = {
		{"127.0.0.1:7737", "127.0.0.1", 7737},
		{"[::1]:80", "::1", 80},
		{"[fe80::1%eth0]:1", "fe80::1%eth0", 1},
		{"example.org:65535", "example.org", 65535},
		{"h:0", "h", 0}, /* port 0 parses; addresses refuse it */
		{"h:007", "h", 7},
	};
	static const char *const bad[] = {
		"", "host", "host:", ":80", "[]:80", "[::1]", "[::1]80",
		"[::1]:", "::1:80", "[::1", "::1]:80x", "h:65536", "h:-1",
		"h:+1", "h: 1", "h:1 ", "h:1x", "h:99999999999999999999999",
		"h:0x10",
	};
	char host[16];
	uint16_t port;
	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		port = 1234;
		assert_int_equal(bc_split_hostport(good[i].in, host,
						   sizeof(host), &port),
				 BC_OK);
		assert_string_equal(host, good[i].host);
		assert_int_equal(port, good[i].port);
		assert_int_equal(bc_config_split_hostport(good[i].in, host,
							  sizeof(host), &port),
				 BC_OK);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(bc_split_hostport(bad[i], host, sizeof(host),
						   &port),
				 BC_ERR_MALFORMED);
		assert_int_equal(bc_config_split_hostport(bad[i], host,
							  sizeof(host), &port),
				 BC_ERR_INVALID);
	}
	/* the host buffer: 15 characters fit in 16 bytes, 16 do not */
	assert_int_equal(bc_split_hostport("abcdefghijklmno:1", host,
					   sizeof(host), &port),
			 BC_OK);
	assert_string_equal(host, "abcdefghijklmno");
	assert_int_equal(bc_split_hostport("abcdefghijklmnop:1", host,
					   sizeof(host), &port),
			 BC_ERR_MALFORMED);
	assert_int_equal(bc_split_hostport("[abcdefghijklmnop]:1", host,
					   sizeof(host), &port),
			 BC_ERR_MALFORMED);
}

/* ---- relay addresses ---------------------------------------------------- */

static char *key_string(const char *kind, const uint8_t *key, size_t n)
{
	char *k = NULL;
	assert_int_equal(bc_b32c_encode(kind, key, n, &k), BC_OK);
	return k;
}

/* "<hostport>/<key>" in a new buffer. */
static char *join(const char *hostport, const char *key)
{
	size_t n = strlen(hostport) + strlen(key) + 2;
	char *s = malloc(n);
	assert_non_null(s);
	snprintf(s, n, "%s/%s", hostport, key);
	return s;
}

static void test_addr_parse(void **state)
{
	uint8_t key[32];
	char *k, *s, *out = NULL;
	bc_relay_addr a;
	(void)state;
	randombytes_buf(key, sizeof(key));
	k = key_string("bck", key, 32);

	/* IPv4 */
	s = join("127.0.0.1:7737", k);
	assert_int_equal(bc_relay_addr_parse(s, &a), BC_OK);
	assert_string_equal(a.host, "127.0.0.1");
	assert_int_equal(a.port, 7737);
	assert_memory_equal(a.key, key, 32);
	assert_int_equal(bc_relay_addr_format(&a, &out), BC_OK);
	assert_string_equal(out, s);
	bc_free(out);
	free(s);

	/* IPv6 in brackets, formatted back in brackets */
	s = join("[2001:db8::7]:1", k);
	assert_int_equal(bc_relay_addr_parse(s, &a), BC_OK);
	assert_string_equal(a.host, "2001:db8::7");
	assert_int_equal(a.port, 1);
	assert_memory_equal(a.key, key, 32);
	assert_int_equal(bc_relay_addr_format(&a, &out), BC_OK);
	assert_string_equal(out, s);
	bc_free(out);
	free(s);

	/* a sloppy but acceptable key spelling (upper case) */
	s = join("relay.example.org:65535", k);
	for (char *p = strchr(s, '/') + 5; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	assert_int_equal(bc_relay_addr_parse(s, &a), BC_OK);
	assert_memory_equal(a.key, key, 32);
	assert_int_equal(a.port, 65535);
	free(s);
	bc_free(k);
}

static void test_addr_bad_shape(void **state)
{
	static const char *const hp[] = {
		"127.0.0.1",      /* no port */
		"127.0.0.1:",     /* empty port */
		"127.0.0.1:0",    /* port 0 */
		"127.0.0.1:65536", "127.0.0.1:-1", ":7737", /* empty host */
		"[]:7737", "[::1]", "::1:7737", "[::1]7737", "h:+7",
	};
	uint8_t key[32] = {1, 2, 3};
	char *k = key_string("bck", key, 32);
	bc_relay_addr a;
	(void)state;
	for (size_t i = 0; i < sizeof(hp) / sizeof(hp[0]); i++) {
		char *s = join(hp[i], k);
		memset(&a, 0x55, sizeof(a));
		assert_int_equal(bc_relay_addr_parse(s, &a), BC_ERR_MALFORMED);
		free(s);
	}
	/* no key at all */
	assert_int_equal(bc_relay_addr_parse("127.0.0.1:7737", &a),
			 BC_ERR_MALFORMED);
	assert_int_equal(bc_relay_addr_parse("127.0.0.1:7737/", &a),
			 BC_ERR_MALFORMED);
	assert_int_equal(bc_relay_addr_parse("", &a), BC_ERR_MALFORMED);
	assert_int_equal(bc_relay_addr_parse("127.0.0.1:7737/bck:", &a),
			 BC_ERR_MALFORMED);
	/* garbage in the key */
	{
		char *s = join("h:1", k);
		s[strlen(s) - 3] = '!';
		assert_int_equal(bc_relay_addr_parse(s, &a), BC_ERR_MALFORMED);
		free(s);
	}
	bc_free(k);
}

static void test_addr_host_length(void **state)
{
	uint8_t key[32] = {9};
	char *k = key_string("bck", key, 32), hp[400], *s, *out = NULL;
	bc_relay_addr a;
	(void)state;
	/* 255 characters: the longest host */
	memset(hp, 'h', 255);
	memcpy(hp + 255, ":1", 3);
	s = join(hp, k);
	assert_int_equal(bc_relay_addr_parse(s, &a), BC_OK);
	assert_int_equal(strlen(a.host), 255);
	assert_int_equal(bc_relay_addr_format(&a, &out), BC_OK);
	assert_string_equal(out, s);
	bc_free(out);
	free(s);
	/* 256, and far too long */
	memset(hp, 'h', 256);
	memcpy(hp + 256, ":1", 3);
	s = join(hp, k);
	assert_int_equal(bc_relay_addr_parse(s, &a), BC_ERR_MALFORMED);
	free(s);
	memset(hp, 'h', 390);
	memcpy(hp + 390, ":1", 3);
	s = join(hp, k);
	assert_int_equal(bc_relay_addr_parse(s, &a), BC_ERR_MALFORMED);
	free(s);
	bc_free(k);
}

/* "This forgery must fail": any one mistyped key character is caught by
 * the checksum, never taken for another key. */
static void test_addr_key_typo(void **state)
{
	static const char alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";
	uint8_t key[32];
	char *k, *s, *data;
	size_t ndata = 0, tested = 0;
	bc_relay_addr a;
	(void)state;
	randombytes_buf(key, sizeof(key));
	k = key_string("bck", key, 32);
	s = join("127.0.0.1:7737", k);
	data = strchr(s, '/') + 5; /* after "bck:" */
	for (char *p = data; *p; p++)
		ndata += *p != '-';
	/* every data character but the last (which carries padding bits),
	 * replaced by every other alphabet character */
	for (char *p = data; p[1]; p++) {
		char orig = *p;
		if (orig == '-')
			continue;
		for (const char *c = alphabet; *c; c++) {
			if (*c == orig)
				continue;
			*p = *c;
			assert_int_equal(bc_relay_addr_parse(s, &a),
					 BC_ERR_CHECKSUM);
			tested++;
		}
		*p = orig;
	}
	assert_true(tested >= (ndata - 1) * 31);
	assert_int_equal(bc_relay_addr_parse(s, &a), BC_OK);
	free(s);
	bc_free(k);
}

static void test_addr_key_kind_and_size(void **state)
{
	uint8_t key[33];
	char *k, *s;
	bc_relay_addr a;
	(void)state;
	randombytes_buf(key, sizeof(key));
	/* an invite, not a key */
	k = key_string("bci", key, 32);
	s = join("127.0.0.1:7737", k);
	assert_int_equal(bc_relay_addr_parse(s, &a), BC_ERR_MALFORMED);
	free(s);
	bc_free(k);
	/* a relay address string where a key belongs */
	k = key_string("bcr", key, 32);
	s = join("127.0.0.1:7737", k);
	assert_int_equal(bc_relay_addr_parse(s, &a), BC_ERR_MALFORMED);
	free(s);
	bc_free(k);
	/* a key of the right kind but the wrong size: a bad shape, as
	 * addr.h documents (BC_ERR_MALFORMED or BC_ERR_CHECKSUM only) */
	k = key_string("bck", key, 31);
	s = join("127.0.0.1:7737", k);
	assert_int_equal(bc_relay_addr_parse(s, &a), BC_ERR_MALFORMED);
	free(s);
	bc_free(k);
	k = key_string("bck", key, 33);
	s = join("127.0.0.1:7737", k);
	assert_int_equal(bc_relay_addr_parse(s, &a), BC_ERR_MALFORMED);
	free(s);
	bc_free(k);
}

static void test_addr_round_trip(void **state)
{
	static const char *const hosts[] = {
		"127.0.0.1", "::1", "relay.example.org", "fe80::1:2:3",
		"10.0.0.255", "x",
	};
	(void)state;
	for (int i = 0; i < 200; i++) {
		bc_relay_addr a, b;
		char *s = NULL, *t = NULL;
		memset(&a, 0, sizeof(a));
		snprintf(a.host, sizeof(a.host), "%s", hosts[i % 6]);
		a.port = (uint16_t)(1 + randombytes_uniform(65535));
		randombytes_buf(a.key, sizeof(a.key));
		if (i == 0)
			memset(a.key, 0, 32);
		if (i == 1)
			memset(a.key, 0xff, 32);
		assert_int_equal(bc_relay_addr_format(&a, &s), BC_OK);
		assert_int_equal(bc_relay_addr_parse(s, &b), BC_OK);
		assert_string_equal(b.host, a.host);
		assert_int_equal(b.port, a.port);
		assert_memory_equal(b.key, a.key, 32);
		assert_int_equal(bc_relay_addr_format(&b, &t), BC_OK);
		assert_string_equal(s, t);
		bc_free(s);
		bc_free(t);
	}
}

static void test_addr_format_nomem(void **state)
{
	bc_relay_addr a;
	char *s = (char *)1;
	unsigned long nth;
	(void)state;
	memset(&a, 0, sizeof(a));
	snprintf(a.host, sizeof(a.host), "::1");
	a.port = 7;
	for (nth = 1; nth < 50; nth++) {
		int rc;
		bc_alloc_fail_at(nth);
		rc = bc_relay_addr_format(&a, &s);
		bc_alloc_fail_at(0);
		if (rc == BC_OK) {
			assert_non_null(s);
			bc_free(s);
			break;
		}
		assert_int_equal(rc, BC_ERR_NOMEM);
		assert_null(s);
	}
	assert_true(nth > 1 && nth < 50);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_numeric_keys),
		cmocka_unit_test(test_negative_spellings),
		cmocka_unit_test(test_listen),
		cmocka_unit_test(test_data_dir_log_level),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_load_good),
		cmocka_unit_test(test_load_bad),
		cmocka_unit_test(test_load_missing),
		cmocka_unit_test(test_split_hostport),
		cmocka_unit_test(test_addr_parse),
		cmocka_unit_test(test_addr_bad_shape),
		cmocka_unit_test(test_addr_host_length),
		cmocka_unit_test(test_addr_key_typo),
		cmocka_unit_test(test_addr_key_kind_and_size),
		cmocka_unit_test(test_addr_round_trip),
		cmocka_unit_test(test_addr_format_nomem),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("config", tests, setup_dir,
					   teardown_dir);
}
