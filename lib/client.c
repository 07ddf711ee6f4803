/*
 * client.c - blocking relay client (see client.h, docs/PROTOCOL.md §3-§5).
 *
 * Invariants: c->fd >= 0 iff c->up; when up, tx/rx_cs are the transport
 * cipher states of the current connection and rx holds only bytes of it.
 * Every failure of the connection goes through drop(), which wipes the
 * cipher states and buffers so that nothing of an old connection leaks
 * into the next one.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "internal.h"
#include "noise.h"
#include "transport.h"

#define PUSHQ_MAX_MSGS 65536
#define PUSHQ_MAX_BYTES (256u << 20)
#define KEEPALIVE_MS 60000

struct push {
	struct push *next;
	uint8_t mailbox[BC_MAILBOX_LEN];
	uint8_t id[BC_MSGID_LEN];
	uint64_t seq;
	size_t len;
	uint8_t body[];
};

struct bc_client {
	bc_relay_addr relay;
	uint8_t priv[32];
	bc_client_opts o;
	int fd;
	bool up;
	bool broken; /* the connection failed; the owner thread drops it */
	bc_noise_cs tx, rx_cs;
	bc_rx rx;
	bc_server_hello hello;
	uint32_t next_req;
	uint8_t (*subs)[BC_MAILBOX_LEN];
	size_t nsubs, capsubs;
	struct push *pq_head, *pq_tail;
	size_t pq_n, pq_bytes;
	uint64_t last_send_ms;
	unsigned connects;
	char err[300];
	uint8_t rbuf[65536];
};

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static int set_err(bc_client *c, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int set_err(bc_client *c, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return rc;
}

void bc_client_opts_default(bc_client_opts *o)
{
	o->connect_timeout_ms = 5000;
	o->io_timeout_ms = 15000;
	o->retry_budget_ms = 30000;
	o->backoff_initial_ms = 100;
	o->backoff_max_ms = 5000;
}

int bc_client_new(bc_client **out, const bc_relay_addr *relay,
		  const uint8_t static_priv[32], const bc_client_opts *opts)
{
	bc_client *c = bc_calloc(1, sizeof(*c));
	*out = NULL;
	if (c == NULL)
		return BC_ERR_NOMEM;
	c->relay = *relay;
	memcpy(c->priv, static_priv, 32);
	if (opts)
		c->o = *opts;
	else
		bc_client_opts_default(&c->o);
	c->fd = -1;
	c->next_req = 1;
	*out = c;
	return BC_OK;
}

/* Mark the connection failed without freeing anything, so that a sender
 * thread and a receiver thread can each notice a failure safely (client.h);
 * the single-threaded request paths then drop() it. */
static void breakconn(bc_client *c)
{
	if (c->fd >= 0 && !c->broken)
		(void)shutdown(c->fd, SHUT_RDWR);
	c->broken = true;
}

static void drop(bc_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->up = false;
	c->broken = false;
	bc_noise_cs_wipe(&c->tx);
	bc_noise_cs_wipe(&c->rx_cs);
	bc_rx_free(&c->rx);
}

void bc_client_disconnect(bc_client *c)
{
	drop(c);
}

static void pq_clear(bc_client *c)
{
	while (c->pq_head != NULL) {
		struct push *p = c->pq_head;
		c->pq_head = p->next;
		bc_free_secret(p, sizeof(*p) + p->len);
	}
	c->pq_tail = NULL;
	c->pq_n = c->pq_bytes = 0;
}

void bc_client_free(bc_client *c)
{
	if (c == NULL)
		return;
	drop(c);
	pq_clear(c);
	bc_free(c->subs);
	bc_free_secret(c, sizeof(*c));
}

bool bc_client_connected(const bc_client *c)
{
	return c->up && !c->broken;
}

const bc_server_hello *bc_client_hello(const bc_client *c)
{
	return &c->hello;
}

const char *bc_client_last_error(const bc_client *c)
{
	return c->err;
}

unsigned bc_client_connects(const bc_client *c)
{
	return c->connects;
}

uint32_t bc_client_next_id(bc_client *c)
{
	uint32_t id = c->next_req++;
	if (c->next_req == 0)
		c->next_req = 1;
	return id;
}

/* ---- socket I/O --------------------------------------------------------- */

static int wait_fd(int fd, short ev, uint64_t deadline)
{
	for (;;) {
		struct pollfd p = {fd, ev, 0};
		uint64_t now = mono_ms();
		int n;
		if (now >= deadline)
			return BC_ERR_TIMEOUT;
		n = poll(&p, 1, (int)(deadline - now));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return BC_ERR_IO;
		if (n == 0)
			return BC_ERR_TIMEOUT;
		return BC_OK;
	}
}

static int write_all(bc_client *c, const uint8_t *p, size_t n,
		     uint64_t deadline)
{
	while (n > 0) {
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int rc = wait_fd(c->fd, POLLOUT, deadline);
			if (rc != BC_OK)
				return rc;
			continue;
		}
		if (w < 0)
			return set_err(c, BC_ERR_IO, "send: %s",
				       strerror(errno));
		p += w;
		n -= (size_t)w;
	}
	c->last_send_ms = mono_ms();
	return BC_OK;
}

