/*
 * test_console.c - the PV console ring core (src/console/ring.c) with both
 * ends on one page in one process, hostile peers on either side, and the
 * guest driver (src/guest/console.c) over a fake event channel.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"
#include "common/util.h"
#include "console/ring.h"
#include "pvkit/console.h"
#include "pvkit/platform.h"

/* The page with canaries on both sides: nothing may touch them. */
struct guarded {
	unsigned char before[64];
	struct xencons_interface intf;
	unsigned char after[64];
};

static struct guarded *page_new(void)
{
	struct guarded *g = calloc(1, sizeof(*g));

	assert_non_null(g);
	memset(g->before, 0xa5, sizeof(g->before));
	memset(g->after, 0x5a, sizeof(g->after));
	return g;
}

static void page_check(const struct guarded *g)
{
	size_t i;

	for (i = 0; i < sizeof(g->before); i++) {
		assert_int_equal(g->before[i], 0xa5);
		assert_int_equal(g->after[i], 0x5a);
	}
}

static void test_round_trip_wraps(void **state)
{
	struct guarded *g = page_new();
	struct cons_front f;
	struct cons_back b;
	char out[700], in[700];
	unsigned int round, i;

	(void)state;
	cons_front_init(&f, &g->intf);
	cons_back_init(&b, &g->intf);
	/* 700-byte pieces wrap both rings at odd offsets many times. */
	for (round = 0; round < 40; round++) {
		for (i = 0; i < sizeof(out); i++)
			out[i] = (char)(round * 7 + i);
		assert_int_equal(cons_ring_write(&f.out, out, sizeof(out)),
				 sizeof(out));
		assert_int_equal(cons_ring_space(&b.out), sizeof(out));
		memset(in, 0, sizeof(in));
		assert_int_equal(cons_ring_read(&b.out, in, sizeof(in)),
				 sizeof(in));
		assert_memory_equal(in, out, sizeof(out));
		/* and the input direction */
		assert_int_equal(cons_ring_write(&b.in, out, 300), 300);
		assert_int_equal(cons_ring_read(&f.in, in, sizeof(in)), 300);
		assert_memory_equal(in, out, 300);
	}
	assert_int_equal(g->intf.out_prod, 40 * 700);
	assert_int_equal(g->intf.out_cons, 40 * 700);
	page_check(g);
	free(g);
}

static void test_full_and_empty(void **state)
{
	struct guarded *g = page_new();
	char buf[4096];
	struct cons_front f;
	struct cons_back b;

	(void)state;
	memset(buf, 'x', sizeof(buf));
	cons_front_init(&f, &g->intf);
	cons_back_init(&b, &g->intf);
	assert_int_equal(cons_ring_read(&b.out, buf, sizeof(buf)), 0);
	assert_int_equal(cons_ring_write(&f.out, buf, sizeof(buf)), 2048);
	assert_int_equal(cons_ring_space(&f.out), 0);
	assert_int_equal(cons_ring_write(&f.out, buf, 1), 0);
	assert_int_equal(cons_ring_read(&b.out, buf, 100), 100);
	assert_int_equal(cons_ring_space(&f.out), 100);
	assert_int_equal(cons_ring_write(&b.in, buf, sizeof(buf)), 1024);
	assert_int_equal(cons_ring_write(&b.in, buf, 1), 0);
	/* wrong direction */
	assert_int_equal(cons_ring_read(&f.out, buf, 1), -EINVAL);
	assert_int_equal(cons_ring_write(&b.out, buf, 1), -EINVAL);
	page_check(g);
	free(g);
}

