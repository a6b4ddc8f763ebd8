/*
 * xenbus.c - blkback's driver table on the xenbus backend framework
 * (include/pvkit/xenbus_backend.h): probe opens the disk once to learn its
 * size and claims a writable one, advertise writes the disk and the
 * features, connect reads what the frontend wrote (protocol, persistent
 * grants, queues, each queue's ring and event channel) and starts one ring
 * per queue, disconnect stops them and logs the connection's counters.
 * The framework serialises these callbacks; bk_xenbus_log_stats (the main
 * thread, on SIGUSR1) walks the devices with them at rest.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "blkback.h"
#include "common/log.h"
#include "common/util.h"
#include "pvkit/xenbus.h"
#include "pvkit/xenbus_ring.h"

struct vbd {
	struct xenbus_device *dev;
	struct bk *bk;
	struct vbd_disk disk;
	struct bk_ring *rings[BK_MAX_QUEUES];
	unsigned int nr_rings;
	/* The current (or last) connection's counters, per queue: in the
	 * published file (--stats-dir) or stats_local. */
	struct bk_ring_stats *stats;
	struct bk_ring_stats stats_local[BK_MAX_QUEUES];
	unsigned int stats_queues;
	void *pub; /* the file's mapping */
	size_t pub_len;
	char pub_path[BK_PATH_MAX + 64];
};

/* ---- counters -------------------------------------------------------------
 */

/* Append to buf (size n, *len used so far); a line that does not fit is
 * cut short. */
static void stats_append(char *buf, size_t n, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void stats_append(char *buf, size_t n, size_t *len, const char *fmt, ...)
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
static void stats_per_queue(const struct vbd *v, bool peak, char *buf, size_t n,
			    size_t *len)
{
	unsigned int q;

	stats_append(buf, n, len, " %s=", peak ? "peak-inflight" : "reqs");
	for (q = 0; q < v->stats_queues; q++)
		stats_append(
		    buf, n, len, "%sq%u:%llu", q ? "," : "", q,
		    (unsigned long long)bk_stat_get(
			peak ? &v->stats[q].peak_inflight : &v->stats[q].reqs));
	if (!v->stats_queues)
		stats_append(buf, n, len, "-");
}

static void vbd_log_stats(const struct vbd *v)
{
	uint64_t ind = 0, segs = 0, maps = 0, fl = 0, disc = 0, err = 0;
	uint64_t spur = 0, thr = 0, pw = 0, ph = 0, pp = 0, pb = 0;
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
		spur += bk_stat_get(&st->events.spurious);
		thr += bk_stat_get(&st->events.throttled);
		pw += pvk_spin_stat(&st->poll.watches);
		ph += pvk_spin_stat(&st->poll.hits);
		pp += pvk_spin_stat(&st->poll.preempted);
		pb += pvk_spin_stat(&st->poll.backed_off);
	}
	/* vbd/<fe>/<devid>: the path below /local/domain/<self>/backend */
	stats_append(line, sizeof(line), &len, "%s stats: queues=%u",
		     xenbus_device_name(v->dev), v->stats_queues);
	stats_per_queue(v, false, line, sizeof(line), &len);
	stats_append(line, sizeof(line), &len,
		     " indirect=%llu persistent-hits=%llu persistent-maps=%llu",
		     (unsigned long long)ind,
		     (unsigned long long)(segs > maps ? segs - maps : 0),
		     (unsigned long long)maps);
	stats_per_queue(v, true, line, sizeof(line), &len);
	stats_append(line, sizeof(line), &len,
		     " flush=%llu discard=%llu errors=%llu spurious-events=%llu "
		     "throttled=%llu polls=%llu poll-hits=%llu "
		     "poll-preempted=%llu poll-backed-off=%llu state=%s",
		     (unsigned long long)fl, (unsigned long long)disc,
		     (unsigned long long)err, (unsigned long long)spur,
		     (unsigned long long)thr, (unsigned long long)pw,
		     (unsigned long long)ph, (unsigned long long)pp,
		     (unsigned long long)pb,
		     xenbus_device_connected(v->dev) ? "connected"
						     : "disconnected");
	pvk_info("%s", line);
}

