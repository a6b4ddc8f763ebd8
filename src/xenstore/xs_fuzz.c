/*
 * xs_fuzz.c - entry points for the fuzz targets (fuzz/) and the hardening
 * tests: feed hostile bytes to a fresh core and check the invariants that
 * must survive anything a client sends.  A broken invariant aborts, which
 * is what a fuzzer reports.
 */
#include "xenstore/xs_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FZ_ASSERT(cond)                                                        \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "xs fuzz invariant broken: %s (%s:%d)\n", \
				#cond, __FILE__, __LINE__);                    \
			abort();                                               \
		}                                                              \
	} while (0)

/* ---- small client ------------------------------------------------------ */

static void fz_drain(struct xs_conn *c)
{
	const void *p;
	size_t n;

	while ((n = xs_conn_peek(c, &p)) > 0)
		xs_conn_consume(c, n);
}

/* Send one request and return the reply's type, its payload copied
 * (nul-terminated) into reply; watch events before it are skipped. */
static uint32_t fz_req(struct xs_conn *c, uint32_t type, const void *p,
		       size_t len, char *reply)
{
	struct xsd_sockmsg h = {.type = type, .req_id = 7, .len = (uint32_t)len};

	reply[0] = '\0';
	if (len > XENSTORE_PAYLOAD_MAX)
		return XS_TYPE_COUNT;
	xs_conn_handle(c, &h, p);
	for (;;) {
		const void *b;
		size_t n = xs_conn_peek(c, &b);
		struct xsd_sockmsg rh;

		if (n == 0)
			return XS_TYPE_COUNT; /* no reply */
		FZ_ASSERT(n >= sizeof(rh));
		memcpy(&rh, b, sizeof(rh));
		FZ_ASSERT(rh.len <= XENSTORE_PAYLOAD_MAX &&
			  n == sizeof(rh) + rh.len);
		if (rh.type != XS_WATCH_EVENT) {
			memcpy(reply, (const char *)b + sizeof(rh), rh.len);
			reply[rh.len] = '\0';
		}
		xs_conn_consume(c, n); /* frees b */
		if (rh.type == XS_WATCH_EVENT)
			continue;
		FZ_ASSERT(rh.req_id == 7);
		return rh.type;
	}
}

/* A request whose payload is the nul-separated strings a, b, c. */
static uint32_t fz_req3(struct xs_conn *c, uint32_t type, const char *a,
			const char *b, const char *d, char *reply)
{
	static char buf[3 * (XENSTORE_PAYLOAD_MAX + 1)];
	size_t n = 0;
	const char *args[] = {a, b, d};

	for (size_t i = 0; i < 3 && args[i]; i++) {
		size_t l = strlen(args[i]) + 1;

		if (n + l > XENSTORE_PAYLOAD_MAX)
			return XS_TYPE_COUNT;
		memcpy(buf + n, args[i], l);
		n += l;
	}
	return fz_req(c, type, buf, n, reply);
}

/* ---- invariants -------------------------------------------------------- */

struct owners {
	uint32_t *count;
	unsigned int hi;
};

static void count_owner_cb(struct xs_hentry *e, void *arg)
{
	struct owners *o = arg;
	const struct xs_node *n = (const struct xs_node *)e;

	FZ_ASSERT(n->nperms > 0);
	/* an owner always has a domain record holding its count, but for
	 * the reserved ids (SET_PERMS takes any 16-bit id, as Xen does; no
	 * connection can have one, so no quota is charged to them) */
	FZ_ASSERT(n->perms[0].id == 0 || n->perms[0].id < o->hi ||
		  n->perms[0].id >= DOMID_FIRST_RESERVED);
	if (n->perms[0].id < DOMID_FIRST_RESERVED)
		o->count[n->perms[0].id]++;
}

/* The tree is whole and every domain's node count is what it owns. */
static void check_store(const struct xs_core *core)
{
	struct owners o = {calloc(DOMID_FIRST_RESERVED, sizeof(uint32_t)),
			   core->doms_hi};


	FZ_ASSERT(xsi_core_check(core) == 0);
	if (!o.count)
		return;
	xs_htab_foreach(&core->nodes, count_owner_cb, &o);
	for (unsigned int i = 1; i < core->doms_hi; i++) {
		const struct xs_domain *d = core->doms[i];

		FZ_ASSERT((d ? d->nnodes : 0) == o.count[i]);
	}
	for (const struct xs_conn *c = core->conns; c; c = c->next) {
		unsigned int nw = 0, nt = 0;

		for (const struct xs_watch *w = c->watches; w; w = w->next)
			nw++;
		for (const struct xs_tx *t = c->txs; t; t = t->next)
			nt++;
		FZ_ASSERT(nw == c->nwatches && nt == c->ntx);
	}
	free(o.count);
}

static ssize_t fz_save_conn(void *opaque, const struct xs_conn *conn,
			    void *buf, size_t cap)
{
	(void)opaque;
	(void)conn;
	(void)buf;
	(void)cap;
	return 0;
}

