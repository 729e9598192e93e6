/* prefix: a bounded LRU index of prompt prefixes. See prefix.h. */
#include "router/prefix.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

#define NIL UINT32_MAX

int prefix_init(struct prefix_index *px, size_t max_entries)
{
    memset(px, 0, sizeof(*px));
    if (max_entries == 0 || max_entries >= NIL)
        return -EINVAL;
    size_t nb = 1;
    while (nb < max_entries)
        nb *= 2;
    px->entries = calloc(max_entries, sizeof(*px->entries));
    px->buckets = malloc(nb * sizeof(*px->buckets));
    if (!px->entries || !px->buckets) {
        prefix_release(px);
        return -ENOMEM;
    }
    px->max_entries = max_entries;
    px->nbuckets = nb;
    for (size_t i = 0; i < nb; i++)
        px->buckets[i] = NIL;
    for (size_t i = 0; i < max_entries; i++)
        px->entries[i].next = i + 1 < max_entries ? (uint32_t)(i + 1) : NIL;
    px->free_head = 0;
    px->lru_head = px->lru_tail = NIL;
    return 0;
}

void prefix_release(struct prefix_index *px)
{
    free(px->entries);
    free(px->buckets);
    px->entries = NULL;
    px->buckets = NULL;
}

size_t prefix_hashes(const char *text, size_t len, uint64_t *out, size_t max)
{
    size_t n = 0;
    uint64_t h = 0;
    for (size_t at = 0; at < len && n < max; at += PREFIX_CHUNK) {
        size_t take = len - at < PREFIX_CHUNK ? len - at : PREFIX_CHUNK;
        h = hash64(text + at, take, h);
        out[n++] = h;
    }
    return n;
}

static uint32_t *bucket_of(struct prefix_index *px, uint64_t key)
{
    return &px->buckets[key & (px->nbuckets - 1)];
}

static uint32_t find(struct prefix_index *px, uint64_t key)
{
    for (uint32_t i = *bucket_of(px, key); i != NIL; i = px->entries[i].next) {
        if (px->entries[i].key == key)
            return i;
    }
    return NIL;
}

static void lru_unlink(struct prefix_index *px, uint32_t i)
{
    struct prefix_entry *e = &px->entries[i];
    if (e->lru_prev != NIL)
        px->entries[e->lru_prev].lru_next = e->lru_next;
    else
        px->lru_head = e->lru_next;
    if (e->lru_next != NIL)
        px->entries[e->lru_next].lru_prev = e->lru_prev;
    else
        px->lru_tail = e->lru_prev;
}

static void lru_push_front(struct prefix_index *px, uint32_t i)
{
    struct prefix_entry *e = &px->entries[i];
    e->lru_prev = NIL;
    e->lru_next = px->lru_head;
    if (px->lru_head != NIL)
        px->entries[px->lru_head].lru_prev = i;
    else
        px->lru_tail = i;
    px->lru_head = i;
}

/* Frees the least recently used entry. */
static void evict(struct prefix_index *px)
{
    uint32_t i = px->lru_tail;
    struct prefix_entry *e = &px->entries[i];
    lru_unlink(px, i);
    for (uint32_t *pp = bucket_of(px, e->key); *pp != NIL; pp = &px->entries[*pp].next) {
        if (*pp == i) {
            *pp = e->next;
            break;
        }
    }
    e->next = px->free_head;
    px->free_head = i;
    px->used--;
    px->evictions++;
}

int prefix_match(struct prefix_index *px, const uint64_t *hashes, size_t n,
                 const uint64_t *cands, size_t ncands, size_t *depth)
{
    *depth = 0;
    for (size_t k = n; k > 0; k--) {
        uint32_t i = find(px, hashes[k - 1]);
        if (i == NIL)
            continue;
        for (size_t c = 0; c < ncands; c++) {
            if (cands[c] == px->entries[i].backend) {
                *depth = k;
                px->hits++;
                return (int)c;
            }
        }
    }
    px->misses++;
    return -1;
}

void prefix_insert(struct prefix_index *px, const uint64_t *hashes, size_t n, uint64_t backend)
{
    for (size_t k = 0; k < n; k++) {
        uint32_t i = find(px, hashes[k]);
        if (i != NIL) {
            lru_unlink(px, i);
        } else {
            if (px->free_head == NIL)
                evict(px);
            i = px->free_head;
            px->free_head = px->entries[i].next;
            px->entries[i].key = hashes[k];
            uint32_t *b = bucket_of(px, hashes[k]);
            px->entries[i].next = *b;
            *b = i;
            px->used++;
        }
        px->entries[i].backend = backend;
        lru_push_front(px, i);
    }
}