/* Read at most cap bytes; BC_ERR_CLOSED on EOF. */
static int read_some(bc_client *c, uint8_t *buf, size_t cap, size_t *got,
		     uint64_t deadline)
{
	for (;;) {
		ssize_t r = recv(c->fd, buf, cap, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int rc = wait_fd(c->fd, POLLIN, deadline);
			if (rc != BC_OK)
				return rc;
			continue;
		}
		if (r < 0)
			return set_err(c, BC_ERR_IO, "recv: %s",
				       strerror(errno));
		if (r == 0)
			return set_err(c, BC_ERR_CLOSED,
				       "the relay closed the connection");
		*got = (size_t)r;
		return BC_OK;
	}
}

static int read_exact(bc_client *c, uint8_t *buf, size_t n, uint64_t deadline)
{
	while (n > 0) {
		size_t got;
		int rc = read_some(c, buf, n, &got, deadline);
		if (rc != BC_OK)
			return rc;
		buf += got;
		n -= got;
	}
	return BC_OK;
}

static int tcp_connect(bc_client *c, uint64_t deadline)
{
	struct addrinfo hints, *res = NULL, *ai;
	char port[8];
	int rc = BC_ERR_IO, g;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%u", c->relay.port);
	g = getaddrinfo(c->relay.host, port, &hints, &res);
	if (g != 0)
		return set_err(c, BC_ERR_IO, "cannot resolve %s: %s",
			       c->relay.host, gai_strerror(g));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		int fd = socket(ai->ai_family,
				ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
				ai->ai_protocol);
		int one = 1, soerr = 0;
		socklen_t sl = sizeof(soerr);
		if (fd < 0)
			continue;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
				 sizeof(one));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 &&
		    errno != EINPROGRESS) {
			rc = set_err(c, BC_ERR_IO, "connect to %s:%u: %s",
				     c->relay.host, c->relay.port,
				     strerror(errno));
			close(fd);
			continue;
		}
		rc = wait_fd(fd, POLLOUT, deadline);
		if (rc == BC_OK &&
		    (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 ||
		     soerr != 0)) {
			rc = set_err(c, BC_ERR_IO, "connect to %s:%u: %s",
				     c->relay.host, c->relay.port,
				     strerror(soerr));
		} else if (rc == BC_ERR_TIMEOUT) {
			set_err(c, rc, "connect to %s:%u: timed out",
				c->relay.host, c->relay.port);
		}
		if (rc == BC_OK) {
			c->fd = fd;
			break;
		}
		close(fd);
	}
	freeaddrinfo(res);
	return rc;
}

/* ---- handshake ---------------------------------------------------------- */

