/* test_xs_wire.c - unit tests of the pure xs_wire framing helpers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xenbus/xs_internal.h"

static void test_build_write(void **state)
{
	static char buf[XENSTORE_PAYLOAD_MAX];
	struct xs_arg a[2] = {{"/a/b", 4}, {"val", 3}};
	struct xsd_sockmsg h;
	ssize_t n;

	(void)state;
	n = xs_wire_build(&h, XS_WRITE, 7, 3, a, 2, true, buf);
	assert_int_equal(n, 8);
	assert_int_equal(h.type, XS_WRITE);
	assert_int_equal(h.req_id, 7);
	assert_int_equal(h.tx_id, 3);
	assert_int_equal(h.len, 8);
	assert_memory_equal(buf, "/a/b\0val", 8);

	/* Not raw: every argument NUL-terminated. */
	n = xs_wire_build(&h, XS_WATCH, 1, 0, a, 2, false, buf);
	assert_int_equal(n, 9);
	assert_memory_equal(buf, "/a/b\0val\0", 9);
}

static void test_build_limits(void **state)
{
	static char buf[XENSTORE_PAYLOAD_MAX], big[XENSTORE_PAYLOAD_MAX + 1];
	struct xs_arg a[2] = {{"/p", 2}, {big, 0}};
	struct xsd_sockmsg h;

	(void)state;
	memset(big, 'x', sizeof(big));
	/* Exactly the maximum fits... */
	a[1].len = XENSTORE_PAYLOAD_MAX - 3;
	assert_int_equal(xs_wire_build(&h, XS_WRITE, 1, 0, a, 2, true, buf),
			 XENSTORE_PAYLOAD_MAX);
	/* ...one more byte does not. */
	a[1].len++;
	assert_int_equal(xs_wire_build(&h, XS_WRITE, 1, 0, a, 2, true, buf),
			 -E2BIG);
	/* Lengths near SIZE_MAX must not wrap around. */
	a[1].len = (size_t)-1;
	assert_int_equal(xs_wire_payload_len(a, 2, false), -E2BIG);
	assert_int_equal(xs_wire_payload_len(a, 2, true), -E2BIG);
}

static void test_check_header(void **state)
{
	struct xsd_sockmsg h = {XS_READ, 1, 0, XENSTORE_PAYLOAD_MAX};

	(void)state;
	assert_int_equal(xs_wire_check_header(&h), 0);
	h.len = XENSTORE_PAYLOAD_MAX + 1;
	assert_int_equal(xs_wire_check_header(&h), -EIO);
	h.len = 0xffffffffu;
	assert_int_equal(xs_wire_check_header(&h), -EIO);
	h.len = 4;
	h.type = XS_TYPE_COUNT;
	assert_int_equal(xs_wire_check_header(&h), -EIO);
	h.type = XS_INVALID;
	assert_int_equal(xs_wire_check_header(&h), -EIO);
}

static void test_parse_event(void **state)
{
	const char *path, *token;

	(void)state;
	assert_int_equal(xs_wire_parse_event("/a\0tok\0", 7, &path, &token),
			 0);
	assert_string_equal(path, "/a");
	assert_string_equal(token, "tok");
	/* Token unterminated on the wire: the caller's extra NUL ends it. */
	assert_int_equal(xs_wire_parse_event("/a\0tok", 6, &path, &token), 0);
	assert_string_equal(token, "tok");
	/* No separator, empty path. */
	assert_int_equal(xs_wire_parse_event("/abc", 4, &path, &token), -EIO);
	assert_int_equal(xs_wire_parse_event("\0tok", 4, &path, &token),
			 -EIO);
}

static void test_split(void **state)
{
	char **v;
	unsigned int n;

	(void)state;
	assert_int_equal(xs_wire_split("a\0bb\0ccc\0", 9, &v, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(v[0], "a");
	assert_string_equal(v[1], "bb");
	assert_string_equal(v[2], "ccc");
	assert_null(v[3]);
	free(v);
	assert_int_equal(xs_wire_split("", 0, &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);
	/* Last string unterminated. */
	assert_int_equal(xs_wire_split("a\0b", 3, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[1], "b");
	free(v);
}

static void test_errors(void **state)
{
	(void)state;
	assert_int_equal(xs_errno_from_string("ENOENT"), -ENOENT);
	assert_int_equal(xs_errno_from_string("EAGAIN"), -EAGAIN);
	assert_int_equal(xs_errno_from_string("EACCES"), -EACCES);
	assert_int_equal(xs_errno_from_string("E2BIG"), -E2BIG);
	assert_int_equal(xs_errno_from_string("EWHATEVER"), -EIO);
	assert_int_equal(xs_errno_from_string(""), -EIO);
	assert_string_equal(xs_errno_to_string(-ENOENT), "ENOENT");
	assert_string_equal(xs_errno_to_string(EDQUOT), "EINVAL");
}

static void test_perms(void **state)
{
	struct xs_perm p;
	char buf[XS_PERM_STRLEN];

	(void)state;
	assert_int_equal(xs_perm_parse("n0", &p), 0);
	assert_int_equal(p.id, 0);
	assert_int_equal(p.perms, XS_PERM_NONE);
	assert_int_equal(xs_perm_parse("b65535", &p), 0);
	assert_int_equal(p.id, 65535);
	assert_int_equal(p.perms, XS_PERM_BOTH);
	assert_int_equal(xs_perm_parse("r7", &p), 0);
	assert_int_equal(p.perms, XS_PERM_READ);
	assert_int_equal(xs_perm_parse("w7", &p), 0);
	assert_int_equal(p.perms, XS_PERM_WRITE);
	assert_int_equal(xs_perm_parse("x1", &p), -EINVAL);
	assert_int_equal(xs_perm_parse("r", &p), -EINVAL);
	assert_int_equal(xs_perm_parse("r65536", &p), -EINVAL);
	assert_int_equal(xs_perm_parse("r-1", &p), -EINVAL);
	assert_int_equal(xs_perm_parse("r1x", &p), -EINVAL);
	assert_int_equal(xs_perm_parse("", &p), -EINVAL);

	p = (struct xs_perm){.id = 12, .perms = XS_PERM_BOTH};
	assert_int_equal(xs_perm_format(&p, buf), 0);
	assert_string_equal(buf, "b12");
	p = (struct xs_perm){.id = 65535, .perms = XS_PERM_READ};
	assert_int_equal(xs_perm_format(&p, buf), 0);
	assert_string_equal(buf, "r65535");
	p.perms = 9;
	assert_int_equal(xs_perm_format(&p, buf), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_write),
		cmocka_unit_test(test_build_limits),
		cmocka_unit_test(test_check_header),
		cmocka_unit_test(test_parse_event),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_perms),
	};

	return cmocka_run_group_tests_name("xs_wire", tests, NULL, NULL);
}
