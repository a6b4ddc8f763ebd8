/* toolstack.h - shared state of the pvkit CLI (xl's verbs). */
#ifndef PVKIT_TOOLSTACK_H
#define PVKIT_TOOLSTACK_H

#include <stdbool.h>
#include <stddef.h>
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
/* Find a domain by name or id; 0 and *domid, or -ESRCH (message printed). */
int ts_lookup(struct pvk_platform *plat, const char *what, domid_t *domid);
/* The same without the message. */
int ts_find(struct pvk_platform *plat, const char *what, domid_t *domid);

int cmd_host(struct ts *ts, int argc, char **argv);
int cmd_create(struct ts *ts, int argc, char **argv);
int cmd_list(struct ts *ts, int argc, char **argv);
int cmd_destroy(struct ts *ts, int argc, char **argv);
int cmd_domid(struct ts *ts, int argc, char **argv, bool name);
int cmd_shutdown(struct ts *ts, int argc, char **argv, const char *what);
int cmd_pause(struct ts *ts, int argc, char **argv, bool pause);
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

/* The verbs every device type shares (devcmd.c). */
struct ts_devtype;
/* Domain dom (not Dom0) and a xenstore connection: 0, or 1 with the
 * reason printed. */
int ts_dev_open(struct ts *ts, const char *dom, const char *verb,
		domid_t *d, struct xs_client **xs);
/* TYPE-detach [-f] DOM ID and TYPE-list DOM: the exit status. */
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
