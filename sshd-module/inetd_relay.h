/* -i with stdin/stdout that are not one socket (ssh's ProxyCommand gives two pipes): libssh
 * needs one socket, so a small unprivileged process copies the encrypted bytes between the
 * pipes and a socketpair, without looking at them. It runs apart from the monitor, which
 * blocks inside PAM conversations while the client's answers must still flow. */
#pragma once

#include "common/error.h"

/* Returns the socket the server should use as the client connection. */
int inetd_relay_start(int in_fd, int out_fd, const char *unprivileged_user, sbx_error *err);
