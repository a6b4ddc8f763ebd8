/*
 * main.c - pvkit-netback: the Dom0 network backend service.  Serves every
 * vif whose backend directory appears under
 * /local/domain/<self>/backend/vif, until SIGTERM/SIGINT.  SIGUSR1 logs
 * every vif's counters (one "vif/<fe>/<devid> stats: ..." line each, as at
 * disconnection).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/daemon.h"
#include "common/log.h"
#include "common/util.h"
#include "netback.h"

/* The busy-poll budget, from --poll-us or $PVKIT_NET_POLL_US (what). */
static int parse_poll_us(const char *val, const char *what, unsigned int *out)
{
	uint64_t v;

	if (pvk_parse_u64(val, 0, NB_MAX_POLL_US, &v)) {
		fprintf(stderr, "pvkit-netback: %s: 0-%u\n", what,
			NB_MAX_POLL_US);
		return -EINVAL;
	}
	*out = (unsigned int)v;
	return 0;
}

static int nb_option(void *arg, int c, const char *val)
{
	struct nb_config *cfg = &((struct nb *)arg)->cfg;
	uint64_t v;

	switch (c) {
	case 'q':
		if (!pvk_parse_u64(val, 1, NB_MAX_QUEUES, &v)) {
			cfg->max_queues = (unsigned int)v;
			return 0;
		}
		fprintf(stderr, "pvkit-netback: --max-queues: 1-%u\n",
			NB_MAX_QUEUES);
		return -EINVAL;
	case 'u':
		return parse_poll_us(val, "--poll-us", &cfg->poll_us);
	case 'S':
		cfg->sg = false;
		return 0;
	case 'G':
		cfg->gso = false;
		return 0;
	case 'E':
		cfg->split = false;
		return 0;
	case 'M':
		cfg->mcast = false;
		return 0;
	case 'C':
		cfg->ctrl = false;
		return 0;
	case 'N':
		cfg->no_scripts = true;
		return 0;
	case 'T':
		cfg->copy = true;
		return 0;
	case 'I':
		if (!pvk_parse_u64(val, 0, NB_MAX_PKT, &v)) {
			cfg->inplace_min = (unsigned int)v;
			return 0;
		}
		fprintf(stderr, "pvkit-netback: --in-place-min: 0-%u\n",
			NB_MAX_PKT);
		return -EINVAL;
	case 'L': /* what a backend without the later features offers */
		cfg->sg = cfg->gso = cfg->split = cfg->mcast = cfg->ctrl =
		    false;
		cfg->max_queues = 1;
		return 0;
	default:
		return -EINVAL;
	}
}

static const struct option nb_lopts[] = {
    {"max-queues", required_argument, NULL, 'q'},
    {"poll-us", required_argument, NULL, 'u'},
    {"no-sg", no_argument, NULL, 'S'},
    {"no-gso", no_argument, NULL, 'G'},
    {"no-split-event-channels", no_argument, NULL, 'E'},
    {"no-multicast", no_argument, NULL, 'M'},
    {"no-ctrl-ring", no_argument, NULL, 'C'},
    {"legacy", no_argument, NULL, 'L'},
    {"no-scripts", no_argument, NULL, 'N'},
    {"copy", no_argument, NULL, 'T'},
    {"in-place-min", required_argument, NULL, 'I'},
    {NULL, 0, NULL, 0},
};

