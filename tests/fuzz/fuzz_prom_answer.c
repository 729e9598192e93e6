/* fuzz target prom_answer: prom_query_answer, reading a Prometheus
 * /api/v1/query answer as KEDA's prometheus scaler does, with both
 * ignoreNullValues settings and both multi-series modes. Input: byte 0
 * chooses the HTTP status class, the rest is the body (exact size). */
#include <math.h>
#include <string.h>

#include "fuzz.h"
#include "prom/query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    int status = data[0] < 200 ? 200 : data[0] < 230 ? 503 : 404;
    const char *body = (const char *)data + 1;
    for (int mode = 0; mode < 4; mode++) {
        struct prom_answer a;
        prom_query_answer(status, body, size - 1, "q", mode & 1, mode & 2, &a);
        FUZZ_CHECK(a.outcome == PROM_VALUE || a.outcome == PROM_ERROR);
        if (a.outcome == PROM_ERROR)
            FUZZ_CHECK(a.err[0] != '\0' && strlen(a.err) < sizeof(a.err));
        if (a.outcome == PROM_VALUE && (mode & 1))
            FUZZ_CHECK(!isnan(a.value)); /* ignoreNullValues turns NaN into 0 */
        if (status != 200)
            FUZZ_CHECK(a.outcome == PROM_ERROR);
    }
    return 0;
}
