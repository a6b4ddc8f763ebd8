/*
 * xs_ops.c - the xenstore operations and helpers (printf/scanf-style
 * access, typed numbers, transactions with retry), all over xs_request().
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"
#include "xenbus/xs_internal.h"

#define ARG_STR(s) ((struct xs_arg){(s), strlen(s)})

/* One-string request returning nothing. */
static int req_path(struct xs_client *xs, xs_tx_t tx, uint32_t type,
		    const char *path)
{
	struct xs_arg a = ARG_STR(path);

	return xs_request(xs, tx, type, &a, 1, false, NULL, NULL);
}

int xs_read(struct xs_client *xs, xs_tx_t tx, const char *path, char **val,
	    size_t *len)
{
	struct xs_arg a = ARG_STR(path);

	return xs_request(xs, tx, XS_READ, &a, 1, false, val, len);
}

int xs_write(struct xs_client *xs, xs_tx_t tx, const char *path,
	     const void *data, size_t len)
{
	struct xs_arg a[2] = {ARG_STR(path), {data, len}};

	return xs_request(xs, tx, XS_WRITE, a, 2, true, NULL, NULL);
}

int xs_write_str(struct xs_client *xs, xs_tx_t tx, const char *path,
		 const char *s)
{
	return xs_write(xs, tx, path, s, strlen(s));
}

int xs_mkdir(struct xs_client *xs, xs_tx_t tx, const char *path)
{
	return req_path(xs, tx, XS_MKDIR, path);
}

int xs_rm(struct xs_client *xs, xs_tx_t tx, const char *path)
{
	return req_path(xs, tx, XS_RM, path);
}

/* Listings larger than a payload come in XS_DIRECTORY_PART chunks: each
 * reply is "<generation>\0" then children, with an empty string after the
 * last one.  A changed generation means the node changed: start over. */
#define DIR_PARTS_MAX (16u << 20)
#define DIR_PARTS_RESTARTS 8

static int directory_parts(struct xs_client *xs, xs_tx_t tx, const char *path,
			   char **out, size_t *outlen)
{
	char *acc = NULL, *r = NULL, gen0[32] = "", offs[24];
	size_t acclen = 0, rl, glen, dl;
	unsigned int restarts = 0;
	int rc;

	for (;;) {
		struct xs_arg a[2] = {ARG_STR(path), {offs, 0}};
		const char *data;
		bool complete;

		snprintf(offs, sizeof(offs), "%zu", acclen);
		a[1].len = strlen(offs);
		free(r);
		r = NULL;
		rc = xs_request(xs, tx, XS_DIRECTORY_PART, a, 2, false, &r,
				&rl);
		if (rc < 0)
			goto out;
		rc = -EIO;
		glen = strnlen(r, rl);
		if (glen == rl || glen >= sizeof(gen0))
			goto out;
		if (acclen == 0) {
			memcpy(gen0, r, glen + 1);
		} else if (strcmp(r, gen0)) {
			rc = -EAGAIN;
			if (++restarts > DIR_PARTS_RESTARTS)
				goto out;
			acclen = 0;
			continue;
		}
		data = r + glen + 1;
		dl = rl - glen - 1;
		complete = dl >= 1 && data[dl - 1] == '\0' &&
			   (dl == 1 || data[dl - 2] == '\0');
		if (complete)
			dl--;
		else if (dl == 0 || data[dl - 1] != '\0')
			goto out; /* no progress, or a cut-off name */
		if (acclen + dl > DIR_PARTS_MAX) {
			rc = -E2BIG;
			goto out;
		}
		if (dl) {
			char *na = realloc(acc, acclen + dl + 1);

			if (!na) {
				rc = -ENOMEM;
				goto out;
			}
			acc = na;
			memcpy(acc + acclen, data, dl);
			acclen += dl;
		}
		if (complete)
			break;
	}
	if (!acc && !(acc = malloc(1))) {
		rc = -ENOMEM;
		goto out;
	}
	acc[acclen] = '\0';
	*out = acc;
	*outlen = acclen;
	acc = NULL;
	rc = 0;
out:
	free(r);
	free(acc);
	return rc;
}

int xs_directory(struct xs_client *xs, xs_tx_t tx, const char *path,
		 char ***names, unsigned int *n)
{
	struct xs_arg a = ARG_STR(path);
	char *body;
	size_t len;
	int rc;

	rc = xs_request(xs, tx, XS_DIRECTORY, &a, 1, false, &body, &len);
	if (rc == -E2BIG)
		rc = directory_parts(xs, tx, path, &body, &len);
	if (rc < 0)
		return rc;
	rc = xs_wire_split(body, len, names, n);
	free(body);
	return rc;
}

