/* Host keys: loaded once by the listener as root, generated on first start when missing. */
#pragma once

#include "common/config_file.h"
#include "common/error.h"

#include <libssh/libssh.h>

struct hostkeys {
	ssh_key keys[CONFIG_MAX_HOSTKEYS];
	size_t n;
};

/* Loads every configured key; a missing ed25519/ecdsa/rsa key file is generated (mode 0600,
 * owned by root) with its type taken from the file name. */
int hostkeys_load(const struct sbx_config *cfg, struct hostkeys *ret, sbx_error *err);
void hostkeys_free(struct hostkeys *keys);
