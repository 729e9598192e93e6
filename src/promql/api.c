/* api: Prometheus's HTTP query API (web/api/v1 in 2.42). See api.h. */
#include "promql/api.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/util.h"
#include "promql/lex.h"
#include "promql/pq.h"

int pq_json_str(struct buf *b, const char *s);

struct form {
    struct arena arena;
    struct {
        const char *k, *v;
    } kv[PROMQL_API_MAX_PARAMS];
    size_t n;
};

static int64_t wall_ms(void *ud)
{
    return (int64_t)(wall_time() * 1000);
}

void promql_api_init(struct promql_api *a, struct store *s, const struct promql_limits *lim)
{
    a->store = s;
    if (lim)
        a->lim = *lim;
    else
        promql_limits_defaults(&a->lim);
    a->now_ms = wall_ms;
    a->now_ud = NULL;
}

static int hex(char c)
{
    return isdigit((unsigned char)c) ? c - '0' : (tolower((unsigned char)c) - 'a' + 10);
}

/* Percent-decodes s[0..n) ("+" is a space) into the arena. */
static char *url_decode(struct arena *a, const char *s, size_t n)
{
    char *o = arena_alloc(a, n + 1);
    size_t k = 0;
    if (!o)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            o[k++] = ' ';
        } else if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
                   isxdigit((unsigned char)s[i + 2])) {
            o[k++] = (char)(hex(s[i + 1]) * 16 + hex(s[i + 2]));
            i += 2;
        } else {
            o[k++] = s[i];
        }
    }
    o[k] = 0;
    return o;
}

/* Adds the fields of an urlencoded string. */
static int form_add(struct form *f, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && s[j] != '&')
            j++;
        if (j > i) {
            const char *eq = memchr(s + i, '=', j - i);
            size_t kl = eq ? (size_t)(eq - (s + i)) : j - i;
            if (f->n == PROMQL_API_MAX_PARAMS)
                return -E2BIG;
            f->kv[f->n].k = url_decode(&f->arena, s + i, kl);
            f->kv[f->n].v = eq ? url_decode(&f->arena, eq + 1, (size_t)(s + j - eq - 1))
                               : url_decode(&f->arena, "", 0);
            if (!f->kv[f->n].k || !f->kv[f->n].v)
                return -ENOMEM;
            f->n++;
        }
        i = j + 1;
    }
    return 0;
}

/* Go's FormValue: the first value, body fields before the URL's. */
static const char *form_get(const struct form *f, const char *k)
{
    for (size_t i = 0; i < f->n; i++)
        if (!strcmp(f->kv[i].k, k))
            return f->kv[i].v;
    return NULL;
}

static int reply_error(struct buf *out, int *status, int code, const char *msg)
{
    *status = code == PROMQL_ERR_BAD_DATA ? 400 : code == PROMQL_ERR_EXEC ? 422 : 500;
    buf_reset(out);
    /* An error always fits: the limit is for answers, not for the reason
     * one was refused. */
    size_t limit = out->limit;
    if (out->limit < strlen(msg) * 6 + 128)
        out->limit = strlen(msg) * 6 + 128;
    int err = promql_error_json(code, msg, out);
    out->limit = limit;
    return err;
}

__attribute__((format(printf, 4, 5))) static int bad_param(struct buf *out, int *status,
                                                          const char *param, const char *fmt, ...)
{
    char msg[600];
    int n = snprintf(msg, sizeof(msg), "invalid parameter \"%s\": ", param);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
    va_end(ap);
    return reply_error(out, status, PROMQL_ERR_BAD_DATA, msg);
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* RFC 3339 with optional fraction and a Z or +hh:mm offset. */
static int parse_rfc3339(const char *s, int64_t *ms)
{
    int y, mo, d, h, mi, sec, n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
        return -EINVAL;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -EINVAL;
    const char *p = s + 19;
    double frac = 0;
    if (*p == '.') {
        double scale = 0.1;
        p++;
        if (!isdigit((unsigned char)*p))
            return -EINVAL;
        while (isdigit((unsigned char)*p)) {
            frac += (*p++ - '0') * scale;
            scale /= 10;
        }
    }
    int64_t off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &n) != 2 || n != 5)
            return -EINVAL;
        off = (*p == '-' ? -1 : 1) * (oh * 3600 + om * 60);
        p += 6;
    } else {
        return -EINVAL;
    }
    if (*p)
        return -EINVAL;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
    *ms = secs * 1000 + (int64_t)llround(frac * 1000);
    return 0;
}

