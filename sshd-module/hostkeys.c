#include "config.h"

#include "sshd-module/hostkeys.h"

#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int hostkey_type_from_name(const char *path, enum ssh_keytypes_e *ret_type, int *ret_bits)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (strstr(base, "ed25519")) {
		*ret_type = SSH_KEYTYPE_ED25519;
		*ret_bits = 0;
	} else if (strstr(base, "ecdsa")) {
		*ret_type = SSH_KEYTYPE_ECDSA_P256;
		*ret_bits = 256;
	} else if (strstr(base, "rsa")) {
		*ret_type = SSH_KEYTYPE_RSA;
		*ret_bits = 3072;
	} else {
		return -EINVAL;
	}
	return 0;
}

static int hostkey_generate(const char *path, sbx_error *err)
{
	enum ssh_keytypes_e type;
	int bits;
	if (hostkey_type_from_name(path, &type, &bits) < 0)
		return sbx_error_set(err, EINVAL,
				     "host key %s does not exist and its name does not say whether "
				     "to generate an ed25519, ecdsa or rsa key",
				     path);
	ssh_key key = NULL;
	if (ssh_pki_generate(type, bits, &key) != SSH_OK)
		return sbx_error_set(err, EIO, "cannot generate host key %s", path);
	/* The key is written under a umask that keeps it root-only from the first byte. */
	mode_t old = umask(077);
	int r = ssh_pki_export_privkey_file(key, NULL, NULL, NULL, path);
	umask(old);
	ssh_key_free(key);
	if (r != SSH_OK)
		return sbx_error_set(err, EIO, "cannot write host key %s", path);
	log_info("generated host key %s", path);
	return 0;
}

static int hostkey_check_file(const char *path, sbx_error *err)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return sbx_error_errno(err, errno, "host key %s", path);
	if (!S_ISREG(st.st_mode))
		return sbx_error_set(err, EINVAL, "host key %s is not a regular file", path);
	if (st.st_uid != geteuid() || (st.st_mode & 077))
		return sbx_error_set(err, EPERM,
				     "host key %s must be owned by root and not readable by others "
				     "(chmod 600)",
				     path);
	return 0;
}

int hostkeys_load(const struct sbx_config *cfg, struct hostkeys *ret, sbx_error *err)
{
	memset(ret, 0, sizeof(*ret));
	for (size_t i = 0; i < cfg->n_host_keys; i++) {
		const char *path = cfg->host_keys[i];
		if (access(path, F_OK) < 0 && errno == ENOENT) {
			int r = hostkey_generate(path, err);
			if (r < 0) {
				hostkeys_free(ret);
				return r;
			}
		}
		int r = hostkey_check_file(path, err);
		if (r < 0) {
			hostkeys_free(ret);
			return r;
		}
		ssh_key key = NULL;
		if (ssh_pki_import_privkey_file(path, NULL, NULL, NULL, &key) != SSH_OK) {
			hostkeys_free(ret);
			return sbx_error_set(err, EINVAL, "cannot read host key %s", path);
		}
		ret->keys[ret->n++] = key;
	}
	if (ret->n == 0)
		return sbx_error_set(err, EINVAL, "no host key configured");
	return 0;
}

void hostkeys_free(struct hostkeys *keys)
{
	for (size_t i = 0; i < keys->n; i++)
		ssh_key_free(keys->keys[i]);
	keys->n = 0;
}