int xs_get_perms(struct xs_client *xs, xs_tx_t tx, const char *path,
		 struct xs_perm **perms, unsigned int *n)
{
	struct xs_arg a = ARG_STR(path);
	struct xs_perm *out = NULL;
	char *body = NULL, **strs = NULL;
	unsigned int count, i;
	size_t len;
	int rc;

	rc = xs_request(xs, tx, XS_GET_PERMS, &a, 1, false, &body, &len);
	if (rc < 0)
		goto out;
	rc = xs_wire_split(body, len, &strs, &count);
	if (rc < 0)
		goto out;
	rc = -EIO;
	if (count == 0)
		goto out;
	out = calloc(count, sizeof(*out));
	if (!out) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < count; i++)
		if (xs_perm_parse(strs[i], &out[i]) < 0) {
			rc = -EIO;
			goto out;
		}
	*perms = out;
	*n = count;
	out = NULL;
	rc = 0;
out:
	free(out);
	free(strs);
	free(body);
	return rc;
}

int xs_set_perms(struct xs_client *xs, xs_tx_t tx, const char *path,
		 const struct xs_perm *perms, unsigned int n)
{
	struct xs_arg *a = NULL;
	char(*bufs)[XS_PERM_STRLEN] = NULL;
	unsigned int i;
	int rc = -EINVAL;

	if (n == 0 || n > XENSTORE_PAYLOAD_MAX / 2)
		return -EINVAL;
	a = calloc(n + 1, sizeof(*a));
	bufs = calloc(n, sizeof(*bufs));
	if (!a || !bufs) {
		rc = -ENOMEM;
		goto out;
	}
	a[0] = ARG_STR(path);
	for (i = 0; i < n; i++) {
		if (xs_perm_format(&perms[i], bufs[i]) < 0)
			goto out;
		a[i + 1] = ARG_STR(bufs[i]);
	}
	rc = xs_request(xs, tx, XS_SET_PERMS, a, n + 1, false, NULL, NULL);
out:
	free(bufs);
	free(a);
	return rc;
}

int xs_transaction_start(struct xs_client *xs, xs_tx_t *tx)
{
	struct xs_arg a = {"", 0};
	uint64_t id;
	char *body;
	int rc;

	rc = xs_request(xs, XS_TX_NONE, XS_TRANSACTION_START, &a, 1, false,
			&body, NULL);
	if (rc < 0)
		return rc;
	rc = pvk_parse_u64(body, 1, UINT32_MAX, &id);
	free(body);
	if (rc < 0)
		return -EIO;
	*tx = (xs_tx_t)id;
	return 0;
}

int xs_transaction_end(struct xs_client *xs, xs_tx_t tx, bool abort)
{
	struct xs_arg a = ARG_STR(abort ? "F" : "T");

	if (tx == XS_TX_NONE)
		return -EINVAL;
	return xs_request(xs, tx, XS_TRANSACTION_END, &a, 1, false, NULL, NULL);
}

/* Request whose arguments are decimal numbers. */
static int req_nums(struct xs_client *xs, uint32_t type, const uint64_t *nums,
		    unsigned int n, char **reply)
{
	char bufs[3][24];
	struct xs_arg a[3];
	unsigned int i;

	for (i = 0; i < n && i < 3; i++) {
		snprintf(bufs[i], sizeof(bufs[i]), "%llu",
			 (unsigned long long)nums[i]);
		a[i] = ARG_STR(bufs[i]);
	}
	return xs_request(xs, XS_TX_NONE, type, a, i, false, reply, NULL);
}

int xs_introduce(struct xs_client *xs, domid_t dom, uint64_t gfn,
		 evtchn_port_t port)
{
	uint64_t n[3] = {dom, gfn, port};

	return req_nums(xs, XS_INTRODUCE, n, 3, NULL);
}

int xs_release(struct xs_client *xs, domid_t dom)
{
	uint64_t n = dom;

	return req_nums(xs, XS_RELEASE, &n, 1, NULL);
}

int xs_resume(struct xs_client *xs, domid_t dom)
{
	uint64_t n = dom;

	return req_nums(xs, XS_RESUME, &n, 1, NULL);
}

