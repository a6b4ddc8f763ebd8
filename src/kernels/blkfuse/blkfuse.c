/*
 * blkfuse.c - pvkit-blkfuse, a DomU kernel that exposes its virtual disks
 * as files through FUSE (libfuse3), so standard tools work on them:
 * mkfs.ext4, mount -o loop, dd, fio.
 *
 * Start of day and the control driver come from the kernel library
 * (include/pvkit/kernel.h: poweroff, reboot, halt, suspend); every vbd
 * under device/vbd at boot is connected by the xenbus bus with blkfront
 * (no hot-plug: the file table is fixed once mounted) and served as one
 * file named by its vdev ("xvda", the backend's "dev" node) in a
 * directory mounted at the cmdline's pvkit.fuse=PATH (default
 * /run/pvkit-blkfuse/d<domid>).  Suspend holds FUSE I/O in blkfront
 * until the disks resume.  The FUSE loop is multi-threaded; each
 * FUSE worker thread keeps to one blkfront queue.
 *
 * I/O at any byte offset and length: the aligned middle goes straight to
 * blkfront, partial sectors at either end are read, merged and written
 * back under an exclusive lock (aligned writes take it shared), so
 * O_DIRECT and buffered users alike see byte-exact files.  fsync is a
 * FLUSH; fallocate(PUNCH_HOLE) discards whole sectors and zeroes partial
 * ones; ZERO_RANGE writes zeros.  The file size is the disk size.
 */
#define FUSE_USE_VERSION 312

#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xen/sched.h>

#include "common/log.h"
#include "pvkit/blkfront.h"
#include "pvkit/guest.h"
#include "pvkit/kernel.h"
#include "pvkit/xenbus_frontend.h"
#include "pvkit/xs.h"

#define MAX_DISKS 16
#define SECTOR 512u
#define BOUNCE_MAX (1u << 20) /* bytes per blkfront call */

struct disk {
	char name[16];
	struct blkfront *bf;
	uint64_t bytes;
	bool readonly;
	pthread_rwlock_t rmw; /* partial-sector writes exclusive */
};

struct kfuse {
	struct pvk_kernel *k;
	struct pvk_rt *rt;
	struct xs_client *xs;
	struct xenbus_bus *bus;
	struct disk disks[MAX_DISKS];
	unsigned int ndisks;
	char mnt[256];
	struct fuse *fuse;
	pthread_t loop;
	bool loop_started;
};

static struct kfuse K;

/* ---- the disks ---------------------------------------------------------- */

static struct disk *disk_of(const char *path)
{
	unsigned int i;

	if (path[0] != '/')
		return NULL;
	for (i = 0; i < K.ndisks; i++)
		if (!strcmp(path + 1, K.disks[i].name))
			return &K.disks[i];
	return NULL;
}

/* The vdev name for device/vbd/<id>: the backend's "dev" node, else
 * derived from the id. */
static void disk_name(const char *id, char *out, size_t len)
{
	char path[96], *be = NULL, *dev = NULL;
	unsigned long v;

	snprintf(path, sizeof(path), "device/vbd/%s/backend", id);
	if (xs_read(K.xs, XS_TX_NONE, path, &be, NULL) == 0) {
		snprintf(path, sizeof(path), "%s/dev", be);
		if (xs_read(K.xs, XS_TX_NONE, path, &dev, NULL) == 0 && *dev &&
		    !strchr(dev, '/') && strlen(dev) < len) {
			snprintf(out, len, "%s", dev);
			free(be);
			free(dev);
			return;
		}
	}
	free(be);
	free(dev);
	v = strtoul(id, NULL, 10);
	if (v >> 8 == 202 && !(v & 15))
		snprintf(out, len, "xvd%c", 'a' + (int)((v >> 4) & 15));
	else
		snprintf(out, len, "vbd%s", id);
}

