/*
 * spin.h - the one busy-polling policy of every waiting path (blkback's
 * ring threads, blkfront's queue threads): watch a shared ring a short
 * while before re-arming its event and sleeping, but only where watching
 * pays and never at somebody else's expense.
 *
 * A thread that finished its work may watch the ring instead of sleeping:
 * while it watches, the peer sees the event unarmed and sends no
 * notification, and work that comes meanwhile costs no wake-up on either
 * side.  That promise is also the danger: a watcher that loses its CPU
 * (another runnable task, a preempted vCPU) leaves the peer's work
 * unannounced until the scheduler gives the CPU back, milliseconds later.
 * So the policy is two rules (docs/architecture.md, "Polling"):
 *
 *  1. A window that adapts, as KVM's halt-polling does.  The thread
 *     watches for at most win_ns.  When it slept and the work came within
 *     the budget (max_ns) anyway, watching longer would have caught it:
 *     the window grows (doubling from 1/8 of the budget).  When the work
 *     took longer than the budget, watching was wasted: the window halves
 *     and, under 1/8 of the budget, closes.  4 KiB requests at depth 1 are
 *     watched for; 1 MiB ones (whose copies need the CPU the watcher would
 *     burn) and an idle device are slept on.
 *  2. A watcher that was preempted stops.  The clock is read every few
 *     dozen looks; a gap of PVK_SPIN_PREEMPT_NS between two readings means
 *     the thread lost its CPU while watching.  It stops at once, and the
 *     watching stays off for a back-off (1 ms, doubling to 64 ms while it
 *     keeps happening, halving with each watch that finds work).
 *
 * What the policy does not do is refuse to watch because other tasks are
 * runnable: measured with one busy loop per CPU beside a depth-1 load,
 * that rule (tried: more runnable tasks than CPUs in /proc/loadavg) gave
 * 5-9k IOPS where watching gave 98-99k and no polling 27-39k (a woken
 * thread waits for a busy loop's time slice; a watching one is already
 * running and gets its fair share of the CPU).
 *
 * The budget is the one knob (blkback --poll-us, blkfront opts.poll_us,
 * $PVKIT_BLK_POLL_US; a guest's vCPU threads $PVKIT_EVTCHN_POLL_US, off by
 * default; 0 never watches).  The counters say what the policy
 * did.  One struct per waiting thread, used by that thread only.
 */
#ifndef PVKIT_COMMON_SPIN_H
#define PVKIT_COMMON_SPIN_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* A clock gap this long while watching: the thread lost its CPU. */
#define PVK_SPIN_PREEMPT_NS 30000ull
#define PVK_SPIN_BACKOFF_MIN_NS 1000000ull
#define PVK_SPIN_BACKOFF_MAX_NS 64000000ull

struct pvk_spin_stats {
	uint64_t watches;   /* watches begun */
	uint64_t hits;	    /* of which work came */
	uint64_t preempted; /* of which the watcher lost its CPU */
	uint64_t backed_off; /* watches not begun: backing off */
};

struct pvk_spin {
	uint64_t max_ns;     /* budget; 0: never watch */
	uint64_t win_ns;     /* the current window; 0: closed */
	uint64_t off_until;  /* no watching before this (back-off) */
	uint64_t backoff_ns; /* the next back-off after a preemption */
	bool watched;        /* the last wait watched (and missed) */
	unsigned int stride; /* looks per clock reading (a power of two) */
	/* The counters: the owner's (pvk_spin_init; several policies may
	 * share them), or own.  Any thread may read them (pvk_spin_stat). */
	struct pvk_spin_stats *st, own;
};

static inline uint64_t pvk_spin_stat(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

static inline uint64_t pvk_spin_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void pvk_spin_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* A policy with budget max_ns (0: never watch), counting into *st (NULL:
 * its own).  It holds no resources. */
void pvk_spin_init(struct pvk_spin *s, uint64_t max_ns,
		   struct pvk_spin_stats *st);

/* Watch until ready(arg) or the window closes; true if work came.  False
 * also when the policy says not to watch at all: the caller re-arms its
 * event, checks once more and sleeps. */
bool pvk_spin_wait(struct pvk_spin *s, bool (*ready)(void *arg), void *arg);

/* A look that is a system call (epoll_wait with no timeout) costs as much
 * as a clock reading: read the clock after each one, or a run of them
 * passes for a preemption. */
static inline void pvk_spin_syscall_looks(struct pvk_spin *s)
{
	s->stride = 1;
}

/* The thread slept slept_ns before work came (measured around its poll). */
void pvk_spin_slept(struct pvk_spin *s, uint64_t slept_ns);

/* Whether the caller should time its sleeps for pvk_spin_slept. */
static inline bool pvk_spin_enabled(const struct pvk_spin *s)
{
	return s->max_ns != 0;
}

#endif
