/* Starting one channel's program for the session: what runs (runner, sftp-server, scp), with
 * which environment, inside the jail. */
#pragma once

#include "common/error.h"
#include "sshd-module/monitor.h"

#include <stdbool.h>
#include <sys/types.h>

enum session_kind { SESSION_KIND_SHELL, SESSION_KIND_EXEC, SESSION_KIND_SUBSYSTEM };

struct session_spawn_request {
	enum session_kind kind;
	char *command; /* exec: the command line; subsystem: its name */
	bool pty;
	char *term;
	unsigned short rows, cols;
	const char *const *client_env; /* "NAME=value", already filtered by the network child */
};

struct session_spawn_result {
	struct jail_run *run;
	int report_fd; /* read end of the runner's fd 3, -1 for other programs */
	int sftp_log_fd; /* sftp-server's transaction log (SOCK_SEQPACKET), -1 for others */
	struct scp_audit *scp; /* legacy scp: what to compare in the home afterwards, or NULL */
	int fds[3]; /* pty master alone, or stdin, stdout, stderr */
};

int session_spawn(struct monitor *m, const struct session_spawn_request *req,
		  struct session_spawn_result *ret, sbx_error *err);
int session_signal(struct monitor *m, struct monitor_channel *c, int sig);
/* True for the client variables a program may receive (LANG, LC_*, TERM). */
bool session_env_allowed(const char *name);
