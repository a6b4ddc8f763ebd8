/* log.h - leveled logging to stderr, prefixed with the program's name. */
#ifndef PVKIT_COMMON_LOG_H
#define PVKIT_COMMON_LOG_H

#include <stddef.h>

enum pvk_log_level { PVK_LOG_ERR, PVK_LOG_WARN, PVK_LOG_INFO, PVK_LOG_DEBUG };

/* Set the prefix and threshold; the level also comes from PVKIT_LOG
 * (err|warn|info|debug) when set.  Not thread-safe; call from main(). */
void pvk_log_init(const char *prog, enum pvk_log_level level);
void pvk_log(enum pvk_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A hook that receives every line logged (after the threshold, without
 * the newline), e.g. a guest kernel copying its log to the PV console.
 * Calls to fn are serialised; a line logged from inside fn (on that
 * thread) does not reach fn again.  Replacing or clearing (fn = NULL)
 * waits for a running call to finish.  Thread-safe. */
typedef void (*pvk_log_hook_fn)(const char *line, size_t len, void *arg);
void pvk_log_set_hook(pvk_log_hook_fn fn, void *arg);

#define pvk_err(...) pvk_log(PVK_LOG_ERR, __VA_ARGS__)
#define pvk_warn(...) pvk_log(PVK_LOG_WARN, __VA_ARGS__)
#define pvk_info(...) pvk_log(PVK_LOG_INFO, __VA_ARGS__)
#define pvk_debug(...) pvk_log(PVK_LOG_DEBUG, __VA_ARGS__)

#endif
