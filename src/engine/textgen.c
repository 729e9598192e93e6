/* textgen: deterministic output text. See textgen.h. */
#include "engine/textgen.h"

#include <string.h>

#include "base/util.h"

/* Short, common words, each one Llama-3 token with its leading space, so the
 * text reads like a story and tok_count agrees with the usage we report. */
static const char *const words[] = {
    " the",    " a",      " little", " girl",   " who",    " lived",  " in",     " small",
    " village", " near",  " forest", " there",  " was",    " once",   " and",    " she",
    " he",     " had",    " big",    " red",    " house",  " with",   " garden", " where",
    " many",   " flowers", " grew",  " every",  " day",    " they",   " would",  " walk",
    " to",     " river",  " see",    " bright", " sun",    " rise",   " over",   " hills",
    " one",    " morning", " found", " old",    " map",    " under",  " bed",    " it",
    " showed", " path",   " through", " dark",  " woods",  " so",     " decided", " follow",
    " friend", " came",   " along",  " too",    " as",     " walked", " trees",  " grew",
    " taller", " birds",  " sang",   " sweet",  " songs",  " above",  " them",   " soon",
    " reached", " clear", " lake",   " water",  " blue",   " sky",    " on",     " far",
    " side",   " stood",  " tower",  " made",   " of",     " stone",  " its",    " door",
    " open",   " inside", " light",  " warm",   " fire",   " story",  " began",  " that",
    " night",  " under",  " stars",  " we",     " all",    " knew",   " time",   " good",
    " new",    " long",   " great",  " high",   " still",  " well",   " away",   " back",
};

const char *textgen_token(uint64_t seed, int index, size_t *len)
{
    uint64_t h = mix64(seed ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(index + 1)));
    const char *w = words[h % ARRAY_SIZE(words)];
    *len = strlen(w);
    return w;
}

int textgen_natural_length(uint64_t seed, int min_len, int max_len)
{
    if (max_len <= min_len)
        return min_len;
    uint64_t span = (uint64_t)(max_len - min_len) + 1;
    return min_len + (int)(mix64(seed ^ 0x5bd1e995ULL) % span);
}
