/* sandboxd: the SSH host students log in to. Parses options, checks the configuration, then
 * either serves one connection on stdin/stdout (-i) or listens. */
#include "config.h"

#include "common/audit.h"
#include "common/cleanup.h"
#include "common/config_file.h"
#include "common/log.h"
#include "common/policy.h"
#include "common/sanitizer.h"
#include "jail/cgroup.h"
#include "jail/jail.h"
#include "sshd-module/hostkeys.h"
#include "sshd-module/inetd_relay.h"
#include "sshd-module/listener.h"
#include "sshd-module/monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#define MAX_OPTIONS 64
#define CGROUP_MOUNT_ROOT "/sys/fs/cgroup"
#define CGROUP_BASE "sandboxd"

static void usage(FILE *out)
{
	fprintf(out, "usage: sandboxd [-f FILE] [-D] [-d] [-i] [-t | -T] [-p PORT] [-E LOGFILE] "
		     "[-o Keyword=Value]\n");
}

static void log_to_journal(int priority, const char *line)
{
	sd_journal_print(priority, "%s", line);
}

static FILE *log_file;
static void log_to_file(int priority, const char *line)
{
	fprintf(log_file, "sandboxd[%d]: %s\n", (int)getpid(), line);
	fflush(log_file);
}

/* The network child chroots here: an empty directory only root can change. */
static int prepare_privsep(const struct sbx_config *cfg, sbx_error *err)
{
	struct passwd *pw = getpwnam(cfg->privsep_user);
	if (!pw)
		return sbx_error_set(err, ENOENT,
				     "privilege separation user %s does not exist (create it: "
				     "useradd --system --no-create-home --shell /usr/sbin/nologin %s)",
				     cfg->privsep_user, cfg->privsep_user);
	if (pw->pw_uid == 0)
		return sbx_error_set(err, EINVAL, "PrivsepUser %s must not be root",
				     cfg->privsep_user);
	if (mkdir(cfg->privsep_directory, 0755) < 0 && errno != EEXIST) {
		/* Create missing parents such as /run/sandboxd. */
		char parent[4096];
		snprintf(parent, sizeof(parent), "%s", cfg->privsep_directory);
		char *slash = strrchr(parent, '/');
		if (slash && slash != parent) {
			*slash = '\0';
			mkdir(parent, 0755);
		}
		if (mkdir(cfg->privsep_directory, 0755) < 0 && errno != EEXIST)
			return sbx_error_errno(err, errno, "cannot create %s",
					       cfg->privsep_directory);
	}
	struct stat st;
	if (lstat(cfg->privsep_directory, &st) < 0)
		return sbx_error_errno(err, errno, "%s", cfg->privsep_directory);
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022))
		return sbx_error_set(err, EPERM,
				     "PrivsepDirectory %s must be a directory owned by root and "
				     "writable by nobody else",
				     cfg->privsep_directory);
	return 0;
}

static int serve_inetd(const struct sbx_config *cfg, const struct sandbox_runtime *runtime,
		       const struct hostkeys *keys)
{
	struct connection conn = {.fd = -1, .startup_fd = -1};
	struct stat st;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (fstat(0, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    getpeername(0, (struct sockaddr *)&ss, &len) == 0) {
		conn.fd = fcntl(0, F_DUPFD_CLOEXEC, 3);
		char port[16] = "0";
		if (getnameinfo((struct sockaddr *)&ss, len, conn.remote_addr,
				sizeof(conn.remote_addr), port, sizeof(port),
				NI_NUMERICHOST | NI_NUMERICSERV) != 0)
			snprintf(conn.remote_addr, sizeof(conn.remote_addr), "UNKNOWN");
		conn.remote_port = atoi(port);
	} else {
		/* A ProxyCommand pipe pair, relayed to a socket for libssh. */
		sbx_error err = {0};
		conn.fd = inetd_relay_start(fcntl(0, F_DUPFD_CLOEXEC, 3), fcntl(1, F_DUPFD_CLOEXEC, 3),
					    cfg->privsep_user, &err);
		if (conn.fd < 0) {
			log_error("%s", err.msg);
			return 1;
		}
		snprintf(conn.remote_addr, sizeof(conn.remote_addr), "localhost");
	}
	/* Nothing but SSH may reach the client on stdout. */
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull >= 0) {
		dup2(devnull, 0);
		dup2(devnull, 1);
		close(devnull);
	}
	listener_new_session_id(conn.session_id, sizeof(conn.session_id));
	log_info("connection on stdin (session %s)", conn.session_id);
	char remote[96];
	snprintf(remote, sizeof(remote), "%s:%d", conn.remote_addr, conn.remote_port);
	audit_emitf(runtime->audit, AUDIT_CONNECTION_ACCEPTED, "SANDBOX_SESSION", conn.session_id,
		    "SANDBOX_REMOTE", remote, NULL);
	return monitor_run(cfg, runtime, keys, &conn);
}

