/* ctl.c - octostorectl, the command-line client of octostored. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl.h"

/*
 * Exit status (sysexits.h values where one fits; keep in step with usage()):
 *   0  success
 *   1  other error (lease_not_current, not_found, not_owner, ...)
 *  10  acquire: the lock is held by another holder or in its release delay
 *  11  acquire --wait / run: the wait timed out; run -n: the lock is busy
 *  20  run: the lease was lost (lease_lost, or the daemon connection failed) and
 *      CMD was stopped; otherwise run exits with CMD's status (128 + N for signal N)
 *  64  usage error
 *  65  invalid argument or validation error
 *  69  daemon unavailable: cannot connect, or the connection was lost
 *  70  internal error, or a malformed or oversized reply from the daemon
 *  75  temporary failure: server unreachable, timeout, rate limited, busy
 *  77  permission denied or authentication failure, or the socket is answered by an
 *      untrusted process (untrusted_daemon; CMD of run is not started)
 */

#define CTL_TIMEOUT_DEFAULT	30000	/* ms */

/* Options of the subcommands, as bits saying which command takes which. */
#define OPT_TTL		0x1
#define OPT_METADATA	0x2
#define OPT_LOCK_DELAY	0x4
#define OPT_PREFIX	0x8
#define OPT_WAIT	0x10
#define OPT_NOWAIT	0x20
#define OPT_KILL_AFTER	0x40
#define OPT_DETACH	0x80
#define OPT_HOLD	0x100

#define CTL_KILL_AFTER_DEFAULT	5000	/* ms */

struct ctl_opts ctl_opts = { .lock_delay = -1, .timeout_ms = CTL_TIMEOUT_DEFAULT,
    .wait_ms = -1, .kill_after_ms = CTL_KILL_AFTER_DEFAULT };

struct ctl_cmd {
	const char	*name;
	int		(*fn)(struct octo_client *, char **);
	int		 minargs;
	int		 maxargs;
	unsigned	 opts;
};

static const struct ctl_cmd ctl_cmds[] = {
	{ "ping", ctl_ping, 0, 1, 0 },
	{ "daemon-status", ctl_daemon_status, 0, 0, 0 },
	{ "health", ctl_health, 0, 0, 0 },
	{ "acquire", ctl_acquire, 1, 1, OPT_TTL | OPT_METADATA | OPT_LOCK_DELAY |
	    OPT_WAIT | OPT_DETACH | OPT_HOLD },
	{ "release", ctl_release, 2, 2, 0 },
	{ "renew", ctl_renew, 2, 2, OPT_TTL },
	{ "status", ctl_status, 1, 1, 0 },
	{ "list", ctl_list, 0, 0, OPT_PREFIX },
	{ "rotate-token", ctl_rotate_token, 0, 0, 0 },
	{ "run", ctl_run, 1, 1, OPT_TTL | OPT_METADATA | OPT_LOCK_DELAY | OPT_WAIT |
	    OPT_NOWAIT | OPT_KILL_AFTER },
};

static const struct option ctl_longopts[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "json", no_argument, NULL, 'j' },
	{ "socket", required_argument, NULL, 's' },
	{ "timeout", required_argument, NULL, 't' },
	{ "version", no_argument, NULL, 'V' },
	{ "ttl", required_argument, NULL, 'T' },
	{ "metadata", required_argument, NULL, 'M' },
	{ "lock-delay", required_argument, NULL, 'D' },
	{ "prefix", required_argument, NULL, 'P' },
	{ "wait", required_argument, NULL, 'W' },
	{ "no-wait", no_argument, NULL, 'n' },
	{ "kill-after", required_argument, NULL, 'K' },
	{ "detach", no_argument, NULL, 'd' },
	{ "hold", required_argument, NULL, 'H' },
	{ NULL, 0, NULL, 0 }
};

