/*
 * test_device.c - the toolstack's device table and generic add / remove /
 * list (src/toolstack/device.c) with the vbd type, against the fake
 * xenstored of tests/xenbus: the nodes, values and permissions a disk
 * gets, all in one transaction, refusal of a device that
 * exists, hot-plug refused or unanswered (rolled back), removal with and
 * without the frontend closing, destroy removing every type's nodes, and
 * block-list's exact output.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_xsd.h"
#include "toolstack/device.h"
#include "toolstack/toolstack.h"
#include "toolstack/xlcfg.h"
#include "pvkit/xs.h"

#define FE 7
#define BE_DIR "/local/domain/0/backend/vbd/7/51712"
#define FE_DIR "/local/domain/7/device/vbd/51712"

static struct xlcfg_disk disk(const char *vdev, bool ro)
{
	struct xlcfg_disk dk;

	memset(&dk, 0, sizeof(dk));
	dk.vdev = (char *)vdev;
	dk.target = (char *)"/images/d.img";
	dk.readonly = ro;
	return dk;
}

static void expect_node(struct xs_client *xs, const char *dir,
			const char *key, const char *want)
{
	char path[256], *val = NULL;

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	assert_int_equal(xs_read(xs, XS_TX_NONE, path, &val, NULL), 0);
	assert_string_equal(val, want);
	free(val);
}

static bool exists(struct xs_client *xs, const char *path)
{
	char *val = NULL;
	int rc = xs_read(xs, XS_TX_NONE, path, &val, NULL);

	free(val);
	return rc == 0;
}

static void expect_perms(struct xs_client *xs, const char *dir,
			 domid_t owner, domid_t reader)
{
	struct xs_perm *p = NULL;
	unsigned int n = 0;

	assert_int_equal(xs_get_perms(xs, XS_TX_NONE, dir, &p, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(p[0].id, owner);
	assert_int_equal(p[0].perms, XS_PERM_NONE);
	assert_int_equal(p[1].id, reader);
	assert_int_equal(p[1].perms, XS_PERM_READ);
	free(p);
}

static void add_disk(struct xs_client *xs, domid_t fe, const char *vdev,
		     struct ts_dev *dev)
{
	struct xlcfg_disk dk = disk(vdev, false);

	assert_int_equal(ts_dev_from_cfg(dev, &ts_vbd_type, fe, &dk), 0);
	assert_int_equal(ts_dev_add(xs, dev, &dk, "test"), 0);
}

static void test_add_nodes(void **state)
{
	struct fake_xsd_env *e = *state;
	struct xlcfg_disk dk = disk("xvda", true);
	struct ts_dev dev;

	assert_int_equal(ts_dev_from_cfg(&dev, &ts_vbd_type, FE, &dk), 0);
	assert_string_equal(dev.be, BE_DIR);
	assert_string_equal(dev.fe, FE_DIR);
	assert_string_equal(dev.label, "xvda");
	assert_int_equal(ts_dev_add(e->xs, &dev, &dk, "test"), 0);
	assert_int_equal(fake_xsd_commits(e->fake), 1);

	expect_node(e->xs, BE_DIR, "frontend", FE_DIR);
	expect_node(e->xs, BE_DIR, "frontend-id", "7");
	expect_node(e->xs, BE_DIR, "online", "1");
	expect_node(e->xs, BE_DIR, "params", "/images/d.img");
	expect_node(e->xs, BE_DIR, "mode", "r");
	expect_node(e->xs, BE_DIR, "device-type", "disk");
	expect_node(e->xs, BE_DIR, "dev", "xvda");
	expect_node(e->xs, BE_DIR, "state", "1");
	expect_node(e->xs, FE_DIR, "backend", BE_DIR);
	expect_node(e->xs, FE_DIR, "backend-id", "0");
	expect_node(e->xs, FE_DIR, "virtual-device", "51712");
	expect_node(e->xs, FE_DIR, "device-type", "disk");
	expect_node(e->xs, FE_DIR, "state", "1");
	expect_perms(e->xs, BE_DIR, 0, FE);
	expect_perms(e->xs, FE_DIR, FE, 0);
}

/* Every write of an add goes through one transaction. */
struct txs {
	unsigned int writes, outside;
	uint32_t tx;
	bool mixed;
};

