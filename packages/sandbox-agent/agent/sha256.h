/* SHA-256 (FIPS 180-4), for the checksums the files operations return. */
#ifndef CADRE_AGENT_SHA256_H
#define CADRE_AGENT_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256 {
  uint32_t state[8];
  uint64_t length; /* bytes hashed so far */
  uint8_t block[64];
  size_t used; /* bytes of `block` filled */
};

void sha256_init(struct sha256 *h);
void sha256_update(struct sha256 *h, const void *data, size_t size);
/* The portable compression from here on, whatever the CPU has (for tests). */
void sha256_use_portable(void);
/* Writes the digest as 64 lowercase hex digits and a NUL. */
void sha256_hex(struct sha256 *h, char out[65]);

#endif
