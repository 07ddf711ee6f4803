/*
 * server.c - the relay's network side (see server.h, docs/PROTOCOL.md).
 *
 * Connection states:
 *
 *   PREAMBLE --8 bytes ok--> HS1 --msg1 read, msg2 sent--> HS3
 *   HS3 --msg3 ok--> OPEN --protocol error--> DRAINING --> closed
 *   any --I/O error, timeout, handshake failure--> closed
 *
 * Group commit: requests are executed inside one storage transaction per
 * loop pass (begun lazily); their responses accumulate in each connection's
 * plaintext output buffer. In the check phase (after I/O of the pass) the
 * transaction is committed; on success the outputs (and pushes, which are
 * read back from storage after the commit) are encrypted and written; on
 * failure the outputs are discarded and every request of the pass is
 * answered with BC_ERR_UNAVAILABLE. So no response ever reports something
 * that is not durable.
 *
 * Pushes: a subscription (connection, mailbox) has a cursor (highest seq
 * pushed) and a count of pushes not yet acknowledged; it is "refilled" from
 * storage (seq > cursor, at most push_window in flight) after a commit that
 * posted to its mailbox, after acks, and when a slow reader drains.
 *
 * Memory: an idle connection holds its uv_tcp_t and struct conn only; the
 * handshake state and all buffers are allocated while in use. Reads go
 * through one loop-wide buffer.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"
#include "log.h"
#include "noise.h"
#include "proto.h"
#include "server.h"
#include "transport.h"

#define WRITE_HIGH (4u << 20) /* stop reading above this many bytes queued */
#define WRITE_LOW (1u << 20)  /* resume below */
#define REFILL_BYTES (1u << 20) /* push at most this much per pass per conn */
#define DRAIN_TIMEOUT_MS 5000

enum conn_state { ST_PREAMBLE, ST_HS1, ST_HS3, ST_OPEN, ST_DRAINING };

struct hs_ctx {
	bc_noise_hs *hs;
	uint8_t buf[128]; /* handshake bytes received so far */
	uint32_t len;
};

struct sub;

struct conn {
	uv_tcp_t tcp; /* first: the handle's data points back here anyway */
	struct bc_server *srv;
	struct conn *prev, *next;  /* all connections */
	struct conn *dirty_next;   /* connections with output this pass */
	struct hs_ctx *hs;
	struct sub *subs;
	bc_noise_cs tx, rx_cs;
	bc_rx rx;
	bc_wr out;                 /* plaintext frames for this pass */
	uint32_t *ids;             /* request ids answered this pass */
	uint32_t nids, capids;
	uint64_t created_ms, active_ms, drain_ms;
	double tokens;
	uint64_t tokens_ms;
	size_t write_pending;
	uint32_t id;
	uint32_t nsubs;
	uint8_t peer[32];
	uint8_t state;
	bool in_dirty, closing, reading, shut;
	bool refill_cut; /* a refill stopped at REFILL_BYTES / WRITE_HIGH */
	char addr[INET6_ADDRSTRLEN + 8];
};

struct sub {
	uint8_t mailbox[BC_MAILBOX_LEN];
	struct conn *c;
	struct sub *hnext;  /* hash bucket chain */
	struct sub *cnext;  /* the connection's subscriptions */
	struct sub *rnext;  /* refill list */
	uint64_t cursor;
	uint32_t in_flight;
	bool in_refill;
};

struct wreq {
	uv_write_t req;
	struct conn *c;
	size_t len;
	uint8_t *buf;
	size_t cap;
};

struct bc_server {
	uv_loop_t *loop;
	uv_tcp_t listener;
	uv_check_t check;
	uv_timer_t sweep;
	bc_relay_config cfg;
	uint8_t priv[32], pub[32];
	const bc_storage_ops *ops;
	bc_storage *st;
	bool in_tx, listening, shutting_down;
	struct conn *conns;
	struct conn *dirty;
	struct sub **buckets;
	size_t nbuckets, nsubs;
	struct sub *refill;
	uint8_t hashkey[crypto_shorthash_KEYBYTES];
	uint32_t next_id;
	bc_server_stats stats;
	uint8_t rbuf[65536];
};

static void conn_close(struct conn *c, const char *reason);
static void conn_fail(struct conn *c, int err, const char *reason);
static void schedule_refill(struct sub *s);

/* ---- small helpers ------------------------------------------------------ */

static uint64_t now_ms(struct bc_server *s)
{
	return uv_now(s->loop);
}

static void mark_dirty(struct conn *c)
{
	if (!c->in_dirty) {
		c->in_dirty = true;
		c->dirty_next = c->srv->dirty;
		c->srv->dirty = c;
	}
}

static int note_id(struct conn *c, uint32_t id)
{
	if (c->nids == c->capids) {
		uint32_t ncap = c->capids ? c->capids * 2 : 8;
		uint32_t *n = bc_realloc(c->ids, ncap * sizeof(*n));
		if (n == NULL)
			return BC_ERR_NOMEM;
		c->ids = n;
		c->capids = ncap;
	}
	c->ids[c->nids++] = id;
	return BC_OK;
}

static int tx_begin(struct bc_server *s)
{
	int rc;
	if (s->in_tx)
		return BC_OK;
	rc = s->ops->begin(s->st);
	if (rc == BC_OK)
		s->in_tx = true;
	return rc;
}

/* ---- subscriptions ------------------------------------------------------ */

static size_t bucket_of(struct bc_server *s, const uint8_t *mailbox)
{
	uint8_t h[crypto_shorthash_BYTES];
	crypto_shorthash(h, mailbox, BC_MAILBOX_LEN, s->hashkey);
	return (size_t)(bc_load64(h) & (s->nbuckets - 1));
}

static int grow_buckets(struct bc_server *s)
{
	size_t n = s->nbuckets ? s->nbuckets * 2 : 256;
	struct sub **nb = bc_calloc(n, sizeof(*nb));
	size_t old = s->nbuckets;
	struct sub **ob = s->buckets;
	if (nb == NULL)
		return BC_ERR_NOMEM;
	s->buckets = nb;
	s->nbuckets = n;
	for (size_t i = 0; i < old; i++) {
		struct sub *x = ob[i], *nx;
		for (; x != NULL; x = nx) {
			size_t b = bucket_of(s, x->mailbox);
			nx = x->hnext;
			x->hnext = nb[b];
			nb[b] = x;
		}
	}
	bc_free(ob);
	return BC_OK;
}

