/* Parses OpenSSH 9.2 sftp-server's INFO transaction log into file operations; see sftp_log.h for
 * what is exact. Formats (sftp-server.c, logit()), NAME being the client's path:
 *   open "NAME" flags READ|WRITE,APPEND,CREATE,TRUNCATE,EXCL mode 0644
 *   close "NAME" bytes read R written W        (also "forced close ..." at session end)
 *   opendir "NAME" / closedir "NAME"
 *   remove name "NAME" / rmdir name "NAME" / mkdir name "NAME" mode 0777
 *   rename|posix-rename|symlink|hardlink old "NAME" new "NAME"
 *   set "NAME" size N | mode 0600 | modtime 20240101-12:00:00 | owner U group G
 *   sent status No such file                    (only non-OK statuses at INFO)
 *   process_write: write "NAME(first 100)": strerror
 *   session opened|closed for local user U from [ADDR] */
#include "config.h"

#include "sshd-module/sftp_log.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* sftp-server cuts a message at 1021 bytes (its buffers are 1024 bytes; an octal escape that does
 * not fit ends the text up to 3 bytes earlier). A record this long may have lost its suffix, and
 * a name could then supply a forged one. */
#define SFTP_LOG_SERVER_CUT 1018
/* write "%.100s": the name in a write error is cut to 100 bytes. */
#define SFTP_LOG_ERROR_NAME_MAX 100

struct pending {
	char *path;
	char *flags;
	char *error; /* write/read error logged while open */
	bool writes;
	unsigned long long seq;
};

enum held_kind { HELD_NONE, HELD_EVENT, HELD_OPEN };

struct held {
	enum held_kind kind;
	const char *op;
	char *path, *target, *detail;
	unsigned long long bytes;
	bool has_bytes;
	bool failed; /* a write error was seen before its close */
	unsigned long long open_seq;
};

struct sftp_log {
	char line[SFTP_LOG_LINE_MAX + 1];
	size_t len;
	bool skipping; /* after an over-long record, until its "\r\n" */
	bool skip_cr;
	struct pending pending[SFTP_LOG_PENDING_MAX];
	size_t n_pending;
	unsigned long long next_seq;
	struct held held;
};

struct out {
	sftp_log_emit_fn emit;
	void *ud;
};

static void emit_op(const struct out *o, const char *op, const char *path, const char *target,
		    const char *detail, bool has_bytes, unsigned long long bytes,
		    const char *result)
{
	struct sftp_file_op e = {
	    .op = op,
	    .path = path,
	    .target = target,
	    .detail = detail,
	    .bytes = has_bytes ? bytes : 0,
	    .has_bytes = has_bytes,
	    .result = result,
	};
	o->emit(&e, o->ud);
}

/* The raw record as logged; NUL (never written by sftp-server) would end the C string early. */
static void emit_unparsed(const struct out *o, const char *rec, size_t len, const char *why)
{
	size_t nuls = 0;
	for (size_t i = 0; i < len; i++)
		nuls += rec[i] == '\0';
	char *copy = malloc(len + 3 * nuls + 1);
	if (!copy) {
		emit_op(o, "unparsed", "", NULL, "out of memory", false, 0, "error");
		return;
	}
	size_t j = 0;
	for (size_t i = 0; i < len; i++) {
		if (rec[i] == '\0') {
			memcpy(copy + j, "\\000", 4);
			j += 4;
		} else
			copy[j++] = rec[i];
	}
	copy[j] = '\0';
	emit_op(o, "unparsed", copy, NULL, why, false, 0, "error");
	free(copy);
}

/* Undoes sftp-server's strnvis(VIS_SAFE|VIS_OCTAL): "\\" is a backslash, "\ooo" a byte. The
 * encoding always escapes a backslash, so decoding is exact. NULL when not a valid encoding. */
static char *vis_decode(const char *s, size_t len)
{
	char *out = malloc(len + 1);
	if (!out)
		return NULL;
	size_t j = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '\\') {
			out[j++] = s[i];
			continue;
		}
		if (i + 1 < len && s[i + 1] == '\\') {
			out[j++] = '\\';
			i++;
		} else if (i + 3 < len && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
			   s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
			int c = (s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0');
			if (c == 0)
				goto bad;
			out[j++] = (char)c;
			i += 3;
		} else
			goto bad;
	}
	out[j] = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

