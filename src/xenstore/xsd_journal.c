/*
 * xsd_journal.c - a store that survives its daemon's SIGKILL.
 *
 * Two files beside each other: BASE.img, the whole core as xs_core_save()
 * writes it (with each socket connection's journal id), and BASE.log,
 * every input the core took since that image, in order: bytes fed to a
 * connection (with the feed's time), output bytes consumed, ring
 * reconnections, domains shut down or released, socket connections
 * opened and closed, and the ring indexes about to be published.  The
 * core is deterministic in its inputs, so the image plus the log replayed
 * is the core as it was at the last flush.
 *
 * The daemon flushes the log (one write(2)) before anything the core did
 * becomes visible: before a reply or event is sent on a socket and before
 * a ring's indexes are published.  A request whose effects were not in a
 * flushed log was therefore never answered; its bytes are still in the
 * ring (whose consumer index was not published) or die with the socket.
 * Process death is covered, not power loss: nothing is fsync'd (a host
 * that loses power loses its domains too).
 *
 * Files are replaced by rename: a new image carries a generation one above
 * the last, and a log whose generation is not the image's is ignored (the
 * image is then newer than everything in it).  Records carry a checksum;
 * replay stops at the first torn or corrupt one.
 */
#include "xenstore/xsd_journal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

#define IMG_MAGIC "PVKXSIM1"
#define LOG_MAGIC "PVKXSJL1"
#define REC_MAX_DATA (64u * 1024)

struct file_head {
	char magic[8];
	uint64_t gen;
	uint64_t len; /* image: bytes of core image that follow; log: 0 */
};

/* One log record; data (len bytes) follows. */
struct rec {
	uint32_t len;
	uint8_t kind; /* enum xsd_jkind */
	uint8_t failed;
	uint16_t domid;
	uint32_t jid; /* a socket connection, or 0: the domain's ring */
	uint32_t sum; /* of the record with sum 0, and its data */
	uint64_t arg;
};

struct xsd_journal {
	char img[PATH_MAX], log[PATH_MAX];
	int fd; /* the log, O_APPEND */
	uint64_t gen;
	uint64_t log_bytes; /* in the file */
	unsigned char *buf; /* records not yet written */
	size_t len, cap;
	bool broken;
	uint32_t next_jid;
	/* replay */
	uint64_t now;
	struct {
		uint32_t jid;
		struct xs_conn *conn;
	} * conns;
	size_t nconns, cconns;
	struct xsd_ring_pos *rings;
	size_t nrings, crings;
};

static uint32_t sum32(uint32_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 16777619u;
	}
	return h;
}

static uint32_t rec_sum(const struct rec *r, const void *data)
{
	struct rec c = *r;

	c.sum = 0;
	return sum32(sum32(2166136261u, &c, sizeof(c)), data, r->len);
}

int xsd_journal_new(const char *base, struct xsd_journal **out)
{
	struct xsd_journal *j;

	if (!base || !*base || strlen(base) + 5 > PATH_MAX)
		return -ENAMETOOLONG;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	snprintf(j->img, sizeof(j->img), "%s.img", base);
	snprintf(j->log, sizeof(j->log), "%s.log", base);
	j->fd = -1;
	j->next_jid = 1;
	*out = j;
	return 0;
}

void xsd_journal_free(struct xsd_journal *j)
{
	if (!j)
		return;
	if (j->fd >= 0)
		close(j->fd);
	free(j->buf);
	free(j->conns);
	free(j->rings);
	free(j);
}

uint32_t xsd_journal_new_jid(struct xsd_journal *j)
{
	uint32_t id = j->next_jid++;

	if (j->next_jid == 0)
		j->next_jid = 1;
	return id;
}

uint64_t xsd_journal_log_bytes(const struct xsd_journal *j)
{
	return j->log_bytes + j->len;
}

bool xsd_journal_broken(const struct xsd_journal *j) { return j->broken; }

/* ---- writing ----------------------------------------------------------- */

static void broken(struct xsd_journal *j, const char *what, int err)
{
	if (j->broken)
		return;
	j->broken = true;
	pvk_err("journal: %s: %s; the store would not survive a restart: "
		"its files are removed and it is no longer journaled",
		what, strerror(err));
	unlink(j->log);
	unlink(j->img);
	j->len = 0;
}

