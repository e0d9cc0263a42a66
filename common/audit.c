/* The audit writer. The file sink is shared by every process that writes (the listener and one
 * monitor per connection), so each record is appended with ONE write() while holding flock() on
 * the file: lines never interleave and seq/prev stay one chain. Each process caches the last
 * seq/hash with the file size it saw after its own write; under the lock, a different size (or a
 * different inode behind the path) means someone else wrote or the file was rotated, and the
 * tail is read again. flock() belongs to the open file description, which fork() shares, so a
 * child reopens the file before its first record. */
#include "config.h"

#include "common/audit.h"

#include "common/audit_record.h"
#include "common/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#define AUDIT_FLOODS 32
#define AUDIT_FLOOD_QUIET_USEC 1000000ULL /* a flood has stopped after 1 s without drops */
#define AUDIT_DISK_CHECK_USEC 1000000ULL  /* statvfs at most once a second */
#define AUDIT_BATCH_SYNC_USEC 1000000ULL
#define AUDIT_TAIL_MAX (4 * 1024 * 1024) /* a last "line" longer than this is not ours */
#define AUDIT_ID_MAX 64
#define AUDIT_JOURNAL_SOCKET "/run/systemd/journal/socket"

struct audit_flood {
	bool used;
	enum audit_event event;
	char session[AUDIT_ID_MAX];
	char user[AUDIT_ID_MAX];
	struct audit_bucket bucket;
	unsigned long long suppressed;
	uint64_t last_drop_usec;
	uint64_t last_use_usec;
};

struct audit {
	bool journal;
	char *path; /* NULL: no file sink */
	int fd;
	pid_t pid; /* the process that opened fd */
	enum audit_fsync fsync;
	int min_free_percent;
	double rate, burst;

	/* The chain as this process last saw it. */
	bool have_last;
	uint64_t last_seq;
	char last_hash[SHA256_HEX_SIZE];
	bool cache_valid;
	off_t cached_size;
	bool rotation_pending; /* audit_reopen: an empty new file continues the old chain */

	uint64_t last_sync_usec;
	bool sync_pending;
	uint64_t disk_checked_usec;
	bool disk_low;
	unsigned long long disk_dropped_pending;

	struct audit_flood floods[AUDIT_FLOODS];
	struct audit_stats stats;
	struct audit_buf line;
};

static uint64_t now_realtime_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static int lock_fd(int fd)
{
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

static int open_file(const char *path, sbx_error *err)
{
	int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, 0640);
	if (fd < 0 && errno == ENOENT) {
		/* The directory (/var/log/sandboxd) may not exist on a fresh install. */
		_cleanup_free_ char *dir = strdup(path);
		char *slash = dir ? strrchr(dir, '/') : NULL;
		if (slash && slash != dir) {
			*slash = '\0';
			if (mkdir(dir, 0750) < 0 && errno != EEXIST)
				return sbx_error_errno(err, errno, "creating %s", dir);
		}
		fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW,
			  0640);
	}
	if (fd < 0)
		return sbx_error_errno(err, errno, "opening audit file %s", path);
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return sbx_error_set(err, EINVAL, "audit file %s is not a regular file", path);
	}
	return fd;
}

/* Reads the last line of fd (size bytes) into *ret; *ret_torn when it lacks its "\n". */
static int read_last_line(int fd, off_t size, struct audit_buf *ret, bool *ret_torn)
{
	char c;
	off_t end = size;
	ret->len = 0;
	if (pread(fd, &c, 1, size - 1) != 1)
		return -EIO;
	*ret_torn = c != '\n';
	if (!*ret_torn)
		end--;
	off_t start = end;
	char chunk[4096];
	while (start > 0 && end - start < AUDIT_TAIL_MAX) {
		size_t n = start >= (off_t)sizeof(chunk) ? sizeof(chunk) : (size_t)start;
		ssize_t got = pread(fd, chunk, n, start - (off_t)n);
		if (got != (ssize_t)n)
			return got < 0 ? -errno : -EIO;
		char *nl = memrchr(chunk, '\n', n);
		if (nl) {
			start = start - (off_t)n + (nl - chunk) + 1;
			break;
		}
		start -= (off_t)n;
	}
	if (end - start >= AUDIT_TAIL_MAX)
		return -EFBIG;
	size_t len = (size_t)(end - start);
	char *data = malloc(len + 1);
	if (!data)
		return -ENOMEM;
	if (len && pread(fd, data, len, start) != (ssize_t)len) {
		free(data);
		return -EIO;
	}
	data[len] = '\0';
	audit_buf_free(ret);
	*ret = (struct audit_buf){.data = data, .len = len, .cap = len + 1};
	return 0;
}

