/* strtab: a table of shared, reference-counted strings.
 *
 * The label names and values of scraped series repeat across series and
 * targets (job, instance, model_name, le, each metric's name): the store and
 * the scraper keep one copy of each string in a strtab and point at it from
 * every series, instead of a copy per series. Single-threaded. */
#ifndef EBB_PROM_STRTAB_H
#define EBB_PROM_STRTAB_H

#include <stddef.h>
#include <stdint.h>

struct strtab_entry;

struct strtab {
    struct strtab_entry **buckets; /* chains by hash; nbuckets a power of two */
    size_t nbuckets;
    size_t count; /* distinct strings held */
};

/* An empty table. Allocates nothing. */
void strtab_init(struct strtab *t);
/* Frees every string, whatever its count, and the table's index. */
void strtab_release(struct strtab *t);

/* The table's copy of s, its count raised by one; NULL if out of memory.
 * The copy lives until as many strtab_put calls as strtab_get ones. */
const char *strtab_get(struct strtab *t, const char *s);
/* Drops one reference to a string strtab_get returned (NULL is ignored);
 * the last one frees it. */
void strtab_put(struct strtab *t, const char *s);

#endif
