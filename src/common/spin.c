/*
 * spin.c - the busy-polling policy (spin.h says what and why).
 */
#include "common/spin.h"

#include <string.h>

static void count(uint64_t *c) { __atomic_fetch_add(c, 1, __ATOMIC_RELAXED); }

void pvk_spin_init(struct pvk_spin *s, uint64_t max_ns,
		   struct pvk_spin_stats *st)
{
	memset(s, 0, sizeof(*s));
	s->st = st ? st : &s->own;
	s->max_ns = max_ns;
	s->win_ns = max_ns / 2;
	s->backoff_ns = PVK_SPIN_BACKOFF_MIN_NS;
	s->stride = 32;
}

bool pvk_spin_wait(struct pvk_spin *s, bool (*ready)(void *arg), void *arg)
{
	uint64_t t0, last, now;
	unsigned int i = 0;

	s->watched = false;
	if (!s->max_ns || !s->win_ns)
		return false;
	now = pvk_spin_now();
	if (now < s->off_until) {
		count(&s->st->backed_off);
		return false;
	}
	count(&s->st->watches);
	t0 = last = now;
	for (;;) {
		if (ready(arg)) {
			count(&s->st->hits);
			if (s->backoff_ns > PVK_SPIN_BACKOFF_MIN_NS)
				s->backoff_ns /= 2;
			return true;
		}
		/* the clock every 32 looks: it costs more than a look */
		if ((++i & (s->stride - 1)) != 0) {
			pvk_spin_relax();
			continue;
		}
		now = pvk_spin_now();
		if (now - last >= PVK_SPIN_PREEMPT_NS) {
			/* The CPU was taken away while the peer relied on
			 * this watch: stop, and do not watch for a while. */
			count(&s->st->preempted);
			s->off_until = now + s->backoff_ns;
			s->backoff_ns *= 2;
			if (s->backoff_ns > PVK_SPIN_BACKOFF_MAX_NS)
				s->backoff_ns = PVK_SPIN_BACKOFF_MAX_NS;
			return ready(arg);
		}
		last = now;
		if (now - t0 >= s->win_ns)
			break;
		pvk_spin_relax();
	}
	/* A miss: the sleep that follows says whether a longer window
	 * would have caught the work. */
	s->watched = true;
	return false;
}

void pvk_spin_slept(struct pvk_spin *s, uint64_t slept_ns)
{
	uint64_t waited = slept_ns + (s->watched ? s->win_ns : 0);

	s->watched = false;
	if (!s->max_ns)
		return;
	if (waited <= s->max_ns) {
		/* a longer watch would have caught it */
		if (!s->win_ns)
			s->win_ns = s->max_ns / 8 ? s->max_ns / 8 : 1;
		else if (s->win_ns < s->max_ns)
			s->win_ns = s->win_ns * 2 < s->max_ns ? s->win_ns * 2
							      : s->max_ns;
	} else {
		s->win_ns /= 2;
		if (s->win_ns < s->max_ns / 8)
			s->win_ns = 0;
	}
}
