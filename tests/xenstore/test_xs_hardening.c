/* test_xs_hardening.c - the core against hostile clients: the classes of
 * bugs behind XSA-72, -115, -322, -323/324 and -326, deep trees, the
 * transaction rate limit, and random input through xs_core_fuzz_one(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xs_test_util.h"

static void check(struct t_fx *f)
{
	struct tmsg m;

	assert_int_equal(T_REQ(f->d0, XS_CONTROL, 0, "check\0", &m),
			 XS_CONTROL);
}

/* XSA-72 class: lengths beyond XENSTORE_PAYLOAD_MAX kill the connection
 * before any buffer is sized from them; other clients carry on. */
static void test_oversized_length(void **state)
{
	struct t_fx *f = *state;
	struct xsd_sockmsg h = {.type = XS_WRITE,
				.len = XENSTORE_PAYLOAD_MAX + 1};
	struct xs_conn *bad, *bad2;
	struct tmsg m;

	assert_int_equal(xs_conn_new(f->core, 0, &bad), 0);
	assert_int_equal(xs_conn_feed(bad, &h, sizeof(h)), -EPROTO);
	assert_true(xs_conn_failed(bad));
	assert_int_equal(xs_conn_feed(bad, "x", 1), -EPROTO);
	assert_int_equal(xs_conn_handle(bad, &h, ""), -EPROTO);
	h.len = UINT32_MAX;
	assert_int_equal(xs_conn_new(f->core, 0, &bad2), 0);
	assert_int_equal(xs_conn_feed(bad2, &h, sizeof(h)), -EPROTO);
	xs_conn_free(bad2);
	/* a type we do not know: ENOSYS, as Xen's xenstored answers, and the
	 * connection goes on */
	{
		struct xsd_sockmsg rh;
		const void *out;
		size_t n;

		h.type = XS_TYPE_COUNT;
		h.req_id = 77;
		h.len = 0;
		assert_int_equal(xs_conn_new(f->core, 0, &bad2), 0);
		assert_int_equal(xs_conn_feed(bad2, &h, sizeof(h)),
				 (ssize_t)sizeof(h));
		assert_false(xs_conn_failed(bad2));
		n = xs_conn_peek(bad2, &out);
		assert_true(n >= sizeof(rh) + sizeof("ENOSYS"));
		memcpy(&rh, out, sizeof(rh)); /* (output is not aligned) */
		assert_int_equal(rh.type, XS_ERROR);
		assert_int_equal(rh.req_id, 77);
		assert_string_equal((const char *)out + sizeof(rh), "ENOSYS");
		xs_conn_consume(bad2, n);
		h.type = 0xffff; /* XS_INVALID */
		assert_int_equal(xs_conn_feed(bad2, &h, sizeof(h)),
				 (ssize_t)sizeof(h));
		assert_false(xs_conn_failed(bad2));
		xs_conn_free(bad2);
	}
	/* exactly the maximum is fine */
	{
		static char big[XENSTORE_PAYLOAD_MAX];

		memset(big, 'a', sizeof(big));
		memcpy(big, "/big", 5);
		assert_int_equal(
		    t_req(f->d0, XS_WRITE, 0, big, sizeof(big), &m), XS_WRITE);
		assert_int_equal(t_read(f->d0, 0, "/big", &m), XS_READ);
		assert_int_equal(m.hdr.len, XENSTORE_PAYLOAD_MAX - 5);
	}
	xs_conn_free(bad);
	assert_int_equal(t_write(f->d0, 0, "/still", "fine"), XS_WRITE);
}

/* Byte-at-a-time delivery parses the same as whole messages. */
static void test_split_stream(void **state)
{
	struct t_fx *f = *state;
	unsigned char buf[64];
	struct xsd_sockmsg h = {.type = XS_WRITE, .req_id = 3, .len = 5};
	struct tmsg m;

	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), "/s\0hi", 5);
	for (size_t i = 0; i < sizeof(h) + 5; i++)
		assert_int_equal(xs_conn_feed(f->d0, buf + i, 1), 1);
	assert_int_equal(t_recv(f->d0, &m), 0);
	assert_int_equal(m.hdr.type, XS_WRITE);
	assert_int_equal(m.hdr.req_id, 3);
}