static struct sub *conn_find_sub(struct conn *c, const uint8_t *mailbox)
{
	for (struct sub *x = c->subs; x != NULL; x = x->cnext)
		if (memcmp(x->mailbox, mailbox, BC_MAILBOX_LEN) == 0)
			return x;
	return NULL;
}

static void sub_unlink(struct bc_server *s, struct sub *x)
{
	struct sub **pp = &s->buckets[bucket_of(s, x->mailbox)];
	while (*pp != NULL && *pp != x)
		pp = &(*pp)->hnext;
	if (*pp == x)
		*pp = x->hnext;
	if (x->in_refill) {
		pp = &s->refill;
		while (*pp != NULL && *pp != x)
			pp = &(*pp)->rnext;
		if (*pp == x)
			*pp = x->rnext;
	}
	pp = &x->c->subs;
	while (*pp != NULL && *pp != x)
		pp = &(*pp)->cnext;
	if (*pp == x)
		*pp = x->cnext;
	x->c->nsubs--;
	s->nsubs--;
	bc_free(x);
}

static void schedule_mailbox(struct bc_server *s, const uint8_t *mailbox)
{
	if (s->nbuckets == 0)
		return;
	for (struct sub *x = s->buckets[bucket_of(s, mailbox)]; x != NULL;
	     x = x->hnext)
		if (memcmp(x->mailbox, mailbox, BC_MAILBOX_LEN) == 0)
			schedule_refill(x);
}

static void schedule_refill(struct sub *x)
{
	struct bc_server *s = x->c->srv;
	if (x->in_refill || x->c->closing)
		return;
	x->in_refill = true;
	x->rnext = s->refill;
	s->refill = x;
}

struct push_ctx {
	struct sub *sub;
	int err;
	uint32_t room;
};

static int push_cb(void *ctx, const bc_stored_msg *m)
{
	struct push_ctx *p = ctx;
	struct conn *c = p->sub->c;
	size_t start = c->out.len;
	if (p->room == 0)
		return 1; /* stop: window full */
	if (c->out.len >= REFILL_BYTES) {
		c->refill_cut = true; /* resumed by on_write */
		return 1; /* stop: enough for this pass */
	}
	bc_proto_begin(&c->out, BC_T_PUSH, 0);
	bc_wr_raw(&c->out, p->sub->mailbox, BC_MAILBOX_LEN);
	bc_wr_u64(&c->out, m->seq);
	bc_wr_raw(&c->out, m->msg_id, BC_MSGID_LEN);
	bc_wr_bytes(&c->out, m->body, m->body_len);
	if ((p->err = bc_proto_end(&c->out, start)) != BC_OK)
		return p->err;
	p->sub->cursor = m->seq;
	p->sub->in_flight++;
	p->room--;
	c->srv->stats.pushes++;
	return BC_OK;
}

static void refill(struct sub *x)
{
	struct conn *c = x->c;
	struct bc_server *s = c->srv;
	struct push_ctx p = {x, BC_OK, 0};
	int rc;
	if (c->closing || c->state != ST_OPEN ||
	    x->in_flight >= s->cfg.push_window)
		return;
	if (c->write_pending >= WRITE_HIGH) {
		c->refill_cut = true; /* resumed by on_write */
		return;
	}
	p.room = s->cfg.push_window - x->in_flight;
	rc = s->ops->fetch(s->st, x->mailbox, x->cursor, p.room, SIZE_MAX,
			   push_cb, &p);
	if (rc < 0) {
		bc_log(BC_LOG_WARN, "push-failed", "conn=%u err=%s", c->id,
		       bc_errname(rc));
		if (p.err != BC_OK)
			conn_fail(c, p.err, "cannot encode push");
	}
	if (c->out.len > 0)
		mark_dirty(c);
}

/* ---- output ------------------------------------------------------------- */

static void on_shutdown(uv_shutdown_t *req, int status)
{
	struct conn *c = req->data;
	(void)status;
	bc_free(req);
	conn_close(c, NULL);
}

static void start_shutdown(struct conn *c)
{
	uv_shutdown_t *req;
	if (c->shut || c->closing)
		return;
	c->shut = true;
	req = bc_malloc(sizeof(*req));
	if (req == NULL) {
		conn_close(c, NULL);
		return;
	}
	req->data = c;
	if (uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
		bc_free(req);
		conn_close(c, NULL);
	}
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);
static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void process_frames(struct conn *c);

static void on_write(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	struct conn *c = w->c;
	c->write_pending -= w->len;
	bc_free_secret(w->buf, w->cap);
	bc_free(w);
	if (c->closing)
		return;
	if (status < 0) {
		conn_close(c, "write failed");
		return;
	}
	/* A refill cut short for this connection's sake resumes for all its
	 * subscriptions once the peer has read enough: otherwise a mailbox
	 * that lost its turn would wait for its next post or ack. */
	if (c->refill_cut && c->state == ST_OPEN &&
	    c->write_pending + c->out.len < WRITE_LOW) {
		c->refill_cut = false;
		for (struct sub *x = c->subs; x != NULL; x = x->cnext)
			schedule_refill(x);
	}
	if (!c->reading && c->state == ST_OPEN &&
	    c->write_pending + c->out.len < WRITE_LOW) {
		if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) !=
		    0) {
			conn_close(c, "cannot read");
			return;
		}
		c->reading = true;
		for (struct sub *x = c->subs; x != NULL; x = x->cnext)
			schedule_refill(x);
		process_frames(c); /* frames left buffered by backpressure */
	}
}

/* Queue raw bytes (ownership of buf passes here). */
static int write_raw(struct conn *c, uint8_t *buf, size_t len, size_t cap)
{
	struct wreq *w;
	uv_buf_t b;
	if (c->closing) {
		bc_free_secret(buf, cap);
		return BC_ERR_CLOSED;
	}
	w = bc_malloc(sizeof(*w));
	if (w == NULL) {
		bc_free_secret(buf, cap);
		return BC_ERR_NOMEM;
	}
	w->c = c;
	w->len = len;
	w->buf = buf;
	w->cap = cap;
	b = uv_buf_init((char *)buf, (unsigned int)len);
	if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0) {
		bc_free_secret(buf, cap);
		bc_free(w);
		return BC_ERR_IO;
	}
	c->write_pending += len;
	if (c->reading && c->write_pending > WRITE_HIGH) {
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->reading = false;
	}
	return BC_OK;
}

