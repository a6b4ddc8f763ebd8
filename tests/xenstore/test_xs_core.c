/* test_xs_core.c - unit tests of the xenstore core: operations, permissions,
 * watches, transactions and domains, driven through the wire protocol. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xs_test_util.h"

static void test_read_write(void **state)
{
	struct t_fx *f = *state;
	struct tmsg m;

	assert_int_equal(t_write(f->d0, 0, "/a/b/c", "hello"), XS_WRITE);
	assert_int_equal(t_read(f->d0, 0, "/a/b/c", &m), XS_READ);
	assert_int_equal(m.hdr.len, 5);
	assert_memory_equal(m.data, "hello", 5);
	/* parents were created empty */
	assert_int_equal(t_read(f->d0, 0, "/a/b", &m), XS_READ);
	assert_int_equal(m.hdr.len, 0);
	/* binary values keep their nuls */
	assert_int_equal(T_REQ(f->d0, XS_WRITE, 0, "/bin\0x\0y", NULL),
			 XS_WRITE);
	assert_int_equal(t_read(f->d0, 0, "/bin", &m), XS_READ);
	assert_int_equal(m.hdr.len, 3);
	assert_memory_equal(m.data, "x\0y", 3);
	t_assert_error(t_read(f->d0, 0, "/nope", &m), &m, "ENOENT");
	t_assert_error(t_read(f->d0, 0, "/a//b", &m), &m, "EINVAL");
	t_assert_error(t_read(f->d0, 0, "/a/", &m), &m, "EINVAL");
	t_assert_error(t_read(f->d0, 0, "/a b", &m), &m, "EINVAL");
	t_assert_error(t_read(f->d0, 0, "@releaseDomain", &m), &m, "EINVAL");
	t_assert_error(t_read(f->d0, 0, "", &m), &m, "EINVAL");
	/* relative paths are under /local/domain/<domid> */
	assert_int_equal(t_write(f->d0, 0, "rel/x", "1"), XS_WRITE);
	assert_int_equal(t_read(f->d0, 0, "/local/domain/0/rel/x", &m),
			 XS_READ);
	/* WRITE without a nul separating path and value */
	t_assert_error(T_REQ(f->d0, XS_WRITE, 0, "/nonul", &m), &m, "EINVAL");
}

static void test_mkdir_rm(void **state)
{
	struct t_fx *f = *state;
	struct tmsg m;

	assert_int_equal(t_write(f->d0, 0, "/m/v", "keep"), XS_WRITE);
	assert_int_equal(T_REQ(f->d0, XS_MKDIR, 0, "/m/v\0", &m), XS_MKDIR);
	assert_int_equal(t_read(f->d0, 0, "/m/v", &m), XS_READ);
	assert_memory_equal(m.data, "keep", 4);
	assert_int_equal(T_REQ(f->d0, XS_MKDIR, 0, "/m/x/y/z\0", &m), XS_MKDIR);
	assert_int_equal(T_REQ(f->d0, XS_RM, 0, "/m\0", &m), XS_RM);
	t_assert_error(t_read(f->d0, 0, "/m/x/y/z", &m), &m, "ENOENT");
	t_assert_error(t_read(f->d0, 0, "/m", &m), &m, "ENOENT");
	/* removing a missing node is fine if the parent exists */
	assert_int_equal(T_REQ(f->d0, XS_RM, 0, "/m\0", &m), XS_RM);
	t_assert_error(T_REQ(f->d0, XS_RM, 0, "/m/x\0", &m), &m, "ENOENT");
	t_assert_error(T_REQ(f->d0, XS_RM, 0, "/\0", &m), &m, "EINVAL");
	assert_int_equal(T_REQ(f->d0, XS_CONTROL, 0, "check\0", &m),
			 XS_CONTROL);
}