static bool watch_tx(struct fake_xsd *f, const struct xsd_sockmsg *h,
		     const char *body, void *arg)
{
	struct txs *t = arg;

	(void)f;
	(void)body;
	if (h->type != XS_WRITE && h->type != XS_MKDIR &&
	    h->type != XS_SET_PERMS)
		return false;
	t->writes++;
	if (!h->tx_id)
		t->outside++;
	else if (t->tx && t->tx != h->tx_id)
		t->mixed = true;
	t->tx = h->tx_id;
	return false;
}

static void test_add_one_transaction(void **state)
{
	struct fake_xsd_env *e = *state;
	struct txs t = {0, 0, 0, false};
	struct ts_dev dev;

	fake_xsd_set_hook(e->fake, watch_tx, &t);
	add_disk(e->xs, FE, "xvda", &dev);
	fake_xsd_set_hook(e->fake, NULL, NULL);
	/* two mkdirs, two set_perms, 8 backend and 5 frontend nodes */
	assert_int_equal(t.writes, 17);
	assert_int_equal(t.outside, 0);
	assert_false(t.mixed);
	assert_int_equal(fake_xsd_commits(e->fake), 1);
}

static void test_add_existing_refused(void **state)
{
	struct fake_xsd_env *e = *state;
	struct xlcfg_disk dk = disk("xvda", false);
	struct ts_dev dev;

	add_disk(e->xs, FE, "xvda", &dev);
	/* Another vdev naming the same device, and a frontend-only leftover */
	dk.vdev = (char *)"51712";
	assert_int_equal(ts_dev_from_cfg(&dev, &ts_vbd_type, FE, &dk), 0);
	assert_int_equal(ts_dev_add(e->xs, &dev, &dk, "test"), -EEXIST);
	expect_node(e->xs, BE_DIR, "dev", "xvda");
	assert_int_equal(xs_rm(e->xs, XS_TX_NONE, BE_DIR), 0);
	assert_int_equal(ts_dev_add(e->xs, &dev, &dk, "test"), -EEXIST);
	assert_false(exists(e->xs, BE_DIR));
}

static void test_bad_names(void **state)
{
	struct fake_xsd_env *e = *state;
	struct xlcfg_disk dk = disk("hdz9", false);
	struct ts_dev dev;

	assert_int_equal(ts_dev_from_cfg(&dev, &ts_vbd_type, FE, &dk),
			 -EINVAL);
	assert_int_equal(ts_dev_from_name(&dev, &ts_vbd_type, FE, "nope"),
			 -EINVAL);
	assert_int_equal(ts_dev_from_name(&dev, &ts_vbd_type, FE, "xvdb"), 0);
	assert_int_equal(dev.devid, 51728);
	assert_int_equal(fake_xsd_requests(e->fake), 0);
}

static void test_nodes_overflow(void **state)
{
	struct fake_xsd_env *e = *state;
	struct ts_nodes *n = calloc(1, sizeof(*n));
	char long_target[2048];
	struct xlcfg_disk dk = disk("xvda", false);
	struct ts_dev dev;
	unsigned int i;

	for (i = 0; i < TS_DEV_MAX_NODES; i++)
		ts_nodes_set(n, "k", "%u", i);
	assert_int_equal(n->err, 0);
	ts_nodes_set(n, "k", "x");
	assert_int_equal(n->err, -E2BIG);
	assert_int_equal(n->n, TS_DEV_MAX_NODES);
	free(n);

	/* A value too long for a node: nothing reaches the store. */
	memset(long_target, 'a', sizeof(long_target) - 1);
	long_target[sizeof(long_target) - 1] = 0;
	dk.target = long_target;
	assert_int_equal(ts_dev_from_cfg(&dev, &ts_vbd_type, FE, &dk), 0);
	assert_int_equal(ts_dev_add(e->xs, &dev, &dk, "test"), -ENAMETOOLONG);
	assert_false(exists(e->xs, BE_DIR));
	assert_false(exists(e->xs, FE_DIR));
}

static void test_remove_forced_and_missing(void **state)
{
	struct fake_xsd_env *e = *state;
	struct ts_dev dev, other;

	add_disk(e->xs, FE, "xvda", &dev);
	add_disk(e->xs, FE, "xvdb", &other);
	assert_int_equal(ts_dev_remove(e->xs, &dev, true, 0, "test"), 0);
	assert_false(exists(e->xs, BE_DIR));
	assert_false(exists(e->xs, FE_DIR));
	assert_true(exists(e->xs, other.be));
	assert_true(exists(e->xs, other.fe));
	assert_int_equal(ts_dev_remove(e->xs, &dev, true, 0, "test"),
			 -ENOENT);
}

