/*
 * xenbus.c - netback's driver table on the xenbus backend framework
 * (include/pvkit/xenbus_backend.h): probe creates the vif's TAP interface
 * (vif<domid>.<devid> or the node vifname; MTU from mtu; joined to the
 * bridge the node bridge names), advertise writes the features, connect
 * reads what the frontend wrote (request-rx-copy and feature-rx-notify are
 * mandatory, as in Linux netback; its offload features; its queues, each
 * queue's rings and event channels) and starts one queue per netif queue,
 * disconnect stops them and logs the connection's counters.
 */
#include <errno.h>
#include <linux/if_tun.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "netback.h"

struct vif {
	struct xenbus_device *dev;
	struct nb *nb;
	struct nb_tap tap;
	struct nb_mcast mc;
	struct nb_hash hash;
	struct nb_steer steer;
	struct nb_ctrl *ctrl; /* the control ring, when the frontend has one */
	char *script; /* the hotplug script, run online: offline at remove */
	struct nb_vif_params vp;
	struct nb_queue *q[NB_MAX_QUEUES];
	unsigned int nq;
	struct nb_queue_stats stats[NB_MAX_QUEUES];
	unsigned int stats_queues;
};

/* ---- counters -------------------------------------------------------------
 */

/* The counters a stats line shows, in order (the vif's sum over its
 * queues), then each queue's packets. */
#define C(name, field) {name, offsetof(struct nb_queue_stats, field)}
static const struct {
	const char *name;
	size_t off;
} counters[] = {
    C("tx-packets", tx_packets),
    C("tx-bytes", tx_bytes),
    C("tx-gso", tx_gso),
    C("tx-in-place", tx_inplace),
    C("tx-csum-blank", tx_csum),
    C("rx-packets", rx_packets),
    C("rx-bytes", rx_bytes),
    C("rx-gso", rx_gso),
    C("rx-in-place", rx_inplace),
    C("rx-csum-blank", rx_csum),
    C("drop-tx-too-many-slots", tx_drop[NETIF_TX_DROP_TOO_MANY_SLOTS]),
    C("drop-tx-slot-too-big", tx_drop[NETIF_TX_DROP_SLOT_TOO_BIG]),
    C("drop-tx-runt", tx_drop[NETIF_TX_DROP_RUNT]),
    C("drop-tx-copy", tx_drop_copy),
    C("drop-tx-tap", tx_drop_tap),
    C("drop-tx-csum", tx_drop_csum),
    C("drop-rx-too-big", rx_drop_big),
    C("drop-rx-copy", rx_drop_copy),
    C("drop-rx-csum", rx_drop_csum),
    C("drop-rx-stalled", rx_drop_stall),
    C("drop-rx-multicast", rx_drop_mcast),
    C("rx-steered", rx_steered),
    C("rx-steer-full", rx_steer_full),
    C("tx-multicast-control", tx_mcast),
    C("tx-throttled", tx_throttled),
    C("rx-stalls", rx_stalls),
    C("spurious-events", events.spurious),
    C("polls", poll.watches),
    C("poll-hits", poll.hits),
    C("poll-preempted", poll.preempted),
    C("poll-backed-off", poll.backed_off),
    C("events-throttled", events.throttled),
};
#undef C

static uint64_t counter(const struct nb_queue_stats *s, size_t off)
{
	return nb_stat_get((const uint64_t *)((const char *)s + off));
}

