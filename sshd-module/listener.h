/* The listener: root, accepts connections and forks one monitor each; never reads a byte of
 * SSH. Reloads on SIGHUP, ends sessions on SIGTERM, talks to systemd through sd_notify. */
#pragma once

#include "common/config_file.h"
#include "sshd-module/hostkeys.h"

struct sandbox_runtime;

struct listener_params {
	const char *config_path;
	const char *const *options; /* -o options, re-applied on reload */
	size_t n_options;
};

/* Loads the configuration (file, then options, then defaults). */
int listener_load_config(const struct listener_params *p, struct sbx_config *ret, sbx_error *err);
/* Serves until SIGTERM/SIGINT; takes ownership of cfg and keys. Returns an exit status. */
int listener_run(const struct listener_params *p, struct sandbox_runtime *runtime,
		 struct sbx_config *cfg, struct hostkeys *keys);
/* A fresh random session id (hex). */
void listener_new_session_id(char *buf, size_t size);