/* Record what the client writes under the backend before removal. */
struct seen {
	bool online0, closing;
};

static bool watch_writes(struct fake_xsd *f, const struct xsd_sockmsg *h,
			 const char *body, void *arg)
{
	struct seen *s = arg;
	const char *val = body + strlen(body) + 1;
	size_t vlen = h->len - strlen(body) - 1;

	(void)f;
	if (h->type != XS_WRITE)
		return false;
	if (!strcmp(body, BE_DIR "/online") && vlen == 1 && *val == '0')
		s->online0 = true;
	if (!strcmp(body, BE_DIR "/state") && vlen == 1 && *val == '5')
		s->closing = true;
	return false;
}

static void test_remove_closes_first(void **state)
{
	struct fake_xsd_env *e = *state;
	struct seen seen = {false, false};
	struct ts_dev dev;

	add_disk(e->xs, FE, "xvda", &dev);
	/* The frontend has closed already: no wait. */
	assert_int_equal(xs_write_str(e->xs, XS_TX_NONE, FE_DIR "/state", "6"),
			 0);
	fake_xsd_set_hook(e->fake, watch_writes, &seen);
	assert_int_equal(ts_dev_remove(e->xs, &dev, false, 10000, "test"), 0);
	fake_xsd_set_hook(e->fake, NULL, NULL);
	assert_true(seen.online0);
	assert_true(seen.closing);
	assert_false(exists(e->xs, BE_DIR));
	assert_false(exists(e->xs, FE_DIR));
}

static void test_remove_frontend_never_closes(void **state)
{
	struct fake_xsd_env *e = *state;
	struct ts_dev dev;

	add_disk(e->xs, FE, "xvda", &dev);
	assert_int_equal(xs_write_str(e->xs, XS_TX_NONE, FE_DIR "/state", "4"),
			 0);
	/* The frontend stays Connected: removed anyway after the wait. */
	assert_int_equal(ts_dev_remove(e->xs, &dev, false, 60, "test"), 0);
	assert_false(exists(e->xs, BE_DIR));
	assert_false(exists(e->xs, FE_DIR));
}

/* A second type, to show destroy goes through the whole table: vbd's
 * entry under another name with nodes of its own. */
static int vtest_nodes(const void *cfg, const struct ts_dev *dev,
		       struct ts_nodes *be, struct ts_nodes *fe)
{
	(void)cfg;
	(void)dev;
	ts_nodes_set(be, "mac", "00:16:3e:00:00:01");
	ts_nodes_set(fe, "mac", "00:16:3e:00:00:01");
	return 0;
}

static void test_remove_all_types(void **state)
{
	struct ts_devtype vtest_type = ts_vbd_type;
	const struct ts_devtype *const types[] = {&ts_vbd_type, &vtest_type,
						  NULL};
	struct xlcfg_disk dk = disk("xvda", false);
	struct fake_xsd_env *e = *state;
	struct ts_dev a, b, c, keep;

	vtest_type.type = "vtest";
	vtest_type.nodes = vtest_nodes;

	add_disk(e->xs, FE, "xvda", &a);
	add_disk(e->xs, FE, "xvdb", &b);
	add_disk(e->xs, FE + 1, "xvda", &keep);
	assert_int_equal(ts_dev_from_cfg(&c, &vtest_type, FE, &dk), 0);
	assert_int_equal(ts_dev_add(e->xs, &c, &dk, "test"), 0);
	assert_string_equal(c.be, "/local/domain/0/backend/vtest/7/51712");
	expect_node(e->xs, c.fe, "mac", "00:16:3e:00:00:01");

	ts_dev_remove_all(e->xs, types, FE);
	assert_false(exists(e->xs, "/local/domain/7/device/vbd"));
	assert_false(exists(e->xs, "/local/domain/7/device/vtest"));
	assert_false(exists(e->xs, "/local/domain/0/backend/vbd/7"));
	assert_false(exists(e->xs, "/local/domain/0/backend/vtest/7"));
	assert_true(exists(e->xs, keep.be));
	assert_true(exists(e->xs, keep.fe));
	/* The toolstack's own table holds vbd. */
	assert_ptr_equal(ts_device_types[0], &ts_vbd_type);
}

