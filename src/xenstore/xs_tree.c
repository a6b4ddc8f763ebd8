/* xs_tree.c - the xenstore core's building blocks: domains' accounting,
 * number parsing, Xen's permission model, path rules and node storage. */
#include "xenstore/xs_int.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

/* ---- small helpers ----------------------------------------------------- */

bool xsi_conn_priv(const struct xs_conn *c) { return c->domid == 0; }

struct xs_domain *xsi_domain_get(struct xs_core *core, unsigned int domid,
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
		if (domid >= core->doms_hi)
			core->doms_hi = domid + 1;
	}
	return d;
}

const struct xs_domain *xsi_domain_peek(const struct xs_core *core,
					unsigned int domid)
{
	return domid < DOMID_FIRST_RESERVED ? core->doms[domid] : NULL;
}

void xsi_count_owner(struct xs_core *core, domid_t owner, int delta)
{
	struct xs_domain *d = xsi_domain_get(core, owner, delta > 0);

	if (!d)
		return;
	if (delta < 0 && d->nnodes < (uint32_t)-delta)
		d->nnodes = 0;
	else
		d->nnodes += (uint32_t)delta;
}

int xsi_parse_uint(const char *s, uint64_t max, uint64_t *out)
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

int xsi_parse_domid(const char *s, domid_t *out)
{
	uint64_t v;
	int rc = xsi_parse_uint(s, UINT16_MAX, &v);

	if (rc == 0)
		*out = (domid_t)v;
	return rc;
}

const char *xsi_errno_name(int err)
{
	for (size_t i = 0; i < ARRAY_LEN(xsd_errors); i++)
		if (xsd_errors[i].errnum == err)
			return xsd_errors[i].errstring;
	return "EIO";
}

/* ---- permissions ------------------------------------------------------- */

unsigned int xsi_perm_for(const struct xs_conn *c, const struct xs_perm *p,
			  uint32_t n)
{
	const struct xs_domain *d;
	bool tgt;
	domid_t target = 0;

	if (xsi_conn_priv(c) || n == 0)
		return xsi_conn_priv(c) ? PERM_ALL : PERM_NONE;
	d = xsi_domain_peek(c->core, c->domid);
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

bool xsi_node_allows(const struct xs_conn *c, const struct xs_node *n,
		     unsigned int want)
{
	return (xsi_perm_for(c, n->perms, n->nperms) & want) == want;
}

int xsi_perms_parse(const struct xs_req *r, const char *s, uint32_t count,
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
		if (xsi_parse_domid(s + 1, &p[i].id)) {
			free(p);
			return -EINVAL;
		}
		s += strlen(s) + 1;
	}
	(void)r;
	*out = p;
	return 0;
}

char xsi_perm_char(uint8_t perms)
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
int xsi_path_canon(const struct xs_conn *c, const char *in, char *out,
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
size_t xsi_parent_len(const char *path, size_t len)
{
	while (len > 1 && path[len - 1] != '/')
		len--;
	return len > 1 ? len - 1 : 1;
}

/* Copy the parent of path into buf (XENSTORE_ABS_PATH_MAX + 1 bytes). */
void xsi_parent_path(const char *path, char *buf)
{
	size_t plen = xsi_parent_len(path, strlen(path));

	memcpy(buf, path, plen);
	buf[plen] = '\0';
}

const char *xsi_leaf_name(const char *path) { return strrchr(path, '/') + 1; }

/* child is path or a descendant of it */
bool xsi_path_is_child(const char *child, const char *path)
{
	size_t n = strlen(path);

	if (strcmp(path, "/") == 0)
		return child[0] == '/';
	return strncmp(child, path, n) == 0 &&
	       (child[n] == '\0' || child[n] == '/');
}

/* ---- nodes ------------------------------------------------------------- */

void xsi_node_free(struct xs_node *n)
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

void xsi_node_clear(struct xs_node *n)
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

struct xs_node *xsi_node_alloc(const char *path)
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

int xsi_node_set_value(struct xs_node *n, const char *v, uint32_t len)
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

int xsi_node_set_perms(struct xs_node *n, const struct xs_perm *p,
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

int xsi_node_add_kid(struct xs_node *n, const char *name)
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

void xsi_node_del_kid(struct xs_node *n, const char *name)
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
struct xs_node *xsi_node_copy(const struct xs_node *n, const char *path)
{
	struct xs_node *c = xsi_node_alloc(path);

	if (!c)
		return NULL;
	if (n) {
		if (xsi_node_set_value(c, n->value, n->vlen) ||
		    xsi_node_set_perms(c, n->perms, n->nperms))
			goto fail;
		for (uint32_t i = 0; i < n->nkids; i++)
			if (xsi_node_add_kid(c, n->kids[i]))
				goto fail;
		c->gen = n->gen;
		c->present = true;
		c->base_gen = n->gen;
	}
	return c;
fail:
	xsi_node_free(c);
	return NULL;
}

size_t xsi_node_size(const struct xs_node *n)
{
	return n->vlen + n->nperms * sizeof(struct xs_perm) + n->kbytes;
}

struct xs_node *xsi_tree_find(const struct xs_core *core, const char *path)
{
	struct xs_hentry *e = xs_htab_find(&core->nodes, path);

	return e ? (struct xs_node *)e : NULL;
}
