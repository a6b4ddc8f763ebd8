/*
 * device.c - the generic device add / remove / list of the toolstack over
 * its table of device types (device.h).  Add writes both directories in
 * one transaction as libxl__device_generic_add does; remove follows
 * xenbus as libxl's device removal does: the backend goes online=0 and
 * Closing, the frontend is given a while to close, then both directories
 * go in one transaction (also when it did not close: forced).
 */
#include "device.h"
#include "pvkit/xs.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xen/io/xenbus.h>

#define POLL_MS 20
/* A frontend Initialising this long when asked to close has no driver. */
#define UNSTARTED_MS 1000

const struct ts_devtype *const ts_device_types[] = {&ts_vbd_type,
						    &ts_vif_type, NULL};

void ts_nodes_set(struct ts_nodes *n, const char *key, const char *fmt, ...)
{
	va_list ap;
	int len;

	if (n->err)
		return;
	if (n->n == TS_DEV_MAX_NODES) {
		n->err = -E2BIG;
		return;
	}
	if (snprintf(n->kv[n->n].key, sizeof(n->kv[n->n].key), "%s", key) >=
	    (int)sizeof(n->kv[n->n].key)) {
		n->err = -ENAMETOOLONG;
		return;
	}
	va_start(ap, fmt);
	len = vsnprintf(n->kv[n->n].val, sizeof(n->kv[n->n].val), fmt, ap);
	va_end(ap);
	if (len < 0 || len >= (int)sizeof(n->kv[n->n].val)) {
		n->err = -ENAMETOOLONG;
		return;
	}
	n->n++;
}

void ts_dev_init(struct ts_dev *dev, const struct ts_devtype *t, domid_t fe,
		 uint32_t devid, const char *label)
{
	memset(dev, 0, sizeof(*dev));
	dev->type = t;
	dev->fe_dom = fe;
	dev->be_dom = 0;
	dev->devid = devid;
	snprintf(dev->id, sizeof(dev->id), "%u", devid);
	snprintf(dev->label, sizeof(dev->label), "%s", label ? label : dev->id);
	snprintf(dev->fe, sizeof(dev->fe), "/local/domain/%u/device/%s/%s", fe,
		 t->type, dev->id);
	snprintf(dev->be, sizeof(dev->be),
		 "/local/domain/%u/backend/%s/%u/%s", dev->be_dom, t->type, fe,
		 dev->id);
}

int ts_dev_from_name(struct ts_dev *dev, const struct ts_devtype *t,
		     domid_t fe, const char *name)
{
	uint32_t devid;

	if (!name || t->parse_id(name, &devid))
		return -EINVAL;
	ts_dev_init(dev, t, fe, devid, name);
	return 0;
}

int ts_dev_from_cfg(struct ts_dev *dev, const struct ts_devtype *t,
		    domid_t fe, const void *cfg)
{
	uint32_t devid;

	if (!t->cfg_devid)
		return ts_dev_from_name(dev, t, fe, t->cfg_name(cfg));
	if (t->cfg_devid(cfg, &devid))
		return -EINVAL;
	ts_dev_init(dev, t, fe, devid, NULL);
	return 0;
}

long ts_dev_read_num(struct xs_client *xs, const char *dir, const char *node)
{
	char path[256], *val = NULL, *end;
	long v;

	snprintf(path, sizeof(path), "%s/%s", dir, node);
	if (xs_read(xs, XS_TX_NONE, path, &val, NULL))
		return -1;
	v = strtol(val, &end, 10);
	if (end == val || *end)
		v = -1;
	free(val);
	return v;
}

