/*
 * xenbus.c - blkback's side of xenbus: find vbd devices under
 * /local/domain/<self>/backend/vbd/<fe>/<devid>, advertise the disk and the
 * features, follow the frontend's state, negotiate what it wrote (ring
 * pages, event channels, protocol, persistent grants, queues) and start or
 * stop the rings.  Every callback runs on the xenstore client's dispatch
 * thread, so device state changes are serialised; each also holds bk->lock,
 * so that bk_xenbus_log_stats (the main thread, on SIGUSR1) sees the device
 * list, the rings and the counters at rest.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blkback.h"
#include "common/log.h"
#include "common/util.h"
#include "pvkit/xenbus.h"

struct vbd {
	struct vbd *next;
	struct bk *bk;
	char be[BK_PATH_MAX];
	char *fe_path;
	char fe_token[BK_PATH_MAX + 4];
	uint32_t devid;
	struct vbd_disk disk;
	struct bk_ring *rings[BK_MAX_QUEUES];
	unsigned int nr_rings;
	/* The current (or last) connection's counters, per queue. */
	struct bk_ring_stats stats[BK_MAX_QUEUES];
	unsigned int stats_queues;
	bool connected;
	bool failed;
	/* Found with its frontend already Connected (this service was
	 * restarted): the rings it names belonged to the old one, so wait
	 * until the frontend starts over (leaves Connected). */
	bool stale;
};

