/* kubectl: `kubectl get hpa` for a KEDA-made HPA (spec §6): Quantity
 * rendering, the TARGETS column, AGE, and the table's layout, one row per
 * rule; the spec's and the tutorial's examples verbatim. */
#include "scale_test.h"

#include "scale/kubectl.h"
#include "scale/quantity.h"

/* ---------- Quantity rendering (DecimalSI canonical form) ---------- */

struct qrow {
    const char *name;
    double value; /* through KEDA's %.3f conversion */
    const char *want;
};

/* clang-format off: a table reads best one rule per row */
static const struct qrow qrows[] = {
    {"quantity: 0 prints 0", 0, "0"},
    {"quantity: 0.5 prints 500m", 0.5, "500m"},
    {"quantity: 2.5 prints 2500m", 2.5, "2500m"},
    {"quantity: 5 prints 5", 5, "5"},
    {"quantity: 9.334 prints 9334m", 9.334, "9334m"},
    {"quantity: 100.5 prints 100500m", 100.5, "100500m"},
    {"quantity: 1500 prints 1500", 1500, "1500"},
    {"quantity: 1000 prints 1k", 1000, "1k"},
    {"quantity: 9000 prints 9k", 9000, "9k"},
    {"quantity: 12e6 prints 12M", 12e6, "12M"},
    {"quantity: 0.05 prints 50m (exponent lowered to a multiple of 3)", 0.05, "50m"},
    {"quantity: 50000 prints 50k", 50000, "50k"},
    {"quantity: 3e9 prints 3G", 3e9, "3G"},
    {"quantity: 7e12 prints 7T", 7e12, "7T"},
    {"quantity: 2e15 prints 2P", 2e15, "2P"},
};
/* clang-format on */

static void check_qrow(const struct qrow *r)
{
    char out[32];
    int n = quantity_format(quantity_milli_from_double(r->value), out, sizeof(out));
    assert_int_equal(n, (int)strlen(r->want));
    assert_string_equal(out, r->want);
}

static void quantity_edges(void **state)
{
    char out[32];
    /* 4/3 per pod: the HPA's ceil(total / pods) in milli */
    assert_int_equal(quantity_format(1334, out, sizeof(out)), 5);
    assert_string_equal(out, "1334m");
    assert_int_equal(quantity_format(-500, out, sizeof(out)), 5);
    assert_string_equal(out, "-500m");
    assert_int_equal(quantity_format(INT64_MIN, out, sizeof(out)), 21);
    assert_string_equal(out, "-9223372036854775808m");
    assert_int_equal(quantity_format(INT64_MAX, out, sizeof(out)), 20);
    assert_string_equal(out, "9223372036854775807m");
    assert_int_equal(quantity_format(5000, out, 1), -ENOSPC);
    assert_int_equal(quantity_milli_from_double(NAN), 0);
    assert_int_equal(quantity_milli_from_double(INFINITY), 0);
    assert_int_equal(quantity_milli_from_double(-0.0), 0);
    assert_int_equal(quantity_milli_from_double(1e300), INT64_MAX);
    assert_near(quantity_milli_to_double(2500), 2.5, 0);
}

/* ---------- TARGETS ---------- */

struct trow {
    const char *name;
    size_t n; /* metrics */
    enum so_metric_type type[3];
    int64_t target[3]; /* milli */
    bool has_metrics;  /* status.currentMetrics is set */
    bool known[3];
    int64_t current[3]; /* milli */
    const char *want;
};

#define AVG SO_AVERAGE_VALUE
#define VAL SO_VALUE

/* clang-format off: a table reads best one rule per row */
static const struct trow trows[] = {
    {"targets: AverageValue is <current>/<target> (avg)",
     1,
     {AVG},
     {5000},
     true,
     {true},
     {2500},
     "2500m/5 (avg)"},
    {"targets: KEDA threshold 5 with metric 0 shows 0/5 (avg)",
     1,
     {AVG},
     {5000},
     true,
     {true},
     {0},
     "0/5 (avg)"},
    {"targets: Value is <current>/<target> without (avg)",
     1,
     {VAL},
     {5000},
     true,
     {true},
     {12000},
     "12/5"},
    {"targets: issue #6549's 9334m/9k (avg)",
     1,
     {AVG},
     {9000000},
     true,
     {true},
     {9334},
     "9334m/9k (avg)"},
    {"targets: <unknown> before the first sync",
     1,
     {AVG},
     {5000},
     false,
     {false},
     {0},
     "<unknown>/5 (avg)"},
    {"targets: <unknown> for a Value metric without status",
     1,
     {VAL},
     {2000},
     false,
     {false},
     {0},
     "<unknown>/2"},
    {"targets: <unknown> for the one metric that failed",
     2,
     {AVG, AVG},
     {5000, 1000},
     true,
     {true, false},
     {0, 0},
     "0/5 (avg), <unknown>/1 (avg)"},
    {"targets: two metrics are joined by \", \"",
     2,
     {AVG, AVG},
     {5000, 1000},
     true,
     {true, true},
     {6000, 500},
     "6/5 (avg), 500m/1 (avg)"},
    {"targets: past two metrics, \" + N more...\"",
     3,
     {AVG, VAL, AVG},
     {5000, 1000, 2000},
     true,
     {true, true, true},
     {1000, 2000, 3000},
     "1/5 (avg), 2/1 + 1 more..."},
    {"targets: <none> without metrics", 0, {AVG}, {0}, true, {false}, {0}, "<none>"},
};
/* clang-format on */