static void vif_log_stats(const struct vif *v)
{
	char line[1536];
	size_t len = 0;
	unsigned int i, q;

#define APPEND(...)                                                            \
	do {                                                                   \
		if (len < sizeof(line))                                        \
			len += (size_t)snprintf(line + len, sizeof(line) - len, \
						__VA_ARGS__);                  \
	} while (0)
	APPEND("%s stats: %s queues=%u", xenbus_device_name(v->dev),
	       v->tap.name, v->stats_queues);
	for (i = 0; i < PVK_ARRAY_SIZE(counters); i++) {
		uint64_t sum = 0;

		for (q = 0; q < v->stats_queues; q++)
			sum += counter(&v->stats[q], counters[i].off);
		APPEND(" %s=%llu", counters[i].name, (unsigned long long)sum);
	}
	APPEND(" per-queue-tx/rx=");
	for (q = 0; q < v->stats_queues; q++)
		APPEND("%sq%u:%llu/%llu", q ? "," : "", q,
		       (unsigned long long)nb_stat_get(&v->stats[q].tx_packets),
		       (unsigned long long)nb_stat_get(&v->stats[q].rx_packets));
	APPEND(" state=%s",
	       xenbus_device_connected(v->dev) ? "connected" : "disconnected");
#undef APPEND
	pvk_info("%s", line);
}

static void log_stats_one(struct xenbus_device *dev, void *arg)
{
	(void)arg;
	if (xenbus_device_priv(dev))
		vif_log_stats(xenbus_device_priv(dev));
}

void nb_xenbus_log_stats(struct nb *nb)
{
	xenbus_backend_foreach(nb->be, log_stats_one, NULL);
}

/* ---- multicast control ---------------------------------------------------- */

static bool mc_is_multicast(const uint8_t a[6])
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

	return (a[0] & 1) && memcmp(a, bcast, 6);
}

int nb_mcast_update(struct nb_mcast *m, const uint8_t addr[6], bool add)
{
	unsigned int i;
	int rc = 0;

	if (!mc_is_multicast(addr))
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->n && memcmp(m->addr[i], addr, 6); i++)
		;
	if (add && i == m->n) {
		if (m->n == NB_MCAST_MAX)
			rc = -ENOSPC;
		else
			memcpy(m->addr[m->n++], addr, 6);
	} else if (!add && i < m->n) {
		memcpy(m->addr[i], m->addr[m->n - 1], 6);
		m->n--;
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}

bool nb_mcast_wanted(struct nb_mcast *m, const uint8_t dst[6])
{
	unsigned int i;
	bool found = false;

	if (!mc_is_multicast(dst))
		return true;
	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->n && !found; i++)
		found = !memcmp(m->addr[i], dst, 6);
	pthread_mutex_unlock(&m->lock);
	return found;
}

/* ---- connecting -----------------------------------------------------------
 */

static void vif_stop_queues(struct vif *v)
{
	unsigned int i;

	__atomic_store_n(&v->steer.nq, 0, __ATOMIC_RELEASE);
	for (i = 0; i < v->nq; i++)
		nb_queue_halt(v->q[i]);
	for (i = 0; i < v->nq; i++)
		nb_queue_stop(v->q[i]);
	v->nq = 0;
	nb_ctrl_stop(v->ctrl);
	v->ctrl = NULL;
	v->vp.hash = NULL;
}

static void vif_disconnect(struct xenbus_device *dev)
{
	struct vif *v = xenbus_device_priv(dev);

	vif_stop_queues(v);
	vif_log_stats(v);
}

/* A frontend feature flag: 0 or 1, missing is def. */
static int fe_flag(struct xenbus_device *dev, const char *node, bool def,
		   bool *out)
{
	uint64_t x;
	int rc = xenbus_device_fe_u64(dev, NULL, node, 0, 1, &x);

	if (rc == -ENOENT) {
		*out = def;
		return 0;
	}
	if (rc)
		xenbus_device_fail(dev, "frontend's %s: %s", node,
				   strerror(-rc));
	*out = x;
	return rc;
}

/* The control ring, if the frontend published one (ctrl-ring-ref with
 * event-channel-ctrl): hashing starts off for each connection. */