/* Print the help text. */
static void
usage(FILE *f)
{
	fputs(
"usage: octostorectl [options] command [args]\n"
"\n"
"Commands:\n"
"  ping [PAYLOAD]          check that the daemon answers (echoes PAYLOAD)\n"
"  daemon-status           daemon version, uptime, connections and counters\n"
"  health                  the OctoStore server's health as the daemon sees it\n"
"  acquire NAME [--ttl S] [--metadata M] [--lock-delay S] [--wait DURATION]\n"
"          [--detach --hold DURATION]\n"
"                          acquire lock NAME for S seconds (default 60); --wait:\n"
"                          wait while it is held; --detach: the lease outlives\n"
"                          this command and is renewed for the --hold time\n"
"  release NAME LEASE_ID   release a lease\n"
"  renew NAME LEASE_ID [--ttl S]\n"
"                          extend a lease to S seconds from now (default 60)\n"
"  status NAME             show one lock\n"
"  list [--prefix P]       list locks, optionally only names starting with P\n"
"  rotate-token            have the daemon rotate its API token (admin only)\n"
"  run NAME [--ttl S] [--metadata M] [--wait DURATION | -n]\n"
"          [--kill-after DURATION] -- CMD [ARGS...]\n"
"                          hold lock NAME while CMD runs (no shell), with\n"
"                          OCTOSTORE_LOCK_NAME, OCTOSTORE_FENCING_TOKEN and\n"
"                          OCTOSTORE_LEASE_EXPIRES_AT set; waits for the lock\n"
"                          without limit unless --wait or -n (no wait) is given;\n"
"                          SIGINT, SIGTERM and SIGHUP go to CMD.  On lease loss:\n"
"                          SIGTERM to CMD, SIGKILL after min(--kill-after\n"
"                          (default 5s), TTL/5), exit 20.  A signal while\n"
"                          waiting exits 128+N at once.\n"
"\n"
"DURATION: a number with a unit, ms, s, m or h (500ms, 30s, 2m), or bare seconds.\n"
"\n"
"Options:\n"
"  -s, --socket PATH       daemon socket (default: $" OCTO_SOCKET_ENV ", else\n"
"                          " OCTO_DEFAULT_SOCKET ")\n"
"  -j, --json              machine-readable JSON on standard output\n"
"  -t, --timeout MS        wait at most MS milliseconds for each reply\n"
"                          (default 30000)\n"
"  -h, --help              show this help and exit\n"
"  -V, --version           show the version and exit\n"
"\n"
"Exit status:\n"
"   0  success\n"
"   1  other error (lease_not_current, not_found, not_owner, ...)\n"
"  10  acquire: the lock is held by another holder or in its release delay\n"
"  11  the wait timed out (acquire --wait, run), or busy (run -n)\n"
"  20  run: the lease was lost and CMD was stopped\n"
"      (otherwise run exits with CMD's status, 128+N if killed by signal N)\n"
"  64  usage error\n"
"  65  invalid argument or validation error\n"
"  69  daemon unavailable (cannot connect, or the connection was lost)\n"
"  70  internal error, or a malformed or oversized reply from the daemon\n"
"  75  temporary failure (server unreachable, timeout, rate limited): retry\n"
"  77  permission denied or authentication failure, or the socket is answered\n"
"      by an untrusted process (untrusted_daemon)\n", f);
}

/* Complain about the command line. */
static int
ctl_usage_error(const char *msg, const char *arg)
{
	fprintf(stderr, "octostorectl: %s", msg);
	if (arg != NULL) {
		fputs(": ", stderr);
		ctl_put_esc(stderr, arg, strlen(arg));
	}
	fputs("\nTry 'octostorectl --help'.\n", stderr);
	return CTL_EXIT_USAGE;
}

/* Parse a decimal integer within [min, max]. */
static int
ctl_parse_int(const char *s, long min, long max, int *out)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
		return -1;
	*out = (int)v;
	return 0;
}

