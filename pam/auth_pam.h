/* The PAM side of authentication: one handle per connection, a conversation adapter that
 * turns PAM's messages into rounds of prompts the SSH layer can relay to the client. Knows
 * nothing of libssh. */
#pragma once

#include "common/error.h"

#include <stdbool.h>
#include <stddef.h>

enum auth_msg_style { AUTH_PROMPT_ECHO_OFF, AUTH_PROMPT_ECHO_ON, AUTH_TEXT_ERROR, AUTH_TEXT_INFO };

struct auth_msg {
	enum auth_msg_style style;
	const char *text;
};

/* One conversation round. For each prompt in msgs the callback stores a malloc'd answer in
 * answers[i] (answers[i] stays NULL for text messages). Returns 0, or negative to abort the
 * conversation (PAM_CONV_ERR). A prompt left without an answer aborts it too. Whatever the
 * outcome, the adapter owns every answer stored: on an abort it wipes and frees them. n is at
 * most PAM_MAX_NUM_MSG (32); text is never NULL. */
typedef int (*auth_conv_fn)(void *userdata, const struct auth_msg *msgs, size_t n,
			    char **answers);

struct auth_pam;

struct auth_pam_params {
	const char *service; /* PAM service name, e.g. "sandboxd" */
	const char *user;
	const char *rhost;   /* PAM_RHOST: client address */
	const char *ruser;   /* PAM_RUSER: the name the client asked for */
	const char *tty;     /* PAM_TTY, e.g. "ssh" */
	auth_conv_fn conv;
	void *conv_userdata;
};

int auth_pam_start(const struct auth_pam_params *params, struct auth_pam **ret, sbx_error *err);
/* The conversation callback can be switched between steps (password vs kbd-interactive). */
void auth_pam_set_conv(struct auth_pam *pam, auth_conv_fn conv, void *userdata);
/* Loads the modules of `service` into this process, for good: pam_start dlopen()s every module
 * of every stack (and their libraries), and processes forked from this one then find them mapped
 * already. Nothing is authenticated and the handle is never used again. A later call with
 * another service loads that one's as well. */
int auth_pam_preload(const char *service, sbx_error *err);
/* 0 on success, -EACCES on any failure with the message "authentication failed", the same for
 * an unknown user and a wrong password (PAM's reason: auth_pam_last_status/_last_log). Also
 * refused: a module that changed PAM_USER. */
int auth_pam_authenticate(struct auth_pam *pam, sbx_error *err);
/* pam_acct_mgmt: -EACCES with a message fit for the client ("your password has expired; ...",
 * "account expired", "account locked or not permitted"). What modules say meanwhile goes through
 * the conversation. */
int auth_pam_account(struct auth_pam *pam, sbx_error *err);
int auth_pam_setcred(struct auth_pam *pam, bool establish, sbx_error *err);
int auth_pam_open_session(struct auth_pam *pam, sbx_error *err);
int auth_pam_close_session(struct auth_pam *pam, sbx_error *err);
/* NULL-terminated, malloc'd environment list set by PAM modules (pam_env); caller frees. */
char **auth_pam_env(struct auth_pam *pam);
/* Ends the transaction (closing the session and deleting credentials if still open). The
 * conversation callback is no longer called from here on. Accepts NULL. */
void auth_pam_end(struct auth_pam *pam);
/* For the server log only, never for the client: the raw PAM status of the last step, and a
 * line naming the step and PAM's reason ("pam_authenticate: User not known to ... (10)"). */
int auth_pam_last_status(const struct auth_pam *pam);
const char *auth_pam_last_log(const struct auth_pam *pam);

/* A ready-made conversation that answers every echo-off prompt with one password and
 * collects text messages into a buffer, newline-separated and truncated (for the password
 * method). An echo-on prompt aborts: the password method has nothing else to give. Zero
 * messages before the first use. */
struct auth_password_conv {
	const char *password;
	char messages[1024];
};
int auth_password_conv(void *userdata, const struct auth_msg *msgs, size_t n, char **answers);
