/*
 * vbd.c - the vbd device type (virtual disks served by pvkit-blkback):
 * what pvkit can serve (disk_check), the nodes of a disk from its disk=
 * spec, and block-list's columns.  The generic add/remove/list is
 * device.c's; the verbs are block.c's.
 */
#include "device.h"
#include "toolstack.h"
#include "xlcfg.h"
#include "pvkit/blkfront.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

bool disk_target_is_nbd(const char *target)
{
	static const char *const schemes[] = {"nbd://", "nbds://",
					      "nbd+unix://", "nbds+unix://"};
	size_t i;

	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (!strncmp(target, schemes[i], strlen(schemes[i])))
			return target[strlen(schemes[i])] != 0;
	return false;
}

/* What pvkit's block backend can serve: raw files, block devices and NBD
 * exports. */
int disk_check(const char *cfg, const struct xlcfg_disk *dk)
{
	uint32_t devid;
	struct stat st;

	if (dk->format && strcmp(dk->format, "raw")) {
		fprintf(stderr, "pvkit: %s:%u: disk: format '%s' is not "
				"supported (raw only)\n",
			cfg, dk->line, dk->format);
		return -ENOTSUP;
	}
	if (blkfront_vdev_parse(dk->vdev, &devid)) {
		fprintf(stderr, "pvkit: %s:%u: disk: vdev '%s' is not a xvd* "
				"name pvkit knows\n",
			cfg, dk->line, dk->vdev);
		return -EINVAL;
	}
	if (!dk->target || !*dk->target) {
		fprintf(stderr, "pvkit: %s:%u: disk: empty drives are not "
				"supported\n",
			cfg, dk->line);
		return -ENOTSUP;
	}
	/* An NBD export (nbd://host[:port]/export, nbd+unix:///export?
	 * socket=PATH): pvkit-blkback connects when the device appears. */
	if (disk_target_is_nbd(dk->target))
		return 0;
	errno = 0;
	if (stat(dk->target, &st) < 0 ||
	    (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))) {
		fprintf(stderr, "pvkit: %s:%u: disk: target '%s': %s\n", cfg,
			dk->line, dk->target,
			errno ? strerror(errno) : "not a file or block device");
		return -ENOENT;
	}
	return 0;
}

static const char *vbd_cfg_name(const void *cfg)
{
	return ((const struct xlcfg_disk *)cfg)->vdev;
}

/* blkback reads params, mode, device-type and dev; the frontend
 * virtual-device and device-type (blkif.h, xenstore-paths.pandoc). */
static int vbd_nodes(const void *cfg, const struct ts_dev *dev,
		     struct ts_nodes *be, struct ts_nodes *fe)
{
	const struct xlcfg_disk *dk = cfg;
	const char *type = dk->cdrom ? "cdrom" : "disk";

	ts_nodes_set(be, "params", "%s", dk->target ? dk->target : "");
	ts_nodes_set(be, "mode", "%s", dk->readonly ? "r" : "w");
	ts_nodes_set(be, "device-type", "%s", type);
	ts_nodes_set(be, "dev", "%s", dk->vdev);
	ts_nodes_set(fe, "virtual-device", "%u", dev->devid);
	ts_nodes_set(fe, "device-type", "%s", type);
	return 0;
}

/* The first queue's ring: event-channel and ring-ref (ring-ref0 for a
 * multi-page ring), at the top or under queue-0/. */
static void ring_info(struct xs_client *xs, const char *fe, long *evtch,
		      long *rref)
{
	char q0[200];
	const char *dir = fe;

	snprintf(q0, sizeof(q0), "%s/queue-0", fe);
	*evtch = ts_dev_read_num(xs, fe, "event-channel");
	if (*evtch < 0) {
		*evtch = ts_dev_read_num(xs, q0, "event-channel");
		if (*evtch >= 0)
			dir = q0;
	}
	*rref = ts_dev_read_num(xs, dir, "ring-ref");
	if (*rref < 0)
		*rref = ts_dev_read_num(xs, dir, "ring-ref0");
}

static void col_evtch(struct xs_client *xs, const struct ts_dev *dev,
		      char *out, size_t len)
{
	long evtch, rref;

	ring_info(xs, dev->fe, &evtch, &rref);
	snprintf(out, len, "%ld", evtch);
}

static void col_ring_ref(struct xs_client *xs, const struct ts_dev *dev,
			 char *out, size_t len)
{
	long evtch, rref;

	ring_info(xs, dev->fe, &evtch, &rref);
	snprintf(out, len, "%ld", rref);
}

/* xl block-list's columns. */
static const struct ts_devcol vbd_cols[] = {
	{"Vdev", 5, ts_col_id, false},
	{"BE", 3, ts_col_backend_id, false},
	{"handle", 6, ts_col_handle, false},
	{"state", 5, ts_col_state, false},
	{"evt-ch", 6, col_evtch, false},
	{"ring-ref", 8, col_ring_ref, false},
	{"BE-path", 30, ts_col_backend, false},
};

const struct ts_devtype ts_vbd_type = {
	.type = "vbd",
	.noun = "disk",
	.id_noun = "virtual device name or number",
	.id_arg = "VDEV",
	.backend = "block backend",
	.daemon = "pvkit-blkback",
	.parse_id = blkfront_vdev_parse,
	.cfg_name = vbd_cfg_name,
	.nodes = vbd_nodes,
	.cols = vbd_cols,
	.ncols = sizeof(vbd_cols) / sizeof(vbd_cols[0]),
};
