/* Unit tests of the sandboxd.conf parser: every keyword, every error path with its exact
 * "file:line: message", -o options, config_finish, and config_dump round trips. */
#include "config.h"

#include "common/cleanup.h"
#include "common/config_file.h"
#include "common/log.h"

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static char tmp_dir[256];
/* Path of the file the last load_text() wrote, for the expected "file:line:" prefix. */
static char last_path[512];

/* Every keyword the parser knows; test_dump_lists_only_tested_keywords makes a new keyword fail
 * here until it is tested and documented. */
static const char *const all_keywords[] = {
    "AuditFile",
    "AuditFsync",
    "AuditJournal",
    "AuthorizedKeysFile",
    "ClientAliveCountMax",
    "ClientAliveInterval",
    "HomeBackend",
    "HostKey",
    "KbdInteractiveAuthentication",
    "ListenAddress",
    "LogLevel",
    "LoginGraceTime",
    "MaxAuthTries",
    "MaxLogins",
    "MaxSessions",
    "MaxStartups",
    "PamService",
    "PasswordAuthentication",
    "PerSourceMaxStartups",
    "PerSourceNetBlockSize",
    "PerSourcePenalties",
    "PerSourcePenaltyExemptList",
    "PidFile",
    "PolicyDirectory",
    "Port",
    "PrivsepDirectory",
    "PrivsepUser",
    "PubkeyAuthentication",
    "RecordInput",
    "RunnerPath",
    "RuntimeDirectory",
    "StateDirectory",
};

