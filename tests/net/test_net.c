/*
 * test_net.c - netfront in a DomU against pvkit-netback, end to end, in a
 * private network namespace: the guest sends frames of many sizes (up to
 * 1514 bytes without scatter-gather, up to 65535 with it) which the test
 * reads on an AF_PACKET socket bound to the vif's TAP interface and checks
 * byte for byte; the test sends frames the same way the other direction
 * and the guest checks them.  With and without SG, one, two and four queues
 * (as many flows, each in order on its queue, every queue used), one and
 * split event channels; GSO
 * frames with a partial checksum both ways (a GSO extra info on the ring,
 * a virtio-net header on the TAP); pvkit-netback killed and restarted
 * under a connected guest, which reconnects and carries on; and a restore
 * (netfront_resume not cancelled), after which it negotiates again.
 *
 * Skipped (77) only without the privilege to make a network namespace.
 */
#include <errno.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
/* cmocka needs the headers above */
#include <cmocka.h>

#include "net_env.h"
#include "netif/netif.h"
#include "pvkit/netfront.h"
#include "pvkit/xenbus.h"

#define ETH_P_PVKIT_TEST 0x88b5 /* IEEE local experimental */
#define MAX_FLOWS 4u
#define ACK_EVERY 16u /* the guest reports received frames this often */
#define WINDOW 64u    /* frames the test sends ahead of the reports */
#define MTU_SG 65521u /* a TAP's largest: 65535 with the header */

static struct net_env E;

/* ---- frames both sides generate and check ------------------------------ */

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* Frame k of a flow: the edge sizes first, then random ones. */
static size_t frame_len(uint64_t seed, unsigned int flow, unsigned int k,
			size_t maxlen)
{
	static const size_t edges[] = {14,   15,   60,	 64,   1514,
				       4095, 4096, 4097, 8192, 65535};
	uint64_t r = mix(seed ^ ((uint64_t)flow << 40) ^ k);

	if (k < sizeof(edges) / sizeof(edges[0]))
		return edges[k] <= maxlen ? edges[k] : maxlen - (r % 16);
	return 14 + (size_t)(r % (maxlen - 13));
}

static void frame_fill(uint8_t *f, size_t len, uint64_t seed, unsigned int flow,
		       unsigned int k)
{
	static const uint8_t dst[6] = {0x02, 0, 0, 0, 0, 0x01};
	uint64_t x = mix(seed ^ ((uint64_t)flow << 40) ^ ((uint64_t)k << 8));
	size_t i;

	memcpy(f, dst, 6);
	f[6] = 0x02;
	f[7] = f[8] = f[9] = 0;
	f[10] = 0x01;
	f[11] = (uint8_t)flow;
	f[12] = ETH_P_PVKIT_TEST >> 8;
	f[13] = ETH_P_PVKIT_TEST & 0xff;
	for (i = 14; i < len; i++) {
		if (!((i - 14) & 7))
			x = mix(x);
		f[i] = (uint8_t)(x >> (((i - 14) & 7) * 8));
	}
}

static bool is_test_frame(const uint8_t *f, size_t len)
{
	return len >= 14 && f[12] == (ETH_P_PVKIT_TEST >> 8) &&
	       f[13] == (ETH_P_PVKIT_TEST & 0xff) && f[11] < MAX_FLOWS;
}

/* 0, or which check failed. */
static int frame_check(const uint8_t *f, size_t len, uint64_t seed,
		       unsigned int k, size_t maxlen, uint8_t *scratch)
{
	unsigned int flow = f[11];
	size_t want = frame_len(seed, flow, k, maxlen);

	if (len != want) {
		fprintf(stderr, "flow %u frame %u: %zu bytes, want %zu\n", flow,
			k, len, want);
		return 1;
	}
	frame_fill(scratch, len, seed, flow, k);
	if (memcmp(scratch, f, len)) {
		size_t i = 0;

		while (scratch[i] == f[i])
			i++;
		fprintf(stderr,
			"flow %u frame %u (%zu bytes): differs at %zu\n", flow,
			k, len, i);
		return 2;
	}
	return 0;
}

/* ---- the guest ------------------------------------------------------------
 */

enum { MSG_READY = 1, MSG_GO, MSG_SENT };

/* The guest's channels to the test (up) and back (down). */
static void chans_open(struct chan *up, struct chan *down)
{
	assert_int_equal(chan_init(up), 0);
	assert_int_equal(chan_init(down), 0);
}

static void chans_close(struct chan *up, struct chan *down)
{
	close(up->fd[0]);
	close(up->fd[1]);
	close(down->fd[0]);
	close(down->fd[1]);
}

struct net_arg {
	struct netfront_opts opts;
	uint64_t seed;
	unsigned int nframes; /* per flow and direction */
	unsigned int flows;
	size_t maxlen;
	bool expect_sg, expect_split;
	unsigned int expect_queues;
	unsigned int rounds; /* > 1: the backend restarts between rounds */
	bool resume;	     /* ... or the guest suspends and is restored */
	bool use_fd; /* the guest polls netfront_rx_fd, receives without wait */
	bool legacy; /* netback --legacy: an older backend offering less */
	bool copy;   /* netback --copy: through its buffers, not in place */
	bool inplace; /* netback --in-place-min 0: RX in place whatever the
		       * size (the default: in place once packets are large) */
	bool zc; /* the guest sends and receives in place (netfront_tx_reserve,
		  * netfront_set_rx_handler) */
	struct chan up, down; /* guest -> test, test -> guest */
};

/* Zero-copy receive: the handler checks each test frame where it lies
 * (its fragments, gathered into one buffer only to compare) and counts. */
struct zc_rx {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	const struct net_arg *a;
	uint64_t seed;
	unsigned int next[MAX_FLOWS], got;
	int err;
	uint8_t *lin, *scratch;
};

static void zc_frame(void *arg, const struct netfront_rx_frame *f)
{
	struct zc_rx *z = arg;
	size_t off = 0;
	unsigned int i, fl;
	int err = 0;

	for (i = 0; i < f->niov; i++) {
		if (!f->iov[i].iov_len || off + f->iov[i].iov_len > f->len) {
			err = 40; /* fragments that do not add up */
			break;
		}
		memcpy(z->lin + off, f->iov[i].iov_base, f->iov[i].iov_len);
		off += f->iov[i].iov_len;
	}
	if (!err && off != f->len)
		err = 41;
	pthread_mutex_lock(&z->lock);
	if (!err && is_test_frame(z->lin, off)) {
		fl = z->lin[11];
		if (fl >= z->a->flows || z->next[fl] >= z->a->nframes)
			err = 24;
		else if (frame_check(z->lin, off, z->seed, z->next[fl],
				     z->a->maxlen, z->scratch))
			err = 25;
		else
			z->next[fl]++, z->got++;
	}
	if (err && !z->err)
		z->err = err;
	pthread_cond_broadcast(&z->cond);
	pthread_mutex_unlock(&z->lock);
}