static int connect_ctrl(struct vif *v, unsigned int nq)
{
	uint64_t ref, port;
	int rc, rc2;

	if (!v->nb->cfg.ctrl)
		return 0; /* not offered: its nodes are not ours to read */
	rc = xenbus_device_fe_u64(v->dev, NULL, "ctrl-ring-ref", 0, UINT32_MAX,
				  &ref);
	rc2 = xenbus_device_fe_u64(v->dev, NULL, "event-channel-ctrl", 1,
				   UINT32_MAX, &port);
	if (rc == -ENOENT && rc2 == -ENOENT)
		return 0;
	if (rc || rc2) {
		xenbus_device_fail(v->dev, "control ring: ctrl-ring-ref and "
					   "event-channel-ctrl: %s",
				   strerror(rc ? -rc : -rc2));
		return rc ? rc : rc2;
	}
	pthread_mutex_lock(&v->hash.lock);
	memset(&v->hash.h, 0, sizeof(v->hash.h));
	pthread_mutex_unlock(&v->hash.lock);
	rc = nb_ctrl_start(&v->vp, &v->hash, nq, (grant_ref_t)ref,
			   (evtchn_port_t)port, &v->ctrl);
	if (rc)
		return rc;
	v->vp.hash = &v->hash;
	pvk_info("%s: control ring: ref %llu, event channel %llu",
		 xenbus_device_name(v->dev), (unsigned long long)ref,
		 (unsigned long long)port);
	return 0;
}

static int connect_queue(struct vif *v, const char *dir, unsigned int qid)
{
	struct xs_client *xs = xenbus_device_xs(v->dev);
	evtchn_port_t txp, rxp;
	uint64_t txr, rxr;
	bool split;
	int fd = -1, rc;

	rc = xenbus_device_fe_u64(v->dev, dir, "tx-ring-ref", 0, UINT32_MAX,
				  &txr);
	if (!rc)
		rc = xenbus_device_fe_u64(v->dev, dir, "rx-ring-ref", 0,
					  UINT32_MAX, &rxr);
	if (!rc)
		rc = xenbus_read_evtchns(xs, dir, &txp, &rxp, &split);
	if (rc) {
		pvk_err("%s: queue %u: rings or event channels in %s: %s",
			xenbus_device_name(v->dev), qid, dir, strerror(-rc));
		return rc;
	}
	rc = qid ? nb_tap_queue(&v->tap, &fd) : 0;
	if (!rc && !qid) {
		fd = dup(v->tap.fd);
		rc = fd < 0 ? -errno : 0;
	}
	if (!rc)
		rc = nb_queue_start(&v->vp, qid, fd, (grant_ref_t)txr,
				    (grant_ref_t)rxr, txp, rxp, &v->stats[qid],
				    &v->q[qid]);
	if (rc)
		return rc;
	v->nq = qid + 1;
	pvk_info("%s: queue %u: tx-ring-ref %llu rx-ring-ref %llu, event "
		 "channel%s %u%s%.0u",
		 xenbus_device_name(v->dev), qid, (unsigned long long)txr,
		 (unsigned long long)rxr, split ? "s" : "", txp,
		 split ? "/" : "", split ? rxp : 0);
	return 0;
}

/* The backend node rate, "<bytes>,<usec>" (Linux netback's form; the
 * toolstack converts xl's rate=): 0 and no limit when absent. */
static int read_rate(struct xenbus_device *dev, uint64_t *bytes,
		     uint64_t *usec)
{
	char *val = NULL, *comma;
	int rc;

	*bytes = *usec = 0;
	rc = xenbus_device_read(dev, "rate", &val);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	comma = strchr(val, ',');
	if (comma)
		*comma = 0;
	if (!comma || pvk_parse_u64(val, 1, UINT32_MAX, bytes) ||
	    pvk_parse_u64(comma + 1, 1, UINT32_MAX, usec)) {
		if (comma)
			*comma = ',';
		xenbus_device_fail(dev, "rate '%s': not <bytes>,<usec> "
					"(each 1-%u)",
				   val, UINT32_MAX);
		rc = -EINVAL;
	}
	free(val);
	return rc;
}

