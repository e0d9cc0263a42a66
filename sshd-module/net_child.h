/* The unprivileged network child: runs libssh on the client's bytes, holds no privilege after
 * the host keys are handed to it, asks the monitor for everything else. */
#pragma once

#include "common/config_file.h"
#include "sshd-module/hostkeys.h"
#include "sshd-module/input_limits.h"
#include "sshd-module/wire.h"

#include <libssh/libssh.h>
#include <poll.h>
#include <libssh/callbacks.h>
#include <stdbool.h>
#include <time.h>

#define NET_MAX_CHANNELS INPUT_CHANNELS_MAX

struct net_buffer {
	char *data;
	size_t len, cap;
};

struct net_channel {
	bool used;
	uint32_t id;
	ssh_channel channel;
	struct ssh_channel_callbacks_struct cb;
	struct net_child *net;
	bool pty;
	char term[INPUT_TERM_MAX + 1];
	unsigned rows, cols;
	char *env[INPUT_ENV_MAX];
	size_t n_env;
	bool spawned;
	int in_fd;  /* program's stdin (or pty master) */
	int out_fd; /* program's stdout (or pty master: same as in_fd) */
	int err_fd; /* program's stderr, -1 with a pty */
	bool in_pollout;
	bool out_paused, err_paused;
	struct net_buffer stdin_buf;
	bool client_eof;
	bool out_eof, err_eof;
	bool exited;
	bool exit_by_signal;
	uint32_t exit_code;
	bool closed;
	bool reported; /* exit status, EOF and close sent */
	/* The request was accepted only to say why nothing runs: the text, then exit status 1.
	 * (A failed request would race the text: clients close the channel on the failure.) */
	bool refused;
	char refusal[256];
	uint32_t record; /* 0 not recorded, 1 output, 2 output and input */
	time_t exit_time;
};

struct net_child {
	const struct sbx_config *cfg;
	ssh_session session;
	ssh_event event;
	int mon; /* socket to the monitor */
	bool authenticated;
	bool session_open;
	bool kbdint_pending; /* a PAM conversation waits in the monitor */
	bool done;
	bool hanging_up; /* requests go unanswered; the client hears the disconnect's reason */
	uint32_t next_channel_id;
	bool activity; /* channel bytes moved since the last report to the monitor */
	time_t activity_reported;
	struct net_channel channels[NET_MAX_CHANNELS];
	struct ssh_server_callbacks_struct server_cb;
};

/* Never returns. sock is the client connection, mon the monitor socket. */
__attribute__((noreturn)) void net_child_run(const struct sbx_config *cfg,
					     const struct hostkeys *keys, int sock, int mon);

/* Ends the connection once the loop is back: the client hears REASON (NULL: libssh's) as the
 * disconnect's reason, and no further request is answered. */
void net_hang_up(struct net_child *net, const char *reason);

/* net_channel.c */
ssh_channel net_channel_open(ssh_session session, void *userdata);
void net_channel_handle_event(struct net_child *net, struct wire_msg *msg);
/* Adds the channels' descriptors to a poll set (owner[i] = the channel) and services them. */
size_t net_channels_pollfds(struct net_child *net, struct pollfd *pfd, void **owner, size_t n);
void net_channels_service(struct net_child *net, struct pollfd *pfd, void **owner, size_t n);
/* Exchanges one request/answer with the monitor; events arriving meanwhile are handled. */
int net_monitor_call(struct net_child *net, struct wire_msg *req, uint32_t answer_type,
		     struct wire_msg *ret);
