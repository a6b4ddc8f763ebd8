/*
 * tap.c - netback's TAP interfaces: one multi-queue TAP per vif with a
 * virtio-net header (so checksum offload and GSO map to netif's flags and
 * GSO extra info), named as Xen's vif-bridge names them, MAC
 * fe:ff:ff:ff:ff:ff (the guest's own MAC is on the other side), joined to
 * its bridge.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "netback.h"

/* A queue of TAP name; excl: create it (it must not exist yet: never
 * join somebody else's interface as an extra queue). */
static int tun_attach(const char *name, bool excl, int *fd)
{
	struct ifreq ifr;
	int f, hdr = 10; /* struct virtio_net_hdr */

	f = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (f < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE |
			(excl ? IFF_TUN_EXCL : 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(f, TUNSETIFF, &ifr) < 0 ||
	    ioctl(f, TUNSETVNETHDRSZ, &hdr) < 0) {
		int rc = -errno;

		close(f);
		return rc;
	}
	*fd = f;
	return 0;
}

/* An ioctl on the interface through an AF_INET datagram socket. */
static int if_ioctl(unsigned long req, struct ifreq *ifr)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

	if (s < 0)
		return -errno;
	if (ioctl(s, req, ifr) < 0)
		rc = -errno;
	close(s);
	return rc;
}

int nb_tap_open(struct nb_tap *t, const char *name, unsigned int mtu,
		const char *bridge)
{
	struct ifreq ifr;
	int rc;

	if (!name[0] || strlen(name) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	snprintf(t->name, sizeof(t->name), "%s", name);
	rc = tun_attach(name, true, &t->fd);
	if (rc) {
		pvk_err("%s: cannot create the TAP interface: %s%s", name,
			strerror(-rc),
			rc == -EBUSY ? " (an interface of that name exists: "
				       "another host's, or not a TAP)"
				     : "");
		t->fd = -1;
		return rc;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
	memset(ifr.ifr_hwaddr.sa_data, 0xff, 6);
	ifr.ifr_hwaddr.sa_data[0] = (char)0xfe;
	rc = if_ioctl(SIOCSIFHWADDR, &ifr);
	if (!rc) {
		ifr.ifr_mtu = (int)mtu;
		rc = if_ioctl(SIOCSIFMTU, &ifr);
		if (rc)
			pvk_err("%s: MTU %u: %s", name, mtu, strerror(-rc));
	}
	if (!rc && bridge && *bridge) {
		struct ifreq br;

		memset(&br, 0, sizeof(br));
		snprintf(br.ifr_name, sizeof(br.ifr_name), "%s", bridge);
		br.ifr_ifindex = (int)if_nametoindex(name);
		rc = br.ifr_ifindex ? if_ioctl(SIOCBRADDIF, &br) : -ENODEV;
		if (rc)
			pvk_err("%s: cannot join bridge %s: %s", name, bridge,
				strerror(-rc));
	}
	if (!rc) {
		rc = if_ioctl(SIOCGIFFLAGS, &ifr);
		ifr.ifr_flags |= IFF_UP;
		if (!rc)
			rc = if_ioctl(SIOCSIFFLAGS, &ifr);
	}
	if (rc) {
		nb_tap_close(t);
		return rc;
	}
	return 0;
}

int nb_tap_queue(const struct nb_tap *t, int *fd)
{
	return tun_attach(t->name, false, fd);
}

int nb_tap_offload(const struct nb_tap *t, unsigned int flags)
{
	return ioctl(t->fd, TUNSETOFFLOAD, flags) < 0 ? -errno : 0;
}

void nb_tap_close(struct nb_tap *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}
