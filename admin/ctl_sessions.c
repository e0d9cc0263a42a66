/* sandboxctl sessions|kill|reload: the running daemon, through its control socket. */
#include "config.h"

#include "admin/ctl_commands.h"
#include "admin/ctl_control.h"
#include "admin/ctl_util.h"
#include "common/cleanup.h"
#include "common/escape.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void json_number(const struct ctl_record *r, const char *key)
{
	uint64_t v;
	if (ctl_record_u64(r, key, &v))
		printf("%" PRIu64, v);
	else
		fputs("null", stdout);
}

static void json_str_or_null(const char *s)
{
	if (s)
		ctl_json_string(stdout, s);
	else
		fputs("null", stdout);
}

static void print_json(const struct ctl_answer *a)
{
	static const struct {
		const char *json, *key;
	} numbers[] = {
	    {"started", "started"},    {"time_left", "left"},
	    {"memory", "mem"},	       {"memory_peak", "mem_peak"},
	    {"memory_max", "mem_max"}, {"cpu_usec", "cpu_usec"},
	    {"pids", "pids"},	       {"pids_max", "pids_max"},
	    {"processes", "procs"},
	};
	fputc('[', stdout);
	for (size_t i = 0; i < a->n; i++) {
		const struct ctl_record *r = &a->records[i];
		printf("%s{\"id\":", i ? "," : "");
		json_str_or_null(ctl_record_get(r, "session"));
		fputs(",\"user\":", stdout);
		json_str_or_null(ctl_record_get(r, "user"));
		fputs(",\"remote\":", stdout);
		json_str_or_null(ctl_record_get(r, "remote"));
		for (size_t k = 0; k < ELEMENTSOF(numbers); k++) {
			printf(",\"%s\":", numbers[k].json);
			json_number(r, numbers[k].key);
		}
		fputs(",\"running\":", stdout);
		json_str_or_null(ctl_record_get(r, "running"));
		fputc('}', stdout);
	}
	fputs("]\n", stdout);
}

static void human_bytes(uint64_t b, char *buf, size_t size)
{
	static const char units[] = "KMGT";
	double v = (double)b;
	int u = -1;
	while (v >= 1024 && u < 3) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, size, "%" PRIu64 "B", b);
	else
		snprintf(buf, size, v < 10 ? "%.1f%c" : "%.0f%c", v, units[u]);
}

static int print_table(const struct ctl_answer *a)
{
	static const char *const header[] = {"ID",  "USER", "FROM", "STARTED", "LEFT",
					     "MEM", "CPU",  "PIDS", "RUNNING"};
	struct ctl_table t;
	int r = ctl_table_init(&t, ELEMENTSOF(header), header);
	for (size_t i = 0; r == 0 && i < a->n; i++) {
		const struct ctl_record *rec = &a->records[i];
		char started[32] = "?", left[32] = "-", mem[32] = "?", cpu[32] = "?",
		     pids[48] = "?", running[256] = "", user[160] = "", from[160] = "";
		uint64_t v, max;
		if (ctl_record_u64(rec, "started", &v)) {
			time_t t0 = (time_t)v;
			struct tm tm;
			if (localtime_r(&t0, &tm))
				strftime(started, sizeof(started), "%m-%d %H:%M", &tm);
		}
		if (ctl_record_u64(rec, "left", &v))
			ctl_format_duration(v, left, sizeof(left));
		if (ctl_record_u64(rec, "mem", &v))
			human_bytes(v, mem, sizeof(mem));
		if (ctl_record_u64(rec, "cpu_usec", &v))
			snprintf(cpu, sizeof(cpu), "%.1fs", (double)v / 1e6);
		if (ctl_record_u64(rec, "pids", &v)) {
			if (ctl_record_u64(rec, "pids_max", &max))
				snprintf(pids, sizeof(pids), "%" PRIu64 "/%" PRIu64, v, max);
			else
				snprintf(pids, sizeof(pids), "%" PRIu64, v);
		}
		/* Untrusted text (a student's command line) never reaches the terminal raw. */
		const char *s = ctl_record_get(rec, "running");
		if (s) {
			if (escape_untrusted(s, strlen(s), running, 60) < strlen(s))
				strcat(running, "...");
		}
		s = ctl_record_get(rec, "user");
		escape_untrusted(s ? s : "?", strlen(s ? s : "?"), user, sizeof(user));
		s = ctl_record_get(rec, "remote");
		escape_untrusted(s ? s : "?", strlen(s ? s : "?"), from, sizeof(from));
		const char *id = ctl_record_get(rec, "session");
		r = ctl_table_add(&t, (const char *const[]){id ? id : "?", user, from, started,
							    left, mem, cpu, pids, running});
	}
	if (r == 0)
		ctl_table_print(&t, stdout);
	ctl_table_free(&t);
	if (r < 0) {
		ctl_error("out of memory");
		return CTL_EXIT_FAILURE;
	}
	return CTL_EXIT_OK;
}

int ctl_sessions_main(int argc, char **argv)
{
	static const struct option options[] = {
	    {"user", required_argument, NULL, 'u'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *user = NULL;
	bool json = false;
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hu:", options, NULL)) != -1) {
		if (c == 'u')
			user = optarg;
		else if (c == 'j')
			json = true;
		else if (c == 'h') {
			printf("Usage: sandboxctl sessions [--user USER] [--json]\n");
			return CTL_EXIT_OK;
		} else
			return ctl_option_error("sessions", c, argv);
	}
	if (optind != argc)
		return ctl_usage_error("usage: sessions [--user USER] [--json]");
	if (user && !policy_name_valid(user))
		return ctl_usage_error("sessions: not a user name: %s", user);

	struct ctl_answer a;
	int r = ctl_control_request(&a, "sessions%s%s", user ? " " : "", user ? user : "");
	if (r)
		return r;
	int status = json ? (print_json(&a), CTL_EXIT_OK) : print_table(&a);
	ctl_answer_free(&a);
	return status;
}

int ctl_kill_main(int argc, char **argv)
{
	static const struct option options[] = {
	    {"user", required_argument, NULL, 'u'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *user = NULL;
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hu:", options, NULL)) != -1) {
		if (c == 'u')
			user = optarg;
		else if (c == 'h') {
			printf("Usage: sandboxctl kill SESSION|--user USER\n");
			return CTL_EXIT_OK;
		} else
			return ctl_option_error("kill", c, argv);
	}
	if (user ? optind != argc : argc - optind != 1)
		return ctl_usage_error("usage: kill SESSION|--user USER");
	if (user) {
		if (!policy_name_valid(user))
			return ctl_usage_error("kill: not a user name: %s", user);
		return ctl_control_kill_user(user);
	}
	for (const char *p = argv[optind]; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= 'A' && *p <= 'Z')))
			return ctl_usage_error("kill: not a session id: %s", argv[optind]);
	return ctl_control_kill_session(argv[optind]);
}

int ctl_reload_main(int argc, char **argv)
{
	struct ctl_answer a;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("Usage: sandboxctl reload\n");
		return CTL_EXIT_OK;
	}
	if (argc != 1)
		return ctl_usage_error("usage: reload");
	int r = ctl_control_request(&a, "reload");
	if (r)
		return r;
	ctl_answer_free(&a);
	printf("configuration and policy reloaded\n");
	return CTL_EXIT_OK;
}
