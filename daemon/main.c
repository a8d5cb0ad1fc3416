/* main.c - octostored: options, configuration, start-up, signals and shutdown. */
#include <sys/prctl.h>
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "autoconf.h"
#include "backend.h"
#include "config.h"
#include "conn.h"
#include "dispatch.h"
#include "lease.h"
#include "leasefile.h"
#include "local.h"
#include "log.h"
#include "server.h"
#include "session.h"
#include "systemd.h"
#include "token.h"
#include "upstream.h"

/* How long SIGTERM waits for in-flight requests before closing clients anyway. */
#define SHUTDOWN_BUDGET_MS	2000

static struct event_base *main_base;
static struct config	 main_cfg;
static int		 main_stopping;
static struct event	*main_drain_ev;
static struct timespec	 main_stop_at;
static int		 main_session_ending;
static struct event	*main_status_ev;

/* Command-line settings, applied over file and environment. */
struct override {
	const char	*key;
	const char	*value;
};
#define MAX_OVERRIDES	16
static struct override	 main_over[MAX_OVERRIDES];
static int		 main_nover;

static const struct option main_opts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "check-config", no_argument, NULL, 'C' },
	{ "socket", required_argument, NULL, 's' },
	{ "socket-mode", required_argument, NULL, 'm' },
	{ "socket-group", required_argument, NULL, 'g' },
	{ "log-level", required_argument, NULL, 'l' },
	{ "base-url", required_argument, NULL, 'u' },
	{ "token-file", required_argument, NULL, 't' },
	{ "foreground", no_argument, NULL, 'f' },
	{ "backend", required_argument, NULL, 'b' },
	{ "state-dir", required_argument, NULL, 'S' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

static void
usage(FILE *f)
{
	fprintf(f,
"usage: octostored [options]\n"
"\n"
"Local sidecar for the OctoStore lock service: holds the token, renews leases and\n"
"serves local processes over a Unix socket. Runs in the foreground.\n"
"\n"
"  -c, --config FILE       configuration file (default " CONFIG_DEFAULT_FILE ")\n"
"      --check-config      validate the configuration and exit\n"
"  -s, --socket PATH       Unix socket (env OCTOSTORED_SOCKET; default %s)\n"
"      --socket-mode MODE  socket file mode, octal (default 0660)\n"
"      --socket-group GROUP\n"
"                          the socket's group (name or gid), whose members may\n"
"                          connect (default: the daemon's own group)\n"
"  -l, --log-level LEVEL   error, warn, info, debug or trace (default info)\n"
"      --base-url URL      OctoStore server (env OCTOSTORE_BASE_URL)\n"
"      --token-file FILE   bearer token file (mode 0600 or stricter)\n"
"      --backend KIND      remote (the OctoStore server, default) or local (this\n"
"                          daemon is the lock authority: no network, no token)\n"
"      --state-dir DIR     local backend's lock log (default " CONFIG_DEFAULT_STATE_DIR ")\n"
"  -f, --foreground        accepted for compatibility; always in the foreground\n"
"  -h, --help              this text\n"
"  -V, --version           print the version\n"
"\n"
"Precedence: command line > environment > configuration file > defaults.\n"
"Signals: SIGTERM/SIGINT stop gracefully, SIGHUP reloads the configuration.\n",
	    OCTO_DEFAULT_SOCKET);
}

/* Defaults, file, environment, command line: in that order of increasing weight. */
static int
main_load_config(struct config *cfg, const char *file, int file_given)
{
	char		 err[512];
	const char	*why;
	struct stat	 st;
	int		 i;

	config_defaults(cfg);
	if (file_given || stat(file, &st) == 0) {
		if (config_load(cfg, file, err, sizeof(err)) != 0) {
			log_error("%s", err);
			return -1;
		}
		cfg->config_file = strdup(file);
	}
	config_apply_env(cfg);
	for (i = 0; i < main_nover; i++) {
		if ((why = config_set(cfg, main_over[i].key, main_over[i].value)) != NULL) {
			log_error("--%s: %s", main_over[i].key, why);
			return -1;
		}
	}
	return 0;
}

/* Apply the runtime-changeable limits. */
static void
main_apply_limits(const struct config *cfg)
{
	struct conn_limits lim = {
		.max_msg = cfg->max_message_size,
		.max_inflight = cfg->max_inflight,
		.idle_timeout_ms = cfg->idle_timeout_ms,
	};

	conn_set_limits(&lim);
	server_set_limits(cfg);
	ops_lock_set_max_hold(cfg->max_hold_ms);
	lease_set_limits(cfg->max_leases_per_client, cfg->max_leases_per_uid);
	local_set_limits(cfg->max_names, cfg->max_names_per_uid);
	dispatch_set_admins(cfg->admin_uids, cfg->n_admin_uids);
	log_set_level(cfg->log_level);
}

/* Report a setting that changed in the file but needs a restart. */
static int
main_restart_needed(const char *key, const char *was, const char *now)
{
	if ((was == NULL && now == NULL) ||
	    (was != NULL && now != NULL && strcmp(was, now) == 0))
		return 0;
	log_warn("reload: %s changed; it takes effect only after a restart", key);
	return 1;
}

/* SIGHUP: re-read the configuration; apply what can change, report what cannot. */
static void
main_reload(void)
{
	struct config	next;
	char		a[32], b[32];
	int		sock_changed;

	systemd_reloading();
	log_info("reloading configuration");
	if (main_load_config(&next, main_cfg.config_file != NULL ? main_cfg.config_file :
	    CONFIG_DEFAULT_FILE, main_cfg.config_file != NULL) != 0) {
		log_error("reload failed; keeping the running configuration");
		config_free(&next);
		systemd_ready();
		return;
	}
	main_restart_needed("socket", main_cfg.socket_path, next.socket_path);
	/* socket_group and socket_mode apply now (server_reconfigure below). */
	sock_changed = next.socket_mode != main_cfg.socket_mode ||
	    (next.socket_group == NULL) != (main_cfg.socket_group == NULL) ||
	    (next.socket_group != NULL && next.socket_gid != main_cfg.socket_gid);
	snprintf(a, sizeof(a), "%zu", main_cfg.max_message_size);
	snprintf(b, sizeof(b), "%zu", next.max_message_size);
	if (main_restart_needed("max_message_size", a, b))
		next.max_message_size = main_cfg.max_message_size;
	main_restart_needed("base_url", main_cfg.base_url, next.base_url);
	main_restart_needed("ca_file", main_cfg.ca_file, next.ca_file);
	main_restart_needed("backend", main_cfg.backend == CONFIG_BACKEND_LOCAL ? "local" :
	    "remote", next.backend == CONFIG_BACKEND_LOCAL ? "local" : "remote");
	main_restart_needed("state_dir", main_cfg.state_dir, next.state_dir);
	/* SIGHUP re-reads the token from where it was loaded, not from a new path. */
	main_restart_needed("token_file", main_cfg.token_file, next.token_file);
	free(next.token_file);
	next.token_file = main_cfg.token_file != NULL ? strdup(main_cfg.token_file) : NULL;
	next.backend = main_cfg.backend;
	free(next.state_dir);
	next.state_dir = main_cfg.state_dir != NULL ? strdup(main_cfg.state_dir) : NULL;
	/* Keep what cannot change, so the running state and main_cfg agree. */
	free(next.socket_path);
	next.socket_path = strdup(main_cfg.socket_path);
	free(next.base_url);
	next.base_url = main_cfg.base_url != NULL ? strdup(main_cfg.base_url) : NULL;
	free(next.ca_file);
	next.ca_file = main_cfg.ca_file != NULL ? strdup(main_cfg.ca_file) : NULL;
	config_free(&main_cfg);
	main_cfg = next;
	main_apply_limits(&main_cfg);
	if (sock_changed)
		log_info("reload: socket_group=%s socket_mode=%04o",
		    main_cfg.socket_group != NULL ? main_cfg.socket_group : "(unset)",
		    (unsigned)main_cfg.socket_mode);
	server_reconfigure(&main_cfg);
	if (main_cfg.backend != CONFIG_BACKEND_LOCAL && token_reload() != 0)
		log_error("reload: keeping the previous token");
	systemd_ready();
}

/* Milliseconds until the shutdown budget runs out. */
static long
main_budget_left(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (main_stop_at.tv_sec - now.tv_sec) * 1000 +
	    (main_stop_at.tv_nsec - now.tv_nsec) / 1000000;
}

/* STATUS= for the service manager: clients, leases, the authority's state.  Sent
 * only when the text changes, so a timer can ask every second. */
static void
main_status_cb(evutil_socket_t fd, short what, void *arg)
{
	struct upstream_view	v;
	const char		*up;

	(void)fd;
	(void)what;
	(void)arg;
	if (main_cfg.backend == CONFIG_BACKEND_LOCAL)
		up = "local backend";
	else {
		upstream_view(&v);
		up = v.reachable == 0 ? "upstream unreachable" : v.auth_ok == 0 ?
		    "upstream refuses the token" : v.reachable == 1 ? "upstream ok" :
		    "upstream not contacted yet";
	}
	systemd_status("%s; %u clients, %u leases; %s", main_stopping ? "stopping" :
	    "ready", conn_count(), lease_count(), up);
}

/* The session is over: leave the loop. */
static void
main_session_done(void)
{
	event_base_loopexit(main_base, NULL);
}

/* Poll until in-flight requests drain or the budget runs out, then end the loop. */
static void
main_drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = { 0, 10 * 1000 };

	(void)fd;
	(void)what;
	(void)arg;
	if (main_session_ending) {
		if (main_budget_left() > -1000) {
			evtimer_add(main_drain_ev, &tv);
			return;
		}
		log_warn("shutdown: the session did not end in time");
		event_base_loopexit(main_base, NULL);
		return;
	}
	if ((conn_inflight_total() > 0 || lease_count() > 0) && main_budget_left() > 0) {
		evtimer_add(main_drain_ev, &tv);
		return;
	}
	if (conn_inflight_total() > 0 || lease_count() > 0)
		log_warn("shutdown: %u requests and %u leases still pending after %d ms",
		    conn_inflight_total(), lease_count(), SHUTDOWN_BUDGET_MS);
	conn_close_all();
	/* Last, end the upstream session: it frees whatever ephemeral lock is left. */
	main_session_ending = 1;
	evtimer_add(main_drain_ev, &tv);
	session_terminate(main_session_done);
}