/* Prometheus's parseTime: unix seconds (ms precision) or RFC 3339. */
static int parse_time(const char *s, int64_t *ms)
{
    char *end;
    double v = strtod(s, &end);
    if (*s && !*end && !isspace((unsigned char)*s)) {
        if (!isfinite(v) || fabs(v) > 9.2e15)
            return -EINVAL;
        double ip = trunc(v);
        *ms = (int64_t)ip * 1000 + (int64_t)llround((v - ip) * 1000);
        return 0;
    }
    return parse_rfc3339(s, ms);
}

/* Prometheus's parseDuration: seconds as a float, or a duration. */
static int parse_duration(const char *s, int64_t *ms)
{
    char *end;
    double v = strtod(s, &end);
    if (*s && !*end && !isspace((unsigned char)*s)) {
        if (!isfinite(v) || fabs(v) > 9.2e15)
            return -EINVAL;
        *ms = (int64_t)(v * 1000);
        return 0;
    }
    return pq_parse_duration(s, strlen(s), ms);
}

static int time_param(const struct form *f, const char *name, int64_t dflt, int64_t *ms,
                      struct buf *out, int *status)
{
    const char *v = form_get(f, name);
    if (!v || (!*v && dflt != INT64_MIN)) {
        *ms = dflt;
        if (dflt != INT64_MIN)
            return 0;
    }
    if (!v || parse_time(v, ms) != 0) {
        /* Optional times (parseTimeParam) wrap the message, required ones
         * (query_range's start and end) do not. */
        bad_param(out, status, name, "%s%s%scannot parse \"%s\" to a valid timestamp",
                  dflt != INT64_MIN ? "Invalid time value for '" : "",
                  dflt != INT64_MIN ? name : "", dflt != INT64_MIN ? "': " : "", v ? v : "");
        return -EINVAL;
    }
    return 0;
}

static int answer_query(struct promql_api *a, const struct form *f, bool range, int64_t now,
                        struct buf *out, int *status)
{
    int64_t start, end = 0, step = 0;
    const char *q = form_get(f, "query");
    const char *timeout = form_get(f, "timeout");
    int64_t tmo;
    if (timeout && *timeout && parse_duration(timeout, &tmo) != 0)
        return bad_param(out, status, "timeout", "cannot parse \"%s\" to a valid duration", timeout);
    if (!range) {
        if (time_param(f, "time", now, &start, out, status) != 0)
            return 0;
        end = start;
    } else {
        if (time_param(f, "start", INT64_MIN, &start, out, status) != 0 ||
            time_param(f, "end", INT64_MIN, &end, out, status) != 0)
            return 0;
        if (end < start)
            return bad_param(out, status, "end", "end timestamp must not be before start time");
        const char *s = form_get(f, "step");
        if (!s || parse_duration(s, &step) != 0)
            return bad_param(out, status, "step", "cannot parse \"%s\" to a valid duration",
                             s ? s : "");
        if (step <= 0)
            return bad_param(out, status, "step", "zero or negative query resolution step widths "
                                                  "are not accepted. Try a positive integer");
        if ((end - start) / step > (int64_t)a->lim.max_steps)
            return reply_error(out, status, PROMQL_ERR_BAD_DATA,
                               "exceeded maximum resolution of 11,000 points per timeseries. Try "
                               "decreasing the query resolution (?step=XX)");
    }
    struct promql_result res;
    char err[512];
    int rc = promql_exec(a->store, &a->lim, q ? q : "", start, end, range ? step : 0, &res, err,
                         sizeof(err));
    if (rc == PROMQL_ERR_BAD_DATA && strstr(err, "parse error"))
        bad_param(out, status, "query", "%s", err);
    else if (rc)
        reply_error(out, status, rc == -ENOMEM ? PROMQL_ERR_EXEC : rc, err);
    else if (promql_result_json(&res, out) != 0)
        reply_error(out, status, PROMQL_ERR_EXEC, "the answer is larger than the output limit");
    else
        *status = 200;
    promql_result_release(&res);
    return 0;
}

/* The match[] selectors, parsed; *n == 0 when there are none. */
struct selectors {
    struct pq_expr e[16];
    size_t n;
};

static void selectors_release(struct selectors *s)
{
    for (size_t i = 0; i < s->n; i++)
        pq_expr_release(&s->e[i]);
    s->n = 0;
}

