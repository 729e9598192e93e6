/* promql_file: ebb's /api/v1 answers over data read from a file, for the
 * differential test against Prometheus (differential.py).
 *
 *   promql_file DATA < REQUESTS
 *
 * DATA holds samples in the OpenMetrics text promtool backfills from, one
 * per line: name{l="v",...} value unix_seconds ("#" lines skipped).
 * Each request line is "PATH<TAB>QUERY-STRING"; each answer line is
 * "STATUS<TAB>BODY". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promql/api.h"

#define MAX_LABELS 16

static int cmp_label(const void *a, const void *b)
{
    return strcmp(((const struct prom_label *)a)->name, ((const struct prom_label *)b)->name);
}

/* Splits line in place into labels; returns the number, or -1. */
static int parse_sample(char *line, struct prom_label *l, double *v, double *ts)
{
    char *br = strchr(line, '{'), *end = br ? strchr(br, '}') : NULL;
    if (!br || !end)
        return -1;
    *br = 0;
    *end = 0;
    int n = 0;
    l[n++] = (struct prom_label){"__name__", line};
    for (char *p = br + 1; *p && n < MAX_LABELS;) {
        char *eq = strchr(p, '=');
        if (!eq || eq[1] != '"')
            return -1;
        *eq = 0;
        char *val = eq + 2, *q = strchr(val, '"');
        if (!q)
            return -1;
        *q = 0;
        l[n++] = (struct prom_label){p, val};
        p = q + 1;
        if (*p == ',')
            p++;
    }
    if (sscanf(end + 1, "%lf %lf", v, ts) != 2)
        return -1;
    qsort(l, (size_t)n, sizeof(*l), cmp_label);
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: promql_file DATA < REQUESTS\n");
        return 2;
    }
    struct store st;
    struct store_limits lim;
    store_limits_defaults(&lim);
    lim.max_samples_per_series = 100000;
    store_init(&st, &lim);
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    char line[8192];
    int rc = 0;
    while (fgets(line, sizeof(line), f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        struct prom_label l[MAX_LABELS];
        double v, ts;
        int n = parse_sample(line, l, &v, &ts);
        if (n < 0 || store_append(&st, l, (size_t)n, (int64_t)(ts * 1000), v) != 0) {
            fprintf(stderr, "%s: cannot load a line\n", argv[1]);
            rc = 1;
        }
    }
    fclose(f);
    struct promql_api api;
    promql_api_init(&api, &st, NULL);
    while (fgets(line, sizeof(line), stdin)) {
        line[strcspn(line, "\n")] = 0;
        char *tab = strchr(line, '\t');
        if (!tab)
            continue;
        *tab = 0;
        struct promql_api_request r = {"GET", line, strlen(line), tab + 1, strlen(tab + 1), "", 0, NULL};
        struct buf out = BUF_INIT(1 << 26);
        int status = 0;
        if (promql_api_answer(&api, &r, &out, &status) != 0)
            status = 404;
        printf("%d\t%s\n", status, out.data ? out.data : "");
        buf_release(&out);
    }
    store_release(&st);
    return rc;
}