/* The bus connected a disk: give it a file. */
static void disk_added(struct xenbus_bus *bus, const char *type, const char *id,
		       void *priv, void *arg)
{
	struct disk *d = &K.disks[K.ndisks];
	const struct blkfront_info *in = blkfront_info(priv);

	(void)bus;
	(void)type;
	(void)arg;
	if (K.ndisks >= MAX_DISKS) {
		pvk_warn("vbd %s: more than %u disks: not served", id,
			 MAX_DISKS);
		return;
	}
	d->bf = priv;
	disk_name(id, d->name, sizeof(d->name));
	d->bytes = in->sectors * SECTOR;
	d->readonly = in->readonly;
	pthread_rwlock_init(&d->rmw, NULL);
	pvk_info("vbd %s: /%s, %llu bytes%s, %u queue(s)", id, d->name,
		 (unsigned long long)d->bytes, d->readonly ? ", read-only" : "",
		 in->nr_queues);
	K.ndisks++;
}

/* The bus removes the disks only once FUSE is stopped (poweroff). */
static void disk_removing(struct xenbus_bus *bus, const char *type,
			  const char *id, void *priv, void *arg)
{
	unsigned int i;

	(void)bus;
	(void)type;
	(void)id;
	(void)arg;
	for (i = 0; i < K.ndisks; i++)
		if (K.disks[i].bf == priv)
			pthread_rwlock_destroy(&K.disks[i].rmw);
}

/* ---- byte-granular I/O over 512-byte sectors ---------------------------- */

/* Read or write whole sectors in calls of at most BOUNCE_MAX bytes. */
static int sectors_io(struct disk *d, bool wr, uint64_t sector, uint8_t *buf,
		      uint64_t n)
{
	while (n) {
		uint32_t k =
		    n > BOUNCE_MAX / SECTOR ? BOUNCE_MAX / SECTOR : (uint32_t)n;
		int rc = wr ? blkfront_write(d->bf, sector, buf, k)
			    : blkfront_read(d->bf, sector, buf, k);

		if (rc)
			return rc;
		sector += k;
		buf += (size_t)k * SECTOR;
		n -= k;
	}
	return 0;
}

/* Clamp [off, off + *size) to the disk; 0 when nothing is left. */
static size_t clamp(const struct disk *d, off_t off, size_t size)
{
	if (off < 0 || (uint64_t)off >= d->bytes)
		return 0;
	if (size > d->bytes - (uint64_t)off)
		size = (size_t)(d->bytes - (uint64_t)off);
	return size;
}

static int bytes_read(struct disk *d, uint8_t *buf, size_t size, off_t off)
{
	uint64_t first = (uint64_t)off / SECTOR;
	uint64_t last = ((uint64_t)off + size + SECTOR - 1) / SECTOR;
	size_t head = (size_t)((uint64_t)off % SECTOR);
	uint8_t *b;
	int rc;

	if (!head && size % SECTOR == 0)
		return sectors_io(d, false, first, buf, size / SECTOR);
	b = aligned_alloc(4096, (size_t)(last - first) * SECTOR);
	if (!b)
		return -ENOMEM;
	rc = sectors_io(d, false, first, b, last - first);
	if (!rc)
		memcpy(buf, b + head, size);
	free(b);
	return rc;
}

/* Merge one partial sector: read it, patch [from, from + len), write. */
static int sector_patch(struct disk *d, uint64_t sector, size_t from,
			const uint8_t *src, size_t len)
{
	uint8_t s[SECTOR] __attribute__((aligned(SECTOR)));
	int rc = blkfront_read(d->bf, sector, s, 1);

	if (rc)
		return rc;
	if (src)
		memcpy(s + from, src, len);
	else
		memset(s + from, 0, len);
	return blkfront_write(d->bf, sector, s, 1);
}

