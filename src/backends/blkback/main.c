/*
 * main.c - pvkit-blkback: the Dom0 block backend service.  Serves every vbd
 * whose backend directory appears under /local/domain/<self>/backend/vbd,
 * until SIGTERM/SIGINT.  SIGUSR1 logs every device's counters (one
 * "vbd/<fe>/<devid> stats: ..." line each, as at disconnection).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blkback.h"
#include "common/daemon.h"
#include "common/log.h"
#include "common/util.h"

static int parse_uint(const char *s, unsigned int max, unsigned int *out)
{
	uint64_t v;

	if (pvk_parse_u64(s, 0, max, &v))
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

/* One of blkback's own options into bk->cfg. */
static int bk_option(void *arg, int c, const char *val)
{
	struct bk_config *cfg = &((struct bk *)arg)->cfg;

	switch (c) {
	case 'i':
		if (parse_uint(val, BLKIF_INDIRECT_SEGS_LIMIT,
			       &cfg->max_indirect_segs) ||
		    (cfg->max_indirect_segs &&
		     cfg->max_indirect_segs <=
			 BLKIF_MAX_SEGMENTS_PER_REQUEST)) {
			fprintf(stderr,
				"pvkit-blkback: --max-indirect: 0 or "
				"12-%u\n",
				(unsigned int)BLKIF_INDIRECT_SEGS_LIMIT);
			return -EINVAL;
		}
		return 0;
	case 'P':
		cfg->persistent = false;
		return 0;
	case 'g':
		if (!parse_uint(val, 65536, &cfg->max_persistent))
			return 0;
		fprintf(stderr, "pvkit-blkback: bad --max-persistent\n");
		return -EINVAL;
	case 'o':
		if (!parse_uint(val, BLKIF_MAX_RING_PAGE_ORDER,
				&cfg->max_ring_order))
			return 0;
		fprintf(stderr, "pvkit-blkback: bad --max-ring-order\n");
		return -EINVAL;
	case 'q':
		if (!parse_uint(val, BK_MAX_QUEUES, &cfg->max_queues) &&
		    cfg->max_queues)
			return 0;
		fprintf(stderr, "pvkit-blkback: bad --max-queues\n");
		return -EINVAL;
	case 'u':
		if (!parse_uint(val, BK_MAX_POLL_US, &cfg->poll_us))
			return 0;
		fprintf(stderr, "pvkit-blkback: --poll-us: 0-%u\n",
			BK_MAX_POLL_US);
		return -EINVAL;
	case 'S': {
		struct stat st;

		if (!stat(val, &st) && S_ISDIR(st.st_mode)) {
			cfg->stats_dir = val;
			return 0;
		}
		fprintf(stderr, "pvkit-blkback: --stats-dir %s: not a "
				"directory\n",
			val);
		return -EINVAL;
	}
	case 'w':
		if (!parse_uint(val, 600000, &cfg->claim_wait_ms))
			return 0;
		fprintf(stderr, "pvkit-blkback: --claim-wait-ms: 0-600000\n");
		return -EINVAL;
	default:
		return -EINVAL;
	}
}

static const struct option bk_lopts[] = {
    {"max-indirect", required_argument, NULL, 'i'},
    {"no-persistent", no_argument, NULL, 'P'},
    {"max-persistent", required_argument, NULL, 'g'},
    {"max-ring-order", required_argument, NULL, 'o'},
    {"max-queues", required_argument, NULL, 'q'},
    {"poll-us", required_argument, NULL, 'u'},
    {"claim-wait-ms", required_argument, NULL, 'w'},
    {"stats-dir", required_argument, NULL, 'S'},
    {NULL, 0, NULL, 0},
};

