/* check_token.c - unit tests for daemon/token.c: sources, file checks, reload, rotation (issue 3). */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "config.h"
#include "log.h"
#include "token.h"

static char	dir[PATH_MAX - 64];	/* room for the names appended */
static char	path[PATH_MAX];
static char	logpath[PATH_MAX];
static char	err[1024];

/* Fixture: a fresh directory, no token variables, log lines captured in a file. */
static void
setup(void)
{
	int	fd;

	snprintf(dir, sizeof(dir), "%s/check_token.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/token", dir);
	snprintf(logpath, sizeof(logpath), "%s/log", dir);
	unsetenv("OCTOSTORE_TOKEN");
	unsetenv("CREDENTIALS_DIRECTORY");
	fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	dup2(fd, 2);
	close(fd);
	log_init(LOG_LEVEL_TRACE, 0);
	err[0] = '\0';
}

/* Fixture: remove the directory (tests run forked: state dies with them). */
static void
teardown(void)
{
	char	cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Write content to file p with mode. */
static void
put(const char *p, const char *content, mode_t mode)
{
	FILE	*f;

	unlink(p);
	f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs(content, f);
	fclose(f);
	ck_assert_int_eq(chmod(p, mode), 0);
}

/* Read file p into a static buffer. */
static const char *
slurp(const char *p)
{
	static char	buf[8192];
	FILE		*f = fopen(p, "r");
	size_t		 n;

	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* True if secret appears in the captured log. */
static int
logged(const char *secret)
{
	fflush(stderr);
	return strstr(slurp(logpath), secret) != NULL;
}

/* Load with token_file set to p (or none). */
static int
load(const char *p)
{
	struct config	cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.token_file = (char *)p;
	return token_load(&cfg, err, sizeof(err));
}

/* The loaded token must equal want. */
static void
expect_token(const char *want)
{
	const char	*t;
	size_t		 len = 0;

	t = token_get(&len);
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(len, strlen(want));
	ck_assert_mem_eq(t, want, len);
}

START_TEST(test_file)
{
	put(path, "tok-file-AAA\r\n", 0600);
	ck_assert_int_eq(load(path), 0);
	expect_token("tok-file-AAA");
	ck_assert_str_eq(token_source(), "file");
	ck_assert(!logged("tok-file-AAA"));
	token_wipe();
	ck_assert_ptr_null(token_get(NULL));
}
END_TEST

START_TEST(test_file_mode)
{
	static const mode_t modes[] = { 0640, 0604, 0644, 0620, 0660 };
	size_t	i;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		put(path, "tok-loose-BBB\n", modes[i]);
		ck_assert_int_eq(load(path), -1);
		ck_assert_msg(strstr(err, "group or others") != NULL, "%s", err);
		ck_assert(strstr(err, "tok-loose-BBB") == NULL);
		ck_assert_ptr_null(token_get(NULL));
	}
	put(path, "tok-strict\n", 0400);
	ck_assert_int_eq(load(path), 0);
	expect_token("tok-strict");
}
END_TEST

START_TEST(test_file_bad)
{
	char	big[5000];

	ck_assert_int_eq(load(path), -1);			/* missing */
	ck_assert_ptr_nonnull(strstr(err, path));
	put(path, "\n\n", 0600);
	ck_assert_int_eq(load(path), -1);
	ck_assert_ptr_nonnull(strstr(err, "empty"));
	put(path, "tok with space\n", 0600);
	ck_assert_int_eq(load(path), -1);
	ck_assert(strstr(err, "tok with space") == NULL);
	put(path, "tok\nX-Injected: 1\n", 0600);
	ck_assert_int_eq(load(path), -1);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	put(path, big, 0600);
	ck_assert_int_eq(load(path), -1);
	ck_assert_ptr_null(token_get(NULL));
	unlink(path);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(load(path), -1);
	ck_assert_ptr_nonnull(strstr(err, "not a regular file"));
}
END_TEST

START_TEST(test_sources)
{
	char	cred[PATH_MAX];

	/* Nothing configured: not an error, but no token. */
	ck_assert_int_eq(load(NULL), 0);
	ck_assert_ptr_null(token_get(NULL));
	ck_assert_str_eq(token_source(), "none");

	/* The environment: used, then wiped. */
	setenv("OCTOSTORE_TOKEN", "tok-env-CCC", 1);
	ck_assert_int_eq(load(NULL), 0);
	expect_token("tok-env-CCC");
	ck_assert_str_eq(token_source(), "environment");
	ck_assert_ptr_null(getenv("OCTOSTORE_TOKEN"));
	ck_assert(logged("safer"));
	ck_assert(!logged("tok-env-CCC"));

	/* A credential beats the environment, and the environment is wiped anyway. */
	snprintf(cred, sizeof(cred), "%s/token", dir);
	put(cred, "tok-cred-DDD\n", 0400);
	setenv("CREDENTIALS_DIRECTORY", dir, 1);
	setenv("OCTOSTORE_TOKEN", "tok-env-EEE", 1);
	ck_assert_int_eq(load(NULL), 0);
	expect_token("tok-cred-DDD");
	ck_assert_str_eq(token_source(), "credential");
	ck_assert_ptr_null(getenv("OCTOSTORE_TOKEN"));

	/* token_file beats both. */
	snprintf(path, sizeof(path), "%s/other", dir);
	put(path, "tok-file-FFF\n", 0600);
	setenv("OCTOSTORE_TOKEN", "tok-env-GGG", 1);
	ck_assert_int_eq(load(path), 0);
	expect_token("tok-file-FFF");
	ck_assert_ptr_null(getenv("OCTOSTORE_TOKEN"));
}
END_TEST

START_TEST(test_reload)
{
	put(path, "tok-one\n", 0600);
	ck_assert_int_eq(load(path), 0);
	put(path, "tok-two\n", 0600);
	ck_assert_int_eq(token_reload(), 0);
	expect_token("tok-two");
	/* A broken file keeps the current token. */
	put(path, "tok-three\n", 0644);
	ck_assert_int_eq(token_reload(), -1);
	expect_token("tok-two");
	ck_assert(!logged("tok-three"));
}
END_TEST

/* A FIFO at the token path is refused at once, at load and on reload (#3). */
START_TEST(test_file_fifo)
{
	char	link[PATH_MAX];

	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(load(path), -1);	/* blocked in open() before the fix */
	ck_assert_msg(strstr(err, "not a regular file (a FIFO)") != NULL, "%s", err);
	ck_assert_ptr_null(token_get(NULL));

	/* Through a symlink (followed, as ever) too. */
	snprintf(link, sizeof(link), "%s/link", dir);
	ck_assert_int_eq(symlink("token", link), 0);
	ck_assert_int_eq(load(link), -1);
	ck_assert_ptr_nonnull(strstr(err, "a FIFO"));

	/* SIGHUP: the current token stays. */
	unlink(path);
	put(path, "tok-fifo-OOO\n", 0600);
	ck_assert_int_eq(load(path), 0);
	unlink(path);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(token_reload(), -1);
	expect_token("tok-fifo-OOO");
	ck_assert(logged("a FIFO"));
}
END_TEST

/* Count leftover temporary files in dir. */
static int
leftovers(void)
{
	struct dirent	*de;
	DIR		*d = opendir(dir);
	int		 n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, ".token.", 7) == 0)
			n++;
	closedir(d);
	return n;
}

