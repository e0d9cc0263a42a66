/* Steps of the jail, one job each; jail.c calls them in order. Not for other parts. */
#pragma once

#include "jail/jail.h"

#include <linux/filter.h>
#include <signal.h>

#define JAIL_DEFAULT_HOSTNAME "sandbox"
#define JAIL_DEFAULT_TMP_BYTES (64ULL << 20)
#define JAIL_WALL_GRACE_SECONDS 2

struct jail_seccomp {
	struct sock_fprog prog; /* prog.filter is owned */
};

/* Messages on the status socket (SOCK_SEQPACKET) from init to the monitor, and on the exec
 * socket from the payload to init. */
enum jail_msg_type {
	JAIL_MSG_READY = 1, /* payload exec'd; carries the pty master with terminal */
	JAIL_MSG_ERROR,	    /* a step failed; carries err */
	JAIL_MSG_REPORT,    /* the payload ended; carries report */
	JAIL_MSG_LISTENER,  /* payload -> init: the seccomp listener fd */
};

struct jail_msg {
	uint32_t type;
	sbx_error err;
	struct jail_report report;
};

/* proto.c */
int jail_msg_send(int sock, const struct jail_msg *msg, int fd_to_pass);
/* Returns bytes read (0 = EOF) or -errno; *ret_fd = received fd or -1. */
ssize_t jail_msg_recv(int sock, struct jail_msg *msg, int *ret_fd);
_Noreturn void jail_child_fail(int sock, const sbx_error *err);

/* ns.c */
pid_t jail_ns_clone(bool new_net);
/* Joins (then closes) the network namespace of spec.netns_fd. */
int jail_ns_join_net(int fd, sbx_error *err);
int jail_ns_enter_cgroup_ns(sbx_error *err);
int jail_ns_set_hostname(const char *hostname, sbx_error *err);
int jail_ns_loopback_up(sbx_error *err);

/* mounts.c: all paths below `root` (the new root's mount point) until jail_mount_pivot. */
int jail_mount_root_dir(char **ret_root, sbx_error *err);
int jail_mount_private_propagation(sbx_error *err);
int jail_mount_root_tmpfs(const char *root, sbx_error *err);
int jail_mount_runtime(const char *root, sbx_error *err);
int jail_mount_hide_python_modules(const char *root, sbx_error *err);
int jail_mount_etc(const char *root, const struct jail_spec *spec, sbx_error *err);
int jail_mount_dev(const char *root, sbx_error *err);
int jail_mount_proc(const char *root, sbx_error *err);
int jail_mount_tmp(const char *root, uint64_t bytes, sbx_error *err);
int jail_mount_home(const char *root, const struct jail_spec *spec, sbx_error *err);
int jail_mount_extra_binds(const char *root, const struct jail_spec *spec, sbx_error *err);
int jail_mount_seal_root(const char *root, sbx_error *err);
int jail_mount_pivot(const char *root, sbx_error *err);

/* rlimits.c */
int jail_rlimits_apply(const struct jail_limits *limits, sbx_error *err);

/* caps.c */
int jail_caps_drop_bounding(sbx_error *err);
int jail_caps_become_user(const struct jail_spec *spec, sbx_error *err);
int jail_caps_clear_all(sbx_error *err);

/* seccomp.c: returns the listener fd */
int jail_seccomp_install(const struct jail_seccomp *seccomp, sbx_error *err);

/* pty.c */
int jail_pty_open_master(unsigned short rows, unsigned short cols, char **ret_slave,
			 sbx_error *err);
int jail_pty_make_controlling(const char *slave, uid_t uid, gid_t gid, sbx_error *err);

/* init.c */
struct jail_init_ctx {
	const struct jail_spec *spec;
	int status_sock;       /* to the monitor */
	int pty_master;	       /* -1 without terminal */
	const char *pty_slave; /* path inside the jail, NULL without terminal */
};
_Noreturn void jail_init_run(struct jail_init_ctx *ctx);
