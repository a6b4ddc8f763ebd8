/*
 * xs.h - pvkit's xenstore client: the xs_wire protocol over a stream fd
 * (unix socket, /dev/xen/xenbus) or over the shared xenstore ring page.
 *
 * A client owns a reader thread that matches replies to requests (by
 * req_id) and a dispatch thread that runs watch callbacks, so every call
 * here is thread-safe and a watch callback may itself call the client.
 * Calls block until the daemon answers or the connection breaks.
 *
 * Unless stated otherwise functions return 0 or a negative errno; errors
 * sent by the daemon (XS_ERROR "ENOENT") come back as -ENOENT etc., a
 * broken connection or a protocol violation by the daemon as -EIO.
 * Strings handed out are malloc()ed and owned by the caller (free()).
 *
 * pvkit never links Xen's libxenstore, whose exported names overlap.
 */
#ifndef PVKIT_XS_H
#define PVKIT_XS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#include <xen/io/xs_wire.h>

#ifdef __cplusplus
extern "C" {
#endif

struct pvk_platform;
struct pvk_evtchn;
struct pvk_evtchn_ops;

struct xs_client;

/* A transaction id; XS_TX_NONE outside of a transaction. */
typedef uint32_t xs_tx_t;
#define XS_TX_NONE ((xs_tx_t)0)

/* ---- opening and closing --------------------------------------------- */

/* Connect to the unix socket at path; NULL means $XENSTORED_PATH, else
 * /var/run/xenstored/socket (libxenstore's convention). */
int xs_client_open_path(const char *path, struct xs_client **out);

/* Use an already-open stream fd (a socket, /dev/xen/xenbus).  The client
 * owns fd from then on, also on failure. */
int xs_client_open_fd(int fd, struct xs_client **out);

/* Use the shared ring page intf with the event channel port bound in h.
 * The caller keeps owning intf, ops and h and must keep them alive until
 * xs_client_close(); h should be a handle used for nothing else, since the
 * client consumes every pending port it reports. */
int xs_client_open_ring(struct xenstore_domain_interface *intf,
			const struct pvk_evtchn_ops *ops, struct pvk_evtchn *h,
			evtchn_port_t port, struct xs_client **out);

/* Convenience for Dom0-style processes and DomU tools: the socket at
 * plat->xs_path when set, else $XENSTORED_PATH / the default socket, else
 * /dev/xen/xenbus, else /proc/xen/xenbus (xenfs). */
int xs_client_open_platform(const struct pvk_platform *plat,
			    struct xs_client **out);

/* Stop the threads, fail outstanding calls with -EIO, free everything.
 * Must not be called from a watch callback.  NULL is allowed. */
void xs_client_close(struct xs_client *xs);

/* Survive the daemon's restart (a connection opened by path: a
 * pvkit-xenstored on --journal keeps its store across SIGKILL).  When the
 * connection drops, the client connects again within timeout_ms, registers
 * every watch again (each then fires once, so its owner looks again) and
 * sends again each request that had no answer; a request in a transaction,
 * or ending one, gets -EAGAIN instead (the transaction died with the old
 * connection: run it again, as for a conflict), as does any later use of
 * such a transaction.  A resent XS_RM that finds nothing succeeds.  If the
 * daemon does not come back, the connection breaks as without this and
 * on_break (may be NULL) is called once, from the client's reader thread.
 * 0, or -EOPNOTSUPP for a connection not opened by path. */
int xs_client_set_reconnect(struct xs_client *xs, unsigned int timeout_ms,
			    void (*on_break)(void *arg, int err), void *arg);

/* 0 while connected, else the negative errno that broke the connection. */
int xs_client_error(struct xs_client *xs);

/* True when called from this client's watch dispatch thread. */
bool xs_client_in_callback(struct xs_client *xs);

/* ---- generic request ------------------------------------------------- */

/* Send one request whose payload is the concatenation of nargs
 * NUL-terminated strings (the last one unterminated when last_raw is true,
 * as for XS_WRITE data), wait for the reply.  *reply (may be NULL) gets a
 * malloc()ed copy of the reply payload plus a NUL, *len its length. */
struct xs_arg {
	const void *data;
	size_t len; /* bytes of data, not counting any terminator */
};
int xs_request(struct xs_client *xs, xs_tx_t tx, enum xsd_sockmsg_type type,
	       const struct xs_arg *args, unsigned int nargs, bool last_raw,
	       char **reply, size_t *len);

/* ---- the operations -------------------------------------------------- */

/* *val gets the node's value, NUL-terminated (len excludes the NUL). */
int xs_read(struct xs_client *xs, xs_tx_t tx, const char *path, char **val,
	    size_t *len);
int xs_write(struct xs_client *xs, xs_tx_t tx, const char *path,
	     const void *data, size_t len);
int xs_write_str(struct xs_client *xs, xs_tx_t tx, const char *path,
		 const char *s);
int xs_mkdir(struct xs_client *xs, xs_tx_t tx, const char *path);
int xs_rm(struct xs_client *xs, xs_tx_t tx, const char *path);

/* *names gets an array of *n child names; the array and the strings are
 * one allocation: free(*names) releases both. */
int xs_directory(struct xs_client *xs, xs_tx_t tx, const char *path,
		 char ***names, unsigned int *n);

/* Permissions, Xen's format: "n0" "r1" "w2" "b3" (letter, then domid).
 * The first entry is the owner and the default for other domains. */
#define XS_PERM_NONE 0u
#define XS_PERM_READ 1u
#define XS_PERM_WRITE 2u
#define XS_PERM_BOTH (XS_PERM_READ | XS_PERM_WRITE)
struct xs_perm {
	domid_t id;
	unsigned int perms; /* XS_PERM_* */
};
#define XS_PERM_STRLEN 8 /* "b65535" plus NUL, rounded up */
/* Pure helpers: 0 or -EINVAL. */
int xs_perm_parse(const char *s, struct xs_perm *out);
int xs_perm_format(const struct xs_perm *p, char buf[XS_PERM_STRLEN]);
/* *perms gets a malloc()ed array of *n entries. */
int xs_get_perms(struct xs_client *xs, xs_tx_t tx, const char *path,
		 struct xs_perm **perms, unsigned int *n);
int xs_set_perms(struct xs_client *xs, xs_tx_t tx, const char *path,
		 const struct xs_perm *perms, unsigned int n);

/* Watches.  fn runs on the client's dispatch thread with the path that
 * changed and the token; it may call the client (but not xs_client_close).
 * The daemon fires every new watch once.  (path, token) identifies a
 * watch; registering the same pair twice is -EEXIST.  path and token are
 * copied.  After xs_unwatch() returns, fn is not running and will not be
 * called again for that watch (when called from fn itself: once fn
 * returns). */
typedef void (*xs_watch_fn)(struct xs_client *xs, const char *path,
			    const char *token, void *arg);
int xs_watch(struct xs_client *xs, const char *path, const char *token,
	     xs_watch_fn fn, void *arg);
int xs_unwatch(struct xs_client *xs, const char *path, const char *token);

int xs_transaction_start(struct xs_client *xs, xs_tx_t *tx);
/* Commit (abort=false) or abort.  -EAGAIN: a conflicting change was
 * committed meanwhile; the transaction is gone and should be retried. */
int xs_transaction_end(struct xs_client *xs, xs_tx_t tx, bool abort);

/* Privileged domain management. */
int xs_introduce(struct xs_client *xs, domid_t dom, uint64_t gfn,
		 evtchn_port_t port);
int xs_release(struct xs_client *xs, domid_t dom);
int xs_resume(struct xs_client *xs, domid_t dom);
int xs_set_target(struct xs_client *xs, domid_t dom, domid_t target);
/* *path gets e.g. "/local/domain/3". */
int xs_get_domain_path(struct xs_client *xs, domid_t dom, char **path);
/* 1 if introduced, 0 if not, or -errno. */
int xs_is_domain_introduced(struct xs_client *xs, domid_t dom);
/* XS_CONTROL with argc strings; *out (may be NULL) gets the reply. */
int xs_control(struct xs_client *xs, const char *const *argv,
	       unsigned int argc, char **out, size_t *outlen);

/* ---- helpers --------------------------------------------------------- */

/* Write a printf-formatted value. */
int xs_printf(struct xs_client *xs, xs_tx_t tx, const char *path,
	      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* sscanf() the node's value.  Returns the number of conversions (>= 1),
 * -EINVAL if nothing matched, or -errno from the read.  No range checks:
 * prefer xs_read_u64 / xs_read_int for numbers from untrusted peers. */
int xs_scanf(struct xs_client *xs, xs_tx_t tx, const char *path,
	     const char *fmt, ...) __attribute__((format(scanf, 4, 5)));
/* Read a whole decimal number in [min, max]: -EINVAL if the node is not a
 * number, -ERANGE if out of range, -ENOENT if missing. */
int xs_read_u64(struct xs_client *xs, xs_tx_t tx, const char *path,
		uint64_t min, uint64_t max, uint64_t *out);
int xs_read_int(struct xs_client *xs, xs_tx_t tx, const char *path, int min,
		int max, int *out);

/* Run fn in a fresh transaction and commit; on -EAGAIN from the commit
 * (or from fn) start over, up to XS_TRANSACTION_RETRIES times.  If fn
 * returns < 0 the transaction is aborted and that value returned.  Returns
 * fn's last (>= 0) value once committed, or -errno.  fn may run several
 * times, so it should only touch xenstore through tx (and its own arg). */
#define XS_TRANSACTION_RETRIES 64
typedef int (*xs_transaction_fn)(struct xs_client *xs, xs_tx_t tx, void *arg);
int xs_transaction_run(struct xs_client *xs, xs_transaction_fn fn, void *arg);

/* Map an errno name from the wire ("ENOENT") to -ENOENT; unknown names
 * give -EIO.  The reverse: "EINVAL" for unknown values. */
int xs_errno_from_string(const char *s);
const char *xs_errno_to_string(int err);

#ifdef __cplusplus
}
#endif

#endif
