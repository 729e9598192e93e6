/* fuzz target http_request: the HTTP/1.1 request parser, as the server
 * drives it (reads split at fuzzed points, pipelining, EOF), with the
 * invariants of every complete message checked. Input: see http_drive.h. */
#include "fuzz.h"
#include "http_drive.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    http_drive(data, size, false, NULL, NULL);
    return 0;
}