/* XSA-115 class: watches never leak nodes the watcher cannot read. */
static void test_watch_leak(void **state)
{
	struct t_fx *f = *state;
	struct xs_conn *d1 = t_fx_introduce(f, 1);
	struct tmsg m;

	t_fx_introduce(f, 2);
	assert_int_equal(T_REQ(d1, XS_WATCH, 0, "/local/domain/2\0spy\0", &m),
			 XS_WATCH);
	assert_int_equal(T_REQ(d1, XS_WATCH, 0, "/\0root\0", &m), XS_WATCH);
	t_events(d1, NULL); /* the initial events */
	assert_int_equal(t_write(f->d0, 0, "/local/domain/2/secret", "pw"),
			 XS_WRITE);
	assert_int_equal(T_REQ(f->d0, XS_RM, 0, "/local/domain/2/secret\0", &m),
			 XS_RM);
	assert_int_equal(
	    T_REQ(f->d0, XS_SET_PERMS, 0, "/local/domain/2\0n2\0", &m),
	    XS_SET_PERMS);
	assert_int_equal(t_write(f->d0, 0, "/tool/private", "x"), XS_WRITE);
	assert_int_equal(t_events(d1, NULL), 0);
	/* inside a transaction too */
	assert_int_equal(T_REQ(f->d0, XS_TRANSACTION_START, 0, "\0", &m),
			 XS_TRANSACTION_START);
	{
		uint32_t tx = (uint32_t)strtoul(m.data, NULL, 10);

		assert_int_equal(t_write(f->d0, tx, "/local/domain/2/t", "1"),
				 XS_WRITE);
		assert_int_equal(
		    T_REQ(f->d0, XS_TRANSACTION_END, tx, "T\0", &m),
		    XS_TRANSACTION_END);
	}
	assert_int_equal(t_events(d1, NULL), 0);
	/* readable nodes still notify */
	assert_int_equal(t_write(d1, 0, "mine", "1"), XS_WRITE);
	assert_int_equal(t_events(d1, NULL), 1);
}

/* XSA-322 class: a released domid leaves no ownership or ACL entries for
 * the next domain that reuses it. */
static void test_domid_reuse(void **state)
{
	struct t_fx *f = *state;
	struct xs_conn *d5 = t_fx_introduce(f, 5);
	struct tmsg m;

	assert_int_equal(t_write(f->d0, 0, "/shared", "s"), XS_WRITE);
	assert_int_equal(T_REQ(f->d0, XS_SET_PERMS, 0, "/shared\0n0\0b5\0", &m),
			 XS_SET_PERMS);
	assert_int_equal(t_read(d5, 0, "/shared", &m), XS_READ);
	assert_int_equal(t_write(d5, 0, "own", "o"), XS_WRITE);
	assert_int_equal(T_REQ(d5, XS_WATCH, 0, "/shared\0w\0", &m), XS_WATCH);
	assert_int_equal(T_REQ(d5, XS_TRANSACTION_START, 0, "\0", &m),
			 XS_TRANSACTION_START);
	t_forget(d5);
	assert_int_equal(T_REQ(f->d0, XS_RELEASE, 0, "5\0", &m), XS_RELEASE);
	assert_int_equal(T_REQ(f->d0, XS_GET_PERMS, 0, "/shared\0", &m),
			 XS_GET_PERMS);
	assert_int_equal(m.hdr.len, 3);
	assert_string_equal(m.data, "n0");
	assert_int_equal(
	    T_REQ(f->d0, XS_GET_PERMS, 0, "/local/domain/5/own\0", &m),
	    XS_GET_PERMS);
	assert_string_equal(m.data, "n0");
	/* the new dom5 starts from nothing */
	d5 = t_fx_introduce(f, 5);
	assert_int_equal(xs_conn_nwatches(d5), 0);
	assert_int_equal(xs_conn_ntransactions(d5), 0);
	t_assert_error(t_read(d5, 0, "/shared", &m), &m, "EACCES");
	t_assert_error(t_read(d5, 0, "/local/domain/5/own", &m), &m, "EACCES");
	assert_int_equal(t_write(f->d0, 0, "/shared", "again"), XS_WRITE);
	assert_int_equal(t_events(d5, NULL), 0);
	check(f);
}