/* Parse a duration (500ms, 30s, 2m, 1h, bare seconds) into milliseconds, 0..max. */
static int
ctl_parse_duration(const char *s, int64_t max, int64_t *out)
{
	char	*end;
	double	 v, unit = 1000;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno != 0 || !(v >= 0))
		return -1;
	if (strcmp(end, "ms") == 0)
		unit = 1;
	else if (strcmp(end, "s") == 0 || *end == '\0')
		unit = 1000;
	else if (strcmp(end, "m") == 0)
		unit = 60000;
	else if (strcmp(end, "h") == 0)
		unit = 3600000;
	else
		return -1;
	v *= unit;
	if (v > (double)max)
		return -1;
	*out = (int64_t)v;
	return 0;
}

/* Exit status for an error code. */
int
ctl_exit_status(int r)
{
	switch (r) {
	case OCTO_OK:
		return CTL_EXIT_OK;
	case OCTO_ERR_LOCK_HELD:
	case OCTO_ERR_LOCK_DELAYED:
		return CTL_EXIT_HELD;
	case OCTO_ERR_INVALID_ARGUMENT:
	case OCTO_ERR_INVALID_INPUT:
	case OCTO_ERR_INVALID_TTL:
	case OCTO_ERR_INVALID_LOCK_NAME:
	case OCTO_ERR_TOO_LARGE:
		return CTL_EXIT_DATAERR;
	case OCTO_ERR_CLOSED:
		return CTL_EXIT_UNAVAILABLE;
	case OCTO_ERR_INTERNAL:
	case OCTO_ERR_SYSTEM:
	case OCTO_ERR_NOMEM:
	case OCTO_ERR_PROTOCOL:
	case OCTO_ERR_UNSUPPORTED_VERSION:
		return CTL_EXIT_SOFTWARE;
	case OCTO_ERR_UNAVAILABLE:
	case OCTO_ERR_TIMEOUT:
	case OCTO_ERR_BUSY:
	case OCTO_ERR_SHUTTING_DOWN:
	case OCTO_ERR_BAD_UPSTREAM_RESPONSE:
	case OCTO_ERR_RATE_LIMITED:
	case OCTO_ERR_CAPACITY_EXCEEDED:
	case OCTO_ERR_UPSTREAM_UNAVAILABLE:
	case OCTO_ERR_UPSTREAM_INTERNAL:
		return CTL_EXIT_TEMPFAIL;
	case OCTO_ERR_PERMISSION_DENIED:
	case OCTO_ERR_UNTRUSTED_DAEMON:
	case OCTO_ERR_AUTHENTICATION_REQUIRED:
	case OCTO_ERR_AUTHENTICATION_FAILED:
	case OCTO_ERR_FORBIDDEN:
		return CTL_EXIT_NOPERM;
	default:
		return CTL_EXIT_OTHER;
	}
}

/* Print an error: one line on stderr, and an {"error": ...} document with --json. */
static void
ctl_report(const char *cmd, const char *code, const char *msg, const char *param,
    int64_t retry, const char *reqid, const char *upcode)
{
	json_t	*o, *e;

	fprintf(stderr, "octostorectl: %s: ", cmd);
	ctl_put_esc(stderr, msg, strlen(msg));
	fputs(" (", stderr);
	ctl_put_esc(stderr, code, strlen(code));
	if (param != NULL) {
		fputs(", param=", stderr);
		ctl_put_esc(stderr, param, strlen(param));
	}
	if (retry >= 0)
		fprintf(stderr, ", retry_after_ms=%lld", (long long)retry);
	if (reqid != NULL) {
		fputs(", request_id=", stderr);
		ctl_put_esc(stderr, reqid, strlen(reqid));
	}
	if (upcode != NULL) {
		fputs(", upstream_code=", stderr);
		ctl_put_esc(stderr, upcode, strlen(upcode));
	}
	fputs(")\n", stderr);
	if (!ctl_opts.json)
		return;
	e = json_object();
	ctl_json_str(e, "code", code);
	ctl_json_str(e, "message", msg);
	if (param != NULL)
		ctl_json_str(e, "param", param);
	if (retry >= 0)
		ctl_json_num(e, "retry_after_ms", retry);
	if (reqid != NULL)
		ctl_json_str(e, "request_id", reqid);
	if (upcode != NULL)
		ctl_json_str(e, "upstream_code", upcode);
	o = json_object();
	json_object_set_new(o, "error", e);
	ctl_json_print(o);
}