/* RM of a missing node answers as Xen's do_rm(): OK when the parent
 * exists and is readable; otherwise what the nearest existing ancestor
 * lets the requester learn (EACCES if unreadable, else ENOENT), whatever
 * write access it has. */
static void test_rm_missing(void **state)
{
	struct t_fx *f = *state;
	struct xs_conn *d1 = t_fx_introduce(f, 1);
	struct tmsg m;

	assert_int_equal(t_write(f->d0, 0, "/ro/x", "1"), XS_WRITE);
	assert_int_equal(T_REQ(f->d0, XS_SET_PERMS, 0, "/ro\0n0\0r1\0", &m),
			 XS_SET_PERMS);
	assert_int_equal(t_write(f->d0, 0, "/secret/x", "1"), XS_WRITE);
	assert_int_equal(T_REQ(f->d0, XS_SET_PERMS, 0, "/secret\0n0\0", &m),
			 XS_SET_PERMS);
	/* readable, not writable parent: a missing child is fine */
	assert_int_equal(T_REQ(d1, XS_RM, 0, "/ro/missing\0", &m), XS_RM);
	/* missing parent under a readable ancestor: ENOENT, not EACCES */
	t_assert_error(T_REQ(d1, XS_RM, 0, "/ro/missing/x\0", &m), &m,
		       "ENOENT");
	/* unreadable parent or ancestor: EACCES */
	t_assert_error(T_REQ(d1, XS_RM, 0, "/secret/missing\0", &m), &m,
		       "EACCES");
	t_assert_error(T_REQ(d1, XS_RM, 0, "/secret/missing/x\0", &m), &m,
		       "EACCES");
	/* the same rule for other requests on missing nodes */
	t_assert_error(T_REQ(d1, XS_SET_PERMS, 0, "/ro/missing\0n1\0", &m), &m,
		       "ENOENT");
	t_assert_error(T_REQ(d1, XS_GET_PERMS, 0, "/secret/missing\0", &m),
		       &m, "EACCES");
	/* existing but unwritable: EACCES */
	t_assert_error(T_REQ(d1, XS_RM, 0, "/ro/x\0", &m), &m, "EACCES");
	/* Dom0 */
	assert_int_equal(T_REQ(f->d0, XS_RM, 0, "/secret/missing\0", &m),
			 XS_RM);
	t_assert_error(T_REQ(f->d0, XS_RM, 0, "/nowhere/x\0", &m), &m,
		       "ENOENT");
}

/* RESET_WATCHES drops the connection's watches and transactions (Xen's
 * do_reset_watches), ignores the header's tx_id, and the connection
 * carries on normally. */
static void test_reset_watches(void **state)
{
	struct t_fx *f = *state;
	struct xs_conn *d1 = t_fx_introduce(f, 1);
	struct tmsg m;
	uint32_t tx;

	assert_int_equal(T_REQ(d1, XS_WATCH, 0, "a\0t1\0", &m), XS_WATCH);
	assert_int_equal(T_REQ(d1, XS_WATCH, 0, "@releaseDomain\0t2\0", &m),
			 XS_WATCH);
	assert_int_equal(T_REQ(d1, XS_TRANSACTION_START, 0, "\0", &m),
			 XS_TRANSACTION_START);
	tx = (uint32_t)strtoul(m.data, NULL, 10);
	assert_int_equal(t_write(d1, tx, "a", "in-tx"), XS_WRITE);
	t_events(d1, NULL);
	assert_int_equal(T_REQ(d1, XS_RESET_WATCHES, tx, "", &m),
			 XS_RESET_WATCHES);
	assert_string_equal(m.data, "OK");
	assert_int_equal(xs_conn_nwatches(d1), 0);
	assert_int_equal(xs_conn_ntransactions(d1), 0);
	t_assert_error(T_REQ(d1, XS_TRANSACTION_END, tx, "T\0", &m), &m,
		       "ENOENT");
	t_assert_error(t_read(d1, 0, "a", &m), &m, "ENOENT");
	assert_int_equal(t_write(d1, 0, "a", "x"), XS_WRITE);
	assert_int_equal(t_events(d1, NULL), 0);
	/* the same watch can be set again */
	assert_int_equal(T_REQ(d1, XS_WATCH, 0, "a\0t1\0", &m), XS_WATCH);
	assert_int_equal(t_events(d1, NULL), 1);
	t_forget(d1);
}

