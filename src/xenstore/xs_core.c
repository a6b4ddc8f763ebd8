/*
 * xs_core.c - the store object, client connections with their bounded
 * output queues, and domain lifecycle (introduce, shutdown, release with
 * the scrub that keeps a reused domid from inheriting anything).
 */
#include "xenstore/xs_int.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

/* ---- output ------------------------------------------------------------ */

int xsi_conn_queue(struct xs_conn *c, uint32_t type, uint32_t req_id,
		   uint32_t tx_id, const void *p1, size_t l1, const void *p2,
		   size_t l2, bool reply)
{
	struct xsd_sockmsg hdr = {.type = type,
				  .req_id = req_id,
				  .tx_id = tx_id,
				  .len = (uint32_t)(l1 + l2)};
	struct xs_msg *m;

	if (l1 + l2 > XENSTORE_PAYLOAD_MAX)
		return -E2BIG;
	m = malloc(sizeof(*m) + sizeof(hdr) + l1 + l2);
	if (!m)
		return -ENOMEM;
	m->next = NULL;
	m->len = sizeof(hdr) + l1 + l2;
	m->off = 0;
	m->reply = reply;
	memcpy(m->data, &hdr, sizeof(hdr));
	if (l1)
		memcpy(m->data + sizeof(hdr), p1, l1);
	if (l2)
		memcpy(m->data + sizeof(hdr) + l1, p2, l2);
	*c->out_tail = m;
	c->out_tail = &m->next;
	c->out_bytes += m->len;
	if (reply)
		c->out_replies++;
	if (c->core->hooks.wake)
		c->core->hooks.wake(c->core->hooks.opaque, c);
	return 0;
}

static void conn_drop_output(struct xs_conn *c)
{
	while (c->out_head) {
		struct xs_msg *m = c->out_head;

		c->out_head = m->next;
		free(m);
	}
	c->out_tail = &c->out_head;
	c->out_bytes = 0;
	c->out_replies = 0;
}

size_t xs_conn_peek(const struct xs_conn *conn, const void **buf)
{
	const struct xs_msg *m = conn->out_head;

	if (!m) {
		*buf = NULL;
		return 0;
	}
	*buf = m->data + m->off;
	return m->len - m->off;
}

/* Report an input taken from outside a feed to the journal. */
static void core_journal(struct xs_core *core, struct xs_conn *conn,
			 enum xs_journal_kind kind, domid_t domid, uint64_t arg)
{
	if (core->hooks.journal && !core->in_feed)
		core->hooks.journal(core->hooks.opaque, conn, kind, domid, NULL,
				    0, arg, false);
}

void xs_conn_consume(struct xs_conn *conn, size_t n)
{
	if (n > conn->out_bytes)
		n = conn->out_bytes;
	if (n)
		core_journal(conn->core, conn, XS_J_CONSUME, conn->domid, n);
	while (n && conn->out_head) {
		struct xs_msg *m = conn->out_head;
		size_t k = m->len - m->off;

		if (k > n)
			k = n;
		m->off += k;
		n -= k;
		conn->out_bytes -= k;
		if (m->off == m->len) {
			conn->out_head = m->next;
			if (!conn->out_head)
				conn->out_tail = &conn->out_head;
			if (m->reply)
				conn->out_replies--;
			free(m);
		}
	}
}

size_t xs_conn_out_bytes(const struct xs_conn *conn) { return conn->out_bytes; }

struct check_ctx {
	const struct xs_core *core;
	size_t bad;
};

static void check_node(struct xs_hentry *e, void *arg)
{
	struct check_ctx *cc = arg;
	const struct xs_node *n = (const struct xs_node *)e;
	char buf[XENSTORE_ABS_PATH_MAX + 1];

	if (n->nperms == 0)
		cc->bad++;
	if (n->path[0] == '@')
		return;
	for (uint32_t i = 0; i < n->nkids; i++) {
		int w =
		    snprintf(buf, sizeof(buf), "%s/%s",
			     strcmp(n->path, "/") ? n->path : "", n->kids[i]);

		if (w < 0 || (size_t)w >= sizeof(buf) ||
		    !xsi_tree_find(cc->core, buf))
			cc->bad++;
	}
	if (strcmp(n->path, "/")) {
		xsi_parent_path(n->path, buf);
		if (!xsi_tree_find(cc->core, buf))
			cc->bad++;
	}
}

/* Count structural inconsistencies of the tree (0 when healthy). */
size_t xsi_core_check(const struct xs_core *core)
{
	struct check_ctx cc = {.core = core};

	xs_htab_foreach(&core->nodes, check_node, &cc);
	return cc.bad;
}

