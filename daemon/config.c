/* config.c - octostored.conf parsing (inih), defaults and environment overrides. */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "config.h"
#include "octo_proto.h"

/* Defaults; systemd/octostored.conf documents each. */
void
config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->socket_path = strdup(OCTO_DEFAULT_SOCKET);
	cfg->socket_mode = 0660;
	cfg->log_level = LOG_LEVEL_INFO;
	cfg->max_message_size = OCTO_MAX_MSG_DEFAULT;
	cfg->max_clients = 1024;
	cfg->reserved_admin_clients = CONFIG_RESERVED_ADMIN_DEFAULT;
	cfg->max_inflight = 64;
	cfg->idle_timeout_ms = 30 * 1000;
	cfg->base_url = strdup("https://api.octostore.io");
	cfg->upstream_max_connections = 8;
	cfg->connect_timeout_ms = 5 * 1000;
	cfg->request_timeout_ms = 10 * 1000;
	cfg->max_hold_ms = 3600 * 1000;
	cfg->max_leases_per_client = 1000;
	cfg->max_leases_per_uid = 10000;
	cfg->max_names = 100000;
	cfg->max_names_per_uid = 10000;
	cfg->session_ttl_ms = 60 * 1000;
	cfg->backend = CONFIG_BACKEND_REMOTE;
	/* systemd's StateDirectory= says where; else the build's default. */
	cfg->state_dir = strdup(getenv("STATE_DIRECTORY") != NULL &&
	    *getenv("STATE_DIRECTORY") == '/' ? getenv("STATE_DIRECTORY") :
	    CONFIG_DEFAULT_STATE_DIR);
}

/* Replace an owned string. */
static void
set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = (v != NULL && *v != '\0') ? strdup(v) : NULL;
}

/* Environment overrides, between the file and the command line. */
void
config_apply_env(struct config *cfg)
{
	const char *v;

	if ((v = getenv(OCTO_SOCKET_ENV)) != NULL && *v != '\0')
		set_str(&cfg->socket_path, v);
	if ((v = getenv("OCTOSTORE_BASE_URL")) != NULL && *v != '\0')
		set_str(&cfg->base_url, v);
}

/* Free owned strings. */
void
config_free(struct config *cfg)
{
	unsigned i, j;

	free(cfg->config_file);
	free(cfg->socket_path);
	free(cfg->socket_group);
	free(cfg->base_url);
	free(cfg->token_file);
	free(cfg->ca_file);
	free(cfg->state_dir);
	for (i = 0; i < cfg->n_rules; i++)
		for (j = 0; j < cfg->rules[i].n_prefixes; j++)
			free(cfg->rules[i].prefixes[j]);
	memset(cfg, 0, sizeof(*cfg));
}

/* Parse a duration with optional unit: ms, s (default), m. */
int
config_parse_duration(const char *s, unsigned *ms)
{
	char		*end;
	unsigned long	 v, mul = 1000;

	errno = 0;
	if (*s < '0' || *s > '9')
		return -1;
	v = strtoul(s, &end, 10);
	if (errno != 0)
		return -1;
	if (strcmp(end, "ms") == 0)
		mul = 1;
	else if (strcmp(end, "s") == 0 || *end == '\0')
		mul = 1000;
	else if (strcmp(end, "m") == 0)
		mul = 60 * 1000;
	else
		return -1;
	if (v > UINT_MAX / mul)
		return -1;
	*ms = (unsigned)(v * mul);
	return 0;
}

