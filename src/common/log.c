/* log.c - leveled logging to stderr. */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *log_prog = "pvkit";
static enum pvk_log_level log_level = PVK_LOG_INFO;

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
}
