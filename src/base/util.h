/* util: small helpers every module shares: strict number parsing, hashing,
 * random ids and wall-clock time. Nothing here allocates. */
#ifndef EBB_BASE_UTIL_H
#define EBB_BASE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Parses the whole of s as a finite double. 0 or -EINVAL. */
int parse_double(const char *s, double *out);
/* Parses the whole of s as a base-10 integer. 0, -EINVAL or -ERANGE. */
int parse_int64(const char *s, int64_t *out);

/* Wall-clock time in seconds since the epoch (for "created" fields and metrics). */
double wall_time(void);

/* 64-bit FNV-1a, then a splitmix64 finalizer so nearby inputs spread well. */
uint64_t hash64(const void *data, size_t len, uint64_t seed);
/* splitmix64 step: a cheap, good 64-bit mixer for deterministic sequences. */
uint64_t mix64(uint64_t x);

/* Fills out with 2*nbytes lowercase hex characters of randomness and a NUL
 * (out must hold 2*nbytes+1). */
void random_hex(char *out, size_t nbytes);

/* Writes a random RFC 4122 version-4 UUID, with dashes, into out (37 bytes). */
void uuid4(char out[37]);

/* Raises the soft open-files limit to the hard limit (as production-stack's
 * router does), so thousands of connections do not run out of descriptors.
 * Returns the new soft limit. */
long raise_fd_limit(void);

/* ASCII case-insensitive comparison of s (len bytes) with the C string lit. */
bool mem_eq_nocase(const char *s, size_t len, const char *lit);

#endif
