/* sandboxctl audit: reads the audit trail from the JSON-lines file or the journal, filters,
 * follows, and verifies the file's hash chain. Every value read is untrusted (a file name, what a
 * student's program reported, or an edited file): human output escapes all of it. Access is the
 * file's and the journal's own permissions. */
#include "config.h"

#include "admin/ctl_commands.h"
#include "admin/ctl_util.h"
#include "common/audit.h"
#include "common/audit_record.h"
#include "common/cleanup.h"
#include "common/escape.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#define AUDIT_MAX_FILES 16
#define FOLLOW_POLL_MS 250

struct audit_filter {
	const char *user;
	const char *session;
	const struct audit_event_info *event;
	uint64_t since, until; /* 0: no bound */
	bool json;
	bool follow;
};

static volatile sig_atomic_t stop_following;

static void on_stop(int sig)
{
	stop_following = 1;
}

static uint64_t now_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static bool value_is(const struct audit_record *rec, const char *key, const char *want)
{
	const struct audit_kv *kv = audit_record_field(rec, key);
	return kv && kv->value_len == strlen(want) && memcmp(kv->value, want, kv->value_len) == 0;
}

static bool record_matches(const struct audit_record *rec, uint64_t t, const struct audit_filter *f)
{
	if (f->user && !value_is(rec, "SANDBOX_USER", f->user))
		return false;
	if (f->session && !value_is(rec, "SANDBOX_SESSION", f->session))
		return false;
	if (f->event && strcmp(rec->event, f->event->name) != 0)
		return false;
	if (f->since && t < f->since)
		return false;
	if (f->until && t > f->until)
		return false;
	return true;
}

static int append_field(struct audit_buf *b, const struct audit_kv *kv)
{
	char name[80];
	int r;
	audit_field_short_name(kv->key, name, sizeof(name));
	if ((r = audit_buf_puts(b, " ")) < 0 ||
	    (r = audit_format_value(b, name, strlen(name))) < 0 || (r = audit_buf_puts(b, "=")) < 0)
		return r;
	return audit_format_value(b, kv->value, kv->value_len);
}

/* TIME EVENT user=U session=S key=value...: every piece escaped. */
static int print_human(const struct audit_record *rec)
{
	struct audit_buf b = {0};
	int r = audit_format_value(&b, rec->time, strlen(rec->time));
	if (r == 0)
		r = audit_buf_puts(&b, " ");
	if (r == 0)
		r = audit_format_value(&b, rec->event, strlen(rec->event));
	static const char *const first[] = {"SANDBOX_USER", "SANDBOX_SESSION"};
	for (size_t i = 0; r == 0 && i < ELEMENTSOF(first); i++) {
		const struct audit_kv *kv = audit_record_field(rec, first[i]);
		if (kv)
			r = append_field(&b, kv);
	}
	for (size_t i = 0; r == 0 && i < rec->n_fields; i++) {
		const struct audit_kv *kv = &rec->fields[i];
		if (strcmp(kv->key, first[0]) != 0 && strcmp(kv->key, first[1]) != 0)
			r = append_field(&b, kv);
	}
	if (r == 0)
		printf("%s\n", b.data);
	audit_buf_free(&b);
	return r;
}

/* A record from the journal in the file's JSON shape (without seq, prev, hash). */
static int print_json_record(const struct audit_record *rec)
{
	struct audit_buf b = {0};
	int r = audit_buf_puts(&b, "{\"time\":");
	if (r == 0)
		r = audit_json_escape(&b, rec->time, strlen(rec->time));
	if (r == 0)
		r = audit_buf_puts(&b, ",\"event\":");
	if (r == 0)
		r = audit_json_escape(&b, rec->event, strlen(rec->event));
	if (r == 0)
		r = audit_buf_puts(&b, ",\"message_id\":");
	if (r == 0)
		r = audit_json_escape(&b, rec->message_id, strlen(rec->message_id));
	if (r == 0)
		r = audit_buf_puts(&b, ",\"fields\":{");
	for (size_t i = 0; r == 0 && i < rec->n_fields; i++) {
		if (i)
			r = audit_buf_puts(&b, ",");
		if (r == 0)
			r = audit_json_escape(&b, rec->fields[i].key, strlen(rec->fields[i].key));
		if (r == 0)
			r = audit_buf_puts(&b, ":");
		if (r == 0)
			r = audit_json_escape(&b, rec->fields[i].value, rec->fields[i].value_len);
	}
	if (r == 0)
		r = audit_buf_puts(&b, "}}");
	if (r == 0)
		printf("%s\n", b.data);
	audit_buf_free(&b);
	return r;
}

