/*
 * main.c - pvkit-blkback: the Dom0 block backend service.  Serves every vbd
 * whose backend directory appears under /local/domain/<self>/backend/vbd,
 * until SIGTERM/SIGINT.  SIGUSR1 logs every device's counters (one
 * "vbd/<fe>/<devid> stats: ..." line each, as at disconnection).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blkback.h"
#include "common/log.h"
#include "common/util.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pvkit-blkback [options]\n"
		"  -s, --xenstore PATH       xenstored socket (default: the "
		"platform's,\n"
		"                            $XENSTORED_PATH, "
		"/var/run/xenstored/socket)\n"
		"  -p, --platform NAME       emulated|xen (default: from the "
		"environment)\n"
		"  -i, --max-indirect N      feature-max-indirect-segments "
		"(0: none; default %u)\n"
		"  -P, --no-persistent       do not offer feature-persistent\n"
		"  -g, --max-persistent N    persistent grants kept per ring "
		"(default %u)\n"
		"  -o, --max-ring-order N    max-ring-page-order (0-%u, default "
		"%u)\n"
		"  -q, --max-queues N        multi-queue-max-queues (1-%u, "
		"default 4)\n"
		"  -u, --poll-us N           watch an idle ring N us before "
		"sleeping\n"
		"                            (adaptive; 0-%u, 0: never; "
		"default %u or\n"
		"                            $PVKIT_BLK_POLL_US)\n"
		"  -w, --claim-wait-ms N     how long a writable disk may stay "
		"in use\n"
		"                            elsewhere before its device fails "
		"(default %u)\n"
		"  -F, --pid-file PATH       write the pid here once serving\n"
		"  -v, --verbose             debug logging\n"
		"SIGUSR1 logs each device's counters; SIGTERM/SIGINT stop.\n",
		BK_DEFAULT_INDIRECT_SEGS, BK_DEFAULT_PERSISTENT,
		BLKIF_MAX_RING_PAGE_ORDER, BLKIF_MAX_RING_PAGE_ORDER,
		BK_MAX_QUEUES, BK_MAX_POLL_US, BK_DEFAULT_POLL_US,
		BK_CLAIM_WAIT_MS);
}

static int parse_uint(const char *s, unsigned int max, unsigned int *out)
{
	uint64_t v;

	if (pvk_parse_u64(s, 0, max, &v))
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{"xenstore", required_argument, NULL, 's'},
		{"platform", required_argument, NULL, 'p'},
		{"max-indirect", required_argument, NULL, 'i'},
		{"no-persistent", no_argument, NULL, 'P'},
		{"max-persistent", required_argument, NULL, 'g'},
		{"max-ring-order", required_argument, NULL, 'o'},
		{"max-queues", required_argument, NULL, 'q'},
		{"poll-us", required_argument, NULL, 'u'},
		{"claim-wait-ms", required_argument, NULL, 'w'},
		{"pid-file", required_argument, NULL, 'F'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct bk bk;
	const char *xs_path = NULL, *platform = NULL, *pidfile = NULL;
	enum pvk_log_level level = PVK_LOG_INFO;
	sigset_t set;
	int c, sig, rc;

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
	while ((c = getopt_long(argc, argv, "s:p:i:Pg:o:q:u:w:F:vh", lopts,
				NULL)) != -1) {
		switch (c) {
		case 's':
			xs_path = optarg;
			break;
		case 'p':
			platform = optarg;
			break;
		case 'i':
			if (parse_uint(optarg, BLKIF_INDIRECT_SEGS_LIMIT,
				       &bk.cfg.max_indirect_segs) ||
			    (bk.cfg.max_indirect_segs &&
			     bk.cfg.max_indirect_segs <=
				     BLKIF_MAX_SEGMENTS_PER_REQUEST)) {
				fprintf(stderr, "pvkit-blkback: --max-indirect: "
						"0 or 12-%u\n",
					(unsigned int)BLKIF_INDIRECT_SEGS_LIMIT);
				return 2;
			}
			break;
		case 'P':
			bk.cfg.persistent = false;
			break;
		case 'g':
			if (parse_uint(optarg, 65536, &bk.cfg.max_persistent)) {
				fprintf(stderr, "pvkit-blkback: bad "
						"--max-persistent\n");
				return 2;
			}
			break;
		case 'o':
			if (parse_uint(optarg, BLKIF_MAX_RING_PAGE_ORDER,
				       &bk.cfg.max_ring_order)) {
				fprintf(stderr, "pvkit-blkback: bad "
						"--max-ring-order\n");
				return 2;
			}
			break;
		case 'q':
			if (parse_uint(optarg, BK_MAX_QUEUES,
				       &bk.cfg.max_queues) ||
			    !bk.cfg.max_queues) {
				fprintf(stderr, "pvkit-blkback: bad "
						"--max-queues\n");
				return 2;
			}
			break;
		case 'u':
			if (parse_uint(optarg, BK_MAX_POLL_US,
				       &bk.cfg.poll_us)) {
				fprintf(stderr, "pvkit-blkback: --poll-us: "
						"0-%u\n",
					BK_MAX_POLL_US);
				return 2;
			}
			break;
		case 'w':
			if (parse_uint(optarg, 600000, &bk.cfg.claim_wait_ms)) {
				fprintf(stderr, "pvkit-blkback: --claim-wait-ms: "
						"0-600000\n");
				return 2;
			}
			break;
		case 'F':
			pidfile = optarg;
			break;
		case 'v':
			level = PVK_LOG_DEBUG;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	pvk_log_init("pvkit-blkback", level);
	/* Signals are taken synchronously below; ring threads inherit the
	 * mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	rc = pvk_platform_open(platform, &bk.plat);
	if (rc) {
		pvk_err("cannot open the platform: %s", strerror(-rc));
		return 1;
	}
	rc = xs_path ? xs_client_open_path(xs_path, &bk.xs)
		     : xs_client_open_platform(bk.plat, &bk.xs);
	if (rc) {
		pvk_err("cannot connect to xenstore: %s", strerror(-rc));
		pvk_platform_close(bk.plat);
		return 1;
	}
	rc = bk_xenbus_start(&bk);
	if (rc) {
		pvk_err("cannot watch the backend directory: %s",
			strerror(-rc));
		goto out;
	}
	pvk_raise_nofile();
	if (pidfile && pvk_write_pidfile(pidfile))
		pvk_warn("cannot write %s", pidfile);
	pvk_info("serving %s (indirect %u, persistent %s, ring order <= %u, "
		 "queues <= %u)", xenbus_backend_base(bk.be), bk.cfg.max_indirect_segs,
		 bk.cfg.persistent ? "on" : "off", bk.cfg.max_ring_order,
		 bk.cfg.max_queues);
	for (;;) {
		rc = sigwait(&set, &sig);
		if (rc == EINTR)
			continue;
		if (rc || sig != SIGUSR1)
			break;
		bk_xenbus_log_stats(&bk);
	}
	pvk_info("signal %d: stopping", rc ? 0 : sig);
	bk_xenbus_stop(&bk);
	rc = 0;
out:
	xs_client_close(bk.xs);
	pvk_platform_close(bk.plat);
	return rc ? 1 : 0;
}
