/*
 * test_xenbus.c - the xenbus helpers: state names, legal transitions and
 * parsing (pure); path formatting and strict parsing; switch/read/wait on
 * the state node and validated peer lookup against the fake daemon.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_xsd.h"
#include "pvkit/xenbus.h"

static void test_state_names(void **state)
{
	(void)state;
	assert_string_equal(xenbus_state_name(XenbusStateUnknown), "Unknown");
	assert_string_equal(xenbus_state_name(XenbusStateInitWait), "InitWait");
	assert_string_equal(xenbus_state_name(XenbusStateConnected),
			    "Connected");
	assert_string_equal(xenbus_state_name(XenbusStateReconfigured),
			    "Reconfigured");
	assert_string_equal(xenbus_state_name((enum xenbus_state)99),
			    "Unknown");
}

static void test_transitions(void **state)
{
	(void)state;
#define OK(a, b) assert_true(xenbus_state_transition_ok(XenbusState##a, XenbusState##b))
#define NO(a, b) assert_false(xenbus_state_transition_ok(XenbusState##a, XenbusState##b))
	OK(Unknown, Initialising);
	OK(Initialising, InitWait);
	OK(InitWait, Initialised);
	OK(Initialised, Connected);
	OK(Initialising, Connected); /* skipping forward */
	OK(Connected, Closing);
	OK(Closing, Closed);
	OK(Closed, Initialising); /* reconnect */
	OK(Connected, Reconfiguring);
	OK(Reconfiguring, Reconfigured);
	OK(Reconfigured, Connected);
	OK(InitWait, Closed);
	OK(Connected, Connected);
	NO(Connected, Initialising);
	NO(Connected, InitWait);
	NO(Initialised, InitWait);
	NO(Closed, Connected);
	NO(Closed, Closing);
	NO(Closing, Connected);
	NO(Unknown, Connected);
	NO(Connected, Unknown);
	NO(InitWait, Reconfiguring);
	NO(Connected, Reconfigured);
	assert_false(xenbus_state_transition_ok(XenbusStateConnected,
						(enum xenbus_state)9));
#undef OK
#undef NO
}

static void test_state_parse(void **state)
{
	enum xenbus_state s;

	(void)state;
	assert_int_equal(xenbus_state_parse("4", &s), 0);
	assert_int_equal(s, XenbusStateConnected);
	assert_int_equal(xenbus_state_parse("0", &s), 0);
	assert_int_equal(xenbus_state_parse("8", &s), 0);
	assert_int_equal(xenbus_state_parse("9", &s), -EINVAL);
	assert_int_equal(xenbus_state_parse("04", &s), -EINVAL);
	assert_int_equal(xenbus_state_parse("-1", &s), -EINVAL);
	assert_int_equal(xenbus_state_parse("4 ", &s), -EINVAL);
	assert_int_equal(xenbus_state_parse("", &s), -EINVAL);
	assert_int_equal(xenbus_state_parse("Connected", &s), -EINVAL);
	assert_int_equal(xenbus_state_parse("99999999999999999999", &s),
			 -EINVAL);
}