void xsd_journal_record(struct xsd_journal *j, enum xsd_jkind kind,
			domid_t domid, uint32_t jid, uint64_t arg,
			const void *data, size_t len, bool failed)
{
	struct rec r = {.len = (uint32_t)len,
			.kind = (uint8_t)kind,
			.failed = failed,
			.domid = domid,
			.jid = jid,
			.arg = arg};
	size_t need = sizeof(r) + len;

	if (j->broken || j->fd < 0)
		return;
	if (len > REC_MAX_DATA) {
		broken(j, "record too large", E2BIG);
		return;
	}
	if (need > j->cap - j->len) {
		size_t cap = j->cap ? j->cap : 16384;
		unsigned char *nb;

		while (need > cap - j->len)
			cap *= 2;
		nb = realloc(j->buf, cap);
		if (!nb) {
			broken(j, "buffer", ENOMEM);
			return;
		}
		j->buf = nb;
		j->cap = cap;
	}
	r.sum = rec_sum(&r, data);
	memcpy(j->buf + j->len, &r, sizeof(r));
	if (len)
		memcpy(j->buf + j->len + sizeof(r), data, len);
	j->len += need;
}

int xsd_journal_flush(struct xsd_journal *j)
{
	int rc;

	if (j->broken || !j->len)
		return j->broken ? -EIO : 0;
	rc = pvk_write_all(j->fd, j->buf, j->len);
	if (rc) {
		broken(j, "write", -rc);
		return rc;
	}
	j->log_bytes += j->len;
	j->len = 0;
	return 0;
}

/* Write path.tmp with head and body, rename it to path. */
static int write_file(const char *path, const struct file_head *h,
		      const void *body, size_t len, int *keep_fd)
{
	char tmp[PATH_MAX + 8];
	int fd, rc = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	rc = pvk_write_all(fd, h, sizeof(*h));
	if (!rc && len)
		rc = pvk_write_all(fd, body, len);
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc) {
		close(fd);
		unlink(tmp);
		return rc;
	}
	if (keep_fd) {
		*keep_fd = fd;
		return 0;
	}
	close(fd);
	return 0;
}

int xsd_journal_compact(struct xsd_journal *j, struct xs_core *core,
			const struct xs_lu_ops *ops, bool force)
{
	struct file_head h = {.gen = j->gen + 1};
	void *img = NULL;
	size_t len = 0;
	int fd = -1, rc;

	if (j->broken)
		return -EIO;
	if (xs_core_busy(core) && !force)
		return -EBUSY;
	rc = xsd_journal_flush(j);
	if (rc)
		return rc;
	rc = xs_core_save(core, ops, force, &img, &len);
	if (rc) {
		broken(j, "the store cannot be saved", -rc);
		return rc;
	}
	memcpy(h.magic, IMG_MAGIC, 8);
	h.len = len;
	rc = write_file(j->img, &h, img, len, NULL);
	free(img);
	if (rc) {
		broken(j, "image", -rc);
		return rc;
	}
	/* the image holds everything: a crash from here on reads it alone
	 * until the new log (same generation) is in place */
	memcpy(h.magic, LOG_MAGIC, 8);
	h.len = 0;
	rc = write_file(j->log, &h, NULL, 0, &fd);
	if (rc) {
		broken(j, "log", -rc);
		return rc;
	}
	if (fcntl(fd, F_SETFL, O_APPEND)) {
		rc = -errno;
		close(fd);
		broken(j, "log", -rc);
		return rc;
	}
	if (j->fd >= 0)
		close(j->fd);
	j->fd = fd;
	j->gen = h.gen;
	j->log_bytes = sizeof(h);
	return 0;
}

/* ---- loading ----------------------------------------------------------- */

static int read_file(const char *path, struct file_head *h, void **body,
		     size_t *len)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	*body = NULL;
	*len = 0;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || (uint64_t)st.st_size < sizeof(*h) ||
	    (uint64_t)st.st_size > (1ull << 32)) {
		close(fd);
		return -EINVAL;
	}
	rc = pvk_read_all(fd, h, sizeof(*h));
	*len = (size_t)st.st_size - sizeof(*h);
	if (!rc) {
		*body = malloc(*len ? *len : 1);
		rc = *body ? pvk_read_all(fd, *body, *len) : -ENOMEM;
	}
	close(fd);
	if (rc) {
		free(*body);
		*body = NULL;
	}
	return rc;
}

/* Append to the log from keep bytes on (0: a new, empty log of this
 * generation). */
