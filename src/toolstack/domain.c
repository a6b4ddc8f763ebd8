/*
 * domain.c - pvkit create/list/destroy/shutdown/reboot/pause/unpause/info,
 * and the per-domain monitor that applies on_poweroff/on_reboot/on_crash
 * (like xl's monitoring process: it is the parent of the guest kernel).
 */
#include "common/util.h"
#include "device.h"
#include "pvkit/platform.h"
#include "pvkit/xs.h"
#include "toolstack.h"
#include "xlcfg.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xen/hvm/params.h>
#include <xen/sched.h>

static const char *const reason_names[] = {
    "poweroff", "reboot", "suspend", "crash", "watchdog", "soft_reset"};

/* What pvkit can build, checked before anything is created: every
 * refusal names the file, the line and the key.  0 or -errno. */
/* The default kernel (pvkit-guest: $PVKIT_GUEST, next to us, or in
 * PATH) as a path into out: 0, or -ENOENT. */
static int default_kernel(const struct ts *ts, char *out, size_t len)
{
	const char *p = getenv("PATH"), *e;
	char name[300];

	ts_helper(ts, "PVKIT_GUEST", "pvkit-guest", name, sizeof(name));
	if (strchr(name, '/')) {
		snprintf(out, len, "%s", name);
		return access(out, X_OK) == 0 ? 0 : -ENOENT;
	}
	for (; p && *p; p = *e ? e + 1 : e) {
		int w;

		e = strchrnul(p, ':');
		w = snprintf(out, len, "%.*s/%s", (int)(e - p), p, name);
		if (e > p && w > 0 && (size_t)w < len && access(out, X_OK) == 0)
			return 0;
	}
	snprintf(out, len, "%s", name);
	return -ENOENT;
}

/* Which key set a maximum (max_key, else key, as xl.cfg defaults it) and
 * on which line. */
static const char *figure_key(const struct xlcfg *cfg, const char *max_key,
			      const char *key, unsigned int *line)
{
	if (xlcfg_has(cfg, max_key, line))
		return max_key;
	xlcfg_has(cfg, key, line);
	return key;
}

static int check_buildable(const struct ts *ts, const char *path,
			   const struct xlcfg *cfg,
			   const struct xlcfg_domain *d)
{
	char deflt[300];
	unsigned int line = 0;
	const char *key;
	char magic[0x206];
	struct stat sb;
	ssize_t n;
	int fd;

	/* pv and pvh: a pvkit kernel is a program started with PVH's start
	 * info (hvm_start_info); nothing emulates a machine for hvm. */
	if (d->type == XLCFG_TYPE_HVM) {
		xlcfg_has(cfg, "type", &line);
		fprintf(stderr,
			"pvkit: %s:%u: type: hvm is not supported (pvkit "
			"builds PV and PVH domains: the kernel is a program on "
			"libpvkit)\n",
			path, line);
		return -ENOTSUP;
	}
	if (d->ramdisk) {
		xlcfg_has(cfg, "ramdisk", &line);
		fprintf(stderr,
			"pvkit: %s:%u: ramdisk: not supported (a pvkit kernel "
			"is a program; give it data with extra= or a disk)\n",
			path, line);
		return -ENOTSUP;
	}
	/* The limits: named by the key that set the figure. */
	if (d->maxvcpus > PVK_EMU_MAX_VCPUS) {
		key = figure_key(cfg, "maxvcpus", "vcpus", &line);
		fprintf(stderr,
			"pvkit: %s:%u: %s: %u is more than pvkit-hvd "
			"builds (%u)\n",
			path, line, key, d->maxvcpus, PVK_EMU_MAX_VCPUS);
		return -EINVAL;
	}
	if (d->maxmem_mib > PVK_EMU_MAX_MEM_MIB) {
		key = figure_key(cfg, "maxmem", "memory", &line);
		fprintf(stderr,
			"pvkit: %s:%u: %s: %llu MiB is more than pvkit-hvd "
			"builds (%llu MiB)\n",
			path, line, key, (unsigned long long)d->maxmem_mib,
			(unsigned long long)PVK_EMU_MAX_MEM_MIB);
		return -EINVAL;
	}
	if (!d->kernel) {
		/* pvkit-guest, the default kernel, as spawn_kernel finds it */
		if (default_kernel(ts, deflt, sizeof(deflt)) == 0)
			return 0;
		fprintf(stderr,
			"pvkit: %s: no kernel= and the default kernel %s is "
			"not installed (set kernel= or $PVKIT_GUEST)\n",
			path, deflt);
		return -ENOEXEC;
	}
	xlcfg_has(cfg, "kernel", &line);
	if (stat(d->kernel, &sb) < 0 || access(d->kernel, X_OK) < 0) {
		fprintf(stderr, "pvkit: %s:%u: kernel: %s: %s\n", path, line,
			d->kernel, strerror(errno));
		return -ENOEXEC;
	}
	if (!S_ISREG(sb.st_mode)) {
		fprintf(stderr, "pvkit: %s:%u: kernel: %s: not a file\n", path,
			line, d->kernel);
		return -ENOEXEC;
	}
	fd = open(d->kernel, O_RDONLY | O_CLOEXEC);
	n = fd >= 0 ? read(fd, magic, sizeof(magic)) : -1;
	if (fd >= 0)
		close(fd);
	if (n >= (ssize_t)sizeof(magic) && !memcmp(magic + 0x202, "HdrS", 4)) {
		fprintf(stderr,
			"pvkit: %s:%u: kernel: %s is a Linux kernel image; "
			"pvkit runs kernels that are programs on libpvkit "
			"(docs/writing-a-kernel.md)\n",
			path, line, d->kernel);
		return -ENOEXEC;
	}
	if (n < 4 || (memcmp(magic, "\177ELF", 4) && memcmp(magic, "#!", 2))) {
		fprintf(stderr,
			"pvkit: %s:%u: kernel: %s is not a program (no ELF "
			"or #! header)\n",
			path, line, d->kernel);
		return -ENOEXEC;
	}
	return 0;
}

/* Two disks of one domain on the same vdev, or on the same file with
 * either writable (blkback would serve both: one writer per image holds
 * across backends, not within one configuration). */
static int disks_distinct(const char *path, const struct xlcfg_domain *d)
{
	struct stat a, b;
	unsigned int i, j;

	for (i = 0; i < d->ndisks; i++)
		for (j = i + 1; j < d->ndisks; j++) {
			const struct xlcfg_disk *x = &d->disks[i],
						*y = &d->disks[j];

			if (!strcmp(x->vdev, y->vdev)) {
				fprintf(stderr,
					"pvkit: %s:%u: disk: vdev %s given "
					"twice (line %u too)\n",
					path, y->line, y->vdev, x->line);
				return -EINVAL;
			}
			if (disk_target_is_nbd(x->target) ||
			    disk_target_is_nbd(y->target) ||
			    stat(x->target, &a) || stat(y->target, &b) ||
			    a.st_dev != b.st_dev || a.st_ino != b.st_ino ||
			    (x->readonly && y->readonly))
				continue;
			fprintf(
			    stderr,
			    "pvkit: %s:%u: disk: %s is %s's target too "
			    "(line %u); a writable image is attached once\n",
			    path, y->line, y->target, x->vdev, x->line);
			return -EBUSY;
		}
	return 0;
}

/* host: also check what the host must have now (the vifs' bridges, free
 * interface names): create does, the monitor (reloading the config of a
 * domain already built) does not. */
/* The config at path with the command line's KEY=VALUE settings (nset of
 * them, xl create's) in place of its own, checked. */
static int load_cfg(const struct ts *ts, const char *path, char **set, int nset,
		    bool host, struct xlcfg_domain **out)
{
	char err[XLCFG_ERR_MAX];
	struct xlcfg *cfg = NULL;
	unsigned int i, warned = 0;
	int rc, k;

	rc = xlcfg_parse_file(path, &cfg, err, sizeof(err));
	for (k = 0; k < nset && !rc; k++)
		rc = xlcfg_override(cfg, set[k], err, sizeof(err));
	if (rc) {
		fprintf(stderr, "pvkit: %s\n", err);
		xlcfg_free(cfg);
		return rc;
	}
	rc = xlcfg_domain_get(cfg, out, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "pvkit: %s\n", err);
		goto out;
	}
	for (i = 0; i < xlcfg_warning_count(cfg); i++)
		fprintf(stderr, "pvkit: warning: %s\n", xlcfg_warning(cfg, i));
	rc = check_buildable(ts, path, cfg, *out);
	for (i = 0; i < (*out)->ndisks && !rc; i++)
		rc = disk_check(path, &(*out)->disks[i]);
	if (!rc)
		rc = disks_distinct(path, *out);
	for (i = 0; i < (*out)->nvifs && !rc; i++)
		rc = vif_check(path, &(*out)->vifs[i], host, &warned);
	if (rc) {
		xlcfg_domain_free(*out);
		*out = NULL;
	}
out:
	xlcfg_free(cfg);
	return rc;
}