/* SIGTERM/SIGINT: stop accepting, finish in-flight work, exit 0. */
static void
main_stop(int sig)
{
	if (main_stopping++) {
		log_info("second signal %d: exiting now", sig);
		event_base_loopbreak(main_base);
		return;
	}
	log_info("signal %d: shutting down", sig);
	systemd_stopping();
	server_stop();
	conn_stop_reading_all();
	lease_shutdown();
	clock_gettime(CLOCK_MONOTONIC, &main_stop_at);
	main_stop_at.tv_sec += SHUTDOWN_BUDGET_MS / 1000;
	main_stop_at.tv_nsec += (SHUTDOWN_BUDGET_MS % 1000) * 1000000L;
	if (main_stop_at.tv_nsec >= 1000000000L) {
		main_stop_at.tv_sec++;
		main_stop_at.tv_nsec -= 1000000000L;
	}
	main_drain_cb(-1, 0, NULL);
}

/* Remote backend: take state_dir and release the detached leases a crash left; 0 or -1. */
static int
main_recover(const struct config *cfg)
{
	struct leasefile_rec	*recs;
	char			 err[PATH_MAX + 256];
	size_t			 n, i;

	if (leasefile_init(cfg->state_dir, &recs, &n, err, sizeof(err)) != 0) {
		log_error("%s", err);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (lease_recover(recs[i].name, recs[i].lease_id, recs[i].uid) != 0)
			log_warn("cannot release name=%s left by a previous run", recs[i].name);
	}
	if (recs != NULL)
		explicit_bzero(recs, n * sizeof(*recs));
	free(recs);
	return 0;
}

