/* The per-connection monitor: root, holds the PAM handle, builds jails, answers the network
 * child's requests through the table in monitor_requests.c and nothing else. */
#pragma once

#include "common/audit.h"
#include "common/config_file.h"
#include "pam/auth_pam.h"
#include "sshd-module/hostkeys.h"
#include "sshd-module/input_limits.h"
#include "sshd-module/monitor_requests.h"
#include "sshd-module/runner_reports.h"
#include "sshd-module/session_limits.h"
#include "sshd-module/wire.h"

#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <time.h>
#include <sys/types.h>

#define MONITOR_MAX_CHANNELS INPUT_CHANNELS_MAX
/* Status and report descriptor per channel. */
#define MONITOR_CHANNEL_FDS 3
#define SESSION_ID_LEN 16

/* How a connection process ends, for the listener's PerSourcePenalties (the spirit of
 * OpenSSH's sshd-session exit codes). The listener maps each to a penalty of the source block;
 * a connection that authenticated earns nothing, whatever happens later (the listener knows it
 * from the startup pipe, so even a later crash of the monitor costs the source nothing). A
 * monitor killed by a crash signal (SIGSEGV, SIGABRT...) counts as MONITOR_EXIT_CRASH; any
 * other status as MONITOR_EXIT_NOAUTH. */
enum monitor_exit {
	MONITOR_EXIT_OK = 0,	   /* authenticated: no penalty */
	MONITOR_EXIT_ERROR = 1,	   /* the server's own failure before the client could act */
	MONITOR_EXIT_NOAUTH = 2,   /* ended without trying to authenticate */
	MONITOR_EXIT_AUTHFAIL = 3, /* tried to authenticate and never succeeded */
	MONITOR_EXIT_GRACE = 4,	   /* LoginGraceTime ran out */
	MONITOR_EXIT_CRASH = 5,	   /* the network child died by a signal the monitor did not
				      send, or broke the request protocol */
};

/* The listener ends an unauthenticated connection with this signal (MaxStartups fairness,
 * startups.h). Its default action ends the monitor; the monitor blocks it from the moment it
 * has authenticated, so a connection that has authenticated can never be evicted. */
#define MONITOR_EVICT_SIGNAL SIGUSR1

struct connection {
	int fd; /* the client's socket (or the inetd relay's) */
	char remote_addr[64];
	int remote_port;
	char session_id[SESSION_ID_LEN + 1];
	/* Write end of the listener's startup pipe: the monitor writes one byte when the client
	 * has authenticated and closes it; EOF without that byte means the connection ended
	 * unauthenticated. -1 in inetd mode. */
	int startup_fd;
};

/* What every connection shares, prepared once by the daemon before it forks. */
struct sandbox_runtime {
	struct jail_seccomp *seccomp; /* compiled once, installed in every jail */
	struct cgroup_driver *cgroups;
	struct audit *audit;          /* the audit trail (NULL: both sinks off) */
	struct policy_store *policy;  /* last valid policy, used when a file is broken */
};

struct monitor_channel {
	bool used;
	uint32_t id; /* the network child's channel number */
	bool terminal;
	struct jail_run *run;
	struct runner_reports reports; /* the runner's fd 3 */
	struct recording *rec;         /* asciicast of a recorded terminal, or NULL */
	int sftp_fd;                   /* sftp-server's transaction log, -1 otherwise */
	struct scp_audit *scp;         /* legacy scp's before-picture of the home, or NULL */
	struct sftp_log *sftp_log;
};

struct monitor_user {
	char *name;
	uid_t uid;
	gid_t gid;
	char *home;
	gid_t *groups;
	int n_groups;
};

