/*
 * taprelay.c - pvkit-taprelay TAP_A TAP_B: the floor of the network
 * benchmark.
 *
 * A pvkit vif carries a frame from a TAP inside the domain (eth0) through
 * userspace to a TAP in Dom0 (vif<d>.<n>) on the bridge.  The least any
 * design of that shape can do is read the frame from one TAP and write it
 * to the other; this program does only that, each direction on a thread
 * of its own, with the virtio-net header and the offloads pvkit uses (so
 * 64 KiB GSO frames pass whole).  bench_net.py puts TAP_A in a namespace
 * and TAP_B on a bridge, as pvkit's vifs are, and measures it beside
 * veth and pvkit in the same run.
 *
 * Prints "ready" once both TAPs exist; runs until killed, and dies with
 * its parent.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <unistd.h>

#define RELAY_BUF (sizeof(struct virtio_net_hdr) + 65536u)

struct relay {
	int from, to;
};

static int tap_open(const char *name, int *fdp)
{
	struct ifreq ifr;
	int hdr = (int)sizeof(struct virtio_net_hdr), fd, rc = 0;

	if (strlen(name) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 ||
	    ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0 ||
	    ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) < 0)
		rc = -errno;
	if (rc)
		close(fd);
	else
		*fdp = fd;
	return rc;
}

/* One direction: each frame read is written (a frame the kernel refuses
 * is dropped, as a full queue would). */
static void *relay_thread(void *arg)
{
	const struct relay *r = arg;
	static __thread unsigned char buf[RELAY_BUF];
	ssize_t n;

	for (;;) {
		n = read(r->from, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (write(r->to, buf, (size_t)n) < 0) {
			/* dropped */
		}
	}
	fprintf(stderr, "pvkit-taprelay: read: %s\n",
		n < 0 ? strerror(errno) : "end of file");
	_exit(1);
	return NULL;
}

int main(int argc, char **argv)
{
	struct relay r[2];
	pthread_t t;
	int fd[2], rc, i;

	if (argc != 3) {
		fprintf(stderr, "usage: pvkit-taprelay TAP_A TAP_B\n");
		return 2;
	}
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() == 1)
		return 1;
	for (i = 0; i < 2; i++) {
		rc = tap_open(argv[1 + i], &fd[i]);
		if (rc) {
			fprintf(stderr, "pvkit-taprelay: %s: %s\n", argv[1 + i],
				strerror(-rc));
			return 1;
		}
	}
	r[0] = (struct relay){.from = fd[0], .to = fd[1]};
	r[1] = (struct relay){.from = fd[1], .to = fd[0]};
	rc = pthread_create(&t, NULL, relay_thread, &r[0]);
	if (rc) {
		fprintf(stderr, "pvkit-taprelay: thread: %s\n", strerror(rc));
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	relay_thread(&r[1]);
	return 1;
}
