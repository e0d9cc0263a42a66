/* The control socket: sandboxctl talks to the running daemon through a Unix stream socket at
 * RuntimeDirectory/control.sock. One request per connection, one line:
 *
 *   sessions [USER]                          live sessions with their cgroup usage
 *   kill SESSION-ID | kill-user USER          SIGTERM to the session's monitor
 *   apply-limits USER|@GROUP|default          re-resolve the policy into running cgroups
 *   reload                                    the listener's reload (as on SIGHUP)
 *   status                                    version, pid, sessions, config, cgroup driver
 *   penalties                                 source blocks with a penalty (PerSourcePenalties)
 *   penalties-clear BLOCK|all                 lifts them (in the listener, like reload)
 *
 * The answer is "OK" or "ERR <denied|usage|notfound|failed> <message>", then zero or more
 * records of space-separated key=value (values %XX-encoded: every byte outside '!'..'~' and
 * '%', '='), then "END". Peers are checked with SO_PEERCRED / SO_PEERGROUPS: uid 0 or a member
 * of CONTROL_ADMIN_GROUP; anyone else gets "ERR denied" and an audit record.
 *
 * The listener never blocks on a client: it reads the request with non-blocking I/O and a
 * deadline, answers denied, reload, penalties-clear and status itself (small answers), and
 * forks a short-lived child for the rest (NSS look-ups, /proc and cgroup reads, bigger
 * answers). Those children are reaped by the listener's waitpid(-1) like any other. */
#pragma once

#include "common/config_file.h"
#include "common/error.h"

struct audit;
struct cgroup_driver;
struct netblock;
struct policy_store;
struct source_penalties;

#define CONTROL_ADMIN_GROUP "sandbox-admin"
#define CONTROL_SOCKET_NAME "control.sock"

struct control;

/* What a request may use; built by the listener for each call (pointers are borrowed and only
 * used during the call, or by the forked child). */
struct control_context {
	const struct sbx_config *config;
	const char *config_path;
	struct cgroup_driver *cgroups;
	struct audit *audit;		   /* may be NULL */
	const struct policy_store *policy; /* last valid policy (fallback); may be NULL */
	/* The listener's reload: 0 on success, a negative errno if the running configuration was
	 * kept. */
	int (*reload)(void *userdata);
	/* PerSourcePenalties: the listener's table (read by the forked child: its copy), and
	 * lifting penalties in the listener itself (BLOCK NULL: all); returns how many. */
	const struct source_penalties *penalties;
	size_t (*clear_penalties)(void *userdata, const struct netblock *block);
	void *userdata;
};

/* Binds PATH (a stale socket there is replaced; the directory is created 0755 if missing).
 * Also looks up the admin group once (a group created later needs a daemon restart or
 * reload: control_refresh_admin_group). */
int control_open(const char *path, struct control **ret, sbx_error *err);
/* Closes and unlinks the socket; NULL is fine. Pending clients are dropped. */
void control_close(struct control *c);
/* One descriptor (an epoll set) to poll for POLLIN. */
int control_fd(const struct control *c);
/* Call when control_fd is readable: accepts, reads, expires and serves what is ready. Never
 * blocks. */
void control_accept_and_serve(struct control *c, const struct control_context *ctx);
/* Re-reads the admin group's gid (call after a reload). */
void control_refresh_admin_group(struct control *c);
