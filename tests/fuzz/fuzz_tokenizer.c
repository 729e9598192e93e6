/* fuzz target tokenizer: tok_count over arbitrary bytes (request text is
 * any UTF-8, or not UTF-8 at all). Checks the bounds the scheduler relies
 * on: no more tokens than bytes, at least one for non-empty text, and that
 * counting is local (the two halves of a text, counted apart, come to at
 * most two tokens fewer than the whole). Input: the text. */
#include "engine/tokenizer.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    size_t n = tok_count(text, size);
    FUZZ_CHECK(n <= size);
    FUZZ_CHECK(size == 0 || n >= 1);
    /* Counting is local: two halves counted apart differ from the whole by
     * at most the couple of pieces that straddle the cut. */
    size_t cut = size / 2;
    size_t a = tok_count(text, cut), b = tok_count(text + cut, size - cut);
    FUZZ_CHECK(a + b + 2 >= n);
    return 0;
}