const char *const xsi_quota_names[] = {
    "nodes",	 "node-size", "watches", "transactions", "outstanding",
    "out-bytes", "tx-nodes",  "tx-rate", "perms",	 NULL,
};

uint32_t *xsi_quota_field(struct xs_quota *q, const char *name)
{
	uint32_t *f[] = {&q->nodes,	   &q->node_size,   &q->watches,
			 &q->transactions, &q->outstanding, &q->out_bytes,
			 &q->tx_nodes,	   &q->tx_rate,	    &q->perms};

	for (size_t i = 0; xsi_quota_names[i]; i++)
		if (strcmp(xsi_quota_names[i], name) == 0)
			return f[i];
	return NULL;
}

/* ---- connections ------------------------------------------------------- */

int xs_conn_new(struct xs_core *core, domid_t domid, struct xs_conn **out)
{
	struct xs_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->core = core;
	c->domid = domid;
	c->out_tail = &c->out_head;
	c->next = core->conns;
	if (core->conns)
		core->conns->prev = c;
	core->conns = c;
	*out = c;
	return 0;
}

void xsi_conn_unlink_free(struct xs_conn *c)
{
	struct xs_core *core = c->core;

	xsi_conn_drop_state(c);
	conn_drop_output(c);
	if (c->prev)
		c->prev->next = c->next;
	else
		core->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c);
}

void xs_conn_free(struct xs_conn *conn)
{
	if (!conn)
		return;
	if (conn->is_domain) {
		struct xs_domain *d =
		    xsi_domain_get(conn->core, conn->domid, false);

		if (d && d->conn == conn) {
			xs_core_release_domain(conn->core, conn->domid);
			return;
		}
	}
	xsi_conn_unlink_free(conn);
}

void xs_conn_reset(struct xs_conn *conn)
{
	core_journal(conn->core, conn, XS_J_RESET, conn->domid, 0);
	xsi_conn_drop_state(conn);
	conn_drop_output(conn);
	conn->inlen = 0;
	conn->failed = false;
}

domid_t xs_conn_domid(const struct xs_conn *conn) { return conn->domid; }

void xs_conn_set_priv(struct xs_conn *conn, void *priv) { conn->priv = priv; }

void *xs_conn_priv(const struct xs_conn *conn) { return conn->priv; }

bool xs_conn_failed(const struct xs_conn *conn) { return conn->failed; }

unsigned int xs_conn_nwatches(const struct xs_conn *conn)
{
	return conn->nwatches;
}

unsigned int xs_conn_ntransactions(const struct xs_conn *conn)
{
	return conn->ntx;
}

/* ---- domains ----------------------------------------------------------- */

int xs_core_next_domain(const struct xs_core *core, unsigned int from,
			domid_t *out)
{
	for (unsigned int i = from; i < core->doms_hi; i++) {
		if (core->doms[i] && core->doms[i]->introduced) {
			*out = (domid_t)i;
			return 0;
		}
	}
	return -ENOENT;
}

struct xs_conn *xs_core_domain_conn(const struct xs_core *core, domid_t domid)
{
	const struct xs_domain *d = xsi_domain_peek(core, domid);

	return d && d->introduced ? d->conn : NULL;
}

int xs_core_domain_ring(const struct xs_core *core, domid_t domid,
			uint64_t *gfn, evtchn_port_t *port)
{
	const struct xs_domain *d = xsi_domain_peek(core, domid);

	if (!d || !d->introduced)
		return -ENOENT;
	*gfn = d->gfn;
	*port = d->port;
	return 0;
}

int xs_core_domain_shutdown(struct xs_core *core, domid_t domid)
{
	struct xs_domain *d = xsi_domain_get(core, domid, false);

	if (!d || !d->introduced)
		return -ENOENT;
	core_journal(core, NULL, XS_J_SHUTDOWN, domid, 0);
	if (!d->shutdown_fired) {
		d->shutdown_fired = true;
		xsi_fire_special(core, SPECIAL_RELEASE);
	}
	return 0;
}

struct scrub_ctx {
	struct xs_core *core;
	domid_t domid;
};

static void scrub_node(struct xs_hentry *e, void *arg)
{
	struct scrub_ctx *sc = arg;
	struct xs_node *n = (struct xs_node *)e;
	bool changed = false;
	uint32_t j = 1;

	if (n->nperms == 0)
		return;
	if (n->perms[0].id == sc->domid) {
		n->perms[0].id = 0;
		xsi_count_owner(sc->core, 0, 1);
		changed = true;
	}
	for (uint32_t i = 1; i < n->nperms; i++) {
		if (n->perms[i].id == sc->domid) {
			changed = true;
			continue;
		}
		n->perms[j++] = n->perms[i];
	}
	n->nperms = j;
	if (changed)
		n->gen = ++sc->core->gen;
}