int bc_client_connect(bc_client *c)
{
	uint64_t deadline = mono_ms() + (uint64_t)c->o.connect_timeout_ms;
	bc_noise_hs *hs = NULL;
	uint8_t buf[BC_PROTO_PREAMBLE_LEN + 2 + 512];
	uint8_t payload[128], rs[32];
	size_t n, plen;
	uint16_t ver;
	int rc;

	drop(c);
	c->err[0] = '\0';
	if ((rc = tcp_connect(c, deadline)) != BC_OK)
		return rc;
	rc = bc_noise_hs_new(&hs, BC_PROTO_NOISE_NAME, true);
	if (rc == BC_OK)
		rc = bc_noise_hs_set_prologue(
			hs, (const uint8_t *)BC_PROTO_PROLOGUE,
			sizeof(BC_PROTO_PROLOGUE) - 1);
	if (rc == BC_OK)
		rc = bc_noise_hs_set_local_static(hs, c->priv);
	if (rc == BC_OK)
		rc = bc_noise_hs_start(hs);
	if (rc != BC_OK)
		goto out;
	/* -> preamble, message 1 */
	bc_proto_preamble(buf, BC_PROTO_VERSION);
	rc = bc_noise_hs_write_message(hs, NULL, 0, buf + 10, sizeof(buf) - 10,
				       &n);
	if (rc != BC_OK)
		goto out;
	bc_store16(buf + 8, (uint16_t)n);
	if ((rc = write_all(c, buf, 10 + n, deadline)) != BC_OK)
		goto out;
	/* <- preamble, message 2 */
	if ((rc = read_exact(c, buf, BC_PROTO_PREAMBLE_LEN, deadline)) !=
	    BC_OK)
		goto out;
	rc = bc_proto_check_preamble(buf, &ver);
	if (rc == BC_ERR_VERSION) {
		set_err(c, rc,
			"the relay speaks protocol version %u; this client "
			"speaks %u",
			ver, BC_PROTO_VERSION);
		goto out;
	}
	if (rc != BC_OK) {
		set_err(c, rc, "not a backchannel relay (bad preamble)");
		goto out;
	}
	if ((rc = read_exact(c, buf, 2, deadline)) != BC_OK)
		goto out;
	n = bc_load16(buf);
	if (n < 32 + 48 + 16 || n > sizeof(buf)) {
		rc = set_err(c, BC_ERR_PROTOCOL,
			     "bad handshake message 2 length %zu", n);
		goto out;
	}
	if ((rc = read_exact(c, buf, n, deadline)) != BC_OK)
		goto out;
	rc = bc_noise_hs_read_message(hs, buf, n, payload, sizeof(payload),
				      &plen);
	if (rc != BC_OK) {
		set_err(c, BC_ERR_AUTH,
			"relay handshake failed (wrong prologue or version, "
			"or tampering)");
		rc = BC_ERR_AUTH;
		goto out;
	}
	if ((rc = bc_noise_hs_get_remote_static(hs, rs)) != BC_OK)
		goto out;
	if (sodium_memcmp(rs, c->relay.key, 32) != 0) {
		rc = set_err(c, BC_ERR_PINNING,
			     "the relay at %s:%u presented a different key "
			     "than the one in its address: refusing it",
			     c->relay.host, c->relay.port);
		goto out;
	}
	if ((rc = bc_proto_hello_decode(payload, plen, &c->hello)) != BC_OK) {
		set_err(c, rc, "bad relay hello");
		goto out;
	}
	/* -> message 3 */
	rc = bc_noise_hs_write_message(hs, NULL, 0, buf + 2, sizeof(buf) - 2,
				       &n);
	if (rc != BC_OK)
		goto out;
	bc_store16(buf, (uint16_t)n);
	if ((rc = write_all(c, buf, 2 + n, deadline)) != BC_OK)
		goto out;
	if ((rc = bc_noise_hs_split(hs, &c->tx, &c->rx_cs)) != BC_OK)
		goto out;
	bc_rx_init(&c->rx, c->hello.max_frame);
	c->up = true;
	c->connects++;
out:
	bc_noise_hs_free(hs);
	sodium_memzero(payload, sizeof(payload));
	if (rc != BC_OK) {
		if (c->err[0] == '\0')
			set_err(c, rc, "connecting to the relay: %s",
				bc_strerror(rc));
		drop(c);
	}
	return rc;
}

/* ---- frames ------------------------------------------------------------- */

int bc_client_send_raw(bc_client *c, const uint8_t *p, size_t len)
{
	if (!c->up)
		return BC_ERR_STATE;
	return write_all(c, p, len,
			 mono_ms() + (uint64_t)c->o.io_timeout_ms);
}

int bc_client_send_frames(bc_client *c, const uint8_t *plain, size_t len)
{
	bc_wr w;
	uint8_t *buf;
	size_t n;
	int rc;
	if (!c->up || c->broken)
		return c->up ? BC_ERR_CLOSED : BC_ERR_STATE;
	bc_wr_init(&w, BC_CODEC_MAX);
	rc = bc_tx_seal(&c->tx, plain, len, &w);
	if (rc != BC_OK) {
		bc_wr_free(&w);
		return rc;
	}
	if ((rc = bc_wr_finish(&w, &buf, &n)) != BC_OK)
		return rc;
	rc = write_all(c, buf, n, mono_ms() + (uint64_t)c->o.io_timeout_ms);
	bc_free(buf);
	if (rc != BC_OK)
		breakconn(c);
	return rc;
}