static int xs_dom_write(struct xs_client *xs, domid_t d, const char *rel,
			const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int xs_dom_write(struct xs_client *xs, domid_t d, const char *rel,
			const char *fmt, ...)
{
	char path[128], val[256];
	va_list ap;

	snprintf(path, sizeof(path), "/local/domain/%u/%s", d, rel);
	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	return xs_write_str(xs, XS_TX_NONE, path, val);
}

/* A fresh random (version 4) UUID, as libxl makes for a domain without
 * one. */
static int uuid_make(char out[37])
{
	uint8_t b[16];

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return -EIO;
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
		 b[10], b[11], b[12], b[13], b[14], b[15]);
	return 0;
}

/* The domain's /vm/<uuid> (libxl's): uuid, name and start_time (seconds
 * since the epoch, as libxl writes it, which `pvkit uptime` reads), owned
 * by Dom0 and readable by the domain; /local/domain/<id>/vm names it. */
static int vm_write(struct xs_client *xs, domid_t d,
		    const struct xlcfg_domain *c, char uuid[37])
{
	struct xs_perm perm[2] = {{.id = 0, .perms = XS_PERM_NONE},
				  {.id = d, .perms = XS_PERM_READ}};
	char vm[48], path[96], val[32];
	struct timespec now;
	int rc = 0;

	if (c->uuid[0])
		snprintf(uuid, 37, "%s", c->uuid);
	else
		rc = uuid_make(uuid);
	if (rc)
		return rc;
	snprintf(vm, sizeof(vm), "/vm/%s", uuid);
	xs_rm(xs, XS_TX_NONE, vm); /* a dead domain's leftovers */
	rc = xs_mkdir(xs, XS_TX_NONE, vm);
	if (!rc)
		rc = xs_set_perms(xs, XS_TX_NONE, vm, perm, 2);
	snprintf(path, sizeof(path), "%s/uuid", vm);
	if (!rc)
		rc = xs_write_str(xs, XS_TX_NONE, path, uuid);
	snprintf(path, sizeof(path), "%s/name", vm);
	if (!rc)
		rc = xs_write_str(xs, XS_TX_NONE, path, c->name);
	clock_gettime(CLOCK_REALTIME, &now);
	snprintf(val, sizeof(val), "%lld.%02ld", (long long)now.tv_sec,
		 now.tv_nsec / 10000000);
	snprintf(path, sizeof(path), "%s/start_time", vm);
	if (!rc)
		rc = xs_write_str(xs, XS_TX_NONE, path, val);
	if (!rc)
		rc = xs_dom_write(xs, d, "vm", "%s", vm);
	return rc;
}

/* Build a domain from its config: hypervisor, event channels, xenstore.
 * Returns 0 with *domid and *chan_fd (the kernel's channel). */
/* A string as a JSON string. */
static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static void kernel_pid_path(const struct ts *ts, domid_t d, char *out,
			    size_t len)
{
	snprintf(out, len, "%s/kernel-%u.pid", ts->state, d);
}

static void config_path(const struct ts *ts, domid_t d, char *out, size_t len)
{
	snprintf(out, len, "%s/domain-%u.json", ts->state, d);
}

/* The domain's configuration as `pvkit list -l` shows it, in the shape
 * of libxl's domain config (c_info, b_info, disks, nics, on_*), kept in
 * <state>/domain-<domid>.json while it lives (libxl keeps its userdata
 * file).  Best effort: list -l says when it is missing. */