static void test_directory(void **state)
{
	struct t_fx *f = *state;
	char path[64], *all;
	struct tmsg m;
	size_t total = 0, got = 0;
	unsigned int off = 0;

	for (int i = 0; i < 1000; i++) {
		snprintf(path, sizeof(path), "/dir/child-with-long-name-%04d",
			 i);
		assert_int_equal(t_write(f->d0, 0, path, "v"), XS_WRITE);
		total += strlen(path) - 5 + 1;
	}
	/* too large for one reply */
	t_assert_error(T_REQ(f->d0, XS_DIRECTORY, 0, "/dir\0", &m), &m,
		       "E2BIG");
	all = malloc(total + 1);
	assert_non_null(all);
	for (;;) {
		char req[64];
		int n = snprintf(req, sizeof(req), "/dir%c%u", 0, off);
		size_t gl, len;

		assert_int_equal(
		    t_req(f->d0, XS_DIRECTORY_PART, 0, req, (size_t)n + 1, &m),
		    XS_DIRECTORY_PART);
		gl = strlen(m.data) + 1;
		len = m.hdr.len - gl;
		assert_true(got + len <= total + 1);
		memcpy(all + got, m.data + gl, len);
		got += len;
		off += (unsigned int)len;
		if (len <= 1 || all[got - 2] == '\0')
			break;
		assert_true(m.hdr.len <= XENSTORE_PAYLOAD_MAX);
	}
	assert_int_equal(got, total + 1); /* plus the empty terminator */
	assert_string_equal(all, "child-with-long-name-0000");
	free(all);
	/* small directories fit */
	assert_int_equal(t_write(f->d0, 0, "/s/a", ""), XS_WRITE);
	assert_int_equal(t_write(f->d0, 0, "/s/b", ""), XS_WRITE);
	assert_int_equal(T_REQ(f->d0, XS_DIRECTORY, 0, "/s\0", &m),
			 XS_DIRECTORY);
	assert_int_equal(m.hdr.len, 4);
	assert_memory_equal(m.data, "a\0b\0", 4);
	/* bad offset inside a name */
	t_assert_error(T_REQ(f->d0, XS_DIRECTORY_PART, 0, "/s\0001\0", &m), &m,
		       "EINVAL");
}

