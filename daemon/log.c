/* log.c - leveled logging to stderr, journal-aware; libevent's messages come here too. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <event2/event.h>

#include "log.h"

static enum log_level	log_level = LOG_LEVEL_INFO;
static int		log_journal;

static const int log_prio[] = {
	[LOG_LEVEL_ERROR] = LOG_ERR,
	[LOG_LEVEL_WARN] = LOG_WARNING,
	[LOG_LEVEL_INFO] = LOG_INFO,
	[LOG_LEVEL_DEBUG] = LOG_DEBUG,
	[LOG_LEVEL_TRACE] = LOG_DEBUG,
};

static const char *const log_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
	[LOG_LEVEL_TRACE] = "trace",
};

/* libevent's own warnings, routed through our levels. */
static void
log_event_cb(int severity, const char *msg)
{
	switch (severity) {
	case EVENT_LOG_DEBUG:
		log_trace("libevent: %s", msg);
		break;
	case EVENT_LOG_MSG:
		log_info("libevent: %s", msg);
		break;
	case EVENT_LOG_WARN:
		log_warn("libevent: %s", msg);
		break;
	default:
		log_error("libevent: %s", msg);
		break;
	}
}

/* Start logging. */
void
log_init(enum log_level level, int journal)
{
	log_level = level;
	log_journal = journal;
	event_set_log_callback(log_event_cb);
}

/* Change the level (SIGHUP). */
void
log_set_level(enum log_level level)
{
	log_level = level;
}

/* True when a message at level would be written. */
int
log_enabled(enum log_level level)
{
	return level <= log_level;
}

/* Write one line; a journal stream gets a priority prefix, a terminal a timestamp. */
void
log_msg(enum log_level level, const char *fmt, ...)
{
	char		 line[1024], stamp[64];
	struct timespec	 ts;
	struct tm	 tm;
	va_list		 ap;
	int		 saved = errno;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (log_journal)
		fprintf(stderr, "<%d>%s\n", log_prio[level], line);
	else {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ldZ octostored[%s] %s\n", stamp,
		    ts.tv_nsec / 1000000, log_names[level], line);
	}
	errno = saved;
}
