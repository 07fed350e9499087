/*
 * Hashes random bytes in random splits with the compression this CPU picks and with the portable
 * one, and compares each digest with the other and with the host's (the test passes the expected
 * digests of fixed inputs). Built and run by sha256.test.ts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../agent/sha256.c"

static void digest(const unsigned char *data, size_t len, int portable, unsigned seed, char out[65]) {
  if (portable) sha256_use_portable();
  else choose_compress();
  struct sha256 h;
  sha256_init(&h);
  srand(seed);
  for (size_t at = 0; at < len;) {
    size_t take = 1 + (size_t)rand() % 70000;
    if (take > len - at) take = len - at;
    sha256_update(&h, data + at, take);
    at += take;
  }
  sha256_hex(&h, out);
}

int main(int argc, char **argv) {
  /* argv: a file of bytes; prints the digest of each prefix length asked for, then "same" */
  if (argc < 3) return 2;
  FILE *f = fopen(argv[1], "rb");
  static unsigned char buf[1 << 20];
  size_t size = f ? fread(buf, 1, sizeof buf, f) : 0;
  for (int i = 2; i < argc; i++) {
    size_t len = strtoul(argv[i], NULL, 10);
    if (len > size) return 3;
    char fast[65], portable[65];
    digest(buf, len, 0, (unsigned)i, fast);
    digest(buf, len, 1, (unsigned)i * 7, portable);
    if (strcmp(fast, portable) != 0) {
      printf("differ %zu\n", len);
      return 1;
    }
    printf("%s\n", fast);
  }
  return 0;
}