static void flush(struct conn *c)
{
	bc_wr rec;
	uint8_t *buf;
	size_t len, cap;
	int rc;
	if (c->closing)
		return;
	if (c->out.len > 0) {
		bc_wr_init(&rec, BC_CODEC_MAX);
		rc = bc_tx_seal(&c->tx, c->out.buf, c->out.len, &rec);
		bc_wr_free(&c->out);
		cap = rec.cap;
		if (rc == BC_OK)
			rc = bc_wr_finish(&rec, &buf, &len);
		else
			bc_wr_free(&rec);
		if (rc == BC_OK)
			rc = write_raw(c, buf, len, cap);
		if (rc != BC_OK) {
			conn_close(c, "cannot write");
			return;
		}
	}
	if (c->state == ST_DRAINING)
		start_shutdown(c);
}

/* ---- responses ---------------------------------------------------------- */

static void reply_error(struct conn *c, uint32_t req_id, int err,
			const char *text)
{
	if (bc_proto_write_error(&c->out, req_id, err, text) != BC_OK)
		c->out.err = BC_OK; /* cannot happen with a short text */
	mark_dirty(c);
}

static int owner_check(struct conn *c, const uint8_t *mailbox)
{
	struct bc_server *s = c->srv;
	uint8_t owner[BC_OWNER_KEY_LEN];
	int rc = s->ops->mailbox_owner(s->st, mailbox, owner);
	if (rc != BC_OK)
		return rc;
	if (sodium_memcmp(owner, c->peer, 32) != 0)
		return BC_ERR_FORBIDDEN;
	return BC_OK;
}

static const char *owner_text(int rc)
{
	switch (rc) {
	case BC_ERR_NOTFOUND: return "no such mailbox";
	case BC_ERR_FORBIDDEN: return "mailbox belongs to another key";
	default: return "storage failure";
	}
}

static bool rate_ok(struct conn *c)
{
	struct bc_server *s = c->srv;
	uint64_t t = now_ms(s);
	if (s->cfg.posts_per_second == 0)
		return true;
	c->tokens += (double)(t - c->tokens_ms) * s->cfg.posts_per_second /
		     1000.0;
	c->tokens_ms = t;
	if (c->tokens > s->cfg.post_burst)
		c->tokens = s->cfg.post_burst;
	if (c->tokens < 1.0)
		return false;
	c->tokens -= 1.0;
	return true;
}

static void handle_post(struct conn *c, bc_frame *f)
{
	struct bc_server *s = c->srv;
	bc_post_copy copies[BC_PROTO_MAX_COPIES];
	char text[128];
	bool dup = false;
	size_t start;
	int rc;

	if (f->count > s->cfg.max_copies) {
		snprintf(text, sizeof(text), "more than %u copies in one post",
			 s->cfg.max_copies);
		reply_error(c, f->req_id, BC_ERR_TOOBIG, text);
		return;
	}
	if (!rate_ok(c)) {
		reply_error(c, f->req_id, BC_ERR_QUOTA,
			    "post rate limit exceeded; slow down");
		return;
	}
	for (uint16_t i = 0; i < f->count; i++) {
		bc_post_item it;
		uint8_t h[BC_CAPHASH_LEN];
		if (bc_proto_next_post(f, &it) != BC_OK) {
			reply_error(c, f->req_id, BC_ERR_INTERNAL, "decode");
			return;
		}
		if (it.body_len > s->cfg.lim.max_body) {
			snprintf(text, sizeof(text),
				 "copy %u: body exceeds max_body (%u bytes)",
				 i, s->cfg.lim.max_body);
			reply_error(c, f->req_id, BC_ERR_TOOBIG, text);
			return;
		}
		for (uint16_t j = 0; j < i; j++)
			if (memcmp(copies[j].mailbox, it.mailbox,
				   BC_MAILBOX_LEN) == 0) {
				reply_error(c, f->req_id, BC_ERR_MALFORMED,
					    "a mailbox appears twice in one "
					    "post");
				return;
			}
		if ((rc = bc_proto_cap_hash(it.mailbox, it.cap, h)) != BC_OK ||
		    (rc = s->ops->cap_check(s->st, it.mailbox, h)) != BC_OK) {
			snprintf(text, sizeof(text),
				 "copy %u: capability refused", i);
			reply_error(c, f->req_id,
				    rc == BC_ERR_CAPABILITY ? rc
							    : BC_ERR_UNAVAILABLE,
				    rc == BC_ERR_CAPABILITY ? text
							    : "storage failure");
			return;
		}
		copies[i].mailbox = it.mailbox;
		copies[i].body = it.body;
		copies[i].body_len = it.body_len;
	}
	rc = s->ops->post(s->st, f->msg_id, copies, f->count, NULL, &dup);
	if (rc != BC_OK) {
		const char *t = rc == BC_ERR_QUOTA	? "mailbox quota exceeded"
				: rc == BC_ERR_TOOBIG	? "message too big"
				: rc == BC_ERR_NOTFOUND ? "no such mailbox"
							: "storage failure";
		reply_error(c, f->req_id,
			    rc == BC_ERR_STORAGE ? BC_ERR_UNAVAILABLE : rc, t);
		return;
	}
	s->stats.posts++;
	if (dup)
		s->stats.posts_dup++;
	start = c->out.len;
	bc_proto_begin(&c->out, BC_T_RESPONSE | BC_T_POST, f->req_id);
	bc_wr_bool(&c->out, dup);
	(void)bc_proto_end(&c->out, start);
	if (!dup)
		for (uint16_t i = 0; i < f->count; i++)
			schedule_mailbox(s, copies[i].mailbox);
}

struct fetch_ctx {
	struct conn *c;
	uint32_t max;
	uint32_t n;
	size_t bytes, max_bytes;
	bool more;
	int err;
};