static int log_reopen(struct xsd_journal *j, uint64_t keep)
{
	struct file_head h = {.magic = LOG_MAGIC, .gen = j->gen};
	int fd, rc;

	if (!keep) {
		rc = write_file(j->log, &h, NULL, 0, &fd);
		if (rc)
			return rc;
		keep = sizeof(h);
	} else {
		fd = open(j->log, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		/* a torn last record was never acknowledged */
		if (ftruncate(fd, (off_t)keep)) {
			rc = -errno;
			close(fd);
			return rc;
		}
	}
	if (fcntl(fd, F_SETFL, O_APPEND)) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if (j->fd >= 0)
		close(j->fd);
	j->fd = fd;
	j->log_bytes = keep;
	return 0;
}

static struct xs_conn *jconn(struct xsd_journal *j, struct xs_core *core,
			     const struct rec *r)
{
	if (!r->jid)
		return xs_core_domain_conn(core, r->domid);
	for (size_t i = 0; i < j->nconns; i++)
		if (j->conns[i].jid == r->jid)
			return j->conns[i].conn;
	return NULL;
}

static int jconn_add(struct xsd_journal *j, uint32_t jid, struct xs_conn *c)
{
	if (j->nconns == j->cconns) {
		size_t n = j->cconns ? j->cconns * 2 : 16;
		void *p = realloc(j->conns, n * sizeof(*j->conns));

		if (!p)
			return -ENOMEM;
		j->conns = p;
		j->cconns = n;
	}
	j->conns[j->nconns].jid = jid;
	j->conns[j->nconns].conn = c;
	j->nconns++;
	if (jid >= j->next_jid)
		j->next_jid = jid + 1;
	return 0;
}

static void jconn_drop(struct xsd_journal *j, struct xs_conn *c)
{
	for (size_t i = 0; i < j->nconns; i++)
		if (j->conns[i].conn == c) {
			j->conns[i] = j->conns[--j->nconns];
			return;
		}
}

static void ring_pos(struct xsd_journal *j, domid_t domid, uint32_t cons,
		     uint32_t prod)
{
	size_t i;

	for (i = 0; i < j->nrings; i++)
		if (j->rings[i].domid == domid)
			break;
	if (i == j->nrings) {
		if (j->nrings == j->crings) {
			size_t n = j->crings ? j->crings * 2 : 16;
			void *p = realloc(j->rings, n * sizeof(*j->rings));

			if (!p)
				return;
			j->rings = p;
			j->crings = n;
		}
		j->nrings++;
	}
	j->rings[i].domid = domid;
	j->rings[i].req_cons = cons;
	j->rings[i].rsp_prod = prod;
}

/* Replay hooks: nothing outside the core is touched. */
static int rp_introduce(void *opaque, struct xs_conn *conn, domid_t domid,
			uint64_t gfn, evtchn_port_t port)
{
	(void)opaque;
	(void)conn;
	(void)domid;
	(void)gfn;
	(void)port;
	return 0;
}

static uint64_t rp_now(void *opaque)
{
	return ((struct xsd_journal *)opaque)->now;
}

static int rp_live_update(void *opaque, const struct xs_lu_request *req)
{
	(void)opaque;
	(void)req;
	return -EBUSY;
}

static int rp_restore_conn(void *opaque, struct xs_conn *conn, const void *buf,
			   size_t len)
{
	uint32_t jid;

	if (len != sizeof(jid))
		return -EINVAL;
	memcpy(&jid, buf, sizeof(jid));
	if (!jid)
		return -EINVAL;
	return jconn_add(opaque, jid, conn);
}

/* Apply one record.  0, or -EINVAL when it names what does not exist. */
static int replay_one(struct xsd_journal *j, struct xs_core *core,
		      const struct rec *r, const void *data)
{
	struct xs_conn *c = NULL;
	ssize_t n;

	if (r->kind != XSD_J_NEW && r->kind != XSD_J_SHUTDOWN &&
	    r->kind != XSD_J_RELEASE && r->kind != XSD_J_RING) {
		c = jconn(j, core, r);
		if (!c)
			return -EINVAL;
	}
	switch (r->kind) {
	case XSD_J_FEED:
		j->now = r->arg;
		n = xs_conn_feed(c, data, r->len);
		if ((n < 0) != (r->failed != 0) ||
		    (n >= 0 && (size_t)n != r->len))
			pvk_warn("journal: replayed feed of %u bytes took %zd",
				 r->len, n);
		return 0;
	case XSD_J_CONSUME:
		if (r->arg > xs_conn_out_bytes(c))
			pvk_warn("journal: %llu bytes consumed of %zu queued",
				 (unsigned long long)r->arg,
				 xs_conn_out_bytes(c));
		xs_conn_consume(c, (size_t)r->arg);
		return 0;
	case XSD_J_RESET:
		xs_conn_reset(c);
		return 0;
	case XSD_J_SHUTDOWN:
		xs_core_domain_shutdown(core, r->domid);
		return 0;
	case XSD_J_RELEASE:
		xs_core_release_domain(core, r->domid);
		return 0;
	case XSD_J_NEW:
		if (!r->jid || xs_conn_new(core, 0, &c))
			return -EINVAL;
		if (jconn_add(j, r->jid, c)) {
			xs_conn_free(c);
			return -ENOMEM;
		}
		return 0;
	case XSD_J_CLOSE:
		jconn_drop(j, c);
		xs_conn_free(c);
		return 0;
	case XSD_J_RING:
		ring_pos(j, r->domid, (uint32_t)r->arg,
			 (uint32_t)(r->arg >> 32));
		return 0;
	}
	return -EINVAL;
}

int xsd_journal_load(struct xsd_journal *j, struct xs_core **out,
		     struct xsd_journal_loaded *info)
{
	struct xs_core_hooks rh = {.opaque = j,
				   .introduce = rp_introduce,
				   .reattach = rp_introduce,
				   .now_ns = rp_now,
				   .live_update = rp_live_update};
	struct xs_lu_ops ops = {.opaque = j, .restore_conn = rp_restore_conn};
	struct file_head ih, lh;
	unsigned char *log = NULL;
	void *img = NULL;
	size_t ilen, llen, off = 0;
	struct xs_core *core = NULL;
	int rc;

	memset(info, 0, sizeof(*info));
	rc = read_file(j->img, &ih, &img, &ilen);
	if (rc == -ENOENT)
		return -ENOENT;
	if (!rc && (memcmp(ih.magic, IMG_MAGIC, 8) || ih.len != ilen))
		rc = -EINVAL;
	if (rc) {
		pvk_err("journal: %s: %s", j->img,
			rc == -EINVAL ? "not a store image" : strerror(-rc));
		goto out;
	}
	rc = xs_core_restore(img, ilen, &rh, &ops, &core);
	if (rc) {
		pvk_err("journal: %s: the image is refused: %s", j->img,
			strerror(-rc));
		goto out;
	}
	j->gen = ih.gen;
	memset(&lh, 0, sizeof(lh));
	if (read_file(j->log, &lh, (void **)&log, &llen) == 0 &&
	    !memcmp(lh.magic, LOG_MAGIC, 8) && lh.gen == ih.gen) {
		while (llen - off >= sizeof(struct rec)) {
			struct rec r;

			memcpy(&r, log + off, sizeof(r));
			if (r.len > REC_MAX_DATA ||
			    r.len > llen - off - sizeof(r) ||
			    rec_sum(&r, log + off + sizeof(r)) != r.sum)
				break;
			if (replay_one(j, core, &r, log + off + sizeof(r))) {
				pvk_warn("journal: record %zu (kind %u) names "
					 "a connection that does not exist; "
					 "skipped",
					 info->records, r.kind);
			}
			off += sizeof(r) + r.len;
			info->records++;
		}
		if (off != llen)
			pvk_warn("journal: %zu bytes at the end of %s torn or "
				 "corrupt; ignored (never acknowledged)",
				 llen - off, j->log);
	}
	/* go on appending after the last whole record */
	rc = log_reopen(j, lh.gen == ih.gen && !memcmp(lh.magic, LOG_MAGIC, 8)
			       ? sizeof(lh) + off
			       : 0);
	if (rc) {
		pvk_err("journal: %s: %s", j->log, strerror(-rc));
		goto out;
	}
	/* the sockets died with the old daemon: so do their connections,
	 * watches and transactions */
	for (size_t i = 0; i < j->nconns; i++) {
		xsd_journal_record(j, XSD_J_CLOSE, 0, j->conns[i].jid, 0, NULL,
				   0, false);
		xs_conn_free(j->conns[i].conn);
	}
	info->sockets = j->nconns;
	j->nconns = 0;
	rc = xsd_journal_flush(j);
	if (rc)
		goto out;
	info->rings = j->rings;
	info->nrings = j->nrings;
	*out = core;
	core = NULL;
out:
	xs_core_free(core);
	free(img);
	free(log);
	return rc;
}
