/* block_env.h - the block integration environment: a private pvkit-hvd
 * (tests/hv harness), a private pvkit-xenstored serving DomU rings,
 * pvkit-blkback, tmpfs disk files, and DomU kernels (child processes) that
 * reach xenstore over their ring, set up the way the toolstack does. */
#ifndef PVKIT_TESTS_BLOCK_ENV_H
#define PVKIT_TESTS_BLOCK_ENV_H

#include <stdint.h>
#include <sys/types.h>

#include "harness.h"
#include "pvkit/platform.h"
#include "pvkit/xs.h"

#define BLK_DEVID 51712u /* xvda */

struct blk_env {
	struct harness h;
	char shm[64]; /* tmpfs directory for disks */
	char xs_sock[320];
	pid_t xsd, bk;
	struct xs_client *xs; /* Dom0's */
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
typedef int (*blk_guest_fn)(struct pvk_platform *plat, struct xs_client *xs,
			    void *arg);
/* Create a domain with xenstore, write the vbd nodes for disk (mode "w" or
 * "r") unless disk is NULL, start the kernel running fn on a copy of the
 * arg_size bytes at arg (harness_spawn) and unpause. */
int blk_env_guest(struct blk_env *e, const char *disk, const char *mode,
		  blk_guest_fn fn, const void *arg, size_t arg_size,
		  domid_t *domid, pid_t *pid);
/* The same for a body that gets the whole kernel (include/pvkit/kernel.h:
 * the control driver too); the domain ends when fn returns, with any
 * threads it left running. */
struct pvk_kernel;
typedef int (*blk_kernel_fn)(struct pvk_kernel *k, void *arg);
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