char *ts_dev_read_str(struct xs_client *xs, const char *dir, const char *node)
{
	char path[256], *val = NULL;

	snprintf(path, sizeof(path), "%s/%s", dir, node);
	if (xs_read(xs, XS_TX_NONE, path, &val, NULL))
		return NULL;
	return val;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* ---- add -------------------------------------------------------------- */

struct add_args {
	const struct ts_dev *dev;
	struct ts_nodes be, fe; /* generic and the type's, state last */
};

/* Whether dir/state exists within tx: 1, 0, or -errno. */
static int has_state(struct xs_client *xs, xs_tx_t tx, const char *dir)
{
	char path[160], *val = NULL;
	int rc;

	snprintf(path, sizeof(path), "%s/state", dir);
	rc = xs_read(xs, tx, path, &val, NULL);
	free(val);
	if (rc == -ENOENT)
		return 0;
	return rc ? rc : 1;
}

/* mkdir dir with owner and reader, then its nodes. */
static int write_dir(struct xs_client *xs, xs_tx_t tx, const char *dir,
		     domid_t owner, domid_t reader, const struct ts_nodes *n)
{
	struct xs_perm perms[2] = {{owner, XS_PERM_NONE},
				   {reader, XS_PERM_READ}};
	char path[256];
	unsigned int i;
	int rc;

	rc = xs_mkdir(xs, tx, dir);
	if (!rc)
		rc = xs_set_perms(xs, tx, dir, perms, 2);
	for (i = 0; !rc && i < n->n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, n->kv[i].key);
		rc = xs_write_str(xs, tx, path, n->kv[i].val);
	}
	return rc;
}

static int add_tx(struct xs_client *xs, xs_tx_t tx, void *arg)
{
	struct add_args *a = arg;
	const struct ts_dev *d = a->dev;
	int rc;

	rc = has_state(xs, tx, d->be);
	if (!rc)
		rc = has_state(xs, tx, d->fe);
	if (rc)
		return rc > 0 ? -EEXIST : rc;
	rc = write_dir(xs, tx, d->be, d->be_dom, d->fe_dom, &a->be);
	if (!rc)
		rc = write_dir(xs, tx, d->fe, d->fe_dom, d->be_dom, &a->fe);
	return rc;
}

int ts_dev_add(struct xs_client *xs, const struct ts_dev *dev,
	       const void *cfg, const char *verb)
{
	struct add_args *a = calloc(1, sizeof(*a));
	int rc;

	if (!a)
		return -ENOMEM;
	a->dev = dev;
	ts_nodes_set(&a->be, "frontend", "%s", dev->fe);
	ts_nodes_set(&a->be, "frontend-id", "%u", dev->fe_dom);
	ts_nodes_set(&a->be, "online", "1");
	ts_nodes_set(&a->fe, "backend", "%s", dev->be);
	ts_nodes_set(&a->fe, "backend-id", "%u", dev->be_dom);
	rc = dev->type->nodes(cfg, dev, &a->be, &a->fe);
	ts_nodes_set(&a->be, "state", "%d", XenbusStateInitialising);
	ts_nodes_set(&a->fe, "state", "%d", XenbusStateInitialising);
	if (!rc)
		rc = a->be.err ? a->be.err : a->fe.err;
	if (!rc) {
		rc = xs_transaction_run(xs, add_tx, a);
		if (rc > 0)
			rc = 0;
	}
	if (rc == -EEXIST)
		fprintf(stderr, "pvkit: %s: domain %u already has a %s %s\n",
			verb, dev->fe_dom, dev->type->noun, dev->label);
	else if (rc)
		fprintf(stderr, "pvkit: %s %s of domain %u: %s\n",
			dev->type->noun, dev->label, dev->fe_dom,
			strerror(-rc));
	free(a);
	return rc;
}

/* ---- remove ----------------------------------------------------------- */

static int rm_tx(struct xs_client *xs, xs_tx_t tx, void *arg)
{
	const char *const *dirs = arg;
	unsigned int i;
	int rc;

	for (i = 0; dirs[i]; i++) {
		rc = xs_rm(xs, tx, dirs[i]);
		if (rc && rc != -ENOENT)
			return rc;
	}
	return 0;
}

/* Remove the NULL-terminated dirs in one transaction. */
static int rm_dirs(struct xs_client *xs, const char *const *dirs)
{
	int rc = xs_transaction_run(xs, rm_tx, (void *)dirs);

	return rc < 0 ? rc : 0;
}

static int close_tx(struct xs_client *xs, xs_tx_t tx, void *arg)
{
	const struct ts_dev *dev = arg;
	char path[160];
	int rc;

	snprintf(path, sizeof(path), "%s/online", dev->be);
	rc = xs_write_str(xs, tx, path, "0");
	if (rc)
		return rc;
	snprintf(path, sizeof(path), "%s/state", dev->be);
	return xs_printf(xs, tx, path, "%d", XenbusStateClosing);
}