/*
 * Report a failed call; returns the exit status for it.  message_too_large from the
 * daemon is about our request (an argument too big: 65); found by the library, it is
 * the daemon's reply that broke the client's limit, a daemon failure (70).
 */
int
ctl_fail(struct octo_client *c, const char *cmd, int r)
{
	ctl_report(cmd, octo_last_error_code(c), octo_last_error_message(c),
	    octo_last_error_param(c), octo_last_error_retry_after_ms(c),
	    octo_last_error_request_id(c), octo_last_error_upstream_code(c));
	if (r == OCTO_ERR_TOO_LARGE && !octo_last_error_from_daemon(c))
		return CTL_EXIT_SOFTWARE;
	return ctl_exit_status(r);
}

/*
 * Report a failed connect, errno intact from octo_connect(); uid is the peer's, for
 * untrusted_daemon.  Returns the exit status.
 */
static int
ctl_connect_failed(const char *cmd, const char *path, int r, long uid)
{
	char	msg[512];
	int	saved = errno;

	if (r == OCTO_ERR_UNTRUSTED_DAEMON) {
		snprintf(msg, sizeof(msg), "refusing %s: it is answered by uid %ld, not by "
		    "root, this user or the daemon user %s (see %s in octostorectl(1))",
		    path, uid, OCTO_DAEMON_USER, OCTO_TRUSTED_UID_ENV);
		ctl_report(cmd, octo_err_name(r), msg, NULL, -1, NULL, NULL);
		return CTL_EXIT_NOPERM;
	}
	if (r == OCTO_ERR_SYSTEM)
		snprintf(msg, sizeof(msg), "cannot connect to %s: %s", path,
		    strerror(saved));
	else
		snprintf(msg, sizeof(msg), "cannot connect to %s: %s", path,
		    octo_strerror(r));
	if (r == OCTO_ERR_SYSTEM && (saved == EACCES || saved == EPERM)) {
		ctl_report(cmd, octo_err_name(OCTO_ERR_PERMISSION_DENIED), msg, NULL, -1,
		    NULL, NULL);
		return CTL_EXIT_NOPERM;
	}
	if (r == OCTO_ERR_INVALID_ARGUMENT) {
		ctl_report(cmd, octo_err_name(r), msg, "socket", -1, NULL, NULL);
		return CTL_EXIT_USAGE;
	}
	ctl_report(cmd, octo_err_name(OCTO_ERR_UNAVAILABLE), msg, NULL, -1, NULL, NULL);
	return CTL_EXIT_UNAVAILABLE;
}

