/*
 * nettap.h - a vif of the default kernel as a TAP interface in the
 * domain's own network namespace, so standard tools run "inside" the
 * domain: `ip netns exec pvkit-<name> ping ...`.
 *
 * The namespace is a named one (iproute2's convention: a bind mount at
 * /run/netns/<ns>, common/util.h), created by the first vif and removed by
 * the toolstack when the domain ends.  Each vif becomes eth<N> (N its device id) with the MAC and
 * MTU from xenstore, up; frames move both ways between the TAP and
 * netfront on two threads, checksum offload and GSO mapped between the
 * virtio-net header and netif's flags.  After the backend comes back
 * (netfront reconnected) a gratuitous ARP announces each IPv4 address of
 * the interface.
 */
#ifndef PVKIT_KERNELS_GUEST_NETTAP_H
#define PVKIT_KERNELS_GUEST_NETTAP_H

#include <stdint.h>

struct netfront;
struct nettap;

/* Start eth<devid> in namespace ns for nf (the caller's; it must outlive
 * the tap).  0 or -errno (logged). */
int nettap_start(struct netfront *nf, const char *ns, uint32_t devid,
		 struct nettap **out);
/* Stop the threads and remove the interface.  NULL allowed. */
void nettap_stop(struct nettap *t);

#endif
