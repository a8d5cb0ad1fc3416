/* fake.c - octofake: a fake OctoStore HTTP server for tests and benchmarks. */

/*
 * Command line:
 *
 *   octofake --token-file FILE [--token-file FILE2 ...]
 *            [--listen 127.0.0.1:PORT] [--port-file FILE]
 *            [--tls-cert FILE --tls-key FILE] [--min-session-ttl S]
 *            [--idle-timeout S] [--verbose]
 *
 *   --listen ADDR:PORT   numeric loopback address only (127.0.0.0/8 or [::1]);
 *                        default 127.0.0.1:0, port 0 = ephemeral.
 *   --port-file FILE     once listening, the bound port and a newline are
 *                        written to FILE.tmp and renamed to FILE (atomic):
 *                        the readiness signal. Removed again at exit.
 *   --token-file FILE    required; each occurrence adds one user whose bearer
 *                        token is the file's content (trailing newline
 *                        stripped). Users are distinct lock holders.
 *   --tls-cert/--tls-key serve HTTPS (PEM chain and key) instead of HTTP.
 *   --min-session-ttl S  lower clamp for session TTLs (default 10, 1..10),
 *                        so that tests can use 1-2 s sessions.
 *   --idle-timeout S     evhttp read/write timeout, which also closes idle
 *                        keep-alive connections (default 120, 1..86400).
 *   --verbose            one stderr line per request (never a token).
 *   SIGTERM/SIGINT exit 0 after freeing everything.
 *
 * The API follows octostore-openapi.yaml: GET /health; POST
 * /locks/{name}/acquire|release|renew; GET /locks/{name}; GET /locks?prefix=;
 * POST /sessions; POST /sessions/{id}/keepalive; GET|DELETE /sessions/{id};
 * POST /auth/token/rotate. {name} is one percent-encoded path segment.
 * A POST without Content-Length (a body-less one must send 0) gets 411.
 * Every response carries X-Request-Id; errors are {error, code, details,
 * request_id[, retry_after_ms]}. Session choices the spec leaves open:
 * keepalive_interval_secs = max(1, ttl / 2); keepalive or DELETE on an
 * expired session is 410 session_expired (DELETE forgets it as well);
 * GET on an expired session is 200 with active false. Lock ACLs are ignored.
 *
 * Control API (no auth, JSON, never counted, never faulted or delayed):
 *
 *   POST /_fake/fault   {"latency_ms":X} sets latency on every API request
 *                       (0 clears); {"mode":M, "count":N, "path_prefix":P,
 *                       "status":S, "code":C, "retry_after_ms":R} queues a
 *                       rule: the next N requests whose raw path starts
 *                       with P (default: any) get mode M: "error" (default
 *                       when status is given; status S default 503, code C
 *                       default from S, retry_after_ms R also sets
 *                       Retry-After), "close" (headers with Content-Length
 *                       512 and a partial body, then the connection is
 *                       closed), "malformed" (200 with invalid JSON),
 *                       "oversize" (200 with a 2 MiB JSON body), "hang"
 *                       (never answered). count defaults to 1; -1 means
 *                       until cleared. The first matching rule applies.
 *                       Mode "error" also takes "details" (the Error's
 *                       details, repeated "details_repeat" times, default
 *                       1, at most 4 MiB in all) or "body": a raw answer
 *                       body sent instead of an Error, with status S
 *                       (200..599 then) and Content-Type
 *                       application/json: "" for a bodyless error, valid
 *                       JSON of the wrong shape, ...
 *                       Reply {"ok":true,"faults":N,"latency_ms":X}.
 *   POST /_fake/clear   drop all rules and latency (hung requests stay hung).
 *   POST /_fake/expire  {"name":"a/b"}: expire that lease now (404 if free).
 *   POST /_fake/expire_session {"session_id":"..."}: expire it now (its
 *                       ephemeral locks are released); 404 if unknown.
 *   POST /_fake/reflect {"mode":"whole"|"piece"|"off"}: a hostile server
 *                       (issue 21): every string value of every answer to a
 *                       request with an Authorization header gets the header
 *                       ("whole") or an 8-byte piece of its token, a different
 *                       one each time ("piece") appended; ids too.
 *   GET /_fake/stats    {"connections_accepted":N, "requests":{"health",
 *                       "acquire","release","renew","status","list",
 *                       "session_create","keepalive","session_status",
 *                       "session_delete","rotate","other"}, "requests_total",
 *                       "locks_held", "sessions", "last_user_agent" (of the
 *                       last API request, "" if none), "length_required"
 *                       (POSTs answered 411)}. connections_accepted
 *                       counts every accepted TCP connection, including
 *                       those that only carried /_fake/ calls; requests
 *                       are counted on arrival, whatever their outcome.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/util.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "fake.h"

static struct event_base	*fake_evbase;
static SSL_CTX			*fake_ssl;
static int			 fake_is_verbose;
static int			 fake_session_min = 10;

/* The event loop. */
struct event_base *
fake_base(void)
{
	return fake_evbase;
}

