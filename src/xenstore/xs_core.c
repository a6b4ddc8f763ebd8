/*
 * xs_core.c - the xenstore database and protocol, without any I/O.
 *
 * Nodes live in a hash table keyed by absolute path; each node keeps the
 * leaf names of its children in insertion order.  A transaction is an
 * overlay: the first access to a path copies the node (or records its
 * absence) together with the node's generation; commit fails with EAGAIN
 * when any path the transaction touched changed generation meanwhile, and
 * otherwise replays the dirty copies onto the tree.  Watches are indexed
 * by path, so an event looks up the path and each of its ancestors.
 */
#include "xenstore/xs_core.h"
#include "xenstore/xs_htab.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#define PERM_NONE 0u
#define PERM_READ 1u
#define PERM_WRITE 2u
#define PERM_OWNER 4u
#define PERM_ALL (PERM_READ | PERM_WRITE | PERM_OWNER)

#define SPECIAL_INTRO "@introduceDomain"
#define SPECIAL_RELEASE "@releaseDomain"
#define PRIV_OUT_BYTES (64u << 20) /* event cap even for Dom0 clients */
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

struct xs_perm {
	domid_t id;
	uint8_t perms; /* PERM_READ | PERM_WRITE */
};

struct xs_node {
	struct xs_hentry h; /* key = path */
	char *path;
	char *value;
	uint32_t vlen;
	struct xs_perm *perms;
	uint32_t nperms;
	char **kids; /* leaf names, insertion order */
	uint32_t nkids, kcap;
	size_t kbytes; /* sum of strlen(kid) + 1 */
	uint64_t gen;
	/* transaction copies only */
	bool present, dirty;
	uint64_t base_gen; /* generation in the tree when copied, 0 = absent */
	uint64_t seq;      /* order of first access, keeps children's order */
};

struct xs_event {
	struct xs_event *next;
	char *path;
	bool recurse;
	struct xs_perm *perms;
	uint32_t nperms;
};

struct xs_tx {
	struct xs_tx *next;
	uint32_t id;
	struct xs_htab nodes;
	uint32_t nnodes;
	uint64_t seq;
	struct xs_event *events, **events_tail;
	int64_t node_delta; /* nodes owned by the connection's domain */
	int error;          /* sticky: commit fails with it */
};

struct xs_watch {
	struct xs_hentry h; /* key = abspath, in core->watches */
	struct xs_watch *next, *prev;   /* per connection */
	struct xs_watch *gnext, *gprev; /* whole core */
	struct xs_conn *conn;
	char *abspath;
	char *token;
	size_t strip; /* prefix length removed from event paths (relative) */
};

struct xs_msg {
	struct xs_msg *next;
	size_t len, off;
	bool reply;
	unsigned char data[];
};

struct xs_conn {
	struct xs_core *core;
	struct xs_conn *next, *prev;
	domid_t domid;
	bool failed;
	bool is_domain; /* created by INTRODUCE */
	void *priv;
	unsigned char in[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX];
	size_t inlen;
	struct xs_msg *out_head, **out_tail;
	size_t out_bytes;
	uint32_t out_replies;
	struct xs_watch *watches;
	uint32_t nwatches;
	struct xs_tx *txs;
	uint32_t ntx;
	uint64_t rl_last_ns;
	uint64_t rl_tokens_milli;
	bool rl_init;
};

struct xs_domain {
	domid_t domid;
	bool introduced, shutdown_fired, has_target;
	domid_t target;
	struct xs_conn *conn;
	uint64_t gfn;
	evtchn_port_t port;
	uint32_t nnodes;
};

struct xs_core {
	struct xs_quota q;
	struct xs_core_hooks hooks;
	struct xs_htab nodes;
	struct xs_htab watches;
	struct xs_watch *all_watches;
	struct xs_conn *conns;
	struct xs_domain **doms; /* DOMID_FIRST_RESERVED entries */
	uint64_t gen;
	uint32_t next_txid;
	bool log_on;
};

/* A request being handled: the connection, its transaction (or NULL) and
 * a nul-terminated copy of the payload. */
struct xs_req {
	struct xs_core *core;
	struct xs_conn *conn;
	struct xs_tx *tx;
	const struct xsd_sockmsg *hdr;
	char data[XENSTORE_PAYLOAD_MAX + 1];
	uint32_t len;
	unsigned int nargs;
	char reply[XENSTORE_PAYLOAD_MAX];
	uint32_t rlen;
};

#define REPLIED 1 /* handler queued its own reply */

/* ---- small helpers ----------------------------------------------------- */

static bool conn_priv(const struct xs_conn *c)
{
	return c->domid == 0;
}

static struct xs_domain *domain_get(struct xs_core *core, unsigned int domid,
				   bool create)
{
	struct xs_domain *d;

	if (domid >= DOMID_FIRST_RESERVED)
		return NULL;
	d = core->doms[domid];
	if (!d && create) {
		d = calloc(1, sizeof(*d));
		if (!d)
			return NULL;
		d->domid = (domid_t)domid;
		core->doms[domid] = d;
	}
	return d;
}

static const struct xs_domain *domain_peek(const struct xs_core *core,
					   unsigned int domid)
{
	return domid < DOMID_FIRST_RESERVED ? core->doms[domid] : NULL;
}

static void count_owner(struct xs_core *core, domid_t owner, int delta)
{
	struct xs_domain *d = domain_get(core, owner, delta > 0);

	if (!d)
		return;
	if (delta < 0 && d->nnodes < (uint32_t)-delta)
		d->nnodes = 0;
	else
		d->nnodes += (uint32_t)delta;
}

static int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(*s - '0'), &v))
			return -EINVAL;
	}
	if (v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_domid(const char *s, domid_t *out)
{
	uint64_t v;
	int rc = parse_uint(s, UINT16_MAX, &v);

	if (rc == 0)
		*out = (domid_t)v;
	return rc;
}

static const char *errno_name(int err)
{
	for (size_t i = 0; i < ARRAY_LEN(xsd_errors); i++)
		if (xsd_errors[i].errnum == err)
			return xsd_errors[i].errstring;
	return "EIO";
}

/* ---- permissions ------------------------------------------------------- */

static unsigned int perm_for(const struct xs_conn *c, const struct xs_perm *p,
			     uint32_t n)
{
	const struct xs_domain *d;
	bool tgt;
	domid_t target = 0;

	if (conn_priv(c) || n == 0)
		return conn_priv(c) ? PERM_ALL : PERM_NONE;
	d = domain_peek(c->core, c->domid);
	tgt = d && d->has_target;
	if (tgt)
		target = d->target;
	if (p[0].id == c->domid || (tgt && p[0].id == target))
		return PERM_ALL;
	for (uint32_t i = 1; i < n; i++)
		if (p[i].id == c->domid || (tgt && p[i].id == target))
			return p[i].perms;
	return p[0].perms;
}

static bool node_allows(const struct xs_conn *c, const struct xs_node *n,
			unsigned int want)
{
	return (perm_for(c, n->perms, n->nperms) & want) == want;
}

static int perms_parse(const struct xs_req *r, const char *s, uint32_t count,
		       struct xs_perm **out)
{
	struct xs_perm *p = calloc(count, sizeof(*p));

	if (!p)
		return -ENOMEM;
	for (uint32_t i = 0; i < count; i++) {
		switch (s[0]) {
		case 'n':
			p[i].perms = PERM_NONE;
			break;
		case 'r':
			p[i].perms = PERM_READ;
			break;
		case 'w':
			p[i].perms = PERM_WRITE;
			break;
		case 'b':
			p[i].perms = PERM_READ | PERM_WRITE;
			break;
		default:
			free(p);
			return -EINVAL;
		}
		if (parse_domid(s + 1, &p[i].id)) {
			free(p);
			return -EINVAL;
		}
		s += strlen(s) + 1;
	}
	(void)r;
	*out = p;
	return 0;
}

static char perm_char(uint8_t perms)
{
	static const char c[] = {'n', 'r', 'w', 'b'};

	return c[perms & 3];
}

/* ---- paths ------------------------------------------------------------- */

static bool path_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '/' || c == '_' ||
	       c == '@';
}

