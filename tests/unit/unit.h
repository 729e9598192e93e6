/* Shared includes for cmocka unit tests (cmocka needs these first). */
#ifndef EBB_TESTS_UNIT_H
#define EBB_TESTS_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
/* cmocka 1.1.5 compares floats in single precision; this is for doubles. */
#define assert_near(a, b, eps) assert_true(fabs((double)(a) - (double)(b)) <= (eps))

#endif