static void test_perms(void **state)
{
	struct t_fx *f = *state;
	struct xs_conn *d1 = t_fx_introduce(f, 1), *d2 = t_fx_introduce(f, 2);
	struct tmsg m;

	assert_int_equal(t_write(f->d0, 0, "/p/x", "secret"), XS_WRITE);
	/* default n0: domains see nothing */
	t_assert_error(t_read(d1, 0, "/p/x", &m), &m, "EACCES");
	t_assert_error(t_writem(d1, 0, "/p/x", "no", &m), &m, "EACCES");
	/* missing node under an unreadable parent: EACCES, not ENOENT */
	t_assert_error(t_read(d1, 0, "/p/missing", &m), &m, "EACCES");
	/* owner 1 with read for 2 */
	assert_int_equal(T_REQ(f->d0, XS_SET_PERMS, 0, "/p/x\0n1\0r2\0", &m),
			 XS_SET_PERMS);
	assert_int_equal(t_read(d1, 0, "/p/x", &m), XS_READ);
	assert_int_equal(t_write(d1, 0, "/p/x", "mine"), XS_WRITE);
	assert_int_equal(t_read(d2, 0, "/p/x", &m), XS_READ);
	t_assert_error(t_writem(d2, 0, "/p/x", "no", &m), &m, "EACCES");
	assert_int_equal(T_REQ(d1, XS_GET_PERMS, 0, "/p/x\0", &m),
			 XS_GET_PERMS);
	assert_int_equal(m.hdr.len, 6);
	assert_memory_equal(m.data, "n1\0r2\0", 6);
	/* non-owner cannot set perms; owner cannot give the node away */
	t_assert_error(T_REQ(d2, XS_SET_PERMS, 0, "/p/x\0b2\0", &m), &m,
		       "EACCES");
	t_assert_error(T_REQ(d1, XS_SET_PERMS, 0, "/p/x\0n2\0", &m), &m,
		       "EPERM");
	assert_int_equal(T_REQ(d1, XS_SET_PERMS, 0, "/p/x\0n1\0b2\0", &m),
			 XS_SET_PERMS);
	assert_int_equal(t_write(d2, 0, "/p/x", "ok"), XS_WRITE);
	/* children inherit perms; the creating domain owns them */
	assert_int_equal(t_write(d2, 0, "/p/x/kid", "k"), XS_WRITE);
	assert_int_equal(T_REQ(f->d0, XS_GET_PERMS, 0, "/p/x/kid\0", &m),
			 XS_GET_PERMS);
	assert_memory_equal(m.data, "n2\0b2\0", 6);
	/* bad permission strings */
	t_assert_error(T_REQ(f->d0, XS_SET_PERMS, 0, "/p/x\0z1\0", &m), &m,
		       "EINVAL");
	t_assert_error(T_REQ(f->d0, XS_SET_PERMS, 0, "/p/x\0", &m), &m,
		       "EINVAL");
	/* relative paths of a domain */
	assert_int_equal(
	    T_REQ(f->d0, XS_SET_PERMS, 0, "/local/domain/1\0n1\0", &m),
	    XS_SET_PERMS);
	assert_int_equal(T_REQ(d1, XS_MKDIR, 0, "sub\0", &m), XS_MKDIR);
	t_assert_error(T_REQ(d1, XS_MKDIR, 0, "/local/domain/2/x\0", &m), &m,
		       "EACCES");
}

static void test_target(void **state)
{
	struct t_fx *f = *state;
	struct xs_conn *d3 = t_fx_introduce(f, 3);
	struct tmsg m;

	t_fx_introduce(f, 4);
	assert_int_equal(t_write(f->d0, 0, "/t4", "x"), XS_WRITE);
	assert_int_equal(T_REQ(f->d0, XS_SET_PERMS, 0, "/t4\0n4\0", &m),
			 XS_SET_PERMS);
	t_assert_error(t_read(d3, 0, "/t4", &m), &m, "EACCES");
	assert_int_equal(T_REQ(f->d0, XS_SET_TARGET, 0,
			       "3\0"
			       "4\0",
			       &m),
			 XS_SET_TARGET);
	assert_int_equal(t_read(d3, 0, "/t4", &m), XS_READ);
	t_assert_error(T_REQ(d3, XS_SET_TARGET, 0,
			     "3\0"
			     "0\0",
			     &m),
		       &m, "EACCES");
}

