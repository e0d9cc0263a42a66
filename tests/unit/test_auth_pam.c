/* The PAM layer against a real libpam under pam_wrapper: pam_matrix as the password backend,
 * pam_chatty for talkative modules, pam_deny and pam_exec from the system's module directory.
 * The program sets up its own service directory and re-executes itself with libpam_wrapper
 * preloaded, so it runs the same from make check and by hand.
 *
 * The file includes auth_pam.c itself so that the conversation adapter can also be driven with
 * message arrays no stock module produces (32 messages, NULL text, unknown styles). */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "pam/auth_pam.c"

#include "common/sanitizer.h"

#ifdef SANITIZER_ADDRESS
/* The test re-executes itself with libpam_wrapper preloaded ahead of the ASan runtime; the
 * wrapper interposes only PAM's functions, so the runtime's link order check does not apply. */
__attribute__((visibility("default"))) const char *__asan_default_options(void);
__attribute__((visibility("default"))) const char *__asan_default_options(void)
{
	return "verify_asan_link_order=0";
}

/* pam_wrapper's test module pam_chatty never frees the responses its conversation gets (as
 * the adapter's comment says); not our code. */
__attribute__((visibility("default"))) const char *__lsan_default_suppressions(void);
__attribute__((visibility("default"))) const char *__lsan_default_suppressions(void)
{
	return "leak:pam_chatty.so\n";
}
#endif

#define REEXEC_ENV "SBX_TEST_AUTH_PAM_DIR"

static char test_dir[PATH_MAX];

static bool join(char *buf, size_t size, const char *dir, const char *name)
{
	int n = snprintf(buf, size, "%s/%s", dir, name);
	return n > 0 && (size_t)n < size;
}

static void path_in_dir(char *buf, size_t size, const char *name)
{
	if (!join(buf, size, test_dir, name))
		abort();
}

/* Every message the conversation saw, in order, with the round it came in. */
struct recorder {
	size_t rounds;
	size_t n;
	enum auth_msg_style style[64];
	char text[64][128];
	size_t round_of[64];
	const char *const *replies; /* answers for successive prompts; NULL leaves one unanswered */
	size_t n_replies;
	size_t prompts;
	bool abort_at_first_prompt; /* fill the answer, then fail the round */
};

static int record_conv(void *userdata, const struct auth_msg *msgs, size_t n, char **answers)
{
	struct recorder *rec = userdata;
	rec->rounds++;
	for (size_t i = 0; i < n; i++) {
		if (rec->n < ELEMENTSOF(rec->style)) {
			rec->style[rec->n] = msgs[i].style;
			snprintf(rec->text[rec->n], sizeof(rec->text[0]), "%s", msgs[i].text);
			rec->round_of[rec->n] = rec->rounds;
			rec->n++;
		}
		if (msgs[i].style != AUTH_PROMPT_ECHO_OFF && msgs[i].style != AUTH_PROMPT_ECHO_ON)
			continue;
		size_t k = rec->prompts++;
		if (k < rec->n_replies && rec->replies[k]) {
			answers[i] = strdup(rec->replies[k]);
			if (!answers[i])
				return -ENOMEM;
		}
		if (rec->abort_at_first_prompt)
			return -ECANCELED;
	}
	return 0;
}

struct expected {
	enum auth_msg_style style;
	const char *text;
};

static void assert_messages(const struct recorder *rec, const struct expected *want, size_t n)
{
	for (size_t i = 0; i < n && i < rec->n; i++) {
		if (rec->style[i] != want[i].style || strcmp(rec->text[i], want[i].text) != 0)
			fail_msg("message %zu: got style %d \"%s\", want style %d \"%s\"", i,
				 (int)rec->style[i], rec->text[i], (int)want[i].style,
				 want[i].text);
	}
	assert_int_equal(rec->n, n);
}

static struct auth_pam *start(const char *service, const char *user, struct recorder *rec)
{
	struct auth_pam_params params = {
	    .service = service,
	    .user = user,
	    .rhost = "192.0.2.7",
	    .ruser = user,
	    .conv = record_conv,
	    .conv_userdata = rec,
	};
	struct auth_pam *pam = NULL;
	sbx_error err = {0};
	int r = auth_pam_start(&params, &pam, &err);
	if (r < 0)
		fail_msg("auth_pam_start(%s, %s): %s", service, user, err.msg);
	assert_non_null(pam);
	return pam;
}

