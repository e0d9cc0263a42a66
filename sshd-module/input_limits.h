/* Bounds on everything a client (or a student's program) can send us. The network child applies
 * them first, so that a student gets a clear answer; the monitor applies them again when it
 * decodes a request, because it trusts nothing the network child says. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* A login name: what NSS, PAM and the policy may see. Long enough for directory names such as
 * "firstname.lastname" or "user@realm" (SSSD), far below LOGIN_NAME_MAX. */
#define INPUT_USER_MAX 64
/* Passwords and keyboard-interactive answers: PAM_MAX_RESP_SIZE, what PAM modules take. */
#define INPUT_SECRET_MAX 512
#define INPUT_KBDINT_ANSWERS_MAX 32
/* A public key in base64 (a 16384-bit RSA key is about 2.8 KB). */
#define INPUT_PUBKEY_MAX 16384
#define INPUT_KEY_TYPE_MAX 64
/* The terminal type of a pty-req ("xterm-256color"). */
#define INPUT_TERM_MAX 63
/* Terminal size in characters, for pty-req and window-change. */
#define INPUT_PTY_DIM_MAX 9999
/* Environment variables a channel may carry (LANG, LC_*, TERM only, see session_env_allowed). */
#define INPUT_ENV_MAX 32
#define INPUT_ENV_NAME_MAX 64
#define INPUT_ENV_VALUE_MAX 1024
/* An exec request's command line: room for a long argument list, not for a payload. */
#define INPUT_COMMAND_MAX 16384
/* A subsystem's name ("sftp"). */
#define INPUT_SUBSYSTEM_MAX 64
/* Hard ceiling on session channels per connection; MaxSessions picks the limit below it. */
#define INPUT_CHANNELS_MAX 64

/* A user name we hand to NSS and PAM: 1..INPUT_USER_MAX bytes of letters, digits and
 * "._-@", a trailing '$' (machine accounts), not starting with '-' (an option to a tool) or '.'.
 * Anything else is treated like an unknown user. */
bool input_user_name_valid(const char *name);
/* A terminal type: 1..INPUT_TERM_MAX bytes of letters, digits and "._+-". */
bool input_term_valid(const char *term);
/* At most MAX bytes and no control characters (TAB allowed); other bytes, UTF-8 included, pass. */
bool input_text_valid(const char *text, size_t max);
