/* textparse: the Prometheus text exposition format (version 0.0.4), read as
 * Prometheus 2.42's textparse.PromParser reads it.
 *
 * Pure and streaming: textparse_next() walks a caller-owned buffer and hands
 * out one sample at a time, its labels sorted by name with "__name__" among
 * them (the order the store needs). The first bad line stops the parse with
 * an error for people ("line 3: expected label value, got \"x\""), and every
 * later call returns the same error: Prometheus fails the whole scrape on a
 * parse error, and so does the scraper.
 *
 * What Prometheus accepts is accepted, quirks included: metric names with
 * colons, blank lines and indented comments, label pairs without commas
 * between them and a trailing comma, escapes \\ \" \n in label values (any
 * other backslash pair is kept as written), a raw newline inside a label
 * value, values in Go's float syntax (Inf, NaN, 1e3, .5; no hex, no '_'),
 * integer millisecond timestamps, a last line without a newline, "# HELP"
 * and "# TYPE" lines (the type is recorded; an unknown type is an error)
 * and comments. What it rejects is rejected, here or where Prometheus
 * fails the scrape later: "\r\n" line ends, invalid names, an indented
 * sample line (its blanks end up in its name), an unknown type, label
 * values that are not UTF-8, a label name given twice. A label with an
 * empty value is left out, as Prometheus stores none. Unlike Prometheus, a
 * NUL byte inside a label value is an error (Prometheus keeps it; a C
 * string cannot). Limits, each its own error: bytes per line, labels per
 * series, name and label value length, samples per body.
 * tests/prom/crosscheck_prometheus.py checks the verdicts against
 * Prometheus 2.42 itself. */
#ifndef EBB_PROM_TEXTPARSE_H
#define EBB_PROM_TEXTPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "prom/labels.h"

/* Defaults, used for every limit left at 0 except max_samples. */
#define TEXTPARSE_MAX_LINE 65536      /* bytes of one entry, newline excluded */
#define TEXTPARSE_MAX_LABELS 64       /* label pairs of a series, __name__ included */
#define TEXTPARSE_MAX_NAME_LEN 1024   /* bytes of a metric or label name */
#define TEXTPARSE_MAX_VALUE_LEN 16384 /* bytes of a label value, unescaped */

struct textparse_limits {
    size_t max_line;
    size_t max_labels;
    size_t max_name_len;
    size_t max_value_len;
    size_t max_samples; /* samples in the body (Prometheus's sample_limit); 0: no limit */
};

enum textparse_type {
    TEXTPARSE_UNTYPED = 0,
    TEXTPARSE_COUNTER,
    TEXTPARSE_GAUGE,
    TEXTPARSE_HISTOGRAM,
    TEXTPARSE_SUMMARY,
};

struct textparse_sample {
    /* Sorted by name (bytewise), names unique, "__name__" among them. The
     * pointers are into the parser and valid until the next call. */
    const struct prom_label *labels;
    size_t n;
    double v; /* any NaN read is Prometheus's normal NaN, never the stale marker */
    bool has_t;
    int64_t t_ms;             /* the sample's own timestamp, when has_t */
    enum textparse_type type; /* from the family's "# TYPE" line, if it was the last one */
    unsigned line;            /* 1-based line where the sample starts */
};

struct textparse {
    const char *buf;
    size_t len;
    size_t pos;
    unsigned line;
    struct textparse_limits lim;
    size_t samples;
    struct prom_label *labels; /* lim.max_labels cells */
    char *scratch;             /* names and unescaped values, NUL-terminated */
    size_t scratch_cap;
    size_t scratch_len;
    char family[128]; /* name in the last "# TYPE" line (a longer one matches nothing) */
    enum textparse_type family_type;
    int err; /* 0, or the error every later call returns */
    char errmsg[256];
};

/* Sets up a parse of buf[0..len), which must outlive the parser (it need not
 * be NUL-terminated). lim may be NULL for the defaults. Allocates the label
 * and scratch space for the limits. 0 or -ENOMEM. */
int textparse_init(struct textparse *p, const char *buf, size_t len,
                   const struct textparse_limits *lim);
/* Frees what textparse_init allocated. */
void textparse_release(struct textparse *p);

/* The next sample into *out: 1, 0 at the end of the body, or a negative
 * error (-EINVAL for the syntax, -E2BIG for a limit, -ERANGE for a number
 * out of range) with textparse_error() saying what and where. */
int textparse_next(struct textparse *p, struct textparse_sample *out);

/* The message of the error textparse_next returned ("" if none), starting
 * "line N: ". Valid until textparse_release. */
const char *textparse_error(const struct textparse *p);

/* True if s is a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), or label
 * name ([a-zA-Z_][a-zA-Z0-9_]*). */
bool textparse_metric_name_ok(const char *s);
bool textparse_label_name_ok(const char *s);
/* True if s[0..len) is valid UTF-8 as Go's utf8.Valid has it (no overlong
 * forms, no surrogates, nothing past U+10FFFF). */
bool textparse_utf8_ok(const char *s, size_t len);

#endif