static void test_hotplug_refused_rolls_back(void **state)
{
	struct fake_xsd_env *e = *state;
	struct xlcfg_disk dk = disk("xvda", false);
	struct ts_dev dev;

	assert_int_equal(ts_dev_from_cfg(&dev, &ts_vbd_type, FE, &dk), 0);
	/* A backend that refuses: hotplug-error is there at once. */
	assert_int_equal(xs_write_str(e->xs, XS_TX_NONE,
				      BE_DIR "/hotplug-error", "busy"),
			 0);
	assert_int_equal(ts_dev_hotplug(e->xs, &dev, &dk, 1000, "test"),
			 -EIO);
	assert_false(exists(e->xs, BE_DIR));
	assert_false(exists(e->xs, FE_DIR));
	/* No backend at all. */
	assert_int_equal(ts_dev_hotplug(e->xs, &dev, &dk, 60, "test"),
			 -ETIMEDOUT);
	assert_false(exists(e->xs, BE_DIR));
	assert_false(exists(e->xs, FE_DIR));
}

/* A backend that takes the device: InitWait once the nodes are there. */
static void *backend(void *arg)
{
	struct xs_client *xs = arg;
	int i;

	for (i = 0; i < 500; i++) {
		if (exists(xs, BE_DIR "/state")) {
			xs_write_str(xs, XS_TX_NONE, BE_DIR "/state", "2");
			break;
		}
		usleep(2000);
	}
	return NULL;
}

static void test_hotplug_taken(void **state)
{
	struct fake_xsd_env *e = *state;
	struct xlcfg_disk dk = disk("xvda", false);
	struct ts_dev dev;
	pthread_t t;

	assert_int_equal(ts_dev_from_cfg(&dev, &ts_vbd_type, FE, &dk), 0);
	assert_int_equal(pthread_create(&t, NULL, backend, e->xs), 0);
	assert_int_equal(ts_dev_hotplug(e->xs, &dev, &dk, 5000, "test"), 0);
	pthread_join(t, NULL);
	expect_node(e->xs, BE_DIR, "state", "2");
	expect_node(e->xs, FE_DIR, "state", "1");
}

/* xl's header: every column padded to its width, the last one too. */
#define HEADER                                                              \
	"Vdev  BE  handle state evt-ch ring-ref BE-path                       \n"

static void test_list(void **state)
{
	struct fake_xsd_env *e = *state;
	struct ts_dev a, b;
	char *text = NULL;
	size_t len = 0;
	FILE *out;

	add_disk(e->xs, FE, "xvda", &a);
	add_disk(e->xs, FE, "xvdb", &b);
	/* xvda: one queue at the top; xvdb: queue-0 with a multi-page ring */
	assert_int_equal(xs_write_str(e->xs, XS_TX_NONE,
				      FE_DIR "/event-channel", "9"),
			 0);
	assert_int_equal(
		xs_write_str(e->xs, XS_TX_NONE, FE_DIR "/ring-ref", "8"), 0);
	assert_int_equal(xs_write_str(e->xs, XS_TX_NONE,
				      FE_DIR "/state", "4"),
			 0);
	assert_int_equal(xs_write_str(e->xs, XS_TX_NONE,
				      "/local/domain/7/device/vbd/51728/"
				      "queue-0/event-channel",
				      "11"),
			 0);
	assert_int_equal(xs_write_str(e->xs, XS_TX_NONE,
				      "/local/domain/7/device/vbd/51728/"
				      "queue-0/ring-ref0",
				      "12"),
			 0);
	out = open_memstream(&text, &len);
	assert_non_null(out);
	assert_int_equal(ts_dev_list(e->xs, &ts_vbd_type, FE, out), 0);
	fclose(out);
	/* The fake lists children newest first. */
	assert_string_equal(
		text,
		HEADER
		"51728 0   7      1     11     12       "
		"/local/domain/0/backend/vbd/7/51728\n"
		"51712 0   7      4     9      8        "
		"/local/domain/0/backend/vbd/7/51712\n");
	free(text);

	/* No devices: the header alone. */
	out = open_memstream(&text, &len);
	assert_int_equal(ts_dev_list(e->xs, &ts_vbd_type, FE + 1, out), 0);
	fclose(out);
	assert_string_equal(text, HEADER);
	free(text);
}

