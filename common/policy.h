/* Limits by level: built-in → default → group (a course, written @cs101) → user. Each level is a
 * small "key = value" file under a policy directory (default.conf, group/NAME.conf,
 * user/NAME.conf), written atomically under a lock so that concurrent admins all keep their
 * change. Shared by the daemon's monitor and sandboxctl; libc only. */
#pragma once

#include "common/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define POLICY_DEFAULT_DIR SYSCONFDIR "/sandboxd/policy"
/* User and group names: [a-z_][a-z0-9_.-]*, at most this long. */
#define POLICY_NAME_MAX 32
/* "unlimited" (or "max") for every key that accepts it. */
#define POLICY_UNLIMITED UINT64_MAX

enum policy_key {
	POLICY_MEMORY,	     /* bytes */
	POLICY_SWAP,	     /* bytes */
	POLICY_CPU,	     /* percent of one core */
	POLICY_PIDS,	     /* count */
	POLICY_TMP,	     /* bytes */
	POLICY_DISK,	     /* bytes */
	POLICY_INODES,	     /* count */
	POLICY_SESSION_TIME, /* seconds */
	POLICY_IDLE_TIME,    /* seconds */
	POLICY_RUN_CPU_TIME, /* seconds */
	POLICY_RUN_TIME,     /* seconds */
	POLICY_SESSIONS,     /* count */
	POLICY_PROCESSES,    /* 0 or 1 */
	POLICY_RECORD,	     /* 0 or 1 */
	POLICY_LOCKED,	     /* 0 or 1 */
	POLICY_KEY_COUNT
};

enum policy_kind {
	POLICY_KIND_SIZE,  /* 512M, 2G, 1024K, plain bytes */
	POLICY_KIND_TIME,  /* 90s, 10m, 1h30m, 2d, plain seconds */
	POLICY_KIND_CPU,   /* 50% or 1.5 (cores) */
	POLICY_KIND_COUNT, /* an integer */
	POLICY_KIND_BOOL,  /* yes or no */
};

/* The keys one level sets. */
struct policy_values {
	uint64_t value[POLICY_KEY_COUNT];
	bool set[POLICY_KEY_COUNT];
};

enum policy_level_kind { POLICY_LEVEL_DEFAULT, POLICY_LEVEL_GROUP, POLICY_LEVEL_USER };

struct policy_level {
	enum policy_level_kind kind;
	char name[POLICY_NAME_MAX + 1]; /* empty for the default level; group names without '@' */
};

enum policy_source_kind {
	POLICY_SOURCE_BUILTIN,
	POLICY_SOURCE_DEFAULT,
	POLICY_SOURCE_GROUP,
	POLICY_SOURCE_USER,
};

/* Every key's value and where it came from. */
struct policy_effective {
	uint64_t value[POLICY_KEY_COUNT];
	enum policy_source_kind source_kind[POLICY_KEY_COUNT];
	/* "built-in", "default", "group @cs101", "user alice" */
	char source[POLICY_KEY_COUNT][POLICY_NAME_MAX + 8];
};

struct policy_entry {
	char name[POLICY_NAME_MAX + 1];
	struct policy_values values;
};

/* Everything under a policy directory, validated. Read-only once loaded. */
struct policy_store {
	bool has_default; /* default.conf exists */
	struct policy_values default_values;
	struct policy_entry *groups; /* sorted by name (strcmp) */
	size_t n_groups;
	struct policy_entry *users; /* sorted by name (strcmp) */
	size_t n_users;
};

/* ---- keys and values ---- */

const char *policy_key_name(enum policy_key key);
/* -EINVAL (with "unknown key 'NAME'") for anything but the exact key names. */
int policy_key_from_name(const char *name, enum policy_key *ret, sbx_error *err);
enum policy_kind policy_key_kind(enum policy_key key);
/* One short phrase for help texts, e.g. "memory of a session (cgroup memory.max)". */
const char *policy_key_description(enum policy_key key);
/* The built-in value of KEY, used where no level sets it. */
uint64_t policy_builtin(enum policy_key key);
/* Parses TEXT as a value of KEY and checks its range. Errors name key and value:
 * "memory: '12Q' is not a size (examples: 512M, 2G, unlimited)". */
int policy_parse_value(enum policy_key key, const char *text, uint64_t *ret, sbx_error *err);
/* Canonical text of a value, which policy_parse_value reads back: "256M", "1h30m", "150%",
 * "yes", "unlimited". Returns the length written, like snprintf. */
int policy_format_value(enum policy_key key, uint64_t value, char *buf, size_t size);
/* For people: "256 MiB", "1 h 30 min", "1.5 cores", "yes", "unlimited". */
int policy_describe_value(enum policy_key key, uint64_t value, char *buf, size_t size);