static int parse_selectors(struct promql_api *a, const struct form *f, struct selectors *s,
                           struct buf *out, int *status)
{
    s->n = 0;
    for (size_t i = 0; i < f->n; i++) {
        if (strcmp(f->kv[i].k, "match[]"))
            continue;
        if (s->n == sizeof(s->e) / sizeof(s->e[0])) {
            bad_param(out, status, "match[]", "more than %zu selectors", s->n);
            return -EINVAL;
        }
        char err[512];
        struct pq_expr *e = &s->e[s->n++];
        if (pq_parse(f->kv[i].v, &a->lim, e, err, sizeof(err)) != 0) {
            bad_param(out, status, "match[]", "%s", err);
            return -EINVAL;
        }
        if (e->root->kind != PQ_SEL || e->root->has_offset) {
            bad_param(out, status, "match[]", "\"%s\" is not a series selector", f->kv[i].v);
            return -EINVAL;
        }
    }
    return 0;
}

/* Series matching any selector (all without selectors) with a sample in
 * [start, end]. The caller frees *out. */
static int pick_series(struct promql_api *a, const struct selectors *sel, int64_t start,
                       int64_t end, struct store_series ***out, size_t *n)
{
    struct store *st = a->store;
    *n = 0;
    *out = malloc((st->nseries ? st->nseries : 1) * sizeof(**out));
    if (!*out)
        return -ENOMEM;
    for (size_t i = 0; i < st->nseries; i++) {
        struct store_series *se = st->series[i];
        bool match = sel->n == 0;
        for (size_t j = 0; j < sel->n && !match; j++)
            match = pq_series_matches(se, sel->e[j].root);
        struct store_iter it;
        struct store_sample smp;
        if (match && store_iter_seek(&it, se, start) < se->len && store_iter_next(&it, &smp) &&
            smp.t <= end)
            (*out)[(*n)++] = se;
    }
    return 0;
}

static int cmp_series_labels(const void *a, const void *b)
{
    const struct store_series *x = *(struct store_series *const *)a;
    const struct store_series *y = *(struct store_series *const *)b;
    return pq_labels_cmp(x->labels, x->nlabels, y->labels, y->nlabels);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int write_series(struct store_series **v, size_t n, struct buf *out)
{
    qsort(v, n, sizeof(*v), cmp_series_labels);
    int err = buf_append_str(out, "{\"status\":\"success\",\"data\":[");
    for (size_t i = 0; !err && i < n; i++) {
        err = buf_append_str(out, i ? ",{" : "{");
        for (size_t j = 0; !err && j < v[i]->nlabels; j++) {
            if (j)
                err = buf_append(out, ",", 1);
            if (!err)
                err = pq_json_str(out, v[i]->labels[j].name);
            if (!err)
                err = buf_append(out, ":", 1);
            if (!err)
                err = pq_json_str(out, v[i]->labels[j].value);
        }
        if (!err)
            err = buf_append(out, "}", 1);
    }
    return err ? err : buf_append_str(out, "]}");
}

/* Label names (name == NULL) or one label's values, sorted, unique. */
static int write_strings(struct store_series **v, size_t n, const char *name, struct buf *out)
{
    size_t total = 0, k = 0;
    for (size_t i = 0; i < n; i++)
        total += v[i]->nlabels;
    const char **s = malloc((total ? total : 1) * sizeof(*s));
    if (!s)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < v[i]->nlabels; j++)
            if (!name)
                s[k++] = v[i]->labels[j].name;
            else if (!strcmp(v[i]->labels[j].name, name))
                s[k++] = v[i]->labels[j].value;
    qsort(s, k, sizeof(*s), cmp_str);
    int err = buf_append_str(out, "{\"status\":\"success\",\"data\":[");
    size_t w = 0;
    for (size_t i = 0; !err && i < k; i++) {
        if (i && !strcmp(s[i], s[i - 1]))
            continue;
        if (w++)
            err = buf_append(out, ",", 1);
        if (!err)
            err = pq_json_str(out, s[i]);
    }
    free(s);
    return err ? err : buf_append_str(out, "]}");
}

static bool label_name_ok(const char *s)
{
    if (!*s || isdigit((unsigned char)*s))
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_')
            return false;
    return true;
}

