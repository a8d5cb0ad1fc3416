/* config.h - daemon configuration: flags > environment > config file > defaults. */
#ifndef CONFIG_H_DAEMON
#define CONFIG_H_DAEMON

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CONFIG_DEFAULT_FILE	SYSCONFDIR "/octostore/octostored.conf"
#define CONFIG_MAX_UIDS		32
#define CONFIG_MAX_RULES	64
#define CONFIG_MAX_PREFIXES	16

/* A name policy section, [uid:N] or [gid:N]: names its peers may use. */
struct config_rule {
	int		 is_gid;
	unsigned	 id;
	char		*prefixes[CONFIG_MAX_PREFIXES];
	unsigned	 n_prefixes;
};
#define CONFIG_DEFAULT_STATE_DIR	LOCALSTATEDIR "/lib/octostored"

#define CONFIG_BACKEND_REMOTE	0	/* the OctoStore server */
#define CONFIG_BACKEND_LOCAL	1	/* the daemon itself (daemon/local.c) */

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_TRACE
};

/*
 * Every key of octostored.conf (flat "key = value" lines; see systemd/octostored.conf
 * for documentation).  Durations are milliseconds here; in the file they take a unit
 * suffix ms, s or m (bare numbers are seconds).
 */
struct config {
	char		*config_file;		/* NULL: none given and default absent */

	/* Local socket. */
	char		*socket_path;		/* socket */
	mode_t		 socket_mode;		/* socket_mode, octal */
	char		*socket_group;		/* socket_group as written; NULL: unset */
	gid_t		 socket_gid;		/* its gid, resolved when set */
	enum log_level	 log_level;		/* log_level */

	/* Limits. */
	size_t		 max_message_size;	/* max_message_size, bytes */
	unsigned	 max_clients;		/* max_clients */
	unsigned	 max_clients_per_uid;	/* 0: a quarter of max_clients */
	unsigned	 reserved_admin_clients; /* slots only root/admin_uids may take */
	unsigned	 max_inflight;		/* max_inflight, per connection */
	unsigned	 idle_timeout_ms;	/* idle_timeout: partial message */

	/* Upstream. */
	char		*base_url;		/* base_url */
	char		*token_file;		/* token_file */
	char		*ca_file;		/* ca_file */
	int		 allow_insecure_http;	/* allow_insecure_http */
	int		 http2;			/* http2 */
	unsigned	 upstream_max_connections; /* upstream_max_connections */
	unsigned	 connect_timeout_ms;	/* connect_timeout */
	unsigned	 request_timeout_ms;	/* request_timeout */

	/* Lock authority. */
	int		 backend;		/* backend: CONFIG_BACKEND_* */
	char		*state_dir;		/* state_dir: the local backend's log */
	unsigned	 max_names;		/* max_names: local name table */
	unsigned	 max_names_per_uid;	/* max_names_per_uid */

	/* Leases. */
	unsigned	 max_hold_ms;		/* max_hold: detached leases */
	unsigned	 session_ttl_ms;	/* session_ttl: upstream session */

	unsigned	 max_leases_per_client;	/* max_leases_per_client */
	unsigned	 max_leases_per_uid;	/* max_leases_per_uid */

	/* Access. */
	uid_t		 admin_uids[CONFIG_MAX_UIDS];	/* admin_uids, comma list */
	unsigned	 n_admin_uids;
	uid_t		 allow_uids[CONFIG_MAX_UIDS];	/* allow_uids */
	unsigned	 n_allow_uids;
	gid_t		 allow_gids[CONFIG_MAX_UIDS];	/* allow_gids */
	unsigned	 n_allow_gids;
	struct config_rule rules[CONFIG_MAX_RULES];	/* [uid:N] / [gid:N] prefixes */
	unsigned	 n_rules;
};

/* reserved_admin_clients when not set; kept below max_clients. */
#define CONFIG_RESERVED_ADMIN_DEFAULT	8

/* Built-in defaults. */
void config_defaults(struct config *cfg);

/* Overrides from the environment: OCTOSTORED_SOCKET, OCTOSTORE_BASE_URL. */
void config_apply_env(struct config *cfg);

/* Set one key from its text value (file, or a command-line flag); NULL or an error
 * message naming what is wrong. */
const char *config_set(struct config *cfg, const char *key, const char *value);

/*
 * Parse path into cfg.  Unknown keys, bad values and sections are errors; the first
 * error is written to err as "file:line: message".  Returns 0 or -1.
 */
int config_load(struct config *cfg, const char *path, char *err, size_t errlen);

/* Free strings owned by cfg. */
void config_free(struct config *cfg);

/* Parse "500ms", "5s", "2m" or "5" (seconds) into milliseconds; -1 on error. */
int config_parse_duration(const char *s, unsigned *ms);

/* Parse a log level name; -1 on error. */
int config_parse_log_level(const char *s, enum log_level *lvl);

#endif
