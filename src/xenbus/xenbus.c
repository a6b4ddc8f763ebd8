/*
 * xenbus.c - xenbus on top of the xenstore client: the device state
 * machine (pure helpers plus state-node access and waiting) and validated
 * frontend/backend path handling.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"
#include "pvkit/xenbus.h"

/* ---- states ---------------------------------------------------------- */

static const char *const state_names[] = {
	[XenbusStateUnknown] = "Unknown",
	[XenbusStateInitialising] = "Initialising",
	[XenbusStateInitWait] = "InitWait",
	[XenbusStateInitialised] = "Initialised",
	[XenbusStateConnected] = "Connected",
	[XenbusStateClosing] = "Closing",
	[XenbusStateClosed] = "Closed",
	[XenbusStateReconfiguring] = "Reconfiguring",
	[XenbusStateReconfigured] = "Reconfigured",
};

const char *xenbus_state_name(enum xenbus_state s)
{
	if ((unsigned int)s >= PVK_ARRAY_SIZE(state_names))
		return "Unknown";
	return state_names[s];
}

/* Position along the connection sequence, 0 when not on it. */
static int setup_rank(enum xenbus_state s)
{
	switch (s) {
	case XenbusStateInitialising:
		return 1;
	case XenbusStateInitWait:
		return 2;
	case XenbusStateInitialised:
		return 3;
	case XenbusStateConnected:
		return 4;
	default:
		return 0;
	}
}

bool xenbus_state_transition_ok(enum xenbus_state from, enum xenbus_state to)
{
	if ((unsigned int)from > XenbusStateReconfigured ||
	    (unsigned int)to > XenbusStateReconfigured)
		return false;
	if (from == to)
		return true;
	if (to == XenbusStateUnknown)
		return false;
	if (to == XenbusStateClosing)
		return from != XenbusStateClosed;
	if (to == XenbusStateClosed)
		return true;
	if (from == XenbusStateUnknown || from == XenbusStateClosed)
		return to == XenbusStateInitialising;
	if (setup_rank(from) && setup_rank(to))
		return setup_rank(to) > setup_rank(from);
	if (to == XenbusStateReconfiguring)
		return from == XenbusStateConnected;
	if (to == XenbusStateReconfigured)
		return from == XenbusStateReconfiguring;
	if (to == XenbusStateConnected)
		return from == XenbusStateReconfigured;
	return false;
}

int xenbus_state_parse(const char *s, enum xenbus_state *out)
{
	uint64_t v;

	if (s[0] < '0' || s[0] > '9' || (s[0] == '0' && s[1]))
		return -EINVAL;
	if (pvk_parse_u64(s, 0, XenbusStateReconfigured, &v) < 0)
		return -EINVAL;
	*out = (enum xenbus_state)v;
	return 0;
}

/* ---- the state node -------------------------------------------------- */

static int state_path(char *buf, size_t size, const char *dir)
{
	int n = snprintf(buf, size, "%s/state", dir);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int xenbus_read_state(struct xs_client *xs, xs_tx_t tx, const char *dir,
		      enum xenbus_state *out)
{
	char path[XENSTORE_ABS_PATH_MAX + 1], *val;
	int rc;

	rc = state_path(path, sizeof(path), dir);
	if (rc < 0)
		return rc;
	rc = xs_read(xs, tx, path, &val, NULL);
	if (rc == -ENOENT) {
		*out = XenbusStateUnknown;
		return 0;
	}
	if (rc < 0)
		return rc;
	rc = xenbus_state_parse(val, out);
	free(val);
	return rc;
}

struct switch_args {
	const char *path;
	enum xenbus_state state;
};

static int switch_tx(struct xs_client *xs, xs_tx_t tx, void *arg)
{
	struct switch_args *a = arg;
	enum xenbus_state cur;
	char *val;
	int rc;

	rc = xs_read(xs, tx, a->path, &val, NULL);
	if (rc < 0)
		return rc; /* -ENOENT: the device is going away */
	rc = xenbus_state_parse(val, &cur);
	free(val);
	if (rc == 0 && cur == a->state)
		return 0;
	return xs_printf(xs, tx, a->path, "%d", (int)a->state);
}

int xenbus_switch_state(struct xs_client *xs, const char *dir,
			enum xenbus_state state)
{
	char path[XENSTORE_ABS_PATH_MAX + 1];
	struct switch_args a = {path, state};
	int rc;

	if ((unsigned int)state > XenbusStateReconfigured)
		return -EINVAL;
	rc = state_path(path, sizeof(path), dir);
	if (rc < 0)
		return rc;
	rc = xs_transaction_run(xs, switch_tx, &a);
	return rc < 0 ? rc : 0;
}

/* ---- waiting --------------------------------------------------------- */

struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned long fired;
};