static int vif_connect(struct xenbus_device *dev)
{
	struct vif *v = xenbus_device_priv(dev);
	struct xs_client *xs = xenbus_device_xs(dev);
	const char *fe = xenbus_device_frontend_path(dev);
	bool rx_copy, rx_notify = false, no_csum, csum6;
	unsigned int nq, q, off = 0;
	char dir[320];
	int rc;

	rc = fe_flag(dev, "request-rx-copy", false, &rx_copy);
	if (!rc && !rx_copy) {
		xenbus_device_fail(dev, "the frontend does not do "
					"request-rx-copy (rx-flip is not "
					"supported)");
		return -EOPNOTSUPP;
	}
	if (!rc)
		rc = fe_flag(dev, "feature-rx-notify", false, &rx_notify);
	/* Without it the frontend posts RX requests silently: look every
	 * 30 ms, and no stall detection (as Linux netback) */
	v->vp.rx_poll = !rx_notify;
	if (!rc)
		rc = fe_flag(dev, "feature-sg", false, &v->vp.sg);
	if (!rc)
		rc = fe_flag(dev, "feature-gso-tcpv4", false, &v->vp.gso4);
	if (!rc)
		rc = fe_flag(dev, "feature-gso-tcpv6", false, &v->vp.gso6);
	if (!rc)
		rc = fe_flag(dev, "feature-no-csum-offload", false, &no_csum);
	if (!rc)
		rc = fe_flag(dev, "feature-ipv6-csum-offload", false, &csum6);
	if (!rc)
		rc = fe_flag(dev, "request-multicast-control", false,
			     &v->vp.mcast_filter);
	if (!rc)
		rc = read_rate(dev, &v->vp.credit_bytes, &v->vp.credit_us);
	if (rc)
		return rc;
	/* what this backend did not offer is not used */
	v->vp.sg = v->vp.sg && v->nb->cfg.sg;
	v->vp.gso4 = v->vp.gso4 && v->nb->cfg.gso;
	v->vp.gso6 = v->vp.gso6 && v->nb->cfg.gso;
	v->vp.mcast_filter = v->vp.mcast_filter && v->nb->cfg.mcast;
	__atomic_store_n(&v->mc.filter, v->vp.mcast_filter, __ATOMIC_RELAXED);
	v->vp.rx_csum4 = !no_csum;
	v->vp.rx_csum6 = csum6;
	/* GSO needs SG (a 64 KiB packet spans slots) and the checksum
	 * offload of its IP version */
	v->vp.gso4 = v->vp.gso4 && v->vp.sg && v->vp.rx_csum4;
	v->vp.gso6 = v->vp.gso6 && v->vp.sg && v->vp.rx_csum6;
	if (v->vp.rx_csum4 || v->vp.rx_csum6)
		off |= TUN_F_CSUM;
	if (v->vp.gso4)
		off |= TUN_F_TSO4;
	if (v->vp.gso6)
		off |= TUN_F_TSO6;
	rc = nb_tap_offload(&v->tap, off);
	if (rc) {
		pvk_err("%s: TUNSETOFFLOAD %#x: %s", xenbus_device_name(dev),
			off, strerror(-rc));
		return rc;
	}
	rc = xenbus_read_num_queues(xs, fe, v->nb->cfg.max_queues, &nq);
	if (rc) {
		pvk_err("%s: multi-queue-num-queues: %s",
			xenbus_device_name(dev), strerror(-rc));
		return rc;
	}
	rc = connect_ctrl(v, nq);
	if (rc)
		return rc;
	memset(v->stats, 0, sizeof(v->stats));
	v->stats_queues = nq;
	pthread_mutex_lock(&v->mc.lock); /* a new connection subscribes anew */
	v->mc.n = 0;
	pthread_mutex_unlock(&v->mc.lock);
	for (q = 0; q < nq && !rc; q++) {
		rc = xenbus_queue_dir(dir, sizeof(dir), fe, nq, q);
		if (!rc)
			rc = connect_queue(v, dir, q);
	}
	if (rc) {
		vif_stop_queues(v);
		return rc;
	}
	for (q = 0; q < nq; q++)
		v->steer.q[q] = v->q[q];
	__atomic_store_n(&v->steer.nq, nq, __ATOMIC_RELEASE);
	if (v->vp.credit_bytes)
		pvk_info("%s: guest TX limited to %llu bytes per %llu us",
			 xenbus_device_name(dev),
			 (unsigned long long)v->vp.credit_bytes,
			 (unsigned long long)v->vp.credit_us);
	pvk_info("%s: connected on %s: %u queue(s), sg %s, gso to the guest "
		 "%s%s%s, csum offload to the guest %s%s%s%s",
		 xenbus_device_name(dev), v->tap.name, nq,
		 v->vp.sg ? "on" : "off", v->vp.gso4 ? "tcpv4" : "",
		 v->vp.gso4 && v->vp.gso6 ? "/" : "",
		 v->vp.gso6 ? "tcpv6" : v->vp.gso4 ? "" : "off",
		 v->vp.rx_csum4 ? "ipv4" : "",
		 v->vp.rx_csum4 && v->vp.rx_csum6 ? "/" : "",
		 v->vp.rx_csum6 ? "ipv6" : v->vp.rx_csum4 ? "" : "off",
		 v->vp.rx_poll ? " (no feature-rx-notify: RX polled every "
				 "30 ms)"
			       : "");
	return 0;
}

