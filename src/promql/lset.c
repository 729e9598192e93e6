/* lset: label-set operations of the evaluator (matching signatures,
 * grouping, dropping the metric name), allocating in the query's arena. */
#include <errno.h>
#include <string.h>

#include "base/util.h"
#include "promql/pq.h"

bool pq_names_has(const char **names, size_t nn, const char *name)
{
    for (size_t i = 0; i < nn; i++)
        if (!strcmp(names[i], name))
            return true;
    return false;
}

static uint64_t hash_pair(uint64_t h, const struct prom_label *l)
{
    h = hash64(l->name, strlen(l->name) + 1, h);
    return hash64(l->value, strlen(l->value) + 1, h);
}

uint64_t pq_labels_sig(const struct prom_label *l, size_t n, const char **names, size_t nn,
                       bool include)
{
    uint64_t h = 0x2545f4914f6cdd1du;
    for (size_t i = 0; i < n; i++) {
        bool listed = pq_names_has(names, nn, l[i].name);
        if (include ? listed : (!listed && strcmp(l[i].name, "__name__") != 0))
            h = hash_pair(h, &l[i]);
    }
    return h;
}

uint64_t pq_labels_hash(const struct prom_label *l, size_t n)
{
    uint64_t h = 0x2545f4914f6cdd1du;
    for (size_t i = 0; i < n; i++)
        h = hash_pair(h, &l[i]);
    return h;
}

int pq_labels_cmp(const struct prom_label *a, size_t na, const struct prom_label *b, size_t nb)
{
    /* Prometheus's labels.Compare: pair by pair, names then values, then length. */
    for (size_t i = 0; i < na && i < nb; i++) {
        int c = strcmp(a[i].name, b[i].name);
        if (c)
            return c;
        c = strcmp(a[i].value, b[i].value);
        if (c)
            return c;
    }
    return na < nb ? -1 : na > nb ? 1 : 0;
}

bool pq_labels_equal(const struct prom_label *a, size_t na, const struct prom_label *b, size_t nb)
{
    return na == nb && pq_labels_cmp(a, na, b, nb) == 0;
}

const char *pq_labels_get(const struct prom_label *l, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(l[i].name, name))
            return l[i].value;
    return NULL;
}

int pq_labels_filter(struct pq_ctx *c, const struct prom_label *l, size_t n, const char **names,
                     size_t nn, bool include, bool drop_name, const struct prom_label **out,
                     size_t *nout)
{
    struct prom_label *o = n ? pq_alloc(c, n * sizeof(*o)) : NULL;
    if (n && !o)
        return PROMQL_ERR_EXEC;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool listed = pq_names_has(names, nn, l[i].name);
        if (include != listed)
            continue;
        if (drop_name && !strcmp(l[i].name, "__name__"))
            continue;
        o[k++] = l[i];
    }
    *out = o;
    *nout = k;
    return 0;
}

int pq_labels_set(struct pq_ctx *c, const struct prom_label *l, size_t n, const char *name,
                  const char *value, const struct prom_label **out, size_t *nout)
{
    struct prom_label *o = pq_alloc(c, (n + 1) * sizeof(*o));
    if (!o)
        return PROMQL_ERR_EXEC;
    size_t k = 0;
    bool done = !value[0];
    for (size_t i = 0; i < n; i++) {
        int cmp = strcmp(l[i].name, name);
        if (cmp > 0 && !done) {
            o[k++] = (struct prom_label){name, value};
            done = true;
        }
        if (cmp == 0) {
            if (!done)
                o[k++] = (struct prom_label){name, value};
            done = true;
            continue;
        }
        o[k++] = l[i];
    }
    if (!done)
        o[k++] = (struct prom_label){name, value};
    *out = o;
    *nout = k;
    return 0;
}

int pq_map_init(struct pq_ctx *c, struct pq_map *m, size_t n)
{
    size_t cap = 16;
    while (cap < n * 2)
        cap *= 2;
    m->keys = pq_alloc(c, cap * sizeof(*m->keys));
    m->vals = pq_alloc(c, cap * sizeof(*m->vals));
    m->cap = cap;
    return m->keys && m->vals ? 0 : PROMQL_ERR_EXEC;
}

size_t *pq_map_slot(struct pq_map *m, uint64_t key)
{
    for (size_t i = key & (m->cap - 1);; i = (i + 1) & (m->cap - 1))
        if (!m->vals[i] || m->keys[i] == key) {
            m->keys[i] = key;
            return &m->vals[i];
        }
}