static bool starts_with(const char *s, size_t len, const char *prefix, size_t *ret_plen)
{
	size_t n = strlen(prefix);
	if (len < n || memcmp(s, prefix, n) != 0)
		return false;
	*ret_plen = n;
	return true;
}

static bool is_digits(const char *s, size_t len)
{
	if (len == 0 || len > 20)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static bool parse_ull(const char *s, size_t len, unsigned long long *ret)
{
	if (!is_digits(s, len))
		return false;
	unsigned long long v = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*ret = v;
	return true;
}

static bool is_octal(const char *s, size_t len)
{
	if (len == 0 || len > 7)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '7')
			return false;
	return true;
}

/* Matches `s` against a pattern of literal text with the placeholders '#' (decimal number),
 * '%' (octal number) and '@' (flag list [A-Z,]+); each placeholder must end before the next
 * literal character of the pattern. */
static bool match_suffix(const char *s, size_t len, const char *pat)
{
	size_t i = 0;
	for (const char *p = pat; *p; p++) {
		if (*p != '#' && *p != '%' && *p != '@') {
			if (i >= len || s[i] != *p)
				return false;
			i++;
			continue;
		}
		size_t start = i;
		char stop = p[1];
		while (i < len && s[i] != stop)
			i++;
		if (stop == '\0')
			i = len;
		size_t n = i - start;
		if (*p == '#' && !is_digits(s + start, n))
			return false;
		if (*p == '%' && !is_octal(s + start, n))
			return false;
		if (*p == '@') {
			if (n == 0)
				return false;
			for (size_t k = start; k < i; k++)
				if (!((s[k] >= 'A' && s[k] <= 'Z') || s[k] == ','))
					return false;
		}
	}
	return i == len;
}

/* PREFIX "NAME" SUFFIX: the suffix never holds a '"', so the last '"' closes the name. */
static bool split_one_name(const char *rest, size_t len, char **ret_name, const char **ret_suffix,
			   size_t *ret_suffix_len)
{
	const char *q = NULL;
	for (size_t i = len; i > 0; i--)
		if (rest[i - 1] == '"') {
			q = rest + i - 1;
			break;
		}
	if (!q)
		return false;
	char *name = vis_decode(rest, (size_t)(q - rest));
	if (!name)
		return false;
	*ret_name = name;
	*ret_suffix = q + 1;
	*ret_suffix_len = len - (size_t)(q + 1 - rest);
	return true;
}

/* PREFIX "OLD" new "NEW": refused when the separator is not unique. */
static bool split_two_names(const char *rest, size_t len, char **ret_old, char **ret_new)
{
	static const char sep[] = "\" new \"";
	const size_t seplen = sizeof(sep) - 1;
	if (len < seplen + 1 || rest[len - 1] != '"')
		return false;
	len--;
	const char *found = NULL;
	for (size_t i = 0; i + seplen <= len; i++)
		if (memcmp(rest + i, sep, seplen) == 0) {
			if (found)
				return false;
			found = rest + i;
		}
	if (!found)
		return false;
	char *old = vis_decode(rest, (size_t)(found - rest));
	char *new = vis_decode(found + seplen, len - (size_t)(found - rest) - seplen);
	if (!old || !new) {
		free(old);
		free(new);
		return false;
	}
	*ret_old = old;
	*ret_new = new;
	return true;
}

static void held_clear(struct held *h)
{
	free(h->path);
	free(h->target);
	free(h->detail);
	*h = (struct held){.kind = HELD_NONE};
}

static struct pending *pending_find_seq(struct sftp_log *log, unsigned long long seq)
{
	for (size_t i = 0; i < log->n_pending; i++)
		if (log->pending[i].seq == seq)
			return &log->pending[i];
	return NULL;
}

static void pending_remove(struct sftp_log *log, struct pending *p)
{
	free(p->path);
	free(p->flags);
	free(p->error);
	size_t i = (size_t)(p - log->pending);
	memmove(&log->pending[i], &log->pending[i + 1],
		(log->n_pending - i - 1) * sizeof(log->pending[0]));
	log->n_pending--;
}

static void emit_unfinished(const struct out *o, const struct pending *p, const char *why)
{
	emit_op(o, p->writes ? "upload" : "download", p->path, NULL, why, false, 0, "error");
}

