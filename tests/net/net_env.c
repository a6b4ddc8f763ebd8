/* net_env.c - see net_env.h. */
#include "net_env.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void write_sysctl(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (write(fd, val, strlen(val)) < 0)
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
	close(fd);
}

int net_env_netns(void)
{
	struct ifreq ifr;
	int s, rc = 0;

	if (unshare(CLONE_NEWNET) < 0)
		return -errno;
	write_sysctl("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	write_sysctl("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		rc = -errno;
	ifr.ifr_flags |= IFF_UP;
	if (!rc && ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		rc = -errno;
	close(s);
	return rc;
}

int net_env_netns_or_skip(void)
{
	int rc = net_env_netns();

	if (rc == -EPERM) {
		printf("SKIP: no privilege for a network namespace "
		       "(unshare(CLONE_NEWNET): %s); run as root\n",
		       strerror(-rc));
		return 77;
	}
	if (rc) {
		fprintf(stderr, "network namespace: %s\n", strerror(-rc));
		return 1;
	}
	return 0;
}

int net_env_start(struct net_env *e)
{
	memset(e, 0, sizeof(*e));
	return pv_env_start(&e->pv);
}

void net_env_backend_stop(struct net_env *e) { pv_env_daemon_stop(&e->nb); }

void net_env_backend_kill(struct net_env *e)
{
	if (e->nb > 0) {
		kill(e->nb, SIGKILL);
		waitpid(e->nb, NULL, 0);
	}
	e->nb = 0;
}

int net_env_backend(struct net_env *e, const char *const *args)
{
	net_env_backend_stop(e);
	return pv_env_daemon(&e->pv, "PVKIT_NETBACK", "pvkit-netback", args,
			     &e->nb);
}

void net_env_stop(struct net_env *e)
{
	net_env_backend_stop(e);
	pv_env_stop(&e->pv);
}

/* libxl's nodes for a vif (libxl_nic.c): the frontend's handle, mac,
 * mtu, trusted; the backend's handle, mac, mtu, type (no script: nothing
 * runs hotplug scripts here; no bridge: the vif stays on its own). */
static int write_vif(struct pv_env *e, domid_t d, void *arg)
{
	char mtu[16];
	const char *fe[] = {"handle", "0",	 "mac", NET_MAC, "mtu",
			    mtu,      "trusted", "1",	NULL};
	const char *be[] = {"handle", "0",    "mac", NET_MAC, "mtu",
			    mtu,      "type", "vif", NULL};

	snprintf(mtu, sizeof(mtu), "%u", *(const unsigned int *)arg);
	return pv_env_device(e, d, "vif", NET_DEVID, fe, be);
}

int net_env_guest(struct net_env *e, unsigned int mtu, pv_guest_fn fn,
		  const void *arg, size_t arg_size, domid_t *domid, pid_t *pid)
{
	return pv_env_guest(&e->pv, write_vif, &mtu, fn, arg, arg_size, domid,
			    pid);
}

int net_env_guest_end(struct net_env *e, domid_t domid, pid_t pid)
{
	return pv_env_guest_end(&e->pv, "vif", domid, pid);
}

int net_env_packet_socket(const char *ifname, uint16_t proto, int timeout_ms,
			  int *ifindex)
{
	struct sockaddr_ll sll;
	int s, i, idx = 0, size = 64 << 20;

	for (i = 0; i <= timeout_ms / 10; i++) {
		idx = (int)if_nametoindex(ifname);
		if (idx)
			break;
		usleep(10000);
	}
	if (!idx)
		return -ENODEV;
	s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(proto));
	if (s < 0)
		return -errno;
	if (setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(s, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(proto);
	sll.sll_ifindex = idx;
	if (bind(s, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		int rc = -errno;

		close(s);
		return rc;
	}
	*ifindex = idx;
	return s;
}

int net_env_packet_vnet(int s)
{
	int one = 1;

	if (setsockopt(s, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0)
		return -errno;
	return 0;
}

int net_env_packet_recv(int s, void *buf, size_t cap, int timeout_ms)
{
	for (;;) {
		struct pollfd p = {.fd = s, .events = POLLIN};
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		ssize_t n;

		if (poll(&p, 1, timeout_ms) != 1)
			return -ETIMEDOUT;
		n = recvfrom(s, buf, cap, MSG_TRUNC, (struct sockaddr *)&from,
			     &fl);
		if (n < 0)
			return -errno;
		if (from.sll_pkttype == PACKET_OUTGOING)
			continue;
		return (int)n;
	}
}

int net_env_packet_send(int s, int ifindex, const void *frame, size_t len)
{
	struct sockaddr_ll to;

	memset(&to, 0, sizeof(to));
	to.sll_family = AF_PACKET;
	to.sll_ifindex = ifindex;
	to.sll_halen = ETH_ALEN;
	memcpy(to.sll_addr, frame, ETH_ALEN);
	if (sendto(s, frame, len, 0, (struct sockaddr *)&to, sizeof(to)) !=
	    (ssize_t)len)
		return -errno;
	return 0;
}
