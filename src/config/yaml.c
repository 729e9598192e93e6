/* yaml: libfyaml events to bounded trees. See yaml.h. */
#include "config/yaml.h"

#include <errno.h>
#include <libfyaml.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One open mapping or list. */
struct frame {
    struct ynode *node;
    size_t first;       /* its first child's index in the child stack */
    const char *anchor; /* defined when the node ends, so it cannot contain itself */
};

struct anchor {
    const char *name;
    struct ynode *node;
};

/* The state of one document being built. */
struct builder {
    struct yaml_reader *r;
    struct yaml_error *err;
    struct frame stack[YAML_DEPTH_MAX];
    int depth;
    struct ynode **kids; /* children of the open collections, innermost last */
    size_t nkids, capkids;
    struct anchor anchors[YAML_ANCHORS_MAX];
    size_t nanchors;
    size_t nodes;
    struct ynode *root;
    int line, col; /* the last position seen, for events without one */
};

int yaml_reader_init(struct yaml_reader *r, const char *input, size_t len)
{
    memset(r, 0, sizeof(*r));
    r->input = input;
    r->len = len;
    arena_init(&r->doc_arena, YAML_DOC_ARENA_MAX);
    struct fy_diag_cfg dc;
    fy_diag_cfg_default(&dc);
    dc.fp = NULL;
    dc.output_fn = NULL;
    dc.colorize = false;
    r->diag = fy_diag_create(&dc);
    if (!r->diag)
        return -ENOMEM;
    fy_diag_set_collect_errors(r->diag, true);
    /* Kubernetes reads manifests as YAML 1.1 (go-yaml v2). */
    struct fy_parse_cfg cfg = {
        .flags = FYPCF_QUIET | FYPCF_COLLECT_DIAG | FYPCF_DEFAULT_VERSION_1_1 | FYPCF_JSON_NONE,
        .diag = r->diag,
    };
    r->fyp = fy_parser_create(&cfg);
    if (!r->fyp || fy_parser_set_string(r->fyp, input, len) != 0) {
        yaml_reader_release(r);
        return -ENOMEM;
    }
    return 0;
}

void yaml_reader_release(struct yaml_reader *r)
{
    if (r->fyp)
        fy_parser_destroy(r->fyp);
    if (r->diag)
        fy_diag_destroy(r->diag);
    r->fyp = NULL;
    r->diag = NULL;
    arena_release(&r->doc_arena);
}

