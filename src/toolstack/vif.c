/*
 * vif.c - the vif device type (network interfaces served by
 * pvkit-netback): what pvkit can serve (vif_check), a default MAC, the
 * nodes of a vif from its vif= spec as libxl writes them, a MAC resolved
 * to its devid, and network-list's columns.  The generic add/remove/list
 * is device.c's; the verbs are network.c's.
 */
#include "device.h"
#include "pvkit/xs.h"
#include "toolstack.h"
#include "xlcfg.h"

#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* pvkit-netback's limits on the backend node rate (bytes per interval,
 * interval in µs, both 32 bits). */
#define NETBACK_RATE_MAX_BYTES 4294967295ull
/* pvkit-netback's largest MTU: a TAP's (65535 with the Ethernet
 * header). */
#define NETBACK_MAX_MTU 65521u
/* How long an interface being removed may take to go. */
#define NAME_GONE_MS 2000

/* "pvkit: [warning: ]WHERE[:LINE]: vif: ..." */
static void __attribute__((format(printf, 4, 5)))
say(const char *where, unsigned int line, bool warning, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "pvkit: %s%s", warning ? "warning: " : "", where);
	if (line)
		fprintf(stderr, ":%u", line);
	fputs(": vif: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The script netback runs: absolute, or in /etc/xen/scripts as libxl
 * and pvkit-netback look for it. */
static void script_path(const char *script, char *out, size_t len)
{
	if (script[0] == '/')
		snprintf(out, len, "%s", script);
	else
		snprintf(out, len, "/etc/xen/scripts/%s", script);
}

bool vif_backend_is_dom0(const char *backend)
{
	return !backend || !strcmp(backend, "0") ||
	       !strcmp(backend, "Domain-0");
}

int vif_rate_per_interval(const struct xlcfg_vif *v, uint64_t *bytes)
{
	uint64_t b;

	if (__builtin_mul_overflow(v->rate_bytes_per_s,
				   (uint64_t)v->rate_interval_us, &b))
		return -EOVERFLOW;
	*bytes = b / 1000000;
	return 0;
}

int vif_check(const char *where, const struct xlcfg_vif *v, bool host,
	      unsigned int *warned)
{
	char path[300], sys[300];
	struct stat st;
	uint64_t bpi;

	if (v->type && !strcmp(v->type, "ioemu")) {
		say(where, v->line, false,
		    "type: ioemu is an emulated NIC of HVM guests; pvkit "
		    "builds PV and PVH domains (type=vif)");
		return -ENOTSUP;
	}
	if (!vif_backend_is_dom0(v->backend)) {
		say(where, v->line, false,
		    "backend: '%s': driver domains are not supported (vifs "
		    "are served by Domain-0's pvkit-netback)",
		    v->backend);
		return -ENOTSUP;
	}
	if (v->forwarddev || v->colo) {
		say(where, v->line, false, "%s: COLO is not supported",
		    v->forwarddev ? "forwarddev" : v->colo);
		return -ENOTSUP;
	}
	if (v->vlan) {
		say(where, v->line, false,
		    "vlan: VLAN filtering on the bridge port is not "
		    "supported");
		return -ENOTSUP;
	}
	if (v->mtu > NETBACK_MAX_MTU) {
		say(where, v->line, false,
		    "mtu: %u is more than pvkit-netback's TAP interfaces take "
		    "(%u)",
		    v->mtu, NETBACK_MAX_MTU);
		return -EINVAL;
	}
	if (v->rate_bytes_per_s) {
		if (!vif_rate_per_interval(v, &bpi) && bpi == 0) {
			say(where, v->line, false,
			    "rate: %llu B/s is less than a byte per %u us "
			    "interval (raise the rate or the interval)",
			    (unsigned long long)v->rate_bytes_per_s,
			    v->rate_interval_us);
			return -EINVAL;
		}
		/* (the interval, 32 bits of us, is what netback takes) */
		if (vif_rate_per_interval(v, &bpi) ||
		    bpi > NETBACK_RATE_MAX_BYTES) {
			say(where, v->line, false,
			    "rate: pvkit-netback takes up to %llu bytes per "
			    "interval",
			    NETBACK_RATE_MAX_BYTES);
			return -EINVAL;
		}
	}
	if (v->script) {
		script_path(v->script, path, sizeof(path));
		if (stat(path, &st) < 0 || access(path, X_OK) < 0) {
			say(where, v->line, false, "script: %s: %s", path,
			    strerror(errno));
			return -ENOENT;
		}
	}
	/* The host as it is now: the bridge netback joins (a script owns
	 * the bridge itself), an interface name not taken. */
	if (host && !v->script) {
		const char *br = v->bridge ? v->bridge : TS_VIF_BRIDGE;

		/* this network namespace's interfaces (/sys may show
		 * another's: then it says nothing of the type) */
		if (!if_nametoindex(br)) {
			say(where, v->line, false,
			    "bridge: %s does not exist%s", br,
			    v->bridge ? ""
				      : " (`pvkit host start` creates it; "
					"was it refused?)");
			return -ENODEV;
		}
		snprintf(sys, sizeof(sys), "/sys/class/net/%s", br);
		if (stat(sys, &st) == 0) {
			snprintf(sys, sizeof(sys), "/sys/class/net/%s/bridge",
				 br);
			if (stat(sys, &st) < 0) {
				say(where, v->line, false,
				    "bridge: %s is not a bridge", br);
				return -ENODEV;
			}
		}
	}
	if (host && v->vifname && if_nametoindex(v->vifname)) {
		say(where, v->line, false,
		    "vifname: the interface %s exists already", v->vifname);
		return -EEXIST;
	}
	/* What pvkit ignores: said once per configuration. */
#define WARN_ONCE(bit, ...)                                                    \
	do {                                                                   \
		if (!(*warned & (1u << (bit)))) {                              \
			*warned |= 1u << (bit);                                \
			say(where, v->line, true, __VA_ARGS__);                \
		}                                                              \
	} while (0)
	if (v->model)
		WARN_ONCE(0, "model: ignored (only the emulated NICs of HVM "
			     "guests have a model)");
	if (v->accel)
		WARN_ONCE(1, "accel: ignored (not supported, as in xl)");
	if (v->gatewaydev && !v->script)
		WARN_ONCE(2, "gatewaydev: has no effect without a script= "
			     "that uses it (vif-route, vif-nat)");
	if (v->ip && !v->script)
		WARN_ONCE(3, "ip: recorded in the backend, but nothing "
			     "filters on it without a script= (pvkit-netback "
			     "bridges the vif itself)");
#undef WARN_ONCE
	return 0;
}

int vif_default_name_free(const char *where, const struct xlcfg_vif *v,
			  domid_t fe)
{
	char name[32];
	unsigned int i;

	if (v->vifname)
		return 0; /* vif_check's */
	snprintf(name, sizeof(name), "vif%u.%u", fe, v->devid);
	/* One this host's netback is still taking down (a detach just
	 * now) goes within a moment; another host's stays. */
	for (i = 0; i < NAME_GONE_MS / 50; i++) {
		if (!if_nametoindex(name))
			return 0;
		usleep(50000);
	}
	say(where, 0, false,
	    "the interface %s exists already (a vif of another pvkit host's "
	    "domain %u?)",
	    name, fe);
	return -EEXIST;
}

int vif_default_mac(uint8_t mac[6])
{
	uint8_t r[3];

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -errno;
	/* Xen's OUI; the top bit of the fourth byte clear, as libxl does */
	mac[0] = 0x00;
	mac[1] = 0x16;
	mac[2] = 0x3e;
	mac[3] = r[0] & 0x7f;
	mac[4] = r[1];
	mac[5] = r[2];
	return 0;
}

/* "xx:xx:xx:xx:xx:xx" (either case) into mac: 0 or -EINVAL. */
static int mac_parse(const char *s, uint8_t mac[6])
{
	unsigned int b[6], i;
	int n = 0;

	if (strlen(s) != 17 ||
	    sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%n", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5], &n) != 6 ||
	    n != 17)
		return -EINVAL;
	for (i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

int vif_macs(struct xs_client *xs, domid_t fe, struct xlcfg_vif *vifs,
	     unsigned int n)
{
	char dir[128], *val;
	unsigned int i, j, tries;
	int rc;

	for (i = 0; i < n; i++) {
		struct xlcfg_vif *v = &vifs[i];

		if (v->has_mac)
			continue;
		if (xs) {
			snprintf(dir, sizeof(dir),
				 "/local/domain/0/backend/vif/%u/%u", fe,
				 v->devid);
			val = ts_dev_read_str(xs, dir, "mac");
			v->has_mac = val && !mac_parse(val, v->mac);
			free(val);
			if (v->has_mac)
				continue;
		}
		for (tries = 0; !v->has_mac && tries < 8; tries++) {
			rc = vif_default_mac(v->mac);
			if (rc)
				return rc;
			v->has_mac = true;
			for (j = 0; j < n; j++)
				if (j != i && vifs[j].has_mac &&
				    !memcmp(vifs[j].mac, v->mac, 6))
					v->has_mac = false;
		}
		if (!v->has_mac)
			return -EEXIST;
	}
	return 0;
}

static int vif_cfg_devid(const void *cfg, uint32_t *devid)
{
	*devid = ((const struct xlcfg_vif *)cfg)->devid;
	return 0;
}

/* A devid on the command line: a decimal number. */
static int vif_parse_id(const char *name, uint32_t *devid)
{
	char *end;
	unsigned long v;

	if (name[0] < '0' || name[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(name, &end, 10);
	if (*end || errno || v > XLCFG_VIF_MAX_DEVID)
		return -EINVAL;
	*devid = (uint32_t)v;
	return 0;
}

#define MAC_FMT "%02x:%02x:%02x:%02x:%02x:%02x"
#define MAC_ARGS(m) (m)[0], (m)[1], (m)[2], (m)[3], (m)[4], (m)[5]

/* libxl's nodes (libxl__set_xenstore_nic): the backend's for
 * pvkit-netback (and a script= it runs), the frontend's for netfront. */
static int vif_nodes(const void *cfg, const struct ts_dev *dev,
		     struct ts_nodes *be, struct ts_nodes *fe)
{
	const struct xlcfg_vif *v = cfg;
	uint64_t bpi;

	if (!v->has_mac)
		return -EINVAL; /* the caller picks one: vif_default_mac */
	if (v->script)
		ts_nodes_set(be, "script", "%s", v->script);
	if (v->vifname)
		ts_nodes_set(be, "vifname", "%s", v->vifname);
	ts_nodes_set(be, "mac", MAC_FMT, MAC_ARGS(v->mac));
	if (v->ip)
		ts_nodes_set(be, "ip", "%s", v->ip);
	if (v->gatewaydev)
		ts_nodes_set(be, "gatewaydev", "%s", v->gatewaydev);
	if (v->rate_bytes_per_s) {
		if (vif_rate_per_interval(v, &bpi))
			return -EOVERFLOW;
		ts_nodes_set(be, "rate", "%llu,%u", (unsigned long long)bpi,
			     v->rate_interval_us);
	}
	if (v->mtu)
		ts_nodes_set(be, "mtu", "%u", v->mtu);
	ts_nodes_set(be, "bridge", "%s", v->bridge ? v->bridge : TS_VIF_BRIDGE);
	ts_nodes_set(be, "handle", "%u", dev->devid);
	ts_nodes_set(be, "type", "vif");
	ts_nodes_set(fe, "handle", "%u", dev->devid);
	ts_nodes_set(fe, "mac", MAC_FMT, MAC_ARGS(v->mac));
	ts_nodes_set(fe, "mtu", "%u", v->mtu ? v->mtu : 1500);
	ts_nodes_set(fe, "trusted", "%d", v->untrusted ? 0 : 1);
	return 0;
}

int vif_find_mac(struct xs_client *xs, domid_t fe, const uint8_t mac[6],
		 uint32_t *devid)
{
	uint32_t ids[256];
	uint8_t m[6];
	char dir[128], *val;
	int n, i;

	n = ts_dev_ids(xs, &ts_vif_type, fe, ids, 256);
	for (i = 0; i < n; i++) {
		/* The backend's copy: the guest owns device/vif. */
		snprintf(dir, sizeof(dir), "/local/domain/0/backend/vif/%u/%u",
			 fe, ids[i]);
		val = ts_dev_read_str(xs, dir, "mac");
		if (val && !mac_parse(val, m) && !memcmp(m, mac, 6)) {
			free(val);
			*devid = ids[i];
			return 0;
		}
		free(val);
	}
	return n < 0 ? n : -ENOENT;
}

static int vif_resolve_id(struct xs_client *xs, domid_t fe, const char *name,
			  uint32_t *devid)
{
	uint8_t mac[6];

	if (mac_parse(name, mac))
		return -EINVAL;
	return xs ? vif_find_mac(xs, fe, mac, devid) : 0;
}

/* The first queue's event channel (event-channel, or event-channel-tx
 * when split) and rings, at the top or under queue-0/. */
static void ring_info(struct xs_client *xs, const char *fe, long *evtch,
		      long *tx, long *rx)
{
	char q0[200];
	const char *dir = fe;

	snprintf(q0, sizeof(q0), "%s/queue-0", fe);
	if (ts_dev_read_num(xs, fe, "tx-ring-ref") < 0 &&
	    ts_dev_read_num(xs, q0, "tx-ring-ref") >= 0)
		dir = q0;
	*evtch = ts_dev_read_num(xs, dir, "event-channel");
	if (*evtch < 0)
		*evtch = ts_dev_read_num(xs, dir, "event-channel-tx");
	*tx = ts_dev_read_num(xs, dir, "tx-ring-ref");
	*rx = ts_dev_read_num(xs, dir, "rx-ring-ref");
}

static void col_mac(struct xs_client *xs, const struct ts_dev *dev, char *out,
		    size_t len)
{
	char *mac = ts_dev_read_str(xs, dev->be, "mac");

	if (!mac)
		mac = ts_dev_read_str(xs, dev->fe, "mac");
	snprintf(out, len, "%s", mac ? mac : "-");
	free(mac);
}

static void col_evtch(struct xs_client *xs, const struct ts_dev *dev, char *out,
		      size_t len)
{
	long evtch, tx, rx;

	ring_info(xs, dev->fe, &evtch, &tx, &rx);
	snprintf(out, len, "%ld", evtch);
}

static void col_rings(struct xs_client *xs, const struct ts_dev *dev, char *out,
		      size_t len)
{
	long evtch, tx, rx;

	ring_info(xs, dev->fe, &evtch, &tx, &rx);
	snprintf(out, len, "%5ld/%-11ld", tx, rx);
}

/* xl network-list's columns (xl right-aligns the numbers; handle is the
 * devid there too). */
static const struct ts_devcol vif_cols[] = {
    {"Idx", 3, ts_col_id, false},
    {"BE", 2, ts_col_backend_id, false},
    {"Mac Addr.", 17, col_mac, false},
    {"handle", 6, ts_col_id, true},
    {"state", 5, ts_col_state, true},
    {"evt-ch", 6, col_evtch, true},
    {"tx-/rx-ring-ref", 17, col_rings, true},
    {"BE-path", 30, ts_col_backend, false},
};

const struct ts_devtype ts_vif_type = {
    .type = "vif",
    .noun = "network interface",
    .id_noun = "devid or MAC address",
    .id_arg = "DEVID|MAC",
    .backend = "network backend",
    .daemon = "pvkit-netback",
    .parse_id = vif_parse_id,
    .resolve_id = vif_resolve_id,
    .cfg_devid = vif_cfg_devid,
    .nodes = vif_nodes,
    .cols = vif_cols,
    .ncols = sizeof(vif_cols) / sizeof(vif_cols[0]),
};
