/*
 * daemon.c - the daemon skeleton (daemon.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/daemon.h"
#include "common/util.h"

static void usage(FILE *f, const struct pvk_daemon_spec *s)
{
	fprintf(f, "usage: %s %s\n", s->name, s->synopsis ? s->synopsis : "");
	if (s->usage)
		fputs(s->usage, f);
	if (s->flags & PVK_DAEMON_XS_OPT)
		fputs("  -s, --xenstore PATH       xenstored socket (default: "
		      "the platform's,\n"
		      "                            $XENSTORED_PATH, "
		      "/var/run/xenstored/socket)\n",
		      f);
	if (s->flags & PVK_DAEMON_PLATFORM_OPT)
		fputs("  -p, --platform NAME       emulated|xen (default: from "
		      "the environment)\n",
		      f);
	fputs("  -F, --pid-file PATH       write the pid here once serving\n"
	      "  -v, --verbose             debug logging\n"
	      "  -h, --help                this text\n",
	      f);
	if (s->footer)
		fputs(s->footer, f);
}

int pvk_daemon_parse(struct pvk_daemon *d, const struct pvk_daemon_spec *spec,
		     void *arg, int argc, char **argv)
{
	struct option lopts[PVK_DAEMON_MAX_OPTS + 6];
	char sopts[2 * PVK_DAEMON_MAX_OPTS + 16];
	unsigned int n = 0;
	int c;

	memset(d, 0, sizeof(*d));
	d->spec = spec;
	d->level = PVK_LOG_INFO;
	d->sig_fd = -1;
	snprintf(sopts, sizeof(sopts), "%sF:vh%s%s",
		 spec->shortopts ? spec->shortopts : "",
		 (spec->flags & PVK_DAEMON_PLATFORM_OPT) ? "p:" : "",
		 (spec->flags & PVK_DAEMON_XS_OPT) ? "s:" : "");
	while (spec->longopts && spec->longopts[n].name &&
	       n < PVK_DAEMON_MAX_OPTS) {
		lopts[n] = spec->longopts[n];
		n++;
	}
	lopts[n++] = (struct option){"pid-file", required_argument, NULL, 'F'};
	lopts[n++] = (struct option){"verbose", no_argument, NULL, 'v'};
	lopts[n++] = (struct option){"help", no_argument, NULL, 'h'};
	if (spec->flags & PVK_DAEMON_PLATFORM_OPT)
		lopts[n++] =
		    (struct option){"platform", required_argument, NULL, 'p'};
	if (spec->flags & PVK_DAEMON_XS_OPT)
		lopts[n++] =
		    (struct option){"xenstore", required_argument, NULL, 's'};
	lopts[n] = (struct option){NULL, 0, NULL, 0};
	while ((c = getopt_long(argc, argv, sopts, lopts, NULL)) != -1) {
		switch (c) {
		case 'F':
			d->pid_file = optarg;
			break;
		case 'v':
			d->level = PVK_LOG_DEBUG;
			break;
		case 'h':
			usage(stdout, spec);
			return 1;
		case 'p':
			if (spec->flags & PVK_DAEMON_PLATFORM_OPT) {
				d->platform = optarg;
				break;
			}
			goto own;
		case 's':
			if (spec->flags & PVK_DAEMON_XS_OPT) {
				d->xs_path = optarg;
				break;
			}
			goto own;
		case '?':
			usage(stderr, spec);
			return 2;
		default:
		own:
			if (!spec->option || spec->option(arg, c, optarg))
				return 2;
			break;
		}
	}
	return 0;
}

int pvk_daemon_setup(struct pvk_daemon *d, const int *extra_signals,
		     bool signal_fd)
{
	pvk_log_init(d->spec->name, d->level);
	sigemptyset(&d->sigs);
	sigaddset(&d->sigs, SIGTERM);
	sigaddset(&d->sigs, SIGINT);
	while (extra_signals && *extra_signals)
		sigaddset(&d->sigs, *extra_signals++);
	/* Threads started later inherit the mask: only we take them. */
	pthread_sigmask(SIG_BLOCK, &d->sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (signal_fd) {
		d->sig_fd = signalfd(-1, &d->sigs, SFD_CLOEXEC | SFD_NONBLOCK);
		if (d->sig_fd < 0) {
			pvk_err("signalfd: %s", strerror(errno));
			return -errno;
		}
	}
	pvk_raise_nofile();
	return 0;
}

void pvk_daemon_ready(struct pvk_daemon *d)
{
	if (!d->pid_file)
		return;
	if (pvk_write_pidfile(d->pid_file))
		pvk_warn("cannot write %s", d->pid_file);
	else
		d->pid_written = true;
}

int pvk_daemon_wait(struct pvk_daemon *d)
{
	int sig, rc;

	do
		rc = sigwait(&d->sigs, &sig);
	while (rc == EINTR);
	return rc ? SIGTERM : sig;
}

void pvk_daemon_xs_lost(void *arg, int err)
{
	struct pvk_daemon *d = arg;

	__atomic_store_n(&d->xs_lost, true, __ATOMIC_RELEASE);
	pvk_err("xenstore did not come back (%s): stopping", strerror(-err));
	kill(getpid(), SIGTERM);
}

void pvk_daemon_end(struct pvk_daemon *d)
{
	if (d->pid_written)
		unlink(d->pid_file);
	d->pid_written = false;
	if (d->sig_fd >= 0)
		close(d->sig_fd);
	d->sig_fd = -1;
}