static const struct pvk_daemon_spec nb_spec = {
    .name = "pvkit-netback",
    .synopsis = "[options]",
    .usage = "  -q, --max-queues N        multi-queue-max-queues (1-8, "
	     "default 4)\n"
	     "      --no-sg, --no-gso, --no-split-event-channels, "
	     "--no-multicast,\n"
	     "      --no-ctrl-ring        offer less (as an older backend "
	     "does)\n"
	     "      --legacy              all of those and one queue\n"
	     "  -u, --poll-us N           watch an idle TX ring N us before "
	     "sleeping\n"
	     "                            (adaptive; 0-1000; default 0: "
	     "never, or\n"
	     "                            $PVKIT_NET_POLL_US)\n"
	     "      --copy                move packets through our buffers, "
	     "also where\n"
	     "                            the TAP can read and write the "
	     "guests' pinned\n"
	     "                            pages in place (for comparison; or "
	     "$PVKIT_NET_COPY=1)\n"
	     "      --in-place-min BYTES  received packets go in place while "
	     "they average\n"
	     "                            that much (0: always; default "
	     "8192)\n"
	     "      --no-scripts          the toolstack runs the vifs' "
	     "hotplug scripts\n"
	     "                            (xl/libxl do): never run them "
	     "here\n",
    .footer = "Each vif is a TAP interface vif<domid>.<devid> (or the "
	      "backend's vifname),\njoined to the bridge its 'bridge' node "
	      "names, or by its 'script' (run here\nonline and offline, "
	      "unless --no-scripts).  SIGUSR1 logs each vif's counters;\n"
	      "SIGTERM/SIGINT stop.\n",
    .shortopts = "q:u:",
    .longopts = nb_lopts,
    .option = nb_option,
    .flags = PVK_DAEMON_PLATFORM_OPT | PVK_DAEMON_XS_OPT,
};

int main(int argc, char **argv)
{
	static const int sigs[] = {SIGUSR1, 0};
	struct pvk_daemon dmn;
	struct nb nb;
	int rc;

	memset(&nb, 0, sizeof(nb));
	nb.cfg.max_queues = NB_DEFAULT_QUEUES;
	nb.cfg.poll_us = NB_DEFAULT_POLL_US;
	if (getenv("PVKIT_NET_POLL_US") &&
	    parse_poll_us(getenv("PVKIT_NET_POLL_US"), "PVKIT_NET_POLL_US",
			  &nb.cfg.poll_us))
		return 2;
	nb.cfg.sg = nb.cfg.gso = nb.cfg.split = nb.cfg.mcast = nb.cfg.ctrl =
	    true;
	nb.cfg.inplace_min = NB_DEFAULT_INPLACE_MIN;
	nb.cfg.copy =
	    getenv("PVKIT_NET_COPY") && !strcmp(getenv("PVKIT_NET_COPY"), "1");
	rc = pvk_daemon_parse(&dmn, &nb_spec, &nb, argc, argv);
	if (rc)
		return rc == 1 ? 0 : 2;
	if (pvk_daemon_setup(&dmn, sigs, false))
		return 1;
	rc = pvk_platform_open(dmn.platform, &nb.plat);
	if (rc) {
		pvk_err("cannot open the platform: %s", strerror(-rc));
		return 1;
	}
	rc = dmn.xs_path ? xs_client_open_path(dmn.xs_path, &nb.xs)
			 : xs_client_open_platform(nb.plat, &nb.xs);
	if (rc) {
		pvk_err("cannot connect to xenstore: %s", strerror(-rc));
		pvk_platform_close(nb.plat);
		return 1;
	}
	/* a restarted pvkit-xenstored keeps its store: carry on with it */
	xs_client_set_reconnect(nb.xs, PVK_DAEMON_XS_RECONNECT_MS,
				pvk_daemon_xs_lost, &dmn);
	rc = nb_xenbus_start(&nb);
	if (rc) {
		pvk_err("cannot watch the backend directory: %s",
			strerror(-rc));
		goto out;
	}
	pvk_daemon_ready(&dmn);
	pvk_info("serving %s (queues <= %u, sg %s, gso %s, split event "
		 "channels %s, multicast control %s, control ring %s)",
		 xenbus_backend_base(nb.be), nb.cfg.max_queues,
		 nb.cfg.sg ? "on" : "off", nb.cfg.gso ? "on" : "off",
		 nb.cfg.split ? "on" : "off", nb.cfg.mcast ? "on" : "off",
		 nb.cfg.ctrl ? "on" : "off");
	while ((rc = pvk_daemon_wait(&dmn)) == SIGUSR1)
		nb_xenbus_log_stats(&nb);
	pvk_info("signal %d: stopping", rc);
	nb_xenbus_stop(&nb);
	rc = 0;
out:
	xs_client_close(nb.xs);
	pvk_platform_close(nb.plat);
	pvk_daemon_end(&dmn);
	return rc || dmn.xs_lost ? 1 : 0;
}