/* XSA-323/324 class: path limits, and watch events that would exceed the
 * payload limit are dropped instead of overflowing anything. */
static void test_path_limits(void **state)
{
	struct t_fx *f = *state;
	struct xs_conn *d1 = t_fx_introduce(f, 1), *w;
	static char p[XENSTORE_ABS_PATH_MAX + 8], tok[4000];
	struct tmsg m;

	memset(p, 0, sizeof(p));
	p[0] = '/';
	memset(p + 1, 'x', XENSTORE_ABS_PATH_MAX - 1);
	assert_int_equal(t_write(f->d0, 0, p, "v"), XS_WRITE);
	p[XENSTORE_ABS_PATH_MAX] = 'x';
	t_assert_error(t_writem(f->d0, 0, p, "v", &m), &m, "EINVAL");
	/* relative: 2048 bytes */
	memset(p, 0, sizeof(p));
	/* short components keep each node under the node-size quota */
	for (size_t i = 0; i < XENSTORE_REL_PATH_MAX; i++)
		p[i] = (i % 10 == 9) ? '/' : 'r';
	p[XENSTORE_REL_PATH_MAX - 1] = 'r';
	assert_int_equal(t_write(d1, 0, p, "v"), XS_WRITE);
	p[XENSTORE_REL_PATH_MAX] = 'r';
	t_assert_error(t_writem(d1, 0, p, "v", &m), &m, "EINVAL");
	/* a huge token on "/" plus a long path: the event is dropped */
	assert_int_equal(xs_conn_new(f->core, 0, &w), 0);
	memset(tok, 't', sizeof(tok) - 1);
	{
		static char req[sizeof(tok) + 3];

		memcpy(req, "/\0", 2);
		memcpy(req + 2, tok, sizeof(tok));
		assert_int_equal(
		    t_req(w, XS_WATCH, 0, req, sizeof(tok) + 2, &m), XS_WATCH);
	}
	assert_int_equal(t_events(w, NULL), 1); /* "/" + token fits */
	memset(p, 0, sizeof(p));
	p[0] = '/';
	memset(p + 1, 'y', 2000);
	assert_int_equal(t_write(f->d0, 0, p, "v"), XS_WRITE);
	assert_int_equal(t_events(w, NULL), 0);
	assert_int_equal(xs_conn_out_bytes(w), 0);
	t_forget(w);
	xs_conn_free(w);
	/* a watch path over the limit */
	memset(p, 0, sizeof(p));
	p[0] = '/';
	memset(p + 1, 'z', XENSTORE_ABS_PATH_MAX);
	{
		static char req[sizeof(p) + 4];
		size_t l = strlen(p) + 1;

		memcpy(req, p, l);
		memcpy(req + l, "t", 2);
		t_assert_error(t_req(f->d0, XS_WATCH, 0, req, l + 2, &m), &m,
			       "EINVAL");
	}
}

