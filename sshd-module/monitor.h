/* The per-connection monitor: root, holds the PAM handle, builds jails, answers the network
 * child's requests through the table in monitor_requests.c and nothing else. */
#pragma once

#include "common/config_file.h"
#include "pam/auth_pam.h"
#include "sshd-module/hostkeys.h"
#include "sshd-module/monitor_requests.h"
#include "sshd-module/wire.h"

#include <stdbool.h>
#include <sys/types.h>

#define MONITOR_MAX_CHANNELS 16
#define SESSION_ID_LEN 16

struct connection {
	int fd;              /* the client's socket (or one end of the inetd relay) */
	int inetd_in, inetd_out; /* -i mode with non-socket stdio: relayed by the monitor; else -1 */
	char remote_addr[64];
	int remote_port;
	char session_id[SESSION_ID_LEN + 1];
	int startup_fd; /* closed once authenticated: the listener counts unauthenticated peers */
};

struct monitor_channel {
	bool used;
	uint32_t id;  /* the network child's channel number */
	pid_t pid;    /* the channel's process (jail init) */
	bool exited;
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
	struct connection *conn;
	int sock; /* to the network child */
	pid_t net_pid;
	unsigned state; /* enum monitor_state */
	struct monitor_request_log requests;
	char *auth_user;         /* fixed by the first authentication request */
	unsigned auth_failures;
	struct auth_pam *pam;
	bool pam_session_open;
	bool pam_cred;
	struct monitor_user user;
	struct monitor_channel channels[MONITOR_MAX_CHANNELS];
};

/* Runs one connection to its end; returns the process exit status. */
int monitor_run(const struct sbx_config *cfg, const struct hostkeys *keys, struct connection *conn);

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
/* Reaps exited channel processes and tells the network child. */
void monitor_reap_channels(struct monitor *m);
/* Kills what is left, closes the PAM session. */
void monitor_session_end(struct monitor *m);

/* Sends a message to the network child; failures end the connection. */
int monitor_send(struct monitor *m, struct wire_msg *msg);
/* Marks the connection authenticated (login grace ends, MaxStartups slot freed). */
void monitor_mark_authenticated(struct monitor *m);
