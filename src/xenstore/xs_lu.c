/*
 * xs_lu.c - live update: the whole store (quotas, counters, nodes, domains,
 * connections with their watches, buffered input and queued output) as a
 * byte image, and back.  The image is versioned, little-endian host order
 * (it only travels from a daemon to its own re-exec), and checked on the
 * way in: a corrupt image is refused, never trusted.
 *
 * Layout: "PVKXSLU1", quotas, counters, nodes (breadth first from "/",
 * then the specials), domains, connections, "END!".
 */
#include "xenstore/xs_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#define LU_MAGIC "PVKXSLU1"
#define LU_END 0x21444e45u /* "END!" */

#define DOM_INTRODUCED 1u
#define DOM_SHUTDOWN_FIRED 2u
#define DOM_HAS_TARGET 4u
#define CONN_IS_DOMAIN 1u
#define CONN_FAILED 2u
#define CONN_RL_INIT 4u

static uint32_t quota_count(void)
{
	uint32_t n = 0;

	while (xsi_quota_names[n])
		n++;
	return n;
}

/* ---- writing ----------------------------------------------------------- */

struct wbuf {
	unsigned char *p;
	size_t len, cap;
	int err;
};

static void w_bytes(struct wbuf *w, const void *d, size_t n)
{
	if (w->err || !n)
		return;
	if (n > w->cap - w->len) {
		size_t cap = w->cap ? w->cap : 4096;
		unsigned char *np;

		while (n > cap - w->len) {
			if (__builtin_mul_overflow(cap, 2, &cap)) {
				w->err = -ENOMEM;
				return;
			}
		}
		np = realloc(w->p, cap);
		if (!np) {
			w->err = -ENOMEM;
			return;
		}
		w->p = np;
		w->cap = cap;
	}
	memcpy(w->p + w->len, d, n);
	w->len += n;
}

static void w_u8(struct wbuf *w, uint8_t v) { w_bytes(w, &v, sizeof(v)); }
static void w_u16(struct wbuf *w, uint16_t v) { w_bytes(w, &v, sizeof(v)); }
static void w_u32(struct wbuf *w, uint32_t v) { w_bytes(w, &v, sizeof(v)); }
static void w_u64(struct wbuf *w, uint64_t v) { w_bytes(w, &v, sizeof(v)); }

static void w_blob(struct wbuf *w, const void *d, size_t n)
{
	if (n > UINT32_MAX) {
		w->err = -E2BIG;
		return;
	}
	w_u32(w, (uint32_t)n);
	w_bytes(w, d, n);
}

static void w_str(struct wbuf *w, const char *s) { w_blob(w, s, strlen(s)); }

static void save_node(struct wbuf *w, const struct xs_node *n)
{
	w_str(w, n->path);
	w_u64(w, n->gen);
	w_blob(w, n->value, n->vlen);
	w_u32(w, n->nperms);
	for (uint32_t i = 0; i < n->nperms; i++) {
		w_u16(w, n->perms[i].id);
		w_u8(w, n->perms[i].perms);
	}
	w_u32(w, n->nkids);
	for (uint32_t i = 0; i < n->nkids; i++)
		w_str(w, n->kids[i]);
}

/* Nodes breadth first from "/" (parents before children), then the
 * specials. */
static void save_nodes(struct wbuf *w, const struct xs_core *core)
{
	size_t total = core->nodes.count, cnt = 0;
	const struct xs_node **q = malloc((total + 1) * sizeof(*q));
	char path[XENSTORE_ABS_PATH_MAX + 1];

	if (!q) {
		w->err = -ENOMEM;
		return;
	}
	q[cnt++] = xsi_tree_find(core, "/");
	for (size_t i = 0; i < cnt && !w->err; i++) {
		const struct xs_node *n = q[i];

		for (uint32_t k = 0; k < n->nkids; k++) {
			const struct xs_node *c;
			int l = snprintf(path, sizeof(path), "%s/%s",
					 strcmp(n->path, "/") ? n->path : "",
					 n->kids[k]);

			if (l < 0 || (size_t)l >= sizeof(path) ||
			    !(c = xsi_tree_find(core, path)) || cnt >= total) {
				w->err = -EIO; /* the tree is inconsistent */
				break;
			}
			q[cnt++] = c;
		}
	}
	if (!w->err) {
		q[cnt++] = xsi_tree_find(core, SPECIAL_INTRO);
		q[cnt++] = xsi_tree_find(core, SPECIAL_RELEASE);
		if (cnt != total || !q[cnt - 1] || !q[cnt - 2])
			w->err = -EIO;
	}
	if (!w->err) {
		w_u32(w, (uint32_t)cnt);
		for (size_t i = 0; i < cnt; i++)
			save_node(w, q[i]);
	}
	free(q);
}

