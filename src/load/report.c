/* report: the load generator's summary, for people and as JSON. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>

#include "load/load.h"

static const char *mode_name(enum load_mode m)
{
    static const char *const names[] = {"burst", "rate", "closed", "trace"};
    return names[m];
}

static double per_second(double n, double secs)
{
    return secs > 0 ? n / secs : 0;
}

static void text_row(FILE *out, const char *name, struct samples *s)
{
    if (s->seen == 0) {
        fprintf(out, "  %-6s %10s\n", name, "-");
        return;
    }
    fprintf(out, "  %-6s %10.1f %10.1f %10.1f %10.1f %10.1f %10llu\n", name,
            samples_percentile(s, 50) * 1e3, samples_percentile(s, 90) * 1e3,
            samples_percentile(s, 99) * 1e3, samples_mean(s) * 1e3, s->max * 1e3,
            (unsigned long long)s->seen);
}

void load_report_text(struct load_result *res, const struct load_config *cfg, FILE *out)
{
    fprintf(out, "\nsummary: %llu requests (%s) to %s in %.2f s, %.2f requests/s%s\n",
            (unsigned long long)(res->ok + res->failed), mode_name(cfg->mode), res->model,
            res->elapsed, per_second((double)(res->ok + res->failed), res->elapsed),
            res->interrupted ? " (interrupted)" : "");
    fprintf(out, "  ok     %llu\n  failed %llu", (unsigned long long)res->ok,
            (unsigned long long)res->failed);
    const char *sep = " (";
    for (int k = 0; k < LOAD_FAIL_KINDS; k++) {
        if (!res->fail[k])
            continue;
        fprintf(out, "%s%s %llu", sep, load_fail_name(k), (unsigned long long)res->fail[k]);
        sep = ", ";
        if (k != LOAD_FAIL_HTTP)
            continue;
        const char *isep = " [";
        for (int st = 0; st < 600; st++) {
            if (res->http_status[st]) {
                fprintf(out, "%s%d: %llu", isep, st, (unsigned long long)res->http_status[st]);
                isep = ", ";
            }
        }
        fprintf(out, "]");
    }
    fprintf(out, "%s\n", res->failed ? ")" : "");
    fprintf(out, "  %-6s %10s %10s %10s %10s %10s %10s\n", "ms", "p50", "p90", "p99", "mean", "max",
            "count");
    text_row(out, "ttft", &res->ttft);
    text_row(out, "itl", &res->itl);
    text_row(out, "e2e", &res->e2e);
    fprintf(out, "  tokens %llu prompt, %llu output; %.1f output tokens/s, %.1f total tokens/s\n",
            (unsigned long long)res->prompt_tokens, (unsigned long long)res->output_tokens,
            per_second((double)res->output_tokens, res->elapsed),
            per_second((double)(res->prompt_tokens + res->output_tokens), res->elapsed));
    if (res->ok && res->usage_reports < res->ok)
        fprintf(out,
                "  (%llu of %llu successful requests reported no usage: their output tokens "
                "are token events, their prompt tokens are not counted)\n",
                (unsigned long long)(res->ok - res->usage_reports), (unsigned long long)res->ok);
}

static void add_number(cJSON *o, const char *name, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, name, v);
    else
        cJSON_AddNullToObject(o, name);
}

static void json_latency(cJSON *root, const char *name, struct samples *s)
{
    cJSON *o = cJSON_AddObjectToObject(root, name);
    add_number(o, "count", (double)s->seen);
    add_number(o, "p50", samples_percentile(s, 50) * 1e3);
    add_number(o, "p90", samples_percentile(s, 90) * 1e3);
    add_number(o, "p99", samples_percentile(s, 99) * 1e3);
    add_number(o, "mean", samples_mean(s) * 1e3);
    add_number(o, "max", s->seen ? s->max * 1e3 : (double)NAN);
}

void load_report_json(struct load_result *res, const struct load_config *cfg, FILE *out)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "model", res->model);
    cJSON_AddStringToObject(root, "mode", mode_name(cfg->mode));
    cJSON_AddStringToObject(root, "endpoint", cfg->chat ? "chat" : "completions");
    add_number(root, "duration_s", res->elapsed);
    cJSON *req = cJSON_AddObjectToObject(root, "requests");
    add_number(req, "total", (double)(res->ok + res->failed));
    add_number(req, "ok", (double)res->ok);
    add_number(req, "failed", (double)res->failed);
    cJSON *kinds = cJSON_AddObjectToObject(req, "failed_by_kind");
    for (int k = 0; k < LOAD_FAIL_KINDS; k++)
        add_number(kinds, load_fail_name(k), (double)res->fail[k]);
    cJSON *status = cJSON_AddObjectToObject(req, "http_status");
    for (int st = 0; st < 600; st++) {
        if (res->http_status[st]) {
            char name[8];
            snprintf(name, sizeof(name), "%d", st);
            add_number(status, name, (double)res->http_status[st]);
        }
    }
    add_number(req, "per_s", per_second((double)(res->ok + res->failed), res->elapsed));
    cJSON *tok = cJSON_AddObjectToObject(root, "tokens");
    add_number(tok, "prompt", (double)res->prompt_tokens);
    add_number(tok, "output", (double)res->output_tokens);
    add_number(tok, "usage_reports", (double)res->usage_reports);
    add_number(tok, "output_per_s", per_second((double)res->output_tokens, res->elapsed));
    add_number(tok, "total_per_s",
               per_second((double)(res->prompt_tokens + res->output_tokens), res->elapsed));
    json_latency(root, "ttft_ms", &res->ttft);
    json_latency(root, "itl_ms", &res->itl);
    json_latency(root, "e2e_ms", &res->e2e);
    cJSON_AddStringToObject(root, "percentiles", "linear interpolation (numpy's default)");
    cJSON_AddBoolToObject(root, "interrupted", res->interrupted);
    char *s = cJSON_PrintUnformatted(root);
    if (s)
        fprintf(out, "%s\n", s);
    free(s);
    cJSON_Delete(root);
}