static bool printable_ascii(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

static void show_line(const char *path, unsigned long long lineno, const char *line, size_t len,
		      const struct audit_filter *f)
{
	struct audit_record rec;
	uint64_t t = 0;
	if (len == 0)
		return;
	if (audit_record_parse(line, len, &rec) < 0) {
		ctl_warning("%s line %llu: not a valid record, skipped", path, lineno);
		return;
	}
	if (audit_parse_iso_time(rec.time, &t) < 0)
		ctl_warning("%s line %llu: bad time, shown unfiltered by time", path, lineno);
	if (record_matches(&rec, t ? t : f->since, f)) {
		if (!f->json) {
			print_human(&rec);
		} else if (printable_ascii(line, len)) {
			printf("%.*s\n", (int)len, line);
		} else {
			/* Our writer never writes such a line; an edited file might. */
			print_json_record(&rec);
		}
	}
	audit_record_free(&rec);
}

/* Reads lines from fd, calling show_line for each complete one; the partial tail stays in buf. */
struct line_reader {
	struct audit_buf buf;
	unsigned long long lineno;
};

static int reader_feed(struct line_reader *lr, int fd, const char *path,
		       const struct audit_filter *f, bool *ret_eof)
{
	char chunk[65536];
	ssize_t n = read(fd, chunk, sizeof(chunk));
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	*ret_eof = n == 0;
	if (n == 0)
		return 0;
	int r = audit_buf_append(&lr->buf, chunk, (size_t)n);
	if (r < 0)
		return r;
	size_t start = 0;
	for (;;) {
		char *nl = memchr(lr->buf.data + start, '\n', lr->buf.len - start);
		if (!nl)
			break;
		size_t len = (size_t)(nl - (lr->buf.data + start));
		show_line(path, ++lr->lineno, lr->buf.data + start, len, f);
		start += len + 1;
	}
	memmove(lr->buf.data, lr->buf.data + start, lr->buf.len - start);
	lr->buf.len -= start;
	lr->buf.data[lr->buf.len] = '\0';
	return 0;
}

static int open_audit_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		ctl_error("cannot open %s: %s", path, strerror(errno));
	return fd;
}

static int show_file(const char *path, const struct audit_filter *f, bool follow)
{
	_cleanup_close_ int fd = open_audit_file(path);
	struct line_reader lr = {0};
	int ret = CTL_EXIT_OK;
	if (fd < 0)
		return CTL_EXIT_FAILURE;
	for (;;) {
		bool eof = false;
		int r = reader_feed(&lr, fd, path, f, &eof);
		if (r < 0) {
			ctl_error("reading %s: %s", path, strerror(-r));
			ret = CTL_EXIT_FAILURE;
			break;
		}
		if (!eof)
			continue;
		fflush(stdout);
		if (!follow || stop_following)
			break;
		/* Rotated (renamed or truncated)? Continue with the file now at the path. */
		struct stat by_fd, by_path;
		if (fstat(fd, &by_fd) == 0 && stat(path, &by_path) == 0 &&
		    (by_fd.st_ino != by_path.st_ino || by_fd.st_dev != by_path.st_dev ||
		     by_path.st_size < lseek(fd, 0, SEEK_CUR))) {
			int nfd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
			if (nfd >= 0) {
				/* What the old file got after our last read was read above. */
				close(fd);
				fd = nfd;
				lr.lineno = 0;
				lr.buf.len = 0;
				continue;
			}
		}
		poll(NULL, 0, FOLLOW_POLL_MS);
	}
	if (lr.buf.len && !follow)
		show_line(path, ++lr.lineno, lr.buf.data, lr.buf.len, f);
	audit_buf_free(&lr.buf);
	return ret;
}

static int verify_files(char **files, size_t n_files)
{
	struct audit_verifier v;
	audit_verifier_init(&v);
	for (size_t i = 0; i < n_files; i++) {
		_cleanup_fclose_ FILE *in = fopen(files[i], "re");
		if (!in) {
			ctl_error("cannot open %s: %s", files[i], strerror(errno));
			return CTL_EXIT_FAILURE;
		}
		if (i)
			audit_verifier_next_file(&v);
		_cleanup_free_ char *line = NULL;
		size_t cap = 0;
		ssize_t len;
		char msg[256];
		while ((len = getline(&line, &cap, in)) > 0) {
			if (line[len - 1] == '\n')
				line[--len] = '\0';
			if (audit_verify_line(&v, line, (size_t)len, msg, sizeof(msg)) < 0) {
				if (n_files > 1)
					ctl_error("%s: %s", files[i], msg);
				else
					ctl_error("%s", msg);
				return CTL_EXIT_FAILURE;
			}
		}
		if (ferror(in)) {
			ctl_error("reading %s: %s", files[i], strerror(errno));
			return CTL_EXIT_FAILURE;
		}
	}
	printf("%llu records, chain intact\n", (unsigned long long)v.records);
	if (strncmp(v.first_prev, AUDIT_ROTATED_PREFIX, sizeof(AUDIT_ROTATED_PREFIX) - 1) == 0 &&
	    n_files == 1)
		printf("the first record continues a rotated file whose last hash was %s\n",
		       v.first_prev + sizeof(AUDIT_ROTATED_PREFIX) - 1);
	return CTL_EXIT_OK;
}