START_TEST(test_replace_file)
{
	struct stat	st;
	int		persisted = -1;

	put(path, "tok-old\n", 0600);
	ck_assert_int_eq(load(path), 0);
	ck_assert_int_eq(token_replace("tok-new-HHH", 11, &persisted), 0);
	ck_assert_int_eq(persisted, 1);
	expect_token("tok-new-HHH");
	ck_assert_str_eq(slurp(path), "tok-new-HHH\n");
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(leftovers(), 0);
	ck_assert(!logged("tok-new-HHH"));

	/* Not a usable token: refused, nothing changes. */
	ck_assert_int_eq(token_replace("bad tok", 7, &persisted), -1);
	expect_token("tok-new-HHH");
	ck_assert_str_eq(slurp(path), "tok-new-HHH\n");
}
END_TEST

START_TEST(test_replace_symlink)
{
	char		real[PATH_MAX];
	struct stat	st;
	int		persisted;

	snprintf(real, sizeof(real), "%s/real-token", dir);
	put(real, "tok-old\n", 0600);
	ck_assert_int_eq(symlink("real-token", path), 0);
	ck_assert_int_eq(load(path), 0);
	ck_assert_int_eq(token_replace("tok-new-III", 11, &persisted), 0);
	ck_assert_int_eq(persisted, 1);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	ck_assert_str_eq(slurp(real), "tok-new-III\n");
	ck_assert_int_eq(leftovers(), 0);
}
END_TEST

START_TEST(test_replace_not_file)
{
	char	cred[PATH_MAX];
	int	persisted = -1;

	setenv("OCTOSTORE_TOKEN", "tok-env-JJJ", 1);
	ck_assert_int_eq(load(NULL), 0);
	ck_assert_int_eq(token_replace("tok-new-KKK", 11, &persisted), 0);
	ck_assert_int_eq(persisted, 0);
	expect_token("tok-new-KKK");

	/* A credential is never rewritten. */
	snprintf(cred, sizeof(cred), "%s/token", dir);
	put(cred, "tok-cred\n", 0400);
	setenv("CREDENTIALS_DIRECTORY", dir, 1);
	ck_assert_int_eq(load(NULL), 0);
	ck_assert_int_eq(token_replace("tok-new-LLL", 11, &persisted), 0);
	ck_assert_int_eq(persisted, 0);
	ck_assert_str_eq(slurp(cred), "tok-cred\n");
	expect_token("tok-new-LLL");
}
END_TEST