static int group_setup(void **state)
{
	const char *base = getenv("TMPDIR");

	snprintf(tmp_dir, sizeof(tmp_dir), "%s/test_config.XXXXXX", base && *base ? base : "/tmp");
	return mkdtemp(tmp_dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Writes len bytes to a fresh file under tmp_dir and remembers its path in last_path. */
static const char *write_bytes(const char *data, size_t len)
{
	snprintf(last_path, sizeof(last_path), "%s/conf.XXXXXX", tmp_dir);
	int fd = mkstemp(last_path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
	return last_path;
}

static const char *write_text(const char *text)
{
	return write_bytes(text, strlen(text));
}

/* config_init + config_load_file of text; the caller frees cfg. */
static int load_text(struct sbx_config *cfg, const char *text, sbx_error *err)
{
	config_init(cfg);
	return config_load_file(cfg, write_text(text), err);
}

static void load_text_ok(struct sbx_config *cfg, const char *text)
{
	sbx_error err = {0};
	int r = load_text(cfg, text, &err);
	if (r < 0)
		fail_msg("loading \"%s\" failed: %s", text, err.msg);
}

/* Loads text, which must fail with -EINVAL and exactly "PATH:line: message". */
static void assert_load_error(const char *text, unsigned line, const char *message)
{
	struct sbx_config cfg;
	sbx_error err = {0};
	char expected[sizeof(err.msg) + PATH_MAX];

	int r = load_text(&cfg, text, &err);
	snprintf(expected, sizeof(expected), "%s:%u: %s", last_path, line, message);
	assert_int_equal(r, -EINVAL);
	assert_int_equal(err.code, EINVAL);
	assert_string_equal(err.msg, expected);
	config_free(&cfg);
}

/* The whole config_dump output; the caller frees it. */
static char *dump_to_string(const struct sbx_config *cfg)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	assert_non_null(f);
	config_dump(cfg, f);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static bool dump_has_line(const struct sbx_config *cfg, const char *line)
{
	_cleanup_free_ char *dump = dump_to_string(cfg);
	size_t len = strlen(line);

	for (const char *p = dump; *p; p = strchr(p, '\n') + 1)
		if (strncmp(p, line, len) == 0 && p[len] == '\n')
			return true;
	return false;
}

static void test_init_sets_documented_defaults(void **state)
{
	struct sbx_config cfg;

	config_init(&cfg);
	assert_int_equal(cfg.port, 22);
	assert_int_equal(cfg.n_listen, 0);
	assert_int_equal(cfg.n_host_keys, 0);
	assert_int_equal(cfg.login_grace_time, 120);
	assert_int_equal(cfg.max_auth_tries, 6);
	assert_int_equal(cfg.max_startups_begin, 10);
	assert_int_equal(cfg.max_startups_rate, 30);
	assert_int_equal(cfg.max_startups_full, 100);
	assert_true(cfg.password_authentication);
	assert_true(cfg.kbd_interactive_authentication);
	assert_true(cfg.pubkey_authentication);
	assert_string_equal(cfg.authorized_keys_file, ".ssh/authorized_keys");
	assert_string_equal(cfg.pam_service, "sandboxd");
	assert_string_equal(cfg.privsep_user, "_sandboxd");
	assert_string_equal(cfg.privsep_directory, "/run/sandboxd/empty");
	assert_int_equal(cfg.client_alive_interval, 15);
	assert_int_equal(cfg.client_alive_count_max, 3);
	assert_string_equal(cfg.pid_file, "/run/sandboxd.pid");
	assert_int_equal(cfg.log_level, LOG_LEVEL_INFO);
	assert_string_equal(cfg.runner_path, LIBEXECDIR "/sandbox-python");
	config_free(&cfg);
}

static void test_finish_fills_listen_and_host_key_defaults(void **state)
{
	struct sbx_config cfg;
	sbx_error err = {0};

	config_init(&cfg);
	assert_int_equal(config_finish(&cfg, &err), 0);
	assert_int_equal(cfg.n_listen, 2);
	assert_string_equal(cfg.listen[0].host, "0.0.0.0");
	assert_int_equal(cfg.listen[0].port, 0);
	assert_string_equal(cfg.listen[1].host, "::");
	assert_int_equal(cfg.listen[1].port, 0);
	assert_int_equal(cfg.n_host_keys, 1);
	assert_string_equal(cfg.host_keys[0], SYSCONFDIR "/sandboxd/ssh_host_ed25519_key");
	config_free(&cfg);
}

static void test_finish_keeps_given_lists(void **state)
{
	struct sbx_config cfg;
	sbx_error err = {0};

	load_text_ok(&cfg, "ListenAddress 127.0.0.1\nHostKey /k/rsa\n");
	assert_int_equal(config_finish(&cfg, &err), 0);
	assert_int_equal(cfg.n_listen, 1);
	assert_string_equal(cfg.listen[0].host, "127.0.0.1");
	assert_int_equal(cfg.n_host_keys, 1);
	assert_string_equal(cfg.host_keys[0], "/k/rsa");
	config_free(&cfg);
}

static void test_every_keyword_parses(void **state)
{
	struct sbx_config cfg;

	load_text_ok(&cfg, "AuthorizedKeysFile /etc/keys/%u\n"
			   "ClientAliveCountMax 7\n"
			   "ClientAliveInterval 30\n"
			   "HostKey /etc/k/ed25519\n"
			   "KbdInteractiveAuthentication no\n"
			   "ListenAddress 10.0.0.1\n"
			   "LogLevel DEBUG\n"
			   "LoginGraceTime 45\n"
			   "MaxAuthTries 3\n"
			   "MaxStartups 5:50:20\n"
			   "PamService sandboxd-test\n"
			   "PasswordAuthentication no\n"
			   "PidFile /run/other.pid\n"
			   "Port 2222\n"
			   "PrivsepDirectory /var/empty\n"
			   "PrivsepUser nobody\n"
			   "PubkeyAuthentication no\n"
			   "RunnerPath /opt/py/runner\n");
	assert_string_equal(cfg.authorized_keys_file, "/etc/keys/%u");
	assert_int_equal(cfg.client_alive_count_max, 7);
	assert_int_equal(cfg.client_alive_interval, 30);
	assert_int_equal(cfg.n_host_keys, 1);
	assert_string_equal(cfg.host_keys[0], "/etc/k/ed25519");
	assert_false(cfg.kbd_interactive_authentication);
	assert_int_equal(cfg.n_listen, 1);
	assert_string_equal(cfg.listen[0].host, "10.0.0.1");
	assert_int_equal(cfg.listen[0].port, 0);
	assert_int_equal(cfg.log_level, LOG_LEVEL_DEBUG);
	assert_int_equal(cfg.login_grace_time, 45);
	assert_int_equal(cfg.max_auth_tries, 3);
	assert_int_equal(cfg.max_startups_begin, 5);
	assert_int_equal(cfg.max_startups_rate, 50);
	assert_int_equal(cfg.max_startups_full, 20);
	assert_string_equal(cfg.pam_service, "sandboxd-test");
	assert_false(cfg.password_authentication);
	assert_string_equal(cfg.pid_file, "/run/other.pid");
	assert_int_equal(cfg.port, 2222);
	assert_string_equal(cfg.privsep_directory, "/var/empty");
	assert_string_equal(cfg.privsep_user, "nobody");
	assert_false(cfg.pubkey_authentication);
	assert_string_equal(cfg.runner_path, "/opt/py/runner");
	config_free(&cfg);
}

static void test_file_overrides_only_given_keywords(void **state)
{
	struct sbx_config cfg;

	load_text_ok(&cfg, "Port 2022\n");
	assert_int_equal(cfg.port, 2022);
	assert_int_equal(cfg.max_auth_tries, 6);
	assert_string_equal(cfg.pam_service, "sandboxd");
	config_free(&cfg);
}

static void test_keywords_are_case_insensitive(void **state)
{
	struct sbx_config cfg;

	load_text_ok(&cfg, "pOrT 2200\nLOGLEVEL warn\npasswordauthentication NO\n");
	assert_int_equal(cfg.port, 2200);
	assert_int_equal(cfg.log_level, LOG_LEVEL_WARNING);
	assert_false(cfg.password_authentication);
	config_free(&cfg);
}

static void test_comments_blank_lines_and_leading_whitespace_are_ignored(void **state)
{
	struct sbx_config cfg;

	load_text_ok(&cfg, "# a comment\n"
			   "\n"
			   "   \t\n"
			   "\t  # indented comment\n"
			   "   Port 2201\n"
			   "\tMaxAuthTries 4   # trailing comment\n"
			   "#Port 9999\n");
	assert_int_equal(cfg.port, 2201);
	assert_int_equal(cfg.max_auth_tries, 4);
	config_free(&cfg);
}

static void test_equals_sign_separates_keyword_and_value(void **state)
{
	struct sbx_config cfg;

	load_text_ok(&cfg, "Port=2202\nMaxAuthTries = 5\nLogLevel= ERROR\nPamService =svc\n");
	assert_int_equal(cfg.port, 2202);
	assert_int_equal(cfg.max_auth_tries, 5);
	assert_int_equal(cfg.log_level, LOG_LEVEL_ERROR);
	assert_string_equal(cfg.pam_service, "svc");
	config_free(&cfg);
}

static void test_crlf_line_endings_and_missing_final_newline_are_accepted(void **state)
{
	struct sbx_config cfg;

	load_text_ok(&cfg, "Port 2203\r\nMaxAuthTries 9");
	assert_int_equal(cfg.port, 2203);
	assert_int_equal(cfg.max_auth_tries, 9);
	config_free(&cfg);
}

static void test_quoted_value_keeps_spaces(void **state)
{
	struct sbx_config cfg;

	load_text_ok(&cfg, "HostKey \"/etc/my keys/host key\"\nAuthorizedKeysFile \"#keys\"\n");
	assert_string_equal(cfg.host_keys[0], "/etc/my keys/host key");
	assert_string_equal(cfg.authorized_keys_file, "#keys");
	config_free(&cfg);
}

static void assert_listen(const char *value, const char *host, int port)
{
	struct sbx_config cfg;
	char text[256];

	snprintf(text, sizeof(text), "ListenAddress %s\n", value);
	load_text_ok(&cfg, text);
	assert_int_equal(cfg.n_listen, 1);
	assert_string_equal(cfg.listen[0].host, host);
	assert_int_equal(cfg.listen[0].port, port);
	config_free(&cfg);
}

static void test_listen_address_accepts_every_form(void **state)
{
	assert_listen("1.2.3.4", "1.2.3.4", 0);
	assert_listen("1.2.3.4:2222", "1.2.3.4", 2222);
	assert_listen("[::1]:2222", "::1", 2222);
	assert_listen("[::1]", "::1", 0);
	assert_listen("::1", "::1", 0);
	assert_listen("::", "::", 0);
	assert_listen("fe80::1:2", "fe80::1:2", 0);
	assert_listen("localhost", "localhost", 0);
	assert_listen("host-1.example.org", "host-1.example.org", 0);
	assert_listen("host.example.org:65535", "host.example.org", 65535);
}

static void test_listen_address_repeats_append_in_order(void **state)
{
	struct sbx_config cfg;

	load_text_ok(&cfg, "ListenAddress 127.0.0.1:2000\nListenAddress [::1]:2001\n");
	assert_int_equal(cfg.n_listen, 2);
	assert_string_equal(cfg.listen[0].host, "127.0.0.1");
	assert_int_equal(cfg.listen[0].port, 2000);
	assert_string_equal(cfg.listen[1].host, "::1");
	assert_int_equal(cfg.listen[1].port, 2001);
	config_free(&cfg);
}

static void test_listen_address_rejects_bad_forms(void **state)
{
	assert_load_error("ListenAddress 1.2.3.4:70000\n", 1,
			  "ListenAddress: port '70000' in '1.2.3.4:70000' is not a port number "
			  "(1-65535)");
	assert_load_error("ListenAddress 1.2.3.4:\n", 1,
			  "ListenAddress: port '' in '1.2.3.4:' is not a port number (1-65535)");
	assert_load_error("ListenAddress 1.2.3.4:0\n", 1,
			  "ListenAddress: port '0' in '1.2.3.4:0' is not a port number (1-65535)");
	assert_load_error("ListenAddress 1.2.3.999\n", 1,
			  "ListenAddress: '1.2.3.999' is not an IPv4 address or host name");
	assert_load_error("ListenAddress bad_host\n", 1,
			  "ListenAddress: 'bad_host' is not an IPv4 address or host name");
	assert_load_error("ListenAddress -host\n", 1,
			  "ListenAddress: '-host' is not an IPv4 address or host name");
	assert_load_error("ListenAddress host..org\n", 1,
			  "ListenAddress: 'host..org' is not an IPv4 address or host name");
	assert_load_error("ListenAddress :22\n", 1,
			  "ListenAddress: '' is not an IPv4 address or host name");
	assert_load_error("ListenAddress [::1\n", 1, "ListenAddress: '[::1' has '[' without ']'");
	assert_load_error("ListenAddress [1.2.3.4]:22\n", 1,
			  "ListenAddress: '1.2.3.4' in '[1.2.3.4]:22' is not an IPv6 address");
	assert_load_error("ListenAddress [::1]x\n", 1,
			  "ListenAddress: unexpected 'x' after ']' in '[::1]x'");
	assert_load_error("ListenAddress ::1:2222:zz\n", 1,
			  "ListenAddress: '::1:2222:zz' is not an IPv6 address (write "
			  "[address]:port for a port)");
}

static void test_listen_address_rejects_more_than_sixteen(void **state)
{
	char text[2048] = "";

	for (int i = 0; i < CONFIG_MAX_LISTEN; i++) {
		size_t len = strlen(text);
		snprintf(text + len, sizeof(text) - len, "ListenAddress 10.0.0.%d\n", i + 1);
	}
	struct sbx_config cfg;
	load_text_ok(&cfg, text);
	assert_int_equal(cfg.n_listen, CONFIG_MAX_LISTEN);
	config_free(&cfg);

	strcat(text, "ListenAddress 10.0.1.1\n");
	assert_load_error(text, CONFIG_MAX_LISTEN + 1,
			  "ListenAddress: too many addresses (at most 16)");
}

static void test_host_key_repeats_append_in_order(void **state)
{
	struct sbx_config cfg;

	load_text_ok(&cfg, "HostKey /k/ed25519\nHostKey /k/rsa\n");
	assert_int_equal(cfg.n_host_keys, 2);
	assert_string_equal(cfg.host_keys[0], "/k/ed25519");
	assert_string_equal(cfg.host_keys[1], "/k/rsa");
	config_free(&cfg);
}

static void test_host_key_rejects_relative_path(void **state)
{
	assert_load_error("HostKey ssh_host_ed25519_key\n", 1,
			  "HostKey: 'ssh_host_ed25519_key' is not an absolute path");
}

static void test_host_key_rejects_same_path_twice(void **state)
{
	assert_load_error("HostKey /k/a\nHostKey /k/a\n", 2, "HostKey: '/k/a' given twice");
}

static void test_host_key_rejects_more_than_eight(void **state)
{
	char text[1024] = "";

	for (int i = 0; i <= CONFIG_MAX_HOSTKEYS; i++) {
		size_t len = strlen(text);
		snprintf(text + len, sizeof(text) - len, "HostKey /k/%d\n", i);
	}
	assert_load_error(text, CONFIG_MAX_HOSTKEYS + 1, "HostKey: too many host keys (at most 8)");
}

static void test_list_keyword_in_later_file_replaces_earlier_list(void **state)
{
	struct sbx_config cfg;
	sbx_error err = {0};

	load_text_ok(&cfg, "ListenAddress 10.0.0.1\nHostKey /k/a\n");
	assert_int_equal(config_load_file(&cfg,
					  write_text("ListenAddress 10.0.0.2\n"
						     "ListenAddress 10.0.0.3\n"),
					  &err),
			 0);
	assert_int_equal(cfg.n_listen, 2);
	assert_string_equal(cfg.listen[0].host, "10.0.0.2");
	assert_string_equal(cfg.listen[1].host, "10.0.0.3");
	assert_int_equal(cfg.n_host_keys, 1);
	config_free(&cfg);
}

static void test_port_accepts_bounds(void **state)
{
	struct sbx_config cfg;

	load_text_ok(&cfg, "Port 1\n");
	assert_int_equal(cfg.port, 1);
	config_free(&cfg);
	load_text_ok(&cfg, "Port 65535\n");
	assert_int_equal(cfg.port, 65535);
	config_free(&cfg);
}

static void test_port_rejects_out_of_range_and_non_numbers(void **state)
{
	assert_load_error("Port 70000\n", 1, "Port: '70000' is not a port number (1-65535)");
	assert_load_error("Port 65536\n", 1, "Port: '65536' is not a port number (1-65535)");
	assert_load_error("Port 0\n", 1, "Port: '0' is not a port number (1-65535)");
	assert_load_error("Port -1\n", 1, "Port: '-1' is not a port number (1-65535)");
	assert_load_error("Port +22\n", 1, "Port: '+22' is not a port number (1-65535)");
	assert_load_error("Port ssh\n", 1, "Port: 'ssh' is not a port number (1-65535)");
	assert_load_error("Port 22a\n", 1, "Port: '22a' is not a port number (1-65535)");
	assert_load_error("Port 99999999999999999999999\n", 1,
			  "Port: '99999999999999999999999' is not a port number (1-65535)");
}

static void assert_time(const char *value, unsigned seconds)
{
	struct sbx_config cfg;
	char text[128];

	snprintf(text, sizeof(text), "LoginGraceTime %s\nClientAliveInterval %s\n", value, value);
	load_text_ok(&cfg, text);
	assert_int_equal(cfg.login_grace_time, seconds);
	assert_int_equal(cfg.client_alive_interval, seconds);
	config_free(&cfg);
}

static void test_time_accepts_seconds_and_units(void **state)
{
	assert_time("120", 120);
	assert_time("0", 0);
	assert_time("90s", 90);
	assert_time("2m", 120);
	assert_time("1h", 3600);
	assert_time("1h30m", 5400);
	assert_time("1m30", 90);
	assert_time("2D", 172800);
	assert_time("1w", 604800);
	assert_time("2147483647", 2147483647u);
}

static void test_time_rejects_bad_units_and_forms(void **state)
{
	static const char *const bad[] = {"5x", "m", "1.5m", "-1", "+5", "1 m", "10ms"};
	char text[64], msg[256];

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		snprintf(text, sizeof(text), "LoginGraceTime \"%s\"\n", bad[i]);
		snprintf(msg, sizeof(msg),
			 "LoginGraceTime: '%s' is not a time (seconds, or numbers with units s, "
			 "m, h, d, w as in 90s, 2m, 1h30m)",
			 bad[i]);
		assert_load_error(text, 1, msg);
	}
	assert_load_error("ClientAliveInterval 2x\n", 1,
			  "ClientAliveInterval: '2x' is not a time (seconds, or numbers with "
			  "units s, m, h, d, w as in 90s, 2m, 1h30m)");
}

static void test_time_rejects_too_long(void **state)
{
	assert_load_error("LoginGraceTime 2147483648\n", 1,
			  "LoginGraceTime: '2147483648' is too long (at most 2147483647 seconds)");
	assert_load_error("LoginGraceTime 4000w\n", 1,
			  "LoginGraceTime: '4000w' is too long (at most 2147483647 seconds)");
	assert_load_error("ClientAliveInterval 2147483647s1s\n", 1,
			  "ClientAliveInterval: '2147483647s1s' is too long (at most 2147483647 "
			  "seconds)");
}

static void test_max_auth_tries_accepts_bounds(void **state)
{
	struct sbx_config cfg;

	load_text_ok(&cfg, "MaxAuthTries 1\n");
	assert_int_equal(cfg.max_auth_tries, 1);
	config_free(&cfg);
	load_text_ok(&cfg, "MaxAuthTries 100\n");
	assert_int_equal(cfg.max_auth_tries, 100);
	config_free(&cfg);
}

static void test_max_auth_tries_rejects_out_of_range_and_non_numbers(void **state)
{
	assert_load_error("MaxAuthTries 0\n", 1, "MaxAuthTries: '0' is out of range (1-100)");
	assert_load_error("MaxAuthTries 101\n", 1, "MaxAuthTries: '101' is out of range (1-100)");
	assert_load_error("MaxAuthTries 99999999999999999999999\n", 1,
			  "MaxAuthTries: '99999999999999999999999' is out of range (1-100)");
	assert_load_error("MaxAuthTries six\n", 1, "MaxAuthTries: 'six' is not a number");
	assert_load_error("MaxAuthTries -3\n", 1, "MaxAuthTries: '-3' is not a number");
}

static void test_client_alive_count_max_accepts_zero(void **state)
{
	struct sbx_config cfg;

	load_text_ok(&cfg, "ClientAliveCountMax 0\n");
	assert_int_equal(cfg.client_alive_count_max, 0);
	config_free(&cfg);
	assert_load_error("ClientAliveCountMax 3x\n", 1,
			  "ClientAliveCountMax: '3x' is not a number");
	assert_load_error("ClientAliveCountMax 2147483648\n", 1,
			  "ClientAliveCountMax: '2147483648' is out of range (0-2147483647)");
}

static void test_max_startups_single_number_means_start_equals_full(void **state)
{
	struct sbx_config cfg;

	load_text_ok(&cfg, "MaxStartups 7\n");
	assert_int_equal(cfg.max_startups_begin, 7);
	assert_int_equal(cfg.max_startups_rate, 100);
	assert_int_equal(cfg.max_startups_full, 7);
	config_free(&cfg);
	load_text_ok(&cfg, "MaxStartups 20:1:20\n");
	assert_int_equal(cfg.max_startups_begin, 20);
	assert_int_equal(cfg.max_startups_rate, 1);
	assert_int_equal(cfg.max_startups_full, 20);
	config_free(&cfg);
}

static void test_max_startups_rejects_bad_forms(void **state)
{
	static const char *const bad_forms[] = {"10:30", "10:30:100:5", "10::100", "a:b:c",
						":",	 "10:30:",	"ten",	   "-1:30:100"};
	char text[64], msg[256];

	for (size_t i = 0; i < ELEMENTSOF(bad_forms); i++) {
		snprintf(text, sizeof(text), "MaxStartups %s\n", bad_forms[i]);
		snprintf(msg, sizeof(msg),
			 "MaxStartups: '%s' is not 'start' or 'start:rate:full' (numbers, e.g. "
			 "10:30:100)",
			 bad_forms[i]);
		assert_load_error(text, 1, msg);
	}
	assert_load_error("MaxStartups 10:0:100\n", 1,
			  "MaxStartups: rate 0 in '10:0:100' is out of range (1-100)");
	assert_load_error("MaxStartups 10:101:100\n", 1,
			  "MaxStartups: rate 101 in '10:101:100' is out of range (1-100)");
	assert_load_error("MaxStartups 100:30:10\n", 1,
			  "MaxStartups: start 100 is greater than full 10 in '100:30:10'");
	assert_load_error("MaxStartups 0:30:100\n", 1,
			  "MaxStartups: start must be at least 1 in '0:30:100'");
}

static void test_max_sessions_and_max_logins(void **state)
{
	struct sbx_config cfg;

	config_init(&cfg);
	assert_int_equal(cfg.max_sessions, 10);
	assert_int_equal(cfg.max_logins, 500);
	config_free(&cfg);
	load_text_ok(&cfg, "MaxSessions 1\nMaxLogins none\n");
	assert_int_equal(cfg.max_sessions, 1);
	assert_int_equal(cfg.max_logins, 0);
	assert_true(dump_has_line(&cfg, "maxlogins none"));
	assert_true(dump_has_line(&cfg, "maxsessions 1"));
	config_free(&cfg);
	load_text_ok(&cfg, "MaxSessions 64\nMaxLogins 1000000\n");
	assert_int_equal(cfg.max_sessions, 64);
	assert_int_equal(cfg.max_logins, 1000000);
	assert_true(dump_has_line(&cfg, "maxlogins 1000000"));
	config_free(&cfg);
	assert_load_error("MaxSessions 0\n", 1, "MaxSessions: '0' is out of range (1-64)");
	assert_load_error("MaxSessions 65\n", 1, "MaxSessions: '65' is out of range (1-64)");
	static const char *const bad_logins[] = {"0", "-1", "1000001", "many", "5k", "None5"};
	for (size_t i = 0; i < ELEMENTSOF(bad_logins); i++) {
		char text[64], msg[160];
		snprintf(text, sizeof(text), "MaxLogins %s\n", bad_logins[i]);
		snprintf(msg, sizeof(msg),
			 "MaxLogins: '%s' is not a number of sessions (1-1000000) or 'none'",
			 bad_logins[i]);
		assert_load_error(text, 1, msg);
	}
}

static void test_yes_no_keywords_accept_yes_and_no(void **state)
{
	struct sbx_config cfg;

	load_text_ok(&cfg, "PasswordAuthentication no\nKbdInteractiveAuthentication No\n"
			   "PubkeyAuthentication NO\n");
	assert_false(cfg.password_authentication);
	assert_false(cfg.kbd_interactive_authentication);
	assert_false(cfg.pubkey_authentication);
	config_free(&cfg);
	load_text_ok(&cfg, "PasswordAuthentication yes\nKbdInteractiveAuthentication YES\n"
			   "PubkeyAuthentication Yes\n");
	assert_true(cfg.password_authentication);
	assert_true(cfg.kbd_interactive_authentication);
	assert_true(cfg.pubkey_authentication);
	config_free(&cfg);
}

static void test_yes_no_keywords_reject_other_words(void **state)
{
	assert_load_error("PasswordAuthentication maybe\n", 1,
			  "PasswordAuthentication: 'maybe' is not 'yes' or 'no'");
	assert_load_error("KbdInteractiveAuthentication 1\n", 1,
			  "KbdInteractiveAuthentication: '1' is not 'yes' or 'no'");
	assert_load_error("PubkeyAuthentication true\n", 1,
			  "PubkeyAuthentication: 'true' is not 'yes' or 'no'");
}

static void test_log_level_accepts_every_level(void **state)
{
	static const struct {
		const char *word;
		int level;
	} levels[] = {{"ERROR", LOG_LEVEL_ERROR},  {"WARNING", LOG_LEVEL_WARNING},
		      {"WARN", LOG_LEVEL_WARNING}, {"INFO", LOG_LEVEL_INFO},
		      {"DEBUG", LOG_LEVEL_DEBUG},  {"debug", LOG_LEVEL_DEBUG},
		      {"Error", LOG_LEVEL_ERROR}};
	char text[64];

	for (size_t i = 0; i < ELEMENTSOF(levels); i++) {
		struct sbx_config cfg;
		snprintf(text, sizeof(text), "LogLevel %s\n", levels[i].word);
		load_text_ok(&cfg, text);
		assert_int_equal(cfg.log_level, levels[i].level);
		config_free(&cfg);
	}
}

static void test_log_level_rejects_unknown_level(void **state)
{
	assert_load_error("LogLevel VERBOSE\n", 1,
			  "LogLevel: 'VERBOSE' is not one of ERROR, WARNING, INFO, DEBUG");
}

static void test_authorized_keys_file_accepts_known_tokens(void **state)
{
	struct sbx_config cfg;

	load_text_ok(&cfg, "AuthorizedKeysFile %h/.ssh/keys_%u_100%%\n");
	assert_string_equal(cfg.authorized_keys_file, "%h/.ssh/keys_%u_100%%");
	config_free(&cfg);
	load_text_ok(&cfg, "AuthorizedKeysFile .ssh/other_keys\n");
	assert_string_equal(cfg.authorized_keys_file, ".ssh/other_keys");
	config_free(&cfg);
}

static void test_authorized_keys_file_rejects_unknown_tokens(void **state)
{
	assert_load_error("AuthorizedKeysFile /etc/keys/%U\n", 1,
			  "AuthorizedKeysFile: unknown token '%U' in '/etc/keys/%U' (only %h, "
			  "%u, %%)");
	assert_load_error("AuthorizedKeysFile /etc/keys/%\n", 1,
			  "AuthorizedKeysFile: '%' at the end of '/etc/keys/%'");
}

static void test_paths_must_be_absolute(void **state)
{
	assert_load_error("PidFile run/sandboxd.pid\n", 1,
			  "PidFile: 'run/sandboxd.pid' is not an absolute path");
	assert_load_error("PrivsepDirectory empty\n", 1,
			  "PrivsepDirectory: 'empty' is not an absolute path");
	assert_load_error("RunnerPath sandbox-python\n", 1,
			  "RunnerPath: 'sandbox-python' is not an absolute path");
}

static void test_names_reject_bad_characters(void **state)
{
	assert_load_error("PamService ../passwd\n", 1,
			  "PamService: '../passwd' is not a PAM service name (letters, digits, "
			  "'.', '_', '-', not starting with '.')");
	assert_load_error("PamService a/b\n", 1,
			  "PamService: 'a/b' is not a PAM service name (letters, digits, '.', "
			  "'_', '-', not starting with '.')");
	assert_load_error("PrivsepUser -root\n", 1, "PrivsepUser: '-root' is not a user name");
	assert_load_error("PrivsepUser \"a b\"\n", 1, "PrivsepUser: 'a b' is not a user name");
	assert_load_error("PrivsepUser a$b\n", 1, "PrivsepUser: 'a$b' is not a user name");

	struct sbx_config cfg;
	load_text_ok(&cfg, "PrivsepUser machine$\n");
	assert_string_equal(cfg.privsep_user, "machine$");
	config_free(&cfg);
}

static void test_unknown_keyword_is_named(void **state)
{
	assert_load_error("Foo bar\n", 1, "unknown keyword 'Foo'");
	assert_load_error("Port 22\n# ok\n\nUsePAM yes\n", 4, "unknown keyword 'UsePAM'");
	assert_load_error("=22\n", 1, "missing keyword before '='");
}

static void test_single_valued_keyword_given_twice_is_error(void **state)
{
	assert_load_error("Port 22\n#\nPort 23\n", 3, "Port given twice (first at line 1)");
	assert_load_error("\nLogLevel INFO\nloglevel INFO\n", 3,
			  "LogLevel given twice (first at line 2)");
}

static void test_missing_value_is_error(void **state)
{
	assert_load_error("Port\n", 1, "Port: missing value");
	assert_load_error("Port=\n", 1, "Port: missing value");
	assert_load_error("Port   # no value\n", 1, "Port: missing value");
	assert_load_error("PidFile \"\"\n", 1, "PidFile: empty value");
}

static void test_trailing_garbage_is_error(void **state)
{
	assert_load_error("Port 22 23\n", 1, "Port: trailing garbage '23' after value '22'");
	assert_load_error("ListenAddress 1.2.3.4 rdomain x\n", 1,
			  "ListenAddress: trailing garbage 'rdomain' after value '1.2.3.4'");
}

static void test_quotes_must_balance(void **state)
{
	assert_load_error("PidFile \"/run/x.pid\n", 1,
			  "PidFile: unterminated quote in '\"/run/x.pid'");
	assert_load_error("PidFile /run/\"x\".pid\n", 1,
			  "PidFile: quote inside the value '/run/\"x\".pid'");
	assert_load_error("PidFile \"/run/x\".pid\n", 1,
			  "PidFile: unexpected '.pid' right after the quoted \"/run/x\"");
}

static void test_line_of_4096_characters_is_accepted(void **state)
{
	char text[4096 + 2];
	const char *prefix = "AuthorizedKeysFile /";
	size_t plen = strlen(prefix);

	memcpy(text, prefix, plen);
	memset(text + plen, 'k', 4096 - plen);
	text[4096] = '\n';
	text[4097] = '\0';

	struct sbx_config cfg;
	load_text_ok(&cfg, text);
	assert_int_equal(strlen(cfg.authorized_keys_file), 4096 - strlen("AuthorizedKeysFile "));
	config_free(&cfg);
}

static void test_line_over_4096_characters_is_error(void **state)
{
	char text[16 + 4097 + 2] = "Port 22\n";
	size_t start = strlen(text);

	memset(text + start, '#', 4097);
	text[start + 4097] = '\n';
	text[start + 4098] = '\0';
	assert_load_error(text, 2, "line too long (more than 4096 characters)");
}

static void test_control_characters_are_rejected(void **state)
{
	assert_load_error("PidFile /run/a\033[2Jb\n", 1,
			  "PidFile: control character 0x1b in value");
	assert_load_error("PidFile /run/a\177\n", 1, "PidFile: control character 0x7f in value");
	assert_load_error("Po\001rt 22\n", 1, "control character 0x01 in keyword");
}

static void test_nul_byte_is_rejected(void **state)
{
	static const char data[] = "Port 22\nPidFile /run/a\0b\n";
	struct sbx_config cfg;
	sbx_error err = {0};
	char expected[PATH_MAX + 64];

	config_init(&cfg);
	int r = config_load_file(&cfg, write_bytes(data, sizeof(data) - 1), &err);
	snprintf(expected, sizeof(expected), "%s:2: NUL byte in line", last_path);
	assert_int_equal(r, -EINVAL);
	assert_string_equal(err.msg, expected);
	config_free(&cfg);
}

static void test_missing_file_names_path_and_reason(void **state)
{
	struct sbx_config cfg;
	sbx_error err = {0};
	char path[PATH_MAX + 16], expected[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/does-not-exist.conf", tmp_dir);
	snprintf(expected, sizeof(expected), "%s: No such file or directory", path);
	config_init(&cfg);
	assert_int_equal(config_load_file(&cfg, path, &err), -ENOENT);
	assert_int_equal(err.code, ENOENT);
	assert_string_equal(err.msg, expected);
	config_free(&cfg);
}

static void test_directory_instead_of_file_is_error(void **state)
{
	struct sbx_config cfg;
	sbx_error err = {0};
	char expected[PATH_MAX + 64];

	snprintf(expected, sizeof(expected), "%s: Is a directory", tmp_dir);
	config_init(&cfg);
	assert_int_equal(config_load_file(&cfg, tmp_dir, &err), -EISDIR);
	assert_string_equal(err.msg, expected);
	config_free(&cfg);
}

static void test_failed_load_can_be_freed_twice(void **state)
{
	struct sbx_config cfg;
	sbx_error err = {0};

	/* Good lines before the bad one leave allocated values behind. */
	assert_int_equal(load_text(&cfg,
				   "ListenAddress 10.0.0.1\nHostKey /k/a\nPidFile /run/p\n"
				   "PamService x\nPort 0\n",
				   &err),
			 -EINVAL);
	assert_int_equal(cfg.n_listen, 1);
	config_free(&cfg);
	assert_int_equal(cfg.n_listen, 0);
	assert_null(cfg.pid_file);
	config_free(&cfg);
}

static void test_option_overrides_file_value(void **state)
{
	struct sbx_config cfg;
	sbx_error err = {0};

	load_text_ok(&cfg, "Port 2222\nMaxAuthTries 3\n");
	assert_int_equal(config_apply_option(&cfg, "Port=3333", "command line", &err), 0);
	assert_int_equal(config_apply_option(&cfg, "maxauthtries 4", "command line", &err), 0);
	assert_int_equal(config_apply_option(&cfg, "PidFile = /run/o.pid", NULL, &err), 0);
	assert_int_equal(cfg.port, 3333);
	assert_int_equal(cfg.max_auth_tries, 4);
	assert_string_equal(cfg.pid_file, "/run/o.pid");
	config_free(&cfg);
}

static void test_option_list_replaces_file_list_then_appends(void **state)
{
	struct sbx_config cfg;
	sbx_error err = {0};

	load_text_ok(&cfg, "ListenAddress 10.0.0.1\nListenAddress 10.0.0.2\n");
	assert_int_equal(config_apply_option(&cfg, "ListenAddress=127.0.0.1:2000", NULL, &err), 0);
	assert_int_equal(config_apply_option(&cfg, "ListenAddress=[::1]:2001", NULL, &err), 0);
	assert_int_equal(cfg.n_listen, 2);
	assert_string_equal(cfg.listen[0].host, "127.0.0.1");
	assert_int_equal(cfg.listen[0].port, 2000);
	assert_string_equal(cfg.listen[1].host, "::1");
	assert_int_equal(cfg.listen[1].port, 2001);
	config_free(&cfg);
}

static void test_option_error_names_origin_without_line(void **state)
{
	struct sbx_config cfg;
	sbx_error err = {0};

	config_init(&cfg);
	assert_int_equal(config_apply_option(&cfg, "Port=70000", "command line", &err), -EINVAL);
	assert_string_equal(err.msg, "command line: Port: '70000' is not a port number (1-65535)");
	assert_int_equal(config_apply_option(&cfg, "Foo=1", NULL, &err), -EINVAL);
	assert_string_equal(err.msg, "command line: unknown keyword 'Foo'");
	assert_int_equal(config_apply_option(&cfg, "LogLevel", "-o", &err), -EINVAL);
	assert_string_equal(err.msg, "-o: LogLevel: missing value");
	assert_int_equal(config_apply_option(&cfg, "", NULL, &err), -EINVAL);
	assert_string_equal(err.msg, "command line: missing keyword");
	assert_int_equal(config_apply_option(&cfg, "Port=22 23", NULL, &err), -EINVAL);
	assert_string_equal(err.msg, "command line: Port: trailing garbage '23' after value '22'");
	config_free(&cfg);
}

static void test_option_given_twice_is_error(void **state)
{
	struct sbx_config cfg;
	sbx_error err = {0};

	config_init(&cfg);
	assert_int_equal(config_apply_option(&cfg, "Port=2000", NULL, &err), 0);
	assert_int_equal(config_apply_option(&cfg, "port=2001", NULL, &err), -EINVAL);
	assert_string_equal(err.msg, "command line: Port given twice");
	assert_int_equal(cfg.port, 2000);
	config_free(&cfg);
}

static void test_option_line_too_long_is_error(void **state)
{
	struct sbx_config cfg;
	sbx_error err = {0};
	char option[4200];

	memset(option, 'x', sizeof(option) - 1);
	option[sizeof(option) - 1] = '\0';
	memcpy(option, "PidFile=/", 9);
	config_init(&cfg);
	assert_int_equal(config_apply_option(&cfg, option, NULL, &err), -EINVAL);
	assert_string_equal(err.msg, "command line: line too long (more than 4096 characters)");
	config_free(&cfg);
}

static void test_finish_rejects_same_listen_address_twice(void **state)
{
	struct sbx_config cfg;
	sbx_error err = {0};

	/* Port applies to entries without their own, so these two collide. */
	load_text_ok(&cfg, "Port 2222\nListenAddress 10.0.0.1\nListenAddress 10.0.0.1:2222\n");
	assert_int_equal(config_finish(&cfg, &err), -EINVAL);
	assert_string_equal(err.msg, "ListenAddress: '10.0.0.1' port 2222 given twice");
	config_free(&cfg);

	load_text_ok(&cfg, "ListenAddress 10.0.0.1\nListenAddress 10.0.0.1:2222\n");
	assert_int_equal(config_finish(&cfg, &err), 0);
	config_free(&cfg);
}

static void test_finish_rejects_every_authentication_disabled(void **state)
{
	struct sbx_config cfg;
	sbx_error err = {0};

	load_text_ok(&cfg, "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
			   "PubkeyAuthentication no\n");
	assert_int_equal(config_finish(&cfg, &err), -EINVAL);
	assert_string_equal(err.msg, "PasswordAuthentication, KbdInteractiveAuthentication and "
				     "PubkeyAuthentication are all 'no': nobody could log in");
	config_free(&cfg);
}

static void test_dump_prints_lower_case_effective_values(void **state)
{
	struct sbx_config cfg;
	sbx_error err = {0};

	load_text_ok(&cfg, "Port 2222\nListenAddress 10.0.0.1\nListenAddress [::1]:3000\n"
			   "LogLevel warn\nMaxStartups 5\nHostKey \"/k/a b\"\n"
			   "PasswordAuthentication no\nLoginGraceTime 2m\n");
	assert_int_equal(config_finish(&cfg, &err), 0);
	assert_true(dump_has_line(&cfg, "port 2222"));
	assert_true(dump_has_line(&cfg, "listenaddress 10.0.0.1:2222"));
	assert_true(dump_has_line(&cfg, "listenaddress [::1]:3000"));
	assert_true(dump_has_line(&cfg, "loglevel WARNING"));
	assert_true(dump_has_line(&cfg, "maxstartups 5:100:5"));
	assert_true(dump_has_line(&cfg, "hostkey \"/k/a b\""));
	assert_true(dump_has_line(&cfg, "passwordauthentication no"));
	assert_true(dump_has_line(&cfg, "pubkeyauthentication yes"));
	assert_true(dump_has_line(&cfg, "logingracetime 120"));
	assert_true(dump_has_line(&cfg, "authorizedkeysfile .ssh/authorized_keys"));
	assert_false(dump_has_line(&cfg, "Port 2222"));
	config_free(&cfg);
}

static void test_dump_of_defaults_shows_default_lists(void **state)
{
	struct sbx_config cfg;

	config_init(&cfg);
	assert_true(dump_has_line(&cfg, "listenaddress 0.0.0.0:22"));
	assert_true(dump_has_line(&cfg, "listenaddress [::]:22"));
	assert_true(dump_has_line(&cfg, "hostkey " SYSCONFDIR "/sandboxd/ssh_host_ed25519_key"));
	config_free(&cfg);
}

/* dump -> load -> finish -> dump must reproduce the first dump exactly. */
static void assert_dump_round_trips(const char *text)
{
	struct sbx_config a, b;
	sbx_error err = {0};

	load_text_ok(&a, text);
	assert_int_equal(config_finish(&a, &err), 0);
	_cleanup_free_ char *first = dump_to_string(&a);

	config_init(&b);
	if (config_load_file(&b, write_text(first), &err) < 0)
		fail_msg("dump does not load again: %s\n%s", err.msg, first);
	assert_int_equal(config_finish(&b, &err), 0);
	_cleanup_free_ char *second = dump_to_string(&b);
	assert_string_equal(first, second);
	config_free(&a);
	config_free(&b);
}

static void test_dump_round_trips_through_load(void **state)
{
	assert_dump_round_trips("");
	assert_dump_round_trips("AuthorizedKeysFile \"%h/my keys\"\n"
				"ClientAliveCountMax 0\n"
				"ClientAliveInterval 1h\n"
				"HostKey /k/ed25519\n"
				"HostKey \"/k/with space\"\n"
				"KbdInteractiveAuthentication no\n"
				"ListenAddress 10.0.0.1\n"
				"ListenAddress [fe80::1]:2022\n"
				"ListenAddress host.example.org:2023\n"
				"LogLevel ERROR\n"
				"LoginGraceTime 0\n"
				"MaxAuthTries 100\n"
				"MaxStartups 3:7:9\n"
				"PamService other\n"
				"PasswordAuthentication no\n"
				"PidFile /run/x.pid\n"
				"Port 65535\n"
				"PrivsepDirectory /var/empty\n"
				"PrivsepUser sshd\n"
				"PubkeyAuthentication yes\n"
				"RunnerPath \"/opt/my runner\"\n");
	/* Found by tests/fuzz/fuzz_config: a value starting with '=' lost it on the way back. */
	assert_dump_round_trips("AuthorizedKeysFile ==keys\n");
}

/* ---- PerSource*: penalties and limits per source block ---- */

static void test_per_source_defaults_are_openssh_9_8s(void **state)
{
	struct sbx_config cfg;

	config_init(&cfg);
	assert_true(cfg.per_source.penalties);
	assert_int_equal(cfg.per_source.crash, 90);
	assert_int_equal(cfg.per_source.authfail, 5);
	assert_int_equal(cfg.per_source.noauth, 1);
	assert_int_equal(cfg.per_source.grace_exceeded, 10);
	assert_int_equal(cfg.per_source.max, 600);
	assert_int_equal(cfg.per_source.min, 15);
	assert_int_equal(cfg.per_source.max_sources4, 65536);
	assert_int_equal(cfg.per_source.max_sources6, 65536);
	assert_false(cfg.per_source.overflow_deny_all);
	assert_false(cfg.per_source.overflow6_deny_all);
	assert_int_equal(cfg.per_source.netblock4, 32);
	assert_int_equal(cfg.per_source.netblock6, 128);
	assert_int_equal(cfg.per_source.max_startups, 0);
	assert_int_equal(cfg.per_source.n_exempt, 0);
	assert_true(dump_has_line(&cfg,
				  "persourcepenalties crash:90s authfail:5s noauth:1s "
				  "grace-exceeded:10s max:600s min:15s max-sources4:65536 "
				  "max-sources6:65536 overflow:permissive overflow6:permissive"));
	assert_true(dump_has_line(&cfg, "persourcenetblocksize 32:128"));
	assert_true(dump_has_line(&cfg, "persourcemaxstartups none"));
	assert_true(dump_has_line(&cfg, "persourcepenaltyexemptlist none"));
	config_free(&cfg);
}

static void test_per_source_penalties_take_a_list_of_words(void **state)
{
	struct sbx_config cfg;

	/* Several words, as in sshd_config; unnamed settings keep their defaults. */
	load_text_ok(&cfg,
		     "PerSourcePenalties crash:2m authfail:10s  noauth:0 grace-exceeded:1m30s "
		     "max:1h min:20s max-sources4:1024 max-sources6:1 overflow:deny-all "
		     "overflow6:permissive\n");
	assert_true(cfg.per_source.penalties);
	assert_int_equal(cfg.per_source.crash, 120);
	assert_int_equal(cfg.per_source.authfail, 10);
	assert_int_equal(cfg.per_source.noauth, 0);
	assert_int_equal(cfg.per_source.grace_exceeded, 90);
	assert_int_equal(cfg.per_source.max, 3600);
	assert_int_equal(cfg.per_source.min, 20);
	assert_int_equal(cfg.per_source.max_sources4, 1024);
	assert_int_equal(cfg.per_source.max_sources6, 1);
	assert_true(cfg.per_source.overflow_deny_all);
	assert_false(cfg.per_source.overflow6_deny_all);
	config_free(&cfg);

	load_text_ok(&cfg, "PerSourcePenalties authfail:2s\n");
	assert_int_equal(cfg.per_source.authfail, 2);
	assert_int_equal(cfg.per_source.crash, 90);
	assert_int_equal(cfg.per_source.min, 15);
	config_free(&cfg);

	/* A quoted list and the '=' form work too. */
	load_text_ok(&cfg, "PerSourcePenalties=\"crash:1s min:0\"\n");
	assert_int_equal(cfg.per_source.crash, 1);
	assert_int_equal(cfg.per_source.min, 0);
	config_free(&cfg);

	load_text_ok(&cfg, "PerSourcePenalties no\n");
	assert_false(cfg.per_source.penalties);
	assert_true(dump_has_line(&cfg, "persourcepenalties no"));
	config_free(&cfg);
	load_text_ok(&cfg, "PerSourcePenalties YES\n");
	assert_true(cfg.per_source.penalties);
	config_free(&cfg);

	/* -o replaces the file's list as a whole: settings start from the defaults again. */
	sbx_error err = {0};
	load_text_ok(&cfg, "PerSourcePenalties crash:5m\n");
	assert_int_equal(
	    config_apply_option(&cfg, "PerSourcePenalties=authfail:1s max:20s", NULL, &err), 0);
	assert_int_equal(cfg.per_source.crash, 90);
	assert_int_equal(cfg.per_source.authfail, 1);
	assert_int_equal(cfg.per_source.max, 20);
	config_free(&cfg);
}

static void test_per_source_penalties_reject_bad_settings(void **state)
{
	assert_load_error("PerSourcePenalties crash:1s foo:2s\n", 1,
			  "PerSourcePenalties: unknown setting 'foo:2s' (crash, authfail, noauth, "
			  "grace-exceeded, max, min, max-sources4, max-sources6, overflow, "
			  "overflow6)");
	assert_load_error("PerSourcePenalties crashes:1s\n", 1,
			  "PerSourcePenalties: unknown setting 'crashes:1s' (crash, authfail, "
			  "noauth, grace-exceeded, max, min, max-sources4, max-sources6, overflow, "
			  "overflow6)");
	assert_load_error("PerSourcePenalties crash\n", 1,
			  "PerSourcePenalties: 'crash' has no value (write crash:VALUE)");
	assert_load_error("PerSourcePenalties authfail:\n", 1,
			  "PerSourcePenalties: 'authfail:' has no value (write authfail:VALUE)");
	assert_load_error("PerSourcePenalties crash:1s crash:2s\n", 1,
			  "PerSourcePenalties: 'crash' given twice");
	assert_load_error("PerSourcePenalties crash:9x\n", 1,
			  "PerSourcePenalties: 'crash:9x' is not a time (seconds, or numbers with "
			  "units s, m, h, d, w as in 90s, 2m, 1h30m)");
	assert_load_error("PerSourcePenalties noauth:-1\n", 1,
			  "PerSourcePenalties: 'noauth:-1' is not a time (seconds, or numbers with "
			  "units s, m, h, d, w as in 90s, 2m, 1h30m)");
	assert_load_error("PerSourcePenalties max:99999999999\n", 1,
			  "PerSourcePenalties: 'max:99999999999' is too long (at most 2147483647 "
			  "seconds)");
	assert_load_error("PerSourcePenalties max-sources4:lots\n", 1,
			  "PerSourcePenalties: 'max-sources4:lots' is not a number");
	assert_load_error("PerSourcePenalties max-sources6:0\n", 1,
			  "PerSourcePenalties: 'max-sources6:0' is out of range (1-1048576)");
	assert_load_error("PerSourcePenalties max-sources4:1048577\n", 1,
			  "PerSourcePenalties: 'max-sources4:1048577' is out of range (1-1048576)");
	assert_load_error("PerSourcePenalties overflow:maybe\n", 1,
			  "PerSourcePenalties: 'overflow:maybe' is not overflow:permissive or "
			  "overflow:deny-all");
	assert_load_error("PerSourcePenalties overflow6:deny\n", 1,
			  "PerSourcePenalties: 'overflow6:deny' is not overflow6:permissive or "
			  "overflow6:deny-all");
	assert_load_error("PerSourcePenalties crash:1s no\n", 1,
			  "PerSourcePenalties: 'no' stands alone, not in a list of settings");
	assert_load_error(
	    "PerSourcePenalties max:10s\n", 1,
	    "PerSourcePenalties: min (15s) is not less than max (10s): no source could "
	    "ever be refused");
	assert_load_error(
	    "PerSourcePenalties min:1m max:1m\n", 1,
	    "PerSourcePenalties: min (60s) is not less than max (60s): no source could "
	    "ever be refused");
	assert_load_error("\nPerSourcePenalties no\nPerSourcePenalties yes\n", 3,
			  "PerSourcePenalties given twice (first at line 2)");
	assert_load_error("PerSourcePenalties crash:1s \"min:0\"x\n", 1,
			  "PerSourcePenalties: unexpected 'x' right after the quoted \"min:0\"");
}

static void test_per_source_net_block_size(void **state)
{
	struct sbx_config cfg;

	load_text_ok(&cfg, "PerSourceNetBlockSize 24:56\n");
	assert_int_equal(cfg.per_source.netblock4, 24);
	assert_int_equal(cfg.per_source.netblock6, 56);
	assert_true(dump_has_line(&cfg, "persourcenetblocksize 24:56"));
	config_free(&cfg);
	/* One number is the IPv4 length; IPv6 stays per address. */
	load_text_ok(&cfg, "PerSourceNetBlockSize 16\n");
	assert_int_equal(cfg.per_source.netblock4, 16);
	assert_int_equal(cfg.per_source.netblock6, 128);
	config_free(&cfg);
	load_text_ok(&cfg, "PerSourceNetBlockSize 1:1\n");
	config_free(&cfg);

	static const char *const bad_forms[] = {"24:",	 ":64", "a",	"24:64:1",
						"24/64", "-1",	"0x18", "12345678901234567"};
	for (size_t i = 0; i < ELEMENTSOF(bad_forms); i++) {
		char text[64], msg[256];
		snprintf(text, sizeof(text), "PerSourceNetBlockSize %s\n", bad_forms[i]);
		snprintf(msg, sizeof(msg),
			 "PerSourceNetBlockSize: '%s' is not 'bits4' or 'bits4:bits6' (prefix "
			 "lengths, e.g. 32:128)",
			 bad_forms[i]);
		assert_load_error(text, 1, msg);
	}
	assert_load_error("PerSourceNetBlockSize 33:128\n", 1,
			  "PerSourceNetBlockSize: IPv4 prefix length 33 is out of range (1-32)");
	assert_load_error("PerSourceNetBlockSize 0\n", 1,
			  "PerSourceNetBlockSize: IPv4 prefix length 0 is out of range (1-32)");
	assert_load_error("PerSourceNetBlockSize 32:129\n", 1,
			  "PerSourceNetBlockSize: IPv6 prefix length 129 is out of range (1-128)");
	assert_load_error("PerSourceNetBlockSize 32:0\n", 1,
			  "PerSourceNetBlockSize: IPv6 prefix length 0 is out of range (1-128)");
}

static void test_per_source_max_startups(void **state)
{
	struct sbx_config cfg;

	load_text_ok(&cfg, "PerSourceMaxStartups 5\n");
	assert_int_equal(cfg.per_source.max_startups, 5);
	assert_true(dump_has_line(&cfg, "persourcemaxstartups 5"));
	config_free(&cfg);
	load_text_ok(&cfg, "PerSourceMaxStartups NONE\n");
	assert_int_equal(cfg.per_source.max_startups, 0);
	config_free(&cfg);
	assert_load_error("PerSourceMaxStartups 0\n", 1,
			  "PerSourceMaxStartups: '0' is out of range (1-2147483647)");
	assert_load_error("PerSourceMaxStartups 2147483648\n", 1,
			  "PerSourceMaxStartups: '2147483648' is out of range (1-2147483647)");
	assert_load_error("PerSourceMaxStartups many\n", 1,
			  "PerSourceMaxStartups: 'many' is not a number or 'none'");
	assert_load_error("PerSourceMaxStartups 5 6\n", 1,
			  "PerSourceMaxStartups: trailing garbage '6' after value '5'");
}

static void test_per_source_penalty_exempt_list(void **state)
{
	struct sbx_config cfg;
	char buf[NETBLOCK_STRLEN];

	load_text_ok(&cfg, "PerSourcePenaltyExemptList 192.0.2.1,10.0.0.0/8,2001:db8::/32,"
			   "::ffff:198.51.100.0/120\n");
	assert_int_equal(cfg.per_source.n_exempt, 4);
	netblock_format(&cfg.per_source.exempt[0], buf, sizeof(buf));
	assert_string_equal(buf, "192.0.2.1/32");
	netblock_format(&cfg.per_source.exempt[2], buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8::/32");
	/* An IPv4-mapped block is the IPv4 block. */
	netblock_format(&cfg.per_source.exempt[3], buf, sizeof(buf));
	assert_string_equal(buf, "198.51.100.0/24");
	assert_true(dump_has_line(&cfg, "persourcepenaltyexemptlist "
					"192.0.2.1/32,10.0.0.0/8,2001:db8::/32,198.51.100.0/24"));
	config_free(&cfg);
	load_text_ok(&cfg, "PerSourcePenaltyExemptList none\n");
	assert_int_equal(cfg.per_source.n_exempt, 0);
	config_free(&cfg);

	assert_load_error("PerSourcePenaltyExemptList 10.1.2.3/8\n", 1,
			  "PerSourcePenaltyExemptList: '10.1.2.3/8' has bits set past its prefix "
			  "length (did you mean 10.0.0.0/8?)");
	assert_load_error(
	    "PerSourcePenaltyExemptList 192.0.2.1,2001:db8::1/32\n", 1,
	    "PerSourcePenaltyExemptList: '2001:db8::1/32' has bits set past its prefix "
	    "length (did you mean 2001:db8::/32?)");
	static const char *const bad[] = {
	    "campus.example.org", "10.0.0.0/33", "10.0.0.0/",	"::1/129",
	    "10.0.0.256",	  "10.0.0.0/8x", "fe80::1%eth0"};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		char text[128], msg[256];
		snprintf(text, sizeof(text), "PerSourcePenaltyExemptList 192.0.2.1,%s\n", bad[i]);
		snprintf(msg, sizeof(msg),
			 "PerSourcePenaltyExemptList: '%s' is not an address or CIDR block (e.g. "
			 "192.0.2.1, 10.0.0.0/8, 2001:db8::/32)",
			 bad[i]);
		assert_load_error(text, 1, msg);
	}
	assert_load_error("PerSourcePenaltyExemptList 10.0.0.0/8,,192.0.2.1\n", 1,
			  "PerSourcePenaltyExemptList: empty address in '10.0.0.0/8,,192.0.2.1'");
	assert_load_error("PerSourcePenaltyExemptList 10.0.0.0/8,\n", 1,
			  "PerSourcePenaltyExemptList: empty address in '10.0.0.0/8,'");
	assert_load_error(
	    "PerSourcePenaltyExemptList "
	    "1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb/128\n",
	    1,
	    "PerSourcePenaltyExemptList: "
	    "'1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb/128' "
	    "is not an address or CIDR block (e.g. 192.0.2.1, 10.0.0.0/8, 2001:db8::/32)");

	char text[2048] = "PerSourcePenaltyExemptList ";
	for (int i = 0; i <= CONFIG_MAX_PENALTY_EXEMPT; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s10.0.%d.0/24",
			 i ? "," : "", i);
	strcat(text, "\n");
	assert_load_error(text, 1, "PerSourcePenaltyExemptList: more than 64 addresses");
}

static void test_per_source_keywords_round_trip(void **state)
{
	assert_dump_round_trips("PerSourcePenalties crash:1m authfail:3s noauth:0s max:2m min:1s "
				"max-sources4:7 overflow:deny-all\n"
				"PerSourceNetBlockSize 24:48\n"
				"PerSourceMaxStartups 3\n"
				"PerSourcePenaltyExemptList 10.0.0.0/8,2001:db8::1\n");
	assert_dump_round_trips("PerSourcePenalties no\nPerSourceMaxStartups none\n");
}

static bool is_known_keyword(const char *lower)
{
	for (size_t i = 0; i < ELEMENTSOF(all_keywords); i++)
		if (strcasecmp(all_keywords[i], lower) == 0)
			return true;
	return false;
}

static void test_dump_lists_only_tested_keywords(void **state)
{
	struct sbx_config cfg;
	size_t seen = 0;

	config_init(&cfg);
	_cleanup_free_ char *dump = dump_to_string(&cfg);
	for (char *line = strtok(dump, "\n"); line; line = strtok(NULL, "\n")) {
		char *space = strchr(line, ' ');
		assert_non_null(space);
		*space = '\0';
		if (!is_known_keyword(line))
			fail_msg("keyword '%s' is not in this test's all_keywords", line);
		for (char *c = line; *c; c++)
			assert_false(*c >= 'A' && *c <= 'Z');
		seen++;
	}
	/* ListenAddress appears twice in a default dump. */
	assert_int_equal(seen, ELEMENTSOF(all_keywords) + 1);
	config_free(&cfg);
}

/* The source tree: $top_srcdir under make check, else from this file's compiled-in path, which
 * automake gives relative to the top build directory or absolute. */
static void source_path(char *buf, size_t size, const char *rel)
{
	const char *top = getenv("top_srcdir");
	static const char self[] = "tests/unit/test_config.c";
	size_t file_len = strlen(__FILE__), self_len = strlen(self);

	if (top && *top) {
		snprintf(buf, size, "%s/%s", top, rel);
		return;
	}
	assert_true(file_len >= self_len && strcmp(__FILE__ + file_len - self_len, self) == 0);
	snprintf(buf, size, "%.*s%s", (int)(file_len - self_len), __FILE__, rel);
}

static char *read_source_file(const char *rel)
{
	char path[PATH_MAX];
	char *buf = NULL;
	size_t size = 0;

	source_path(path, sizeof(path), rel);
	FILE *in = fopen(path, "re");
	if (!in)
		fail_msg("cannot open %s: %s", path, strerror(errno));
	FILE *out = open_memstream(&buf, &size);
	assert_non_null(out);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), in)) > 0)
		assert_int_equal(fwrite(chunk, 1, n, out), n);
	fclose(in);
	assert_int_equal(fclose(out), 0);
	return buf;
}

