/* http server: the connection budget derived from the open-files limit. */
#include "unit.h"

#include "http/server.h"

static void max_connections_from_fd_limit(void **state)
{
    static const struct {
        const char *name;
        long nofile;
        unsigned per, want;
    } cases[] = {
        {"router: two descriptors a client, after the reserve", 20000, 2, 9968},
        {"engine: one descriptor a client, after the reserve", 20000, 1, 19936},
        {"a common soft limit of 1024 for the router", 1024, 2, 480},
        {"a limit inside the reserve still allows one", 50, 2, 1},
        {"an unknown limit (-1) still allows one", -1, 2, 1},
        {"a huge limit is capped at what the counter holds", 1L << 40, 1, 4294967295u},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        unsigned got = http_server_max_connections(cases[i].nofile, cases[i].per);
        if (got != cases[i].want)
            fail_msg("%s: got %u, want %u", cases[i].name, got, cases[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(max_connections_from_fd_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
