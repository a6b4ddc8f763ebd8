/* stop.c - see stop.h.  The request is file-scope state: a signal handler
 * has no other place to put it. */
#include "stop.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t requested;

static void on_signal(int sig) { requested = sig; }

void bench_stop_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

int bench_stop_requested(void) { return requested; }

void bench_stop_reraise(void)
{
	int sig = requested;

	if (!sig)
		return;
	signal(sig, SIG_DFL);
	raise(sig);
}
