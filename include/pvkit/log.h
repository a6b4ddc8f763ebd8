/*
 * log.h - pvkit's logging: leveled lines to stderr, prefixed with the
 * program's name, and an optional hook that sees every line.
 *
 * Public because the library logs through it: blkfront, the xenstore client
 * and the runtime report trouble with pvk_log(), so a kernel sets the prefix
 * and threshold with pvk_log_init() and may copy every line somewhere else,
 * e.g. its PV console, with pvk_log_set_hook().  A kernel's stderr goes to
 * the toolstack's <state>/guest-<name>.log.
 */
#ifndef PVKIT_LOG_H
#define PVKIT_LOG_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum pvk_log_level { PVK_LOG_ERR, PVK_LOG_WARN, PVK_LOG_INFO, PVK_LOG_DEBUG };

/* Set the prefix (prog must stay valid) and threshold; the level also comes
 * from $PVKIT_LOG (err|warn|info|debug) when set.  Not thread-safe; call
 * from main() before starting threads.  Without it the prefix is "pvkit"
 * and the level info. */
void pvk_log_init(const char *prog, enum pvk_log_level level);
/* One line (no trailing newline needed), up to about 1 KiB; longer lines
 * are cut.  Thread-safe. */
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

#ifdef __cplusplus
}
#endif

#endif