/* ---- vif ---------------------------------------------------------------- */

#define VBE "/local/domain/0/backend/vif/7"
#define VFE "/local/domain/7/device/vif"

static struct xlcfg_vif vif(uint32_t devid, uint8_t last)
{
	struct xlcfg_vif v;

	memset(&v, 0, sizeof(v));
	v.has_mac = true;
	memcpy(v.mac, "\x00\x16\x3e\x00\x00", 5);
	v.mac[5] = last;
	v.devid = devid;
	return v;
}

static void add_vif(struct xs_client *xs, struct xlcfg_vif *v,
		    struct ts_dev *dev)
{
	assert_int_equal(ts_dev_from_cfg(dev, &ts_vif_type, FE, v), 0);
	assert_int_equal(ts_dev_add(xs, dev, v, "test"), 0);
}

static bool has_node(struct xs_client *xs, const char *dir, const char *key)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	return exists(xs, path);
}

/* libxl's nodes: the defaults, then every setting. */
static void test_vif_nodes(void **state)
{
	struct fake_xsd_env *e = *state;
	struct xlcfg_vif v = vif(0, 0x0a);
	struct ts_dev dev;

	add_vif(e->xs, &v, &dev);
	assert_string_equal(dev.be, VBE "/0");
	assert_string_equal(dev.fe, VFE "/0");
	expect_node(e->xs, dev.be, "frontend", VFE "/0");
	expect_node(e->xs, dev.be, "frontend-id", "7");
	expect_node(e->xs, dev.be, "online", "1");
	expect_node(e->xs, dev.be, "state", "1");
	expect_node(e->xs, dev.be, "mac", "00:16:3e:00:00:0a");
	expect_node(e->xs, dev.be, "bridge", "xenbr0");
	expect_node(e->xs, dev.be, "handle", "0");
	expect_node(e->xs, dev.be, "type", "vif");
	assert_false(has_node(e->xs, dev.be, "mtu"));
	assert_false(has_node(e->xs, dev.be, "rate"));
	assert_false(has_node(e->xs, dev.be, "script"));
	assert_false(has_node(e->xs, dev.be, "vifname"));
	assert_false(has_node(e->xs, dev.be, "ip"));
	expect_node(e->xs, dev.fe, "backend", VBE "/0");
	expect_node(e->xs, dev.fe, "backend-id", "0");
	expect_node(e->xs, dev.fe, "state", "1");
	expect_node(e->xs, dev.fe, "handle", "0");
	expect_node(e->xs, dev.fe, "mac", "00:16:3e:00:00:0a");
	expect_node(e->xs, dev.fe, "mtu", "1500");
	expect_node(e->xs, dev.fe, "trusted", "1");
	expect_perms(e->xs, dev.be, 0, FE);
	expect_perms(e->xs, dev.fe, FE, 0);

	v = vif(3, 0xbb);
	v.mtu = 9000;
	v.vifname = (char *)"web0";
	v.bridge = (char *)"br1";
	v.script = (char *)"vif-bridge";
	v.ip = (char *)"10.0.0.2";
	v.gatewaydev = (char *)"eth0";
	v.rate_bytes_per_s = 1250000; /* 10Mb/s@20ms */
	v.rate_interval_us = 20000;
	v.untrusted = true;
	add_vif(e->xs, &v, &dev);
	expect_node(e->xs, dev.be, "handle", "3");
	expect_node(e->xs, dev.be, "mac", "00:16:3e:00:00:bb");
	expect_node(e->xs, dev.be, "mtu", "9000");
	expect_node(e->xs, dev.be, "vifname", "web0");
	expect_node(e->xs, dev.be, "bridge", "br1");
	expect_node(e->xs, dev.be, "script", "vif-bridge");
	expect_node(e->xs, dev.be, "ip", "10.0.0.2");
	expect_node(e->xs, dev.be, "gatewaydev", "eth0");
	/* Linux netback's form: bytes per interval, interval in µs */
	expect_node(e->xs, dev.be, "rate", "25000,20000");
	expect_node(e->xs, dev.fe, "handle", "3");
	expect_node(e->xs, dev.fe, "mtu", "9000");
	expect_node(e->xs, dev.fe, "trusted", "0");

	/* No MAC: nothing written (the caller picks one first) */
	v = vif(4, 0);
	v.has_mac = false;
	assert_int_equal(ts_dev_from_cfg(&dev, &ts_vif_type, FE, &v), 0);
	assert_int_equal(ts_dev_add(e->xs, &dev, &v, "test"), -EINVAL);
	assert_false(exists(e->xs, VBE "/4"));
	assert_false(exists(e->xs, VFE "/4"));
}