static bool is_special(const char *p)
{
	return strcmp(p, SPECIAL_INTRO) == 0 || strcmp(p, SPECIAL_RELEASE) == 0;
}

/* Resolve in (relative to /local/domain/<domid> unless absolute) into out
 * (XENSTORE_ABS_PATH_MAX + 1 bytes) and validate it.  Special node names
 * pass only with allow_special.  0 or -EINVAL. */
static int path_canon(const struct xs_conn *c, const char *in, char *out,
		      bool allow_special, bool *relative)
{
	size_t len = strlen(in);

	if (relative)
		*relative = false;
	if (in[0] == '@') {
		if (!allow_special || !is_special(in))
			return -EINVAL;
		strcpy(out, in);
		return 0;
	}
	if (in[0] == '/') {
		if (len > XENSTORE_ABS_PATH_MAX)
			return -EINVAL;
		memcpy(out, in, len + 1);
	} else {
		int n;

		if (len == 0 || len > XENSTORE_REL_PATH_MAX)
			return -EINVAL;
		n = snprintf(out, XENSTORE_ABS_PATH_MAX + 1,
			     "/local/domain/%u/%s", c->domid, in);
		if (n < 0 || n > XENSTORE_ABS_PATH_MAX)
			return -EINVAL;
		len = (size_t)n;
		if (relative)
			*relative = true;
	}
	for (size_t i = 0; i < len; i++) {
		if (!path_char_ok(out[i]))
			return -EINVAL;
		if (out[i] == '/' && out[i + 1] == '/')
			return -EINVAL;
	}
	if (len > 1 && out[len - 1] == '/')
		return -EINVAL;
	return 0;
}

/* Length of the parent of path ("/a/b" -> 2, "/a" -> 1). */
static size_t parent_len(const char *path, size_t len)
{
	while (len > 1 && path[len - 1] != '/')
		len--;
	return len > 1 ? len - 1 : 1;
}

/* Copy the parent of path into buf (XENSTORE_ABS_PATH_MAX + 1 bytes). */
static void parent_path(const char *path, char *buf)
{
	size_t plen = parent_len(path, strlen(path));

	memcpy(buf, path, plen);
	buf[plen] = '\0';
}

static const char *leaf_name(const char *path)
{
	return strrchr(path, '/') + 1;
}

/* child is path or a descendant of it */
static bool path_is_child(const char *child, const char *path)
{
	size_t n = strlen(path);

	if (strcmp(path, "/") == 0)
		return child[0] == '/';
	return strncmp(child, path, n) == 0 &&
	       (child[n] == '\0' || child[n] == '/');
}

/* ---- nodes ------------------------------------------------------------- */

static void node_free(struct xs_node *n)
{
	if (!n)
		return;
	for (uint32_t i = 0; i < n->nkids; i++)
		free(n->kids[i]);
	free(n->kids);
	free(n->perms);
	free(n->value);
	free(n->path);
	free(n);
}

static void node_clear(struct xs_node *n)
{
	for (uint32_t i = 0; i < n->nkids; i++)
		free(n->kids[i]);
	free(n->kids);
	free(n->perms);
	free(n->value);
	n->kids = NULL;
	n->perms = NULL;
	n->value = NULL;
	n->nkids = n->kcap = n->nperms = n->vlen = 0;
	n->kbytes = 0;
}

static struct xs_node *node_alloc(const char *path)
{
	struct xs_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->path = strdup(path);
	if (!n->path) {
		free(n);
		return NULL;
	}
	n->h.key = n->path;
	return n;
}

static int node_set_value(struct xs_node *n, const char *v, uint32_t len)
{
	char *nv = NULL;

	if (len) {
		nv = malloc(len);
		if (!nv)
			return -ENOMEM;
		memcpy(nv, v, len);
	}
	free(n->value);
	n->value = nv;
	n->vlen = len;
	return 0;
}

static int node_set_perms(struct xs_node *n, const struct xs_perm *p,
			  uint32_t count)
{
	struct xs_perm *np = malloc(count * sizeof(*np));

	if (!np)
		return -ENOMEM;
	memcpy(np, p, count * sizeof(*np));
	free(n->perms);
	n->perms = np;
	n->nperms = count;
	return 0;
}

static int node_add_kid(struct xs_node *n, const char *name)
{
	char *s;

	if (n->nkids == n->kcap) {
		uint32_t cap = n->kcap ? n->kcap * 2 : 4;
		char **k = realloc(n->kids, cap * sizeof(*k));

		if (!k)
			return -ENOMEM;
		n->kids = k;
		n->kcap = cap;
	}
	s = strdup(name);
	if (!s)
		return -ENOMEM;
	n->kids[n->nkids++] = s;
	n->kbytes += strlen(s) + 1;
	return 0;
}

static void node_del_kid(struct xs_node *n, const char *name)
{
	for (uint32_t i = 0; i < n->nkids; i++) {
		if (strcmp(n->kids[i], name) == 0) {
			n->kbytes -= strlen(n->kids[i]) + 1;
			free(n->kids[i]);
			memmove(&n->kids[i], &n->kids[i + 1],
				(n->nkids - i - 1) * sizeof(*n->kids));
			n->nkids--;
			return;
		}
	}
}

/* Deep copy of n's contents into a fresh node for path. */
static struct xs_node *node_copy(const struct xs_node *n, const char *path)
{
	struct xs_node *c = node_alloc(path);

	if (!c)
		return NULL;
	if (n) {
		if (node_set_value(c, n->value, n->vlen) ||
		    node_set_perms(c, n->perms, n->nperms))
			goto fail;
		for (uint32_t i = 0; i < n->nkids; i++)
			if (node_add_kid(c, n->kids[i]))
				goto fail;
		c->gen = n->gen;
		c->present = true;
		c->base_gen = n->gen;
	}
	return c;
fail:
	node_free(c);
	return NULL;
}

static size_t node_size(const struct xs_node *n)
{
	return n->vlen + n->nperms * sizeof(struct xs_perm) + n->kbytes;
}

static struct xs_node *tree_find(const struct xs_core *core, const char *path)
{
	struct xs_hentry *e = xs_htab_find(&core->nodes, path);

	return e ? (struct xs_node *)e : NULL;
}

/* ---- output ------------------------------------------------------------ */

