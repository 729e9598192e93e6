/* ebb: queue-driven autoscaling and routing for LLM inference fleets.
 * This file dispatches subcommands and does nothing else. */
#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "cmd/cmd.h"

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"up", cmd_up, "run the whole tutorial on one machine: router, autoscaler, replicas, metrics"},
    {"engine", cmd_engine, "run a simulated vLLM engine (OpenAI API, metrics, scheduler)"},
    {"router", cmd_router, "run the OpenAI-compatible router (holds requests at zero replicas)"},
    {"autoscaler", cmd_autoscaler, "run KEDA + HPA for ScaledObjects on local pools (--check: validate)"},
    {"metrics", cmd_metrics, "scrape targets and answer Prometheus's query API (a small Prometheus)"},
    {"get", cmd_get, "get hpa [-w]: the kubectl table of a running autoscaler"},
    {"load", cmd_load, "the tutorial's load generator, measured (TTFT, ITL, tokens/s)"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: ebb <command> [flags]\n\n"
                 "ebb is the tutorial's autoscaled vLLM deployment (engines, an OpenAI-compatible\n"
                 "router, Prometheus and KEDA) as one small binary.\n\ncommands:\n");
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
        fprintf(out, "  %-11s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "  %-11s %s\n  %-11s %s\n\n", "help", "show this help", "version",
            "print the version");
    fprintf(out, "'ebb <command> --help' explains a command and its flags.\n");
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "help") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        if (argc > 2) {
            for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
                if (strcmp(argv[2], commands[i].name) == 0) {
                    static char help_flag[] = "--help";
                    char *help_argv[] = {argv[2], help_flag, NULL};
                    return commands[i].run(2, help_argv);
                }
            }
        }
        usage(stdout);
        return 0;
    }
    if (strcmp(name, "version") == 0 || strcmp(name, "--version") == 0) {
        printf("ebb %s\n", EBB_VERSION);
        return 0;
    }
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
        if (strcmp(name, commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "ebb: unknown command \"%s\" (see 'ebb help')\n", name);
    return 2;
}