static int journal_add_match(sd_journal *j, const char *key, const char *value)
{
	_cleanup_free_ char *m = NULL;
	if (asprintf(&m, "%s=%s", key, value) < 0)
		return -ENOMEM;
	return sd_journal_add_match(j, m, 0);
}

/* The current journal entry as a record; false if it is not one of ours. */
static int journal_entry(sd_journal *j, struct audit_record *rec)
{
	const void *data;
	size_t len;
	uint64_t t;
	char time[AUDIT_TIME_SIZE];
	int r;
	memset(rec, 0, sizeof(*rec));
	if ((r = sd_journal_get_realtime_usec(j, &t)) < 0)
		return r;
	audit_format_time(t, time);
	rec->time = strdup(time);
	SD_JOURNAL_FOREACH_DATA(j, data, len)
	{
		const char *d = data, *eq = memchr(d, '=', len);
		if (!eq)
			continue;
		size_t klen = (size_t)(eq - d), vlen = len - klen - 1;
		char **target = NULL;
		if (klen == 10 && memcmp(d, "MESSAGE_ID", 10) == 0)
			target = &rec->message_id;
		else if (klen == 13 && memcmp(d, "SANDBOX_EVENT", 13) == 0)
			target = &rec->event;
		if (target) {
			free(*target);
			*target = strndup(eq + 1, vlen);
			continue;
		}
		if (klen <= 8 || memcmp(d, "SANDBOX_", 8) != 0 || rec->n_fields >= 64)
			continue;
		struct audit_kv *kv = realloc(rec->fields, (rec->n_fields + 1) * sizeof(*kv));
		if (!kv)
			return -ENOMEM;
		rec->fields = kv;
		kv = &rec->fields[rec->n_fields++];
		kv->key = strndup(d, klen);
		kv->value = malloc(vlen + 1);
		if (!kv->key || !kv->value)
			return -ENOMEM;
		memcpy(kv->value, eq + 1, vlen);
		kv->value[vlen] = '\0';
		kv->value_len = vlen;
	}
	if (!rec->time || !rec->event || !rec->message_id ||
	    !audit_event_by_message_id(rec->message_id))
		return 0;
	return 1;
}

static int show_journal(const struct audit_filter *f)
{
	sd_journal *j = NULL;
	int r = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY);
	if (r < 0) {
		ctl_error("cannot open the journal: %s", strerror(-r));
		return CTL_EXIT_FAILURE;
	}
	/* Same field: OR; different fields: AND. */
	for (int e = 0; e < AUDIT_EVENT_COUNT && r >= 0; e++) {
		const struct audit_event_info *ev = audit_event_info((enum audit_event)e);
		if (!f->event || f->event == ev)
			r = journal_add_match(j, "MESSAGE_ID", ev->message_id);
	}
	if (r >= 0 && f->user)
		r = journal_add_match(j, "SANDBOX_USER", f->user);
	if (r >= 0 && f->session)
		r = journal_add_match(j, "SANDBOX_SESSION", f->session);
	if (r >= 0)
		r = f->since ? sd_journal_seek_realtime_usec(j, f->since) : sd_journal_seek_head(j);
	if (r < 0) {
		ctl_error("cannot query the journal: %s", strerror(-r));
		sd_journal_close(j);
		return CTL_EXIT_FAILURE;
	}
	int ret = CTL_EXIT_OK;
	while (!stop_following) {
		r = sd_journal_next(j);
		if (r < 0) {
			ctl_error("reading the journal: %s", strerror(-r));
			ret = CTL_EXIT_FAILURE;
			break;
		}
		if (r == 0) {
			fflush(stdout);
			if (!f->follow)
				break;
			r = sd_journal_wait(j, FOLLOW_POLL_MS * 1000ULL);
			if (r < 0 && r != -EINTR) {
				ctl_error("waiting for the journal: %s", strerror(-r));
				ret = CTL_EXIT_FAILURE;
				break;
			}
			continue;
		}
		struct audit_record rec;
		uint64_t t = 0;
		r = journal_entry(j, &rec);
		(void)sd_journal_get_realtime_usec(j, &t);
		if (r > 0 && record_matches(&rec, t, f)) {
			if (f->json)
				print_json_record(&rec);
			else
				print_human(&rec);
		}
		audit_record_free(&rec);
		if (r < 0) {
			ctl_error("reading the journal: %s", strerror(-r));
			ret = CTL_EXIT_FAILURE;
			break;
		}
	}
	sd_journal_close(j);
	return ret;
}

