/* sandboxd.conf: sshd_config-style "Keyword value" lines. Every keyword is documented in
 * man/sandboxd.conf.5; an unknown keyword or a bad value is an error naming file and line. */
#pragma once

#include "common/error.h"
#include "common/netblock.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define CONFIG_MAX_LISTEN 16
#define CONFIG_MAX_HOSTKEYS 8
#define SANDBOXD_DEFAULT_CONFIG SYSCONFDIR "/sandboxd/sandboxd.conf"

struct config_listen {
	char *host; /* numeric address or name, never NULL once loaded */
	int port;   /* 0: use Port */
};

/* The PerSource* keywords: penalties and limits per source address block, used by the listener
 * (sshd-module/source_penalty.c, sshd-module/startups.c). Times are seconds. */
#define CONFIG_MAX_PENALTY_EXEMPT 64
#define CONFIG_MAX_PENALTY_SOURCES 1048576
struct config_per_source {
	bool penalties; /* PerSourcePenalties: yes (the default) or no */
	/* Penalty for a connection that ended so; 0 is none. */
	unsigned crash, authfail, noauth, grace_exceeded;
	/* Time owed is capped at max; a block is refused while more than min is owed. */
	unsigned max, min;
	/* The bounded table, per address family; when full, deny-all refuses the family
	 * (else the entry closest to its end is forgotten). */
	unsigned max_sources4, max_sources6;
	bool overflow_deny_all, overflow6_deny_all;
	unsigned netblock4, netblock6; /* PerSourceNetBlockSize, default 32:128 */
	unsigned max_startups;	       /* PerSourceMaxStartups; 0 is none (the default) */
	struct netblock exempt[CONFIG_MAX_PENALTY_EXEMPT]; /* PerSourcePenaltyExemptList */
	size_t n_exempt;
};

struct sbx_config {
	struct config_listen listen[CONFIG_MAX_LISTEN];
	size_t n_listen;         /* 0 after loading means the default 0.0.0.0 and :: */
	int port;                /* Port, default 22 */
	char *host_keys[CONFIG_MAX_HOSTKEYS];
	size_t n_host_keys;      /* 0 after loading means the default ed25519 key */
	unsigned login_grace_time;       /* seconds, 0 = unlimited; default 120 */
	unsigned max_auth_tries;         /* default 6 */
	unsigned max_sessions;           /* programs (shell, exec, sftp) per connection, default 10 */
	unsigned max_logins;             /* logged-in sessions on the host, 0 = none; default 500 */
	unsigned max_startups_begin;     /* start:rate:full, default 10:30:100 */
	unsigned max_startups_rate;
	unsigned max_startups_full;
	bool password_authentication;    /* default yes */
	bool kbd_interactive_authentication; /* default yes */
	bool pubkey_authentication;      /* default yes */
	char *authorized_keys_file;      /* %h and %u expanded; default .ssh/authorized_keys */
	char *pam_service;               /* default "sandboxd" */
	char *privsep_user;              /* unprivileged user of the network child, default "_sandboxd" */
	char *privsep_directory;         /* empty root-owned dir the network child chroots into */
	unsigned client_alive_interval;  /* seconds, default 15; 0 disables keepalives */
	unsigned client_alive_count_max; /* default 3 */
	char *pid_file;                  /* default /run/sandboxd.pid */
	int log_level;                   /* enum log_level; default INFO */
	char *audit_file;                /* AuditFile: JSON-lines trail, or "none" */
	char *audit_fsync;               /* AuditFsync: never, batch, every */
	bool audit_journal;              /* AuditJournal */
	char *policy_directory;          /* PolicyDirectory: limits per default, course, user */
	bool record_input;               /* RecordInput */
	char *state_directory;           /* StateDirectory: recordings, home images */
	char *home_backend;              /* HomeBackend: image, btrfs, directory */
	char *runtime_directory;         /* RuntimeDirectory: live sessions, jail mount points */
	char *runner_path;               /* RunnerPath: the Python runner, default LIBEXECDIR/sandbox-python */
	struct config_per_source per_source; /* PerSourcePenalties and friends */
	/* Internal to config_file.c: keywords already given through config_apply_option, one bit
	 * per keyword, so that a repeated -o is an error and the first -o of a list replaces it. */
	unsigned long long options_given;
};

/* Fills *cfg with the documented defaults. */
void config_init(struct sbx_config *cfg);
/* Reads FILE into *cfg (on top of whatever *cfg holds: values given in the file replace them; a
 * list keyword's first line in the file replaces the list, later lines append). A single-valued
 * keyword given twice in one file is an error. Errors read "file:line: message" and return
 * -EINVAL; an unreadable file returns its -errno with "path: strerror". After a failure *cfg
 * holds a mix of old and new values: load into a fresh struct when the old one must survive. */
int config_load_file(struct sbx_config *cfg, const char *path, sbx_error *err);
/* config_load_file on an open stream (a file, or text in memory through fmemopen); ORIGIN
 * names it in messages. */
int config_load_stream(struct sbx_config *cfg, FILE *f, const char *origin, sbx_error *err);
/* Applies one "Keyword=Value" or "Keyword Value" (from -o), after config_load_file: it replaces
 * the file's value (the first -o of a list keyword replaces the list, later ones append); the
 * same single-valued keyword twice is an error. Errors read "origin: message" (origin NULL:
 * "command line"). */
int config_apply_option(struct sbx_config *cfg, const char *option, const char *origin,
			sbx_error *err);
/* After all sources: fills list defaults (listen 0.0.0.0 and :: with port 0, the ed25519 host
 * key) and checks cross-field rules (no ListenAddress twice, some authentication enabled). */
int config_finish(struct sbx_config *cfg, sbx_error *err);
/* Writes the effective configuration, one "keyword value" a line (sandboxd -T style): lower-case
 * keywords, listen addresses with their effective port, loadable again by config_load_file. */
void config_dump(const struct sbx_config *cfg, FILE *out);
/* Frees every string and zeroes *cfg; safe after a failed load and twice in a row. */
void config_free(struct sbx_config *cfg);