static int fail(struct builder *b, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(struct builder *b, int line, int col, const char *fmt, ...)
{
    b->err->line = line;
    b->err->col = col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->err->msg, sizeof(b->err->msg), fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* The 1-based position of byte off of the input. */
static void offset_position(const char *s, size_t off, int *line, int *col)
{
    int l = 1, c = 1;
    for (size_t i = 0; i < off; i++) {
        if (s[i] == '\n') {
            l++;
            c = 1;
        } else {
            c++;
        }
    }
    *line = l;
    *col = c;
}

/* The first tab in a line's leading whitespace, on a line up to max_line.
 * libfyaml reports some tab indentation as another error ("invalid multiline
 * plain key"); the tab is what a person needs to see. */
static bool find_indent_tab(const char *s, size_t len, int max_line, int *line, int *col)
{
    int l = 1;
    bool at_start = true;
    int c = 1;
    for (size_t i = 0; i < len && l <= max_line; i++) {
        if (s[i] == '\n') {
            l++;
            c = 1;
            at_start = true;
            continue;
        }
        if (at_start && s[i] == '\t') {
            *line = l;
            *col = c;
            return true;
        }
        if (s[i] != ' ')
            at_start = false;
        c++;
    }
    return false;
}

/* Fills err from libfyaml's collected diagnostics after a parse failure. */
static int syntax_error(struct builder *b)
{
    void *it = NULL;
    struct fy_diag_error *e;
    const char *msg = "the YAML cannot be parsed";
    int line = b->line, col = b->col;
    for (e = fy_diag_errors_iterate(b->r->diag, &it); e;
         e = fy_diag_errors_iterate(b->r->diag, &it)) {
        if (e->type == FYET_ERROR) {
            msg = e->msg;
            line = e->line;
            col = e->column;
            break;
        }
    }
    int tl, tc;
    if (find_indent_tab(b->r->input, b->r->len, line, &tl, &tc))
        return fail(b, tl, tc, "a tab is used for indentation: YAML indents with spaces only");
    return fail(b, line, col, "invalid YAML: %s", msg);
}

static enum ytag tag_of(struct builder *b, struct fy_token *tag, int *bad)
{
    static const struct {
        const char *uri;
        enum ytag tag;
    } core[] = {
        {"tag:yaml.org,2002:str", YTAG_STR},     {"tag:yaml.org,2002:int", YTAG_INT},
        {"tag:yaml.org,2002:float", YTAG_FLOAT}, {"tag:yaml.org,2002:bool", YTAG_BOOL},
        {"tag:yaml.org,2002:null", YTAG_NULL},   {"tag:yaml.org,2002:map", YTAG_MAP},
        {"tag:yaml.org,2002:seq", YTAG_SEQ},     {"!", YTAG_NONE},
    };
    *bad = 0;
    if (!tag)
        return YTAG_NONE;
    size_t len;
    const char *text = fy_token_get_text(tag, &len);
    for (size_t i = 0; text && i < sizeof(core) / sizeof(core[0]); i++) {
        if (strlen(core[i].uri) == len && memcmp(core[i].uri, text, len) == 0)
            return core[i].tag;
    }
    char q[80];
    yaml_quote(q, sizeof(q), text ? text : "", text ? len : 0, 48);
    *bad = fail(b, b->line, b->col,
                "unsupported tag %s: only the core tags (!!str, !!int, !!float, !!bool, !!null, "
                "!!map, !!seq) are understood",
                q);
    return YTAG_NONE;
}

static struct ynode *new_node(struct builder *b, enum ynode_kind kind)
{
    if (b->nodes >= YAML_NODES_MAX) {
        fail(b, b->line, b->col, "the document has more than %d nodes", YAML_NODES_MAX);
        return NULL;
    }
    struct ynode *n = arena_alloc(&b->r->doc_arena, sizeof(*n));
    if (!n) {
        fail(b, b->line, b->col, "out of memory");
        return NULL;
    }
    b->nodes++;
    n->kind = kind;
    n->line = b->line;
    n->col = b->col;
    return n;
}

/* Adds a complete node to the open collection (or makes it the root). */
static int attach(struct builder *b, struct ynode *n)
{
    if (b->depth == 0) {
        b->root = n;
        return 0;
    }
    struct frame *f = &b->stack[b->depth - 1];
    size_t count = b->nkids - f->first;
    size_t max = f->node->kind == YN_MAP ? 2 * (size_t)YAML_ENTRIES_MAX : YAML_ENTRIES_MAX;
    if (count >= max)
        return fail(b, f->node->line, f->node->col, "a %s has more than %d entries",
                    f->node->kind == YN_MAP ? "mapping" : "list", YAML_ENTRIES_MAX);
    if (f->node->kind == YN_MAP && count % 2 == 0 && n->kind != YN_SCALAR)
        return fail(b, n->line, n->col, "a mapping key must be a plain string, not a %s",
                    n->kind == YN_MAP ? "mapping" : "list");
    if (b->nkids == b->capkids) {
        size_t cap = b->capkids ? 2 * b->capkids : 256;
        struct ynode **k = realloc(b->kids, cap * sizeof(*k));
        if (!k)
            return fail(b, b->line, b->col, "out of memory");
        b->kids = k;
        b->capkids = cap;
    }
    b->kids[b->nkids++] = n;
    return 0;
}

static int define_anchor(struct builder *b, const char *name, struct ynode *n)
{
    if (!name)
        return 0;
    if (b->nanchors >= YAML_ANCHORS_MAX)
        return fail(b, n->line, n->col, "the document has more than %d anchors", YAML_ANCHORS_MAX);
    /* A later anchor of the same name replaces the earlier one (YAML 1.2 §3.2.2.2). */
    b->anchors[b->nanchors].name = name;
    b->anchors[b->nanchors].node = n;
    b->nanchors++;
    return 0;
}

static const char *anchor_name(struct builder *b, struct fy_token *t)
{
    if (!t)
        return NULL;
    size_t len;
    const char *text = fy_token_get_text(t, &len);
    return text ? arena_strndup(&b->r->doc_arena, text, len) : NULL;
}

static int on_scalar(struct builder *b, struct fy_event *ev)
{
    int bad;
    enum ytag tag = tag_of(b, ev->scalar.tag, &bad);
    if (bad)
        return bad;
    if (tag == YTAG_MAP || tag == YTAG_SEQ)
        return fail(b, b->line, b->col, "a scalar cannot have the tag !!%s",
                    tag == YTAG_MAP ? "map" : "seq");
    size_t len = 0;
    const char *text = fy_token_get_text(ev->scalar.value, &len);
    if (len > YAML_SCALAR_MAX)
        return fail(b, b->line, b->col, "a value is %zu bytes long; at most %d are allowed", len,
                    YAML_SCALAR_MAX);
    struct ynode *n = new_node(b, YN_SCALAR);
    if (!n)
        return -EINVAL;
    n->tag = tag;
    enum fy_scalar_style style = fy_token_scalar_style(ev->scalar.value);
    n->plain = style == FYSS_PLAIN && ev->scalar.tag == NULL;
    n->quoted = style == FYSS_SINGLE_QUOTED || style == FYSS_DOUBLE_QUOTED;
    n->text = arena_strndup(&b->r->doc_arena, text ? text : "", text ? len : 0);
    n->len = text ? len : 0;
    if (!n->text)
        return fail(b, b->line, b->col, "out of memory");
    int rc = define_anchor(b, anchor_name(b, ev->scalar.anchor), n);
    return rc ? rc : attach(b, n);
}

static int on_alias(struct builder *b, struct fy_event *ev)
{
    size_t len = 0;
    const char *name = fy_token_get_text(ev->alias.anchor, &len);
    for (size_t i = b->nanchors; name && i-- > 0;) {
        if (strlen(b->anchors[i].name) == len && memcmp(b->anchors[i].name, name, len) == 0) {
            /* An alias costs a node of the budget, like the node it stands for. */
            if (b->nodes >= YAML_NODES_MAX)
                return fail(b, b->line, b->col, "the document has more than %d nodes",
                            YAML_NODES_MAX);
            b->nodes++;
            return attach(b, b->anchors[i].node);
        }
    }
    int shown = len > 64 ? 64 : (int)len;
    return fail(b, b->line, b->col,
                "alias \"*%.*s\" names no complete anchor before it (an anchor cannot be used "
                "inside its own node)",
                shown, name ? name : "");
}

static int on_start(struct builder *b, struct fy_event *ev, enum ynode_kind kind)
{
    struct fy_token *tagtok = kind == YN_MAP ? ev->mapping_start.tag : ev->sequence_start.tag;
    struct fy_token *anchor = kind == YN_MAP ? ev->mapping_start.anchor : ev->sequence_start.anchor;
    int bad;
    enum ytag tag = tag_of(b, tagtok, &bad);
    if (bad)
        return bad;
    if (tag != YTAG_NONE && tag != (kind == YN_MAP ? YTAG_MAP : YTAG_SEQ))
        return fail(b, b->line, b->col, "a %s cannot have a scalar's tag",
                    kind == YN_MAP ? "mapping" : "list");
    if (b->depth >= YAML_DEPTH_MAX)
        return fail(b, b->line, b->col, "mappings and lists are nested more than %d deep",
                    YAML_DEPTH_MAX);
    struct ynode *n = new_node(b, kind);
    if (!n)
        return -EINVAL;
    n->tag = tag;
    struct frame *f = &b->stack[b->depth++];
    f->node = n;
    f->first = b->nkids;
    f->anchor = anchor_name(b, anchor);
    return 0;
}

static int on_end(struct builder *b)
{
    struct frame *f = &b->stack[--b->depth];
    struct ynode *n = f->node;
    size_t count = b->nkids - f->first;
    if (count) {
        n->items = arena_alloc(&b->r->doc_arena, count * sizeof(*n->items));
        if (!n->items)
            return fail(b, n->line, n->col, "out of memory");
        memcpy(n->items, b->kids + f->first, count * sizeof(*n->items));
    }
    n->n = n->kind == YN_MAP ? count / 2 : count;
    b->nkids = f->first;
    int rc = define_anchor(b, f->anchor, n);
    return rc ? rc : attach(b, n);
}

/* A block scalar's event starts at its first content line; people look for
 * the "|" or ">" that starts it, on a line above (blank lines may come
 * between). Finds it, searching at most 64 lines up. */
static void block_indicator(const struct builder *b, size_t pos, int *line, int *col)
{
    const char *s = b->r->input;
    while (pos > 0 && s[pos - 1] != '\n')
        pos--;
    for (int up = 1; up <= 64 && pos > 0; up++) {
        size_t end = pos - 1, start = end;
        while (start > 0 && s[start - 1] != '\n')
            start--;
        for (size_t i = start; i < end; i++) {
            bool after_space = i == start || s[i - 1] == ' ' || s[i - 1] == '\t';
            if (s[i] == '#' && after_space)
                break;
            if ((s[i] == '|' || s[i] == '>') && after_space) {
                *line -= up;
                *col = (int)(i - start) + 1;
                return;
            }
        }
        pos = start;
    }
}

/* Moves (line, col) to token t's start if that comes first; skip is the
 * number of indicator characters the token's mark leaves out ("&"). */
static void earlier(struct fy_token *t, int skip, int *line, int *col)
{
    const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;
    if (!m)
        return;
    int l = m->line + 1, c = m->column + 1 - (m->column >= skip ? skip : 0);
    if (l < *line || (l == *line && c < *col)) {
        *line = l;
        *col = c;
    }
}

/* Where a node starts as people see it: at its anchor or tag if it has
 * one, at the opening quote of a quoted scalar, at the "*" of an alias
 * (libfyaml's marks are 0-based and point past quotes, "&" and "*"). */
static void event_position(struct builder *b, struct fy_event *ev)
{
    const struct fy_mark *m = fy_event_start_mark(ev);
    if (!m)
        return;
    int line = m->line + 1, col = m->column + 1;
    if (ev->type == FYET_SCALAR) {
        enum fy_scalar_style st = fy_token_scalar_style(ev->scalar.value);
        if ((st == FYSS_SINGLE_QUOTED || st == FYSS_DOUBLE_QUOTED) && col > 1)
            col--;
        else if (st == FYSS_LITERAL || st == FYSS_FOLDED)
            block_indicator(b, m->input_pos, &line, &col);
    } else if (ev->type == FYET_ALIAS && col > 1) {
        col--;
    }
    earlier(fy_event_get_anchor_token(ev), 1, &line, &col);
    earlier(fy_event_get_tag_token(ev), 0, &line, &col);
    b->line = line;
    b->col = col;
}

/* Handles one event. 1 when the document is complete, 0 to go on, <0 on error. */
static int on_event(struct builder *b, struct fy_event *ev)
{
    event_position(b, ev);
    switch (ev->type) {
    case FYET_SCALAR: return on_scalar(b, ev);
    case FYET_ALIAS: return on_alias(b, ev);
    case FYET_MAPPING_START: return on_start(b, ev, YN_MAP);
    case FYET_SEQUENCE_START: return on_start(b, ev, YN_SEQ);
    case FYET_MAPPING_END:
    case FYET_SEQUENCE_END: return on_end(b);
    case FYET_DOCUMENT_END: return 1;
    case FYET_STREAM_END: b->r->done = true; return 1;
    default: return 0;
    }
}

/* Where a quoted scalar that starts at s[i] ends (the index after it). */
static size_t skip_quoted(const char *s, size_t len, size_t i)
{
    char q = s[i++];
    while (i < len) {
        if (q == '"' && s[i] == '\\') {
            i += 2;
        } else if (s[i] == q) {
            if (q == '\'' && i + 1 < len && s[i + 1] == '\'')
                i += 2; /* '' is a quote inside '...' */
            else
                return i + 1;
        } else {
            i++;
        }
    }
    return len;
}

/* libfyaml looks ahead to the end of a flow collection before it returns its
 * first event (a "[" may start a key), keeping every token of it: a few MiB
 * of "[[[[" cost it a gigabyte before the depth limit above can stop
 * anything. So the nesting of flow collections is measured on the raw text
 * first. A bracket counts where a flow collection may start (after
 * whitespace, a line start or one of "[{,:-?"), quoted scalars and comments
 * are skipped; a plain scalar's inner "[" (PromQL's "x[1m]") does not count. */
static int check_flow_depth(struct builder *b)
{
    const char *s = b->r->input;
    size_t len = b->r->len;
    int depth = 0;
    char prev = '\n';
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool boundary = strchr(" \t\r\n[{,:-?", prev) != NULL;
        if ((c == '"' || c == '\'') && boundary) {
            i = skip_quoted(s, len, i) - 1;
            c = '"';
        } else if (c == '#' && strchr(" \t\r\n", prev)) {
            while (i + 1 < len && s[i + 1] != '\n')
                i++;
        } else if ((c == '[' || c == '{') && boundary) {
            if (++depth > YAML_FLOW_DEPTH_MAX) {
                int line, col;
                offset_position(s, i, &line, &col);
                return fail(b, line, col,
                            "lists and mappings in [] or {} are nested more than %d deep",
                            YAML_FLOW_DEPTH_MAX);
            }
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
        prev = c;
    }
    return 0;
}

/* The length of the UTF-8 sequence at s (n bytes left), or 0 when it is not
 * valid UTF-8 (overlong forms and surrogates included). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80)
        return 1;
    size_t len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
    if (len == 0 || s[0] > 0xf4 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    }
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
        return 0;
    return len;
}

static int check_utf8(struct builder *b)
{
    const unsigned char *s = (const unsigned char *)b->r->input;
    size_t n = b->r->len;
    for (size_t i = 0; i < n;) {
        size_t l = utf8_len(s + i, n - i);
        if (l == 0) {
            int line, col;
            offset_position(b->r->input, i, &line, &col);
            return fail(b, line, col, "the file is not valid UTF-8 (byte 0x%02x)", s[i]);
        }
        i += l;
    }
    return 0;
}

static int check_input(struct builder *b)
{
    const char *nul = memchr(b->r->input, '\0', b->r->len);
    if (!nul) {
        int rc = check_utf8(b);
        return rc ? rc : check_flow_depth(b);
    }
    int line, col;
    offset_position(b->r->input, (size_t)(nul - b->r->input), &line, &col);
    return fail(b, line, col, "the file holds a NUL byte: YAML is text");
}

int yaml_next_document(struct yaml_reader *r, struct ynode **root, struct yaml_error *err)
{
    *root = NULL;
    if (r->done)
        return 0;
    arena_release(&r->doc_arena);
    struct builder *b = calloc(1, sizeof(*b));
    if (!b)
        return -ENOMEM;
    b->r = r;
    b->err = err;
    b->line = b->col = 1;
    int rc = r->docs == 0 ? check_input(b) : 0;
    bool in_doc = false;
    while (rc == 0) {
        struct fy_event *ev = fy_parser_parse(r->fyp);
        if (!ev) {
            rc = fy_parser_get_stream_error(r->fyp) ? syntax_error(b) : 0;
            r->done = true;
            break;
        }
        in_doc = in_doc || ev->type == FYET_DOCUMENT_START;
        rc = on_event(b, ev);
        fy_parser_event_free(r->fyp, ev);
    }
    if (rc < 0) {
        r->done = true;
    } else if (in_doc) {
        r->docs++;
        *root = b->root;
        rc = 1;
    } else {
        rc = 0; /* the stream ended without another document */
    }
    free(b->kids);
    free(b);
    return rc;
}
