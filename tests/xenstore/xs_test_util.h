/* xs_test_util.h - a tiny xenstore client over a core connection, for the
 * unit tests: send requests, pop replies and watch events. */
#ifndef PVKIT_XS_TEST_UTIL_H
#define PVKIT_XS_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "xenstore/xs_core.h"

struct tmsg {
	struct xsd_sockmsg hdr;
	char data[XENSTORE_PAYLOAD_MAX + 1]; /* nul-terminated copy */
};

/* Send one request (payload of len bytes) through xs_conn_feed(). */
void t_send(struct xs_conn *c, uint32_t type, uint32_t tx, const void *p,
	    size_t len);
/* Pop the next queued message; 0 or -1 when the queue is empty. */
int t_recv(struct xs_conn *c, struct tmsg *m);
/* Send and pop the reply (skipping nothing); returns the reply type. */
uint32_t t_req(struct xs_conn *c, uint32_t type, uint32_t tx, const void *p,
	       size_t len, struct tmsg *m);
/* Drain and count queued watch events; the last one is kept in *last if
 * non-NULL. */
int t_events(struct xs_conn *c, struct tmsg *last);

/* String-literal payloads keep their embedded nuls: "path\0value". */
#define T_REQ(c, type, tx, lit, m) t_req(c, type, tx, lit, sizeof(lit) - 1, m)
/* Payload built from a C string plus its terminating nul. */
#define T_REQS(c, type, tx, s, m) t_req(c, type, tx, s, strlen(s) + 1, m)

/* Convenience: write path=value; returns the reply type. */
uint32_t t_write(struct xs_conn *c, uint32_t tx, const char *path,
		 const char *value);
uint32_t t_writem(struct xs_conn *c, uint32_t tx, const char *path,
		  const char *value, struct tmsg *m);
/* Forget events remembered for c (before freeing it). */
void t_forget(struct xs_conn *c);
/* Read path into m; returns the reply type. */
uint32_t t_read(struct xs_conn *c, uint32_t tx, const char *path,
		struct tmsg *m);

/* Create /local/domain/<domid> owned by it and INTRODUCE it through the
 * privileged d0 (no transport hooks needed); its connection or NULL. */
struct xs_conn *t_introduce(struct xs_core *core, struct xs_conn *d0,
			    unsigned int domid);

/* The fixture the core tests share: a core and a privileged socket client
 * standing in for Dom0.  now is the core's clock for t_fx_setup_clocked
 * (which starts it at one second); t_fx_setup leaves the real clock. */
struct t_fx {
	struct xs_core *core;
	struct xs_conn *d0;
	uint64_t now;
};

/* cmocka setup/teardown: *state becomes / is a struct t_fx. */
int t_fx_setup(void **state);
int t_fx_setup_clocked(void **state);
int t_fx_teardown(void **state);
/* t_introduce through f's Dom0, asserting that it worked. */
struct xs_conn *t_fx_introduce(struct t_fx *f, unsigned int domid);
/* Assert that a reply is XS_ERROR with the error string e. */
void t_assert_error(uint32_t type, const struct tmsg *m, const char *e);

#endif
