/*
 * tool.c - pvkit-netfront: one vif of this domain as a TAP interface,
 * through pvkit's netfront, from the command line.  On real Xen it runs in
 * a Linux domain's userspace (gntalloc, evtchn, /dev/xen/xenbus) whose
 * kernel leaves the vif alone (xen-netfront not loaded); on the emulated
 * platform in any process the platform and xenstore client open for.
 *
 *   pvkit-netfront [OPTIONS] DEVID
 *
 * The interface (eth<DEVID>, or --name) gets the MAC and MTU from xenstore
 * and is up in this network namespace; give it an address and use it
 * (ip addr add ...; ping; iperf3).  Once connected one "features:" line of
 * key=value pairs goes to stdout; SIGUSR1 prints a "stats:" line, and so
 * does SIGTERM or SIGINT, which close the device and end the program.
 * Exit status 0 after a clean stop, 1 when the device failed or broke.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "nettap.h"
#include "pvkit/netfront.h"
#include "pvkit/platform.h"
#include "pvkit/xs.h"

static void print_features(const struct netfront *nf, const char *ifname)
{
	const struct netfront_info *in = netfront_info(nf);

	printf("features: interface=%s queues=%u sg=%d split-event-channels=%d "
	       "gso-tcpv4=%d gso-tcpv6=%d rx-gso=%d csum-offload=%d mtu=%u "
	       "mac=%02x:%02x:%02x:%02x:%02x:%02x\n",
	       ifname, in->nr_queues, in->sg, in->split_evtchn, in->gso_tcpv4,
	       in->gso_tcpv6, in->rx_gso, in->csum_offload, in->mtu, in->mac[0],
	       in->mac[1], in->mac[2], in->mac[3], in->mac[4], in->mac[5]);
	fflush(stdout);
}

static void print_stats(const struct netfront *nf)
{
	const struct netfront_info *in = netfront_info(nf);
	struct netfront_stats st;
	unsigned int q;

	netfront_get_stats(nf, &st);
	printf("stats: tx-frames=%" PRIu64 " tx-bytes=%" PRIu64
	       " tx-slots=%" PRIu64 " tx-errors=%" PRIu64 " rx-frames=%" PRIu64
	       " rx-bytes=%" PRIu64 " rx-slots=%" PRIu64 " rx-errors=%" PRIu64
	       " rx-too-big=%" PRIu64 " events=%" PRIu64
	       " spurious-events=%" PRIu64 " reconnects=%" PRIu64
	       " per-queue-tx/rx=",
	       st.tx_frames, st.tx_bytes, st.tx_slots, st.tx_errors,
	       st.rx_frames, st.rx_bytes, st.rx_slots, st.rx_errors,
	       st.rx_too_big, st.events, st.spurious_events, st.reconnects);
	for (q = 0; q < in->nr_queues && q < NETFRONT_MAX_QUEUES; q++)
		printf("%sq%u:%" PRIu64 "/%" PRIu64, q ? "," : "", q,
		       st.queue_tx_frames[q], st.queue_rx_frames[q]);
	printf(" broken=%d\n", netfront_broken(nf));
	fflush(stdout);
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: pvkit-netfront [OPTIONS] DEVID\n"
	    "  -P, --platform=NAME  emulated|xen (default: detected)\n"
	    "  -n, --name=IFNAME    the TAP interface (default eth<DEVID>)\n"
	    "  -q, --queues=N       queues wanted (1-%u, default 1; the "
	    "backend caps it)\n"
	    "      --no-offload     no SG, GSO or checksum offload "
	    "(rx-copy only)\n"
	    "  -t, --timeout=MS     each xenbus step (default 10000)\n"
	    "  -v, --verbose\n"
	    "Runs until SIGTERM or SIGINT; SIGUSR1 prints the counters.\n",
	    NETFRONT_MAX_QUEUES);
}

/* Wait for SIGTERM/SIGINT (printing stats on SIGUSR1) or a broken device. */
static int serve(struct netfront *nf, int sfd)
{
	struct signalfd_siginfo si;
	struct pollfd p = {.fd = sfd, .events = POLLIN};

	for (;;) {
		if (poll(&p, 1, 1000) < 0 && errno != EINTR)
			return -errno;
		if (netfront_broken(nf)) {
			fprintf(stderr, "pvkit-netfront: the device failed\n");
			return -EIO;
		}
		if (!(p.revents & POLLIN))
			continue;
		if (read(sfd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (si.ssi_signo == SIGUSR1) {
			print_stats(nf);
			continue;
		}
		return 0;
	}
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"platform", required_argument, NULL, 'P'},
	    {"name", required_argument, NULL, 'n'},
	    {"queues", required_argument, NULL, 'q'},
	    {"no-offload", no_argument, NULL, 'O'},
	    {"timeout", required_argument, NULL, 't'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct netfront_opts o = {
	    .num_queues = 1, .sg = true, .split_evtchn = true, .gso = true};
	const char *which = NULL, *name = NULL;
	struct pvk_platform *plat = NULL;
	struct xs_client *xs = NULL;
	struct netfront *nf = NULL;
	struct nettap *tap = NULL;
	enum pvk_log_level lvl = PVK_LOG_WARN;
	char ifname[16];
	sigset_t set;
	uint64_t v, devid;
	int c, rc, sfd = -1;

	while ((c = getopt_long(argc, argv, "P:n:q:t:vh", lopts, NULL)) != -1) {
		switch (c) {
		case 'P':
			which = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'q':
			if (pvk_parse_u64(optarg, 1, NETFRONT_MAX_QUEUES, &v))
				goto bad;
			o.num_queues = (unsigned int)v;
			break;
		case 'O':
			o.sg = o.gso = false;
			o.no_csum_offload = true;
			break;
		case 't':
			if (pvk_parse_u64(optarg, 1, 600000, &v))
				goto bad;
			o.timeout_ms = (int)v;
			break;
		case 'v':
			lvl = PVK_LOG_INFO;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto bad;
		}
	}
	if (argc - optind != 1 ||
	    pvk_parse_u64(argv[optind], 0, UINT32_MAX, &devid))
		goto bad;
	if (name && (!name[0] || strlen(name) >= sizeof(ifname) ||
		     strchr(name, '/') || strchr(name, ' '))) {
		fprintf(stderr,
			"pvkit-netfront: --name: not an interface "
			"name: '%s'\n",
			name);
		return 2;
	}
	snprintf(ifname, sizeof(ifname), "%s", name ? name : "");
	if (!name)
		snprintf(ifname, sizeof(ifname), "eth%" PRIu64,
			 devid % 100000000);
	pvk_log_init("pvkit-netfront", lvl);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	/* Blocked before any thread starts, so only the signalfd sees them. */
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) ||
	    (sfd = signalfd(-1, &set, SFD_CLOEXEC)) < 0) {
		fprintf(stderr, "pvkit-netfront: signals: %s\n",
			strerror(errno));
		return 1;
	}
	rc = pvk_platform_open(which, &plat);
	if (rc) {
		fprintf(stderr, "pvkit-netfront: platform: %s\n",
			strerror(-rc));
		goto out;
	}
	rc = xs_client_open_platform(plat, &xs);
	if (rc) {
		fprintf(stderr, "pvkit-netfront: xenstore: %s\n",
			strerror(-rc));
		goto out;
	}
	pvk_info("platform %s, xenstore open; connecting vif %" PRIu64,
		 plat->name, devid);
	rc = netfront_open(plat, xs, (uint32_t)devid, &o, &nf);
	if (rc) {
		fprintf(stderr, "pvkit-netfront: vif %" PRIu64 ": %s\n", devid,
			strerror(-rc));
		goto out;
	}
	rc = nettap_start(nf, NULL, ifname, &tap);
	if (rc) {
		fprintf(stderr, "pvkit-netfront: interface %s: %s\n", ifname,
			strerror(-rc));
		goto out;
	}
	print_features(nf, ifname);
	rc = serve(nf, sfd);
	print_stats(nf);
out:
	nettap_stop(tap);
	netfront_close(nf);
	xs_client_close(xs);
	pvk_platform_close(plat);
	close(sfd);
	return rc ? 1 : 0;
bad:
	usage(stderr);
	return 2;
}
