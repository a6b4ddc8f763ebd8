/* log.c - leveled logging to stderr, plus an optional hook per line
 * (include/pvkit/log.h). */
#include "pvkit/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *log_prog = "pvkit";
static enum pvk_log_level log_level = PVK_LOG_INFO;

static pthread_mutex_t hook_lock = PTHREAD_MUTEX_INITIALIZER;
static pvk_log_hook_fn hook_fn; /* under hook_lock */
static void *hook_arg;          /* under hook_lock */
static bool hook_set;           /* atomic: skip the lock when unset */
static __thread bool in_hook;   /* this thread is running the hook */

void pvk_log_set_hook(pvk_log_hook_fn fn, void *arg)
{
	pthread_mutex_lock(&hook_lock);
	hook_fn = fn;
	hook_arg = arg;
	__atomic_store_n(&hook_set, fn != NULL, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&hook_lock);
}

static void log_run_hook(const char *line)
{
	if (in_hook || !__atomic_load_n(&hook_set, __ATOMIC_ACQUIRE))
		return;
	in_hook = true;
	pthread_mutex_lock(&hook_lock);
	if (hook_fn)
		hook_fn(line, strlen(line), hook_arg);
	pthread_mutex_unlock(&hook_lock);
	in_hook = false;
}

void pvk_log_init(const char *prog, enum pvk_log_level level)
{
	const char *env = getenv("PVKIT_LOG");

	log_prog = prog;
	log_level = level;
	if (!env)
		return;
	if (!strcmp(env, "err"))
		log_level = PVK_LOG_ERR;
	else if (!strcmp(env, "warn"))
		log_level = PVK_LOG_WARN;
	else if (!strcmp(env, "info"))
		log_level = PVK_LOG_INFO;
	else if (!strcmp(env, "debug"))
		log_level = PVK_LOG_DEBUG;
}

void pvk_log(enum pvk_log_level level, const char *fmt, ...)
{
	static const char *const names[] = {"error", "warning", "info",
					    "debug"};
	char buf[1024];
	va_list ap;
	int n;

	if (level > log_level)
		return;
	n = snprintf(buf, sizeof(buf), "%s: %s: ", log_prog, names[level]);
	if (n < 0 || (size_t)n >= sizeof(buf))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	/* One write per line so lines from threads do not interleave. */
	fprintf(stderr, "%s\n", buf);
	log_run_hook(buf);
}