/* A MAC names its vif (from the backend's copy), devids from both
 * directories; destroy removes the vifs with the disks. */
static void test_vif_ids_and_macs(void **state)
{
	struct fake_xsd_env *e = *state;
	struct xlcfg_vif a = vif(0, 1), b = vif(5, 2);
	struct ts_dev da, db, disk_dev;
	uint32_t ids[8], devid = 99;
	uint8_t mac[6];

	add_vif(e->xs, &a, &da);
	add_vif(e->xs, &b, &db);
	/* a frontend-only leftover counts as taken */
	assert_int_equal(xs_write_str(e->xs, XS_TX_NONE, VFE "/2/state", "6"),
			 0);
	assert_int_equal(ts_dev_ids(e->xs, &ts_vif_type, FE, ids, 8), 3);
	assert_int_equal(ids[0], 0);
	assert_int_equal(ids[1], 2);
	assert_int_equal(ids[2], 5);
	assert_int_equal(ts_dev_ids(e->xs, &ts_vif_type, FE + 1, ids, 8), 0);

	memcpy(mac, b.mac, 6);
	assert_int_equal(vif_find_mac(e->xs, FE, mac, &devid), 0);
	assert_int_equal(devid, 5);
	mac[5] = 9;
	assert_int_equal(vif_find_mac(e->xs, FE, mac, &devid), -ENOENT);
	/* the guest rewriting its own copy names nothing */
	assert_int_equal(xs_write_str(e->xs, XS_TX_NONE, VFE "/0/mac",
				      "00:16:3e:00:00:09"),
			 0);
	assert_int_equal(vif_find_mac(e->xs, FE, mac, &devid), -ENOENT);
	assert_int_equal(ts_vif_type.resolve_id(e->xs, FE, "00:16:3E:00:00:02",
						&devid),
			 0);
	assert_int_equal(devid, 5);
	assert_int_equal(ts_vif_type.resolve_id(NULL, FE, "00:16:3e:00:00:99",
						&devid),
			 0);
	assert_int_equal(ts_vif_type.resolve_id(NULL, FE, "xvda", &devid),
			 -EINVAL);
	assert_int_equal(ts_dev_from_name(&da, &ts_vif_type, FE, "00:16:3e:"
							     "00:00:01"),
			 -EINVAL);
	assert_int_equal(ts_dev_from_name(&da, &ts_vif_type, FE, "5"), 0);
	assert_string_equal(da.be, VBE "/5");
	assert_int_equal(ts_dev_from_name(&da, &ts_vif_type, FE, "65536"),
			 -EINVAL);

	/* the toolstack's table has vif: destroy takes it with the disks */
	add_disk(e->xs, FE, "xvda", &disk_dev);
	ts_dev_remove_all(e->xs, ts_device_types, FE);
	assert_false(exists(e->xs, VBE));
	assert_false(exists(e->xs, VFE));
	assert_false(exists(e->xs, BE_DIR));
}

/* vif_macs: what the backend holds (a restart keeps the MACs), else a
 * random one in Xen's OUI, unicast, not another vif's. */
static void test_vif_macs(void **state)
{
	struct fake_xsd_env *e = *state;
	struct xlcfg_vif v[3] = {vif(0, 1), vif(1, 0), vif(2, 0)};
	struct ts_dev dev;
	unsigned int i;

	add_vif(e->xs, &v[0], &dev);
	assert_int_equal(xs_write_str(e->xs, XS_TX_NONE, VBE "/1/mac",
				      "00:16:3e:12:34:56"),
			 0);
	v[0].has_mac = false;
	v[1].has_mac = false;
	v[2].has_mac = false;
	assert_int_equal(vif_macs(e->xs, FE, v, 3), 0);
	assert_memory_equal(v[0].mac, "\x00\x16\x3e\x00\x00\x01", 6);
	assert_memory_equal(v[1].mac, "\x00\x16\x3e\x12\x34\x56", 6);
	for (i = 0; i < 3; i++)
		assert_true(v[i].has_mac);
	assert_memory_equal(v[2].mac, "\x00\x16\x3e", 3);
	assert_int_equal(v[2].mac[3] & 0x80, 0);
	assert_memory_not_equal(v[2].mac, v[0].mac, 6);
	assert_memory_not_equal(v[2].mac, v[1].mac, 6);
	for (i = 0; i < 100; i++) {
		v[2].has_mac = false;
		assert_int_equal(vif_macs(NULL, FE, v, 3), 0);
		assert_memory_not_equal(v[2].mac, v[1].mac, 6);
		assert_int_equal(v[2].mac[0] & 1, 0);
	}
}

