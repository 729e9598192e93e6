/* tokenizer: counts near Llama-3's for the shapes the tutorial uses. The
 * expected values are Llama-3's own counts (without BOS) for these strings. */
#include "unit.h"

#include <stdlib.h>

#include "base/buf.h"
#include "engine/tokenizer.h"

static void known_counts(void **state)
{
    static const struct {
        const char *text;
        size_t want;
    } cases[] = {
        {"Once upon a time,", 5},       /* Once| upon| a| time|, */
        {"Hi Hi Hi ", 4},               /* Hi| Hi| Hi| (trailing space) */
        {"how are you?", 4},            /* how| are| you|? */
        {"Hello", 1},
        {"12345", 2},                   /* 123|45 */
        {"Hello, world!\n", 4},         /* Hello|,| world|!\n */
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        size_t got = tok_count(cases[i].text, strlen(cases[i].text));
        if (got != cases[i].want)
            fail_msg("\"%s\": got %zu tokens, want %zu", cases[i].text, got, cases[i].want);
    }
}

/* The tutorial's load generator prompt with --prompt-len 3000 is 3,010
 * tokens on Llama-3 (plus BOS): "Prompt", " ", "0", " with", " dummy",
 * " text", 3000 x " Hi"/"Hi", " how", " are", " you", "?". */
static void tutorial_prompt_is_about_3010_tokens(void **state)
{
    struct buf b = BUF_INIT(1 << 20);
    buf_append_str(&b, "Prompt 0 with dummy text ");
    for (int i = 0; i < 3000; i++)
        buf_append_str(&b, "Hi ");
    buf_append_str(&b, "how are you?");
    size_t got = tok_count(b.data, b.len);
    assert_in_range(got, 3005, 3015);
    buf_release(&b);
}

static void whitespace_runs_are_not_free(void **state)
{
    static char spaces[1 << 16];
    memset(spaces, ' ', sizeof(spaces));
    assert_int_equal(tok_count(spaces, sizeof(spaces)), sizeof(spaces) / 16);
    assert_int_equal(tok_count("a  b", 4), 3); /* a|  | b as tiktoken splits it */
}

static void chat_template_overhead(void **state)
{
    /* One user message "Hello" is 36 prompt tokens on vLLM with Llama-3.1's
     * template (BOS, the dated system block, the user and assistant headers). */
    size_t got = tok_chat_overhead(1, 0) + tok_count("Hello", 5);
    assert_in_range(got, 33, 39);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(known_counts),
        cmocka_unit_test(tutorial_prompt_is_about_3010_tokens),
        cmocka_unit_test(whitespace_runs_are_not_free),
        cmocka_unit_test(chat_template_overhead),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
