/*
 * test_xs_integration.c - the xenstore client and xenbus helpers against a
 * real xenstored started on a temporary socket: $XS_TEST_DAEMON
 * (pvkit-xenstored --socket PATH, $XENSTORED_PATH set as well).  Exits 77
 * (skipped) when no daemon is configured.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/util.h"
#include "pvkit/xenbus.h"

static char tmpdir[64], sock[128], logpath[128], journal[128];
static const char *daemon_exe;
static pid_t daemon_pid = -1;

static void dump_log(void)
{
	char buf[4096];
	ssize_t n;
	int fd = open(logpath, O_RDONLY);

	if (fd < 0)
		return;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (write(2, buf, (size_t)n) < 0)
			break;
	close(fd);
}

static int spawn_daemon(void);

static int start_daemon(const char *exe)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/pvk-xs-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -errno;
	snprintf(sock, sizeof(sock), "%s/socket", tmpdir);
	snprintf(logpath, sizeof(logpath), "%s/log", tmpdir);
	snprintf(journal, sizeof(journal), "%s/store", tmpdir);
	daemon_exe = exe;
	return spawn_daemon();
}

/* Start the daemon (again) on the journal in tmpdir.  0 or -errno. */
static int spawn_daemon(void)
{
	const char *exe = daemon_exe;
	struct xs_client *xs;
	int i, st;

	daemon_pid = fork();
	if (daemon_pid < 0)
		return -errno;
	if (daemon_pid == 0) {
		int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		setenv("XENSTORED_PATH", sock, 1);
		setenv("XENSTORED_RUNDIR", tmpdir, 1);
		execl(exe, exe, "--socket", sock, "--journal", journal,
		      (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 500; i++) {
		if (waitpid(daemon_pid, &st, WNOHANG) == daemon_pid) {
			fprintf(stderr,
				"xenstored %s exited early (status "
				"%#x); its output:\n",
				exe, st);
			dump_log();
			daemon_pid = -1;
			return -ECHILD;
		}
		if (xs_client_open_path(sock, &xs) == 0) {
			xs_client_close(xs);
			return 0;
		}
		usleep(10000);
	}
	fprintf(stderr, "xenstored %s did not open %s\n", exe, sock);
	dump_log();
	return -ETIMEDOUT;
}

static void stop_daemon(void)
{
	char cmd[128];

	if (daemon_pid > 0) {
		kill(daemon_pid, SIGTERM);
		waitpid(daemon_pid, NULL, 0);
		daemon_pid = -1;
	}
	if (tmpdir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", tmpdir);
	}
}

static int setup(void **state)
{
	struct xs_client *xs;

	if (xs_client_open_path(sock, &xs) < 0)
		return -1;
	*state = xs;
	return 0;
}

static int teardown(void **state)
{
	struct xs_client *xs = *state;

	xs_rm(xs, XS_TX_NONE, "/pvktest");
	xs_client_close(xs);
	return 0;
}

static void test_read_write(void **state)
{
	struct xs_client *xs = *state;
	static char big[4000];
	char *val, **names;
	unsigned int n, k;
	size_t len;

	assert_int_equal(xs_write_str(xs, 0, "/pvktest/a", "hello"), 0);
	assert_int_equal(xs_read(xs, 0, "/pvktest/a", &val, &len), 0);
	assert_string_equal(val, "hello");
	assert_int_equal(len, 5);
	free(val);
	assert_int_equal(xs_write(xs, 0, "/pvktest/empty", "", 0), 0);
	assert_int_equal(xs_read(xs, 0, "/pvktest/empty", &val, &len), 0);
	assert_int_equal(len, 0);
	free(val);
	memset(big, 'b', sizeof(big));
	assert_int_equal(xs_write(xs, 0, "/pvktest/big", big, sizeof(big)), 0);
	assert_int_equal(xs_read(xs, 0, "/pvktest/big", &val, &len), 0);
	assert_int_equal(len, sizeof(big));
	assert_memory_equal(val, big, sizeof(big));
	free(val);
	assert_int_equal(xs_mkdir(xs, 0, "/pvktest/dir"), 0);
	assert_int_equal(xs_mkdir(xs, 0, "/pvktest/dir"), 0);
	assert_int_equal(xs_write_str(xs, 0, "/pvktest/dir/x/y", "1"), 0);
	assert_int_equal(xs_directory(xs, 0, "/pvktest", &names, &n), 0);
	assert_int_equal(n, 4);
	for (k = 0; k < n; k++)
		assert_true(
		    !strcmp(names[k], "a") || !strcmp(names[k], "big") ||
		    !strcmp(names[k], "dir") || !strcmp(names[k], "empty"));
	free(names);
	assert_int_equal(xs_directory(xs, 0, "/pvktest/dir/x/y", &names, &n),
			 0);
	assert_int_equal(n, 0);
	free(names);
	assert_int_equal(xs_rm(xs, 0, "/pvktest/dir"), 0);
	assert_int_equal(xs_read(xs, 0, "/pvktest/dir/x/y", &val, NULL),
			 -ENOENT);
	assert_int_equal(xs_read(xs, 0, "/pvktest/nothing", &val, NULL),
			 -ENOENT);
	assert_int_equal(xs_directory(xs, 0, "/pvktest/nothing", &names, &n),
			 -ENOENT);
	assert_int_equal(xs_printf(xs, 0, "/pvktest/n", "%d", 1234), 0);
	assert_int_equal(xs_scanf(xs, 0, "/pvktest/n", "%u", &k), 1);
	assert_int_equal(k, 1234);
	assert_int_equal(xs_client_error(xs), 0);
}

/* A listing larger than one payload comes back through DIRECTORY_PART. */
static void test_big_directory(void **state)
{
	struct xs_client *xs = *state;
	char path[128], **names;
	unsigned int n, k, seen = 0;

	for (k = 0; k < 300; k++) {
		snprintf(path, sizeof(path),
			 "/pvktest/big/child-with-a-rather-long-name-%03u", k);
		assert_int_equal(xs_write_str(xs, 0, path, "x"), 0);
	}
	assert_int_equal(xs_directory(xs, 0, "/pvktest/big", &names, &n), 0);
	assert_int_equal(n, 300);
	for (k = 0; k < n; k++)
		if (!strncmp(names[k], "child-with-a-rather-long-name-", 30))
			seen++;
	assert_int_equal(seen, 300);
	free(names);
}

static void test_perms(void **state)
{
	struct xs_client *xs = *state;
	struct xs_perm set[3] = {{0, XS_PERM_NONE},
				 {5, XS_PERM_READ},
				 {6, XS_PERM_BOTH}},
		       *got;
	unsigned int n;

	assert_int_equal(xs_write_str(xs, 0, "/pvktest/p", "x"), 0);
	assert_int_equal(xs_get_perms(xs, 0, "/pvktest/p", &got, &n), 0);
	assert_true(n >= 1);
	assert_int_equal(got[0].id, 0);
	free(got);
	assert_int_equal(xs_set_perms(xs, 0, "/pvktest/p", set, 3), 0);
	assert_int_equal(xs_get_perms(xs, 0, "/pvktest/p", &got, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(got[1].id, 5);
	assert_int_equal(got[1].perms, XS_PERM_READ);
	assert_int_equal(got[2].id, 6);
	assert_int_equal(got[2].perms, XS_PERM_BOTH);
	free(got);
	assert_int_equal(xs_set_perms(xs, 0, "/pvktest/none", set, 3), -ENOENT);
}

struct wstate {
	pthread_mutex_t lock;
	unsigned int count;
	char last[256], readback[64];
};

static void wcb(struct xs_client *xs, const char *path, const char *token,
		void *arg)
{
	struct wstate *w = arg;
	char *val = NULL;

	(void)token;
	xs_read(xs, 0, path, &val, NULL); /* calling back into the client */
	pthread_mutex_lock(&w->lock);
	w->count++;
	snprintf(w->last, sizeof(w->last), "%s", path);
	snprintf(w->readback, sizeof(w->readback), "%s", val ? val : "");
	pthread_mutex_unlock(&w->lock);
	free(val);
}

static bool wait_for(struct wstate *w, unsigned int n, const char *last)
{
	int i;

	for (i = 0; i < 500; i++) {
		bool ok;

		pthread_mutex_lock(&w->lock);
		ok = w->count >= n && (!last || !strcmp(w->last, last));
		pthread_mutex_unlock(&w->lock);
		if (ok)
			return true;
		usleep(10000);
	}
	return false;
}

static void test_watches(void **state)
{
	struct xs_client *xs = *state;
	struct wstate w = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct wstate w2 = {.lock = PTHREAD_MUTEX_INITIALIZER};
	unsigned int c;

	assert_int_equal(xs_mkdir(xs, 0, "/pvktest/w"), 0);
	assert_int_equal(xs_watch(xs, "/pvktest/w", "t1", wcb, &w), 0);
	assert_true(wait_for(&w, 1, "/pvktest/w")); /* initial firing */
	assert_int_equal(xs_write_str(xs, 0, "/pvktest/w/k", "v"), 0);
	assert_true(wait_for(&w, 2, "/pvktest/w/k"));
	pthread_mutex_lock(&w.lock);
	assert_string_equal(w.readback, "v");
	pthread_mutex_unlock(&w.lock);
	/* Two watches with their own callbacks. */
	assert_int_equal(xs_watch(xs, "/pvktest/w/k", "t2", wcb, &w2), 0);
	assert_true(wait_for(&w2, 1, NULL));
	assert_int_equal(xs_rm(xs, 0, "/pvktest/w/k"), 0);
	assert_true(wait_for(&w2, 2, "/pvktest/w/k"));
	assert_true(wait_for(&w, 3, "/pvktest/w/k"));
	assert_int_equal(xs_unwatch(xs, "/pvktest/w", "t1"), 0);
	assert_int_equal(xs_unwatch(xs, "/pvktest/w/k", "t2"), 0);
	pthread_mutex_lock(&w.lock);
	c = w.count;
	pthread_mutex_unlock(&w.lock);
	assert_int_equal(xs_write_str(xs, 0, "/pvktest/w/k", "again"), 0);
	assert_int_equal(xs_write_str(xs, 0, "/pvktest/w/sync", "1"), 0);
	usleep(50000);
	pthread_mutex_lock(&w.lock);
	assert_int_equal(w.count, c);
	pthread_mutex_unlock(&w.lock);
}

static void test_transaction_conflict(void **state)
{
	struct xs_client *xs = *state;
	xs_tx_t tx;
	char *val;

	assert_int_equal(xs_write_str(xs, 0, "/pvktest/c", "0"), 0);
	assert_int_equal(xs_transaction_start(xs, &tx), 0);
	assert_int_equal(xs_read(xs, tx, "/pvktest/c", &val, NULL), 0);
	free(val);
	assert_int_equal(xs_write_str(xs, 0, "/pvktest/c", "outside"), 0);
	assert_int_equal(xs_write_str(xs, tx, "/pvktest/c", "inside"), 0);
	assert_int_equal(xs_transaction_end(xs, tx, false), -EAGAIN);
	assert_int_equal(xs_read(xs, 0, "/pvktest/c", &val, NULL), 0);
	assert_string_equal(val, "outside");
	free(val);

	/* Aborted transactions leave no trace. */
	assert_int_equal(xs_transaction_start(xs, &tx), 0);
	assert_int_equal(xs_write_str(xs, tx, "/pvktest/c", "aborted"), 0);
	assert_int_equal(xs_transaction_end(xs, tx, true), 0);
	assert_int_equal(xs_read(xs, 0, "/pvktest/c", &val, NULL), 0);
	assert_string_equal(val, "outside");
	free(val);
}

struct incr {
	unsigned int calls;
	bool interfere;
};

/* Increment /pvktest/ctr; on the first call also bump it outside the
 * transaction so that the commit conflicts and must be retried. */
static int incr_fn(struct xs_client *xs, xs_tx_t tx, void *arg)
{
	struct incr *a = arg;
	uint64_t v;
	int rc;

	rc = xs_read_u64(xs, tx, "/pvktest/ctr", 0, UINT32_MAX, &v);
	if (rc < 0)
		return rc;
	if (a->interfere && a->calls == 0) {
		uint64_t o;

		rc = xs_read_u64(xs, 0, "/pvktest/ctr", 0, UINT32_MAX, &o);
		if (rc == 0)
			rc = xs_printf(xs, 0, "/pvktest/ctr", "%llu",
				       (unsigned long long)o + 1);
		if (rc < 0)
			return rc;
	}
	a->calls++;
	return xs_printf(xs, tx, "/pvktest/ctr", "%llu",
			 (unsigned long long)v + 1);
}

static void *incr_thread(void *arg)
{
	struct xs_client *xs;
	struct incr a = {0, false};
	int k;

	(void)arg;
	if (xs_client_open_path(sock, &xs) < 0)
		return (void *)1;
	for (k = 0; k < 50; k++)
		if (xs_transaction_run(xs, incr_fn, &a) < 0) {
			xs_client_close(xs);
			return (void *)1;
		}
	xs_client_close(xs);
	return NULL;
}

static void test_transaction_retry(void **state)
{
	struct xs_client *xs = *state;
	struct incr a = {0, true};
	pthread_t t[3];
	uint64_t v;
	void *r;
	int k;

	assert_int_equal(xs_write_str(xs, 0, "/pvktest/ctr", "0"), 0);
	assert_int_equal(xs_transaction_run(xs, incr_fn, &a), 0);
	assert_int_equal(a.calls, 2); /* conflicted once, then committed */
	assert_int_equal(xs_read_u64(xs, 0, "/pvktest/ctr", 0, 100, &v), 0);
	assert_int_equal(v, 2);
	/* Three clients incrementing concurrently lose no update. */
	for (k = 0; k < 3; k++)
		pthread_create(&t[k], NULL, incr_thread, NULL);
	for (k = 0; k < 3; k++) {
		pthread_join(t[k], &r);
		assert_null(r);
	}
	assert_int_equal(xs_read_u64(xs, 0, "/pvktest/ctr", 0, 1000, &v), 0);
	assert_int_equal(v, 152);
}

static void test_domains(void **state)
{
	struct xs_client *xs = *state;
	const char *help[] = {"help"};
	char *p = NULL;
	int rc;

	assert_int_equal(xs_get_domain_path(xs, 7, &p), 0);
	assert_string_equal(p, "/local/domain/7");
	free(p);
	rc = xs_is_domain_introduced(xs, 9);
	assert_true(rc == 0 || (rc < 0 && rc != -EIO));
	/* Without a hypervisor introduce may fail, but cleanly. */
	rc = xs_introduce(xs, 9, 0x1234, 5);
	assert_true(rc <= 0 && rc != -EIO);
	if (rc == 0) {
		assert_int_equal(xs_is_domain_introduced(xs, 9), 1);
		assert_int_equal(xs_release(xs, 9), 0);
	} else {
		assert_true(xs_release(xs, 9) < 0);
	}
	p = NULL;
	rc = xs_control(xs, help, 1, &p, NULL);
	assert_true(rc == 0 || (rc < 0 && rc != -EIO));
	free(p);
	assert_int_equal(xs_client_error(xs), 0);
}

#define FE "/local/domain/3/device/vbd/51712"
#define BE "/local/domain/0/backend/vbd/3/51712"

static void *connect_later(void *arg)
{
	struct xs_client *xs;

	(void)arg;
	if (xs_client_open_path(sock, &xs) < 0)
		return (void *)1;
	usleep(50000);
	xenbus_switch_state(xs, BE, XenbusStateInitWait);
	usleep(20000);
	xenbus_switch_state(xs, BE, XenbusStateConnected);
	xs_client_close(xs);
	return NULL;
}

static void test_xenbus(void **state)
{
	struct xs_client *xs = *state;
	enum xenbus_state s;
	pthread_t t;
	char *p;
	domid_t id;
	void *r;

	xs_rm(xs, 0, "/local/domain/3/device");
	xs_rm(xs, 0, "/local/domain/0/backend");
	assert_int_equal(xs_write_str(xs, 0, FE "/state", "1"), 0);
	assert_int_equal(xs_write_str(xs, 0, FE "/backend", BE), 0);
	assert_int_equal(xs_write_str(xs, 0, FE "/backend-id", "0"), 0);
	assert_int_equal(xs_write_str(xs, 0, BE "/state", "1"), 0);
	assert_int_equal(xs_write_str(xs, 0, BE "/frontend", FE), 0);
	assert_int_equal(xs_write_str(xs, 0, BE "/frontend-id", "3"), 0);

	assert_int_equal(xenbus_read_backend(xs, 0, FE, &p, &id), 0);
	assert_string_equal(p, BE);
	free(p);
	assert_int_equal(xenbus_read_frontend(xs, 0, BE, &p, &id), 0);
	assert_string_equal(p, FE);
	assert_int_equal(id, 3);
	free(p);

	pthread_create(&t, NULL, connect_later, NULL);
	assert_int_equal(
	    xenbus_wait_for_state(
		xs, BE, XENBUS_STATE_BIT(XenbusStateConnected), 10000, &s),
	    0);
	pthread_join(t, &r);
	assert_null(r);
	assert_int_equal(s, XenbusStateConnected);
	assert_int_equal(xenbus_switch_state(xs, FE, XenbusStateConnected), 0);
	assert_int_equal(xenbus_read_state(xs, 0, FE, &s), 0);
	assert_int_equal(s, XenbusStateConnected);
	/* The device was removed: switching must not recreate it. */
	assert_int_equal(xs_rm(xs, 0, FE), 0);
	assert_int_equal(xenbus_switch_state(xs, FE, XenbusStateClosing),
			 -ENOENT);
	assert_int_equal(xs_read(xs, 0, FE "/state", &p, NULL), -ENOENT);
	xs_rm(xs, 0, "/local/domain/3/device");
	xs_rm(xs, 0, "/local/domain/0/backend");
}

/* A client that pipelines: many requests written before any reply is
 * read (past the outstanding quota) all get their replies, in order; a
 * message of a type the daemon does not know is answered ENOSYS and the
 * connection goes on (Xen's xenstored does the same). */
static void test_pipelined_requests(void **state)
{
	enum { N = 1000 }; /* issue 13: a thousand on one connection */
	static char out[N * 64];
	struct xsd_sockmsg h;
	size_t off = 0, got_len = 0;
	char in[8192], *rbuf = NULL;
	unsigned int i, replies = 0;
	int fd = pvk_unix_connect(sock, SOCK_STREAM);

	(void)state;
	assert_true(fd >= 0);
	for (i = 0; i < N; i++) {
		char body[48];
		int n = snprintf(body, sizeof(body), "/pipe/%u", i) + 1;

		memcpy(body + n, "v", 1);
		h = (struct xsd_sockmsg){
		    .type = XS_WRITE, .req_id = i + 1, .len = (uint32_t)n + 1};
		memcpy(out + off, &h, sizeof(h));
		memcpy(out + off + sizeof(h), body, (size_t)n + 1);
		off += sizeof(h) + (size_t)n + 1;
	}
	h = (struct xsd_sockmsg){.type = XS_TYPE_COUNT + 5, .req_id = N + 1};
	memcpy(out + off, &h, sizeof(h));
	off += sizeof(h);
	assert_int_equal(pvk_write_all(fd, out, off), 0);
	rbuf = malloc(N * 64);
	assert_non_null(rbuf);
	while (replies < N + 1) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, 5000) != 1)
			break; /* stalled */
		n = read(fd, in, sizeof(in));
		if (n <= 0)
			break;
		memcpy(rbuf + got_len, in, (size_t)n);
		got_len += (size_t)n;
		while (got_len >= sizeof(h)) {
			memcpy(&h, rbuf, sizeof(h));
			if (got_len < sizeof(h) + h.len)
				break;
			replies++;
			assert_int_equal(h.req_id, replies);
			if (replies <= N) {
				assert_int_equal(h.type, XS_WRITE);
			} else {
				assert_int_equal(h.type, XS_ERROR);
				assert_string_equal(rbuf + sizeof(h), "ENOSYS");
			}
			got_len -= sizeof(h) + h.len;
			memmove(rbuf, rbuf + sizeof(h) + h.len, got_len);
		}
	}
	assert_int_equal(replies, N + 1);
	free(rbuf);
	close(fd);
}

/* The daemon is SIGKILLed and started again on its journal under a
 * client that reconnects: its writes all land, a request sent while the
 * daemon was down is answered, its watch fires again, its transaction
 * from before fails with EAGAIN and a new one works. */
struct rc_watch {
	pthread_mutex_t lock;
	unsigned int fired;
};

static void rc_fired(struct xs_client *xs, const char *path,
		     const char *token, void *arg)
{
	struct rc_watch *w = arg;

	(void)xs;
	(void)path;
	(void)token;
	pthread_mutex_lock(&w->lock);
	w->fired++;
	pthread_mutex_unlock(&w->lock);
}

static unsigned int rc_count(struct rc_watch *w)
{
	unsigned int n;

	pthread_mutex_lock(&w->lock);
	n = w->fired;
	pthread_mutex_unlock(&w->lock);
	return n;
}

static void *rc_writer(void *arg)
{
	struct xs_client *xs = arg;
	char path[64];
	intptr_t bad = 0;

	for (unsigned int i = 0; i < 2000 && !bad; i++) {
		snprintf(path, sizeof(path), "/pvktest/rc/k%u", i % 200);
		if (xs_printf(xs, XS_TX_NONE, path, "%u", i))
			bad = (intptr_t)i + 1;
	}
	return (void *)bad;
}

/* Transactions from other threads at the same time: those cut by a kill
 * end in EAGAIN and run again (the client must not trip over them while
 * it reconnects). */
static int rc_bump(struct xs_client *xs, xs_tx_t tx, void *arg)
{
	const char *path = arg;
	char *v = NULL;
	unsigned int n = 0;
	int rc = xs_read(xs, tx, path, &v, NULL);

	if (rc && rc != -ENOENT)
		return rc;
	if (v)
		n = (unsigned int)strtoul(v, NULL, 10);
	free(v);
	return xs_printf(xs, tx, path, "%u", n + 1);
}

static void *rc_txer(void *arg)
{
	struct xs_client *xs = *(struct xs_client **)arg;
	const char *path = ((const char **)arg)[1];
	intptr_t bad = 0;

	for (unsigned int i = 0; i < 300 && !bad; i++)
		if (xs_transaction_run(xs, rc_bump, (void *)path))
			bad = (intptr_t)i + 1;
	return (void *)bad;
}

static void test_reconnect(void **state)
{
	struct rc_watch w = {PTHREAD_MUTEX_INITIALIZER, 0};
	struct xs_client *xs = *state;
	const void *txa[2][2];
	pthread_t th, txth[2];
	xs_tx_t tx;
	void *res;
	char *v;
	unsigned int before;

	assert_int_equal(xs_client_set_reconnect(xs, 10000, NULL, NULL), 0);
	assert_int_equal(xs_watch(xs, "/pvktest/rcw", "t", rc_fired, &w), 0);
	for (int i = 0; i < 200 && rc_count(&w) == 0; i++)
		usleep(10000);
	assert_int_equal(rc_count(&w), 1);
	assert_int_equal(xs_transaction_start(xs, &tx), 0);
	assert_int_equal(xs_write_str(xs, tx, "/pvktest/rctx", "1"), 0);
	/* kills under a writer's and two transaction runners' traffic */
	assert_int_equal(pthread_create(&th, NULL, rc_writer, xs), 0);
	for (int t = 0; t < 2; t++) {
		txa[t][0] = xs;
		txa[t][1] = t ? "/pvktest/rct1" : "/pvktest/rct0";
		assert_int_equal(
		    pthread_create(&txth[t], NULL, rc_txer, txa[t]), 0);
	}
	for (int k = 0; k < 8; k++) {
		usleep(20000);
		kill(daemon_pid, SIGKILL);
		waitpid(daemon_pid, NULL, 0);
		daemon_pid = -1;
		usleep(30000); /* requests wait for the daemon meanwhile */
		assert_int_equal(spawn_daemon(), 0);
	}
	assert_int_equal(pthread_join(th, &res), 0);
	assert_int_equal((intptr_t)res, 0);
	for (int t = 0; t < 2; t++) {
		assert_int_equal(pthread_join(txth[t], &res), 0);
		assert_int_equal((intptr_t)res, 0);
	}
	for (unsigned int i = 1800; i < 2000; i++) {
		char path[64], want[16];

		snprintf(path, sizeof(path), "/pvktest/rc/k%u", i % 200);
		snprintf(want, sizeof(want), "%u", i);
		assert_int_equal(xs_read(xs, XS_TX_NONE, path, &v, NULL), 0);
		assert_string_equal(v, want);
		free(v);
	}
	/* the transaction died with its connection */
	assert_int_equal(xs_write_str(xs, tx, "/pvktest/rctx", "2"), -EAGAIN);
	assert_int_equal(xs_transaction_end(xs, tx, false), -EAGAIN);
	assert_int_equal(xs_read(xs, XS_TX_NONE, "/pvktest/rctx", &v, NULL),
			 -ENOENT);
	assert_int_equal(xs_transaction_start(xs, &tx), 0);
	assert_int_equal(xs_write_str(xs, tx, "/pvktest/rctx", "3"), 0);
	assert_int_equal(xs_transaction_end(xs, tx, false), 0);
	/* the watch is there again: it fired on registration, and fires */
	before = rc_count(&w);
	assert_true(before >= 2);
	assert_int_equal(xs_write_str(xs, XS_TX_NONE, "/pvktest/rcw", "x"), 0);
	for (int i = 0; i < 200 && rc_count(&w) == before; i++)
		usleep(10000);
	assert_true(rc_count(&w) > before);
	assert_int_equal(xs_client_error(xs), 0);
	xs_unwatch(xs, "/pvktest/rcw", "t");
}

int main(void)
{
	const char *exe = getenv("XS_TEST_DAEMON");
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_read_write, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_big_directory, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_perms, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_watches, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_transaction_conflict, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_transaction_retry, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_domains, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_xenbus, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pipelined_requests, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_reconnect, setup, teardown),
	};
	int rc;

	if (!exe || !*exe) {
		printf("SKIP: no xenstored to test against (pvkit-xenstored "
		       "not built: meson variable xenstored_exe undefined)\n");
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	rc = start_daemon(exe);
	if (rc < 0) {
		fprintf(stderr, "cannot start %s: %s\n", exe, strerror(-rc));
		stop_daemon();
		return 1;
	}
	rc = cmocka_run_group_tests_name("xs_integration", tests, NULL, NULL);
	stop_daemon();
	return rc;
}