static void test_index_wrap_at_2_32(void **state)
{
	struct guarded *g = page_new();
	char out[1500], in[1500];
	struct cons_front f;
	struct cons_back b;
	size_t i;

	(void)state;
	g->intf.out_prod = g->intf.out_cons = UINT32_MAX - 700;
	cons_front_init(&f, &g->intf);
	cons_back_init(&b, &g->intf);
	for (i = 0; i < sizeof(out); i++)
		out[i] = (char)i;
	assert_int_equal(cons_ring_write(&f.out, out, sizeof(out)),
			 sizeof(out));
	assert_int_equal(cons_ring_read(&b.out, in, sizeof(in)), sizeof(in));
	assert_memory_equal(in, out, sizeof(out));
	assert_int_equal(g->intf.out_prod, (uint32_t)(UINT32_MAX - 700 + 1500));
	page_check(g);
	free(g);
}

/* A guest that publishes an out_prod too far ahead or behind. */
static void test_hostile_guest_prod(void **state)
{
	static const uint32_t bad[] = {2049, 4096, 0x80000000u, UINT32_MAX};
	struct guarded *g = page_new();
	char buf[4096];
	struct cons_back b;
	size_t i;

	(void)state;
	for (i = 0; i < PVK_ARRAY_SIZE(bad); i++) {
		memset(&g->intf, 0, sizeof(g->intf));
		g->intf.out_prod = bad[i];
		cons_back_init(&b, &g->intf);
		memset(buf, 0x77, sizeof(buf));
		assert_int_equal(cons_ring_read(&b.out, buf, sizeof(buf)),
				 -EPROTO);
		assert_int_equal(cons_ring_space(&b.out), -EPROTO);
		assert_int_equal(buf[0], 0x77); /* nothing copied */
		assert_int_equal(g->intf.out_cons, 0); /* nothing released */
	}
	/* Exactly full is legal. */
	memset(&g->intf, 0, sizeof(g->intf));
	g->intf.out_prod = 2048;
	cons_back_init(&b, &g->intf);
	assert_int_equal(cons_ring_read(&b.out, buf, sizeof(buf)), 2048);
	page_check(g);
	free(g);
}

/* A guest that moves in_cons past what the backend produced. */
static void test_hostile_guest_cons(void **state)
{
	struct guarded *g = page_new();
	char buf[64] = "hello";
	struct cons_back b;

	(void)state;
	cons_back_init(&b, &g->intf);
	assert_int_equal(cons_ring_write(&b.in, buf, 5), 5);
	g->intf.in_cons = 6; /* consumed more than there was */
	assert_int_equal(cons_ring_write(&b.in, buf, 5), -EPROTO);
	g->intf.in_cons = 5 - 1025; /* more than the ring in flight */
	assert_int_equal(cons_ring_space(&b.in), -EPROTO);
	g->intf.in_cons = 5;
	assert_int_equal(cons_ring_space(&b.in), 1024);
	page_check(g);
	free(g);
}

/* A peer that scribbles over the index we own cannot move us: ours is
 * kept privately and republished. */
static void test_own_index_private(void **state)
{
	struct guarded *g = page_new();
	struct cons_front f;
	struct cons_back b;
	char in[8] = {0};

	(void)state;
	cons_front_init(&f, &g->intf);
	cons_back_init(&b, &g->intf);
	assert_int_equal(cons_ring_write(&f.out, "abc", 3), 3);
	assert_int_equal(cons_ring_read(&b.out, in, 2), 2);
	g->intf.out_cons = 0x1000; /* the guest rewrites the backend's index */
	assert_int_equal(cons_ring_read(&b.out, in + 2, 6), 1);
	assert_string_equal(in, "abc");
	assert_int_equal(g->intf.out_cons, 3);
	/* and the backend rewriting the guest's out_prod */
	g->intf.out_prod = 0;
	assert_int_equal(cons_ring_write(&f.out, "d", 1), 1);
	assert_int_equal(g->intf.out_prod, 4);
	page_check(g);
	free(g);
}

/* ---- the guest driver over a fake event channel ------------------------ */

struct pvk_evtchn {
	int efd;
	evtchn_port_t port;
	unsigned int notified; /* atomic */
};

static int fake_fd(struct pvk_evtchn *h)
{
	return h->efd;
}