/* Write (src NULL: zeros) [off, off + size). */
static int bytes_write(struct disk *d, const uint8_t *src, size_t size,
		       off_t off)
{
	uint64_t pos = (uint64_t)off, end = pos + size;
	bool partial = pos % SECTOR || end % SECTOR;
	uint8_t *zero = NULL;
	int rc = 0;

	if (partial)
		pthread_rwlock_wrlock(&d->rmw);
	else
		pthread_rwlock_rdlock(&d->rmw);
	if (pos % SECTOR) { /* the head, maybe all of it in one sector */
		size_t from = (size_t)(pos % SECTOR);
		size_t len = SECTOR - from < size ? SECTOR - from : size;

		rc = sector_patch(d, pos / SECTOR, from, src, len);
		pos += len;
		if (src)
			src += len;
	}
	if (!rc && end - pos >= SECTOR) { /* the aligned middle */
		uint64_t n = (end - pos) / SECTOR;

		if (src) {
			rc = sectors_io(d, true, pos / SECTOR, (uint8_t *)src,
					n);
			src += n * SECTOR;
		} else {
			uint64_t left = n, s = pos / SECTOR;

			zero = calloc(1, BOUNCE_MAX);
			if (!zero)
				rc = -ENOMEM;
			while (!rc && left) {
				uint64_t k = left > BOUNCE_MAX / SECTOR
						 ? BOUNCE_MAX / SECTOR
						 : left;

				rc = sectors_io(d, true, s, zero, k);
				s += k;
				left -= k;
			}
		}
		pos += n * SECTOR;
	}
	if (!rc && pos < end) /* the tail */
		rc = sector_patch(d, pos / SECTOR, 0, src, (size_t)(end - pos));
	pthread_rwlock_unlock(&d->rmw);
	free(zero);
	return rc;
}

/* ---- FUSE operations ---------------------------------------------------- */

static void *fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	cfg->use_ino = 0;
	cfg->direct_io = 0;
	return NULL;
}

static int fs_getattr(const char *path, struct stat *st,
		      struct fuse_file_info *fi)
{
	struct disk *d;

	(void)fi;
	memset(st, 0, sizeof(*st));
	if (!strcmp(path, "/")) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return 0;
	}
	d = disk_of(path);
	if (!d)
		return -ENOENT;
	st->st_mode = S_IFREG | (d->readonly ? 0400 : 0600);
	st->st_nlink = 1;
	st->st_size = (off_t)d->bytes;
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)(d->bytes / 512);
	return 0;
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t fill,
		      off_t off, struct fuse_file_info *fi,
		      enum fuse_readdir_flags flags)
{
	unsigned int i;

	(void)off;
	(void)fi;
	(void)flags;
	if (strcmp(path, "/"))
		return -ENOTDIR;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	for (i = 0; i < K.ndisks; i++)
		fill(buf, K.disks[i].name, NULL, 0, 0);
	return 0;
}

static int fs_open(const char *path, struct fuse_file_info *fi)
{
	struct disk *d = disk_of(path);

	if (!d)
		return -ENOENT;
	if (d->readonly && (fi->flags & O_ACCMODE) != O_RDONLY)
		return -EROFS;
	/* O_DIRECT callers bypass the page cache here too. */
	if (fi->flags & O_DIRECT)
		fi->direct_io = 1;
	return 0;
}

static int fs_read(const char *path, char *buf, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	struct disk *d = disk_of(path);
	int rc;

	(void)fi;
	if (!d)
		return -ENOENT;
	size = clamp(d, off, size);
	if (!size)
		return 0;
	rc = bytes_read(d, (uint8_t *)buf, size, off);
	return rc ? rc : (int)size;
}

static int fs_write(const char *path, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct disk *d = disk_of(path);
	int rc;

	(void)fi;
	if (!d)
		return -ENOENT;
	if (d->readonly)
		return -EROFS;
	if (off < 0 || (uint64_t)off >= d->bytes)
		return size ? -ENOSPC : 0;
	size = clamp(d, off, size);
	rc = bytes_write(d, (const uint8_t *)buf, size, off);
	return rc ? rc : (int)size;
}