/* What pvkit refuses, warns about once, and accepts. */
static void test_vif_check(void **state)
{
	struct xlcfg_vif v = vif(0, 1);
	unsigned int warned = 0;

	(void)state;
	v.line = 3;
	assert_int_equal(vif_check("g.cfg", &v, false, &warned), 0);
	v.type = (char *)"ioemu";
	assert_int_equal(vif_check("g.cfg", &v, false, &warned), -ENOTSUP);
	v.type = (char *)"vif";
	v.backend = (char *)"dom1";
	assert_int_equal(vif_check("g.cfg", &v, false, &warned), -ENOTSUP);
	v.backend = (char *)"Domain-0";
	assert_int_equal(vif_check("g.cfg", &v, false, &warned), 0);
	v.backend = (char *)"0";
	assert_int_equal(vif_check("g.cfg", &v, false, &warned), 0);
	v.forwarddev = (char *)"eth0";
	assert_int_equal(vif_check("g.cfg", &v, false, &warned), -ENOTSUP);
	v.forwarddev = NULL;
	v.colo = (char *)"colo_compare_out";
	assert_int_equal(vif_check("g.cfg", &v, false, &warned), -ENOTSUP);
	v.colo = NULL;
	v.vlan = (char *)"10";
	assert_int_equal(vif_check("g.cfg", &v, false, &warned), -ENOTSUP);
	v.vlan = NULL;
	/* mtu: xl takes 68-65535, a TAP up to 65521 */
	v.mtu = 65522;
	assert_int_equal(vif_check("g.cfg", &v, false, &warned), -EINVAL);
	v.mtu = 65521;
	assert_int_equal(vif_check("g.cfg", &v, false, &warned), 0);
	v.mtu = 0;
	/* rate: 1-2^32-1 bytes per interval (of up to 2^32-1 us) */
	v.rate_bytes_per_s = 10;
	v.rate_interval_us = 50000;
	assert_int_equal(vif_check("g.cfg", &v, false, &warned), -EINVAL);
	v.rate_interval_us = 100000;
	assert_int_equal(vif_check("g.cfg", &v, false, &warned), 0);
	v.rate_interval_us = 20000000; /* 20 s: as Linux netback */
	assert_int_equal(vif_check("g.cfg", &v, false, &warned), 0);
	v.rate_bytes_per_s = 4294967295000000000ull;
	v.rate_interval_us = 1000000;
	assert_int_equal(vif_check("g.cfg", &v, false, &warned), -EINVAL);
	v.rate_bytes_per_s = 0;
	v.script = (char *)"/nonexistent/vif-script";
	assert_int_equal(vif_check("g.cfg", &v, false, &warned), -ENOENT);
	v.script = NULL;
	/* the host: a bridge that is not there, an interface name taken */
	v.bridge = (char *)"pvkitnobr0";
	assert_int_equal(vif_check("g.cfg", &v, false, &warned), 0);
	assert_int_equal(vif_check("g.cfg", &v, true, &warned), -ENODEV);
	v.bridge = (char *)"lo";
	assert_int_equal(vif_check("g.cfg", &v, true, &warned), -ENODEV);
	v.bridge = NULL;
	v.vifname = (char *)"lo";
	assert_int_equal(vif_check("g.cfg", &v, false, &warned), 0);
	v.script = (char *)"/bin/true"; /* a script owns the bridge */
	assert_int_equal(vif_check("g.cfg", &v, true, &warned), -EEXIST);
	v.vifname = NULL;
	assert_int_equal(vif_check("g.cfg", &v, true, &warned), 0);
	v.script = NULL;
	/* ignored settings: warned about, once each */
	assert_int_equal(warned, 0);
	v.model = (char *)"e1000";
	v.ip = (char *)"10.0.0.2";
	assert_int_equal(vif_check("g.cfg", &v, false, &warned), 0);
	assert_int_equal(warned, (1u << 0) | (1u << 3));
	assert_int_equal(vif_check("g.cfg", &v, false, &warned), 0);
	assert_int_equal(warned, (1u << 0) | (1u << 3));
}

