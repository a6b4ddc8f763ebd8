/* xs_ops.c - one function per xs_wire.h message type, the dispatch table
 * with per-operation flags, and the stream parser feeding it. */
#include "xenstore/xs_int.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

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

static int reply_ok(struct xs_req *r) { return reply_str(r, "OK"); }

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
	return xsi_path_canon(r->conn, p, out, allow_special, NULL);
}

/* The node named by the first argument, canonicalized into path and
 * checked for want. */
static int req_node(struct xs_req *r, char *path, unsigned int want,
		    bool allow_special, struct xs_node **out)
{
	int rc = req_path(r, path, allow_special);

	if (rc)
		return rc;
	return xsi_get_node(r, path, want, out);
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
	if (!xsi_conn_priv(r->conn) && vlen > r->core->q.node_size)
		return -ENOSPC;
	rc = xsi_get_or_create(r, path, &n, &created);
	if (rc)
		return rc;
	if (!xsi_conn_priv(r->conn) &&
	    xsi_node_size(n) - n->vlen + vlen > r->core->q.node_size)
		return -ENOSPC;
	rc = xsi_node_set_value(n, val, vlen);
	if (rc)
		return rc;
	xsi_view_touch(r, n);
	rc = xsi_view_event(r, path, false, n->perms, n->nperms);
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
	rc = xsi_get_or_create(r, path, &n, &created);
	if (rc)
		return rc;
	if (created) {
		rc = xsi_view_event(r, path, false, n->perms, n->nperms);
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
	rc = xsi_view_get(r, path, &n);
	if (rc)
		return rc;
	if (!n) {
		struct xs_node *parent;
		size_t plen = xsi_parent_len(path, strlen(path));

		path[plen] = '\0';
		rc = xsi_view_get(r, path, &parent);
		if (rc)
			return rc;
		if (!parent)
			return xsi_missing_errno(r, path);
		if (!xsi_node_allows(r->conn, parent, PERM_READ))
			return -EACCES;
		return reply_ok(r);
	}
	if (!xsi_node_allows(r->conn, n, PERM_WRITE))
		return -EACCES;
	rc = xsi_view_delete(r, n);
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

	if (!offs || xsi_parse_uint(offs, UINT32_MAX, &off))
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

		snprintf(s, sizeof(s), "%c%u", xsi_perm_char(n->perms[i].perms),
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
	if (!xsi_conn_priv(r->conn) && count > r->core->q.perms)
		return -E2BIG;
	rc = req_path(r, path, true);
	if (rc)
		return rc;
	special = path[0] == '@';
	if (special && r->tx)
		return -EINVAL;
	rc = xsi_perms_parse(r, r->data + strlen(r->data) + 1, count, &p);
	if (rc)
		return rc;
	rc = xsi_get_node(r, path, PERM_WRITE, &n);
	if (rc)
		goto out;
	rc = -EACCES;
	if (!(xsi_perm_for(r->conn, n->perms, n->nperms) & PERM_OWNER))
		goto out;
	rc = -EPERM;
	if (!xsi_conn_priv(r->conn) && p[0].id != n->perms[0].id)
		goto out;
	rc = -ENOSPC;
	if (!xsi_conn_priv(r->conn) &&
	    xsi_node_size(n) - n->nperms * sizeof(*p) + count * sizeof(*p) >
		r->core->q.node_size)
		goto out;
	if (p[0].id != n->perms[0].id) {
		if (r->tx) {
			if (n->perms[0].id == r->conn->domid)
				r->tx->node_delta--;
			if (p[0].id == r->conn->domid)
				r->tx->node_delta++;
		} else {
			xsi_count_owner(r->core, n->perms[0].id, -1);
			xsi_count_owner(r->core, p[0].id, 1);
		}
	}
	free(n->perms);
	n->perms = p;
	n->nperms = count;
	p = NULL;
	xsi_view_touch(r, n);
	if (!special) {
		rc = xsi_view_event(r, path, false, n->perms, n->nperms);
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
		rc = xsi_path_canon(c, wpath, path, false, &relative);
		if (rc)
			return rc;
	}
	for (w = c->watches; w; w = w->next)
		if (strcmp(w->abspath, path) == 0 &&
		    strcmp(w->token, token) == 0)
			return -EEXIST;
	if (!xsi_conn_priv(c) && c->nwatches >= core->q.watches)
		return -E2BIG;
	rc = xsi_watch_add(c, path, token,
			   relative ? strlen(path) - strlen(wpath) : 0, &w);
	if (rc)
		return rc;
	rc = reply_ok(r);
	if (rc)
		return rc;
	rc = xsi_conn_queue(c, XS_WATCH, r->hdr->req_id, r->hdr->tx_id,
			    r->reply, r->rlen, NULL, 0, true);
	if (rc)
		return rc;
	xsi_watch_send(w, path); /* the initial event */
	return REPLIED;
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
		rc = xsi_path_canon(r->conn, wpath, path, false, NULL);
		if (rc)
			return rc;
	}
	for (struct xs_watch *w = r->conn->watches; w; w = w->next) {
		if (strcmp(w->abspath, path) == 0 &&
		    strcmp(w->token, token) == 0) {
			xsi_watch_free(r->core, w);
			return reply_ok(r);
		}
	}
	return -ENOENT;
}

static bool tx_rate_ok(struct xs_core *core, struct xs_conn *c)
{
	uint64_t now, burst = (uint64_t)core->q.tx_rate * 1000;

	if (!core->q.tx_rate || xsi_conn_priv(c) || !core->hooks.now_ns)
		return true;
	/* the feed's time, which a journal's replay gives back */
	now = core->feed_now;
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
	if (!xsi_conn_priv(c) && c->ntx >= core->q.transactions)
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
	} while (tx->id == 0 || xsi_conn_tx_find(c, tx->id));
	tx->next = c->txs;
	c->txs = tx;
	c->ntx++;
	snprintf(s, sizeof(s), "%u", tx->id);
	return reply_str(r, s);
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
	rc = arg[0] == 'T' ? xsi_tx_commit(r->core, tx) : 0;
	xsi_conn_tx_remove(r->conn, tx);
	if (rc)
		return rc;
	return reply_ok(r);
}