static int open_audit(const struct sbx_config *cfg, struct audit **ret, sbx_error *err)
{
	bool file = strcmp(cfg->audit_file, "none") != 0;
	*ret = NULL;
	if (!file && !cfg->audit_journal)
		return 0;
	struct audit_sink_config ac = {
		.journal = cfg->audit_journal,
		.file = file ? cfg->audit_file : NULL,
		.fsync = strcmp(cfg->audit_fsync, "every") == 0   ? AUDIT_FSYNC_EVERY
			 : strcmp(cfg->audit_fsync, "never") == 0 ? AUDIT_FSYNC_NEVER
								   : AUDIT_FSYNC_BATCH,
	};
	if (file) {
		/* Create the trail's directory (root-only) on first start. */
		char dir[4096];
		snprintf(dir, sizeof(dir), "%s", cfg->audit_file);
		char *slash = strrchr(dir, '/');
		if (slash && slash != dir) {
			*slash = '\0';
			if (mkdir(dir, 0750) < 0 && errno != EEXIST)
				return sbx_error_errno(err, errno, "cannot create %s", dir);
		}
	}
	return audit_writer_open(&ac, ret, err);
}

static int write_pid_file(const char *path)
{
	_cleanup_close_ int fd =
		open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	dprintf(fd, "%d\n", (int)getpid());
	return 0;
}

/* Descriptors inherited from whoever started the daemon (a shell, a test harness, a make job
 * server) would otherwise reach every connection process: only the standard three are kept,
 * as sshd does. */
static void close_inherited_fds(void)
{
	if (syscall(SYS_close_range, 3U, ~0U, 0) == 0)
		return;
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
}