static void make_hpa(struct hpa_spec *h, struct hpa_status *st, size_t n,
                     const enum so_metric_type *type, const int64_t *target, bool has_metrics,
                     const bool *known, const int64_t *current)
{
    memset(h, 0, sizeof(*h));
    memset(st, 0, sizeof(*st));
    snprintf(h->name, sizeof(h->name), "keda-hpa-x");
    snprintf(h->ref_kind, sizeof(h->ref_kind), "Deployment");
    snprintf(h->ref_name, sizeof(h->ref_name), "x");
    h->n_metrics = n;
    st->has_metrics = has_metrics;
    for (size_t i = 0; i < n; i++) {
        h->metrics[i].type = type[i];
        h->metrics[i].target_milli = target[i];
        st->metrics[i].known = known[i];
        st->metrics[i].current_milli = current[i];
    }
}

static void check_trow(const struct trow *r)
{
    struct hpa_spec h;
    struct hpa_status st;
    char out[KUBECTL_TARGETS_MAX];
    make_hpa(&h, &st, r->n, r->type, r->target, r->has_metrics, r->known, r->current);
    assert_int_equal(kubectl_hpa_targets(&h, &st, out, sizeof(out)), (int)strlen(r->want));
    assert_string_equal(out, r->want);
    assert_int_equal(kubectl_hpa_targets(&h, &st, out, strlen(r->want)), -ENOSPC);
}

/* ---------- AGE ---------- */

struct drow {
    const char *name;
    double seconds;
    const char *want;
};

/* clang-format off: a table reads best one rule per row */
static const struct drow drows[] = {
    {"age: 10 s prints 10s", 10, "10s"},
    {"age: under 2 minutes prints seconds", 119.9, "119s"},
    {"age: 2 minutes prints 2m", 120, "2m"},
    {"age: 2 min 48 s prints 2m48s", 168, "2m48s"},
    {"age: 10 minutes drops the seconds", 10 * 60 + 30, "10m"},
    {"age: under 3 hours prints minutes", 3 * 3600 - 1, "179m"},
    {"age: 3 h prints 3h", 3 * 3600, "3h"},
    {"age: 3 h 20 m prints 3h20m", 3 * 3600 + 20 * 60, "3h20m"},
    {"age: 8 h to 2 days prints hours", 47 * 3600 + 59 * 60, "47h"},
    {"age: 2 days prints 2d", 48 * 3600, "2d"},
    {"age: 5 days 3 h prints 5d3h", 5 * 86400 + 3 * 3600, "5d3h"},
    {"age: 8 days to 2 years prints days", 400 * 86400.0, "400d"},
    {"age: 2 years 30 days prints 2y30d", (2 * 365 + 30) * 86400.0, "2y30d"},
    {"age: 2 years prints 2y", 2 * 365 * 86400.0, "2y"},
    {"age: 8 years and more prints years", 9 * 365 * 86400.0, "9y"},
    {"age: up to 2 s in the future prints 0s", -1.5, "0s"},
    {"age: 2 s or more in the future is <invalid>", -2, "<invalid>"},
};
/* clang-format on */

static void check_drow(const struct drow *r)
{
    char out[24];
    assert_int_equal(kubectl_human_duration(r->seconds, out, sizeof(out)), (int)strlen(r->want));
    assert_string_equal(out, r->want);
}

/* ---------- the row and the table ---------- */

