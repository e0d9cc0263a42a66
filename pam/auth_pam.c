#include "config.h"

#include "pam/auth_pam.h"

#include "common/cleanup.h"
#include "common/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <security/pam_appl.h>

struct auth_pam {
	pam_handle_t *handle;
	struct pam_conv pam_conv;
	auth_conv_fn conv;
	void *conv_userdata;
	char *user;
	int last_status;
	bool cred_established;
	bool session_open;
	char log_line[512];
};

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static void wipe_answers(char **answers, size_t n)
{
	for (size_t i = 0; i < n; i++)
		wipe_free(TAKE_PTR(answers[i]));
}

/* PAM hands the conversation function the appdata pointer it copied at pam_start, so that
 * pointer is the handle itself and the callback it dispatches to can change between steps. */
static int auth_pam_conversation(int num_msg, const struct pam_message **msg,
				 struct pam_response **ret_resp, void *appdata)
{
	struct auth_pam *pam = appdata;
	struct auth_msg msgs[PAM_MAX_NUM_MSG];
	char *answers[PAM_MAX_NUM_MSG] = {NULL};
	size_t n, prompts = 0;

	/* A module may free *resp even when we fail, so never leave it dangling. */
	if (ret_resp)
		*ret_resp = NULL;
	if (!pam || !pam->conv || !msg || num_msg <= 0 || num_msg > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	n = (size_t)num_msg;

	for (size_t i = 0; i < n; i++) {
		if (!msg[i])
			return PAM_CONV_ERR;
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
			msgs[i].style = AUTH_PROMPT_ECHO_OFF;
			prompts++;
			break;
		case PAM_PROMPT_ECHO_ON:
			msgs[i].style = AUTH_PROMPT_ECHO_ON;
			prompts++;
			break;
		case PAM_ERROR_MSG:
			msgs[i].style = AUTH_TEXT_ERROR;
			break;
		case PAM_TEXT_INFO:
			msgs[i].style = AUTH_TEXT_INFO;
			break;
		default:
			/* PAM_BINARY_PROMPT, PAM_RADIO_TYPE: nothing an SSH client can answer. */
			return PAM_CONV_ERR;
		}
		msgs[i].text = msg[i]->msg ? msg[i]->msg : "";
	}
	/* Some modules pass no response pointer for text-only rounds; a prompt needs one. */
	if (prompts > 0 && !ret_resp)
		return PAM_CONV_ERR;

	if (pam->conv(pam->conv_userdata, msgs, n, answers) < 0)
		goto fail;

	for (size_t i = 0; i < n; i++) {
		bool prompt =
		    msgs[i].style == AUTH_PROMPT_ECHO_OFF || msgs[i].style == AUTH_PROMPT_ECHO_ON;
		if (prompt && !answers[i])
			goto fail;
		if (!prompt)
			wipe_free(TAKE_PTR(answers[i]));
	}
	if (!ret_resp)
		return PAM_SUCCESS;

	/* pam_conv(3): one response per message, text messages included, as OpenSSH and
	 * misc_conv do; the module frees them (pam_chatty forgets, and valgrind says so). */
	struct pam_response *resp = calloc(n, sizeof(*resp));
	if (!resp) {
		wipe_answers(answers, n);
		return PAM_BUF_ERR;
	}
	for (size_t i = 0; i < n; i++) {
		resp[i].resp = TAKE_PTR(answers[i]);
		resp[i].resp_retcode = 0;
	}
	*ret_resp = resp;
	return PAM_SUCCESS;

fail:
	wipe_answers(answers, n);
	return PAM_CONV_ERR;
}

static int errno_from_pam(int status)
{
	switch (status) {
	case PAM_BUF_ERR:
		return ENOMEM;
	case PAM_PERM_DENIED:
	case PAM_AUTH_ERR:
	case PAM_USER_UNKNOWN:
	case PAM_MAXTRIES:
	case PAM_ACCT_EXPIRED:
	case PAM_NEW_AUTHTOK_REQD:
	case PAM_CRED_INSUFFICIENT:
	case PAM_CRED_UNAVAIL:
	case PAM_CRED_EXPIRED:
	case PAM_CRED_ERR:
		return EACCES;
	default:
		return EIO;
	}
}

static void auth_pam_record(struct auth_pam *pam, const char *step, int status)
{
	pam->last_status = status;
	snprintf(pam->log_line, sizeof(pam->log_line), "%s: %s (%d)", step,
		 pam_strerror(pam->handle, status), status);
}

/* Fails with PAM's own words: these steps come after authentication, where no oracle for user
 * names is left to protect. */
static int auth_pam_step_error(struct auth_pam *pam, const char *step, sbx_error *err)
{
	return sbx_error_set(err, errno_from_pam(pam->last_status), "%s: %s", step,
			     pam_strerror(pam->handle, pam->last_status));
}