/* Refreshes last_seq/last_hash from the file's tail (under the lock). */
static int sync_tail(struct audit *a, int fd, off_t size, bool *ret_torn)
{
	struct audit_buf tail = {0};
	*ret_torn = false;
	if (size == 0)
		return 0;
	int r = read_last_line(fd, size, &tail, ret_torn);
	if (r < 0) {
		audit_buf_free(&tail);
		return r;
	}
	struct audit_record rec;
	char computed[SHA256_HEX_SIZE], claimed[SHA256_HEX_SIZE];
	if (audit_record_parse(tail.data, tail.len, &rec) == 0 &&
	    audit_line_hash(tail.data, tail.len, computed, claimed) == 0) {
		a->last_seq = rec.seq;
		memcpy(a->last_hash, claimed, sizeof(a->last_hash));
		audit_record_free(&rec);
	} else {
		/* Not a record of ours (torn or edited): chain to its bytes; --verify will name it.
		 */
		sha256_hex(tail.data, tail.len, a->last_hash);
	}
	a->have_last = true;
	audit_buf_free(&tail);
	return 0;
}

static int file_reopen_locked_fd(struct audit *a, sbx_error *err)
{
	int fd = open_file(a->path, err);
	if (fd < 0)
		return fd;
	if (a->fd >= 0)
		close(a->fd);
	a->fd = fd;
	a->pid = getpid();
	a->cache_valid = false;
	return 0;
}

static bool same_file(const struct stat *x, const struct stat *y)
{
	return x->st_dev == y->st_dev && x->st_ino == y->st_ino;
}

/* Under the lock of a->fd: if the path now names another file (renamed by logrotate), takes the
 * old file's final hash, switches to the new file and locks it. *ret_rotated is set then. */
static int follow_rename(struct audit *a, bool *ret_rotated)
{
	struct stat by_path, by_fd;
	*ret_rotated = false;
	if (fstat(a->fd, &by_fd) < 0)
		return -errno;
	if (stat(a->path, &by_path) == 0 && same_file(&by_path, &by_fd))
		return 0;
	bool torn;
	if (!a->cache_valid || by_fd.st_size != a->cached_size)
		(void)sync_tail(a, a->fd, by_fd.st_size, &torn);
	int r = file_reopen_locked_fd(a, NULL);
	if (r < 0)
		return r;
	*ret_rotated = a->have_last;
	return lock_fd(a->fd);
}

/* A new, empty file without a chain to continue in this process: if logrotate's "<file>.1" is
 * there (rotated while no writer had the file open, e.g. with the daemon stopped), continue its
 * chain. Taking its lock while holding the new file's is safe: nobody holds an old file's lock
 * while waiting for a new one's (follow_rename lets go first). */