static void test_password_accepted(void **state)
{
	const char *const replies[] = {"secret"};
	struct recorder rec = {.replies = replies, .n_replies = 1};
	struct auth_pam *pam = start("sbx_matrix", "alice", &rec);
	sbx_error err = {0};

	assert_int_equal(auth_pam_authenticate(pam, &err), 0);
	assert_int_equal(auth_pam_last_status(pam), PAM_SUCCESS);
	const struct expected want[] = {
	    {AUTH_PROMPT_ECHO_OFF, "Password: "},
	    {AUTH_TEXT_INFO, "Authentication succeeded"},
	};
	assert_messages(&rec, want, ELEMENTSOF(want));
	assert_int_equal(rec.rounds, 2);
	assert_int_equal(auth_pam_account(pam, &err), 0);
	auth_pam_end(pam);
}

static void test_password_conv_accepted(void **state)
{
	struct auth_password_conv pc = {.password = "secret"};
	struct auth_pam_params params = {
	    .service = "sbx_matrix",
	    .user = "alice",
	    .conv = auth_password_conv,
	    .conv_userdata = &pc,
	};
	struct auth_pam *pam = NULL;
	sbx_error err = {0};

	assert_int_equal(auth_pam_start(&params, &pam, &err), 0);
	assert_int_equal(auth_pam_authenticate(pam, &err), 0);
	assert_string_equal(pc.messages, "Authentication succeeded");
	auth_pam_end(pam);
}

/* Runs one failed password login and returns what the client would be told. */
static void failed_login(const char *user, const char *password, sbx_error *err,
			 struct recorder *rec)
{
	const char *const replies[] = {password};
	*rec = (struct recorder){.replies = replies, .n_replies = 1};
	struct auth_pam *pam = start("sbx_matrix", user, rec);

	assert_int_equal(auth_pam_authenticate(pam, err), -EACCES);
	assert_int_equal(err->code, EACCES);
	assert_int_equal(auth_pam_last_status(pam), PAM_AUTH_ERR);
	assert_non_null(strstr(auth_pam_last_log(pam), "pam_authenticate"));
	rec->replies = NULL;
	auth_pam_end(pam);
}

static void test_wrong_password_and_unknown_user_look_alike(void **state)
{
	sbx_error wrong = {0}, unknown = {0};
	struct recorder rec_wrong, rec_unknown;
	const struct expected want[] = {
	    {AUTH_PROMPT_ECHO_OFF, "Password: "},
	    {AUTH_TEXT_ERROR, "Authentication failed"},
	};

	failed_login("alice", "not-the-password", &wrong, &rec_wrong);
	assert_string_equal(wrong.msg, "authentication failed");
	assert_messages(&rec_wrong, want, ELEMENTSOF(want));

	failed_login("mallory", "secret", &unknown, &rec_unknown);
	assert_string_equal(unknown.msg, wrong.msg);
	assert_int_equal(unknown.code, wrong.code);
	assert_messages(&rec_unknown, want, ELEMENTSOF(want));
}

static void test_account_not_permitted(void **state)
{
	/* bob's password is right, but pam_matrix allows him only another service. */
	const char *const replies[] = {"hunter2"};
	struct recorder rec = {.replies = replies, .n_replies = 1};
	struct auth_pam *pam = start("sbx_matrix", "bob", &rec);
	sbx_error err = {0};

	assert_int_equal(auth_pam_authenticate(pam, &err), 0);
	assert_int_equal(auth_pam_account(pam, &err), -EACCES);
	assert_string_equal(err.msg, "account locked or not permitted");
	assert_int_equal(auth_pam_last_status(pam), PAM_PERM_DENIED);
	auth_pam_end(pam);
}

static void test_account_denied_by_pam_deny(void **state)
{
	const char *const replies[] = {"secret"};
	struct recorder rec = {.replies = replies, .n_replies = 1};
	struct auth_pam *pam = start("sbx_deny", "alice", &rec);
	sbx_error err = {0};

	assert_int_equal(auth_pam_authenticate(pam, &err), 0);
	assert_int_equal(rec.n, 1);
	assert_int_equal(auth_pam_account(pam, &err), -EACCES);
	assert_int_equal(err.code, EACCES);
	assert_string_equal(err.msg, "account locked or not permitted");
	assert_int_equal(auth_pam_last_status(pam), PAM_AUTH_ERR);
	auth_pam_end(pam);
}

/* sbx_chatty: pam_chatty (4 info, 4 error lines), pam_matrix asking with echo off, then
 * pam_matrix asking again with echo on and reporting its verdict. */
