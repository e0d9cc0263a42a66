/* sandboxd.conf (admin input): the file's text through config_load_stream, and each of its lines
 * as an -o option through config_apply_option. A configuration that loads must dump
 * (config_dump) to text that loads again to the same dump, before and after config_finish. */
#include "config.h"

#include "common/config_file.h"
#include "tests/fuzz/fuzz.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dump_text(const struct sbx_config *cfg, size_t *ret_len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, ret_len);

	if (!f)
		abort();
	config_dump(cfg, f);
	if (fclose(f) != 0)
		abort();
	return text;
}

static int load_text(struct sbx_config *cfg, const char *text, size_t len, sbx_error *err)
{
	FILE *f;
	int r;

	/* fmemopen refuses an empty buffer; an empty file sets nothing. */
	if (len == 0)
		return 0;
	f = fmemopen((void *)text, len, "r");
	if (!f)
		abort();
	r = config_load_stream(cfg, f, "fuzz.conf", err);
	fclose(f);
	return r;
}

static void check_error(int r, const sbx_error *err, const char *what)
{
	FUZZ_ASSERT(r == -err->code && err->code > 0, "%s: returned %d with code %d", what, r,
		    err->code);
	FUZZ_ASSERT(err->msg[0] != '\0' && memchr(err->msg, '\n', strlen(err->msg)) == NULL,
		    "%s: the message must be one line: '%s'", what, err->msg);
}

static void check_dump_reloads(const struct sbx_config *cfg, const char *what)
{
	struct sbx_config again;
	sbx_error err = {0};
	size_t len1, len2;
	char *d1 = dump_text(cfg, &len1), *d2;
	int r;

	config_init(&again);
	r = load_text(&again, d1, len1, &err);
	FUZZ_ASSERT(r == 0, "%s: the dump does not load again: %s\n---\n%s", what, err.msg, d1);
	d2 = dump_text(&again, &len2);
	FUZZ_ASSERT(len1 == len2 && memcmp(d1, d2, len1) == 0,
		    "%s: the dump changed when loaded again:\n---\n%s---\n%s", what, d1, d2);
	config_free(&again);
	free(d1);
	free(d2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sbx_config cfg;
	sbx_error err = {0};
	int r;

	config_init(&cfg);
	r = load_text(&cfg, (const char *)data, size, &err);
	if (r == 0) {
		check_dump_reloads(&cfg, "file");
		r = config_finish(&cfg, &err);
		if (r == 0)
			check_dump_reloads(&cfg, "file after config_finish");
		else
			check_error(r, &err, "config_finish");
	} else {
		check_error(r, &err, "config_load_stream");
		FUZZ_ASSERT(strncmp(err.msg, "fuzz.conf:", 10) == 0, "no file name in '%s'",
			    err.msg);
	}
	config_free(&cfg);
	config_free(&cfg);

	/* Every line again as an -o option, in order, stopping at the first error as main does. */
	config_init(&cfg);
	r = 0;
	for (size_t start = 0; start < size && r == 0;) {
		const uint8_t *nl = memchr(data + start, '\n', size - start);
		size_t end = nl ? (size_t)(nl - data) : size;
		char *option = fuzz_cstring(data + start, end - start);

		memset(&err, 0, sizeof(err));
		r = config_apply_option(&cfg, option, NULL, &err);
		if (r < 0) {
			check_error(r, &err, "config_apply_option");
			FUZZ_ASSERT(strncmp(err.msg, "command line: ", 14) == 0,
				    "no origin in '%s'", err.msg);
		}
		free(option);
		start = end + 1;
	}
	if (r == 0)
		check_dump_reloads(&cfg, "options");
	config_free(&cfg);
	return 0;
}
