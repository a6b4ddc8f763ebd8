/* pv_env.h - what every split-driver integration test runs on: a private
 * pvkit-hvd (the harness), a private pvkit-xenstored serving DomU rings,
 * Dom0 backend daemons, and DomU kernels (child processes) that reach
 * xenstore over their ring, with device nodes written the way the
 * toolstack does.  tests/block and tests/net build their environments on
 * it. */
#ifndef PVKIT_TESTS_PV_ENV_H
#define PVKIT_TESTS_PV_ENV_H

#include <stdint.h>
#include <sys/types.h>

#include "harness.h"
#include "pvkit/platform.h"
#include "pvkit/xs.h"

struct pv_env {
	struct harness h;
	char xs_sock[320];
	pid_t xsd;
	struct xs_client *xs; /* Dom0's */
};

/* Start pvkit-hvd and pvkit-xenstored ($PVKIT_XENSTORED, its store
 * journaled in the harness's directory) and connect. */
int pv_env_start(struct pv_env *e);
void pv_env_stop(struct pv_env *e);
/* SIGKILL pvkit-xenstored and start it again on its journal; e->xs is a
 * new connection.  0 or -errno. */
int pv_env_xenstored_kill(struct pv_env *e);

/* Start a backend daemon: the executable named by $exe_var, with
 * "--xenstore SOCK --pid-file DIR/<name>.pid" and args (NULL-terminated,
 * at most 10), on the emulated platform; returns once it wrote its pid
 * file (it serves then).  *pid gets it. */
int pv_env_daemon(struct pv_env *e, const char *exe_var, const char *name,
		  const char *const *args, pid_t *pid);
/* SIGTERM a daemon and reap it; *pid becomes 0.  0 allowed. */
void pv_env_daemon_stop(pid_t *pid);

/* Write dir/node (node NULL: dir itself, val NULL: a directory) with
 * perms (owner first, two entries). */
int pv_env_node(struct xs_client *xs, const char *dir, const char *node,
		const char *val, const struct xs_perm *perms);
/* A device as the toolstack writes it: the frontend directory
 * /local/domain/<d>/device/<type>/<devid> (backend, backend-id, state=1
 * and fe_nodes), then the backend's /local/domain/0/backend/<type>/<d>/
 * <devid> (frontend, frontend-id, online=1, be_nodes, state=1 last: it
 * triggers the probe).  fe_nodes, be_nodes: NULL-terminated key, value
 * pairs, or NULL. */
int pv_env_device(struct pv_env *e, domid_t d, const char *type,
		  unsigned int devid, const char *const *fe_nodes,
		  const char *const *be_nodes);

/* Writes a new domain's device nodes (before it is introduced). */
typedef int (*pv_env_devices_fn)(struct pv_env *e, domid_t d, void *arg);
/* A DomU body: its platform and its xenstore client (over the ring). */
typedef int (*pv_guest_fn)(struct pvk_platform *plat, struct xs_client *xs,
			   void *arg);
/* Create a domain (64 MiB, 2 vCPUs) with xenstore, call devs (may be
 * NULL), start the kernel running fn on a copy of the arg_size bytes at
 * arg (harness_spawn) and unpause. */
int pv_env_guest(struct pv_env *e, pv_env_devices_fn devs, void *devs_arg,
		 pv_guest_fn fn, const void *arg, size_t arg_size,
		 domid_t *domid, pid_t *pid);
/* The same for a body that gets the whole kernel (include/pvkit/kernel.h:
 * the control driver too); the domain ends when fn returns, with any
 * threads it left running. */
struct pvk_kernel;
typedef int (*pv_kernel_fn)(struct pvk_kernel *k, void *arg);
int pv_env_kernel(struct pv_env *e, pv_env_devices_fn devs, void *devs_arg,
		  pv_kernel_fn fn, const void *arg, size_t arg_size,
		  domid_t *domid, pid_t *pid);
/* Wait for the kernel, destroy the domain, remove its xenstore nodes
 * (and its backend/<type>/<domid> directory, type may be NULL).  Returns
 * the kernel's exit status. */
int pv_env_guest_end(struct pv_env *e, const char *type, domid_t domid,
		     pid_t pid);

#endif