static void waiter_cb(struct xs_client *xs, const char *path,
		      const char *token, void *arg)
{
	struct waiter *w = arg;

	(void)xs;
	(void)path;
	(void)token;
	pthread_mutex_lock(&w->lock);
	w->fired++;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

static bool pred_mask(enum xenbus_state s, void *arg)
{
	return (*(uint32_t *)arg & XENBUS_STATE_BIT(s)) != 0;
}

int xenbus_wait_for_state(struct xs_client *xs, const char *dir,
			  uint32_t want, int timeout_ms, enum xenbus_state *got)
{
	return xenbus_wait_for_state_fn(xs, dir, pred_mask, &want, timeout_ms,
					got);
}

int xenbus_wait_for_state_fn(struct xs_client *xs, const char *dir,
			     xenbus_state_pred pred, void *arg, int timeout_ms,
			     enum xenbus_state *got)
{
	char path[XENSTORE_ABS_PATH_MAX + 1], token[64];
	struct waiter w = {.fired = 0};
	bool watching = false, poll_only = xs_client_in_callback(xs);
	uint64_t deadline = 0;
	enum xenbus_state s = XenbusStateUnknown;
	int rc;

	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.cond, NULL);
	if (timeout_ms >= 0)
		deadline = pvk_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	rc = state_path(path, sizeof(path), dir);
	if (rc < 0)
		goto out;
	if (!poll_only) {
		snprintf(token, sizeof(token), "pvk-xenbus-wait/%p", (void *)&w);
		rc = xs_watch(xs, path, token, waiter_cb, &w);
		if (rc < 0)
			goto out;
		watching = true;
	}
	for (;;) {
		unsigned long seen;
		struct timespec ts;
		uint64_t now, when;

		pthread_mutex_lock(&w.lock);
		seen = w.fired;
		pthread_mutex_unlock(&w.lock);
		rc = xenbus_read_state(xs, XS_TX_NONE, dir, &s);
		if (rc < 0)
			goto out;
		if (pred(s, arg))
			break;
		now = pvk_now_ns();
		if (timeout_ms >= 0 && now >= deadline) {
			rc = -ETIMEDOUT;
			goto out;
		}
		/* Sleep until the watch fires or the deadline; when polling
		 * (inside a callback), 10 ms at a time. */
		when = timeout_ms >= 0 ? deadline : now + 3600000000000ull;
		if (poll_only && when > now + 10000000ull)
			when = now + 10000000ull;
		clock_gettime(CLOCK_REALTIME, &ts);
		{
			uint64_t rt = (uint64_t)ts.tv_sec * 1000000000ull +
				      (uint64_t)ts.tv_nsec + (when - now);

			ts.tv_sec = (time_t)(rt / 1000000000ull);
			ts.tv_nsec = (long)(rt % 1000000000ull);
		}
		pthread_mutex_lock(&w.lock);
		while (w.fired == seen &&
		       pthread_cond_timedwait(&w.cond, &w.lock, &ts) == 0)
			;
		pthread_mutex_unlock(&w.lock);
	}
	rc = 0;
out:
	if (got)
		*got = s;
	if (watching)
		xs_unwatch(xs, path, token);
	pthread_cond_destroy(&w.cond);
	pthread_mutex_destroy(&w.lock);
	return rc;
}

/* ---- paths ----------------------------------------------------------- */

