/* Test helper for tests/e2e/audit_*.sh: writes audit records through the real writer from
 * several processes at once, the way the listener and its forked monitors do.
 *
 *   audit-writer [--file PATH] [--journal] [--procs N] [--count N] [--fsync never|batch|every]
 *                [--allow-journal-errors] EVENT [KEY=VALUE...]
 *
 * Each of the N processes writes COUNT records of EVENT with the given fields plus
 * SANDBOX_WRITER=<process index>; "%i" in a value becomes the process index, "%n" the record
 * number. Exits 0 when every record was taken by its sinks. */
#include "config.h"

#include "common/audit.h"
#include "common/audit_record.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char *expand(const char *value, int proc, int rec)
{
	size_t cap = strlen(value) * 8 + 32, o = 0;
	char *out = malloc(cap);
	if (!out)
		exit(1);
	for (const char *p = value; *p; p++) {
		if (p[0] == '%' && (p[1] == 'i' || p[1] == 'n')) {
			o += (size_t)snprintf(out + o, cap - o, "%d", p[1] == 'i' ? proc : rec);
			p++;
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
	return out;
}

static bool allow_journal_errors;

static int writer(const struct audit_sink_config *cfg, enum audit_event ev, int proc, int count,
		  char **kv, int nkv)
{
	struct audit *a;
	sbx_error err = {0};
	if (audit_writer_open(cfg, &a, &err) < 0) {
		fprintf(stderr, "audit-writer: %s\n", err.msg);
		return 1;
	}
	int failed = 0;
	char idx[16];
	snprintf(idx, sizeof(idx), "%d", proc);
	for (int r = 0; r < count; r++) {
		struct audit_field f[AUDIT_FIELDS_MAX];
		char *vals[AUDIT_FIELDS_MAX] = {0};
		int n = 0;
		for (int i = 0; i < nkv && n < AUDIT_FIELDS_MAX - 1; i++) {
			char *eq = strchr(kv[i], '=');
			vals[n] = expand(eq + 1, proc, r);
			f[n] = (struct audit_field){strndup(kv[i], (size_t)(eq - kv[i])), vals[n]};
			n++;
		}
		f[n++] = (struct audit_field){"SANDBOX_WRITER", idx};
		if (audit_emit(a, ev, f, (size_t)n) < 0)
			failed++;
		for (int i = 0; i < n - 1; i++) {
			free((char *)f[i].key);
			free(vals[i]);
		}
	}
	struct audit_stats st;
	audit_get_stats(a, &st);
	audit_writer_close(a);
	if (st.journal_errors)
		fprintf(stderr, "audit-writer %d: journal_errors=%llu\n", proc, st.journal_errors);
	if (failed || (st.journal_errors && !allow_journal_errors) || st.file_errors) {
		fprintf(stderr,
			"audit-writer %d: %d failed, %llu journal errors, %llu file errors\n", proc,
			failed, st.journal_errors, st.file_errors);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
	    {"file", required_argument, NULL, 'f'},
	    {"journal", no_argument, NULL, 'j'},
	    {"procs", required_argument, NULL, 'p'},
	    {"count", required_argument, NULL, 'c'},
	    {"fsync", required_argument, NULL, 's'},
	    {"allow-journal-errors", no_argument, NULL, 'a'},
	    {0},
	};
	struct audit_sink_config cfg = {0};
	int procs = 1, count = 1, c;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case 'f':
			cfg.file = optarg;
			break;
		case 'j':
			cfg.journal = true;
			break;
		case 'a':
			allow_journal_errors = true;
			break;
		case 'p':
			procs = atoi(optarg);
			break;
		case 'c':
			count = atoi(optarg);
			break;
		case 's':
			cfg.fsync = strcmp(optarg, "every") == 0   ? AUDIT_FSYNC_EVERY
				    : strcmp(optarg, "batch") == 0 ? AUDIT_FSYNC_BATCH
								   : AUDIT_FSYNC_NEVER;
			break;
		default:
			return 2;
		}
	}
	if (optind >= argc || procs < 1 || count < 0) {
		fprintf(stderr, "usage: audit-writer [--file PATH] [--journal] [--procs N] "
				"[--count N] EVENT [KEY=VALUE...]\n");
		return 2;
	}
	const struct audit_event_info *ev = audit_event_by_name(argv[optind]);
	if (!ev) {
		fprintf(stderr, "audit-writer: unknown event %s\n", argv[optind]);
		return 2;
	}
	for (int i = optind + 1; i < argc; i++)
		if (!strchr(argv[i], '=')) {
			fprintf(stderr, "audit-writer: expected KEY=VALUE, got %s\n", argv[i]);
			return 2;
		}
	int status = 0;
	for (int p = 0; p < procs; p++) {
		pid_t pid = fork();
		if (pid < 0)
			return 1;
		if (pid == 0)
			_exit(writer(&cfg, ev->event, p, count, argv + optind + 1,
				     argc - optind - 1));
	}
	for (int p = 0; p < procs; p++) {
		int ws;
		if (wait(&ws) < 0 || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
			status = 1;
	}
	return status;
}