static void audit_usage(FILE *out)
{
	fprintf(
	    out,
	    "Usage: sandboxctl audit [--file PATH]... [--journal] [--user USER] [--session ID]\n"
	    "                        [--event EVENT] [--since TIME] [--until TIME] [-f] [--json]\n"
	    "       sandboxctl audit --verify [--file PATH]...\n\n"
	    "Reads the audit trail (default file " AUDIT_DEFAULT_FILE ").\n"
	    "TIME: now, today, yesterday, -30s, -30m, -1h, -2d, -1w, or ISO 8601\n"
	    "(2024-05-01, 2024-05-01T12:00:00, ...Z for UTC).\n"
	    "--verify checks the hash chain; several --file in rotation order (oldest first)\n"
	    "are checked as one chain.\n\nEvents:");
	for (int e = 0; e < AUDIT_EVENT_COUNT; e++)
		fprintf(out, " %s", audit_event_name((enum audit_event)e));
	fprintf(out, "\n");
}

int ctl_audit_main(int argc, char **argv)
{
	static const struct option options[] = {
	    {"file", required_argument, NULL, 'F'},  {"journal", no_argument, NULL, 'J'},
	    {"user", required_argument, NULL, 'u'},  {"session", required_argument, NULL, 's'},
	    {"event", required_argument, NULL, 'e'}, {"since", required_argument, NULL, 'S'},
	    {"until", required_argument, NULL, 'U'}, {"follow", no_argument, NULL, 'f'},
	    {"json", no_argument, NULL, 'j'},	     {"verify", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},	     {0},
	};
	struct audit_filter f = {0};
	char *files[AUDIT_MAX_FILES];
	size_t n_files = 0;
	bool journal = false, verify = false;
	uint64_t now = now_usec();
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":fhu:s:e:", options, NULL)) != -1) {
		switch (c) {
		case 'F':
			if (n_files >= AUDIT_MAX_FILES)
				return ctl_usage_error("at most %d --file options",
						       AUDIT_MAX_FILES);
			files[n_files++] = optarg;
			break;
		case 'J':
			journal = true;
			break;
		case 'u':
			f.user = optarg;
			break;
		case 's':
			f.session = optarg;
			break;
		case 'e':
			f.event = audit_event_by_name(optarg);
			if (!f.event)
				return ctl_usage_error(
				    "unknown event '%s' (see sandboxctl audit --help)", optarg);
			break;
		case 'S':
		case 'U': {
			uint64_t t;
			if (audit_parse_time_spec(optarg, now, &t) < 0)
				return ctl_usage_error(
				    "bad time '%s' (today, yesterday, -1h, -30m, "
				    "2024-05-01T12:00:00)",
				    optarg);
			if (c == 'S')
				f.since = t ? t : 1;
			else
				f.until = t ? t : 1;
			break;
		}
		case 'f':
			f.follow = true;
			break;
		case 'j':
			f.json = true;
			break;
		case 'V':
			verify = true;
			break;
		case 'h':
			audit_usage(stdout);
			return CTL_EXIT_OK;
		default:
			return ctl_option_error("audit", c, argv);
		}
	}
	if (optind < argc)
		return ctl_usage_error("unexpected argument '%s'", argv[optind]);
	if (journal && n_files)
		return ctl_usage_error("--journal and --file exclude each other");
	if (verify &&
	    (journal || f.follow || f.json || f.user || f.session || f.event || f.since || f.until))
		return ctl_usage_error("--verify checks whole files and takes only --file");
	if (f.follow && n_files > 1)
		return ctl_usage_error("-f follows one file");
	if (n_files == 0)
		files[n_files++] = (char *)AUDIT_DEFAULT_FILE;

	if (verify)
		return verify_files(files, n_files);

	struct sigaction sa = {.sa_handler = on_stop};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (journal)
		return show_journal(&f);
	int ret = CTL_EXIT_OK;
	for (size_t i = 0; i < n_files && ret == CTL_EXIT_OK; i++)
		ret = show_file(files[i], &f, f.follow);
	return ret;
}