bool xenbus_type_valid(const char *type)
{
	size_t i, n = strlen(type);

	if (n == 0 || n >= XENBUS_TYPE_MAX)
		return false;
	for (i = 0; i < n; i++) {
		char c = type[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

static int fmt_path(char *buf, size_t size, int n)
{
	(void)buf;
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int xenbus_frontend_path(char *buf, size_t size, domid_t fe, const char *type,
			 uint32_t id)
{
	if (!xenbus_type_valid(type))
		return -EINVAL;
	return fmt_path(buf, size,
			snprintf(buf, size, "/local/domain/%u/device/%s/%" PRIu32,
				 (unsigned int)fe, type, id));
}

int xenbus_backend_path(char *buf, size_t size, domid_t be, const char *type,
			domid_t fe, uint32_t id)
{
	if (!xenbus_type_valid(type))
		return -EINVAL;
	return fmt_path(buf, size,
			snprintf(buf, size,
				 "/local/domain/%u/backend/%s/%u/%" PRIu32,
				 (unsigned int)be, type, (unsigned int)fe, id));
}

/* Consume a canonical decimal number (no sign, no leading zero) up to the
 * next '/' or the end; advance *p past it. */
static int take_num(const char **p, uint64_t max, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	size_t n = 0;

	while (s[n] >= '0' && s[n] <= '9') {
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(s[n] - '0'), &v))
			return -EINVAL;
		n++;
	}
	if (n == 0 || (s[0] == '0' && n > 1) || v > max ||
	    (s[n] != '/' && s[n] != '\0'))
		return -EINVAL;
	*p = s + n;
	*out = v;
	return 0;
}

static int take_lit(const char **p, const char *lit)
{
	size_t n = strlen(lit);

	if (strncmp(*p, lit, n))
		return -EINVAL;
	*p += n;
	return 0;
}

static int take_type(const char **p, char *type)
{
	const char *s = *p, *e = strchr(s, '/');
	char buf[XENBUS_TYPE_MAX];
	size_t n;

	if (!e)
		return -EINVAL;
	n = (size_t)(e - s);
	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (!xenbus_type_valid(buf))
		return -EINVAL;
	if (type)
		memcpy(type, buf, n + 1);
	*p = e;
	return 0;
}

int xenbus_parse_frontend_path(const char *path, domid_t *fe, char *type,
			       uint32_t *id)
{
	const char *p = path;
	uint64_t d, i;

	if (take_lit(&p, "/local/domain/") || take_num(&p, DOMID_FIRST_RESERVED - 1, &d) ||
	    take_lit(&p, "/device/") || take_type(&p, type) ||
	    take_lit(&p, "/") || take_num(&p, UINT32_MAX, &i) || *p)
		return -EINVAL;
	if (fe)
		*fe = (domid_t)d;
	if (id)
		*id = (uint32_t)i;
	return 0;
}

int xenbus_parse_backend_path(const char *path, domid_t *be, char *type,
			      domid_t *fe, uint32_t *id)
{
	const char *p = path;
	uint64_t b, f, i;

	if (take_lit(&p, "/local/domain/") || take_num(&p, DOMID_FIRST_RESERVED - 1, &b) ||
	    take_lit(&p, "/backend/") || take_type(&p, type) ||
	    take_lit(&p, "/") || take_num(&p, DOMID_FIRST_RESERVED - 1, &f) ||
	    take_lit(&p, "/") || take_num(&p, UINT32_MAX, &i) || *p)
		return -EINVAL;
	if (be)
		*be = (domid_t)b;
	if (fe)
		*fe = (domid_t)f;
	if (id)
		*id = (uint32_t)i;
	return 0;
}

/* Read <dir>/<node> as a string and <dir>/<node>-id as a domid. */
static int read_peer(struct xs_client *xs, xs_tx_t tx, const char *dir,
		     const char *node, char **peer, domid_t *peer_id)
{
	char path[XENSTORE_ABS_PATH_MAX + 1];
	uint64_t id;
	int rc;

	if (snprintf(path, sizeof(path), "%s/%s-id", dir, node) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	rc = xs_read_u64(xs, tx, path, 0, DOMID_FIRST_RESERVED - 1, &id);
	if (rc < 0)
		return rc == -ERANGE ? -EINVAL : rc;
	*peer_id = (domid_t)id;
	snprintf(path, sizeof(path), "%s/%s", dir, node);
	return xs_read(xs, tx, path, peer, NULL);
}

int xenbus_read_domid(struct xs_client *xs, domid_t *out)
{
	uint64_t v;
	int rc = xs_read_u64(xs, XS_TX_NONE, "domid", 0,
			     DOMID_FIRST_RESERVED - 1, &v);

	if (rc < 0)
		return rc;
	*out = (domid_t)v;
	return 0;
}

int xenbus_read_backend(struct xs_client *xs, xs_tx_t tx, const char *fe_path,
			char **be_path, domid_t *be_id)
{
	char type[XENBUS_TYPE_MAX], btype[XENBUS_TYPE_MAX], *peer = NULL;
	domid_t fe, be, bfe, id;
	uint32_t dev, bdev;
	int rc;

	rc = xenbus_parse_frontend_path(fe_path, &fe, type, &dev);
	if (rc < 0)
		return rc;
	rc = read_peer(xs, tx, fe_path, "backend", &peer, &id);
	if (rc < 0)
		goto out;
	rc = -EINVAL;
	if (xenbus_parse_backend_path(peer, &be, btype, &bfe, &bdev) < 0 ||
	    be != id || bfe != fe || bdev != dev || strcmp(btype, type))
		goto out;
	*be_path = peer;
	peer = NULL;
	if (be_id)
		*be_id = be;
	rc = 0;
out:
	free(peer);
	return rc;
}

int xenbus_read_frontend(struct xs_client *xs, xs_tx_t tx, const char *be_path,
			 char **fe_path, domid_t *fe_id)
{
	char type[XENBUS_TYPE_MAX], ftype[XENBUS_TYPE_MAX], *peer = NULL;
	domid_t be, fe, ffe, id;
	uint32_t dev, fdev;
	int rc;

	rc = xenbus_parse_backend_path(be_path, &be, type, &fe, &dev);
	if (rc < 0)
		return rc;
	rc = read_peer(xs, tx, be_path, "frontend", &peer, &id);
	if (rc < 0)
		goto out;
	rc = -EINVAL;
	if (xenbus_parse_frontend_path(peer, &ffe, ftype, &fdev) < 0 ||
	    ffe != id || ffe != fe || fdev != dev || strcmp(ftype, type))
		goto out;
	*fe_path = peer;
	peer = NULL;
	if (fe_id)
		*fe_id = ffe;
	rc = 0;
out:
	free(peer);
	return rc;
}