static void config_save(const struct ts *ts, domid_t d, const char *uuid,
			const struct xlcfg_domain *c)
{
	static const char *const types[] = {"pv", "pvh", "hvm"};
	char path[400], tmp[420];
	unsigned int i;
	FILE *f;

	config_path(ts, d, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	f = fopen(tmp, "we");
	if (!f)
		return;
	fprintf(f,
		"{\"c_info\": {\"type\": \"%s\", \"name\": ", types[c->type]);
	json_str(f, c->name);
	fprintf(f,
		", \"uuid\": \"%s\"}, \"b_info\": {\"max_vcpus\": %u, "
		"\"avail_vcpus\": %u, \"max_memkb\": %llu, "
		"\"target_memkb\": %llu, \"kernel\": ",
		uuid, c->maxvcpus ? c->maxvcpus : c->vcpus, c->vcpus,
		(unsigned long long)c->maxmem_mib * 1024,
		(unsigned long long)c->memory_mib * 1024);
	json_str(f, c->kernel ? c->kernel : "pvkit-guest");
	fprintf(f, ", \"cmdline\": ");
	json_str(f, c->cmdline ? c->cmdline : "");
	fprintf(f, "}, \"disks\": [");
	for (i = 0; i < c->ndisks; i++) {
		const struct xlcfg_disk *k = &c->disks[i];

		fprintf(f, "%s{\"pdev_path\": ", i ? ", " : "");
		json_str(f, k->target);
		fprintf(f, ", \"vdev\": ");
		json_str(f, k->vdev);
		fprintf(f, ", \"format\": ");
		json_str(f, k->format ? k->format : "raw");
		fprintf(f, ", \"readwrite\": %d, \"is_cdrom\": %d}",
			!k->readonly, k->cdrom);
	}
	fprintf(f, "], \"nics\": [");
	for (i = 0; i < c->nvifs; i++) {
		const struct xlcfg_vif *v = &c->vifs[i];

		fprintf(f,
			"%s{\"devid\": %u, \"mac\": "
			"\"%02x:%02x:%02x:%02x:%02x:%02x\", \"bridge\": ",
			i ? ", " : "", v->has_devid ? v->devid : i, v->mac[0],
			v->mac[1], v->mac[2], v->mac[3], v->mac[4], v->mac[5]);
		json_str(f, v->bridge ? v->bridge : "xenbr0");
		if (v->vifname) {
			fprintf(f, ", \"ifname\": ");
			json_str(f, v->vifname);
		}
		if (v->script) {
			fprintf(f, ", \"script\": ");
			json_str(f, v->script);
		}
		if (v->ip) {
			fprintf(f, ", \"ip\": ");
			json_str(f, v->ip);
		}
		if (v->mtu)
			fprintf(f, ", \"mtu\": %u", v->mtu);
		if (v->rate_bytes_per_s)
			fprintf(f,
				", \"rate_bytes_per_interval\": %llu, "
				"\"rate_interval_usecs\": %u",
				(unsigned long long)(v->rate_bytes_per_s *
						     v->rate_interval_us /
						     1000000),
				v->rate_interval_us);
		fprintf(f, ", \"trusted\": %s}",
			v->untrusted ? "false" : "true");
	}
	fprintf(
	    f,
	    "], \"on_poweroff\": \"%s\", \"on_reboot\": \"%s\", "
	    "\"on_watchdog\": \"%s\", \"on_crash\": \"%s\", "
	    "\"on_soft_reset\": \"%s\"}\n",
	    xlcfg_action_name(c->on_poweroff), xlcfg_action_name(c->on_reboot),
	    xlcfg_action_name(c->on_watchdog), xlcfg_action_name(c->on_crash),
	    xlcfg_action_name(c->on_soft_reset));
	if (fclose(f) || rename(tmp, path))
		unlink(tmp);
}

static int domain_build(struct ts *ts, struct pvk_platform *plat,
			const struct xlcfg_domain *c, domid_t *domid,
			int *chan_fd)
{
	char uuid[37];
	const struct pvk_domctl_ops *dc = plat->domctl;
	const struct pvk_domain_config dcfg = {
	    .name = c->name,
	    .max_kib = c->maxmem_mib * 1024,
	    .mem_kib = c->memory_mib * 1024,
	    .vcpus = c->vcpus,
	    .cmdline = c->cmdline,
	};
	struct xs_client *xs = NULL;
	evtchn_port_t store_port = 0, cons_port = 0;
	uint64_t store_pfn = 0, cons_pfn = 0;
	struct xs_perm perm;
	struct ts_dev dev;
	char path[64];
	unsigned int i;
	int rc;

	rc = dc->create(plat, &dcfg, domid, chan_fd);
	if (rc) {
		fprintf(stderr, "pvkit: cannot create domain '%s': %s\n",
			c->name, strerror(-rc));
		return rc;
	}
	rc = dc->alloc_unbound(plat, *domid, 0, &store_port);
	if (!rc)
		rc = dc->alloc_unbound(plat, *domid, 0, &cons_port);
	if (!rc)
		rc = dc->set_param(plat, *domid, HVM_PARAM_STORE_EVTCHN,
				   store_port);
	if (!rc)
		rc = dc->set_param(plat, *domid, HVM_PARAM_CONSOLE_EVTCHN,
				   cons_port);
	if (!rc)
		rc = dc->get_param(plat, *domid, HVM_PARAM_STORE_PFN,
				   &store_pfn);
	if (!rc)
		rc = dc->get_param(plat, *domid, HVM_PARAM_CONSOLE_PFN,
				   &cons_pfn);
	if (!rc)
		rc = ts_xs_open(ts, &xs);
	if (rc) {
		fprintf(stderr, "pvkit: setting up domain %u: %s\n", *domid,
			strerror(-rc));
		goto fail;
	}
	/* The domain's home, owned by it (xenstore-paths.pandoc); nothing
	 * inherited from a reused id, devices included. */
	snprintf(path, sizeof(path), "/local/domain/%u", *domid);
	ts_dev_remove_all(xs, ts_device_types, *domid);
	xs_rm(xs, XS_TX_NONE, path);
	rc = xs_mkdir(xs, XS_TX_NONE, path);
	perm.id = *domid;
	perm.perms = XS_PERM_NONE;
	if (!rc)
		rc = xs_set_perms(xs, XS_TX_NONE, path, &perm, 1);
	if (!rc)
		rc = xs_dom_write(xs, *domid, "name", "%s", c->name);
	if (!rc)
		rc = xs_dom_write(xs, *domid, "domid", "%u", *domid);
	if (!rc)
		rc = xs_dom_write(xs, *domid, "memory/target", "%llu",
				  (unsigned long long)c->memory_mib * 1024);
	if (!rc)
		rc = xs_dom_write(xs, *domid, "memory/static-max", "%llu",
				  (unsigned long long)c->maxmem_mib * 1024);
	if (!rc)
		rc = xs_dom_write(xs, *domid, "control/shutdown", "%s", "");
	if (!rc)
		rc = xs_dom_write(xs, *domid, "console/port", "%u", cons_port);
	if (!rc)
		rc = xs_dom_write(xs, *domid, "console/ring-ref", "%llu",
				  (unsigned long long)cons_pfn);
	if (!rc)
		rc = xs_dom_write(xs, *domid, "console/type", "%s",
				  "xenconsoled");
	if (!rc)
		rc = xs_dom_write(xs, *domid, "store/ring-ref", "%llu",
				  (unsigned long long)store_pfn);
	if (!rc)
		rc = xs_dom_write(xs, *domid, "store/port", "%u", store_port);
	if (!rc)
		rc = vm_write(xs, *domid, c, uuid);
	if (!rc)
		config_save(ts, *domid, uuid, c);
	for (i = 0; !rc && i < c->ndisks; i++) {
		rc = ts_dev_from_cfg(&dev, &ts_vbd_type, *domid, &c->disks[i]);
		if (!rc)
			rc = ts_dev_add(xs, &dev, &c->disks[i], "create");
	}
	for (i = 0; !rc && i < c->nvifs; i++) {
		if (vif_default_name_free("create", &c->vifs[i], *domid)) {
			rc = -EEXIST;
			goto fail;
		}
		rc = ts_dev_from_cfg(&dev, &ts_vif_type, *domid, &c->vifs[i]);
		if (!rc)
			rc = ts_dev_add(xs, &dev, &c->vifs[i], "create");
	}
	if (!rc)
		rc = xs_introduce(xs, *domid, store_pfn, store_port);
	if (rc) {
		fprintf(stderr, "pvkit: xenstore setup for domain %u: %s\n",
			*domid, strerror(-rc));
		goto fail;
	}
	/* As xl does, the domain runs once its vifs are there: pvkit-netback
	 * made each one's TAP or says why not (it is named here). */
	for (i = 0; !rc && i < c->nvifs; i++) {
		rc = ts_dev_from_cfg(&dev, &ts_vif_type, *domid, &c->vifs[i]);
		if (!rc)
			rc = ts_dev_wait_taken(xs, &dev, TS_DEV_WAIT_MS,
					       "create");
	}
	if (rc)
		goto fail;
	xs_client_close(xs);
	return 0;
fail:
	/* What was written for it goes with it. */
	if (xs) {
		xs_release(xs, *domid);
		ts_dev_remove_all(xs, ts_device_types, *domid);
		xs_rm(xs, XS_TX_NONE, path);
	}
	xs_client_close(xs);
	dc->destroy(plat, *domid);
	close(*chan_fd);
	return rc ? rc : -EIO;
}

/* Destroy d and remove what the toolstack wrote for it: its devices (every
 * type's frontend and backend directories; a backend drops a device whose
 * directory goes) and its home. */
/* Whether a domain other than d is called name. */
static bool name_lives_on(struct pvk_platform *plat, const char *name,
			  domid_t d)
{
	struct pvk_dominfo info[256];
	int n, i;

	n = plat->domctl->list(plat, 0, info, 256);
	for (i = 0; i < n; i++)
		if (info[i].domid != d && !strcmp(info[i].name, name))
			return true;
	return false;
}

void domain_cleanup(struct ts *ts, struct pvk_platform *plat, domid_t d)
{
	struct xs_client *xs = NULL;
	char path[64];

	plat->domctl->destroy(plat, d);
	if (ts_xs_open(ts, &xs) == 0) {
		char *name = NULL, ns[80];

		/* The network namespace its kernel made for its vifs, unless
		 * a domain of that name lives again (destroy and create in a
		 * row, or a reboot: its kernel uses the namespace now). */
		snprintf(path, sizeof(path), "/local/domain/%u/name", d);
		if (!xs_read(xs, XS_TX_NONE, path, &name, NULL)) {
			if (!name_lives_on(plat, name, d)) {
				pvk_netns_name(name, ns, sizeof(ns));
				pvk_netns_remove(ns);
			}
			free(name);
		}
		xs_release(xs, d);
		ts_dev_remove_all(xs, ts_device_types, d);
		snprintf(path, sizeof(path), "/local/domain/%u/vm", d);
		if (!xs_read(xs, XS_TX_NONE, path, &name, NULL)) {
			if (!strncmp(name, "/vm/", 4) && !strchr(name + 4, '/'))
				xs_rm(xs, XS_TX_NONE, name);
			free(name);
		}
		snprintf(path, sizeof(path), "/local/domain/%u", d);
		xs_rm(xs, XS_TX_NONE, path);
		xs_client_close(xs);
	}
	{
		char cp[400];

		config_path(ts, d, cp, sizeof(cp));
		unlink(cp);
		kernel_pid_path(ts, d, cp, sizeof(cp));
		unlink(cp);
	}
}

/* The kernel's environment: ours without the hypervisor's socket, with its
 * channel as $PVKIT_HV_FD (the only thing it inherits from us).  NULL when
 * out of memory; free() the array, its strings are environ's and fdvar. */
static char **kernel_env(char *fdvar)
{
	extern char **environ;
	size_t n = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	env = calloc(n + 2, sizeof(*env));
	if (!env)
		return NULL;
	for (n = 0; environ[n]; n++)
		if (strncmp(environ[n], "PVKIT_HV_SOCK=", 14) &&
		    strncmp(environ[n], "PVKIT_HV_FD=", 12))
			env[k++] = environ[n];
	env[k] = fdvar;
	return env;
}

/* Start the domain's kernel on chan_fd, its output appended to
 * <state>/guest-<name>.log.  Everything is prepared before fork(): the
 * platform has threads, so the child only dups, execs and reports. */
/* The domain's kernel process, for vcpu-list (its vCPU threads); removed
 * with the domain. */
static void kernel_pid_save(const struct ts *ts, domid_t d, pid_t k)
{
	char path[400];
	FILE *f;

	if (k <= 0)
		return;
	kernel_pid_path(ts, d, path, sizeof(path));
	f = fopen(path, "we");
	if (f) {
		fprintf(f, "%d\n", (int)k);
		fclose(f);
	}
}

static pid_t spawn_kernel(struct ts *ts, const struct xlcfg_domain *c,
			  int chan_fd, domid_t d)
{
	char kernel[300], fdvar[32], log[400], line[512];
	char *argv[2] = {kernel, NULL}, **env;
	int log_fd, err = 0, ep[2] = {-1, -1};
	pid_t p;

	if (c->kernel)
		snprintf(kernel, sizeof(kernel), "%s", c->kernel);
	else
		default_kernel(ts, kernel, sizeof(kernel));
	snprintf(log, sizeof(log), "%s/guest-%s.log", ts->state, c->name);
	snprintf(fdvar, sizeof(fdvar), "PVKIT_HV_FD=%d", chan_fd);
	env = kernel_env(fdvar);
	if (!env || pipe2(ep, O_CLOEXEC) < 0) {
		free(env);
		return -1;
	}
	log_fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (log_fd >= 0) {
		snprintf(line, sizeof(line), "--- domain %u (%s) kernel %s\n",
			 d, c->name, kernel);
		if (write(log_fd, line, strlen(line)) < 0)
			perror("monitor");
	}
	p = fork();
	if (p == 0) {
		if (log_fd >= 0) {
			dup2(log_fd, 1);
			dup2(log_fd, 2);
		}
		fcntl(chan_fd, F_SETFD, 0);
		execve(kernel, argv, env);
		err = errno;
		if (write(ep[1], &err, sizeof(err)) < 0)
			_exit(126);
		_exit(127);
	}
	close(ep[1]);
	/* Nothing comes (the pipe closes at exec) unless exec failed. */
	if (p > 0 && read(ep[0], &err, sizeof(err)) == sizeof(err) &&
	    log_fd >= 0) {
		snprintf(line, sizeof(line), "exec %s: %s\n", kernel,
			 strerror(err));
		if (write(log_fd, line, strlen(line)) < 0)
			perror("monitor");
	}
	close(ep[0]);
	if (log_fd >= 0)
		close(log_fd);
	free(env);
	return p;
}

/* A restart this soon after the start counts as quick; this many quick
 * ones in a row and the monitor gives up. */
#define RESTART_QUICK_S 10
#define RESTART_QUICK_MAX 5

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* pvkit __monitor CFG DOMID CHANFD READYFD */
int cmd_monitor(struct ts *ts, int argc, char **argv)
{
	struct xlcfg_domain *c = NULL;
	struct pvk_platform *plat = NULL;
	struct xs_client *xs = NULL;
	unsigned int delay_ms = 500;
	double started;
	int quick = 0;
	domid_t d;
	bool paused;
	int chan_fd, ready_fd, rc = 1;

	/* __monitor CFG DOMID CHAN-FD READY-FD PAUSED [KEY=VALUE...] */
	if (argc < 6)
		return 2;
	d = (domid_t)atoi(argv[2]);
	chan_fd = atoi(argv[3]);
	ready_fd = atoi(argv[4]);
	paused = !strcmp(argv[5], "1");
	if (load_cfg(ts, argv[1], argv + 6, argc - 6, false, &c) ||
	    ts_dom0(ts, &plat))
		goto out;
	/* The MACs create gave the vifs (a reboot keeps them, as xl's) */
	if (c->nvifs && ts_xs_open(ts, &xs) == 0) {
		vif_macs(xs, d, c->vifs, c->nvifs);
		xs_client_close(xs);
	}
	for (;;) {
		struct pvk_dominfo info;
		enum xlcfg_action act;
		pid_t k;
		int st;

		started = mono_s();
		k = spawn_kernel(ts, c, chan_fd, d);
		close(chan_fd);
		kernel_pid_save(ts, d, k);
		/* create -p leaves the first start paused (a restart runs) */
		if (k < 0 || (!paused && plat->domctl->unpause(plat, d))) {
			domain_cleanup(ts, plat, d);
			goto out;
		}
		if (ready_fd >= 0) {
			if (write(ready_fd, &d, sizeof(d)) < 0)
				perror("monitor");
			close(ready_fd);
			ready_fd = -1;
		}
		while (waitpid(k, &st, 0) < 0 && errno == EINTR)
			;
		/* The hypervisor stops the kernel when the domain shuts
		 * down; a kernel that just died has crashed. */
		if (plat->domctl->info(plat, d, &info) ||
		    (info.flags & PVK_DOMINFO_DYING)) {
			rc = 0; /* destroyed by someone else */
			break;
		}
		if (!(info.flags & PVK_DOMINFO_SHUTDOWN))
			plat->domctl->destroy(plat, d);
		/* renamed meanwhile (pvkit rename): restarted as that */
		if (info.name[0] && strcmp(info.name, c->name)) {
			char *n = strdup(info.name);

			if (n) {
				free(c->name);
				c->name = n;
			}
		}
		switch (info.shutdown_reason) {
		case SHUTDOWN_poweroff:
			act = c->on_poweroff;
			break;
		case SHUTDOWN_reboot:
			act = c->on_reboot;
			break;
		case SHUTDOWN_watchdog:
			act = c->on_watchdog;
			break;
		default:
			act = c->on_crash;
			break;
		}
		fprintf(stderr, "pvkit: domain %u (%s) %s: action %s\n", d,
			c->name,
			info.shutdown_reason < 6
			    ? reason_names[info.shutdown_reason]
			    : "?",
			xlcfg_action_name(act));
		if (act == XLCFG_ACTION_PRESERVE) {
			rc = 0;
			break;
		}
		domain_cleanup(ts, plat, d);
		if (act != XLCFG_ACTION_RESTART &&
		    act != XLCFG_ACTION_RENAME_RESTART &&
		    act != XLCFG_ACTION_COREDUMP_RESTART) {
			rc = 0;
			break;
		}
		/* A domain that ends soon after every start (a kernel that
		 * fails at once, on_crash="restart") is restarted ever more
		 * slowly, and given up after RESTART_QUICK_MAX such runs. */
		if (mono_s() - started < RESTART_QUICK_S) {
			if (++quick >= RESTART_QUICK_MAX) {
				fprintf(stderr,
					"pvkit: domain %s ended within %d s "
					"of starting %d times in a row; not "
					"restarting it\n",
					c->name, RESTART_QUICK_S, quick);
				break;
			}
			fprintf(stderr,
				"pvkit: domain %s ended within %d s of "
				"starting; restarting in %u ms\n",
				c->name, RESTART_QUICK_S, delay_ms);
			usleep(delay_ms * 1000u);
			delay_ms = delay_ms * 2 > 8000 ? 8000 : delay_ms * 2;
		} else {
			quick = 0;
			delay_ms = 500;
		}
		paused = false;
		if (domain_build(ts, plat, c, &d, &chan_fd))
			break;
	}
out:
	pvk_platform_close(plat);
	xlcfg_domain_free(c);
	return rc;
}

/* The vm path of domain d ("/vm/<uuid>"), or NULL. */
static char *vm_path(struct xs_client *xs, domid_t d)
{
	char path[64], *vm = NULL;

	snprintf(path, sizeof(path), "/local/domain/%u/vm", d);
	if (xs_read(xs, XS_TX_NONE, path, &vm, NULL))
		return NULL;
	return vm;
}

/* Whether a live domain has this uuid (*d: which). */
static bool uuid_in_use(struct ts *ts, struct pvk_platform *plat,
			const char *uuid, domid_t *d)
{
	struct pvk_dominfo info[256];
	struct xs_client *xs = NULL;
	bool used = false;
	int n, i;

	if (ts_xs_open(ts, &xs))
		return false;
	n = plat->domctl->list(plat, 0, info, 256);
	for (i = 0; i < n && !used; i++) {
		char *vm = vm_path(xs, info[i].domid);

		used = vm && !strncmp(vm, "/vm/", 4) && !strcmp(vm + 4, uuid);
		if (used)
			*d = info[i].domid;
		free(vm);
	}
	xs_client_close(xs);
	return used;
}

int cmd_create(struct ts *ts, int argc, char **argv)
{
	struct xlcfg_domain *c = NULL;
	struct pvk_platform *plat = NULL;
	char self[300], a_dom[16], a_fd[16], a_ready[16], mlog[400];
	const char *cfgpath = NULL;
	char **set = NULL, **margv = NULL;
	int chan_fd = -1, pfd[2] = {-1, -1}, rc = 1, null_fd, mlog_fd;
	int nset = 0, i, k;
	bool paused = false, console = false, quiet = false;
	domid_t d, got;
	pid_t m;

	/* xl create [-q] [-p] [-c] [-f CFG | CFG] [KEY=VALUE...] */
	set = calloc((size_t)argc + 1, sizeof(*set));
	margv = calloc((size_t)argc + 8, sizeof(*margv));
	if (!set || !margv) {
		fprintf(stderr, "pvkit: create: out of memory\n");
		goto out;
	}
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-p")) {
			paused = true;
		} else if (!strcmp(a, "-c")) {
			console = true;
		} else if (!strcmp(a, "-q")) {
			quiet = true;
		} else if (!strcmp(a, "-f") && i + 1 < argc && !cfgpath) {
			cfgpath = argv[++i];
		} else if (a[0] == '-') {
			fprintf(stderr,
				"pvkit: create: unknown option '%s'\n"
				"usage: pvkit create [-p] [-c] [-q] "
				"[-f CFG | CFG] [KEY=VALUE...]\n",
				a);
			rc = 2;
			goto out;
		} else if (strchr(a, '=')) {
			set[nset++] = argv[i];
		} else if (!cfgpath) {
			cfgpath = a;
		} else {
			fprintf(stderr,
				"pvkit: create: '%s': one config only "
				"(settings are KEY=VALUE)\n",
				a);
			rc = 2;
			goto out;
		}
	}
	if (!cfgpath) {
		fprintf(stderr, "usage: pvkit create [-p] [-c] [-q] [-f CFG | "
				"CFG] [KEY=VALUE...]\n");
		rc = 2;
		goto out;
	}
	if (load_cfg(ts, cfgpath, set, nset, true, &c))
		goto out;
	if (vif_macs(NULL, 0, c->vifs, c->nvifs)) {
		fprintf(stderr, "pvkit: %s: vif: cannot pick a MAC\n", cfgpath);
		goto out;
	}
	if (ts_dom0(ts, &plat))
		goto out;
	if (ts_find(plat, c->name, &d) == 0) {
		fprintf(stderr, "pvkit: a domain named '%s' already exists\n",
			c->name);
		goto out;
	}
	if (c->uuid[0] && uuid_in_use(ts, plat, c->uuid, &d)) {
		fprintf(stderr, "pvkit: %s: uuid: %s is domain %u's already\n",
			cfgpath, c->uuid, d);
		goto out;
	}
	if (pipe(pfd) < 0 || domain_build(ts, plat, c, &d, &chan_fd))
		goto out;
	ts_helper(ts, "PVKIT_SELF", "pvkit", self, sizeof(self));
	snprintf(a_dom, sizeof(a_dom), "%u", d);
	snprintf(a_fd, sizeof(a_fd), "%d", chan_fd);
	snprintf(a_ready, sizeof(a_ready), "%d", pfd[1]);
	/* The monitor outlives this command: it must not keep the caller's
	 * terminal or pipes (`out=$(pvkit create ...)` would wait for the
	 * domain to end).  Its own messages go to <state>/monitor-<name>.log,
	 * as xl's go to xl-<name>.log. */
	snprintf(mlog, sizeof(mlog), "%s/monitor-%s.log", ts->state, c->name);
	null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	mlog_fd = open(mlog, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	m = fork();
	if (m == 0) {
		setsid();
		if (null_fd >= 0)
			dup2(null_fd, 0);
		if (mlog_fd >= 0) {
			dup2(mlog_fd, 1);
			dup2(mlog_fd, 2);
		}
		fcntl(chan_fd, F_SETFD, 0);
		fcntl(pfd[1], F_SETFD, 0);
		close(pfd[0]);
		k = 0;
		margv[k++] = "pvkit";
		margv[k++] = "__monitor";
		margv[k++] = (char *)cfgpath;
		margv[k++] = a_dom;
		margv[k++] = a_fd;
		margv[k++] = a_ready;
		margv[k++] = paused ? "1" : "0";
		for (i = 0; i < nset; i++)
			margv[k++] = set[i];
		margv[k] = NULL;
		execv("/proc/self/exe", margv);
		_exit(127);
	}
	close(pfd[1]);
	close(chan_fd);
	if (null_fd >= 0)
		close(null_fd);
	if (mlog_fd >= 0)
		close(mlog_fd);
	if (m < 0 || read(pfd[0], &got, sizeof(got)) != sizeof(got) ||
	    got != d) {
		fprintf(stderr, "pvkit: domain %u did not start\n", d);
		goto out;
	}
	if (!quiet)
		printf("Parsing config from %s\nDomain %u (%s) created\n",
		       cfgpath, d, c->name);
	rc = 0;
	if (console) { /* xl create -c: the console at once */
		char *cargv[] = {"console", c->name, NULL};

		fflush(stdout);
		rc = cmd_console(ts, 2, cargv);
	}
out:
	if (pfd[0] >= 0)
		close(pfd[0]);
	pvk_platform_close(plat);
	xlcfg_domain_free(c);
	free(set);
	free(margv);
	return rc;
}