static int fetch_cb(void *ctx, const bc_stored_msg *m)
{
	struct fetch_ctx *p = ctx;
	bc_wr *w = &p->c->out;
	size_t need = 8 + BC_MSGID_LEN + 4 + m->body_len;
	if (p->n == p->max || (p->n > 0 && p->bytes + need > p->max_bytes)) {
		p->more = true;
		return 1;
	}
	bc_wr_u64(w, m->seq);
	bc_wr_raw(w, m->msg_id, BC_MSGID_LEN);
	if ((p->err = bc_wr_bytes(w, m->body, m->body_len)) != BC_OK)
		return p->err;
	p->n++;
	p->bytes += need;
	return BC_OK;
}

static void handle_fetch(struct conn *c, bc_frame *f)
{
	struct bc_server *s = c->srv;
	struct fetch_ctx p = {c, f->n, 0, 0, 0, false, BC_OK};
	size_t start, flagpos;
	int rc = owner_check(c, f->mailbox);
	if (rc != BC_OK) {
		reply_error(c, f->req_id,
			    rc == BC_ERR_STORAGE ? BC_ERR_UNAVAILABLE : rc,
			    owner_text(rc));
		return;
	}
	p.max_bytes = s->cfg.max_frame - 64;
	start = c->out.len;
	bc_proto_begin(&c->out, BC_T_RESPONSE | BC_T_FETCH, f->req_id);
	flagpos = c->out.len;
	bc_wr_bool(&c->out, false);
	bc_wr_u16(&c->out, 0);
	rc = s->ops->fetch(s->st, f->mailbox, f->seq, f->n + 1, SIZE_MAX,
			   fetch_cb, &p);
	if ((rc < 0 || p.err != BC_OK || c->out.err != BC_OK)) {
		/* Drop the partial response. */
		c->out.err = BC_OK;
		c->out.len = start;
		reply_error(c, f->req_id, BC_ERR_UNAVAILABLE,
			    "storage failure");
		return;
	}
	c->out.buf[flagpos] = p.more ? 1 : 0;
	bc_store16(c->out.buf + flagpos + 1, (uint16_t)p.n);
	(void)bc_proto_end(&c->out, start);
}

static void handle_subscribe(struct conn *c, bc_frame *f)
{
	struct bc_server *s = c->srv;
	struct sub *x;
	size_t start;
	int rc = owner_check(c, f->mailbox);
	if (rc != BC_OK) {
		reply_error(c, f->req_id,
			    rc == BC_ERR_STORAGE ? BC_ERR_UNAVAILABLE : rc,
			    owner_text(rc));
		return;
	}
	x = conn_find_sub(c, f->mailbox);
	if (x == NULL) {
		size_t b;
		if (c->nsubs >= s->cfg.max_subscriptions) {
			reply_error(c, f->req_id, BC_ERR_QUOTA,
				    "too many subscriptions on this "
				    "connection");
			return;
		}
		if (s->nsubs + 1 > s->nbuckets && grow_buckets(s) != BC_OK) {
			reply_error(c, f->req_id, BC_ERR_NOMEM, "out of memory");
			return;
		}
		x = bc_calloc(1, sizeof(*x));
		if (x == NULL) {
			reply_error(c, f->req_id, BC_ERR_NOMEM, "out of memory");
			return;
		}
		memcpy(x->mailbox, f->mailbox, BC_MAILBOX_LEN);
		x->c = c;
		b = bucket_of(s, x->mailbox);
		x->hnext = s->buckets[b];
		s->buckets[b] = x;
		x->cnext = c->subs;
		c->subs = x;
		c->nsubs++;
		s->nsubs++;
	}
	start = c->out.len;
	bc_proto_begin(&c->out, BC_T_RESPONSE | BC_T_SUBSCRIBE, f->req_id);
	(void)bc_proto_end(&c->out, start);
	schedule_refill(x);
}

static void handle_unsubscribe(struct conn *c, bc_frame *f)
{
	struct sub *x = conn_find_sub(c, f->mailbox);
	size_t start;
	if (x != NULL)
		sub_unlink(c->srv, x);
	start = c->out.len;
	bc_proto_begin(&c->out, BC_T_RESPONSE | BC_T_UNSUBSCRIBE, f->req_id);
	(void)bc_proto_end(&c->out, start);
}

static void handle_ack(struct conn *c, bc_frame *f)
{
	struct bc_server *s = c->srv;
	struct sub *x;
	uint16_t acked = 0;
	size_t start;
	int rc = owner_check(c, f->mailbox);
	if (rc != BC_OK) {
		reply_error(c, f->req_id,
			    rc == BC_ERR_STORAGE ? BC_ERR_UNAVAILABLE : rc,
			    owner_text(rc));
		return;
	}
	x = conn_find_sub(c, f->mailbox);
	for (uint16_t i = 0; i < f->count; i++) {
		const uint8_t *id;
		if (bc_proto_next_id(f, &id) != BC_OK)
			break;
		rc = s->ops->ack(s->st, f->mailbox, id);
		if (rc == BC_OK) {
			acked++;
			s->stats.acks++;
			if (x != NULL && x->in_flight > 0)
				x->in_flight--;
		} else if (rc != BC_ERR_NOTFOUND) {
			reply_error(c, f->req_id, BC_ERR_UNAVAILABLE,
				    "storage failure");
			return;
		}
	}
	start = c->out.len;
	bc_proto_begin(&c->out, BC_T_RESPONSE | BC_T_ACK, f->req_id);
	bc_wr_u16(&c->out, acked);
	(void)bc_proto_end(&c->out, start);
	if (x != NULL)
		schedule_refill(x);
}

static void handle_open(struct conn *c, bc_frame *f)
{
	struct bc_server *s = c->srv;
	bc_mailbox_info info;
	size_t start;
	int rc = s->ops->mailbox_open(s->st, f->mailbox, c->peer, &info);
	if (rc != BC_OK) {
		reply_error(c, f->req_id,
			    rc == BC_ERR_STORAGE ? BC_ERR_UNAVAILABLE : rc,
			    owner_text(rc));
		return;
	}
	start = c->out.len;
	bc_proto_begin(&c->out, BC_T_RESPONSE | BC_T_OPEN, f->req_id);
	bc_wr_bool(&c->out, info.created);
	bc_wr_u32(&c->out, info.msgs);
	bc_wr_u64(&c->out, info.bytes);
	bc_wr_u32(&c->out, info.onetime_prekeys);
	bc_wr_bool(&c->out, info.has_signed_prekey);
	(void)bc_proto_end(&c->out, start);
}