/* The guest's receiving half in place: 0 or the failed check. */
static int guest_zc_recv(struct netfront *nf, struct net_arg *a, uint64_t seed,
			 uint8_t *buf, uint8_t *scratch)
{
	struct zc_rx z = {.a = a, .seed = seed, .lin = buf, .scratch = scratch};
	unsigned int total = a->nframes * a->flows, told = 0;
	struct timespec ts;
	int rc = 0;

	pthread_mutex_init(&z.lock, NULL);
	pthread_cond_init(&z.cond, NULL);
	if (netfront_set_rx_handler(nf, zc_frame, &z))
		return 42;
	if (netfront_recv(nf, buf, NETFRONT_MAX_FRAME, NULL, 0) != -EINVAL)
		rc = 43; /* frames go to the handler */
	pthread_mutex_lock(&z.lock);
	while (!rc && !z.err && told < total) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 20;
		while (!z.err && z.got / ACK_EVERY == told / ACK_EVERY &&
		       z.got != total) {
			if (pthread_cond_timedwait(&z.cond, &z.lock, &ts)) {
				fprintf(stderr,
					"guest: %u frames in place, "
					"then none\n",
					z.got);
				rc = 23;
				break;
			}
		}
		told = z.got;
		pthread_mutex_unlock(&z.lock);
		if (!rc && !z.err && chan_put(&a->up, told))
			rc = 26;
		pthread_mutex_lock(&z.lock);
	}
	pthread_mutex_unlock(&z.lock);
	/* Once this returns the handler is not running. */
	if (netfront_set_rx_handler(nf, NULL, NULL) && !rc)
		rc = 44;
	pthread_mutex_destroy(&z.lock);
	pthread_cond_destroy(&z.cond);
	return rc ? rc : z.err;
}

/* Zero-copy transmit: written into the pages shared with the backend,
 * on the flow's queue; every few frames a reservation of the largest
 * size is written and abandoned first (its ids must come back, its pages
 * must not be sent). */
static int zc_send(struct netfront *nf, unsigned int flow, unsigned int k,
		   const uint8_t *f, size_t len)
{
	struct netfront_txbuf b;
	size_t off = 0;
	unsigned int i;
	int rc;

	if (!(k % 7)) {
		rc = netfront_tx_reserve(nf, flow, NETFRONT_MAX_FRAME, &b,
					 20000);
		if (rc)
			return rc;
		for (i = 0; i < b.niov; i++)
			memset(b.iov[i].iov_base, 0xa5, b.iov[i].iov_len);
		netfront_tx_abort(nf, &b);
	}
	rc = netfront_tx_reserve(nf, flow, NETFRONT_MAX_FRAME, &b, 20000);
	if (rc)
		return rc;
	for (i = 0; i < b.niov && off < len; i++) {
		size_t c =
		    len - off < b.iov[i].iov_len ? len - off : b.iov[i].iov_len;

		memcpy(b.iov[i].iov_base, f + off, c);
		off += c;
	}
	if (off != len) {
		netfront_tx_abort(nf, &b);
		return -EMSGSIZE;
	}
	return netfront_tx_commit(nf, &b, len, NULL, 20000);
}

static int guest_round(struct netfront *nf, struct net_arg *a,
		       unsigned int round, uint8_t *buf, uint8_t *scratch)
{
	unsigned int next[MAX_FLOWS] = {0}, got = 0, k, fl;
	uint64_t seed = a->seed + 2 * round, v;
	int n;

	/* A restore (simulated in the same process, as blkfront's tests
	 * do): the frontend negotiates again from scratch. */
	if (round && a->resume &&
	    (netfront_suspend(nf) || netfront_resume(nf, false)))
		return 19;
	/* After a backend restart: once reconnected. */
	for (k = 0; round && k < 2000; k++) {
		struct netfront_stats st;

		netfront_get_stats(nf, &st);
		if (st.reconnects >= round)
			break;
		usleep(10000);
	}
	if (chan_put(&a->up, MSG_READY) || chan_get(&a->down, &v) ||
	    v != MSG_GO)
		return 20;
	for (k = 0; k < a->nframes; k++)
		for (fl = 0; fl < a->flows; fl++) {
			size_t len = frame_len(seed, fl, k, a->maxlen);

			frame_fill(buf, len, seed, fl, k);
			n = a->zc ? zc_send(nf, fl, k, buf, len)
				  : netfront_send(nf, buf, len, NULL, 20000);
			if (n) {
				fprintf(stderr,
					"guest: send %u/%u (%zu bytes): %s\n",
					fl, k, len, strerror(-n));
				return 21;
			}
		}
	if (chan_put(&a->up, MSG_SENT))
		return 22;
	/* The other way. */
	seed++;
	if (a->zc)
		return guest_zc_recv(nf, a, seed, buf, scratch);
	while (got < a->nframes * a->flows) {
		struct netfront_meta m;

		n = netfront_recv(nf, buf, NETFRONT_MAX_FRAME, &m,
				  a->use_fd ? 0 : 20000);
		if (n == -EAGAIN && a->use_fd) {
			/* Nothing waiting: the fd says when to look again. */
			struct pollfd p = {.fd = netfront_rx_fd(nf),
					   .events = POLLIN};

			if (poll(&p, 1, 20000) != 1)
				return 27;
			continue;
		}
		if (n < 0) {
			fprintf(stderr, "guest: recv after %u frames: %s\n",
				got, strerror(-n));
			return 23;
		}
		if (!is_test_frame(buf, (size_t)n))
			continue;
		fl = buf[11];
		if (fl >= a->flows || next[fl] >= a->nframes)
			return 24;
		if (frame_check(buf, (size_t)n, seed, next[fl], a->maxlen,
				scratch))
			return 25;
		next[fl]++;
		got++;
		if (!(got % ACK_EVERY) || got == a->nframes * a->flows)
			if (chan_put(&a->up, got))
				return 26;
	}
	return 0;
}

static int net_guest(struct pvk_platform *plat, struct xs_client *xs, void *p)
{
	static const uint8_t mac[6] = {0x00, 0x16, 0x3e, 0x12, 0x34, 0x56};
	struct net_arg *a = p;
	const struct netfront_info *info;
	struct netfront_stats st;
	struct netfront *nf;
	uint8_t *buf = malloc(NETFRONT_MAX_FRAME),
		*scratch = malloc(NETFRONT_MAX_FRAME), m[6];
	unsigned int r, fl;
	int rc;

	if (!buf || !scratch)
		return 2;
	rc = netfront_open(plat, xs, NET_DEVID, &a->opts, &nf);
	if (rc) {
		fprintf(stderr, "guest: netfront_open: %s\n", strerror(-rc));
		return 3;
	}
	info = netfront_info(nf);
	netfront_mac(nf, m);
	if (memcmp(m, mac, 6) || memcmp(info->mac, mac, 6))
		return 4;
	if (info->sg != a->expect_sg || info->split_evtchn != a->expect_split ||
	    info->nr_queues != a->expect_queues)
		return 5;
	for (r = 0; r < a->rounds; r++) {
		rc = guest_round(nf, a, r, buf, scratch);
		if (rc)
			return rc;
	}
	netfront_get_stats(nf, &st);
	if (st.rx_errors || st.tx_errors || st.rx_too_big)
		return 30;
	if (st.reconnects < a->rounds - 1)
		return 31;
	for (fl = 0; a->flows >= info->nr_queues && fl < info->nr_queues; fl++)
		if (!st.queue_tx_frames[fl])
			return 32; /* the flows left a queue idle */
	if (netfront_broken(nf))
		return 33;
	netfront_close(nf);
	free(buf);
	free(scratch);
	return 0;
}