static const char *state_str(const struct pvk_dominfo *i, char buf[7])
{
	strcpy(buf, "------");
	if (i->flags & PVK_DOMINFO_RUNNING)
		buf[0] = 'r';
	if (i->flags & PVK_DOMINFO_BLOCKED)
		buf[1] = 'b';
	if (i->flags & PVK_DOMINFO_PAUSED)
		buf[2] = 'p';
	if (i->flags & PVK_DOMINFO_SHUTDOWN)
		buf[3] = 's';
	if ((i->flags & PVK_DOMINFO_SHUTDOWN) &&
	    i->shutdown_reason == SHUTDOWN_crash)
		buf[4] = 'c';
	if (i->flags & PVK_DOMINFO_DYING)
		buf[5] = 'd';
	return buf;
}

/* A domain's vifs as JSON objects (devid, mac, bridge, interface,
 * backend state), from the backend directories Dom0 owns. */
static void json_vifs(struct xs_client *xs, domid_t d)
{
	char dir[96], **ids = NULL, *mac, *br, *ifn;
	unsigned int n = 0, i;

	snprintf(dir, sizeof(dir), "/local/domain/0/backend/vif/%u", d);
	if (xs_directory(xs, XS_TX_NONE, dir, &ids, &n))
		return;
	for (i = 0; i < n; i++) {
		char be[160];

		snprintf(be, sizeof(be), "%s/%s", dir, ids[i]);
		mac = ts_dev_read_str(xs, be, "mac");
		br = ts_dev_read_str(xs, be, "bridge");
		ifn = ts_dev_read_str(xs, be, "vifname");
		printf("%s{\"devid\": %s, \"mac\": \"%s\", \"bridge\": \"%s\", "
		       "\"interface\": \"",
		       i ? ", " : "", ids[i], mac ? mac : "", br ? br : "");
		if (ifn && *ifn)
			printf("%s", ifn);
		else
			printf("vif%u.%s", d, ids[i]);
		printf("\", \"state\": %ld}", ts_dev_read_num(xs, be, "state"));
		free(mac);
		free(br);
		free(ifn);
	}
	free(ids); /* the names too: one allocation */
}