static int arg_domid(struct xs_req *r, unsigned int idx, domid_t *out)
{
	const char *s = req_arg(r, idx);

	if (!s || xsi_parse_domid(s, out))
		return -EINVAL;
	return 0;
}

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
		if (xsi_parse_uint(gfns + 1, (uint64_t)INT64_MAX, &gfn))
			return -EINVAL;
		gfn = (uint64_t) - (int64_t)gfn;
	} else if (xsi_parse_uint(gfns, UINT64_MAX, &gfn)) {
		return -EINVAL;
	}
	if (xsi_parse_uint(ports, UINT32_MAX, &port))
		return -EINVAL;
	d = xsi_domain_get(core, domid, true);
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
			xsi_conn_unlink_free(c);
			return rc;
		}
	}
	d->introduced = true;
	d->shutdown_fired = false;
	xsi_fire_special(core, SPECIAL_INTRO);
	return reply_ok(r);
}

static int op_release(struct xs_req *r)
{
	const struct xs_domain *d;
	domid_t domid;
	int rc = arg_domid(r, 0, &domid);

	if (rc)
		return rc;
	d = xsi_domain_peek(r->core, domid);
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
	d = xsi_domain_peek(r->core, domid);
	return reply_str(r, d && d->introduced ? "T" : "F");
}

static int op_resume(struct xs_req *r)
{
	struct xs_domain *d;
	domid_t domid;
	int rc = arg_domid(r, 0, &domid);

	if (rc)
		return rc;
	d = xsi_domain_get(r->core, domid, false);
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
	d = xsi_domain_get(r->core, domid, false);
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

static int op_reset_watches(struct xs_req *r)
{
	xsi_conn_drop_state(r->conn);
	r->tx = NULL;
	return reply_ok(r);
}

/* live-update -f FILE | -s [-t N] [-F] | -a | -c CMDLINE (ignored) */
static int control_live_update(struct xs_req *r)
{
	struct xs_lu_request q = {.op = XS_LU_START};
	struct xs_core *core = r->core;
	bool have_op = false;
	int rc;

	for (unsigned int i = 1; i < r->nargs; i++) {
		const char *a = req_arg(r, i), *v = req_arg(r, i + 1);
		uint64_t t;

		if (!a)
			return -EINVAL;
		if (strcmp(a, "-s") == 0) {
			q.op = XS_LU_START;
			have_op = true;
		} else if (strcmp(a, "-a") == 0) {
			q.op = XS_LU_ABORT;
			have_op = true;
		} else if (strcmp(a, "-F") == 0) {
			q.force = true;
		} else if (strcmp(a, "-f") == 0 && v && *v) {
			q.op = XS_LU_BINARY;
			q.binary = v;
			have_op = true;
			i++;
		} else if (strcmp(a, "-t") == 0 && v &&
			   xsi_parse_uint(v, UINT32_MAX, &t) == 0) {
			q.timeout = (unsigned int)t;
			i++;
		} else if (strcmp(a, "-c") == 0 && v) {
			i++; /* a new command line: ours is kept */
		} else if (strcmp(a, "-b") == 0) {
			return -ENOSYS; /* binary upload: stubdom only */
		} else if (*a) {
			return -EINVAL;
		}
	}
	if (!have_op)
		return -EINVAL;
	if (!core->hooks.live_update)
		return -ENOSYS;
	rc = core->hooks.live_update(core->hooks.opaque, &q);
	if (rc == -EBUSY)
		return reply_str(r, "BUSY");
	if (rc)
		return rc;
	return reply_ok(r);
}

static int op_control(struct xs_req *r)
{
	const char *cmd = req_arg(r, 0), *a1 = req_arg(r, 1);
	struct xs_core *core = r->core;
	char line[128];

	if (!cmd)
		return -EINVAL;
	if (strcmp(cmd, "live-update") == 0)
		return control_live_update(r);
	if (strcmp(cmd, "help") == 0) {
		static const char help[] =
		    "check\nlog [on|off]\nprint <string>\n"
		    "quota [<name> [<value>]]\n"
		    "live-update [-f <file>] [-s [-t <timeout>] [-F]] [-a]\n"
		    "help\n";
		return reply_str(r, help);
	}
	if (strcmp(cmd, "check") == 0)
		return xsi_core_check(core) ? -EIO : reply_ok(r);
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
			f = xsi_quota_field(&core->q, a1);
			if (!f)
				return -EINVAL;
			if (!a2 || r->nargs < 3) {
				snprintf(line, sizeof(line), "%u", *f);
				return reply_str(r, line);
			}
			if (xsi_parse_uint(a2, UINT32_MAX, &v))
				return -EINVAL;
			*f = (uint32_t)v;
			return reply_ok(r);
		}
		for (size_t i = 0; xsi_quota_names[i]; i++) {
			int n = snprintf(
			    line, sizeof(line), "%-14s %u\n",
			    xsi_quota_names[i],
			    *xsi_quota_field(&core->q, xsi_quota_names[i]));
			int rc = reply_add(r, line, (size_t)n);

			if (rc)
				return rc;
		}
		return reply_add(r, "", 1);
	}
	return -EINVAL;
}

