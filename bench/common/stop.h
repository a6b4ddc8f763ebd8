/* stop.h - a benchmark that stops cleanly when asked: SIGINT, SIGTERM and
 * SIGHUP only record the request (and interrupt a blocking call with
 * EINTR); the benchmark polls bench_stop_requested() between runs, tears
 * its environment down, then bench_stop_reraise() makes it die of the
 * signal as it would have.  Install before the first bench_hog_start:
 * hog.h's handlers kill the hogs first, then call these. */
#ifndef PVKIT_BENCH_STOP_H
#define PVKIT_BENCH_STOP_H

void bench_stop_install(void);
/* 0, or the signal that asked the benchmark to stop. */
int bench_stop_requested(void);
/* If a signal asked to stop: restore its default action and raise it. */
void bench_stop_reraise(void);

#endif