/* xl list -l: each domain's state and configuration as JSON. */
static void list_long(struct ts *ts, const struct pvk_dominfo *info, int n)
{
	char path[400], st[7], buf[65536];
	int i;

	printf("[");
	for (i = 0; i < n; i++) {
		size_t got = 0;
		FILE *f;

		printf("%s\n  {\"domid\": %u, \"name\": ", i ? "," : "",
		       info[i].domid);
		json_str(stdout, info[i].name);
		printf(
		    ", \"state\": \"%s\", \"cpu_time\": %.1f, "
		    "\"mem_kib\": %llu, \"vcpus\": %u, \"config\": ",
		    state_str(&info[i], st), (double)info[i].cpu_time_ns / 1e9,
		    (unsigned long long)info[i].tot_pages * 4, info[i].vcpus);
		config_path(ts, info[i].domid, path, sizeof(path));
		f = info[i].domid ? fopen(path, "re") : NULL;
		if (f) {
			got = fread(buf, 1, sizeof(buf) - 1, f);
			fclose(f);
		}
		while (got && (buf[got - 1] == '\n' || buf[got - 1] == ' '))
			got--;
		if (got && buf[0] == '{' && buf[got - 1] == '}')
			printf("%.*s}", (int)got, buf);
		else if (!info[i].domid)
			printf("{\"c_info\": {\"type\": \"pv\", \"name\": "
			       "\"Domain-0\"}}}");
		else
			printf("null}"); /* not created by this toolstack */
	}
	printf("\n]\n");
}

int cmd_list(struct ts *ts, int argc, char **argv)
{
	struct pvk_dominfo info[256];
	struct pvk_platform *plat;
	bool json = argc == 2 && !strcmp(argv[1], "--json");
	bool lng =
	    argc == 2 && (!strcmp(argv[1], "-l") || !strcmp(argv[1], "--long"));
	char st[7];
	int n, i;

	if (argc > 2 || (argc == 2 && !json && !lng)) {
		fprintf(stderr, "usage: pvkit list [-l | --json]\n");
		return 2;
	}
	if (ts_dom0(ts, &plat))
		return 1;
	n = plat->domctl->list(plat, 0, info, 256);
	if (n < 0) {
		fprintf(stderr, "pvkit: list: %s\n", strerror(-n));
		pvk_platform_close(plat);
		return 1;
	}
	if (lng) {
		list_long(ts, info, n);
	} else if (json) {
		struct xs_client *xs = NULL;

		if (ts_xs_open(ts, &xs))
			xs = NULL; /* no vifs shown */
		printf("[");
		for (i = 0; i < n; i++) {
			printf("%s\n  {\"domid\": %u, \"name\": \"%s\", "
			       "\"mem_kib\": %llu, \"maxmem_kib\": %llu, "
			       "\"vcpus\": %u, \"state\": \"%s\", \"vifs\": [",
			       i ? "," : "", info[i].domid, info[i].name,
			       (unsigned long long)info[i].tot_pages * 4,
			       (unsigned long long)info[i].max_pages * 4,
			       info[i].vcpus, state_str(&info[i], st));
			if (xs)
				json_vifs(xs, info[i].domid);
			printf("]}");
		}
		printf("\n]\n");
		xs_client_close(xs);
	} else {
		/* xl list's columns */
		printf("%-32s %5s %7s %5s %6s %9s\n", "Name", "ID", "Mem",
		       "VCPUs", "State", "Time(s)");
		for (i = 0; i < n; i++)
			printf("%-32s %5u %7llu %5u %6s %9.1f\n", info[i].name,
			       info[i].domid,
			       (unsigned long long)info[i].tot_pages / 256,
			       info[i].vcpus, state_str(&info[i], st),
			       (double)info[i].cpu_time_ns / 1e9);
	}
	pvk_platform_close(plat);
	return 0;
}

static int one_domain(struct ts *ts, int argc, char **argv,
		      struct pvk_platform **plat, domid_t *d, const char *verb)
{
	if (argc != 2) {
		fprintf(stderr, "usage: pvkit %s DOMAIN\n", verb);
		return 2;
	}
	if (ts_dom0(ts, plat))
		return 1;
	if (ts_lookup(*plat, argv[1], d)) {
		pvk_platform_close(*plat);
		return 1;
	}
	if (*d == 0) {
		fprintf(stderr, "pvkit: %s: not for Domain-0\n", verb);
		pvk_platform_close(*plat);
		return 1;
	}
	return 0;
}

