/* memstress - a control for the interop soak: pvkit-blkfront's memory
 * pattern without blkif.  The main thread mallocs buffers of random size,
 * fills them with stamped words, keeps a malloc'd copy, and hands them to
 * worker threads through pipes; a worker copies each buffer into a page
 * range of its "slot" area, copies it back into a buffer it mallocs, and
 * answers; the main thread then checks all four (buffer, copy, slot,
 * answer) against the stamps and frees what it allocated.  Workers block
 * on their pipes, so threads wake on and migrate between vCPUs the way
 * blkfront's queue threads do.
 *
 * The slot areas are anonymous memory (--slots anon) or pages shared
 * with Dom0 through /dev/xen/gntalloc (--slots gnt, as blkfront's slot
 * pages are; nobody maps them).  Every differing word is reported once per
 * buffer (first few, then a count); the exit status is 1 if any was seen.
 *
 * Usage: memstress [--threads N] [--seconds S] [--slots anon|gnt]
 *                  [--corrupt N]  (flip a bit in each worker's first
 *                                  answer and every Nth after it: the
 *                                  checker's own test)
 * Built by tests/interop/mkimages.sh into the DomU image; not part of
 * pvkit.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <xengnttab.h>

#define PAGE 4096u
#define SLOT_PAGES 32u /* 128 KiB, like one blkif request */
#define SLOTS 64u
#define MAX_THREADS 8
#define INFLIGHT 8 /* jobs per worker at once */

struct job {
	uint64_t stamp;
	size_t len;
	unsigned slot;
	uint64_t *buf, *copy, *answer;
};

struct worker {
	pthread_t tid;
	int req[2], rsp[2];
	uint8_t *slot[SLOTS];
	uint64_t copied, jobs;
};

static unsigned corrupt_every; /* --corrupt N: the checker's own test */
static uint64_t bad_words;

static uint64_t word_of(uint64_t stamp, size_t i)
{
	uint64_t x = stamp * 0x9e3779b97f4a7c15ull + i;

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ull;
	return x ^ (x >> 29);
}

static void fill(uint64_t *p, size_t words, uint64_t stamp)
{
	for (size_t i = 0; i < words; i++)
		p[i] = word_of(stamp, i);
}

/* check WHAT against STAMP; say the first few wrong words */
static unsigned check(const char *what, const uint64_t *p, size_t words,
		      uint64_t stamp)
{
	unsigned bad = 0;

	for (size_t i = 0; i < words; i++) {
		uint64_t want = word_of(stamp, i);

		if (p[i] == want)
			continue;
		if (bad < 6)
			printf("memstress: %s %p word %zu (byte %zu of %zu): %016" PRIx64
			       " want %016" PRIx64 "\n",
			       what, (void *)p, i, i * 8, words * 8, p[i], want);
		bad++;
	}
	if (bad) {
		printf("memstress: %s: %u of %zu words wrong\n", what, bad, words);
		fflush(stdout);
	}
	return bad;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct job *j;

	while (read(w->req[0], &j, sizeof(j)) == sizeof(j)) {
		if (!j)
			break;
		uint8_t *slot = w->slot[j->slot];

		memcpy(slot, j->buf, j->len);
		j->answer = malloc(j->len);
		if (j->answer)
			memcpy(j->answer, slot, j->len);
		w->copied += j->len;
		if (corrupt_every && j->answer && w->jobs++ % corrupt_every == 0)
			((uint8_t *)j->answer)[j->len / 2] ^= 0x40;
		if (write(w->rsp[1], &j, sizeof(j)) != sizeof(j))
			break;
	}
	return NULL;
}

static struct job *new_job(uint64_t stamp, unsigned slot)
{
	struct job *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->stamp = stamp;
	j->slot = slot;
	j->len = (1 + (size_t)(word_of(stamp, 7) % (SLOT_PAGES * PAGE / 512))) * 512;
	j->buf = malloc(j->len);
	j->copy = malloc(j->len);
	if (!j->buf || !j->copy) {
		free(j->buf);
		free(j->copy);
		free(j);
		return NULL;
	}
	fill(j->buf, j->len / 8, stamp);
	memcpy(j->copy, j->buf, j->len);
	return j;
}

static void finish_job(struct worker *w, struct job *j)
{
	size_t words = j->len / 8;
	uint8_t *slot = w->slot[j->slot];

	bad_words += check("buffer", j->buf, words, j->stamp);
	bad_words += check("copy", j->copy, words, j->stamp);
	bad_words += check("slot", (uint64_t *)slot, words, j->stamp);
	if (j->answer)
		bad_words += check("answer", j->answer, words, j->stamp);
	free(j->buf);
	free(j->copy);
	free(j->answer);
	free(j);
}

