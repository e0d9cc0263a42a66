/* One record per live session under RuntimeDirectory/sessions, held open and locked by the
 * session's monitor for its whole life. A record whose lock can be taken belongs to a monitor
 * that died: its cgroup is swept. sandboxctl reads the same records. */
#pragma once

#include "common/error.h"

#include <stdbool.h>
#include <sys/types.h>

struct session_record {
	char session_id[32];
	char user[256];
	char remote[64];
	long long started; /* unix time */
	pid_t monitor_pid;
};

/* Writes and locks the record; returns the descriptor that holds the lock (keep it open). */
int session_registry_add(const char *runtime_dir, const struct session_record *rec,
			 sbx_error *err);
void session_registry_remove(const char *runtime_dir, const char *session_id, int fd);
/* Calls fn for every record whose monitor is gone (crashed, killed), then removes the record.
 * Only this registry's sessions are looked at: another daemon's (another RuntimeDirectory) are
 * never touched. Returns the number of records swept. */
int session_registry_sweep(const char *runtime_dir,
			   void (*fn)(const char *user, const char *session_id, void *userdata),
			   void *userdata);
/* Serialises the session-count check and the new record of one user across monitors (an
 * exclusive flock held through the returned descriptor; close it to release). */
int session_registry_lock_user(const char *runtime_dir, const char *user, sbx_error *err);
/* The same for the whole host (MaxLogins); take it before any user's lock. */
int session_registry_lock_host(const char *runtime_dir, sbx_error *err);
/* Live sessions (records whose monitor is alive) of USER, or of everyone when USER is NULL. */
int session_registry_count(const char *runtime_dir, const char *user);
/* True while the session's monitor holds its record. */
bool session_registry_is_live(const char *runtime_dir, const char *session_id);
