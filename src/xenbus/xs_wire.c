/*
 * xs_wire.c - pure xs_wire framing: building requests, validating what the
 * daemon sends, error-name mapping and the permission string format.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "xenbus/xs_internal.h"

ssize_t xs_wire_payload_len(const struct xs_arg *args, unsigned int nargs,
			    bool last_raw)
{
	size_t total = 0;
	unsigned int i;

	for (i = 0; i < nargs; i++) {
		size_t l = args[i].len;

		if (!(last_raw && i == nargs - 1) &&
		    __builtin_add_overflow(l, 1, &l))
			return -E2BIG;
		if (__builtin_add_overflow(total, l, &total) ||
		    total > XENSTORE_PAYLOAD_MAX)
			return -E2BIG;
	}
	return (ssize_t)total;
}

ssize_t xs_wire_build(struct xsd_sockmsg *hdr, uint32_t type,
		      uint32_t req_id, xs_tx_t tx, const struct xs_arg *args,
		      unsigned int nargs, bool last_raw, char *buf)
{
	ssize_t total = xs_wire_payload_len(args, nargs, last_raw);
	size_t off = 0;
	unsigned int i;

	if (total < 0)
		return total;
	for (i = 0; i < nargs; i++) {
		if (args[i].len)
			memcpy(buf + off, args[i].data, args[i].len);
		off += args[i].len;
		if (!(last_raw && i == nargs - 1))
			buf[off++] = '\0';
	}
	memset(hdr, 0, sizeof(*hdr));
	hdr->type = type;
	hdr->req_id = req_id;
	hdr->tx_id = tx;
	hdr->len = (uint32_t)total;
	return total;
}

int xs_wire_check_header(const struct xsd_sockmsg *hdr)
{
	if (hdr->len > XENSTORE_PAYLOAD_MAX)
		return -EIO;
	if (hdr->type >= XS_TYPE_COUNT)
		return -EIO;
	return 0;
}

int xs_wire_parse_event(const char *body, size_t len, const char **path,
			const char **token)
{
	size_t plen = strnlen(body, len);

	/* "path\0token\0": the path must be terminated inside the payload. */
	if (plen == 0 || plen >= len)
		return -EIO;
	*path = body;
	*token = body + plen + 1; /* terminated by the NUL after body[len] */
	return 0;
}

int xs_wire_split(const char *body, size_t len, char ***out, unsigned int *n)
{
	unsigned int count = 0, i;
	size_t off, asize;
	char **arr, *strs;

	for (off = 0; off < len; off += strnlen(body + off, len - off) + 1)
		count++;
	asize = sizeof(char *) * (count + 1);
	arr = malloc(asize + len + 1);
	if (!arr)
		return -ENOMEM;
	strs = (char *)arr + asize;
	memcpy(strs, body, len);
	strs[len] = '\0';
	for (i = 0, off = 0; i < count; i++) {
		arr[i] = strs + off;
		off += strlen(strs + off) + 1;
	}
	arr[count] = NULL;
	*out = arr;
	*n = count;
	return 0;
}

/* Xen's list, in Xen's order (xsd_errors in xs_wire.h). */
int xs_errno_from_string(const char *s)
{
	unsigned int i;

	for (i = 0; i < PVK_ARRAY_SIZE(xsd_errors); i++)
		if (!strcmp(s, xsd_errors[i].errstring))
			return -xsd_errors[i].errnum;
	return -EIO;
}

const char *xs_errno_to_string(int err)
{
	unsigned int i;

	if (err < 0)
		err = -err;
	for (i = 0; i < PVK_ARRAY_SIZE(xsd_errors); i++)
		if (xsd_errors[i].errnum == err)
			return xsd_errors[i].errstring;
	return "EINVAL";
}

int xs_perm_parse(const char *s, struct xs_perm *out)
{
	uint64_t id;
	unsigned int p;

	switch (s[0]) {
	case 'n':
		p = XS_PERM_NONE;
		break;
	case 'r':
		p = XS_PERM_READ;
		break;
	case 'w':
		p = XS_PERM_WRITE;
		break;
	case 'b':
		p = XS_PERM_BOTH;
		break;
	default:
		return -EINVAL;
	}
	if (pvk_parse_u64(s + 1, 0, UINT16_MAX, &id) < 0)
		return -EINVAL;
	out->id = (domid_t)id;
	out->perms = p;
	return 0;
}

int xs_perm_format(const struct xs_perm *p, char buf[XS_PERM_STRLEN])
{
	static const char letters[] = "nrwb";

	if (p->perms > XS_PERM_BOTH)
		return -EINVAL;
	snprintf(buf, XS_PERM_STRLEN, "%c%u", letters[p->perms],
		 (unsigned int)p->id);
	return 0;
}
