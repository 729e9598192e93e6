/* policy: backend choice. See policy.h. */
#include "router/policy.h"

#include <errno.h>
#include <string.h>

#include "base/util.h"

bool backend_serves(const struct backend *b, const char *model)
{
    for (size_t i = 0; i < b->nmodels; i++) {
        if (strcmp(b->models[i], model) == 0)
            return true;
    }
    return false;
}

static const char *const names[] = {
    [ROUTING_LEAST_LOADED] = "least-loaded",
    [ROUTING_ROUNDROBIN] = "roundrobin",
    [ROUTING_SESSION] = "session",
    [ROUTING_PREFIXAWARE] = "prefixaware",
};

int routing_logic_parse(const char *s, enum routing_logic *out)
{
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (enum routing_logic)i;
            return 0;
        }
    }
    return -EINVAL;
}

const char *routing_logic_name(enum routing_logic r)
{
    return names[r];
}

void policy_init(struct policy *p, enum routing_logic logic)
{
    memset(p, 0, sizeof(*p));
    p->logic = logic;
}

double backend_load(const struct backend *b)
{
    double load = b->inflight;
    if (b->waiting >= 0 && b->running >= 0) {
        /* What the engine had beyond our own requests when it was scraped. */
        double external = b->waiting + b->running - b->inflight_at_scrape;
        if (external > 0)
            load += external;
    }
    return load;
}

size_t policy_least_loaded(struct policy *p, struct backend *const *cands, size_t n)
{
    /* Ties rotate, so equal backends share a burst instead of the first
     * one taking every request that arrives in the same loop turn. */
    size_t start = (size_t)(p->tiebreak++ % n);
    size_t best = start;
    double best_load = backend_load(cands[start]);
    for (size_t k = 1; k < n; k++) {
        size_t i = (start + k) % n;
        double load = backend_load(cands[i]);
        if (load < best_load) {
            best = i;
            best_load = load;
        }
    }
    return best;
}

size_t policy_rendezvous(struct backend *const *cands, size_t n, const char *key, size_t keylen)
{
    size_t best = 0;
    uint64_t best_score = 0;
    uint64_t key_hash = hash64(key, keylen, 0);
    for (size_t i = 0; i < n; i++) {
        uint64_t score = mix64(key_hash ^ cands[i]->url_hash);
        if (i == 0 || score > best_score) {
            best = i;
            best_score = score;
        }
    }
    return best;
}

/* production-stack keys its round-robin counter by the sorted candidate
 * URLs; the set's hash (order-independent: XOR of URL hashes) does the same. */
static size_t pick_roundrobin(struct policy *p, struct backend *const *cands, size_t n)
{
    uint64_t set = 0;
    for (size_t i = 0; i < n; i++)
        set ^= cands[i]->url_hash;
    size_t slot = (size_t)(set % RR_SLOTS);
    if (p->rr_keys[slot] != set) {
        p->rr_keys[slot] = set;
        p->rr_counts[slot] = 0;
    }
    /* Candidates come in registration order; index by URL order so the
     * rotation does not depend on it. */
    size_t k = (size_t)(p->rr_counts[slot]++ % n);
    size_t chosen = 0;
    for (size_t i = 0; i < n; i++) {
        size_t rank = 0;
        for (size_t j = 0; j < n; j++) {
            if (strcmp(cands[j]->url, cands[i]->url) < 0)
                rank++;
        }
        if (rank == k) {
            chosen = i;
            break;
        }
    }
    return chosen;
}

size_t policy_pick(struct policy *p, struct backend *const *cands, size_t n, const char *key,
                   size_t keylen)
{
    if (n == 1)
        return 0;
    switch (p->logic) {
    case ROUTING_ROUNDROBIN:
        return pick_roundrobin(p, cands, n);
    case ROUTING_SESSION:
        if (key && keylen)
            return policy_rendezvous(cands, n, key, keylen);
        return policy_least_loaded(p, cands, n);
    case ROUTING_PREFIXAWARE: /* the prefix index picks first; this is its fallback */
    case ROUTING_LEAST_LOADED:
        break;
    }
    return policy_least_loaded(p, cands, n);
}
