/* json.c - see json.h. */
#include "json.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>

static void put_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', f);
	for (; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (*p < 0x20)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

/* The separator, indentation and key before a value. */
static void member(struct bench_json *j, const char *key)
{
	unsigned int i;

	assert(j->depth > 0);
	assert((j->open[j->depth - 1] == '{') == (key != NULL));
	if (!j->first)
		fputc(',', j->f);
	fputc('\n', j->f);
	for (i = 0; i < j->depth; i++)
		fputs("  ", j->f);
	if (key) {
		put_str(j->f, key);
		fputs(": ", j->f);
	}
	j->first = false;
}

static void open_level(struct bench_json *j, const char *key, char c)
{
	member(j, key);
	assert(j->depth < BENCH_JSON_DEPTH);
	fputc(c, j->f);
	j->open[j->depth++] = c;
	j->first = true;
}

static void close_level(struct bench_json *j, char c)
{
	unsigned int i;

	assert(j->depth > 0 && j->open[j->depth - 1] == c);
	j->depth--;
	if (!j->first) {
		fputc('\n', j->f);
		for (i = 0; i < j->depth; i++)
			fputs("  ", j->f);
	}
	fputc(c == '{' ? '}' : ']', j->f);
	j->first = false;
}

void bench_json_begin(struct bench_json *j, FILE *f)
{
	j->f = f;
	j->depth = 1;
	j->open[0] = '{';
	j->first = true;
	fputc('{', f);
}

int bench_json_end(struct bench_json *j)
{
	close_level(j, '{');
	assert(j->depth == 0);
	fputc('\n', j->f);
	return fflush(j->f) || ferror(j->f) ? -EIO : 0;
}

void bench_json_obj_open(struct bench_json *j, const char *key)
{
	open_level(j, key, '{');
}

void bench_json_obj_close(struct bench_json *j) { close_level(j, '{'); }

void bench_json_arr_open(struct bench_json *j, const char *key)
{
	open_level(j, key, '[');
}

void bench_json_arr_close(struct bench_json *j) { close_level(j, '['); }

void bench_json_str(struct bench_json *j, const char *key, const char *v)
{
	member(j, key);
	put_str(j->f, v);
}

void bench_json_num(struct bench_json *j, const char *key, double v)
{
	member(j, key);
	if (isfinite(v))
		fprintf(j->f, "%.10g", v);
	else
		fputs("null", j->f);
}

void bench_json_int(struct bench_json *j, const char *key, int64_t v)
{
	member(j, key);
	fprintf(j->f, "%" PRId64, v);
}

void bench_json_bool(struct bench_json *j, const char *key, bool v)
{
	member(j, key);
	fputs(v ? "true" : "false", j->f);
}

void bench_json_null(struct bench_json *j, const char *key)
{
	member(j, key);
	fputs("null", j->f);
}