static int pam_setup_errno(int status)
{
	/* pam_start and pam_set_item fail only for want of memory or a broken configuration. */
	return status == PAM_BUF_ERR ? ENOMEM : EIO;
}

int auth_pam_start(const struct auth_pam_params *params, struct auth_pam **ret, sbx_error *err)
{
	if (!params || !ret || !params->service || !params->user || !*params->service ||
	    !*params->user)
		return sbx_error_set(err, EINVAL, "PAM service and user name are required");

	_cleanup_free_ struct auth_pam *pam = calloc(1, sizeof(*pam));
	if (!pam)
		return sbx_error_errno(err, ENOMEM, "allocating the PAM handle");
	_cleanup_free_ char *user = strdup(params->user);
	if (!user)
		return sbx_error_errno(err, ENOMEM, "allocating the PAM handle");
	pam->conv = params->conv;
	pam->conv_userdata = params->conv_userdata;
	pam->pam_conv.conv = auth_pam_conversation;
	pam->pam_conv.appdata_ptr = pam;

	int status = pam_start(params->service, params->user, &pam->pam_conv, &pam->handle);
	if (status != PAM_SUCCESS) {
		int r = sbx_error_set(err, pam_setup_errno(status), "pam_start(%s): %s",
				      params->service, pam_strerror(pam->handle, status));
		if (pam->handle)
			pam_end(pam->handle, status);
		return r;
	}

	const struct {
		int item;
		const char *name;
		const char *value;
	} items[] = {
	    {PAM_RHOST, "PAM_RHOST", params->rhost},
	    {PAM_RUSER, "PAM_RUSER", params->ruser},
	    {PAM_TTY, "PAM_TTY", params->tty ? params->tty : "ssh"},
	};
	for (size_t i = 0; i < ELEMENTSOF(items); i++) {
		if (!items[i].value)
			continue;
		status = pam_set_item(pam->handle, items[i].item, items[i].value);
		if (status != PAM_SUCCESS) {
			int r = sbx_error_set(err, pam_setup_errno(status), "pam_set_item(%s): %s",
					      items[i].name, pam_strerror(pam->handle, status));
			pam_end(pam->handle, status);
			return r;
		}
	}

	auth_pam_record(pam, "pam_start", PAM_SUCCESS);
	pam->user = TAKE_PTR(user);
	*ret = TAKE_PTR(pam);
	return 0;
}

static int preload_conv(int n, const struct pam_message **msg, struct pam_response **resp,
			void *appdata)
{
	return PAM_CONV_ERR; /* the preload handle never authenticates anyone */
}

int auth_pam_preload(const char *service, sbx_error *err)
{
	static const struct pam_conv conv = {.conv = preload_conv};
	pam_handle_t *handle = NULL;
	if (!service || !*service)
		return sbx_error_set(err, EINVAL, "PAM service name is required");
	int status = pam_start(service, NULL, &conv, &handle);
	if (status != PAM_SUCCESS) {
		int r = sbx_error_set(err, pam_setup_errno(status), "pam_start(%s): %s", service,
				      pam_strerror(handle, status));
		if (handle)
			pam_end(handle, status);
		return r;
	}
	/* Deliberately never ended: pam_end would unload the modules again. Kept reachable, so
	 * that a leak checker does not take it for a leak. */
	static pam_handle_t *preloaded[4];
	for (size_t i = 0; i < sizeof(preloaded) / sizeof(preloaded[0]); i++)
		if (!preloaded[i]) {
			preloaded[i] = handle;
			break;
		}
	return 0;
}

void auth_pam_set_conv(struct auth_pam *pam, auth_conv_fn conv, void *userdata)
{
	if (!pam)
		return;
	pam->conv = conv;
	pam->conv_userdata = userdata;
}

int auth_pam_authenticate(struct auth_pam *pam, sbx_error *err)
{
	if (!pam)
		return sbx_error_set(err, EINVAL, "no PAM transaction");

	int status = pam_authenticate(pam->handle, PAM_DISALLOW_NULL_AUTHTOK);
	auth_pam_record(pam, "pam_authenticate", status);
	/* One message for every failure: the client must not learn whether the user exists. */
	if (status != PAM_SUCCESS)
		return sbx_error_set(err, EACCES, "authentication failed");

	/* A module may rewrite PAM_USER (name mapping); the daemon looks up and jails the user it
	 * asked about, so a different name is refused rather than silently followed. */
	const void *item = NULL;
	status = pam_get_item(pam->handle, PAM_USER, &item);
	if (status != PAM_SUCCESS || !item || strcmp(item, pam->user) != 0) {
		pam->last_status = status == PAM_SUCCESS ? PAM_PERM_DENIED : status;
		snprintf(pam->log_line, sizeof(pam->log_line),
			 "pam_authenticate: a module changed the user from \"%s\" to \"%s\"",
			 pam->user, item ? (const char *)item : "(none)");
		return sbx_error_set(err, EACCES, "authentication failed");
	}
	return 0;
}

