/*
 * fsyncer.c - fdatasync on a helper thread, its end reported on the event loop.
 *
 * While the disk flushes, the loop keeps serving: releases are answered, and the next
 * acquisitions are written and queue for the next sync, so one fdatasync covers every
 * grant that arrived during the previous one (group commit without a stalled loop).
 * The thread only ever calls fdatasync() on the fd it is handed; everything else stays
 * on the loop thread.
 */
#include <sys/eventfd.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "fsyncer.h"

static pthread_t	 fs_thread;
static pthread_mutex_t	 fs_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 fs_cond = PTHREAD_COND_INITIALIZER;
static int		 fs_started;
static int		 fs_efd = -1;		/* the thread's "done" to the loop */
static struct event	*fs_ev;
static fsyncer_cb	 fs_cb;
static void		*fs_arg;

/* Shared with the thread, under fs_lock. */
static int		 fs_fd = -1;		/* to sync; -1: nothing asked */
static int		 fs_stop;
static int		 fs_err;

/* Loop-thread state. */
static int		 fs_busy;

/* The thread: wait for a request, sync, report. */
static void *
fsyncer_main(void *arg)
{
	uint64_t	one = 1;
	int		fd, err;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&fs_lock);
		while (fs_fd == -1 && !fs_stop)
			pthread_cond_wait(&fs_cond, &fs_lock);
		fd = fs_fd;
		pthread_mutex_unlock(&fs_lock);
		if (fd == -1)
			break;
		err = fdatasync(fd) == 0 ? 0 : errno;
		pthread_mutex_lock(&fs_lock);
		fs_err = err;
		fs_fd = -1;
		pthread_cond_broadcast(&fs_cond);
		pthread_mutex_unlock(&fs_lock);
		while (write(fs_efd, &one, sizeof(one)) == -1 && errno == EINTR)
			;
	}
	return NULL;
}

/* The loop heard the thread: hand the result on. */
static void
fsyncer_done_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t	n;
	int		err;

	(void)what;
	(void)arg;
	if (read(fd, &n, sizeof(n)) != (ssize_t)sizeof(n) || !fs_busy)
		return;
	pthread_mutex_lock(&fs_lock);
	err = fs_err;
	pthread_mutex_unlock(&fs_lock);
	fs_busy = 0;
	fs_cb(err, fs_arg);
}

int
fsyncer_init(struct event_base *base, fsyncer_cb cb, void *arg)
{
	sigset_t	all, old;
	int		e;

	fs_cb = cb;
	fs_arg = arg;
	if ((fs_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1)
		return -1;
	if ((fs_ev = event_new(base, fs_efd, EV_READ | EV_PERSIST, fsyncer_done_cb,
	    NULL)) == NULL || event_add(fs_ev, NULL) != 0) {
		e = ENOMEM;
		goto fail;
	}
	/* Signals stay with the loop thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	e = pthread_create(&fs_thread, NULL, fsyncer_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0)
		goto fail;
	fs_started = 1;
	return 0;
fail:
	fsyncer_shutdown();
	errno = e;
	return -1;
}

int
fsyncer_start(int fd)
{
	if (fs_busy || !fs_started) {
		errno = EBUSY;
		return -1;
	}
	pthread_mutex_lock(&fs_lock);
	fs_fd = fd;
	pthread_cond_broadcast(&fs_cond);
	pthread_mutex_unlock(&fs_lock);
	fs_busy = 1;
	return 0;
}

int
fsyncer_busy(void)
{
	return fs_busy;
}

void
fsyncer_shutdown(void)
{
	if (fs_started) {
		pthread_mutex_lock(&fs_lock);
		while (fs_fd != -1)
			pthread_cond_wait(&fs_cond, &fs_lock);
		fs_stop = 1;
		pthread_cond_broadcast(&fs_cond);
		pthread_mutex_unlock(&fs_lock);
		pthread_join(fs_thread, NULL);
		fs_started = 0;
	}
	fs_busy = 0;
	fs_stop = 0;
	if (fs_ev != NULL)
		event_free(fs_ev);
	fs_ev = NULL;
	if (fs_efd != -1)
		close(fs_efd);
	fs_efd = -1;
}