static void test_watches(void **state)
{
	struct t_fx *f = *state;
	struct xs_conn *w;
	struct tmsg m;

	assert_int_equal(xs_conn_new(f->core, 0, &w), 0);
	assert_int_equal(T_REQ(w, XS_WATCH, 0, "/w\0tok\0", &m), XS_WATCH);
	assert_string_equal(m.data, "OK");
	/* the initial event */
	assert_int_equal(t_events(w, &m), 1);
	assert_string_equal(m.data, "/w");
	assert_string_equal(m.data + 3, "tok");
	t_assert_error(T_REQ(w, XS_WATCH, 0, "/w\0tok\0", &m), &m, "EEXIST");
	assert_int_equal(t_write(f->d0, 0, "/w/a/b", "1"), XS_WRITE);
	assert_true(t_events(w, &m) >= 1);
	assert_string_equal(m.data, "/w/a/b");
	/* unrelated paths and prefixes that are not ancestors */
	assert_int_equal(t_write(f->d0, 0, "/wx", "1"), XS_WRITE);
	assert_int_equal(t_events(w, NULL), 0);
	/* watch below a removed subtree reports its own path */
	assert_int_equal(T_REQ(w, XS_WATCH, 0, "/w/a/b/c\0deep\0", &m),
			 XS_WATCH);
	t_events(w, NULL);
	assert_int_equal(T_REQ(f->d0, XS_RM, 0, "/w/a\0", &m), XS_RM);
	assert_int_equal(t_events(w, NULL), 2);
	assert_int_equal(T_REQ(w, XS_UNWATCH, 0, "/w/a/b/c\0deep\0", &m),
			 XS_UNWATCH);
	t_assert_error(T_REQ(w, XS_UNWATCH, 0, "/w/a/b/c\0deep\0", &m), &m,
		       "ENOENT");
	/* relative watches get relative paths */
	assert_int_equal(T_REQ(w, XS_WATCH, 0, "rel\0r\0", &m), XS_WATCH);
	assert_int_equal(t_events(w, &m), 1);
	assert_string_equal(m.data, "rel");
	assert_int_equal(t_write(f->d0, 0, "/local/domain/0/rel/x", "1"),
			 XS_WRITE);
	assert_true(t_events(w, &m) >= 1);
	assert_string_equal(m.data, "rel/x");
	assert_int_equal(xs_conn_nwatches(w), 2);
	assert_int_equal(T_REQ(w, XS_RESET_WATCHES, 0, "\0", &m),
			 XS_RESET_WATCHES);
	assert_int_equal(xs_conn_nwatches(w), 0);
	t_forget(w);
	xs_conn_free(w);
}

static void test_watch_perms(void **state)
{
	struct t_fx *f = *state;
	struct xs_conn *d1 = t_fx_introduce(f, 1);
	struct tmsg m;

	assert_int_equal(t_write(f->d0, 0, "/local/domain/1/ok", ""), XS_WRITE);
	assert_int_equal(
	    T_REQ(f->d0, XS_SET_PERMS, 0, "/local/domain/1/ok\0n1\0", &m),
	    XS_SET_PERMS);
	assert_int_equal(T_REQ(d1, XS_WATCH, 0, "/\0all\0", &m), XS_WATCH);
	t_events(d1, NULL);
	/* XSA-115: no event for a node the watcher cannot read */
	assert_int_equal(t_write(f->d0, 0, "/secret", "x"), XS_WRITE);
	assert_int_equal(t_events(d1, NULL), 0);
	assert_int_equal(t_write(f->d0, 0, "/local/domain/1/ok", "x"),
			 XS_WRITE);
	assert_int_equal(t_events(d1, &m), 1);
	assert_string_equal(m.data, "/local/domain/1/ok");
	/* special watches are privileged unless granted */
	assert_int_equal(T_REQ(d1, XS_WATCH, 0, "@introduceDomain\0i\0", &m),
			 XS_WATCH);
	assert_int_equal(T_REQ(f->d0, XS_WATCH, 0, "@introduceDomain\0i\0", &m),
			 XS_WATCH);
	t_events(d1, NULL);
	t_events(f->d0, NULL);
	t_fx_introduce(f, 9);
	assert_int_equal(t_events(f->d0, &m), 1);
	assert_string_equal(m.data, "@introduceDomain");
	assert_int_equal(t_events(d1, NULL), 0);
	assert_int_equal(
	    T_REQ(f->d0, XS_SET_PERMS, 0, "@introduceDomain\0n0\0r1\0", &m),
	    XS_SET_PERMS);
	t_fx_introduce(f, 10);
	assert_int_equal(t_events(d1, NULL), 1);
}