/* Signal events, delivered on the loop. */
static void
main_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	if (sig == SIGHUP)
		main_reload();
	else
		main_stop((int)sig);
}

int
main(int argc, char **argv)
{
	struct event	*sigs[3] = { NULL, NULL, NULL };
	const char	*file = CONFIG_DEFAULT_FILE;
	char		 err[512];
	int		 file_given = 0, check = 0, ch, i, rc = 1, afd;
	const int	 signos[3] = { SIGTERM, SIGINT, SIGHUP };

	log_init(LOG_LEVEL_INFO, systemd_journal_stderr());
	while ((ch = getopt_long(argc, argv, "c:s:l:fhV", main_opts, NULL)) != -1) {
		const char *key = NULL;

		switch (ch) {
		case 'c':
			file = optarg;
			file_given = 1;
			break;
		case 'C':
			check = 1;
			break;
		case 's': key = "socket"; break;
		case 'm': key = "socket_mode"; break;
		case 'g': key = "socket_group"; break;
		case 'l': key = "log_level"; break;
		case 'u': key = "base_url"; break;
		case 't': key = "token_file"; break;
		case 'b': key = "backend"; break;
		case 'S': key = "state_dir"; break;
		case 'f':
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("octostored %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 64;
		}
		if (key != NULL) {
			if (main_nover == MAX_OVERRIDES) {
				log_error("too many options");
				return 64;
			}
			main_over[main_nover].key = key;
			main_over[main_nover++].value = optarg;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 64;
	}
	if (main_load_config(&main_cfg, file, file_given) != 0)
		return 78;	/* EX_CONFIG */
	if (check) {
		printf("configuration ok%s%s\n", main_cfg.config_file != NULL ? ": " : "",
		    main_cfg.config_file != NULL ? main_cfg.config_file : "");
		config_free(&main_cfg);
		return 0;
	}
	log_set_level(main_cfg.log_level);
	signal(SIGPIPE, SIG_IGN);
	if (main_cfg.backend != CONFIG_BACKEND_LOCAL &&
	    token_load(&main_cfg, err, sizeof(err)) != 0) {
		log_error("%s", err);
		config_free(&main_cfg);
		return 78;
	}
	/* With the token in memory: no core file, no ptrace by same-uid processes. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		log_warn("PR_SET_DUMPABLE: %s", strerror(errno));

	if ((main_base = event_base_new()) == NULL) {
		log_error("cannot create the event loop");
		goto out;
	}
	main_apply_limits(&main_cfg);
	ops_daemon_init(main_cfg.max_message_size);
	if (main_cfg.backend == CONFIG_BACKEND_LOCAL) {
		/* The daemon is the authority: no server, no token. */
		if (local_init(main_base, main_cfg.state_dir, err, sizeof(err)) != 0) {
			log_error("%s", err);
			goto out;
		}
		backend_use(&backend_local);
	} else if (upstream_init(main_base, &main_cfg) != 0)
		goto out;
	session_init(main_base, main_cfg.session_ttl_ms);
	lease_init(main_base);
	if (main_cfg.backend != CONFIG_BACKEND_LOCAL && main_recover(&main_cfg) != 0)
		goto out;
	afd = systemd_activation_fd();
	if (server_start(main_base, &main_cfg, afd, err, sizeof(err)) != 0) {
		log_error("%s", err);
		goto out;
	}
	for (i = 0; i < 3; i++) {
		sigs[i] = evsignal_new(main_base, signos[i], main_signal_cb, NULL);
		if (sigs[i] == NULL || event_add(sigs[i], NULL) == -1) {
			log_error("cannot register signal %d", signos[i]);
			goto out;
		}
	}
	main_drain_ev = evtimer_new(main_base, main_drain_cb, NULL);
	systemd_watchdog_start(main_base);
	systemd_ready();
	main_status_ev = event_new(main_base, -1, EV_PERSIST, main_status_cb, NULL);
	if (main_status_ev != NULL) {
		struct timeval tv = { 1, 0 };

		event_add(main_status_ev, &tv);
	}
	main_status_cb(-1, 0, NULL);
	log_info("octostored %s ready pid=%d", PACKAGE_VERSION, (int)getpid());

	if (event_base_dispatch(main_base) == -1)
		log_error("event loop failed");
	else
		rc = 0;
	log_info("stopped");
out:
	conn_close_all();
	server_stop();
	upstream_shutdown();
	if (main_cfg.backend == CONFIG_BACKEND_LOCAL)
		local_shutdown();
	lease_free_all();
	leasefile_close();
	session_free();
	token_wipe();
	systemd_shutdown();
	for (i = 0; i < 3; i++)
		if (sigs[i] != NULL)
			event_free(sigs[i]);
	if (main_drain_ev != NULL)
		event_free(main_drain_ev);
	if (main_status_ev != NULL)
		event_free(main_status_ev);
	dispatch_free();
	if (main_base != NULL)
		event_base_free(main_base);
	config_free(&main_cfg);
	return rc;
}