static void save_domains(struct wbuf *w, const struct xs_core *core)
{
	uint32_t n = 0;

	for (size_t i = 0; i < core->doms_hi; i++)
		n += core->doms[i] != NULL;
	w_u32(w, n);
	for (size_t i = 0; i < core->doms_hi; i++) {
		const struct xs_domain *d = core->doms[i];

		if (!d)
			continue;
		w_u16(w, d->domid);
		w_u8(w, (d->introduced ? DOM_INTRODUCED : 0) |
			    (d->shutdown_fired ? DOM_SHUTDOWN_FIRED : 0) |
			    (d->has_target ? DOM_HAS_TARGET : 0));
		w_u16(w, d->target);
		w_u64(w, d->gfn);
		w_u32(w, d->port);
		w_u32(w, d->nnodes);
	}
}

static void save_conn(struct wbuf *w, const struct xs_conn *c,
		      const struct xs_lu_ops *ops, unsigned char *tbuf)
{
	const struct xs_watch *last = NULL;
	ssize_t tlen = 0;
	uint32_t n = 0;

	w_u16(w, c->domid);
	w_u8(w, (c->is_domain ? CONN_IS_DOMAIN : 0) |
		    (c->failed ? CONN_FAILED : 0) |
		    (c->rl_init ? CONN_RL_INIT : 0));
	w_u64(w, c->rl_last_ns);
	w_u64(w, c->rl_tokens_milli);
	/* a failed connection's input is garbage, and it is about to close */
	w_blob(w, c->in, c->failed ? 0 : c->inlen);
	for (const struct xs_msg *m = c->out_head; m; m = m->next)
		n++;
	w_u32(w, n);
	for (const struct xs_msg *m = c->out_head; m; m = m->next) {
		w_u8(w, m->reply);
		w_blob(w, m->data, m->len);
		w_u32(w, (uint32_t)m->off);
	}
	/* oldest first, so that restoring by pushing keeps the order */
	w_u32(w, c->nwatches);
	for (const struct xs_watch *x = c->watches; x; x = x->next)
		last = x;
	for (const struct xs_watch *x = last; x; x = x->prev) {
		w_str(w, x->abspath);
		w_str(w, x->token);
		w_u32(w, (uint32_t)x->strip);
	}
	w_u32(w, c->ntx);
	for (const struct xs_tx *tx = c->txs; tx; tx = tx->next)
		w_u32(w, tx->id);
	if (!c->is_domain && ops && ops->save_conn) {
		tlen = ops->save_conn(ops->opaque, c, tbuf, XS_LU_CONN_MAX);
		if (tlen < 0 || tlen > XS_LU_CONN_MAX) {
			if (!w->err)
				w->err = tlen < 0 ? (int)tlen : -E2BIG;
			return;
		}
	}
	w_blob(w, tbuf, (size_t)tlen);
}

bool xs_core_busy(const struct xs_core *core)
{
	for (const struct xs_conn *c = core->conns; c; c = c->next)
		if (c->ntx)
			return true;
	return false;
}

int xs_core_save(struct xs_core *core, const struct xs_lu_ops *ops, bool force,
		 void **buf, size_t *len)
{
	struct wbuf w = {0};
	unsigned char *tbuf;
	uint32_t n = 0;

	if (!force && xs_core_busy(core))
		return -EBUSY;
	tbuf = malloc(XS_LU_CONN_MAX);
	if (!tbuf)
		return -ENOMEM;
	w_bytes(&w, LU_MAGIC, 8);
	w_u32(&w, quota_count());
	for (size_t i = 0; xsi_quota_names[i]; i++)
		w_u32(&w, *xsi_quota_field(&core->q, xsi_quota_names[i]));
	w_u64(&w, core->gen);
	w_u32(&w, core->next_txid);
	w_u8(&w, core->log_on);
	save_nodes(&w, core);
	save_domains(&w, core);
	for (const struct xs_conn *c = core->conns; c; c = c->next)
		n++;
	w_u32(&w, n);
	for (const struct xs_conn *c = core->conns; c && !w.err; c = c->next)
		save_conn(&w, c, ops, tbuf);
	w_u32(&w, LU_END);
	free(tbuf);
	if (w.err) {
		free(w.p);
		return w.err;
	}
	*buf = w.p;
	*len = w.len;
	return 0;
}