struct monitor {
	const struct sbx_config *cfg;
	const struct sandbox_runtime *runtime;
	struct connection *conn;
	int sock; /* to the network child */
	pid_t net_pid;
	unsigned state; /* enum monitor_state */
	struct monitor_request_log requests;
	char *auth_user;         /* fixed by the first authentication request */
	bool auth_user_valid;    /* false: a name no account can have, bound as "(invalid)" */
	unsigned auth_failures;
	bool authenticated;	 /* once true, the connection earns no penalty */
	bool net_crashed;	 /* the network child died by a signal we did not send */
	bool protocol_violation; /* the network child asked out of turn or sent garbage */
	struct auth_pam *pam;
	bool pam_session_open;
	bool pam_cred;
	struct monitor_user user;
	struct monitor_channel channels[MONITOR_MAX_CHANNELS];
	struct session_limits limits;
	struct cgroup_session *cgroup;
	struct home *home; /* the user's persistent home, attached for this session */
	int registry_fd;
	int netns_fd;		/* an empty network namespace for the next jail, or -1 */
	time_t session_started; /* monotonic seconds */
	time_t last_activity;   /* monotonic seconds */
	unsigned warned;        /* bit per warning already given */
	const char *ended_by;   /* the session limit that ended it, for the report */
	struct cgroup_stats stats_mark; /* counters when the last channel ended */
	/* Recordings of ended channels stay open until the session ends: the network child may
	 * still be sending the last output it read from the terminal. */
	struct {
		uint32_t id;
		struct recording *rec;
	} ended_recs[MONITOR_MAX_CHANNELS];
	/* Jails whose end is reported and whose init is still exiting (the namespaces' teardown):
	 * reaped on SIGCHLD, at the session's end at the latest. */
	struct jail_run *exiting[MONITOR_MAX_CHANNELS];
	bool allow_processes;           /* the course lets the runner start processes */
	bool record;                    /* the course records terminal sessions */
	char limit_sources[1024];       /* effective limits and where each came from */
};

/* Runs one connection to its end; returns the process exit status (enum monitor_exit). */
int monitor_run(const struct sbx_config *cfg, const struct sandbox_runtime *runtime,
		const struct hostkeys *keys, struct connection *conn);

/* Request handlers (monitor_auth.c, monitor_session.c). Each answers on m->sock; a negative
 * return ends the connection. */
int monitor_auth_password(struct monitor *m, struct wire_msg *req);
int monitor_auth_kbdint(struct monitor *m, struct wire_msg *req);
int monitor_auth_pubkey_check(struct monitor *m, struct wire_msg *req);
int monitor_auth_pubkey(struct monitor *m, struct wire_msg *req);
int monitor_session_open(struct monitor *m, struct wire_msg *req);
int monitor_channel_spawn(struct monitor *m, struct wire_msg *req);
int monitor_channel_signal(struct monitor *m, struct wire_msg *req);
int monitor_channel_close(struct monitor *m, struct wire_msg *req);
int monitor_activity(struct monitor *m, struct wire_msg *req);
int monitor_record(struct monitor *m, struct wire_msg *req);
/* Adds the channels' status descriptors to a poll set; reaps those that ended and tells the
 * network child. */
size_t monitor_channel_pollfds(struct monitor *m, struct pollfd *pfd, size_t n);
void monitor_reap_channels(struct monitor *m, const struct pollfd *pfd, size_t n);
/* Reaps the inits of ended jails that have exited since (on SIGCHLD). */
void monitor_reap_exiting(struct monitor *m);
/* Session clocks (wall, idle): warnings, then the end. Returns the seconds until the next
 * check, or -1 when no clock runs. */
int monitor_session_clocks(struct monitor *m);
/* Kills what is left, closes the PAM session. */
void monitor_session_end(struct monitor *m);

/* Monotonic seconds, for the session clocks. */
time_t monitor_now(void);
/* CLOCK_MONOTONIC in microseconds; the same clock inside every jail. */
uint64_t monitor_usec(void);
/* A debug-level "timing" line: "timing SESSION-ID " + the formatted rest, e.g. "spawn
 * begin=T end=T" in monitor_usec() units. The benchmarks (tests/bench/jail_bench.sh) read them to
 * measure what the server does between authentication and the payload's first instruction. */
void monitor_timing(const struct monitor *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Sends a message to the network child; failures end the connection. */
int monitor_send(struct monitor *m, struct wire_msg *msg);
/* Marks the connection authenticated (login grace ends, MaxStartups slot freed). */
void monitor_mark_authenticated(struct monitor *m);
