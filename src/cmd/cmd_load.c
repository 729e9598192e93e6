/* ebb load: the tutorial's load generator (example-10-load-generator.py),
 * measured: a summary of status, latency and throughput at the end. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "base/opts.h"
#include "base/util.h"
#include "cmd/cmd.h"
#include "load/load.h"
#include "load/openai.h"

static const char summary[] =
    "Sends streaming completions to an OpenAI-compatible server and measures them.\n"
    "\n"
    "With no --rate, --duration or --trace it is the tutorial's load generator\n"
    "(production-stack's example-10-load-generator.py): the same flags, prompts\n"
    "(\"Prompt {i} with dummy text \" + \"Hi \" * prompt-len + \"how are you?\"), parameters\n"
    "(temperature 0, max_tokens 80, stream) and lines (\"Sending request {i} to model\n"
    "{m}\", then \"Completion results for request {i}: <text>\" in order), for every model\n"
    "GET /v1/models lists; every request is put in flight at once, each once the\n"
    "previous one's response head arrived, as the script's create(stream=True) does.\n"
    "Unlike the script it goes on after a failed request, counts failures by kind\n"
    "(connect, http, stream_error, timeout, incomplete, protocol) and ends with a\n"
    "summary: requests by outcome, TTFT, ITL and end-to-end latency (p50/p90/p99,\n"
    "linear interpolation as numpy's default), prompt and output tokens (from the\n"
    "server's usage chunk) and tokens/s.\n"
    "\n"
    "Other shapes: --rate (Poisson arrivals, seeded), --duration (with --rate: for\n"
    "how long arrivals come; alone: a closed loop of --concurrency requests), --trace\n"
    "(replay a JSONL trace: {\"arrival\": s, \"prompt_tokens\": n, \"output_tokens\": n}\n"
    "per line; Mooncake's timestamp/input_length/output_length too).\n"
    "\n"
    "Exit status: 0 when every request succeeded, 1 when some failed (or the server\n"
    "could not be asked for its models), 2 on a usage error.";

static const char epilog[] =
    "examples:\n"
    "  ebb load --num-requests 100 --prompt-len 3000        # the tutorial's step 6\n"
    "  ebb load --openai_api_base http://127.0.0.1:8000/v1 --rate 5 --duration 60 --json\n"
    "  ebb load --duration 30 --concurrency 16 --endpoint chat\n"
    "  ebb load --trace trace.jsonl --concurrency 64\n";

/* The --num-requests default, told apart from a value given (a pointer into argv). */
static const char default_num_requests[] = "100";

struct load_flags {
    const char *num_requests;
    const char *endpoint;
    const char *trace_path;
    int seed;
    bool json, no_progress;
};

static int usage_error(const char *msg)
{
    fprintf(stderr, "ebb load: %s\n", msg);
    return 2;
}

/* Chooses the mode and fills the defaults that depend on it. 0 or 2. */
static int resolve(struct load_config *cfg, const struct load_flags *f, const struct trace *tr)
{
    bool explicit_n = f->num_requests != default_num_requests;
    int64_t n;
    if (parse_int64(f->num_requests, &n) || n < 1 || n > 100000000) {
        fprintf(stderr,
                "ebb load: --num-requests must be an integer from 1 to 100000000, got "
                "\"%s\"\n",
                f->num_requests);
        return 2;
    }
    cfg->num_requests = (long)n;
    cfg->chat = strcmp(f->endpoint, "chat") == 0;
    if (f->trace_path) {
        if (cfg->rate > 0 || cfg->duration > 0)
            return usage_error("--trace sets the arrivals: it takes no --rate or --duration");
        cfg->mode = LOAD_TRACE;
        cfg->trace = tr;
    } else if (cfg->rate > 0) {
        cfg->mode = LOAD_RATE;
    } else if (cfg->duration > 0) {
        cfg->mode = LOAD_CLOSED;
        if (cfg->concurrency == 0)
            return usage_error("--duration without --rate is a closed loop: give --concurrency");
    } else {
        cfg->mode = LOAD_BURST;
    }
    if (cfg->mode != LOAD_BURST && !explicit_n)
        cfg->num_requests = cfg->mode == LOAD_RATE && cfg->duration <= 0 ? (long)n : 0;
    if (cfg->concurrency == 0)
        cfg->concurrency = cfg->mode == LOAD_BURST ? (int)cfg->num_requests : 1000;
    /* Each request in flight holds a connection: stay below the open-files limit. */
    long fds = raise_fd_limit() - 32;
    if (fds > 0 && cfg->concurrency > fds)
        cfg->concurrency = (int)fds;
    return 0;
}