static int fake_pending(struct pvk_evtchn *h, evtchn_port_t *port)
{
	uint64_t v;

	if (read(h->efd, &v, sizeof(v)) != sizeof(v))
		return -EAGAIN;
	*port = h->port;
	return 0;
}

static int fake_unmask(struct pvk_evtchn *h, evtchn_port_t port)
{
	return port == h->port ? 0 : -EINVAL;
}

static int fake_notify(struct pvk_evtchn *h, evtchn_port_t port)
{
	assert_int_equal(port, h->port);
	__atomic_fetch_add(&h->notified, 1, __ATOMIC_SEQ_CST);
	return 0;
}

static const struct pvk_evtchn_ops fake_ops = {
	.fd = fake_fd,
	.pending = fake_pending,
	.unmask = fake_unmask,
	.notify = fake_notify,
};

static void fake_kick(struct pvk_evtchn *h)
{
	uint64_t one = 1;

	assert_int_equal(write(h->efd, &one, sizeof(one)), sizeof(one));
}

struct drv {
	struct guarded *g;
	struct pvk_evtchn h;
	struct pvk_console *c;
	struct cons_back b;
};

static int drv_setup(void **state)
{
	struct drv *d = calloc(1, sizeof(*d));

	assert_non_null(d);
	d->g = page_new();
	d->h.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	d->h.port = 7;
	assert_true(d->h.efd >= 0);
	assert_int_equal(pvk_console_open(&d->g->intf, &fake_ops, &d->h, 7,
					  &d->c),
			 0);
	cons_back_init(&d->b, &d->g->intf);
	*state = d;
	return 0;
}

static int drv_teardown(void **state)
{
	struct drv *d = *state;

	pvk_console_close(d->c);
	page_check(d->g);
	close(d->h.efd);
	free(d->g);
	free(d);
	return 0;
}

static uint64_t ms_since(uint64_t t0)
{
	return (pvk_now_ns() - t0) / 1000000;
}