int bc_client_recv_frame(bc_client *c, int timeout_ms, bc_frame *f)
{
	uint64_t deadline = mono_ms() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms);
	for (;;) {
		const uint8_t *fr;
		size_t len, got;
		int rc;
		if (!c->up || c->broken)
			return BC_ERR_CLOSED;
		rc = bc_rx_next(&c->rx, &fr, &len);
		if (rc == 1) {
			rc = bc_proto_decode(fr, len, true, f);
			if (rc != BC_OK) {
				set_err(c, rc, "malformed frame from the "
					       "relay");
				breakconn(c);
			}
			return rc;
		}
		if (rc < 0) {
			set_err(c, rc, "bad frame header from the relay");
			breakconn(c);
			return rc;
		}
		bc_rx_compact(&c->rx);
		rc = read_some(c, c->rbuf, sizeof(c->rbuf), &got, deadline);
		if (rc == BC_ERR_TIMEOUT)
			return rc;
		if (rc == BC_OK)
			rc = bc_rx_feed(&c->rx, &c->rx_cs, c->rbuf, got);
		if (rc != BC_OK) {
			if (rc == BC_ERR_AUTH)
				set_err(c, rc, "a record from the relay failed "
					       "authentication");
			breakconn(c);
			return rc;
		}
	}
}

static int queue_push(bc_client *c, const bc_frame *f)
{
	struct push *p;
	if (c->pq_n >= PUSHQ_MAX_MSGS ||
	    c->pq_bytes + f->data_len > PUSHQ_MAX_BYTES) {
		/* The relay keeps unacknowledged messages: reconnecting
		 * later redelivers what is dropped here. */
		drop(c);
		return set_err(c, BC_ERR_QUOTA, "push queue full");
	}
	p = bc_malloc(sizeof(*p) + f->data_len);
	if (p == NULL)
		return BC_ERR_NOMEM;
	p->next = NULL;
	memcpy(p->mailbox, f->mailbox, BC_MAILBOX_LEN);
	memcpy(p->id, f->msg_id, BC_MSGID_LEN);
	p->seq = f->seq;
	p->len = f->data_len;
	if (f->data_len)
		memcpy(p->body, f->data, f->data_len);
	if (c->pq_tail)
		c->pq_tail->next = p;
	else
		c->pq_head = p;
	c->pq_tail = p;
	c->pq_n++;
	c->pq_bytes += f->data_len;
	return BC_OK;
}

static int relay_error(bc_client *c, const bc_frame *f)
{
	int code = -(int)f->err_code;
	if (code >= 0 || code < BC_ERR_MIN)
		code = BC_ERR_PROTOCOL;
	set_err(c, code, "relay: %.*s", (int)f->err_text_len, f->err_text);
	return code;
}

typedef int (*build_fn)(bc_wr *w, uint32_t id, void *arg);
typedef int (*resp_fn)(bc_client *c, bc_frame *f, void *arg);

/* Send one request and wait for its response on the current connection. */
static int call_once(bc_client *c, uint8_t type, build_fn build,
		     resp_fn resp, void *arg)
{
	uint32_t id = bc_client_next_id(c);
	uint64_t deadline = mono_ms() + (uint64_t)c->o.io_timeout_ms;
	bc_wr w;
	uint8_t *buf;
	size_t n, start = 0;
	int rc;

	bc_wr_init(&w, (size_t)c->hello.max_frame);
	bc_proto_begin(&w, type, id);
	rc = build(&w, id, arg);
	if (rc == BC_OK)
		rc = bc_proto_end(&w, start);
	if (rc == BC_OK)
		rc = bc_wr_finish(&w, &buf, &n);
	else
		bc_wr_free(&w);
	if (rc != BC_OK)
		return set_err(c, rc, "cannot encode the request: %s",
			       bc_strerror(rc));
	rc = bc_client_send_frames(c, buf, n);
	bc_free_secret(buf, n);
	if (rc != BC_OK) {
		drop(c);
		return rc;
	}
	for (;;) {
		bc_frame f;
		uint64_t now = mono_ms();
		if (now >= deadline) {
			drop(c); /* a late answer must not be taken for
				    another request's */
			return set_err(c, BC_ERR_TIMEOUT,
				       "no answer from the relay");
		}
		rc = bc_client_recv_frame(c, (int)(deadline - now), &f);
		if (rc == BC_ERR_TIMEOUT)
			continue;
		if (rc != BC_OK) {
			drop(c);
			return rc;
		}
		if (f.type == BC_T_PUSH) {
			if ((rc = queue_push(c, &f)) != BC_OK)
				return rc;
			continue;
		}
		if (f.type == BC_T_ERROR && f.req_id == 0) {
			rc = relay_error(c, &f);
			drop(c);
			return rc;
		}
		if (f.req_id != id)
			continue; /* answer to an abandoned request */
		if (f.type == BC_T_ERROR)
			return relay_error(c, &f);
		if (f.type != (BC_T_RESPONSE | type)) {
			drop(c);
			return set_err(c, BC_ERR_PROTOCOL,
				       "unexpected %s frame from the relay",
				       bc_proto_type_name(f.type));
		}
		return resp ? resp(c, &f, arg) : BC_OK;
	}
}

