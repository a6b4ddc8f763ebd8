/*
 * network.c - pvkit network-attach, network-detach and network-list:
 * hot-plug of network interfaces into a running domain, with xl's verbs
 * and output, on the toolstack's generic device code (device.c) with the
 * vif type (vif.c).
 *
 * Attach writes the vif's nodes as create does (the lowest free devid
 * unless devid= says, a random MAC unless mac= says) and waits for
 * pvkit-netback to take the device (InitWait) or to refuse it
 * (hotplug-error; the nodes are removed again).  Detach (by devid or MAC)
 * and list are the generic verbs (devcmd.c).
 */
#include "device.h"
#include "pvkit/xs.h"
#include "toolstack.h"
#include "xlcfg.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define VERB "network-attach"
#define MAX_VIFS 256

/* The lowest devid of domain fe free in both its frontend and backend
 * directories: 0 or -errno. */
static int free_devid(struct xs_client *xs, domid_t fe, uint32_t *devid)
{
	uint32_t ids[MAX_VIFS], want = 0;
	int n = ts_dev_ids(xs, &ts_vif_type, fe, ids, MAX_VIFS), i;

	if (n < 0)
		return n;
	for (i = 0; i < n && ids[i] <= want; i++)
		if (ids[i] == want)
			want++;
	if (want > XLCFG_VIF_MAX_DEVID)
		return -ENOSPC;
	*devid = want;
	return 0;
}

/* v's MAC: given and not in use by another vif of domain fe, or a new
 * random one that is not. */
static int pick_mac(struct xs_client *xs, domid_t fe, struct xlcfg_vif *v)
{
	uint32_t other;
	int i, rc;

	if (v->has_mac) {
		rc = vif_find_mac(xs, fe, v->mac, &other);
		if (rc == 0) {
			fprintf(stderr,
				"pvkit: " VERB ": domain %u has the MAC "
				"%02x:%02x:%02x:%02x:%02x:%02x on its network "
				"interface %u already\n",
				fe, v->mac[0], v->mac[1], v->mac[2], v->mac[3],
				v->mac[4], v->mac[5], other);
			return -EEXIST;
		}
		return rc == -ENOENT ? 0 : rc;
	}
	for (i = 0; i < 8; i++) {
		rc = vif_default_mac(v->mac);
		if (rc)
			return rc;
		rc = vif_find_mac(xs, fe, v->mac, &other);
		if (rc == -ENOENT) {
			v->has_mac = true;
			return 0;
		}
		if (rc)
			return rc;
	}
	return -EEXIST;
}

int cmd_network_attach(struct ts *ts, int argc, char **argv)
{
	struct xlcfg_vif v;
	struct xs_client *xs = NULL;
	struct ts_dev dev;
	char spec[1024], why[256];
	unsigned int warned = 0;
	domid_t d;
	int i, err, rc = 1;

	memset(&v, 0, sizeof(v));
	if (argc < 3) {
		fprintf(stderr, "usage: pvkit " VERB " DOMAIN VIF-SPEC...\n"
				"  e.g. 'bridge=xenbr0'\n"
				"       'mac=00:16:3e:01:02:03, vifname=web0, "
				"mtu=9000, rate=10Mb/s'\n");
		return 2;
	}
	if (ts_join_spec(VERB, argc - 2, argv + 2, spec, sizeof(spec)))
		return 2;
	if (xlcfg_parse_vif(spec, &v, why, sizeof(why))) {
		fprintf(stderr, "pvkit: " VERB ": %s\n", why);
		xlcfg_vif_clear(&v);
		return 2;
	}
	if (vif_check(VERB, &v, true, &warned))
		goto out;
	if (ts_dev_open(ts, argv[1], VERB, &d, &xs))
		goto out;
	err = pick_mac(xs, d, &v);
	if (err) {
		if (err != -EEXIST)
			fprintf(stderr, "pvkit: " VERB ": %s\n",
				strerror(-err));
		goto out;
	}
	/* The lowest free devid; another attach racing us to it makes ours
	 * -EEXIST: take the next. */
	for (i = 0; i < 4; i++) {
		if (!v.has_devid) {
			err = free_devid(xs, d, &v.devid);
			if (err) {
				fprintf(stderr,
					"pvkit: " VERB ": no free devid: %s\n",
					strerror(-err));
				goto out;
			}
		}
		if (ts_dev_from_cfg(&dev, &ts_vif_type, d, &v))
			goto out;
		/* (a devid of this domain in use: ts_dev_add says so) */
		if (ts_dev_read_num(xs, dev.be, "state") < 0 &&
		    ts_dev_read_num(xs, dev.fe, "state") < 0 &&
		    vif_default_name_free(VERB, &v, d))
			goto out;
		err = ts_dev_hotplug(xs, &dev, &v, TS_DEV_WAIT_MS, VERB);
		if (err != -EEXIST || v.has_devid)
			break;
	}
	if (err)
		goto out;
	rc = 0;
out:
	xs_client_close(xs);
	xlcfg_vif_clear(&v);
	return rc;
}

int cmd_network_detach(struct ts *ts, int argc, char **argv)
{
	return ts_cmd_dev_detach(ts, &ts_vif_type, "network-detach", argc,
				 argv);
}

int cmd_network_list(struct ts *ts, int argc, char **argv)
{
	return ts_cmd_dev_list(ts, &ts_vif_type, "network-list", argc, argv);
}
