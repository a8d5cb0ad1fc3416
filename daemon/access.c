/* access.c - peer admission by uid/gid and per-peer lock name prefixes. */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <string.h>
#include <unistd.h>

#include "access.h"
#include "config.h"
#include "log.h"

static const struct config	*access_cfg;
static gid_t			 access_sock_gid = (gid_t)-1;

/*
 * Remember the configuration and the group whose members may connect: socket_group
 * when set (also for an activated socket whose file has another group), else the
 * socket file's group, read now.  Called again at each reload.
 */
void
access_init(const struct config *cfg, int listen_fd)
{
	struct sockaddr_un	sun;
	socklen_t		len = sizeof(sun);
	struct stat		st;

	access_cfg = cfg;
	access_sock_gid = (gid_t)-1;
	if (cfg->socket_group != NULL) {
		access_sock_gid = cfg->socket_gid;
		return;
	}
	memset(&sun, 0, sizeof(sun));
	if (getsockname(listen_fd, (struct sockaddr *)&sun, &len) == 0 &&
	    sun.sun_path[0] == '/' && stat(sun.sun_path, &st) == 0)
		access_sock_gid = st.st_gid;
	else
		log_warn("cannot tell the socket file's group; only root, uid %u and "
		    "allow_uids/allow_gids may connect", (unsigned)geteuid());
}

/* Supplementary groups of the peer, as they were at connect time. */
void
access_read_groups(int fd, struct access_peer *p)
{
	socklen_t len = sizeof(p->groups);

	p->ngroups = 0;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, p->groups, &len) == 0)
		p->ngroups = (int)(len / sizeof(gid_t));
}

/* Is gid the peer's primary or one of its supplementary groups? */
static int
access_in_group(const struct access_peer *p, gid_t gid)
{
	int i;

	if (p->gid == gid)
		return 1;
	for (i = 0; i < p->ngroups; i++)
		if (p->groups[i] == gid)
			return 1;
	return 0;
}

/* Admission. */
int
access_peer_allowed(const struct access_peer *p)
{
	const struct config	*cfg = access_cfg;
	unsigned		 i;

	if (p->uid == 0 || p->uid == geteuid())
		return 1;
	if (cfg->n_allow_uids == 0 && cfg->n_allow_gids == 0)
		return access_sock_gid != (gid_t)-1 && access_in_group(p, access_sock_gid);
	for (i = 0; i < cfg->n_allow_uids; i++)
		if (cfg->allow_uids[i] == p->uid)
			return 1;
	for (i = 0; i < cfg->n_allow_gids; i++)
		if (access_in_group(p, cfg->allow_gids[i]))
			return 1;
	return 0;
}

/* Does rule apply to the peer? */
static int
access_rule_applies(const struct config_rule *rule, const struct access_peer *p)
{
	return rule->is_gid ? access_in_group(p, rule->id) : rule->id == p->uid;
}

/* Restricted by a section? */
int
access_restricted(const struct access_peer *p)
{
	unsigned i;

	for (i = 0; i < access_cfg->n_rules; i++)
		if (access_rule_applies(&access_cfg->rules[i], p))
			return 1;
	return 0;
}

/*
 * A name (or a list prefix) is allowed when it starts with one of the prefixes of
 * any section that applies to the peer.  Unrestricted peers may use every name.
 */
int
access_name_allowed(const struct access_peer *p, const char *name)
{
	const struct config_rule	*rule;
	unsigned			 i, j;
	int				 restricted = 0;

	for (i = 0; i < access_cfg->n_rules; i++) {
		rule = &access_cfg->rules[i];
		if (!access_rule_applies(rule, p))
			continue;
		restricted = 1;
		for (j = 0; j < rule->n_prefixes; j++) {
			size_t n = strlen(rule->prefixes[j]);

			if (strncmp(name, rule->prefixes[j], n) == 0)
				return 1;
		}
	}
	return !restricted;
}
