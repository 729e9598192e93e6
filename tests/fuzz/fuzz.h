/* fuzz: what every fuzz target shares.
 *
 * A target is one function, LLVMFuzzerTestOneInput, compiled twice: linked
 * with libFuzzer in the clang fuzz build (-Dfuzz=true), and linked with
 * replay.c in every build, where it re-runs the saved corpus under the
 * sanitizers as an ordinary test. */
#ifndef EBB_TESTS_FUZZ_H
#define EBB_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* libFuzzer's entry point: one input, data[0..size). Always returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken invariant is a finding like a crash: abort, so that libFuzzer
 * saves the input and the replay test fails. Not assert(): it must hold in
 * every build type, NDEBUG included. */
#define FUZZ_CHECK(cond)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);  \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

#endif
