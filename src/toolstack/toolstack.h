/* toolstack.h - shared state of the pvkit CLI (xl's verbs). */
#ifndef PVKIT_TOOLSTACK_H
#define PVKIT_TOOLSTACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "pvkit/platform.h"

struct ts {
	char state[256];  /* state directory */
	char hv_sock[300];
	char xs_sock[300];
	char self_dir[256]; /* directory of this executable */
};

void ts_init(struct ts *ts);
/* Path of helper binary name: $PVKIT_<NAME> override, next to us, PATH. */
void ts_helper(const struct ts *ts, const char *env, const char *name,
	       char *out, size_t len);
/* Open the platform (emulated: connect to pvkit-hvd as a Dom0 process)
 * with its domain control; prints why on failure. */
int ts_dom0(const struct ts *ts, struct pvk_platform **plat);
/* The host's xenstore (waiting a moment for one being started again by
 * the supervisor), reconnecting if it restarts.  0 or -errno. */
struct xs_client;
int ts_xs_open(const struct ts *ts, struct xs_client **xs);
/* Where pvkit-blkback publishes each vbd's counters (common/vbd_stats.h). */
void ts_vbd_stats_dir(const struct ts *ts, char *out, size_t len);
/* The host's supervisor runs. */
bool ts_supervised(const struct ts *ts);
/* Find a domain by name or id; 0 and *domid, or -ESRCH (message printed). */
int ts_lookup(struct pvk_platform *plat, const char *what, domid_t *domid);
/* The same without the message. */
int ts_find(struct pvk_platform *plat, const char *what, domid_t *domid);

int cmd_host(struct ts *ts, int argc, char **argv);
int cmd_create(struct ts *ts, int argc, char **argv);
int cmd_list(struct ts *ts, int argc, char **argv);
int cmd_destroy(struct ts *ts, int argc, char **argv);
int cmd_rename(struct ts *ts, int argc, char **argv);
int cmd_domid(struct ts *ts, int argc, char **argv, bool name);
int cmd_shutdown(struct ts *ts, int argc, char **argv, const char *what);
int cmd_pause(struct ts *ts, int argc, char **argv, bool pause);
int cmd_dmesg(struct ts *ts, int argc, char **argv);
int cmd_vcpu_list(struct ts *ts, int argc, char **argv);
int cmd_top(struct ts *ts, int argc, char **argv);
int cmd_uptime(struct ts *ts, int argc, char **argv);
int cmd_info(struct ts *ts, int argc, char **argv);
/* Attach the terminal to a domain's PV console (via pvkit-consoled). */
int cmd_console(struct ts *ts, int argc, char **argv);
/* Hot-plug of virtual disks (block.c), xl's verbs and output. */
int cmd_block_attach(struct ts *ts, int argc, char **argv);
int cmd_block_detach(struct ts *ts, int argc, char **argv);
int cmd_block_list(struct ts *ts, int argc, char **argv);

/* disk= support shared by create and block-attach (vbd.c). */
struct xlcfg_disk;
struct xs_client;
/* True for a target blkback serves over NBD (nbd://, nbd+unix://, ...). */
bool disk_target_is_nbd(const char *target);
/* Whether pvkit can serve dk; prints "cfg:line: disk: why" and returns
 * -errno if not. */
int disk_check(const char *cfg, const struct xlcfg_disk *dk);

/* Hot-plug of network interfaces (network.c), xl's verbs and output. */
int cmd_network_attach(struct ts *ts, int argc, char **argv);
int cmd_network_detach(struct ts *ts, int argc, char **argv);
int cmd_network_list(struct ts *ts, int argc, char **argv);

/* vif= support shared by create and network-attach (vif.c). */
struct xlcfg_vif;
/* The bridge a vif joins when it names none (xl's default), the one
 * `pvkit host start` creates. */
#define TS_VIF_BRIDGE "xenbr0"
/* Whether pvkit can serve v: prints "where:line: vif: why" (no line when
 * v->line is 0) and returns -errno if not; warns about what it ignores,
 * each thing once per *warned (start it at 0 for a configuration).  host:
 * also check the host as it is now (the bridge exists, vifname is free),
 * which only create and network-attach want. */
int vif_check(const char *where, const struct xlcfg_vif *v, bool host,
	      unsigned int *warned);
/* Without vifname, the interface pvkit-netback will make for v of
 * domain fe, vif<fe>.<devid>, must not exist (another host on this
 * machine may have a domain of that id; one being removed is given 2 s
 * to go): 0, or -EEXIST with the reason printed. */
int vif_default_name_free(const char *where, const struct xlcfg_vif *v,
			  domid_t fe);
/* A random MAC in Xen's OUI (00:16:3e), unicast: 0 or -errno. */
int vif_default_mac(uint8_t mac[6]);
/* Give every vif of vifs[n] without a MAC one: the one its backend
 * directory of domain fe holds (xs may be NULL: none), else a random one
 * no other of them has.  0 or -errno. */
int vif_macs(struct xs_client *xs, domid_t fe, struct xlcfg_vif *vifs,
	     unsigned int n);
/* backend= naming Domain-0 (or not given). */
bool vif_backend_is_dom0(const char *backend);
/* rate= as the backend node's bytes per interval: 0 or -EOVERFLOW. */
int vif_rate_per_interval(const struct xlcfg_vif *v, uint64_t *bytes);
/* The devid of domain fe's vif with this MAC (its backend's mac node):
 * 0, -ENOENT, or -errno. */
int vif_find_mac(struct xs_client *xs, domid_t fe, const uint8_t mac[6],
		 uint32_t *devid);

/* The verbs every device type shares (devcmd.c). */
struct ts_devtype;
/* Domain dom (not Dom0) and a xenstore connection: 0, or 1 with the
 * reason printed. */
int ts_dev_open(struct ts *ts, const char *dom, const char *verb,
		domid_t *d, struct xs_client **xs);
/* argv[0..argc) joined with commas into out[len] (xl takes a device
 * spec as several arguments): 0, or -E2BIG with the reason printed. */
int ts_join_spec(const char *verb, int argc, char **argv, char *out,
		 size_t len);
/* TYPE-detach [-f] DOM ID and TYPE-list DOM...: the exit status. */
int ts_cmd_dev_detach(struct ts *ts, const struct ts_devtype *t,
		      const char *verb, int argc, char **argv);
int ts_cmd_dev_list(struct ts *ts, const struct ts_devtype *t,
		    const char *verb, int argc, char **argv);

/* Destroy d and remove what the toolstack wrote for it (its devices'
 * directories and its home). */
void domain_cleanup(struct ts *ts, struct pvk_platform *plat, domid_t d);

/* Internal: the per-domain monitor (like xl's). */
int cmd_monitor(struct ts *ts, int argc, char **argv);

#endif
