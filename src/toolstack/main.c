/* main.c - pvkit: the Dom0 toolstack's command line, in the spirit of xl. */
#include "toolstack.h"
#include "common/log.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

void ts_init(struct ts *ts)
{
	const char *st = getenv("PVKIT_STATE_DIR");
	char self[256];
	ssize_t n;

	memset(ts, 0, sizeof(*ts));
	snprintf(ts->state, sizeof(ts->state), "%s", st ? st : "/run/pvkit");
	snprintf(ts->hv_sock, sizeof(ts->hv_sock), "%s/hv.sock", ts->state);
	snprintf(ts->xs_sock, sizeof(ts->xs_sock), "%s/xenstored.sock",
		 ts->state);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = 0;
		snprintf(ts->self_dir, sizeof(ts->self_dir), "%s",
			 dirname(self));
	}
	/* The platform (emulated) reaches hvd as a Dom0 process by its
	 * socket, never through a DomU's inherited channel. */
	setenv("PVKIT_HV_SOCK", ts->hv_sock, 1);
	unsetenv("PVKIT_HV_FD");
	setenv("XENSTORED_PATH", ts->xs_sock, 1);
}

void ts_helper(const struct ts *ts, const char *env, const char *name,
	       char *out, size_t len)
{
	const char *e = getenv(env);

	if (e && *e) {
		snprintf(out, len, "%s", e);
		return;
	}
	snprintf(out, len, "%s/%s", ts->self_dir, name);
	if (access(out, X_OK) == 0)
		return;
	snprintf(out, len, "%s", name); /* PATH */
}

int ts_dom0(const struct ts *ts, struct pvk_platform **plat)
{
	int rc = pvk_platform_open(NULL, plat);

	if (rc) {
		/* The platform has said what failed (the socket, /dev/xen). */
		fprintf(stderr, "pvkit: cannot reach the hypervisor of %s\n"
				"       (is the host started? try: pvkit host "
				"start)\n",
			ts->state);
		return rc;
	}
	if (!(*plat)->domctl) {
		fprintf(stderr, "pvkit: the %s platform gives this process no "
				"domain control (not privileged?)\n",
			(*plat)->name);
		pvk_platform_close(*plat);
		*plat = NULL;
		return -EPERM;
	}
	return 0;
}

int ts_lookup(struct pvk_platform *plat, const char *what, domid_t *domid)
{
	int rc = ts_find(plat, what, domid);

	if (rc)
		fprintf(stderr, "pvkit: no domain named or numbered '%s'\n",
			what);
	return rc;
}

int ts_find(struct pvk_platform *plat, const char *what, domid_t *domid)
{
	struct pvk_dominfo info[256];
	char *end;
	unsigned long id = strtoul(what, &end, 10);
	int n, i;

	n = plat->domctl->list(plat, 0, info, 256);
	for (i = 0; i < n; i++) {
		if ((*what && !*end && info[i].domid == id) ||
		    !strcmp(info[i].name, what)) {
			*domid = info[i].domid;
			return 0;
		}
	}
	return -ESRCH;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pvkit COMMAND [ARGS]\n"
		"  host start|status          the emulated host: hypervisor, "
		"xenstored, consoled, blkback,\n"
		"                             netback (and the bridge "
		"xenbr0)\n"
		"  host stop [-f] [-w SECS]   power the domains off (-f: destroy "
		"what stays), stop the host\n"
		"  create CFG                 create a domain from an xl.cfg "
		"file\n"
		"  list [--json]              list domains\n"
		"  destroy DOM                destroy a domain now\n"
		"  domid NAME | domname ID    a domain's id from its name, or "
		"the name from the id\n"
		"  uptime [-s] [DOM...]       how long each domain has run\n"
		"  shutdown [-w] DOM          ask a domain to power off\n"
		"  reboot [-w] DOM            ask a domain to reboot\n"
		"  pause DOM | unpause DOM\n"
		"  info                       hypervisor information\n"
		"  console DOM                attach to a domain's console "
		"(Ctrl-] leaves)\n"
		"  block-attach DOM DISK-SPEC hot-plug a disk (xl disk syntax; "
		"target may be nbd://...)\n"
		"  block-detach [-f] DOM VDEV hot-unplug a disk\n"
		"  block-list DOM...          list domains' disks\n"
		"  network-attach DOM SPEC    hot-plug a network interface "
		"(xl vif= syntax)\n"
		"  network-detach [-f] DOM DEVID|MAC\n"
		"                             hot-unplug a network interface\n"
		"  network-list DOM...        list domains' network "
		"interfaces\n"
		"Environment: PVKIT_STATE_DIR (default /run/pvkit).\n");
}

int main(int argc, char **argv)
{
	struct ts ts;
	const char *cmd;

	pvk_log_init("pvkit", PVK_LOG_WARN);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	ts_init(&ts);
	cmd = argv[1];
	argc -= 1;
	argv += 1;
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") ||
	    !strcmp(cmd, "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "host"))
		return cmd_host(&ts, argc, argv);
	if (!strcmp(cmd, "create"))
		return cmd_create(&ts, argc, argv);
	if (!strcmp(cmd, "list"))
		return cmd_list(&ts, argc, argv);
	if (!strcmp(cmd, "destroy"))
		return cmd_destroy(&ts, argc, argv);
	if (!strcmp(cmd, "domid"))
		return cmd_domid(&ts, argc, argv, false);
	if (!strcmp(cmd, "domname"))
		return cmd_domid(&ts, argc, argv, true);
	if (!strcmp(cmd, "shutdown"))
		return cmd_shutdown(&ts, argc, argv, "poweroff");
	if (!strcmp(cmd, "reboot"))
		return cmd_shutdown(&ts, argc, argv, "reboot");
	if (!strcmp(cmd, "pause"))
		return cmd_pause(&ts, argc, argv, true);
	if (!strcmp(cmd, "unpause"))
		return cmd_pause(&ts, argc, argv, false);
	if (!strcmp(cmd, "info"))
		return cmd_info(&ts, argc, argv);
	if (!strcmp(cmd, "uptime"))
		return cmd_uptime(&ts, argc, argv);
	if (!strcmp(cmd, "console"))
		return cmd_console(&ts, argc, argv);
	if (!strcmp(cmd, "block-attach"))
		return cmd_block_attach(&ts, argc, argv);
	if (!strcmp(cmd, "block-detach"))
		return cmd_block_detach(&ts, argc, argv);
	if (!strcmp(cmd, "block-list"))
		return cmd_block_list(&ts, argc, argv);
	if (!strcmp(cmd, "network-attach"))
		return cmd_network_attach(&ts, argc, argv);
	if (!strcmp(cmd, "network-detach"))
		return cmd_network_detach(&ts, argc, argv);
	if (!strcmp(cmd, "network-list"))
		return cmd_network_list(&ts, argc, argv);
	if (!strcmp(cmd, "__monitor"))
		return cmd_monitor(&ts, argc, argv);
	fprintf(stderr, "pvkit: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