/* XSA-326 class: every per-domain resource is bounded. */
static void test_quotas(void **state)
{
	struct t_fx *f = *state;
	struct xs_conn *d1 = t_fx_introduce(f, 1);
	char path[64];
	struct tmsg m;
	uint32_t t;
	int i;

	assert_int_equal(xs_core_set_quota(f->core, "nodes", 10), 0);
	assert_int_equal(xs_core_set_quota(f->core, "watches", 3), 0);
	assert_int_equal(xs_core_set_quota(f->core, "transactions", 2), 0);
	assert_int_equal(xs_core_set_quota(f->core, "bogus", 1), -EINVAL);
	/* nodes: /local/domain/1 itself is the first */
	for (i = 0; i < 9; i++) {
		snprintf(path, sizeof(path), "n%d", i);
		assert_int_equal(t_write(d1, 0, path, "x"), XS_WRITE);
	}
	t_assert_error(t_writem(d1, 0, "one-too-many", "x", &m), &m, "ENOSPC");
	t_assert_error(T_REQ(d1, XS_MKDIR, 0, "a/b\0", &m), &m, "ENOSPC");
	/* removing frees quota */
	assert_int_equal(T_REQ(d1, XS_RM, 0, "n0\0", &m), XS_RM);
	assert_int_equal(t_write(d1, 0, "again", "x"), XS_WRITE);
	/* ... and so does a transaction's removal once committed */
	assert_int_equal(T_REQ(d1, XS_TRANSACTION_START, 0, "\0", &m),
			 XS_TRANSACTION_START);
	t = (uint32_t)strtoul(m.data, NULL, 10);
	t_assert_error(t_writem(d1, t, "tx-new", "x", &m), &m, "ENOSPC");
	assert_int_equal(T_REQ(d1, XS_RM, t, "n1\0", &m), XS_RM);
	assert_int_equal(t_write(d1, t, "tx-new", "x"), XS_WRITE);
	assert_int_equal(T_REQ(d1, XS_TRANSACTION_END, t, "T\0", &m),
			 XS_TRANSACTION_END);
	t_assert_error(t_writem(d1, 0, "more", "x", &m), &m, "ENOSPC");
	/* Dom0 is not limited */
	for (i = 0; i < 20; i++) {
		snprintf(path, sizeof(path), "/d0/n%d", i);
		assert_int_equal(t_write(f->d0, 0, path, "x"), XS_WRITE);
	}
	/* node size */
	{
		static char v[3000];

		memset(v, 'v', sizeof(v) - 1);
		t_assert_error(t_writem(d1, 0, "n2", v, &m), &m, "ENOSPC");
	}
	/* watches */
	for (i = 0; i < 3; i++) {
		char req[32];
		int n = snprintf(req, sizeof(req), "w%d%ct%c", i, 0, 0);

		assert_int_equal(t_req(d1, XS_WATCH, 0, req, (size_t)n, &m),
				 XS_WATCH);
	}
	t_assert_error(T_REQ(d1, XS_WATCH, 0, "w9\0t\0", &m), &m, "E2BIG");
	/* transactions */
	assert_int_equal(T_REQ(d1, XS_TRANSACTION_START, 0, "\0", &m),
			 XS_TRANSACTION_START);
	assert_int_equal(T_REQ(d1, XS_TRANSACTION_START, 0, "\0", &m),
			 XS_TRANSACTION_START);
	t_assert_error(T_REQ(d1, XS_TRANSACTION_START, 0, "\0", &m), &m,
		       "ENOSPC");
	/* permission list length */
	t_assert_error(
	    T_REQ(d1, XS_SET_PERMS, 0, "n2\0n1\0r2\0r3\0r4\0r5\0r6\0", &m), &m,
	    "E2BIG");
	check(f);
}

/* XSA-326 class: a client that never reads is paused after `outstanding'
 * replies, and events to it are dropped beyond `out-bytes'. */
static void test_outstanding(void **state)
{
	struct t_fx *f = *state;
	struct xs_conn *d1 = t_fx_introduce(f, 1);
	unsigned char buf[64 * 30];
	struct xsd_sockmsg h = {.type = XS_GET_DOMAIN_PATH, .len = 2};
	size_t off = 0;
	ssize_t n;
	struct tmsg m;
	int replies = 0;

	for (int i = 0; i < 30; i++) {
		memcpy(buf + off, &h, sizeof(h));
		memcpy(buf + off + sizeof(h), "1", 2);
		off += sizeof(h) + 2;
	}
	n = xs_conn_feed(d1, buf, off);
	assert_int_equal(n, 20 * (sizeof(h) + 2));
	/* after draining, the rest goes through */
	while (t_recv(d1, &m) == 0)
		replies++;
	assert_int_equal(replies, 20);
	assert_int_equal(xs_conn_feed(d1, buf + n, off - (size_t)n),
			 (ssize_t)(off - (size_t)n));
	/* events: capped by out-bytes */
	assert_int_equal(xs_core_set_quota(f->core, "out-bytes", 4096), 0);
	assert_int_equal(
	    T_REQ(f->d0, XS_SET_PERMS, 0, "/local/domain/1\0n1\0", &m),
	    XS_SET_PERMS);
	while (t_recv(d1, &m) == 0)
		;
	t_events(d1, NULL);
	assert_int_equal(T_REQ(d1, XS_WATCH, 0, "/local/domain/1\0w\0", &m),
			 XS_WATCH);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(t_write(f->d0, 0, "/local/domain/1/x", "1"),
				 XS_WRITE);
	assert_true(xs_conn_out_bytes(d1) <= 4096);
	assert_true(t_events(d1, NULL) > 10);
}