static void log_stats_one(struct xenbus_device *dev, void *arg)
{
	struct vbd *v = xenbus_device_priv(dev);
	unsigned int i;

	(void)arg;
	if (!v)
		return;
	vbd_log_stats(v);
	for (i = 0; i < v->nr_rings; i++)
		bk_ring_log_state(v->rings[i], xenbus_device_name(dev));
}

void bk_xenbus_log_stats(struct bk *bk)
{
	xenbus_backend_foreach(bk->be, log_stats_one, NULL);
}

void bk_vbd_fail(struct vbd *v, const char *why)
{
	xenbus_device_fail(v->dev, "%s", why);
}

/* ---- the published counters (common/vbd_stats.h) ------------------------
 */

static void stats_unpublish(struct vbd *v, bool remove)
{
	if (v->pub)
		munmap(v->pub, v->pub_len);
	v->pub = NULL;
	v->stats = v->stats_local;
	if (remove && v->pub_path[0])
		unlink(v->pub_path);
}

/* Counters for a connection of nq queues, zeroed: in
 * <stats-dir>/vbd-<domid>-<devid> when blkback publishes them (a failure
 * is logged; the counters are then kept here only). */
static void stats_publish(struct vbd *v, unsigned int nq)
{
	size_t len = PVK_VBD_STATS_HEAD + (size_t)nq * sizeof(*v->stats);
	char tmp[sizeof(v->pub_path) + 8];
	struct pvk_vbd_stats_head h = {.magic = PVK_VBD_STATS_MAGIC,
				       .nqueues = nq,
				       .stride = sizeof(*v->stats)};
	void *map;
	int fd;

	_Static_assert(offsetof(struct bk_ring_stats, x) == 0,
		       "top reads the qstats at the start of each record");
	stats_unpublish(v, false);
	memset(v->stats_local, 0, sizeof(v->stats_local));
	v->stats_queues = nq;
	if (!v->pub_path[0])
		return;
	/* a new file renamed into place: a reader never sees it shrink */
	snprintf(tmp, sizeof(tmp), "%s.new", v->pub_path);
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)len)) {
		pvk_warn("%s: %s: %s", xenbus_device_name(v->dev), tmp,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (map != MAP_FAILED)
		memcpy(map, &h, sizeof(h));
	if (map == MAP_FAILED || rename(tmp, v->pub_path)) {
		pvk_warn("%s: %s: %s", xenbus_device_name(v->dev),
			 v->pub_path, strerror(errno));
		if (map != MAP_FAILED)
			munmap(map, len);
		unlink(tmp);
		return;
	}
	v->pub = map;
	v->pub_len = len;
	v->stats = (struct bk_ring_stats *)((char *)map + PVK_VBD_STATS_HEAD);
}

/* ---- connecting -----------------------------------------------------------
 */

static void vbd_stop_rings(struct vbd *v)
{
	unsigned int i;

	for (i = 0; i < v->nr_rings; i++)
		bk_ring_stop(v->rings[i]);
	v->nr_rings = 0;
}

static void vbd_disconnect(struct xenbus_device *dev)
{
	struct vbd *v = xenbus_device_priv(dev);

	vbd_stop_rings(v);
	vbd_log_stats(v);
}

/* One queue's ring and event channel, from dir. */
static int connect_queue(struct vbd *v, const char *dir, enum blkif_abi abi,
			 unsigned int qid)
{
	struct xs_client *xs = xenbus_device_xs(v->dev);
	const char *fe = xenbus_device_frontend_path(v->dev);
	grant_ref_t refs[BLKIF_MAX_RING_PAGES];
	evtchn_port_t port;
	unsigned int n;
	int rc;

	rc = xenbus_read_ring(xs, fe, dir, v->bk->cfg.max_ring_order, refs, &n);
	if (!rc)
		rc = xenbus_read_evtchn(xs, dir, "event-channel", &port);
	if (!rc)
		rc = bk_ring_start(&v->disk, abi, refs, n, port, qid,
				   &v->stats[qid], &v->rings[qid]);
	if (rc)
		return rc;
	v->nr_rings = qid + 1;
	pvk_info("%s: queue %u: %u ring page(s), event channel %u, %s",
		 xenbus_device_name(v->dev), qid, n, port, blkif_abi_name(abi));
	return 0;
}

static int vbd_connect(struct xenbus_device *dev)
{
	struct vbd *v = xenbus_device_priv(dev);
	struct xs_client *xs = xenbus_device_xs(dev);
	const char *fe = xenbus_device_frontend_path(dev);
	char path[320], *proto = NULL;
	enum blkif_abi abi;
	unsigned int nq, q;
	uint64_t pers = 0;
	int rc;

	snprintf(path, sizeof(path), "%s/protocol", fe);
	rc = xs_read(xs, XS_TX_NONE, path, &proto, NULL);
	if (rc && rc != -ENOENT)
		return rc;
	rc = blkif_abi_parse(proto, &abi);
	if (rc)
		pvk_err("%s: unknown protocol '%s'", xenbus_device_name(dev),
			proto);
	free(proto);
	if (rc)
		return rc;
	rc = xenbus_device_fe_u64(dev, NULL, "feature-persistent", 0, 1, &pers);
	if (rc && rc != -ENOENT)
		return rc;
	v->disk.persistent = v->bk->cfg.persistent && pers;
	rc = xenbus_read_num_queues(xs, fe, v->bk->cfg.max_queues, &nq);
	if (rc)
		return rc;
	stats_publish(v, nq);
	for (q = 0; q < nq && !rc; q++) {
		rc = xenbus_queue_dir(path, sizeof(path), fe, nq, q);
		if (!rc)
			rc = connect_queue(v, path, abi, q);
	}
	if (rc) {
		vbd_stop_rings(v);
		return rc;
	}
	pvk_info("%s: connected: %llu sectors, %u queue(s), persistent %s, "
		 "indirect %u",
		 xenbus_device_name(dev),
		 (unsigned long long)v->disk.lim.sectors, v->nr_rings,
		 v->disk.persistent ? "on" : "off",
		 v->disk.lim.max_indirect_segs);
	return 0;
}

/* ---- probing and removal --------------------------------------------------
 */

static int vbd_advertise(struct xenbus_device *dev, xs_tx_t tx)
{
	struct vbd *v = xenbus_device_priv(dev);
	const struct bk_config *cfg = &v->bk->cfg;
	const struct blkif_limits *l = &v->disk.lim;
	unsigned int info = 0;
	int rc = 0;

	if (l->readonly)
		info |= VDISK_READONLY;
#define W(node, ...)                                                           \
	do {                                                                   \
		if (!rc)                                                       \
			rc = xenbus_device_printf(dev, tx, node, __VA_ARGS__); \
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
	W("feature-persistent", "%d", cfg->persistent);
	W("max-ring-page-order", "%u", cfg->max_ring_order);
	W("multi-queue-max-queues", "%u", cfg->max_queues);
	W("sectors", "%llu", (unsigned long long)l->sectors);
	W("sector-size", "%u", 512u);
	W("physical-sector-size", "%u", BLKIF_PAGE_SIZE);
	W("info", "%u", info);
#undef W
	return rc;
}

static void vbd_remove(struct xenbus_device *dev)
{
	struct vbd *v = xenbus_device_priv(dev);

	if (!v)
		return;
	vbd_stop_rings(v);
	stats_unpublish(v, true);
	free(v->disk.params);
	free(v);
	xenbus_device_set_priv(dev, NULL);
}

/* Open the disk once: its size and whether it discards; a writable disk
 * is ours alone, and only once what a killed predecessor left in flight
 * has reached it. */
static int vbd_probe(struct xenbus_device *dev)
{
	struct bk *bk = xenbus_backend_arg(xenbus_device_backend(dev));
	struct bk_storage *st = NULL;
	char *mode = NULL, *dtype = NULL;
	struct vbd *v;
	int rc;

	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	xenbus_device_set_priv(dev, v);
	v->dev = dev;
	v->bk = bk;
	v->stats = v->stats_local;
	if (bk->cfg.stats_dir)
		snprintf(v->pub_path, sizeof(v->pub_path), "%s/vbd-%u-%u",
			 bk->cfg.stats_dir, xenbus_device_frontend_id(dev),
			 xenbus_device_devid(dev));
	rc = xenbus_device_read(dev, "params", &v->disk.params);
	if (!rc)
		rc = xenbus_device_read(dev, "mode", &mode);
	if (!rc && !*v->disk.params)
		rc = -EINVAL;
	if (rc) {
		xenbus_device_set_error(dev, "params/mode: %s", strerror(-rc));
		goto out;
	}
	if (xenbus_device_read(dev, "device-type", &dtype))
		dtype = NULL;
	v->disk.ops = bk_storage_for(v->disk.params);
	v->disk.fe = xenbus_device_frontend_id(dev);
	v->disk.vbd = v;
	v->disk.cfg = &bk->cfg;
	v->disk.plat = bk->plat;
	v->disk.lim.readonly =
	    mode[0] != 'w' || (dtype && !strcmp(dtype, "cdrom"));
	if (!v->disk.lim.readonly && v->disk.ops->claim)
		rc = v->disk.ops->claim(v->disk.params, bk->cfg.claim_wait_ms);
	if (rc == -EBUSY)
		pvk_err("%s: '%s' is in use by another backend (or by I/O of "
			"a killed one that did not finish in %u ms)",
			xenbus_device_name(dev), v->disk.params,
			bk->cfg.claim_wait_ms);
	if (!rc)
		rc = v->disk.ops->open(v->disk.params, v->disk.lim.readonly, 1,
				       &st);
	if (rc) {
		xenbus_device_set_error(dev, "open %s: %s", v->disk.params,
					strerror(-rc));
		goto out;
	}
	v->disk.lim.sectors = v->disk.ops->size(st) >> BLKIF_SECTOR_SHIFT;
	v->disk.lim.discard = v->disk.ops->can_discard(st);
	v->disk.ops->close(st);
	v->disk.lim.flush = true;
	v->disk.lim.barrier = true;
	v->disk.lim.max_indirect_segs = bk->cfg.max_indirect_segs;
	pvk_info("%s: %s (%s), %llu sectors, frontend %s",
		 xenbus_device_name(dev), v->disk.params,
		 v->disk.lim.readonly ? "ro" : "rw",
		 (unsigned long long)v->disk.lim.sectors,
		 xenbus_device_frontend_path(dev));
out:
	free(mode);
	free(dtype);
	return rc;
}

static const char *const vbd_required[] = {"params", "mode", NULL};

static const struct xenbus_backend_driver vbd_driver = {
    .type = "vbd",
    .required = vbd_required,
    .probe = vbd_probe,
    .advertise = vbd_advertise,
    .connect = vbd_connect,
    .disconnect = vbd_disconnect,
    .remove = vbd_remove,
};

int bk_xenbus_start(struct bk *bk)
{
	return xenbus_backend_open(bk->plat, bk->xs, &vbd_driver, bk, &bk->be);
}

void bk_xenbus_stop(struct bk *bk)
{
	xenbus_backend_close(bk->be);
	bk->be = NULL;
}
