/* check: `ebb autoscaler --check -f FILE...`: load, check, and say what was
 * understood, or every problem. Nothing runs; the exit code is the answer. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"

#define CHECK_FILES_MAX 256
#define CHECK_OUTPUT_MAX (64u << 20)

static void usage(FILE *out)
{
    fprintf(out, "usage: ebb autoscaler --check -f FILE [-f FILE]... [--local]\n\n"
                 "Loads ScaledObject, TriggerAuthentication and LocalDeployment manifests from\n"
                 "multi-document YAML files, checks them as KEDA and Kubernetes would, and prints\n"
                 "what it understood (defaults included, secrets redacted). Every problem is\n"
                 "reported as file:line:col: field: message.\n\n"
                 "  -f, --file FILE  a manifest file (repeatable)\n"
                 "  --local          every scaleTargetRef must name a loaded LocalDeployment\n\n"
                 "Exit status: 0 valid, 1 invalid, 2 usage error.\n");
}

/* Collects -f/--file values and flags. 0, 1 after --help, -1 on a usage error. */
static int parse_args(int argc, char **argv, const char **files, size_t *n, bool *local)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *file = NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 1;
        } else if (strcmp(a, "--local") == 0) {
            *local = true;
        } else if (strcmp(a, "--check") == 0) {
            continue; /* the caller's own flag, harmless here */
        } else if (strcmp(a, "-f") == 0 || strcmp(a, "--file") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "ebb: %s needs a file name\n", a);
                return -1;
            }
            file = argv[++i];
        } else if (strncmp(a, "--file=", 7) == 0) {
            file = a + 7;
        } else {
            fprintf(stderr, "ebb: unknown argument \"%s\" (see --help)\n", a);
            return -1;
        }
        if (file && *n >= CHECK_FILES_MAX) {
            fprintf(stderr, "ebb: at most %d files\n", CHECK_FILES_MAX);
            return -1;
        }
        if (file)
            files[(*n)++] = file;
    }
    if (*n == 0) {
        fprintf(stderr, "ebb: no file to check: give one or more -f FILE\n");
        return -1;
    }
    return 0;
}

int config_check_main(int argc, char **argv)
{
    const char *files[CHECK_FILES_MAX];
    size_t n = 0;
    bool local = false;
    int rc = parse_args(argc, argv, files, &n, &local);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    struct config c;
    config_init(&c);
    for (size_t i = 0; i < n; i++) {
        if (config_load_file(&c, files[i]) == -ENOMEM) {
            fprintf(stderr, "ebb: out of memory\n");
            config_release(&c);
            return 1;
        }
    }
    int errors = config_check(&c, local ? CONFIG_LOCAL : 0);
    struct buf out = BUF_INIT(CHECK_OUTPUT_MAX);
    if (errors == 0 && config_format(&c, &out) == 0)
        fputs(out.data ? out.data : "", stdout);
    fflush(stdout); /* what was understood, then the issues, then the verdict */
    buf_reset(&out);
    if (config_format_issues(&c, &out) == 0)
        fputs(out.data ? out.data : "", stderr);
    size_t objects = c.n_sos + c.n_auths + c.n_deployments;
    if (errors == 0)
        printf("ok: %zu object%s in %zu file%s, %d warning%s\n", objects, objects == 1 ? "" : "s",
               c.n_files, c.n_files == 1 ? "" : "s", c.warnings, c.warnings == 1 ? "" : "s");
    else
        fprintf(stderr, "invalid: %d error%s, %d warning%s; nothing was started\n", errors,
                errors == 1 ? "" : "s", c.warnings, c.warnings == 1 ? "" : "s");
    buf_release(&out);
    config_release(&c);
    return errors == 0 ? 0 : 1;
}

int config_load_run(struct config *c, const char *const *files, size_t n, const char *prog)
{
    for (size_t i = 0; i < n; i++)
        if (config_load_file(c, files[i]) == -ENOMEM) {
            fprintf(stderr, "%s: out of memory\n", prog);
            return -ENOMEM;
        }
    int errors = config_check(c, CONFIG_LOCAL);
    struct buf out = BUF_INIT(CHECK_OUTPUT_MAX);
    if (config_format_issues(c, &out) == 0 && out.len)
        fputs(out.data, stderr);
    buf_release(&out);
    if (errors) {
        fprintf(stderr, "%s: %d error%s in the files; nothing was started\n", prog, errors,
                errors == 1 ? "" : "s");
        return -EINVAL;
    }
    if (c->n_sos == 0) {
        fprintf(stderr, "%s: no ScaledObject in the files; nothing to do\n", prog);
        return -EINVAL;
    }
    return 0;
}