/* Whether --verbose was given. */
int
fake_verbose(void)
{
	return fake_is_verbose;
}

/* Lower clamp for session TTLs. */
int
fake_min_session_ttl(void)
{
	return fake_session_min;
}

/* evhttp calls this once per accepted connection: count it, maybe TLS. */
static struct bufferevent *
fake_bevcb(struct event_base *base, void *arg)
{
	struct bufferevent	*bev;
	SSL			*ssl;

	(void)arg;
	control_connection();
	if (fake_ssl == NULL)
		bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	else {
		if ((ssl = SSL_new(fake_ssl)) == NULL)
			abort();
		bev = bufferevent_openssl_socket_new(base, -1, ssl,
		    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
		if (bev != NULL)
			bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	}
	if (bev == NULL)
		abort();
	return bev;
}

/* Load the TLS certificate chain and key. */
static int
fake_tls_init(const char *cert, const char *key)
{
	if ((fake_ssl = SSL_CTX_new(TLS_server_method())) == NULL ||
	    SSL_CTX_use_certificate_chain_file(fake_ssl, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(fake_ssl, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(fake_ssl) != 1) {
		fprintf(stderr, "octofake: TLS setup failed: %s\n",
		    ERR_error_string(ERR_get_error(), NULL));
		return -1;
	}
	return 0;
}

/* Parse a numeric loopback ADDR:PORT or [ADDR6]:PORT (port 0 allowed). */
static int
fake_parse_listen(const char *s, struct sockaddr_storage *ss, int *len)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	char			 host[INET6_ADDRSTRLEN + 2], *end;
	const char		*colon = strrchr(s, ':');
	size_t			 hlen;
	long			 port;

	memset(ss, 0, sizeof(*ss));
	if (colon == NULL || (hlen = (size_t)(colon - s)) >= sizeof(host))
		return -1;
	port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || port < 0 || port > 65535)
		return -1;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (hlen > 2 && host[0] == '[' && host[hlen - 1] == ']') {
		host[hlen - 1] = '\0';
		if (evutil_inet_pton(AF_INET6, host + 1, &sin6->sin6_addr) != 1 ||
		    !IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
			return -1;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*sin6);
		return 0;
	}
	if (evutil_inet_pton(AF_INET, host, &sin->sin_addr) != 1 ||
	    (ntohl(sin->sin_addr.s_addr) >> 24) != 127)
		return -1;
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	*len = sizeof(*sin);
	return 0;
}

/* Write the bound port to path atomically (temporary file, rename). */
static int
fake_write_port(const char *path, int port)
{
	char	*tmp;
	FILE	*f;
	int	 r = -1;

	if (asprintf(&tmp, "%s.tmp", path) == -1)
		return -1;
	if ((f = fopen(tmp, "w")) == NULL)
		goto out;
	fprintf(f, "%d\n", port);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		fclose(f);
		goto out;
	}
	if (fclose(f) != 0 || rename(tmp, path) != 0)
		goto out;
	r = 0;
out:
	if (r != 0) {
		fprintf(stderr, "octofake: %s: %s\n", path, strerror(errno));
		unlink(tmp);
	}
	free(tmp);
	return r;
}

/* SIGTERM or SIGINT: leave the loop. */
static void
fake_signal(evutil_socket_t sig, short events, void *arg)
{
	(void)sig;
	(void)events;
	event_base_loopexit(arg, NULL);
}

/* Print usage and exit 2. */
static void __attribute__((noreturn))
fake_usage(void)
{
	fprintf(stderr, "usage: octofake --token-file FILE [--token-file FILE] "
	    "[--listen 127.0.0.1:PORT]\n\t[--port-file FILE] "
	    "[--tls-cert FILE --tls-key FILE] [--min-session-ttl S] "
	    "[--idle-timeout S] [--verbose]\n");
	exit(2);
}

