/* sandboxctl replay: plays a recorded terminal session (asciicast v2) back on stdout. */
#include "config.h"

#include "admin/ctl_commands.h"
#include "admin/ctl_util.h"
#include "common/asciicast.h"
#include "common/cleanup.h"
#include "common/config_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define REPLAY_MAX_PAUSE_USEC 2000000ULL /* like asciinema's idle_time_limit */

/* On a terminal, what the student's programs printed must not act on the admin's terminal
 * beyond drawing: OSC/DCS/APC/PM/SOS strings (titles, clipboard, colour changes), C1 controls
 * and every CSI that makes the terminal answer (DA, DSR, window reports) or that we do not know
 * are dropped; text, C0 controls and the usual cursor, erase, scroll, mode and colour sequences
 * pass. A pipe or a file gets the bytes as recorded. */
enum filter_state { F_NORMAL, F_ESC, F_CSI, F_CSI_SKIP, F_STRING, F_STRING_ESC, F_C2 };
struct term_filter {
	enum filter_state state;
	char seq[64];
	size_t n;
};

static bool csi_allowed(const char *seq, size_t n)
{
	/* seq: parameters 0x30-0x3F, intermediates 0x20-0x2F, then the final byte. */
	char final = seq[n - 1], prefix = n > 1 ? seq[0] : 0;
	bool intermediate = false;
	for (size_t i = 0; i + 1 < n; i++)
		if (seq[i] >= 0x20 && seq[i] <= 0x2F)
			intermediate = true;
	if (prefix == '>' || prefix == '=' || prefix == '<')
		return false;
	if (intermediate)
		return final == 'q' && n >= 2 && seq[n - 2] == ' '; /* cursor shape */
	if (prefix == '?')
		return strchr("hlJK", final) != NULL;
	return strchr("@ABCDEFGHIJKLMPSTXZ`abdefghlmrsu", final) != NULL;
}

static void filter_write(struct term_filter *f, const char *data, size_t len, FILE *out)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)data[i];
	again:
		switch (f->state) {
		case F_NORMAL:
			if (c == 0x1b)
				f->state = F_ESC;
			else if (c == 0xc2)
				f->state = F_C2;
			else
				putc(c, out);
			break;
		case F_C2: /* U+0080..U+009F are C1 controls: dropped */
			f->state = F_NORMAL;
			if (c >= 0x80 && c <= 0x9f)
				break;
			putc(0xc2, out);
			goto again;
		case F_ESC:
			if (c == '[') {
				f->state = F_CSI;
				f->n = 0;
			} else if (c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_')
				f->state = F_STRING;
			else if (c != 0x1b) {
				putc(0x1b, out);
				f->state = F_NORMAL;
				goto again;
			}
			break;
		case F_CSI:
			if (c < 0x20 || c > 0x7e) { /* a control inside: the sequence is void */
				f->state = F_NORMAL;
				goto again;
			}
			if (f->n >= sizeof(f->seq)) {
				f->state = F_CSI_SKIP;
				goto again;
			}
			f->seq[f->n++] = (char)c;
			if (c >= 0x40) {
				if (csi_allowed(f->seq, f->n)) {
					fputs("\033[", out);
					fwrite(f->seq, 1, f->n, out);
				}
				f->state = F_NORMAL;
			}
			break;
		case F_CSI_SKIP:
			if (c < 0x20 || c > 0x7e) {
				f->state = F_NORMAL;
				goto again;
			}
			if (c >= 0x40)
				f->state = F_NORMAL;
			break;
		case F_STRING:
			if (c == 0x07 || c == 0x18 || c == 0x1a)
				f->state = F_NORMAL;
			else if (c == 0x1b)
				f->state = F_STRING_ESC;
			break;
		case F_STRING_ESC:
			if (c == '\\')
				f->state = F_NORMAL;
			else {
				f->state = F_ESC;
				goto again;
			}
			break;
		}
	}
}

static void pause_usec(uint64_t usec)
{
	struct timespec ts = {.tv_sec = (time_t)(usec / 1000000),
			      .tv_nsec = (long)(usec % 1000000) * 1000};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Valid: "<SESSION>-<digits>.cast". */
static bool match_channel(const char *name, const char *session, unsigned *ret)
{
	size_t sl = strlen(session);
	if (strncmp(name, session, sl) != 0 || name[sl] != '-')
		return false;
	const char *d = name + sl + 1, *e = d;
	while (*e >= '0' && *e <= '9')
		e++;
	if (e == d || e - d > 9 || strcmp(e, ".cast") != 0)
		return false;
	*ret = (unsigned)strtoul(d, NULL, 10);
	return true;
}

static int lowest_channel(const char *dir, const char *session, unsigned *ret)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	bool found = false;
	unsigned ch;

	if (!d) {
		ctl_error("cannot open %s: %s", dir, strerror(errno));
		return CTL_EXIT_FAILURE;
	}
	while ((de = readdir(d)))
		if (match_channel(de->d_name, session, &ch) && (!found || ch < *ret)) {
			*ret = ch;
			found = true;
		}
	closedir(d);
	if (!found) {
		ctl_error("no recording of session %s in %s", session, dir);
		return CTL_EXIT_FAILURE;
	}
	return CTL_EXIT_OK;
}