/* ---- the test's side ------------------------------------------------------
 */

/* The backend's state for the guest's vif. */
static int be_state(domid_t d)
{
	char path[96];
	enum xenbus_state st;

	snprintf(path, sizeof(path), "/local/domain/0/backend/vif/%u/%u", d,
		 NET_DEVID);
	if (xenbus_read_state(E.pv.xs, XS_TX_NONE, path, &st))
		return -1;
	return (int)st;
}

static void test_round(struct net_arg *a, domid_t d, unsigned int round,
		       uint8_t *buf, uint8_t *scratch)
{
	unsigned int next[MAX_FLOWS] = {0}, got = 0, sent = 0, k, fl;
	uint64_t seed = a->seed + 2 * round, v, acked = 0;
	char ifname[IFNAMSIZ];
	int s, idx, n;

	assert_int_equal(chan_get(&a->up, &v), 0);
	assert_int_equal(v, MSG_READY);
	assert_int_equal(be_state(d), XenbusStateConnected);
	snprintf(ifname, sizeof(ifname), "vif%u.%u", d, NET_DEVID);
	s = net_env_packet_socket(ifname, ETH_P_PVKIT_TEST, 5000, &idx);
	assert_true(s >= 0);
	assert_int_equal(chan_put(&a->down, MSG_GO), 0);
	/* What the guest sends. */
	while (got < a->nframes * a->flows) {
		n = net_env_packet_recv(s, buf, NETFRONT_MAX_FRAME + 1, 10000);
		if (n < 0)
			fprintf(stderr, "test: %u frames came, then none\n",
				got);
		assert_true(n > 0);
		assert_true(is_test_frame(buf, (size_t)n));
		fl = buf[11];
		assert_true(fl < a->flows && next[fl] < a->nframes);
		assert_int_equal(frame_check(buf, (size_t)n, seed, next[fl],
					     a->maxlen, scratch),
				 0);
		next[fl]++;
		got++;
	}
	assert_int_equal(chan_get(&a->up, &v), 0);
	assert_int_equal(v, MSG_SENT);
	/* The other way, a window ahead of what the guest took (a TAP
	 * drops what its queue cannot hold). */
	seed++;
	for (k = 0; k < a->nframes; k++)
		for (fl = 0; fl < a->flows; fl++) {
			size_t len = frame_len(seed, fl, k, a->maxlen);

			while (sent - acked >= WINDOW)
				assert_int_equal(chan_get(&a->up, &acked), 0);
			frame_fill(buf, len, seed, fl, k);
			n = net_env_packet_send(s, idx, buf, len);
			if (n)
				fprintf(stderr, "test: send %zu bytes: %s\n",
					len, strerror(-n));
			assert_int_equal(n, 0);
			sent++;
		}
	while (acked < sent)
		assert_int_equal(chan_get(&a->up, &acked), 0);
	close(s);
}

static void run(struct net_arg *a, unsigned int mtu)
{
	uint8_t *buf = malloc(NETFRONT_MAX_FRAME + 1),
		*scratch = malloc(NETFRONT_MAX_FRAME);
	unsigned int r;
	domid_t d;
	pid_t pid;

	assert_non_null(buf);
	assert_non_null(scratch);
	if (!a->rounds)
		a->rounds = 1;
	chans_open(&a->up, &a->down);
	static const char *const legacy[] = {"--legacy", NULL};
	static const char *const copy[] = {"--copy", NULL};
	static const char *const inplace[] = {"--in-place-min", "0", NULL};
	const char *const *nb_args = a->legacy	  ? legacy
				     : a->copy	  ? copy
				     : a->inplace ? inplace
						  : NULL;

	assert_int_equal(net_env_backend(&E, nb_args), 0);
	assert_int_equal(
	    net_env_guest(&E, mtu, net_guest, a, sizeof(*a), &d, &pid), 0);
	for (r = 0; r < a->rounds; r++) {
		if (r && !a->resume) {
			/* A crash: the guest's rings stay as they were, the
			 * TAP goes with the process; the new backend finds
			 * the frontend Connected and waits for it to start
			 * over. */
			net_env_backend_kill(&E);
			assert_int_equal(net_env_backend(&E, nb_args), 0);
			/* The guest says ready once reconnected. */
		}
		test_round(a, d, r, buf, scratch);
	}
	assert_int_equal(net_env_guest_end(&E, d, pid), 0);
	chans_close(&a->up, &a->down);
	free(buf);
	free(scratch);
}

static void test_nosg_1q(void **state)
{
	struct net_arg a = {.opts = {.num_queues = 1},
			    .seed = 1,
			    .nframes = 400,
			    .flows = 1,
			    .maxlen = 1514,
			    .expect_queues = 1};

	(void)state;
	run(&a, 1500);
}

/* Also: the guest polls netfront_rx_fd and receives without waiting. */
static void test_nosg_2q_split(void **state)
{
	struct net_arg a = {.opts = {.num_queues = 2, .split_evtchn = true},
			    .use_fd = true,
			    .seed = 2,
			    .nframes = 300,
			    .flows = 2,
			    .maxlen = 1514,
			    .expect_split = true,
			    .expect_queues = 2,
			    .inplace = true};

	(void)state;
	run(&a, 1500);
}

static void test_sg_1q_split(void **state)
{
	struct net_arg a = {
	    .opts = {.num_queues = 1, .sg = true, .split_evtchn = true},
	    .seed = 3,
	    .nframes = 150,
	    .flows = 1,
	    .maxlen = NETFRONT_MAX_FRAME,
	    .expect_sg = true,
	    .expect_split = true,
	    .expect_queues = 1,
	    /* elsewhere the TAP reads and writes the guest's pinned pages
	     * (test_sg_2q, _4q: also every small packet received); here
	     * netback copies through its buffers */
	    .copy = true};

	(void)state;
	run(&a, MTU_SG);
}

/* Also: the guest sends and receives in place (zero-copy). */
static void test_sg_2q(void **state)
{
	struct net_arg a = {.opts = {.num_queues = 2, .sg = true},
			    .zc = true,
			    .seed = 4,
			    .nframes = 100,
			    .flows = 2,
			    .maxlen = NETFRONT_MAX_FRAME,
			    .expect_sg = true,
			    .expect_queues = 2,
			    .inplace = true};

	(void)state;
	run(&a, MTU_SG);
}

