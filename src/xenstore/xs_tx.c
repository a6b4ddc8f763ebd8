/*
 * xs_tx.c - how a request sees the store.  Outside a transaction it is the
 * tree.  Inside one it is an overlay: the first access to a path copies the
 * node (or records its absence) with the generation it had; commit fails
 * with EAGAIN when any touched path changed generation meanwhile, and
 * otherwise replays the dirty copies (parents first, removals children
 * first) and fires the recorded watch events.
 */
#include "xenstore/xs_int.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

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
	xsi_node_free((struct xs_node *)e);
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

void xsi_conn_tx_remove(struct xs_conn *c, struct xs_tx *tx)
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

struct xs_tx *xsi_conn_tx_find(struct xs_conn *c, uint32_t id)
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
int xsi_view_get(struct xs_req *r, const char *path, struct xs_node **out)
{
	struct xs_tx *tx = r->tx;
	struct xs_hentry *e;
	struct xs_node *n;

	*out = NULL;
	if (!tx) {
		*out = xsi_tree_find(r->core, path);
		return 0;
	}
	e = xs_htab_find(&tx->nodes, path);
	if (e) {
		n = (struct xs_node *)e;
		*out = n->present ? n : NULL;
		return 0;
	}
	if (!xsi_conn_priv(r->conn) && tx->nnodes >= r->core->q.tx_nodes)
		return -ENOSPC;
	n = xsi_node_copy(xsi_tree_find(r->core, path), path);
	if (!n)
		return -ENOMEM;
	if (xs_htab_insert(&tx->nodes, &n->h)) {
		xsi_node_free(n);
		return -ENOMEM;
	}
	tx->nnodes++;
	n->seq = ++tx->seq;
	*out = n->present ? n : NULL;
	return 0;
}

void xsi_view_touch(struct xs_req *r, struct xs_node *n)
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
int xsi_view_event(struct xs_req *r, const char *path, bool recurse,
		   const struct xs_perm *perms, uint32_t nperms)
{
	if (r->tx)
		return tx_add_event(r->tx, path, recurse, perms, nperms);
	xsi_fire_watches(r->core, path, recurse, perms, nperms);
	return 0;
}

static uint32_t owned_nodes(struct xs_req *r)
{
	const struct xs_domain *d = xsi_domain_peek(r->core, r->conn->domid);
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

	if (!xsi_conn_priv(c)) {
		if (owned_nodes(r) >= r->core->q.nodes)
			return -ENOSPC;
		if (xsi_node_size(parent) + strlen(xsi_leaf_name(path)) + 1 >
		    r->core->q.node_size)
			return -ENOSPC;
	}
	if (r->tx) {
		struct xs_hentry *e = xs_htab_find(&r->tx->nodes, path);

		if (!e)
			return -EIO; /* xsi_view_get() recorded the absence */
		n = (struct xs_node *)e;
	} else {
		n = xsi_node_alloc(path);
		if (!n)
			return -ENOMEM;
	}
	rc = xsi_node_set_perms(n, parent->perms, parent->nperms);
	if (rc)
		goto fail;
	if (!xsi_conn_priv(c))
		n->perms[0].id = c->domid;
	rc = xsi_node_add_kid(parent, xsi_leaf_name(path));
	if (rc)
		goto fail;
	xsi_view_touch(r, parent);
	if (r->tx) {
		n->present = true;
		n->dirty = true;
		if (n->perms[0].id == c->domid)
			r->tx->node_delta++;
	} else {
		n->gen = ++r->core->gen;
		rc = xs_htab_insert(&r->core->nodes, &n->h);
		if (rc) {
			xsi_node_del_kid(parent, xsi_leaf_name(path));
			goto fail;
		}
		xsi_count_owner(r->core, n->perms[0].id, 1);
	}
	*out = n;
	return 0;
fail:
	if (r->tx)
		xsi_node_clear(n);
	else
		xsi_node_free(n);
	return rc;
}

/* Remove n and everything below it, without recursion. */
int xsi_view_delete(struct xs_req *r, struct xs_node *n)
{
	char pbuf[XENSTORE_ABS_PATH_MAX + 1];
	struct xs_node **stack = NULL, *parent;
	size_t cnt = 0, cap = 0;
	int rc = 0;

	xsi_parent_path(n->path, pbuf);
	rc = xsi_view_get(r, pbuf, &parent);
	if (rc)
		return rc;
	rc = xsi_view_event(r, n->path, true, n->perms, n->nperms);
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
			rc = xsi_view_get(r, cpath, &child);
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
		xsi_node_del_kid(parent, xsi_leaf_name(n->path));
		xsi_view_touch(r, parent);
	}
	for (size_t i = cnt; i-- > 0;) {
		struct xs_node *cur = stack[i];

		if (r->tx) {
			if (cur->nperms && cur->perms[0].id == r->conn->domid)
				r->tx->node_delta--;
			xsi_node_clear(cur);
			cur->present = false;
			cur->dirty = true;
		} else {
			if (cur->nperms)
				xsi_count_owner(r->core, cur->perms[0].id, -1);
			xs_htab_remove(&r->core->nodes, &cur->h);
			xsi_node_free(cur);
		}
	}