/* xl domid NAME / xl domname ID: the one printed from the other. */
int cmd_domid(struct ts *ts, int argc, char **argv, bool name)
{
	struct pvk_dominfo info;
	struct pvk_platform *plat;
	domid_t d;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: pvkit %s\n",
			name ? "domname ID" : "domid NAME");
		return 2;
	}
	if (ts_dom0(ts, &plat))
		return 1;
	rc = ts_lookup(plat, argv[1], &d);
	if (!rc && name)
		rc = plat->domctl->info(plat, d, &info);
	if (!rc) {
		if (name)
			printf("%s\n", info.name);
		else
			printf("%u\n", d);
	}
	pvk_platform_close(plat);
	return rc ? 1 : 0;
}

/* <state>/domain-<d>.json's c_info name from old to new (list -l). */
static void config_rename(const struct ts *ts, domid_t d, const char *old,
			  const char *new)
{
	char path[400], tmp[420], want[96], repl[96], *text = NULL, *at;
	long len;
	FILE *f;

	/* the name as config_save wrote it (json_str: a valid name needs no
	 * escaping, xlcfg_name_valid) */
	snprintf(want, sizeof(want), "\"name\": \"%s\"", old);
	snprintf(repl, sizeof(repl), "\"name\": \"%s\"", new);
	config_path(ts, d, path, sizeof(path));
	f = fopen(path, "re");
	if (!f)
		return;
	if (!fseek(f, 0, SEEK_END) && (len = ftell(f)) > 0 &&
	    !fseek(f, 0, SEEK_SET) && (text = calloc(1, (size_t)len + 1)) &&
	    fread(text, 1, (size_t)len, f) != (size_t)len) {
		free(text);
		text = NULL;
	}
	fclose(f);
	at = text ? strstr(text, want) : NULL;
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	if (at && (f = fopen(tmp, "we"))) {
		fwrite(text, 1, (size_t)(at - text), f);
		fputs(repl, f);
		fputs(at + strlen(want), f);
		if (fclose(f) == 0)
			rename(tmp, path);
	}
	free(text);
}

/* xl rename DOM NEWNAME: the hypervisor's name (where it keeps one),
 * /local/domain/<id>/name and /vm/<uuid>/name, the saved configuration;
 * the domain's monitor restarts it under the new name. */
int cmd_rename(struct ts *ts, int argc, char **argv)
{
	struct pvk_platform *plat;
	struct pvk_dominfo info;
	struct xs_client *xs = NULL;
	char path[96], old[sizeof(info.name)], *vm = NULL;
	domid_t d, other;
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: pvkit rename DOM NEWNAME\n");
		return 2;
	}
	if (!xlcfg_name_valid(argv[2])) {
		fprintf(stderr,
			"pvkit: rename: bad domain name '%.80s' "
			"(" XLCFG_NAME_RULES ")\n",
			argv[2]);
		return 2;
	}
	rc = one_domain(ts, argc - 1, argv, &plat, &d, "rename");
	if (rc)
		return rc;
	rc = 1;
	if (plat->domctl->info(plat, d, &info))
		goto out;
	snprintf(old, sizeof(old), "%s", info.name);
	if (ts_find(plat, argv[2], &other) == 0) {
		if (other == d) { /* already so named, as xl: nothing to do */
			rc = 0;
			goto out;
		}
		fprintf(stderr,
			"pvkit: rename: domain %u is already named %s\n", other,
			argv[2]);
		goto out;
	}
	if (plat->domctl->rename) {
		int e = plat->domctl->rename(plat, d, argv[2]);

		if (e) {
			fprintf(stderr, "pvkit: rename: %s: %s\n", argv[1],
				e == -EEXIST ? "another domain has that name"
					     : strerror(-e));
			goto out;
		}
	}
	if (ts_xs_open(ts, &xs)) {
		fprintf(stderr,
			"pvkit: rename: xenstore unreachable: %s keeps its old "
			"name there\n",
			argv[1]);
		goto out;
	}
	snprintf(path, sizeof(path), "/local/domain/%u/name", d);
	rc = xs_write_str(xs, XS_TX_NONE, path, argv[2]);
	vm = vm_path(xs, d);
	if (!rc && vm) {
		char vpath[160];

		snprintf(vpath, sizeof(vpath), "%s/name", vm);
		rc = xs_write_str(xs, XS_TX_NONE, vpath, argv[2]);
	}
	if (rc)
		fprintf(stderr, "pvkit: rename: xenstore: %s\n", strerror(-rc));
	config_rename(ts, d, old, argv[2]);
	rc = rc ? 1 : 0;
out:
	free(vm);
	xs_client_close(xs);
	pvk_platform_close(plat);
	return rc;
}

int cmd_destroy(struct ts *ts, int argc, char **argv)
{
	struct pvk_platform *plat;
	domid_t d;
	int rc = one_domain(ts, argc, argv, &plat, &d, "destroy");

	if (rc)
		return rc;
	domain_cleanup(ts, plat, d);
	pvk_platform_close(plat);
	return 0;
}

int cmd_pause(struct ts *ts, int argc, char **argv, bool pause)
{
	struct pvk_platform *plat;
	domid_t d;
	int rc =
	    one_domain(ts, argc, argv, &plat, &d, pause ? "pause" : "unpause");

	if (rc)
		return rc;
	/* Pauses are counted, as Xen's: each needs its unpause. */
	rc = pause ? plat->domctl->pause(plat, d)
		   : plat->domctl->unpause(plat, d);
	if (rc == -EINVAL && !pause)
		fprintf(stderr, "pvkit: unpause %s: the domain is not paused\n",
			argv[1]);
	else if (rc == -EOVERFLOW)
		fprintf(stderr,
			"pvkit: pause %s: paused 255 times already (the "
			"limit); unpause it first\n",
			argv[1]);
	else if (rc)
		fprintf(stderr, "pvkit: %s %s: %s\n",
			pause ? "pause" : "unpause", argv[1], strerror(-rc));
	pvk_platform_close(plat);
	return rc ? 1 : 0;
}

/* Ask domain d's PV control driver to power off or reboot (what): 0, or
 * -errno (printed). */
static int shutdown_request(struct xs_client *xs, domid_t d, const char *what)
{
	char path[64], *feat = NULL;
	size_t len;
	int rc;

	/* Like xl: refuse when the guest has no PV control driver. */
	snprintf(path, sizeof(path), "/local/domain/%u/control/feature-%s", d,
		 what);
	if (xs_read(xs, XS_TX_NONE, path, &feat, &len) < 0) {
		fprintf(stderr,
			"pvkit: domain %u has no PV control driver "
			"(control/feature-%s missing)\n",
			d, what);
		return -EOPNOTSUPP;
	}
	free(feat);
	snprintf(path, sizeof(path), "/local/domain/%u/control/shutdown", d);
	rc = xs_write_str(xs, XS_TX_NONE, path, what);
	if (rc)
		fprintf(stderr, "pvkit: %s domain %u: %s\n", what, d,
			strerror(-rc));
	return rc;
}

/* xl shutdown|reboot [-a] [-w] [DOM]: -a every domain but Domain-0; -w
 * waits (30 s) for each to go away (or come back, for reboot), or to stay
 * shut down (on_poweroff="preserve" keeps it). */
int cmd_shutdown(struct ts *ts, int argc, char **argv, const char *what)
{
	struct xs_client *xs = NULL;
	struct pvk_platform *plat = NULL;
	struct pvk_dominfo info[256];
	domid_t doms[256];
	bool wait = false, all = false, done[256] = {false};
	const char *name = NULL;
	int rc = 0, i, n = 0, left, t;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-w"))
			wait = true;
		else if (!strcmp(argv[i], "-a"))
			all = true;
		else if (argv[i][0] != '-' && !name)
			name = argv[i];
		else
			break;
	}
	if (i < argc || all == !!name) {
		fprintf(stderr, "usage: pvkit %s [-w] DOMAIN | -a [-w]\n",
			!strcmp(what, "poweroff") ? "shutdown" : "reboot");
		return 2;
	}
	if (ts_dom0(ts, &plat))
		return 1;
	if (all) {
		int k, nd = plat->domctl->list(plat, 0, info, 256);

		for (k = 0; k < nd; k++)
			if (info[k].domid != 0 &&
			    !(info[k].flags &
			      (PVK_DOMINFO_SHUTDOWN | PVK_DOMINFO_DYING)))
				doms[n++] = info[k].domid;
	} else if (ts_lookup(plat, name, &doms[0])) {
		rc = -ESRCH;
		goto out;
	} else if (doms[0] == 0) {
		fprintf(stderr, "pvkit: %s: not for Domain-0\n", what);
		rc = -EINVAL;
		goto out;
	} else {
		n = 1;
	}
	rc = ts_xs_open(ts, &xs);
	if (rc) {
		fprintf(stderr, "pvkit: cannot reach xenstored at %s\n",
			ts->xs_sock);
		goto out;
	}
	for (i = 0; i < n; i++) {
		int r = shutdown_request(xs, doms[i], what);

		if (r) {
			done[i] = true; /* not waited for */
			rc = r;
		}
	}
	if (!wait)
		goto out;
	if (all)
		printf("Waiting for %d domains\n", n);
	for (t = 0, left = n; left && t < 3000; t++) {
		struct pvk_dominfo di;

		for (i = 0, left = 0; i < n; i++) {
			if (done[i])
				continue;
			if (plat->domctl->info(plat, doms[i], &di) ||
			    (di.flags & PVK_DOMINFO_SHUTDOWN)) {
				done[i] = true;
				printf("Domain %u shut down\n", doms[i]);
				continue;
			}
			left++;
		}
		if (left)
			usleep(10000);
	}
	for (i = 0; i < n; i++) {
		if (!done[i]) {
			fprintf(stderr,
				"pvkit: domain %u did not shut down in 30 s\n",
				doms[i]);
			rc = -ETIMEDOUT;
		}
	}
