/* log.h - leveled logging to stderr: journal priority prefixes or timestamped lines. */
#ifndef LOG_H
#define LOG_H

#include "config.h"
#include "octostore_err.h"

/* Start logging at level; journal selects "<N>" priority prefixes instead of timestamps. */
void log_init(enum log_level level, int journal);
void log_set_level(enum log_level level);
int log_enabled(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...)	log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_trace(...)	log_msg(LOG_LEVEL_TRACE, __VA_ARGS__)

/* Variants prefixing the function name, and appending an error code's text. */
#define log_error_f(fmt, ...) \
	log_msg(LOG_LEVEL_ERROR, "%s: " fmt, __func__, ##__VA_ARGS__)
#define log_warn_f(fmt, ...) \
	log_msg(LOG_LEVEL_WARN, "%s: " fmt, __func__, ##__VA_ARGS__)
#define log_debug_f(fmt, ...) \
	log_msg(LOG_LEVEL_DEBUG, "%s: " fmt, __func__, ##__VA_ARGS__)
#define log_error_fr(r, fmt, ...) \
	log_msg(LOG_LEVEL_ERROR, "%s: " fmt ": %s", __func__, ##__VA_ARGS__, octo_strerror(r))
#define log_warn_fr(r, fmt, ...) \
	log_msg(LOG_LEVEL_WARN, "%s: " fmt ": %s", __func__, ##__VA_ARGS__, octo_strerror(r))

#endif
