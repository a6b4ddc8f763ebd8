/* net_env.h - the network integration environment: tests/hv's pv_env (a
 * private pvkit-hvd and pvkit-xenstored, DomU kernels reaching xenstore
 * over their ring) with pvkit-netback and vif nodes written the way the
 * toolstack (libxl) does, in a private network namespace; the vif's TAP
 * interface is read and written through AF_PACKET sockets. */
#ifndef PVKIT_TESTS_NET_ENV_H
#define PVKIT_TESTS_NET_ENV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pv_env.h"

#define NET_DEVID 0u
#define NET_MAC "00:16:3e:12:34:56"

struct net_env {
	struct pv_env pv;
	pid_t nb; /* pvkit-netback */
};

/* Enter a private network namespace (everything started later lives in
 * it) with lo up and IPv6 off on new interfaces (no router solicitations
 * on the vifs).  -EPERM without the privilege: the caller skips. */
int net_env_netns(void);
/* net_env_netns for a test's main(): 0 to go on, else the exit status
 * (77, skip, printed, without the privilege; 1 on another failure). */
int net_env_netns_or_skip(void);

int net_env_start(struct net_env *e);
void net_env_stop(struct net_env *e);
/* (Re)start pvkit-netback with extra arguments (NULL-terminated). */
int net_env_backend(struct net_env *e, const char *const *args);
void net_env_backend_stop(struct net_env *e);
/* SIGKILL it (a crash) and reap it. */
void net_env_backend_kill(struct net_env *e);

/* Create a domain with vif NET_DEVID (mac NET_MAC, the given mtu on both
 * sides), start its kernel running fn on a copy of arg (harness_spawn) and
 * unpause. */
int net_env_guest(struct net_env *e, unsigned int mtu, pv_guest_fn fn,
		  const void *arg, size_t arg_size, domid_t *domid, pid_t *pid);
/* Wait for the kernel, destroy the domain, remove its nodes; its exit
 * status. */
int net_env_guest_end(struct net_env *e, domid_t domid, pid_t pid);

/* An AF_PACKET socket for ethertype proto on interface ifname, which may
 * take up to timeout_ms to appear; a large receive buffer.  The socket or
 * -errno; *ifindex gets the interface's index. */
int net_env_packet_socket(const char *ifname, uint16_t proto, int timeout_ms,
			  int *ifindex);
/* Frames on s carry a virtio-net header first (PACKET_VNET_HDR): GSO and
 * partial checksums as the kernel has them.  0 or -errno. */
int net_env_packet_vnet(int s);
/* Receive one frame that came in (not one we sent) into buf: its length,
 * or -ETIMEDOUT. */
int net_env_packet_recv(int s, void *buf, size_t cap, int timeout_ms);
/* Send one frame out of ifindex: 0 or -errno. */
int net_env_packet_send(int s, int ifindex, const void *frame, size_t len);

#endif
