/* main.c - pvkit: the Dom0 toolstack's command line, in the spirit of xl. */
#include "common/log.h"
#include "pvkit/xs.h"
#include "toolstack.h"

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

int ts_xs_open(const struct ts *ts, struct xs_client **xs)
{
	int rc = -ECONNREFUSED, i;

	/* a pvkit-xenstored being started again by the supervisor is back
	 * within a moment, with its store */
	for (i = 0; i < 100; i++) {
		rc = xs_client_open_path(ts->xs_sock, xs);
		if (rc != -ECONNREFUSED && rc != -ENOENT)
			break;
		if (!ts_supervised(ts))
			break; /* nobody is starting it */
		usleep(50000);
	}
	if (rc == 0)
		xs_client_set_reconnect(*xs, 5000, NULL, NULL);
	return rc;
}

int ts_dom0(const struct ts *ts, struct pvk_platform **plat)
{
	int rc = pvk_platform_open(NULL, plat);

	if (rc) {
		/* The platform has said what failed (the socket, /dev/xen). */
		fprintf(stderr,
			"pvkit: cannot reach the hypervisor of %s\n"
			"       (is the host started? try: pvkit host "
			"start)\n",
			ts->state);
		return rc;
	}
	if (!(*plat)->domctl) {
		fprintf(stderr,
			"pvkit: the %s platform gives this process no "
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

/* The verbs with xl's names: how each is called and what it does (the
 * one source of `pvkit help`, `pvkit help VERB` and `VERB --help`). */
typedef int (*verb_fn)(struct ts *ts, int argc, char **argv);

static int v_domid(struct ts *ts, int argc, char **argv)
{
	return cmd_domid(ts, argc, argv, false);
}
static int v_domname(struct ts *ts, int argc, char **argv)
{
	return cmd_domid(ts, argc, argv, true);
}
static int v_shutdown(struct ts *ts, int argc, char **argv)
{
	return cmd_shutdown(ts, argc, argv, "poweroff");
}
static int v_reboot(struct ts *ts, int argc, char **argv)
{
	return cmd_shutdown(ts, argc, argv, "reboot");
}
static int v_pause(struct ts *ts, int argc, char **argv)
{
	return cmd_pause(ts, argc, argv, true);
}
static int v_unpause(struct ts *ts, int argc, char **argv)
{
	return cmd_pause(ts, argc, argv, false);
}

static const struct verb {
	const char *name;
	const char *brief; /* in the list */
	verb_fn fn;
	const char *args;
	const char *what;
} verbs[] = {
    {"host", "the emulated host: start, status, stop", cmd_host,
     "start|status | stop [-f] [-w SECS]",
     "start the emulated host (pvkit-hvd, -xenstored, -consoled, -blkback, "
     "-netback under a supervisor, and the bridge xenbr0), show its "
     "daemons, or stop it: the domains are powered off first (-w: wait up "
     "to SECS, default 30; -f: destroy what stays)"},
    {"create", "create a domain from an xl.cfg file", cmd_create,
     "[-p] [-c] [-q] [-f CFG | CFG] [KEY=VALUE...]",
     "create a domain from an xl.cfg file; KEY=VALUE settings (xl.cfg "
     "syntax: name='web2') replace the file's; -p: leave it paused; -c: "
     "attach to its console; -q: say nothing"},
    {"list", "list the domains", cmd_list, "[-l | --json]",
     "list the domains (xl's columns; -l: each one's state and "
     "configuration as JSON, in libxl's shape; --json: with their "
     "vifs)"},
    {"destroy", "destroy a domain now", cmd_destroy, "DOM",
     "destroy a domain now"},
    {"domid", "a domain's id from its name", v_domid, "NAME",
     "a domain's id from its name"},
    {"domname", "a domain's name from its id", v_domname, "ID",
     "a domain's name from its id"},
    {"rename", "give a domain a new name", cmd_rename, "DOM NEWNAME",
     "give a domain a new name: in the hypervisor, in xenstore\n"
     "(/local/domain/<id>/name, /vm/<uuid>/name) and in its saved\n"
     "configuration; a restart keeps it"},
    {"uptime", "how long each domain has run", cmd_uptime, "[-s] [DOM...]",
     "how long each domain (or those named) has run; -s: one short line "
     "each"},
    {"top", "the domains' use of the host, refreshed", cmd_top,
     "[-b] [-d SECONDS] [-i ITERATIONS]",
     "xentop's table of the domains every SECONDS (default 3): state, CPU "
     "seconds and %, memory, vCPUs, vifs and their traffic, vbds; -b: "
     "frames one after another; -i: that many frames"},
    {"vcpu-list", "each domain's vCPUs", cmd_vcpu_list, "[DOM...]",
     "each vCPU of every domain (or of those named): the host CPU it last "
     "ran on, its state (r running, b blocked, p paused), CPU seconds and "
     "affinity; a domain's vCPUs are its kernel's vcpuN threads"},
    {"shutdown", "ask a domain to power off", v_shutdown, "[-w] DOM | -a [-w]",
     "ask a domain (-a: every domain but Domain-0) to power off (-w: wait "
     "until they have)"},
    {"reboot", "ask a domain to reboot", v_reboot, "[-w] DOM | -a [-w]",
     "ask a domain (-a: every domain but Domain-0) to reboot (-w: wait "
     "until they have)"},
    {"pause", "pause a domain", v_pause, "DOM", "pause a domain"},
    {"unpause", "unpause a domain", v_unpause, "DOM", "unpause a domain"},
    {"dmesg", "the host's daemons' messages", cmd_dmesg,
     "[-c] [hvd|xenstored|consoled|blkback|netback|supervisor]",
     "print the messages of the host's daemons (pvkit-hvd's first, as "
     "xl's are the hypervisor's) and of its supervisor, or of one of "
     "them; -c: clear what was printed"},
    {"info", "the host and hypervisor", cmd_info, "",
     "the host and hypervisor"},
    {"console", "attach to a domain's console", cmd_console, "DOM",
     "attach to a domain's console (Ctrl-] leaves)"},
    {"block-attach", "hot-plug a disk", cmd_block_attach, "DOM DISK-SPEC",
     "hot-plug a disk (xl's disk syntax; target may be nbd://...)"},
    {"block-detach", "hot-unplug a disk", cmd_block_detach, "[-f] DOM VDEV",
     "hot-unplug a disk"},
    {"block-list", "list domains' disks", cmd_block_list, "DOM...",
     "list domains' disks"},
    {"network-attach", "hot-plug a network interface", cmd_network_attach,
     "DOM VIF-SPEC", "hot-plug a network interface (xl's vif= syntax)"},
    {"network-detach", "hot-unplug a network interface", cmd_network_detach,
     "[-f] DOM DEVID|MAC", "hot-unplug a network interface"},
    {"network-list", "list domains' network interfaces", cmd_network_list,
     "DOM...", "list domains' network interfaces"},
    {"help", "this list, or one verb's", NULL, "[VERB]",
     "this list, or one verb's"},
};

static const struct verb *verb_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (!strcmp(verbs[i].name, name))
			return &verbs[i];
	return NULL;
}

static void verb_help(FILE *f, const struct verb *v)
{
	fprintf(f, "usage: pvkit %s%s%s\n\n  %s\n", v->name,
		*v->args ? " " : "", v->args, v->what);
}

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: pvkit VERB [ARGS]   (pvkit help VERB, or "
		   "pvkit VERB --help: one verb)\n");
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		const struct verb *v = &verbs[i];
		int n = fprintf(f, "  %s %s", v->name, v->args);

		if (n > 36)
			fprintf(f, "\n%38s%s\n", "", v->brief);
		else
			fprintf(f, "%*s%s\n", 38 - n, "", v->brief);
	}
	fprintf(f, "Environment: PVKIT_STATE_DIR (default /run/pvkit).\n");
}

int main(int argc, char **argv)
{
	const struct verb *v;
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
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") ||
	    (!strcmp(cmd, "help") && argc == 1)) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "help")) {
		v = argc == 2 ? verb_find(argv[1]) : NULL;
		if (!v) {
			fprintf(stderr, "pvkit: help: %s\n",
				argc == 2 ? "no such verb"
					  : "one verb at a time");
			usage(stderr);
			return 2;
		}
		verb_help(stdout, v);
		return 0;
	}
	if (!strcmp(cmd, "__monitor"))
		return cmd_monitor(&ts, argc, argv);
	v = verb_find(cmd);
	if (!v) {
		fprintf(stderr, "pvkit: unknown verb '%s'\n", cmd);
		usage(stderr);
		return 2;
	}
	if (argc == 2 &&
	    (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		verb_help(stdout, v);
		return 0;
	}
	return v->fn(&ts, argc, argv);
}