/* ---- probing and removal --------------------------------------------------
 */

static int vif_advertise(struct xenbus_device *dev, xs_tx_t tx)
{
	struct vif *v = xenbus_device_priv(dev);
	int rc = 0;

#define W(node, ...)                                                           \
	do {                                                                   \
		if (!rc)                                                       \
			rc = xenbus_device_printf(dev, tx, node, __VA_ARGS__); \
	} while (0)
	const struct nb_config *c = &v->nb->cfg;

	W("feature-sg", "%d", c->sg);
	W("feature-gso-tcpv4", "%d", c->gso);
	W("feature-gso-tcpv6", "%d", c->gso);
	W("feature-ipv6-csum-offload", "%d", 1);
	W("feature-rx-copy", "%d", 1);
	W("feature-rx-flip", "%d", 0);
	W("feature-split-event-channels", "%d", c->split);
	W("feature-multicast-control", "%d", c->mcast);
	/* request-multicast-control is followed while connected (netif.h,
	 * Linux's xen_mcast_ctrl_changed) */
	W("feature-dynamic-multicast-control", "%d", c->mcast);
	W("feature-ctrl-ring", "%d", c->ctrl);
	W("multi-queue-max-queues", "%u", v->nb->cfg.max_queues);
#undef W
	return rc;
}

static void vif_remove(struct xenbus_device *dev)
{
	struct vif *v = xenbus_device_priv(dev);

	if (!v)
		return;
	vif_stop_queues(v);
	if (v->script && !v->nb->cfg.no_scripts && v->tap.fd >= 0)
		nb_hotplug_run(dev, v->script, v->tap.name, "offline");
	nb_tap_close(&v->tap);
	pthread_mutex_destroy(&v->mc.lock);
	pthread_mutex_destroy(&v->hash.lock);
	free(v->script);
	free(v);
	xenbus_device_set_priv(dev, NULL);
}