static bool continue_predecessor(struct audit *a)
{
	_cleanup_free_ char *old = NULL;
	if (asprintf(&old, "%s.1", a->path) < 0)
		return false;
	_cleanup_close_ int fd = open(old, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	struct stat st;
	bool torn;
	int r = -1;
	if (fd < 0 || lock_fd(fd) < 0)
		return false;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
		r = sync_tail(a, fd, st.st_size, &torn);
	(void)flock(fd, LOCK_UN);
	return r == 0;
}

static int file_append(struct audit *a, const struct audit_event_info *ev,
		       const struct audit_field *fields, size_t n, uint64_t now)
{
	int r;
	bool rotated = false, torn = false;
	struct stat st;
	char time[AUDIT_TIME_SIZE], prev[AUDIT_PREV_SIZE], hash[SHA256_HEX_SIZE];

	if (a->fd < 0 || a->pid != getpid()) {
		if ((r = file_reopen_locked_fd(a, NULL)) < 0)
			return r;
	}
	if ((r = lock_fd(a->fd)) < 0)
		return r;
	if ((r = follow_rename(a, &rotated)) < 0)
		goto out;
	if (fstat(a->fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (st.st_size == 0) {
		/* A new file: after a rotation (renamed, or truncated under us) it continues the
		 * chain of the file before it; otherwise it starts a new trail. */
		rotated = rotated || (a->have_last && (a->rotation_pending ||
						       (a->cache_valid && a->cached_size > 0)));
		if (!rotated) {
			a->have_last = false;
			a->last_seq = 0;
			rotated = continue_predecessor(a);
		}
	} else if (!a->cache_valid || st.st_size != a->cached_size) {
		if ((r = sync_tail(a, a->fd, st.st_size, &torn)) < 0)
			goto out;
		rotated = false;
	}
	a->rotation_pending = false;
	if (rotated)
		snprintf(prev, sizeof(prev), "%s%s", AUDIT_ROTATED_PREFIX, a->last_hash);
	else
		snprintf(prev, sizeof(prev), "%s",
			 a->have_last ? a->last_hash : AUDIT_GENESIS_PREV);

	audit_format_time(now, time);
	a->line.len = 0;
	struct audit_buf rec = {0};
	r = audit_record_encode(&rec, a->last_seq + 1, time, ev, fields, n, prev, hash);
	if (r == 0 && torn)
		r = audit_buf_append(&a->line, "\n", 1);
	if (r == 0)
		r = audit_buf_append(&a->line, rec.data, rec.len);
	audit_buf_free(&rec);
	if (r < 0)
		goto out;

	ssize_t w = write(a->fd, a->line.data, a->line.len);
	if (w != (ssize_t)a->line.len) {
		r = w < 0 ? -errno : -ENOSPC;
		/* Never leave half a line for the next writer to chain to. */
		if (w > 0 && ftruncate(a->fd, st.st_size) < 0)
			a->cache_valid = false;
		goto out;
	}
	a->last_seq++;
	memcpy(a->last_hash, hash, sizeof(hash));
	a->have_last = true;
	a->cached_size = st.st_size + (off_t)a->line.len;
	a->cache_valid = true;
	if (a->fsync == AUDIT_FSYNC_EVERY ||
	    (a->fsync == AUDIT_FSYNC_BATCH && now - a->last_sync_usec >= AUDIT_BATCH_SYNC_USEC)) {
		(void)fdatasync(a->fd);
		a->last_sync_usec = now;
		a->sync_pending = false;
	} else if (a->fsync == AUDIT_FSYNC_BATCH) {
		a->sync_pending = true;
	}
	r = 0;
out:
	(void)flock(a->fd, LOCK_UN);
	if (r < 0)
		a->cache_valid = false;
	return r;
}

static int build_message(struct audit_buf *b, const struct audit_event_info *ev,
			 const struct audit_field *fields, size_t n)
{
	int r = 0;
	b->len = 0;
	if (ev->event == AUDIT_EVENTS_SUPPRESSED) {
		const char *count = "?", *what = "similar";
		for (size_t i = 0; i < n; i++) {
			if (strcmp(fields[i].key, "SANDBOX_COUNT") == 0)
				count = fields[i].value;
			else if (strcmp(fields[i].key, "SANDBOX_SUPPRESSED_EVENT") == 0)
				what = fields[i].value;
		}
		char head[160];
		snprintf(head, sizeof(head), "%s similar %s events suppressed", count, what);
		r = audit_buf_puts(b, head);
	} else {
		r = audit_buf_puts(b, ev->summary);
	}
	for (size_t i = 0; r == 0 && i < n; i++) {
		char name[AUDIT_ID_MAX];
		audit_field_short_name(fields[i].key, name, sizeof(name));
		if ((r = audit_buf_puts(b, " ")) < 0 || (r = audit_buf_puts(b, name)) < 0 ||
		    (r = audit_buf_puts(b, "=")) < 0)
			break;
		r = audit_format_value(b, fields[i].value, strlen(fields[i].value));
	}
	return r;
}

static int journal_send(struct audit *a, const struct audit_event_info *ev,
			const struct audit_field *fields, size_t n)
{
	struct audit_buf msg = {0};
	char mid[64], prio[32], evname[96];
	struct iovec iov[AUDIT_FIELDS_MAX + 8];
	_cleanup_free_ char *strings = NULL;
	size_t k = 0;
	int r = build_message(&msg, ev, fields, n);
	if (r < 0)
		goto out;
	snprintf(mid, sizeof(mid), "MESSAGE_ID=%s", ev->message_id);
	snprintf(prio, sizeof(prio), "PRIORITY=%d", ev->priority);
	snprintf(evname, sizeof(evname), "SANDBOX_EVENT=%s", ev->name);
	iov[k++] = (struct iovec){mid, strlen(mid)};
	iov[k++] = (struct iovec){prio, strlen(prio)};
	iov[k++] = (struct iovec){evname, strlen(evname)};
	iov[k++] = (struct iovec){(char *)"SYSLOG_IDENTIFIER=sandboxd", 26};
	/* "MESSAGE=" and every "KEY=value" as one allocation each would be simpler; one buffer
	 * with offsets keeps it to a single malloc. */
	size_t total = strlen("MESSAGE=") + msg.len + 1;
	for (size_t i = 0; i < n; i++)
		total += strlen(fields[i].key) + 1 + strlen(fields[i].value) + 1;
	strings = malloc(total);
	if (!strings) {
		r = -ENOMEM;
		goto out;
	}
	char *p = strings;
	p += sprintf(p, "MESSAGE=%s", msg.data);
	iov[k++] = (struct iovec){strings, (size_t)(p - strings)};
	p++;
	for (size_t i = 0; i < n; i++) {
		char *start = p;
		size_t kl = strlen(fields[i].key), vl = strlen(fields[i].value);
		memcpy(p, fields[i].key, kl);
		p += kl;
		*p++ = '=';
		memcpy(p, fields[i].value, vl);
		p += vl;
		iov[k++] = (struct iovec){start, (size_t)(p - start)};
		*p++ = '\0';
	}
	r = sd_journal_sendv(iov, (int)k);
	/* libsystemd drops records silently when the socket is missing; count that too. */
	if (r == 0 && access(AUDIT_JOURNAL_SOCKET, F_OK) < 0)
		r = -errno;
out:
	audit_buf_free(&msg);
	return r;
}

/* Writes one record to every enabled sink; fields are already checked. */
static int write_record(struct audit *a, const struct audit_event_info *ev,
			const struct audit_field *fields, size_t n, uint64_t now)
{
	int file_r = 0;
	bool taken = false;
	if (a->path) {
		file_r = file_append(a, ev, fields, n, now);
		if (file_r < 0)
			a->stats.file_errors++;
		else
			taken = true;
	}
	if (a->journal) {
		if (journal_send(a, ev, fields, n) < 0)
			a->stats.journal_errors++;
		else
			taken = true;
	}
	if (taken)
		a->stats.written++;
	return file_r < 0 ? file_r : (taken || (!a->path && !a->journal)) ? 0 : -EIO;
}

static void write_summary(struct audit *a, const char *user, const char *session,
			  enum audit_event what, unsigned long long count, const char *reason)
{
	char num[32];
	snprintf(num, sizeof(num), "%llu", count);
	struct audit_field f[5];
	size_t n = 0;
	if (user && *user)
		f[n++] = (struct audit_field){"SANDBOX_USER", user};
	if (session && *session)
		f[n++] = (struct audit_field){"SANDBOX_SESSION", session};
	f[n++] = (struct audit_field){"SANDBOX_SUPPRESSED_EVENT", audit_event_name(what)};
	f[n++] = (struct audit_field){"SANDBOX_COUNT", num};
	f[n++] = (struct audit_field){"SANDBOX_REASON", reason};
	(void)write_record(a, audit_event_info(AUDIT_EVENTS_SUPPRESSED), f, n, now_realtime_usec());
}

static void flood_summarise(struct audit *a, struct audit_flood *fl)
{
	if (fl->suppressed) {
		write_summary(a, fl->user, fl->session, fl->event, fl->suppressed, "rate-limit");
		fl->suppressed = 0;
	}
}

static struct audit_flood *flood_get(struct audit *a, enum audit_event event, const char *session,
				     const char *user, uint64_t now)
{
	struct audit_flood *free_slot = NULL, *oldest = NULL;
	for (size_t i = 0; i < AUDIT_FLOODS; i++) {
		struct audit_flood *fl = &a->floods[i];
		if (!fl->used) {
			if (!free_slot)
				free_slot = fl;
			continue;
		}
		if (fl->event == event &&
		    strncmp(fl->session, session, sizeof(fl->session) - 1) == 0)
			return fl;
		if (!oldest || fl->last_use_usec < oldest->last_use_usec)
			oldest = fl;
	}
	struct audit_flood *fl = free_slot;
	if (!fl) {
		/* Bounded memory: the least recently used bucket gives way, summary first. */
		fl = oldest;
		flood_summarise(a, fl);
	}
	memset(fl, 0, sizeof(*fl));
	fl->used = true;
	fl->event = event;
	snprintf(fl->session, sizeof(fl->session), "%s", session);
	snprintf(fl->user, sizeof(fl->user), "%s", user ? user : "");
	audit_bucket_init(&fl->bucket, a->burst, now);
	return fl;
}

static bool disk_is_low(struct audit *a, uint64_t now)
{
	if (!a->path || a->fd < 0 || a->min_free_percent < 0)
		return false;
	if (a->disk_checked_usec && now - a->disk_checked_usec < AUDIT_DISK_CHECK_USEC)
		return a->disk_low;
	struct statvfs sv;
	a->disk_checked_usec = now;
	if (fstatvfs(a->fd, &sv) == 0 && sv.f_blocks > 0)
		a->disk_low = (unsigned long long)sv.f_bavail * 100 <
			      (unsigned long long)sv.f_blocks * (unsigned)a->min_free_percent;
	return a->disk_low;
}

static const char *field_value(const struct audit_field *fields, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (fields[i].value && strcmp(fields[i].key, key) == 0)
			return fields[i].value;
	return NULL;
}

int audit_emit(struct audit *a, enum audit_event event, const struct audit_field *fields, size_t n)
{
	const struct audit_event_info *ev = audit_event_info(event);
	if (!a || !ev || (n && !fields))
		return -EINVAL;
	uint64_t now = now_realtime_usec();

	/* Copy the fields that are there, cut over-long values, and mark untrusted ones. */
	struct audit_field f[AUDIT_FIELDS_MAX + 2];
	char *cut[AUDIT_FIELDS_MAX] = {0};
	size_t m = 0, ncut = 0;
	int r = 0;
	bool truncated = false;
	for (size_t i = 0; i < n; i++) {
		if (!audit_field_key_valid(fields[i].key))
			return -EINVAL;
		if (!fields[i].value ||
		    (ev->untrusted && strcmp(fields[i].key, "SANDBOX_UNTRUSTED") == 0))
			continue;
		if (m >= AUDIT_FIELDS_MAX) {
			r = -E2BIG;
			goto out;
		}
		f[m] = fields[i];
		if (strlen(fields[i].value) > AUDIT_VALUE_MAX) {
			cut[ncut] = strndup(fields[i].value, AUDIT_VALUE_MAX);
			if (!cut[ncut]) {
				r = -ENOMEM;
				goto out;
			}
			f[m].value = cut[ncut++];
			truncated = true;
		}
		m++;
	}
	if (truncated)
		f[m++] = (struct audit_field){"SANDBOX_TRUNCATED", "1"};
	if (ev->untrusted)
		f[m++] = (struct audit_field){"SANDBOX_UNTRUSTED", "1"};

	if (ev->untrusted) {
		const char *session = field_value(f, m, "SANDBOX_SESSION");
		const char *user = field_value(f, m, "SANDBOX_USER");
		struct audit_flood *fl = flood_get(a, event, session ? session : "", user, now);
		fl->last_use_usec = now;
		if (!audit_bucket_take(&fl->bucket, a->rate, a->burst, now)) {
			fl->suppressed++;
			fl->last_drop_usec = now;
			a->stats.suppressed++;
			goto out;
		}
		flood_summarise(a, fl);
		if (disk_is_low(a, now)) {
			a->disk_dropped_pending++;
			a->stats.disk_dropped++;
			goto out;
		}
	}
	r = write_record(a, ev, f, m, now);
out:
	for (size_t i = 0; i < ncut; i++)
		free(cut[i]);
	return r;
}

int audit_emitf(struct audit *a, enum audit_event event, ...)
{
	struct audit_field f[AUDIT_FIELDS_MAX + 1];
	size_t n = 0;
	va_list ap;
	va_start(ap, event);
	for (;;) {
		const char *key = va_arg(ap, const char *);
		if (!key)
			break;
		const char *value = va_arg(ap, const char *);
		if (n >= ELEMENTSOF(f)) {
			va_end(ap);
			return -E2BIG;
		}
		f[n++] = (struct audit_field){key, value};
	}
	va_end(ap);
	return audit_emit(a, event, f, n);
}

int audit_writer_open(const struct audit_sink_config *config, struct audit **ret, sbx_error *err)
{
	struct audit *a = calloc(1, sizeof(*a));
	if (!a)
		return sbx_error_set(err, ENOMEM, "allocating the audit writer");
	a->fd = -1;
	a->journal = config->journal;
	a->fsync = config->fsync;
	a->min_free_percent = config->min_free_percent ? config->min_free_percent : 5;
	a->rate = config->untrusted_rate > 0 ? config->untrusted_rate : 20.0;
	a->burst = config->untrusted_burst >= 1 ? config->untrusted_burst : 50.0;
	if (config->file) {
		a->path = strdup(config->file);
		if (!a->path) {
			free(a);
			return sbx_error_set(err, ENOMEM, "allocating the audit writer");
		}
		int r = file_reopen_locked_fd(a, err);
		if (r < 0) {
			free(a->path);
			free(a);
			return r;
		}
	}
	*ret = a;
	return 0;
}

int audit_reopen(struct audit *a, sbx_error *err)
{
	if (!a || !a->path)
		return 0;
	/* Keep the chain: take the old file's final hash before letting go of it. */
	if (a->fd >= 0 && a->pid == getpid() && lock_fd(a->fd) == 0) {
		struct stat st;
		bool torn;
		if (fstat(a->fd, &st) == 0 && (!a->cache_valid || st.st_size != a->cached_size))
			(void)sync_tail(a, a->fd, st.st_size, &torn);
		if (fstat(a->fd, &st) == 0) {
			a->cached_size = st.st_size;
			a->cache_valid = true;
		}
		(void)flock(a->fd, LOCK_UN);
	}
	int r = file_reopen_locked_fd(a, err);
	if (r < 0)
		return r;
	a->rotation_pending = a->have_last;
	return 0;
}

void audit_flush(struct audit *a)
{
	if (!a)
		return;
	uint64_t now = now_realtime_usec();
	for (size_t i = 0; i < AUDIT_FLOODS; i++) {
		struct audit_flood *fl = &a->floods[i];
		if (!fl->used)
			continue;
		if (fl->suppressed && now - fl->last_drop_usec >= AUDIT_FLOOD_QUIET_USEC)
			flood_summarise(a, fl);
		if (!fl->suppressed && now - fl->last_use_usec >= 60 * 1000000ULL)
			fl->used = false;
	}
	if (a->disk_dropped_pending && !disk_is_low(a, now)) {
		write_summary(a, NULL, NULL, AUDIT_RUNNER_REPORT, a->disk_dropped_pending,
			      "low-disk-space");
		a->disk_dropped_pending = 0;
	}
	if (a->sync_pending && a->fd >= 0) {
		(void)fdatasync(a->fd);
		a->sync_pending = false;
		a->last_sync_usec = now;
	}
}

void audit_session_end(struct audit *a, const char *session)
{
	if (!a || !session)
		return;
	for (size_t i = 0; i < AUDIT_FLOODS; i++) {
		struct audit_flood *fl = &a->floods[i];
		if (fl->used && strncmp(fl->session, session, sizeof(fl->session) - 1) == 0) {
			flood_summarise(a, fl);
			fl->used = false;
		}
	}
}

void audit_writer_close(struct audit *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < AUDIT_FLOODS; i++)
		if (a->floods[i].used)
			flood_summarise(a, &a->floods[i]);
	if (a->disk_dropped_pending)
		write_summary(a, NULL, NULL, AUDIT_RUNNER_REPORT, a->disk_dropped_pending,
			      "low-disk-space");
	if (a->fd >= 0) {
		if (a->fsync != AUDIT_FSYNC_NEVER && a->pid == getpid())
			(void)fdatasync(a->fd);
		close(a->fd);
	}
	audit_buf_free(&a->line);
	free(a->path);
	free(a);
}

void audit_get_stats(const struct audit *a, struct audit_stats *ret)
{
	*ret = a->stats;
}
