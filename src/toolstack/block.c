/*
 * block.c - pvkit block-attach, block-detach and block-list: hot-plug of
 * virtual disks into a running domain, with xl's verbs and output.
 *
 * Attach writes the vbd's nodes as create does (disk_add) and waits for
 * pvkit-blkback to take the device (InitWait) or to refuse it
 * (hotplug-error; the nodes are removed again).  Detach follows xenbus as
 * libxl does: the backend goes online=0 and Closing in one transaction,
 * the frontend is given a while to close (state Closed), then both
 * directories are removed (also when it did not close: forced).
 */
#include "toolstack.h"
#include "xlcfg.h"
#include "pvkit/blkfront.h"
#include "pvkit/xs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xen/io/xenbus.h>

#define BLOCK_WAIT_MS 10000

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* A node as a number: -1 when missing or not a number. */
static long read_num(struct xs_client *xs, const char *dir, const char *node)
{
	char path[256], *val = NULL, *end;
	long v;

	snprintf(path, sizeof(path), "%s/%s", dir, node);
	if (xs_read(xs, XS_TX_NONE, path, &val, NULL))
		return -1;
	v = strtol(val, &end, 10);
	if (end == val || *end)
		v = -1;
	free(val);
	return v;
}

static char *read_str(struct xs_client *xs, const char *dir, const char *node)
{
	char path[256], *val = NULL;

	snprintf(path, sizeof(path), "%s/%s", dir, node);
	if (xs_read(xs, XS_TX_NONE, path, &val, NULL))
		return NULL;
	return val;
}

/* Domain (not Dom0) and xenstore: 0, or 1 with the reason printed. */
static int block_open(struct ts *ts, const char *dom, const char *verb,
		      domid_t *d, struct xs_client **xs)
{
	struct pvk_rt *rt;
	int rc;

	if (ts_dom0(ts, &rt))
		return 1;
	rc = ts_lookup(rt, dom, d);
	pvk_rt_close(rt);
	if (rc)
		return 1;
	if (*d == 0) {
		fprintf(stderr, "pvkit: %s: not for Domain-0\n", verb);
		return 1;
	}
	rc = xs_client_open_path(ts->xs_sock, xs);
	if (rc) {
		fprintf(stderr, "pvkit: cannot reach xenstored at %s: %s\n",
			ts->xs_sock, strerror(-rc));
		return 1;
	}
	return 0;
}

static void vbd_paths(domid_t d, uint32_t devid, char *be, size_t belen,
		      char *fe, size_t felen)
{
	snprintf(be, belen, "/local/domain/0/backend/vbd/%u/%u", d, devid);
	snprintf(fe, felen, "/local/domain/%u/device/vbd/%u", d, devid);
}

static void vbd_remove(struct xs_client *xs, const char *be, const char *fe)
{
	xs_rm(xs, XS_TX_NONE, fe);
	xs_rm(xs, XS_TX_NONE, be);
}

/* ---- block-attach ---------------------------------------------------------- */

int cmd_block_attach(struct ts *ts, int argc, char **argv)
{
	struct xlcfg_disk dk;
	struct xs_client *xs = NULL;
	char spec[1024] = "", why[256], be[128], fe[128], *err = NULL;
	uint32_t devid;
	domid_t d;
	long st = -1;
	int i, rc = 1;

	if (argc < 3) {
		fprintf(stderr, "usage: pvkit block-attach DOMAIN DISK-SPEC\n"
				"  e.g. 'format=raw, vdev=xvdb, access=rw, "
				"target=/path/disk.img'\n"
				"       'vdev=xvdc, target=nbd://host:10809/"
				"export'\n");
		return 2;
	}
	/* Like xl: the spec may come as several arguments. */
	for (i = 2; i < argc; i++) {
		size_t n = strlen(spec);

		if (snprintf(spec + n, sizeof(spec) - n, "%s%s", n ? "," : "",
			     argv[i]) >= (int)(sizeof(spec) - n)) {
			fprintf(stderr, "pvkit: block-attach: disk spec too "
					"long\n");
			return 2;
		}
	}
	memset(&dk, 0, sizeof(dk));
	if (xlcfg_parse_disk(spec, &dk, why, sizeof(why))) {
		fprintf(stderr, "pvkit: block-attach: %s\n", why);
		xlcfg_disk_clear(&dk);
		return 2;
	}
	dk.line = 1;
	if (disk_check("block-attach", &dk) ||
	    blkfront_vdev_parse(dk.vdev, &devid)) {
		xlcfg_disk_clear(&dk);
		return 1;
	}
	if (block_open(ts, argv[1], "block-attach", &d, &xs))
		goto out;
	vbd_paths(d, devid, be, sizeof(be), fe, sizeof(fe));
	if (read_num(xs, be, "state") >= 0 || read_num(xs, fe, "state") >= 0) {
		fprintf(stderr, "pvkit: block-attach: domain %u already has a "
				"disk %s\n", d, dk.vdev);
		goto out;
	}
	if (disk_add(xs, d, &dk)) {
		vbd_remove(xs, be, fe);
		goto out;
	}
	/* The backend takes the device (InitWait; the frontend may move it
	 * on at once) or refuses it (hotplug-error, then Closed). */
	for (i = 0; i < BLOCK_WAIT_MS / 20; i++) {
		st = read_num(xs, be, "state");
		err = read_str(xs, be, "hotplug-error");
		if (err || st >= XenbusStateInitWait)
			break;
		sleep_ms(20);
	}
	if (err || st < XenbusStateInitWait) {
		fprintf(stderr, "pvkit: block-attach: %s of domain %u: %s\n",
			dk.vdev, d,
			err ? err
			    : "the block backend did not answer (is "
			      "pvkit-blkback running?)");
		vbd_remove(xs, be, fe);
		goto out;
	}
	rc = 0;
out:
	free(err);
	xs_client_close(xs);
	xlcfg_disk_clear(&dk);
	return rc;
}

