/* What every sandboxctl command shares: global options, exit codes, one-line errors,
 * permission checks, aligned tables and JSON strings. */
#pragma once

#include "common/policy.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum {
	CTL_EXIT_OK = 0,
	CTL_EXIT_FAILURE = 1, /* the command ran and failed */
	CTL_EXIT_USAGE = 2,   /* bad command line */
	CTL_EXIT_DENIED = 3,  /* the caller may not do this */
};

/* Members of this group may read (status, quota show/list); changes need root. */
#define CTL_ADMIN_GROUP "sandbox-admin"

/* Global options, set by main before a command runs. */
struct ctl_options {
	const char *policy_dir;	 /* --policy-dir, default POLICY_DEFAULT_DIR */
	const char *config_file; /* --config, default SANDBOXD_DEFAULT_CONFIG */
};
extern struct ctl_options ctl_options;

/* "sandboxctl: MESSAGE" on stderr, control characters escaped. */
void ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "sandboxctl: warning: MESSAGE" on stderr. */
void ctl_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* ctl_error, then CTL_EXIT_USAGE. */
int ctl_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The usage error for what getopt_long() returned for a bad option: ':' (its argument is
 * missing) or anything else (unknown). COMMAND is the subcommand ("sessions", "quota set"),
 * NULL for sandboxctl's own options. */
int ctl_option_error(const char *command, int c, char *const argv[]);

/* 0, or prints "permission denied: ..." and returns CTL_EXIT_DENIED. WRITE: root only;
 * otherwise root or a member of CTL_ADMIN_GROUP. */
int ctl_require_admin(bool write);

/* 0 if the level's user or group exists (the default level always does); otherwise prints
 * "no such user: NAME" or "no such group: @NAME" and returns CTL_EXIT_FAILURE. */
int ctl_check_level_exists(const struct policy_level *level);

/* Parses "default", "@group" or "user"; prints the error and returns CTL_EXIT_USAGE. */
int ctl_parse_level(const char *text, struct policy_level *ret);

/* An aligned table: a header row and rows of N_COLS strings, columns two spaces apart. */
struct ctl_table {
	size_t n_cols, n_rows;
	char **cells; /* n_rows * n_cols, row 0 is the header */
};
int ctl_table_init(struct ctl_table *t, size_t n_cols, const char *const *header);
/* Adds a row of t->n_cols strings (copied). -ENOMEM on failure. */
int ctl_table_add(struct ctl_table *t, const char *const *row);
void ctl_table_print(const struct ctl_table *t, FILE *out);
void ctl_table_free(struct ctl_table *t);

/* "45s", "3m05s" or "2h10m". */
void ctl_format_duration(uint64_t seconds, char *buf, size_t size);

/* Writes S as a JSON string (quotes included). */
void ctl_json_string(FILE *out, const char *s);
/* Writes {"value":"512M","number":536870912,"source":"user alice"} for one policy value: number
 * is bytes, seconds, percent of a core or a count, null when unlimited, true/false for yes/no
 * keys; no "source" when SOURCE is NULL. */
void ctl_json_value(FILE *out, enum policy_key key, uint64_t value, const char *source);