static int replay_file(const char *path, FILE *f, double speed, bool wait, bool raw)
{
	_cleanup_free_ char *line = NULL;
	struct term_filter filter = {0};
	size_t size = 0;
	unsigned lineno = 0, width, height;
	uint64_t prev = 0;
	sbx_error err = {0};
	ssize_t n;

	while ((n = getline(&line, &size, f)) >= 0) {
		struct asciicast_event ev;
		size_t len = (size_t)n;
		lineno++;
		if (len && line[len - 1] == '\n')
			len--;
		if (lineno == 1) {
			if (asciicast_parse_header(line, len, &width, &height, &err) < 0) {
				ctl_error("%s:1: %s", path, err.msg);
				return CTL_EXIT_FAILURE;
			}
			continue;
		}
		if (strspn(line, " \t\r") == len)
			continue; /* a blank line */
		if (asciicast_parse_event(line, len, &ev, &err) < 0) {
			ctl_error("%s:%u: %s", path, lineno, err.msg);
			return CTL_EXIT_FAILURE;
		}
		if (strcmp(ev.code, "o") == 0 && ev.data) {
			if (wait) {
				uint64_t gap = ev.usec > prev ? ev.usec - prev : 0;
				double us = (double)gap / speed;
				pause_usec(us > REPLAY_MAX_PAUSE_USEC ? REPLAY_MAX_PAUSE_USEC
								      : (uint64_t)us);
			}
			prev = ev.usec;
			if (raw)
				fwrite(ev.data, 1, ev.len, stdout);
			else
				filter_write(&filter, ev.data, ev.len, stdout);
			if (wait)
				fflush(stdout);
		}
		free(ev.data);
	}
	if (ferror(f)) {
		ctl_error("%s: %s", path, strerror(errno));
		return CTL_EXIT_FAILURE;
	}
	if (lineno == 0) {
		ctl_error("%s:1: empty file (no asciicast header)", path);
		return CTL_EXIT_FAILURE;
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		ctl_error("cannot write to standard output: %s", strerror(errno));
		return CTL_EXIT_FAILURE;
	}
	return CTL_EXIT_OK;
}

/* StateDirectory/recordings from the daemon's configuration (--config), as the monitor writes
 * them; the built-in default when the file does not load. */
static const char *dir_from_config(char *buf, size_t size)
{
	struct sbx_config cfg;
	config_init(&cfg);
	int r = config_load_file(&cfg, ctl_options.config_file, NULL);
	if (r == 0 && cfg.state_directory)
		snprintf(buf, size, "%s/recordings", cfg.state_directory);
	else
		snprintf(buf, size, "%s", RECORDINGS_DEFAULT_DIR);
	config_free(&cfg);
	return buf;
}

static void replay_usage(FILE *out)
{
	fprintf(
	    out,
	    "Usage: sandboxctl replay SESSION [--channel N] [--speed X] [--no-wait] [--dir DIR]\n\n"
	    "Plays back the recording DIR/SESSION-N.cast (default directory " RECORDINGS_DEFAULT_DIR
	    ",\ndefault channel the lowest recorded). Pauses are "
	    "scaled by 1/X and at most 2 s.\n");
}

int ctl_replay_main(int argc, char **argv)
{
	static const struct option options[] = {
	    {"channel", required_argument, NULL, 'c'}, {"speed", required_argument, NULL, 's'},
	    {"no-wait", no_argument, NULL, 'n'},       {"dir", required_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},	       {0},
	};
	const char *dir = NULL, *session;
	char path[PATH_MAX], dir_buf[PATH_MAX];
	unsigned channel = 0;
	bool have_channel = false, wait = true;
	double speed = 1.0;
	char *end;
	struct stat st;
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
		switch (c) {
		case 'c': {
			errno = 0;
			unsigned long v = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-' || v > UINT_MAX)
				return ctl_usage_error("bad channel '%s'", optarg);
			channel = (unsigned)v;
			have_channel = true;
			break;
		}
		case 's':
			errno = 0;
			speed = strtod(optarg, &end);
			if (errno || end == optarg || *end || !isfinite(speed) || speed <= 0)
				return ctl_usage_error("bad speed '%s' (a number above 0)", optarg);
			break;
		case 'n':
			wait = false;
			break;
		case 'd':
			dir = optarg;
			break;
		case 'h':
			replay_usage(stdout);
			return CTL_EXIT_OK;
		default:
			return ctl_option_error("replay", c, argv);
		}
	}
	if (optind >= argc)
		return ctl_usage_error("replay needs a session id (see sandboxctl sessions)");
	if (optind + 1 < argc)
		return ctl_usage_error("unexpected argument '%s'", argv[optind + 1]);
	session = argv[optind];
	if (!*session || strchr(session, '/') || strstr(session, ".."))
		return ctl_usage_error("bad session id '%s'", session);

	if (!dir)
		dir = dir_from_config(dir_buf, sizeof(dir_buf));
	if (!have_channel && (r = lowest_channel(dir, session, &channel)) != CTL_EXIT_OK)
		return r;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s-%u.cast", dir, session, channel) >=
	    sizeof(path))
		return ctl_usage_error("path too long");

	_cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT)
			ctl_error("no recording of session %s channel %u in %s", session, channel,
				  dir);
		else
			ctl_error("cannot open %s: %s", path, strerror(errno));
		return CTL_EXIT_FAILURE;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		ctl_error("%s: not a regular file", path);
		return CTL_EXIT_FAILURE;
	}
	_cleanup_fclose_ FILE *f = fdopen(fd, "re");
	if (!f) {
		ctl_error("%s: %s", path, strerror(errno));
		return CTL_EXIT_FAILURE;
	}
	TAKE_FD(fd);
	return replay_file(path, f, speed, wait, !isatty(STDOUT_FILENO));
}
