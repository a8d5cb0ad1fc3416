/* route.c - API request path: routing, latency, faults, auth, handlers. */
#include <sys/types.h>
#include <sys/queue.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "fake.h"

/* Free an API request's bookkeeping (not the evhttp request). */
void
route_req_free(struct fake_req *fr)
{
	free(fr->path);
	free(fr->arg);
	free(fr->prefix);
	free(fr);
}

/* Decode one path segment into fr->arg. */
static void
route_set_arg(struct fake_req *fr, const char *seg)
{
	size_t	len;

	if ((fr->arg = evhttp_uridecode(seg, 0, &len)) == NULL)
		abort();
	fr->bad_arg = strlen(fr->arg) != len;
}

/* Map method and raw path to an endpoint, its {name}/{id} and ?prefix. */
static void
route_map(struct fake_req *fr, enum evhttp_cmd_type cmd, const char *path,
    const char *query)
{
	struct evkeyvalq	 q;
	char			*copy, *seg[4], *p;
	const char		*v;
	int			 n = 0, get, post;
	enum fake_ep		 ep = FAKE_EP_OTHER;

	get = cmd == EVHTTP_REQ_GET;
	post = cmd == EVHTTP_REQ_POST;
	fr->bad_route = 404;
	if ((copy = strdup(path[0] == '/' ? path + 1 : path)) == NULL)
		abort();
	for (p = copy; n < 4; n++) {
		seg[n] = p;
		if ((p = strchr(p, '/')) == NULL) {
			n++;
			break;
		}
		*p++ = '\0';
	}
	if (p != NULL)
		goto out;		/* more than four segments */

	if (n == 1 && strcmp(seg[0], "health") == 0)
		ep = get ? FAKE_EP_HEALTH : FAKE_EP_OTHER;
	else if (n == 1 && strcmp(seg[0], "locks") == 0)
		ep = get ? FAKE_EP_LIST : FAKE_EP_OTHER;
	else if (n == 2 && strcmp(seg[0], "locks") == 0)
		ep = get ? FAKE_EP_STATUS : FAKE_EP_OTHER;
	else if (n == 3 && strcmp(seg[0], "locks") == 0) {
		if (strcmp(seg[2], "acquire") == 0)
			ep = FAKE_EP_ACQUIRE;
		else if (strcmp(seg[2], "release") == 0)
			ep = FAKE_EP_RELEASE;
		else if (strcmp(seg[2], "renew") == 0)
			ep = FAKE_EP_RENEW;
		else
			goto out;
		if (!post)
			ep = FAKE_EP_OTHER;
	} else if (n == 1 && strcmp(seg[0], "sessions") == 0)
		ep = post ? FAKE_EP_SESSION_CREATE : FAKE_EP_OTHER;
	else if (n == 2 && strcmp(seg[0], "sessions") == 0) {
		if (get)
			ep = FAKE_EP_SESSION_STATUS;
		else if (cmd == EVHTTP_REQ_DELETE)
			ep = FAKE_EP_SESSION_DELETE;
	} else if (n == 3 && strcmp(seg[0], "sessions") == 0 &&
	    strcmp(seg[2], "keepalive") == 0)
		ep = post ? FAKE_EP_KEEPALIVE : FAKE_EP_OTHER;
	else if (n == 3 && strcmp(seg[0], "auth") == 0 &&
	    strcmp(seg[1], "token") == 0 && strcmp(seg[2], "rotate") == 0)
		ep = post ? FAKE_EP_ROTATE : FAKE_EP_OTHER;
	else
		goto out;
	fr->bad_route = 405;	/* a known path: only the method can be wrong */
	if (n >= 2 && ep != FAKE_EP_OTHER && ep != FAKE_EP_ROTATE)
		route_set_arg(fr, seg[1]);
	if (ep == FAKE_EP_LIST && query != NULL) {
		TAILQ_INIT(&q);
		if (evhttp_parse_query_str(query, &q) == 0 &&
		    (v = evhttp_find_header(&q, "prefix")) != NULL &&
		    (fr->prefix = strdup(v)) == NULL)
			abort();
		evhttp_clear_headers(&q);
	}
out:
	fr->ep = ep;
	free(copy);
}

