/* arena: bump allocation with a hard limit. See arena.h. */
#include "config/arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Small documents need a few kilobytes; chunks grow to this size so a large
 * configuration costs few mallocs. Bigger requests get a chunk of their own. */
#define ARENA_CHUNK_MIN 4096
#define ARENA_CHUNK_MAX (256 * 1024)

struct arena_chunk {
    struct arena_chunk *next;
    size_t size; /* bytes in data */
    size_t off;  /* bytes of data in use */
    alignas(max_align_t) unsigned char data[];
};

void arena_init(struct arena *a, size_t limit)
{
    a->head = NULL;
    a->used = 0;
    a->limit = limit;
}

void arena_release(struct arena *a)
{
    struct arena_chunk *c = a->head;
    while (c) {
        struct arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->used = 0;
}

void *arena_alloc(struct arena *a, size_t size)
{
    const size_t align = alignof(max_align_t);
    size_t need = (size + align - 1) & ~(align - 1);
    if (need < size || need > a->limit - a->used)
        return NULL;
    struct arena_chunk *c = a->head;
    if (!c || c->size - c->off < need) {
        size_t chunk = c ? c->size * 2 : ARENA_CHUNK_MIN;
        if (chunk > ARENA_CHUNK_MAX)
            chunk = ARENA_CHUNK_MAX;
        if (chunk < need)
            chunk = need;
        c = malloc(sizeof(*c) + chunk);
        if (!c)
            return NULL;
        c->size = chunk;
        c->off = 0;
        /* A big one-off chunk goes behind the head, so the head's free space
         * stays in use for the small allocations that follow. */
        if (a->head && need > ARENA_CHUNK_MAX / 2) {
            c->next = a->head->next;
            a->head->next = c;
        } else {
            c->next = a->head;
            a->head = c;
        }
    }
    void *p = c->data + c->off;
    c->off += need;
    a->used += need;
    memset(p, 0, size);
    return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t len)
{
    if (len == SIZE_MAX)
        return NULL;
    char *p = arena_alloc(a, len + 1);
    if (!p)
        return NULL;
    if (len)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}
