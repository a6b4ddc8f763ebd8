/*
 * test_xs_client.c - the xenstore client against the fake daemon over a
 * socketpair: every operation's framing, watch dispatch (including
 * callbacks that call the client and unwatch themselves), transaction
 * retry on EAGAIN, and hostile replies.
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
#include "xenbus/xs_internal.h"

static void test_basic_ops(void **state)
{
	struct fake_xsd_env *e = *state;
	struct xs_client *xs = e->xs;
	char *val, **names;
	unsigned int n, u;
	uint64_t v64;
	size_t len;
	int i;

	assert_int_equal(xs_write_str(xs, XS_TX_NONE, "/t/a", "hello"), 0);
	assert_int_equal(xs_read(xs, XS_TX_NONE, "/t/a", &val, &len), 0);
	assert_string_equal(val, "hello");
	assert_int_equal(len, 5);
	free(val);
	/* Binary values survive, including NULs. */
	assert_int_equal(xs_write(xs, XS_TX_NONE, "/t/bin", "a\0b", 3), 0);
	assert_int_equal(xs_read(xs, XS_TX_NONE, "/t/bin", &val, &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(val, "a\0b", 3);
	free(val);
	assert_int_equal(xs_mkdir(xs, XS_TX_NONE, "/t/d"), 0);
	assert_int_equal(xs_read(xs, XS_TX_NONE, "/t/d", &val, &len), 0);
	assert_int_equal(len, 0);
	free(val);
	assert_int_equal(xs_directory(xs, XS_TX_NONE, "/t", &names, &n), 0);
	assert_int_equal(n, 3);
	free(names);
	assert_int_equal(xs_rm(xs, XS_TX_NONE, "/t/d"), 0);
	assert_int_equal(xs_read(xs, XS_TX_NONE, "/t/d", &val, NULL), -ENOENT);
	assert_int_equal(xs_rm(xs, XS_TX_NONE, "/t/d"), -ENOENT);

	assert_int_equal(xs_printf(xs, XS_TX_NONE, "/t/n", "%u", 42u), 0);
	assert_int_equal(xs_scanf(xs, XS_TX_NONE, "/t/n", "%u", &u), 1);
	assert_int_equal(u, 42);
	assert_int_equal(xs_scanf(xs, XS_TX_NONE, "/t/a", "%u", &u), -EINVAL);
	assert_int_equal(xs_read_u64(xs, XS_TX_NONE, "/t/n", 0, 100, &v64), 0);
	assert_int_equal(v64, 42);
	assert_int_equal(xs_read_u64(xs, XS_TX_NONE, "/t/n", 0, 41, &v64),
			 -ERANGE);
	assert_int_equal(xs_read_u64(xs, XS_TX_NONE, "/t/a", 0, 41, &v64),
			 -EINVAL);
	assert_int_equal(xs_read_u64(xs, XS_TX_NONE, "/t/zz", 0, 41, &v64),
			 -ENOENT);
	assert_int_equal(xs_write_str(xs, XS_TX_NONE, "/t/neg", "-5"), 0);
	assert_int_equal(xs_read_int(xs, XS_TX_NONE, "/t/neg", -10, 10, &i), 0);
	assert_int_equal(i, -5);
	assert_int_equal(xs_read_u64(xs, XS_TX_NONE, "/t/neg", 0, 10, &v64),
			 -EINVAL);
	assert_int_equal(xs_read_int(xs, XS_TX_NONE, "/t/neg", 0, 10, &i),
			 -ERANGE);
	assert_int_equal(xs_write_str(xs, XS_TX_NONE, "/t/huge",
				      "99999999999999999999999"),
			 0);
	assert_int_equal(xs_read_int(xs, XS_TX_NONE, "/t/huge", 0, 10, &i),
			 -ERANGE);
	assert_int_equal(xs_read_u64(xs, XS_TX_NONE, "/t/huge", 0, UINT64_MAX,
				     &v64),
			 -ERANGE);
}

static void test_too_big(void **state)
{
	struct fake_xsd_env *e = *state;
	static char big[XENSTORE_PAYLOAD_MAX];

	memset(big, 'a', sizeof(big));
	assert_int_equal(xs_write(e->xs, XS_TX_NONE, "/t/big", big,
				  sizeof(big)),
			 -E2BIG);
	/* Still connected. */
	assert_int_equal(xs_write_str(e->xs, XS_TX_NONE, "/t/ok", "1"), 0);
	assert_int_equal(xs_client_error(e->xs), 0);
}

static void test_perms_ops(void **state)
{
	struct fake_xsd_env *e = *state;
	struct xs_perm set[2] = {{0, XS_PERM_NONE}, {5, XS_PERM_READ}}, *got;
	unsigned int n;

	assert_int_equal(xs_write_str(e->xs, XS_TX_NONE, "/p", "x"), 0);
	assert_int_equal(xs_set_perms(e->xs, XS_TX_NONE, "/p", set, 2), 0);
	assert_int_equal(xs_get_perms(e->xs, XS_TX_NONE, "/p", &got, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(got[0].id, 0);
	assert_int_equal(got[0].perms, XS_PERM_NONE);
	assert_int_equal(got[1].id, 5);
	assert_int_equal(got[1].perms, XS_PERM_READ);
	free(got);
	assert_int_equal(xs_set_perms(e->xs, XS_TX_NONE, "/p", set, 0),
			 -EINVAL);
}

static void test_domain_ops(void **state)
{
	struct fake_xsd_env *e = *state;
	const char *argv[] = {"log", "on"};
	char *p;

	assert_int_equal(xs_get_domain_path(e->xs, 7, &p), 0);
	assert_string_equal(p, "/local/domain/7");
	free(p);
	assert_int_equal(xs_is_domain_introduced(e->xs, 0), 1);
	assert_int_equal(xs_is_domain_introduced(e->xs, 3), 0);
	assert_int_equal(xs_introduce(e->xs, 3, 0xfeffful, 1), 0);
	assert_int_equal(xs_release(e->xs, 3), 0);
	assert_int_equal(xs_resume(e->xs, 3), 0);
	assert_int_equal(xs_set_target(e->xs, 3, 4), 0);
	assert_int_equal(xs_control(e->xs, argv, 2, NULL, NULL), 0);
}

/* ---- watches --------------------------------------------------------- */

struct wstate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned int count;
	char last[256];
	struct xs_client *xs;
	char readback[64];
	bool unwatch_self;
};

static void wcb(struct xs_client *xs, const char *path, const char *token,
		void *arg)
{
	struct wstate *w = arg;
	char *val = NULL;

	(void)token;
	/* Callbacks may call the client. */
	if (xs_read(xs, XS_TX_NONE, path, &val, NULL) == 0) {
		pthread_mutex_lock(&w->lock);
		snprintf(w->readback, sizeof(w->readback), "%s", val);
		pthread_mutex_unlock(&w->lock);
		free(val);
	}
	/* (No cmocka asserts off the test thread: flag failures.) */
	if (w->unwatch_self && xs_unwatch(xs, "/w", "tok") != 0)
		w->count += 1000;
	pthread_mutex_lock(&w->lock);
	w->count++;
	snprintf(w->last, sizeof(w->last), "%s", path);
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

static void wait_count(struct wstate *w, unsigned int n)
{
	int spins = 0;

	pthread_mutex_lock(&w->lock);
	while (w->count < n && spins++ < 500) {
		pthread_mutex_unlock(&w->lock);
		usleep(2000);
		pthread_mutex_lock(&w->lock);
	}
	assert_true(w->count >= n);
	pthread_mutex_unlock(&w->lock);
}

static void test_watch(void **state)
{
	struct fake_xsd_env *e = *state;
	struct wstate w = {.lock = PTHREAD_MUTEX_INITIALIZER,
			   .cond = PTHREAD_COND_INITIALIZER};
	unsigned int before;

	assert_int_equal(xs_watch(e->xs, "/w", "tok", wcb, &w), 0);
	assert_int_equal(xs_watch(e->xs, "/w", "tok", wcb, &w), -EEXIST);
	wait_count(&w, 1); /* fired on registration */
	assert_int_equal(xs_write_str(e->xs, XS_TX_NONE, "/w/x", "v1"), 0);
	wait_count(&w, 2);
	pthread_mutex_lock(&w.lock);
	assert_string_equal(w.last, "/w/x");
	assert_string_equal(w.readback, "v1");
	pthread_mutex_unlock(&w.lock);
	assert_int_equal(xs_unwatch(e->xs, "/w", "tok"), 0);
	assert_int_equal(xs_unwatch(e->xs, "/w", "tok"), -ENOENT);
	pthread_mutex_lock(&w.lock);
	before = w.count;
	pthread_mutex_unlock(&w.lock);
	assert_int_equal(xs_write_str(e->xs, XS_TX_NONE, "/w/x", "v2"), 0);
	/* A round trip later, no callback has run. */
	assert_int_equal(xs_write_str(e->xs, XS_TX_NONE, "/other", "1"), 0);
	usleep(20000);
	pthread_mutex_lock(&w.lock);
	assert_int_equal(w.count, before);
	pthread_mutex_unlock(&w.lock);
}

static void test_watch_unwatch_in_callback(void **state)
{
	struct fake_xsd_env *e = *state;
	struct wstate w = {.lock = PTHREAD_MUTEX_INITIALIZER,
			   .cond = PTHREAD_COND_INITIALIZER,
			   .unwatch_self = true};

	assert_int_equal(xs_watch(e->xs, "/w", "tok", wcb, &w), 0);
	wait_count(&w, 1);
	assert_int_equal(xs_write_str(e->xs, XS_TX_NONE, "/w/y", "1"), 0);
	assert_int_equal(xs_write_str(e->xs, XS_TX_NONE, "/other", "1"), 0);
	usleep(20000);
	pthread_mutex_lock(&w.lock);
	assert_int_equal(w.count, 1);
	pthread_mutex_unlock(&w.lock);
}

static void test_watch_events_unknown_token(void **state)
{
	struct fake_xsd_env *e = *state;

	/* An event nobody asked for is dropped quietly. */
	assert_int_equal(fake_xsd_send(e->fake, XS_WATCH_EVENT, 0, 0,
				       "/x\0nobody", 10),
			 0);
	/* A malformed one too. */
	assert_int_equal(fake_xsd_send(e->fake, XS_WATCH_EVENT, 0, 0, "/x", 2),
			 0);
	assert_int_equal(xs_write_str(e->xs, XS_TX_NONE, "/a", "1"), 0);
	assert_int_equal(xs_client_error(e->xs), 0);
}

/* ---- transactions ---------------------------------------------------- */

struct txarg {
	unsigned int calls;
	int ret;
};

static int tx_fn(struct xs_client *xs, xs_tx_t tx, void *arg)
{
	struct txarg *a = arg;

	a->calls++;
	assert_int_not_equal(tx, XS_TX_NONE);
	if (a->ret < 0)
		return a->ret;
	return xs_printf(xs, tx, "/tx/v", "%u", a->calls) ?: a->ret;
}

static void test_transaction_retry(void **state)
{
	struct fake_xsd_env *e = *state;
	struct txarg a = {0, 7};

	fake_xsd_fail_commits(e->fake, 3);
	assert_int_equal(xs_transaction_run(e->xs, tx_fn, &a), 7);
	assert_int_equal(a.calls, 4);
	assert_int_equal(fake_xsd_commits(e->fake), 4);
}

static void test_transaction_gives_up(void **state)
{
	struct fake_xsd_env *e = *state;
	struct txarg a = {0, 0};

	fake_xsd_fail_commits(e->fake, 1000);
	assert_int_equal(xs_transaction_run(e->xs, tx_fn, &a), -EAGAIN);
	assert_int_equal(a.calls, XS_TRANSACTION_RETRIES);
}

static void test_transaction_fn_error(void **state)
{
	struct fake_xsd_env *e = *state;
	struct txarg a = {0, -ENOSPC};

	assert_int_equal(xs_transaction_run(e->xs, tx_fn, &a), -ENOSPC);
	assert_int_equal(a.calls, 1);
	assert_int_equal(fake_xsd_commits(e->fake), 0); /* aborted */
}

static void test_transaction_manual(void **state)
{
	struct fake_xsd_env *e = *state;
	xs_tx_t t1, t2;

	assert_int_equal(xs_transaction_start(e->xs, &t1), 0);
	assert_int_equal(xs_transaction_start(e->xs, &t2), 0);
	assert_int_not_equal(t1, t2);
	fake_xsd_fail_commits(e->fake, 1);
	assert_int_equal(xs_transaction_end(e->xs, t1, false), -EAGAIN);
	assert_int_equal(xs_transaction_end(e->xs, t2, false), 0);
	assert_int_equal(xs_transaction_end(e->xs, XS_TX_NONE, false),
			 -EINVAL);
}

/* ---- concurrency ----------------------------------------------------- */

static void *hammer(void *arg)
{
	struct xs_client *xs = arg;
	char path[64], *val;
	int k;

	snprintf(path, sizeof(path), "/h/%lx",
		 (unsigned long)pthread_self() & 0xffffff);
	for (k = 0; k < 200; k++) {
		if (xs_printf(xs, XS_TX_NONE, path, "%d", k) < 0)
			return (void *)1;
		if (xs_read(xs, XS_TX_NONE, path, &val, NULL) < 0)
			return (void *)1;
		if (atoi(val) != k) {
			free(val);
			return (void *)1;
		}
		free(val);
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct fake_xsd_env *e = *state;
	pthread_t t[4];
	void *r;
	int k;

	for (k = 0; k < 4; k++)
		pthread_create(&t[k], NULL, hammer, e->xs);
	for (k = 0; k < 4; k++) {
		pthread_join(t[k], &r);
		assert_null(r);
	}
}

/* ---- hostile replies ------------------------------------------------- */

static bool hook_wrong_type(struct fake_xsd *f, const struct xsd_sockmsg *h,
			    const char *body, void *arg)
{
	(void)body;
	(void)arg;
	fake_xsd_send(f, XS_DIRECTORY, h->req_id, 0, "x", 2);
	return true;
}

static void test_wrong_reply_type(void **state)
{
	struct fake_xsd_env *e = *state;
	char *val;

	fake_xsd_set_hook(e->fake, hook_wrong_type, NULL);
	assert_int_equal(xs_read(e->xs, XS_TX_NONE, "/a", &val, NULL), -EIO);
}

static bool hook_unknown_id(struct fake_xsd *f, const struct xsd_sockmsg *h,
			    const char *body, void *arg)
{
	(void)body;
	(void)arg;
	/* A stray reply first, then the right one. */
	fake_xsd_send(f, h->type, h->req_id + 1000, 0, "stray", 5);
	fake_xsd_send(f, h->type, h->req_id, 0, "good", 4);
	return true;
}

static void test_unknown_req_id(void **state)
{
	struct fake_xsd_env *e = *state;
	char *val;

	fake_xsd_set_hook(e->fake, hook_unknown_id, NULL);
	assert_int_equal(xs_read(e->xs, XS_TX_NONE, "/a", &val, NULL), 0);
	assert_string_equal(val, "good");
	free(val);
}

static bool hook_errors(struct fake_xsd *f, const struct xsd_sockmsg *h,
			const char *body, void *arg)
{
	(void)arg;
	if (h->type == XS_READ)
		fake_xsd_send(f, XS_ERROR, h->req_id, 0, body + 1,
			      strlen(body + 1) + 1);
	else if (h->type == XS_TRANSACTION_START)
		fake_xsd_send(f, h->type, h->req_id, 0, "0x12", 5);
	else if (h->type == XS_IS_DOMAIN_INTRODUCED)
		fake_xsd_send(f, h->type, h->req_id, 0, "maybe", 6);
	else if (h->type == XS_GET_PERMS)
		fake_xsd_send(f, h->type, h->req_id, 0, "q1\0", 3);
	else
		return false;
	return true;
}

static void test_error_mapping(void **state)
{
	struct fake_xsd_env *e = *state;
	struct xs_perm *p;
	unsigned int n;
	xs_tx_t tx;
	char *val;

	fake_xsd_set_hook(e->fake, hook_errors, NULL);
	/* The hook echoes the path (minus '/') as the error name. */
	assert_int_equal(xs_read(e->xs, 0, "/EACCES", &val, NULL), -EACCES);
	assert_int_equal(xs_read(e->xs, 0, "/ENOSPC", &val, NULL), -ENOSPC);
	assert_int_equal(xs_read(e->xs, 0, "/EQUOTA", &val, NULL), -EIO);
	assert_int_equal(xs_transaction_start(e->xs, &tx), -EIO);
	assert_int_equal(xs_is_domain_introduced(e->xs, 1), -EIO);
	assert_int_equal(xs_get_perms(e->xs, 0, "/x", &p, &n), -EIO);
	/* None of that broke the connection. */
	assert_int_equal(xs_client_error(e->xs), 0);
}

static void test_daemon_dies(void **state)
{
	struct fake_xsd_env *e = *state;
	char *val;

	fake_xsd_stop(e->fake);
	e->fake = NULL;
	assert_int_equal(xs_read(e->xs, 0, "/a", &val, NULL), -EIO);
	assert_int_equal(xs_client_error(e->xs), -EIO);
}

static void test_open_path_missing(void **state)
{
	struct xs_client *xs;

	(void)state;
	assert_int_equal(xs_client_open_path("/nonexistent/xs.sock", &xs),
			 -ENOENT);
}

int main(void)
{
#define T(f)                                                                 \
	cmocka_unit_test_setup_teardown(f, fake_xsd_env_setup,               \
					fake_xsd_env_teardown)
	const struct CMUnitTest tests[] = {
		T(test_basic_ops),
		T(test_too_big),
		T(test_perms_ops),
		T(test_domain_ops),
		T(test_watch),
		T(test_watch_unwatch_in_callback),
		T(test_watch_events_unknown_token),
		T(test_transaction_retry),
		T(test_transaction_gives_up),
		T(test_transaction_fn_error),
		T(test_transaction_manual),
		T(test_threads),
		T(test_wrong_reply_type),
		T(test_unknown_req_id),
		T(test_error_mapping),
		T(test_daemon_dies),
		cmocka_unit_test(test_open_path_missing),
	};

	return cmocka_run_group_tests_name("xs_client", tests, NULL, NULL);
}