/* The record after an event tells its outcome: sftp-server logs a request before acting on it
 * and sends its status before reading the next request, so a failed request's "sent status" comes
 * right after its own record. (A successful request followed by a failing one that logs nothing
 * at INFO, such as stat, also looks like a failure.) */
static void held_resolve(struct sftp_log *log, const struct out *o, const char *status)
{
	struct held *h = &log->held;
	if (h->kind == HELD_OPEN) {
		struct pending *p = pending_find_seq(log, h->open_seq);
		if (p && status) {
			emit_op(o, p->writes ? "upload" : "download", p->path, NULL, status, false,
				0, "failure");
			pending_remove(log, p);
		}
	} else if (h->kind == HELD_EVENT) {
		bool failed = status || h->failed;
		char *both = NULL;
		if (status && h->detail && asprintf(&both, "%s (%s)", h->detail, status) < 0)
			both = NULL;
		emit_op(o, h->op, h->path, h->target,
			both	 ? both
			: status ? status
				 : h->detail,
			h->has_bytes, h->bytes, failed ? "failure" : "success");
		free(both);
	}
	held_clear(h);
}

static void hold_event(struct sftp_log *log, const char *op, char *path, char *target, char *detail)
{
	log->held = (struct held){
	    .kind = HELD_EVENT, .op = op, .path = path, .target = target, .detail = detail};
}

static int pending_add(struct sftp_log *log, const struct out *o, char *path, const char *flags,
		       size_t flags_len)
{
	if (log->n_pending == SFTP_LOG_PENDING_MAX) {
		emit_unfinished(o, &log->pending[0], "too many open files to track");
		pending_remove(log, &log->pending[0]);
	}
	char *f = strndup(flags, flags_len);
	if (!f)
		return -ENOMEM;
	bool writes = false;
	static const char *const writing[] = {"WRITE", "APPEND", "CREATE", "TRUNCATE"};
	for (const char *w = f; *w;) {
		size_t n = strcspn(w, ",");
		for (size_t k = 0; k < sizeof(writing) / sizeof(writing[0]); k++)
			if (n == strlen(writing[k]) && memcmp(w, writing[k], n) == 0)
				writes = true;
		w += n + (w[n] == ',');
	}
	struct pending *p = &log->pending[log->n_pending++];
	*p = (struct pending){.path = path, .flags = f, .writes = writes, .seq = log->next_seq++};
	log->held = (struct held){.kind = HELD_OPEN, .open_seq = p->seq};
	return 0;
}

static struct pending *pending_find_path(struct sftp_log *log, const char *path)
{
	for (size_t i = 0; i < log->n_pending; i++)
		if (strcmp(log->pending[i].path, path) == 0)
			return &log->pending[i];
	return NULL;
}

/* "close NAME ..." → upload/download of what was opened under that name (oldest first). */
static int handle_close(struct sftp_log *log, char *path, const char *suffix, size_t slen)
{
	/* suffix: " bytes read R written W" */
	const char *r = suffix + strlen(" bytes read ");
	const char *w = memmem(r, slen - (size_t)(r - suffix), " written ", 9);
	unsigned long long nread, nwritten;
	if (!w || !parse_ull(r, (size_t)(w - r), &nread) ||
	    !parse_ull(w + 9, slen - (size_t)(w + 9 - suffix), &nwritten))
		return -EINVAL;

	struct pending *p = pending_find_path(log, path);
	bool writes = p ? p->writes : nwritten > 0 || nread == 0;
	char *detail = NULL;
	bool failed = false;
	if (p) {
		detail = p->error ? p->error : p->flags;
		failed = p->error != NULL;
		if (p->error)
			p->error = NULL;
		else
			p->flags = NULL;
		pending_remove(log, p);
	} else
		detail = strdup("open not seen");
	hold_event(log, writes ? "upload" : "download", path, NULL, detail);
	log->held.has_bytes = true;
	log->held.bytes = writes ? nwritten : nread;
	log->held.failed = failed;
	return 0;
}