out:
	xs_client_close(xs);
	pvk_platform_close(plat);
	return rc ? 1 : 0;
}

/* Whether w is one of the space-separated words of list. */
static bool word_in(const char *list, const char *w)
{
	size_t n = strlen(w);
	const char *p = list;

	while ((p = strstr(p, w))) {
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || !p[n]))
			return true;
		p += n;
	}
	return false;
}

/* How many vifs the host serves, and on which bridges. */
static void info_vifs(struct ts *ts)
{
	struct xs_client *xs = NULL;
	char **doms = NULL, **ids = NULL, *br, bridges[256] = "";
	unsigned int nd = 0, ni, i, j, total = 0;
	const char *base = "/local/domain/0/backend/vif";

	if (ts_xs_open(ts, &xs))
		return;
	if (!xs_directory(xs, XS_TX_NONE, base, &doms, &nd)) {
		for (i = 0; i < nd; i++) {
			char dir[96];

			snprintf(dir, sizeof(dir), "%s/%s", base, doms[i]);
			ni = 0;
			if (!xs_directory(xs, XS_TX_NONE, dir, &ids, &ni)) {
				for (j = 0; j < ni; j++) {
					char be[160];

					snprintf(be, sizeof(be), "%s/%s", dir,
						 ids[j]);
					br = ts_dev_read_str(xs, be, "bridge");
					if (br && *br &&
					    !word_in(bridges, br) &&
					    strlen(bridges) + strlen(br) + 2 <
						sizeof(bridges))
						snprintf(
						    bridges + strlen(bridges),
						    sizeof(bridges) -
							strlen(bridges),
						    "%s%s", *bridges ? " " : "",
						    br);
					free(br);
				}
				free(ids); /* and the names */
				ids = NULL;
			}
			total += ni;
		}
		free(doms);
	}
	printf("nr_vifs                : %u\n", total);
	printf("vif_bridges            : %s\n", bridges);
	xs_client_close(xs);
}

/* A number from a "key : value" line of a /proc file (0: none). */
static double proc_num(const char *file, const char *key)
{
	char line[256];
	size_t n = strlen(key);
	double v = 0;
	FILE *f = fopen(file, "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char *p = line + n;

		if (strncmp(line, key, n) ||
		    (*p != ':' && *p != ' ' && *p != '\t'))
			continue;
		p += strspn(p, " \t:");
		v = strtod(p, NULL);
		break;
	}
	fclose(f);
	return v;
}

/* xl info: the host and the hypervisor, with xl's fields in xl's order
 * (those that mean something here), then pvkit's own. */
int cmd_info(struct ts *ts, int argc, char **argv)
{
	struct pvk_dominfo info[256];
	struct pvk_platform *plat;
	unsigned int major = 0, minor = 0;
	struct utsname u;
	char path[300], cmd[512] = "";
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	bool emu;
	int n, fd;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: pvkit info\n");
		return 2;
	}
	if (ts_dom0(ts, &plat))
		return 1;
	emu = !strcmp(plat->name, "emulated");
	plat->domctl->version(plat, &major, &minor);
	n = plat->domctl->list(plat, 0, info, 256);
	if (uname(&u) < 0)
		memset(&u, 0, sizeof(u));
	printf("host                   : %s\n", u.nodename);
	printf("release                : %s\n", u.release);
	printf("version                : %s\n", u.version);
	printf("machine                : %s\n", u.machine);
	printf("nr_cpus                : %ld\n", ncpu);
	printf("max_cpu_id             : %ld\n", ncpu - 1);
	printf("cpu_mhz                : %.3f\n",
	       proc_num("/proc/cpuinfo", "cpu MHz"));
	/* The emulated hypervisor's memory is the host's: guests' memory
	 * files are taken from what the kernel has available. */
	printf("total_memory           : %.0f\n",
	       proc_num("/proc/meminfo", "MemTotal") / 1024);
	printf("free_memory            : %.0f\n",
	       proc_num("/proc/meminfo", "MemAvailable") / 1024);
	printf("xen_major              : %u\n", major);
	printf("xen_minor              : %u\n", minor);
	printf("xen_extra              : %s\n", emu ? "-pvkit" : "");
	printf("xen_version            : %u.%u%s\n", major, minor,
	       emu ? "-pvkit" : "");
	printf("xen_caps               : %s\n",
	       emu ? "pvh-style guests as processes" : "");
	printf("xen_scheduler          : %s\n",
	       emu ? "the host's (vCPUs are threads)" : "");
	printf("xen_pagesize           : %ld\n", sysconf(_SC_PAGESIZE));
	/* pvkit-hvd's command line, as xl shows Xen's */
	snprintf(path, sizeof(path), "%s/hvd.pid", ts->state);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (emu && fd >= 0) {
		char pid[32] = "";
		ssize_t k = read(fd, pid, sizeof(pid) - 1);

		if (k > 0) {
			pid[k] = 0;
			snprintf(path, sizeof(path), "/proc/%d/cmdline",
				 atoi(pid));
			close(fd);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			k = fd >= 0 ? read(fd, cmd, sizeof(cmd) - 1) : -1;
			if (k > 0) {
				ssize_t i;

				cmd[k] = 0;
				for (i = 0; i < k - 1; i++)
					if (!cmd[i])
						cmd[i] = ' ';
			}
		}
	}
	if (fd >= 0)
		close(fd);
	printf("xen_commandline        : %s\n", cmd);
#ifdef __clang__
	printf("cc_compiler            : %s\n", __VERSION__);
#else
	printf("cc_compiler            : %s\n", "gcc " __VERSION__);
#endif
	printf("xend_config_format     : 4\n");
	printf("nr_domains             : %d\n", n);
	info_vifs(ts);
	printf("state_dir              : %s\n", ts->state);
	pvk_platform_close(plat);
	return 0;
}

/* Whether domain di is one of names[0..n) (its name or id, as ts_find
 * reads them), or n is 0: the verbs that take an optional list. */
static bool dom_named(const struct pvk_dominfo *di, char **names, int n)
{
	int j;

	for (j = 0; j < n; j++) {
		char *end;
		unsigned long id = strtoul(names[j], &end, 10);

		if ((*names[j] && !*end && id == di->domid) ||
		    !strcmp(di->name, names[j]))
			return true;
	}
	return n == 0;
}

/* xl's uptime format: "[D day(s), ]H:MM:SS". */
static void uptime_str(uint64_t s, char *out, size_t len)
{
	uint64_t days = s / 86400;

	s %= 86400;
	if (days)
		snprintf(out, len, "%llu day%s, %2llu:%02llu:%02llu",
			 (unsigned long long)days, days == 1 ? "" : "s",
			 (unsigned long long)(s / 3600),
			 (unsigned long long)(s / 60 % 60),
			 (unsigned long long)(s % 60));
	else
		snprintf(out, len, "%2llu:%02llu:%02llu",
			 (unsigned long long)(s / 3600),
			 (unsigned long long)(s / 60 % 60),
			 (unsigned long long)(s % 60));
}

/* Seconds since domain d started: its /vm/<uuid>/start_time; Domain-0's
 * is the host's, pvkit-hvd's start.  -1: unknown. */
static int64_t dom_uptime(struct ts *ts, struct xs_client *xs, domid_t d)
{
	struct timespec now;
	char *vm, path[400], *v = NULL, *end;
	double start;

	clock_gettime(CLOCK_REALTIME, &now);
	if (d == 0) {
		struct stat st;

		snprintf(path, sizeof(path), "%s/hvd.pid", ts->state);
		if (stat(path, &st) < 0)
			return -1;
		return (int64_t)now.tv_sec - (int64_t)st.st_mtim.tv_sec;
	}
	vm = vm_path(xs, d);
	if (!vm)
		return -1;
	snprintf(path, sizeof(path), "%s/start_time", vm);
	free(vm);
	if (xs_read(xs, XS_TX_NONE, path, &v, NULL))
		return -1;
	start = strtod(v, &end);
	if (end == v || start <= 0 || start > (double)now.tv_sec + 1) {
		free(v);
		return -1;
	}
	free(v);
	return (int64_t)now.tv_sec - (int64_t)start;
}

