/* textparse_verdict: textparse's verdict on each file given, one line each:
 * "PATH<TAB>OK<TAB>samples" or "PATH<TAB>ERR<TAB>message". With --skip1,
 * the first byte of each file is left out (a fuzz input's control byte).
 * For crosscheck_prometheus.py, which asks Prometheus the same question. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prom/textparse.h"

static int verdict(const char *path, size_t skip)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    static char buf[1 << 22];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    if (n < skip)
        skip = n;
    struct textparse p;
    struct textparse_sample s;
    int rc, samples = 0;
    if (textparse_init(&p, buf + skip, n - skip, NULL))
        return -1;
    while ((rc = textparse_next(&p, &s)) == 1)
        samples++;
    if (rc)
        printf("%s\tERR\t%s\n", path, textparse_error(&p));
    else
        printf("%s\tOK\t%d\n", path, samples);
    textparse_release(&p);
    return 0;
}

int main(int argc, char **argv)
{
    size_t skip = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--skip1")) {
            skip = 1;
            continue;
        }
        if (verdict(argv[i], skip)) {
            fprintf(stderr, "textparse_verdict: cannot read \"%s\"\n", argv[i]);
            return 1;
        }
    }
    return 0;
}
