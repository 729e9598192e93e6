/* strtab: shared, reference-counted strings. See strtab.h. */
#include "prom/strtab.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"

/* One string: its header sits just before its bytes, so strtab_put finds it
 * from the pointer that strtab_get returned. */
struct strtab_entry {
    struct strtab_entry *next; /* hash chain */
    uint32_t hash;
    uint32_t refs;
    char s[];
};

void strtab_init(struct strtab *t)
{
    memset(t, 0, sizeof(*t));
}

void strtab_release(struct strtab *t)
{
    for (size_t i = 0; i < t->nbuckets; i++) {
        struct strtab_entry *e = t->buckets[i], *next;
        for (; e; e = next) {
            next = e->next;
            free(e);
        }
    }
    free(t->buckets);
    strtab_init(t);
}

static struct strtab_entry *entry_of(const char *s)
{
    return (struct strtab_entry *)(uintptr_t)(s - offsetof(struct strtab_entry, s));
}

/* Doubles the index once it holds as many strings as chains; a failed
 * growth leaves longer chains, not an error. */
static void table_grow(struct strtab *t)
{
    size_t nb = t->nbuckets ? t->nbuckets * 2 : 256;
    struct strtab_entry **b = calloc(nb, sizeof(*b));
    if (!b)
        return;
    for (size_t i = 0; i < t->nbuckets; i++) {
        struct strtab_entry *e = t->buckets[i], *next;
        for (; e; e = next) {
            next = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = nb;
}

const char *strtab_get(struct strtab *t, const char *s)
{
    size_t len = strlen(s);
    uint32_t h = (uint32_t)hash64(s, len, 0);
    if (t->nbuckets) {
        for (struct strtab_entry *e = t->buckets[h & (t->nbuckets - 1)]; e; e = e->next) {
            if (e->hash == h && e->refs < UINT32_MAX && !strcmp(e->s, s)) {
                e->refs++;
                return e->s;
            }
        }
    }
    if (t->count >= t->nbuckets)
        table_grow(t);
    if (!t->nbuckets)
        return NULL;
    struct strtab_entry *e = malloc(sizeof(*e) + len + 1);
    if (!e)
        return NULL;
    e->hash = h;
    e->refs = 1;
    memcpy(e->s, s, len + 1);
    e->next = t->buckets[h & (t->nbuckets - 1)];
    t->buckets[h & (t->nbuckets - 1)] = e;
    t->count++;
    return e->s;
}

void strtab_put(struct strtab *t, const char *s)
{
    if (!s)
        return;
    struct strtab_entry *e = entry_of(s);
    if (--e->refs)
        return;
    struct strtab_entry **pp = &t->buckets[e->hash & (t->nbuckets - 1)];
    while (*pp != e)
        pp = &(*pp)->next;
    *pp = e->next;
    t->count--;
    free(e);
}
