/* Session recording: one asciicast v2 file per terminal channel, written by the monitor from the
 * copies of the pty's bytes the network child sends it (output always, input when the policy
 * says so and never while the terminal has ECHO off). The student never holds the file. */
#pragma once

#include "common/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Appended as a last output event when the size cap is reached. */
#define RECORDING_STOPPED_MARKER "\r\n[sandbox: recording stopped: size limit reached]\r\n"

struct recording;

struct recording_params {
	const char *dir;	/* StateDirectory/recordings; created 0700 if missing */
	const char *session_id; /* no '/', not "." or ".." */
	unsigned channel;
	unsigned cols, rows;
	const char *term; /* the client's TERM (untrusted, escaped), NULL: none */
	const char *user;
	long long started_unix;
	uint64_t max_bytes; /* size cap of the whole file; 0: none */
	bool input;	    /* informational: whether the caller will record input */
};

/* Creates <dir>/<session_id>-<channel>.cast (O_EXCL, O_NOFOLLOW, mode 0600) and writes the
 * header. Refuses a group- or world-writable DIR (-EPERM). Returns 0 or -errno with ERR. */
int recording_open(const struct recording_params *params, struct recording **ret, sbx_error *err);
/* Append one "o" / "i" event at the time since open (CLOCK_MONOTONIC, microseconds). A
 * character split between two calls comes out whole in the second event; invalid UTF-8 becomes
 * U+FFFD. Once the cap would be exceeded, writes RECORDING_STOPPED_MARKER once and ignores the
 * rest (returns 0). A write error (-errno) removes the partial line and is sticky: every later
 * call returns it and writes nothing. */
int recording_output(struct recording *rec, const char *data, size_t len);
int recording_input(struct recording *rec, const char *data, size_t len);
/* An "r" event "COLSxROWS". */
int recording_resize(struct recording *rec, unsigned cols, unsigned rows);
/* Whether the cap stopped the recording (the caller may stop sending bytes). */
bool recording_stopped(const struct recording *rec);
/* Appends nothing (an incomplete trailing character is dropped), fsyncs, closes, frees. NULL is
 * fine. */
void recording_close(struct recording *rec);