/* Options, listener, loop; exit 0 after SIGTERM or SIGINT. */
int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "port-file", required_argument, NULL, 'p' },
		{ "token-file", required_argument, NULL, 't' },
		{ "tls-cert", required_argument, NULL, 'c' },
		{ "tls-key", required_argument, NULL, 'k' },
		{ "min-session-ttl", required_argument, NULL, 'm' },
		{ "idle-timeout", required_argument, NULL, 'i' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char		*listen_s = "127.0.0.1:0", *port_file = NULL;
	const char		*cert = NULL, *key = NULL;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	struct evconnlistener	*lev;
	struct evhttp		*http = NULL;
	struct event		*sigterm = NULL, *sigint = NULL;
	char			*end;
	long			 idle = 120;
	int			 c, len, port, rc = 1;

	setlocale(LC_CTYPE, "C.UTF-8");
	signal(SIGPIPE, SIG_IGN);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l': listen_s = optarg; break;
		case 'p': port_file = optarg; break;
		case 't':
			if (auth_add_token_file(optarg) != 0)
				goto out;
			break;
		case 'c': cert = optarg; break;
		case 'k': key = optarg; break;
		case 'm':
			fake_session_min = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || fake_session_min < 1 ||
			    fake_session_min > 10)
				fake_usage();
			break;
		case 'i':
			idle = strtol(optarg, &end, 10);
			if (*end != '\0' || idle < 1 || idle > 86400)
				fake_usage();
			break;
		case 'v': fake_is_verbose = 1; break;
		default: fake_usage();
		}
	}
	if (optind != argc || auth_count() == 0 || (cert == NULL) != (key == NULL))
		fake_usage();
	if (fake_parse_listen(listen_s, &ss, &len) != 0) {
		fprintf(stderr, "octofake: --listen needs a numeric loopback "
		    "ADDR:PORT\n");
		goto out;
	}
	if (cert != NULL && fake_tls_init(cert, key) != 0)
		goto out;

	if ((fake_evbase = event_base_new()) == NULL ||
	    (http = evhttp_new(fake_evbase)) == NULL)
		goto out;
	evhttp_set_max_body_size(http, 64 * 1024);
	evhttp_set_timeout(http, (int)idle);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_DELETE | EVHTTP_REQ_PUT | EVHTTP_REQ_HEAD);
	evhttp_set_gencb(http, route_request, NULL);
	evhttp_set_bevcb(http, fake_bevcb, NULL);
	lev = evconnlistener_new_bind(fake_evbase, NULL, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    128, (struct sockaddr *)&ss, len);
	if (lev == NULL) {
		fprintf(stderr, "octofake: %s: %s\n", listen_s, strerror(errno));
		goto out;
	}
	if (evhttp_bind_listener(http, lev) == NULL) {
		evconnlistener_free(lev);
		goto out;
	}
	sslen = sizeof(ss);
	if (getsockname(evconnlistener_get_fd(lev), (struct sockaddr *)&ss,
	    &sslen) != 0)
		goto out;
	port = ntohs(ss.ss_family == AF_INET ?
	    ((struct sockaddr_in *)&ss)->sin_port :
	    ((struct sockaddr_in6 *)&ss)->sin6_port);

	control_init();
	sigterm = evsignal_new(fake_evbase, SIGTERM, fake_signal, fake_evbase);
	sigint = evsignal_new(fake_evbase, SIGINT, fake_signal, fake_evbase);
	if (sigterm == NULL || sigint == NULL || evsignal_add(sigterm, NULL) ||
	    evsignal_add(sigint, NULL))
		goto out;
	if (port_file != NULL && fake_write_port(port_file, port) != 0)
		goto out;
	if (fake_is_verbose)
		fprintf(stderr, "octofake: listening on port %d (%s)\n", port,
		    fake_ssl != NULL ? "https" : "http");
	if (event_base_dispatch(fake_evbase) == 0)
		rc = 0;
	if (port_file != NULL)
		unlink(port_file);
out:
	control_free();
	if (http != NULL)
		evhttp_free(http);
	locks_free();
	sessions_free();
	auth_free();
	if (sigterm != NULL)
		event_free(sigterm);
	if (sigint != NULL)
		event_free(sigint);
	if (fake_evbase != NULL)
		event_base_free(fake_evbase);
	if (fake_ssl != NULL)
		SSL_CTX_free(fake_ssl);
	libevent_global_shutdown();
	return rc;
}
