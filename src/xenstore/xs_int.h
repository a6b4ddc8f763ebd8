/*
 * xs_int.h - internals shared by the xenstore core's files (xs_tree.c,
 * xs_watch.c, xs_tx.c, xs_ops.c, xs_core.c).  Not for other modules: the
 * public interface is xs_core.h.  Exported internals carry the xsi_ prefix.
 */
#ifndef PVKIT_XS_INT_H
#define PVKIT_XS_INT_H

#include "xenstore/xs_core.h"
#include "xenstore/xs_htab.h"

#define PERM_NONE 0u
#define PERM_READ 1u
#define PERM_WRITE 2u
#define PERM_OWNER 4u
#define PERM_ALL (PERM_READ | PERM_WRITE | PERM_OWNER)

#define SPECIAL_INTRO "@introduceDomain"
#define SPECIAL_RELEASE "@releaseDomain"
#define PRIV_OUT_BYTES (64u << 20) /* event cap even for Dom0 clients */
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

struct xs_perm {
	domid_t id;
	uint8_t perms; /* PERM_READ | PERM_WRITE */
};

struct xs_node {
	struct xs_hentry h; /* key = path */
	char *path;
	char *value;
	uint32_t vlen;
	struct xs_perm *perms;
	uint32_t nperms;
	char **kids; /* leaf names, insertion order */
	uint32_t nkids, kcap;
	size_t kbytes; /* sum of strlen(kid) + 1 */
	uint64_t gen;
	/* transaction copies only */
	bool present, dirty;
	uint64_t base_gen; /* generation in the tree when copied, 0 = absent */
	uint64_t seq;	   /* order of first access, keeps children's order */
};

struct xs_event {
	struct xs_event *next;
	char *path;
	bool recurse;
	struct xs_perm *perms;
	uint32_t nperms;
};

struct xs_tx {
	struct xs_tx *next;
	uint32_t id;
	struct xs_htab nodes;
	uint32_t nnodes;
	uint64_t seq;
	struct xs_event *events, **events_tail;
	int64_t node_delta; /* nodes owned by the connection's domain */
	int error;	    /* sticky: commit fails with it */
};

struct xs_watch {
	struct xs_hentry h;		/* key = abspath, in core->watches */
	struct xs_watch *next, *prev;	/* per connection */
	struct xs_watch *gnext, *gprev; /* whole core */
	struct xs_conn *conn;
	char *abspath;
	char *token;
	size_t strip; /* prefix length removed from event paths (relative) */
};

struct xs_msg {
	struct xs_msg *next;
	size_t len, off;
	bool reply;
	unsigned char data[];
};

struct xs_conn {
	struct xs_core *core;
	struct xs_conn *next, *prev;
	domid_t domid;
	bool failed;
	bool is_domain; /* created by INTRODUCE */
	void *priv;
	unsigned char in[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX];
	size_t inlen;
	struct xs_msg *out_head, **out_tail;
	size_t out_bytes;
	uint32_t out_replies;
	struct xs_watch *watches;
	uint32_t nwatches;
	struct xs_tx *txs;
	uint32_t ntx;
	uint64_t rl_last_ns;
	uint64_t rl_tokens_milli;
	bool rl_init;
};

struct xs_domain {
	domid_t domid;
	bool introduced, shutdown_fired, has_target;
	domid_t target;
	struct xs_conn *conn;
	uint64_t gfn;
	evtchn_port_t port;
	uint32_t nnodes;
};

struct xs_core {
	struct xs_quota q;
	struct xs_core_hooks hooks;
	struct xs_htab nodes;
	struct xs_htab watches;
	struct xs_watch *all_watches;
	struct xs_conn *conns;
	struct xs_domain **doms; /* DOMID_FIRST_RESERVED entries */
	unsigned int doms_hi;	 /* doms[i] == NULL for every i >= it */
	uint64_t gen;
	uint32_t next_txid;
	bool log_on;
	unsigned int in_feed; /* inputs nested in a feed are not journaled */
	uint64_t feed_now;    /* now_ns at the start of the current feed */
};

/* A request being handled: the connection, its transaction (or NULL) and
 * a nul-terminated copy of the payload. */
struct xs_req {
	struct xs_core *core;
	struct xs_conn *conn;
	struct xs_tx *tx;
	const struct xsd_sockmsg *hdr;
	char data[XENSTORE_PAYLOAD_MAX + 1];
	uint32_t len;
	unsigned int nargs;
	char reply[XENSTORE_PAYLOAD_MAX];
	uint32_t rlen;
};

