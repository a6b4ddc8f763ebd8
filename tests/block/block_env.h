/* block_env.h - the block integration environment: tests/hv's pv_env (a
 * private pvkit-hvd and pvkit-xenstored, DomU kernels reaching xenstore
 * over their ring) with pvkit-blkback, tmpfs disk files and vbd nodes
 * written the way the toolstack does. */
#ifndef PVKIT_TESTS_BLOCK_ENV_H
#define PVKIT_TESTS_BLOCK_ENV_H

#include <stdint.h>
#include <sys/types.h>

#include "pv_env.h"

#define BLK_DEVID 51712u /* xvda */

struct blk_env {
	struct pv_env pv; /* hvd, xenstored, Dom0's xenstore client */
	char shm[64];	  /* tmpfs directory for disks */
	pid_t bk;
};

int blk_env_start(struct blk_env *e);
void blk_env_stop(struct blk_env *e);
/* (Re)start pvkit-blkback with extra arguments (NULL-terminated). */
int blk_env_backend(struct blk_env *e, const char *const *args);
void blk_env_backend_stop(struct blk_env *e);
/* Create a disk file of size bytes in the tmpfs directory. */
int blk_env_disk(struct blk_env *e, const char *name, uint64_t size, char *path,
		 size_t len);

/* A DomU body: its platform and its xenstore client (over the ring). */
typedef pv_guest_fn blk_guest_fn;
/* Create a domain with xenstore, write the vbd nodes for disk (mode "w" or
 * "r") unless disk is NULL, start the kernel running fn on a copy of the
 * arg_size bytes at arg (harness_spawn) and unpause. */
int blk_env_guest(struct blk_env *e, const char *disk, const char *mode,
		  blk_guest_fn fn, const void *arg, size_t arg_size,
		  domid_t *domid, pid_t *pid);
/* The same for a body that gets the whole kernel (include/pvkit/kernel.h:
 * the control driver too); the domain ends when fn returns, with any
 * threads it left running. */
typedef pv_kernel_fn blk_kernel_fn;
int blk_env_kernel(struct blk_env *e, const char *disk, const char *mode,
		   blk_kernel_fn fn, const void *arg, size_t arg_size,
		   domid_t *domid, pid_t *pid);
/* Wait for the kernel, destroy the domain, remove its xenstore nodes. */
int blk_env_guest_end(struct blk_env *e, domid_t domid, pid_t pid);

/* The cmocka group fixtures setup() and teardown() of a test program whose
 * tests share one environment, env: started before the first test, stopped
 * after the last. */
#define DEFINE_BLK_ENV_FIXTURES(env)                                           \
	static int setup(void **state)                                         \
	{                                                                      \
		(void)state;                                                   \
		return blk_env_start(&(env));                                  \
	}                                                                      \
                                                                               \
	static int teardown(void **state)                                      \
	{                                                                      \
		(void)state;                                                   \
		blk_env_stop(&(env));                                          \
		return 0;                                                      \
	}

#endif