int xs_set_target(struct xs_client *xs, domid_t dom, domid_t target)
{
	uint64_t n[2] = {dom, target};

	return req_nums(xs, XS_SET_TARGET, n, 2, NULL);
}

int xs_get_domain_path(struct xs_client *xs, domid_t dom, char **path)
{
	uint64_t n = dom;

	return req_nums(xs, XS_GET_DOMAIN_PATH, &n, 1, path);
}

int xs_is_domain_introduced(struct xs_client *xs, domid_t dom)
{
	uint64_t n = dom;
	char *body;
	int rc;

	rc = req_nums(xs, XS_IS_DOMAIN_INTRODUCED, &n, 1, &body);
	if (rc < 0)
		return rc;
	if (!strcmp(body, "T"))
		rc = 1;
	else if (!strcmp(body, "F"))
		rc = 0;
	else
		rc = -EIO;
	free(body);
	return rc;
}

int xs_control(struct xs_client *xs, const char *const *argv,
	       unsigned int argc, char **out, size_t *outlen)
{
	struct xs_arg *a;
	unsigned int i;
	int rc;

	if (argc == 0 || argc > XENSTORE_PAYLOAD_MAX)
		return -EINVAL;
	a = calloc(argc, sizeof(*a));
	if (!a)
		return -ENOMEM;
	for (i = 0; i < argc; i++)
		a[i] = ARG_STR(argv[i]);
	rc = xs_request(xs, XS_TX_NONE, XS_CONTROL, a, argc, false, out,
			outlen);
	free(a);
	return rc;
}

/* ---- helpers --------------------------------------------------------- */

int xs_printf(struct xs_client *xs, xs_tx_t tx, const char *path,
	      const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n, rc;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	rc = xs_write(xs, tx, path, s, (size_t)n);
	free(s);
	return rc;
}

int xs_scanf(struct xs_client *xs, xs_tx_t tx, const char *path,
	     const char *fmt, ...)
{
	va_list ap;
	char *val;
	int rc;

	rc = xs_read(xs, tx, path, &val, NULL);
	if (rc < 0)
		return rc;
	va_start(ap, fmt);
	rc = vsscanf(val, fmt, ap);
	va_end(ap);
	free(val);
	return rc <= 0 ? -EINVAL : rc;
}

int xs_read_u64(struct xs_client *xs, xs_tx_t tx, const char *path,
		uint64_t min, uint64_t max, uint64_t *out)
{
	char *val;
	int rc;

	rc = xs_read(xs, tx, path, &val, NULL);
	if (rc < 0)
		return rc;
	rc = (val[0] >= '0' && val[0] <= '9')
		     ? pvk_parse_u64(val, min, max, out)
		     : -EINVAL;
	free(val);
	return rc;
}

int xs_read_int(struct xs_client *xs, xs_tx_t tx, const char *path, int min,
		int max, int *out)
{
	char *val, *end;
	long v;
	int rc;

	if (min > max)
		return -EINVAL;
	rc = xs_read(xs, tx, path, &val, NULL);
	if (rc < 0)
		return rc;
	errno = 0;
	v = strtol(val, &end, 10);
	if (!((val[0] >= '0' && val[0] <= '9') ||
	      (val[0] == '-' && val[1] >= '0' && val[1] <= '9')) ||
	    *end)
		rc = -EINVAL;
	else if (errno == ERANGE || v < min || v > max)
		rc = -ERANGE;
	else
		*out = (int)v;
	free(val);
	return rc;
}

int xs_transaction_run(struct xs_client *xs, xs_transaction_fn fn, void *arg)
{
	unsigned int attempt;
	int rc = -EAGAIN;

	for (attempt = 0; attempt < XS_TRANSACTION_RETRIES; attempt++) {
		xs_tx_t tx;
		int ret;

		if (attempt) {
			/* Back off a little, growing, to let others commit. */
			struct timespec ts = {
				0, 1000L * (attempt < 10 ? attempt * attempt
							 : 100)};

			nanosleep(&ts, NULL);
		}
		rc = xs_transaction_start(xs, &tx);
		if (rc < 0)
			return rc;
		ret = fn(xs, tx, arg);
		if (ret < 0) {
			xs_transaction_end(xs, tx, true);
			rc = ret;
			if (ret == -EAGAIN)
				continue;
			return ret;
		}
		rc = xs_transaction_end(xs, tx, false);
		if (rc == 0)
			return ret;
		if (rc != -EAGAIN)
			return rc;
	}
	return rc;
}
