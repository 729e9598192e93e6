/* Shared helpers of the src/scale tests. See scale_test.h. */
#include "scale_test.h"

#include <stdlib.h>

void so_build(const struct so_desc *d, struct so_spec *so, struct formula *f)
{
    so_spec_init(so);
    snprintf(so->name, sizeof(so->name), "so");
    snprintf(so->target_name, sizeof(so->target_name), "app");
    so->has_min_replicas = d->has_min;
    so->min_replicas = d->min;
    so->has_max_replicas = d->has_max;
    so->max_replicas = d->max;
    so->has_idle_replicas = d->has_idle;
    so->idle_replicas = d->idle;
    so->has_cooldown_period = d->has_cooldown;
    so->cooldown_period = d->cooldown;
    so->has_initial_cooldown_period = d->has_initial;
    so->initial_cooldown_period = d->initial;
    so->has_polling_interval = d->has_polling;
    so->polling_interval = d->polling;
    so->n_triggers = d->n;
    for (size_t i = 0; i < d->n; i++) {
        struct so_trigger *t = &so->triggers[i];
        snprintf(t->name, sizeof(t->name), "%s", d->t[i].name ? d->t[i].name : "");
        snprintf(t->type, sizeof(t->type), "%s", d->t[i].type ? d->t[i].type : "prometheus");
        t->threshold = d->t[i].threshold;
        t->activation_threshold = d->t[i].activation;
        t->metric_type = d->t[i].metric_type;
    }
    so->has_fallback = d->has_fallback;
    so->fallback.failure_threshold = d->fb_threshold;
    so->fallback.replicas = d->fb_replicas;
    so->fallback.behavior = d->fb_behavior;
    if (d->formula || d->mod_target) {
        so->has_modifiers = true;
        snprintf(so->modifiers.formula, sizeof(so->modifiers.formula), "%s",
                 d->formula ? d->formula : "");
        snprintf(so->modifiers.target, sizeof(so->modifiers.target), "%s",
                 d->mod_target ? d->mod_target : "");
        snprintf(so->modifiers.activation_target, sizeof(so->modifiers.activation_target), "%s",
                 d->mod_activation ? d->mod_activation : "");
        so->modifiers.metric_type = d->mod_type;
    }
    so->pause = d->pause;
    if (d->behavior) {
        so->has_behavior = true;
        so->behavior = *d->behavior;
    }
    so_spec_default(so);
    if (f && d->formula) {
        char err[FORMULA_ERR_MAX];
        int rc = so_formula_compile(so, f, err, sizeof(err));
        if (rc < 0)
            print_error("formula: %s\n", err);
        assert_int_equal(rc, 0);
    }
}

static row_fn current_fn;

static void run_one(void **state)
{
    current_fn(*state);
}

int run_rows(const char *group, const void *rows, size_t n, size_t row_size, row_fn fn)
{
    struct CMUnitTest *tests = calloc(n, sizeof(*tests));
    if (!tests)
        return 1;
    current_fn = fn;
    for (size_t i = 0; i < n; i++) {
        const char *row = (const char *)rows + i * row_size;
        tests[i].name = *(const char *const *)row; /* every row starts with its name */
        tests[i].test_func = run_one;
        tests[i].initial_state = (void *)row;
    }
    int rc = _cmocka_run_group_tests(group, tests, n, NULL, NULL);
    free(tests);
    return rc;
}
