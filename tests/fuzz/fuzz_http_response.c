/* fuzz target http_response: the same parser in response mode (what the
 * router reads from engines): status lines, bodies delimited by length,
 * chunks or EOF, 1xx and 204/304 without bodies. Input: see http_drive.h. */
#include "fuzz.h"
#include "http_drive.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    http_drive(data, size, true, NULL, NULL);
    return 0;
}