static const struct expected chatty_messages[] = {
    {AUTH_TEXT_INFO, "Authentication succeeded"},
    {AUTH_TEXT_INFO, "Authentication succeeded"},
    {AUTH_TEXT_INFO, "Authentication succeeded"},
    {AUTH_TEXT_INFO, "Authentication succeeded"},
    {AUTH_TEXT_ERROR, "Authentication generated an error"},
    {AUTH_TEXT_ERROR, "Authentication generated an error"},
    {AUTH_TEXT_ERROR, "Authentication generated an error"},
    {AUTH_TEXT_ERROR, "Authentication generated an error"},
    {AUTH_PROMPT_ECHO_OFF, "Password: "},
    {AUTH_PROMPT_ECHO_ON, "Password: "},
};

static int chatty_login(const char *first, const char *second, struct recorder *rec)
{
	const char *const replies[] = {first, second};
	*rec = (struct recorder){.replies = replies, .n_replies = 2};
	struct auth_pam *pam = start("sbx_chatty", "alice", rec);
	sbx_error err = {0};
	int r = auth_pam_authenticate(pam, &err);
	rec->replies = NULL;
	auth_pam_end(pam);
	return r;
}

static void test_several_rounds_in_order(void **state)
{
	struct recorder rec;
	struct expected want[ELEMENTSOF(chatty_messages) + 1];
	memcpy(want, chatty_messages, sizeof(chatty_messages));

	want[ELEMENTSOF(chatty_messages)] =
	    (struct expected){AUTH_TEXT_INFO, "Authentication succeeded"};
	assert_int_equal(chatty_login("secret", "secret", &rec), 0);
	assert_messages(&rec, want, ELEMENTSOF(want));
	assert_int_equal(rec.rounds, ELEMENTSOF(want));
	for (size_t i = 0; i < rec.n; i++)
		assert_int_equal(rec.round_of[i], i + 1);

	/* Only the answer to the second prompt is wrong: it must have reached the second module. */
	want[ELEMENTSOF(chatty_messages)] =
	    (struct expected){AUTH_TEXT_ERROR, "Authentication failed"};
	assert_int_equal(chatty_login("secret", "wrong", &rec), -EACCES);
	assert_messages(&rec, want, ELEMENTSOF(want));

	/* And the first answer reached the first module ("required" runs the rest regardless). */
	want[ELEMENTSOF(chatty_messages)] =
	    (struct expected){AUTH_TEXT_INFO, "Authentication succeeded"};
	assert_int_equal(chatty_login("wrong", "secret", &rec), -EACCES);
	assert_messages(&rec, want, ELEMENTSOF(want));
}

static void test_password_conv_refuses_echo_on_prompt(void **state)
{
	struct auth_password_conv pc = {.password = "secret"};
	struct auth_pam_params params = {
	    .service = "sbx_chatty",
	    .user = "alice",
	    .conv = auth_password_conv,
	    .conv_userdata = &pc,
	};
	struct auth_pam *pam = NULL;
	sbx_error err = {0};

	assert_int_equal(auth_pam_start(&params, &pam, &err), 0);
	assert_int_equal(auth_pam_authenticate(pam, &err), -EACCES);
	assert_string_equal(err.msg, "authentication failed");
	/* pam_matrix reports a failed conversation as PAM_AUTHINFO_UNAVAIL. */
	assert_int_equal(auth_pam_last_status(pam), PAM_AUTHINFO_UNAVAIL);
	assert_string_equal(pc.messages, "Authentication succeeded\n"
					 "Authentication succeeded\n"
					 "Authentication succeeded\n"
					 "Authentication succeeded\n"
					 "Authentication generated an error\n"
					 "Authentication generated an error\n"
					 "Authentication generated an error\n"
					 "Authentication generated an error");
	auth_pam_end(pam);
}

static void test_aborting_callback_fails(void **state)
{
	const char *const replies[] = {"secret"};
	struct recorder rec = {.replies = replies, .n_replies = 1, .abort_at_first_prompt = true};
	struct auth_pam *pam = start("sbx_matrix", "alice", &rec);
	sbx_error err = {0};

	/* The right password was filled in before the abort: it must not be used. */
	assert_int_equal(auth_pam_authenticate(pam, &err), -EACCES);
	assert_string_equal(err.msg, "authentication failed");
	assert_int_not_equal(auth_pam_last_status(pam), PAM_SUCCESS);
	const struct expected want[] = {{AUTH_PROMPT_ECHO_OFF, "Password: "}};
	assert_messages(&rec, want, ELEMENTSOF(want));
	assert_int_equal(rec.rounds, 1);
	auth_pam_end(pam);
}