static void handle_cap(struct conn *c, bc_frame *f)
{
	struct bc_server *s = c->srv;
	size_t start;
	int rc = owner_check(c, f->mailbox);
	if (rc == BC_OK)
		rc = f->type == BC_T_CAP_ADD
			     ? s->ops->cap_add(s->st, f->mailbox, f->cap)
			     : s->ops->cap_revoke(s->st, f->mailbox, f->cap);
	if (rc != BC_OK) {
		const char *t = rc == BC_ERR_QUOTA ? "too many capabilities"
				: rc == BC_ERR_CAPABILITY || rc == BC_ERR_FORBIDDEN
					? "capability was revoked or mailbox "
					  "belongs to another key"
				: rc == BC_ERR_NOTFOUND ? "no such mailbox or "
							  "capability"
							: "storage failure";
		reply_error(c, f->req_id,
			    rc == BC_ERR_STORAGE ? BC_ERR_UNAVAILABLE : rc, t);
		return;
	}
	start = c->out.len;
	bc_proto_begin(&c->out, BC_T_RESPONSE | f->type, f->req_id);
	(void)bc_proto_end(&c->out, start);
}

static void handle_prekey_put(struct conn *c, bc_frame *f)
{
	struct bc_server *s = c->srv;
	const uint8_t *blobs[BC_PROTO_MAX_PREKEYS];
	size_t lens[BC_PROTO_MAX_PREKEYS];
	bc_mailbox_info info;
	size_t start;
	int rc = owner_check(c, f->mailbox);
	for (uint16_t i = 0; rc == BC_OK && i < f->count; i++)
		rc = bc_proto_next_blob(f, &blobs[i], &lens[i]);
	if (rc == BC_OK && f->flag)
		rc = s->ops->prekey_put_signed(s->st, f->mailbox, f->data,
					       f->data_len);
	if (rc == BC_OK && f->count > 0)
		rc = s->ops->prekey_add_onetime(s->st, f->mailbox, blobs, lens,
						f->count);
	if (rc == BC_OK)
		rc = s->ops->mailbox_info(s->st, f->mailbox, &info);
	if (rc != BC_OK) {
		reply_error(c, f->req_id,
			    rc == BC_ERR_STORAGE ? BC_ERR_UNAVAILABLE : rc,
			    rc == BC_ERR_QUOTA ? "too many one-time prekeys"
					       : owner_text(rc));
		return;
	}
	start = c->out.len;
	bc_proto_begin(&c->out, BC_T_RESPONSE | BC_T_PREKEY_PUT, f->req_id);
	bc_wr_u32(&c->out, info.onetime_prekeys);
	(void)bc_proto_end(&c->out, start);
}

static void handle_prekey_get(struct conn *c, bc_frame *f)
{
	struct bc_server *s = c->srv;
	uint8_t h[BC_CAPHASH_LEN];
	uint8_t *sb = NULL, *ob = NULL;
	size_t sl = 0, ol = 0, start;
	int rc = bc_proto_cap_hash(f->mailbox, f->cap, h);
	if (rc == BC_OK)
		rc = s->ops->cap_check(s->st, f->mailbox, h);
	if (rc == BC_OK)
		rc = s->ops->prekey_take(s->st, f->mailbox, &sb, &sl, &ob, &ol);
	if (rc != BC_OK) {
		reply_error(c, f->req_id,
			    rc == BC_ERR_STORAGE ? BC_ERR_UNAVAILABLE : rc,
			    rc == BC_ERR_CAPABILITY ? "capability refused"
			    : rc == BC_ERR_NOTFOUND ? "no prekeys uploaded"
						    : "storage failure");
		goto out;
	}
	start = c->out.len;
	bc_proto_begin(&c->out, BC_T_RESPONSE | BC_T_PREKEY_GET, f->req_id);
	bc_wr_bytes(&c->out, sb, sl);
	bc_wr_bool(&c->out, ob != NULL);
	if (ob != NULL)
		bc_wr_bytes(&c->out, ob, ol);
	(void)bc_proto_end(&c->out, start);
out:
	bc_free(sb);
	bc_free(ob);
}

static void handle_ping(struct conn *c, bc_frame *f)
{
	size_t start = c->out.len;
	bc_proto_begin(&c->out, BC_T_RESPONSE | BC_T_PING, f->req_id);
	bc_wr_bytes(&c->out, f->data, f->data_len);
	(void)bc_proto_end(&c->out, start);
}

/* Execute one decoded request. */
static void dispatch(struct conn *c, bc_frame *f)
{
	struct bc_server *s = c->srv;
	int rc;
	if (note_id(c, f->req_id) != BC_OK) {
		conn_fail(c, BC_ERR_NOMEM, "out of memory");
		return;
	}
	mark_dirty(c);
	if (f->type != BC_T_PING && (rc = tx_begin(s)) != BC_OK) {
		reply_error(c, f->req_id, BC_ERR_UNAVAILABLE,
			    "storage failure; retry later");
		return;
	}
	switch (f->type) {
	case BC_T_PING: handle_ping(c, f); break;
	case BC_T_OPEN: handle_open(c, f); break;
	case BC_T_CAP_ADD:
	case BC_T_CAP_REVOKE: handle_cap(c, f); break;
	case BC_T_POST: handle_post(c, f); break;
	case BC_T_FETCH: handle_fetch(c, f); break;
	case BC_T_SUBSCRIBE: handle_subscribe(c, f); break;
	case BC_T_UNSUBSCRIBE: handle_unsubscribe(c, f); break;
	case BC_T_ACK: handle_ack(c, f); break;
	case BC_T_PREKEY_PUT: handle_prekey_put(c, f); break;
	case BC_T_PREKEY_GET: handle_prekey_get(c, f); break;
	default: conn_fail(c, BC_ERR_PROTOCOL, "unknown frame type"); break;
	}
	if (c->out.err != BC_OK)
		conn_fail(c, c->out.err, "cannot encode response");
}

/* ---- input -------------------------------------------------------------- */

