/* fetch: placeholder so the tree builds while libcurl-on-libuv is written (issue 4). */
#include <errno.h>

#include "http/fetch.h"

int fetcher_init(struct fetcher *f, uv_loop_t *loop) { return -ENOSYS; }
int fetch_start(struct fetcher *f, const struct fetch_request *rq, fetch_cb cb, void *ud,
                struct fetch **out)
{
    return -ENOSYS;
}
void fetch_cancel(struct fetch *x) {}
void fetcher_close(struct fetcher *f, void (*on_closed)(struct fetcher *f)) { on_closed(f); }
