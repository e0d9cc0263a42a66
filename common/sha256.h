/* SHA-256 (FIPS 180-4) for the audit trail's hash chain; small enough to read in one sitting,
 * so the project needs no crypto library for it. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_SIZE 32
#define SHA256_HEX_SIZE (SHA256_DIGEST_SIZE * 2 + 1)

struct sha256_ctx {
	uint32_t state[8];
	uint64_t length; /* bytes hashed so far */
	uint8_t block[64];
	size_t used; /* bytes waiting in block */
};

void sha256_init(struct sha256_ctx *ctx);
void sha256_update(struct sha256_ctx *ctx, const void *data, size_t len);
void sha256_final(struct sha256_ctx *ctx, uint8_t digest[SHA256_DIGEST_SIZE]);
/* One-shot, lowercase hexadecimal, NUL-terminated. */
void sha256_hex(const void *data, size_t len, char hex[SHA256_HEX_SIZE]);
