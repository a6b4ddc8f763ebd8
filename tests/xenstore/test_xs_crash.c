/*
 * test_xs_crash.c - pvkit-xenstored survives SIGKILL (issue 13): guests
 * write their stores over their rings, with transactions and a watch,
 * while the daemon is killed and started again on its journal, again and
 * again.  Every acknowledged write must be there afterwards, each
 * transaction counted exactly once, no guest may hang, and a watch set
 * before the kills must fire after them.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "hv/hc_wire.h"
#include "pv_env.h"
#include "pvkit/guest.h"
#include "pvkit/xs.h"

#define NWRITES 4000
#define NKEYS 300 /* written over and over: the node quota is 1000 */
#define NGUESTS 2
#define NKILLS 12

static struct pv_env E;

struct crash_arg {
	unsigned int n;
};

static int bump(struct xs_client *xs, xs_tx_t tx, void *arg)
{
	unsigned int v = 0;
	char *s = NULL;
	int rc;

	(void)arg;
	rc = xs_read(xs, tx, "data/count", &s, NULL);
	if (rc && rc != -ENOENT)
		return rc;
	if (s)
		v = (unsigned int)strtoul(s, NULL, 10);
	free(s);
	return xs_printf(xs, tx, "data/count", "%u", v + 1);
}

struct ping {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool seen;
};

static void ping_fired(struct xs_client *xs, const char *path,
		       const char *token, void *arg)
{
	struct ping *p = arg;
	char *v = NULL;

	(void)token;
	if (xs_read(xs, XS_TX_NONE, path, &v, NULL) == 0 && !strcmp(v, "go")) {
		pthread_mutex_lock(&p->lock);
		p->seen = true;
		pthread_cond_signal(&p->cond);
		pthread_mutex_unlock(&p->lock);
	}
	free(v);
}

static int crash_guest(struct pvk_platform *plat, struct xs_client *xs,
		       void *arg)
{
	const struct crash_arg *a = arg;
	struct ping p = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
			 false};
	struct timespec until;
	char k[64], v[64];
	int rc = 0;

	(void)plat;
	if (xs_watch(xs, "data/ping", "t", ping_fired, &p))
		return 2;
	for (unsigned int i = 0; i < a->n; i++) {
		/* 50 a directory: a node's children count to its size quota */
		snprintf(k, sizeof(k), "data/d%u/k%u", i % NKEYS / 50,
			 i % NKEYS);
		snprintf(v, sizeof(v), "v%u", i);
		rc = xs_write_str(xs, XS_TX_NONE, k, v);
		if (rc) {
			fprintf(stderr, "guest: write %s: %s\n", k,
				strerror(-rc));
			return 3;
		}
		rc = i % 10 ? 0 : xs_transaction_run(xs, bump, NULL);
		if (rc) {
			fprintf(stderr, "guest: transaction %u: %s\n", i,
				strerror(-rc));
			return 4;
		}
	}
	if (xs_write_str(xs, XS_TX_NONE, "data/done", "1"))
		return 5;
	/* the watch set before the kills still fires */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 30;
	pthread_mutex_lock(&p.lock);
	while (!p.seen && rc == 0)
		rc = pthread_cond_timedwait(&p.cond, &p.lock, &until);
	pthread_mutex_unlock(&p.lock);
	if (!p.seen)
		return 6;
	return xs_write_str(xs, XS_TX_NONE, "data/pong", "1") ? 7 : 0;
}

static int read_at(domid_t d, const char *node, char **v)
{
	char path[160];

	snprintf(path, sizeof(path), "/local/domain/%u/%s", d, node);
	*v = NULL;
	return xs_read(E.xs, XS_TX_NONE, path, v, NULL);
}

/* Wait up to 60 s for /local/domain/<d>/<node>. */
static bool wait_node(domid_t d, const char *node)
{
	for (int i = 0; i < 6000; i++) {
		char *v;

		if (read_at(d, node, &v) == 0) {
			free(v);
			return true;
		}
		usleep(10000);
	}
	return false;
}

