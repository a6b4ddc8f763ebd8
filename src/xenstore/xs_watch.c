/* xs_watch.c - watches: matching a change against the watch index (the
 * path and each ancestor; descendants on removal), permission filtering
 * and bounded event delivery. */
#include "xenstore/xs_int.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

/* ---- watches ----------------------------------------------------------- */

void xsi_watch_send(struct xs_watch *w, const char *epath)
{
	struct xs_conn *c = w->conn;
	size_t plen, tlen = strlen(w->token) + 1;
	size_t cap = xsi_conn_priv(c) ? PRIV_OUT_BYTES : c->core->q.out_bytes;
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
	(void)xsi_conn_queue(c, XS_WATCH_EVENT, 0, 0, p, plen, w->token, tlen,
			     false);
}

/* Fire the watches matching a change of path whose permissions are perms:
 * watches on path or an ancestor, and with recurse (removal) also watches
 * below path, which see their own path. */
void xsi_fire_watches(struct xs_core *core, const char *path, bool recurse,
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

			if (xsi_perm_for(w->conn, perms, nperms) & PERM_READ)
				xsi_watch_send(w, path);
		}
		return;
	}
	for (;;) {
		for (struct xs_hentry *e = xs_htab_find(&core->watches, buf); e;
		     e = xs_htab_next(e)) {
			struct xs_watch *w = (struct xs_watch *)e;

			if (xsi_perm_for(w->conn, perms, nperms) & PERM_READ)
				xsi_watch_send(w, path);
		}
		if (len == 1)
			break;
		len = xsi_parent_len(buf, len);
		buf[len] = '\0';
	}
	if (!recurse)
		return;
	for (struct xs_watch *w = core->all_watches; w; w = w->gnext) {
		if (w->abspath[0] == '@' || strcmp(w->abspath, path) == 0 ||
		    !xsi_path_is_child(w->abspath, path))
			continue;
		if (xsi_perm_for(w->conn, perms, nperms) & PERM_READ)
			xsi_watch_send(w, w->abspath);
	}
}

void xsi_fire_special(struct xs_core *core, const char *name)
{
	struct xs_node *n = xsi_tree_find(core, name);

	if (n)
		xsi_fire_watches(core, name, false, n->perms, n->nperms);
}

int xsi_watch_add(struct xs_conn *c, const char *abspath, const char *token,
		  size_t strip, struct xs_watch **out)
{
	struct xs_core *core = c->core;
	struct xs_watch *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->abspath = strdup(abspath);
	w->token = strdup(token);
	if (!w->abspath || !w->token)
		goto nomem;
	w->h.key = w->abspath;
	w->strip = strip;
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
	*out = w;
	return 0;
nomem:
	free(w->abspath);
	free(w->token);
	free(w);
	return -ENOMEM;
}

void xsi_watch_free(struct xs_core *core, struct xs_watch *w)
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
