/*
 * test_xs_ring.c - the xenstore ring: pure producer/consumer arithmetic
 * (wrap-around, full/empty), hostile indices and lengths from the peer,
 * and a whole client talking to the fake daemon over a ring in-process.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_xsd.h"
#include "xenbus/xs_internal.h"

static struct xenstore_domain_interface *new_intf(void)
{
	struct xenstore_domain_interface *i = calloc(1, 4096);

	assert_non_null(i);
	return i;
}

static void test_put_get_wrap(void **state)
{
	struct xenstore_domain_interface *i = new_intf();
	char in[700], out[700];
	unsigned int k, round;

	(void)state;
	for (k = 0; k < sizeof(in); k++)
		in[k] = (char)k;
	/* Start near the 32-bit wrap so both the mask and the index
	 * wrap-around are exercised. */
	i->req_cons = i->req_prod = 0xffffff00u;
	for (round = 0; round < 10; round++) {
		assert_int_equal(xs_ring_client_put(i, in, sizeof(in)), 700);
		assert_int_equal(xs_ring_server_get(i, out, sizeof(out)), 700);
		assert_memory_equal(in, out, sizeof(in));
	}
	assert_int_equal(xs_ring_server_get(i, out, 1), 0); /* empty */
	free(i);
}

static void test_full(void **state)
{
	struct xenstore_domain_interface *i = new_intf();
	static char big[3000], out[3000];

	(void)state;
	memset(big, 'z', sizeof(big));
	assert_int_equal(xs_ring_client_put(i, big, sizeof(big)),
			 XENSTORE_RING_SIZE);
	assert_int_equal(xs_ring_client_put(i, big, 1), 0); /* full */
	assert_int_equal(xs_ring_server_get(i, out, 10), 10);
	assert_int_equal(xs_ring_client_put(i, big, sizeof(big)), 10);
	assert_int_equal(xs_ring_server_get(i, out, sizeof(out)),
			 XENSTORE_RING_SIZE);
	free(i);
}

static void test_bogus_indices(void **state)
{
	struct xenstore_domain_interface *i = new_intf();
	char buf[16];

	(void)state;
	/* Producer jumps past the ring: more than a ring's worth "ready". */
	i->rsp_cons = 0;
	i->rsp_prod = XENSTORE_RING_SIZE + 1;
	assert_int_equal(xs_ring_client_get(i, buf, sizeof(buf)), -EIO);
	/* Producer behind the consumer. */
	i->rsp_cons = 100;
	i->rsp_prod = 50;
	assert_int_equal(xs_ring_client_get(i, buf, sizeof(buf)), -EIO);
	/* The daemon moves our request consumer index wildly. */
	i->req_prod = 10;
	i->req_cons = 0x80000000u;
	assert_int_equal(xs_ring_client_put(i, "x", 1), -EIO);
	/* Exactly a full ring is legal. */
	i->rsp_cons = 5;
	i->rsp_prod = 5 + XENSTORE_RING_SIZE;
	assert_int_equal(xs_ring_client_get(i, buf, sizeof(buf)), 16);
	free(i);
}

/* ---- a client over the ring ------------------------------------------ */

struct ring_env {
	struct xenstore_domain_interface *intf;
	struct pvk_evtchn *cli, *srv;
	struct fake_xsd *fake;
	struct xs_client *xs;
};

static int ring_setup(void **state)
{
	struct ring_env *e = calloc(1, sizeof(*e));

	e->intf = new_intf();
	assert_int_equal(fake_evtchn_pair(&e->cli, &e->srv, 3), 0);
	assert_int_equal(fake_xsd_start_ring(e->intf, e->srv, 3, &e->fake), 0);
	assert_int_equal(xs_client_open_ring(e->intf, &fake_evtchn_ops, e->cli,
					     3, &e->xs),
			 0);
	*state = e;
	return 0;
}

static int ring_teardown(void **state)
{
	struct ring_env *e = *state;

	xs_client_close(e->xs);
	fake_xsd_stop(e->fake);
	fake_evtchn_free(e->cli);
	fake_evtchn_free(e->srv);
	free(e->intf);
	free(e);
	return 0;
}

static void test_ring_client_ops(void **state)
{
	struct ring_env *e = *state;
	static char big[3000];
	char *val;
	size_t len;
	int k;

	/* Requests and replies larger than the 1 KiB ring. */
	memset(big, 'q', sizeof(big));
	assert_int_equal(xs_write(e->xs, XS_TX_NONE, "/big", big, sizeof(big)),
			 0);
	assert_int_equal(xs_read(e->xs, XS_TX_NONE, "/big", &val, &len), 0);
	assert_int_equal(len, sizeof(big));
	assert_memory_equal(val, big, sizeof(big));
	free(val);
	for (k = 0; k < 200; k++)
		assert_int_equal(xs_printf(e->xs, XS_TX_NONE, "/n", "%d", k), 0);
	assert_int_equal(xs_read_int(e->xs, XS_TX_NONE, "/n", 0, 1000, &k), 0);
	assert_int_equal(k, 199);
	assert_int_equal(xs_read(e->xs, XS_TX_NONE, "/nope", &val, NULL),
			 -ENOENT);
	assert_int_equal(xs_client_error(e->xs), 0);
}

/* The daemon answers with a header whose length is beyond the maximum. */
static bool hook_oversize(struct fake_xsd *f, const struct xsd_sockmsg *h,
			  const char *body, void *arg)
{
	struct xsd_sockmsg r = {h->type, h->req_id, 0,
				XENSTORE_PAYLOAD_MAX + 1};

	(void)body;
	(void)arg;
	fake_xsd_send_raw(f, &r, sizeof(r));
	return true;
}

static void test_ring_oversized_reply(void **state)
{
	struct ring_env *e = *state;
	char *val;

	fake_xsd_set_hook(e->fake, hook_oversize, NULL);
	assert_int_equal(xs_read(e->xs, XS_TX_NONE, "/x", &val, NULL), -EIO);
	assert_int_equal(xs_client_error(e->xs), -EIO);
	/* Later calls fail at once instead of hanging. */
	assert_int_equal(xs_write_str(e->xs, XS_TX_NONE, "/x", "1"), -EIO);
}

/* The daemon corrupts the response producer index. */
static bool hook_bogus_prod(struct fake_xsd *f, const struct xsd_sockmsg *h,
			    const char *body, void *arg)
{
	struct ring_env *e = arg;

	(void)f;
	(void)h;
	(void)body;
	__atomic_store_n(&e->intf->rsp_prod,
			 __atomic_load_n(&e->intf->rsp_cons, __ATOMIC_ACQUIRE) +
				 5 * XENSTORE_RING_SIZE,
			 __ATOMIC_RELEASE);
	fake_evtchn_ops.notify(e->srv, 3);
	return true;
}

static void test_ring_bogus_producer(void **state)
{
	struct ring_env *e = *state;
	char *val;

	fake_xsd_set_hook(e->fake, hook_bogus_prod, e);
	assert_int_equal(xs_read(e->xs, XS_TX_NONE, "/x", &val, NULL), -EIO);
	assert_int_equal(xs_client_error(e->xs), -EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get_wrap),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_bogus_indices),
		cmocka_unit_test_setup_teardown(test_ring_client_ops,
						ring_setup, ring_teardown),
		cmocka_unit_test_setup_teardown(test_ring_oversized_reply,
						ring_setup, ring_teardown),
		cmocka_unit_test_setup_teardown(test_ring_bogus_producer,
						ring_setup, ring_teardown),
	};

	return cmocka_run_group_tests_name("xs_ring", tests, NULL, NULL);
}
