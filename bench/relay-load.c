/*
 * relay-load.c - load generator for backchanneld (see bench/README.md).
 *
 *   relay-load --relay ADDR [--senders N] [--recipients N] [--size BYTES]
 *              [--duration SEC] [--warmup SEC] [--drain SEC] [--window N]
 *              [--backlog N] [--relay-pid PID] [--label TEXT] [--json]
 *   relay-load --relay ADDR --idle N [--hold SEC] [--relay-pid PID] [--json]
 *   relay-load --fsync-probe FILE [--json]
 *
 * Model (DESIGN §6): R recipient connections each own one mailbox (open,
 * cap-add, subscribe); S sender connections post messages of SIZE random
 * bytes, each under a fresh random message id, one copy to a recipient
 * mailbox chosen round-robin, with up to W posts outstanding per connection.
 * Recipients take the pushes and acknowledge them, one ack frame for all the
 * pushes that one read brought in.
 *
 * Measured: messages delivered (pushed) per second; post->ack latency (from
 * sending the post frame to receiving its response, i.e. the durable
 * acknowledgement); post->delivery latency (the send time, CLOCK_MONOTONIC
 * ns, travels in the first 8 bytes of the body; the recipient subtracts it
 * on arrival); the recipient's ack round trip; errors. Latencies go into
 * log-linear histograms with microsecond resolution (<1% relative error),
 * one per thread, merged at the end.
 *
 * Accounting: every message of the run has a state byte (sent, acked,
 * failed, delivered), found from the sender index and sequence number that
 * the body carries after the timestamp, so the check at the end is exact:
 * lost = acknowledged to the sender but never pushed by the end of the
 * drain; duplicates and corrupted bodies (a checksum covers the body) are
 * counted too. Exit status: 0 when every post was acknowledged and every
 * acknowledged message delivered intact, 1 otherwise, 2 for usage or setup
 * failures.
 *
 * Body layout (SIZE >= 24 bytes):
 *   u64 send time (ns, CLOCK_MONOTONIC, big-endian)
 *   u32 sender index, u32 sequence number
 *   u64 checksum of everything after the timestamp except itself
 *   random bytes
 *
 * Threads: a recipient thread per recipient connection; per sender
 * connection one thread when W = 1 (send, then wait for the answer), or a
 * sending and a receiving thread when W > 1 (client.h allows one thread in
 * bc_client_send_frames while another is in bc_client_recv_frame).
 *
 * --idle N opens N connections that complete the handshake and then do
 * nothing for --hold seconds; with --relay-pid it reports the relay's
 * VmRSS growth per connection.
 *
 * --fsync-probe FILE measures what a durable commit costs on the disk of
 * FILE: 4 KiB overwrites of a preallocated file, each followed by
 * fdatasync, back to back (a WAL commit is at least one such flush). FILE
 * is created and removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "client.h"
#include "internal.h"
#include "proto.h"

#define BODY_HDR 24          /* timestamp, sender, seq, checksum */
#define IO_TIMEOUT_MS 15000  /* longest wait for a response */
#define POLL_MS 100          /* receive slices, to notice the stop flag */
#define MAX_WINDOW 1024
#define MAX_CONNS 100000

/* ---- options ------------------------------------------------------------ */

struct opts {
	const char *relay;
	const char *label;
	const char *probe;
	unsigned senders, recipients, window;
	size_t size;
	double duration, warmup, drain, hold;
	unsigned long backlog;
	unsigned idle;
	long relay_pid;
	bool json;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: relay-load --relay HOST:PORT/bck:KEY [--senders N] "
		"[--recipients N]\n"
		"                  [--size BYTES] [--duration SEC] [--warmup "
		"SEC] [--drain SEC]\n"
		"                  [--window N] [--backlog N] [--relay-pid PID] "
		"[--label TEXT] [--json]\n"
		"       relay-load --relay ADDR --idle N [--hold SEC] "
		"[--relay-pid PID] [--json]\n"
		"       relay-load --fsync-probe FILE [--json]\n"
		"\n"
		"Drives backchanneld with S sender and R recipient "
		"connections and reports\n"
		"delivered messages per second, post->ack and post->delivery "
		"latency and\n"
		"errors. Defaults: 32 senders, 32 recipients, 1024-byte "
		"messages, window 1,\n"
		"10 s measured after 2 s of warm-up, 5 s drain. --backlog N "
		"stores N messages\n"
		"in mailboxes nobody reads before the run. --idle N holds N "
		"idle connections\n"
		"(handshake only). --relay-pid lets it read the relay's CPU "
		"time and memory.\n"
		"Exit status: 0 all delivered, 1 errors or lost messages, 2 "
		"usage/setup.\n");
}

static int parse_uint(const char *s, unsigned long min, unsigned long max,
		      unsigned long *out)
{
	char *end;
	unsigned long v;
	if (s == NULL || *s == '\0' || *s == '-')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_sec(const char *s, double min, double *out)
{
	char *end;
	double v;
	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !(v >= min) || v > 86400.0)
		return -1;
	*out = v;
	return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	memset(o, 0, sizeof(*o));
	o->label = "";
	o->senders = 32;
	o->recipients = 32;
	o->window = 1;
	o->size = 1024;
	o->duration = 10;
	o->warmup = 2;
	o->drain = 5;
	o->hold = 3;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		unsigned long u;
		int bad = 0;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			exit(0);
		} else if (strcmp(a, "--json") == 0) {
			o->json = true;
			continue;
		} else if (strcmp(a, "--relay") == 0) {
			o->relay = v;
			bad = v == NULL;
		} else if (strcmp(a, "--fsync-probe") == 0) {
			o->probe = v;
			bad = v == NULL;
		} else if (strcmp(a, "--label") == 0) {
			o->label = v;
			bad = v == NULL;
		} else if (strcmp(a, "--senders") == 0) {
			bad = parse_uint(v, 0, MAX_CONNS, &u);
			o->senders = (unsigned)u;
		} else if (strcmp(a, "--recipients") == 0) {
			bad = parse_uint(v, 1, MAX_CONNS, &u);
			o->recipients = (unsigned)u;
		} else if (strcmp(a, "--window") == 0) {
			bad = parse_uint(v, 1, MAX_WINDOW, &u);
			o->window = (unsigned)u;
		} else if (strcmp(a, "--size") == 0) {
			bad = parse_uint(v, BODY_HDR, BC_PROTO_HARD_MAX_FRAME,
					 &u);
			o->size = (size_t)u;
		} else if (strcmp(a, "--backlog") == 0) {
			bad = parse_uint(v, 0, 100000000, &u);
			o->backlog = u;
		} else if (strcmp(a, "--idle") == 0) {
			bad = parse_uint(v, 1, MAX_CONNS, &u);
			o->idle = (unsigned)u;
		} else if (strcmp(a, "--relay-pid") == 0) {
			bad = parse_uint(v, 1, 4194304, &u);
			o->relay_pid = (long)u;
		} else if (strcmp(a, "--duration") == 0) {
			bad = parse_sec(v, 0.1, &o->duration);
		} else if (strcmp(a, "--warmup") == 0) {
			bad = parse_sec(v, 0, &o->warmup);
		} else if (strcmp(a, "--drain") == 0) {
			bad = parse_sec(v, 0, &o->drain);
		} else if (strcmp(a, "--hold") == 0) {
			bad = parse_sec(v, 0, &o->hold);
		} else {
			fprintf(stderr, "relay-load: unknown option '%s'\n", a);
			usage(stderr);
			return -1;
		}
		if (bad) {
			fprintf(stderr, "relay-load: bad or missing value for "
					"%s\n", a);
			return -1;
		}
		i++;
	}
	if (o->relay == NULL && o->probe == NULL) {
		fprintf(stderr, "relay-load: --relay ADDR is required\n");
		usage(stderr);
		return -1;
	}
	for (const char *p = o->label; *p; p++)
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20) {
			fprintf(stderr, "relay-load: --label: no quotes, "
					"backslashes or control characters\n");
			return -1;
		}
	if (o->idle == 0 && o->senders == 0) {
		fprintf(stderr, "relay-load: --senders must be at least 1\n");
		return -1;
	}
	return 0;
}

