/* openai: the OpenAI API as the load generator speaks it — the base URL,
 * the request (the tutorial script's prompt and parameters), and what is
 * read back from events and error bodies. Pure: data in, data out. */
#ifndef EBB_LOAD_OPENAI_H
#define EBB_LOAD_OPENAI_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

/* Parses "http://host[:port][/path]" into host (hostlen bytes), port (80
 * when absent) and the path without trailing '/' ("" for none), as the
 * OpenAI client joins base_url and "/completions". 0 or -EINVAL. */
int openai_parse_url(const char *url, char *host, size_t hostlen, int *port, char *path,
                     size_t pathlen);

/* What one streaming request carries. */
struct openai_request {
    const char *path;     /* the base URL's path, e.g. "/v1" */
    const char *hostport; /* the Host header */
    const char *api_key;
    const char *model;
    bool chat;          /* /chat/completions with one user message */
    long index;         /* the script's request number, in the prompt */
    int prompt_len;     /* "Hi " repeats */
    long prompt_tokens; /* > 0: choose the repeats to make this many tokens instead */
    int max_tokens;
    bool ignore_eos; /* generate exactly max_tokens (a trace's output length) */
};

/* The prompt: "Prompt {index} with dummy text " + "Hi " * n + "how are
 * you?", n = prompt_len, or chosen so that the prompt plus the BOS token
 * counts prompt_tokens Llama-3 tokens by ebb's tokenizer (" Hi" is one). */
int openai_append_prompt(struct buf *b, long index, long prompt_tokens, int prompt_len);
/* Formats the whole request into head and body (both reset first): the
 * script's parameters (echo false, temperature 0, stream) plus
 * stream_options.include_usage, so token counts come from the server.
 * 0 or -ENOBUFS / -ENOMEM. */
int openai_format_request(struct buf *head, struct buf *body, const struct openai_request *rq);

/* The message of an error body: {"error":{"message"}} (OpenAI, vLLM >= 0.10.1),
 * {"object":"error","message"} (older vLLM) or {"error":"..."} (production-
 * stack's router); NULL when root is not one. The string lives in root. */
const char *openai_error_message(const cJSON *root);
/* A stream event's text: choices[0].text, or choices[0].delta.content for
 * chat; NULL when absent (a role-only or usage-only chunk). */
const char *openai_event_text(const cJSON *root, bool chat);
/* The event's usage (prompt_tokens, completion_tokens), if it has one. */
bool openai_event_usage(const cJSON *root, long *prompt_tokens, long *completion_tokens);

#endif
