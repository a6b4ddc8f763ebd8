/*
 * daemon.h - the skeleton every pvkit daemon's main() shares: the common
 * options (-F/--pid-file, -v/--verbose, -h/--help, and where the daemon
 * has them -p/--platform and -s/--xenstore), usage text, logging, signals
 * taken synchronously (sigwait or a signalfd), SIGPIPE ignored, the open
 * file limit raised, the pid file written once serving and removed at the
 * end.  The daemon adds its own options through its spec.
 */
#ifndef PVKIT_COMMON_DAEMON_H
#define PVKIT_COMMON_DAEMON_H

#include <getopt.h>
#include <signal.h>
#include <stdbool.h>

#include "common/log.h"

#define PVK_DAEMON_PLATFORM_OPT (1u << 0) /* -p/--platform NAME */
#define PVK_DAEMON_XS_OPT (1u << 1)	  /* -s/--xenstore PATH */
#define PVK_DAEMON_MAX_OPTS 32

struct pvk_daemon_spec {
	const char *name;      /* "pvkit-blkback": logs and usage */
	const char *synopsis;  /* after the name in usage: "[options]" */
	const char *usage;     /* the daemon's own option lines, or NULL */
	const char *footer;    /* after the common lines, or NULL */
	const char *shortopts; /* the daemon's own getopt letters */
	const struct option
	    *longopts; /* its own, NULL-terminated; may be NULL */
	/* One of the daemon's own options: 0, or -EINVAL after printing
	 * what is wrong (the daemon then exits 2). */
	int (*option)(void *arg, int c, const char *optarg);
	unsigned int flags; /* PVK_DAEMON_*_OPT */
};

struct pvk_daemon {
	const struct pvk_daemon_spec *spec;
	const char *pid_file;
	const char *platform; /* -p, or NULL: from the environment */
	const char *xs_path;  /* -s, or NULL: the platform's */
	enum pvk_log_level level;
	sigset_t sigs; /* taken synchronously */
	int sig_fd;    /* with signalfd, else -1 */
	bool pid_written;
	bool xs_lost; /* xenstore did not come back: exit 1 */
};

/* How long a daemon's xenstore connection waits for a restarted
 * pvkit-xenstored (xs_client_set_reconnect). */
#define PVK_DAEMON_XS_RECONNECT_MS 30000u

/* Parse argv.  0: go on (optind is past the options); 1: help was
 * printed (exit 0); 2: a usage error was printed (exit 2). */
int pvk_daemon_parse(struct pvk_daemon *d, const struct pvk_daemon_spec *spec,
		     void *arg, int argc, char **argv);
/* Before any thread starts: logging, SIGTERM, SIGINT and the extra
 * signals (0-terminated, may be NULL) blocked for synchronous taking (by
 * pvk_daemon_wait, or through d->sig_fd when signal_fd is true), SIGPIPE
 * ignored, the open file limit raised.  0 or -errno. */
int pvk_daemon_setup(struct pvk_daemon *d, const int *extra_signals,
		     bool signal_fd);
/* Serving: write the pid file (a failure is logged). */
void pvk_daemon_ready(struct pvk_daemon *d);
/* Wait for one of the blocked signals and return it. */
int pvk_daemon_wait(struct pvk_daemon *d);
/* xs_client_set_reconnect()'s on_break for a daemon (arg: its struct
 * pvk_daemon): xenstore did not come back, so the daemon stops (SIGTERM to
 * itself) with d->xs_lost set, to be started again by its supervisor. */
void pvk_daemon_xs_lost(void *arg, int err);
/* Remove the pid file we wrote, close the signalfd. */
void pvk_daemon_end(struct pvk_daemon *d);

#endif