static bool retryable(int rc)
{
	return rc == BC_ERR_IO || rc == BC_ERR_CLOSED ||
	       rc == BC_ERR_TIMEOUT || rc == BC_ERR_UNAVAILABLE;
}

/* Arguments and results of one request, shared by its build and response
 * functions. */
struct rq {
	const uint8_t *mailbox;
	const uint8_t *cap;
	const uint8_t *msg_id;
	const bc_client_copy *copies;
	const uint8_t (*ids)[BC_MSGID_LEN];
	const uint8_t *blob;
	size_t blob_len;
	const uint8_t *const *blobs;
	const size_t *lens;
	size_t n;
	uint64_t after;
	uint8_t nonce[16];
	uint64_t t0;
	bc_client_msg_cb cb;
	void *ctx;
	/* results */
	bool flag;
	uint32_t count;
	bc_mbox_status st;
	uint8_t *out1, *out2;
	size_t out1_len, out2_len;
};

static int build_mailbox(bc_wr *w, uint32_t id, void *arg)
{
	struct rq *q = arg;
	(void)id;
	return bc_wr_raw(w, q->mailbox, BC_MAILBOX_LEN);
}

/* Connect if needed and restore subscriptions. */
static int ensure_up(bc_client *c)
{
	int rc;
	if (c->up && !c->broken)
		return BC_OK;
	if ((rc = bc_client_connect(c)) != BC_OK)
		return rc;
	for (size_t i = 0; i < c->nsubs; i++) {
		struct rq q = {.mailbox = c->subs[i]};
		rc = call_once(c, BC_T_SUBSCRIBE, build_mailbox, NULL, &q);
		if (rc != BC_OK)
			return rc;
	}
	return BC_OK;
}

static void pause_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* A request with reconnects and backoff while the budget lasts. */
static int call(bc_client *c, uint8_t type, build_fn build, resp_fn resp,
		void *arg)
{
	uint64_t deadline = mono_ms() + (uint64_t)c->o.retry_budget_ms;
	int backoff = c->o.backoff_initial_ms;
	for (;;) {
		int rc = ensure_up(c);
		int pause;
		if (rc == BC_OK)
			rc = call_once(c, type, build, resp, arg);
		if (rc == BC_OK || !retryable(rc))
			return rc;
		/* Jitter: between half and all of the backoff. */
		pause = backoff / 2 +
			(int)randombytes_uniform((uint32_t)(backoff / 2 + 1));
		if (mono_ms() + (uint64_t)pause >= deadline)
			return rc;
		pause_ms(pause);
		backoff = backoff * 2 > c->o.backoff_max_ms ? c->o.backoff_max_ms
							    : backoff * 2;
	}
}

/* ---- requests ----------------------------------------------------------- */

static int build_ping(bc_wr *w, uint32_t id, void *arg)
{
	struct rq *q = arg;
	(void)id;
	q->t0 = mono_us();
	return bc_wr_bytes(w, q->nonce, sizeof(q->nonce));
}

static int resp_ping(bc_client *c, bc_frame *f, void *arg)
{
	struct rq *q = arg;
	if (f->data_len != sizeof(q->nonce) ||
	    memcmp(f->data, q->nonce, sizeof(q->nonce)) != 0)
		return set_err(c, BC_ERR_PROTOCOL, "bad pong");
	return BC_OK;
}

int bc_client_ping(bc_client *c, uint64_t *rtt_us)
{
	struct rq q = {0};
	int rc;
	randombytes_buf(q.nonce, sizeof(q.nonce));
	rc = call(c, BC_T_PING, build_ping, resp_ping, &q);
	if (rc == BC_OK && rtt_us)
		*rtt_us = mono_us() - q.t0;
	return rc;
}

static int resp_open(bc_client *c, bc_frame *f, void *arg)
{
	struct rq *q = arg;
	(void)c;
	q->st = f->status;
	return BC_OK;
}

int bc_client_open(bc_client *c, const uint8_t mailbox[BC_MAILBOX_LEN],
		   bc_mbox_status *st)
{
	struct rq q = {.mailbox = mailbox};
	int rc = call(c, BC_T_OPEN, build_mailbox, resp_open, &q);
	if (rc == BC_OK && st)
		*st = q.st;
	return rc;
}

