/* unixsock.c - connect and send on a Unix stream socket, for bench and test programs. */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "unixsock.h"

/* Connect a stream socket to path (blocking connect); the descriptor, or -1 with errno. */
int
unixsock_connect(const char *path, int flags)
{
	struct sockaddr_un	sun;
	size_t			len = strlen(path);
	int			fd, saved;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (len >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun.sun_path, path, len);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    ((flags & UNIXSOCK_NONBLOCK) && fcntl(fd, F_SETFL, O_NONBLOCK) == -1)) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/*
 * Send all of buf, without SIGPIPE; on a non-blocking socket, wait for room when it is
 * full. 0, or -1 with errno.
 */
int
unixsock_send_all(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	struct pollfd	 pfd = { .fd = fd, .events = POLLOUT };
	ssize_t		 n;

	while (len > 0) {
		if ((n = send(fd, p, len, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN || (poll(&pfd, 1, -1) == -1 && errno != EINTR))
				return -1;
			continue;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
