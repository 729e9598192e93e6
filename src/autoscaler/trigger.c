/* trigger: placeholder so the tree builds while the live trigger is written (issue 4). */
#include <errno.h>

#include "autoscaler/trigger.h"

int trigger_poll_start(struct fetcher *f, const struct cfg_trigger *t, double now, bool strict,
                       trigger_cb cb, void *ud, struct trigger_poll **out)
{
    return -ENOSYS;
}
void trigger_poll_cancel(struct trigger_poll *tp) {}