static void process_frames(struct conn *c)
{
	const uint8_t *fr;
	size_t len;
	int rc;
	while (c->state == ST_OPEN && !c->closing) {
		bc_frame f;
		if (c->out.len + c->write_pending >= WRITE_HIGH) {
			/* Backpressure: leave the rest buffered until the
			 * peer has read what we owe it (see on_write). */
			if (c->reading) {
				uv_read_stop((uv_stream_t *)&c->tcp);
				c->reading = false;
			}
			return;
		}
		rc = bc_rx_next(&c->rx, &fr, &len);
		if (rc == 0)
			break;
		if (rc < 0) {
			conn_fail(c, rc, rc == BC_ERR_TOOBIG
						 ? "oversized frame"
						 : "malformed frame header");
			return;
		}
		rc = bc_proto_decode(fr, len, false, &f);
		if (rc != BC_OK) {
			conn_fail(c, rc,
				  rc == BC_ERR_PROTOCOL ? "unknown frame type"
				  : rc == BC_ERR_TOOBIG ? "oversized field"
							: "malformed frame");
			return;
		}
		c->active_ms = now_ms(c->srv);
		dispatch(c, &f);
	}
	bc_rx_compact(&c->rx);
}

static int send_msg2(struct conn *c)
{
	struct bc_server *s = c->srv;
	bc_server_hello h = {BC_PROTO_VERSION, s->cfg.max_frame,
			     s->cfg.max_copies, s->cfg.lim.max_body};
	uint8_t hello[32];
	size_t hl, ml;
	size_t cap = BC_PROTO_PREAMBLE_LEN + 2 + 256;
	uint8_t *buf = bc_malloc(cap);
	int rc;
	if (buf == NULL)
		return BC_ERR_NOMEM;
	bc_proto_preamble(buf, BC_PROTO_VERSION);
	rc = bc_proto_hello_encode(&h, hello, sizeof(hello), &hl);
	if (rc == BC_OK)
		rc = bc_noise_hs_write_message(c->hs->hs, hello, hl,
					       buf + BC_PROTO_PREAMBLE_LEN + 2,
					       cap - BC_PROTO_PREAMBLE_LEN - 2,
					       &ml);
	if (rc != BC_OK) {
		bc_free(buf);
		return rc;
	}
	bc_store16(buf + BC_PROTO_PREAMBLE_LEN, (uint16_t)ml);
	return write_raw(c, buf, BC_PROTO_PREAMBLE_LEN + 2 + ml, cap);
}

/* Feed handshake bytes; returns how many of data were consumed, or -1 if
 * the connection was closed. */
static ssize_t handshake_input(struct conn *c, const uint8_t *data,
			       size_t len)
{
	struct hs_ctx *h = c->hs;
	size_t used = 0;
	while (used < len && c->state < ST_OPEN) {
		size_t need, take;
		uint16_t ver;
		int rc;
		if (c->state == ST_PREAMBLE)
			need = BC_PROTO_PREAMBLE_LEN;
		else if (h->len < 2)
			need = 2;
		else
			need = 2 + (size_t)bc_load16(h->buf);
		take = need - h->len;
		if (take > len - used)
			take = len - used;
		memcpy(h->buf + h->len, data + used, take);
		h->len += (uint32_t)take;
		used += take;
		if (h->len < need)
			break;
		if (c->state == ST_PREAMBLE) {
			rc = bc_proto_check_preamble(h->buf, &ver);
			if (rc == BC_ERR_VERSION) {
				uint8_t *p = bc_malloc(BC_PROTO_PREAMBLE_LEN);
				char why[64];
				if (p != NULL) {
					bc_proto_preamble(p, BC_PROTO_VERSION);
					(void)write_raw(c, p,
							BC_PROTO_PREAMBLE_LEN,
							BC_PROTO_PREAMBLE_LEN);
				}
				snprintf(why, sizeof(why),
					 "unsupported protocol version %u",
					 ver);
				bc_log(BC_LOG_INFO, "conn-close",
				       "conn=%u peer=%s reason=\"%s\"", c->id,
				       c->addr, why);
				c->srv->stats.protocol_errors++;
				c->state = ST_DRAINING;
				start_shutdown(c);
				return -1;
			}
			if (rc != BC_OK) {
				c->srv->stats.protocol_errors++;
				conn_close(c, "bad preamble (not a backchannel "
					      "client?)");
				return -1;
			}
			c->state = ST_HS1;
			h->len = 0;
			continue;
		}
		if (h->len == 2) {
			size_t ml = bc_load16(h->buf);
			size_t want = c->state == ST_HS1 ? 32 : 64;
			if (ml != want) {
				c->srv->stats.protocol_errors++;
				conn_close(c, c->state == ST_HS1
						      ? "bad handshake message 1"
						      : "bad handshake message 3");
				return -1;
			}
			continue;
		}
		/* A complete handshake message. */
		rc = bc_noise_hs_read_message(h->hs, h->buf + 2, h->len - 2,
					      NULL, 0, &need);
		if (rc != BC_OK) {
			c->srv->stats.protocol_errors++;
			conn_close(c, c->state == ST_HS1
					      ? "bad handshake message 1"
					      : "handshake failed (wrong "
						"prologue, version or keys)");
			return -1;
		}
		h->len = 0;
		if (c->state == ST_HS1) {
			if (send_msg2(c) != BC_OK) {
				conn_close(c, "cannot send handshake message 2");
				return -1;
			}
			c->state = ST_HS3;
		} else {
			if (bc_noise_hs_get_remote_static(h->hs, c->peer) !=
				    BC_OK ||
			    bc_noise_hs_split(h->hs, &c->tx, &c->rx_cs) !=
				    BC_OK) {
				conn_close(c, "handshake split failed");
				return -1;
			}
			bc_noise_hs_free(h->hs);
			bc_free_secret(h, sizeof(*h));
			c->hs = NULL;
			c->state = ST_OPEN;
			c->active_ms = now_ms(c->srv);
			bc_log(BC_LOG_DEBUG, "conn-ready", "conn=%u", c->id);
			break;
		}
	}
	return (ssize_t)used;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct conn *c = h->data;
	(void)hint;
	buf->base = (char *)c->srv->rbuf;
	buf->len = sizeof(c->srv->rbuf);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = st->data;
	const uint8_t *data = (const uint8_t *)buf->base;
	size_t len;
	int rc;
	if (c->closing)
		return;
	if (nread < 0) {
		if (nread == UV_EOF)
			conn_close(c, bc_rx_pending(&c->rx) > 0 ||
					      (c->hs && c->hs->len > 0)
					      ? "peer closed mid-frame "
						"(truncated)"
					      : c->state < ST_OPEN
						? "peer closed during handshake"
						: "peer closed");
		else
			conn_close(c, uv_strerror((int)nread));
		return;
	}
	len = (size_t)nread;
	if (c->state == ST_DRAINING)
		return;
	if (c->state < ST_OPEN) {
		ssize_t used = handshake_input(c, data, len);
		if (used < 0)
			return;
		data += used;
		len -= (size_t)used;
		if (c->state != ST_OPEN || len == 0)
			return;
	}
	rc = bc_rx_feed(&c->rx, &c->rx_cs, data, len);
	if (rc != BC_OK) {
		conn_fail(c, rc,
			  rc == BC_ERR_AUTH    ? "record failed authentication"
			  : rc == BC_ERR_TOOBIG ? "oversized frame"
			  : rc == BC_ERR_NOMEM  ? "out of memory"
						: "bad record");
		return;
	}
	process_frames(c);
}