static void test_unanswered_prompt_fails(void **state)
{
	struct recorder rec = {0};
	struct auth_pam *pam = start("sbx_matrix", "alice", &rec);
	sbx_error err = {0};

	assert_int_equal(auth_pam_authenticate(pam, &err), -EACCES);
	assert_int_equal(rec.rounds, 1);
	assert_int_equal(rec.prompts, 1);
	auth_pam_end(pam);
}

static bool env_has(char **env, const char *entry)
{
	for (char **e = env; e && *e; e++)
		if (strcmp(*e, entry) == 0)
			return true;
	return false;
}

static bool env_has_name(char **env, const char *name)
{
	size_t len = strlen(name);
	for (char **e = env; e && *e; e++)
		if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
			return true;
	return false;
}

static void env_free(char **env)
{
	for (char **e = env; e && *e; e++)
		free(*e);
	free(env);
}

static char *read_exec_log(void)
{
	char path[PATH_MAX];
	path_in_dir(path, sizeof(path), "exec.log");
	FILE *f = fopen(path, "re");
	static char buf[4096];
	buf[0] = '\0';
	if (f) {
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		buf[n] = '\0';
		fclose(f);
	}
	return buf;
}

static void test_session_items_and_env(void **state)
{
	const char *const replies[] = {"secret"};
	struct recorder rec = {.replies = replies, .n_replies = 1};
	struct auth_pam *pam = start("sbx_matrix", "alice", &rec);
	sbx_error err = {0};
	char **env;

	assert_int_equal(auth_pam_authenticate(pam, &err), 0);
	assert_int_equal(auth_pam_account(pam, &err), 0);

	assert_int_equal(auth_pam_setcred(pam, true, &err), 0);
	env = auth_pam_env(pam);
	assert_non_null(env);
	assert_true(env_has(env, "CRED=/tmp/alice"));
	assert_false(env_has_name(env, "HOMEDIR"));
	env_free(env);

	assert_int_equal(auth_pam_open_session(pam, &err), 0);
	env = auth_pam_env(pam);
	assert_true(env_has(env, "HOMEDIR=/home/alice"));
	env_free(env);
	/* pam_exec saw the items we set; PAM_TTY defaulted to "ssh". */
	assert_string_equal(read_exec_log(), "open_session alice 192.0.2.7 alice ssh\n");

	assert_int_equal(auth_pam_close_session(pam, &err), 0);
	env = auth_pam_env(pam);
	assert_false(env_has_name(env, "HOMEDIR"));
	env_free(env);
	assert_string_equal(read_exec_log(), "open_session alice 192.0.2.7 alice ssh\n"
					     "close_session alice 192.0.2.7 alice ssh\n");

	/* A session still open at the end is closed by auth_pam_end, without a conversation. */
	assert_int_equal(auth_pam_open_session(pam, &err), 0);
	size_t rounds = rec.rounds;
	auth_pam_end(pam);
	assert_int_equal(rec.rounds, rounds);
	assert_string_equal(read_exec_log(), "open_session alice 192.0.2.7 alice ssh\n"
					     "close_session alice 192.0.2.7 alice ssh\n"
					     "open_session alice 192.0.2.7 alice ssh\n"
					     "close_session alice 192.0.2.7 alice ssh\n");

	char path[PATH_MAX];
	path_in_dir(path, sizeof(path), "exec.log");
	unlink(path);
}

static void test_start_refuses_missing_arguments(void **state)
{
	struct auth_pam_params params = {.service = "sbx_matrix", .user = NULL};
	struct auth_pam *pam = NULL;
	sbx_error err = {0};

	assert_int_equal(auth_pam_start(&params, &pam, &err), -EINVAL);
	assert_null(pam);
	params.user = "";
	assert_int_equal(auth_pam_start(&params, &pam, &err), -EINVAL);
	assert_int_equal(auth_pam_start(NULL, &pam, &err), -EINVAL);
	auth_pam_end(NULL);
}

/* The adapter itself, called the way a module calls it: through the PAM_CONV item. */
static const struct pam_conv *conv_of(struct auth_pam *pam)
{
	const void *item = NULL;
	assert_int_equal(pam_get_item(pam->handle, PAM_CONV, &item), PAM_SUCCESS);
	assert_non_null(item);
	return item;
}

