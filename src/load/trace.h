/* trace: a request trace to replay, one JSON object per line (JSONL):
 *
 *   {"arrival": 0.25, "prompt_tokens": 3011, "output_tokens": 80}
 *
 * arrival is in seconds from the start of the run (non-decreasing);
 * prompt_tokens and output_tokens are what the request should cost. The
 * Mooncake trace names are accepted too: "timestamp" (milliseconds),
 * "input_length" and "output_length"; other fields are ignored. Blank lines
 * are skipped. Parsing is pure; trace_load reads a file with a size limit. */
#ifndef EBB_LOAD_TRACE_H
#define EBB_LOAD_TRACE_H

#include <stddef.h>

#define TRACE_MAX_BYTES (256u << 20) /* largest trace file read */
#define TRACE_MAX_TOKENS 10000000    /* largest prompt_tokens or output_tokens */

struct trace_entry {
    double arrival; /* seconds from the start */
    int prompt_tokens;
    int output_tokens;
};

struct trace {
    struct trace_entry *e; /* owned */
    size_t n;
};

/* Parses len bytes of JSONL into t (which must be empty). name labels error
 * messages ("trace.jsonl:3: ..."). 0, -EINVAL with the reason in err, or
 * -ENOMEM. On error t is left empty. */
int trace_parse(const char *text, size_t len, const char *name, struct trace *t, char *err,
                size_t errlen);
/* Reads and parses the file at path. 0 or a negative errno with err set. */
int trace_load(const char *path, struct trace *t, char *err, size_t errlen);
void trace_release(struct trace *t);

#endif
