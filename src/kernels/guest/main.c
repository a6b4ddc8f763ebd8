/*
 * main.c - pvkit-guest, the default DomU kernel, on the kernel library
 * (include/pvkit/kernel.h): start of day with the PV console, the control
 * driver, and a xenbus bus with blkfront for every vbd (hot-plug
 * included): each disk is connected and its first sector read, the way a
 * kernel probes a disk; netfront for every vif, each one eth<N> in the
 * domain's network namespace pvkit-<name> (nettap.h).  Console input lines are answered ("ping" ->
 * "pong", anything else echoed) so the input path can be tested; "dw N"
 * writes block N (4 KiB) of the first disk with a pattern naming N and
 * flushes it ("dw N ok" once the disk has it), "dr N" reads it back and
 * checks the pattern ("dr N ok" or "dr N bad"); N wraps around the disk
 * (block N modulo its blocks), so the latest write of a block is what
 * reads back: the chaos test's load.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "nettap.h"
#include "pvkit/blkfront.h"
#include "pvkit/netfront.h"
#include "pvkit/xs.h"
#include "pvkit/console.h"
#include "pvkit/kernel.h"
#include "pvkit/xenbus_frontend.h"

/* The first disk, for the console's dw/dr commands (disk_lock). */
static pthread_mutex_t disk_lock = PTHREAD_MUTEX_INITIALIZER;
static struct blkfront *disk;

#define DISK_BLOCK 4096u

static void block_pattern(uint64_t n, uint8_t *b)
{
	memset(b, (int)(n * 7 + 1), DISK_BLOCK);
	memcpy(b, "PVKBLOCK", 8);
	memcpy(b + 8, &n, sizeof(n));
}

/* "dw N" / "dr N": one block of the first disk, written (and flushed) or
 * read and checked.  The answer names N. */
static void disk_command(char *out, size_t len, bool write, const char *arg)
{
	static uint8_t buf[DISK_BLOCK] __attribute__((aligned(4096)));
	static uint8_t want[DISK_BLOCK];
	const char *op = write ? "dw" : "dr";
	char *end;
	unsigned long long n = strtoull(arg, &end, 10);
	int rc;

	if (end == arg || *end) {
		snprintf(out, len, "%s ? error: expected a block number\n", op);
		return;
	}
	uint64_t blocks, sector;

	pthread_mutex_lock(&disk_lock);
	blocks = disk ? blkfront_info(disk)->sectors / (DISK_BLOCK / 512) : 0;
	sector = blocks ? n % blocks * (DISK_BLOCK / 512) : 0;
	if (!disk) {
		rc = -ENODEV;
	} else if (!blocks) {
		rc = -ERANGE;
	} else if (write) {
		block_pattern(n, buf);
		rc = blkfront_write(disk, sector, buf, DISK_BLOCK / 512);
		if (!rc && blkfront_info(disk)->flush)
			rc = blkfront_flush(disk);
	} else {
		rc = blkfront_read(disk, sector, buf, DISK_BLOCK / 512);
		block_pattern(n, want);
		if (!rc && memcmp(buf, want, DISK_BLOCK))
			rc = 1;
	}
	pthread_mutex_unlock(&disk_lock);
	if (rc == 1)
		snprintf(out, len, "%s %llu bad\n", op, n);
	else if (rc)
		snprintf(out, len, "%s %llu error: %s\n", op, n, strerror(-rc));
	else
		snprintf(out, len, "%s %llu ok\n", op, n);
}

static void console_puts(struct pvk_console *c, const char *s)
{
	pvk_console_write(c, s, strlen(s), 1000);
}

/* Answer one input line: "ping" -> "pong", anything else echoed. */
static void console_answer(struct pvk_console *c, const char *line, bool cut)
{
	char out[300];
	size_t i;

	if (!cut && !strcmp(line, "ping")) {
		console_puts(c, "pong\n");
		return;
	}
	if (!cut && (!strncmp(line, "dw ", 3) || !strncmp(line, "dr ", 3))) {
		disk_command(out, sizeof(out), line[1] == 'w', line + 3);
		console_puts(c, out);
		return;
	}
	snprintf(out, sizeof(out), "echo: %s%s\n", line, cut ? "..." : "");
	for (i = 6; out[i] && out[i] != '\n'; i++)
		if ((unsigned char)out[i] < 0x20 ||
		    (unsigned char)out[i] > 0x7e)
			out[i] = '?';
	console_puts(c, out);
}

static void *console_input(void *arg)
{
	struct pvk_console *c = arg;
	char line[128], buf[256];
	size_t len = 0;
	bool cut = false;
	ssize_t n, i;

	for (;;) {
		n = pvk_console_read(c, buf, sizeof(buf), -1);
		if (n < 0)
			break;
		for (i = 0; i < n; i++) {
			if (buf[i] == '\n' || buf[i] == '\r') {
				line[len] = 0;
				if (len || cut)
					console_answer(c, line, cut);
				len = 0;
				cut = false;
			} else if (len < sizeof(line) - 1) {
				line[len++] = buf[i];
			} else {
				cut = true;
			}
		}
	}
	return NULL;
}