static int vif_probe(struct xenbus_device *dev)
{
	struct nb *nb = xenbus_backend_arg(xenbus_device_backend(dev));
	char *vifname = NULL, *bridge = NULL, *mtus = NULL, name[IFNAMSIZ];
	uint64_t mtu = 1500;
	struct vif *v;
	int rc = 0;

	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	xenbus_device_set_priv(dev, v);
	v->dev = dev;
	v->nb = nb;
	v->tap.fd = -1;
	v->vp.plat = nb->plat;
	v->vp.dev = dev;
	v->vp.fe = xenbus_device_frontend_id(dev);
	v->vp.poll_us = nb->cfg.poll_us;
	v->vp.copy = nb->cfg.copy;
	v->vp.inplace_min = nb->cfg.inplace_min;
	pthread_mutex_init(&v->mc.lock, NULL);
	pthread_mutex_init(&v->hash.lock, NULL);
	v->vp.mc = &v->mc;
	v->vp.steer = &v->steer;
	if (xenbus_device_read(dev, "vifname", &vifname))
		vifname = NULL;
	if (xenbus_device_read(dev, "bridge", &bridge))
		bridge = NULL;
	if (xenbus_device_read(dev, "script", &v->script) || !*v->script) {
		free(v->script);
		v->script = NULL;
	}
	if (!xenbus_device_read(dev, "mtu", &mtus) &&
	    pvk_parse_u64(mtus, 68, NB_MAX_MTU, &mtu)) {
		xenbus_device_set_error(dev, "mtu '%s': not 68-%u", mtus,
					NB_MAX_MTU);
		rc = -EINVAL;
		goto out;
	}
	if (vifname && *vifname)
		rc = snprintf(name, sizeof(name), "%s", vifname) >=
			     (int)sizeof(name)
			 ? -ENAMETOOLONG
			 : 0;
	else
		rc = snprintf(name, sizeof(name), "vif%u.%u", v->vp.fe,
			      xenbus_device_devid(dev)) >= (int)sizeof(name)
			 ? -ENAMETOOLONG
			 : 0;
	if (rc) {
		xenbus_device_set_error(dev, "interface name too long");
		goto out;
	}
	/* A script does what Xen's vif-bridge does (the bridge is its
	 * business); without one, netback joins the bridge itself.  With
	 * --no-scripts the toolstack runs it (libxl, once we are in
	 * InitWait: the interface exists by then). */
	rc = nb_tap_open(&v->tap, name, (unsigned int)mtu,
			 v->script ? NULL : bridge);
	if (!rc && v->script && !nb->cfg.no_scripts) {
		rc = nb_hotplug_run(dev, v->script, name, "online");
		if (rc) {
			nb_tap_close(&v->tap);
			goto out;
		}
	}
	if (rc) {
		xenbus_device_set_error(dev, "%s: %s%s%s", name, strerror(-rc),
					bridge ? ", bridge " : "",
					bridge ? bridge : "");
		goto out;
	}
	pvk_info("%s: %s, MTU %llu%s%s, frontend %s", xenbus_device_name(dev),
		 name, (unsigned long long)mtu, bridge ? ", bridge " : "",
		 bridge ? bridge : "", xenbus_device_frontend_path(dev));
out:
	free(vifname);
	free(bridge);
	free(mtus);
	return rc;
}

/* The frontend changed a node.  With multicast control offered, follow
 * request-multicast-control while connected (netif.h's dynamic multicast
 * control; Linux's xen_mcast_ctrl_changed): 0 turns the filter off, 1 on;
 * the subscribed addresses stay.  A value that is not 0 or 1 reads as 0,
 * as Linux's xenbus_read_unsigned default. */
static void vif_frontend_changed(struct xenbus_device *dev,
				 enum xenbus_state fs)
{
	struct vif *v = xenbus_device_priv(dev);
	uint64_t x = 0;
	bool on;

	if (!v || !v->nb->cfg.mcast || fs != XenbusStateConnected ||
	    !xenbus_device_connected(dev))
		return;
	if (xenbus_device_fe_u64(dev, NULL, "request-multicast-control", 0, 1,
				 &x))
		x = 0;
	on = x;
	if (on == __atomic_load_n(&v->mc.filter, __ATOMIC_RELAXED))
		return;
	__atomic_store_n(&v->mc.filter, on, __ATOMIC_RELAXED);
	pvk_info("%s: multicast filtering %s (request-multicast-control)",
		 xenbus_device_name(dev), on ? "on" : "off");
}

/* What libxl always writes into a vif's backend directory. */
static const char *const vif_required[] = {"mac", "handle", NULL};

static const struct xenbus_backend_driver vif_driver = {
    .type = "vif",
    .required = vif_required,
    .probe = vif_probe,
    .advertise = vif_advertise,
    .connect = vif_connect,
    .disconnect = vif_disconnect,
    .frontend_changed = vif_frontend_changed,
    .remove = vif_remove,
};

int nb_xenbus_start(struct nb *nb)
{
	return xenbus_backend_open(nb->plat, nb->xs, &vif_driver, nb, &nb->be);
}

void nb_xenbus_stop(struct nb *nb)
{
	xenbus_backend_close(nb->be);
	nb->be = NULL;
}
