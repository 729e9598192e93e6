/* fuzz target manifest: the YAML manifest loader (src/config) on any bytes —
 * libfyaml's parser under ebb's limits, the tree, every decoder
 * (ScaledObject, TriggerAuthentication, LocalDeployment), the policy's
 * validation, the cross-file checks with local targets, the printed forms and
 * ${} substitution. Secrets are not read (a fuzzed path must not open
 * files). Input: one file's bytes, in a block of exactly its size. */
#include <errno.h>
#include <string.h>

#include "config/config.h"
#include "fuzz.h"

/* libfyaml 0.7.12 leaks 1 KiB per single-quoted scalar holding four or more
 * escaped quotes in a row ('a''b'; corpus/manifest/repro-libfyaml-
 * quote-leak), inside its scanner, whatever the caller does. LeakSanitizer
 * reads this hook in every sanitized build of this target; ebb's own leaks
 * are still reported (the unit tests check the libfyaml calls' lifecycle). */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libfyaml.so\n";
}

/* Every issue is complete and the counts add up. */
static void check_issues(const struct config *c)
{
    int errors = 0, warnings = 0;
    for (size_t i = 0; i < c->n_issues; i++) {
        const struct cfg_issue *is = &c->issues[i];
        FUZZ_CHECK(is->pos.file && is->path && is->msg && is->msg[0]);
        FUZZ_CHECK(is->pos.line >= 0 && is->pos.col >= 0);
        FUZZ_CHECK(strlen(is->path) < CONFIG_PATH_MAX && strlen(is->msg) < CONFIG_MSG_MAX);
        if (is->warning)
            warnings++;
        else
            errors++;
    }
    FUZZ_CHECK(c->n_issues <= CONFIG_ISSUES_MAX);
    if (c->issues_dropped == 0)
        FUZZ_CHECK(errors == c->errors && warnings == c->warnings);
    FUZZ_CHECK(c->n_issues + c->issues_dropped == (size_t)(c->errors + c->warnings));
}

/* What a valid configuration promises its users. */
static void check_valid(const struct config *c)
{
    for (size_t i = 0; i < c->n_sos; i++) {
        const struct cfg_scaled_object *o = c->sos[i];
        struct so_issue issues[8];
        size_t n;
        FUZZ_CHECK(so_spec_validate(&o->spec, issues, 8, &n) == 0);
        FUZZ_CHECK(o->target != NULL && o->spec.n_triggers > 0);
        for (size_t t = 0; t < o->spec.n_triggers; t++) {
            const struct cfg_trigger *tr = &o->triggers[t];
            if (tr->is_prometheus)
                FUZZ_CHECK(tr->prom.server_address && tr->prom.query);
            FUZZ_CHECK(!tr->auth_ref_name || tr->auth);
        }
    }
    struct buf out = BUF_INIT(1u << 24);
    for (size_t i = 0; i < c->n_deployments; i++) {
        const struct cfg_deployment *d = c->deployments[i];
        FUZZ_CHECK(d->name && d->model && d->n_command > 0 && d->log_dir);
        FUZZ_CHECK(d->base_port >= 1 && d->base_port <= 65535);
        struct cfg_replica_vars v = {d->base_port, 0, d->model};
        for (size_t a = 0; a < d->n_command; a++) {
            buf_reset(&out);
            int rc = cfg_expand(d->command[a], &v, &out);
            FUZZ_CHECK(rc == 0 || rc == -ENOBUFS);
        }
    }
    buf_reset(&out);
    FUZZ_CHECK(config_format(c, &out) == 0);
    buf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config c;
    config_init(&c);
    c.read_secrets = false;
    int rc = config_load_buffer(&c, "fuzz.yaml", (const char *)data, size);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
    FUZZ_CHECK((rc == 0) == (config_errors(&c) == 0) || rc == -ENOMEM);
    int errors = config_check(&c, CONFIG_LOCAL);
    FUZZ_CHECK(errors == config_errors(&c) && errors >= 0);
    check_issues(&c);
    struct buf out = BUF_INIT(1u << 24);
    FUZZ_CHECK(config_format_issues(&c, &out) == 0);
    buf_release(&out);
    if (errors == 0)
        check_valid(&c);
    config_release(&c);
    return 0;
}
