/* sftp-server's transaction log, written from inside the jail (untrusted: the names are the
 * student's). The input is cut at '\n' into records.
 *
 * - record mode (sftp_log_feed_record, one call per record) and stream mode (sftp_log_feed of
 *   the records joined with "\r\n", in chunks of varying sizes) must report the same file
 *   operations whenever no record holds "\r\n" or ends in '\r', the one case the stream cannot
 *   frame (see sftp_log.h);
 * - stream mode reports the same however the bytes are chunked;
 * - every operation names a known op and result and has a path. */
#include "config.h"

#include "sshd-module/sftp_log.h"
#include "tests/fuzz/fuzz.h"

#include <stdbool.h>
#include <string.h>

struct events {
	char *text;
	size_t len, size;
	size_t n;
};

static void append(struct events *e, const char *s, size_t len)
{
	if (e->len + len + 1 > e->size) {
		e->size = (e->len + len + 1) * 2;
		e->text = realloc(e->text, e->size);
		if (!e->text)
			abort();
	}
	memcpy(e->text + e->len, s, len);
	e->len += len;
	e->text[e->len] = '\0';
}

static bool one_of(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

static void collect(const struct sftp_file_op *op, void *ud)
{
	static const char *const ops[] = {"upload",   "download", "remove",  "rename",
					  "mkdir",    "rmdir",	  "setstat", "symlink",
					  "hardlink", "unparsed", NULL};
	static const char *const results[] = {"success", "failure", "error", NULL};
	struct events *e = ud;
	char bytes[32];

	FUZZ_ASSERT(op->op && one_of(op->op, ops), "op '%s'", op->op ? op->op : "(null)");
	FUZZ_ASSERT(op->result && one_of(op->result, results), "result '%s'",
		    op->result ? op->result : "(null)");
	FUZZ_ASSERT(op->path, "an operation without a path");
	FUZZ_ASSERT(op->has_bytes || op->bytes == 0, "bytes without has_bytes");
	snprintf(bytes, sizeof(bytes), "%d:%llu", op->has_bytes, op->bytes);
	append(e, op->op, strlen(op->op));
	append(e, "|", 1);
	append(e, op->path, strlen(op->path));
	append(e, "|", 1);
	if (op->target)
		append(e, op->target, strlen(op->target));
	append(e, "|", 1);
	if (op->detail)
		append(e, op->detail, strlen(op->detail));
	append(e, "|", 1);
	append(e, bytes, strlen(bytes));
	append(e, "|", 1);
	append(e, op->result, strlen(op->result));
	append(e, "\n", 1);
	e->n++;
}

static struct sftp_log *new_log(void)
{
	struct sftp_log *log;

	if (sftp_log_new(&log) < 0)
		abort();
	return log;
}

/* Feeds STREAM in chunks whose sizes come from a small generator seeded by SEED. */
static void feed_chunked(const char *stream, size_t len, unsigned seed, struct events *e)
{
	struct sftp_log *log = new_log();
	unsigned x = seed * 2654435761u + 1;

	for (size_t off = 0; off < len;) {
		x = x * 1103515245u + 12345u;
		size_t n = 1 + (x >> 16) % 97;
		if (n > len - off)
			n = len - off;
		sftp_log_feed(log, stream + off, n, collect, e);
		off += n;
	}
	sftp_log_finish(log, collect, e);
	sftp_log_free(log);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct events by_record = {0}, by_stream = {0}, by_chunks = {0};
	struct sftp_log *log = new_log();
	char *stream = malloc(2 * size + 2);
	size_t stream_len = 0;
	bool framable = true;

	if (!stream)
		abort();
	for (size_t start = 0; start <= size;) {
		const uint8_t *nl = memchr(data + start, '\n', size - start);
		size_t end = nl ? (size_t)(nl - data) : size;
		const char *rec = (const char *)data + start;
		size_t len = end - start;

		if (!nl && len == 0)
			break;
		sftp_log_feed_record(log, rec, len, collect, &by_record);
		/* Records sftp-server cannot write: "\r\n" inside, or an empty one (which the
		 * stream would not even see). */
		if (len == 0 || rec[len - 1] == '\r' || memmem(rec, len, "\r\n", 2))
			framable = false;
		memcpy(stream + stream_len, rec, len);
		stream_len += len;
		memcpy(stream + stream_len, "\r\n", 2);
		stream_len += 2;
		if (!nl)
			break;
		start = end + 1;
	}
	sftp_log_finish(log, collect, &by_record);
	sftp_log_free(log);

	log = new_log();
	sftp_log_feed(log, stream, stream_len, collect, &by_stream);
	sftp_log_finish(log, collect, &by_stream);
	sftp_log_free(log);
	feed_chunked(stream, stream_len, (unsigned)size, &by_chunks);

	FUZZ_ASSERT(
	    by_stream.len == by_chunks.len &&
		(by_stream.len == 0 || memcmp(by_stream.text, by_chunks.text, by_stream.len) == 0),
	    "chunking changed the events:\n%s---\n%s", by_stream.text ? by_stream.text : "",
	    by_chunks.text ? by_chunks.text : "");
	if (framable)
		FUZZ_ASSERT(by_record.len == by_stream.len &&
				(by_record.len == 0 ||
				 memcmp(by_record.text, by_stream.text, by_record.len) == 0),
			    "record and stream modes differ:\n%s---\n%s",
			    by_record.text ? by_record.text : "",
			    by_stream.text ? by_stream.text : "");
	free(by_record.text);
	free(by_stream.text);
	free(by_chunks.text);
	free(stream);
	return 0;
}