/* ---- connection lifecycle ----------------------------------------------- */

static void on_closed(uv_handle_t *h)
{
	struct conn *c = h->data;
	struct bc_server *s = c->srv;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->stats.conns_open--;
	bc_free(c);
}

/* Close now. reason (logged) may be NULL when already logged. */
static void conn_close(struct conn *c, const char *reason)
{
	struct bc_server *s = c->srv;
	if (c->closing)
		return;
	c->closing = true;
	/* An orderly goodbye is routine; anything else is worth a line. */
	if (reason != NULL)
		bc_log(strcmp(reason, "peer closed") == 0 ? BC_LOG_DEBUG
							  : BC_LOG_INFO,
		       "conn-close", "conn=%u peer=%s reason=\"%s\"", c->id,
		       c->addr, reason);
	while (c->subs != NULL)
		sub_unlink(s, c->subs);
	if (c->hs != NULL) {
		bc_noise_hs_free(c->hs->hs);
		bc_free_secret(c->hs, sizeof(*c->hs));
		c->hs = NULL;
	}
	bc_rx_free(&c->rx);
	bc_wr_free(&c->out);
	bc_free(c->ids);
	c->ids = NULL;
	c->nids = c->capids = 0;
	bc_noise_cs_wipe(&c->tx);
	bc_noise_cs_wipe(&c->rx_cs);
	/* The dirty list still points here until the check phase; the memory
	 * lives until on_closed, which libuv runs after the check phase. */
	uv_close((uv_handle_t *)&c->tcp, on_closed);
}

/* A protocol error on an open connection: tell the peer, then close. */
static void conn_fail(struct conn *c, int err, const char *reason)
{
	if (c->closing || c->state == ST_DRAINING)
		return;
	c->srv->stats.protocol_errors++;
	if (c->state != ST_OPEN) {
		conn_close(c, reason);
		return;
	}
	bc_log(BC_LOG_INFO, "conn-close", "conn=%u peer=%s reason=\"%s\"",
	       c->id, c->addr, reason);
	/* Drop anything not yet sent of this pass: the connection is dead. */
	bc_wr_free(&c->out);
	c->nids = 0;
	(void)bc_proto_write_error(&c->out, 0, err, reason);
	c->out.err = BC_OK;
	c->state = ST_DRAINING;
	c->drain_ms = now_ms(c->srv);
	if (c->reading) {
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->reading = false;
	}
	while (c->subs != NULL)
		sub_unlink(c->srv, c->subs);
	mark_dirty(c);
}

static void on_connection(uv_stream_t *ls, int status)
{
	struct bc_server *s = ls->data;
	struct conn *c;
	struct sockaddr_storage ss;
	int sl = sizeof(ss);
	if (status < 0) {
		bc_log(BC_LOG_WARN, "accept-failed", "err=\"%s\"",
		       uv_strerror(status));
		return;
	}
	c = bc_calloc(1, sizeof(*c));
	if (c == NULL || uv_tcp_init(s->loop, &c->tcp) != 0) {
		bc_free(c);
		bc_log(BC_LOG_ERROR, "accept-failed", "err=\"out of memory\"");
		return;
	}
	c->tcp.data = c;
	c->srv = s;
	c->id = ++s->next_id;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->stats.conns_open++;
	bc_rx_init(&c->rx, s->cfg.max_frame);
	bc_wr_init(&c->out, (size_t)s->cfg.max_frame * 8 + REFILL_BYTES);
	if (uv_accept(ls, (uv_stream_t *)&c->tcp) != 0) {
		conn_close(c, "accept failed");
		return;
	}
	snprintf(c->addr, sizeof(c->addr), "?");
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) == 0) {
		char ip[INET6_ADDRSTRLEN] = "?";
		int port = 0;
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss;
			uv_ip4_name(a, ip, sizeof(ip));
			port = ntohs(a->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
			uv_ip6_name(a, ip, sizeof(ip));
			port = ntohs(a->sin6_port);
		}
		snprintf(c->addr, sizeof(c->addr), "%s:%d", ip, port);
	}
	if (s->stats.conns_open > s->cfg.max_connections ||
	    s->shutting_down) {
		s->stats.conns_refused++;
		conn_close(c, "too many connections");
		return;
	}
	s->stats.conns_accepted++;
	c->created_ms = c->active_ms = c->tokens_ms = now_ms(s);
	c->tokens = s->cfg.post_burst;
	c->hs = bc_calloc(1, sizeof(*c->hs));
	if (c->hs == NULL ||
	    bc_noise_hs_new(&c->hs->hs, BC_PROTO_NOISE_NAME, false) != BC_OK ||
	    bc_noise_hs_set_prologue(c->hs->hs,
				     (const uint8_t *)BC_PROTO_PROLOGUE,
				     sizeof(BC_PROTO_PROLOGUE) - 1) != BC_OK ||
	    bc_noise_hs_set_local_static(c->hs->hs, s->priv) != BC_OK ||
	    bc_noise_hs_start(c->hs->hs) != BC_OK) {
		conn_close(c, "cannot set up handshake");
		return;
	}
	(void)uv_tcp_nodelay(&c->tcp, 1);
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
		conn_close(c, "cannot read");
		return;
	}
	c->reading = true;
	bc_log(BC_LOG_DEBUG, "conn-open", "conn=%u peer=%s", c->id, c->addr);
}

/* ---- the check phase: commit, then respond ------------------------------ */