/* ---- reading ----------------------------------------------------------- */

struct rbuf {
	const unsigned char *p;
	size_t len, off;
	bool bad;
};

static const void *r_take(struct rbuf *r, size_t n)
{
	const void *p;

	if (r->bad || n > r->len - r->off) {
		r->bad = true;
		return NULL;
	}
	p = r->p + r->off;
	r->off += n;
	return p;
}

#define R_NUM(name, type)                                                      \
	static type name(struct rbuf *r)                                       \
	{                                                                      \
		type v = 0;                                                    \
		const void *p = r_take(r, sizeof(v));                          \
                                                                               \
		if (p)                                                         \
			memcpy(&v, p, sizeof(v));                              \
		return v;                                                      \
	}
R_NUM(r_u8, uint8_t)
R_NUM(r_u16, uint16_t)
R_NUM(r_u32, uint32_t)
R_NUM(r_u64, uint64_t)

/* A length-prefixed blob of at most max bytes; *n its length. */
static const void *r_blob(struct rbuf *r, size_t max, size_t *n)
{
	uint32_t l = r_u32(r);

	*n = 0;
	if (r->bad || l > max) {
		r->bad = true;
		return NULL;
	}
	*n = l;
	return r_take(r, l);
}

/* A string of at most max bytes without nul, copied nul-terminated into
 * out (max + 1 bytes). */
static bool r_str(struct rbuf *r, char *out, size_t max)
{
	size_t n;
	const char *p = r_blob(r, max, &n);

	if (!p || memchr(p, '\0', n)) {
		r->bad = true;
		return false;
	}
	memcpy(out, p, n);
	out[n] = '\0';
	return true;
}

static bool name_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
		      *s == '@'))
			return false;
	return true;
}

static bool node_path_ok(const char *path)
{
	static struct xs_conn dom0; /* absolute paths: never read */
	char canon[XENSTORE_ABS_PATH_MAX + 1];

	if (path[0] != '/' && path[0] != '@')
		return false;
	return xsi_path_canon(&dom0, path, canon, true, NULL) == 0 &&
	       strcmp(canon, path) == 0;
}

static int load_node(struct rbuf *r, struct xs_core *core)
{
	char path[XENSTORE_ABS_PATH_MAX + 1], kid[XENSTORE_ABS_PATH_MAX + 1];
	struct xs_node *n, *fresh = NULL;
	const void *val;
	size_t vlen;
	uint64_t gen;
	uint32_t np, nk;

	if (!r_str(r, path, XENSTORE_ABS_PATH_MAX) ||
	    !node_path_ok(path))
		return -EINVAL;
	gen = r_u64(r);
	val = r_blob(r, XENSTORE_PAYLOAD_MAX, &vlen);
	np = r_u32(r);
	if (r->bad || np == 0 || np > XENSTORE_PAYLOAD_MAX / 2)
		return -EINVAL;
	n = xsi_tree_find(core, path);
	if (n && n->present) /* already loaded: a duplicate */
		return -EINVAL;
	if (!n) {
		fresh = n = xsi_node_alloc(path);
		if (!n)
			return -ENOMEM;
	} else {
		xsi_node_clear(n);
	}
	n->present = true; /* marks "loaded" until the image is checked */
	n->gen = gen;
	if (xsi_node_set_value(n, val, (uint32_t)vlen))
		goto nomem;
	n->perms = calloc(np, sizeof(*n->perms));
	if (!n->perms)
		goto nomem;
	n->nperms = np;
	for (uint32_t i = 0; i < np; i++) {
		n->perms[i].id = r_u16(r);
		n->perms[i].perms = r_u8(r);
		if (n->perms[i].perms & ~(PERM_READ | PERM_WRITE))
			r->bad = true;
	}
	nk = r_u32(r);
	if (path[0] == '@' && nk)
		r->bad = true;
	for (uint32_t i = 0; i < nk && !r->bad; i++) {
		if (!r_str(r, kid, XENSTORE_ABS_PATH_MAX) || !name_ok(kid))
			r->bad = true;
		else if (xsi_node_add_kid(n, kid))
			goto nomem;
	}
	if (fresh && xs_htab_insert(&core->nodes, &fresh->h))
		goto nomem;
	return r->bad ? -EINVAL : 0;
nomem:
	xsi_node_free(fresh);
	return -ENOMEM;
}

