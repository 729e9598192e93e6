/* quantity: milli-unit Quantities as KEDA and the HPA see them. See quantity.h. */
#include "scale/quantity.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* 9.2e15 units is the largest value whose milli form fits in an int64. */
#define MILLI_UNITS_MAX 9223372036854775.0

int64_t quantity_milli_from_double(double v)
{
    if (!isfinite(v) || v < 0)
        return 0;
    if (v >= MILLI_UNITS_MAX)
        return INT64_MAX;
    /* Printing with "%.3f" and reading the digits back is exactly what KEDA
     * does (Go's %.3f and glibc's round the exact binary value the same way),
     * so the HPA and ebb see the same milli value for every input. */
    char text[64];
    int n = snprintf(text, sizeof(text), "%.3f", v);
    if (n <= 0 || (size_t)n >= sizeof(text))
        return INT64_MAX;
    int64_t milli = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            continue; /* the '.' (and the '-' of "-0.000") */
        if (milli > (INT64_MAX - (*p - '0')) / 10)
            return INT64_MAX;
        milli = milli * 10 + (*p - '0');
    }
    return milli;
}

double quantity_milli_to_double(int64_t milli)
{
    /* Go's AsApproximateFloat64: float64(value) * math.Pow10(-3), and
     * Pow10(-3) is the double nearest 1/1000, the same as the literal 1e-3. */
    return (double)milli * 1e-3;
}

/* DecimalSI suffixes by exponent of ten, from -3 (milli) to 18 (exa). */
static const char *si_suffix(int exp10)
{
    switch (exp10) {
    case -3: return "m";
    case 0: return "";
    case 3: return "k";
    case 6: return "M";
    case 9: return "G";
    case 12: return "T";
    case 15: return "P";
    case 18: return "E";
    default: return NULL;
    }
}

int quantity_format(int64_t milli, char *out, size_t cap)
{
    if (cap == 0)
        return -ENOSPC;
    if (milli == 0) {
        if (cap < 2)
            return -ENOSPC;
        memcpy(out, "0", 2);
        return 1;
    }
    /* AsCanonicalBytes: strip trailing decimal zeros into the exponent, then
     * lower the exponent to a multiple of three so a suffix exists. The
     * magnitude is kept unsigned so INT64_MIN needs no special case. */
    bool negative = milli < 0;
    uint64_t mant = negative ? (uint64_t)0 - (uint64_t)milli : (uint64_t)milli;
    int exp10 = -3;
    while (mant >= 10 && mant % 10 == 0) {
        mant /= 10;
        exp10++;
    }
    int rem = ((exp10 % 3) + 3) % 3;
    for (; rem > 0; rem--) {
        mant *= 10; /* cannot overflow: at most the two zeros just removed */
        exp10--;
    }
    const char *suffix = si_suffix(exp10);
    int n =
        suffix
            ? snprintf(out, cap, "%s%llu%s", negative ? "-" : "", (unsigned long long)mant, suffix)
            : snprintf(out, cap, "%s%llue%d", negative ? "-" : "", (unsigned long long)mant, exp10);
    if (n < 0 || (size_t)n >= cap)
        return -ENOSPC;
    return n;
}
