/* hog.c - see hog.h.
 *
 * The pids of the running hogs are also kept in a file-scope registry: the
 * signal handlers and the atexit hook have no other way to reach them.  It
 * is the only state here; every other call works on the caller's struct
 * bench_hog. */
#include "hog.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cpu.h"

static const int hog_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define NSIG_HOG (sizeof(hog_signals) / sizeof(hog_signals[0]))

static struct {
	volatile pid_t pid[BENCH_HOG_MAX];
	struct sigaction old[NSIG_HOG];
	bool installed;
} reg;

static void reg_kill_all(void)
{
	unsigned int i;

	for (i = 0; i < BENCH_HOG_MAX; i++) {
		pid_t p = reg.pid[i];

		if (p > 0)
			kill(p, SIGKILL);
	}
}

static void reg_atexit(void) { reg_kill_all(); }

/* Async-signal-safe: kill, sigaction, raise. */
static void reg_on_signal(int sig, siginfo_t *si, void *uc)
{
	unsigned int i;

	reg_kill_all();
	for (i = 0; i < NSIG_HOG; i++) {
		const struct sigaction *o = &reg.old[i];

		if (hog_signals[i] != sig)
			continue;
		if (o->sa_flags & SA_SIGINFO) {
			o->sa_sigaction(sig, si, uc);
		} else if (o->sa_handler != SIG_DFL &&
			   o->sa_handler != SIG_IGN) {
			o->sa_handler(sig);
		} else {
			/* Die of it, as without us. */
			sigaction(sig, o, NULL);
			raise(sig);
		}
		return;
	}
}

static int reg_install(void)
{
	struct sigaction sa;
	unsigned int i;

	if (reg.installed)
		return 0;
	if (atexit(reg_atexit))
		return -ENOMEM;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = reg_on_signal;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < NSIG_HOG; i++) {
		if (sigaction(hog_signals[i], NULL, &reg.old[i]) < 0)
			return -errno;
		/* A signal the program ignores stays ignored. */
		if (!(reg.old[i].sa_flags & SA_SIGINFO) &&
		    reg.old[i].sa_handler == SIG_IGN)
			continue;
		if (sigaction(hog_signals[i], &sa, NULL) < 0)
			return -errno;
	}
	reg.installed = true;
	return 0;
}

static void reg_set(pid_t old, pid_t p)
{
	unsigned int i;

	for (i = 0; i < BENCH_HOG_MAX; i++) {
		if (reg.pid[i] == old) {
			reg.pid[i] = p;
			return;
		}
	}
}

static void hog_loop(pid_t parent)
{
	unsigned int i;
	sigset_t all;

	/* Die with the parent, even if it died before this line. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(1);
	for (i = 0; i < NSIG_HOG; i++)
		signal(hog_signals[i], SIG_DFL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	for (;;)
		__asm__ volatile("" ::: "memory");
}

int bench_hog_start(struct bench_hog *h)
{
	unsigned int i, n = bench_cpu_count();
	pid_t parent = getpid(), p;
	sigset_t block, old;
	int rc;

	if (n > BENCH_HOG_MAX)
		n = BENCH_HOG_MAX;
	h->n = 0;
	rc = reg_install();
	if (rc)
		return rc;
	/* No signal between fork and registering the pid (this thread's). */
	sigemptyset(&block);
	for (i = 0; i < NSIG_HOG; i++)
		sigaddset(&block, hog_signals[i]);
	for (i = 0; i < n; i++) {
		sigprocmask(SIG_BLOCK, &block, &old);
		p = fork();
		if (p == 0)
			hog_loop(parent);
		if (p > 0) {
			reg_set(0, p);
			h->pid[h->n++] = p;
		}
		rc = p < 0 ? -errno : 0;
		sigprocmask(SIG_SETMASK, &old, NULL);
		if (rc) {
			bench_hog_stop(h);
			return rc;
		}
	}
	return 0;
}

void bench_hog_stop(struct bench_hog *h)
{
	unsigned int i;

	for (i = 0; i < h->n; i++) {
		/* Out of the registry first: once reaped, the pid may be
		 * another process's. */
		reg_set(h->pid[i], 0);
		kill(h->pid[i], SIGKILL);
		while (waitpid(h->pid[i], NULL, 0) < 0 && errno == EINTR)
			;
	}
	h->n = 0;
}
