/* sandboxctl penalties: the source blocks the running daemon refuses or counts under
 * PerSourcePenalties, and lifting them (--clear BLOCK|all). */
#include "config.h"

#include "admin/ctl_commands.h"
#include "admin/ctl_control.h"
#include "admin/ctl_util.h"
#include "common/cleanup.h"
#include "common/escape.h"
#include "common/netblock.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CTL_PENALTIES_USAGE "Usage: sandboxctl penalties [--json] | penalties --clear BLOCK|all\n"

/* The daemon's own words, escaped: nothing it sends can move the admin's cursor. */
static void field(const struct ctl_record *r, const char *key, char *buf, size_t size)
{
	const char *v = ctl_record_get(r, key);
	escape_untrusted(v ? v : "?", strlen(v ? v : "?"), buf, size);
}

static int print_table(const struct ctl_answer *a)
{
	static const char *const header[] = {"BLOCK", "STATE", "REASON", "LEFT"};
	struct ctl_table t;
	int r = ctl_table_init(&t, ELEMENTSOF(header), header);

	for (size_t i = 0; r == 0 && i < a->n; i++) {
		char block[128], state[32], reason[48], left[32] = "?";
		uint64_t s;
		field(&a->records[i], "block", block, sizeof(block));
		field(&a->records[i], "state", state, sizeof(state));
		field(&a->records[i], "reason", reason, sizeof(reason));
		if (ctl_record_u64(&a->records[i], "left", &s))
			ctl_format_duration(s, left, sizeof(left));
		r = ctl_table_add(&t, (const char *const[]){block, state, reason, left});
	}
	if (r == 0) {
		if (a->n == 0)
			printf("no source block has a penalty\n");
		else
			ctl_table_print(&t, stdout);
	}
	ctl_table_free(&t);
	if (r < 0) {
		ctl_error("out of memory");
		return CTL_EXIT_FAILURE;
	}
	return CTL_EXIT_OK;
}

static void print_json(const struct ctl_answer *a)
{
	fputc('[', stdout);
	for (size_t i = 0; i < a->n; i++) {
		const struct ctl_record *r = &a->records[i];
		const char *state = ctl_record_get(r, "state");
		uint64_t s;
		fputs(i ? ",{\"block\":" : "{\"block\":", stdout);
		ctl_json_string(stdout,
				ctl_record_get(r, "block") ? ctl_record_get(r, "block") : "");
		printf(",\"refused\":%s,\"reason\":",
		       state && strcmp(state, "refused") == 0 ? "true" : "false");
		ctl_json_string(stdout,
				ctl_record_get(r, "reason") ? ctl_record_get(r, "reason") : "");
		if (ctl_record_u64(r, "left", &s))
			printf(",\"seconds_left\":%" PRIu64 "}", s);
		else
			fputs(",\"seconds_left\":null}", stdout);
	}
	fputs("]\n", stdout);
}

static int clear(const char *what)
{
	struct netblock block;
	struct ctl_answer a;

	if (strcmp(what, "all") != 0) {
		int r = netblock_parse(what, &block);
		if (r == -EDOM) {
			char meant[NETBLOCK_STRLEN];
			netblock_format(&block, meant, sizeof(meant));
			return ctl_usage_error(
			    "penalties: '%s' has bits set past its prefix length "
			    "(did you mean %s?)",
			    what, meant);
		}
		if (r < 0)
			return ctl_usage_error(
			    "penalties: '%s' is not an address, a CIDR block or all", what);
	}
	int r = ctl_control_request(&a, "penalties-clear %s", what);
	if (r)
		return r;
	const char *n = a.n ? ctl_record_get(&a.records[0], "cleared") : NULL;
	if (!n || strcmp(n, "0") == 0)
		printf("no penalty matched %s\n", what);
	else
		printf("lifted %s penalt%s (%s)\n", n, strcmp(n, "1") == 0 ? "y" : "ies", what);
	ctl_answer_free(&a);
	return CTL_EXIT_OK;
}

int ctl_penalties_main(int argc, char **argv)
{
	static const struct option options[] = {
	    {"clear", required_argument, NULL, 'c'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *what = NULL;
	bool json = false;
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hc:", options, NULL)) != -1) {
		if (c == 'c')
			what = optarg;
		else if (c == 'j')
			json = true;
		else if (c == 'h') {
			printf(CTL_PENALTIES_USAGE);
			return CTL_EXIT_OK;
		} else
			return ctl_option_error("penalties", c, argv);
	}
	if (optind != argc || (what && json))
		return ctl_usage_error("usage: penalties [--json] | penalties --clear BLOCK|all");
	if (what)
		return clear(what);

	struct ctl_answer a;
	int r = ctl_control_request(&a, "penalties");
	if (r)
		return r;
	int status = json ? (print_json(&a), CTL_EXIT_OK) : print_table(&a);
	ctl_answer_free(&a);
	return status;
}