/* Deep trees are handled without recursion. */
static void test_deep_tree(void **state)
{
	struct t_fx *f = *state;
	static char p[XENSTORE_ABS_PATH_MAX + 1];
	struct tmsg m;
	uint32_t t;
	size_t len = 0;

	while (len + 2 <= XENSTORE_ABS_PATH_MAX) {
		p[len++] = '/';
		p[len++] = 'd';
	}
	p[len] = '\0';
	assert_int_equal(t_write(f->d0, 0, p, "bottom"), XS_WRITE);
	assert_int_equal(t_read(f->d0, 0, p, &m), XS_READ);
	assert_int_equal(xs_core_node_count(f->core), 3 + len / 2);
	/* remove it inside a transaction, then for real */
	assert_int_equal(T_REQ(f->d0, XS_TRANSACTION_START, 0, "\0", &m),
			 XS_TRANSACTION_START);
	t = (uint32_t)strtoul(m.data, NULL, 10);
	assert_int_equal(T_REQ(f->d0, XS_RM, t, "/d\0", &m), XS_RM);
	assert_int_equal(T_REQ(f->d0, XS_TRANSACTION_END, t, "T\0", &m),
			 XS_TRANSACTION_END);
	assert_int_equal(xs_core_node_count(f->core), 3);
	assert_int_equal(t_write(f->d0, 0, p, "bottom"), XS_WRITE);
	assert_int_equal(T_REQ(f->d0, XS_RM, 0, "/d\0", &m), XS_RM);
	assert_int_equal(xs_core_node_count(f->core), 3);
	check(f);
}

/* Transaction starts by a domain are rate limited (tx-rate per second). */
static void test_tx_rate(void **state)
{
	struct t_fx *f = *state;
	struct xs_conn *d1 = t_fx_introduce(f, 1);
	struct tmsg m;
	char end[16];
	int i;

	assert_int_equal(xs_core_set_quota(f->core, "tx-rate", 5), 0);
	for (i = 0; i < 5; i++) {
		assert_int_equal(T_REQ(d1, XS_TRANSACTION_START, 0, "\0", &m),
				 XS_TRANSACTION_START);
		snprintf(end, sizeof(end), "F");
		assert_int_equal(t_req(d1, XS_TRANSACTION_END,
				       (uint32_t)strtoul(m.data, NULL, 10), end,
				       2, &m),
				 XS_TRANSACTION_END);
	}
	t_assert_error(T_REQ(d1, XS_TRANSACTION_START, 0, "\0", &m), &m,
		       "EAGAIN");
	/* Dom0 is exempt */
	assert_int_equal(T_REQ(f->d0, XS_TRANSACTION_START, 0, "\0", &m),
			 XS_TRANSACTION_START);
	f->now += 400000000ull; /* 0.4 s: two more tokens */
	assert_int_equal(T_REQ(d1, XS_TRANSACTION_START, 0, "\0", &m),
			 XS_TRANSACTION_START);
}

/* Child order survives a commit; a tx-created subtree lands intact. */
static void test_tx_order(void **state)
{
	struct t_fx *f = *state;
	struct tmsg m;
	uint32_t t;

	assert_int_equal(T_REQ(f->d0, XS_TRANSACTION_START, 0, "\0", &m),
			 XS_TRANSACTION_START);
	t = (uint32_t)strtoul(m.data, NULL, 10);
	assert_int_equal(t_write(f->d0, t, "/o/c", "1"), XS_WRITE);
	assert_int_equal(t_write(f->d0, t, "/o/a", "1"), XS_WRITE);
	assert_int_equal(t_write(f->d0, t, "/o/b/x", "1"), XS_WRITE);
	assert_int_equal(T_REQ(f->d0, XS_TRANSACTION_END, t, "T\0", &m),
			 XS_TRANSACTION_END);
	assert_int_equal(T_REQ(f->d0, XS_DIRECTORY, 0, "/o\0", &m),
			 XS_DIRECTORY);
	assert_int_equal(m.hdr.len, 6);
	assert_memory_equal(m.data, "c\0a\0b\0", 6);
	check(f);
}