static void on_check(uv_check_t *h)
{
	struct bc_server *s = h->data;
	struct conn *c, *next;
	if (s->in_tx) {
		int rc = s->ops->commit(s->st);
		s->in_tx = false;
		s->stats.commits++;
		if (rc != BC_OK) {
			s->stats.commit_failures++;
			bc_log(BC_LOG_ERROR, "commit-failed",
			       "err=%s cause=\"%s\" action=\"answering "
			       "unavailable; nothing acknowledged\"",
			       bc_errname(rc), s->ops->last_error(s->st));
			s->ops->rollback(s->st);
			for (c = s->dirty; c != NULL; c = c->dirty_next) {
				if (c->closing || c->state != ST_OPEN)
					continue;
				bc_wr_free(&c->out);
				for (uint32_t i = 0; i < c->nids; i++)
					(void)bc_proto_write_error(
						&c->out, c->ids[i],
						BC_ERR_UNAVAILABLE,
						"storage failure; nothing "
						"stored, retry later");
			}
			/* Nothing new was stored: no pushes. */
			while (s->refill != NULL) {
				struct sub *x = s->refill;
				s->refill = x->rnext;
				x->in_refill = false;
			}
		}
	}
	while (s->refill != NULL) {
		struct sub *x = s->refill;
		s->refill = x->rnext;
		x->in_refill = false;
		refill(x);
	}
	for (c = s->dirty; c != NULL; c = next) {
		next = c->dirty_next;
		c->in_dirty = false;
		c->dirty_next = NULL;
		c->nids = 0;
		if (c->capids > 64) {
			bc_free(c->ids);
			c->ids = NULL;
			c->capids = 0;
		}
		flush(c);
	}
	s->dirty = NULL;
}

static void on_sweep(uv_timer_t *t)
{
	struct bc_server *s = t->data;
	uint64_t now = now_ms(s);
	struct conn *c, *next;
	for (c = s->conns; c != NULL; c = next) {
		next = c->next;
		if (c->closing)
			continue;
		if (c->state < ST_OPEN &&
		    now - c->created_ms > s->cfg.handshake_timeout * 1000ull)
			conn_close(c, "handshake timeout");
		else if (c->state == ST_OPEN &&
			 now - c->active_ms > s->cfg.idle_timeout * 1000ull)
			conn_close(c, "idle timeout");
		else if (c->state == ST_DRAINING &&
			 now - c->drain_ms > DRAIN_TIMEOUT_MS)
			conn_close(c, NULL);
	}
}

/* ---- public API --------------------------------------------------------- */

int bc_server_new(bc_server **out, uv_loop_t *loop, const bc_relay_config *cfg,
		  const uint8_t static_priv[32], const bc_storage_ops *ops,
		  bc_storage *st)
{
	bc_server *s = bc_calloc(1, sizeof(*s));
	*out = NULL;
	if (s == NULL)
		return BC_ERR_NOMEM;
	s->loop = loop;
	s->cfg = *cfg;
	s->ops = ops;
	s->st = st;
	memcpy(s->priv, static_priv, 32);
	if (crypto_scalarmult_base(s->pub, s->priv) != 0) {
		bc_free_secret(s, sizeof(*s));
		return BC_ERR_CRYPTO;
	}
	randombytes_buf(s->hashkey, sizeof(s->hashkey));
	if (grow_buckets(s) != BC_OK) {
		bc_free_secret(s, sizeof(*s));
		return BC_ERR_NOMEM;
	}
	uv_tcp_init(loop, &s->listener);
	s->listener.data = s;
	uv_check_init(loop, &s->check);
	s->check.data = s;
	uv_check_start(&s->check, on_check);
	uv_timer_init(loop, &s->sweep);
	s->sweep.data = s;
	uv_timer_start(&s->sweep, on_sweep, 1000, 1000);
	*out = s;
	return BC_OK;
}

int bc_server_listen(bc_server *s, uint16_t *port)
{
	char host[256];
	uint16_t p;
	struct addrinfo hints, *ai = NULL;
	struct sockaddr_storage ss;
	int sl = sizeof(ss), rc;
	char portstr[8];

	if (bc_config_split_hostport(s->cfg.listen, host, sizeof(host), &p) !=
	    BC_OK)
		return BC_ERR_INVALID;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(portstr, sizeof(portstr), "%u", p);
	if (getaddrinfo(host, portstr, &hints, &ai) != 0 || ai == NULL) {
		bc_log(BC_LOG_ERROR, "listen-failed",
		       "addr=%s err=\"cannot resolve\"", s->cfg.listen);
		return BC_ERR_INVALID;
	}
	rc = uv_tcp_bind(&s->listener, ai->ai_addr, 0);
	freeaddrinfo(ai);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&s->listener, 1024,
			       on_connection);
	if (rc != 0) {
		bc_log(BC_LOG_ERROR, "listen-failed", "addr=%s err=\"%s\"",
		       s->cfg.listen, uv_strerror(rc));
		return BC_ERR_IO;
	}
	s->listening = true;
	if (uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &sl) == 0)
		p = ntohs(ss.ss_family == AF_INET
				  ? ((struct sockaddr_in *)&ss)->sin_port
				  : ((struct sockaddr_in6 *)&ss)->sin6_port);
	if (port)
		*port = p;
	return BC_OK;
}

void bc_server_shutdown(bc_server *s)
{
	struct conn *c, *next;
	if (s->shutting_down)
		return;
	s->shutting_down = true;
	/* Commit and answer what this pass has done, then close. */
	on_check(&s->check);
	uv_check_stop(&s->check);
	uv_timer_stop(&s->sweep);
	uv_close((uv_handle_t *)&s->check, NULL);
	uv_close((uv_handle_t *)&s->sweep, NULL);
	uv_close((uv_handle_t *)&s->listener, NULL);
	for (c = s->conns; c != NULL; c = next) {
		next = c->next;
		conn_close(c, NULL);
	}
}

void bc_server_free(bc_server *s)
{
	if (s == NULL)
		return;
	if (s->in_tx)
		s->ops->rollback(s->st);
	bc_free(s->buckets);
	sodium_memzero(s->priv, sizeof(s->priv));
	bc_free_secret(s, sizeof(*s));
}

void bc_server_get_stats(const bc_server *s, bc_server_stats *out)
{
	*out = s->stats;
}