/* Four queues (netback's default maximum), four flows: each flow keeps to
 * the queue its hash picks, and every queue carries one. */
static void test_sg_4q_split(void **state)
{
	/* The guest takes GSO: netback leaves a slot for its extra after
	 * each first page, and moves a packet of several pages that is no
	 * GSO one (all of these) up into it. */
	struct net_arg a = {.opts = {.num_queues = 4,
				     .sg = true,
				     .split_evtchn = true,
				     .gso = true},
			    .seed = 7,
			    .nframes = 50,
			    .flows = 4,
			    .maxlen = NETFRONT_MAX_FRAME,
			    .expect_sg = true,
			    .expect_split = true,
			    .expect_queues = 4,
			    .inplace = true};

	(void)state;
	run(&a, MTU_SG);
}

/* A frontend asking for everything (SG, GSO, split event channels, two
 * queues) against a backend that offers none of it: one queue, one event
 * channel, frames of a page, and the data intact both ways. */
static void test_legacy_backend(void **state)
{
	struct net_arg a = {.opts = {.num_queues = 2,
				     .sg = true,
				     .gso = true,
				     .split_evtchn = true},
			    .legacy = true,
			    .seed = 6,
			    .nframes = 200,
			    .flows = 2,
			    .maxlen = 1514,
			    .expect_queues = 1};

	(void)state;
	run(&a, 1500);
}

/* A frame larger than a page is refused without SG; a runt always; GSO
 * without SG; the queues asked for are capped by the backend's maximum. */
/* Zero-copy misuse (no SG here): bounds refused, and every refused
 * commit gives its reservation back (many rounds of the largest one would
 * run out of ids otherwise). */
static int zc_limits(struct netfront *nf)
{
	struct netfront_meta bad = {.flags = 0x80};
	struct netfront_txbuf b;
	unsigned int i;

	if (netfront_tx_reserve(nf, 0, 13, &b, 0) != -EINVAL ||
	    netfront_tx_reserve(nf, 0, NETFRONT_MAX_FRAME + 1, &b, 0) !=
		-EINVAL ||
	    netfront_tx_commit(nf, NULL, 60, NULL, 0) != -EINVAL)
		return 40;
	netfront_tx_abort(nf, NULL);
	for (i = 0; i < 100; i++) {
		if (netfront_tx_reserve(nf, 7, NETFRONT_MAX_FRAME, &b, 1000))
			return 41;
		if (b.niov != NETFRONT_TX_MAX_PAGES ||
		    b.cap != NETFRONT_MAX_FRAME)
			return 42;
		memset(b.iov[0].iov_base, 0xcd, 60);
		switch (i % 4) {
		case 0: /* longer than reserved */
			if (netfront_tx_commit(nf, &b, NETFRONT_MAX_FRAME + 1,
					       NULL, 1000) != -EINVAL)
				return 43;
			break;
		case 1: /* more than a page without SG */
			if (netfront_tx_commit(nf, &b, 5000, NULL, 1000) !=
			    -EMSGSIZE)
				return 44;
			break;
		case 2: /* bad meta */
			if (netfront_tx_commit(nf, &b, 60, &bad, 1000) !=
			    -EINVAL)
				return 45;
			break;
		default: /* sent */
			if (netfront_tx_commit(nf, &b, 60, NULL, 1000))
				return 46;
		}
		if (b.q_) /* given back or sent: nothing held */
			return 47;
	}
	return 0;
}

static int limits_guest(struct pvk_platform *plat, struct xs_client *xs,
			void *p)
{
	struct netfront_opts o = {.num_queues = 1};
	struct netfront_meta m = {.gso_type = NETFRONT_GSO_TCPV4,
				  .gso_size = 1448};
	static uint8_t buf[8192];
	struct netfront *nf;
	int rc;

	(void)p;
	if (netfront_open(plat, xs, NET_DEVID, &o, &nf))
		return 3;
	memset(buf, 0xab, sizeof(buf));
	if (netfront_send(nf, buf, 4097, NULL, 1000) != -EMSGSIZE)
		return 4;
	if (netfront_send(nf, buf, 13, NULL, 1000) != -EINVAL)
		return 5;
	if (netfront_send(nf, buf, 4096, NULL, 1000) != 0)
		return 6;
	/* GSO needs SG. */
	if (netfront_send(nf, buf, 4096, &m, 1000) != -EOPNOTSUPP)
		return 7;
	if (netfront_recv(nf, buf, sizeof(buf), NULL, 0) != -EAGAIN)
		return 8;
	rc = zc_limits(nf);
	if (rc)
		return rc;
	netfront_close(nf);
	/* Opened again (the backend follows the close and starts over),
	 * asking for more queues than the backend offers (4). */
	o.num_queues = NETFRONT_MAX_QUEUES;
	if (netfront_open(plat, xs, NET_DEVID, &o, &nf))
		return 9;
	if (netfront_info(nf)->nr_queues != 4)
		return 10;
	if (netfront_send(nf, buf, 1514, NULL, 1000) != 0)
		return 11;
	netfront_close(nf);
	return 0;
}

static void test_limits(void **state)
{
	domid_t d;
	pid_t pid;

	(void)state;
	assert_int_equal(net_env_backend(&E, NULL), 0);
	assert_int_equal(
	    net_env_guest(&E, 1500, limits_guest, NULL, 0, &d, &pid), 0);
	assert_int_equal(net_env_guest_end(&E, d, pid), 0);
}

static void test_backend_restart(void **state)
{
	struct net_arg a = {
	    .opts = {.num_queues = 2, .sg = true, .split_evtchn = true},
	    .zc = true,
	    .seed = 5,
	    .nframes = 60,
	    .flows = 2,
	    .maxlen = 9000,
	    .expect_sg = true,
	    .expect_split = true,
	    .expect_queues = 2,
	    .rounds = 3};

	(void)state;
	run(&a, 9000);
}

/* ---- GSO and checksum offload ------------------------------------------- */

#define GSO_FRAMES 8u
static const char *const inplace_args[] = {"--in-place-min", "0", NULL};
#define GSO_MSS 1448u

/* A TCP/IPv4 frame of len bytes (frame k of seed), its TCP checksum left
 * for the receiver (CHECKSUM_PARTIAL): a GSO packet as a guest's stack
 * hands it over. */
