/* harness.h - start a private pvkit-hvd and run guest kernels as child
 * processes, for the hypervisor integration tests and benchmarks. */
#ifndef PVKIT_TESTS_HARNESS_H
#define PVKIT_TESTS_HARNESS_H

#include "pvkit/guest.h"
#include "pvkit/platform.h"
#include <stdint.h>
#include <sys/types.h>

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
/* Create a domain and start its kernel running fn in a child process; the
 * child exits with fn's return value.  The child gets a copy of the
 * arg_size bytes at arg (so arg must hold no pointers) and inherits the
 * test's descriptors (pipes work).  The domain is unpaused before
 * returning. */
int harness_guest(struct harness *h, const char *name, unsigned int vcpus,
		  uint64_t mem_kib, guest_fn fn, const void *arg,
		  size_t arg_size, domid_t *domid, pid_t *pid);

/* The child process itself.  A test process has threads (Dom0's runtime,
 * xenstore clients), and a plain fork() child of it can inherit a lock
 * one of them held: GCC 12's ASan allocator takes no locks around fork,
 * and a guest kernel hung on one.  So the child execs this same executable
 * at once, and a constructor in harness.c calls entry(fd, fn, copy of arg)
 * there and exits with its result.  fn is any function of this
 * executable, passed through as an address; fd is inherited; dom0, when
 * not NULL, has its descriptors dropped in the child. */
typedef int (*harness_entry)(int fd, uintptr_t fn, void *arg);
int harness_spawn(struct pvk_rt *dom0, harness_entry entry, uintptr_t fn,
		  const void *arg, size_t arg_size, int fd, pid_t *pid);
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
