/* unixsock.h - connect and send on a Unix stream socket, for bench and test programs. */
#ifndef UNIXSOCK_H
#define UNIXSOCK_H

#include <stddef.h>

#define UNIXSOCK_NONBLOCK	0x1	/* switch the socket to non-blocking after connect */

int	unixsock_connect(const char *path, int flags);
int	unixsock_send_all(int fd, const void *buf, size_t len);

#endif