int auth_pam_account(struct auth_pam *pam, sbx_error *err)
{
	if (!pam)
		return sbx_error_set(err, EINVAL, "no PAM transaction");

	int status = pam_acct_mgmt(pam->handle, 0);
	auth_pam_record(pam, "pam_acct_mgmt", status);
	switch (status) {
	case PAM_SUCCESS:
		return 0;
	case PAM_NEW_AUTHTOK_REQD:
		/* We cannot run pam_chauthtok in-band, so an expired password is a refusal. */
		return sbx_error_set(err, EACCES,
				     "your password has expired; change it on the account system");
	case PAM_ACCT_EXPIRED:
		return sbx_error_set(err, EACCES, "account expired");
	case PAM_PERM_DENIED:
	case PAM_AUTH_ERR:
	case PAM_USER_UNKNOWN:
		return sbx_error_set(err, EACCES, "account locked or not permitted");
	default:
		return sbx_error_set(err, EACCES, "account check failed");
	}
}

int auth_pam_setcred(struct auth_pam *pam, bool establish, sbx_error *err)
{
	if (!pam)
		return sbx_error_set(err, EINVAL, "no PAM transaction");

	int status = pam_setcred(pam->handle, establish ? PAM_ESTABLISH_CRED : PAM_DELETE_CRED);
	auth_pam_record(pam, "pam_setcred", status);
	if (status != PAM_SUCCESS)
		return auth_pam_step_error(pam, "pam_setcred", err);
	pam->cred_established = establish;
	return 0;
}

int auth_pam_open_session(struct auth_pam *pam, sbx_error *err)
{
	if (!pam)
		return sbx_error_set(err, EINVAL, "no PAM transaction");

	int status = pam_open_session(pam->handle, 0);
	auth_pam_record(pam, "pam_open_session", status);
	if (status != PAM_SUCCESS)
		return auth_pam_step_error(pam, "pam_open_session", err);
	pam->session_open = true;
	return 0;
}

int auth_pam_close_session(struct auth_pam *pam, sbx_error *err)
{
	if (!pam)
		return sbx_error_set(err, EINVAL, "no PAM transaction");

	int status = pam_close_session(pam->handle, 0);
	auth_pam_record(pam, "pam_close_session", status);
	/* Whatever a module says, we never close twice. */
	pam->session_open = false;
	if (status != PAM_SUCCESS)
		return auth_pam_step_error(pam, "pam_close_session", err);
	return 0;
}

char **auth_pam_env(struct auth_pam *pam)
{
	if (!pam)
		return NULL;
	return pam_getenvlist(pam->handle);
}

int auth_pam_last_status(const struct auth_pam *pam)
{
	return pam ? pam->last_status : PAM_SYSTEM_ERR;
}

const char *auth_pam_last_log(const struct auth_pam *pam)
{
	return pam ? pam->log_line : "no PAM transaction";
}

void auth_pam_end(struct auth_pam *pam)
{
	if (!pam)
		return;
	/* The client may be gone and the callback's userdata stale by now: modules that still
	 * talk during the teardown get PAM_CONV_ERR. */
	pam->conv = NULL;
	pam->conv_userdata = NULL;
	if (pam->session_open) {
		pam->last_status = pam_close_session(pam->handle, PAM_SILENT);
		pam->session_open = false;
	}
	if (pam->cred_established) {
		pam->last_status = pam_setcred(pam->handle, PAM_DELETE_CRED | PAM_SILENT);
		pam->cred_established = false;
	}
	pam_end(pam->handle, pam->last_status);
	free(pam->user);
	free(pam);
}

static void messages_append(char *buf, size_t size, const char *text)
{
	size_t len = strnlen(buf, size);
	/* A buffer the caller never initialised is started afresh rather than overrun. */
	if (len == size) {
		len = 0;
		buf[0] = '\0';
	}
	if (len > 0 && len + 1 < size)
		buf[len++] = '\n';
	snprintf(buf + len, size - len, "%s", text);
}

int auth_password_conv(void *userdata, const struct auth_msg *msgs, size_t n, char **answers)
{
	struct auth_password_conv *pc = userdata;

	if (!pc)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		switch (msgs[i].style) {
		case AUTH_PROMPT_ECHO_OFF:
			if (!pc->password)
				return -EINVAL;
			answers[i] = strdup(pc->password);
			if (!answers[i])
				return -ENOMEM;
			break;
		case AUTH_PROMPT_ECHO_ON:
			/* A module wants something other than the password (a user name, an OTP
			 * shown in clear): the password method cannot supply it. */
			return -EPERM;
		case AUTH_TEXT_ERROR:
		case AUTH_TEXT_INFO:
			messages_append(pc->messages, sizeof(pc->messages),
					msgs[i].text ? msgs[i].text : "");
			break;
		default:
			return -EINVAL;
		}
	}
	return 0;
}
