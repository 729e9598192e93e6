/* fuzz target router_body: the router's request path after HTTP parsing,
 * route_body_parse — JSON validation, model, alias rewrite, session field
 * and the prompt text prefixaware indexes — and, for a body it accepts, the
 * prefix index it feeds (hashes, match, insert under a tiny bound so
 * eviction runs constantly). It also checks the fast path against cJSON:
 * with nothing but the model needed, route_body_parse (which scans without
 * building a tree when it can) must answer exactly what
 * route_body_parse_full answers, with and without an alias for the model.
 * Input: the body, in a block of exactly its size. */
#include <string.h>

#include "fuzz.h"
#include "router/body.h"
#include "router/prefix.h"

static char a1[] = "llama", m1[] = "meta-llama/Llama-3.1-8B-Instruct";
static char a2[] = "m", m2[] = "a-much-longer-model-name-than-the-alias-it-replaces";
static struct alias aliases[] = {{a1, m1}, {a2, m2}};

/* The fast path and the cJSON reading agree, for aliases[0..naliases). */
static void check_fast_path(const uint8_t *data, size_t size, size_t naliases)
{
    struct buf f1 = BUF_INIT(size + 4096), f2 = BUF_INIT(size + 4096);
    struct route_body r1, r2;
    enum route_body_status s1 =
        route_body_parse((const char *)data, size, aliases, naliases, NULL, &f1, NULL, &r1);
    enum route_body_status s2 =
        route_body_parse_full((const char *)data, size, aliases, naliases, NULL, &f2, NULL, &r2);
    FUZZ_CHECK(s1 == s2);
    FUZZ_CHECK(strcmp(r1.model, r2.model) == 0);
    FUZZ_CHECK(r1.rewritten == r2.rewritten);
    FUZZ_CHECK(f1.len == f2.len && (!f1.len || memcmp(f1.data, f2.data, f1.len) == 0));
    const char *m;
    size_t n;
    if (route_body_scan_model((const char *)data, size, &m, &n)) {
        /* The scan answers only for what cJSON reads as the same object. */
        FUZZ_CHECK((s2 == BODY_OK || s2 == BODY_TOO_LARGE) && n > 0 && n < sizeof(r2.model));
        FUZZ_CHECK(m >= (const char *)data && m + n <= (const char *)data + size);
        FUZZ_CHECK(naliases || (strlen(r2.model) == n && memcmp(r2.model, m, n) == 0));
    }
    buf_release(&f1);
    buf_release(&f2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct prefix_index px;
    static int ready;
    if (!ready) {
        FUZZ_CHECK(prefix_init(&px, 64) == 0);
        ready = 1;
    }
    struct buf forward = BUF_INIT(size + 4096), prompt = BUF_INIT(PREFIX_CHUNK * PREFIX_MAX_CHUNKS);
    struct route_body rb;
    enum route_body_status st = route_body_parse((const char *)data, size, aliases, 2, "user",
                                                 &forward, &prompt, &rb);
    FUZZ_CHECK(st >= BODY_OK && st <= BODY_TOO_LARGE);
    FUZZ_CHECK(route_body_error(st) != NULL);
    if (st == BODY_OK) {
        FUZZ_CHECK(rb.model[0] != '\0');
        FUZZ_CHECK(strlen(rb.model) < sizeof(rb.model));
        FUZZ_CHECK(rb.session_len < sizeof(rb.session));
        FUZZ_CHECK(rb.rewritten ? forward.len > 0 : forward.len == 0);
        FUZZ_CHECK(prompt.len <= prompt.limit);
        uint64_t hashes[PREFIX_MAX_CHUNKS], cands[] = {1, 2, 3};
        size_t n = prefix_hashes(prompt.data ? prompt.data : "", prompt.len, hashes,
                                 PREFIX_MAX_CHUNKS);
        size_t depth;
        int hit = prefix_match(&px, hashes, n, cands, 3, &depth);
        FUZZ_CHECK(hit >= -1 && hit < 3 && depth <= n);
        prefix_insert(&px, hashes, n, cands[size % 3]);
        FUZZ_CHECK(px.used <= px.max_entries);
    }
    buf_release(&forward);
    buf_release(&prompt);
    check_fast_path(data, size, 0);
    check_fast_path(data, size, 2);
    return 0;
}
