/* Audit records from OpenSSH's sftp-server transaction log.
 *
 * The sftp subsystem runs `/usr/lib/openssh/sftp-server -e -l INFO` inside the user's jail; its
 * stderr goes to the monitor, never to the client. This module turns the log (OpenSSH 9.2
 * formats) into file operations for the file-op audit event. It trusts nothing in the log: names
 * come from the student.
 *
 * Framing. sftp-server writes each log record with one write() of at most 1023 bytes, ending in
 * "\r\n". Names are not escaped for '"', '\n', '\r' or '\t' (backslash is doubled and other
 * control and non-ASCII bytes become \ooo octal), so:
 *  - sftp_log_feed_record() takes one record per call. Give sftp-server a SOCK_SEQPACKET
 *    socketpair as stderr and pass each recv()ed message: the kernel keeps the record boundaries
 *    and no file name can split or forge a record. This is the exact mode.
 *  - sftp_log_feed() takes a byte stream (a pipe) and splits records at "\r\n". A name holding a
 *    bare '\n' stays inside its record (exact); a name holding the two bytes "\r\n" splits its
 *    record in two, and the parts are parsed as two records, which a hostile name can shape into
 *    a forged event. Only the record mode closes that hole.
 *
 * Within a record, single-name formats are parsed from both ends (the fixed suffix never holds a
 * '"'), so a quote in a name is exact. Two-name formats (rename, symlink, hardlink) are reported
 * as "unparsed" when the separator `" new "` occurs more than once. A record that may have been
 * cut by sftp-server's 1024-byte message buffer is reported as "unparsed", never parsed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Longest record kept in stream mode; longer input is cut and reported, the rest skipped. */
#define SFTP_LOG_LINE_MAX 4096
/* Files open at once that are tracked to report a close's byte count with its open's path. */
#define SFTP_LOG_PENDING_MAX 64

struct sftp_log;

struct sftp_file_op {
	/* upload, download, remove, rename, mkdir, rmdir, setstat, symlink, hardlink, unparsed */
	const char *op;
	/* the name as sftp-server used it (inside the jail), octal escapes decoded to raw bytes;
	 * for "unparsed": the raw record as logged (a NUL byte, which sftp-server never writes,
	 * is shown as \000) */
	const char *path;
	/* rename: the new name; symlink: what the link points to; hardlink: the existing file */
	const char *target;
	/* setstat: "mode 0600", "size 0", "modtime 20240101-12:00:00", "owner 1000 group 1000";
	 * mkdir: "mode 0777"; open flags of an upload/download ("WRITE,CREATE,TRUNCATE");
	 * failures: the error text when sftp-server logged one; unparsed: why */
	const char *detail;
	unsigned long long bytes; /* upload: bytes written; download: bytes read */
	bool has_bytes;
	/* success, failure (sftp-server sent an error status or logged a write error),
	 * error (outcome unknown: never closed, dropped from a full table) */
	const char *result;
};

typedef void (*sftp_log_emit_fn)(const struct sftp_file_op *op, void *ud);

int sftp_log_new(struct sftp_log **ret);
/* Stream mode: raw bytes from a pipe, records split at "\r\n". */
void sftp_log_feed(struct sftp_log *log, const char *data, size_t len, sftp_log_emit_fn emit,
		   void *ud);
/* Record mode: exactly one log record (one datagram/seqpacket message), "\r\n" optional. */
void sftp_log_feed_record(struct sftp_log *log, const char *data, size_t len, sftp_log_emit_fn emit,
			  void *ud);
/* At channel end: flushes a partial record, the held event, and files never closed. */
void sftp_log_finish(struct sftp_log *log, sftp_log_emit_fn emit, void *ud);
void sftp_log_free(struct sftp_log *log);