/* ---- block-detach ---------------------------------------------------------- */

static int detach_begin(struct xs_client *xs, xs_tx_t tx, void *arg)
{
	const char *be = arg;
	char path[160], state[8];
	int rc;

	snprintf(path, sizeof(path), "%s/online", be);
	rc = xs_write_str(xs, tx, path, "0");
	if (rc)
		return rc;
	snprintf(path, sizeof(path), "%s/state", be);
	snprintf(state, sizeof(state), "%d", XenbusStateClosing);
	return xs_write_str(xs, tx, path, state);
}

int cmd_block_detach(struct ts *ts, int argc, char **argv)
{
	struct xs_client *xs = NULL;
	char be[128], fe[128];
	bool force = false;
	uint32_t devid;
	long st = -1;
	domid_t d;
	int i, rc = 1;

	if (argc == 4 && (!strcmp(argv[1], "-f") ||
			  !strcmp(argv[1], "--force"))) {
		force = true;
		argc--;
		argv++;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: pvkit block-detach [-f] DOMAIN VDEV\n");
		return 2;
	}
	if (blkfront_vdev_parse(argv[2], &devid)) {
		fprintf(stderr, "pvkit: block-detach: '%s' is not a virtual "
				"device name or number\n", argv[2]);
		return 2;
	}
	if (block_open(ts, argv[1], "block-detach", &d, &xs))
		return 1;
	vbd_paths(d, devid, be, sizeof(be), fe, sizeof(fe));
	if (read_num(xs, be, "state") < 0 && read_num(xs, fe, "state") < 0) {
		fprintf(stderr, "pvkit: block-detach: domain %u has no disk "
				"%s\n", d, argv[2]);
		goto out;
	}
	if (!force) {
		if (xs_transaction_run(xs, detach_begin, be) < 0) {
			fprintf(stderr, "pvkit: block-detach: cannot close "
					"the backend\n");
			goto out;
		}
		for (i = 0; i < BLOCK_WAIT_MS / 20; i++) {
			st = read_num(xs, fe, "state");
			if (st < 0 || st == XenbusStateClosed)
				break;
			sleep_ms(20);
		}
		if (st >= 0 && st != XenbusStateClosed)
			fprintf(stderr, "pvkit: block-detach: the frontend of "
					"%s did not close within %d s (state "
					"%ld): removing it anyway\n",
				argv[2], BLOCK_WAIT_MS / 1000, st);
	}
	vbd_remove(xs, be, fe);
	rc = 0;
out:
	xs_client_close(xs);
	return rc;
}

/* ---- block-list ------------------------------------------------------------- */

/* The first queue's ring: event-channel and ring-ref (ring-ref0 for a
 * multi-page ring), at the top or under queue-0/. */
static void ring_info(struct xs_client *xs, const char *fe, long *evtch,
		      long *rref)
{
	char q0[200];
	const char *dir = fe;

	snprintf(q0, sizeof(q0), "%s/queue-0", fe);
	*evtch = read_num(xs, fe, "event-channel");
	if (*evtch < 0) {
		*evtch = read_num(xs, q0, "event-channel");
		if (*evtch >= 0)
			dir = q0;
	}
	*rref = read_num(xs, dir, "ring-ref");
	if (*rref < 0)
		*rref = read_num(xs, dir, "ring-ref0");
}

int cmd_block_list(struct ts *ts, int argc, char **argv)
{
	struct xs_client *xs = NULL;
	char dir[96], **ids = NULL;
	unsigned int n = 0, i;
	domid_t d;

	if (argc != 2) {
		fprintf(stderr, "usage: pvkit block-list DOMAIN\n");
		return 2;
	}
	if (block_open(ts, argv[1], "block-list", &d, &xs))
		return 1;
	snprintf(dir, sizeof(dir), "/local/domain/%u/device/vbd", d);
	if (xs_directory(xs, XS_TX_NONE, dir, &ids, &n))
		n = 0;
	printf("%-5s %-3s %-6s %-5s %-6s %-8s %-30s\n", "Vdev", "BE", "handle",
	       "state", "evt-ch", "ring-ref", "BE-path");
	for (i = 0; i < n; i++) {
		char fe[160], *bepath;
		long evtch, rref;

		snprintf(fe, sizeof(fe), "%s/%s", dir, ids[i]);
		bepath = read_str(xs, fe, "backend");
		ring_info(xs, fe, &evtch, &rref);
		printf("%-5s %-3ld %-6u %-5ld %-6ld %-8ld %-30s\n", ids[i],
		       read_num(xs, fe, "backend-id"), d,
		       read_num(xs, fe, "state"), evtch, rref,
		       bepath ? bepath : "");
		free(bepath);
	}
	free(ids);
	xs_client_close(xs);
	return 0;
}
