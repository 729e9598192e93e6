/* prometheus: a prometheus trigger's metadata, parsed as KEDA's typed
 * config parses it (keda-hpa-spec.md §3.1): values trimmed, an empty value
 * counts as missing, numbers are JSON numbers, booleans Go's ParseBool,
 * lists "k=v,k2=v2". Unknown parameters are ignored with a warning (KEDA
 * ignores them silently). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "config/decode.h"
#include "config/prometheus.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Every parameter the prometheus scaler reads from triggerMetadata. */
static const char *const prom_params[] = {
    "serverAddress",   "query",         "threshold",     "activationThreshold",
    "queryParameters", "namespace",     "customHeaders", "ignoreNullValues",
    "unsafeSsl",       "timeout",       "authModes",     "authMode",
    "awsRegion",       "identityOwner", "metricName",    "cortexOrgID",
};

/* Parameters KEDA reads only from a TriggerAuthentication (authParams). */
static const char *const auth_params[] = {
    "bearerToken",
    "token",
    "username",
    "password",
    "customAuthHeader",
    "customAuthValue",
    "cert",
    "key",
    "ca",
    "keyPassword",
    "apiKey",
    "clientID",
    "clientSecret",
    "oauthTokenURI",
    "scopes",
    "endpointParams",
};

bool prom_is_secret_param(const char *key)
{
    for (size_t i = 0; i < N(auth_params); i++) {
        if (strcmp(key, auth_params[i]) == 0)
            return true;
    }
    return false;
}

/* ---------- value syntaxes ---------- */

int prom_json_number(const char *s, double *out)
{
    const char *p = s;
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (*p >= '0' && *p <= '9')
            p++;
    else
        return -EINVAL;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return -EINVAL;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (*p < '0' || *p > '9')
            return -EINVAL;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p != '\0')
        return -EINVAL;
    errno = 0;
    double v = strtod(s, NULL);
    if (errno == ERANGE && fabs(v) > 1.0)
        return -ERANGE;
    *out = v;
    return 0;
}

int prom_go_bool(const char *s)
{
    static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};
    for (size_t i = 0; i < N(yes); i++) {
        if (strcmp(s, yes[i]) == 0)
            return 1;
        if (strcmp(s, no[i]) == 0)
            return 0;
    }
    return -1;
}

/* Go's time.ParseDuration, in milliseconds (rounded up to 1 for a positive
 * duration under a millisecond, so that it does not read as "unset"). */
static int go_duration_ms(const char *s, double *ms)
{
    static const struct {
        const char *unit;
        double ms;
    } units[] = {{"ns", 1e-6}, {"us", 1e-3}, {"\xc2\xb5s", 1e-3}, {"\xce\xbcs", 1e-3},
                 {"ms", 1.0},  {"s", 1e3},   {"m", 6e4},          {"h", 3.6e6}};
    const char *p = s;
    bool neg = *p == '-';
    if (*p == '-' || *p == '+')
        p++;
    if (strcmp(p, "0") == 0) {
        *ms = 0;
        return 0;
    }
    double total = 0;
    if (*p == '\0')
        return -EINVAL;
    while (*p) {
        char *end;
        if (!isdigit((unsigned char)*p) && *p != '.')
            return -EINVAL;
        double v = strtod(p, &end);
        if (end == p)
            return -EINVAL;
        p = end;
        size_t best = 0, best_len = 0;
        for (size_t i = 0; i < N(units); i++) {
            size_t l = strlen(units[i].unit);
            if (strncmp(p, units[i].unit, l) == 0 && l > best_len) {
                best = i;
                best_len = l;
            }
        }
        if (!best_len)
            return -EINVAL;
        total += v * units[best].ms;
        p += best_len;
    }
    *ms = neg ? -total : total;
    return 0;
}

int prom_timeout_ms(const char *s, int64_t *out)
{
    int64_t v;
    double ms;
    bool digits = *s != '\0' && strspn(s + (*s == '-' || *s == '+'), "0123456789") ==
                                    strlen(s + (*s == '-' || *s == '+'));
    if (digits) {
        /* A bare integer is milliseconds (KEDA v2.18, #6997). */
        if (parse_int64(s, &v) < 0)
            return -EINVAL;
        ms = (double)v;
    } else if (go_duration_ms(s, &ms) < 0) {
        return -EINVAL;
    }
    if (ms < 0)
        return -ERANGE;
    if (ms > 86400000.0)
        return -E2BIG;
    *out = ms > 0 && ms < 1 ? 1 : (int64_t)ms;
    return 0;
}