/* Authenticate and run the endpoint's handler. */
static void
route_handle(struct fake_req *fr)
{
	struct evkeyvalq	*h = evhttp_request_get_input_headers(fr->req);

	/* The daemon must send Content-Length: 0 on a POST without a body (issue 3). */
	if (evhttp_request_get_command(fr->req) == EVHTTP_REQ_POST &&
	    evhttp_find_header(h, "Content-Length") == NULL) {
		control_length_required();
		http_reply_error(fr, 411, "invalid_input", "Content-Length required",
		    -1);
		return;
	}
	if (fr->ep == FAKE_EP_OTHER) {
		http_reply_error(fr, fr->bad_route, fr->bad_route == 405 ?
		    "invalid_input" : "not_found", fr->bad_route == 405 ?
		    "Method not allowed" : "No such endpoint", -1);
		return;
	}
	if (fr->ep == FAKE_EP_HEALTH) {
		http_reply(fr, 200, json_pack("{s:s, s:s, s:i}", "status", "ok",
		    "storage", "wal", "db_size_bytes", 0));
		return;
	}
	if ((fr->user = auth_check(fr)) == NULL)
		return;
	switch (fr->ep) {
	case FAKE_EP_ACQUIRE:		locks_acquire(fr); break;
	case FAKE_EP_RELEASE:		locks_release(fr); break;
	case FAKE_EP_RENEW:		locks_renew(fr); break;
	case FAKE_EP_STATUS:		locks_status(fr); break;
	case FAKE_EP_LIST:		locks_list(fr); break;
	case FAKE_EP_SESSION_CREATE:	sessions_create(fr); break;
	case FAKE_EP_KEEPALIVE:		sessions_keepalive(fr); break;
	case FAKE_EP_SESSION_STATUS:	sessions_status(fr); break;
	case FAKE_EP_SESSION_DELETE:	sessions_delete(fr); break;
	case FAKE_EP_ROTATE:		auth_rotate(fr); break;
	default:			abort();
	}
}

/* Run fr after any latency: faults first, then the handler. */
void
route_serve(struct fake_req *fr)
{
	int	r;

	r = control_fault(fr);
	if (r == CONTROL_KEPT)
		return;
	if (r == CONTROL_PASS)
		route_handle(fr);
	route_req_free(fr);
}

/*
 * TCP_NODELAY on the request's connection: a TLS reply goes out as two records in
 * two writes, and Nagle held the second one until the client's delayed ACK, 40 ms
 * on every keep-alive HTTPS request.  The bufferevent gets its socket only after
 * the bevcb, so it is set here, once per request (cheap, idempotent).
 */
static void
route_nodelay(struct evhttp_request *req)
{
	struct evhttp_connection	*evcon = evhttp_request_get_connection(req);
	struct bufferevent		*bev;
	int				 one = 1;
	evutil_socket_t			 fd;

	if (evcon == NULL || (bev = evhttp_connection_get_bufferevent(evcon)) == NULL ||
	    (fd = bufferevent_getfd(bev)) < 0)
		return;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* evhttp callback for every request. */
void
route_request(struct evhttp_request *req, void *arg)
{
	const struct evhttp_uri	*uri = evhttp_request_get_evhttp_uri(req);
	enum evhttp_cmd_type	 cmd = evhttp_request_get_command(req);
	struct fake_req		*fr;
	const char		*path;

	(void)arg;
	route_nodelay(req);
	if ((path = evhttp_uri_get_path(uri)) == NULL || *path == '\0')
		path = "/";
	if (strncmp(path, "/_fake/", 7) == 0) {
		control_dispatch(req, path);
		return;
	}
	if ((fr = calloc(1, sizeof(*fr))) == NULL ||
	    (fr->path = strdup(path)) == NULL)
		abort();
	fr->req = req;
	switch (cmd) {
	case EVHTTP_REQ_GET:	fr->method = "GET"; break;
	case EVHTTP_REQ_POST:	fr->method = "POST"; break;
	case EVHTTP_REQ_DELETE:	fr->method = "DELETE"; break;
	default:		fr->method = "OTHER"; break;
	}
	memcpy(fr->request_id, "req_", 4);
	http_random_hex(fr->request_id + 4, 16);
	route_map(fr, cmd, path, evhttp_uri_get_query(uri));
	control_count(fr->ep);
	control_user_agent(evhttp_find_header(evhttp_request_get_input_headers(req),
	    "User-Agent"));
	if (control_latency(fr) == CONTROL_KEPT)
		return;
	route_serve(fr);
}
