/* test_xs_lu.c - live update of the core: xs_core_save() and
 * xs_core_restore() keep nodes, permissions, generations, quotas, domains,
 * watches, half-received requests, half-sent replies and transaction ids;
 * open transactions make a save busy unless forced; a damaged image is
 * refused without touching any transport. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xs_test_util.h"

/* The transport side: each socket connection carries a tag. */
struct tp {
	struct xs_conn *by_tag[8];
	unsigned int restored, refused, reattached;
	domid_t re_domid;
	uint64_t re_gfn;
	evtchn_port_t re_port;
	int refuse_tag; /* restore_conn fails for this tag */
};

static ssize_t save_conn(void *opaque, const struct xs_conn *conn, void *buf,
			 size_t cap)
{
	uintptr_t tag = (uintptr_t)xs_conn_priv(conn);

	(void)opaque;
	assert_true(cap >= 1);
	((unsigned char *)buf)[0] = (unsigned char)tag;
	return 1;
}

static int restore_conn(void *opaque, struct xs_conn *conn, const void *buf,
			size_t len)
{
	struct tp *t = opaque;
	unsigned int tag;

	tag = len == 1 ? ((const unsigned char *)buf)[0] : 8;
	if (tag >= 8 || (int)tag == t->refuse_tag) {
		t->refused++;
		return -EBADF;
	}
	t->by_tag[tag] = conn;
	xs_conn_set_priv(conn, (void *)(uintptr_t)tag);
	t->restored++;
	return 0;
}

static int reattach(void *opaque, struct xs_conn *conn, domid_t domid,
		    uint64_t gfn, evtchn_port_t port)
{
	struct tp *t = opaque;

	assert_non_null(conn);
	t->reattached++;
	t->re_domid = domid;
	t->re_gfn = gfn;
	t->re_port = port;
	return 0;
}

static void tag(struct xs_conn *c, unsigned int t)
{
	xs_conn_set_priv(c, (void *)(uintptr_t)t);
}

static struct xs_core *save_restore(struct xs_core *core, struct tp *t,
				    bool force)
{
	const struct xs_lu_ops ops = {.opaque = t,
				      .save_conn = save_conn,
				      .restore_conn = restore_conn};
	const struct xs_core_hooks hooks = {.opaque = t, .reattach = reattach};
	struct xs_core *out = NULL;
	void *img;
	size_t len;

	assert_int_equal(xs_core_save(core, &ops, force, &img, &len), 0);
	assert_int_equal(xs_core_restore(img, len, &hooks, &ops, &out), 0);
	free(img);
	return out;
}