/* The tutorial's first ScaledObject, as §6 and the tutorial show it. */
static void tutorial_table(void **state)
{
    struct hpa_spec h;
    struct hpa_status st;
    const enum so_metric_type type[] = {AVG};
    const int64_t target[] = {5000}, current[] = {0};
    const bool known[] = {true};
    make_hpa(&h, &st, 1, type, target, true, known, current);
    snprintf(h.name, sizeof(h.name), "keda-hpa-vllm-scaledobject");
    snprintf(h.ref_name, sizeof(h.ref_name), "vllm-llama3-deployment-vllm");
    h.min_replicas = 1;
    h.max_replicas = 2;
    st.current_replicas = 1;
    struct kubectl_hpa_row row;
    assert_int_equal(kubectl_hpa_row(&h, &st, 1000, 1010, &row), 0);
    assert_string_equal(row.name, "keda-hpa-vllm-scaledobject");
    assert_string_equal(row.reference, "Deployment/vllm-llama3-deployment-vllm");
    assert_string_equal(row.targets, "0/5 (avg)");
    assert_string_equal(row.minpods, "1");
    assert_string_equal(row.maxpods, "2");
    assert_string_equal(row.replicas, "1");
    assert_string_equal(row.age, "10s");
    char out[512];
    int n = kubectl_hpa_table(&row, 1, true, out, sizeof(out));
    assert_true(n > 0);
    /* The tutorial's lines (it leaves AGE out), then AGE. */
    const char *head = "NAME                         REFERENCE                                "
                       "TARGETS     MINPODS   MAXPODS   REPLICAS";
    const char *line = "keda-hpa-vllm-scaledobject   Deployment/vllm-llama3-deployment-vllm   "
                       "0/5 (avg)   1         2         1";
    assert_memory_equal(out, head, strlen(head));
    const char *second = strchr(out, '\n') + 1;
    assert_memory_equal(second, line, strlen(line));
    assert_string_equal(second + strlen(line), "          10s\n");
    assert_memory_equal(out + strlen(head), "   AGE\n", 7);
    assert_int_equal(kubectl_hpa_table(&row, 1, true, out, 40), -ENOSPC);
}

/* Issue #6168's line: at zero replicas the HPA is disabled and TARGETS is
 * unknown. */
static void unknown_at_zero(void **state)
{
    struct hpa_spec h;
    struct hpa_status st;
    const enum so_metric_type type[] = {AVG};
    const int64_t target[] = {2000000}, current[] = {0};
    const bool known[] = {false};
    make_hpa(&h, &st, 1, type, target, false, known, current);
    h.min_replicas = 2;
    h.max_replicas = 4;
    st.current_replicas = 0;
    struct kubectl_hpa_row row;
    char out[256];
    assert_int_equal(kubectl_hpa_row(&h, &st, 100, 110, &row), 0);
    assert_true(kubectl_hpa_table(&row, 1, false, out, sizeof(out)) > 0);
    assert_string_equal(out, "keda-hpa-x   Deployment/x   <unknown>/2k (avg)   2         4        "
                             " 0         10s\n");
}

static void unknown_age(void **state)
{
    struct hpa_spec h;
    struct hpa_status st;
    const enum so_metric_type type[] = {AVG};
    const int64_t target[] = {5000}, current[] = {0};
    const bool known[] = {true};
    make_hpa(&h, &st, 1, type, target, true, known, current);
    struct kubectl_hpa_row row;
    assert_int_equal(kubectl_hpa_row(&h, &st, 0, 10, &row), 0);
    assert_string_equal(row.age, "<unknown>");
}

/* Columns are as wide as their widest cell plus 3, at least 10; every row
 * is laid out against all the others. */
static void columns_fit_every_row(void **state)
{
    struct kubectl_hpa_row rows[2] = {
        {"keda-hpa-a", "Deployment/a", "1/5 (avg)", "1", "10", "1", "5m"},
        {"keda-hpa-much-longer-name", "Deployment/b", "2500m/5 (avg)", "1", "2", "2", "3h20m"},
    };
    char out[512];
    assert_true(kubectl_hpa_table(rows, 2, true, out, sizeof(out)) > 0);
    assert_string_equal(out, "NAME                        REFERENCE      TARGETS         MINPODS   "
                             "MAXPODS   REPLICAS   AGE\n"
                             "keda-hpa-a                  Deployment/a   1/5 (avg)       1         "
                             "10        1          5m\n"
                             "keda-hpa-much-longer-name   Deployment/b   2500m/5 (avg)   1         "
                             "2         2          3h20m\n");
}

int main(void)
{
    int rc = RUN_ROWS("quantity", qrows, check_qrow);
    rc |= RUN_ROWS("targets", trows, check_trow);
    rc |= RUN_ROWS("age", drows, check_drow);
    const struct CMUnitTest more[] = {
        {"quantity: 4/3 per pod is 1334m; negatives, limits and non-numbers", quantity_edges, NULL,
         NULL, NULL},
        {"kubectl: the tutorial's `kubectl get hpa` line, column for column", tutorial_table, NULL,
         NULL, NULL},
        {"kubectl: at zero replicas TARGETS is <unknown> (issue #6168)", unknown_at_zero, NULL,
         NULL, NULL},
        {"kubectl: AGE is <unknown> without a creation time", unknown_age, NULL, NULL, NULL},
        {"kubectl: columns are as wide as their widest cell plus 3, at least 10",
         columns_fit_every_row, NULL, NULL, NULL},
    };
    return rc | cmocka_run_group_tests_name("kubectl", more, NULL, NULL);
}