/* ---- time, randomness, checksum ----------------------------------------- */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* xoshiro256**: fast bulk random bytes for message bodies (the message ids
 * come from libsodium). */
struct rng {
	uint64_t s[4];
};

static void rng_seed(struct rng *r)
{
	do
		randombytes_buf(r->s, sizeof(r->s));
	while ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

static void rng_fill(struct rng *r, uint8_t *p, size_t n)
{
	while (n >= 8) {
		uint64_t v = rng_next(r);
		memcpy(p, &v, 8);
		p += 8;
		n -= 8;
	}
	if (n > 0) {
		uint64_t v = rng_next(r);
		memcpy(p, &v, n);
	}
}

/* A 64-bit multiply-xor hash: detects corrupted bodies, not forgeries. */
static uint64_t cksum(const uint8_t *p, size_t n, uint64_t h)
{
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		h = (h ^ w) * 0x100000001b3ull;
		h ^= h >> 29;
		p += 8;
		n -= 8;
	}
	while (n-- > 0)
		h = (h ^ *p++) * 0x100000001b3ull;
	return h;
}

/* Checksum of a body: the sender/seq words and the random tail. */
static uint64_t body_sum(const uint8_t *body, size_t len)
{
	uint64_t h = cksum(body + 8, 8, 0xcbf29ce484222325ull);
	return cksum(body + BODY_HDR, len - BODY_HDR, h);
}

/* ---- histograms ----------------------------------------------------------
 * Log-linear buckets over microseconds: exact below 128 us, then 64
 * sub-buckets per power of two (relative error < 1.6%). */

#define H_SUB_BITS 7
#define H_SUB (1u << H_SUB_BITS)
#define H_HALF (H_SUB / 2)
#define H_MAX_EXP 40
#define H_BUCKETS (H_SUB + (H_MAX_EXP - H_SUB_BITS) * H_HALF)

struct hist {
	uint64_t n, sum, max;
	uint64_t b[H_BUCKETS];
};

static size_t h_index(uint64_t v)
{
	unsigned k, shift;
	if (v < H_SUB)
		return (size_t)v;
	k = 63u - (unsigned)__builtin_clzll(v);
	if (k >= H_MAX_EXP)
		return H_BUCKETS - 1;
	shift = k - (H_SUB_BITS - 1);
	return H_SUB + (size_t)(k - H_SUB_BITS) * H_HALF +
	       (size_t)((v >> shift) - H_HALF);
}

/* The largest value that falls into bucket i. */
static uint64_t h_high(size_t i)
{
	size_t j, sub;
	unsigned k, shift;
	if (i < H_SUB)
		return i;
	j = i - H_SUB;
	k = (unsigned)(j / H_HALF) + H_SUB_BITS;
	sub = j % H_HALF + H_HALF;
	shift = k - (H_SUB_BITS - 1);
	return ((uint64_t)(sub + 1) << shift) - 1;
}

static void h_add(struct hist *h, uint64_t us)
{
	h->b[h_index(us)]++;
	h->n++;
	h->sum += us;
	if (us > h->max)
		h->max = us;
}

static void h_merge(struct hist *into, const struct hist *h)
{
	for (size_t i = 0; i < H_BUCKETS; i++)
		into->b[i] += h->b[i];
	into->n += h->n;
	into->sum += h->sum;
	if (h->max > into->max)
		into->max = h->max;
}

/* The q-quantile (0 < q <= 1) in microseconds: the highest value of the
 * bucket holding the ceil(q*n)-th sample, capped by the true maximum. */
static uint64_t h_quantile(const struct hist *h, double q)
{
	uint64_t rank, seen = 0;
	if (h->n == 0)
		return 0;
	rank = (uint64_t)ceil(q * (double)h->n);
	if (rank < 1)
		rank = 1;
	for (size_t i = 0; i < H_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= rank) {
			uint64_t v = h_high(i);
			return v < h->max ? v : h->max;
		}
	}
	return h->max;
}

static double ms(uint64_t us)
{
	return (double)us / 1000.0;
}

/* ---- /proc readings of the relay ---------------------------------------- */