/* a whole decimal number in [lo, hi], or false */
static bool parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < lo || v > hi)
		return false;
	*out = (unsigned)v;
	return true;
}

int main(int argc, char **argv)
{
	unsigned nthreads = 2, seconds = 30;
	const char *slots_kind = "anon";
	struct worker w[MAX_THREADS];
	xengntshr_handle *xgs = NULL;
	uint64_t jobs = 0, stamp = (uint64_t)time(NULL) << 20;
	struct timespec t0, t;

	setvbuf(stdout, NULL, _IOLBF, 0); /* lines out before any abort */
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool ok = v != NULL;

		if (ok && !strcmp(argv[i], "--threads"))
			ok = parse_uint(v, 1, MAX_THREADS, &nthreads);
		else if (ok && !strcmp(argv[i], "--seconds"))
			ok = parse_uint(v, 1, 86400, &seconds);
		else if (ok && !strcmp(argv[i], "--corrupt"))
			ok = parse_uint(v, 1, UINT32_MAX, &corrupt_every);
		else if (ok && !strcmp(argv[i], "--slots")) {
			slots_kind = v;
			ok = !strcmp(v, "anon") || !strcmp(v, "gnt");
		}
		else
			ok = false;
		if (!ok) {
			fprintf(stderr, "memstress: bad argument %s%s%s\n"
				"usage: memstress [--threads 1-%u] [--seconds S] "
				"[--slots anon|gnt] [--corrupt N]\n",
				argv[i], v ? " " : "", v ? v : "", MAX_THREADS);
			return 2;
		}
		i++;
	}
	if (!strcmp(slots_kind, "gnt") && !(xgs = xengntshr_open(NULL, 0))) {
		fprintf(stderr, "memstress: xengntshr_open: %s\n", strerror(errno));
		return 2;
	}
	for (unsigned i = 0; i < nthreads; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		for (unsigned s = 0; s < SLOTS; s++) {
			uint32_t refs[SLOT_PAGES];
			void *p;

			/* one share per slot, as blkfront does */
			if (xgs)
				p = xengntshr_share_pages(xgs, 0, SLOT_PAGES, refs, 1);
			else
				p = mmap(NULL, SLOT_PAGES * PAGE, PROT_READ | PROT_WRITE,
					 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
			if (!p || p == MAP_FAILED) {
				fprintf(stderr, "memstress: slot pages: %s\n", strerror(errno));
				return 2;
			}
			w[i].slot[s] = p;
		}
		if (pipe(w[i].req) || pipe(w[i].rsp) ||
		    pthread_create(&w[i].tid, NULL, worker_main, &w[i])) {
			fprintf(stderr, "memstress: thread setup failed\n");
			return 2;
		}
	}
	printf("memstress: %u threads, %s slots, %u s%s: start\n", nthreads,
	       slots_kind, seconds, corrupt_every ? ", spoiling answers" : "");
	/* keep INFLIGHT jobs at each worker, one slot each, until time is up */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned i = 0; i < nthreads; i++)
		for (unsigned k = 0; k < INFLIGHT; k++) {
			struct job *j = new_job(stamp++, k);

			if (!j || write(w[i].req[1], &j, sizeof(j)) != sizeof(j))
				return 2;
		}
	do {
		for (unsigned i = 0; i < nthreads; i++) {
			struct job *j;
			unsigned slot;

			if (read(w[i].rsp[0], &j, sizeof(j)) != sizeof(j))
				return 2;
			slot = (j->slot + INFLIGHT) % SLOTS;
			finish_job(&w[i], j);
			jobs++;
			if (!(j = new_job(stamp++, slot)) ||
			    write(w[i].req[1], &j, sizeof(j)) != sizeof(j))
				return 2;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (t.tv_sec - t0.tv_sec < (time_t)seconds);
	/* drain the INFLIGHT jobs each worker still has */
	for (unsigned k = 0; k < INFLIGHT; k++)
		for (unsigned i = 0; i < nthreads; i++) {
			struct job *j;

			if (read(w[i].rsp[0], &j, sizeof(j)) != sizeof(j))
				return 2;
			finish_job(&w[i], j);
			jobs++;
		}
	uint64_t copied = 0;
	for (unsigned i = 0; i < nthreads; i++) {
		struct job *none = NULL;

		if (write(w[i].req[1], &none, sizeof(none)) == sizeof(none))
			pthread_join(w[i].tid, NULL);
		copied += w[i].copied;
	}
	printf("memstress: %u threads, %s slots, %u s%s: %" PRIu64 " jobs, %" PRIu64
	       " MiB copied, %" PRIu64 " wrong words\n",
	       nthreads, slots_kind, seconds,
	       corrupt_every ? ", spoiling answers" : "", jobs, copied >> 20,
	       bad_words);
	return bad_words ? 1 : 0;
}
