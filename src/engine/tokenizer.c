/* tokenizer: approximate Llama-3 token counts. See tokenizer.h. */
#include "engine/tokenizer.h"

#include <stdbool.h>
#include <string.h>

static bool is_letter(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Cost of a run of letters: common English words are single tokens up to
 * about 8 letters; longer ones split into pieces of roughly 4-5 letters.
 * Multi-byte UTF-8 runs (bytes >= 0x80) cost about a token per character. */
static size_t word_cost(const unsigned char *p, size_t n)
{
    size_t ascii = 0, nonascii_chars = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < 0x80)
            ascii++;
        else if ((p[i] & 0xC0) != 0x80) /* a UTF-8 lead byte */
            nonascii_chars++;
    }
    size_t cost = nonascii_chars;
    if (ascii > 0)
        cost += ascii <= 8 ? 1 : 1 + (ascii - 8 + 4) / 5;
    return cost ? cost : 1;
}

size_t tok_count(const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0, tokens = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (is_letter(c) || (!is_digit(c) && c != '\r' && c != '\n' && i + 1 < len &&
                             is_letter(s[i + 1]) && !is_letter(c))) {
            /* [^\r\n\p{L}\p{N}]?\p{L}+ : one optional leading non-letter
             * (usually the space), then the letters. */
            size_t start = is_letter(c) ? i : i + 1;
            size_t j = start;
            while (j < len && is_letter(s[j]))
                j++;
            tokens += word_cost(s + start, j - start);
            i = j;
        } else if (is_digit(c)) {
            size_t j = i;
            while (j < len && is_digit(s[j]))
                j++;
            tokens += (j - i + 2) / 3;
            i = j;
        } else if (is_space(c)) {
            /* A whitespace run (spaces before a word were taken by the word
             * above). BPE merges runs of whitespace, but only so far: about
             * one token per 16 characters, so a megabyte of spaces is not
             * "one token" that slips past the context limit. */
            size_t j = i;
            while (j < len && is_space(s[j]))
                j++;
            tokens += (j - i + 15) / 16;
            i = j;
        } else {
            /* A run of punctuation, roughly two characters a token. */
            size_t j = i;
            while (j < len && !is_space(s[j]) && !is_letter(s[j]) && !is_digit(s[j]))
                j++;
            tokens += (j - i + 1) / 2;
            while (j < len && (s[j] == '\r' || s[j] == '\n'))
                j++;
            i = j;
        }
    }
    return tokens;
}

size_t tok_chat_overhead(size_t nmessages, int has_system_message)
{
    /* <|begin_of_text|> + system header (<|start_header_id|>system
     * <|end_header_id|>\n\n) + "Cutting Knowledge Date: December 2023\n
     * Today Date: 26 Jul 2024\n\n" + <|eot_id|>, then per message
     * <|start_header_id|>role<|end_header_id|>\n\n ... <|eot_id|>, and the
     * generation prompt <|start_header_id|>assistant<|end_header_id|>\n\n. */
    static const char dates[] = "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n";
    size_t preamble = 1 + 4 + tok_count(dates, sizeof(dates) - 1) + 1;
    size_t per_message = 4 + 1;
    /* A system message's content goes inside the preamble's block. */
    size_t n = has_system_message && nmessages > 0 ? nmessages - 1 : nmessages;
    return preamble + n * per_message + 4;
}