/* process_write: write "NAME": error — NAME cut to 100 bytes; marks the open file(s) it names. */
static bool handle_io_error(struct sftp_log *log, const char *rest, size_t len)
{
	const char *sep = NULL;
	for (size_t i = 0; i + 3 <= len; i++)
		if (memcmp(rest + i, "\": ", 3) == 0)
			sep = rest + i; /* the last one: strerror texts hold no quote */
	if (!sep)
		return false;
	char *name = vis_decode(rest, (size_t)(sep - rest));
	if (!name)
		return false;
	size_t rawlen = (size_t)(sep - rest);
	const char *msg = sep + 3;
	size_t msglen = len - (size_t)(msg - rest);
	bool any = false;
	for (size_t i = 0; i < log->n_pending; i++) {
		struct pending *p = &log->pending[i];
		bool match = rawlen >= SFTP_LOG_ERROR_NAME_MAX
				 ? strncmp(p->path, name, strlen(name)) == 0
				 : strcmp(p->path, name) == 0;
		if (match && !p->error) {
			p->error = strndup(msg, msglen);
			any = true;
		}
	}
	free(name);
	return any;
}

#define PREFIX(lit) starts_with(rec, len, lit, &plen)

static void process_record(struct sftp_log *log, const struct out *o, const char *rec, size_t len)
{
	size_t plen = 0;

	if (PREFIX("sent status ")) {
		char status[128];
		size_t n = len - plen < sizeof(status) - 1 ? len - plen : sizeof(status) - 1;
		memcpy(status, rec + plen, n);
		status[n] = '\0';
		held_resolve(log, o, status);
		return;
	}
	held_resolve(log, o, NULL);

	if (len >= SFTP_LOG_SERVER_CUT) {
		emit_unparsed(o, rec, len, "record may have been cut by sftp-server");
		return;
	}
	if (memchr(rec, '\0', len)) {
		emit_unparsed(o, rec, len, "record holds a NUL byte");
		return;
	}

	const char *why = "unknown record";
	char *name = NULL, *name2 = NULL;
	const char *sfx;
	size_t slen;

	if (PREFIX("session opened for local user ") || PREFIX("session closed for local user "))
		return;
	if (PREFIX("opendir \"") || PREFIX("closedir \"") || PREFIX("forced closedir \""))
		return;
	/* Requests logged at -l VERBOSE that change nothing: their own record takes any status that
	 * follows, so it is not blamed on the operation before them. */
	static const char *const neutral[] = {
	    "received client version ",
	    "realpath \"",
	    "stat name \"",
	    "lstat name \"",
	    "readlink \"",
	    "statvfs \"",
	    "expand \"",
	    "home-directory \"",
	    "fsync \"",
	};
	for (size_t i = 0; i < sizeof(neutral) / sizeof(neutral[0]); i++)
		if (PREFIX(neutral[i]))
			return;

	if (PREFIX("open \"")) {
		why = "bad open record";
		if (!split_one_name(rec + plen, len - plen, &name, &sfx, &slen))
			goto unparsed;
		if (!match_suffix(sfx, slen, " flags @ mode 0%"))
			goto unparsed;
		const char *f = sfx + strlen(" flags ");
		size_t flen =
		    (size_t)((const char *)memmem(f, slen - strlen(" flags "), " mode ", 6) - f);
		if (pending_add(log, o, name, f, flen) < 0) {
			why = "out of memory";
			goto unparsed;
		}
		return;
	}
	if (PREFIX("close \"") || PREFIX("forced close \"")) {
		why = "bad close record";
		if (!split_one_name(rec + plen, len - plen, &name, &sfx, &slen))
			goto unparsed;
		if (!match_suffix(sfx, slen, " bytes read # written #"))
			goto unparsed;
		if (handle_close(log, name, sfx, slen) < 0)
			goto unparsed;
		return;
	}
	if (PREFIX("set \"")) {
		why = "bad set record";
		if (!split_one_name(rec + plen, len - plen, &name, &sfx, &slen))
			goto unparsed;
		if (!match_suffix(sfx, slen, " size #") && !match_suffix(sfx, slen, " mode %") &&
		    !match_suffix(sfx, slen, " modtime #-#:#:#") &&
		    !match_suffix(sfx, slen, " owner # group #"))
			goto unparsed;
		hold_event(log, "setstat", name, NULL, strndup(sfx + 1, slen - 1));
		return;
	}
	static const struct {
		const char *prefix, *op, *suffix;
	} single[] = {
	    {"remove name \"", "remove", ""},
	    {"rmdir name \"", "rmdir", ""},
	    {"mkdir name \"", "mkdir", " mode 0%"},
	};
	for (size_t i = 0; i < sizeof(single) / sizeof(single[0]); i++) {
		if (!PREFIX(single[i].prefix))
			continue;
		why = "bad record";
		if (!split_one_name(rec + plen, len - plen, &name, &sfx, &slen))
			goto unparsed;
		if (!match_suffix(sfx, slen, single[i].suffix))
			goto unparsed;
		hold_event(log, single[i].op, name, NULL, slen ? strndup(sfx + 1, slen - 1) : NULL);
		return;
	}
	/* The created name is `new` for all four; for rename `old` is what disappeared. */
	static const struct {
		const char *prefix, *op;
		bool path_is_old;
	} pairs[] = {
	    {"rename old \"", "rename", true},
	    {"posix-rename old \"", "rename", true},
	    {"symlink old \"", "symlink", false},
	    {"hardlink old \"", "hardlink", false},
	};
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		if (!PREFIX(pairs[i].prefix))
			continue;
		why = "ambiguous or bad two-name record";
		if (!split_two_names(rec + plen, len - plen, &name, &name2))
			goto unparsed;
		if (pairs[i].path_is_old)
			hold_event(log, pairs[i].op, name, name2, NULL);
		else
			hold_event(log, pairs[i].op, name2, name, NULL);
		return;
	}
	if (PREFIX("process_write: write \"") || PREFIX("process_read: read \"")) {
		if (handle_io_error(log, rec + plen, len - plen))
			return;
		why = "I/O error for a file not tracked";
	}