static int build_cap(bc_wr *w, uint32_t id, void *arg)
{
	struct rq *q = arg;
	uint8_t h[BC_CAPHASH_LEN];
	int rc;
	(void)id;
	if ((rc = bc_proto_cap_hash(q->mailbox, q->cap, h)) != BC_OK)
		return rc;
	bc_wr_raw(w, q->mailbox, BC_MAILBOX_LEN);
	return bc_wr_raw(w, h, sizeof(h));
}

int bc_client_cap_add(bc_client *c, const uint8_t mailbox[BC_MAILBOX_LEN],
		      const uint8_t token[BC_CAP_LEN])
{
	struct rq q = {.mailbox = mailbox, .cap = token};
	return call(c, BC_T_CAP_ADD, build_cap, NULL, &q);
}

int bc_client_cap_revoke(bc_client *c, const uint8_t mailbox[BC_MAILBOX_LEN],
			 const uint8_t token[BC_CAP_LEN])
{
	struct rq q = {.mailbox = mailbox, .cap = token};
	return call(c, BC_T_CAP_REVOKE, build_cap, NULL, &q);
}

static int build_post(bc_wr *w, uint32_t id, void *arg)
{
	struct rq *q = arg;
	(void)id;
	bc_wr_raw(w, q->msg_id, BC_MSGID_LEN);
	bc_wr_u16(w, (uint16_t)q->n);
	for (size_t i = 0; i < q->n; i++) {
		bc_wr_raw(w, q->copies[i].mailbox, BC_MAILBOX_LEN);
		bc_wr_raw(w, q->copies[i].cap, BC_CAP_LEN);
		bc_wr_bytes(w, q->copies[i].body, q->copies[i].body_len);
	}
	return bc_wr_err(w);
}

static int resp_flag(bc_client *c, bc_frame *f, void *arg)
{
	struct rq *q = arg;
	(void)c;
	q->flag = f->flag;
	return BC_OK;
}

int bc_client_post(bc_client *c, const uint8_t msg_id[BC_MSGID_LEN],
		   const bc_client_copy *copies, size_t n, bool *dup)
{
	struct rq q = {.msg_id = msg_id, .copies = copies, .n = n};
	int rc;
	if (n == 0 || n > BC_PROTO_MAX_COPIES)
		return set_err(c, BC_ERR_INVALID, "a post has 1 to %d copies",
			       BC_PROTO_MAX_COPIES);
	rc = call(c, BC_T_POST, build_post, resp_flag, &q);
	if (rc == BC_OK && dup)
		*dup = q.flag;
	return rc;
}

static int build_fetch(bc_wr *w, uint32_t id, void *arg)
{
	struct rq *q = arg;
	(void)id;
	bc_wr_raw(w, q->mailbox, BC_MAILBOX_LEN);
	bc_wr_u64(w, q->after);
	return bc_wr_u32(w, (uint32_t)q->n);
}

static int resp_fetch(bc_client *c, bc_frame *f, void *arg)
{
	struct rq *q = arg;
	(void)c;
	q->flag = f->flag;
	for (uint16_t i = 0; i < f->count; i++) {
		bc_msg_item m;
		int rc = bc_proto_next_msg(f, &m);
		if (rc != BC_OK)
			return rc;
		if (q->cb && (rc = q->cb(q->ctx, q->mailbox, &m)) != BC_OK)
			return rc;
	}
	return BC_OK;
}

int bc_client_fetch(bc_client *c, const uint8_t mailbox[BC_MAILBOX_LEN],
		    uint64_t after_seq, uint32_t max, bc_client_msg_cb cb,
		    void *ctx, bool *more)
{
	struct rq q = {.mailbox = mailbox, .after = after_seq, .cb = cb,
		       .ctx = ctx};
	int rc;
	if (max == 0 || max > BC_PROTO_MAX_FETCH)
		max = BC_PROTO_MAX_FETCH;
	q.n = max;
	rc = call(c, BC_T_FETCH, build_fetch, resp_fetch, &q);
	if (rc == BC_OK && more)
		*more = q.flag;
	return rc;
}

int bc_client_subscribe(bc_client *c, const uint8_t mailbox[BC_MAILBOX_LEN])
{
	struct rq q = {.mailbox = mailbox};
	int rc;
	for (size_t i = 0; i < c->nsubs; i++)
		if (memcmp(c->subs[i], mailbox, BC_MAILBOX_LEN) == 0)
			return BC_OK;
	if (c->nsubs == c->capsubs) {
		size_t ncap = c->capsubs ? c->capsubs * 2 : 4;
		uint8_t(*n)[BC_MAILBOX_LEN] =
			bc_realloc(c->subs, ncap * BC_MAILBOX_LEN);
		if (n == NULL)
			return BC_ERR_NOMEM;
		c->subs = n;
		c->capsubs = ncap;
	}
	/* Record first: ensure_up() re-subscribes after a reconnect, which
	 * call() may do before the request itself. */
	memcpy(c->subs[c->nsubs++], mailbox, BC_MAILBOX_LEN);
	rc = call(c, BC_T_SUBSCRIBE, build_mailbox, NULL, &q);
	if (rc != BC_OK)
		c->nsubs--;
	return rc;
}