static int fz_restore_conn(void *opaque, struct xs_conn *conn,
			   const void *buf, size_t len)
{
	(void)opaque;
	(void)conn;
	(void)buf;
	return len == 0 ? 0 : -EINVAL;
}

/* Live update must reproduce the store exactly: save, restore, save again
 * and compare the images. */
static void check_roundtrip(struct xs_core *core)
{
	const struct xs_lu_ops ops = {.save_conn = fz_save_conn,
				      .restore_conn = fz_restore_conn};
	struct xs_core *copy = NULL;
	void *a = NULL, *b = NULL;
	size_t alen, blen;
	int rc = xs_core_save(core, &ops, true, &a, &alen);

	if (rc == -ENOMEM)
		return;
	FZ_ASSERT(rc == 0);
	rc = xs_core_restore(a, alen, NULL, &ops, &copy);
	if (rc != -ENOMEM) {
		FZ_ASSERT(rc == 0);
		check_store(copy);
		rc = xs_core_save(copy, &ops, true, &b, &blen);
		FZ_ASSERT(rc == 0 || rc == -ENOMEM);
		if (rc == 0)
			FZ_ASSERT(alen == blen && memcmp(a, b, alen) == 0);
		/* a truncated image is refused, never half-loaded */
		xs_core_free(copy);
		copy = NULL;
		if (alen > 8)
			FZ_ASSERT(xs_core_restore(a, alen - 1, NULL, &ops,
						  &copy) != 0);
	}
	free(a);
	free(b);
}

/* ---- the wire ---------------------------------------------------------- */

int xs_core_fuzz_one(const uint8_t *data, size_t len)
{
	struct xs_core *core = NULL;
	struct xs_conn *conn = NULL, *d0 = NULL, *watcher = NULL;
	char reply[XENSTORE_PAYLOAD_MAX + 1];
	size_t off = 1;

	if (len < 1 || xs_core_new(NULL, NULL, &core))
		return 0;
	if (xs_conn_new(core, 0, &d0))
		goto out;
	if (data[0] & 2) { /* dom1 exists, introduced, owns its home */
		fz_req3(d0, XS_MKDIR, "/local/domain/1", NULL, NULL, reply);
		fz_req3(d0, XS_SET_PERMS, "/local/domain/1", "n1", NULL,
			reply);
		fz_req3(d0, XS_INTRODUCE, "1", "1", "1", reply);
	}
	if (data[0] & 4) { /* an unprivileged bystander watching everything */
		if (xs_conn_new(core, 2, &watcher))
			goto out;
		fz_req3(watcher, XS_WATCH, "/", "all", NULL, reply);
		fz_req3(watcher, XS_WATCH, "@releaseDomain", "rel", NULL,
			reply);
		fz_req3(d0, XS_SET_PERMS, "/", "n0", "r2", reply);
	}
	if (xs_conn_new(core, (data[0] & 1) ? 1 : 0, &conn))
		goto out;
	while (off < len) {
		ssize_t n = xs_conn_feed(conn, data + off, len - off);

		if (n < 0)
			break;
		off += (size_t)n;
		fz_drain(conn);
		if (watcher)
			fz_drain(watcher);
	}
	check_store(core);
	check_roundtrip(core);
out:
	xs_core_free(core);
	return 0;
}

/* ---- paths ------------------------------------------------------------- */

static bool is_path_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '/' || c == '_' ||
	       c == '@';
}

/* out is the canonical form of in for conn c. */
static void check_canon(const struct xs_conn *c, const char *in,
			const char *out, bool special, bool rel)
{
	char again[XENSTORE_ABS_PATH_MAX + 1], parent[XENSTORE_ABS_PATH_MAX + 1];
	char prefix[32];
	size_t len = strlen(out), plen;
	bool rel2;

	FZ_ASSERT(len >= 1 && len <= XENSTORE_ABS_PATH_MAX);
	if (out[0] == '@') {
		FZ_ASSERT(special && !rel && strcmp(in, out) == 0);
		FZ_ASSERT(strcmp(out, SPECIAL_INTRO) == 0 ||
			  strcmp(out, SPECIAL_RELEASE) == 0);
		return;
	}
	FZ_ASSERT(out[0] == '/');
	for (size_t i = 0; i < len; i++) {
		FZ_ASSERT(is_path_char(out[i]));
		FZ_ASSERT(!(out[i] == '/' && out[i + 1] == '/'));
	}
	FZ_ASSERT(len == 1 || out[len - 1] != '/');
	if (rel) {
		int n = snprintf(prefix, sizeof(prefix), "/local/domain/%u/",
				 c->domid);

		FZ_ASSERT(strlen(in) <= XENSTORE_REL_PATH_MAX);
		FZ_ASSERT(strncmp(out, prefix, (size_t)n) == 0 &&
			  strcmp(out + n, in) == 0);
	} else {
		FZ_ASSERT(strcmp(in, out) == 0);
	}
	/* canonical form is a fixed point */
	FZ_ASSERT(xsi_path_canon(c, out, again, special, &rel2) == 0);
	FZ_ASSERT(!rel2 && strcmp(again, out) == 0);
	if (len == 1)
		return;
	plen = xsi_parent_len(out, len);
	FZ_ASSERT(plen >= 1 && plen < len);
	xsi_parent_path(out, parent);
	FZ_ASSERT(strlen(parent) == plen);
	FZ_ASSERT(xsi_path_canon(c, parent, again, false, NULL) == 0 &&
		  strcmp(again, parent) == 0);
	FZ_ASSERT(xsi_path_is_child(out, parent));
	FZ_ASSERT(!xsi_path_is_child(parent, out));
	FZ_ASSERT(*xsi_leaf_name(out) && !strchr(xsi_leaf_name(out), '/'));
	FZ_ASSERT(xsi_leaf_name(out) == out + plen + (plen > 1));
}