int ts_dev_remove(struct xs_client *xs, const struct ts_dev *dev,
		  bool force, unsigned int wait_ms, const char *verb)
{
	const char *dirs[] = {dev->fe, dev->be, NULL};
	bool began = false;
	unsigned int i;
	long st = -1;
	int rc;

	if (ts_dev_read_num(xs, dev->be, "state") < 0 &&
	    ts_dev_read_num(xs, dev->fe, "state") < 0) {
		fprintf(stderr, "pvkit: %s: domain %u has no %s %s\n", verb,
			dev->fe_dom, dev->type->noun, dev->label);
		return -ENOENT;
	}
	if (!force) {
		rc = xs_transaction_run(xs, close_tx, (void *)dev);
		if (rc < 0) {
			fprintf(stderr, "pvkit: %s: cannot close the backend\n",
				verb);
			return rc;
		}
		for (i = 0; i < wait_ms / POLL_MS; i++) {
			st = ts_dev_read_num(xs, dev->fe, "state");
			if (st < 0 || st == XenbusStateClosed)
				break;
			/* A frontend Initialising all along for a second has
			 * not begun (no driver for the type in the guest,
			 * e.g. a kernel without netfront): nothing to close.
			 * One that is starting closes on our Closing. */
			if (st != XenbusStateInitialising)
				began = true;
			else if (!began && i >= UNSTARTED_MS / POLL_MS) {
				st = -1;
				break;
			}
			sleep_ms(POLL_MS);
		}
		if (st >= 0 && st != XenbusStateClosed)
			fprintf(stderr, "pvkit: %s: the frontend of %s did not "
					"close within %u s (state %ld): "
					"removing it anyway\n",
				verb, dev->label, wait_ms / 1000, st);
	}
	rc = rm_dirs(xs, dirs);
	if (rc)
		fprintf(stderr, "pvkit: %s: removing %s %s: %s\n", verb,
			dev->type->noun, dev->label, strerror(-rc));
	return rc;
}

void ts_dev_remove_all(struct xs_client *xs,
		       const struct ts_devtype *const *types, domid_t fe)
{
	char fdir[96], bdir[96];
	const char *dirs[] = {fdir, bdir, NULL};

	for (; *types; types++) {
		snprintf(fdir, sizeof(fdir), "/local/domain/%u/device/%s", fe,
			 (*types)->type);
		snprintf(bdir, sizeof(bdir), "/local/domain/0/backend/%s/%u",
			 (*types)->type, fe);
		rm_dirs(xs, dirs);
	}
}

/* ---- hot-plug --------------------------------------------------------- */

int ts_dev_wait_taken(struct xs_client *xs, const struct ts_dev *dev,
		      unsigned int wait_ms, const char *verb)
{
	char *err = NULL;
	unsigned int i;
	long st = -1;
	int rc = 0;

	/* The backend takes the device (InitWait; the frontend may move it
	 * on at once) or refuses it (hotplug-error, then Closed). */
	for (i = 0; i < wait_ms / POLL_MS; i++) {
		st = ts_dev_read_num(xs, dev->be, "state");
		err = ts_dev_read_str(xs, dev->be, "hotplug-error");
		if (err || st >= XenbusStateInitWait)
			break;
		sleep_ms(POLL_MS);
	}
	if (err || st < XenbusStateInitWait) {
		if (err)
			fprintf(stderr, "pvkit: %s: %s %s of domain %u: %s\n",
				verb, dev->type->noun, dev->label, dev->fe_dom,
				err);
		else
			fprintf(stderr, "pvkit: %s: %s %s of domain %u: the "
					"%s did not answer (is %s running?)\n",
				verb, dev->type->noun, dev->label, dev->fe_dom,
				dev->type->backend, dev->type->daemon);
		rc = err ? -EIO : -ETIMEDOUT;
	}
	free(err);
	return rc;
}

int ts_dev_hotplug(struct xs_client *xs, const struct ts_dev *dev,
		   const void *cfg, unsigned int wait_ms, const char *verb)
{
	const char *dirs[] = {dev->fe, dev->be, NULL};
	int rc;

	rc = ts_dev_add(xs, dev, cfg, verb);
	if (rc == -EEXIST)
		return rc;
	if (!rc)
		rc = ts_dev_wait_taken(xs, dev, wait_ms, verb);
	if (rc)
		rm_dirs(xs, dirs);
	return rc;
}

