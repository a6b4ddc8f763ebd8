/*
 * xenbus.h - the xenbus device protocol over xenstore: the state machine
 * (<dir>/state), frontend/backend paths, and validated reading of the
 * nodes through which each end finds its peer.
 *
 * Functions return 0 or a negative errno unless stated otherwise; strings
 * handed out are malloc()ed and owned by the caller.
 */
#ifndef PVKIT_XENBUS_H
#define PVKIT_XENBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/io/xenbus.h>

#include "pvkit/xs.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the state machine (pure) ---------------------------------------- */

/* "Initialising", "Connected", ...; "Unknown" for values out of range. */
const char *xenbus_state_name(enum xenbus_state s);

/* Whether one end may move from 'from' to 'to': forward along
 * Initialising -> InitWait -> Initialised -> Connected (steps may be
 * skipped), Connected <-> Reconfiguring -> Reconfigured -> Connected,
 * any state -> Closing / Closed, Closing -> Closed, Closed ->
 * Initialising (reconnect), Unknown (no node yet) -> Initialising, and
 * staying in the same state.  Everything else is false. */
bool xenbus_state_transition_ok(enum xenbus_state from, enum xenbus_state to);

/* Parse a state node's value ("4"); -EINVAL unless it is a whole number
 * naming a state in Unknown..Reconfigured. */
int xenbus_state_parse(const char *s, enum xenbus_state *out);

/* ---- the state node -------------------------------------------------- */

/* Read <dir>/state.  A missing node reads as XenbusStateUnknown (0 is
 * returned); a malformed one is -EINVAL. */
int xenbus_read_state(struct xs_client *xs, xs_tx_t tx, const char *dir,
		      enum xenbus_state *out);

/* Write <dir>/state in a transaction (retried on EAGAIN), as Linux does:
 * if <dir>/state no longer exists the device is being removed and nothing
 * is written (-ENOENT); if it already holds state nothing is written. */
int xenbus_switch_state(struct xs_client *xs, const char *dir,
			enum xenbus_state state);

/* Bit for a state in a want-set: XENBUS_STATE_BIT(XenbusStateConnected). */
#define XENBUS_STATE_BIT(s) (1u << (unsigned int)(s))

/* Wait, with a watch on <dir>/state, until the state is in want (a set of
 * XENBUS_STATE_BITs).  timeout_ms < 0 waits forever.  *got (may be NULL)
 * receives the state seen last.  -ETIMEDOUT when the time ran out.  Works
 * from a watch callback too (by polling, since callbacks are serialised). */
int xenbus_wait_for_state(struct xs_client *xs, const char *dir,
			  uint32_t want, int timeout_ms,
			  enum xenbus_state *got);
/* The same with a predicate instead of a set. */
typedef bool (*xenbus_state_pred)(enum xenbus_state s, void *arg);
int xenbus_wait_for_state_fn(struct xs_client *xs, const char *dir,
			     xenbus_state_pred pred, void *arg,
			     int timeout_ms, enum xenbus_state *got);

/* ---- paths (pure) ---------------------------------------------------- */

/* Device type names: 1..31 chars of [a-z0-9_-]. */
#define XENBUS_TYPE_MAX 32
bool xenbus_type_valid(const char *type);

/* Format "/local/domain/<fe>/device/<type>/<id>" and
 * "/local/domain/<be>/backend/<type>/<fe>/<id>" into buf.  0, -EINVAL for
 * a bad type, or -ENAMETOOLONG when buf is too small. */
int xenbus_frontend_path(char *buf, size_t size, domid_t fe, const char *type,
			 uint32_t id);
int xenbus_backend_path(char *buf, size_t size, domid_t be, const char *type,
			domid_t fe, uint32_t id);

/* Parse paths of exactly those forms (no trailing '/', no extra
 * components, canonical decimal numbers).  Outputs may be NULL; type needs
 * XENBUS_TYPE_MAX bytes.  0 or -EINVAL. */
int xenbus_parse_frontend_path(const char *path, domid_t *fe, char *type,
			       uint32_t *id);
int xenbus_parse_backend_path(const char *path, domid_t *be, char *type,
			      domid_t *fe, uint32_t *id);

/* ---- finding the peer, validated ------------------------------------- */

/* This domain's id as the toolstack wrote it: the relative node "domid"
 * (a Linux domain's /dev/xen/xenbus, where the platform only knows
 * DOMID_SELF).  -ERANGE for a reserved id, -ENOENT if missing. */
int xenbus_read_domid(struct xs_client *xs, domid_t *out);

/* A frontend at fe_path (which must itself be a frontend path) reads its
 * "backend" and "backend-id" nodes.  The backend path must have the
 * backend form for the same type, frontend domain and device id, and its
 * domain must equal backend-id: anything else is -EINVAL (a confused or
 * malicious toolstack/peer), missing nodes are -ENOENT.  *be_path gets the
 * path, *be_id (may be NULL) the backend domain. */
int xenbus_read_backend(struct xs_client *xs, xs_tx_t tx, const char *fe_path,
			char **be_path, domid_t *be_id);

/* A backend at be_path reads its "frontend" and "frontend-id" nodes; the
 * frontend path must have the frontend form for the same type, domain and
 * device id, and frontend-id must match.  As above otherwise. */
int xenbus_read_frontend(struct xs_client *xs, xs_tx_t tx, const char *be_path,
			 char **fe_path, domid_t *fe_id);

#ifdef __cplusplus
}
#endif

#endif