int prom_auth_modes(const char *s, unsigned *out, char *err, size_t errlen)
{
    static const struct {
        const char *name;
        unsigned bit;
    } modes[] = {{"bearer", CFG_AUTH_BEARER},  {"basic", CFG_AUTH_BASIC},
                 {"custom", CFG_AUTH_CUSTOM},  {"tls", CFG_AUTH_TLS},
                 {"apiKey", CFG_AUTH_API_KEY}, {"oauth", CFG_AUTH_OAUTH}};
    unsigned bits = 0;
    while (*s) {
        size_t len = strcspn(s, ",");
        const char *item = s;
        s += len + (s[len] == ',');
        while (len && isspace((unsigned char)*item))
            item++, len--;
        while (len && isspace((unsigned char)item[len - 1]))
            len--;
        if (!len)
            continue;
        size_t i = 0;
        while (i < N(modes) &&
               !(strlen(modes[i].name) == len && !strncmp(item, modes[i].name, len)))
            i++;
        if (i == N(modes)) {
            snprintf(err, errlen,
                     "unknown auth mode \"%.*s\": use bearer, basic or custom (KEDA also knows "
                     "tls, apiKey and oauth)",
                     len > 48 ? 48 : (int)len, item);
            return -EINVAL;
        }
        bits |= modes[i].bit;
    }
    unsigned exclusive = bits & (CFG_AUTH_BEARER | CFG_AUTH_BASIC | CFG_AUTH_OAUTH);
    if (exclusive & (exclusive - 1)) {
        snprintf(err, errlen, "at most one of bearer, basic and oauth may be used");
        return -EINVAL;
    }
    if (bits & CFG_AUTH_TLS) {
        snprintf(err, errlen,
                 "auth mode \"tls\" (client certificates) is not supported by ebb: use bearer, "
                 "basic or custom");
        return -EINVAL;
    }
    *out = bits;
    return 0;
}

/* ---------- key=value lists ---------- */

bool prom_http_token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", c))
            return false;
    }
    return true;
}

static char *trim_dup(struct arena *a, const char *s, size_t len)
{
    while (len && isspace((unsigned char)*s))
        s++, len--;
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    return arena_strndup(a, s, len);
}

/* "k=v,k2=v2" as KEDA splits it: on ',', then on '=', exactly two parts. */
static int parse_pairs(struct dec *d, const struct cfg_kv *src, bool headers, struct cfg_kv **out,
                       size_t *n)
{
    const char *v = src->value;
    size_t count = 1;
    for (const char *p = v; *p; p++)
        count += *p == ',';
    if (count > CONFIG_LIST_MAX) {
        dec_error_key(d, src->pos, src->key, "has %zu pairs; at most %d are allowed", count,
                      CONFIG_LIST_MAX);
        return -1;
    }
    struct cfg_kv *kv = arena_alloc(&d->c->arena, count * sizeof(*kv));
    if (!kv)
        return -1;
    size_t k = 0;
    for (const char *p = v; kv && k < count;) {
        size_t len = strcspn(p, ",");
        const char *eq = memchr(p, '=', len);
        if (!eq || memchr(eq + 1, '=', len - (size_t)(eq + 1 - p))) {
            dec_error_key(d, src->pos, src->key,
                          "must be key=value pairs separated by commas, got \"%.*s\"",
                          len > 64 ? 64 : (int)len, p);
            return -1;
        }
        kv[k].key = trim_dup(&d->c->arena, p, (size_t)(eq - p));
        kv[k].value = trim_dup(&d->c->arena, eq + 1, len - (size_t)(eq + 1 - p));
        kv[k].pos = src->pos;
        if (!kv[k].key || !kv[k].value)
            return -1;
        if (headers && !prom_http_token(kv[k].key)) {
            dec_error_key(d, src->pos, src->key, "\"%.64s\" is not a valid HTTP header name",
                          kv[k].key);
            return -1;
        }
        k++;
        p += len + (p[len] == ',');
    }
    *out = kv;
    *n = k;
    return 1;
}

