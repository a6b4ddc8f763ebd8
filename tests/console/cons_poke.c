/*
 * cons_poke.c - play a hostile guest against pvkit-consoled: as Dom0, map
 * domain DOM's console page (console/ring-ref in xenstore) and overwrite
 * one of its ring indices.  Usage: cons_poke DOM out_prod|in_cons VALUE
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xen/xen.h>
#include <xen/io/console.h>

#include "common/util.h"
#include "pvkit/platform.h"
#include "pvkit/xs.h"

int main(int argc, char **argv)
{
	struct pvk_platform *plat = NULL;
	struct xencons_interface *intf = NULL;
	struct xs_client *xs = NULL;
	struct pvk_fmem *fm = NULL;
	uint64_t dom, val, gfn;
	char path[64], *s = NULL;
	size_t len;
	xen_pfn_t pfn;
	int rc;

	if (argc != 4 || pvk_parse_u64(argv[1], 1, DOMID_FIRST_RESERVED - 1,
				       &dom) ||
	    pvk_parse_u64(argv[3], 0, UINT32_MAX, &val) ||
	    (strcmp(argv[2], "out_prod") && strcmp(argv[2], "in_cons"))) {
		fprintf(stderr, "usage: cons_poke DOM out_prod|in_cons VALUE\n");
		return 2;
	}
	rc = pvk_platform_open(NULL, &plat);
	if (!rc)
		rc = xs_client_open_path(NULL, &xs);
	if (rc)
		goto out;
	snprintf(path, sizeof(path), "/local/domain/%u/console/ring-ref",
		 (unsigned int)dom);
	rc = xs_read(xs, XS_TX_NONE, path, &s, &len);
	if (!rc)
		rc = pvk_parse_u64(s, 0, UINT64_MAX, &gfn);
	if (!rc)
		rc = plat->fmem->open(plat, &fm);
	pfn = (xen_pfn_t)gfn;
	if (!rc)
		rc = plat->fmem->map(fm, (domid_t)dom, &pfn, 1, 1,
				     (void **)&intf);
	if (rc)
		goto out;
	if (!strcmp(argv[2], "out_prod"))
		intf->out_prod = (uint32_t)val;
	else
		intf->in_cons = (uint32_t)val;
	plat->fmem->unmap(fm, intf, 1);
out:
	if (rc)
		fprintf(stderr, "cons_poke: %s\n", strerror(-rc));
	free(s);
	if (fm)
		plat->fmem->close(fm);
	xs_client_close(xs);
	if (plat)
		pvk_platform_close(plat);
	return rc ? 1 : 0;
}