int cmd_load(int argc, char **argv)
{
    struct load_config cfg = {
        .base_url = "http://localhost:30080/v1/",
        .api_key = "EMPTY",
        .prompt_len = 10000,
        .max_tokens = 80,
        .timeout = 600,
        .out = stdout,
        .err = stderr,
    };
    struct load_flags f = {.num_requests = default_num_requests, .endpoint = "completions"};
    const struct opt opts[] = {
        {"openai-api-base", OPT_STRING, &cfg.base_url, "URL",
         "the OpenAI API's base URL (http only; also --openai_api_base)", 0, 0, NULL},
        {"openai-api-key", OPT_STRING, &cfg.api_key, "KEY",
         "sent as 'Authorization: Bearer KEY' (also --openai_api_key)", 0, 0, NULL},
        {"num-requests", OPT_STRING, &f.num_requests, "N",
         "requests per model (with --rate: in all); with --duration or --trace a cap, only when "
         "given",
         0, 0, NULL},
        {"prompt-len", OPT_INT, &cfg.prompt_len, "N", "times \"Hi \" is repeated in each prompt", 0,
         10000000, NULL},
        {"max-tokens", OPT_INT, &cfg.max_tokens, "N", "max_tokens of each request", 1, 10000000,
         NULL},
        {"model", OPT_STRING, &cfg.model, "NAME",
         "the model to load (default: every model of GET /v1/models, as the script; the first "
         "with --rate, --duration or --trace)",
         0, 0, NULL},
        {"endpoint", OPT_CHOICE, &f.endpoint, NULL,
         "/v1/completions (the script's) or /v1/chat/completions", 0, 0, "completions|chat"},
        {"rate", OPT_DOUBLE, &cfg.rate, "PER_SECOND",
         "Poisson arrivals at this mean rate (0: the script's burst)", 0, 1000000, NULL},
        {"duration", OPT_DOUBLE, &cfg.duration, "SECONDS",
         "how long requests are started for (0: until --num-requests are sent)", 0, 31536000, NULL},
        {"concurrency", OPT_INT, &cfg.concurrency, "N",
         "most requests in flight (0: all of the burst; 1000 with --rate or --trace); later "
         "arrivals wait",
         0, 1000000, NULL},
        {"timeout", OPT_DOUBLE, &cfg.timeout, "SECONDS",
         "longest a request may take, from sending it to [DONE], as the OpenAI client's", 0.001,
         86400, NULL},
        {"seed", OPT_INT, &f.seed, "N", "seed of the --rate arrivals", 0, 2147483647, NULL},
        {"trace", OPT_STRING, &f.trace_path, "FILE",
         "replay a JSONL trace: arrival (s), prompt_tokens, output_tokens per line", 0, 0, NULL},
        {"json", OPT_FLAG, &f.json, NULL,
         "print only the summary, as one JSON object (no per-request lines)", 0, 0, NULL},
        {"no-progress", OPT_FLAG, &f.no_progress, NULL,
         "no progress bar (drawn on stderr only when it is a terminal)", 0, 0, NULL},
    };
    const struct opts_spec spec = {.command = "ebb load",
                                   .usage = "ebb load [flags]",
                                   .summary = summary,
                                   .opts = opts,
                                   .nopts = ARRAY_SIZE(opts),
                                   .epilog = epilog};
    int rc = opts_parse(&spec, argc, argv);
    if (rc)
        return rc > 0 ? 0 : 2;
    char host[256], path[512], err[1024];
    int port;
    if (openai_parse_url(cfg.base_url, host, sizeof(host), &port, path, sizeof(path))) {
        fprintf(stderr,
                "ebb load: --openai-api-base must be an http://host[:port][/path] URL, "
                "got \"%s\"\n",
                cfg.base_url);
        return 2;
    }
    if (strpbrk(cfg.api_key, "\r\n") || (cfg.model && strpbrk(cfg.model, "\r\n")))
        return usage_error("--openai-api-key and --model must be one line");
    struct trace tr = {0};
    if (f.trace_path && trace_load(f.trace_path, &tr, err, sizeof(err))) {
        fprintf(stderr, "ebb load: %s\n", err);
        return 2;
    }
    rc = resolve(&cfg, &f, &tr);
    if (rc) {
        trace_release(&tr);
        return rc;
    }
    cfg.seed = (uint64_t)f.seed;
    cfg.print_lines = cfg.mode == LOAD_BURST && !f.json;
    /* A bar on the terminal the script's lines go to would tear them. */
    cfg.progress =
        !f.no_progress && isatty(STDERR_FILENO) && !(cfg.print_lines && isatty(STDOUT_FILENO));
    signal(SIGPIPE, SIG_IGN);
    struct load_result res;
    rc = load_run(&cfg, &res, err, sizeof(err));
    int code;
    if (rc) {
        fprintf(stderr, "ebb load: %s\n", err);
        code = rc == -EINVAL ? 2 : 1;
    } else {
        if (f.json)
            load_report_json(&res, &cfg, stdout);
        else
            load_report_text(&res, &cfg, stdout);
        code = res.failed || res.interrupted ? 1 : 0;
    }
    load_result_release(&res);
    trace_release(&tr);
    if (uv_loop_close(uv_default_loop()))
        fprintf(stderr, "ebb load: the event loop closed with handles still open\n");
    return code;
}
