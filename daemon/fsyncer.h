/* fsyncer.h - fdatasync on a helper thread, its end reported on the event loop. */
#ifndef FSYNCER_H
#define FSYNCER_H

#include <event2/event.h>

/* Called on the loop when a sync ends: 0 or the errno fdatasync failed with. */
typedef void (*fsyncer_cb)(int err, void *arg);

/* Start the thread; 0, or -1 with errno. */
int	fsyncer_init(struct event_base *base, fsyncer_cb cb, void *arg);

/* Begin an fdatasync of fd; 0, or -1 (EBUSY while one is in flight). */
int	fsyncer_start(int fd);

/* A sync is in flight. */
int	fsyncer_busy(void);

/* Wait for a sync in flight (its callback is not called), stop the thread. */
void	fsyncer_shutdown(void);

#endif
