/*
 * device.h - the toolstack's device types and its one generic add, remove
 * and list (the idea of libxl's DEFINE_DEVICE_TYPE_STRUCT and
 * libxl__device_generic_add).  A type is a const table entry saying only
 * what is its own: how a device is named, its backend and frontend nodes
 * beyond the generic ones, and its list columns.  Everything else, the
 * paths, permissions, states, transactions, hot-plug waits and removal, is
 * here, once, over the xenstore client (no processes: tests/toolstack runs
 * it against the fake xenstored).
 *
 * Functions return 0 or -errno; those taking a verb print why they failed
 * as "pvkit: VERB: ...".
 */
#ifndef PVKIT_TOOLSTACK_DEVICE_H
#define PVKIT_TOOLSTACK_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <xen/xen.h>

struct xs_client;

/* How long hot-plug and removal wait for the other end (xl's 10 s). */
#define TS_DEV_WAIT_MS 10000

/* Nodes a type writes into one directory, keys relative to it. */
#define TS_DEV_MAX_NODES 16
struct ts_nodes {
	unsigned int n;
	int err; /* the first ts_nodes_set failure: -E2BIG, -ENAMETOOLONG */
	struct {
		char key[32];
		char val[1024];
	} kv[TS_DEV_MAX_NODES];
};
/* Add key = printf(fmt, ...); a failure is kept in n->err. */
void ts_nodes_set(struct ts_nodes *n, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

struct ts_devtype;

/* One device of a domain, by its place in xenstore. */
struct ts_dev {
	const struct ts_devtype *type;
	domid_t fe_dom, be_dom;
	uint32_t devid;
	char id[16];    /* the name of its directories: devid in decimal */
	char label[64]; /* how messages name it, e.g. "xvda" */
	char fe[128];   /* /local/domain/<fe>/device/<type>/<id> */
	char be[128];   /* /local/domain/<be>/backend/<type>/<fe>/<id> */
};

/* A column of `TYPE-list` (xl's): header, width (left-aligned, the last
 * padded too, as xl does; right-aligned, header and values, when right)
 * and the value for one device. */
struct ts_devcol {
	const char *header;
	int width;
	void (*value)(struct xs_client *xs, const struct ts_dev *dev,
		      char *out, size_t len);
	bool right;
};

struct ts_devtype {
	const char *type;    /* xenstore's name: "vbd" */
	const char *noun;    /* messages: "disk" */
	const char *id_noun; /* messages: "virtual device name or number" */
	const char *id_arg;  /* usage: "VDEV" */
	const char *backend; /* messages: "block backend" */
	const char *daemon;  /* the Dom0 service serving it: "pvkit-blkback" */
	/* A device's number from its name on the command line. */
	int (*parse_id)(const char *name, uint32_t *devid);
	/* Optional: the number of domain fe's device a name parse_id does
	 * not know stands for, looked up in xenstore (vif: a MAC address):
	 * 0, -EINVAL (not such a name) or -ENOENT (no such device).  With
	 * xs NULL, only whether name is such a name. */
	int (*resolve_id)(struct xs_client *xs, domid_t fe, const char *name,
			  uint32_t *devid);
	/* The type's config (e.g. struct xlcfg_disk): its name, or (when
	 * cfg_devid is set) its number. */
	const char *(*cfg_name)(const void *cfg);
	int (*cfg_devid)(const void *cfg, uint32_t *devid);
	/* The type's own backend and frontend nodes for cfg; the generic ones
	 * (frontend, frontend-id, online, backend, backend-id, state) are
	 * ts_dev_add's. */
	int (*nodes)(const void *cfg, const struct ts_dev *dev,
		     struct ts_nodes *be, struct ts_nodes *fe);
	const struct ts_devcol *cols;
	unsigned int ncols;
};

/* Every device type the toolstack knows, NULL-terminated: vbd, vif (pci
 * comes here). */
extern const struct ts_devtype *const ts_device_types[];
extern const struct ts_devtype ts_vbd_type;
extern const struct ts_devtype ts_vif_type;

/* Fill dev for device devid of domain fe (backend: Dom0). */
void ts_dev_init(struct ts_dev *dev, const struct ts_devtype *t, domid_t fe,
		 uint32_t devid, const char *label);
/* The same from a name on the command line (t->parse_id) or a config
 * (t->cfg_devid, else t->cfg_name): -EINVAL if the type does not know
 * the name. */
int ts_dev_from_name(struct ts_dev *dev, const struct ts_devtype *t,
		     domid_t fe, const char *name);
int ts_dev_from_cfg(struct ts_dev *dev, const struct ts_devtype *t,
		    domid_t fe, const void *cfg);

/* Write dev's backend and frontend directories in one transaction: the
 * generic nodes, the type's, both states Initialising.  The backend's is
 * owned by the backend domain and readable by the frontend, the
 * frontend's the other way round.  -EEXIST (nothing written) if either
 * already has a state. */
int ts_dev_add(struct xs_client *xs, const struct ts_dev *dev,
	       const void *cfg, const char *verb);
/* Wait up to wait_ms for the backend to take dev (InitWait or later):
 * 0, or -EIO when it refused it (hotplug-error) and -ETIMEDOUT when it
 * did not answer, with the reason printed. */
int ts_dev_wait_taken(struct xs_client *xs, const struct ts_dev *dev,
		      unsigned int wait_ms, const char *verb);
/* ts_dev_add, then ts_dev_wait_taken; when refused or not answered, the
 * nodes are removed again. */
int ts_dev_hotplug(struct xs_client *xs, const struct ts_dev *dev,
		   const void *cfg, unsigned int wait_ms, const char *verb);
/* Unless force, ask the backend to close (online=0 and Closing in one
 * transaction) and give the frontend up to wait_ms to say Closed (a
 * second when it stays Initialising: no driver took it); then remove
 * both directories in one transaction.  -ENOENT if dev has neither. */
int ts_dev_remove(struct xs_client *xs, const struct ts_dev *dev,
		  bool force, unsigned int wait_ms, const char *verb);
/* A destroyed domain: remove every type's frontend directory
 * (device/<type>) and backend directory (backend/<type>/<fe>). */
void ts_dev_remove_all(struct xs_client *xs,
		       const struct ts_devtype *const *types, domid_t fe);
/* Print the header and one row per device/<type>/<id> of domain fe;
 * ts_dev_list_rows the rows alone (TYPE-list of several domains). */
int ts_dev_list(struct xs_client *xs, const struct ts_devtype *t,
		domid_t fe, FILE *out);
void ts_dev_list_header(const struct ts_devtype *t, FILE *out);
int ts_dev_list_rows(struct xs_client *xs, const struct ts_devtype *t,
		     domid_t fe, FILE *out);
/* The devids of domain fe's devices of type t, from both its frontend
 * (device/<type>) and backend (backend/<type>/<fe>) directories, into
 * ids[max] sorted and without repeats: how many, or -errno. */
int ts_dev_ids(struct xs_client *xs, const struct ts_devtype *t, domid_t fe,
	       uint32_t *ids, unsigned int max);

/* Reading a device's nodes: dir/node as a number (-1 when missing or not
 * a number) or a string (NULL when missing; the caller frees it). */
long ts_dev_read_num(struct xs_client *xs, const char *dir, const char *node);
char *ts_dev_read_str(struct xs_client *xs, const char *dir, const char *node);

/* Generic list columns: the device's id, its backend domain, the
 * frontend domain ("handle"), the frontend's state, the backend path. */
void ts_col_id(struct xs_client *xs, const struct ts_dev *dev, char *out,
	       size_t len);
void ts_col_backend_id(struct xs_client *xs, const struct ts_dev *dev,
		       char *out, size_t len);
void ts_col_handle(struct xs_client *xs, const struct ts_dev *dev, char *out,
		   size_t len);
void ts_col_state(struct xs_client *xs, const struct ts_dev *dev, char *out,
		  size_t len);
void ts_col_backend(struct xs_client *xs, const struct ts_dev *dev,
		    char *out, size_t len);

#endif