static void test_man_page_documents_every_keyword(void **state)
{
	_cleanup_free_ char *page = read_source_file("man/sandboxd.conf.5");
	char needle[128];

	for (size_t i = 0; i < ELEMENTSOF(all_keywords); i++) {
		snprintf(needle, sizeof(needle), "\n.TP\n.B %s\n", all_keywords[i]);
		if (!strstr(page, needle))
			fail_msg("man/sandboxd.conf.5 has no \".TP .B %s\" entry", all_keywords[i]);
	}
}

/* The shipped file lists every keyword as "#Keyword default"; with the '#' removed it must load
 * and give exactly the built-in defaults. */
static void test_shipped_config_shows_true_defaults(void **state)
{
	_cleanup_free_ char *text = read_source_file("data/sandboxd.conf");
	struct sbx_config shipped, defaults;
	sbx_error err = {0};

	for (size_t i = 0; i < ELEMENTSOF(all_keywords); i++) {
		char needle[128];
		snprintf(needle, sizeof(needle), "\n#%s ", all_keywords[i]);
		if (!strstr(text, needle))
			fail_msg("data/sandboxd.conf has no \"#%s default\" line", all_keywords[i]);
	}
	for (char *p = text; (p = strstr(p, "\n#")); p++)
		if (p[2] >= 'A' && p[2] <= 'Z')
			p[1] = ' ';

	config_init(&shipped);
	if (config_load_file(&shipped, write_text(text), &err) < 0)
		fail_msg("uncommented data/sandboxd.conf does not load: %s", err.msg);
	assert_int_equal(config_finish(&shipped, &err), 0);
	config_init(&defaults);
	assert_int_equal(config_finish(&defaults, &err), 0);
	/* The shipped file names /etc, /usr/libexec and /var, whatever this build was configured with. */
	if (strcmp(SYSCONFDIR, "/etc") != 0) {
		free(shipped.host_keys[0]);
		shipped.host_keys[0] = strdup(defaults.host_keys[0]);
	}
	if (strcmp(LIBEXECDIR, "/usr/libexec") != 0) {
		free(shipped.runner_path);
		shipped.runner_path = strdup(defaults.runner_path);
	}
	if (strcmp(SYSCONFDIR, "/etc") != 0) {
		free(shipped.policy_directory);
		shipped.policy_directory = strdup(defaults.policy_directory);
	}
	if (strcmp(LOCALSTATEDIR, "/var") != 0) {
		free(shipped.audit_file);
		shipped.audit_file = strdup(defaults.audit_file);
		free(shipped.state_directory);
		shipped.state_directory = strdup(defaults.state_directory);
	}
	_cleanup_free_ char *a = dump_to_string(&shipped);
	_cleanup_free_ char *b = dump_to_string(&defaults);
	assert_string_equal(a, b);
	config_free(&shipped);
	config_free(&defaults);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_init_sets_documented_defaults),
	    cmocka_unit_test(test_finish_fills_listen_and_host_key_defaults),
	    cmocka_unit_test(test_finish_keeps_given_lists),
	    cmocka_unit_test(test_every_keyword_parses),
	    cmocka_unit_test(test_file_overrides_only_given_keywords),
	    cmocka_unit_test(test_keywords_are_case_insensitive),
	    cmocka_unit_test(test_comments_blank_lines_and_leading_whitespace_are_ignored),
	    cmocka_unit_test(test_equals_sign_separates_keyword_and_value),
	    cmocka_unit_test(test_crlf_line_endings_and_missing_final_newline_are_accepted),
	    cmocka_unit_test(test_quoted_value_keeps_spaces),
	    cmocka_unit_test(test_listen_address_accepts_every_form),
	    cmocka_unit_test(test_listen_address_repeats_append_in_order),
	    cmocka_unit_test(test_listen_address_rejects_bad_forms),
	    cmocka_unit_test(test_listen_address_rejects_more_than_sixteen),
	    cmocka_unit_test(test_host_key_repeats_append_in_order),
	    cmocka_unit_test(test_host_key_rejects_relative_path),
	    cmocka_unit_test(test_host_key_rejects_same_path_twice),
	    cmocka_unit_test(test_host_key_rejects_more_than_eight),
	    cmocka_unit_test(test_list_keyword_in_later_file_replaces_earlier_list),
	    cmocka_unit_test(test_port_accepts_bounds),
	    cmocka_unit_test(test_port_rejects_out_of_range_and_non_numbers),
	    cmocka_unit_test(test_time_accepts_seconds_and_units),
	    cmocka_unit_test(test_time_rejects_bad_units_and_forms),
	    cmocka_unit_test(test_time_rejects_too_long),
	    cmocka_unit_test(test_max_auth_tries_accepts_bounds),
	    cmocka_unit_test(test_max_auth_tries_rejects_out_of_range_and_non_numbers),
	    cmocka_unit_test(test_client_alive_count_max_accepts_zero),
	    cmocka_unit_test(test_max_startups_single_number_means_start_equals_full),
	    cmocka_unit_test(test_max_startups_rejects_bad_forms),
	    cmocka_unit_test(test_max_sessions_and_max_logins),
	    cmocka_unit_test(test_yes_no_keywords_accept_yes_and_no),
	    cmocka_unit_test(test_yes_no_keywords_reject_other_words),
	    cmocka_unit_test(test_log_level_accepts_every_level),
	    cmocka_unit_test(test_log_level_rejects_unknown_level),
	    cmocka_unit_test(test_authorized_keys_file_accepts_known_tokens),
	    cmocka_unit_test(test_authorized_keys_file_rejects_unknown_tokens),
	    cmocka_unit_test(test_paths_must_be_absolute),
	    cmocka_unit_test(test_names_reject_bad_characters),
	    cmocka_unit_test(test_unknown_keyword_is_named),
	    cmocka_unit_test(test_single_valued_keyword_given_twice_is_error),
	    cmocka_unit_test(test_missing_value_is_error),
	    cmocka_unit_test(test_trailing_garbage_is_error),
	    cmocka_unit_test(test_quotes_must_balance),
	    cmocka_unit_test(test_line_of_4096_characters_is_accepted),
	    cmocka_unit_test(test_line_over_4096_characters_is_error),
	    cmocka_unit_test(test_control_characters_are_rejected),
	    cmocka_unit_test(test_nul_byte_is_rejected),
	    cmocka_unit_test(test_missing_file_names_path_and_reason),
	    cmocka_unit_test(test_directory_instead_of_file_is_error),
	    cmocka_unit_test(test_failed_load_can_be_freed_twice),
	    cmocka_unit_test(test_option_overrides_file_value),
	    cmocka_unit_test(test_option_list_replaces_file_list_then_appends),
	    cmocka_unit_test(test_option_error_names_origin_without_line),
	    cmocka_unit_test(test_option_given_twice_is_error),
	    cmocka_unit_test(test_option_line_too_long_is_error),
	    cmocka_unit_test(test_finish_rejects_same_listen_address_twice),
	    cmocka_unit_test(test_finish_rejects_every_authentication_disabled),
	    cmocka_unit_test(test_dump_prints_lower_case_effective_values),
	    cmocka_unit_test(test_dump_of_defaults_shows_default_lists),
	    cmocka_unit_test(test_dump_round_trips_through_load),
	    cmocka_unit_test(test_per_source_defaults_are_openssh_9_8s),
	    cmocka_unit_test(test_per_source_penalties_take_a_list_of_words),
	    cmocka_unit_test(test_per_source_penalties_reject_bad_settings),
	    cmocka_unit_test(test_per_source_net_block_size),
	    cmocka_unit_test(test_per_source_max_startups),
	    cmocka_unit_test(test_per_source_penalty_exempt_list),
	    cmocka_unit_test(test_per_source_keywords_round_trip),
	    cmocka_unit_test(test_dump_lists_only_tested_keywords),
	    cmocka_unit_test(test_man_page_documents_every_keyword),
	    cmocka_unit_test(test_shipped_config_shows_true_defaults),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
