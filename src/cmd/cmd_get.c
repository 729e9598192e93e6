/* ebb get hpa [-w]: `kubectl get hpa` for a running ebb — the table of spec
 * §6 (NAME REFERENCE TARGETS MINPODS MAXPODS REPLICAS AGE), read from the
 * control port's /hpa. With -w, as kubectl's watch: the table once, then a
 * row (no header) each time an HPA's row changes. */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/opts.h"
#include "base/util.h"
#include "cmd/cmd.h"
#include "scale/kubectl.h"

#define GET_BODY_MAX (16u << 20)
#define GET_ROWS_MAX 4096

static const char summary[] =
    "Prints the HorizontalPodAutoscalers of a running `ebb autoscaler` (or `ebb up`)\n"
    "as `kubectl get hpa` does for the HPAs KEDA creates: NAME REFERENCE TARGETS\n"
    "MINPODS MAXPODS REPLICAS AGE, TARGETS in Kubernetes quantities (\"2500m/5 (avg)\",\n"
    "\"<unknown>/5 (avg)\"). With -w, the table and then one line per change, as\n"
    "`kubectl get hpa -w`.";

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    struct buf *b = ud;
    return buf_append(b, data, size * n) == 0 ? size * n : 0;
}

/* GETs url into body. 0, or -1 with the reason printed. */
static int fetch_once(const char *url, struct buf *body)
{
    CURL *h = curl_easy_init();
    if (!h)
        return -1;
    char err[CURL_ERROR_SIZE] = "";
    buf_reset(body);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK) {
        fprintf(stderr, "ebb get hpa: GET %s: %s\n", url, err[0] ? err : curl_easy_strerror(rc));
        return -1;
    }
    if (status != 200) {
        fprintf(stderr, "ebb get hpa: GET %s: HTTP %ld\n", url, status);
        return -1;
    }
    return 0;
}

static void copy_cell(const cJSON *item, const char *key, char *out, size_t cap)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, key);
    snprintf(out, cap, "%s", cJSON_IsString(v) ? v->valuestring : "<unknown>");
}

/* Reads /hpa's {"items":[...]} into rows. The count, or -1. */
static long parse_rows(const struct buf *body, struct kubectl_hpa_row *rows, size_t cap)
{
    cJSON *root = cJSON_ParseWithLength(body->data ? body->data : "", body->len);
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(root, "items");
    if (!cJSON_IsArray(items)) {
        fprintf(stderr, "ebb get hpa: the answer is not an /hpa item list\n");
        cJSON_Delete(root);
        return -1;
    }
    size_t n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, items)
    {
        if (n == cap)
            break;
        struct kubectl_hpa_row *r = &rows[n++];
        copy_cell(it, "name", r->name, sizeof(r->name));
        copy_cell(it, "reference", r->reference, sizeof(r->reference));
        copy_cell(it, "targets", r->targets, sizeof(r->targets));
        copy_cell(it, "minpods", r->minpods, sizeof(r->minpods));
        copy_cell(it, "maxpods", r->maxpods, sizeof(r->maxpods));
        copy_cell(it, "replicas", r->replicas, sizeof(r->replicas));
        copy_cell(it, "age", r->age, sizeof(r->age));
    }
    cJSON_Delete(root);
    return (long)n;
}

static void print_rows(const struct kubectl_hpa_row *rows, size_t n, bool header)
{
    static char out[1u << 20];
    int len = kubectl_hpa_table(rows, n, header, out, sizeof(out));
    if (len > 0)
        fwrite(out, 1, (size_t)len, stdout);
    fflush(stdout);
}

/* A row changed when anything but its age did (kubectl prints on updates). */
static bool row_changed(const struct kubectl_hpa_row *a, const struct kubectl_hpa_row *b)
{
    return strcmp(a->name, b->name) || strcmp(a->reference, b->reference) ||
           strcmp(a->targets, b->targets) || strcmp(a->minpods, b->minpods) ||
           strcmp(a->maxpods, b->maxpods) || strcmp(a->replicas, b->replicas);
}

static int watch(const char *url, struct buf *body, double interval, struct kubectl_hpa_row *prev,
                 size_t nprev, struct kubectl_hpa_row *cur)
{
    for (;;) {
        struct timespec ts = {(time_t)interval, (long)((interval - (time_t)interval) * 1e9)};
        nanosleep(&ts, NULL);
        if (fetch_once(url, body) < 0)
            continue; /* kubectl keeps watching through a broken connection too */
        long n = parse_rows(body, cur, GET_ROWS_MAX);
        if (n < 0)
            continue;
        for (long i = 0; i < n; i++) {
            bool seen = false, changed = true;
            for (size_t k = 0; k < nprev && !seen; k++)
                if (strcmp(prev[k].name, cur[i].name) == 0) {
                    seen = true;
                    changed = row_changed(&prev[k], &cur[i]);
                }
            if (changed)
                print_rows(&cur[i], 1, false);
        }
        memcpy(prev, cur, (size_t)n * sizeof(*cur));
        nprev = (size_t)n;
    }
    return 0;
}

int cmd_get(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "hpa") != 0 && strcmp(argv[1], "horizontalpodautoscaler") &&
                     strcmp(argv[1], "horizontalpodautoscalers"))) {
        bool help = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
        fprintf(help ? stdout : stderr,
                "usage: ebb get hpa [-w] [--server URL]\n\n%s\n\n"
                "'ebb get hpa --help' lists the flags.\n",
                summary);
        return help ? 0 : 2;
    }
    const char *server = "http://127.0.0.1:8080";
    bool watch_flag = false;
    double interval = 1;
    const struct opt opts[] = {
        {"w,watch", OPT_FLAG, &watch_flag, NULL, "after the table, print each change", 0, 0, NULL},
        {"server", OPT_STRING, &server, "URL",
         "the control port of `ebb autoscaler` (8080) or `ebb up` (9090)", 0, 0, NULL},
        {"interval", OPT_DOUBLE, &interval, "SECONDS", "with -w, how often to look", 0.05, 3600,
         NULL},
    };
    const struct opts_spec spec = {"ebb get hpa", "ebb get hpa [-w] [--server URL]", summary, opts,
                                   ARRAY_SIZE(opts), NULL};
    int rc = opts_parse(&spec, argc - 1, argv + 1);
    if (rc)
        return rc > 0 ? 0 : 2;
    signal(SIGPIPE, SIG_DFL);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct buf url = BUF_INIT(4096), body = BUF_INIT(GET_BODY_MAX);
    static struct kubectl_hpa_row rows[GET_ROWS_MAX], cur[GET_ROWS_MAX];
    int code = 1;
    size_t slen = strlen(server);
    while (slen && server[slen - 1] == '/')
        slen--;
    if (buf_appendf(&url, "%.*s/hpa", (int)slen, server) == 0 && fetch_once(url.data, &body) == 0) {
        long n = parse_rows(&body, rows, GET_ROWS_MAX);
        if (n >= 0) {
            if (n == 0 && !watch_flag)
                fprintf(stderr, "No resources found in default namespace.\n");
            else
                print_rows(rows, (size_t)n, true);
            code = watch_flag ? watch(url.data, &body, interval, rows, (size_t)n, cur) : 0;
        }
    }
    buf_release(&url);
    buf_release(&body);
    curl_global_cleanup();
    return code;
}