int bc_client_unsubscribe(bc_client *c, const uint8_t mailbox[BC_MAILBOX_LEN])
{
	struct rq q = {.mailbox = mailbox};
	for (size_t i = 0; i < c->nsubs; i++)
		if (memcmp(c->subs[i], mailbox, BC_MAILBOX_LEN) == 0) {
			memmove(c->subs[i], c->subs[i + 1],
				(c->nsubs - i - 1) * BC_MAILBOX_LEN);
			c->nsubs--;
			break;
		}
	if (!c->up)
		return BC_OK;
	return call(c, BC_T_UNSUBSCRIBE, build_mailbox, NULL, &q);
}

static int deliver_queued(bc_client *c, bc_client_msg_cb cb, void *ctx,
			  int *count)
{
	while (c->pq_head != NULL) {
		struct push *p = c->pq_head;
		bc_msg_item m = {p->seq, p->id, p->body, p->len};
		int rc;
		c->pq_head = p->next;
		if (c->pq_head == NULL)
			c->pq_tail = NULL;
		c->pq_n--;
		c->pq_bytes -= p->len;
		rc = cb(ctx, p->mailbox, &m);
		bc_free_secret(p, sizeof(*p) + p->len);
		if (rc != BC_OK)
			return rc;
		(*count)++;
	}
	return BC_OK;
}

static int build_keepalive(bc_wr *w, uint32_t id, void *arg)
{
	(void)id;
	(void)arg;
	return bc_wr_bytes(w, NULL, 0);
}

int bc_client_poll_push(bc_client *c, int timeout_ms, bc_client_msg_cb cb,
			void *ctx)
{
	uint64_t deadline = mono_ms() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms);
	int count = 0, rc, backoff = c->o.backoff_initial_ms;
	if ((rc = deliver_queued(c, cb, ctx, &count)) != BC_OK)
		return rc;
	while (count == 0) {
		bc_frame f;
		uint64_t now = mono_ms();
		if (now >= deadline)
			break;
		if (!c->up || c->broken) {
			rc = ensure_up(c);
			if (rc != BC_OK) {
				if (!retryable(rc))
					return rc;
				pause_ms(backoff);
				backoff = backoff * 2 > c->o.backoff_max_ms
						  ? c->o.backoff_max_ms
						  : backoff * 2;
				continue;
			}
			if ((rc = deliver_queued(c, cb, ctx, &count)) != BC_OK)
				return rc;
			continue;
		}
		if (now - c->last_send_ms > KEEPALIVE_MS) {
			/* Keep the relay's idle timer from firing; the pong
			 * is skipped below as an answer to nobody. */
			bc_wr w;
			uint8_t *buf;
			size_t n;
			bc_wr_init(&w, 64);
			bc_proto_begin(&w, BC_T_PING, bc_client_next_id(c));
			(void)build_keepalive(&w, 0, NULL);
			(void)bc_proto_end(&w, 0);
			if (bc_wr_finish(&w, &buf, &n) == BC_OK) {
				rc = bc_client_send_frames(c, buf, n);
				bc_free(buf);
				/* On failure the connection was dropped; the
				 * loop top re-establishes it. */
				(void)rc;
			}
			continue;
		}
		{
			uint64_t slice = deadline - now;
			if (slice > KEEPALIVE_MS / 2)
				slice = KEEPALIVE_MS / 2;
			rc = bc_client_recv_frame(c, (int)slice, &f);
		}
		if (rc == BC_ERR_TIMEOUT)
			continue;
		if (rc != BC_OK) {
			drop(c); /* reconnect at the loop top */
			continue;
		}
		if (f.type == BC_T_PUSH) {
			bc_msg_item m = {f.seq, f.msg_id, f.data, f.data_len};
			if ((rc = cb(ctx, f.mailbox, &m)) != BC_OK)
				return rc;
			count++;
		} else if (f.type == BC_T_ERROR && f.req_id == 0) {
			rc = relay_error(c, &f);
			drop(c);
			if (!retryable(rc))
				return rc;
		}
	}
	return count;
}

