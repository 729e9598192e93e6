/* arena: the memory of a loaded configuration.
 *
 * Everything a struct config holds (objects, strings, lists) and the YAML
 * tree of the document being decoded live in arenas: allocation is a pointer
 * bump, and one arena_release frees it all, so decoding code has no frees
 * to forget on its many error paths. Every arena has a hard limit set when it
 * is created; past it an allocation fails (NULL), never grows further. */
#ifndef EBB_CONFIG_ARENA_H
#define EBB_CONFIG_ARENA_H

#include <stddef.h>

struct arena_chunk;

struct arena {
    struct arena_chunk *head; /* the chunk being filled; older ones follow */
    size_t used;              /* bytes handed out, for the limit */
    size_t limit;             /* allocations past this many bytes fail */
};

/* Sets up an empty arena that hands out at most limit bytes. Allocates nothing. */
void arena_init(struct arena *a, size_t limit);
/* Frees every chunk; the arena is empty and reusable with the same limit. */
void arena_release(struct arena *a);

/* size zeroed bytes aligned for any object, valid until arena_release.
 * NULL when the limit is reached or memory is short. */
void *arena_alloc(struct arena *a, size_t size);
/* A NUL-terminated copy of s[0..len), or NULL. */
char *arena_strndup(struct arena *a, const char *s, size_t len);
char *arena_strdup(struct arena *a, const char *s);

#endif
