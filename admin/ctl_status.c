/* sandboxctl status: version, configuration, policy, and whether the daemon runs. */
#include "config.h"

#include "admin/ctl_commands.h"
#include "admin/ctl_control.h"
#include "admin/ctl_util.h"
#include "common/cleanup.h"
#include "common/config_file.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_PID_FILE "/run/sandboxd.pid"

struct status {
	char config[1100];
	bool config_ok;
	char policy[1100];
	bool policy_ok;
	char daemon[256];
	long pid;	 /* 0: not running */
	long sessions;	 /* -1: the daemon did not answer */
	char cgroup[32]; /* the daemon's cgroup driver */
};

/* Live numbers from the daemon's control socket, when it answers. */
static void live_status(struct status *s)
{
	struct ctl_answer a;
	char msg[1024];
	s->sessions = -1;
	if (!s->pid || ctl_control_call("status", &a, msg, sizeof(msg)) != CTL_CONTROL_OK)
		return;
	if (a.n > 0) {
		const char *n = ctl_record_get(&a.records[0], "sessions");
		const char *cg = ctl_record_get(&a.records[0], "cgroup");
		s->sessions = n ? strtol(n, NULL, 10) : -1;
		snprintf(s->cgroup, sizeof(s->cgroup), "%s", cg ? cg : "");
	}
	ctl_answer_free(&a);
}

/* Reads the pid file and checks that the process is there and is sandboxd (a pid reused by
 * another program after a crash is not our daemon). */
static void check_daemon(const char *pid_file, struct status *s)
{
	_cleanup_fclose_ FILE *f = fopen(pid_file, "re");
	char comm[64] = "", path[64];
	long pid = 0;

	if (!f) {
		snprintf(s->daemon, sizeof(s->daemon), "not running (no %s)", pid_file);
		return;
	}
	if (fscanf(f, "%ld", &pid) != 1 || pid <= 0) {
		snprintf(s->daemon, sizeof(s->daemon), "not running (%s holds no pid)", pid_file);
		return;
	}
	if (kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
		snprintf(s->daemon, sizeof(s->daemon), "not running (stale %s: pid %ld)", pid_file,
			 pid);
		return;
	}
	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	_cleanup_fclose_ FILE *c = fopen(path, "re");
	if (c && fgets(comm, sizeof(comm), c))
		comm[strcspn(comm, "\n")] = '\0';
	if (c && strcmp(comm, "sandboxd") != 0) {
		snprintf(s->daemon, sizeof(s->daemon), "not running (stale %s: pid %ld is %.20s)",
			 pid_file, pid, comm);
		return;
	}
	s->pid = pid;
	snprintf(s->daemon, sizeof(s->daemon), "running (pid %ld)", pid);
}

static void collect(struct status *s)
{
	struct sbx_config cfg;
	struct policy_store *store = NULL;
	sbx_error err;
	const char *pid_file = DEFAULT_PID_FILE;
	int r;

	config_init(&cfg);
	r = config_load_file(&cfg, ctl_options.config_file, &err);
	if (r == 0)
		r = config_finish(&cfg, &err);
	s->config_ok = r == 0 || r == -ENOENT;
	if (r == 0)
		snprintf(s->config, sizeof(s->config), "%s", ctl_options.config_file);
	else if (r == -ENOENT)
		snprintf(s->config, sizeof(s->config), "%s (not found: built-in defaults)",
			 ctl_options.config_file);
	else
		snprintf(s->config, sizeof(s->config), "%s (error: %s)", ctl_options.config_file,
			 err.msg);
	if (r == 0 && cfg.pid_file)
		pid_file = cfg.pid_file;
	check_daemon(pid_file, s);
	config_free(&cfg);
	live_status(s);

	r = policy_load_all(ctl_options.policy_dir, &store, &err);
	s->policy_ok = r == 0;
	if (r == 0)
		snprintf(s->policy, sizeof(s->policy), "%s (%s, %zu group%s, %zu user%s)",
			 ctl_options.policy_dir, store->has_default ? "default set" : "no default",
			 store->n_groups, store->n_groups == 1 ? "" : "s", store->n_users,
			 store->n_users == 1 ? "" : "s");
	else
		snprintf(s->policy, sizeof(s->policy), "%s (error: %s)", ctl_options.policy_dir,
			 err.msg);
	policy_store_free(store);
}

int ctl_status_main(int argc, char **argv)
{
	static const struct option options[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct status s = {0};
	bool json = false;
	int c, r;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
		if (c == 'j')
			json = true;
		else if (c == 'h') {
			printf("Usage: sandboxctl status [--json]\n");
			return CTL_EXIT_OK;
		} else
			return ctl_option_error("status", c, argv);
	}
	if (optind != argc)
		return ctl_usage_error("usage: status [--json]");
	r = ctl_require_admin(false);
	if (r)
		return r;
	collect(&s);
	if (json) {
		printf("{\"version\":");
		ctl_json_string(stdout, PACKAGE_VERSION);
		printf(",\"config_file\":");
		ctl_json_string(stdout, ctl_options.config_file);
		printf(",\"config\":");
		ctl_json_string(stdout, s.config);
		printf(",\"config_ok\":%s,\"policy_dir\":", s.config_ok ? "true" : "false");
		ctl_json_string(stdout, ctl_options.policy_dir);
		printf(",\"policy\":");
		ctl_json_string(stdout, s.policy);
		printf(",\"policy_ok\":%s,\"daemon\":", s.policy_ok ? "true" : "false");
		ctl_json_string(stdout, s.daemon);
		printf(",\"running\":%s,\"pid\":", s.pid ? "true" : "false");
		if (s.pid)
			printf("%ld", s.pid);
		else
			printf("null");
		if (s.sessions >= 0) {
			printf(",\"sessions\":%ld,\"cgroup_driver\":", s.sessions);
			ctl_json_string(stdout, s.cgroup);
			printf("}\n");
		} else
			printf(",\"sessions\":null,\"cgroup_driver\":null}\n");
	} else {
		struct ctl_table t;
		r = ctl_table_init(&t, 2, (const char *const[]){"", ""});
		/* No header row: a key/value list reads better without one. */
		if (r == 0)
			r = ctl_table_add(&t, (const char *const[]){"version:", PACKAGE_VERSION});
		if (r == 0)
			r = ctl_table_add(&t, (const char *const[]){"configuration:", s.config});
		if (r == 0)
			r = ctl_table_add(&t, (const char *const[]){"policy:", s.policy});
		if (r == 0)
			r = ctl_table_add(&t, (const char *const[]){"daemon:", s.daemon});
		char live[64];
		snprintf(live, sizeof(live), "%ld live (cgroups %s)", s.sessions, s.cgroup);
		if (r == 0 && s.sessions >= 0)
			r = ctl_table_add(&t, (const char *const[]){"sessions:", live});
		if (r == 0) {
			/* Row 0 is the empty header: print from row 1. */
			struct ctl_table body = t;
			body.cells += body.n_cols;
			body.n_rows--;
			ctl_table_print(&body, stdout);
		}
		ctl_table_free(&t);
		if (r < 0) {
			ctl_error("out of memory");
			return CTL_EXIT_FAILURE;
		}
	}
	return s.config_ok && s.policy_ok ? CTL_EXIT_OK : CTL_EXIT_FAILURE;
}
