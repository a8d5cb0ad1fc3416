/* access.c - peer admission by uid/gid and per-peer lock name prefixes. */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <stdlib.h>
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

static int
access_gid_cmp(const void *a, const void *b)
{
	gid_t x = *(const gid_t *)a, y = *(const gid_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Supplementary groups of the peer, as they were at connect time.  SO_PEERGROUPS sees
 * the groups the process really has (a container's --group-add too), which the group
 * database does not.  When the buffer is too small the kernel fails with ERANGE and
 * sets len to the size it needs: grow and ask again.
 */
int
access_read_groups(int fd, struct access_peer *p)
{
	socklen_t	 cap = ACCESS_GROUPS_FIRST * sizeof(gid_t), len;
	gid_t		*g = NULL, *ng;
	int		 tries, e;

	p->groups = NULL;
	p->ngroups = 0;
	for (tries = 0; tries < 4; tries++) {
		if ((ng = realloc(g, cap)) == NULL) {
			e = ENOMEM;
			goto fail;
		}
		g = ng;
		len = cap;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) == 0) {
			p->groups = g;
			p->ngroups = (int)(len / sizeof(gid_t));
			qsort(g, (size_t)p->ngroups, sizeof(gid_t), access_gid_cmp);
			return 0;
		}
		e = errno;
		if (e != ERANGE || len <= cap)
			goto fail;
		cap = len;
	}
	e = ERANGE;
fail:
	free(g);
	errno = e;
	return -1;
}

/* Free the group list. */
void
access_peer_clear(struct access_peer *p)
{
	free(p->groups);
	p->groups = NULL;
	p->ngroups = 0;
}

/* Is gid the peer's primary or one of its supplementary groups? */
static int
access_in_group(const struct access_peer *p, gid_t gid)
{
	if (p->gid == gid)
		return 1;
	return p->ngroups > 0 && bsearch(&gid, p->groups, (size_t)p->ngroups,
	    sizeof(gid_t), access_gid_cmp) != NULL;
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

/*
 * "." and ".." components read as paths to people (team-b/../team-a/x looks like
 * team-a/x) while the server takes names literally: refuse them so that what a policy
 * says and what a name looks like never differ.
 */
int
access_name_check(const char *name, size_t len, const char **why)
{
	size_t i = 0, j;

	while (i <= len) {
		for (j = i; j < len && name[j] != '/'; j++)
			;
		if ((j - i == 1 && name[i] == '.') ||
		    (j - i == 2 && name[i] == '.' && name[i + 1] == '.')) {
			*why = "lock name components cannot be \".\" or \"..\"";
			return -1;
		}
		i = j + 1;
	}
	return 0;
}
