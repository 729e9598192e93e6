/* log: leveled log lines on stderr, one line per event, for people at 3 a.m.
 *
 * Format: "2026-11-27T20:43:21.123Z info  engine: listening on 127.0.0.1:8000".
 * Messages follow the project's style: lower case, the problem first, the
 * subject quoted. */
#ifndef EBB_BASE_LOG_H
#define EBB_BASE_LOG_H

#include <stdbool.h>

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Sets the component name printed on every line ("engine", "router"). The
 * string must outlive all logging. */
void log_set_name(const char *name);
void log_set_level(enum log_level level);
/* Parses error|warn|warning|info|debug (and production-stack's critical and
 * trace). 0 or -EINVAL. */
int log_level_parse(const char *s, enum log_level *out);
bool log_enabled(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (log_enabled(LOG_DEBUG))                                                                \
            log_msg(LOG_DEBUG, __VA_ARGS__);                                                       \
    } while (0)

#endif
