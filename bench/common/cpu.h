/* cpu.h - what a benchmark's work costs in CPU time: user + system time
 * of processes (every thread, the exited ones included), in seconds, with
 * the resolution of the kernel's clock tick (1/USER_HZ, usually 10 ms). */
#ifndef PVKIT_BENCH_CPU_H
#define PVKIT_BENCH_CPU_H

#include <sys/types.h>

/* The CPUs this process may run on (sched_getaffinity), at least 1. */
unsigned int bench_cpu_count(void);
/* CPU seconds pid has used so far, from /proc/<pid>/stat.  0 or -errno
 * (-ESRCH when it is gone). */
int bench_cpu_pid(pid_t pid, double *s);
/* The sum over n pids (a pid <= 0 is skipped).  0 or the first -errno. */
int bench_cpu_pids(const pid_t *pids, unsigned int n, double *s);
/* CPU seconds of this process (getrusage RUSAGE_SELF: every thread,
 * io_uring's iou-wrk workers included). */
double bench_cpu_self(void);

#endif
