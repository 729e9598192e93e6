/* opts: declarative command-line flags. See opts.h. */
#include "base/opts.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "base/util.h"

/* Compares a user-typed flag name (up to len bytes) with a declared one,
 * treating '_' and '-' as equal. */
static bool name_matches(const char *typed, size_t len, const char *declared)
{
    if (strlen(declared) != len)
        return false;
    for (size_t i = 0; i < len; i++) {
        char a = typed[i] == '_' ? '-' : typed[i];
        if (a != declared[i])
            return false;
    }
    return true;
}

/* A flag's long name: its declared name without a "x," short prefix. */
static const char *long_name(const struct opt *o)
{
    return o->name[0] && o->name[1] == ',' ? o->name + 2 : o->name;
}

static char short_name(const struct opt *o)
{
    return o->name[0] && o->name[1] == ',' ? o->name[0] : 0;
}

static const struct opt *find_opt(const struct opts_spec *spec, const char *typed, size_t len)
{
    for (size_t i = 0; i < spec->nopts; i++) {
        if (name_matches(typed, len, long_name(&spec->opts[i])))
            return &spec->opts[i];
    }
    return NULL;
}

static bool choice_ok(const char *choices, const char *v)
{
    size_t vlen = strlen(v);
    const char *p = choices;
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == vlen && strncmp(p, v, n) == 0)
            return true;
        if (!bar)
            break;
        p = bar + 1;
    }
    return false;
}

static int set_value(const struct opts_spec *spec, const struct opt *o, const char *v)
{
    switch (o->kind) {
    case OPT_STRING:
        *(const char **)o->ptr = v;
        return 0;
    case OPT_CHOICE:
        if (!choice_ok(o->choices, v)) {
            fprintf(stderr, "%s: --%s must be one of %s, got \"%s\"\n", spec->command, long_name(o),
                    o->choices, v);
            return -EINVAL;
        }
        *(const char **)o->ptr = v;
        return 0;
    case OPT_INT: {
        int64_t n;
        if (parse_int64(v, &n) || (double)n < o->min || (double)n > o->max) {
            fprintf(stderr, "%s: --%s must be an integer from %.0f to %.0f, got \"%s\"\n",
                    spec->command, long_name(o), o->min, o->max, v);
            return -EINVAL;
        }
        *(int *)o->ptr = (int)n;
        return 0;
    }
    case OPT_DOUBLE: {
        double d;
        if (parse_double(v, &d) || d < o->min || d > o->max) {
            fprintf(stderr, "%s: --%s must be a number from %g to %g, got \"%s\"\n", spec->command,
                    long_name(o), o->min, o->max, v);
            return -EINVAL;
        }
        *(double *)o->ptr = d;
        return 0;
    }
    case OPT_LIST: {
        struct opt_list *l = o->ptr;
        if (l->n >= l->cap) {
            fprintf(stderr, "%s: --%s may be given at most %zu times\n", spec->command, long_name(o),
                    l->cap);
            return -EINVAL;
        }
        l->items[l->n++] = v;
        return 0;
    }
    case OPT_FLAG:
        break;
    }
    return -EINVAL;
}

static const struct opt *find_short(const struct opts_spec *spec, char c)
{
    for (size_t i = 0; i < spec->nopts; i++)
        if (short_name(&spec->opts[i]) == c)
            return &spec->opts[i];
    return NULL;
}

int opts_parse(const struct opts_spec *spec, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            opts_print_help(spec, stdout);
            return 1;
        }
        const struct opt *so = arg[0] == '-' && arg[1] && arg[1] != '-' && !arg[2]
                                   ? find_short(spec, arg[1])
                                   : NULL;
        if (so) {
            const struct opt *o = so;
            if (o->kind == OPT_FLAG) {
                *(bool *)o->ptr = true;
                continue;
            }
            if (i + 1 >= argc) {
                fprintf(stderr, "%s: %s needs a value (%s)\n", spec->command, arg,
                        o->metavar ? o->metavar : "VALUE");
                return -EINVAL;
            }
            int err = set_value(spec, o, argv[++i]);
            if (err)
                return err;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            fprintf(stderr, "%s: unexpected argument \"%s\" (see '%s --help')\n", spec->command, arg,
                    spec->command);
            return -EINVAL;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const struct opt *o = find_opt(spec, name, nlen);
        if (!o) {
            fprintf(stderr, "%s: unknown flag \"--%.*s\" (see '%s --help')\n", spec->command,
                    (int)nlen, name, spec->command);
            return -EINVAL;
        }
        if (o->kind == OPT_FLAG) {
            if (eq) {
                fprintf(stderr, "%s: --%s takes no value\n", spec->command, long_name(o));
                return -EINVAL;
            }
            *(bool *)o->ptr = true;
            continue;
        }
        const char *value = eq ? eq + 1 : NULL;
        if (!value) {
            if (i + 1 >= argc) {
                fprintf(stderr, "%s: --%s needs a value (%s)\n", spec->command, long_name(o),
                        o->metavar ? o->metavar : "VALUE");
                return -EINVAL;
            }
            value = argv[++i];
        }
        int err = set_value(spec, o, value);
        if (err)
            return err;
    }
    return 0;
}

static void print_default(const struct opt *o, FILE *out)
{
    switch (o->kind) {
    case OPT_STRING:
    case OPT_CHOICE: {
        const char *s = *(const char *const *)o->ptr;
        if (s && *s)
            fprintf(out, " (default: %s)", s);
        break;
    }
    case OPT_INT:
        fprintf(out, " (default: %d)", *(const int *)o->ptr);
        break;
    case OPT_DOUBLE:
        fprintf(out, " (default: %g)", *(const double *)o->ptr);
        break;
    case OPT_LIST:
    case OPT_FLAG:
        break;
    }
}

void opts_print_help(const struct opts_spec *spec, FILE *out)
{
    fprintf(out, "usage: %s\n\n%s\n\nflags:\n", spec->usage, spec->summary);
    for (size_t i = 0; i < spec->nopts; i++) {
        const struct opt *o = &spec->opts[i];
        char left[64], sh[8] = "";
        if (short_name(o))
            snprintf(sh, sizeof(sh), "-%c, ", short_name(o));
        if (o->kind == OPT_FLAG)
            snprintf(left, sizeof(left), "%s--%s", sh, long_name(o));
        else if (o->kind == OPT_CHOICE)
            snprintf(left, sizeof(left), "--%s %s", long_name(o), o->choices);
        else
            snprintf(left, sizeof(left), "%s--%s %s%s", sh, long_name(o), o->metavar ? o->metavar : "VALUE",
                     o->kind == OPT_LIST ? " (repeatable)" : "");
        if (strlen(left) > 30)
            fprintf(out, "  %s\n  %-30s  %s", left, "", o->help);
        else
            fprintf(out, "  %-30s  %s", left, o->help);
        print_default(o, out);
        fputc('\n', out);
    }
    fprintf(out, "  %-30s  %s\n", "--help", "show this help and exit");
    if (spec->epilog)
        fprintf(out, "\n%s", spec->epilog);
}
