/*
 * block.c - pvkit block-attach, block-detach and block-list: hot-plug of
 * virtual disks into a running domain, with xl's verbs and output, on the
 * toolstack's generic device code (device.c) with the vbd type (vbd.c).
 *
 * Attach writes the vbd's nodes as create does and waits for
 * pvkit-blkback to take the device (InitWait) or to refuse it
 * (hotplug-error; the nodes are removed again).  Detach and list are the
 * generic verbs (devcmd.c).
 */
#include "device.h"
#include "toolstack.h"
#include "xlcfg.h"
#include "pvkit/xs.h"

#include <stdio.h>
#include <string.h>

int cmd_block_attach(struct ts *ts, int argc, char **argv)
{
	struct xlcfg_disk dk;
	struct xs_client *xs = NULL;
	struct ts_dev dev;
	char spec[1024], why[256];
	domid_t d;
	int rc = 1;

	if (argc < 3) {
		fprintf(stderr, "usage: pvkit block-attach DOMAIN DISK-SPEC\n"
				"  e.g. 'format=raw, vdev=xvdb, access=rw, "
				"target=/path/disk.img'\n"
				"       'vdev=xvdc, target=nbd://host:10809/"
				"export'\n");
		return 2;
	}
	if (ts_join_spec("block-attach", argc - 2, argv + 2, spec,
			 sizeof(spec)))
		return 2;
	memset(&dk, 0, sizeof(dk));
	if (xlcfg_parse_disk(spec, &dk, why, sizeof(why))) {
		fprintf(stderr, "pvkit: block-attach: %s\n", why);
		xlcfg_disk_clear(&dk);
		return 2;
	}
	dk.line = 1;
	if (disk_check("block-attach", &dk))
		goto out;
	if (ts_dev_open(ts, argv[1], "block-attach", &d, &xs))
		goto out;
	if (ts_dev_from_cfg(&dev, &ts_vbd_type, d, &dk))
		goto out;
	if (ts_dev_hotplug(xs, &dev, &dk, TS_DEV_WAIT_MS, "block-attach"))
		goto out;
	rc = 0;
out:
	xs_client_close(xs);
	xlcfg_disk_clear(&dk);
	return rc;
}

int cmd_block_detach(struct ts *ts, int argc, char **argv)
{
	return ts_cmd_dev_detach(ts, &ts_vbd_type, "block-detach", argc, argv);
}

int cmd_block_list(struct ts *ts, int argc, char **argv)
{
	return ts_cmd_dev_list(ts, &ts_vbd_type, "block-list", argc, argv);
}