static void test_transactions(void **state)
{
	struct t_fx *f = *state;
	struct xs_conn *w;
	struct tmsg m;
	uint32_t tx, tx2;

	assert_int_equal(xs_conn_new(f->core, 0, &w), 0);
	assert_int_equal(t_write(f->d0, 0, "/tx/a", "a"), XS_WRITE);
	assert_int_equal(T_REQ(w, XS_WATCH, 0, "/tx\0t\0", &m), XS_WATCH);
	t_events(w, NULL);
	t_assert_error(T_REQ(f->d0, XS_TRANSACTION_START, 5, "\0", &m), &m,
		       "EBUSY");
	assert_int_equal(T_REQ(f->d0, XS_TRANSACTION_START, 0, "\0", &m),
			 XS_TRANSACTION_START);
	tx = (uint32_t)strtoul(m.data, NULL, 10);
	assert_true(tx != 0);
	assert_int_equal(t_write(f->d0, tx, "/tx/a", "b"), XS_WRITE);
	assert_int_equal(t_write(f->d0, tx, "/tx/new/deep", "n"), XS_WRITE);
	assert_int_equal(T_REQ(f->d0, XS_RM, tx, "/tx/gone\0", &m), XS_RM);
	/* isolation */
	assert_int_equal(t_read(f->d0, tx, "/tx/a", &m), XS_READ);
	assert_string_equal(m.data, "b");
	assert_int_equal(t_read(f->d0, 0, "/tx/a", &m), XS_READ);
	assert_string_equal(m.data, "a");
	t_assert_error(t_read(f->d0, 0, "/tx/new", &m), &m, "ENOENT");
	assert_int_equal(T_REQ(f->d0, XS_DIRECTORY, tx, "/tx\0", &m),
			 XS_DIRECTORY);
	assert_int_equal(m.hdr.len, 6);
	assert_int_equal(t_events(w, NULL), 0); /* nothing before commit */
	assert_int_equal(T_REQ(f->d0, XS_TRANSACTION_END, tx, "T\0", &m),
			 XS_TRANSACTION_END);
	assert_true(t_events(w, NULL) >= 2);
	assert_int_equal(t_read(f->d0, 0, "/tx/new/deep", &m), XS_READ);
	assert_string_equal(m.data, "n");
	t_assert_error(T_REQ(f->d0, XS_TRANSACTION_END, tx, "T\0", &m), &m,
		       "ENOENT");
	assert_int_equal(T_REQ(f->d0, XS_CONTROL, 0, "check\0", &m),
			 XS_CONTROL);

	/* conflict: read in tx, changed outside, commit -> EAGAIN */
	assert_int_equal(T_REQ(f->d0, XS_TRANSACTION_START, 0, "\0", &m),
			 XS_TRANSACTION_START);
	tx = (uint32_t)strtoul(m.data, NULL, 10);
	assert_int_equal(t_read(f->d0, tx, "/tx/a", &m), XS_READ);
	assert_int_equal(t_write(f->d0, 0, "/tx/a", "outside"), XS_WRITE);
	assert_int_equal(t_write(f->d0, tx, "/tx/a", "inside"), XS_WRITE);
	t_assert_error(T_REQ(f->d0, XS_TRANSACTION_END, tx, "T\0", &m), &m,
		       "EAGAIN");
	assert_int_equal(t_read(f->d0, 0, "/tx/a", &m), XS_READ);
	assert_string_equal(m.data, "outside");

	/* abort discards; rm of a subtree inside a transaction */
	assert_int_equal(T_REQ(f->d0, XS_TRANSACTION_START, 0, "\0", &m),
			 XS_TRANSACTION_START);
	tx = (uint32_t)strtoul(m.data, NULL, 10);
	assert_int_equal(T_REQ(f->d0, XS_TRANSACTION_START, 0, "\0", &m),
			 XS_TRANSACTION_START);
	tx2 = (uint32_t)strtoul(m.data, NULL, 10);
	assert_int_equal(T_REQ(f->d0, XS_RM, tx, "/tx\0", &m), XS_RM);
	t_assert_error(t_read(f->d0, tx, "/tx/new/deep", &m), &m, "ENOENT");
	assert_int_equal(T_REQ(f->d0, XS_TRANSACTION_END, tx, "F\0", &m),
			 XS_TRANSACTION_END);
	assert_int_equal(t_read(f->d0, 0, "/tx/new/deep", &m), XS_READ);
	assert_int_equal(T_REQ(f->d0, XS_RM, tx2, "/tx\0", &m), XS_RM);
	assert_int_equal(T_REQ(f->d0, XS_TRANSACTION_END, tx2, "T\0", &m),
			 XS_TRANSACTION_END);
	t_assert_error(t_read(f->d0, 0, "/tx/new/deep", &m), &m, "ENOENT");
	t_assert_error(t_read(f->d0, 0, "/tx", &m), &m, "ENOENT");
	assert_int_equal(T_REQ(f->d0, XS_CONTROL, 0, "check\0", &m),
			 XS_CONTROL);
	t_assert_error(T_REQ(f->d0, XS_TRANSACTION_END, 77, "X\0", &m), &m,
		       "ENOENT");
	t_forget(w);
	xs_conn_free(w);
}