static void free_responses(struct pam_response *resp, size_t n)
{
	for (size_t i = 0; resp && i < n; i++)
		free(resp[i].resp);
	free(resp);
}

static int answer_everything_conv(void *userdata, const struct auth_msg *msgs, size_t n,
				  char **answers)
{
	struct recorder *rec = userdata;
	record_conv(rec, msgs, n, answers);
	for (size_t i = 0; i < n; i++) {
		if (answers[i])
			continue;
		char buf[32];
		snprintf(buf, sizeof(buf), "answer-%zu", i);
		/* Text messages get an answer too: the adapter must drop those. */
		answers[i] = strdup(buf);
		if (!answers[i])
			return -ENOMEM;
	}
	return 0;
}

static void test_conversation_full_round(void **state)
{
	struct recorder rec = {0};
	struct auth_pam *pam = start("sbx_matrix", "alice", &rec);
	auth_pam_set_conv(pam, answer_everything_conv, &rec);
	const struct pam_conv *conv = conv_of(pam);

	struct pam_message m[PAM_MAX_NUM_MSG];
	const struct pam_message *mp[PAM_MAX_NUM_MSG + 1];
	char texts[PAM_MAX_NUM_MSG][32];
	static const int styles[] = {PAM_PROMPT_ECHO_OFF, PAM_PROMPT_ECHO_ON, PAM_ERROR_MSG,
				     PAM_TEXT_INFO};
	for (size_t i = 0; i < PAM_MAX_NUM_MSG; i++) {
		snprintf(texts[i], sizeof(texts[i]), "message %zu", i);
		m[i].msg_style = styles[i % 4];
		m[i].msg = i == 5 ? NULL : texts[i];
		mp[i] = &m[i];
	}
	mp[PAM_MAX_NUM_MSG] = &m[0];

	struct pam_response *resp = NULL;
	assert_int_equal(conv->conv(PAM_MAX_NUM_MSG, mp, &resp, conv->appdata_ptr), PAM_SUCCESS);
	assert_non_null(resp);
	assert_int_equal(rec.rounds, 1);
	assert_int_equal(rec.n, PAM_MAX_NUM_MSG);
	for (size_t i = 0; i < PAM_MAX_NUM_MSG; i++) {
		bool prompt =
		    m[i].msg_style == PAM_PROMPT_ECHO_OFF || m[i].msg_style == PAM_PROMPT_ECHO_ON;
		assert_string_equal(rec.text[i], i == 5 ? "" : texts[i]);
		assert_int_equal(rec.style[i], i % 4);
		if (prompt) {
			char want[32];
			snprintf(want, sizeof(want), "answer-%zu", i);
			assert_non_null(resp[i].resp);
			assert_string_equal(resp[i].resp, want);
		} else {
			assert_null(resp[i].resp);
		}
		assert_int_equal(resp[i].resp_retcode, 0);
	}
	free_responses(resp, PAM_MAX_NUM_MSG);

	/* One message too many, none at all: refused without bothering the callback. */
	rec = (struct recorder){0};
	resp = (struct pam_response *)&rec;
	assert_int_equal(conv->conv(PAM_MAX_NUM_MSG + 1, mp, &resp, conv->appdata_ptr),
			 PAM_CONV_ERR);
	assert_null(resp);
	assert_int_equal(conv->conv(0, mp, &resp, conv->appdata_ptr), PAM_CONV_ERR);
	assert_int_equal(conv->conv(-1, mp, &resp, conv->appdata_ptr), PAM_CONV_ERR);
	assert_int_equal(rec.rounds, 0);

	/* Styles no SSH client can answer. */
	struct pam_message odd = {.msg_style = PAM_BINARY_PROMPT, .msg = "x"};
	const struct pam_message *oddp = &odd;
	assert_int_equal(conv->conv(1, &oddp, &resp, conv->appdata_ptr), PAM_CONV_ERR);
	odd.msg_style = PAM_RADIO_TYPE;
	assert_int_equal(conv->conv(1, &oddp, &resp, conv->appdata_ptr), PAM_CONV_ERR);
	const struct pam_message *nullp = NULL;
	assert_int_equal(conv->conv(1, &nullp, &resp, conv->appdata_ptr), PAM_CONV_ERR);
	assert_int_equal(rec.rounds, 0);

	/* A text-only round without a response pointer (pam_matrix does that) is fine; a prompt
	 * without one is not. */
	assert_int_equal(conv->conv(1, &mp[2], NULL, conv->appdata_ptr), PAM_SUCCESS);
	assert_int_equal(rec.rounds, 1);
	assert_int_equal(conv->conv(1, &mp[0], NULL, conv->appdata_ptr), PAM_CONV_ERR);
	assert_int_equal(rec.rounds, 1);

	/* No callback at all. */
	auth_pam_set_conv(pam, NULL, NULL);
	assert_int_equal(conv->conv(1, &mp[3], &resp, conv->appdata_ptr), PAM_CONV_ERR);
	auth_pam_end(pam);
}