/* Parse the command line, connect, run one command. */
int
main(int argc, char **argv)
{
	const struct ctl_cmd	*cmd = NULL;
	struct octo_client	*c;
	const char		*path;
	unsigned		 used = 0;
	size_t			 i;
	long			 uid;
	int			 ch, nargs, r, status, dd, nopt;

	/*
	 * jansson seeds its hash function from /dev/urandom on first use (three system
	 * calls per process); the CLI only formats what its own daemon answered, so a
	 * fixed seed does.
	 */
	json_object_seed(1);
	/* Words after "--" are never options: run's CMD is among them. */
	for (dd = 1; dd < argc && strcmp(argv[dd], "--") != 0; dd++)
		;
	nopt = dd;
	opterr = 0;
	while ((ch = getopt_long(nopt, argv, ":hjs:t:Vn", ctl_longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			usage(stdout);
			return CTL_EXIT_OK;
		case 'V':
			printf("octostorectl (octostored) %s\n", PACKAGE_VERSION);
			return CTL_EXIT_OK;
		case 'j':
			ctl_opts.json = 1;
			break;
		case 's':
			ctl_opts.socket = optarg;
			break;
		case 't':
			if (ctl_parse_int(optarg, 0, INT_MAX, &ctl_opts.timeout_ms) != 0)
				return ctl_usage_error("bad --timeout", optarg);
			break;
		case 'T':
			if (ctl_parse_int(optarg, 1, INT_MAX, &ctl_opts.ttl) != 0)
				return ctl_usage_error("bad --ttl", optarg);
			used |= OPT_TTL;
			break;
		case 'M':
			ctl_opts.metadata = optarg;
			used |= OPT_METADATA;
			break;
		case 'D':
			if (ctl_parse_int(optarg, 0, INT_MAX, &ctl_opts.lock_delay) != 0)
				return ctl_usage_error("bad --lock-delay", optarg);
			used |= OPT_LOCK_DELAY;
			break;
		case 'P':
			ctl_opts.prefix = optarg;
			used |= OPT_PREFIX;
			break;
		case 'W':
			if (ctl_parse_duration(optarg, OCTO_WAIT_MAX_MS,
			    &ctl_opts.wait_ms) != 0)
				return ctl_usage_error("bad --wait", optarg);
			used |= OPT_WAIT;
			break;
		case 'n':
			ctl_opts.nowait = 1;
			used |= OPT_NOWAIT;
			break;
		case 'K':
			if (ctl_parse_duration(optarg, INT32_MAX,
			    &ctl_opts.kill_after_ms) != 0)
				return ctl_usage_error("bad --kill-after", optarg);
			used |= OPT_KILL_AFTER;
			break;
		case 'd':
			ctl_opts.detach = 1;
			used |= OPT_DETACH;
			break;
		case 'H':
			if (ctl_parse_duration(optarg, INT32_MAX, &ctl_opts.hold_ms) != 0 ||
			    ctl_opts.hold_ms == 0)
				return ctl_usage_error("bad --hold", optarg);
			used |= OPT_HOLD;
			break;
		case ':':
			return ctl_usage_error("option needs a value", argv[optind - 1]);
		default:
			return ctl_usage_error("unknown option", argv[optind - 1]);
		}
	}
	if (optind >= nopt)
		return ctl_usage_error("no command given", NULL);
	for (i = 0; i < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); i++) {
		if (strcmp(argv[optind], ctl_cmds[i].name) == 0)
			cmd = &ctl_cmds[i];
	}
	if (cmd == NULL)
		return ctl_usage_error("unknown command", argv[optind]);
	nargs = nopt - optind - 1;
	if (cmd->fn == ctl_run && dd >= argc - 1)
		return ctl_usage_error("run needs -- CMD", NULL);
	if (dd < argc) {
		/*
		 * Close the gap "--" leaves: the words after it follow the arguments
		 * (for run, NAME is then followed by CMD and its arguments).
		 */
		memmove(&argv[dd], &argv[dd + 1], (argc - dd) * sizeof(*argv));
		if (cmd->fn != ctl_run)
			nargs += argc - dd - 1;
	}
	if (nargs < cmd->minargs)
		return ctl_usage_error("missing argument for", cmd->name);
	if (nargs > cmd->maxargs)
		return ctl_usage_error("too many arguments for", cmd->name);
	if ((used & ~cmd->opts) != 0)
		return ctl_usage_error("option not valid for", cmd->name);
	if ((used & OPT_WAIT) && (used & OPT_NOWAIT))
		return ctl_usage_error("--wait and -n exclude each other", NULL);
	if (!(used & OPT_DETACH) != !(used & OPT_HOLD))
		return ctl_usage_error("--detach and --hold go together", NULL);

	path = octo_socket_path(ctl_opts.socket);
	if ((r = octo_connect_peer(path, ctl_opts.timeout_ms, &c, &uid)) != OCTO_OK)
		return ctl_connect_failed(cmd->name, path, r, uid);
	status = cmd->fn(c, argv + optind + 1);
	octo_close(c);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "octostorectl: stdout: %s\n", strerror(errno));
		return CTL_EXIT_SOFTWARE;
	}
	return status;
}