/* The vifs' TAP interfaces, by device id. */
#define MAX_VIFS 16
struct vifs {
	char ns[80]; /* pvkit-<domain name> */
	struct {
		void *nf;
		struct nettap *tap;
	} v[MAX_VIFS];
};

/* The namespace's name: pvkit-<domain name> (common/util.h). */
static void netns_name(struct xs_client *xs, char *ns, size_t len)
{
	char *name = NULL;

	if (xs_read(xs, XS_TX_NONE, "name", &name, NULL))
		name = NULL;
	pvk_netns_name(name, ns, len);
	free(name);
}

static void vif_added(struct xenbus_bus *bus, const char *id, void *priv,
		      struct vifs *vifs)
{
	unsigned long devid = strtoul(id, NULL, 10);
	char ifname[16];
	unsigned int i;
	int rc;

	if (!vifs->ns[0])
		netns_name(xenbus_bus_xs(bus), vifs->ns, sizeof(vifs->ns));
	for (i = 0; i < MAX_VIFS && vifs->v[i].nf; i++)
		;
	if (i == MAX_VIFS) {
		pvk_err("vif %s: more than %u vifs: no interface", id,
			MAX_VIFS);
		return;
	}
	snprintf(ifname, sizeof(ifname), "eth%lu", devid % 100000);
	rc = nettap_start(priv, vifs->ns, ifname, &vifs->v[i].tap);
	if (rc) {
		pvk_err("vif %s: no interface: %s", id, strerror(-rc));
		return;
	}
	vifs->v[i].nf = priv;
}

static void dev_removing(struct xenbus_bus *bus, const char *type,
			 const char *id, void *priv, void *arg)
{
	struct vifs *vifs = arg;
	unsigned int i;

	(void)bus;
	(void)id;
	if (!strcmp(type, "vbd")) {
		pthread_mutex_lock(&disk_lock);
		if (disk == priv)
			disk = NULL;
		pthread_mutex_unlock(&disk_lock);
		return;
	}
	if (strcmp(type, "vif"))
		return;
	for (i = 0; i < MAX_VIFS; i++)
		if (vifs->v[i].nf == priv) {
			nettap_stop(vifs->v[i].tap);
			vifs->v[i].nf = NULL;
			vifs->v[i].tap = NULL;
		}
}

/* A disk connected: say what it is and read its first sector; a vif:
 * its interface. */
static void dev_added(struct xenbus_bus *bus, const char *type, const char *id,
		      void *priv, void *arg)
{
	static uint8_t sector[512] __attribute__((aligned(512)));
	struct blkfront *bf = priv;
	const struct blkfront_info *in;
	int rc;

	if (!strcmp(type, "vif")) {
		vif_added(bus, id, priv, arg);
		return;
	}
	pthread_mutex_lock(&disk_lock);
	if (!disk)
		disk = bf;
	pthread_mutex_unlock(&disk_lock);
	in = blkfront_info(bf);
	pvk_info("vbd %s: %llu sectors of %u bytes%s; ring pages %u, "
		 "indirect %u, persistent %s, flush %s, discard %s",
		 id, (unsigned long long)in->sectors, in->sector_size,
		 in->readonly ? ", read-only" : "", in->ring_pages,
		 in->indirect_segs, in->persistent ? "yes" : "no",
		 in->flush ? "yes" : "no", in->discard ? "yes" : "no");
	rc = blkfront_read(bf, 0, sector, 1);
	if (rc)
		pvk_err("vbd %s: reading sector 0: %s", id, strerror(-rc));
	else
		pvk_info("vbd %s: sector 0 starts %02x %02x %02x %02x", id,
			 sector[0], sector[1], sector[2], sector[3]);
}

int main(void)
{
	static const struct xenbus_frontend_driver *const drivers[] = {
	    &blkfront_driver,
	    &netfront_driver,
	};
	static const struct xenbus_bus_hooks hooks = {.added = dev_added,
						      .removing = dev_removing};
	static struct vifs vifs;
	struct xenbus_bus *bus = NULL;
	struct pvk_kernel *k;
	pthread_t t;
	int rc;

	rc = pvk_kernel_boot("pvkit-guest", -1, PVK_KERNEL_CONSOLE, &k);
	if (rc)
		return 1;
	if (pvk_kernel_console(k) &&
	    pthread_create(&t, NULL, console_input, pvk_kernel_console(k)) == 0)
		pthread_detach(t);
	rc = pvk_kernel_control_start(k, NULL, NULL);
	if (rc)
		goto crash;
	pvk_info("control driver ready");
	/* Every vbd the toolstack gave us, then hot-plug. */
	rc = xenbus_bus_open(pvk_kernel_platform(k), pvk_kernel_xs(k), drivers,
			     2, &hooks, &vifs, 0, &bus);
	if (rc)
		pvk_warn("no devices: %s", strerror(-rc));
	pvk_kernel_run(k, bus);
crash:
	pvk_kernel_crash(k);
	return 1;
}