/*
 * SIGHUP after a rotation kept in memory only (a credential is never rewritten): the
 * file still holds the revoked token, so the rotated one stays until the file changes.
 */
START_TEST(test_reload_after_memory_rotation)
{
	char	cred[PATH_MAX];
	int	persisted = -1;

	snprintf(cred, sizeof(cred), "%s/token", dir);
	put(cred, "tok-cred-revoked\n", 0400);
	setenv("CREDENTIALS_DIRECTORY", dir, 1);
	ck_assert_int_eq(load(NULL), 0);
	ck_assert_int_eq(token_replace("tok-rot-NNN", 11, &persisted), 0);
	ck_assert_int_eq(persisted, 0);
	ck_assert_int_eq(token_reload(), 0);
	expect_token("tok-rot-NNN");
	ck_assert(logged("keeping the rotated token"));
	ck_assert_int_eq(token_reload(), 0);
	expect_token("tok-rot-NNN");

	/* A new file put there since (systemd restarts, an operator) is taken. */
	put(cred, "tok-cred-newer\n", 0400);
	ck_assert_int_eq(token_reload(), 0);
	expect_token("tok-cred-newer");
	ck_assert(logged("changed since a rotation"));
	ck_assert(!logged("tok-rot-NNN"));
	ck_assert(!logged("tok-cred-newer"));

	/* Once taken, a reload is an ordinary re-read again. */
	put(cred, "tok-cred-third\n", 0400);
	ck_assert_int_eq(token_reload(), 0);
	expect_token("tok-cred-third");
}
END_TEST

/* What test_replace_readonly checks, step by step; failures by step number. */
static const char *const readonly_steps[] = {
	"ok", "load", "chmod 0500", "token_replace", "persisted is 0",
	"the new token in memory", "the file unchanged", "reload keeps the rotated token",
	"drop to uid 65534"
};

/* The token in memory is want; no check.h asserts (runs in a child). */
static int
token_is(const char *want)
{
	const char	*t;
	size_t		 len = 0;

	t = token_get(&len);
	return t != NULL && len == strlen(want) && memcmp(t, want, len) == 0;
}

/* Rotate with the directory read-only; 0, or the number of the step that failed. */
static int
readonly_body(void)
{
	char	buf[64];
	FILE	*f;
	size_t	n;
	int	persisted = -1, rc;

	if (load(path) != 0)
		return 1;
	if (chmod(dir, 0500) != 0)
		return 2;
	rc = token_replace("tok-new-MMM", 11, &persisted);
	chmod(dir, 0700);
	if (rc != 0)
		return 3;
	if (persisted != 0)
		return 4;
	if (!token_is("tok-new-MMM"))
		return 5;
	if ((f = fopen(path, "r")) == NULL)
		return 6;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (strcmp(buf, "tok-old\n") != 0)
		return 6;
	/* The file still holds the revoked token: SIGHUP must not bring it back. */
	if (token_reload() != 0 || !token_is("tok-new-MMM"))
		return 7;
	return 0;
}

/*
 * Without write access to the directory the new token stays in memory.  Root writes
 * anyway, so as root the check runs in a child that drops to uid 65534, which owns
 * the directory and the file.
 */
START_TEST(test_replace_readonly)
{
	pid_t	pid;
	int	status, step;

	put(path, "tok-old\n", 0600);
	if (geteuid() != 0) {
		step = readonly_body();
		ck_assert_msg(step == 0, "step failed: %s", readonly_steps[step]);
		return;
	}
	ck_assert_int_eq(chown(dir, 65534, 65534), 0);
	ck_assert_int_eq(chown(path, 65534, 65534), 0);
	fflush(stderr);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0 ||
		    geteuid() != 65534)
			_exit(8);
		step = readonly_body();
		fflush(stderr);
		_exit(step);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "the uid 65534 child died (status %d)", status);
	step = WEXITSTATUS(status);
	if (step == 8) {
		/* No way to drop privileges here (a restricted container): say so. */
		fprintf(stdout, "check_token: test_replace_readonly skipped: cannot drop "
		    "to uid 65534\n");
		return;
	}
	ck_assert_msg(step == 0, "as uid 65534, step failed: %s",
	    step < 8 ? readonly_steps[step] : "?");
	ck_assert(!logged("tok-new-MMM"));
}
END_TEST

static Suite *
token_suite(void)
{
	Suite	*s = suite_create("token");
	TCase	*tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_file);
	tcase_add_test(tc, test_file_mode);
	tcase_add_test(tc, test_file_bad);
	tcase_add_test(tc, test_sources);
	tcase_add_test(tc, test_reload);
	tcase_add_test(tc, test_file_fifo);
	tcase_add_test(tc, test_replace_file);
	tcase_add_test(tc, test_replace_symlink);
	tcase_add_test(tc, test_replace_not_file);
	tcase_add_test(tc, test_replace_readonly);
	tcase_add_test(tc, test_reload_after_memory_rotation);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(token_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