static void test_roundtrip(void **state)
{
	struct t_fx *f = *state;
	struct xs_conn *d1 = t_fx_introduce(f, 1), *w, *gone, *nc, *nd1;
	struct xsd_sockmsg h = {.type = XS_WRITE, .req_id = 42, .len = 9};
	const void *p;
	struct xs_core *core;
	struct tp t = {.refuse_tag = 3};
	struct tmsg m;
	char gen[32];
	uint32_t txid;
	size_t n;

	tag(f->d0, 0);
	assert_int_equal(xs_conn_new(f->core, 0, &w), 0);
	tag(w, 1);
	assert_int_equal(xs_conn_new(f->core, 0, &gone), 0);
	tag(gone, 3);
	assert_int_equal(t_write(f->d0, 0, "/a/b", "value"), XS_WRITE);
	assert_int_equal(T_REQ(f->d0, XS_SET_PERMS, 0, "/a/b\0n0\0r1\0", &m),
			 XS_SET_PERMS);
	assert_int_equal(t_write(d1, 0, "home", "mine"), XS_WRITE);
	assert_int_equal(T_REQ(f->d0, XS_DIRECTORY_PART, 0, "/a\0" "0\0", &m),
			 XS_DIRECTORY_PART);
	snprintf(gen, sizeof(gen), "%.31s", m.data);
	assert_int_equal(T_REQ(f->d0, XS_CONTROL, 0, "quota\0nodes\0" "77\0",
			       &m),
			 XS_CONTROL);
	assert_int_equal(T_REQ(w, XS_WATCH, 0, "/a\0wa\0", &m), XS_WATCH);
	assert_int_equal(T_REQ(w, XS_WATCH, 0, "rel\0wr\0", &m), XS_WATCH);
	assert_int_equal(T_REQ(w, XS_WATCH, 0, "@releaseDomain\0ws\0", &m),
			 XS_WATCH);
	assert_int_equal(t_events(w, NULL), 3);
	assert_int_equal(T_REQ(gone, XS_WATCH, 0, "/a\0g\0", &m), XS_WATCH);
	t_events(gone, NULL);
	/* d1 has a transaction open: busy unless forced */
	assert_int_equal(T_REQ(d1, XS_TRANSACTION_START, 0, "\0", &m),
			 XS_TRANSACTION_START);
	txid = (uint32_t)strtoul(m.data, NULL, 10);
	{
		void *img;
		size_t len;

		assert_int_equal(xs_core_save(f->core, NULL, false, &img, &len),
				 -EBUSY);
		assert_true(xs_core_busy(f->core));
	}
	/* half a request from w, and half a reply not yet sent to d0 */
	assert_int_equal(xs_conn_feed(w, &h, sizeof(h)), sizeof(h));
	assert_int_equal(xs_conn_feed(w, "/a/c\0", 5), 5);
	t_send(f->d0, XS_READ, 0, "/a/b", 5);
	n = xs_conn_peek(f->d0, &p);
	assert_true(n > 10);
	xs_conn_consume(f->d0, 10);

	t_forget(d1);
	t_forget(w);
	t_forget(gone);
	core = save_restore(f->core, &t, true);
	assert_int_equal(t.restored, 2); /* d0 and w; 3 was refused */
	assert_int_equal(t.refused, 1);
	assert_int_equal(t.reattached, 1);
	assert_int_equal(t.re_domid, 1);
	nc = t.by_tag[0];
	assert_non_null(nc);
	assert_non_null(t.by_tag[1]);
	nd1 = xs_core_domain_conn(core, 1);
	assert_non_null(nd1);
	assert_int_equal(xs_core_quota(core)->nodes, 77);
	assert_int_equal(xs_conn_nwatches(t.by_tag[1]), 3);
	assert_int_equal(xs_conn_ntransactions(nd1), 1);

	/* the rest of d0's reply comes out */
	{
		struct xsd_sockmsg rh;

		n = xs_conn_peek(nc, &p);
		assert_int_equal(n, sizeof(rh) + 5 - 10);
		xs_conn_consume(nc, n);
	}
	/* the tree, permissions and generation survived */
	assert_int_equal(t_read(nc, 0, "/a/b", &m), XS_READ);
	assert_string_equal(m.data, "value");
	assert_int_equal(T_REQ(nc, XS_GET_PERMS, 0, "/a/b\0", &m),
			 XS_GET_PERMS);
	assert_memory_equal(m.data, "n0\0r1", 6);
	assert_int_equal(T_REQ(nc, XS_DIRECTORY_PART, 0, "/a\0" "0\0", &m),
			 XS_DIRECTORY_PART);
	assert_string_equal(m.data, gen);
	assert_int_equal(t_read(nd1, 0, "home", &m), XS_READ);
	assert_string_equal(m.data, "mine");
	assert_int_equal(T_REQ(nc, XS_CONTROL, 0, "check\0", &m), XS_CONTROL);
	/* d1 still owns its node: the quota counts it */
	assert_int_equal(T_REQ(nc, XS_CONTROL, 0, "quota\0nodes\0" "2\0", &m),
			 XS_CONTROL);
	t_assert_error(t_writem(nd1, 0, "more", "x", &m), &m, "ENOSPC");
	/* the forced transaction's commit asks for a retry */
	{
		uint32_t type;

		t_send(nd1, XS_TRANSACTION_END, txid, "T", 2);
		assert_int_equal(t_recv(nd1, &m), 0);
		type = m.hdr.type;
		t_assert_error(type, &m, "EAGAIN");
	}
	/* w's half request completes; its watch fires for it */
	assert_int_equal(xs_conn_feed(t.by_tag[1], "v", 1), 1);
	assert_int_equal(xs_conn_feed(t.by_tag[1], "alu", 3), 3);
	assert_int_equal(t_recv(t.by_tag[1], &m), 0);
	assert_int_equal(m.hdr.type, XS_WATCH_EVENT);
	assert_string_equal(m.data, "/a/c");
	assert_int_equal(t_recv(t.by_tag[1], &m), 0);
	assert_int_equal(m.hdr.type, XS_WRITE);
	assert_int_equal(m.hdr.req_id, 42);
	assert_int_equal(t_read(nc, 0, "/a/c", &m), XS_READ);
	assert_string_equal(m.data, "valu");
	/* relative and special watches */
	assert_int_equal(t_write(nc, 0, "/local/domain/0/rel/x", "1"),
			 XS_WRITE);
	assert_int_equal(t_recv(t.by_tag[1], &m), 0);
	assert_string_equal(m.data, "rel/x");
	assert_int_equal(T_REQ(nc, XS_RELEASE, 0, "1\0", &m), XS_RELEASE);
	assert_int_equal(t_recv(t.by_tag[1], &m), 0);
	assert_string_equal(m.data, "@releaseDomain");
	t_forget(nc);
	t_forget(t.by_tag[1]);
	xs_core_free(core);
}