struct tree_check {
	struct xs_core *core;
	size_t kids, bad;
};

/* Every kid names a loaded node listed once; clears the loaded mark. */
static void check_kids(struct xs_hentry *e, void *arg)
{
	struct tree_check *tc = arg;
	struct xs_node *n = (struct xs_node *)e;
	char path[XENSTORE_ABS_PATH_MAX + 1];

	if (!n->present) {
		tc->bad++;
		return;
	}
	for (uint32_t i = 0; i < n->nkids; i++) {
		struct xs_node *c;
		int l = snprintf(path, sizeof(path), "%s/%s",
				 strcmp(n->path, "/") ? n->path : "",
				 n->kids[i]);

		tc->kids++;
		if (l < 0 || (size_t)l >= sizeof(path) ||
		    !(c = xsi_tree_find(tc->core, path)) || c->dirty) {
			tc->bad++;
			continue;
		}
		c->dirty = true; /* seen as somebody's kid */
	}
}

static void clear_marks(struct xs_hentry *e, void *arg)
{
	struct xs_node *n = (struct xs_node *)e;

	(void)arg;
	n->present = n->dirty = false;
}

static int load_nodes(struct rbuf *r, struct xs_core *core)
{
	struct tree_check tc = {.core = core};
	uint32_t n = r_u32(r);
	int rc = 0;

	for (uint32_t i = 0; i < n && !rc; i++)
		rc = load_node(r, core);
	if (rc)
		return rc;
	/* a tree: every node but the roots is exactly one node's kid */
	xs_htab_foreach(&core->nodes, check_kids, &tc);
	xs_htab_foreach(&core->nodes, clear_marks, NULL);
	if (tc.bad || tc.kids + 3 != core->nodes.count ||
	    xsi_core_check(core))
		return -EINVAL;
	return 0;
}

static int load_domains(struct rbuf *r, struct xs_core *core)
{
	uint32_t n = r_u32(r);

	if (n > DOMID_FIRST_RESERVED)
		return -EINVAL;
	for (uint32_t i = 0; i < n && !r->bad; i++) {
		domid_t id = r_u16(r);
		uint8_t fl = r_u8(r);
		struct xs_domain *d;

		if (r->bad || id >= DOMID_FIRST_RESERVED || core->doms[id])
			return -EINVAL;
		d = xsi_domain_get(core, id, true);
		if (!d)
			return -ENOMEM;
		d->introduced = fl & DOM_INTRODUCED;
		d->shutdown_fired = fl & DOM_SHUTDOWN_FIRED;
		d->has_target = fl & DOM_HAS_TARGET;
		d->target = r_u16(r);
		d->gfn = r_u64(r);
		d->port = r_u32(r);
		d->nnodes = r_u32(r);
	}
	return r->bad ? -EINVAL : 0;
}

static int load_watch(struct rbuf *r, struct xs_conn *c)
{
	char path[XENSTORE_ABS_PATH_MAX + 1], token[XENSTORE_PAYLOAD_MAX + 1];
	struct xs_watch *w;
	uint32_t strip;

	if (!r_str(r, path, XENSTORE_ABS_PATH_MAX) ||
	    !r_str(r, token, XENSTORE_PAYLOAD_MAX))
		return -EINVAL;
	strip = r_u32(r);
	if (r->bad || (path[0] == '@' ? strlen(path) > XENSTORE_REL_PATH_MAX
				      : !node_path_ok(path)) ||
	    strip >= strlen(path) || (strip && path[strip - 1] != '/'))
		return -EINVAL;
	return xsi_watch_add(c, path, token, strip, &w);
}