static void test_paths(void **state)
{
	char buf[128], type[XENBUS_TYPE_MAX];
	domid_t be, fe;
	uint32_t id;

	(void)state;
	assert_int_equal(xenbus_frontend_path(buf, sizeof(buf), 3, "vbd", 51712),
			 0);
	assert_string_equal(buf, "/local/domain/3/device/vbd/51712");
	assert_int_equal(xenbus_backend_path(buf, sizeof(buf), 0, "vif", 3, 0),
			 0);
	assert_string_equal(buf, "/local/domain/0/backend/vif/3/0");
	assert_int_equal(xenbus_frontend_path(buf, 10, 3, "vbd", 1),
			 -ENAMETOOLONG);
	assert_int_equal(xenbus_frontend_path(buf, sizeof(buf), 3, "../x", 1),
			 -EINVAL);
	assert_int_equal(xenbus_frontend_path(buf, sizeof(buf), 3, "", 1),
			 -EINVAL);

	assert_int_equal(xenbus_parse_frontend_path(
				 "/local/domain/3/device/vbd/51712", &fe, type,
				 &id),
			 0);
	assert_int_equal(fe, 3);
	assert_string_equal(type, "vbd");
	assert_int_equal(id, 51712);
	assert_int_equal(xenbus_parse_backend_path(
				 "/local/domain/0/backend/vif/3/1", &be, type,
				 &fe, &id),
			 0);
	assert_int_equal(be, 0);
	assert_int_equal(fe, 3);
	assert_int_equal(id, 1);
	assert_string_equal(type, "vif");

	/* Everything slightly off is rejected. */
	static const char *bad_fe[] = {
		"/local/domain/3/device/vbd/1/",
		"/local/domain/3/device/vbd/1/x",
		"/local/domain/3/device/vbd/",
		"/local/domain/3/device/vbd",
		"/local/domain/03/device/vbd/1",
		"/local/domain/3/device/vbd/01",
		"/local/domain/-3/device/vbd/1",
		"/local/domain/3/device/VBD/1",
		"/local/domain/3/device/../1",
		"/local/domain/3/backend/vbd/1",
		"/local/domain/65535/device/vbd/1",
		"/local/domain/3/device/vbd/4294967296",
		"local/domain/3/device/vbd/1",
		"/local//domain/3/device/vbd/1",
		"/local/domain/3/device//1",
		"",
	};
	for (size_t i = 0; i < sizeof(bad_fe) / sizeof(bad_fe[0]); i++)
		assert_int_equal(xenbus_parse_frontend_path(bad_fe[i], NULL,
							    NULL, NULL),
				 -EINVAL);
	assert_int_equal(xenbus_parse_backend_path("/local/domain/0/backend/vbd/3",
						   NULL, NULL, NULL, NULL),
			 -EINVAL);
	assert_int_equal(xenbus_parse_backend_path(
				 "/local/domain/0/backend/vbd/3/1/extra", NULL,
				 NULL, NULL, NULL),
			 -EINVAL);
	assert_int_equal(xenbus_parse_backend_path(
				 "/local/domain/0/backend/vbd/32768/1", NULL,
				 NULL, NULL, NULL),
			 -EINVAL);
}

/* ---- against the fake daemon ----------------------------------------- */

#define FE "/local/domain/3/device/vbd/51712"
#define BE "/local/domain/0/backend/vbd/3/51712"

static void test_switch_state(void **state)
{
	struct fake_xsd_env *e = *state;
	enum xenbus_state s;
	unsigned int before;

	/* No node: reads as Unknown, and switching refuses to create it. */
	assert_int_equal(xenbus_read_state(e->xs, 0, FE, &s), 0);
	assert_int_equal(s, XenbusStateUnknown);
	assert_int_equal(xenbus_switch_state(e->xs, FE, XenbusStateInitWait),
			 -ENOENT);
	assert_int_equal(xs_write_str(e->xs, 0, FE "/state", "1"), 0);
	assert_int_equal(xenbus_switch_state(e->xs, FE, XenbusStateInitWait),
			 0);
	assert_int_equal(xenbus_read_state(e->xs, 0, FE, &s), 0);
	assert_int_equal(s, XenbusStateInitWait);
	/* Switching to the current state commits without writing. */
	before = fake_xsd_commits(e->fake);
	assert_int_equal(xenbus_switch_state(e->xs, FE, XenbusStateInitWait),
			 0);
	assert_int_equal(fake_xsd_commits(e->fake), before + 1);
	/* Conflicts are retried. */
	fake_xsd_fail_commits(e->fake, 2);
	assert_int_equal(xenbus_switch_state(e->xs, FE, XenbusStateConnected),
			 0);
	assert_int_equal(xenbus_read_state(e->xs, 0, FE, &s), 0);
	assert_int_equal(s, XenbusStateConnected);
	assert_int_equal(xenbus_switch_state(e->xs, FE, (enum xenbus_state)42),
			 -EINVAL);
	/* A peer writing garbage into state. */
	assert_int_equal(xs_write_str(e->xs, 0, FE "/state", "connected"), 0);
	assert_int_equal(xenbus_read_state(e->xs, 0, FE, &s), -EINVAL);
}

struct switcher {
	struct xs_client *xs;
	const char *dir;
};

static void *later_connect(void *arg)
{
	struct switcher *sw = arg;

	usleep(30000);
	xenbus_switch_state(sw->xs, sw->dir, XenbusStateInitialised);
	usleep(10000);
	xenbus_switch_state(sw->xs, sw->dir, XenbusStateConnected);
	return NULL;
}

