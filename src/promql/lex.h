/* lex: PromQL's tokens, read one at a time from the query text. Internal
 * to the parser. */
#ifndef EBB_PROMQL_LEX_H
#define EBB_PROMQL_LEX_H

#include <stddef.h>
#include <stdint.h>

enum pq_tok {
    T_EOF, T_ERR, T_IDENT, T_NUM, T_DUR, T_STR,
    T_LBRACE, T_RBRACE, T_LPAREN, T_RPAREN, T_LBRACK, T_RBRACK, T_COMMA, T_COLON, T_AT,
    T_ASSIGN, T_EQLC, T_NEQ, T_RE, T_NRE, T_GT, T_LT, T_GE, T_LE,
    T_ADD, T_SUB, T_MUL, T_DIV, T_MOD, T_POW,
};

struct pq_token {
    enum pq_tok k;
    const char *s;   /* the token's text in the query */
    size_t len;
    unsigned pos;    /* byte offset */
    double num;      /* T_NUM */
    int64_t dur;     /* T_DUR, in ms */
    const char *msg; /* T_ERR */
};

struct pq_lexer {
    const char *q;
    size_t len, off;
};

/* Reads the next token; T_ERR with msg on bad input. */
void pq_lex_next(struct pq_lexer *lx, struct pq_token *t);
/* Parses a Prometheus duration ("1h30m", "5m", "100ms") of exactly len
 * bytes into ms. 0 or -EINVAL. */
int pq_parse_duration(const char *s, size_t len, int64_t *ms);
/* Decodes a string token's contents (quotes and escapes) into out, a
 * buffer of at least tok.len bytes. 0 or -EINVAL. */
int pq_unquote(const char *s, size_t len, char *out, size_t *outlen);
const char *pq_tok_name(enum pq_tok k);

#endif
