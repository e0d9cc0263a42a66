/* Session recording in asciicast v2; see recording.h. */
#include "config.h"

#include "sshd-module/recording.h"

#include "common/asciicast.h"
#include "common/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct recording {
	int fd;
	struct timespec start; /* CLOCK_MONOTONIC at open */
	uint64_t written;      /* bytes in the file, all whole lines */
	uint64_t max_bytes;
	bool stopped; /* the cap was reached and the marker written */
	int error;    /* sticky -errno of a failed write */
	struct asciicast_utf8 out_state, in_state;
	struct asciicast_buf buf;
};

static uint64_t elapsed_usec(const struct recording *rec)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	int64_t us = (int64_t)(now.tv_sec - rec->start.tv_sec) * 1000000 +
		     (now.tv_nsec - rec->start.tv_nsec) / 1000;
	return us > 0 ? (uint64_t)us : 0;
}

/* Writes rec->buf whole; on failure cuts the file back to its last whole line. */
static int write_buf(struct recording *rec)
{
	size_t done = 0;
	while (done < rec->buf.len) {
		ssize_t n = write(rec->fd, rec->buf.data + done, rec->buf.len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rec->error = n < 0 ? -errno : -EIO;
			if (done > 0 && ftruncate(rec->fd, (off_t)rec->written) < 0) {
				/* Nothing more to do: the reader names the broken last line. */
			}
			return rec->error;
		}
		done += (size_t)n;
	}
	rec->written += done;
	return 0;
}

static int record_event(struct recording *rec, const char *code, struct asciicast_utf8 *state,
			const char *data, size_t len)
{
	uint64_t usec;
	int r;

	if (!rec)
		return -EINVAL;
	if (rec->error)
		return rec->error;
	if (rec->stopped || len == 0)
		return 0;
	usec = elapsed_usec(rec);
	rec->buf.len = 0;
	r = asciicast_format_event(&rec->buf, usec, code, state, data, len);
	if (r < 0)
		return r;
	if (r == 0 && state)
		return 0; /* only the start of a character: it comes out with the next bytes */
	if (rec->max_bytes && rec->written + rec->buf.len > rec->max_bytes) {
		rec->stopped = true;
		rec->buf.len = 0;
		r = asciicast_format_event(&rec->buf, usec, "o", NULL, RECORDING_STOPPED_MARKER,
					   strlen(RECORDING_STOPPED_MARKER));
		if (r < 0)
			return r;
	}
	return write_buf(rec);
}

int recording_output(struct recording *rec, const char *data, size_t len)
{
	return record_event(rec, "o", rec ? &rec->out_state : NULL, data, len);
}

int recording_input(struct recording *rec, const char *data, size_t len)
{
	return record_event(rec, "i", rec ? &rec->in_state : NULL, data, len);
}

int recording_resize(struct recording *rec, unsigned cols, unsigned rows)
{
	char size[32];
	int n = snprintf(size, sizeof(size), "%ux%u", cols, rows);
	return record_event(rec, "r", NULL, size, (size_t)n);
}

bool recording_stopped(const struct recording *rec)
{
	return rec && rec->stopped;
}

void recording_close(struct recording *rec)
{
	if (!rec)
		return;
	if (rec->fd >= 0) {
		(void)fsync(rec->fd);
		close(rec->fd);
	}
	free(rec->buf.data);
	free(rec);
}

static int append_str(struct asciicast_buf *b, const char *s)
{
	return asciicast_buf_append(b, s, strlen(s));
}

static int format_header(struct asciicast_buf *b, const struct recording_params *p)
{
	char num[128];
	int r;

	snprintf(num, sizeof(num),
		 "{\"version\": 2, \"width\": %u, \"height\": %u, \"timestamp\": %lld", p->cols,
		 p->rows, p->started_unix);
	if ((r = append_str(b, num)) < 0)
		return r;
	if (p->term) {
		if ((r = append_str(b, ", \"env\": {\"TERM\": \"")) < 0 ||
		    (r = asciicast_json_string(b, NULL, p->term, strlen(p->term))) < 0 ||
		    (r = append_str(b, "\"}")) < 0)
			return r;
	}
	if ((r = append_str(b, ", \"title\": \"")) < 0)
		return r;
	if (p->user && ((r = asciicast_json_string(b, NULL, p->user, strlen(p->user))) < 0 ||
			(r = append_str(b, " ")) < 0))
		return r;
	if ((r = append_str(b, "session ")) < 0 ||
	    (r = asciicast_json_string(b, NULL, p->session_id, strlen(p->session_id))) < 0 ||
	    (r = append_str(b, "\"}\n")) < 0)
		return r;
	return 0;
}

int recording_open(const struct recording_params *p, struct recording **ret, sbx_error *err)
{
	_cleanup_close_ int dfd = -1;
	_cleanup_close_ int fd = -1;
	char name[NAME_MAX + 1];
	struct stat st;
	int r, n;

	*ret = NULL;
	if (!p->dir || !p->session_id || !*p->session_id || strchr(p->session_id, '/') ||
	    strstr(p->session_id, ".."))
		return sbx_error_set(err, EINVAL, "recording: bad session id");
	n = snprintf(name, sizeof(name), "%s-%u.cast", p->session_id, p->channel);
	if (n < 0 || (size_t)n >= sizeof(name))
		return sbx_error_set(err, ENAMETOOLONG, "recording: session id too long");

	if (mkdir(p->dir, 0700) < 0 && errno != EEXIST)
		return sbx_error_errno(err, errno, "recording: cannot create %s", p->dir);
	dfd = open(p->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return sbx_error_errno(err, errno, "recording: cannot open %s", p->dir);
	if (fstat(dfd, &st) < 0)
		return sbx_error_errno(err, errno, "recording: %s", p->dir);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return sbx_error_set(err, EPERM, "recording: %s is writable by others", p->dir);

	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return sbx_error_errno(err, errno, "recording: cannot create %s/%s", p->dir, name);

	struct recording *rec = calloc(1, sizeof(*rec));
	if (!rec)
		return sbx_error_errno(err, ENOMEM, "recording");
	rec->fd = TAKE_FD(fd);
	rec->max_bytes = p->max_bytes;
	clock_gettime(CLOCK_MONOTONIC, &rec->start);
	r = format_header(&rec->buf, p);
	if (r >= 0)
		r = write_buf(rec);
	if (r < 0) {
		(void)unlinkat(dfd, name, 0);
		recording_close(rec);
		return sbx_error_errno(err, -r, "recording: cannot write %s/%s", p->dir, name);
	}
	*ret = rec;
	return 0;
}
