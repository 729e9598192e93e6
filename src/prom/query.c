/* query: KEDA's prometheus scaler request and answer. See query.h. */
#include "prom/query.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int prom_query_escape(struct buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    int err = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && !err; p++) {
        unsigned char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            err = buf_append(out, p, 1);
        } else if (c == ' ') {
            err = buf_append(out, "+", 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            err = buf_append(out, e, 3);
        }
    }
    return err;
}

int prom_query_url(struct buf *out, const char *server, const char *query, const char *time_rfc3339,
                   const char *namespace_, const struct prom_kv *params, size_t nparams)
{
    /* serverAddress is used verbatim: a trailing '/' gives "//api/v1/query",
     * as KEDA sends it (issue #6659). */
    int err = buf_append_str(out, server);
    if (!err)
        err = buf_append_str(out, "/api/v1/query?query=");
    if (!err)
        err = prom_query_escape(out, query);
    if (!err)
        err = buf_appendf(out, "&time=%s", time_rfc3339);
    if (!err && namespace_ && *namespace_)
        err = buf_appendf(out, "&namespace=%s", namespace_);
    for (size_t i = 0; i < nparams && !err; i++) {
        err = buf_append(out, "&", 1);
        if (!err)
            err = prom_query_escape(out, params[i].key);
        if (!err)
            err = buf_append(out, "=", 1);
        if (!err)
            err = prom_query_escape(out, params[i].value);
    }
    return err;
}

void prom_rfc3339(double unix_seconds, char *out, size_t n)
{
    time_t t = (time_t)floor(unix_seconds);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

__attribute__((format(printf, 2, 3))) static void fail(struct prom_answer *a, const char *fmt, ...)
{
    a->outcome = PROM_ERROR;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->err, sizeof(a->err), fmt, ap);
    va_end(ap);
}

static void set_value(struct prom_answer *a, double v)
{
    a->outcome = PROM_VALUE;
    a->value = v;
}

/* The "value" of one series, by §3.3's rows. Returns false after fail(). */
static bool series_value(const cJSON *series, const char *query, bool ignore_null,
                         struct prom_answer *a, double *v, bool *empty)
{
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(series, "value");
    *empty = false;
    if (!cJSON_IsArray(value) || cJSON_GetArraySize(value) == 0) {
        /* e.g. a matrix result, which has "values" */
        if (!ignore_null) {
            fail(a, "prometheus metrics 'prometheus' target may be lost, the value list is empty");
            return false;
        }
        *empty = true;
        *v = 0;
        return true;
    }
    if (cJSON_GetArraySize(value) == 1) {
        fail(a, "prometheus query %.120s didn't return enough values", query);
        return false;
    }
    const cJSON *s = cJSON_GetArrayItem(value, 1);
    if (cJSON_IsNull(s)) {
        *v = -1; /* KEDA's quirk: a null sample reads as -1, not an error */
        return true;
    }
    if (!cJSON_IsString(s)) {
        /* KEDA panics here (an unchecked type assertion); an error is the sane port. */
        fail(a, "prometheus query %.120s returned a sample value that is not a string", query);
        return false;
    }
    char *end;
    double d = strtod(s->valuestring, &end);
    if (end == s->valuestring || *end != '\0') {
        fail(a, "strconv.ParseFloat: parsing \"%.60s\": invalid syntax", s->valuestring);
        return false;
    }
    if (isnan(d) || isinf(d)) {
        if (!ignore_null) {
            fail(a, "prometheus query returns %s", isnan(d) ? "NaN" : d > 0 ? "+Inf" : "-Inf");
            return false;
        }
        d = 0;
    }
    *v = d;
    return true;
}

void prom_query_answer(int http_status, const char *body, size_t len, const char *query,
                       bool ignore_null_values, bool strict, struct prom_answer *out)
{
    memset(out, 0, sizeof(*out));
    if (http_status < 200 || http_status > 299) {
        fail(out, "prometheus query api returned error. status: %d", http_status);
        return;
    }
    cJSON *root = cJSON_ParseWithLength(body ? body : "", len);
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    const cJSON *result = cJSON_GetObjectItemCaseSensitive(data, "result");
    if (!root || !cJSON_IsObject(root) || (result && !cJSON_IsArray(result)) ||
        (data && !cJSON_IsObject(data))) {
        /* Includes scalar and string results, whose "result" is [ts, "v"]
         * of mixed types: Go cannot decode them into a vector either. */
        fail(out, "json: cannot unmarshal the prometheus answer into a vector");
        cJSON_Delete(root);
        return;
    }
    const cJSON *first = cJSON_GetArrayItem(result, 0);
    if (first && !cJSON_IsObject(first)) {
        fail(out, "json: cannot unmarshal the prometheus answer into a vector");
        cJSON_Delete(root);
        return;
    }
    size_t n = result ? (size_t)cJSON_GetArraySize(result) : 0;
    out->nseries = n;
    if (n == 0) {
        if (ignore_null_values) {
            out->empty = true;
            set_value(out, 0);
        } else {
            fail(out, "prometheus metrics 'prometheus' target may be lost, the result is empty");
        }
        cJSON_Delete(root);
        return;
    }
    if (n > 1 && strict) {
        fail(out, "prometheus query %.120s returned multiple elements", query);
        cJSON_Delete(root);
        return;
    }
    /* ebb's default for several series (design.md §2): their sum, reported
     * as a warning by the caller; KEDA stops scaling on this instead. */
    double sum = 0;
    bool all_empty = true;
    const cJSON *series;
    cJSON_ArrayForEach(series, result) {
        double v;
        bool empty;
        if (!cJSON_IsObject(series)) {
            fail(out, "json: cannot unmarshal the prometheus answer into a vector");
            cJSON_Delete(root);
            return;
        }
        if (!series_value(series, query, ignore_null_values, out, &v, &empty)) {
            cJSON_Delete(root);
            return;
        }
        all_empty = all_empty && empty;
        sum += v;
    }
    out->summed = n > 1;
    out->empty = all_empty;
    set_value(out, sum);
    cJSON_Delete(root);
}
