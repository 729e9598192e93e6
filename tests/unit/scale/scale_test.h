/* Shared by the src/scale tests: ScaledObjects described by designated
 * initializers, and table rows run as one named cmocka test each, so the
 * output reads like the spec ("keda: cooldown not elapsed keeps replicas"). */
#ifndef EBB_TESTS_SCALE_TEST_H
#define EBB_TESTS_SCALE_TEST_H

#include "../unit.h"

#include <errno.h>

#include "scale/formula.h"
#include "scale/spec.h"

#define SO_DESC_TRIGGERS 4

struct trig_desc {
    const char *name; /* NULL: unnamed */
    double threshold;
    double activation;
    enum so_metric_type metric_type;
    const char *type; /* NULL: "prometheus" */
};

/* A ScaledObject in a few words; unset fields keep KEDA's defaults. */
struct so_desc {
    bool has_min, has_max, has_idle, has_cooldown, has_initial, has_polling;
    int32_t min, max, idle, cooldown, initial, polling;
    size_t n;
    struct trig_desc t[SO_DESC_TRIGGERS];
    bool has_fallback;
    int32_t fb_threshold, fb_replicas;
    enum so_fallback_behavior fb_behavior;
    const char *formula, *mod_target, *mod_activation;
    enum so_metric_type mod_type;
    struct so_pause pause;
    const struct hpa_behavior *behavior;
};

#define MINREP(x) .has_min = true, .min = (x)
#define MAXREP(x) .has_max = true, .max = (x)
#define IDLE(x) .has_idle = true, .idle = (x)
#define COOLDOWN(x) .has_cooldown = true, .cooldown = (x)
#define INITIAL(x) .has_initial = true, .initial = (x)
#define POLLING(x) .has_polling = true, .polling = (x)
#define FALLBACK(th, rep, beh)                                                                     \
    .has_fallback = true, .fb_threshold = (th), .fb_replicas = (rep), .fb_behavior = (beh)
/* One trigger named "t" with threshold th (activationThreshold 0). */
#define ONE(th) .n = 1, .t = {{"t", (th), 0, SO_AVERAGE_VALUE, NULL}}
/* The tutorial's scale-to-zero triggers: queue (5) and keepalive (1). */
#define DUAL                                                                                       \
    .n = 2,                                                                                        \
    .t = {{"queue", 5, 0, SO_AVERAGE_VALUE, NULL}, {"keepalive", 1, 0, SO_AVERAGE_VALUE, NULL}}

/* Builds so from d: name "so", target Deployment "app", defaults applied.
 * When d has a formula, compiles it into f (which may then be passed on). */
void so_build(const struct so_desc *d, struct so_spec *so, struct formula *f);

/* A value standing for "the query failed" in sample tables. */
#define FAIL NAN

/* Ends a row's list of steps (every step has a time >= 0). */
/* clang-format off */
#define END {.t = -1}
/* clang-format on */

typedef void (*row_fn)(const void *row);

/* Runs each row of a table as its own cmocka test named after the row's
 * first field (a const char *). Returns cmocka's result. */
int run_rows(const char *group, const void *rows, size_t n, size_t row_size, row_fn fn);

#define RUN_ROWS(group, table, fn)                                                                 \
    run_rows(group, table, ARRAY_LEN(table), sizeof((table)[0]), (row_fn)(fn))

#endif
