/* octostore.c - liboctostore clients: connect, close, settings, the last error. */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"

/* Copy a counted string, truncating to fit; embedded NULs end the C string early. */
void
client_copy_text(char *dst, size_t dstsz, const char *s, size_t len)
{
	if (dstsz == 0)
		return;
	if (len >= dstsz)
		len = dstsz - 1;
	memcpy(dst, s, len);
	dst[len] = '\0';
}

/* Forget the previous call's error. */
void
client_reset_error(struct octo_client *c)
{
	c->err = OCTO_OK;
	c->errdaemon = 0;
	strcpy(c->errcode, "ok");
	c->errmsg[0] = '\0';
	c->errparam[0] = '\0';
	c->errreqid[0] = '\0';
	c->errupcode[0] = '\0';
	c->retry_after_ms = -1;
}

/* Record a local error as the last error; keeps errno.  Returns err. */
int
client_error(struct octo_client *c, int err, const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	client_reset_error(c);
	c->err = err;
	snprintf(c->errcode, sizeof(c->errcode), "%s", octo_err_name(err));
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(c->errmsg, sizeof(c->errmsg), fmt, ap);
		va_end(ap);
	} else
		snprintf(c->errmsg, sizeof(c->errmsg), "%s", octo_strerror(err));
	errno = saved;
	return err;
}

/* msgpack write callback: append to the output buffer, remembering a failure. */
static int
client_write(void *data, const char *buf, size_t len)
{
	struct octo_client *c = data;

	if (msgpack_sbuffer_write(&c->out, buf, len) != 0) {
		c->packfail = 1;
		return -1;
	}
	return 0;
}

/* The socket path octo_connect() uses. */
const char *
octo_socket_path(const char *socket_path)
{
	const char *env;

	if (socket_path != NULL)
		return socket_path;
	if ((env = getenv(OCTO_SOCKET_ENV)) != NULL && *env != '\0')
		return env;
	return OCTO_DEFAULT_SOCKET;
}

/* Connect to the daemon and set up a client. */
int
octo_connect(const char *socket_path, int timeout_ms, struct octo_client **out)
{
	return octo_connect_peer(socket_path, timeout_ms, out, NULL);
}

/* Connect, check who answers, set up a client; *peer_uid is who answered. */
int
octo_connect_peer(const char *socket_path, int timeout_ms, struct octo_client **out,
    long *peer_uid)
{
	struct sockaddr_un	 sun;
	struct timeval		 tv;
	struct octo_client	*c;
	const char		*path = octo_socket_path(socket_path);
	long			 uid;
	int			 fd, r, saved;

	*out = NULL;
	if (peer_uid == NULL)
		peer_uid = &uid;
	*peer_uid = -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (*path == '\0' || strlen(path) >= sizeof(sun.sun_path))
		return OCTO_ERR_INVALID_ARGUMENT;
	memcpy(sun.sun_path, path, strlen(path));

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return OCTO_ERR_SYSTEM;
	/* A Unix connect blocks only on a full backlog, bounded by the send timeout. */
	if (timeout_ms >= 0) {
		tv.tv_sec = timeout_ms / 1000;
		tv.tv_usec = (timeout_ms % 1000) * 1000;
		if (tv.tv_sec == 0 && tv.tv_usec == 0)
			tv.tv_usec = 1;
		if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1) {
			r = OCTO_ERR_SYSTEM;
			goto fail;
		}
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		r = errno == EAGAIN ? OCTO_ERR_TIMEOUT : OCTO_ERR_SYSTEM;
		goto fail;
	}
	/* A squatter on the path must not see even our first request. */
	if ((r = client_peer_check(fd, peer_uid)) != OCTO_OK)
		goto fail;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		r = OCTO_ERR_NOMEM;
		goto fail;
	}
	if (!msgpack_zone_init(&c->zone, 2048)) {
		free(c);
		r = OCTO_ERR_NOMEM;
		goto fail;
	}
	c->fd = fd;
	c->timeout_ms = timeout_ms < 0 ? -1 : timeout_ms;
	c->next_msgid = 1;
	client_set_limits(c, CLIENT_REPLY_MAX);
	msgpack_sbuffer_init(&c->out);
	msgpack_packer_init(&c->pk, c, client_write);
	client_reset_error(c);
	*out = c;
	return OCTO_OK;

fail:
	saved = errno;
	close(fd);
	errno = saved;
	return r;
}

/* Close the connection and free the client. */
void
octo_close(struct octo_client *c)
{
	struct client_event	*e;
	int			 saved = errno;

	if (c == NULL)
		return;
	while (c->leases != NULL) {
		c->leases->c = NULL;
		c->leases = c->leases->next;
	}
	free(c->waited);
	while ((e = c->evhead) != NULL) {
		c->evhead = e->next;
		free(e);
	}
	close(c->fd);
	msgpack_zone_destroy(&c->zone);
	msgpack_sbuffer_destroy(&c->out);
	free(c->in);
	free(c);
	errno = saved;
}

/* The connected socket. */
int
octo_fd(const struct octo_client *c)
{
	return c->fd;
}

/* Per-call timeout. */
void
octo_set_timeout(struct octo_client *c, int timeout_ms)
{
	c->timeout_ms = timeout_ms < 0 ? -1 : timeout_ms;
}

/* Set the reply limits: size bytes, and as many objects (each takes a byte or more). */
void
client_set_limits(struct octo_client *c, size_t size)
{
	octo_proto_limits_default(&c->lim);
	c->lim.max_msg = size;
	c->lim.max_elems = size;
}

/* Largest reply accepted. */
int
octo_set_max_message_size(struct octo_client *c, size_t size)
{
	if (size < 1024 || size > OCTO_MAX_MSG_CEILING)
		return OCTO_ERR_INVALID_ARGUMENT;
	client_set_limits(c, size);
	return OCTO_OK;
}

/* Last error accessors. */
int
octo_last_error(const struct octo_client *c)
{
	return c->err;
}

const char *
octo_last_error_code(const struct octo_client *c)
{
	return c->errcode;
}

const char *
octo_last_error_message(const struct octo_client *c)
{
	return c->errmsg;
}

const char *
octo_last_error_param(const struct octo_client *c)
{
	return c->errparam[0] != '\0' ? c->errparam : NULL;
}

int64_t
octo_last_error_retry_after_ms(const struct octo_client *c)
{
	return c->retry_after_ms;
}

const char *
octo_last_error_request_id(const struct octo_client *c)
{
	return c->errreqid[0] != '\0' ? c->errreqid : NULL;
}

const char *
octo_last_error_upstream_code(const struct octo_client *c)
{
	return c->errupcode[0] != '\0' ? c->errupcode : NULL;
}

int
octo_last_error_from_daemon(const struct octo_client *c)
{
	return c->errdaemon;
}
