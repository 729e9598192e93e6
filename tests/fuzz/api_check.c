/* api_check: checks of api_parse_request's results. See api_check.h. */
#include "api_check.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include "fuzz.h"

static void check_request(const struct gen_request *r, enum api_kind kind,
                          const struct api_limits *lim)
{
    bool served = false;
    for (size_t i = 0; i < lim->nserved; i++)
        served = served || r->model == lim->served_names[i];
    FUZZ_CHECK(served);
    FUZZ_CHECK(r->kind == kind);
    /* The scheduler needs a prompt to prefill and room for one output token. */
    FUZZ_CHECK(r->prompt_tokens >= 1);
    FUZZ_CHECK(r->prompt_tokens < lim->max_model_len);
    FUZZ_CHECK(r->max_tokens >= 1);
    FUZZ_CHECK((long long)r->prompt_tokens + r->max_tokens <= lim->max_model_len);
    FUZZ_CHECK(r->min_tokens >= 0 && r->min_tokens <= r->max_tokens);
    FUZZ_CHECK(r->stop_after >= r->min_tokens);
    FUZZ_CHECK(r->stop_after == INT_MAX ||
               (r->stop_after >= lim->natural_min && r->stop_after <= lim->natural_max) ||
               r->stop_after == r->min_tokens);
    FUZZ_CHECK(r->stream || (!r->include_usage && !r->continuous_usage));
    FUZZ_CHECK(kind == API_COMPLETION || r->echo_prompt == NULL);
    if (r->echo_prompt)
        (void)strlen(r->echo_prompt);
}

static void check_error(const struct api_error *err)
{
    FUZZ_CHECK(err->status == 400 || err->status == 404 || err->status == 500);
    FUZZ_CHECK(err->type != NULL);
    FUZZ_CHECK(memchr(err->message, '\0', sizeof(err->message)) != NULL);
    FUZZ_CHECK(err->message[0] != '\0');
    if (err->param)
        (void)strlen(err->param);
}

void api_check_parse(enum api_kind kind, const char *body, size_t len,
                     const struct api_limits *lim)
{
    struct gen_request r;
    struct api_error err;
    memset(&err, 0, sizeof(err));
    int rc = api_parse_request(kind, body, len, lim, &r, &err);
    if (rc == 0) {
        check_request(&r, kind, lim);
        gen_request_release(&r);
    } else {
        FUZZ_CHECK(rc == -EINVAL);
        check_error(&err);
        FUZZ_CHECK(r.echo_prompt == NULL);
    }
}