static void test_corrupt_image(void **state)
{
	struct t_fx *f = *state;
	const struct xs_lu_ops ops = {.save_conn = save_conn,
				      .restore_conn = restore_conn};
	struct tp t = {.refuse_tag = -1};
	const struct xs_core_hooks hooks = {.opaque = &t, .reattach = reattach};
	const struct xs_lu_ops rops = {.opaque = &t,
				       .save_conn = save_conn,
				       .restore_conn = restore_conn};
	struct xs_core *out;
	unsigned char *img;
	void *v;
	size_t len;
	struct tmsg m;

	t_fx_introduce(f, 4);
	tag(f->d0, 0);
	assert_int_equal(t_write(f->d0, 0, "/x/y/z", "1"), XS_WRITE);
	assert_int_equal(T_REQ(f->d0, XS_WATCH, 0, "/x\0t\0", &m), XS_WATCH);
	t_forget(f->d0);
	assert_int_equal(xs_core_save(f->core, &ops, false, &v, &len), 0);
	img = v;
	/* every truncation is refused before any transport is touched */
	for (size_t l = 0; l < len; l++) {
		out = NULL;
		assert_int_not_equal(
		    xs_core_restore(img, l, &hooks, &rops, &out), 0);
		assert_null(out);
	}
	assert_int_equal(t.restored + t.reattached, 0);
	/* flipped bytes: refused, or a store that is whole */
	for (size_t i = 0; i < len; i++) {
		for (unsigned int bit = 0; bit < 8; bit += 3) {
			struct tp t2 = {.refuse_tag = -1};
			const struct xs_lu_ops o2 = {.opaque = &t2,
						     .save_conn = save_conn,
						     .restore_conn =
							 restore_conn};
			const struct xs_core_hooks h2 = {.opaque = &t2,
							 .reattach = reattach};

			img[i] ^= (unsigned char)(1u << bit);
			out = NULL;
			if (xs_core_restore(img, len, &h2, &o2, &out) == 0) {
				/* a flipped domid makes it unprivileged */
				if (t2.by_tag[0] &&
				    xs_conn_domid(t2.by_tag[0]) == 0) {
					uint32_t ty;
					const void *q;
					size_t k;

					/* queued output is opaque bytes */
					while ((k = xs_conn_peek(t2.by_tag[0],
								 &q)))
						xs_conn_consume(t2.by_tag[0], k);
					ty = T_REQ(t2.by_tag[0], XS_CONTROL, 0,
						   "check\0", &m);

					if (ty != XS_CONTROL)
						fprintf(stderr, "flip %zu/%u: %s\n",
							i, bit, m.data);
					assert_int_equal(ty, XS_CONTROL);
					t_forget(t2.by_tag[0]);
				}
				xs_core_free(out);
			} else {
				assert_null(out);
			}
			img[i] ^= (unsigned char)(1u << bit);
		}
	}
	free(img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_roundtrip, t_fx_setup,
					    t_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_image, t_fx_setup,
					    t_fx_teardown),
	};

	return cmocka_run_group_tests_name("xs_lu", tests, NULL, NULL);
}
