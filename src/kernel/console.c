/*
 * console.c - the guest's PV console driver (include/pvkit/console.h):
 * output into the out ring, input from the in ring (src/console/ring.c does
 * the bounded, validated copies), one event thread that turns the
 * backend's notifications into condition variable wake-ups for blocked
 * writers and readers.
 */
#include "pvkit/console.h"
#include "pvkit/platform.h"
#include "console/ring.h"
#include "common/log.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

/* Re-read the ring this often while waiting, whatever the events say. */
#define CONS_RECHECK_MS 100

struct pvk_console {
	const struct pvk_evtchn_ops *ops;
	struct pvk_evtchn *h;
	evtchn_port_t port;
	int stop_fd;
	pthread_t thread;
	bool thread_started;
	/* under lock */
	pthread_mutex_t lock;
	pthread_cond_t cond; /* broadcast on every event from the backend */
	struct cons_front ring;
	bool broken;
};

static void *console_events(void *arg)
{
	struct pvk_console *c = arg;
	struct pollfd pfd[2] = {
		{.fd = c->ops->fd(c->h), .events = POLLIN},
		{.fd = c->stop_fd, .events = POLLIN},
	};
	evtchn_port_t p;

	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			pvk_err("console: poll: %m");
			break;
		}
		if (pfd[1].revents)
			break;
		while (c->ops->pending(c->h, &p) == 0)
			c->ops->unmask(c->h, p);
		pthread_mutex_lock(&c->lock);
		pthread_cond_broadcast(&c->cond);
		pthread_mutex_unlock(&c->lock);
	}
	return NULL;
}

int pvk_console_open(struct xencons_interface *intf,
		     const struct pvk_evtchn_ops *ops, struct pvk_evtchn *h,
		     evtchn_port_t port, struct pvk_console **out)
{
	struct pvk_console *c;
	pthread_condattr_t ca;
	int rc;

	if (!intf || !ops || !h || !out)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->ops = ops;
	c->h = h;
	c->port = port;
	pthread_mutex_init(&c->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &ca);
	pthread_condattr_destroy(&ca);
	cons_front_init(&c->ring, intf);
	c->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->stop_fd < 0) {
		rc = -errno;
		goto fail;
	}
	rc = -pthread_create(&c->thread, NULL, console_events, c);
	if (rc)
		goto fail;
	c->thread_started = true;
	*out = c;
	return 0;
fail:
	pvk_console_close(c);
	return rc;
}

void pvk_console_close(struct pvk_console *c)
{
	uint64_t one = 1;

	if (!c)
		return;
	if (c->thread_started) {
		if (write(c->stop_fd, &one, sizeof(one)) < 0)
			pvk_warn("console: cannot stop the event thread");
		pthread_join(c->thread, NULL);
	}
	if (c->stop_fd >= 0)
		close(c->stop_fd);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static void deadline_set(struct timespec *ts, int timeout_ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += timeout_ms / 1000;
	ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Wait under c->lock for the next event, or CONS_RECHECK_MS at most, so a
 * lost or coalesced notification only delays us; false once the caller's
 * time has run out. */
static bool console_wait(struct pvk_console *c, int timeout_ms,
			 const struct timespec *deadline)
{
	struct timespec now, until;

	if (timeout_ms == 0)
		return false;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (timeout_ms > 0 &&
	    (now.tv_sec > deadline->tv_sec ||
	     (now.tv_sec == deadline->tv_sec &&
	      now.tv_nsec >= deadline->tv_nsec)))
		return false;
	deadline_set(&until, CONS_RECHECK_MS);
	if (timeout_ms > 0 &&
	    (deadline->tv_sec < until.tv_sec ||
	     (deadline->tv_sec == until.tv_sec &&
	      deadline->tv_nsec < until.tv_nsec)))
		until = *deadline;
	pthread_cond_timedwait(&c->cond, &c->lock, &until);
	return true;
}

/* Called with c->lock held on the first bogus index: the console is dead. */
static bool console_break(struct pvk_console *c)
{
	bool first = !c->broken;

	c->broken = true;
	return first;
}

static void console_report(const char *dir)
{
	pvk_err("console: the backend published a bogus %s ring index; "
		"console disabled",
		dir);
}

ssize_t pvk_console_write(struct pvk_console *c, const void *buf, size_t len,
			  int timeout_ms)
{
	struct timespec deadline;
	size_t done = 0;
	bool report = false, broken;
	ssize_t n;

	if (timeout_ms > 0)
		deadline_set(&deadline, timeout_ms);
	pthread_mutex_lock(&c->lock);
	for (;;) {
		if (c->broken)
			break;
		n = cons_ring_write(&c->ring.out, (const char *)buf + done,
				    len - done);
		if (n < 0) {
			report = console_break(c);
			break;
		}
		done += (size_t)n;
		if (n > 0)
			c->ops->notify(c->h, c->port);
		if (done == len)
			break;
		/* Full: wait for the backend to consume and notify us. */
		if (!console_wait(c, timeout_ms, &deadline))
			break;
	}
	broken = c->broken;
	pthread_mutex_unlock(&c->lock);
	if (report)
		console_report("output");
	if (done == 0 && broken)
		return -EIO;
	return (ssize_t)done;
}

ssize_t pvk_console_read(struct pvk_console *c, void *buf, size_t len,
			 int timeout_ms)
{
	struct timespec deadline;
	bool report = false;
	ssize_t n = 0;

	if (timeout_ms > 0)
		deadline_set(&deadline, timeout_ms);
	pthread_mutex_lock(&c->lock);
	for (;;) {
		if (c->broken) {
			n = -EIO;
			break;
		}
		n = cons_ring_read(&c->ring.in, buf, len);
		if (n < 0) {
			report = console_break(c);
			n = -EIO;
			break;
		}
		if (n > 0) {
			c->ops->notify(c->h, c->port);
			break;
		}
		if (len == 0 || !console_wait(c, timeout_ms, &deadline))
			break;
	}
	pthread_mutex_unlock(&c->lock);
	if (report)
		console_report("input");
	return n;
}
