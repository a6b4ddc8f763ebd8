/* hog.h - CPU contention for the benchmarks: one busy-looping child
 * process per CPU this process may run on, so that a "contended" figure is
 * measured with every CPU busy, as on a loaded Dom0.
 *
 * A hog never outlives the benchmark: each one asks for SIGKILL when its
 * parent dies (PR_SET_PDEATHSIG, then checks it was not orphaned already),
 * and the first bench_hog_start installs an atexit hook and SIGINT,
 * SIGTERM, SIGHUP and SIGQUIT handlers that kill every running hog before
 * the process goes on (exit) or dies of the signal (re-raised with its
 * default action; a handler the program had installed before runs
 * instead). */
#ifndef PVKIT_BENCH_HOG_H
#define PVKIT_BENCH_HOG_H

#include <sys/types.h>

#define BENCH_HOG_MAX 256u

struct bench_hog {
	pid_t pid[BENCH_HOG_MAX];
	unsigned int n; /* running hogs; 0 when stopped */
};

/* Start one hog per CPU of this process's affinity mask (the hogs inherit
 * the mask).  h must be stopped (zeroed or after bench_hog_stop).  0 or
 * -errno; on failure no hog is left running. */
int bench_hog_start(struct bench_hog *h);
/* Kill and reap every hog of h (nothing to do when none runs). */
void bench_hog_stop(struct bench_hog *h);

#endif