static void test_wait_for_state(void **state)
{
	struct fake_xsd_env *e = *state;
	struct switcher sw = {e->xs, BE};
	enum xenbus_state s;
	pthread_t t;

	assert_int_equal(xs_write_str(e->xs, 0, BE "/state", "2"), 0);
	/* Already there. */
	assert_int_equal(xenbus_wait_for_state(e->xs, BE,
					       XENBUS_STATE_BIT(XenbusStateInitWait),
					       0, &s),
			 0);
	assert_int_equal(s, XenbusStateInitWait);
	/* Not reached in time. */
	assert_int_equal(xenbus_wait_for_state(e->xs, BE,
					       XENBUS_STATE_BIT(XenbusStateClosed),
					       50, &s),
			 -ETIMEDOUT);
	assert_int_equal(s, XenbusStateInitWait);
	/* Reached by another thread's writes. */
	pthread_create(&t, NULL, later_connect, &sw);
	assert_int_equal(xenbus_wait_for_state(
				 e->xs, BE,
				 XENBUS_STATE_BIT(XenbusStateConnected) |
					 XENBUS_STATE_BIT(XenbusStateClosed),
				 5000, &s),
			 0);
	assert_int_equal(s, XenbusStateConnected);
	pthread_join(t, NULL);
}

static void test_read_peers(void **state)
{
	struct fake_xsd_env *e = *state;
	struct xs_client *xs = e->xs;
	char *p;
	domid_t id;

	xs_write_str(xs, 0, FE "/backend", BE);
	xs_write_str(xs, 0, FE "/backend-id", "0");
	xs_write_str(xs, 0, BE "/frontend", FE);
	xs_write_str(xs, 0, BE "/frontend-id", "3");
	assert_int_equal(xenbus_read_backend(xs, 0, FE, &p, &id), 0);
	assert_string_equal(p, BE);
	assert_int_equal(id, 0);
	free(p);
	assert_int_equal(xenbus_read_frontend(xs, 0, BE, &p, &id), 0);
	assert_string_equal(p, FE);
	assert_int_equal(id, 3);
	free(p);

	/* A frontend pointing its backend somewhere else. */
	static const char *bad_be[] = {
		"/local/domain/0/backend/vbd/4/51712", /* other frontend */
		"/local/domain/0/backend/vif/3/51712", /* other type */
		"/local/domain/0/backend/vbd/3/51713", /* other device */
		"/local/domain/1/backend/vbd/3/51712", /* != backend-id */
		"/local/domain/0/backend/vbd/3/51712/../../../../x",
		"/tool/secret",
		"",
	};
	for (size_t i = 0; i < sizeof(bad_be) / sizeof(bad_be[0]); i++) {
		xs_write_str(xs, 0, FE "/backend", bad_be[i]);
		assert_int_equal(xenbus_read_backend(xs, 0, FE, &p, &id),
				 -EINVAL);
	}
	xs_write_str(xs, 0, FE "/backend", BE);
	xs_write_str(xs, 0, FE "/backend-id", "zero");
	assert_int_equal(xenbus_read_backend(xs, 0, FE, &p, &id), -EINVAL);
	xs_write_str(xs, 0, FE "/backend-id", "70000");
	assert_int_equal(xenbus_read_backend(xs, 0, FE, &p, &id), -EINVAL);
	xs_rm(xs, 0, FE "/backend-id");
	assert_int_equal(xenbus_read_backend(xs, 0, FE, &p, &id), -ENOENT);
	/* The caller's own path must be of the right form. */
	assert_int_equal(xenbus_read_backend(xs, 0, BE, &p, &id), -EINVAL);

	xs_write_str(xs, 0, BE "/frontend-id", "4");
	assert_int_equal(xenbus_read_frontend(xs, 0, BE, &p, &id), -EINVAL);
	xs_write_str(xs, 0, BE "/frontend-id", "3");
	xs_write_str(xs, 0, BE "/frontend", "/local/domain/3/device/vbd/1");
	assert_int_equal(xenbus_read_frontend(xs, 0, BE, &p, &id), -EINVAL);
	xs_rm(xs, 0, BE "/frontend");
	assert_int_equal(xenbus_read_frontend(xs, 0, BE, &p, &id), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_transitions),
		cmocka_unit_test(test_state_parse),
		cmocka_unit_test(test_paths),
		cmocka_unit_test_setup_teardown(test_switch_state,
						fake_xsd_env_setup,
						fake_xsd_env_teardown),
		cmocka_unit_test_setup_teardown(test_wait_for_state,
						fake_xsd_env_setup,
						fake_xsd_env_teardown),
		cmocka_unit_test_setup_teardown(test_read_peers,
						fake_xsd_env_setup,
						fake_xsd_env_teardown),
	};

	return cmocka_run_group_tests_name("xenbus", tests, NULL, NULL);
}