#define F_PRIV 1u /* privileged connections only */
#define F_TX 2u	  /* honours hdr->tx_id */

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
	if (hdr->len > XENSTORE_PAYLOAD_MAX) {
		conn->failed = true;
		return -EPROTO;
	}
	/* A type we do not know is answered ENOSYS, as Xen's xenstored
	 * does; the connection goes on. */
	if (hdr->type >= XS_TYPE_COUNT) {
		rc = -ENOSYS;
		goto err_noreq;
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
	if ((op->flags & F_PRIV) && !xsi_conn_priv(conn)) {
		rc = -EACCES;
		goto err;
	}
	if ((op->flags & F_TX) && hdr->tx_id) {
		r->tx = xsi_conn_tx_find(conn, hdr->tx_id);
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
	(void)xsi_conn_queue(conn, hdr->type, hdr->req_id, hdr->tx_id, r->reply,
			     r->rlen, NULL, 0, true);
	free(r);
	return 0;
err:
	/* an internal failure inside a transaction dooms it */
	if (r->tx && (rc == -ENOMEM || rc == -EIO))
		r->tx->error = rc;
	free(r);
err_noreq : {
	const char *e = xsi_errno_name(-rc);

	if (conn->core->log_on)
		pvk_info("xenstore: dom%u op %u: %s", conn->domid, hdr->type,
			 e);
	(void)xsi_conn_queue(conn, XS_ERROR, hdr->req_id, hdr->tx_id, e,
			     strlen(e) + 1, NULL, 0, true);
}
	return 0;
}

/* Tell the journal what a feed took (used bytes; failed: it ended the
 * connection). */
static void feed_journal(struct xs_conn *conn, const void *buf, size_t used,
			 bool failed)
{
	struct xs_core *core = conn->core;

	core->in_feed--;
	if (core->hooks.journal && (used || failed))
		core->hooks.journal(core->hooks.opaque, conn, XS_J_FEED,
				    conn->domid, buf, used, core->feed_now,
				    failed);
}

ssize_t xs_conn_feed(struct xs_conn *conn, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	const size_t hlen = sizeof(struct xsd_sockmsg);
	struct xs_core *core = conn->core;
	size_t used = 0;

	if (conn->failed)
		return -EPROTO;
	core->feed_now =
	    core->hooks.now_ns ? core->hooks.now_ns(core->hooks.opaque) : 0;
	core->in_feed++;
	while (used < len) {
		struct xsd_sockmsg hdr;
		size_t want, k;

		if (conn->failed) {
			feed_journal(conn, buf, used, true);
			return -EPROTO;
		}
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
		if (hdr.len > XENSTORE_PAYLOAD_MAX) {
			conn->failed = true;
			feed_journal(conn, buf, used, true);
			return -EPROTO;
		}
		if (conn->inlen < hlen + hdr.len)
			continue;
		conn->inlen = 0;
		xs_conn_handle(conn, &hdr, conn->in + hlen);
	}
	feed_journal(conn, buf, used, false);
	return (ssize_t)used;
}