/* ---------- the trigger ---------- */

/* The trimmed value of metadata[key], NULL when absent or empty (KEDA counts
 * an empty value as missing). */
static const struct cfg_kv *param(struct dec *d, const struct cfg_trigger *t, const char *key,
                                  const char **value)
{
    for (size_t i = 0; i < t->n_metadata; i++) {
        const struct cfg_kv *kv = &t->metadata[i];
        if (strcmp(kv->key, key) != 0)
            continue;
        const char *v = trim_dup(&d->c->arena, kv->value, strlen(kv->value));
        if (!v || !*v)
            return NULL;
        *value = v;
        return kv;
    }
    return NULL;
}

static void check_unknown(struct dec *d, const struct cfg_trigger *t)
{
    for (size_t i = 0; i < t->n_metadata; i++) {
        const struct cfg_kv *kv = &t->metadata[i];
        bool known = false;
        for (size_t j = 0; j < N(prom_params) && !known; j++)
            known = strcmp(kv->key, prom_params[j]) == 0;
        if (known)
            continue;
        if (prom_is_secret_param(kv->key)) {
            dec_warn_key(d, kv->pos, kv->key,
                         "is ignored here: KEDA reads it only from a TriggerAuthentication "
                         "(authenticationRef), never from metadata");
            continue;
        }
        const char *hint = dec_closest(kv->key, prom_params, N(prom_params));
        if (hint)
            dec_warn_key(d, kv->pos, kv->key,
                         "unknown parameter of the prometheus trigger, ignored; did you mean "
                         "\"%s\"?",
                         hint);
        else
            dec_warn_key(d, kv->pos, kv->key,
                         "unknown parameter of the prometheus trigger, ignored");
    }
}

static void decode_number(struct dec *d, const struct cfg_trigger *t, const struct ynode *meta,
                          const char *key, bool required, double *out)
{
    const char *v;
    const struct cfg_kv *kv = param(d, t, key, &v);
    if (!kv) {
        if (required)
            dec_required(d, meta, key, "the target value per replica, as a string: '5'");
        return;
    }
    int rc = prom_json_number(v, out);
    if (rc == -ERANGE)
        dec_error_key(d, kv->pos, key, "must be a number in a double's range, got \"%.48s\"", v);
    else if (rc < 0)
        dec_error_key(d, kv->pos, key, "must be a number, got \"%.48s\"", v);
}

static void decode_bool(struct dec *d, const struct cfg_trigger *t, const char *key, bool *out)
{
    const char *v;
    const struct cfg_kv *kv = param(d, t, key, &v);
    if (!kv)
        return;
    int b = prom_go_bool(v);
    if (b < 0)
        dec_error_key(d, kv->pos, key, "must be true or false, got \"%.48s\"", v);
    else
        *out = b == 1;
}

static void decode_server(struct dec *d, const struct cfg_trigger *t, const struct ynode *meta,
                          struct cfg_prometheus *p)
{
    const char *v;
    const struct cfg_kv *kv = param(d, t, "serverAddress", &v);
    if (!kv) {
        dec_required(d, meta, "serverAddress", "the Prometheus URL, e.g. http://localhost:9090");
        return;
    }
    p->server_address = v;
    const char *rest = strncmp(v, "http://", 7) == 0    ? v + 7
                       : strncmp(v, "https://", 8) == 0 ? v + 8
                                                        : NULL;
    /* KEDA fails at the first query; ebb says so when the file is read. */
    if (!rest || !*rest || *rest == '/')
        dec_error_key(d, kv->pos, "serverAddress",
                      "must be an http:// or https:// URL with a host, got \"%.64s\"", v);
    for (const char *c = v; *c; c++) {
        if ((unsigned char)*c <= 0x20 || *c == 0x7f) {
            dec_error_key(d, kv->pos, "serverAddress",
                          "must not contain spaces or control characters");
            break;
        }
    }
}