static int load_msg(struct rbuf *r, struct xs_conn *c)
{
	const size_t hlen = sizeof(struct xsd_sockmsg);
	bool reply = r_u8(r) != 0;
	size_t len;
	const void *d = r_blob(r, hlen + XENSTORE_PAYLOAD_MAX, &len);
	uint32_t off = r_u32(r);
	struct xsd_sockmsg hdr;
	struct xs_msg *m;

	if (!d || len < hlen || off >= len)
		return -EINVAL;
	memcpy(&hdr, d, hlen);
	if (hdr.len != len - hlen)
		return -EINVAL;
	m = malloc(sizeof(*m) + len);
	if (!m)
		return -ENOMEM;
	m->next = NULL;
	m->len = len;
	m->off = off;
	m->reply = reply;
	memcpy(m->data, d, len);
	*c->out_tail = m;
	c->out_tail = &m->next;
	c->out_bytes += len - off;
	c->out_replies += reply;
	return 0;
}

static int load_tx(struct rbuf *r, struct xs_conn *c)
{
	uint32_t id = r_u32(r);
	struct xs_tx *tx, **pp;

	if (r->bad || id == 0 || xsi_conn_tx_find(c, id))
		return -EINVAL;
	tx = calloc(1, sizeof(*tx));
	if (!tx)
		return -ENOMEM;
	if (xs_htab_init(&tx->nodes)) {
		free(tx);
		return -ENOMEM;
	}
	tx->id = id;
	tx->events_tail = &tx->events;
	tx->error = -EAGAIN; /* its snapshot is gone: the commit retries */
	for (pp = &c->txs; *pp; pp = &(*pp)->next)
		;
	*pp = tx; /* keep the saved order */
	c->ntx++;
	return 0;
}

/* One connection: its core state, then its transport.  *c is the new
 * connection (linked into core), or NULL if nothing was created. */
static int load_conn(struct rbuf *r, struct xs_core *core, struct xs_conn **out,
		     const void **tdata, size_t *tlen)
{
	const size_t hlen = sizeof(struct xsd_sockmsg);
	domid_t domid = r_u16(r);
	uint8_t fl = r_u8(r);
	struct xs_conn *c;
	const void *in;
	size_t inlen;
	uint32_t n;
	int rc;

	*out = NULL;
	if (r->bad)
		return -EINVAL;
	rc = xs_conn_new(core, domid, &c);
	if (rc)
		return rc;
	*out = c;
	c->is_domain = fl & CONN_IS_DOMAIN;
	c->failed = fl & CONN_FAILED;
	c->rl_init = fl & CONN_RL_INIT;
	c->rl_last_ns = r_u64(r);
	c->rl_tokens_milli = r_u64(r);
	in = r_blob(r, sizeof(c->in), &inlen);
	if (r->bad)
		return -EINVAL;
	if (inlen >= hlen) {
		struct xsd_sockmsg hdr;

		memcpy(&hdr, in, hlen);
		/* (any type: an unknown one is answered ENOSYS once
		 * complete, as the live connection would) */
		if (hdr.len > XENSTORE_PAYLOAD_MAX || inlen >= hlen + hdr.len)
			return -EINVAL;
	}
	memcpy(c->in, in, inlen);
	c->inlen = inlen;
	n = r_u32(r);
	for (uint32_t i = 0; i < n && !rc; i++)
		rc = r->bad ? -EINVAL : load_msg(r, c);
	n = r_u32(r);
	for (uint32_t i = 0; i < n && !rc; i++)
		rc = r->bad ? -EINVAL : load_watch(r, c);
	n = r_u32(r);
	for (uint32_t i = 0; i < n && !rc; i++)
		rc = r->bad ? -EINVAL : load_tx(r, c);
	if (rc)
		return rc;
	*tdata = r_blob(r, XS_LU_CONN_MAX, tlen);
	return r->bad ? -EINVAL : 0;
}