static int fs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	struct disk *d = disk_of(path);

	(void)datasync;
	(void)fi;
	if (!d)
		return -ENOENT;
	if (d->readonly || !blkfront_info(d->bf)->flush)
		return 0;
	return blkfront_flush(d->bf);
}

static int fs_fallocate(const char *path, int mode, off_t off, off_t len,
			struct fuse_file_info *fi)
{
	struct disk *d = disk_of(path);
	uint64_t pos, end, s0, s1;
	int rc = 0;

	(void)fi;
	if (!d)
		return -ENOENT;
	if (off < 0 || len <= 0)
		return -EINVAL;
	if (!(mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)))
		/* Plain allocation: the disk is all there already. */
		return (uint64_t)off + (uint64_t)len <= d->bytes ? 0 : -EFBIG;
	if (d->readonly)
		return -EROFS;
	if ((mode & FALLOC_FL_PUNCH_HOLE) && !(mode & FALLOC_FL_KEEP_SIZE))
		return -EOPNOTSUPP;
	pos = (uint64_t)off;
	end = pos + (uint64_t)len;
	if (end > d->bytes)
		end = d->bytes;
	if (pos >= end)
		return 0;
	if ((mode & FALLOC_FL_ZERO_RANGE) || !blkfront_info(d->bf)->discard)
		return bytes_write(d, NULL, (size_t)(end - pos), (off_t)pos);
	/* Whole sectors are discarded (they read back as zeros), the
	 * partial ends zeroed. */
	s0 = (pos + SECTOR - 1) / SECTOR;
	s1 = end / SECTOR;
	if (s0 >= s1)
		return bytes_write(d, NULL, (size_t)(end - pos), (off_t)pos);
	if (pos % SECTOR)
		rc = bytes_write(d, NULL, (size_t)(s0 * SECTOR - pos),
				 (off_t)pos);
	if (!rc) {
		pthread_rwlock_rdlock(&d->rmw);
		rc = blkfront_discard(d->bf, s0, s1 - s0);
		pthread_rwlock_unlock(&d->rmw);
	}
	if (!rc && end % SECTOR)
		rc = bytes_write(d, NULL, (size_t)(end - s1 * SECTOR),
				 (off_t)(s1 * SECTOR));
	return rc;
}

static int fs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct disk *d = disk_of(path);

	(void)fi;
	if (!d)
		return -ENOENT;
	return (uint64_t)size == d->bytes ? 0 : -EPERM;
}

static int fs_utimens(const char *path, const struct timespec tv[2],
		      struct fuse_file_info *fi)
{
	(void)tv;
	(void)fi;
	return disk_of(path) || !strcmp(path, "/") ? 0 : -ENOENT;
}

static int fs_statfs(const char *path, struct statvfs *st)
{
	(void)path;
	memset(st, 0, sizeof(*st));
	st->f_bsize = 4096;
	st->f_frsize = 4096;
	st->f_namemax = 15;
	return 0;
}

static const struct fuse_operations fs_ops = {
    .init = fs_init,
    .getattr = fs_getattr,
    .readdir = fs_readdir,
    .open = fs_open,
    .read = fs_read,
    .write = fs_write,
    .fsync = fs_fsync,
    .fallocate = fs_fallocate,
    .truncate = fs_truncate,
    .utimens = fs_utimens,
    .statfs = fs_statfs,
};

static void *fuse_thread(void *arg)
{
	struct fuse_loop_config *lc = fuse_loop_cfg_create();
	int rc;

	(void)arg;
	if (lc) {
		fuse_loop_cfg_set_clone_fd(lc, 0);
		fuse_loop_cfg_set_max_threads(lc, 16);
	}
	rc = fuse_loop_mt(K.fuse, lc);
	if (rc)
		pvk_warn("FUSE loop ended: %d", rc);
	fuse_loop_cfg_destroy(lc);
	return NULL;
}

