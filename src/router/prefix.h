/* prefix: which backend last served the longest known prefix of a prompt,
 * for --routing-logic prefixaware. Pure, and bounded: at most max_entries
 * prefixes are remembered, the least recently used forgotten first
 * (production-stack's HashTrie grows without bound, PS#687).
 *
 * A prompt is cut into 128-character chunks; prefix k is identified by a
 * chain hash of chunks 1..k, so looking up a prompt is one hash-table probe
 * per chunk and no text is stored. */
#ifndef EBB_ROUTER_PREFIX_H
#define EBB_ROUTER_PREFIX_H

#include <stddef.h>
#include <stdint.h>

#define PREFIX_CHUNK 128
#define PREFIX_MAX_CHUNKS 256 /* prompts are indexed up to 32 KiB */

struct prefix_entry {
    uint64_t key;      /* chain hash of the prefix */
    uint64_t backend;  /* url_hash of the backend that last served it */
    uint32_t next;     /* in its bucket */
    uint32_t lru_prev, lru_next;
};

struct prefix_index {
    struct prefix_entry *entries; /* max_entries, owned */
    uint32_t *buckets;            /* nbuckets heads, owned */
    size_t max_entries, nbuckets, used;
    uint32_t lru_head, lru_tail;  /* most / least recently used */
    uint32_t free_head;
    unsigned long long hits, misses, evictions;
};

/* 0 or -ENOMEM. max_entries >= 1. */
int prefix_init(struct prefix_index *px, size_t max_entries);
void prefix_release(struct prefix_index *px);

/* Chain hashes of text's chunks into out (at most max); returns how many. A
 * final partial chunk counts. */
size_t prefix_hashes(const char *text, size_t len, uint64_t *out, size_t max);
/* The deepest of the n prefixes whose backend is one of the candidates
 * (url hashes). Returns the candidate's index, or -1; *depth gets the
 * number of chunks matched. */
int prefix_match(struct prefix_index *px, const uint64_t *hashes, size_t n,
                 const uint64_t *cands, size_t ncands, size_t *depth);
/* Remembers that backend served all n prefixes. */
void prefix_insert(struct prefix_index *px, const uint64_t *hashes, size_t n, uint64_t backend);

#endif
