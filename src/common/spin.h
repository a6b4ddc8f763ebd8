/*
 * spin.h - adaptive busy-polling before sleeping (the vhost busyloop /
 * NAPI idea) for threads that serve a shared ring.
 *
 * A ring thread that finished its work may watch the ring a short while
 * instead of re-arming the event and sleeping: while it watches, the peer
 * sees the event unarmed and sends no notification, and work that comes
 * meanwhile costs no wake-up on either side.  Watching only pays when the
 * work comes back quickly, so the thread keeps a running average of how
 * long it waited for work (watched or slept) and watches only while that
 * average is under the budget: 4 KiB requests at depth 1 are watched for,
 * 1 MiB ones (whose copies need the CPU the watcher would burn) and an
 * idle device are slept on.
 */
#ifndef PVKIT_COMMON_SPIN_H
#define PVKIT_COMMON_SPIN_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct pvk_spin {
	uint64_t max_ns; /* budget; 0: never watch */
	uint64_t avg_ns; /* running average of the waits for work */
};

static inline uint64_t pvk_spin_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void pvk_spin_init(struct pvk_spin *s, uint64_t max_ns)
{
	s->max_ns = max_ns;
	s->avg_ns = max_ns / 2;
}

static inline void pvk_spin_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* One more wait sample (capped, so an idle spell is forgotten soon). */
static inline void pvk_spin_sample(struct pvk_spin *s, uint64_t ns)
{
	if (ns > 4 * s->max_ns)
		ns = 4 * s->max_ns;
	s->avg_ns = (s->avg_ns * 7 + ns) / 8;
}

/* Watch until ready(arg) or the budget runs out; true if work came. */
static inline bool pvk_spin_wait(struct pvk_spin *s,
				 bool (*ready)(void *arg), void *arg)
{
	uint64_t t0, now;
	unsigned int i = 0;

	if (!s->max_ns || s->avg_ns >= s->max_ns)
		return false;
	t0 = pvk_spin_now();
	for (;;) {
		if (ready(arg)) {
			pvk_spin_sample(s, pvk_spin_now() - t0);
			return true;
		}
		/* the clock every 32 looks: it costs more than a look */
		if ((++i & 31) == 0) {
			now = pvk_spin_now();
			if (now - t0 >= s->max_ns)
				break;
		}
		pvk_spin_relax();
	}
	/* a miss: the wait goes on past the budget (sampled on wake-up) */
	pvk_spin_sample(s, 2 * s->max_ns);
	return false;
}

/* The thread slept slept_ns before work came. */
static inline void pvk_spin_slept(struct pvk_spin *s, uint64_t slept_ns)
{
	if (s->max_ns)
		pvk_spin_sample(s, slept_ns);
}

#endif