int main(int argc, char **argv)
{
	close_inherited_fds();
	const char *config_path = SANDBOXD_DEFAULT_CONFIG;
	const char *options[MAX_OPTIONS];
	size_t n_options = 0;
	bool foreground = false, debug = false, inetd = false, test_only = false, dump = false;
	const char *log_path = NULL;
	char port_option[32];
	int c;
	while ((c = getopt(argc, argv, "f:DditTp:o:E:h")) != -1) {
		switch (c) {
		case 'f':
			config_path = optarg;
			break;
		case 'D':
			foreground = true;
			break;
		case 'd':
			debug = true;
			foreground = true;
			break;
		case 'i':
			inetd = true;
			break;
		case 't':
			test_only = true;
			break;
		case 'T':
			test_only = dump = true;
			break;
		case 'p':
			snprintf(port_option, sizeof(port_option), "Port=%s", optarg);
			if (n_options < MAX_OPTIONS)
				options[n_options++] = port_option;
			break;
		case 'o':
			if (n_options >= MAX_OPTIONS) {
				fprintf(stderr, "sandboxd: too many -o options\n");
				return 1;
			}
			options[n_options++] = optarg;
			break;
		case 'E':
			log_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 1;
	}

	struct listener_params params = {
		.config_path = config_path, .options = options, .n_options = n_options};
	struct sbx_config cfg;
	sbx_error err = {0};
	if (listener_load_config(&params, &cfg, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	if (test_only) {
		int r = prepare_privsep(&cfg, &err);
		if (r == 0 && access(cfg.runner_path, X_OK) < 0)
			r = sbx_error_errno(&err, errno, "RunnerPath %s", cfg.runner_path);
		if (r == 0 && dump)
			config_dump(&cfg, stdout);
		config_free(&cfg);
		if (r < 0) {
			fprintf(stderr, "%s: %s\n", config_path, err.msg);
			return 1;
		}
		return 0;
	}

	log_setup("sandboxd", debug ? LOG_LEVEL_DEBUG : (enum log_level)cfg.log_level);
	if (debug)
		cfg.log_level = LOG_LEVEL_DEBUG;
	if (log_path) {
		log_file = fopen(log_path, "ae");
		if (!log_file) {
			fprintf(stderr, "sandboxd: cannot open %s: %s\n", log_path, strerror(errno));
			return 1;
		}
		log_set_sink(log_to_file);
	} else if (inetd || !foreground) {
		log_set_sink(log_to_journal);
	}
	if (geteuid() != 0) {
		log_error("sandboxd must be started as root");
		fprintf(stderr, "sandboxd: must be started as root\n");
		return 1;
	}
	if (prepare_privsep(&cfg, &err) < 0) {
		log_error("%s", err.msg);
		fprintf(stderr, "sandboxd: %s\n", err.msg);
		return 1;
	}
	struct hostkeys keys;
	if (hostkeys_load(&cfg, &keys, &err) < 0) {
		log_error("%s", err.msg);
		fprintf(stderr, "sandboxd: %s\n", err.msg);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);

	/* Prepared once, shared by every connection: the jail's seccomp program and the cgroup
	 * driver for this host's layout. */
	static struct sandbox_runtime runtime;
	if (jail_seccomp_compile(&runtime.seccomp, &err) < 0 ||
	    cgroup_driver_open(CGROUP_MOUNT_ROOT, CGROUP_BASE, &runtime.cgroups, &err) < 0) {
		log_error("%s", err.msg);
		fprintf(stderr, "sandboxd: %s\n", err.msg);
		return 1;
	}
	log_debug("cgroup driver: %s", cgroup_driver_name(runtime.cgroups));
	if (cgroup_driver_prepare(runtime.cgroups, &err) < 0)
		log_warning("%s (each session will make it)", err.msg);
	if (policy_store_reload(cfg.policy_directory, &runtime.policy, &err) < 0) {
		log_error("%s", err.msg);
		fprintf(stderr, "sandboxd: %s\n", err.msg);
		return 1;
	}
	if (open_audit(&cfg, &runtime.audit, &err) < 0) {
		log_error("%s", err.msg);
		fprintf(stderr, "sandboxd: %s\n", err.msg);
		return 1;
	}

	if (inetd) {
		int status = serve_inetd(&cfg, &runtime, &keys);
		sanitizer_leak_check();
		return status;
	}

	if (!foreground) {
		if (daemon(0, 0) < 0) {
			log_error("cannot daemonize: %m");
			return 1;
		}
	}
	if (write_pid_file(cfg.pid_file) < 0)
		log_warning("cannot write %s: %m", cfg.pid_file);
	/* Every connection process starts PAM; loading the modules here once saves each of them
	 * the dlopen()s (2-3 ms of every login, measured). Only an optimisation: a failure here
	 * is the same failure each login will report. */
	if (auth_pam_preload(cfg.pam_service, &err) < 0)
		log_warning("PAM modules not preloaded: %s", err.msg);
	/* The listener owns (and frees) the configuration from here on. */
	_cleanup_free_ char *pid_file = strdup(cfg.pid_file);
	int status = listener_run(&params, &runtime, &cfg, &keys);
	if (pid_file)
		unlink(pid_file);
	return status;
}