/* xl uptime [-s] [DOMAIN...]: how long each domain has run. */
int cmd_uptime(struct ts *ts, int argc, char **argv)
{
	struct pvk_dominfo info[256];
	struct pvk_platform *plat = NULL;
	struct xs_client *xs = NULL;
	bool shrt = false, header = true;
	int n, i, j, first = 1, rc = 0;
	char up[48];

	if (argc > 1 && !strcmp(argv[1], "-s")) {
		shrt = true;
		first = 2;
	}
	for (j = first; j < argc; j++)
		if (argv[j][0] == '-') {
			fprintf(stderr,
				"usage: pvkit uptime [-s] [DOMAIN...]\n");
			return 2;
		}
	if (ts_dom0(ts, &plat))
		return 1;
	if (ts_xs_open(ts, &xs)) {
		fprintf(stderr, "pvkit: uptime: cannot reach xenstored at %s\n",
			ts->xs_sock);
		pvk_platform_close(plat);
		return 1;
	}
	n = plat->domctl->list(plat, 0, info, 256);
	for (j = first; j < argc; j++) {
		domid_t d;

		if (ts_lookup(plat, argv[j], &d))
			rc = 1;
	}
	for (i = 0; i < n && !rc; i++) {
		int64_t s;

		if (!dom_named(&info[i], argv + first, argc - first))
			continue;
		s = dom_uptime(ts, xs, info[i].domid);
		if (s < 0)
			snprintf(up, sizeof(up), "%s", "-");
		else
			uptime_str((uint64_t)s, up, sizeof(up));
		if (shrt) {
			time_t t = time(NULL);
			struct tm tm;

			localtime_r(&t, &tm);
			printf("%2d:%02d:%02d up %s, %s (%u)\n", tm.tm_hour,
			       tm.tm_min, tm.tm_sec, up, info[i].name,
			       info[i].domid);
			continue;
		}
		if (header)
			printf("%-33s %4s %s\n", "Name", "ID", "Uptime");
		header = false;
		printf("%-33s %4u %s\n", info[i].name, info[i].domid, up);
	}
	xs_client_close(xs);
	pvk_platform_close(plat);
	return rc;
}

/* Host CPUs in set as xl prints them: "all", or "0-1,3". */
static void cpus_str(const cpu_set_t *set, char *out, size_t len)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN), i, lo = -1;
	size_t o = 0;
	int cnt = 0;

	out[0] = 0;
	for (i = 0; i < n; i++)
		cnt += CPU_ISSET((int)i, set) ? 1 : 0;
	if (cnt == n) {
		snprintf(out, len, "all");
		return;
	}
	for (i = 0; i <= n; i++) {
		bool in = i < n && CPU_ISSET((int)i, set);

		if (in && lo < 0)
			lo = i;
		if (!in && lo >= 0 && o < len) {
			o += (size_t)snprintf(out + o, len - o, "%s%ld",
					      o ? "," : "", lo);
			if (i - 1 > lo && o < len)
				o += (size_t)snprintf(out + o, len - o, "-%ld",
						      i - 1);
			lo = -1;
		}
	}
}

#define PVK_MAX_VCPUS_LIST 128 /* more than pvkit-hvd builds */

/* One vCPU thread's row: CPU, state, CPU seconds, affinity. */
static void vcpu_row(const struct pvk_dominfo *di, pid_t pid, pid_t tid,
		     unsigned int vcpu)
{
	char path[64], buf[1024], *p, st = '?', aff[64] = "all";
	unsigned long long ut = 0, stt = 0;
	int cpu = -1, field;
	cpu_set_t set;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid,
		 (int)tid);
	f = fopen(path, "re");
	if (!f || !fgets(buf, sizeof(buf), f)) {
		if (f)
			fclose(f);
		return;
	}
	fclose(f);
	p = strrchr(buf, ')'); /* after the name, which may hold spaces */
	if (!p)
		return;
	/* field 3 is the state; 14, 15 utime, stime; 39 the last CPU */
	for (field = 3, p += 2; *p; field++) {
		if (field == 3)
			st = *p;
		else if (field == 14)
			ut = strtoull(p, NULL, 10);
		else if (field == 15)
			stt = strtoull(p, NULL, 10);
		else if (field == 39)
			cpu = atoi(p);
		p = strchr(p, ' ');
		if (!p)
			break;
		p++;
	}
	CPU_ZERO(&set);
	if (sched_getaffinity(tid, sizeof(set), &set) == 0)
		cpus_str(&set, aff, sizeof(aff));
	printf("%-32s %5u %5u %5d   %c%c%c %9.1f  %s / all\n", di->name,
	       di->domid, vcpu, cpu, st == 'R' ? 'r' : '-',
	       st == 'S' || st == 'D' ? 'b' : '-',
	       (di->flags & PVK_DOMINFO_PAUSED) || st == 'T' ? 'p' : '-',
	       (double)(ut + stt) / (double)sysconf(_SC_CLK_TCK), aff);
}

/* xl vcpu-list [DOM...]: each vCPU, the host CPU it last ran on, its
 * state (r running, b blocked, p paused), CPU seconds and affinity.  A
 * DomU's vCPUs are its kernel's "vcpuN" threads. */
int cmd_vcpu_list(struct ts *ts, int argc, char **argv)
{
	struct pvk_dominfo info[256];
	struct pvk_platform *plat;
	int n, i, j, rc = 0;

	for (j = 1; j < argc; j++)
		if (argv[j][0] == '-') {
			fprintf(stderr, "usage: pvkit vcpu-list [DOMAIN...]\n");
			return 2;
		}
	if (ts_dom0(ts, &plat))
		return 1;
	for (j = 1; j < argc; j++) {
		domid_t d;

		if (ts_lookup(plat, argv[j], &d))
			rc = 1;
	}
	n = rc ? 0 : plat->domctl->list(plat, 0, info, 256);
	if (!rc)
		printf("%-32s %5s %5s %5s %5s %9s  %s\n", "Name", "ID", "VCPU",
		       "CPU", "State", "Time(s)", "Affinity (Hard / Soft)");
	for (i = 0; i < n; i++) {
		char path[400], comm[32];
		int tids[PVK_MAX_VCPUS_LIST] = {0};
		DIR *dir;
		struct dirent *de;
		FILE *f;
		int pid = 0, shown;

		if (!dom_named(&info[i], argv + 1, argc - 1))
			continue;
		if (info[i].domid == 0) { /* the toolstack's side: no threads */
			printf("%-32s %5u %5u %5s   r-- %9.1f  all / all\n",
			       info[i].name, 0, 0, "-",
			       (double)info[i].cpu_time_ns / 1e9);
			continue;
		}
		kernel_pid_path(ts, info[i].domid, path, sizeof(path));
		f = fopen(path, "re");
		if (!f || fscanf(f, "%d", &pid) != 1 || pid <= 0) {
			if (f)
				fclose(f);
			printf(
			    "%-32s %5u     - (its kernel process is not known "
			    "here)\n",
			    info[i].name, info[i].domid);
			continue;
		}
		fclose(f);
		snprintf(path, sizeof(path), "/proc/%d/task", pid);
		dir = opendir(path);
		if (!dir) {
			printf("%-32s %5u     - (no kernel process: %s)\n",
			       info[i].name, info[i].domid,
			       info[i].flags & PVK_DOMINFO_SHUTDOWN
				   ? "shut down"
				   : "gone");
			continue;
		}
		/* one pass over the threads: which one is each vcpuN */
		while ((de = readdir(dir))) {
			int tid = atoi(de->d_name);
			unsigned int v;
			char tail;

			if (tid <= 0)
				continue;
			snprintf(path, sizeof(path), "/proc/%d/task/%d/comm",
				 pid, tid);
			f = fopen(path, "re");
			if (!f)
				continue;
			if (!fgets(comm, sizeof(comm), f))
				comm[0] = 0;
			fclose(f);
			comm[strcspn(comm, "\n")] = 0;
			if (sscanf(comm, "vcpu%u%c", &v, &tail) == 1 &&
			    v < info[i].vcpus && v < PVK_MAX_VCPUS_LIST)
				tids[v] = tid;
		}
		shown = 0;
		for (j = 0; j < (int)info[i].vcpus && j < PVK_MAX_VCPUS_LIST;
		     j++) {
			if (!tids[j])
				continue;
			vcpu_row(&info[i], pid, tids[j], (unsigned int)j);
			shown++;
		}
		closedir(dir);
		if (!shown)
			printf("%-32s %5u     - (its kernel, pid %d, has no "
			       "vcpuN threads: an older libpvkit?)\n",
			       info[i].name, info[i].domid, pid);
	}
	pvk_platform_close(plat);
	return rc;
}