static int conn_queue(struct xs_conn *c, uint32_t type, uint32_t req_id,
		      uint32_t tx_id, const void *p1, size_t l1, const void *p2,
		      size_t l2, bool reply)
{
	struct xsd_sockmsg hdr = {.type = type, .req_id = req_id,
				  .tx_id = tx_id, .len = (uint32_t)(l1 + l2)};
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

void xs_conn_consume(struct xs_conn *conn, size_t n)
{
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

size_t xs_conn_out_bytes(const struct xs_conn *conn)
{
	return conn->out_bytes;
}

/* ---- watches ----------------------------------------------------------- */

static void watch_send(struct xs_watch *w, const char *epath)
{
	struct xs_conn *c = w->conn;
	size_t plen, tlen = strlen(w->token) + 1;
	size_t cap = conn_priv(c) ? PRIV_OUT_BYTES : c->core->q.out_bytes;
	const char *p = epath;

	if (w->strip && strlen(epath) > w->strip)
		p += w->strip;
	plen = strlen(p) + 1;
	if (plen + tlen > XENSTORE_PAYLOAD_MAX) {
		pvk_debug("xenstore: dropping oversized watch event %.64s",
			  epath);
		return;
	}
	if (c->out_bytes + sizeof(struct xsd_sockmsg) + plen + tlen > cap) {
		pvk_debug("xenstore: dom%u output full, event dropped",
			  c->domid);
		return;
	}
	(void)conn_queue(c, XS_WATCH_EVENT, 0, 0, p, plen, w->token, tlen,
			 false);
}

/* Fire the watches matching a change of path whose permissions are perms:
 * watches on path or an ancestor, and with recurse (removal) also watches
 * below path, which see their own path. */
static void fire_watches(struct xs_core *core, const char *path, bool recurse,
			 const struct xs_perm *perms, uint32_t nperms)
{
	char buf[XENSTORE_ABS_PATH_MAX + 1];
	size_t len = strlen(path);

	if (len > XENSTORE_ABS_PATH_MAX)
		return;
	memcpy(buf, path, len + 1);
	if (path[0] == '@') {
		for (struct xs_hentry *e = xs_htab_find(&core->watches, path);
		     e; e = xs_htab_next(e)) {
			struct xs_watch *w = (struct xs_watch *)e;

			if (perm_for(w->conn, perms, nperms) & PERM_READ)
				watch_send(w, path);
		}
		return;
	}
	for (;;) {
		for (struct xs_hentry *e = xs_htab_find(&core->watches, buf); e;
		     e = xs_htab_next(e)) {
			struct xs_watch *w = (struct xs_watch *)e;

			if (perm_for(w->conn, perms, nperms) & PERM_READ)
				watch_send(w, path);
		}
		if (len == 1)
			break;
		len = parent_len(buf, len);
		buf[len] = '\0';
	}
	if (!recurse)
		return;
	for (struct xs_watch *w = core->all_watches; w; w = w->gnext) {
		if (w->abspath[0] == '@' || strcmp(w->abspath, path) == 0 ||
		    !path_is_child(w->abspath, path))
			continue;
		if (perm_for(w->conn, perms, nperms) & PERM_READ)
			watch_send(w, w->abspath);
	}
}

static void fire_special(struct xs_core *core, const char *name)
{
	struct xs_node *n = tree_find(core, name);

	if (n)
		fire_watches(core, name, false, n->perms, n->nperms);
}

static void watch_free(struct xs_core *core, struct xs_watch *w)
{
	struct xs_conn *c = w->conn;

	xs_htab_remove(&core->watches, &w->h);
	if (w->prev)
		w->prev->next = w->next;
	else
		c->watches = w->next;
	if (w->next)
		w->next->prev = w->prev;
	if (w->gprev)
		w->gprev->gnext = w->gnext;
	else
		core->all_watches = w->gnext;
	if (w->gnext)
		w->gnext->gprev = w->gprev;
	c->nwatches--;
	free(w->abspath);
	free(w->token);
	free(w);
}

/* ---- transactions ------------------------------------------------------ */

static void event_free(struct xs_event *ev)
{
	free(ev->path);
	free(ev->perms);
	free(ev);
}

static void tx_free_node(struct xs_hentry *e, void *arg)
{
	(void)arg;
	node_free((struct xs_node *)e);
}

static void tx_free(struct xs_tx *tx)
{
	xs_htab_foreach(&tx->nodes, tx_free_node, NULL);
	xs_htab_destroy(&tx->nodes);
	while (tx->events) {
		struct xs_event *ev = tx->events;

		tx->events = ev->next;
		event_free(ev);
	}
	free(tx);
}

static void conn_tx_remove(struct xs_conn *c, struct xs_tx *tx)
{
	for (struct xs_tx **pp = &c->txs; *pp; pp = &(*pp)->next) {
		if (*pp == tx) {
			*pp = tx->next;
			c->ntx--;
			break;
		}
	}
	tx_free(tx);
}

static struct xs_tx *conn_tx_find(struct xs_conn *c, uint32_t id)
{
	for (struct xs_tx *tx = c->txs; tx; tx = tx->next)
		if (tx->id == id)
			return tx;
	return NULL;
}

/* ---- the view: tree or transaction overlay ----------------------------- */

/* Look path up as the request sees it: *out is the node or NULL when it
 * does not exist.  In a transaction the node is copied into the overlay
 * on first access.  0 or -errno. */
static int view_get(struct xs_req *r, const char *path, struct xs_node **out)
{
	struct xs_tx *tx = r->tx;
	struct xs_hentry *e;
	struct xs_node *n;

	*out = NULL;
	if (!tx) {
		*out = tree_find(r->core, path);
		return 0;
	}
	e = xs_htab_find(&tx->nodes, path);
	if (e) {
		n = (struct xs_node *)e;
		*out = n->present ? n : NULL;
		return 0;
	}
	if (!conn_priv(r->conn) && tx->nnodes >= r->core->q.tx_nodes)
		return -ENOSPC;
	n = node_copy(tree_find(r->core, path), path);
	if (!n)
		return -ENOMEM;
	if (xs_htab_insert(&tx->nodes, &n->h)) {
		node_free(n);
		return -ENOMEM;
	}
	tx->nnodes++;
	n->seq = ++tx->seq;
	*out = n->present ? n : NULL;
	return 0;
}

static void view_touch(struct xs_req *r, struct xs_node *n)
{
	if (r->tx)
		n->dirty = true;
	else
		n->gen = ++r->core->gen;
}

static int tx_add_event(struct xs_tx *tx, const char *path, bool recurse,
			const struct xs_perm *perms, uint32_t nperms)
{
	struct xs_event *ev = calloc(1, sizeof(*ev));

	if (!ev)
		return -ENOMEM;
	ev->path = strdup(path);
	ev->perms = malloc(nperms * sizeof(*perms) + 1);
	if (!ev->path || !ev->perms) {
		event_free(ev);
		return -ENOMEM;
	}
	memcpy(ev->perms, perms, nperms * sizeof(*perms));
	ev->nperms = nperms;
	ev->recurse = recurse;
	*tx->events_tail = ev;
	tx->events_tail = &ev->next;
	return 0;
}

/* A node changed: fire now, or at commit inside a transaction. */
static int view_event(struct xs_req *r, const char *path, bool recurse,
		      const struct xs_perm *perms, uint32_t nperms)
{
	if (r->tx)
		return tx_add_event(r->tx, path, recurse, perms, nperms);
	fire_watches(r->core, path, recurse, perms, nperms);
	return 0;
}

static uint32_t owned_nodes(struct xs_req *r)
{
	const struct xs_domain *d = domain_peek(r->core, r->conn->domid);
	int64_t v = d ? d->nnodes : 0;

	if (r->tx)
		v += r->tx->node_delta;
	return v < 0 ? 0 : (uint32_t)v;
}

/* Create path (whose parent exists as parent) with inherited perms. */
static int view_create(struct xs_req *r, struct xs_node *parent,
		       const char *path, struct xs_node **out)
{
	struct xs_conn *c = r->conn;
	struct xs_node *n;
	int rc;

	if (!conn_priv(c)) {
		if (owned_nodes(r) >= r->core->q.nodes)
			return -ENOSPC;
		if (node_size(parent) + strlen(leaf_name(path)) + 1 >
		    r->core->q.node_size)
			return -ENOSPC;
	}
	if (r->tx) {
		struct xs_hentry *e = xs_htab_find(&r->tx->nodes, path);

		if (!e)
			return -EIO; /* view_get() recorded the absence */
		n = (struct xs_node *)e;
	} else {
		n = node_alloc(path);
		if (!n)
			return -ENOMEM;
	}
	rc = node_set_perms(n, parent->perms, parent->nperms);
	if (rc)
		goto fail;
	if (!conn_priv(c))
		n->perms[0].id = c->domid;
	rc = node_add_kid(parent, leaf_name(path));
	if (rc)
		goto fail;
	view_touch(r, parent);
	if (r->tx) {
		n->present = true;
		n->dirty = true;
		if (n->perms[0].id == c->domid)
			r->tx->node_delta++;
	} else {
		n->gen = ++r->core->gen;
		rc = xs_htab_insert(&r->core->nodes, &n->h);
		if (rc) {
			node_del_kid(parent, leaf_name(path));
			goto fail;
		}
		count_owner(r->core, n->perms[0].id, 1);
	}
	*out = n;
	return 0;
fail:
	if (r->tx)
		node_clear(n);
	else
		node_free(n);
	return rc;
}

/* Remove n and everything below it, without recursion. */
static int view_delete(struct xs_req *r, struct xs_node *n)
{
	char pbuf[XENSTORE_ABS_PATH_MAX + 1];
	struct xs_node **stack = NULL, *parent;
	size_t cnt = 0, cap = 0;
	int rc = 0;

	parent_path(n->path, pbuf);
	rc = view_get(r, pbuf, &parent);
	if (rc)
		return rc;
	rc = view_event(r, n->path, true, n->perms, n->nperms);
	if (rc)
		return rc;
	/* Breadth-first list of the subtree; children come after parents. */
	cap = 16;
	stack = malloc(cap * sizeof(*stack));
	if (!stack)
		return -ENOMEM;
	stack[cnt++] = n;
	for (size_t i = 0; i < cnt; i++) {
		struct xs_node *cur = stack[i];

		for (uint32_t k = 0; k < cur->nkids; k++) {
			char cpath[XENSTORE_ABS_PATH_MAX + 1];
			struct xs_node *child;
			int w;

			w = snprintf(cpath, sizeof(cpath), "%s/%s",
				     strcmp(cur->path, "/") ? cur->path : "",
				     cur->kids[k]);
			if (w < 0 || (size_t)w >= sizeof(cpath))
				continue;
			rc = view_get(r, cpath, &child);
			if (rc)
				goto out;
			if (!child)
				continue;
			if (cnt == cap) {
				struct xs_node **s;

				cap *= 2;
				s = realloc(stack, cap * sizeof(*stack));
				if (!s) {
					rc = -ENOMEM;
					goto out;
				}
				stack = s;
			}
			stack[cnt++] = child;
		}
	}
	if (parent) {
		node_del_kid(parent, leaf_name(n->path));
		view_touch(r, parent);
	}
	for (size_t i = cnt; i-- > 0;) {
		struct xs_node *cur = stack[i];

		if (r->tx) {
			if (cur->nperms && cur->perms[0].id == r->conn->domid)
				r->tx->node_delta--;
			node_clear(cur);
			cur->present = false;
			cur->dirty = true;
		} else {
			if (cur->nperms)
				count_owner(r->core, cur->perms[0].id, -1);
			xs_htab_remove(&r->core->nodes, &cur->h);
			node_free(cur);
		}
	}
out:
	free(stack);
	return rc;
}

/* errno for a missing or forbidden node: EACCES when the nearest existing
 * ancestor denies want, else ENOENT. */
static int missing_errno(struct xs_req *r, const char *path, unsigned int want)
{
	char buf[XENSTORE_ABS_PATH_MAX + 1];
	size_t len = strlen(path);
	struct xs_node *n = NULL;

	if (path[0] != '/')
		return -ENOENT;
	memcpy(buf, path, len + 1);
	while (len > 1) {
		len = parent_len(buf, len);
		buf[len] = '\0';
		if (view_get(r, buf, &n))
			return -ENOENT;
		if (n)
			break;
	}
	if (n && !node_allows(r->conn, n, want))
		return -EACCES;
	return -ENOENT;
}

/* Get an existing node the requester may access with want. */
static int get_node(struct xs_req *r, const char *path, unsigned int want,
		    struct xs_node **out)
{
	int rc = view_get(r, path, out);

	if (rc)
		return rc;
	if (!*out)
		return missing_errno(r, path, want);
	if (!node_allows(r->conn, *out, want)) {
		*out = NULL;
		return -EACCES;
	}
	return 0;
}

/* Get path for writing, creating it and its missing ancestors. */
static int get_or_create(struct xs_req *r, const char *path,
			 struct xs_node **out, bool *created)
{
	char buf[XENSTORE_ABS_PATH_MAX + 1];
	size_t len = strlen(path), alen;
	struct xs_node *n = NULL;
	int rc;

	*created = false;
	rc = view_get(r, path, &n);
	if (rc)
		return rc;
	if (n) {
		if (!node_allows(r->conn, n, PERM_WRITE))
			return -EACCES;
		*out = n;
		return 0;
	}
	memcpy(buf, path, len + 1);
	alen = len;
	while (!n) {
		alen = parent_len(buf, alen);
		buf[alen] = '\0';
		rc = view_get(r, buf, &n);
		if (rc)
			return rc;
	}
	if (!node_allows(r->conn, n, PERM_WRITE))
		return -EACCES;
	/* create each missing component below the ancestor */
	while (alen < len) {
		struct xs_node *child;
		size_t next = alen + 1;

		while (next < len && path[next] != '/')
			next++;
		memcpy(buf, path, next);
		buf[next] = '\0';
		rc = view_get(r, buf, &child);
		if (rc)
			return rc;
		if (!child) {
			/* like Xen: only the requested node fires a watch */
			rc = view_create(r, n, buf, &child);
			if (rc)
				return rc;
		}
		n = child;
		alen = next;
		*created = true;
	}
	*out = n;
	return 0;
}

/* ---- reply helpers ----------------------------------------------------- */

static int reply_add(struct xs_req *r, const void *p, size_t len)
{
	if (len > sizeof(r->reply) - r->rlen)
		return -E2BIG;
	if (len)
		memcpy(r->reply + r->rlen, p, len);
	r->rlen += (uint32_t)len;
	return 0;
}

static int reply_str(struct xs_req *r, const char *s)
{
	return reply_add(r, s, strlen(s) + 1);
}

static int reply_ok(struct xs_req *r)
{
	return reply_str(r, "OK");
}

/* The idx-th nul-separated argument, or NULL. */
static const char *req_arg(const struct xs_req *r, unsigned int idx)
{
	const char *p = r->data, *end = r->data + r->len;

	if (idx >= r->nargs)
		return NULL;
	while (idx--)
		p += strlen(p) + 1;
	return p < end || (p == end && r->len == 0) ? p : NULL;
}

/* Canonicalized first argument. */
static int req_path(struct xs_req *r, char *out, bool allow_special)
{
	const char *p = req_arg(r, 0);

	if (!p)
		return -EINVAL;
	return path_canon(r->conn, p, out, allow_special, NULL);
}

/* The node named by the first argument, canonicalized into path and
 * checked for want. */
static int req_node(struct xs_req *r, char *path, unsigned int want,
		    bool allow_special, struct xs_node **out)
{
	int rc = req_path(r, path, allow_special);

	if (rc)
		return rc;
	return get_node(r, path, want, out);
}

/* ---- operations -------------------------------------------------------- */

static int op_read(struct xs_req *r)
{
	char path[XENSTORE_ABS_PATH_MAX + 1];
	struct xs_node *n;
	int rc = req_node(r, path, PERM_READ, false, &n);

	if (rc)
		return rc;
	return reply_add(r, n->value, n->vlen);
}

static int op_write(struct xs_req *r)
{
	char path[XENSTORE_ABS_PATH_MAX + 1];
	const char *val;
	struct xs_node *n;
	uint32_t vlen;
	bool created;
	int rc;

	if (!memchr(r->data, '\0', r->len))
		return -EINVAL;
	rc = req_path(r, path, false);
	if (rc)
		return rc;
	val = r->data + strlen(r->data) + 1;
	vlen = (uint32_t)(r->len - (uint32_t)(val - r->data));
	if (!conn_priv(r->conn) && vlen > r->core->q.node_size)
		return -ENOSPC;
	rc = get_or_create(r, path, &n, &created);
	if (rc)
		return rc;
	if (!conn_priv(r->conn) &&
	    node_size(n) - n->vlen + vlen > r->core->q.node_size)
		return -ENOSPC;
	rc = node_set_value(n, val, vlen);
	if (rc)
		return rc;
	view_touch(r, n);
	rc = view_event(r, path, false, n->perms, n->nperms);
	if (rc)
		return rc;
	return reply_ok(r);
}

static int op_mkdir(struct xs_req *r)
{
	char path[XENSTORE_ABS_PATH_MAX + 1];
	struct xs_node *n;
	bool created;
	int rc = req_path(r, path, false);

	if (rc)
		return rc;
	rc = get_or_create(r, path, &n, &created);
	if (rc)
		return rc;
	if (created) {
		rc = view_event(r, path, false, n->perms, n->nperms);
		if (rc)
			return rc;
	}
	return reply_ok(r);
}

static int op_rm(struct xs_req *r)
{
	char path[XENSTORE_ABS_PATH_MAX + 1];
	struct xs_node *n;
	int rc = req_path(r, path, false);

	if (rc)
		return rc;
	if (strcmp(path, "/") == 0)
		return -EINVAL;
	rc = view_get(r, path, &n);
	if (rc)
		return rc;
	if (!n) {
		struct xs_node *parent;
		size_t plen = parent_len(path, strlen(path));

		path[plen] = '\0';
		rc = view_get(r, path, &parent);
		if (rc)
			return rc;
		if (!parent)
			return missing_errno(r, path, PERM_WRITE);
		if (!node_allows(r->conn, parent, PERM_READ))
			return -EACCES;
		return reply_ok(r);
	}
	if (!node_allows(r->conn, n, PERM_WRITE))
		return -EACCES;
	rc = view_delete(r, n);
	if (rc)
		return rc;
	return reply_ok(r);
}

static int op_directory(struct xs_req *r)
{
	char path[XENSTORE_ABS_PATH_MAX + 1];
	struct xs_node *n;
	int rc = req_node(r, path, PERM_READ, false, &n);

	if (rc)
		return rc;
	if (n->kbytes > sizeof(r->reply))
		return -E2BIG;
	for (uint32_t i = 0; i < n->nkids; i++) {
		rc = reply_str(r, n->kids[i]);
		if (rc)
			return rc;
	}
	return 0;
}

static int op_directory_part(struct xs_req *r)
{
	char path[XENSTORE_ABS_PATH_MAX + 1], gen[24];
	const char *offs = req_arg(r, 1);
	struct xs_node *n;
	uint64_t off, pos = 0;
	uint32_t i = 0;
	int rc;

	if (!offs || parse_uint(offs, UINT32_MAX, &off))
		return -EINVAL;
	rc = req_node(r, path, PERM_READ, false, &n);
	if (rc)
		return rc;
	snprintf(gen, sizeof(gen), "%" PRIu64, n->gen);
	rc = reply_str(r, gen);
	if (rc)
		return rc;
	while (i < n->nkids && pos < off)
		pos += strlen(n->kids[i++]) + 1;
	if (pos != off && i < n->nkids)
		return -EINVAL;
	for (; i < n->nkids; i++) {
		size_t l = strlen(n->kids[i]) + 1;

		/* keep a byte for the terminating empty string */
		if (r->rlen + l + 1 > sizeof(r->reply))
			return 0;
		reply_add(r, n->kids[i], l);
	}
	return reply_add(r, "", 1);
}

static int op_get_perms(struct xs_req *r)
{
	char path[XENSTORE_ABS_PATH_MAX + 1];
	struct xs_node *n;
	int rc = req_node(r, path, PERM_READ, true, &n);

	if (rc)
		return rc;
	for (uint32_t i = 0; i < n->nperms; i++) {
		char s[8];

		snprintf(s, sizeof(s), "%c%u", perm_char(n->perms[i].perms),
			 n->perms[i].id);
		rc = reply_str(r, s);
		if (rc)
			return rc;
	}
	return 0;
}

static int op_set_perms(struct xs_req *r)
{
	char path[XENSTORE_ABS_PATH_MAX + 1];
	struct xs_perm *p = NULL;
	struct xs_node *n;
	uint32_t count;
	bool special;
	int rc;

	/* path, then one or more perms: only complete strings count */
	count = 0;
	for (uint32_t i = 0; i < r->len; i++)
		if (r->data[i] == '\0')
			count++;
	if (count < 2)
		return -EINVAL;
	count--;
	if (!conn_priv(r->conn) && count > r->core->q.perms)
		return -E2BIG;
	rc = req_path(r, path, true);
	if (rc)
		return rc;
	special = path[0] == '@';
	if (special && r->tx)
		return -EINVAL;
	rc = perms_parse(r, r->data + strlen(r->data) + 1, count, &p);
	if (rc)
		return rc;
	rc = get_node(r, path, PERM_WRITE, &n);
	if (rc)
		goto out;
	rc = -EACCES;
	if (!(perm_for(r->conn, n->perms, n->nperms) & PERM_OWNER))
		goto out;
	rc = -EPERM;
	if (!conn_priv(r->conn) && p[0].id != n->perms[0].id)
		goto out;
	rc = -ENOSPC;
	if (!conn_priv(r->conn) &&
	    node_size(n) - n->nperms * sizeof(*p) + count * sizeof(*p) >
		    r->core->q.node_size)
		goto out;
	if (p[0].id != n->perms[0].id) {
		if (r->tx) {
			if (n->perms[0].id == r->conn->domid)
				r->tx->node_delta--;
			if (p[0].id == r->conn->domid)
				r->tx->node_delta++;
		} else {
			count_owner(r->core, n->perms[0].id, -1);
			count_owner(r->core, p[0].id, 1);
		}
	}
	free(n->perms);
	n->perms = p;
	n->nperms = count;
	p = NULL;
	view_touch(r, n);
	if (!special) {
		rc = view_event(r, path, false, n->perms, n->nperms);
		if (rc)
			goto out;
	}
	rc = reply_ok(r);
out:
	free(p);
	return rc;
}

static int op_watch(struct xs_req *r)
{
	char path[XENSTORE_ABS_PATH_MAX + 1];
	const char *wpath = req_arg(r, 0), *token = req_arg(r, 1);
	struct xs_conn *c = r->conn;
	struct xs_core *core = r->core;
	struct xs_watch *w;
	bool relative = false;
	int rc;

	if (!wpath || !token || r->nargs < 2)
		return -EINVAL;
	if (wpath[0] == '@') {
		if (strlen(wpath) > XENSTORE_REL_PATH_MAX)
			return -EINVAL;
		strcpy(path, wpath);
	} else {
		rc = path_canon(c, wpath, path, false, &relative);
		if (rc)
			return rc;
	}
	for (w = c->watches; w; w = w->next)
		if (strcmp(w->abspath, path) == 0 &&
		    strcmp(w->token, token) == 0)
			return -EEXIST;
	if (!conn_priv(c) && c->nwatches >= core->q.watches)
		return -E2BIG;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->abspath = strdup(path);
	w->token = strdup(token);
	if (!w->abspath || !w->token)
		goto nomem;
	w->h.key = w->abspath;
	if (relative)
		w->strip = strlen(path) - strlen(wpath);
	w->conn = c;
	if (xs_htab_insert(&core->watches, &w->h))
		goto nomem;
	w->next = c->watches;
	if (c->watches)
		c->watches->prev = w;
	c->watches = w;
	w->gnext = core->all_watches;
	if (core->all_watches)
		core->all_watches->gprev = w;
	core->all_watches = w;
	c->nwatches++;
	rc = reply_ok(r);
	if (rc)
		return rc;
	rc = conn_queue(c, XS_WATCH, r->hdr->req_id, r->hdr->tx_id, r->reply,
			r->rlen, NULL, 0, true);
	if (rc)
		return rc;
	watch_send(w, path); /* the initial event */
	return REPLIED;
nomem:
	free(w->abspath);
	free(w->token);
	free(w);
	return -ENOMEM;
}

static int op_unwatch(struct xs_req *r)
{
	char path[XENSTORE_ABS_PATH_MAX + 1];
	const char *wpath = req_arg(r, 0), *token = req_arg(r, 1);
	int rc;

	if (!wpath || !token || r->nargs < 2)
		return -EINVAL;
	if (wpath[0] == '@') {
		if (strlen(wpath) > XENSTORE_REL_PATH_MAX)
			return -EINVAL;
		strcpy(path, wpath);
	} else {
		rc = path_canon(r->conn, wpath, path, false, NULL);
		if (rc)
			return rc;
	}
	for (struct xs_watch *w = r->conn->watches; w; w = w->next) {
		if (strcmp(w->abspath, path) == 0 &&
		    strcmp(w->token, token) == 0) {
			watch_free(r->core, w);
			return reply_ok(r);
		}
	}
	return -ENOENT;
}

static bool tx_rate_ok(struct xs_core *core, struct xs_conn *c)
{
	uint64_t now, burst = (uint64_t)core->q.tx_rate * 1000;

	if (!core->q.tx_rate || conn_priv(c) || !core->hooks.now_ns)
		return true;
	now = core->hooks.now_ns(core->hooks.opaque);
	if (!c->rl_init) {
		c->rl_init = true;
		c->rl_tokens_milli = burst;
		c->rl_last_ns = now;
	} else if (now > c->rl_last_ns) {
		uint64_t ms = (now - c->rl_last_ns) / 1000000;

		c->rl_tokens_milli += ms * core->q.tx_rate;
		c->rl_last_ns += ms * 1000000;
		if (c->rl_tokens_milli > burst)
			c->rl_tokens_milli = burst;
	}
	if (c->rl_tokens_milli < 1000)
		return false;
	c->rl_tokens_milli -= 1000;
	return true;
}

static int op_tx_start(struct xs_req *r)
{
	struct xs_conn *c = r->conn;
	struct xs_core *core = r->core;
	struct xs_tx *tx;
	char s[16];

	if (r->hdr->tx_id)
		return -EBUSY;
	if (!conn_priv(c) && c->ntx >= core->q.transactions)
		return -ENOSPC;
	if (!tx_rate_ok(core, c))
		return -EAGAIN;
	tx = calloc(1, sizeof(*tx));
	if (!tx)
		return -ENOMEM;
	if (xs_htab_init(&tx->nodes)) {
		free(tx);
		return -ENOMEM;
	}
	tx->events_tail = &tx->events;
	do {
		tx->id = ++core->next_txid;
	} while (tx->id == 0 || conn_tx_find(c, tx->id));
	tx->next = c->txs;
	c->txs = tx;
	c->ntx++;
	snprintf(s, sizeof(s), "%u", tx->id);
	return reply_str(r, s);
}

struct commit_ctx {
	struct xs_core *core;
	struct xs_node **dirty;
	size_t ndirty;
	bool conflict;
};

static void commit_check(struct xs_hentry *e, void *arg)
{
	struct commit_ctx *cc = arg;
	struct xs_node *n = (struct xs_node *)e;
	struct xs_node *cur = tree_find(cc->core, n->path);

	if ((cur ? cur->gen : 0) != n->base_gen)
		cc->conflict = true;
	if (n->dirty)
		cc->dirty[cc->ndirty++] = n;
}

static size_t path_depth(const char *p)
{
	size_t d = 0;

	if (strcmp(p, "/") == 0)
		return 0;
	for (; *p; p++)
		d += *p == '/';
	return d;
}

static int depth_cmp(const void *a, const void *b)
{
	const struct xs_node *x = *(struct xs_node *const *)a;
	const struct xs_node *y = *(struct xs_node *const *)b;
	size_t dx = path_depth(x->path), dy = path_depth(y->path);

	if (dx != dy)
		return dx < dy ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Apply one dirty copy onto the tree.  Parents come first for creations,
 * children first for removals. */
static int commit_apply(struct xs_core *core, struct xs_node *t)
{
	struct xs_node *cur = tree_find(core, t->path);
	char pbuf[XENSTORE_ABS_PATH_MAX + 1];
	struct xs_node *parent;

	if (!t->present) {
		if (!cur)
			return 0;
		parent_path(t->path, pbuf);
		parent = tree_find(core, pbuf);
		if (parent) {
			node_del_kid(parent, leaf_name(t->path));
			parent->gen = ++core->gen;
		}
		if (cur->nperms)
			count_owner(core, cur->perms[0].id, -1);
		xs_htab_remove(&core->nodes, &cur->h);
		node_free(cur);
		return 0;
	}
	if (!cur) {
		parent_path(t->path, pbuf);
		parent = tree_find(core, pbuf);
		if (!parent)
			return -EIO;
		cur = node_alloc(t->path);
		if (!cur)
			return -ENOMEM;
		if (node_add_kid(parent, leaf_name(t->path)) ||
		    xs_htab_insert(&core->nodes, &cur->h)) {
			node_del_kid(parent, leaf_name(t->path));
			node_free(cur);
			return -ENOMEM;
		}
		parent->gen = ++core->gen;
	} else if (cur->nperms) {
		count_owner(core, cur->perms[0].id, -1);
	}
	/* move value and perms over; children follow from their own copies */
	free(cur->value);
	cur->value = t->value;
	cur->vlen = t->vlen;
	t->value = NULL;
	t->vlen = 0;
	free(cur->perms);
	cur->perms = t->perms;
	cur->nperms = t->nperms;
	t->perms = NULL;
	t->nperms = 0;
	if (cur->nperms)
		count_owner(core, cur->perms[0].id, 1);
	cur->gen = ++core->gen;
	return 0;
}

static int tx_commit(struct xs_core *core, struct xs_tx *tx)
{
	struct commit_ctx cc = {.core = core};
	size_t split;
	int rc = 0;

	if (tx->error)
		return tx->error;
	cc.dirty = malloc((tx->nnodes + 1) * sizeof(*cc.dirty));
	if (!cc.dirty)
		return -ENOMEM;
	xs_htab_foreach(&tx->nodes, commit_check, &cc);
	if (cc.conflict) {
		rc = -EAGAIN;
		goto out;
	}
	/* present copies by increasing depth, then removals by decreasing */
	qsort(cc.dirty, cc.ndirty, sizeof(*cc.dirty), depth_cmp);
	for (size_t i = 0; i < cc.ndirty; i++)
		if (cc.dirty[i]->present && (rc = commit_apply(core, cc.dirty[i])))
			pvk_warn("xenstore: commit of %s failed: %d",
				 cc.dirty[i]->path, rc);
	split = cc.ndirty;
	while (split-- > 0)
		if (!cc.dirty[split]->present)
			(void)commit_apply(core, cc.dirty[split]);
	rc = 0;
	for (struct xs_event *ev = tx->events; ev; ev = ev->next)
		fire_watches(core, ev->path, ev->recurse, ev->perms,
			     ev->nperms);
out:
	free(cc.dirty);
	return rc;
}

static int op_tx_end(struct xs_req *r)
{
	const char *arg = req_arg(r, 0);
	struct xs_tx *tx = r->tx;
	int rc;

	if (!tx)
		return -ENOENT;
	if (!arg || (strcmp(arg, "T") && strcmp(arg, "F")))
		return -EINVAL;
	r->tx = NULL;
	rc = arg[0] == 'T' ? tx_commit(r->core, tx) : 0;
	conn_tx_remove(r->conn, tx);
	if (rc)
		return rc;
	return reply_ok(r);
}

static int arg_domid(struct xs_req *r, unsigned int idx, domid_t *out)
{
	const char *s = req_arg(r, idx);

	if (!s || parse_domid(s, out))
		return -EINVAL;
	return 0;
}

static void conn_unlink_free(struct xs_conn *c);

static int op_introduce(struct xs_req *r)
{
	struct xs_core *core = r->core;
	const char *gfns = req_arg(r, 1), *ports = req_arg(r, 2);
	struct xs_domain *d;
	struct xs_conn *c = NULL;
	domid_t domid;
	uint64_t gfn, port;
	int rc;

	if (arg_domid(r, 0, &domid) || !gfns || !ports)
		return -EINVAL;
	if (domid >= DOMID_FIRST_RESERVED)
		return -EINVAL;
	if (gfns[0] == '-') { /* "signed decimal": a negative mfn */
		if (parse_uint(gfns + 1, (uint64_t)INT64_MAX, &gfn))
			return -EINVAL;
		gfn = (uint64_t)-(int64_t)gfn;
	} else if (parse_uint(gfns, UINT64_MAX, &gfn)) {
		return -EINVAL;
	}
	if (parse_uint(ports, UINT32_MAX, &port))
		return -EINVAL;
	d = domain_get(core, domid, true);
	if (!d)
		return -ENOMEM;
	if (d->introduced) {
		if (d->conn == r->conn)
			return -EINVAL;
		return reply_ok(r);
	}
	rc = xs_conn_new(core, domid, &c);
	if (rc)
		return rc;
	c->is_domain = true;
	d->conn = c;
	d->gfn = gfn;
	d->port = (evtchn_port_t)port;
	if (core->hooks.introduce) {
		rc = core->hooks.introduce(core->hooks.opaque, c, domid, gfn,
					   (evtchn_port_t)port);
		if (rc) {
			d->conn = NULL;
			conn_unlink_free(c);
			return rc;
		}
	}
	d->introduced = true;
	d->shutdown_fired = false;
	fire_special(core, SPECIAL_INTRO);
	return reply_ok(r);
}

static int op_release(struct xs_req *r)
{
	const struct xs_domain *d;
	domid_t domid;
	int rc = arg_domid(r, 0, &domid);

	if (rc)
		return rc;
	d = domain_peek(r->core, domid);
	if (!d || !d->introduced)
		return -ENOENT;
	if (d->conn == r->conn)
		return -EINVAL; /* a connection cannot free itself */
	rc = xs_core_release_domain(r->core, domid);
	if (rc)
		return rc;
	return reply_ok(r);
}

static int op_is_introduced(struct xs_req *r)
{
	const struct xs_domain *d;
	domid_t domid;
	int rc = arg_domid(r, 0, &domid);

	if (rc)
		return rc;
	d = domain_peek(r->core, domid);
	return reply_str(r, d && d->introduced ? "T" : "F");
}

static int op_resume(struct xs_req *r)
{
	struct xs_domain *d;
	domid_t domid;
	int rc = arg_domid(r, 0, &domid);

	if (rc)
		return rc;
	d = domain_get(r->core, domid, false);
	if (!d || !d->introduced)
		return -ENOENT;
	d->shutdown_fired = false;
	return reply_ok(r);
}

static int op_set_target(struct xs_req *r)
{
	struct xs_domain *d;
	domid_t domid, target;

	if (arg_domid(r, 0, &domid) || arg_domid(r, 1, &target))
		return -EINVAL;
	d = domain_get(r->core, domid, false);
	if (!d || !d->introduced)
		return -ENOENT;
	d->has_target = true;
	d->target = target;
	return reply_ok(r);
}

static int op_get_domain_path(struct xs_req *r)
{
	char s[32];
	domid_t domid;
	int rc = arg_domid(r, 0, &domid);

	if (rc)
		return rc;
	snprintf(s, sizeof(s), "/local/domain/%u", domid);
	return reply_str(r, s);
}

static void conn_drop_state(struct xs_conn *c)
{
	while (c->watches)
		watch_free(c->core, c->watches);
	while (c->txs)
		conn_tx_remove(c, c->txs);
}

static int op_reset_watches(struct xs_req *r)
{
	conn_drop_state(r->conn);
	r->tx = NULL;
	return reply_ok(r);
}

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
		int w = snprintf(buf, sizeof(buf), "%s/%s",
				 strcmp(n->path, "/") ? n->path : "",
				 n->kids[i]);

		if (w < 0 || (size_t)w >= sizeof(buf) ||
		    !tree_find(cc->core, buf))
			cc->bad++;
	}
	if (strcmp(n->path, "/")) {
		parent_path(n->path, buf);
		if (!tree_find(cc->core, buf))
			cc->bad++;
	}
}

/* Count structural inconsistencies of the tree (0 when healthy). */
static size_t core_check(const struct xs_core *core)
{
	struct check_ctx cc = {.core = core};

	xs_htab_foreach(&core->nodes, check_node, &cc);
	return cc.bad;
}

static const char *const quota_names[] = {
	"nodes", "node-size", "watches", "transactions", "outstanding",
	"out-bytes", "tx-nodes", "tx-rate", "perms",
};

static uint32_t *quota_field(struct xs_quota *q, const char *name)
{
	uint32_t *f[] = {&q->nodes, &q->node_size, &q->watches,
			 &q->transactions, &q->outstanding, &q->out_bytes,
			 &q->tx_nodes, &q->tx_rate, &q->perms};

	for (size_t i = 0; i < ARRAY_LEN(quota_names); i++)
		if (strcmp(quota_names[i], name) == 0)
			return f[i];
	return NULL;
}

static int op_control(struct xs_req *r)
{
	const char *cmd = req_arg(r, 0), *a1 = req_arg(r, 1);
	struct xs_core *core = r->core;
	char line[128];

	if (!cmd)
		return -EINVAL;
	if (strcmp(cmd, "help") == 0) {
		static const char help[] =
			"check\nlog [on|off]\nprint <string>\n"
			"quota [<name> [<value>]]\nhelp\n";
		return reply_str(r, help);
	}
	if (strcmp(cmd, "check") == 0)
		return core_check(core) ? -EIO : reply_ok(r);
	if (strcmp(cmd, "log") == 0) {
		if (!a1 || r->nargs < 2)
			return reply_str(r, core->log_on ? "on" : "off");
		if (strcmp(a1, "on") == 0)
			core->log_on = true;
		else if (strcmp(a1, "off") == 0)
			core->log_on = false;
		else
			return -EINVAL;
		return reply_ok(r);
	}
	if (strcmp(cmd, "print") == 0) {
		if (a1 && r->nargs >= 2)
			pvk_info("xenstore: %s", a1);
		return reply_ok(r);
	}
	if (strcmp(cmd, "quota") == 0) {
		const char *a2 = req_arg(r, 2);
		uint64_t v;
		uint32_t *f;

		if (a1 && r->nargs >= 2 && *a1) {
			f = quota_field(&core->q, a1);
			if (!f)
				return -EINVAL;
			if (!a2 || r->nargs < 3) {
				snprintf(line, sizeof(line), "%u", *f);
				return reply_str(r, line);
			}
			if (parse_uint(a2, UINT32_MAX, &v))
				return -EINVAL;
			*f = (uint32_t)v;
			return reply_ok(r);
		}
		for (size_t i = 0; i < ARRAY_LEN(quota_names); i++) {
			int n = snprintf(line, sizeof(line), "%-14s %u\n",
					 quota_names[i],
					 *quota_field(&core->q,
						      quota_names[i]));
			int rc = reply_add(r, line, (size_t)n);

			if (rc)
				return rc;
		}
		return reply_add(r, "", 1);
	}
	return -EINVAL;
}

#define F_PRIV 1u /* privileged connections only */
#define F_TX 2u   /* honours hdr->tx_id */

struct xs_op {
	int (*fn)(struct xs_req *r);
	unsigned int flags;
};

static const struct xs_op ops[XS_TYPE_COUNT] = {
	[XS_CONTROL] = {op_control, F_PRIV},
	[XS_DIRECTORY] = {op_directory, F_TX},
	[XS_READ] = {op_read, F_TX},
	[XS_GET_PERMS] = {op_get_perms, F_TX},
	[XS_WATCH] = {op_watch, 0},
	[XS_UNWATCH] = {op_unwatch, 0},
	[XS_TRANSACTION_START] = {op_tx_start, 0},
	[XS_TRANSACTION_END] = {op_tx_end, F_TX},
	[XS_INTRODUCE] = {op_introduce, F_PRIV},
	[XS_RELEASE] = {op_release, F_PRIV},
	[XS_GET_DOMAIN_PATH] = {op_get_domain_path, 0},
	[XS_WRITE] = {op_write, F_TX},
	[XS_MKDIR] = {op_mkdir, F_TX},
	[XS_RM] = {op_rm, F_TX},
	[XS_SET_PERMS] = {op_set_perms, F_TX},
	[XS_IS_DOMAIN_INTRODUCED] = {op_is_introduced, F_PRIV},
	[XS_RESUME] = {op_resume, F_PRIV},
	[XS_SET_TARGET] = {op_set_target, F_PRIV},
	[XS_RESET_WATCHES] = {op_reset_watches, 0},
	[XS_DIRECTORY_PART] = {op_directory_part, F_TX},
};

int xs_conn_handle(struct xs_conn *conn, const struct xsd_sockmsg *hdr,
		   const void *payload)
{
	struct xs_req *r;
	const struct xs_op *op;
	int rc;

	if (conn->failed)
		return -EPROTO;
	if (hdr->len > XENSTORE_PAYLOAD_MAX || hdr->type >= XS_TYPE_COUNT) {
		conn->failed = true;
		return -EPROTO;
	}
	r = malloc(sizeof(*r));
	if (!r) {
		rc = -ENOMEM;
		goto err_noreq;
	}
	r->core = conn->core;
	r->conn = conn;
	r->tx = NULL;
	r->hdr = hdr;
	r->len = hdr->len;
	r->rlen = 0;
	if (hdr->len)
		memcpy(r->data, payload, hdr->len);
	r->data[hdr->len] = '\0';
	r->nargs = 0;
	for (uint32_t i = 0; i < r->len; i++)
		r->nargs += r->data[i] == '\0';
	if (r->len && r->data[r->len - 1] != '\0')
		r->nargs++;
	op = &ops[hdr->type];
	if (!op->fn) {
		rc = -ENOSYS;
		goto err;
	}
	if ((op->flags & F_PRIV) && !conn_priv(conn)) {
		rc = -EACCES;
		goto err;
	}
	if ((op->flags & F_TX) && hdr->tx_id) {
		r->tx = conn_tx_find(conn, hdr->tx_id);
		if (!r->tx) {
			rc = -ENOENT;
			goto err;
		}
	}
	rc = op->fn(r);
	if (rc == REPLIED) {
		free(r);
		return 0;
	}
	if (rc < 0)
		goto err;
	if (conn->core->log_on)
		pvk_info("xenstore: dom%u op %u ok", conn->domid, hdr->type);
	(void)conn_queue(conn, hdr->type, hdr->req_id, hdr->tx_id, r->reply,
			 r->rlen, NULL, 0, true);
	free(r);
	return 0;
err:
	/* an internal failure inside a transaction dooms it */
	if (r->tx && (rc == -ENOMEM || rc == -EIO))
		r->tx->error = rc;
	free(r);
err_noreq:
	{
		const char *e = errno_name(-rc);

		if (conn->core->log_on)
			pvk_info("xenstore: dom%u op %u: %s", conn->domid,
				 hdr->type, e);
		(void)conn_queue(conn, XS_ERROR, hdr->req_id, hdr->tx_id, e,
				 strlen(e) + 1, NULL, 0, true);
	}
	return 0;
}

ssize_t xs_conn_feed(struct xs_conn *conn, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	const size_t hlen = sizeof(struct xsd_sockmsg);
	size_t used = 0;

	while (used < len) {
		struct xsd_sockmsg hdr;
		size_t want, k;

		if (conn->failed)
			return -EPROTO;
		if (conn->inlen == 0 &&
		    conn->out_replies >= conn->core->q.outstanding)
			break; /* paused until the client reads replies */
		if (conn->inlen < hlen) {
			want = hlen - conn->inlen;
		} else {
			memcpy(&hdr, conn->in, hlen);
			want = hlen + hdr.len - conn->inlen;
		}
		k = len - used < want ? len - used : want;
		memcpy(conn->in + conn->inlen, p + used, k);
		conn->inlen += k;
		used += k;
		if (conn->inlen < hlen)
			continue;
		memcpy(&hdr, conn->in, hlen);
		if (hdr.len > XENSTORE_PAYLOAD_MAX ||
		    hdr.type >= XS_TYPE_COUNT) {
			conn->failed = true;
			return -EPROTO;
		}
		if (conn->inlen < hlen + hdr.len)
			continue;
		conn->inlen = 0;
		xs_conn_handle(conn, &hdr, conn->in + hlen);
	}
	return (ssize_t)used;
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

static void conn_unlink_free(struct xs_conn *c)
{
	struct xs_core *core = c->core;

	conn_drop_state(c);
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
		struct xs_domain *d = domain_get(conn->core, conn->domid, false);

		if (d && d->conn == conn) {
			xs_core_release_domain(conn->core, conn->domid);
			return;
		}
	}
	conn_unlink_free(conn);
}

void xs_conn_reset(struct xs_conn *conn)
{
	conn_drop_state(conn);
	conn_drop_output(conn);
	conn->inlen = 0;
	conn->failed = false;
}

domid_t xs_conn_domid(const struct xs_conn *conn)
{
	return conn->domid;
}

void xs_conn_set_priv(struct xs_conn *conn, void *priv)
{
	conn->priv = priv;
}

void *xs_conn_priv(const struct xs_conn *conn)
{
	return conn->priv;
}

bool xs_conn_failed(const struct xs_conn *conn)
{
	return conn->failed;
}

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
	for (unsigned int i = from; i < DOMID_FIRST_RESERVED; i++) {
		if (core->doms[i] && core->doms[i]->introduced) {
			*out = (domid_t)i;
			return 0;
		}
	}
	return -ENOENT;
}