static int build_ack(bc_wr *w, uint32_t id, void *arg)
{
	struct rq *q = arg;
	(void)id;
	bc_wr_raw(w, q->mailbox, BC_MAILBOX_LEN);
	bc_wr_u16(w, (uint16_t)q->n);
	for (size_t i = 0; i < q->n; i++)
		bc_wr_raw(w, q->ids[i], BC_MSGID_LEN);
	return bc_wr_err(w);
}

static int resp_count(bc_client *c, bc_frame *f, void *arg)
{
	struct rq *q = arg;
	(void)c;
	q->count = f->type == (BC_T_RESPONSE | BC_T_ACK) ? f->count : f->n;
	return BC_OK;
}

int bc_client_ack(bc_client *c, const uint8_t mailbox[BC_MAILBOX_LEN],
		  const uint8_t (*ids)[BC_MSGID_LEN], size_t n,
		  uint16_t *acked)
{
	uint32_t total = 0;
	while (n > 0) {
		size_t k = n > BC_PROTO_MAX_ACKS ? BC_PROTO_MAX_ACKS : n;
		struct rq q = {.mailbox = mailbox, .ids = ids, .n = k};
		int rc = call(c, BC_T_ACK, build_ack, resp_count, &q);
		if (rc != BC_OK)
			return rc;
		total += q.count;
		ids += k;
		n -= k;
	}
	if (acked)
		*acked = total > UINT16_MAX ? UINT16_MAX : (uint16_t)total;
	return BC_OK;
}

static int build_prekey_put(bc_wr *w, uint32_t id, void *arg)
{
	struct rq *q = arg;
	(void)id;
	bc_wr_raw(w, q->mailbox, BC_MAILBOX_LEN);
	bc_wr_bool(w, q->blob != NULL);
	if (q->blob != NULL)
		bc_wr_bytes(w, q->blob, q->blob_len);
	bc_wr_u16(w, (uint16_t)q->n);
	for (size_t i = 0; i < q->n; i++)
		bc_wr_bytes(w, q->blobs[i], q->lens[i]);
	return bc_wr_err(w);
}

int bc_client_prekey_put(bc_client *c, const uint8_t mailbox[BC_MAILBOX_LEN],
			 const uint8_t *signed_blob, size_t signed_len,
			 const uint8_t *const *blobs, const size_t *lens,
			 size_t n, uint32_t *remaining)
{
	struct rq q = {.mailbox = mailbox, .blob = signed_blob,
		       .blob_len = signed_len, .blobs = blobs, .lens = lens,
		       .n = n};
	int rc;
	if (n > BC_PROTO_MAX_PREKEYS)
		return set_err(c, BC_ERR_INVALID,
			       "at most %d one-time prekeys per upload",
			       BC_PROTO_MAX_PREKEYS);
	rc = call(c, BC_T_PREKEY_PUT, build_prekey_put, resp_count, &q);
	if (rc == BC_OK && remaining)
		*remaining = q.count;
	return rc;
}

static int build_prekey_get(bc_wr *w, uint32_t id, void *arg)
{
	struct rq *q = arg;
	(void)id;
	bc_wr_raw(w, q->mailbox, BC_MAILBOX_LEN);
	return bc_wr_raw(w, q->cap, BC_CAP_LEN);
}

static int resp_prekey_get(bc_client *c, bc_frame *f, void *arg)
{
	struct rq *q = arg;
	(void)c;
	q->out1 = bc_memdup(f->data, f->data_len);
	q->out1_len = f->data_len;
	if (q->out1 == NULL)
		return BC_ERR_NOMEM;
	if (f->flag) {
		q->out2 = bc_memdup(f->data2, f->data2_len);
		q->out2_len = f->data2_len;
		if (q->out2 == NULL) {
			bc_free(q->out1);
			q->out1 = NULL;
			return BC_ERR_NOMEM;
		}
	}
	return BC_OK;
}

int bc_client_prekey_get(bc_client *c, const uint8_t mailbox[BC_MAILBOX_LEN],
			 const uint8_t token[BC_CAP_LEN], uint8_t **signed_blob,
			 size_t *signed_len, uint8_t **onetime_blob,
			 size_t *onetime_len)
{
	struct rq q = {.mailbox = mailbox, .cap = token};
	int rc;
	*signed_blob = *onetime_blob = NULL;
	*signed_len = *onetime_len = 0;
	rc = call(c, BC_T_PREKEY_GET, build_prekey_get, resp_prekey_get, &q);
	if (rc != BC_OK)
		return rc;
	*signed_blob = q.out1;
	*signed_len = q.out1_len;
	*onetime_blob = q.out2;
	*onetime_len = q.out2_len;
	return BC_OK;
}
