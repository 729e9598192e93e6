/* textgen: deterministic output text for simulated generations.
 *
 * Token i of a request is a word drawn from a fixed list by hashing the
 * request's seed with i, so the same prompt always yields the same text, and
 * every token is exactly one word (" the", " little"), which keeps the
 * simulated usage counts and the text consistent. */
#ifndef EBB_ENGINE_TEXTGEN_H
#define EBB_ENGINE_TEXTGEN_H

#include <stddef.h>
#include <stdint.h>

/* The text of output token index (0-based) for a request seeded with seed.
 * Returns a static string; *len receives its length. */
const char *textgen_token(uint64_t seed, int index, size_t *len);

/* The request's natural output length (when it would emit EOS), uniform in
 * [min_len, max_len] and fixed by the seed. */
int textgen_natural_length(uint64_t seed, int min_len, int max_len);

#endif