static void test_drv_write_read(void **state)
{
	struct drv *d = *state;
	char buf[64];

	assert_int_equal(pvk_console_write(d->c, "boot\n", 5, 0), 5);
	assert_true(__atomic_load_n(&d->h.notified, __ATOMIC_SEQ_CST) >= 1);
	assert_int_equal(cons_ring_read(&d->b.out, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "boot\n", 5);
	/* nothing to read: no wait, then a bounded one */
	assert_int_equal(pvk_console_read(d->c, buf, sizeof(buf), 0), 0);
	assert_int_equal(pvk_console_read(d->c, buf, sizeof(buf), 30), 0);
	assert_int_equal(cons_ring_write(&d->b.in, "ping\n", 5), 5);
	fake_kick(&d->h);
	assert_int_equal(pvk_console_read(d->c, buf, sizeof(buf), 1000), 5);
	assert_memory_equal(buf, "ping\n", 5);
}

/* Full ring: the writer waits, bounded, and returns what fit. */
static void test_drv_write_full_bounded(void **state)
{
	struct drv *d = *state;
	char big[3000];
	uint64_t t0;

	memset(big, 'z', sizeof(big));
	t0 = pvk_now_ns();
	assert_int_equal(pvk_console_write(d->c, big, sizeof(big), 150), 2048);
	assert_true(ms_since(t0) >= 140);
	assert_true(ms_since(t0) < 2000);
	assert_int_equal(pvk_console_write(d->c, big, 1, 0), 0);
}

struct drainer {
	struct drv *d;
	size_t got;
};

static void *drain_thread(void *arg)
{
	struct drainer *dr = arg;
	char buf[512];
	ssize_t n;

	while (dr->got < 10000) {
		usleep(2000);
		n = cons_ring_read(&dr->d->b.out, buf, sizeof(buf));
		if (n < 0)
			break;
		dr->got += (size_t)n;
		if (n > 0)
			fake_kick(&dr->d->h);
	}
	return NULL;
}

/* A backend that drains slowly: a large write completes by waiting. */
static void test_drv_write_blocks_until_drained(void **state)
{
	struct drainer dr = {.d = *state};
	char big[10000];
	pthread_t t;

	memset(big, 'q', sizeof(big));
	assert_int_equal(pthread_create(&t, NULL, drain_thread, &dr), 0);
	assert_int_equal(pvk_console_write(dr.d->c, big, sizeof(big), 10000),
			 sizeof(big));
	pthread_join(t, NULL);
	assert_int_equal(dr.got, sizeof(big));
}

static unsigned int err_lines;

static void count_errors(const char *line, size_t len, void *arg)
{
	(void)len;
	(void)arg;
	if (strstr(line, "bogus"))
		err_lines++;
}

/* A backend that publishes a bogus index breaks the console, logged once. */
static void test_drv_hostile_backend(void **state)
{
	struct drv *d = *state;
	char buf[64];

	err_lines = 0;
	pvk_log_set_hook(count_errors, NULL);
	d->g->intf.in_prod = 5000; /* > 1024 ahead of in_cons */
	fake_kick(&d->h);
	assert_int_equal(pvk_console_read(d->c, buf, sizeof(buf), 100), -EIO);
	assert_int_equal(pvk_console_read(d->c, buf, sizeof(buf), 100), -EIO);
	assert_int_equal(pvk_console_write(d->c, "x", 1, 100), -EIO);
	d->g->intf.in_prod = 0; /* too late: it stays broken */
	assert_int_equal(pvk_console_write(d->c, "x", 1, 100), -EIO);
	pvk_log_set_hook(NULL, NULL);
	assert_int_equal(err_lines, 1);
	assert_int_equal(d->g->intf.out_prod, 0);
}

static void test_drv_hostile_out_cons(void **state)
{
	struct drv *d = *state;

	pvk_log_set_hook(count_errors, NULL);
	err_lines = 0;
	d->g->intf.out_cons = 3000; /* consumed more than we produced */
	assert_int_equal(pvk_console_write(d->c, "x", 1, 0), -EIO);
	assert_int_equal(pvk_console_write(d->c, "x", 1, 0), -EIO);
	pvk_log_set_hook(NULL, NULL);
	assert_int_equal(err_lines, 1);
}

/* The log hook sees every line once, and a line logged from inside the
 * hook does not come back to it. */
static unsigned int hook_calls;

static void recursive_hook(const char *line, size_t len, void *arg)
{
	(void)arg;
	hook_calls++;
	assert_int_equal(strlen(line), len);
	pvk_warn("from the hook: %s", line);
}

static void test_log_hook(void **state)
{
	(void)state;
	hook_calls = 0;
	pvk_log_set_hook(recursive_hook, NULL);
	pvk_warn("one");
	pvk_warn("two");
	pvk_log_set_hook(NULL, NULL);
	pvk_warn("three");
	assert_int_equal(hook_calls, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_wraps),
		cmocka_unit_test(test_full_and_empty),
		cmocka_unit_test(test_index_wrap_at_2_32),
		cmocka_unit_test(test_hostile_guest_prod),
		cmocka_unit_test(test_hostile_guest_cons),
		cmocka_unit_test(test_own_index_private),
		cmocka_unit_test_setup_teardown(test_drv_write_read, drv_setup,
						drv_teardown),
		cmocka_unit_test_setup_teardown(test_drv_write_full_bounded,
						drv_setup, drv_teardown),
		cmocka_unit_test_setup_teardown(
			test_drv_write_blocks_until_drained, drv_setup,
			drv_teardown),
		cmocka_unit_test_setup_teardown(test_drv_hostile_backend,
						drv_setup, drv_teardown),
		cmocka_unit_test_setup_teardown(test_drv_hostile_out_cons,
						drv_setup, drv_teardown),
		cmocka_unit_test(test_log_hook),
	};

	pvk_log_init("test_console", PVK_LOG_INFO);
	return cmocka_run_group_tests_name("console", tests, NULL, NULL);
}
