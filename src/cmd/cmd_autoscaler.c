/* ebb autoscaler: for now, --check: validate ScaledObject, TriggerAuthentication
 * and LocalDeployment files and print what was understood. The live loop
 * (issue 4) is not built yet; without --check the command says so. */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "config/config.h"

int cmd_autoscaler(int argc, char **argv)
{
    bool check = false, help = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--check") == 0)
            check = true;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            help = true;
    }
    if (help || !check) {
        FILE *out = help ? stdout : stderr;
        fprintf(out,
                "usage: ebb autoscaler --check -f FILE [-f FILE ...] [--local]\n\n"
                "Validates KEDA ScaledObject and TriggerAuthentication files (keda.sh/v1alpha1)\n"
                "and ebb LocalDeployment files, multi-document YAML, and prints what it\n"
                "understood: every object with its effective values, defaults included, and\n"
                "secrets redacted. Errors name file:line:col, the field and what was expected.\n"
                "Exit status: 0 valid, 1 invalid, 2 usage.\n\n"
                "  -f, --file FILE   a manifest file (repeatable)\n"
                "  --local           every scaleTargetRef must name a LocalDeployment\n\n"
                "The live autoscaler loop (Prometheus triggers, the local pool) is not built\n"
                "yet in this version: only --check is available.\n");
        return help ? 0 : 2;
    }
    return config_check_main(argc, argv);
}