/* Parse a log level name. */
int
config_parse_log_level(const char *s, enum log_level *lvl)
{
	static const char *const names[] = { "error", "warn", "info", "debug", "trace" };
	unsigned i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(s, names[i]) == 0) {
			*lvl = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

/* Unsigned integer in [min, max]. */
static int
parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	if (*s < '0' || *s > '9')
		return -1;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* true/false, yes/no, on/off, 1/0. */
static int
parse_bool(const char *s, int *out)
{
	if (strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0 ||
	    strcasecmp(s, "on") == 0 || strcmp(s, "1") == 0)
		*out = 1;
	else if (strcasecmp(s, "false") == 0 || strcasecmp(s, "no") == 0 ||
	    strcasecmp(s, "off") == 0 || strcmp(s, "0") == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

/* Comma-separated numeric uids. */
static int
parse_uids(const char *s, uid_t *uids, unsigned *n)
{
	char		 buf[512], *tok, *save = NULL;
	unsigned long	 v;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	*n = 0;
	for (tok = strtok_r(buf, ", \t", &save); tok != NULL;
	    tok = strtok_r(NULL, ", \t", &save)) {
		if (*n >= CONFIG_MAX_UIDS || parse_uint(tok, 0, UINT_MAX - 1, &v) != 0)
			return -1;
		uids[(*n)++] = (uid_t)v;
	}
	return 0;
}

/*
 * socket_group: a group name or a numeric gid (a gid need not have a name, as in a
 * container's mapping).  A name is looked up now, so that a missing group is an error
 * at start-up (and at reload) rather than at the first connection.
 */
static const char *
config_set_group(struct config *cfg, const char *v)
{
	static char	 why[160];
	struct group	*gr;
	unsigned long	 n;

	if (*v == '\0') {
		set_str(&cfg->socket_group, NULL);
		return NULL;
	}
	if (parse_uint(v, 0, UINT_MAX - 1, &n) == 0)
		cfg->socket_gid = (gid_t)n;
	else {
		if ((gr = getgrnam(v)) == NULL) {
			snprintf(why, sizeof(why), "no such group: %.100s", v);
			return why;
		}
		cfg->socket_gid = gr->gr_gid;
	}
	set_str(&cfg->socket_group, v);
	return NULL;
}

/* Set one key; returns NULL or what is wrong. */
const char *
config_set(struct config *cfg, const char *key, const char *v)
{
	unsigned long	 n;
	char		*end;

#define DURATION(k, field) \
	if (strcmp(key, k) == 0) \
		return config_parse_duration(v, &cfg->field) == 0 ? NULL : \
		    "expected a duration such as 500ms, 5s or 2m"
#define UINT(k, field, lo, hi, what) \
	if (strcmp(key, k) == 0) { \
		if (parse_uint(v, lo, hi, &n) != 0) \
			return what; \
		cfg->field = n; \
		return NULL; \
	}
#define BOOL(k, field) \
	if (strcmp(key, k) == 0) \
		return parse_bool(v, &cfg->field) == 0 ? NULL : "expected true or false"
#define STR(k, field) \
	if (strcmp(key, k) == 0) { \
		set_str(&cfg->field, v); \
		return NULL; \
	}

	if (strcmp(key, "socket") == 0) {
		if (*v != '/')
			return "expected an absolute path";
		set_str(&cfg->socket_path, v);
		return NULL;
	}
	if (strcmp(key, "socket_mode") == 0) {
		errno = 0;
		n = strtoul(v, &end, 8);
		if (errno != 0 || *v == '\0' || *end != '\0' || n > 0777)
			return "expected an octal mode such as 0660";
		cfg->socket_mode = (mode_t)n;
		return NULL;
	}
	if (strcmp(key, "socket_group") == 0)
		return config_set_group(cfg, v);
	if (strcmp(key, "backend") == 0) {
		if (strcmp(v, "remote") == 0)
			cfg->backend = CONFIG_BACKEND_REMOTE;
		else if (strcmp(v, "local") == 0)
			cfg->backend = CONFIG_BACKEND_LOCAL;
		else
			return "expected remote or local";
		return NULL;
	}
	if (strcmp(key, "state_dir") == 0) {
		if (*v != '/')
			return "expected an absolute path";
		set_str(&cfg->state_dir, v);
		return NULL;
	}
	if (strcmp(key, "log_level") == 0)
		return config_parse_log_level(v, &cfg->log_level) == 0 ? NULL :
		    "expected error, warn, info, debug or trace";
	UINT("max_message_size", max_message_size, 1024, OCTO_MAX_MSG_CEILING,
	    "expected bytes from 1024 to 16777216");
	UINT("max_clients", max_clients, 1, 1000000, "expected a number from 1 to 1000000");
	UINT("max_clients_per_uid", max_clients_per_uid, 1, 1000000,
	    "expected a number from 1 to 1000000");
	UINT("reserved_admin_clients", reserved_admin_clients, 0, 1000000,
	    "expected a number from 0 to 1000000");
	UINT("max_inflight", max_inflight, 1, 65536, "expected a number from 1 to 65536");
	DURATION("idle_timeout", idle_timeout_ms);
	STR("base_url", base_url);
	STR("token_file", token_file);
	STR("ca_file", ca_file);
	BOOL("allow_insecure_http", allow_insecure_http);
	BOOL("http2", http2);
	UINT("upstream_max_connections", upstream_max_connections, 1, 1024,
	    "expected a number from 1 to 1024");
	DURATION("connect_timeout", connect_timeout_ms);
	DURATION("request_timeout", request_timeout_ms);
	DURATION("max_hold", max_hold_ms);
	DURATION("session_ttl", session_ttl_ms);
	UINT("max_leases_per_client", max_leases_per_client, 1, 1000000,
	    "expected a number from 1 to 1000000");
	UINT("max_leases_per_uid", max_leases_per_uid, 1, 1000000,
	    "expected a number from 1 to 1000000");
	UINT("max_names", max_names, 1, 100000000, "expected a number from 1 to 100000000");
	UINT("max_names_per_uid", max_names_per_uid, 1, 100000000,
	    "expected a number from 1 to 100000000");
	if (strcmp(key, "allow_uids") == 0)
		return parse_uids(v, cfg->allow_uids, &cfg->n_allow_uids) == 0 ? NULL :
		    "expected a comma-separated list of numeric uids";
	if (strcmp(key, "allow_gids") == 0)
		return parse_uids(v, cfg->allow_gids, &cfg->n_allow_gids) == 0 ? NULL :
		    "expected a comma-separated list of numeric gids";
	if (strcmp(key, "admin_uids") == 0)
		return parse_uids(v, cfg->admin_uids, &cfg->n_admin_uids) == 0 ? NULL :
		    "expected a comma-separated list of numeric uids";
	return "unknown key";
#undef DURATION
#undef UINT
#undef BOOL
#undef STR
}

/*
 * A key inside [uid:N] or [gid:N]: "prefixes = ci/, build/" limits those peers to
 * names starting with one of the prefixes.
 */
static const char *
config_set_rule(struct config *cfg, const char *section, const char *key,
    const char *v)
{
	struct config_rule	*rule = NULL;
	unsigned long		 id;
	char			 buf[1024], *tok, *save = NULL;
	int			 is_gid;
	unsigned		 i;

	if (strncmp(section, "uid:", 4) == 0)
		is_gid = 0;
	else if (strncmp(section, "gid:", 4) == 0)
		is_gid = 1;
	else
		return "unknown section: expected [uid:N] or [gid:N]";
	if (parse_uint(section + 4, 0, UINT_MAX - 1, &id) != 0)
		return "section: expected a numeric uid or gid";
	if (strcmp(key, "prefixes") != 0)
		return "unknown key in a [uid:N] or [gid:N] section";
	for (i = 0; i < cfg->n_rules; i++)
		if (cfg->rules[i].is_gid == is_gid && cfg->rules[i].id == id)
			rule = &cfg->rules[i];
	if (rule == NULL) {
		if (cfg->n_rules == CONFIG_MAX_RULES)
			return "too many [uid:N] and [gid:N] sections";
		rule = &cfg->rules[cfg->n_rules++];
		rule->is_gid = is_gid;
		rule->id = (unsigned)id;
	}
	if (strlen(v) >= sizeof(buf))
		return "prefixes: list too long";
	strcpy(buf, v);
	for (tok = strtok_r(buf, ", \t", &save); tok != NULL;
	    tok = strtok_r(NULL, ", \t", &save)) {
		if (rule->n_prefixes == CONFIG_MAX_PREFIXES)
			return "prefixes: at most 16";
		/* "team-a" would also match team-ab/...: say which is meant. */
		if (tok[strlen(tok) - 1] != '/')
			return "each entry must end with '/' (team-a/, not team-a)";
		if ((rule->prefixes[rule->n_prefixes] = strdup(tok)) == NULL)
			return "out of memory";
		rule->n_prefixes++;
	}
	return NULL;
}

struct load_state {
	struct config	*cfg;
	char		 msg[256];
};

/* inih callback: returns 0 on error, which inih reports with the line number. */
static int
config_handler(void *user, const char *section, const char *name, const char *value)
{
	struct load_state *st = user;
	const char *why;

	if (section != NULL && *section != '\0')
		why = config_set_rule(st->cfg, section, name, value);
	else
		why = config_set(st->cfg, name, value);
	if (why == NULL)
		return 1;
	if (st->msg[0] == '\0')
		snprintf(st->msg, sizeof(st->msg), "%s: %s", name, why);
	return 0;
}

/* Parse path into cfg; first error as "file:line: message". */
int
config_load(struct config *cfg, const char *path, char *err, size_t errlen)
{
	struct load_state	st = { .cfg = cfg };
	int			line;

	line = ini_parse(path, config_handler, &st);
	if (line == 0)
		return 0;
	if (line == -1)
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	else if (line == -2)
		snprintf(err, errlen, "%s: out of memory", path);
	else if (st.msg[0] != '\0')
		snprintf(err, errlen, "%s:%d: %s", path, line, st.msg);
	else
		snprintf(err, errlen, "%s:%d: syntax error", path, line);
	return -1;
}
