/* opts: declarative command-line flags with validation and generated --help.
 *
 * Each subcommand declares a table of struct opt; opts_parse fills the
 * pointed-to variables, which hold the defaults beforehand (so --help shows
 * them). Flags are "--name value" or "--name=value" (or "-x value" when the
 * flag is declared "x,name"); '_' and '-' are the same in a flag name, so the
 * tutorial's "--openai_api_base" works as written. */
#ifndef EBB_BASE_OPTS_H
#define EBB_BASE_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum opt_kind {
    OPT_STRING, /* const char ** (points into argv) */
    OPT_INT,    /* int *, checked against [min, max] */
    OPT_DOUBLE, /* double *, finite, checked against [min, max] */
    OPT_FLAG,   /* bool *, takes no value */
    OPT_CHOICE, /* const char **, one of the '|'-separated choices */
    OPT_LIST,   /* struct opt_list *: repeatable, each value appended */
};

/* The values of a repeatable flag, pointing into argv; items has cap slots. */
struct opt_list {
    const char **items;
    size_t n, cap;
};

struct opt {
    const char *name;    /* without the leading dashes, e.g. "max-num-seqs"; "f,file"
                          * also accepts "-f" */
    enum opt_kind kind;
    void *ptr;
    const char *metavar; /* shown in --help, e.g. "N" or "SECONDS" */
    const char *help;    /* one sentence; units included */
    double min, max;     /* range for OPT_INT and OPT_DOUBLE */
    const char *choices; /* for OPT_CHOICE: "roundrobin|session" */
};

struct opts_spec {
    const char *command; /* "ebb engine" */
    const char *usage;   /* "ebb engine [flags]" */
    const char *summary; /* a paragraph: what the command does */
    const struct opt *opts;
    size_t nopts;
    const char *epilog;  /* examples, or NULL */
};

/* Parses argv[1..argc-1]. Returns 0 on success, 1 when --help was asked for
 * and printed, or -EINVAL after printing the error to stderr. Positional
 * arguments are rejected: no subcommand takes any yet. */
int opts_parse(const struct opts_spec *spec, int argc, char **argv);
void opts_print_help(const struct opts_spec *spec, FILE *out);

#endif