/* A "Key:   N kB" line of /proc/PID/status, in KiB; -1 if unreadable. */
static long proc_status_kib(long pid, const char *key)
{
	char path[64], line[256];
	size_t kl = strlen(key);
	long v = -1;
	FILE *f;
	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
			v = strtol(line + kl + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* utime + stime of a process in seconds; -1 if unreadable. */
static double proc_cpu_s(long pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	size_t n;
	FILE *f;
	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold spaces: fields resume after ')'. */
	p = strrchr(buf, ')');
	if (p == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
		   &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_s(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return -1;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* ---- run state ---------------------------------------------------------- */

/* Per-message state bytes, in chunks that a sender allocates before it
 * sends the first message of the chunk and publishes with release order,
 * so that recipient threads can mark deliveries without locks. */
#define ST_SENT 1u
#define ST_ACKED 2u
#define ST_FAILED 4u
#define ST_DELIVERED 8u
#define CHUNK_BITS 16
#define CHUNK_LEN (1u << CHUNK_BITS)
#define MAX_CHUNKS 4096

struct mbox {
	uint8_t id[BC_MAILBOX_LEN];
	uint8_t cap[BC_CAP_LEN];
};

struct run;

struct slot {
	uint64_t t;
	uint32_t req, seq;
	bool used;
};

struct sender {
	struct run *run;
	unsigned idx;
	bc_client *c;
	pthread_t tx, rx;
	bool tx_started, rx_started;
	uint8_t *chunks[MAX_CHUNKS];
	uint32_t nseq; /* messages sent (next sequence number) */
	/* window (W > 1) */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct slot *slots;
	unsigned outstanding;
	bool done_sending, dead;
	/* results */
	struct hist lat;   /* post -> ack */
	uint64_t acked, failed, acked_in_window;
	uint64_t timeouts, conn_errors, bad_frames;
	int last_err;
	char errtext[160];
};

struct ackrec {
	uint32_t req;
	uint16_t n;
	uint64_t t;
};

struct recipient {
	struct run *run;
	unsigned idx;
	bc_client *c;
	pthread_t th;
	bool started;
	struct hist deliv; /* post -> push arrival */
	struct hist ackrtt; /* ack frame sent -> its response */
	struct ackrec ring[64];
	unsigned rhead, rlen;
	uint64_t pushes, delivered_in_window, dups, corrupt, foreign;
	uint64_t acks_sent, acks_frames, acks_confirmed, ack_errors;
	uint64_t conn_errors;
	int last_err;
	char errtext[160];
};

struct run {
	const struct opts *o;
	bc_relay_addr addr;
	struct mbox *mb;
	struct sender *snd;
	struct recipient *rcp;
	uint64_t t_start, t_end; /* measurement window, ns */
	int stop_recv;           /* atomic flag */
	uint64_t delivered_unique; /* atomic */
	uint64_t acked_total;      /* atomic */
	size_t body_off;           /* offset of the body in a post frame */
	uint32_t max_frame;
};

static uint8_t *state_of(struct sender *s, uint32_t seq)
{
	uint8_t *ch = __atomic_load_n(&s->chunks[seq >> CHUNK_BITS],
				      __ATOMIC_ACQUIRE);
	return ch == NULL ? NULL : &ch[seq & (CHUNK_LEN - 1)];
}

/* Make room for sequence number seq; -1 when out of memory or range. */
static int state_reserve(struct sender *s, uint32_t seq)
{
	uint32_t k = seq >> CHUNK_BITS;
	uint8_t *ch;
	if (k >= MAX_CHUNKS)
		return -1;
	if (s->chunks[k] != NULL)
		return 0;
	ch = bc_calloc(CHUNK_LEN, 1);
	if (ch == NULL)
		return -1;
	__atomic_store_n(&s->chunks[k], ch, __ATOMIC_RELEASE);
	return 0;
}

static void state_set(struct sender *s, uint32_t seq, uint8_t bits)
{
	uint8_t *p = state_of(s, seq);
	if (p != NULL)
		__atomic_fetch_or(p, bits, __ATOMIC_RELAXED);
}

static bool stopping(struct run *r)
{
	return __atomic_load_n(&r->stop_recv, __ATOMIC_ACQUIRE) != 0;
}

static void note_err(char *buf, size_t n, int *last, int rc, bc_client *c,
		     const char *what)
{
	*last = rc;
	snprintf(buf, n, "%s: %s (%s)", what, bc_strerror(rc),
		 c ? bc_client_last_error(c) : "");
}

/* ---- connections -------------------------------------------------------- */

static int new_client(struct run *r, bc_client **out)
{
	uint8_t priv[32];
	bc_client_opts co;
	int rc;
	bc_client_opts_default(&co);
	co.io_timeout_ms = IO_TIMEOUT_MS;
	co.retry_budget_ms = 0; /* a benchmark reports failures, no retries */
	randombytes_buf(priv, sizeof(priv));
	rc = bc_client_new(out, &r->addr, priv, &co);
	sodium_memzero(priv, sizeof(priv));
	if (rc != BC_OK)
		return rc;
	rc = bc_client_connect(*out);
	if (rc != BC_OK) {
		fprintf(stderr, "relay-load: connect: %s\n",
			bc_client_last_error(*out));
		bc_client_free(*out);
		*out = NULL;
	}
	return rc;
}

static int setup_recipient(struct run *r, struct recipient *x)
{
	struct mbox *m = &r->mb[x->idx];
	int rc;
	randombytes_buf(m->id, sizeof(m->id));
	randombytes_buf(m->cap, sizeof(m->cap));
	if ((rc = new_client(r, &x->c)) != BC_OK)
		return rc;
	rc = bc_client_open(x->c, m->id, NULL);
	if (rc == BC_OK)
		rc = bc_client_cap_add(x->c, m->id, m->cap);
	if (rc == BC_OK)
		rc = bc_client_subscribe(x->c, m->id);
	if (rc != BC_OK)
		fprintf(stderr, "relay-load: recipient setup: %s\n",
			bc_client_last_error(x->c));
	return rc;
}

/* ---- the recipient side ------------------------------------------------- */

static int send_ack(struct recipient *x, const uint8_t *mailbox,
		    const uint8_t (*ids)[BC_MSGID_LEN], size_t n)
{
	uint8_t buf[BC_PROTO_HDR_LEN + BC_MAILBOX_LEN + 2 +
		    BC_PROTO_MAX_ACKS * BC_MSGID_LEN];
	uint8_t *out;
	size_t len;
	bc_wr w;
	uint32_t req = bc_client_next_id(x->c);
	int rc;
	bc_wr_init_fixed(&w, buf, sizeof(buf));
	(void)bc_proto_begin(&w, BC_T_ACK, req);
	(void)bc_wr_raw(&w, mailbox, BC_MAILBOX_LEN);
	(void)bc_wr_u16(&w, (uint16_t)n);
	for (size_t i = 0; i < n; i++)
		(void)bc_wr_raw(&w, ids[i], BC_MSGID_LEN);
	rc = bc_proto_end(&w, 0);
	if (rc == BC_OK)
		rc = bc_wr_finish(&w, &out, &len);
	if (rc != BC_OK)
		return rc;
	if (x->rlen < BC_ARRAY_LEN(x->ring)) {
		struct ackrec *a =
			&x->ring[(x->rhead + x->rlen) % BC_ARRAY_LEN(x->ring)];
		a->req = req;
		a->n = (uint16_t)n;
		a->t = now_ns();
		__atomic_store_n(&x->rlen, x->rlen + 1, __ATOMIC_RELAXED);
	}
	rc = bc_client_send_frames(x->c, out, len);
	if (rc == BC_OK) {
		x->acks_frames++;
		x->acks_sent += n;
	}
	return rc;
}

static void on_ack_response(struct recipient *x, const bc_frame *f)
{
	uint64_t t = now_ns();
	if (f->type == BC_T_ERROR) {
		x->ack_errors++;
		snprintf(x->errtext, sizeof(x->errtext), "ack refused: %.*s",
			 (int)f->err_text_len, f->err_text);
	} else {
		x->acks_confirmed += f->count;
	}
	/* Responses come in request order; drop records of any skipped. */
	while (x->rlen > 0) {
		struct ackrec *a = &x->ring[x->rhead];
		x->rhead = (x->rhead + 1) % (unsigned)BC_ARRAY_LEN(x->ring);
		__atomic_store_n(&x->rlen, x->rlen - 1, __ATOMIC_RELAXED);
		if (a->req == f->req_id) {
			if (f->type != BC_T_ERROR && f->count != a->n)
				x->ack_errors++; /* some were already gone */
			h_add(&x->ackrtt, (t - a->t) / 1000);
			break;
		}
	}
}

static void on_push(struct recipient *x, const bc_frame *f, uint64_t t)
{
	struct run *r = x->run;
	const uint8_t *b = f->data;
	uint64_t sent;
	uint32_t si, seq;
	uint8_t *st, old;
	x->pushes++;
	if (memcmp(f->mailbox, r->mb[x->idx].id, BC_MAILBOX_LEN) != 0 ||
	    f->data_len != r->o->size) {
		x->foreign++;
		return;
	}
	sent = bc_load64(b);
	si = bc_load32(b + 8);
	seq = bc_load32(b + 12);
	if (bc_load64(b + 16) != body_sum(b, f->data_len)) {
		x->corrupt++;
		return;
	}
	if (si >= r->o->senders || (st = state_of(&r->snd[si], seq)) == NULL) {
		x->foreign++;
		return;
	}
	old = __atomic_fetch_or(st, (uint8_t)ST_DELIVERED, __ATOMIC_RELAXED);
	if (old & ST_DELIVERED) {
		x->dups++;
		return;
	}
	__atomic_add_fetch(&r->delivered_unique, 1, __ATOMIC_RELAXED);
	if (t >= r->t_start && t < r->t_end)
		x->delivered_in_window++;
	if (sent >= r->t_start && sent < r->t_end)
		h_add(&x->deliv, t > sent ? (t - sent) / 1000 : 0);
}

static void *recipient_main(void *arg)
{
	struct recipient *x = arg;
	struct run *r = x->run;
	const uint8_t *mailbox = r->mb[x->idx].id;
	uint8_t(*ids)[BC_MSGID_LEN] =
		bc_malloc(BC_PROTO_MAX_ACKS * BC_MSGID_LEN);
	if (ids == NULL) {
		x->last_err = BC_ERR_NOMEM;
		snprintf(x->errtext, sizeof(x->errtext), "out of memory");
		return NULL;
	}
	while (!stopping(r)) {
		size_t n = 0;
		int timeout = POLL_MS;
		int rc;
		/* One blocking receive, then whatever is already readable:
		 * the pushes of one read are acknowledged together. */
		for (;;) {
			bc_frame f;
			rc = bc_client_recv_frame(x->c, timeout, &f);
			if (rc != BC_OK)
				break;
			timeout = 0;
			if (f.type == BC_T_PUSH) {
				on_push(x, &f, now_ns());
				memcpy(ids[n++], f.msg_id, BC_MSGID_LEN);
				if (n == BC_PROTO_MAX_ACKS)
					break;
			} else if (f.type == (BC_T_RESPONSE | BC_T_ACK) ||
				   (f.type == BC_T_ERROR && f.req_id != 0)) {
				on_ack_response(x, &f);
			} else {
				rc = f.type == BC_T_ERROR ? -(int)f.err_code
							  : BC_ERR_PROTOCOL;
				snprintf(x->errtext, sizeof(x->errtext),
					 "unexpected %s frame: %.*s",
					 bc_proto_type_name(f.type),
					 (int)f.err_text_len,
					 f.err_text ? f.err_text : "");
				break;
			}
		}
		if (n > 0) {
			int src = send_ack(x, mailbox,
					   (const uint8_t(*)[BC_MSGID_LEN])ids,
					   n);
			if (src != BC_OK) {
				x->conn_errors++;
				note_err(x->errtext, sizeof(x->errtext),
					 &x->last_err, src, x->c, "send ack");
				break;
			}
		}
		if (rc != BC_OK && rc != BC_ERR_TIMEOUT) {
			x->conn_errors++;
			x->last_err = rc;
			if (x->errtext[0] == '\0')
				note_err(x->errtext, sizeof(x->errtext),
					 &x->last_err, rc, x->c, "receive");
			break;
		}
	}
	bc_free(ids);
	return NULL;
}

/* ---- the sender side ---------------------------------------------------- */

/* Encode a post of one copy for the sender's next message into buf and
 * return its length (0 on error). The timestamp is left to stamp(). */
static size_t build_post(struct sender *s, struct rng *g, uint8_t *buf,
			 size_t cap, uint32_t req, uint32_t seq)
{
	struct run *r = s->run;
	const struct mbox *m = &r->mb[(s->idx + seq) % r->o->recipients];
	uint8_t msg_id[BC_MSGID_LEN];
	uint8_t *out, *body;
	size_t len;
	bc_wr w;
	randombytes_buf(msg_id, sizeof(msg_id));
	bc_wr_init_fixed(&w, buf, cap);
	(void)bc_proto_begin(&w, BC_T_POST, req);
	(void)bc_wr_raw(&w, msg_id, BC_MSGID_LEN);
	(void)bc_wr_u16(&w, 1);
	(void)bc_wr_raw(&w, m->id, BC_MAILBOX_LEN);
	(void)bc_wr_raw(&w, m->cap, BC_CAP_LEN);
	(void)bc_wr_u32(&w, (uint32_t)r->o->size);
	body = bc_wr_reserve(&w, r->o->size);
	if (body == NULL || bc_proto_end(&w, 0) != BC_OK ||
	    bc_wr_finish(&w, &out, &len) != BC_OK)
		return 0;
	bc_store64(body, 0);
	bc_store32(body + 8, s->idx);
	bc_store32(body + 12, seq);
	rng_fill(g, body + BODY_HDR, r->o->size - BODY_HDR);
	bc_store64(body + 16, body_sum(body, r->o->size));
	return len;
}

static uint64_t stamp(struct run *r, uint8_t *buf)
{
	uint64_t t = now_ns();
	bc_store64(buf + r->body_off, t);
	return t;
}

/* Handle a response to one of our posts sent at t (ns). */
static void post_done(struct sender *s, const bc_frame *f, uint32_t seq,
		      uint64_t t, uint64_t now)
{
	struct run *r = s->run;
	if (f->type == (BC_T_RESPONSE | BC_T_POST)) {
		state_set(s, seq, ST_ACKED);
		s->acked++;
		__atomic_add_fetch(&r->acked_total, 1, __ATOMIC_RELAXED);
		if (t >= r->t_start && t < r->t_end)
			h_add(&s->lat, (now - t) / 1000);
		if (now >= r->t_start && now < r->t_end)
			s->acked_in_window++;
	} else {
		state_set(s, seq, ST_FAILED);
		s->failed++;
		s->last_err = f->type == BC_T_ERROR ? -(int)f->err_code
						    : BC_ERR_PROTOCOL;
		snprintf(s->errtext, sizeof(s->errtext), "post refused: %.*s",
			 (int)f->err_text_len, f->err_text ? f->err_text : "");
	}
}

/* Frames a sender should never see: pushes (it subscribes to nothing) and
 * connection-level errors. Returns true if the connection is unusable. */
static bool sender_odd_frame(struct sender *s, const bc_frame *f)
{
	s->bad_frames++;
	if (f->type == BC_T_ERROR && f->req_id == 0) {
		s->last_err = -(int)f->err_code;
		snprintf(s->errtext, sizeof(s->errtext),
			 "relay closed the connection: %.*s",
			 (int)f->err_text_len, f->err_text);
		return true;
	}
	return false;
}

static uint8_t *post_buffer(struct run *r, size_t *cap)
{
	*cap = r->body_off + r->o->size;
	return bc_malloc(*cap);
}

/* W = 1: send one post, wait for its answer, repeat. */
static void *sender_main_sync(void *arg)
{
	struct sender *s = arg;
	struct run *r = s->run;
	struct rng g;
	size_t cap, len;
	uint8_t *buf = post_buffer(r, &cap);
	rng_seed(&g);
	if (buf == NULL) {
		s->last_err = BC_ERR_NOMEM;
		return NULL;
	}
	while (now_ns() < r->t_end) {
		uint32_t seq = s->nseq, req = bc_client_next_id(s->c);
		uint64_t t, deadline;
		int rc;
		if (state_reserve(s, seq) != 0 ||
		    (len = build_post(s, &g, buf, cap, req, seq)) == 0) {
			s->last_err = BC_ERR_NOMEM;
			snprintf(s->errtext, sizeof(s->errtext),
				 "cannot build post");
			break;
		}
		state_set(s, seq, ST_SENT);
		s->nseq++;
		t = stamp(r, buf);
		rc = bc_client_send_frames(s->c, buf, len);
		if (rc != BC_OK) {
			s->conn_errors++;
			note_err(s->errtext, sizeof(s->errtext), &s->last_err,
				 rc, s->c, "send post");
			break;
		}
		deadline = t + (uint64_t)IO_TIMEOUT_MS * 1000000u;
		for (;;) {
			bc_frame f;
			uint64_t now = now_ns();
			if (now >= deadline) {
				rc = BC_ERR_TIMEOUT;
				break;
			}
			rc = bc_client_recv_frame(
				s->c, (int)((deadline - now) / 1000000u) + 1,
				&f);
			if (rc != BC_OK)
				break;
			now = now_ns();
			if (f.req_id == req) {
				post_done(s, &f, seq, t, now);
				break;
			}
			if (sender_odd_frame(s, &f)) {
				rc = BC_ERR_CLOSED;
				break;
			}
		}
		if (rc != BC_OK) {
			if (rc == BC_ERR_TIMEOUT)
				s->timeouts++;
			else
				s->conn_errors++;
			if (s->errtext[0] == '\0')
				note_err(s->errtext, sizeof(s->errtext),
					 &s->last_err, rc, s->c,
					 "waiting for the post's answer");
			break;
		}
	}
	bc_free(buf);
	return NULL;
}

/* W > 1, sending thread: keep up to W posts outstanding. */
static void *sender_main_tx(void *arg)
{
	struct sender *s = arg;
	struct run *r = s->run;
	unsigned W = r->o->window;
	struct rng g;
	size_t cap, len;
	uint8_t *buf = post_buffer(r, &cap);
	rng_seed(&g);
	if (buf == NULL)
		s->last_err = BC_ERR_NOMEM;
	while (buf != NULL) {
		uint32_t seq = s->nseq, req;
		unsigned k;
		uint64_t t;
		int rc;
		bool dead;
		pthread_mutex_lock(&s->mu);
		while (s->outstanding >= W && !s->dead)
			pthread_cond_wait(&s->cv, &s->mu);
		dead = s->dead;
		pthread_mutex_unlock(&s->mu);
		if (dead || now_ns() >= r->t_end)
			break;
		req = bc_client_next_id(s->c);
		if (state_reserve(s, seq) != 0 ||
		    (len = build_post(s, &g, buf, cap, req, seq)) == 0) {
			s->last_err = BC_ERR_NOMEM;
			snprintf(s->errtext, sizeof(s->errtext),
				 "cannot build post");
			break;
		}
		state_set(s, seq, ST_SENT);
		s->nseq++;
		t = stamp(r, buf);
		/* Register before sending: the answer may beat us back. */
		pthread_mutex_lock(&s->mu);
		for (k = 0; k < W && s->slots[k].used; k++)
			;
		s->slots[k] = (struct slot){t, req, seq, true};
		s->outstanding++;
		pthread_mutex_unlock(&s->mu);
		rc = bc_client_send_frames(s->c, buf, len);
		if (rc != BC_OK) {
			s->conn_errors++;
			note_err(s->errtext, sizeof(s->errtext), &s->last_err,
				 rc, s->c, "send post");
			break;
		}
	}
	pthread_mutex_lock(&s->mu);
	s->done_sending = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	bc_free(buf);
	return NULL;
}

/* W > 1, receiving thread: match answers to outstanding posts. */
static void *sender_main_rx(void *arg)
{
	struct sender *s = arg;
	struct run *r = s->run;
	unsigned W = r->o->window;
	uint64_t last_progress = now_ns();
	for (;;) {
		bc_frame f;
		uint64_t now;
		bool done;
		int rc;
		pthread_mutex_lock(&s->mu);
		done = s->done_sending && s->outstanding == 0;
		if (s->outstanding == 0)
			last_progress = now_ns();
		pthread_mutex_unlock(&s->mu);
		if (done)
			break;
		if (now_ns() - last_progress >
		    (uint64_t)IO_TIMEOUT_MS * 1000000u) {
			s->timeouts++;
			snprintf(s->errtext, sizeof(s->errtext),
				 "no answer to a post for %d ms",
				 IO_TIMEOUT_MS);
			s->last_err = BC_ERR_TIMEOUT;
			break;
		}
		rc = bc_client_recv_frame(s->c, POLL_MS, &f);
		if (rc == BC_ERR_TIMEOUT)
			continue;
		if (rc != BC_OK) {
			s->conn_errors++;
			note_err(s->errtext, sizeof(s->errtext), &s->last_err,
				 rc, s->c, "receive");
			break;
		}
		now = now_ns();
		pthread_mutex_lock(&s->mu);
		{
			unsigned k;
			for (k = 0; k < W; k++)
				if (s->slots[k].used &&
				    s->slots[k].req == f.req_id)
					break;
			if (k < W) {
				struct slot sl = s->slots[k];
				s->slots[k].used = false;
				s->outstanding--;
				last_progress = now;
				pthread_cond_signal(&s->cv);
				pthread_mutex_unlock(&s->mu);
				post_done(s, &f, sl.seq, sl.t, now);
				continue;
			}
		}
		pthread_mutex_unlock(&s->mu);
		if (sender_odd_frame(s, &f))
			break;
	}
	pthread_mutex_lock(&s->mu);
	s->dead = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* ---- backlog ------------------------------------------------------------ */

struct filler {
	struct run *r;
	struct mbox *cold;
	unsigned ncold;
	unsigned long posts;
	int rc;
	char err[200];
};

static void *filler_main(void *arg)
{
	struct filler *F = arg;
	struct run *r = F->r;
	bc_client_copy *copies = bc_calloc(F->ncold, sizeof(*copies));
	uint8_t *body = bc_malloc(r->o->size);
	struct rng g;
	bc_client *c = NULL;
	rng_seed(&g);
	F->rc = copies && body ? BC_OK : BC_ERR_NOMEM;
	if (F->rc == BC_OK)
		F->rc = new_client(r, &c);
	for (unsigned long i = 0; F->rc == BC_OK && i < F->posts; i++) {
		uint8_t id[BC_MSGID_LEN];
		randombytes_buf(id, sizeof(id));
		memset(body, 0, BODY_HDR);
		rng_fill(&g, body + BODY_HDR, r->o->size - BODY_HDR);
		for (unsigned k = 0; k < F->ncold; k++)
			copies[k] = (bc_client_copy){F->cold[k].id,
						     F->cold[k].cap, body,
						     r->o->size};
		F->rc = bc_client_post(c, id, copies, F->ncold, NULL);
		if (F->rc != BC_OK)
			snprintf(F->err, sizeof(F->err), "%s",
				 bc_client_last_error(c));
	}
	bc_client_free(c);
	bc_free(copies);
	bc_free(body);
	return NULL;
}

/* Store o->backlog messages in mailboxes that nobody reads: posts of 64
 * copies (one per cold mailbox) from 8 connections in parallel, so that
 * the fill rides on group commit. A mailbox holds at most 100,000 messages
 * by default, so up to 6.4 million fit. */
static int fill_backlog(struct run *r)
{
	unsigned long n = r->o->backlog;
	unsigned ncold = n < BC_PROTO_MAX_COPIES ? (unsigned)n
						 : BC_PROTO_MAX_COPIES;
	unsigned nth = 8;
	unsigned long posts;
	struct mbox *cold;
	struct filler F[8];
	pthread_t th[8];
	bc_client *owner = NULL;
	uint64_t t0 = now_ns();
	int rc = BC_OK;
	/* Keep the post within the relay's max_frame. */
	while (ncold > 1 && (size_t)ncold * (BC_MAILBOX_LEN + BC_CAP_LEN + 4 +
					    r->o->size) + 64 > r->max_frame)
		ncold--;
	posts = (n + ncold - 1) / ncold;
	cold = bc_calloc(ncold, sizeof(*cold));
	if (cold == NULL)
		return BC_ERR_NOMEM;
	if ((rc = new_client(r, &owner)) != BC_OK)
		goto out;
	for (unsigned k = 0; k < ncold && rc == BC_OK; k++) {
		randombytes_buf(cold[k].id, BC_MAILBOX_LEN);
		randombytes_buf(cold[k].cap, BC_CAP_LEN);
		rc = bc_client_open(owner, cold[k].id, NULL);
		if (rc == BC_OK)
			rc = bc_client_cap_add(owner, cold[k].id, cold[k].cap);
	}
	if (rc != BC_OK) {
		fprintf(stderr, "relay-load: backlog setup: %s\n",
			bc_client_last_error(owner));
		goto out;
	}
	fprintf(stderr,
		"relay-load: storing a backlog of %lu messages (%u mailboxes, "
		"%lu posts)...\n",
		posts * ncold, ncold, posts);
	for (unsigned i = 0; i < nth; i++) {
		F[i] = (struct filler){r, cold, ncold,
				       posts / nth + (i < posts % nth), BC_OK,
				       ""};
		if (pthread_create(&th[i], NULL, filler_main, &F[i]) != 0) {
			nth = i;
			rc = BC_ERR_NOMEM;
			break;
		}
	}
	for (unsigned i = 0; i < nth; i++) {
		pthread_join(th[i], NULL);
		if (F[i].rc != BC_OK && rc == BC_OK) {
			rc = F[i].rc;
			fprintf(stderr, "relay-load: backlog post: %s\n",
				F[i].err);
		}
	}
	if (rc == BC_OK)
		fprintf(stderr, "relay-load: backlog stored in %.1f s\n",
			(double)(now_ns() - t0) / 1e9);
out:
	bc_client_free(owner);
	bc_free(cold);
	return rc;
}

/* ---- the load run ------------------------------------------------------- */

struct totals {
	struct hist lat, deliv, ackrtt;
	uint64_t posted, acked, failed, delivered, dups, corrupt, foreign;
	uint64_t lost, deliv_unacked, acked_in_window, delivered_in_window;
	uint64_t timeouts, conn_errors, bad_frames, ack_errors;
	uint64_t acks_sent, acks_frames, acks_confirmed;
	double relay_cpu_s, self_cpu_s, window_s;
	long relay_hwm_kib, relay_rss_kib;
};

static void print_hist_line(FILE *f, const char *name, const struct hist *h)
{
	if (h->n == 0) {
		fprintf(f, "  %-22s no samples\n", name);
		return;
	}
	fprintf(f,
		"  %-22s p50 %8.3f  p90 %8.3f  p99 %8.3f  p99.9 %8.3f  max "
		"%8.3f  mean %8.3f ms  (n=%" PRIu64 ")\n",
		name, ms(h_quantile(h, 0.50)), ms(h_quantile(h, 0.90)),
		ms(h_quantile(h, 0.99)), ms(h_quantile(h, 0.999)), ms(h->max),
		h->n ? (double)h->sum / (double)h->n / 1000.0 : 0.0, h->n);
}

static void json_hist(FILE *f, const char *name, const struct hist *h)
{
	fprintf(f,
		"\"%s_p50_ms\":%.3f,\"%s_p90_ms\":%.3f,\"%s_p99_ms\":%.3f,"
		"\"%s_p999_ms\":%.3f,\"%s_max_ms\":%.3f,\"%s_mean_ms\":%.3f,"
		"\"%s_samples\":%" PRIu64 ",",
		name, ms(h_quantile(h, 0.50)), name, ms(h_quantile(h, 0.90)),
		name, ms(h_quantile(h, 0.99)), name, ms(h_quantile(h, 0.999)),
		name, ms(h->max), name,
		h->n ? (double)h->sum / (double)h->n / 1000.0 : 0.0, name, h->n);
}

static void report(const struct run *r, const struct totals *T, bool ok,
		   const char *first_err)
{
	const struct opts *o = r->o;
	double w = T->window_s;
	FILE *h = o->json ? stderr : stdout;
	fprintf(h,
		"relay-load %s%s%s: %u senders, %u recipients, %zu-byte "
		"messages, window %u, %.1f s measured (warm-up %.1f s)%s\n",
		o->label[0] ? "[" : "", o->label, o->label[0] ? "]" : "",
		o->senders, o->recipients, o->size, o->window, w, o->warmup,
		o->backlog ? ", with a backlog" : "");
	if (o->backlog)
		fprintf(h, "  backlog                %lu undelivered messages "
			   "stored before the run\n",
			o->backlog);
	fprintf(h,
		"  throughput             %.0f msgs/s delivered, %.0f posts/s "
		"acknowledged\n",
		(double)T->delivered_in_window / w,
		(double)T->acked_in_window / w);
	print_hist_line(h, "post->ack", &T->lat);
	print_hist_line(h, "post->delivery", &T->deliv);
	print_hist_line(h, "recipient ack rtt", &T->ackrtt);
	fprintf(h,
		"  messages               %" PRIu64 " posted, %" PRIu64
		" acked, %" PRIu64 " failed, %" PRIu64 " delivered, %" PRIu64
		" lost, %" PRIu64 " duplicates, %" PRIu64 " corrupt\n",
		T->posted, T->acked, T->failed, T->delivered, T->lost, T->dups,
		T->corrupt);
	fprintf(h,
		"  errors                 %" PRIu64 " timeouts, %" PRIu64
		" connection, %" PRIu64 " unexpected frames, %" PRIu64
		" ack, %" PRIu64 " foreign pushes\n",
		T->timeouts, T->conn_errors, T->bad_frames, T->ack_errors,
		T->foreign);
	fprintf(h,
		"  recipient acks         %" PRIu64 " ids in %" PRIu64
		" frames (%.1f per frame), %" PRIu64 " confirmed\n",
		T->acks_sent, T->acks_frames,
		T->acks_frames ? (double)T->acks_sent / (double)T->acks_frames
			       : 0.0,
		T->acks_confirmed);
	if (T->relay_cpu_s >= 0)
		fprintf(h,
			"  relay                  CPU %.0f%% of one core, %.1f "
			"us CPU per message; RSS %ld KiB, peak %ld KiB\n",
			100.0 * T->relay_cpu_s / w,
			T->delivered_in_window
				? 1e6 * T->relay_cpu_s /
					  (double)T->delivered_in_window
				: 0.0,
			T->relay_rss_kib, T->relay_hwm_kib);
	fprintf(h, "  load generator         CPU %.0f%% of one core\n",
		100.0 * T->self_cpu_s / w);
	if (first_err != NULL)
		fprintf(h, "  first error            %s\n", first_err);
	fprintf(h, "  result                 %s\n",
		ok ? "OK" : "FAILED (errors or lost messages; see above)");
	if (!o->json)
		return;
	printf("{\"mode\":\"load\",\"label\":\"%s\",\"senders\":%u,"
	       "\"recipients\":%u,\"size\":%zu,\"window\":%u,"
	       "\"duration_s\":%.3f,\"warmup_s\":%.3f,\"backlog\":%lu,",
	       o->label, o->senders, o->recipients, o->size, o->window, w,
	       o->warmup, o->backlog);
	printf("\"msgs_per_s\":%.1f,\"posts_per_s\":%.1f,",
	       (double)T->delivered_in_window / w,
	       (double)T->acked_in_window / w);
	json_hist(stdout, "post_ack", &T->lat);
	json_hist(stdout, "post_delivery", &T->deliv);
	json_hist(stdout, "ack_rtt", &T->ackrtt);
	printf("\"posted\":%" PRIu64 ",\"acked\":%" PRIu64
	       ",\"failed\":%" PRIu64 ",\"delivered\":%" PRIu64
	       ",\"lost\":%" PRIu64 ",\"duplicates\":%" PRIu64
	       ",\"corrupt\":%" PRIu64 ",\"delivered_unacked\":%" PRIu64
	       ",\"timeouts\":%" PRIu64 ",\"conn_errors\":%" PRIu64
	       ",\"unexpected_frames\":%" PRIu64 ",\"ack_errors\":%" PRIu64
	       ",\"foreign_pushes\":%" PRIu64 ",",
	       T->posted, T->acked, T->failed, T->delivered, T->lost, T->dups,
	       T->corrupt, T->deliv_unacked, T->timeouts, T->conn_errors,
	       T->bad_frames, T->ack_errors, T->foreign);
	printf("\"acks_per_frame\":%.2f,",
	       T->acks_frames ? (double)T->acks_sent / (double)T->acks_frames
			      : 0.0);
	printf("\"relay_cpu_pct\":%.1f,\"relay_cpu_us_per_msg\":%.2f,"
	       "\"relay_rss_kib\":%ld,\"relay_peak_rss_kib\":%ld,"
	       "\"loadgen_cpu_pct\":%.1f,\"ok\":%s}\n",
	       T->relay_cpu_s >= 0 ? 100.0 * T->relay_cpu_s / w : -1.0,
	       T->relay_cpu_s >= 0 && T->delivered_in_window
		       ? 1e6 * T->relay_cpu_s / (double)T->delivered_in_window
		       : -1.0,
	       T->relay_rss_kib, T->relay_hwm_kib, 100.0 * T->self_cpu_s / w,
	       ok ? "true" : "false");
}

/* Exact accounting over every message's state; prints a few lost ones. */
static void account(struct run *r, struct totals *T)
{
	unsigned shown = 0;
	for (unsigned i = 0; i < r->o->senders; i++) {
		struct sender *s = &r->snd[i];
		for (uint32_t q = 0; q < s->nseq; q++) {
			uint8_t *p = state_of(s, q);
			uint8_t v = p ? __atomic_load_n(p, __ATOMIC_RELAXED)
				      : 0;
			T->posted++;
			if (v & ST_DELIVERED)
				T->delivered++;
			if ((v & ST_ACKED) && !(v & ST_DELIVERED)) {
				T->lost++;
				if (shown++ < 10)
					fprintf(stderr,
						"relay-load: LOST: sender %u "
						"seq %u to recipient %u "
						"(acknowledged, never "
						"pushed)\n",
						i, q,
						(unsigned)((i + q) %
							   r->o->recipients));
			}
			if ((v & ST_DELIVERED) && !(v & ST_ACKED))
				T->deliv_unacked++;
		}
	}
}

static bool drained(struct run *r)
{
	uint64_t d = __atomic_load_n(&r->delivered_unique, __ATOMIC_RELAXED);
	uint64_t a = __atomic_load_n(&r->acked_total, __ATOMIC_RELAXED);
	return d >= a;
}

static int run_load(const struct opts *o, struct run *r)
{
	struct totals T;
	const char *first_err = NULL;
	double relay_cpu0 = -1, relay_cpu1, self0, self1;
	uint64_t t_drain;
	bool ok;
	int rc = BC_OK;
	unsigned i;

	memset(&T, 0, sizeof(T));
	r->mb = bc_calloc(o->recipients, sizeof(*r->mb));
	r->snd = bc_calloc(o->senders, sizeof(*r->snd));
	r->rcp = bc_calloc(o->recipients, sizeof(*r->rcp));
	if (r->mb == NULL || r->snd == NULL || r->rcp == NULL) {
		fprintf(stderr, "relay-load: out of memory\n");
		return 2;
	}
	/* Offset of the body in a post frame (client.c build_post). */
	r->body_off = BC_PROTO_HDR_LEN + BC_MSGID_LEN + 2 + BC_MAILBOX_LEN +
		      BC_CAP_LEN + 4;
	for (i = 0; i < o->recipients && rc == BC_OK; i++) {
		r->rcp[i].run = r;
		r->rcp[i].idx = i;
		rc = setup_recipient(r, &r->rcp[i]);
	}
	for (i = 0; i < o->senders && rc == BC_OK; i++) {
		struct sender *s = &r->snd[i];
		s->run = r;
		s->idx = i;
		if (pthread_mutex_init(&s->mu, NULL) != 0 ||
		    pthread_cond_init(&s->cv, NULL) != 0) {
			rc = BC_ERR_NOMEM;
			break;
		}
		s->slots = bc_calloc(o->window, sizeof(*s->slots));
		if (s->slots == NULL)
			rc = BC_ERR_NOMEM;
		else
			rc = new_client(r, &s->c);
	}
	if (rc == BC_OK) {
		const bc_server_hello *h = bc_client_hello(r->snd[0].c);
		r->max_frame = h->max_frame;
		if (o->size > h->max_body ||
		    r->body_off + o->size - 4 > h->max_frame) {
			fprintf(stderr,
				"relay-load: --size %zu exceeds the relay's "
				"max_body (%u)\n",
				o->size, h->max_body);
			rc = BC_ERR_TOOBIG;
		}
	}
	if (rc == BC_OK && o->backlog > 0)
		rc = fill_backlog(r);
	if (rc != BC_OK) {
		fprintf(stderr, "relay-load: setup failed: %s\n",
			bc_strerror(rc));
		return 2;
	}

	r->t_start = now_ns() + (uint64_t)(o->warmup * 1e9);
	r->t_end = r->t_start + (uint64_t)(o->duration * 1e9);
	for (i = 0; i < o->recipients; i++)
		r->rcp[i].started = pthread_create(&r->rcp[i].th, NULL,
						   recipient_main,
						   &r->rcp[i]) == 0;
	for (i = 0; i < o->senders; i++) {
		struct sender *s = &r->snd[i];
		if (o->window == 1) {
			s->tx_started = pthread_create(&s->tx, NULL,
						       sender_main_sync,
						       s) == 0;
		} else {
			s->rx_started = pthread_create(&s->rx, NULL,
						       sender_main_rx,
						       s) == 0;
			s->tx_started = pthread_create(&s->tx, NULL,
						       sender_main_tx,
						       s) == 0;
		}
		if (!s->tx_started)
			fprintf(stderr, "relay-load: cannot start a thread\n");
	}
	/* Sample CPU times at the edges of the measurement window. */
	while (now_ns() < r->t_start)
		sleep_ms(10);
	relay_cpu0 = proc_cpu_s(o->relay_pid);
	self0 = self_cpu_s();
	while (now_ns() < r->t_end)
		sleep_ms(10);
	relay_cpu1 = proc_cpu_s(o->relay_pid);
	self1 = self_cpu_s();
	T.relay_cpu_s = relay_cpu0 >= 0 && relay_cpu1 >= 0
				? relay_cpu1 - relay_cpu0
				: -1;
	T.self_cpu_s = self1 - self0;
	T.window_s = o->duration;
	T.relay_rss_kib = proc_status_kib(o->relay_pid, "VmRSS");

	for (i = 0; i < o->senders; i++) {
		if (r->snd[i].tx_started)
			pthread_join(r->snd[i].tx, NULL);
		if (r->snd[i].rx_started)
			pthread_join(r->snd[i].rx, NULL);
	}
	/* Drain: every acknowledged message must reach its recipient. */
	t_drain = now_ns() + (uint64_t)(o->drain * 1e9);
	while (!drained(r) && now_ns() < t_drain)
		sleep_ms(10);
	/* Let the last ack answers come back. */
	for (int k = 0; k < 50; k++) {
		bool all = true;
		for (i = 0; i < o->recipients; i++)
			if (__atomic_load_n(&r->rcp[i].rlen,
					    __ATOMIC_RELAXED) != 0)
				all = false;
		if (all)
			break;
		sleep_ms(10);
	}
	__atomic_store_n(&r->stop_recv, 1, __ATOMIC_RELEASE);
	for (i = 0; i < o->recipients; i++)
		if (r->rcp[i].started)
			pthread_join(r->rcp[i].th, NULL);
	T.relay_hwm_kib = proc_status_kib(o->relay_pid, "VmHWM");

	for (i = 0; i < o->senders; i++) {
		struct sender *s = &r->snd[i];
		h_merge(&T.lat, &s->lat);
		T.acked += s->acked;
		T.failed += s->failed;
		T.acked_in_window += s->acked_in_window;
		T.timeouts += s->timeouts;
		T.conn_errors += s->conn_errors;
		T.bad_frames += s->bad_frames;
		if (first_err == NULL && s->errtext[0])
			first_err = s->errtext;
	}
	for (i = 0; i < o->recipients; i++) {
		struct recipient *x = &r->rcp[i];
		h_merge(&T.deliv, &x->deliv);
		h_merge(&T.ackrtt, &x->ackrtt);
		T.dups += x->dups;
		T.corrupt += x->corrupt;
		T.foreign += x->foreign;
		T.delivered_in_window += x->delivered_in_window;
		T.conn_errors += x->conn_errors;
		T.ack_errors += x->ack_errors;
		T.acks_sent += x->acks_sent;
		T.acks_frames += x->acks_frames;
		T.acks_confirmed += x->acks_confirmed;
		if (first_err == NULL && x->errtext[0])
			first_err = x->errtext;
	}
	account(r, &T);
	ok = T.failed == 0 && T.lost == 0 && T.corrupt == 0 &&
	     T.foreign == 0 && T.timeouts == 0 && T.conn_errors == 0 &&
	     T.bad_frames == 0 && T.ack_errors == 0 &&
	     T.acked == T.posted && T.posted > 0;
	report(r, &T, ok, first_err);

	for (i = 0; i < o->senders; i++) {
		struct sender *s = &r->snd[i];
		bc_client_free(s->c);
		bc_free(s->slots);
		for (unsigned k = 0; k < MAX_CHUNKS; k++)
			bc_free(s->chunks[k]);
		pthread_mutex_destroy(&s->mu);
		pthread_cond_destroy(&s->cv);
	}
	for (i = 0; i < o->recipients; i++)
		bc_client_free(r->rcp[i].c);
	bc_free(r->snd);
	bc_free(r->rcp);
	bc_free(r->mb);
	return ok ? 0 : 1;
}

/* ---- idle connections --------------------------------------------------- */

static int run_idle(const struct opts *o, struct run *r)
{
	/* A few connections first, so that one-time allocations (buffers
	 * of the first connection, hash tables) are in the baseline. */
	const unsigned warm = 16;
	unsigned n = o->idle, made = 0;
	bc_client **cs = bc_calloc(n + warm, sizeof(*cs));
	long before, after, hwm;
	double per_conn = -1, secs;
	uint64_t t0;
	int rc = BC_OK;
	if (cs == NULL)
		return 2;
	for (unsigned i = 0; i < warm && rc == BC_OK; i++)
		rc = new_client(r, &cs[made++]);
	if (rc != BC_OK)
		goto out;
	sleep_ms(500);
	before = proc_status_kib(o->relay_pid, "VmRSS");
	t0 = now_ns();
	for (unsigned i = 0; i < n && rc == BC_OK; i++) {
		rc = new_client(r, &cs[made]);
		if (rc == BC_OK)
			made++;
	}
	secs = (double)(now_ns() - t0) / 1e9;
	if (rc != BC_OK) {
		fprintf(stderr, "relay-load: only %u of %u idle connections "
				"made\n",
			made - warm, n);
		goto out;
	}
	/* Let the relay finish the last handshakes, then hold. */
	sleep_ms(1000);
	after = proc_status_kib(o->relay_pid, "VmRSS");
	hwm = proc_status_kib(o->relay_pid, "VmHWM");
	if (before >= 0 && after >= 0)
		per_conn = (double)(after - before) * 1024.0 / (double)n;
	{
		FILE *h = o->json ? stderr : stdout;
		fprintf(h,
			"relay-load idle: %u connections (handshake only) "
			"made in %.1f s (%.0f/s)\n",
			n, secs, (double)n / secs);
		if (per_conn >= 0)
			fprintf(h,
				"  relay VmRSS %ld KiB before, %ld KiB after: "
				"%.0f bytes per idle connection (peak RSS %ld "
				"KiB)\n",
				before, after, per_conn, hwm);
	}
	if (o->hold > 0)
		sleep_ms((unsigned)(o->hold * 1000));
	/* Still there? Every connection must have survived the hold. */
	for (unsigned i = 0; i < made; i++)
		if (!bc_client_connected(cs[i]))
			rc = BC_ERR_CLOSED;
	if (o->json)
		printf("{\"mode\":\"idle\",\"label\":\"%s\",\"connections\":%u,"
		       "\"connect_s\":%.3f,\"rss_before_kib\":%ld,"
		       "\"rss_after_kib\":%ld,\"bytes_per_conn\":%.0f,"
		       "\"relay_peak_rss_kib\":%ld,\"ok\":%s}\n",
		       o->label, n, secs, before, after, per_conn, hwm,
		       rc == BC_OK ? "true" : "false");
out:
	for (unsigned i = 0; i < made; i++)
		bc_client_free(cs[i]);
	bc_free(cs);
	return rc == BC_OK ? 0 : 1;
}

/* ---- fsync probe -------------------------------------------------------- */

#define PROBE_FILE (4u << 20)
#define PROBE_WRITE 4096u
#define PROBE_N 300u

static int run_probe(const struct opts *o)
{
	uint8_t buf[PROBE_WRITE];
	struct hist *h = bc_calloc(1, sizeof(*h));
	off_t off = 0;
	int fd, rc = 0;
	if (h == NULL)
		return 2;
	memset(buf, 0xa5, sizeof(buf));
	fd = open(o->probe, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "relay-load: %s: %s\n", o->probe,
			strerror(errno));
		bc_free(h);
		return 2;
	}
	/* Preallocate and make the size durable, so that the timed loop
	 * measures data syncs of overwrites, as in a reused WAL. */
	for (off_t p = 0; p < (off_t)PROBE_FILE && rc == 0;
	     p += (off_t)sizeof(buf))
		if (pwrite(fd, buf, sizeof(buf), p) != (ssize_t)sizeof(buf))
			rc = 2;
	if (rc == 0 && fsync(fd) != 0)
		rc = 2;
	for (unsigned i = 0; i < PROBE_N && rc == 0; i++) {
		uint64_t t0;
		if (pwrite(fd, buf, sizeof(buf), off) != (ssize_t)sizeof(buf)) {
			rc = 2;
			break;
		}
		t0 = now_ns();
		if (fdatasync(fd) != 0) {
			rc = 2;
			break;
		}
		h_add(h, (now_ns() - t0) / 1000);
		off = (off + (off_t)sizeof(buf)) % (off_t)PROBE_FILE;
	}
	if (rc != 0)
		fprintf(stderr, "relay-load: %s: %s\n", o->probe,
			strerror(errno));
	if (close(fd) != 0 || unlink(o->probe) != 0)
		rc = 2;
	if (rc == 0) {
		FILE *f = o->json ? stderr : stdout;
		fprintf(f,
			"fsync probe: %u x (4 KiB overwrite + fdatasync): p50 "
			"%.3f  p90 %.3f  p99 %.3f  max %.3f ms\n",
			PROBE_N, ms(h_quantile(h, 0.5)), ms(h_quantile(h, 0.9)),
			ms(h_quantile(h, 0.99)), ms(h->max));
		if (o->json)
			printf("{\"mode\":\"fsync-probe\",\"n\":%u,"
			       "\"fdatasync_p50_ms\":%.3f,"
			       "\"fdatasync_p90_ms\":%.3f,"
			       "\"fdatasync_p99_ms\":%.3f,"
			       "\"fdatasync_max_ms\":%.3f}\n",
			       PROBE_N, ms(h_quantile(h, 0.5)),
			       ms(h_quantile(h, 0.9)), ms(h_quantile(h, 0.99)),
			       ms(h->max));
	}
	bc_free(h);
	return rc;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct run r;
	int rc;
	if (parse_opts(argc, argv, &o) != 0)
		return 2;
	if (sodium_init() < 0) {
		fprintf(stderr, "relay-load: libsodium failed to start\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (o.probe != NULL)
		return run_probe(&o);
	memset(&r, 0, sizeof(r));
	r.o = &o;
	rc = bc_relay_addr_parse(o.relay, &r.addr);
	if (rc != BC_OK) {
		fprintf(stderr, "relay-load: bad relay address '%s': %s\n",
			o.relay, bc_strerror(rc));
		return 2;
	}
	if (o.idle > 0)
		return run_idle(&o, &r);
	return run_load(&o, &r);
}