static void test_conversation_failures_return_nothing(void **state)
{
	struct recorder rec = {0};
	struct auth_pam *pam = start("sbx_matrix", "alice", &rec);
	const struct pam_conv *conv = conv_of(pam);
	struct pam_message m[3] = {
	    {PAM_TEXT_INFO, "hello"},
	    {PAM_PROMPT_ECHO_OFF, "Password: "},
	    {PAM_PROMPT_ECHO_OFF, "Password again: "},
	};
	const struct pam_message *mp[] = {&m[0], &m[1], &m[2]};
	struct pam_response *resp = NULL;

	/* Second prompt left unanswered. */
	const char *const one[] = {"secret"};
	rec = (struct recorder){.replies = one, .n_replies = 1};
	assert_int_equal(conv->conv(3, mp, &resp, conv->appdata_ptr), PAM_CONV_ERR);
	assert_null(resp);
	assert_int_equal(rec.n, 3);

	/* Callback fails after filling an answer. */
	const char *const two[] = {"secret", "secret"};
	rec = (struct recorder){.replies = two, .n_replies = 2, .abort_at_first_prompt = true};
	assert_int_equal(conv->conv(3, mp, &resp, conv->appdata_ptr), PAM_CONV_ERR);
	assert_null(resp);
	assert_int_equal(rec.rounds, 1);

	/* Both answered: success, text slot empty. */
	rec = (struct recorder){.replies = two, .n_replies = 2};
	assert_int_equal(conv->conv(3, mp, &resp, conv->appdata_ptr), PAM_SUCCESS);
	assert_null(resp[0].resp);
	assert_string_equal(resp[1].resp, "secret");
	assert_string_equal(resp[2].resp, "secret");
	free_responses(resp, 3);
	auth_pam_end(pam);
}

static void test_password_conv_direct(void **state)
{
	struct auth_password_conv pc = {.password = "pw"};
	char *answers[PAM_MAX_NUM_MSG] = {NULL};
	char long_text[300];
	memset(long_text, 'x', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\0';
	struct auth_msg msgs[PAM_MAX_NUM_MSG];
	for (size_t i = 0; i < PAM_MAX_NUM_MSG; i++)
		msgs[i] = (struct auth_msg){i % 2 ? AUTH_TEXT_ERROR : AUTH_TEXT_INFO, long_text};
	msgs[7].style = AUTH_PROMPT_ECHO_OFF;

	/* 31 messages of 299 bytes: truncated, still terminated, lines separated. */
	assert_int_equal(auth_password_conv(&pc, msgs, PAM_MAX_NUM_MSG, answers), 0);
	assert_int_equal(strlen(pc.messages), sizeof(pc.messages) - 1);
	assert_int_equal(pc.messages[299], '\n');
	assert_int_equal(pc.messages[300], 'x');
	assert_non_null(answers[7]);
	assert_string_equal(answers[7], "pw");
	for (size_t i = 0; i < PAM_MAX_NUM_MSG; i++) {
		if (i != 7)
			assert_null(answers[i]);
	}
	free(answers[7]);
	answers[7] = NULL;

	/* An echo-on prompt and a missing password abort the round. */
	struct auth_msg echo_on = {AUTH_PROMPT_ECHO_ON, "Username: "};
	assert_true(auth_password_conv(&pc, &echo_on, 1, answers) < 0);
	assert_null(answers[0]);
	struct auth_msg echo_off = {AUTH_PROMPT_ECHO_OFF, "Password: "};
	pc.password = NULL;
	assert_true(auth_password_conv(&pc, &echo_off, 1, answers) < 0);
	assert_null(answers[0]);

	/* An unterminated buffer is restarted, never overrun. */
	memset(pc.messages, 'y', sizeof(pc.messages));
	struct auth_msg info = {AUTH_TEXT_INFO, "fresh"};
	assert_int_equal(auth_password_conv(&pc, &info, 1, answers), 0);
	assert_string_equal(pc.messages, "fresh");
}

static int write_file(const char *name, mode_t mode, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int write_file(const char *name, mode_t mode, const char *fmt, ...)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof(path), "%s/%s", test_dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	FILE *f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return -errno;
	}
	va_list ap;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	return fclose(f) == 0 ? 0 : -errno;
}