/* (The defaults named are blkback.h's BK_DEFAULT_*, BK_MAX_*.) */
static const struct pvk_daemon_spec bk_spec = {
    .name = "pvkit-blkback",
    .synopsis = "[options]",
    .usage = "  -i, --max-indirect N      feature-max-indirect-segments "
	     "(0: none; default 256)\n"
	     "  -P, --no-persistent       do not offer feature-persistent\n"
	     "  -g, --max-persistent N    persistent grants kept per ring "
	     "(default 1056)\n"
	     "  -o, --max-ring-order N    max-ring-page-order (0-4, "
	     "default 4)\n"
	     "  -q, --max-queues N        multi-queue-max-queues (1-16, "
	     "default 4)\n"
	     "  -u, --poll-us N           watch an idle ring N us before "
	     "sleeping\n"
	     "                            (adaptive; 0-1000, 0: never; "
	     "default 50 or\n"
	     "                            $PVKIT_BLK_POLL_US)\n"
	     "  -w, --claim-wait-ms N     how long a writable disk may stay "
	     "in use\n"
	     "                            elsewhere before its device fails "
	     "(default 10000)\n"
	     "  -S, --stats-dir DIR       publish each vbd's request counters "
	     "as\n"
	     "                            DIR/vbd-<domid>-<devid> (pvkit top)\n",
    .footer = "SIGUSR1 logs each device's counters; SIGTERM/SIGINT stop.\n",
    .shortopts = "i:Pg:o:q:u:w:S:",
    .longopts = bk_lopts,
    .option = bk_option,
    .flags = PVK_DAEMON_PLATFORM_OPT | PVK_DAEMON_XS_OPT,
};

int main(int argc, char **argv)
{
	static const int sigs[] = {SIGUSR1, 0};
	struct pvk_daemon dmn;
	struct bk bk;
	int rc;

	memset(&bk, 0, sizeof(bk));
	bk.cfg.max_indirect_segs = BK_DEFAULT_INDIRECT_SEGS;
	bk.cfg.persistent = true;
	bk.cfg.max_persistent = BK_DEFAULT_PERSISTENT;
	bk.cfg.max_ring_order = BLKIF_MAX_RING_PAGE_ORDER;
	bk.cfg.max_queues = 4;
	bk.cfg.poll_us = BK_DEFAULT_POLL_US;
	bk.cfg.claim_wait_ms = BK_CLAIM_WAIT_MS;
	if (getenv("PVKIT_BLK_POLL_US") &&
	    parse_uint(getenv("PVKIT_BLK_POLL_US"), BK_MAX_POLL_US,
		       &bk.cfg.poll_us)) {
		fprintf(stderr, "pvkit-blkback: bad PVKIT_BLK_POLL_US\n");
		return 2;
	}
	rc = pvk_daemon_parse(&dmn, &bk_spec, &bk, argc, argv);
	if (rc)
		return rc == 1 ? 0 : 2;
	if (pvk_daemon_setup(&dmn, sigs, false))
		return 1;
	rc = pvk_platform_open(dmn.platform, &bk.plat);
	if (rc) {
		pvk_err("cannot open the platform: %s", strerror(-rc));
		return 1;
	}
	rc = dmn.xs_path ? xs_client_open_path(dmn.xs_path, &bk.xs)
			 : xs_client_open_platform(bk.plat, &bk.xs);
	if (rc) {
		pvk_err("cannot connect to xenstore: %s", strerror(-rc));
		pvk_platform_close(bk.plat);
		return 1;
	}
	/* a restarted pvkit-xenstored keeps its store: carry on with it */
	xs_client_set_reconnect(bk.xs, PVK_DAEMON_XS_RECONNECT_MS,
				pvk_daemon_xs_lost, &dmn);
	rc = bk_xenbus_start(&bk);
	if (rc) {
		pvk_err("cannot watch the backend directory: %s",
			strerror(-rc));
		goto out;
	}
	pvk_daemon_ready(&dmn);
	pvk_info("serving %s (indirect %u, persistent %s, ring order <= %u, "
		 "queues <= %u)",
		 xenbus_backend_base(bk.be), bk.cfg.max_indirect_segs,
		 bk.cfg.persistent ? "on" : "off", bk.cfg.max_ring_order,
		 bk.cfg.max_queues);
	while ((rc = pvk_daemon_wait(&dmn)) == SIGUSR1)
		bk_xenbus_log_stats(&bk);
	pvk_info("signal %d: stopping", rc);
	bk_xenbus_stop(&bk);
	rc = 0;
out:
	xs_client_close(bk.xs);
	pvk_platform_close(bk.plat);
	pvk_daemon_end(&dmn);
	return rc || dmn.xs_lost ? 1 : 0;
}
