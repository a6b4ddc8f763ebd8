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
	struct nb_vif_params vp;
	struct nb_queue *q[NB_MAX_QUEUES];
	unsigned int nq;
	struct nb_queue_stats stats[NB_MAX_QUEUES];
	unsigned int stats_queues;
};

/* ---- counters -------------------------------------------------------------
 */

static void vif_log_stats(const struct vif *v)
{
	uint64_t t[9] = {0}, r[9] = {0}, tdrop[NETIF_TX_DROP_MAX] = {0};
	uint64_t spur = 0, thr = 0;
	unsigned int i, k;

	for (i = 0; i < v->stats_queues; i++) {
		const struct nb_queue_stats *s = &v->stats[i];

		t[0] += nb_stat_get(&s->tx_packets);
		t[1] += nb_stat_get(&s->tx_bytes);
		t[2] += nb_stat_get(&s->tx_gso);
		t[3] += nb_stat_get(&s->tx_csum);
		t[4] += nb_stat_get(&s->tx_drop_copy);
		t[5] += nb_stat_get(&s->tx_drop_tap);
		t[6] += nb_stat_get(&s->tx_drop_csum);
		r[0] += nb_stat_get(&s->rx_packets);
		r[1] += nb_stat_get(&s->rx_bytes);
		r[2] += nb_stat_get(&s->rx_gso);
		r[3] += nb_stat_get(&s->rx_csum);
		r[4] += nb_stat_get(&s->rx_drop_copy);
		r[5] += nb_stat_get(&s->rx_drop_big);
		r[6] += nb_stat_get(&s->rx_drop_csum);
		for (k = 1; k < NETIF_TX_DROP_MAX; k++)
			tdrop[k] += nb_stat_get(&s->tx_drop[k]);
		spur += nb_stat_get(&s->events.spurious);
		thr += nb_stat_get(&s->events.throttled);
	}
	pvk_info("%s stats: %s queues=%u tx-packets=%llu tx-bytes=%llu "
		 "tx-gso=%llu tx-csum-blank=%llu rx-packets=%llu rx-bytes=%llu "
		 "rx-gso=%llu rx-csum-blank=%llu drops: tx-copy=%llu "
		 "tx-tap=%llu tx-csum=%llu tx-%s=%llu tx-%s=%llu tx-%s=%llu "
		 "rx-copy=%llu rx-too-big=%llu rx-csum=%llu "
		 "spurious-events=%llu throttled=%llu state=%s",
		 xenbus_device_name(v->dev), v->tap.name, v->stats_queues,
		 (unsigned long long)t[0], (unsigned long long)t[1],
		 (unsigned long long)t[2], (unsigned long long)t[3],
		 (unsigned long long)r[0], (unsigned long long)r[1],
		 (unsigned long long)r[2], (unsigned long long)r[3],
		 (unsigned long long)t[4], (unsigned long long)t[5],
		 (unsigned long long)t[6],
		 netif_tx_error_name(NETIF_TX_DROP_TOO_MANY_SLOTS),
		 (unsigned long long)tdrop[NETIF_TX_DROP_TOO_MANY_SLOTS],
		 netif_tx_error_name(NETIF_TX_DROP_SLOT_TOO_BIG),
		 (unsigned long long)tdrop[NETIF_TX_DROP_SLOT_TOO_BIG],
		 netif_tx_error_name(NETIF_TX_DROP_RUNT),
		 (unsigned long long)tdrop[NETIF_TX_DROP_RUNT],
		 (unsigned long long)r[4], (unsigned long long)r[5],
		 (unsigned long long)r[6], (unsigned long long)spur,
		 (unsigned long long)thr,
		 xenbus_device_connected(v->dev) ? "connected"
						 : "disconnected");
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

/* ---- connecting -----------------------------------------------------------
 */

static void vif_stop_queues(struct vif *v)
{
	unsigned int i;

	for (i = 0; i < v->nq; i++)
		nb_queue_stop(v->q[i]);
	v->nq = 0;
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

static int vif_connect(struct xenbus_device *dev)
{
	struct vif *v = xenbus_device_priv(dev);
	struct xs_client *xs = xenbus_device_xs(dev);
	const char *fe = xenbus_device_frontend_path(dev);
	bool rx_copy, rx_notify, no_csum, csum6;
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
	if (!rc && !rx_notify) {
		xenbus_device_fail(dev, "feature-rx-notify is mandatory");
		return -EOPNOTSUPP;
	}
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
	if (rc)
		return rc;
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
	memset(v->stats, 0, sizeof(v->stats));
	v->stats_queues = nq;
	for (q = 0; q < nq && !rc; q++) {
		rc = xenbus_queue_dir(dir, sizeof(dir), fe, nq, q);
		if (!rc)
			rc = connect_queue(v, dir, q);
	}
	if (rc) {
		vif_stop_queues(v);
		return rc;
	}
	pvk_info("%s: connected on %s: %u queue(s), sg %s, gso %s%s, "
		 "csum offload to the guest %s%s",
		 xenbus_device_name(dev), v->tap.name, nq,
		 v->vp.sg ? "on" : "off", v->vp.gso4 ? "tcpv4 " : "",
		 v->vp.gso6 ? "tcpv6" : "", v->vp.rx_csum4 ? "ipv4 " : "",
		 v->vp.rx_csum6 ? "ipv6" : "");
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
	W("feature-sg", "%d", 1);
	W("feature-gso-tcpv4", "%d", 1);
	W("feature-gso-tcpv6", "%d", 1);
	W("feature-ipv6-csum-offload", "%d", 1);
	W("feature-rx-copy", "%d", 1);
	W("feature-rx-flip", "%d", 0);
	W("feature-split-event-channels", "%d", 1);
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
	nb_tap_close(&v->tap);
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
	if (xenbus_device_read(dev, "vifname", &vifname))
		vifname = NULL;
	if (xenbus_device_read(dev, "bridge", &bridge))
		bridge = NULL;
	if (!xenbus_device_read(dev, "mtu", &mtus) &&
	    pvk_parse_u64(mtus, 68, 65535, &mtu)) {
		xenbus_device_set_error(dev, "mtu '%s': not 68-65535", mtus);
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
	rc = nb_tap_open(&v->tap, name, (unsigned int)mtu, bridge);
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

static const struct xenbus_backend_driver vif_driver = {
    .type = "vif",
    .probe = vif_probe,
    .advertise = vif_advertise,
    .connect = vif_connect,
    .disconnect = vif_disconnect,
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