/* probe: only check the records (into a scratch core, no transports). */
static int load_conns(struct rbuf *r, struct xs_core *core,
		      const struct xs_lu_ops *ops, bool probe)
{
	uint32_t n = r_u32(r);
	int rc = 0;

	for (uint32_t i = 0; i < n && !rc; i++) {
		struct xs_conn *c;
		struct xs_domain *d;
		const void *t = NULL;
		size_t tlen = 0;

		rc = r->bad ? -EINVAL : load_conn(r, core, &c, &t, &tlen);
		if (rc)
			break;
		if (!c->is_domain && probe) {
			xsi_conn_unlink_free(c);
			continue;
		}
		if (!c->is_domain) {
			if (!ops || !ops->restore_conn ||
			    ops->restore_conn(ops->opaque, c, t, tlen)) {
				pvk_warn("xenstore: dom%u connection not "
					 "restored", c->domid);
				xsi_conn_unlink_free(c);
			}
			continue;
		}
		d = xsi_domain_get(core, c->domid, false);
		if (!d || !d->introduced || d->conn) {
			rc = -EINVAL;
			break;
		}
		d->conn = c;
	}
	if (!probe) { /* xs_conn_new() pushes: restore the saved order */
		struct xs_conn *rev = NULL;

		while (core->conns) {
			struct xs_conn *c = core->conns;

			core->conns = c->next;
			c->prev = NULL;
			c->next = rev;
			if (rev)
				rev->prev = c;
			rev = c;
		}
		core->conns = rev;
	}
	return rc;
}

/* Give every introduced domain its transport back. */
static void reattach_domains(struct xs_core *core)
{
	int (*fn)(void *, struct xs_conn *, domid_t, uint64_t, evtchn_port_t) =
	    core->hooks.reattach ? core->hooks.reattach : core->hooks.introduce;

	for (size_t i = 0; i < core->doms_hi; i++) {
		struct xs_domain *d = core->doms[i];
		int rc;

		if (!d || !d->introduced || !d->conn || !fn)
			continue;
		rc = fn(core->hooks.opaque, d->conn, d->domid, d->gfn, d->port);
		if (rc)
			pvk_warn("xenstore: dom%u ring not reattached: %d",
				 d->domid, rc);
	}
}

int xs_core_restore(const void *buf, size_t len,
		    const struct xs_core_hooks *hooks,
		    const struct xs_lu_ops *ops, struct xs_core **out)
{
	struct rbuf r = {.p = buf, .len = len};
	struct xs_core_hooks none = {0};
	struct xs_core *core = NULL;
	const void *magic = r_take(&r, 8);
	uint32_t nq = r_u32(&r);
	int rc;

	if (!magic || memcmp(magic, LU_MAGIC, 8) ||
	    nq != quota_count())
		return -EINVAL;
	/* no transport callbacks until the image is known to be whole */
	rc = xs_core_new(NULL, &none, &core);
	if (rc)
		return rc;
	for (size_t i = 0; xsi_quota_names[i]; i++)
		*xsi_quota_field(&core->q, xsi_quota_names[i]) = r_u32(&r);
	core->gen = r_u64(&r);
	core->next_txid = r_u32(&r);
	core->log_on = r_u8(&r) != 0;
	rc = r.bad ? -EINVAL : load_nodes(&r, core);
	if (!rc)
		rc = load_domains(&r, core);
	if (!rc) {
		/* validate the rest before any transport is touched */
		struct rbuf probe = r;
		struct xs_core *scratch = NULL;

		rc = xs_core_new(NULL, &none, &scratch);
		if (!rc) {
			for (size_t i = 0; i < core->doms_hi && !rc;
			     i++) {
				const struct xs_domain *d = core->doms[i];
				struct xs_domain *sd;

				if (!d)
					continue;
				sd = xsi_domain_get(scratch, d->domid, true);
				if (!sd)
					rc = -ENOMEM;
				else
					*sd = *d;
			}
			if (!rc)
				rc = load_conns(&probe, scratch, NULL, true);
			for (size_t i = 0; i < scratch->doms_hi; i++)
				if (scratch->doms[i])
					scratch->doms[i]->conn = NULL;
			xs_core_free(scratch);
		}
		if (!rc && (r_u32(&probe) != LU_END || probe.bad ||
			    probe.off != probe.len))
			rc = -EINVAL;
	}
	if (rc)
		goto fail;
	if (hooks)
		core->hooks = *hooks;
	rc = load_conns(&r, core, ops, false);
	if (rc)
		goto fail;
	(void)r_u32(&r);
	reattach_domains(core);
	*out = core;
	return 0;
fail:
	core->hooks = none;
	xs_core_free(core);
	return rc;
}