/* Freed connections take their watches along. */
static void test_conn_free_watches(void **state)
{
	struct t_fx *f = *state;
	struct xs_conn *w;
	struct tmsg m;

	for (int i = 0; i < 50; i++) {
		assert_int_equal(xs_conn_new(f->core, 0, &w), 0);
		assert_int_equal(T_REQ(w, XS_WATCH, 0, "/\0a\0", &m), XS_WATCH);
		assert_int_equal(T_REQ(w, XS_TRANSACTION_START, 0, "\0", &m),
				 XS_TRANSACTION_START);
		t_forget(w);
		xs_conn_free(w);
		assert_int_equal(t_write(f->d0, 0, "/x", "1"), XS_WRITE);
	}
}

static uint64_t rng = 88172645463325252ull;
static uint64_t xorshift(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Random and half-valid streams through the fuzz entry point. */
static void test_fuzz_smoke(void **state)
{
	static const uint32_t types[] = {XS_READ,
					 XS_WRITE,
					 XS_MKDIR,
					 XS_RM,
					 XS_DIRECTORY,
					 XS_DIRECTORY_PART,
					 XS_GET_PERMS,
					 XS_SET_PERMS,
					 XS_WATCH,
					 XS_UNWATCH,
					 XS_TRANSACTION_START,
					 XS_TRANSACTION_END,
					 XS_INTRODUCE,
					 XS_RELEASE,
					 XS_RESET_WATCHES,
					 XS_CONTROL};
	static const char *const words[] = {
	    "/",      "/a", "/a/b", "a",     "@releaseDomain",
	    "T",      "F",  "1",    "0",     "b0",
	    "n1",     "r2", "help", "check", "quota",
	    "/a/b/c", "3"};
	uint8_t buf[8192];

	(void)state;
	for (int iter = 0; iter < 3000; iter++) {
		size_t len = 1;

		buf[0] = (uint8_t)xorshift();
		if (iter % 3 == 0) {
			len += xorshift() % 512;
			for (size_t i = 1; i < len; i++)
				buf[i] = (uint8_t)xorshift();
		} else {
			/* a sequence of well-formed messages with random
			 * arguments and transaction ids */
			int nmsg = 1 + (int)(xorshift() % 20);

			for (int k = 0; k < nmsg; k++) {
				struct xsd_sockmsg h = {
				    .type =
					types[xorshift() % (sizeof(types) /
							    sizeof(types[0]))],
				    .tx_id = (uint32_t)(xorshift() % 3),
				};
				uint8_t pl[128];
				size_t pn = 0;
				int nw = (int)(xorshift() % 4);

				for (int w = 0; w < nw; w++) {
					const char *s =
					    words[xorshift() %
						  (sizeof(words) /
						   sizeof(words[0]))];
					size_t l = strlen(s) + 1;

					memcpy(pl + pn, s, l);
					pn += l;
				}
				h.len = (uint32_t)pn;
				if (len + sizeof(h) + pn > sizeof(buf))
					break;
				memcpy(buf + len, &h, sizeof(h));
				memcpy(buf + len + sizeof(h), pl, pn);
				len += sizeof(h) + pn;
			}
		}
		assert_int_equal(xs_core_fuzz_one(buf, len), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_oversized_length,
					    t_fx_setup_clocked, t_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_split_stream,
					    t_fx_setup_clocked, t_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_watch_leak, t_fx_setup_clocked,
					    t_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_domid_reuse,
					    t_fx_setup_clocked, t_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_path_limits,
					    t_fx_setup_clocked, t_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_quotas, t_fx_setup_clocked,
					    t_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_outstanding,
					    t_fx_setup_clocked, t_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_deep_tree, t_fx_setup_clocked,
					    t_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_tx_rate, t_fx_setup_clocked,
					    t_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_tx_order, t_fx_setup_clocked,
					    t_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_conn_free_watches,
					    t_fx_setup_clocked, t_fx_teardown),
	    cmocka_unit_test(test_fuzz_smoke),
	};

	return cmocka_run_group_tests_name("xs_hardening", tests, NULL, NULL);
}