unparsed:
	free(name);
	free(name2);
	emit_unparsed(o, rec, len, why);
}

/* A record too long to keep: like any record that is not a status, it ends the held event's
 * chance of a failure status, which would otherwise be blamed on the event before it. */
static void emit_overlong(struct sftp_log *log, const struct out *o, const char *rec)
{
	held_resolve(log, o, NULL);
	emit_unparsed(o, rec, SFTP_LOG_LINE_MAX, "record longer than 4096 bytes, cut");
}

int sftp_log_new(struct sftp_log **ret)
{
	struct sftp_log *log = calloc(1, sizeof(*log));
	if (!log)
		return -ENOMEM;
	*ret = log;
	return 0;
}

void sftp_log_feed_record(struct sftp_log *log, const char *data, size_t len, sftp_log_emit_fn emit,
			  void *ud)
{
	const struct out o = {emit, ud};
	if (len >= 2 && data[len - 2] == '\r' && data[len - 1] == '\n')
		len -= 2;
	else if (len >= 1 && data[len - 1] == '\n')
		len -= 1;
	if (len > SFTP_LOG_LINE_MAX) {
		emit_overlong(log, &o, data);
		return;
	}
	process_record(log, &o, data, len);
}

void sftp_log_feed(struct sftp_log *log, const char *data, size_t len, sftp_log_emit_fn emit,
		   void *ud)
{
	const struct out o = {emit, ud};
	for (size_t i = 0; i < len; i++) {
		char c = data[i];
		if (log->skipping) {
			if (c == '\n' && log->skip_cr)
				log->skipping = false;
			log->skip_cr = c == '\r';
			continue;
		}
		if (c == '\n' && log->len > 0 && log->line[log->len - 1] == '\r') {
			process_record(log, &o, log->line, log->len - 1);
			log->len = 0;
			continue;
		}
		/* line has room for the '\r' of a record of the longest length. */
		if (log->len == SFTP_LOG_LINE_MAX && c == '\r') {
			log->line[log->len++] = c;
			continue;
		}
		if (log->len >= SFTP_LOG_LINE_MAX) {
			emit_overlong(log, &o, log->line);
			log->skipping = true;
			log->skip_cr = c == '\r';
			log->len = 0;
			continue;
		}
		log->line[log->len++] = c;
	}
}

void sftp_log_finish(struct sftp_log *log, sftp_log_emit_fn emit, void *ud)
{
	const struct out o = {emit, ud};
	held_resolve(log, &o, NULL);
	if (log->len > 0)
		emit_unparsed(&o, log->line, log->len, "incomplete record at end of log");
	log->len = 0;
	log->skipping = false;
	while (log->n_pending > 0) {
		emit_unfinished(&o, &log->pending[0], "never closed");
		pending_remove(log, &log->pending[0]);
	}
}

void sftp_log_free(struct sftp_log *log)
{
	if (!log)
		return;
	held_clear(&log->held);
	while (log->n_pending > 0)
		pending_remove(log, &log->pending[0]);
	free(log);
}