static void test_domains(void **state)
{
	struct t_fx *f = *state;
	struct tmsg m;
	domid_t d;

	t_fx_introduce(f, 5);
	assert_int_equal(T_REQ(f->d0, XS_IS_DOMAIN_INTRODUCED, 0, "5\0", &m),
			 XS_IS_DOMAIN_INTRODUCED);
	assert_string_equal(m.data, "T");
	assert_int_equal(T_REQ(f->d0, XS_IS_DOMAIN_INTRODUCED, 0, "6\0", &m),
			 XS_IS_DOMAIN_INTRODUCED);
	assert_string_equal(m.data, "F");
	assert_int_equal(T_REQ(f->d0, XS_GET_DOMAIN_PATH, 0, "5\0", &m),
			 XS_GET_DOMAIN_PATH);
	assert_string_equal(m.data, "/local/domain/5");
	assert_int_equal(xs_core_next_domain(f->core, 0, &d), 0);
	assert_int_equal(d, 5);
	assert_int_equal(T_REQ(f->d0, XS_WATCH, 0, "@releaseDomain\0r\0", &m),
			 XS_WATCH);
	t_events(f->d0, NULL);
	/* shutdown fires once until RESUME */
	assert_int_equal(xs_core_domain_shutdown(f->core, 5), 0);
	assert_int_equal(xs_core_domain_shutdown(f->core, 5), 0);
	assert_int_equal(t_events(f->d0, NULL), 1);
	assert_int_equal(T_REQ(f->d0, XS_RESUME, 0, "5\0", &m), XS_RESUME);
	assert_int_equal(xs_core_domain_shutdown(f->core, 5), 0);
	assert_int_equal(t_events(f->d0, NULL), 1);
	assert_int_equal(T_REQ(f->d0, XS_RELEASE, 0, "5\0", &m), XS_RELEASE);
	assert_int_equal(t_events(f->d0, &m), 1);
	assert_string_equal(m.data, "@releaseDomain");
	t_assert_error(T_REQ(f->d0, XS_RELEASE, 0, "5\0", &m), &m, "ENOENT");
	t_assert_error(T_REQ(f->d0, XS_INTRODUCE, 0,
			     "x\0"
			     "1\0"
			     "1\0",
			     &m),
		       &m, "EINVAL");
	t_assert_error(T_REQ(f->d0, XS_INTRODUCE, 0,
			     "40000\0"
			     "1\0"
			     "1\0",
			     &m),
		       &m, "EINVAL");
	assert_int_equal(xs_core_next_domain(f->core, 0, &d), -ENOENT);
}

