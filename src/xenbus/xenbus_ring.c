/*
 * xenbus_ring.c - the ring, queue and event-channel nodes of split
 * drivers (include/pvkit/xenbus_ring.h), and spurious-event throttling.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "pvkit/xenbus_ring.h"

#define NODE_MAX 512

static int node_path(char *buf, size_t size, const char *dir, const char *node)
{
	int n = snprintf(buf, size, "%s/%s", dir, node);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int read_num(struct xs_client *xs, const char *dir, const char *node,
		    uint64_t min, uint64_t max, uint64_t *out)
{
	char path[NODE_MAX];
	int rc = node_path(path, sizeof(path), dir, node);

	if (!rc)
		rc = xs_read_u64(xs, XS_TX_NONE, path, min, max, out);
	if (rc && rc != -ENOENT)
		pvk_debug("xenbus: %s: %s", path, strerror(-rc));
	return rc;
}

int xenbus_read_num_queues(struct xs_client *xs, const char *fe,
			   unsigned int max, unsigned int *nq)
{
	uint64_t v = 1;
	int rc =
	    read_num(xs, fe, "multi-queue-num-queues", 1, max ? max : 1, &v);

	if (rc && rc != -ENOENT)
		return rc;
	*nq = (unsigned int)v;
	return 0;
}

int xenbus_queue_dir(char *buf, size_t size, const char *fe, unsigned int nq,
		     unsigned int q)
{
	int n = nq <= 1 ? snprintf(buf, size, "%s", fe)
			: snprintf(buf, size, "%s/queue-%u", fe, q);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int xenbus_read_ring(struct xs_client *xs, const char *fe, const char *qdir,
		     unsigned int max_order, grant_ref_t *refs,
		     unsigned int *nr_pages)
{
	uint64_t order = 0, v;
	unsigned int i, n;
	char node[32];
	int rc;

	if (max_order > XENBUS_MAX_RING_ORDER)
		max_order = XENBUS_MAX_RING_ORDER;
	rc = read_num(xs, fe, "ring-page-order", 0, max_order, &order);
	if (rc && rc != -ENOENT)
		return rc;
	n = 1u << order;
	if (rc == -ENOENT) {
		rc = read_num(xs, qdir, "ring-ref", 0, UINT32_MAX, &v);
		if (rc)
			return rc;
		refs[0] = (grant_ref_t)v;
	} else {
		for (i = 0; i < n; i++) {
			snprintf(node, sizeof(node), "ring-ref%u", i);
			rc = read_num(xs, qdir, node, 0, UINT32_MAX, &v);
			if (rc)
				return rc;
			refs[i] = (grant_ref_t)v;
		}
	}
	*nr_pages = n;
	return 0;
}

int xenbus_read_evtchn(struct xs_client *xs, const char *dir, const char *node,
		       evtchn_port_t *port)
{
	uint64_t v;
	int rc = read_num(xs, dir, node, 1, UINT32_MAX, &v);

	if (!rc)
		*port = (evtchn_port_t)v;
	return rc;
}

int xenbus_read_evtchns(struct xs_client *xs, const char *dir,
			evtchn_port_t *tx, evtchn_port_t *rx, bool *split)
{
	int rc = xenbus_read_evtchn(xs, dir, "event-channel-tx", tx);

	if (!rc)
		rc = xenbus_read_evtchn(xs, dir, "event-channel-rx", rx);
	if (!rc) {
		*split = true;
		return 0;
	}
	if (rc != -ENOENT)
		return rc;
	*split = false;
	rc = xenbus_read_evtchn(xs, dir, "event-channel", tx);
	if (!rc)
		*rx = *tx;
	return rc;
}

int xenbus_write_evtchn(struct xs_client *xs, xs_tx_t tx, const char *dir,
			const char *node, evtchn_port_t port)
{
	char path[NODE_MAX];
	int rc = node_path(path, sizeof(path), dir, node);

	return rc ? rc : xs_printf(xs, tx, path, "%u", port);
}

int xenbus_write_ring(struct xs_client *xs, xs_tx_t tx, const char *qdir,
		      const grant_ref_t *refs, unsigned int order)
{
	char path[NODE_MAX];
	unsigned int i;
	int rc = 0;

	if (order > XENBUS_MAX_RING_ORDER)
		return -EINVAL;
	if (order == 0) {
		rc = node_path(path, sizeof(path), qdir, "ring-ref");
		return rc ? rc : xs_printf(xs, tx, path, "%u", refs[0]);
	}
	for (i = 0; !rc && i < (1u << order); i++) {
		char node[32];

		snprintf(node, sizeof(node), "ring-ref%u", i);
		rc = node_path(path, sizeof(path), qdir, node);
		if (!rc)
			rc = xs_printf(xs, tx, path, "%u", refs[i]);
	}
	return rc;
}

static bool ring_node(const char *n)
{
	return !strncmp(n, "queue-", 6) || !strncmp(n, "ring-ref", 8) ||
	       !strcmp(n, "ring-page-order") ||
	       !strncmp(n, "event-channel", 13) ||
	       !strcmp(n, "multi-queue-num-queues");
}

int xenbus_remove_rings(struct xs_client *xs, xs_tx_t tx, const char *fe)
{
	char path[NODE_MAX], **names = NULL;
	unsigned int i, n = 0;
	int rc;

	rc = xs_directory(xs, tx, fe, &names, &n);
	if (rc)
		return rc == -ENOENT ? 0 : rc;
	for (i = 0; !rc && i < n; i++) {
		if (!ring_node(names[i]))
			continue;
		rc = node_path(path, sizeof(path), fe, names[i]);
		if (!rc)
			rc = xs_rm(xs, tx, path);
		if (rc == -ENOENT)
			rc = 0;
	}
	free(names);
	return rc;
}

uint64_t xenbus_spurious_account(struct xenbus_spurious *s, bool work)
{
	if (work) {
		s->run = 0;
		return 0;
	}
	s->run++;
	__atomic_store_n(&s->spurious, s->spurious + 1, __ATOMIC_RELAXED);
	if (s->run <= XENBUS_SPURIOUS_LIMIT)
		return 0;
	__atomic_store_n(&s->throttled, s->throttled + 1, __ATOMIC_RELAXED);
	return XENBUS_THROTTLE_NS;
}

void xenbus_spurious_throttle(struct xenbus_spurious *s, bool work)
{
	uint64_t ns = xenbus_spurious_account(s, work);
	struct timespec ts = {(time_t)(ns / 1000000000ull),
			      (long)(ns % 1000000000ull)};

	if (ns)
		nanosleep(&ts, NULL);
}