/* ---- levels ---- */

/* A user or group name as the policy accepts it: [a-z_][a-z0-9_.-]*, 1..32 characters. */
bool policy_name_valid(const char *name);
/* "default", "@group" or "user". */
int policy_level_parse(const char *text, struct policy_level *ret, sbx_error *err);
/* "default", "group @cs101", "user alice". */
void policy_level_describe(const struct policy_level *level, char *buf, size_t size);
/* DIR/default.conf, DIR/group/NAME.conf, DIR/user/NAME.conf (malloc'ed into *ret). */
int policy_level_path(const char *dir, const struct policy_level *level, char **ret,
		      sbx_error *err);

/* ---- reading ---- */

/* Reads one level file. -ENOENT (err filled) when it does not exist; a syntax or value error
 * is -EINVAL with "PATH:LINE: message". The file and its directories must be owned by root or
 * by the caller and writable by nobody else (-EPERM otherwise). */
int policy_file_load(const char *path, struct policy_values *ret, sbx_error *err);
/* The syntax and value checks of policy_file_load on text in memory (LEN bytes, any bytes):
 * errors read "NAME:LINE: message". */
int policy_parse_text(const char *name, const char *text, size_t len, struct policy_values *ret,
		      sbx_error *err);
/* Reads the level's file; a missing file is an empty level (0, nothing set). */
int policy_level_load(const char *dir, const struct policy_level *level, struct policy_values *ret,
		      sbx_error *err);
/* Loads the whole directory (a missing directory is an empty policy), or fails with the first
 * error and leaves *ret untouched: a daemon keeps its previous store on failure. Files in
 * group/ and user/ whose names are not NAME.conf with a valid name are ignored (editor
 * backups, our temporary files). */
int policy_load_all(const char *dir, struct policy_store **ret, sbx_error *err);
/* Loads a new store; on success frees *store and replaces it, on failure leaves it alone. */
int policy_store_reload(const char *dir, struct policy_store **store, sbx_error *err);
void policy_store_free(struct policy_store *store);
const struct policy_entry *policy_store_group(const struct policy_store *store, const char *name);
const struct policy_entry *policy_store_user(const struct policy_store *store, const char *name);

/* ---- resolving ---- */

/* Every key from the most specific level that sets it: user > group > default > built-in.
 * GROUPS is the user's group names (NULL-terminated; NULL = none); names that are not valid
 * policy names (e.g. "Domain Users" from a directory) are skipped, duplicates are harmless.
 * When several of the user's groups set a key, the most generous value wins (the larger
 * number, "unlimited" above all; processes=yes and record=yes over no; locked=no over yes);
 * equal values are credited to the group first in strcmp order. Reads only the files it
 * needs from DIR; a broken file among them is an error. */
int policy_resolve(const char *dir, const char *user, const char *const *groups,
		   struct policy_effective *ret, sbx_error *err);
/* The names of USER's groups as NSS reports them (getgrouplist: the primary group GID and every
 * supplementary one; a gid without a name is skipped), as a NULL-terminated array for
 * policy_resolve. Free with policy_groups_free. */
int policy_user_groups(const char *user, gid_t gid, char ***ret, sbx_error *err);
/* The same from a group list the caller already has (getgrouplist's): the names of the
 * groups NSS knows, in that order. */
int policy_group_names(const gid_t *gids, size_t n, char ***ret, sbx_error *err);
void policy_groups_free(char **groups);
/* The same from a loaded store; cannot fail. */
void policy_store_resolve(const struct policy_store *store, const char *user,
			  const char *const *groups, struct policy_effective *ret);

/* ---- writing ---- */

/* Applies "key=value" assignments to the level's file: all are validated first (nothing is
 * written if one is bad), then under an exclusive flock on DIR/.lock the current file is read
 * (a broken one is an error, never overwritten), updated in place (comments, order and other
 * keys are kept; new keys are appended), written to a temporary file in the same directory,
 * fsync'ed, renamed over the old one and the directory fsync'ed. Creates DIR (one level) and
 * DIR/group, DIR/user as needed. */
int policy_set(const char *dir, const struct policy_level *level, const char *const *assignments,
	       size_t n_assignments, sbx_error *err);
/* Removes KEYS from the level's file in the same way; a key the level does not set is not an
 * error. *ret_removed (may be NULL) counts the keys that were set. A file left with no keys and
 * no comments is removed. */
int policy_unset(const char *dir, const struct policy_level *level, const char *const *keys,
		 size_t n_keys, size_t *ret_removed, sbx_error *err);