static int be_write(struct bk *bk, xs_tx_t tx, const struct vbd *v,
		    const char *node, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static int be_write(struct bk *bk, xs_tx_t tx, const struct vbd *v,
		    const char *node, const char *fmt, ...)
{
	char path[BK_PATH_MAX + 64], val[1024]; /* hotplug-error names a path */
	va_list ap;

	snprintf(path, sizeof(path), "%s/%s", v->be, node);
	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	return xs_write_str(bk->xs, tx, path, val);
}

/* ---- counters ------------------------------------------------------------- */

/* Append to buf (size n, *len used so far); a line that does not fit is
 * cut short. */
static void stats_append(char *buf, size_t n, size_t *len, const char *fmt,
			 ...) __attribute__((format(printf, 4, 5)));
static void stats_append(char *buf, size_t n, size_t *len, const char *fmt,
			 ...)
{
	va_list ap;
	int k;

	if (*len >= n)
		return;
	va_start(ap, fmt);
	k = vsnprintf(buf + *len, n - *len, fmt, ap);
	va_end(ap);
	if (k > 0)
		*len = *len + (size_t)k < n ? *len + (size_t)k : n;
}

/* " reqs=q0:A,q1:B" or " peak-inflight=q0:A,q1:B". */
static void stats_per_queue(const struct vbd *v, bool peak, char *buf,
			    size_t n, size_t *len)
{
	unsigned int q;

	stats_append(buf, n, len, " %s=", peak ? "peak-inflight" : "reqs");
	for (q = 0; q < v->stats_queues; q++)
		stats_append(buf, n, len, "%sq%u:%llu", q ? "," : "", q,
			     (unsigned long long)bk_stat_get(
				     peak ? &v->stats[q].peak_inflight
					  : &v->stats[q].reqs));
	if (!v->stats_queues)
		stats_append(buf, n, len, "-");
}

static void vbd_log_stats(const struct vbd *v)
{
	uint64_t ind = 0, segs = 0, maps = 0, fl = 0, disc = 0, err = 0;
	const char *rel = v->be;
	char line[768];
	size_t len = 0;
	unsigned int q;

	for (q = 0; q < v->stats_queues; q++) {
		const struct bk_ring_stats *st = &v->stats[q];

		ind += bk_stat_get(&st->indirect);
		segs += bk_stat_get(&st->pers_segs);
		maps += bk_stat_get(&st->pers_maps);
		fl += bk_stat_get(&st->flush);
		disc += bk_stat_get(&st->discard);
		err += bk_stat_get(&st->errors);
	}
	/* vbd/<fe>/<devid>: the path below /local/domain/<self>/backend */
	if (!strncmp(rel, v->bk->base, strlen(v->bk->base)))
		rel += strlen(v->bk->base) - strlen("vbd");
	stats_append(line, sizeof(line), &len, "%s stats: queues=%u", rel,
		     v->stats_queues);
	stats_per_queue(v, false, line, sizeof(line), &len);
	stats_append(line, sizeof(line), &len,
		     " indirect=%llu persistent-hits=%llu persistent-maps=%llu",
		     (unsigned long long)ind,
		     (unsigned long long)(segs > maps ? segs - maps : 0),
		     (unsigned long long)maps);
	stats_per_queue(v, true, line, sizeof(line), &len);
	stats_append(line, sizeof(line), &len,
		     " flush=%llu discard=%llu errors=%llu state=%s",
		     (unsigned long long)fl, (unsigned long long)disc,
		     (unsigned long long)err,
		     v->connected ? "connected" : "disconnected");
	pvk_info("%s", line);
}

void bk_xenbus_log_stats(struct bk *bk)
{
	struct vbd *v;

	pthread_mutex_lock(&bk->lock);
	for (v = bk->vbds; v; v = v->next)
		vbd_log_stats(v);
	pthread_mutex_unlock(&bk->lock);
}

/* ---- connecting ----------------------------------------------------------- */

static void vbd_disconnect(struct vbd *v)
{
	unsigned int i;

	for (i = 0; i < v->nr_rings; i++)
		bk_ring_stop(v->rings[i]);
	v->nr_rings = 0;
	if (v->connected) {
		v->connected = false;
		pvk_info("vbd %s: disconnected", v->be);
		vbd_log_stats(v);
	}
}

/* Read an optional number from the frontend: -ENOENT leaves *out. */
static int fe_u64(struct bk *bk, const char *dir, const char *node,
		  uint64_t min, uint64_t max, uint64_t *out)
{
	char path[BK_PATH_MAX + 64];
	int rc;

	snprintf(path, sizeof(path), "%s/%s", dir, node);
	rc = xs_read_u64(bk->xs, XS_TX_NONE, path, min, max, out);
	if (rc)
		pvk_debug("blkback: %s: %s", path, strerror(-rc));
	return rc;
}

/* One queue's ring: ring-refN (ring-page-order, at the top level as
 * blkif.h says, also for queues), or ring-ref. */
static int connect_queue(struct vbd *v, const char *dir, enum blkif_abi abi,
			 unsigned int qid)
{
	struct bk *bk = v->bk;
	grant_ref_t refs[BLKIF_MAX_RING_PAGES];
	uint64_t order = 0, val, port;
	unsigned int i, n;
	char node[32];
	int rc;

	rc = fe_u64(bk, v->fe_path, "ring-page-order", 0,
		    bk->cfg.max_ring_order, &order);
	if (rc && rc != -ENOENT)
		return rc;
	n = 1u << order;
	if (rc == -ENOENT) {
		rc = fe_u64(bk, dir, "ring-ref", 0, UINT32_MAX, &val);
		if (rc)
			return rc;
		refs[0] = (grant_ref_t)val;
	} else {
		for (i = 0; i < n; i++) {
			snprintf(node, sizeof(node), "ring-ref%u", i);
			rc = fe_u64(bk, dir, node, 0, UINT32_MAX, &val);
			if (rc)
				return rc;
			refs[i] = (grant_ref_t)val;
		}
	}
	rc = fe_u64(bk, dir, "event-channel", 1, UINT32_MAX, &port);
	if (rc)
		return rc;
	rc = bk_ring_start(&v->disk, abi, refs, n, (evtchn_port_t)port, qid,
			   &v->stats[qid], &v->rings[qid]);
	if (rc)
		return rc;
	v->nr_rings = qid + 1;
	pvk_info("vbd %s: queue %u: %u ring page(s), event channel %llu, %s",
		 v->be, qid, n, (unsigned long long)port, blkif_abi_name(abi));
	return 0;
}

static int vbd_connect(struct vbd *v)
{
	struct bk *bk = v->bk;
	enum blkif_abi abi;
	char path[BK_PATH_MAX + 64], *proto = NULL;
	uint64_t nq = 1, pers = 0;
	unsigned int q;
	int rc;

	snprintf(path, sizeof(path), "%s/protocol", v->fe_path);
	rc = xs_read(bk->xs, XS_TX_NONE, path, &proto, NULL);
	if (rc && rc != -ENOENT)
		return rc;
	rc = blkif_abi_parse(proto, &abi);
	if (rc) {
		pvk_err("vbd %s: unknown protocol '%s'", v->be, proto);
		free(proto);
		return rc;
	}
	free(proto);
	rc = fe_u64(bk, v->fe_path, "feature-persistent", 0, 1, &pers);
	if (rc && rc != -ENOENT)
		return rc;
	v->disk.persistent = bk->cfg.persistent && pers;
	rc = fe_u64(bk, v->fe_path, "multi-queue-num-queues", 1,
		    bk->cfg.max_queues, &nq);
	if (rc && rc != -ENOENT)
		return rc;
	memset(v->stats, 0, sizeof(v->stats));
	v->stats_queues = (unsigned int)nq;
	if (nq == 1) {
		rc = connect_queue(v, v->fe_path, abi, 0);
	} else {
		for (q = 0, rc = 0; q < nq && !rc; q++) {
			snprintf(path, sizeof(path), "%s/queue-%u", v->fe_path,
				 q);
			rc = connect_queue(v, path, abi, q);
		}
	}
	if (rc) {
		vbd_disconnect(v);
		return rc;
	}
	v->connected = true;
	pvk_info("vbd %s: connected: %llu sectors, %u queue(s), persistent %s, "
		 "indirect %u", v->be, (unsigned long long)v->disk.lim.sectors,
		 v->nr_rings, v->disk.persistent ? "on" : "off",
		 v->disk.lim.max_indirect_segs);
	return 0;
}

/* ---- the frontend's state ------------------------------------------------- */

static void set_state(struct vbd *v, enum xenbus_state s)
{
	int rc = xenbus_switch_state(v->bk->xs, v->be, s);

	if (rc && rc != -ENOENT)
		pvk_warn("vbd %s: cannot switch to %s: %s", v->be,
			 xenbus_state_name(s), strerror(-rc));
}

void bk_vbd_fail(struct vbd *v, const char *why)
{
	pvk_err("vbd %s: %s", v->be, why);
	v->failed = true;
	set_state(v, XenbusStateClosing);
}

static void frontend_changed_locked(struct xs_client *xs, struct vbd *v)
{
	enum xenbus_state fs, bs;
	int rc;

	if (xenbus_read_state(xs, XS_TX_NONE, v->fe_path, &fs))
		fs = XenbusStateUnknown;
	if (xenbus_read_state(xs, XS_TX_NONE, v->be, &bs))
		return;
	pvk_debug("vbd %s: frontend %s, backend %s", v->be,
		  xenbus_state_name(fs), xenbus_state_name(bs));
	if (fs != XenbusStateConnected && v->stale) {
		pvk_info("vbd %s: the frontend starts over (%s)", v->be,
			 xenbus_state_name(fs));
		v->stale = false;
	}
	switch (fs) {
	case XenbusStateInitialising:
		/* The frontend reconnects, or starts over while we are
		 * connected (it tore its rings down): back to InitWait. */
		if (bs == XenbusStateClosed || v->connected) {
			vbd_disconnect(v);
			v->failed = false;
			set_state(v, XenbusStateInitWait);
		}
		break;
	case XenbusStateInitialised:
	case XenbusStateConnected:
		if (v->connected || v->failed || v->stale ||
		    bs == XenbusStateClosing || bs == XenbusStateClosed)
			break;
		rc = vbd_connect(v);
		if (rc) {
			pvk_err("vbd %s: cannot connect: %s", v->be,
				strerror(-rc));
			bk_vbd_fail(v, "connection parameters refused");
			break;
		}
		set_state(v, XenbusStateConnected);
		break;
	case XenbusStateClosing:
		vbd_disconnect(v);
		set_state(v, XenbusStateClosing);
		break;
	case XenbusStateClosed:
	case XenbusStateUnknown:
		vbd_disconnect(v);
		set_state(v, XenbusStateClosed);
		break;
	default:
		break;
	}
}

static void frontend_changed(struct xs_client *xs, const char *path,
			     const char *token, void *arg)
{
	struct vbd *v = arg;
	struct bk *bk = v->bk;

	(void)path;
	(void)token;
	pthread_mutex_lock(&bk->lock);
	frontend_changed_locked(xs, v);
	pthread_mutex_unlock(&bk->lock);
}

/* ---- probing and removal -------------------------------------------------- */

static int advertise(struct xs_client *xs, xs_tx_t tx, void *arg)
{
	struct vbd *v = arg;
	struct bk *bk = v->bk;
	const struct blkif_limits *l = &v->disk.lim;
	unsigned int info = 0;
	int rc = 0;

	(void)xs;
	if (l->readonly)
		info |= VDISK_READONLY;
#define W(node, ...)                                                           \
	do {                                                                   \
		if (!rc)                                                       \
			rc = be_write(bk, tx, v, node, __VA_ARGS__);           \
	} while (0)
	W("feature-flush-cache", "%d", l->flush);
	W("feature-barrier", "%d", l->barrier);
	W("feature-discard", "%d", l->discard);
	if (l->discard) {
		W("discard-granularity", "%u", BLKIF_PAGE_SIZE);
		W("discard-alignment", "%u", 0u);
		W("discard-secure", "%u", 0u);
	}
	if (l->max_indirect_segs)
		W("feature-max-indirect-segments", "%u", l->max_indirect_segs);
	W("feature-persistent", "%d", bk->cfg.persistent);
	W("max-ring-page-order", "%u", bk->cfg.max_ring_order);
	W("multi-queue-max-queues", "%u", bk->cfg.max_queues);
	W("sectors", "%llu", (unsigned long long)l->sectors);
	W("sector-size", "%u", 512u);
	W("physical-sector-size", "%u", BLKIF_PAGE_SIZE);
	W("info", "%u", info);
#undef W
	return rc;
}

static struct vbd *vbd_find(struct bk *bk, const char *be)
{
	struct vbd *v;

	for (v = bk->vbds; v; v = v->next)
		if (!strcmp(v->be, be))
			return v;
	return NULL;
}

static void vbd_free(struct vbd *v)
{
	vbd_disconnect(v);
	free(v->disk.params);
	free(v->fe_path);
	free(v);
}

static void vbd_remove(struct bk *bk, struct vbd *v)
{
	struct vbd **pp;

	for (pp = &bk->vbds; *pp; pp = &(*pp)->next)
		if (*pp == v) {
			*pp = v->next;
			break;
		}
	xs_unwatch(bk->xs, v->fe_path, v->fe_token);
	pvk_info("vbd %s: removed", v->be);
	vbd_free(v);
}

static char *be_read(struct bk *bk, const char *be, const char *node)
{
	char path[BK_PATH_MAX + 64], *val = NULL;

	snprintf(path, sizeof(path), "%s/%s", be, node);
	if (xs_read(bk->xs, XS_TX_NONE, path, &val, NULL))
		return NULL;
	return val;
}

/* A device directory appeared or changed: probe it once its toolstack
 * nodes are all there. */
static void vbd_probe(struct bk *bk, const char *be, uint32_t devid)
{
	struct bk_storage *st = NULL;
	char *params = NULL, *mode = NULL, *dtype = NULL, *fe_path = NULL;
	struct vbd *v = NULL;
	enum xenbus_state fs;
	domid_t fe;
	int rc;

	rc = xenbus_read_frontend(bk->xs, XS_TX_NONE, be, &fe_path, &fe);
	if (rc)
		return; /* not complete yet, or bogus: wait */
	params = be_read(bk, be, "params");
	mode = be_read(bk, be, "mode");
	if (!params || !*params || !mode)
		goto out;
	dtype = be_read(bk, be, "device-type");
	v = calloc(1, sizeof(*v));
	if (!v)
		goto out;
	v->bk = bk;
	snprintf(v->be, sizeof(v->be), "%s", be);
	v->devid = devid;
	v->fe_path = fe_path;
	fe_path = NULL;
	v->disk.ops = bk_storage_for(params);
	v->disk.params = params;
	params = NULL;
	v->disk.fe = fe;
	v->disk.vbd = v;
	v->disk.cfg = &bk->cfg;
	v->disk.plat = bk->plat;
	v->disk.lim.readonly = mode[0] != 'w' ||
			       (dtype && !strcmp(dtype, "cdrom"));
	/* A writable disk is ours alone, and only once what a killed
	 * predecessor left in flight has reached it. */
	rc = 0;
	if (!v->disk.lim.readonly && v->disk.ops->claim)
		rc = v->disk.ops->claim(v->disk.params,
					bk->cfg.claim_wait_ms);
	if (rc == -EBUSY)
		pvk_err("vbd %s: '%s' is in use by another backend (or by "
			"I/O of a killed one that did not finish in %u ms)",
			be, v->disk.params, bk->cfg.claim_wait_ms);
	if (!rc)
		rc = v->disk.ops->open(v->disk.params, v->disk.lim.readonly,
				       1, &st);
	if (rc) {
		pvk_err("vbd %s: cannot open '%s': %s", be, v->disk.params,
			strerror(-rc));
		be_write(bk, XS_TX_NONE, v, "hotplug-error", "open %s: %s",
			 v->disk.params, strerror(-rc));
		set_state(v, XenbusStateClosed);
		/* Kept (failed) so that our own writes do not re-probe it;
		 * removing the directory forgets it. */
		v->failed = true;
		snprintf(v->fe_token, sizeof(v->fe_token), "fe:%s", be);
		v->next = bk->vbds;
		bk->vbds = v;
		v = NULL;
		goto out;
	}
	v->disk.lim.sectors = v->disk.ops->size(st) >> BLKIF_SECTOR_SHIFT;
	v->disk.lim.discard = v->disk.ops->can_discard(st);
	v->disk.ops->close(st);
	v->disk.lim.flush = true;
	v->disk.lim.barrier = true;
	v->disk.lim.max_indirect_segs = bk->cfg.max_indirect_segs;
	rc = xs_transaction_run(bk->xs, advertise, v);
	if (rc) {
		pvk_err("vbd %s: cannot advertise: %s", be, strerror(-rc));
		goto out;
	}
	snprintf(v->fe_token, sizeof(v->fe_token), "fe:%s", be);
	v->next = bk->vbds;
	bk->vbds = v;
	/* A frontend still Connected talks to a backend that is gone (this
	 * service restarted): InitWait asks it to start over. */
	if (xenbus_read_state(bk->xs, XS_TX_NONE, v->fe_path, &fs) == 0 &&
	    fs == XenbusStateConnected) {
		v->stale = true;
		pvk_info("vbd %s: frontend still connected to a previous "
			 "backend: asking it to reconnect", be);
	}
	set_state(v, XenbusStateInitWait);
	pvk_info("vbd %s: %s (%s), %llu sectors, frontend %s", be,
		 v->disk.params, v->disk.lim.readonly ? "ro" : "rw",
		 (unsigned long long)v->disk.lim.sectors, v->fe_path);
	rc = xs_watch(bk->xs, v->fe_path, v->fe_token, frontend_changed, v);
	if (rc) {
		pvk_err("vbd %s: cannot watch %s: %s", be, v->fe_path,
			strerror(-rc));
		vbd_remove(bk, v);
	}
	v = NULL;
out:
	if (v)
		vbd_free(v);
	free(params);
	free(mode);
	free(dtype);
	free(fe_path);
}

/* Look at <base>/<fe>/<devid>: probe it, or remove it when gone. */
static void vbd_scan_one(struct bk *bk, const char *fe, const char *dev)
{
	char be[BK_PATH_MAX], *state;
	uint64_t fe_id, devid;
	struct vbd *v;

	if (pvk_parse_u64(fe, 1, DOMID_FIRST_RESERVED - 1, &fe_id) ||
	    pvk_parse_u64(dev, 0, UINT32_MAX, &devid))
		return;
	snprintf(be, sizeof(be), "%s/%s/%s", bk->base, fe, dev);
	v = vbd_find(bk, be);
	state = be_read(bk, be, "state");
	if (!state) {
		if (v)
			vbd_remove(bk, v);
		return;
	}
	free(state);
	if (!v)
		vbd_probe(bk, be, (uint32_t)devid);
}

static void vbd_scan_all(struct bk *bk)
{
	char **fes = NULL, **devs = NULL, path[BK_PATH_MAX];
	unsigned int nf = 0, nd, i, j;
	struct vbd *v, *next;

	if (xs_directory(bk->xs, XS_TX_NONE, bk->base, &fes, &nf))
		nf = 0;
	for (i = 0; i < nf; i++) {
		snprintf(path, sizeof(path), "%s/%s", bk->base, fes[i]);
		if (xs_directory(bk->xs, XS_TX_NONE, path, &devs, &nd))
			continue;
		for (j = 0; j < nd; j++)
			vbd_scan_one(bk, fes[i], devs[j]);
		free(devs);
	}
	free(fes);
	/* Devices whose directory went away with a whole subtree. */
	for (v = bk->vbds; v; v = next) {
		char *state;

		next = v->next;
		state = be_read(bk, v->be, "state");
		if (!state)
			vbd_remove(bk, v);
		free(state);
	}
}

static void backend_changed(struct xs_client *xs, const char *path,
			    const char *token, void *arg)
{
	struct bk *bk = arg;
	size_t n = strlen(bk->base);
	char fe[16], dev[16];
	const char *p;
	int k;

	(void)xs;
	(void)token;
	if (strncmp(path, bk->base, n) || (path[n] && path[n] != '/')) {
		return;
	}
	p = path + n;
	pthread_mutex_lock(&bk->lock);
	if (!*p || sscanf(p, "/%15[0-9]/%15[0-9]%n", fe, dev, &k) != 2)
		vbd_scan_all(bk);
	else
		vbd_scan_one(bk, fe, dev);
	pthread_mutex_unlock(&bk->lock);
}

int bk_xenbus_start(struct bk *bk)
{
	snprintf(bk->base, sizeof(bk->base), "/local/domain/%u/backend/vbd",
		 bk->plat->self == DOMID_SELF ? 0 : bk->plat->self);
	return xs_watch(bk->xs, bk->base, "vbd", backend_changed, bk);
}

void bk_xenbus_stop(struct bk *bk)
{
	struct vbd *v;

	xs_unwatch(bk->xs, bk->base, "vbd");
	for (;;) {
		/* (unlocked while unwatching: xs_unwatch waits for a running
		 * frontend_changed, which takes the lock) */
		pthread_mutex_lock(&bk->lock);
		v = bk->vbds;
		if (v)
			bk->vbds = v->next;
		pthread_mutex_unlock(&bk->lock);
		if (!v)
			break;
		xs_unwatch(bk->xs, v->fe_path, v->fe_token);
		vbd_disconnect(v);
		set_state(v, XenbusStateClosed);
		vbd_free(v);
	}
}