/* libpam_wrapper.so, its modules and the system's PAM modules live next to libpam itself
 * (Debian: /usr/lib/<multiarch>/), so the test finds them from where libpam was loaded. */
static int find_libdir(char *buf, size_t size)
{
	Dl_info info;
	char real[PATH_MAX];
	if (!dladdr((void *)pam_start, &info) || !info.dli_fname || !realpath(info.dli_fname, real))
		return -ENOENT;
	char *slash = strrchr(real, '/');
	if (!slash)
		return -ENOENT;
	*slash = '\0';
	if (snprintf(buf, size, "%s", real) >= (int)size)
		return -ENAMETOOLONG;
	return 0;
}

static int setup_service_dir(const char *libdir, char *ret_preload, size_t size)
{
	char wrapper_mods[PATH_MAX], security[PATH_MAX], probe[PATH_MAX + 32];

	if (!join(ret_preload, size, libdir, "libpam_wrapper.so") ||
	    !join(wrapper_mods, sizeof(wrapper_mods), libdir, "pam_wrapper") ||
	    !join(security, sizeof(security), libdir, "security") ||
	    !join(probe, sizeof(probe), wrapper_mods, "pam_matrix.so"))
		return -ENAMETOOLONG;
	if (access(ret_preload, R_OK) < 0 || access(probe, R_OK) < 0) {
		fprintf(stderr,
			"pam_wrapper not found in %s: install the Debian package libpam-wrapper\n",
			libdir);
		return -ENOENT;
	}
	if (!join(probe, sizeof(probe), security, "pam_exec.so"))
		return -ENAMETOOLONG;
	if (access(probe, R_OK) < 0) {
		fprintf(stderr, "%s not found: install the Debian package libpam-modules\n", probe);
		return -ENOENT;
	}

	const char *tmp = getenv("TMPDIR");
	if (!join(test_dir, sizeof(test_dir), tmp && *tmp ? tmp : "/tmp", "test_auth_pam.XXXXXX"))
		return -ENAMETOOLONG;
	if (!mkdtemp(test_dir)) {
		test_dir[0] = '\0';
		return -errno;
	}
	char services[PATH_MAX];
	path_in_dir(services, sizeof(services), "services");
	if (mkdir(services, 0700) < 0)
		return -errno;

	/* pam_matrix: alice may use sbx_matrix, bob only some other service. */
	int r = write_file("passdb", 0600, "alice:secret:sbx_matrix\nbob:hunter2:elsewhere\n");
	if (r < 0)
		return r;
	/* pam_exec passes the PAM items to this script as PAM_* variables. */
	r = write_file(
	    "exec.sh", 0700,
	    "#!/bin/sh\n"
	    "echo \"$PAM_TYPE $PAM_USER $PAM_RHOST $PAM_RUSER $PAM_TTY\" >> %s/exec.log\n",
	    test_dir);
	if (r < 0)
		return r;
	r = write_file("services/sbx_matrix", 0600,
		       "auth     required %1$s/pam_matrix.so passdb=%2$s/passdb verbose\n"
		       "account  required %1$s/pam_matrix.so passdb=%2$s/passdb\n"
		       "session  required %1$s/pam_matrix.so passdb=%2$s/passdb\n"
		       "session  required %3$s/pam_exec.so quiet %2$s/exec.sh\n",
		       wrapper_mods, test_dir, security);
	if (r < 0)
		return r;
	r = write_file("services/sbx_deny", 0600,
		       "auth     required %1$s/pam_matrix.so passdb=%2$s/passdb\n"
		       "account  required %3$s/pam_deny.so\n",
		       wrapper_mods, test_dir, security);
	if (r < 0)
		return r;
	r = write_file("services/sbx_chatty", 0600,
		       "auth     required %1$s/pam_chatty.so num_lines=4 info error\n"
		       "auth     required %1$s/pam_matrix.so passdb=%2$s/passdb\n"
		       "auth     required %1$s/pam_matrix.so passdb=%2$s/passdb echo verbose\n",
		       wrapper_mods, test_dir);
	if (r < 0)
		return r;
	/* libpam falls back to "other" for a module type a service lacks: deny, quietly. */
	return write_file("services/other", 0600,
			  "auth     required %1$s/pam_deny.so\n"
			  "account  required %1$s/pam_deny.so\n"
			  "password required %1$s/pam_deny.so\n"
			  "session  required %1$s/pam_deny.so\n",
			  security);
}