struct xs_conn *xs_core_domain_conn(const struct xs_core *core, domid_t domid)
{
	const struct xs_domain *d = domain_peek(core, domid);

	return d && d->introduced ? d->conn : NULL;
}

int xs_core_domain_shutdown(struct xs_core *core, domid_t domid)
{
	struct xs_domain *d = domain_get(core, domid, false);

	if (!d || !d->introduced)
		return -ENOENT;
	if (!d->shutdown_fired) {
		d->shutdown_fired = true;
		fire_special(core, SPECIAL_RELEASE);
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
		count_owner(sc->core, 0, 1);
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
	struct xs_domain *d = domain_get(core, domid, false);
	struct scrub_ctx sc = {.core = core, .domid = domid};
	struct xs_conn *c;

	if (!d || !d->introduced)
		return -ENOENT;
	c = d->conn;
	d->conn = NULL;
	d->introduced = false;
	if (c) {
		if (core->hooks.release)
			core->hooks.release(core->hooks.opaque, c);
		conn_unlink_free(c);
	}
	/* domid reuse must inherit nothing: nodes go to Dom0, ACLs drop it */
	xs_htab_foreach(&core->nodes, scrub_node, &sc);
	d->nnodes = 0;
	d->has_target = false;
	d->shutdown_fired = false;
	fire_special(core, SPECIAL_RELEASE);
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
	struct xs_node *n = node_alloc(path);

	if (!n || node_set_perms(n, &p0, 1) ||
	    xs_htab_insert(&core->nodes, &n->h)) {
		node_free(n);
		return -ENOMEM;
	}
	if (parent && node_add_kid(parent, leaf_name(path))) {
		xs_htab_remove(&core->nodes, &n->h);
		node_free(n);
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
	node_free((struct xs_node *)e);
}

void xs_core_free(struct xs_core *core)
{
	if (!core)
		return;
	while (core->conns) {
		if (core->conns->is_domain && core->hooks.release)
			core->hooks.release(core->hooks.opaque, core->conns);
		conn_unlink_free(core->conns);
	}
	xs_htab_foreach(&core->nodes, free_node_cb, NULL);
	xs_htab_destroy(&core->nodes);
	xs_htab_destroy(&core->watches);
	if (core->doms)
		for (size_t i = 0; i < DOMID_FIRST_RESERVED; i++)
			free(core->doms[i]);
	free(core->doms);
	free(core);
}

int xs_core_set_quota(struct xs_core *core, const char *name, uint64_t val)
{
	uint32_t *f = quota_field(&core->q, name);

	if (!f || val > UINT32_MAX)
		return -EINVAL;
	*f = (uint32_t)val;
	return 0;
}

const struct xs_quota *xs_core_quota(const struct xs_core *core)
{
	return &core->q;
}

size_t xs_core_node_count(const struct xs_core *core)
{
	return core->nodes.count;
}

int xs_core_fuzz_one(const uint8_t *data, size_t len)
{
	struct xs_core *core = NULL;
	struct xs_conn *conn = NULL;
	size_t off = 1;

	if (len < 1 || xs_core_new(NULL, NULL, &core))
		return 0;
	if (xs_conn_new(core, (data[0] & 1) ? 1 : 0, &conn))
		goto out;
	while (off < len) {
		const void *p;
		ssize_t n = xs_conn_feed(conn, data + off, len - off);

		if (n < 0)
			break;
		off += (size_t)n;
		while (xs_conn_peek(conn, &p))
			xs_conn_consume(conn, xs_conn_peek(conn, &p));
	}
	if (core_check(core))
		abort();
out:
	xs_core_free(core);
	return 0;
}