/* One path through the wire: what the path rules promise must hold. */
static void fuzz_path_ops(struct xs_conn *c, const char *s, bool valid)
{
	static char reply[XENSTORE_PAYLOAD_MAX + 1];
	uint32_t t;
	bool written;

	t = fz_req3(c, XS_WRITE, s, "v", NULL, reply);
	if (!valid) {
		if (t != XS_TYPE_COUNT) /* too long to send at all */
			FZ_ASSERT(t == XS_ERROR && strcmp(reply, "EINVAL") == 0);
		FZ_ASSERT(fz_req3(c, XS_READ, s, NULL, NULL, reply) ==
			      XS_TYPE_COUNT ||
			  strcmp(reply, "EINVAL") == 0);
		fz_req3(c, XS_WATCH, s, "t", NULL, reply);
		fz_req3(c, XS_RM, s, NULL, NULL, reply);
		return;
	}
	/* Dom0 may write any valid path */
	FZ_ASSERT(xs_conn_domid(c) != 0 || t == XS_WRITE);
	written = t == XS_WRITE;
	t = fz_req3(c, XS_READ, s, NULL, NULL, reply);
	if (written)
		FZ_ASSERT(t == XS_READ && strcmp(reply, "v") == 0);
	fz_req3(c, XS_DIRECTORY, s, NULL, NULL, reply);
	fz_req3(c, XS_DIRECTORY_PART, s, "0", NULL, reply);
	fz_req3(c, XS_GET_PERMS, s, NULL, NULL, reply);
	fz_req3(c, XS_WATCH, s, "t", NULL, reply);
	fz_req3(c, XS_MKDIR, s, NULL, NULL, reply);
	if (written && strcmp(s, "/") != 0) {
		FZ_ASSERT(fz_req3(c, XS_RM, s, NULL, NULL, reply) == XS_RM);
		t = fz_req3(c, XS_READ, s, NULL, NULL, reply);
		FZ_ASSERT(t == XS_ERROR);
		/* unprivileged: the parent may be unreadable */
		FZ_ASSERT(strcmp(reply, "ENOENT") == 0 ||
			  (xs_conn_domid(c) != 0 &&
			   strcmp(reply, "EACCES") == 0));
	}
	fz_req3(c, XS_UNWATCH, s, "t", NULL, reply);
}

int xs_core_fuzz_path(const uint8_t *data, size_t len)
{
	static char s[XENSTORE_PAYLOAD_MAX + 1];
	char out[XENSTORE_ABS_PATH_MAX + 1], reply[XENSTORE_PAYLOAD_MAX + 1];
	struct xs_core *core = NULL;
	struct xs_conn *d0 = NULL, *d1 = NULL, *c;
	bool special;
	size_t off = 1;

	if (len < 1 || xs_core_new(NULL, NULL, &core))
		return 0;
	if (xs_conn_new(core, 0, &d0) || xs_conn_new(core, 1, &d1))
		goto out;
	fz_req3(d0, XS_MKDIR, "/local/domain/1", NULL, NULL, reply);
	fz_req3(d0, XS_SET_PERMS, "/local/domain/1", "n1", NULL, reply);
	c = (data[0] & 1) ? d1 : d0;
	special = data[0] & 2;
	for (unsigned int k = 0; k < 16 && off < len; k++) {
		const uint8_t *end = memchr(data + off, '\0', len - off);
		size_t l = end ? (size_t)(end - (data + off)) : len - off;
		bool rel;
		int rc;

		if (l > XENSTORE_PAYLOAD_MAX)
			l = XENSTORE_PAYLOAD_MAX;
		memcpy(s, data + off, l);
		s[l] = '\0';
		off += l + 1;
		rc = xsi_path_canon(c, s, out, special, &rel);
		if (rc == 0)
			check_canon(c, s, out, special, rel);
		else
			FZ_ASSERT(rc == -EINVAL);
		/* the wire takes the special names only where they belong */
		fuzz_path_ops(c, s, rc == 0 && out[0] != '@');
		fz_drain(d0);
		fz_drain(d1);
	}
	check_store(core);
	check_roundtrip(core);
out:
	xs_core_free(core);
	return 0;
}
