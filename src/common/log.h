/* log.h - leveled logging to stderr, prefixed with the program's name. */
#ifndef PVKIT_COMMON_LOG_H
#define PVKIT_COMMON_LOG_H

enum pvk_log_level { PVK_LOG_ERR, PVK_LOG_WARN, PVK_LOG_INFO, PVK_LOG_DEBUG };

/* Set the prefix and threshold; the level also comes from PVKIT_LOG
 * (err|warn|info|debug) when set.  Not thread-safe; call from main(). */
void pvk_log_init(const char *prog, enum pvk_log_level level);
void pvk_log(enum pvk_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define pvk_err(...) pvk_log(PVK_LOG_ERR, __VA_ARGS__)
#define pvk_warn(...) pvk_log(PVK_LOG_WARN, __VA_ARGS__)
#define pvk_info(...) pvk_log(PVK_LOG_INFO, __VA_ARGS__)
#define pvk_debug(...) pvk_log(PVK_LOG_DEBUG, __VA_ARGS__)

#endif