out:
	free(stack);
	return rc;
}

/* errno for a missing node, as Xen's errno_from_parents(): EACCES when the
 * requester may not read the nearest existing ancestor (whatever access
 * the request wanted), else ENOENT. */
int xsi_missing_errno(struct xs_req *r, const char *path)
{
	char buf[XENSTORE_ABS_PATH_MAX + 1];
	size_t len = strlen(path);
	struct xs_node *n = NULL;

	if (path[0] != '/')
		return -ENOENT;
	memcpy(buf, path, len + 1);
	while (len > 1) {
		len = xsi_parent_len(buf, len);
		buf[len] = '\0';
		if (xsi_view_get(r, buf, &n))
			return -ENOENT;
		if (n)
			break;
	}
	if (n && !xsi_node_allows(r->conn, n, PERM_READ))
		return -EACCES;
	return -ENOENT;
}

/* Get an existing node the requester may access with want. */
int xsi_get_node(struct xs_req *r, const char *path, unsigned int want,
		 struct xs_node **out)
{
	int rc = xsi_view_get(r, path, out);

	if (rc)
		return rc;
	if (!*out)
		return xsi_missing_errno(r, path);
	if (!xsi_node_allows(r->conn, *out, want)) {
		*out = NULL;
		return -EACCES;
	}
	return 0;
}

/* Get path for writing, creating it and its missing ancestors. */
int xsi_get_or_create(struct xs_req *r, const char *path, struct xs_node **out,
		      bool *created)
{
	char buf[XENSTORE_ABS_PATH_MAX + 1];
	size_t len = strlen(path), alen;
	struct xs_node *n = NULL;
	int rc;

	*created = false;
	rc = xsi_view_get(r, path, &n);
	if (rc)
		return rc;
	if (n) {
		if (!xsi_node_allows(r->conn, n, PERM_WRITE))
			return -EACCES;
		*out = n;
		return 0;
	}
	memcpy(buf, path, len + 1);
	alen = len;
	while (!n) {
		alen = xsi_parent_len(buf, alen);
		buf[alen] = '\0';
		rc = xsi_view_get(r, buf, &n);
		if (rc)
			return rc;
	}
	if (!xsi_node_allows(r->conn, n, PERM_WRITE))
		return -EACCES;
	/* create each missing component below the ancestor */
	while (alen < len) {
		struct xs_node *child;
		size_t next = alen + 1;

		while (next < len && path[next] != '/')
			next++;
		memcpy(buf, path, next);
		buf[next] = '\0';
		rc = xsi_view_get(r, buf, &child);
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
	struct xs_node *cur = xsi_tree_find(cc->core, n->path);

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
	struct xs_node *cur = xsi_tree_find(core, t->path);
	char pbuf[XENSTORE_ABS_PATH_MAX + 1];
	struct xs_node *parent;

	if (!t->present) {
		if (!cur)
			return 0;
		xsi_parent_path(t->path, pbuf);
		parent = xsi_tree_find(core, pbuf);
		if (parent) {
			xsi_node_del_kid(parent, xsi_leaf_name(t->path));
			parent->gen = ++core->gen;
		}
		if (cur->nperms)
			xsi_count_owner(core, cur->perms[0].id, -1);
		xs_htab_remove(&core->nodes, &cur->h);
		xsi_node_free(cur);
		return 0;
	}
	if (!cur) {
		xsi_parent_path(t->path, pbuf);
		parent = xsi_tree_find(core, pbuf);
		if (!parent)
			return -EIO;
		cur = xsi_node_alloc(t->path);
		if (!cur)
			return -ENOMEM;
		if (xsi_node_add_kid(parent, xsi_leaf_name(t->path)) ||
		    xs_htab_insert(&core->nodes, &cur->h)) {
			xsi_node_del_kid(parent, xsi_leaf_name(t->path));
			xsi_node_free(cur);
			return -ENOMEM;
		}
		parent->gen = ++core->gen;
	} else if (cur->nperms) {
		xsi_count_owner(core, cur->perms[0].id, -1);
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
		xsi_count_owner(core, cur->perms[0].id, 1);
	cur->gen = ++core->gen;
	return 0;
}

int xsi_tx_commit(struct xs_core *core, struct xs_tx *tx)
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
		if (cc.dirty[i]->present &&
		    (rc = commit_apply(core, cc.dirty[i])))
			pvk_warn("xenstore: commit of %s failed: %d",
				 cc.dirty[i]->path, rc);
	split = cc.ndirty;
	while (split-- > 0)
		if (!cc.dirty[split]->present)
			(void)commit_apply(core, cc.dirty[split]);
	rc = 0;
	for (struct xs_event *ev = tx->events; ev; ev = ev->next)
		xsi_fire_watches(core, ev->path, ev->recurse, ev->perms,
				 ev->nperms);
out:
	free(cc.dirty);
	return rc;
}

void xsi_conn_drop_state(struct xs_conn *c)
{
	while (c->watches)
		xsi_watch_free(c->core, c->watches);
	while (c->txs)
		xsi_conn_tx_remove(c, c->txs);
}