/* xl network-list: numbers right-aligned, the rings as tx/rx, the first
 * queue's event channel (split: the tx one). */
#define VHEADER                                                               \
	"Idx BE Mac Addr.         handle state evt-ch   tx-/rx-ring-ref "    \
	"BE-path                       \n"

static void test_vif_list(void **state)
{
	struct fake_xsd_env *e = *state;
	struct xlcfg_vif a = vif(0, 1), b = vif(1, 2);
	struct ts_dev da, db;
	char *text = NULL;
	size_t len = 0;
	FILE *out;

	add_vif(e->xs, &a, &da);
	add_vif(e->xs, &b, &db);
	/* 0: one queue, one event channel; 1: queue-0, split channels */
	assert_int_equal(xs_write_str(e->xs, XS_TX_NONE,
				      VFE "/0/event-channel", "9"),
			 0);
	assert_int_equal(xs_write_str(e->xs, XS_TX_NONE,
				      VFE "/0/tx-ring-ref", "768"),
			 0);
	assert_int_equal(xs_write_str(e->xs, XS_TX_NONE,
				      VFE "/0/rx-ring-ref", "769"),
			 0);
	assert_int_equal(xs_write_str(e->xs, XS_TX_NONE, VFE "/0/state", "4"),
			 0);
	assert_int_equal(xs_write_str(e->xs, XS_TX_NONE,
				      VFE "/1/queue-0/event-channel-tx", "11"),
			 0);
	assert_int_equal(xs_write_str(e->xs, XS_TX_NONE,
				      VFE "/1/queue-0/event-channel-rx", "12"),
			 0);
	assert_int_equal(xs_write_str(e->xs, XS_TX_NONE,
				      VFE "/1/queue-0/tx-ring-ref", "13"),
			 0);
	assert_int_equal(xs_write_str(e->xs, XS_TX_NONE,
				      VFE "/1/queue-0/rx-ring-ref", "14"),
			 0);
	out = open_memstream(&text, &len);
	assert_non_null(out);
	assert_int_equal(ts_dev_list(e->xs, &ts_vif_type, FE, out), 0);
	fclose(out);
	/* The fake lists children newest first. */
	assert_string_equal(
		text,
		VHEADER
		"1   0  00:16:3e:00:00:02      1     1     11    13/14          "
		"/local/domain/0/backend/vif/7/1\n"
		"0   0  00:16:3e:00:00:01      0     4      9   768/769         "
		"/local/domain/0/backend/vif/7/0\n");
	free(text);
}

/* A frontend Initialising all along has no driver: removed after a
 * second, not the whole wait. */
static void test_remove_unstarted_no_wait(void **state)
{
	struct fake_xsd_env *e = *state;
	struct xlcfg_vif v = vif(0, 1);
	struct timespec t0, t1;
	struct ts_dev dev;

	add_vif(e->xs, &v, &dev);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(ts_dev_remove(e->xs, &dev, false, 10000, "test"), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 3);
	assert_false(exists(e->xs, dev.be));
	assert_false(exists(e->xs, dev.fe));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, fake_xsd_env_setup, \
					     fake_xsd_env_teardown)
		T(test_add_nodes),
		T(test_add_one_transaction),
		T(test_add_existing_refused),
		T(test_bad_names),
		T(test_nodes_overflow),
		T(test_remove_forced_and_missing),
		T(test_remove_closes_first),
		T(test_remove_frontend_never_closes),
		T(test_remove_all_types),
		T(test_hotplug_refused_rolls_back),
		T(test_hotplug_taken),
		T(test_list),
		T(test_vif_nodes),
		T(test_vif_ids_and_macs),
		T(test_vif_macs),
		T(test_vif_check),
		T(test_vif_list),
		T(test_remove_unstarted_no_wait),
#undef T
	};

	return cmocka_run_group_tests_name("toolstack devices", tests, NULL,
					   NULL);
}
