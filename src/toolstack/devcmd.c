/*
 * devcmd.c - the verbs every device type shares, over the generic device
 * code (device.c): TYPE-detach [-f] DOM ID and TYPE-list DOM, with xl's
 * arguments and output.  block-detach and block-list are these for vbd;
 * network-* and pci-* will be too.  Attach parses a type's own spec, so
 * it is the type's (block.c), ending in ts_dev_hotplug.
 */
#include "device.h"
#include "toolstack.h"
#include "pvkit/xs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int ts_dev_open(struct ts *ts, const char *dom, const char *verb,
		domid_t *d, struct xs_client **xs)
{
	struct pvk_platform *plat;
	int rc;

	if (ts_dom0(ts, &plat))
		return 1;
	rc = ts_lookup(plat, dom, d);
	pvk_platform_close(plat);
	if (rc)
		return 1;
	if (*d == 0) {
		fprintf(stderr, "pvkit: %s: not for Domain-0\n", verb);
		return 1;
	}
	rc = ts_xs_open(ts, xs);
	if (rc) {
		fprintf(stderr, "pvkit: cannot reach xenstored at %s: %s\n",
			ts->xs_sock, strerror(-rc));
		return 1;
	}
	return 0;
}

int ts_join_spec(const char *verb, int argc, char **argv, char *out,
		 size_t len)
{
	size_t n = 0;
	int i;

	out[0] = 0;
	/* Like xl: the spec may come as several arguments. */
	for (i = 0; i < argc; i++) {
		if (snprintf(out + n, len - n, "%s%s", n ? "," : "", argv[i]) >=
		    (int)(len - n)) {
			fprintf(stderr, "pvkit: %s: spec too long\n", verb);
			return -E2BIG;
		}
		n += strlen(out + n);
	}
	return 0;
}

int ts_cmd_dev_detach(struct ts *ts, const struct ts_devtype *t,
		      const char *verb, int argc, char **argv)
{
	struct xs_client *xs = NULL;
	struct ts_dev dev;
	bool force = false, by_name = false;
	uint32_t devid;
	domid_t d;
	int rc;

	if (argc == 4 && (!strcmp(argv[1], "-f") ||
			  !strcmp(argv[1], "--force"))) {
		force = true;
		argc--;
		argv++;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: pvkit %s [-f] DOMAIN %s\n", verb,
			t->id_arg);
		return 2;
	}
	/* A name the type resolves in xenstore (a vif's MAC) is looked up
	 * once the domain is known. */
	if (ts_dev_from_name(&dev, t, 0, argv[2])) {
		if (!t->resolve_id ||
		    t->resolve_id(NULL, 0, argv[2], &devid) == -EINVAL) {
			fprintf(stderr, "pvkit: %s: '%s' is not a %s\n", verb,
				argv[2], t->id_noun);
			return 2;
		}
		by_name = true;
	}
	if (ts_dev_open(ts, argv[1], verb, &d, &xs))
		return 1;
	devid = dev.devid;
	if (by_name) {
		rc = t->resolve_id(xs, d, argv[2], &devid);
		if (rc) {
			fprintf(stderr, "pvkit: %s: domain %u has no %s %s%s%s\n",
				verb, d, t->noun, argv[2],
				rc == -ENOENT ? "" : ": ",
				rc == -ENOENT ? "" : strerror(-rc));
			xs_client_close(xs);
			return 1;
		}
	}
	ts_dev_init(&dev, t, d, devid, argv[2]);
	rc = ts_dev_remove(xs, &dev, force, TS_DEV_WAIT_MS, verb);
	xs_client_close(xs);
	return rc ? 1 : 0;
}

int ts_cmd_dev_list(struct ts *ts, const struct ts_devtype *t,
		    const char *verb, int argc, char **argv)
{
	struct xs_client *xs = NULL;
	domid_t d;
	int i, rc = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: pvkit %s DOMAIN...\n", verb);
		return 2;
	}
	/* xl's: one header, then each domain's devices */
	ts_dev_list_header(t, stdout);
	for (i = 1; i < argc; i++) {
		if (ts_dev_open(ts, argv[i], verb, &d, &xs)) {
			rc = 1;
			continue;
		}
		ts_dev_list_rows(xs, t, d, stdout);
		xs_client_close(xs);
		xs = NULL;
	}
	return rc;
}