int xs_core_release_domain(struct xs_core *core, domid_t domid)
{
	struct xs_domain *d = xsi_domain_get(core, domid, false);
	struct scrub_ctx sc = {.core = core, .domid = domid};
	struct xs_conn *c;

	if (!d || !d->introduced)
		return -ENOENT;
	core_journal(core, NULL, XS_J_RELEASE, domid, 0);
	c = d->conn;
	d->conn = NULL;
	d->introduced = false;
	if (c) {
		if (core->hooks.release)
			core->hooks.release(core->hooks.opaque, c);
		xsi_conn_unlink_free(c);
	}
	/* domid reuse must inherit nothing: nodes go to Dom0, ACLs drop it */
	xs_htab_foreach(&core->nodes, scrub_node, &sc);
	d->nnodes = 0;
	d->has_target = false;
	d->shutdown_fired = false;
	xsi_fire_special(core, SPECIAL_RELEASE);
	return 0;
}

/* ---- the core ---------------------------------------------------------- */

void xs_quota_default(struct xs_quota *q)
{
	q->nodes = 1000;
	q->node_size = 2048;
	q->watches = 128;
	q->transactions = 10;
	q->outstanding = 20;
	q->out_bytes = 256 * 1024;
	q->tx_nodes = 1024;
	q->tx_rate = 0;
	q->perms = 5;
}

static int core_add_node(struct xs_core *core, const char *path,
			 struct xs_node *parent)
{
	static const struct xs_perm p0 = {.id = 0, .perms = PERM_NONE};
	struct xs_node *n = xsi_node_alloc(path);

	if (!n || xsi_node_set_perms(n, &p0, 1) ||
	    xs_htab_insert(&core->nodes, &n->h)) {
		xsi_node_free(n);
		return -ENOMEM;
	}
	if (parent && xsi_node_add_kid(parent, xsi_leaf_name(path))) {
		xs_htab_remove(&core->nodes, &n->h);
		xsi_node_free(n);
		return -ENOMEM;
	}
	n->gen = ++core->gen;
	return 0;
}

int xs_core_new(const struct xs_quota *q, const struct xs_core_hooks *hooks,
		struct xs_core **out)
{
	struct xs_core *core = calloc(1, sizeof(*core));
	int rc = -ENOMEM;

	if (!core)
		return -ENOMEM;
	if (q)
		core->q = *q;
	else
		xs_quota_default(&core->q);
	if (hooks)
		core->hooks = *hooks;
	core->doms = calloc(DOMID_FIRST_RESERVED, sizeof(*core->doms));
	if (!core->doms || xs_htab_init(&core->nodes) ||
	    xs_htab_init(&core->watches))
		goto fail;
	rc = core_add_node(core, "/", NULL);
	if (!rc)
		rc = core_add_node(core, SPECIAL_INTRO, NULL);
	if (!rc)
		rc = core_add_node(core, SPECIAL_RELEASE, NULL);
	if (rc)
		goto fail;
	*out = core;
	return 0;
fail:
	xs_core_free(core);
	return rc;
}

static void free_node_cb(struct xs_hentry *e, void *arg)
{
	(void)arg;
	xsi_node_free((struct xs_node *)e);
}

void xs_core_free(struct xs_core *core)
{
	if (!core)
		return;
	while (core->conns) {
		if (core->conns->is_domain && core->hooks.release)
			core->hooks.release(core->hooks.opaque, core->conns);
		xsi_conn_unlink_free(core->conns);
	}
	xs_htab_foreach(&core->nodes, free_node_cb, NULL);
	xs_htab_destroy(&core->nodes);
	xs_htab_destroy(&core->watches);
	if (core->doms)
		for (size_t i = 0; i < core->doms_hi; i++)
			free(core->doms[i]);
	free(core->doms);
	free(core);
}

int xs_core_set_quota(struct xs_core *core, const char *name, uint64_t val)
{
	uint32_t *f = xsi_quota_field(&core->q, name);

	if (!f || val > UINT32_MAX)
		return -EINVAL;
	*f = (uint32_t)val;
	return 0;
}

void xs_core_set_hooks(struct xs_core *core, const struct xs_core_hooks *h)
{
	if (h)
		core->hooks = *h;
	else
		memset(&core->hooks, 0, sizeof(core->hooks));
}

const struct xs_quota *xs_core_quota(const struct xs_core *core)
{
	return &core->q;
}

size_t xs_core_node_count(const struct xs_core *core)
{
	return core->nodes.count;
}
