/*
 * nettap.h - a vif as a TAP interface: netfront's frames on one side,
 * the local network stack on the other, so standard tools use the vif.
 *
 * The default kernel puts each vif in the domain's own network namespace
 * (a named one, iproute2's convention: a bind mount at /run/netns/<ns>,
 * common/util.h, created by the first vif and removed by the toolstack
 * when the domain ends) as eth<N>, so that `ip netns exec pvkit-<name>
 * ping ...` runs "inside" the domain; pvkit-netfront (tool.c) makes one in
 * its own namespace, in a Linux DomU on real Xen.  The interface gets the
 * MAC and MTU from xenstore and is up, with a TAP queue per netfront
 * queue: a thread per queue reads frames straight into the pages shared
 * with the backend (netfront_tx_reserve), and received frames are written
 * from the receive pages by netfront's handler; checksum offload and GSO
 * mapped between the virtio-net header and netif's flags.  After the backend comes back
 * (netfront reconnected) a gratuitous ARP announces each IPv4 address of
 * the interface.
 */
#ifndef PVKIT_FRONTENDS_NETFRONT_NETTAP_H
#define PVKIT_FRONTENDS_NETFRONT_NETTAP_H

struct netfront;
struct nettap;

/* Start interface ifname for nf (the caller's; it must outlive the tap)
 * in the named namespace ns, created if need be, or in the caller's with
 * ns NULL.  0 or -errno (logged). */
int nettap_start(struct netfront *nf, const char *ns, const char *ifname,
		 struct nettap **out);
/* Stop the threads and remove the interface.  NULL allowed. */
void nettap_stop(struct nettap *t);

#endif