#define REPLIED 1 /* handler queued its own reply */

extern const char *const xsi_quota_names[]; /* NULL-terminated */

/* xs_tree.c: helpers, permissions, paths, nodes */
bool xsi_conn_priv(const struct xs_conn *c);
struct xs_domain *xsi_domain_get(struct xs_core *core, unsigned int domid,
				 bool create);
const struct xs_domain *xsi_domain_peek(const struct xs_core *core,
					unsigned int domid);
void xsi_count_owner(struct xs_core *core, domid_t owner, int delta);
int xsi_parse_uint(const char *s, uint64_t max, uint64_t *out);
int xsi_parse_domid(const char *s, domid_t *out);
const char *xsi_errno_name(int err);
unsigned int xsi_perm_for(const struct xs_conn *c, const struct xs_perm *p,
			  uint32_t n);
bool xsi_node_allows(const struct xs_conn *c, const struct xs_node *n,
		     unsigned int want);
int xsi_perms_parse(const struct xs_req *r, const char *s, uint32_t count,
		    struct xs_perm **out);
char xsi_perm_char(uint8_t perms);
int xsi_path_canon(const struct xs_conn *c, const char *in, char *out,
		   bool allow_special, bool *relative);
size_t xsi_parent_len(const char *path, size_t len);
void xsi_parent_path(const char *path, char *buf);
const char *xsi_leaf_name(const char *path);
bool xsi_path_is_child(const char *child, const char *path);
void xsi_node_free(struct xs_node *n);
void xsi_node_clear(struct xs_node *n);
struct xs_node *xsi_node_alloc(const char *path);
int xsi_node_set_value(struct xs_node *n, const char *v, uint32_t len);
int xsi_node_set_perms(struct xs_node *n, const struct xs_perm *p,
		       uint32_t count);
int xsi_node_add_kid(struct xs_node *n, const char *name);
void xsi_node_del_kid(struct xs_node *n, const char *name);
struct xs_node *xsi_node_copy(const struct xs_node *n, const char *path);
size_t xsi_node_size(const struct xs_node *n);
struct xs_node *xsi_tree_find(const struct xs_core *core, const char *path);

/* xs_watch.c: watches and their events */
void xsi_watch_send(struct xs_watch *w, const char *epath);
void xsi_fire_watches(struct xs_core *core, const char *path, bool recurse,
		      const struct xs_perm *perms, uint32_t nperms);
void xsi_fire_special(struct xs_core *core, const char *name);
/* A new watch of c on abspath (events lose the first strip bytes); no
 * checks.  *out is it; 0 or -ENOMEM. */
int xsi_watch_add(struct xs_conn *c, const char *abspath, const char *token,
		  size_t strip, struct xs_watch **out);
void xsi_watch_free(struct xs_core *core, struct xs_watch *w);

/* xs_tx.c: the request view (tree or transaction overlay) and commit */
void xsi_conn_tx_remove(struct xs_conn *c, struct xs_tx *tx);
struct xs_tx *xsi_conn_tx_find(struct xs_conn *c, uint32_t id);
int xsi_view_get(struct xs_req *r, const char *path, struct xs_node **out);
void xsi_view_touch(struct xs_req *r, struct xs_node *n);
int xsi_view_event(struct xs_req *r, const char *path, bool recurse,
		   const struct xs_perm *perms, uint32_t nperms);
int xsi_view_delete(struct xs_req *r, struct xs_node *n);
int xsi_missing_errno(struct xs_req *r, const char *path);
int xsi_get_node(struct xs_req *r, const char *path, unsigned int want,
		 struct xs_node **out);
int xsi_get_or_create(struct xs_req *r, const char *path, struct xs_node **out,
		      bool *created);
int xsi_tx_commit(struct xs_core *core, struct xs_tx *tx);
void xsi_conn_drop_state(struct xs_conn *c);

/* xs_core.c: connections, output queues, domains, the store */
int xsi_conn_queue(struct xs_conn *c, uint32_t type, uint32_t req_id,
		   uint32_t tx_id, const void *p1, size_t l1, const void *p2,
		   size_t l2, bool reply);
size_t xsi_core_check(const struct xs_core *core);
uint32_t *xsi_quota_field(struct xs_quota *q, const char *name);
void xsi_conn_unlink_free(struct xs_conn *c);

#endif