/* Mount the disks at K.mnt and serve them from a thread. */
static int fuse_start(void)
{
	char *argv[] = {"pvkit-blkfuse", "-o", "fsname=pvkit-blkfuse", NULL};
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);
	int rc;

	if (mkdir(K.mnt, 0755) && errno != EEXIST) {
		pvk_err("mkdir %s: %s", K.mnt, strerror(errno));
		return -errno;
	}
	K.fuse = fuse_new(&args, &fs_ops, sizeof(fs_ops), NULL);
	if (!K.fuse)
		return -EIO;
	if (fuse_mount(K.fuse, K.mnt)) {
		pvk_err("cannot mount FUSE at %s", K.mnt);
		fuse_destroy(K.fuse);
		K.fuse = NULL;
		return -EIO;
	}
	rc = -pthread_create(&K.loop, NULL, fuse_thread, NULL);
	if (rc) {
		fuse_unmount(K.fuse);
		fuse_destroy(K.fuse);
		K.fuse = NULL;
		return rc;
	}
	K.loop_started = true;
	pvk_info("serving %u disk(s) at %s", K.ndisks, K.mnt);
	return 0;
}

static void fuse_stop(void)
{
	if (!K.fuse)
		return;
	fuse_exit(K.fuse);
	fuse_unmount(K.fuse);
	if (K.loop_started)
		pthread_join(K.loop, NULL);
	fuse_destroy(K.fuse);
	K.fuse = NULL;
	pvk_info("unmounted %s", K.mnt);
}

/* ---- start of day and the control driver -------------------------------- */

/* pvkit.fuse=PATH from the command line. */
static void mount_point(void)
{
	const char *c = pvk_rt_cmdline(K.rt), *p;
	size_t n;

	snprintf(K.mnt, sizeof(K.mnt), "/run/pvkit-blkfuse/d%u",
		 pvk_rt_domid(K.rt));
	for (p = c; p && (p = strstr(p, "pvkit.fuse=")); p++) {
		if (p != c && p[-1] != ' ')
			continue;
		p += strlen("pvkit.fuse=");
		n = strcspn(p, " ");
		if (n && n < sizeof(K.mnt)) {
			memcpy(K.mnt, p, n);
			K.mnt[n] = 0;
		}
		return;
	}
	mkdir("/run/pvkit-blkfuse", 0755);
}

static void on_stopping(void *arg, unsigned int reason)
{
	(void)arg;
	(void)reason;
	fuse_stop();
}

int main(void)
{
	static const struct xenbus_frontend_driver *const drivers[] = {
	    &blkfront_driver,
	};
	static const struct xenbus_bus_hooks hooks = {
	    .added = disk_added,
	    .removing = disk_removing,
	};
	static const struct pvk_control_hooks control = {
	    .stopping = on_stopping,
	};
	int rc;

	rc = pvk_kernel_boot("pvkit-blkfuse", -1, 0, &K.k);
	if (rc)
		return 1;
	K.rt = pvk_kernel_rt(K.k);
	K.xs = pvk_kernel_xs(K.k);
	rc = pvk_kernel_control_start(K.k, &control, NULL);
	if (rc)
		goto crash;
	mount_point();
	rc = xenbus_bus_open(pvk_kernel_platform(K.k), K.xs, drivers, 1, &hooks,
			     NULL, XENBUS_BUS_NO_HOTPLUG, &K.bus);
	if (rc) {
		pvk_err("vbd: %s", strerror(-rc));
		goto crash;
	}
	rc = fuse_start();
	if (rc) {
		pvk_err("FUSE: %s", strerror(-rc));
		xenbus_bus_close(K.bus);
		goto crash;
	}
	pvk_kernel_run(K.k, K.bus);
crash:
	pvk_kernel_crash(K.k);
	return 1;
}