static void decode_options(struct dec *d, const struct cfg_trigger *t, struct cfg_prometheus *p)
{
    const char *v;
    const struct cfg_kv *kv;
    if (param(d, t, "namespace", &v))
        p->namespace_ = v;
    kv = param(d, t, "queryParameters", &v);
    if (kv) {
        struct cfg_kv trimmed = {kv->key, v, kv->pos};
        parse_pairs(d, &trimmed, false, &p->query_params, &p->n_query_params);
    }
    kv = param(d, t, "customHeaders", &v);
    if (kv) {
        struct cfg_kv trimmed = {kv->key, v, kv->pos};
        parse_pairs(d, &trimmed, true, &p->custom_headers, &p->n_custom_headers);
    }
    p->ignore_null_values = true;
    decode_bool(d, t, "ignoreNullValues", &p->ignore_null_values);
    decode_bool(d, t, "unsafeSsl", &p->unsafe_ssl);
    kv = param(d, t, "timeout", &v);
    if (kv) {
        int rc = prom_timeout_ms(v, &p->timeout_ms);
        if (rc == -ERANGE)
            dec_error_key(d, kv->pos, "timeout", "must not be negative, got \"%.48s\"", v);
        else if (rc == -E2BIG)
            dec_error_key(d, kv->pos, "timeout", "must be at most a day, got \"%.48s\"", v);
        else if (rc < 0)
            dec_error_key(d, kv->pos, "timeout",
                          "must be milliseconds (\"3000\") or a duration (\"3s\", \"500ms\"), "
                          "got \"%.48s\"",
                          v);
    }
}

static void decode_auth_modes(struct dec *d, const struct cfg_trigger *t, struct cfg_prometheus *p)
{
    const char *v;
    const char *key = "authModes";
    const struct cfg_kv *kv = param(d, t, key, &v);
    if (!kv) {
        key = "authMode"; /* KEDA's older spelling */
        kv = param(d, t, key, &v);
    }
    if (!kv)
        return;
    char err[CONFIG_MSG_MAX];
    p->auth_modes_pos = kv->pos;
    if (prom_auth_modes(v, &p->auth_modes, err, sizeof(err)) < 0) {
        dec_error_key(d, kv->pos, key, "%s", err);
        return;
    }
    if (p->auth_modes & (CFG_AUTH_API_KEY | CFG_AUTH_OAUTH))
        dec_warn_key(d, kv->pos, key,
                     "apiKey and oauth have no effect on a prometheus trigger (KEDA does not "
                     "apply them either)");
}

static void decode_ignored(struct dec *d, const struct cfg_trigger *t, struct cfg_prometheus *p,
                           size_t index)
{
    const char *v;
    const struct cfg_kv *kv = param(d, t, "metricName", &v);
    if (kv) {
        p->metric_name = v;
        dec_warn_key(d, kv->pos, "metricName",
                     "is ignored: KEDA removed it in v2.12; the metric is named s%zu-prometheus",
                     index);
    }
    kv = param(d, t, "cortexOrgID", &v);
    if (kv)
        dec_warn_key(d, kv->pos, "cortexOrgID",
                     "is ignored: KEDA removed it in v2.12; use customHeaders: "
                     "\"X-Scope-OrgID=...\"");
    kv = param(d, t, "awsRegion", &v);
    if (kv) {
        p->aws_region = v;
        dec_warn_key(d, kv->pos, "awsRegion",
                     "is ignored: ebb does not sign requests for Amazon Managed Prometheus");
    }
    kv = param(d, t, "identityOwner", &v);
    if (kv)
        dec_warn_key(d, kv->pos, "identityOwner", "is ignored: ebb has no pod identity");
}

void prom_decode(struct dec *d, struct cfg_trigger *t, const struct ynode *meta,
                 struct so_trigger *st, size_t index)
{
    struct cfg_prometheus *p = &t->prom;
    size_t s = dec_push(d, "metadata");
    check_unknown(d, t);
    decode_server(d, t, meta, p);
    const char *q;
    if (param(d, t, "query", &q))
        p->query = q;
    else
        dec_required(d, meta, "query", "the PromQL query whose value scales the target");
    decode_number(d, t, meta, "threshold", true, &p->threshold);
    decode_number(d, t, meta, "activationThreshold", false, &p->activation_threshold);
    st->threshold = p->threshold;
    st->activation_threshold = p->activation_threshold;
    decode_options(d, t, p);
    decode_auth_modes(d, t, p);
    decode_ignored(d, t, p, index);
    dec_pop(d, s);
}