static void remove_service_dir(void)
{
	static const char *const files[] = {
	    "services/sbx_matrix",
	    "services/sbx_deny",
	    "services/sbx_chatty",
	    "services/other",
	    "passdb",
	    "exec.sh",
	    "exec.log",
	};
	char path[PATH_MAX];
	for (size_t i = 0; i < ELEMENTSOF(files); i++) {
		path_in_dir(path, sizeof(path), files[i]);
		unlink(path);
	}
	path_in_dir(path, sizeof(path), "services");
	rmdir(path);
	rmdir(test_dir);
}

/* pam_wrapper must be preloaded before libpam is loaded: prepare the service directory, then
 * run this program again with the environment that enables it. */
static int reexec_under_pam_wrapper(char **argv)
{
	char libdir[PATH_MAX], preload[PATH_MAX + 32], services[PATH_MAX + 16];
	int r = find_libdir(libdir, sizeof(libdir));
	if (r < 0) {
		fprintf(stderr, "cannot tell where libpam was loaded from\n");
		return 99;
	}
	r = setup_service_dir(libdir, preload, sizeof(preload));
	if (r < 0) {
		fprintf(stderr, "setting up the PAM service directory: %s\n", strerror(-r));
		if (test_dir[0])
			remove_service_dir();
		return 99;
	}
	path_in_dir(services, sizeof(services), "services");

	const char *old = getenv("LD_PRELOAD");
	char *new_preload = NULL;
	if (asprintf(&new_preload, "%s%s%s", preload, old && *old ? ":" : "", old ? old : "") < 0)
		return 99;
	setenv("LD_PRELOAD", new_preload, 1);
	setenv("PAM_WRAPPER", "1", 1);
	setenv("PAM_WRAPPER_SERVICE_DIR", services, 1);
	setenv(REEXEC_ENV, test_dir, 1);
#ifdef SANITIZER_ADDRESS
	/* pam_wrapper loads libpam with RTLD_DEEPBIND, which the sanitizer runtime refuses; this
	 * variable (so named in pam_wrapper too) turns that off. */
	setenv("UID_WRAPPER_DISABLE_DEEPBIND", "1", 1);
#endif
	free(new_preload);

	execv("/proc/self/exe", argv);
	fprintf(stderr, "re-executing under pam_wrapper: %s\n", strerror(errno));
	remove_service_dir();
	return 99;
}

int main(int argc, char **argv)
{
	const char *dir = getenv(REEXEC_ENV);
	if (!dir)
		return reexec_under_pam_wrapper(argv);
	if (snprintf(test_dir, sizeof(test_dir), "%s", dir) >= (int)sizeof(test_dir))
		return 99;
#ifdef SANITIZER_ADDRESS
	/* Loaded for good, so that LeakSanitizer still names it after pam_end unloads it. */
	char libdir[PATH_MAX], chatty[PATH_MAX + 32];
	if (find_libdir(libdir, sizeof(libdir)) == 0 &&
	    join(chatty, sizeof(chatty), libdir, "pam_wrapper/pam_chatty.so"))
		dlopen(chatty, RTLD_NOW | RTLD_NODELETE);
#endif

	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_password_accepted),
	    cmocka_unit_test(test_password_conv_accepted),
	    cmocka_unit_test(test_wrong_password_and_unknown_user_look_alike),
	    cmocka_unit_test(test_account_not_permitted),
	    cmocka_unit_test(test_account_denied_by_pam_deny),
	    cmocka_unit_test(test_several_rounds_in_order),
	    cmocka_unit_test(test_password_conv_refuses_echo_on_prompt),
	    cmocka_unit_test(test_aborting_callback_fails),
	    cmocka_unit_test(test_unanswered_prompt_fails),
	    cmocka_unit_test(test_session_items_and_env),
	    cmocka_unit_test(test_start_refuses_missing_arguments),
	    cmocka_unit_test(test_conversation_full_round),
	    cmocka_unit_test(test_conversation_failures_return_nothing),
	    cmocka_unit_test(test_password_conv_direct),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	remove_service_dir();
	return failed ? 1 : 0;
}
