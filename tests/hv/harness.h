/* harness.h - start a private pvkit-hvd and run guest kernels as forked
 * children, for the hypervisor integration tests and benchmarks. */
#ifndef PVKIT_TESTS_HARNESS_H
#define PVKIT_TESTS_HARNESS_H

#include <stdint.h>
#include <sys/types.h>
#include "pvkit/guest.h"
#include "pvkit/platform.h"

struct harness {
	char dir[256];
	char sock[300];
	pid_t hvd;
	struct pvk_rt *dom0;
};

/* Start pvkit-hvd ($PVKIT_HVD or "pvkit-hvd" on PATH) and connect as Dom0. */
int harness_start(struct harness *h);
void harness_stop(struct harness *h);

typedef int (*guest_fn)(struct pvk_rt *rt, void *arg);
/* Create a domain and fork its kernel running fn; the child exits with
 * fn's return value.  The domain is unpaused before returning. */
int harness_guest(struct harness *h, const char *name, unsigned int vcpus,
		  uint64_t mem_kib, guest_fn fn, void *arg, domid_t *domid,
		  pid_t *pid);
/* Wait for a child; returns its exit status, or 128+signal. */
int harness_wait(pid_t pid);

/* A pipe-based rendezvous between parent and children. */
struct chan {
	int fd[2];
};
int chan_init(struct chan *c);
int chan_put(struct chan *c, uint64_t v);
int chan_get(struct chan *c, uint64_t *v);

#endif
