/* xs_test_util.c - request/reply helpers for the xenstore unit tests. */
#include "xs_test_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

void t_send(struct xs_conn *c, uint32_t type, uint32_t tx, const void *p,
	    size_t len)
{
	static uint32_t req_id;
	struct xsd_sockmsg h = {.type = type,
				.req_id = ++req_id,
				.tx_id = tx,
				.len = (uint32_t)len};
	unsigned char *buf = malloc(sizeof(h) + len);
	size_t off = 0;

	if (!buf)
		abort();
	memcpy(buf, &h, sizeof(h));
	if (len)
		memcpy(buf + sizeof(h), p, len);
	while (off < sizeof(h) + len) {
		ssize_t n = xs_conn_feed(c, buf + off, sizeof(h) + len - off);

		if (n <= 0)
			break;
		off += (size_t)n;
	}
	free(buf);
}

static void pull(struct xs_conn *c, void *dst, size_t len)
{
	unsigned char *d = dst;

	while (len) {
		const void *p;
		size_t n = xs_conn_peek(c, &p);

		if (!n)
			abort();
		if (n > len)
			n = len;
		memcpy(d, p, n);
		xs_conn_consume(c, n);
		d += n;
		len -= n;
	}
}

int t_recv(struct xs_conn *c, struct tmsg *m)
{
	const void *p;

	if (!xs_conn_peek(c, &p))
		return -1;
	pull(c, &m->hdr, sizeof(m->hdr));
	if (m->hdr.len > XENSTORE_PAYLOAD_MAX)
		abort();
	pull(c, m->data, m->hdr.len);
	m->data[m->hdr.len] = '\0';
	return 0;
}

/* Watch events met while waiting for a reply, per connection. */
static struct {
	struct xs_conn *c;
	int n;
	struct tmsg last;
} skipped[16];

static void skip_event(struct xs_conn *c, const struct tmsg *m)
{
	for (size_t i = 0; i < 16; i++) {
		if (skipped[i].c == c) {
			skipped[i].n++;
			skipped[i].last = *m;
			return;
		}
	}
	for (size_t i = 0; i < 16; i++) {
		if (!skipped[i].c) {
			skipped[i].c = c;
			skipped[i].n = 1;
			skipped[i].last = *m;
			return;
		}
	}
	abort();
}

uint32_t t_req(struct xs_conn *c, uint32_t type, uint32_t tx, const void *p,
	       size_t len, struct tmsg *m)
{
	struct tmsg tmp;

	if (!m)
		m = &tmp;
	t_send(c, type, tx, p, len);
	do {
		if (t_recv(c, m))
			return UINT32_MAX;
		if (m->hdr.type == XS_WATCH_EVENT)
			skip_event(c, m);
	} while (m->hdr.type == XS_WATCH_EVENT);
	return m->hdr.type;
}

int t_events(struct xs_conn *c, struct tmsg *last)
{
	struct tmsg m;
	int n = 0;

	for (size_t i = 0; i < 16; i++) {
		if (skipped[i].c == c && skipped[i].n) {
			n = skipped[i].n;
			if (last)
				*last = skipped[i].last;
			skipped[i].n = 0;
			skipped[i].c = NULL;
		}
	}
	while (t_recv(c, &m) == 0) {
		if (m.hdr.type == XS_WATCH_EVENT) {
			n++;
			if (last)
				*last = m;
		}
	}
	return n;
}

uint32_t t_writem(struct xs_conn *c, uint32_t tx, const char *path,
		  const char *value, struct tmsg *m)
{
	size_t pl = strlen(path) + 1, vl = strlen(value);
	char *buf = malloc(pl + vl + 1);
	uint32_t r;

	if (!buf)
		abort();
	memcpy(buf, path, pl);
	memcpy(buf + pl, value, vl);
	r = t_req(c, XS_WRITE, tx, buf, pl + vl, m);
	free(buf);
	return r;
}

uint32_t t_read(struct xs_conn *c, uint32_t tx, const char *path,
		struct tmsg *m)
{
	return t_req(c, XS_READ, tx, path, strlen(path) + 1, m);
}

uint32_t t_write(struct xs_conn *c, uint32_t tx, const char *path,
		 const char *value)
{
	return t_writem(c, tx, path, value, NULL);
}

void t_forget(struct xs_conn *c)
{
	for (size_t i = 0; i < 16; i++)
		if (skipped[i].c == c) {
			skipped[i].n = 0;
			skipped[i].c = NULL;
		}
}

struct xs_conn *t_introduce(struct xs_core *core, struct xs_conn *d0,
			    unsigned int domid)
{
	char buf[64];
	struct tmsg m;
	int n;

	/* as a toolstack does: the domain's home, owned by it */
	n = snprintf(buf, sizeof(buf), "/local/domain/%u%cn%u%c", domid, 0,
		     domid, 0);
	if (t_req(d0, XS_MKDIR, 0, buf, strlen(buf) + 1, &m) != XS_MKDIR ||
	    t_req(d0, XS_SET_PERMS, 0, buf, (size_t)n, &m) != XS_SET_PERMS)
		return NULL;
	n = snprintf(buf, sizeof(buf), "%u%c1234%c7%c", domid, 0, 0, 0);
	if (t_req(d0, XS_INTRODUCE, 0, buf, (size_t)n, &m) != XS_INTRODUCE)
		return NULL;
	return xs_core_domain_conn(core, (domid_t)domid);
}

static uint64_t fx_now(void *opaque) { return ((struct t_fx *)opaque)->now; }

static int fx_setup(void **state, bool clocked)
{
	struct t_fx *f = calloc(1, sizeof(*f));
	struct xs_core_hooks hooks = {.opaque = f, .now_ns = fx_now};

	assert_non_null(f);
	f->now = 1000000000ull;
	assert_int_equal(xs_core_new(NULL, clocked ? &hooks : NULL, &f->core),
			 0);
	assert_int_equal(xs_conn_new(f->core, 0, &f->d0), 0);
	*state = f;
	return 0;
}

int t_fx_setup(void **state) { return fx_setup(state, false); }

int t_fx_setup_clocked(void **state) { return fx_setup(state, true); }

int t_fx_teardown(void **state)
{
	struct t_fx *f = *state;

	xs_core_free(f->core);
	free(f);
	return 0;
}

struct xs_conn *t_fx_introduce(struct t_fx *f, unsigned int domid)
{
	struct xs_conn *c = t_introduce(f->core, f->d0, domid);

	assert_non_null(c);
	return c;
}

void t_assert_error(uint32_t type, const struct tmsg *m, const char *e)
{
	assert_int_equal(type, XS_ERROR);
	assert_string_equal(m->data, e);
}