static size_t tcp_frame(uint8_t *f, uint64_t seed, unsigned int k)
{
	size_t len = 2000 + (size_t)(mix(seed ^ k) % 60000), i;
	uint32_t sum = 0;

	frame_fill(f, len, seed, 0, k); /* the payload */
	f[12] = 0x08;
	f[13] = 0x00;
	memset(f + 14, 0, 40);
	f[14] = 0x45;
	f[16] = (uint8_t)((len - 14) >> 8);
	f[17] = (uint8_t)(len - 14);
	f[20] = 0x40; /* DF */
	f[22] = 64;
	f[23] = 6; /* TCP */
	f[26] = 10, f[29] = 1;
	f[30] = 10, f[33] = 2;
	for (i = 14; i < 34; i += 2)
		sum += (uint32_t)(f[i] << 8 | f[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	f[24] = (uint8_t)(~sum >> 8);
	f[25] = (uint8_t)~sum;
	f[34] = 0x30, f[35] = 0x39; /* ports 12345 -> 80 */
	f[37] = 80;
	f[38] = (uint8_t)k; /* seq */
	f[46] = 0x50;	    /* data offset 5 */
	f[47] = 0x18;	    /* PSH ACK */
	f[48] = 0xff, f[49] = 0xff;
	return len;
}

struct gso_arg {
	uint64_t seed;
	struct chan up, down;
};

static int gso_guest(struct pvk_platform *plat, struct xs_client *xs, void *p)
{
	struct gso_arg *a = p;
	struct netfront_opts o = {.num_queues = 1, .sg = true, .gso = true};
	struct netfront_meta m = {.flags = NETFRONT_CSUM_BLANK,
				  .gso_type = NETFRONT_GSO_TCPV4,
				  .gso_size = GSO_MSS};
	uint8_t *buf = malloc(NETFRONT_MAX_FRAME),
		*want = malloc(NETFRONT_MAX_FRAME);
	const struct netfront_info *info;
	struct netfront_stats st;
	struct netfront *nf;
	unsigned int k;
	uint64_t v;
	int n;

	if (!buf || !want || netfront_open(plat, xs, NET_DEVID, &o, &nf))
		return 3;
	info = netfront_info(nf);
	if (!info->gso_tcpv4 || !info->rx_gso)
		return 4;
	if (chan_put(&a->up, MSG_READY) || chan_get(&a->down, &v))
		return 5;
	for (k = 0; k < GSO_FRAMES; k++) {
		size_t len = tcp_frame(buf, a->seed, k);

		n = netfront_send(nf, buf, len, &m, 20000);
		if (n) {
			fprintf(stderr, "guest: GSO send: %s\n", strerror(-n));
			return 6;
		}
	}
	if (chan_put(&a->up, MSG_SENT))
		return 7;
	for (k = 0; k < GSO_FRAMES;) {
		struct netfront_meta r;
		size_t len;

		n = netfront_recv(nf, buf, NETFRONT_MAX_FRAME, &r, 20000);
		if (n < 0)
			return 8;
		if (n < 14 || buf[12] != 0x08 || buf[13] != 0x00)
			continue;
		len = tcp_frame(want, a->seed + 1, k);
		if ((size_t)n != len || memcmp(buf, want, len)) {
			fprintf(stderr,
				"guest: GSO frame %u: %d bytes, want %zu\n", k,
				n, len);
			return 9;
		}
		if (r.gso_type != NETFRONT_GSO_TCPV4 || r.gso_size != GSO_MSS ||
		    !(r.flags & NETFRONT_CSUM_BLANK)) {
			fprintf(stderr,
				"guest: GSO frame %u: type %u size %u "
				"flags %#x\n",
				k, r.gso_type, r.gso_size, r.flags);
			return 10;
		}
		k++;
	}
	if (chan_put(&a->up, k))
		return 11;
	netfront_get_stats(nf, &st);
	if (st.rx_errors || st.tx_errors)
		return 12;
	netfront_close(nf);
	free(buf);
	free(want);
	return 0;
}

/* Once domain d's guest says it is ready: an AF_PACKET socket for proto
 * on its vif's TAP with virtio-net headers (its ifindex in *idx), and the
 * guest told to go. */
static int vnet_socket_go(struct chan *up, struct chan *down, domid_t d,
			  uint16_t proto, int *idx)
{
	char ifname[IFNAMSIZ];
	uint64_t v;
	int s;

	assert_int_equal(chan_get(up, &v), 0);
	assert_int_equal(v, MSG_READY);
	snprintf(ifname, sizeof(ifname), "vif%u.%u", d, NET_DEVID);
	s = net_env_packet_socket(ifname, proto, 5000, idx);
	assert_true(s >= 0);
	assert_int_equal(net_env_packet_vnet(s), 0);
	assert_int_equal(chan_put(down, MSG_GO), 0);
	return s;
}

/* The guest's GSO frames reach the TAP as GSO packets (a virtio-net
 * header with the type and MSS, the checksum left partial), and the
 * test's reach the guest with a GSO extra info and csum_blank. */
static void test_gso(void **state)
{
	struct gso_arg a = {.seed = 6};
	struct virtio_net_hdr vh;
	uint8_t *buf = malloc(sizeof(vh) + NETFRONT_MAX_FRAME + 1),
		*want = malloc(NETFRONT_MAX_FRAME);
	unsigned int k;
	uint64_t v;
	domid_t d;
	pid_t pid;
	int s, idx, n;

	(void)state;
	assert_non_null(buf);
	assert_non_null(want);
	chans_open(&a.up, &a.down);
	/* received in place from the first frame */
	assert_int_equal(net_env_backend(&E, inplace_args), 0);
	assert_int_equal(
	    net_env_guest(&E, 1500, gso_guest, &a, sizeof(a), &d, &pid), 0);
	s = vnet_socket_go(&a.up, &a.down, d, 0x0800, &idx);
	for (k = 0; k < GSO_FRAMES; k++) {
		size_t len = tcp_frame(want, a.seed, k);

		n = net_env_packet_recv(s, buf, sizeof(vh) + NETFRONT_MAX_FRAME,
					10000);
		assert_int_equal(n, (int)(sizeof(vh) + len));
		memcpy(&vh, buf, sizeof(vh));
		assert_int_equal(vh.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
		assert_int_equal(vh.gso_size, GSO_MSS);
		assert_true(vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM);
		assert_int_equal(vh.csum_start, 34);
		assert_int_equal(vh.csum_offset, 16);
		assert_memory_equal(buf + sizeof(vh), want, len);
	}
	assert_int_equal(chan_get(&a.up, &v), 0);
	assert_int_equal(v, MSG_SENT);
	for (k = 0; k < GSO_FRAMES; k++) {
		size_t len = tcp_frame(buf + sizeof(vh), a.seed + 1, k);

		memset(&vh, 0, sizeof(vh));
		vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
		vh.gso_size = GSO_MSS;
		vh.hdr_len = 54;
		vh.csum_start = 34;
		vh.csum_offset = 16;
		memcpy(buf, &vh, sizeof(vh));
		assert_int_equal(
		    net_env_packet_send(s, idx, buf, sizeof(vh) + len), 0);
	}
	assert_int_equal(chan_get(&a.up, &v), 0);
	assert_int_equal(v, GSO_FRAMES);
	close(s);
	assert_int_equal(net_env_guest_end(&E, d, pid), 0);
	chans_close(&a.up, &a.down);
	free(buf);
	free(want);
}

/* ---- checksums finished for a guest without checksum offload ---- */

#define CSUM_FRAMES 8u

/* The one's complement sum of n bytes added to sum, folded. */
static uint32_t sum16(const uint8_t *p, size_t n, uint32_t sum)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

/* An IPv6 TCP frame (fd00::1 -> fd00::2) of 2000 to 62000 bytes, its
 * checksum field holding the pseudo header's sum (a partial checksum, as
 * a virtio-net header's NEEDS_CSUM leaves it). */
static size_t tcp6_frame_partial(uint8_t *f, uint64_t seed, unsigned int k)
{
	size_t len = 2000 + (size_t)(mix(seed ^ k) % 60000);
	uint32_t sum;

	frame_fill(f, len, seed, 0, k); /* the payload */
	f[12] = 0x86;
	f[13] = 0xdd;
	memset(f + 14, 0, 60);
	f[14] = 0x60;
	f[18] = (uint8_t)((len - 54) >> 8);
	f[19] = (uint8_t)(len - 54);
	f[20] = 6; /* TCP */
	f[21] = 64;
	f[22] = 0xfd, f[37] = 1;
	f[38] = 0xfd, f[53] = 2;
	f[54] = 0x30, f[55] = 0x39; /* ports 12345 -> 80 */
	f[57] = 80;
	f[58] = (uint8_t)k; /* seq */
	f[66] = 0x50;	    /* data offset 5 */
	f[67] = 0x18;	    /* PSH ACK */
	f[68] = 0xff, f[69] = 0xff;
	sum = sum16(f + 22, 32, 6 + (uint32_t)(len - 54));
	f[70] = (uint8_t)(sum >> 8);
	f[71] = (uint8_t)sum;
	return len;
}

struct csum_arg {
	uint64_t seed;
	bool copy; /* netback --copy (else --in-place-min 0) */
	struct chan up, down;
};

/* Each frame arrives whole, its checksum complete and right, marked
 * data_validated, not csum_blank. */
static int csum_guest(struct pvk_platform *plat, struct xs_client *xs, void *p)
{
	struct csum_arg *a = p;
	struct netfront_opts o = {
	    .num_queues = 1, .sg = true, .no_ipv6_csum_offload = true};
	uint8_t *buf = malloc(NETFRONT_MAX_FRAME),
		*want = malloc(NETFRONT_MAX_FRAME);
	struct netfront *nf;
	unsigned int k;
	uint64_t v;
	int n;

	if (!buf || !want || netfront_open(plat, xs, NET_DEVID, &o, &nf))
		return 3;
	if (netfront_info(nf)->ipv6_csum_offload)
		return 4;
	if (chan_put(&a->up, MSG_READY) || chan_get(&a->down, &v))
		return 5;
	for (k = 0; k < CSUM_FRAMES;) {
		struct netfront_meta r;
		size_t len;

		n = netfront_recv(nf, buf, NETFRONT_MAX_FRAME, &r, 20000);
		if (n < 0)
			return 6;
		if (n < 14 || buf[12] != 0x86 || buf[13] != 0xdd)
			continue;
		len = tcp6_frame_partial(want, a->seed, k);
		if ((size_t)n != len || memcmp(buf, want, 70) ||
		    memcmp(buf + 72, want + 72, len - 72)) {
			fprintf(stderr, "guest: frame %u: %d bytes, want %zu\n",
				k, n, len);
			return 7;
		}
		/* the pseudo header and the segment add up to all ones */
		if (sum16(buf + 54, len - 54,
			  sum16(buf + 22, 32, 6 + (uint32_t)(len - 54))) !=
			0xffff ||
		    !(r.flags & NETFRONT_DATA_VALIDATED) ||
		    (r.flags & NETFRONT_CSUM_BLANK)) {
			fprintf(stderr,
				"guest: frame %u: checksum %02x%02x "
				"flags %#x\n",
				k, buf[70], buf[71], r.flags);
			return 8;
		}
		k++;
	}
	if (chan_put(&a->up, k))
		return 9;
	netfront_close(nf);
	free(buf);
	free(want);
	return 0;
}

/* IPv6 frames of 2000 to 62000 bytes with partial checksums (no GSO)
 * reach a guest that takes partial checksums on IPv4 only (the TAP hands
 * them over partial: its offload flag is one for both): netback finishes
 * each, in place (the frame gathered, summed, the sum written into the
 * guest's page) and through its buffers. */
static void csum_finish(bool copy)
{
	static const char *const copy_arg[] = {"--copy", NULL};
	struct csum_arg a = {.seed = 11, .copy = copy};
	struct virtio_net_hdr vh;
	uint8_t *buf = malloc(sizeof(vh) + NETFRONT_MAX_FRAME);
	unsigned int k;
	uint64_t v;
	domid_t d;
	pid_t pid;
	int s, idx;

	assert_non_null(buf);
	chans_open(&a.up, &a.down);
	assert_int_equal(net_env_backend(&E, copy ? copy_arg : inplace_args),
			 0);
	assert_int_equal(
	    net_env_guest(&E, MTU_SG, csum_guest, &a, sizeof(a), &d, &pid), 0);
	s = vnet_socket_go(&a.up, &a.down, d, 0x86dd, &idx);
	for (k = 0; k < CSUM_FRAMES; k++) {
		size_t len = tcp6_frame_partial(buf + sizeof(vh), a.seed, k);

		memset(&vh, 0, sizeof(vh));
		vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		vh.csum_start = 54;
		vh.csum_offset = 16;
		memcpy(buf, &vh, sizeof(vh));
		assert_int_equal(
		    net_env_packet_send(s, idx, buf, sizeof(vh) + len), 0);
	}
	assert_int_equal(chan_get(&a.up, &v), 0);
	assert_int_equal(v, CSUM_FRAMES);
	close(s);
	assert_int_equal(net_env_guest_end(&E, d, pid), 0);
	chans_close(&a.up, &a.down);
	free(buf);
}

static void test_csum_finish(void **state)
{
	(void)state;
	csum_finish(false);
	csum_finish(true);
}

/* A restored domain's netfront finds its backend again and negotiates
 * from scratch, twice; frames flow after each. */
static void test_resume(void **state)
{
	struct net_arg a = {.opts = {.num_queues = 2, .sg = true},
			    .seed = 7,
			    .nframes = 60,
			    .flows = 2,
			    .maxlen = 9000,
			    .expect_sg = true,
			    .expect_queues = 2,
			    .rounds = 3,
			    .resume = true};

	(void)state;
	run(&a, 9000);
}

/* ---- multicast control ----------------------------------------------- */

enum { MC_G1 = 1, MC_G2 = 2, MC_UNI = 4, MC_END = 8, MC_SYNC = 16 };
#define MC_ROUNDS 3u

struct mc_arg {
	struct chan up, down;
};

static const uint8_t mc_g1[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01},
		     mc_g2[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x02},
		     mc_uni[6] = {0x00, 0x16, 0x3e, 0x12, 0x34, 0x56};

static size_t mc_frame(uint8_t *f, const uint8_t dst[6], unsigned int tag)
{
	memset(f, 0, 60);
	memcpy(f, dst, 6);
	f[6] = 0x02;
	f[11] = 0x01;
	f[12] = ETH_P_PVKIT_TEST >> 8;
	f[13] = ETH_P_PVKIT_TEST & 0xff;
	f[14] = (uint8_t)tag;
	return 60;
}

/* Round r: change the groups (or reconnect), send a SYNC frame on queue 0
 * behind the requests (netback applies them first), report which of the
 * test's frames came through. */
static int mc_guest(struct pvk_platform *plat, struct xs_client *xs, void *p)
{
	struct mc_arg *a = p;
	struct netfront_opts o = {.num_queues = 2, .mcast_filter = true};
	const struct netfront_info *in;
	struct netfront_stats st;
	struct netfront *nf;
	uint8_t f[128];
	unsigned int r, got, k;
	int n;

	if (netfront_open(plat, xs, NET_DEVID, &o, &nf))
		return 2;
	in = netfront_info(nf);
	if (!in->mcast_control || !in->mcast_dynamic || !in->mcast_filter)
		return 3;
	if (netfront_mcast_add(nf, mc_uni) != -EINVAL ||
	    netfront_mcast_del(nf, mc_g2) != -ENOENT)
		return 4;
	for (r = 0; r < MC_ROUNDS; r++) {
		if (r == 0 && netfront_mcast_add(nf, mc_g1))
			return 5;
		if (r == 1 && (netfront_mcast_del(nf, mc_g1) ||
			       netfront_mcast_add(nf, mc_g2) ||
			       netfront_mcast_add(nf, mc_g2)))
			return 6;
		for (k = 0; r == 2 && k < 2000; k++) { /* a new backend */
			netfront_get_stats(nf, &st);
			if (st.reconnects >= 1)
				break;
			usleep(10000);
		}
		if (chan_put(&a->up, MSG_READY))
			return 7;
		/* SYNC until the test has seen one */
		for (k = 0;; k++) {
			uint64_t v;
			struct pollfd pf = {.fd = a->down.fd[0],
					    .events = POLLIN};

			if (netfront_send(nf, f, mc_frame(f, mc_g1, MC_SYNC),
					  NULL, 5000))
				return 8;
			if (poll(&pf, 1, 100) == 1) {
				if (chan_get(&a->down, &v) || v != MSG_GO)
					return 9;
				break;
			}
			if (k == 100)
				return 10;
		}
		for (got = 0; !(got & MC_END);) {
			n = netfront_recv(nf, f, sizeof(f), NULL, 10000);
			if (n < 0)
				return 11;
			if (n >= 15 && f[12] == (ETH_P_PVKIT_TEST >> 8) &&
			    f[13] == (ETH_P_PVKIT_TEST & 0xff))
				got |= f[14];
		}
		if (chan_put(&a->up, got))
			return 12;
	}
	/* Off while connected: the node says so. */
	if (netfront_set_mcast_filter(nf, false) || in->mcast_filter)
		return 13;
	if (chan_put(&a->up, MSG_SENT))
		return 14;
	netfront_close(nf);
	return 0;
}

/* A guest asking for multicast filtering gets only the groups it added,
 * with its list given again to a restarted backend; it can switch the
 * filter off while connected. */
static void test_mcast_filter(void **state)
{
	static const unsigned int want[MC_ROUNDS] = {MC_G1 | MC_UNI | MC_END,
						     MC_G2 | MC_UNI | MC_END,
						     MC_G2 | MC_UNI | MC_END};
	struct mc_arg a;
	char ifname[IFNAMSIZ], path[96], *v = NULL;
	uint8_t f[128];
	unsigned int r;
	uint64_t got;
	domid_t d;
	pid_t pid;
	int s, idx, n;

	(void)state;
	chans_open(&a.up, &a.down);
	assert_int_equal(net_env_backend(&E, NULL), 0);
	assert_int_equal(
	    net_env_guest(&E, 1500, mc_guest, &a, sizeof(a), &d, &pid), 0);
	snprintf(ifname, sizeof(ifname), "vif%u.%u", d, NET_DEVID);
	for (r = 0; r < MC_ROUNDS; r++) {
		if (r == 2) {
			net_env_backend_kill(&E);
			assert_int_equal(net_env_backend(&E, NULL), 0);
		}
		assert_int_equal(chan_get(&a.up, &got), 0);
		assert_int_equal(got, MSG_READY);
		s = net_env_packet_socket(ifname, ETH_P_PVKIT_TEST, 5000, &idx);
		assert_true(s >= 0);
		do { /* the guest's requests are applied */
			n = net_env_packet_recv(s, f, sizeof(f), 10000);
			assert_true(n >= 15);
		} while (f[14] != MC_SYNC);
		assert_int_equal(chan_put(&a.down, MSG_GO), 0);
		assert_int_equal(
		    net_env_packet_send(s, idx, f, mc_frame(f, mc_g1, MC_G1)),
		    0);
		assert_int_equal(
		    net_env_packet_send(s, idx, f, mc_frame(f, mc_g2, MC_G2)),
		    0);
		assert_int_equal(
		    net_env_packet_send(s, idx, f, mc_frame(f, mc_uni, MC_UNI)),
		    0);
		assert_int_equal(
		    net_env_packet_send(s, idx, f, mc_frame(f, mc_uni, MC_END)),
		    0);
		assert_int_equal(chan_get(&a.up, &got), 0);
		if (got != want[r])
			fail_msg("round %u: frames %#llx came, want %#x", r,
				 (unsigned long long)got, want[r]);
		close(s);
	}
	assert_int_equal(chan_get(&a.up, &got), 0);
	assert_int_equal(got, MSG_SENT);
	snprintf(path, sizeof(path),
		 "/local/domain/%u/device/vif/%u/request-multicast-control", d,
		 NET_DEVID);
	assert_int_equal(xs_read(E.pv.xs, XS_TX_NONE, path, &v, NULL), 0);
	assert_string_equal(v, "0");
	free(v);
	assert_int_equal(net_env_guest_end(&E, d, pid), 0);
	chans_close(&a.up, &a.down);
}

/* ---- the control ring ---------------------------------------------------
 */

/* hashing set, the mapping naming queue 1; after a backend restart; the
 * mapping naming queue 0; off */
#define HC_ROUNDS 4u

struct hc_arg {
	struct chan up, down;
};

/* 66.9.149.187:2794 -> 161.142.100.80:1766, TCP/IPv4, to the guest: the
 * Toeplitz test vector (hash 0x51ccc178 with the key below). */
static size_t hc_frame(uint8_t *f, unsigned int round)
{
	static const uint8_t dst[6] = {0x00, 0x16, 0x3e, 0x12, 0x34, 0x56};

	memset(f, 0, 80);
	memcpy(f, dst, 6);
	f[6] = 0x02, f[11] = 0x01;
	f[12] = 0x08, f[14] = 0x45, f[17] = 66, f[22] = 64, f[23] = 6;
	memcpy(f + 26, "\x42\x09\x95\xbb\xa1\x8e\x64\x50", 8);
	f[34] = 2794 >> 8, f[35] = 2794 & 255, f[36] = 1766 >> 8,
	f[37] = 1766 & 255, f[46] = 0x50;
	f[60] = (uint8_t)round; /* payload: which round sent it */
	return 80;
}

static int hc_guest_run(struct pvk_platform *plat, struct xs_client *xs,
			void *p)
{
	static const uint8_t key[40] = {
	    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
	    0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
	    0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
	    0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};
	struct hc_arg *a = p;
	struct netfront_opts o = {.num_queues = 2, .ctrl_ring = true};
	struct netfront_hash h = {.flags = XEN_NETIF_CTRL_HASH_TYPE_IPV4 |
					   XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP,
				  .key_len = sizeof(key),
				  .mapping_size = 8};
	struct netfront_meta m;
	struct netfront_stats st;
	struct netfront *nf;
	uint8_t f[128];
	uint32_t flags = 0;
	unsigned int r, k;
	int n;

	if (netfront_open(plat, xs, NET_DEVID, &o, &nf))
		return 2;
	if (!netfront_info(nf)->ctrl_ring)
		return 3;
	if (netfront_hash_flags(nf, &flags) ||
	    flags != (XEN_NETIF_CTRL_HASH_TYPE_IPV4 |
		      XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP |
		      XEN_NETIF_CTRL_HASH_TYPE_IPV6 |
		      XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP))
		return 4;
	memcpy(h.key, key, sizeof(key));
	for (k = 0; k < h.mapping_size; k++)
		h.mapping[k] = 5; /* no such queue: the backend refuses */
	if (netfront_set_hash(nf, &h) != -EINVAL)
		return 5;
	for (k = 0; k < h.mapping_size; k++)
		h.mapping[k] = 1;
	if (netfront_set_hash(nf, &h))
		return 6;
	h.key_len = NETFRONT_HASH_KEY_MAX + 1;
	if (netfront_set_hash(nf, &h) != -EINVAL)
		return 7;
	h.key_len = sizeof(key);
	for (r = 0; r < HC_ROUNDS; r++) {
		for (k = 0; r == 1 && k < 2000; k++) { /* a new backend */
			netfront_get_stats(nf, &st);
			if (st.reconnects >= 1)
				break;
			usleep(10000);
		}
		for (k = 0; r == 2 && k < h.mapping_size; k++)
			h.mapping[k] = 0;
		if (r == 2 && (n = netfront_set_hash(nf, &h))) {
			fprintf(stderr, "guest: set_hash: %s\n", strerror(-n));
			return 15;
		}
		if (r == 3 && netfront_set_hash(nf, NULL))
			return 8;
		if (chan_put(&a->up, MSG_READY))
			return 9;
		do {
			n = netfront_recv(nf, f, sizeof(f), &m, 10000);
			if (n < 0)
				return 10;
		} while (n != 80 || f[12] != 0x08 || f[60] != r);
		if (r < 3 &&
		    (!m.has_hash || m.hash != 0x51ccc178 ||
		     m.hash_type != _XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP))
			return 11 + (int)r;
		/* steered to the queue the mapping names, whichever TAP
		 * queue the kernel chose (it is the same for both) */
		if (r < 3 && m.queue != (r < 2 ? 1u : 0u))
			return 16;
		if (r == 3 && m.has_hash)
			return 13;
		if (chan_put(&a->up, MSG_SENT)) /* this round's frame came */
			return 14;
	}
	netfront_close(nf);
	return 0;
}

static int hc_guest(struct pvk_platform *plat, struct xs_client *xs, void *p)
{
	int rc = hc_guest_run(plat, xs, p);

	if (rc)
		fprintf(stderr, "guest: check %d failed\n", rc);
	return rc;
}

/* A guest with the control ring sets Toeplitz hashing up in the backend
 * (a mapping naming a queue it lacks refused), gets the test vector's
 * hash with the frame, again after the backend restarts (set again), and
 * none once hashing is off. */
static void test_ctrl_hash(void **state)
{
	struct hc_arg a;
	char ifname[IFNAMSIZ];
	uint8_t f[128];
	unsigned int r, k;
	uint64_t v;
	domid_t d;
	pid_t pid;
	int s, idx;

	(void)state;
	chans_open(&a.up, &a.down);
	assert_int_equal(net_env_backend(&E, NULL), 0);
	assert_int_equal(
	    net_env_guest(&E, 1500, hc_guest, &a, sizeof(a), &d, &pid), 0);
	snprintf(ifname, sizeof(ifname), "vif%u.%u", d, NET_DEVID);
	for (r = 0; r < HC_ROUNDS; r++) {
		if (r == 1) {
			net_env_backend_kill(&E);
			assert_int_equal(net_env_backend(&E, NULL), 0);
		}
		assert_int_equal(chan_get(&a.up, &v), 0);
		assert_int_equal(v, MSG_READY);
		s = net_env_packet_socket(ifname, 0x0800, 5000, &idx);
		assert_true(s >= 0);
		/* until the guest has it (a frame sent while the interface
		 * is coming up may be lost: it is Ethernet) */
		for (k = 0;; k++) {
			struct pollfd p = {.fd = a.up.fd[0], .events = POLLIN};

			assert_true(k < 100);
			assert_int_equal(
			    net_env_packet_send(s, idx, f, hc_frame(f, r)), 0);
			if (poll(&p, 1, 100) == 1)
				break;
		}
		assert_int_equal(chan_get(&a.up, &v), 0);
		assert_int_equal(v, MSG_SENT);
		close(s);
	}
	assert_int_equal(net_env_guest_end(&E, d, pid), 0);
	chans_close(&a.up, &a.down);
}

static int setup(void **state)
{
	(void)state;
	return net_env_start(&E);
}

static int teardown(void **state)
{
	(void)state;
	net_env_stop(&E);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_nosg_1q),
	    cmocka_unit_test(test_nosg_2q_split),
	    cmocka_unit_test(test_sg_1q_split),
	    cmocka_unit_test(test_sg_2q),
	    cmocka_unit_test(test_sg_4q_split),
	    cmocka_unit_test(test_legacy_backend),
	    cmocka_unit_test(test_gso),
	    cmocka_unit_test(test_csum_finish),
	    cmocka_unit_test(test_backend_restart),
	    cmocka_unit_test(test_resume),
	    cmocka_unit_test(test_mcast_filter),
	    cmocka_unit_test(test_ctrl_hash),
	};
	int rc = net_env_netns_or_skip();

	if (rc)
		return rc;
	return cmocka_run_group_tests(tests, setup, teardown);
}