static void test_kill_under_writes(void **state)
{
	struct crash_arg a = {.n = NWRITES};
	domid_t d[NGUESTS];
	pid_t pid[NGUESTS];
	char path[96], want[32], *v;
	unsigned int seed = (unsigned int)time(NULL);

	(void)state;
	srand(seed);
	for (int g = 0; g < NGUESTS; g++)
		assert_int_equal(pv_env_guest(&E, NULL, NULL, crash_guest, &a,
					      sizeof(a), &d[g], &pid[g]),
				 0);
	/* kill while the guests write, at least NKILLS times */
	for (int i = 0, done = 0; i < NKILLS || done < NGUESTS; i++) {
		usleep(20000 + (unsigned int)(rand() % 60000));
		assert_int_equal(pv_env_xenstored_kill(&E), 0);
		for (int g = done = 0; g < NGUESTS; g++)
			if (read_at(d[g], "data/done", &v) == 0) {
				free(v);
				done++;
			}
		for (int g = 0; g < NGUESTS; g++) {
			siginfo_t si = {0};

			if (!waitid(P_PID, (id_t)pid[g], &si,
				    WEXITED | WNOHANG | WNOWAIT) &&
			    si.si_pid &&
			    (si.si_code != CLD_EXITED || si.si_status))
				fail_msg("dom%u ended: %s %d (seed %u)", d[g],
					 si.si_code == CLD_EXITED ? "exit"
								  : "signal",
					 si.si_status, seed);
		}
		if (i > 2000)
			fail_msg("the guests never finished (seed %u)", seed);
		if (done == NGUESTS)
			fprintf(stderr, "test: %d kills\n", i + 1);
	}
	for (int g = 0; g < NGUESTS; g++) {
		siginfo_t si = {0};

		if (!wait_node(d[g], "data/done") &&
		    !waitid(P_PID, (id_t)pid[g], &si,
			    WEXITED | WNOHANG | WNOWAIT))
			fail_msg("dom%u never finished (seed %u): %s %d", d[g],
				 seed,
				 si.si_pid ? (si.si_code == CLD_EXITED
						  ? "exited"
						  : "killed by signal")
					   : "still running",
				 si.si_status);
		/* each key holds its last write */
		for (unsigned int i = NWRITES - NKEYS; i < NWRITES; i++) {
			snprintf(path, sizeof(path), "data/d%u/k%u",
				 i % NKEYS / 50, i % NKEYS);
			snprintf(want, sizeof(want), "v%u", i);
			if (read_at(d[g], path, &v))
				fail_msg("dom%u: %s lost (seed %u)", d[g], path,
					 seed);
			assert_string_equal(v, want);
			free(v);
		}
		/* each transaction committed exactly once */
		assert_int_equal(read_at(d[g], "data/count", &v), 0);
		snprintf(want, sizeof(want), "%u", (NWRITES + 9) / 10);
		assert_string_equal(v, want);
		free(v);
		snprintf(path, sizeof(path), "/local/domain/%u/data/ping",
			 d[g]);
		assert_int_equal(xs_write_str(E.xs, XS_TX_NONE, path, "go"), 0);
		if (!wait_node(d[g], "data/pong"))
			fail_msg("dom%u: the watch did not fire", d[g]);
	}
	for (int g = 0; g < NGUESTS; g++)
		assert_int_equal(pv_env_guest_end(&E, NULL, d[g], pid[g]), 0);
}

/* A domain that died while the daemon was down is released when it comes
 * back (as VIRQ_DOM_EXC would have done). */
static int idle_guest(struct pvk_platform *plat, struct xs_client *xs,
		      void *arg)
{
	(void)plat;
	(void)arg;
	if (xs_write_str(xs, XS_TX_NONE, "data/up", "1"))
		return 2;
	pause();
	return 0;
}

static void test_dead_while_down(void **state)
{
	domid_t d;
	pid_t pid;

	(void)state;
	assert_int_equal(
	    pv_env_guest(&E, NULL, NULL, idle_guest, NULL, 0, &d, &pid), 0);
	assert_true(wait_node(d, "data/up"));
	assert_int_equal(xs_is_domain_introduced(E.xs, d), 1);
	/* the domain ends between the kill and the restart */
	kill(E.xsd, SIGKILL);
	kill(pid, SIGKILL);
	pvk_dom_simple(E.h.dom0, PVK_HC_dom_destroy, d);
	assert_int_equal(pv_env_xenstored_kill(&E), 0);
	for (int i = 0; i < 500 && xs_is_domain_introduced(E.xs, d) == 1; i++)
		usleep(10000);
	assert_int_equal(xs_is_domain_introduced(E.xs, d), 0);
	pv_env_guest_end(&E, NULL, d, pid);
}

static int setup(void **state)
{
	(void)state;
	return pv_env_start(&E);
}

static int teardown(void **state)
{
	(void)state;
	pv_env_stop(&E);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kill_under_writes),
	    cmocka_unit_test(test_dead_while_down),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
