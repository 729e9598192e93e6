/* fuzz target promql: the PromQL parser and evaluator over a small fixed
 * store (a gauge, a counter with a reset, a histogram, a series that goes
 * stale), as an instant query and as a short range query. Input: the query
 * text. Checks: a query fails with a message or succeeds with a result of
 * a consistent shape whose JSON fits the output limit; every label set is
 * sorted and no vector holds the same labels twice. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "promql/promql.h"

static struct store st;
static int loaded;

static void load(void)
{
    struct store_limits l;
    store_limits_defaults(&l);
    store_init(&st, &l);
    struct prom_label g1[] = {{"__name__", "g"}, {"i", "a"}}, g2[] = {{"__name__", "g"}, {"i", "b"}};
    struct prom_label c[] = {{"__name__", "c_total"}, {"i", "a"}};
    struct prom_label s[] = {{"__name__", "s"}, {"i", "a"}};
    static const char *le[] = {"0.1", "1", "+Inf"};
    for (int t = 0; t <= 20; t++) {
        int64_t ms = (int64_t)t * 15000;
        store_append(&st, g1, 2, ms, t % 7);
        store_append(&st, g2, 2, ms, -t * 0.5);
        store_append(&st, c, 2, ms, t < 12 ? t * 3 : (t - 12) * 2);
        store_append(&st, s, 2, ms, t < 10 ? 1 : prom_stale_nan());
        for (int k = 0; k < 3; k++) {
            struct prom_label h[] = {{"__name__", "h_bucket"}, {"i", "a"}, {"le", le[k]}};
            store_append(&st, h, 3, ms, t * (k + 1));
        }
    }
    loaded = 1;
}

static void check_labels(const struct promql_series *s)
{
    for (size_t i = 1; i < s->nlabels; i++)
        FUZZ_CHECK(strcmp(s->labels[i - 1].name, s->labels[i].name) < 0);
}

static bool same_labels(const struct promql_series *a, const struct promql_series *b)
{
    if (a->nlabels != b->nlabels)
        return false;
    for (size_t i = 0; i < a->nlabels; i++)
        if (strcmp(a->labels[i].name, b->labels[i].name) ||
            strcmp(a->labels[i].value, b->labels[i].value))
            return false;
    return true;
}

static void check(int rc, const char *err, const struct promql_result *r, bool range)
{
    if (rc) {
        FUZZ_CHECK(rc == PROMQL_ERR_BAD_DATA || rc == PROMQL_ERR_EXEC);
        FUZZ_CHECK(err[0] != '\0');
        return;
    }
    FUZZ_CHECK(r->type >= PROMQL_SCALAR && r->type <= PROMQL_STRING);
    if (range)
        FUZZ_CHECK(r->type == PROMQL_MATRIX);
    for (size_t i = 0; i < r->nseries; i++) {
        check_labels(&r->series[i]);
        if (r->type == PROMQL_VECTOR)
            FUZZ_CHECK(r->series[i].npoints == 1);
        for (size_t j = 0; r->type != PROMQL_SCALAR && j < i && j < 64; j++)
            FUZZ_CHECK(!same_labels(&r->series[i], &r->series[j]));
    }
    struct buf b = BUF_INIT(1 << 20);
    int jerr = promql_result_json(r, &b);
    FUZZ_CHECK(jerr == 0 || jerr == -ENOBUFS);
    FUZZ_CHECK(b.len <= b.limit);
    buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!loaded)
        load();
    char q[4200];
    if (size >= sizeof(q))
        size = sizeof(q) - 1;
    memcpy(q, data, size);
    q[size] = 0;
    struct promql_limits lim;
    promql_limits_defaults(&lim);
    lim.max_points = 200000;
    lim.max_memory = 64 << 20;
    lim.max_steps = 50;
    struct promql_result r;
    char err[512];
    int rc = promql_exec(&st, &lim, q, 150000, 150000, 0, &r, err, sizeof(err));
    check(rc, err, &r, false);
    promql_result_release(&r);
    rc = promql_exec(&st, &lim, q, 0, 300000, 30000, &r, err, sizeof(err));
    check(rc, err, &r, true);
    promql_result_release(&r);
    return 0;
}