/* /series, /labels and /label/<name>/values. */
static int answer_meta(struct promql_api *a, const struct form *f, int kind, const char *name,
                       struct buf *out, int *status)
{
    int64_t start, end;
    struct selectors sel;
    if (time_param(f, "start", INT64_MIN / 2, &start, out, status) != 0 ||
        time_param(f, "end", INT64_MAX / 2, &end, out, status) != 0)
        return 0;
    if (kind == 0 && !form_get(f, "match[]"))
        return reply_error(out, status, PROMQL_ERR_BAD_DATA, "no match[] parameter provided");
    if (kind == 2 && !label_name_ok(name)) {
        char msg[300];
        snprintf(msg, sizeof(msg), "invalid label name: \"%.200s\"", name);
        return reply_error(out, status, PROMQL_ERR_BAD_DATA, msg);
    }
    if (parse_selectors(a, f, &sel, out, status) != 0) {
        selectors_release(&sel);
        return 0;
    }
    struct store_series **v;
    size_t n;
    int err = pick_series(a, &sel, start, end, &v, &n);
    selectors_release(&sel);
    if (err)
        return reply_error(out, status, PROMQL_ERR_EXEC, "out of memory");
    if (kind == 0 && n > a->lim.max_series)
        err = -E2BIG;
    else
        err = kind == 0 ? write_series(v, n, out) : write_strings(v, n, kind == 2 ? name : NULL, out);
    free(v);
    if (err)
        return reply_error(out, status, PROMQL_ERR_EXEC, "the answer is larger than the output limit");
    *status = 200;
    return 0;
}

static bool path_is(const struct promql_api_request *r, const char *lit)
{
    return r->path_len == strlen(lit) && !memcmp(r->path, lit, r->path_len);
}

int promql_api_answer(struct promql_api *a, const struct promql_api_request *r, struct buf *out,
                      int *status)
{
    static const char prefix[] = "/api/v1/", values[] = "/values";
    const size_t pl = sizeof(prefix) - 1, vl = sizeof(values) - 1;
    if (r->path_len < pl || memcmp(r->path, prefix, pl))
        return -ENOENT;
    int kind = path_is(r, "/api/v1/query") ? 10 : path_is(r, "/api/v1/query_range") ? 11
             : path_is(r, "/api/v1/series") ? 0 : path_is(r, "/api/v1/labels") ? 1 : -1;
    const char *lp = "/api/v1/label/";
    if (kind < 0 && r->path_len > strlen(lp) + vl && !memcmp(r->path, lp, strlen(lp)) &&
        !memcmp(r->path + r->path_len - vl, values, vl))
        kind = 2;
    if (kind < 0) {
        *status = 404;
        return promql_error_json(-ENOENT, "not found", out) ? 0 : 0;
    }
    if (strcmp(r->method, "GET") && strcmp(r->method, "POST")) {
        *status = 405;
        return buf_append_str(out, "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":"
                                   "\"method not allowed\"}") ? 0 : 0;
    }
    struct form f;
    arena_init(&f.arena, r->query_len + r->body_len + r->path_len + 4096);
    f.n = 0;
    int err = 0;
    bool form_body = r->content_type &&
                     !strncmp(r->content_type, "application/x-www-form-urlencoded", 33);
    if (!strcmp(r->method, "POST") && form_body)
        err = form_add(&f, r->body, r->body_len);
    if (!err)
        err = form_add(&f, r->query, r->query_len);
    const char *name = NULL;
    if (!err && kind == 2) {
        size_t off = strlen(lp);
        name = url_decode(&f.arena, r->path + off, r->path_len - off - vl);
        err = name ? 0 : -ENOMEM;
    }
    if (err)
        reply_error(out, status, PROMQL_ERR_BAD_DATA, "too many or too long form fields");
    else if (kind >= 10)
        answer_query(a, &f, kind == 11, a->now_ms(a->now_ud), out, status);
    else
        answer_meta(a, &f, kind, name, out, status);
    arena_release(&f.arena);
    return 0;
}

bool promql_api_handle(struct promql_api *a, struct http_req *req)
{
    struct promql_api_request r = {
        .method = req->msg->method_name,
        .path = req->path,
        .path_len = req->path_len,
        .query = req->query,
        .query_len = req->query_len,
        .body = req->msg->body.data ? req->msg->body.data : "",
        .body_len = req->msg->body.len,
        .content_type = http_req_header(req, "content-type"),
    };
    struct buf out = BUF_INIT(a->lim.max_output_bytes);
    int status = 500;
    if (promql_api_answer(a, &r, &out, &status) == -ENOENT) {
        buf_release(&out);
        return false;
    }
    http_respond(req, status, "application/json", NULL, out.data ? out.data : "", out.len);
    buf_release(&out);
    return true;
}