/* ---- list ------------------------------------------------------------- */

void ts_col_id(struct xs_client *xs, const struct ts_dev *dev, char *out,
	       size_t len)
{
	(void)xs;
	snprintf(out, len, "%s", dev->id);
}

void ts_col_backend_id(struct xs_client *xs, const struct ts_dev *dev,
		       char *out, size_t len)
{
	snprintf(out, len, "%ld", ts_dev_read_num(xs, dev->fe, "backend-id"));
}

void ts_col_handle(struct xs_client *xs, const struct ts_dev *dev, char *out,
		   size_t len)
{
	(void)xs;
	snprintf(out, len, "%u", dev->fe_dom);
}

void ts_col_state(struct xs_client *xs, const struct ts_dev *dev, char *out,
		  size_t len)
{
	snprintf(out, len, "%ld", ts_dev_read_num(xs, dev->fe, "state"));
}

void ts_col_backend(struct xs_client *xs, const struct ts_dev *dev,
		    char *out, size_t len)
{
	char *be = ts_dev_read_str(xs, dev->fe, "backend");

	snprintf(out, len, "%s", be ? be : "");
	free(be);
}

static void print_row(FILE *out, const struct ts_devtype *t,
		      struct xs_client *xs, const struct ts_dev *dev)
{
	char val[256];
	unsigned int c;

	for (c = 0; c < t->ncols; c++) {
		int w = t->cols[c].right ? t->cols[c].width : -t->cols[c].width;

		if (dev)
			t->cols[c].value(xs, dev, val, sizeof(val));
		fprintf(out, "%s%*s", c ? " " : "", w,
			dev ? val : t->cols[c].header);
	}
	fputc('\n', out);
}

void ts_dev_list_header(const struct ts_devtype *t, FILE *out)
{
	print_row(out, t, NULL, NULL);
}

int ts_dev_list(struct xs_client *xs, const struct ts_devtype *t,
		domid_t fe, FILE *out)
{
	ts_dev_list_header(t, out);
	return ts_dev_list_rows(xs, t, fe, out);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int ts_dev_ids(struct xs_client *xs, const struct ts_devtype *t, domid_t fe,
	       uint32_t *ids, unsigned int max)
{
	char dir[96], **names, *end;
	unsigned int n, i, k = 0, pass;
	unsigned long v;
	int rc;

	for (pass = 0; pass < 2; pass++) {
		if (pass == 0)
			snprintf(dir, sizeof(dir), "/local/domain/%u/device/%s",
				 fe, t->type);
		else
			snprintf(dir, sizeof(dir),
				 "/local/domain/0/backend/%s/%u", t->type, fe);
		names = NULL;
		n = 0;
		rc = xs_directory(xs, XS_TX_NONE, dir, &names, &n);
		if (rc == -ENOENT)
			continue;
		if (rc)
			return rc;
		for (i = 0; i < n && k < max; i++) {
			errno = 0;
			v = strtoul(names[i], &end, 10);
			if (end != names[i] && !*end && !errno &&
			    v <= UINT32_MAX)
				ids[k++] = (uint32_t)v;
		}
		free(names);
	}
	qsort(ids, k, sizeof(*ids), cmp_u32);
	for (i = 0, n = 0; i < k; i++)
		if (!n || ids[n - 1] != ids[i])
			ids[n++] = ids[i];
	return (int)n;
}

int ts_dev_list_rows(struct xs_client *xs, const struct ts_devtype *t,
		     domid_t fe, FILE *out)
{
	struct ts_dev dev;
	char dir[96], **ids = NULL;
	unsigned int n = 0, i;

	snprintf(dir, sizeof(dir), "/local/domain/%u/device/%s", fe, t->type);
	if (xs_directory(xs, XS_TX_NONE, dir, &ids, &n))
		n = 0;
	for (i = 0; i < n; i++) {
		/* The guest owns device/: take its names as they are. */
		ts_dev_init(&dev, t, fe, (uint32_t)strtoul(ids[i], NULL, 10),
			    ids[i]);
		snprintf(dev.id, sizeof(dev.id), "%s", ids[i]);
		snprintf(dev.fe, sizeof(dev.fe), "%s/%s", dir, ids[i]);
		print_row(out, t, xs, &dev);
	}
	free(ids);
	return 0;
}
