/* json.h - a minimal JSON writer for the benchmarks' --json output: one
 * object, nested objects and arrays, strings (escaped), numbers, booleans
 * and null, indented two spaces a level.  A key is given for every member
 * of an object and must be NULL for an element of an array.  Misuse
 * (closing what is not open, nesting deeper than BENCH_JSON_DEPTH) is
 * caught with assert(). */
#ifndef PVKIT_BENCH_JSON_H
#define PVKIT_BENCH_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define BENCH_JSON_DEPTH 16

struct bench_json {
	FILE *f;
	unsigned int depth;
	bool first;		     /* nothing written yet at this level */
	char open[BENCH_JSON_DEPTH]; /* '{' or '[' per level */
};

/* Start the top-level object on f. */
void bench_json_begin(struct bench_json *j, FILE *f);
/* Close it, end the line and flush: 0, or -EIO if writing failed. */
int bench_json_end(struct bench_json *j);

void bench_json_obj_open(struct bench_json *j, const char *key);
void bench_json_obj_close(struct bench_json *j);
void bench_json_arr_open(struct bench_json *j, const char *key);
void bench_json_arr_close(struct bench_json *j);

void bench_json_str(struct bench_json *j, const char *key, const char *v);
/* A non-finite number is written as null. */
void bench_json_num(struct bench_json *j, const char *key, double v);
void bench_json_int(struct bench_json *j, const char *key, int64_t v);
void bench_json_bool(struct bench_json *j, const char *key, bool v);
void bench_json_null(struct bench_json *j, const char *key);

#endif