static void test_misc_ops(void **state)
{
	struct t_fx *f = *state;
	struct xs_conn *d1 = t_fx_introduce(f, 1);
	struct tmsg m;

	t_assert_error(T_REQ(f->d0, XS_ERROR, 0, "\0", &m), &m, "ENOSYS");
	t_assert_error(T_REQ(f->d0, XS_WATCH_EVENT, 0, "\0", &m), &m, "ENOSYS");
	t_assert_error(T_REQ(f->d0, XS_SET_TARGET + 1, 0, "\0", &m), &m,
		       "ENOSYS");
	assert_int_equal(T_REQ(f->d0, XS_CONTROL, 0, "help\0", &m), XS_CONTROL);
	assert_non_null(strstr(m.data, "quota"));
	assert_int_equal(T_REQ(f->d0, XS_CONTROL, 0,
			       "quota\0nodes\0"
			       "7\0",
			       &m),
			 XS_CONTROL);
	assert_int_equal(xs_core_quota(f->core)->nodes, 7);
	assert_int_equal(T_REQ(f->d0, XS_CONTROL, 0, "quota\0nodes\0", &m),
			 XS_CONTROL);
	assert_string_equal(m.data, "7");
	t_assert_error(T_REQ(f->d0, XS_CONTROL, 0, "quota\0bogus\0", &m), &m,
		       "EINVAL");
	assert_int_equal(T_REQ(f->d0, XS_CONTROL, 0, "log\0on\0", &m),
			 XS_CONTROL);
	assert_int_equal(T_REQ(f->d0, XS_CONTROL, 0, "log\0off\0", &m),
			 XS_CONTROL);
	t_assert_error(T_REQ(f->d0, XS_CONTROL, 0, "frobnicate\0", &m), &m,
		       "EINVAL");
	/* privileged operations */
	t_assert_error(T_REQ(d1, XS_CONTROL, 0, "help\0", &m), &m, "EACCES");
	t_assert_error(T_REQ(d1, XS_INTRODUCE, 0,
			     "7\0"
			     "1\0"
			     "1\0",
			     &m),
		       &m, "EACCES");
	t_assert_error(T_REQ(d1, XS_RELEASE, 0, "1\0", &m), &m, "EACCES");
	assert_int_equal(T_REQ(d1, XS_GET_DOMAIN_PATH, 0, "1\0", &m),
			 XS_GET_DOMAIN_PATH);
	/* a domain's relative paths */
	assert_int_equal(
	    T_REQ(f->d0, XS_SET_PERMS, 0, "/local/domain/1\0n1\0", &m),
	    XS_SET_PERMS);
	assert_int_equal(t_write(d1, 0, "data/x", "1"), XS_WRITE);
	assert_int_equal(t_read(f->d0, 0, "/local/domain/1/data/x", &m),
			 XS_READ);
	/* replies echo req_id and tx_id */
	t_send(f->d0, XS_GET_DOMAIN_PATH, 0, "3", 2);
	assert_int_equal(t_recv(f->d0, &m), 0);
	assert_int_equal(m.hdr.tx_id, 0);
	assert_true(m.hdr.req_id != 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_read_write, t_fx_setup,
					    t_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_mkdir_rm, t_fx_setup,
					    t_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_rm_missing, t_fx_setup,
					    t_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_reset_watches, t_fx_setup,
					    t_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_directory, t_fx_setup,
					    t_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_perms, t_fx_setup,
					    t_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_target, t_fx_setup,
					    t_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_watches, t_fx_setup,
					    t_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_watch_perms, t_fx_setup,
					    t_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_transactions, t_fx_setup,
					    t_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_domains, t_fx_setup,
					    t_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_misc_ops, t_fx_setup,
					    t_fx_teardown),
	};

	return cmocka_run_group_tests_name("xs_core", tests, NULL, NULL);
}
