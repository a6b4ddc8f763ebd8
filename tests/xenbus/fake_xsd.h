/*
 * fake_xsd.h - test doubles for the xenstore client's unit tests: a pair
 * of in-process event channels (pipes) and a tiny in-memory xenstored
 * served over a socket fd or a shared ring, with knobs for failing
 * commits and a hook for sending malformed replies.
 */
#ifndef PVKIT_TESTS_FAKE_XSD_H
#define PVKIT_TESTS_FAKE_XSD_H

#include <stdbool.h>
#include <stddef.h>

#include "pvkit/platform.h"
#include "pvkit/xs.h"

/* Two connected fake event channel handles: notify() on one makes the
 * other's fd readable and pending() report its port. */
extern const struct pvk_evtchn_ops fake_evtchn_ops;
int fake_evtchn_pair(struct pvk_evtchn **a, struct pvk_evtchn **b,
		     evtchn_port_t port);
void fake_evtchn_free(struct pvk_evtchn *h);

struct fake_xsd;
/* Serve on fd (the server owns it). */
int fake_xsd_start_fd(int fd, struct fake_xsd **out);
/* Serve the daemon's side of intf, notifying through h. */
int fake_xsd_start_ring(struct xenstore_domain_interface *intf,
			struct pvk_evtchn *h, evtchn_port_t port,
			struct fake_xsd **out);
void fake_xsd_stop(struct fake_xsd *f);

/* The next n commits fail with EAGAIN. */
void fake_xsd_fail_commits(struct fake_xsd *f, unsigned int n);
/* Commit attempts (TRANSACTION_END "T") seen so far. */
unsigned int fake_xsd_commits(struct fake_xsd *f);
/* Requests seen so far. */
unsigned int fake_xsd_requests(struct fake_xsd *f);

/* A hook sees each request first; returning true means it replied itself
 * (with fake_xsd_send_raw) and the store is not consulted. */
typedef bool (*fake_xsd_hook)(struct fake_xsd *f,
			      const struct xsd_sockmsg *h, const char *body,
			      void *arg);
void fake_xsd_set_hook(struct fake_xsd *f, fake_xsd_hook hook, void *arg);
int fake_xsd_send_raw(struct fake_xsd *f, const void *buf, size_t len);
/* Send a complete message. */
int fake_xsd_send(struct fake_xsd *f, uint32_t type, uint32_t req_id,
		  uint32_t tx, const void *body, size_t len);

/* Create a socketpair client<->fake daemon; *xs is connected. */
int fake_xsd_socketpair(struct fake_xsd **f, struct xs_client **xs);

/* The fixture the client tests share: a client connected to a fake daemon
 * by fake_xsd_socketpair. */
struct fake_xsd_env {
	struct fake_xsd *fake;
	struct xs_client *xs;
};
/* cmocka setup/teardown: *state becomes / is a struct fake_xsd_env. */
int fake_xsd_env_setup(void **state);
int fake_xsd_env_teardown(void **state);

#endif
