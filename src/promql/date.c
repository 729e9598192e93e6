/* date: PromQL's date functions (hour, minute, month, year, day_of_month,
 * day_of_week, day_of_year, days_in_month) as Prometheus 2.42 computes
 * them: the value truncated to whole seconds the way Go converts a float
 * to int64 (NaN and out-of-range values become the smallest int64, as on
 * amd64), then Go's time package's calendar arithmetic on its unsigned
 * "absolute" seconds, overflow included, so even absurd inputs give
 * Prometheus's digits. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "promql/pq.h"

int pq_fn_date(struct pq_ctx *c, const struct pq_node *call, struct pq_val *args,
               struct pq_val *out);

#define SECS_PER_DAY 86400ULL
#define DAYS_PER_400Y (365 * 400 + 97)
#define DAYS_PER_100Y (365 * 100 + 24)
#define DAYS_PER_4Y (365 * 4 + 1)
#define ABSOLUTE_ZERO_YEAR (-292277022399LL)
/* Go's unixToInternal + internalToAbsolute, as int64 arithmetic. */
#define UNIX_TO_INTERNAL ((int64_t)(1969 * 365 + 1969 / 4 - 1969 / 100 + 1969 / 400) * 86400)
#define INTERNAL_TO_ABSOLUTE ((ABSOLUTE_ZERO_YEAR - 1) * -31556952LL) /* 365.2425 days */

static int64_t go_int64(double v)
{
    if (isnan(v) || v >= 9223372036854775808.0 || v < -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)v;
}

static bool is_leap(int64_t y)
{
    return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

struct date {
    int64_t year;
    int month, day, yday, hour, minute, weekday;
};

static void abs_date(int64_t secs, struct date *d)
{
    static const int before[] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365};
    uint64_t abs = (uint64_t)secs + (uint64_t)UNIX_TO_INTERNAL + (uint64_t)INTERNAL_TO_ABSOLUTE;
    d->hour = (int)(abs % SECS_PER_DAY / 3600);
    d->minute = (int)(abs % 3600 / 60);
    d->weekday = (int)((abs + SECS_PER_DAY) % (7 * SECS_PER_DAY) / SECS_PER_DAY);
    uint64_t days = abs / SECS_PER_DAY, n = days / DAYS_PER_400Y, y = 400 * n;
    days -= DAYS_PER_400Y * n;
    n = days / DAYS_PER_100Y;
    n -= n >> 2;
    y += 100 * n;
    days -= DAYS_PER_100Y * n;
    n = days / DAYS_PER_4Y;
    y += 4 * n;
    days -= DAYS_PER_4Y * n;
    n = days / 365;
    n -= n >> 2;
    y += n;
    days -= 365 * n;
    d->year = (int64_t)y + ABSOLUTE_ZERO_YEAR;
    d->yday = (int)days;
    int day = d->yday;
    if (is_leap(d->year)) {
        if (day == 31 + 29 - 1) {
            d->month = 2;
            d->day = 29;
            return;
        }
        if (day > 31 + 29 - 1)
            day--;
    }
    int m = day / 31;
    int begin = before[m];
    if (day >= before[m + 1])
        begin = before[++m];
    d->month = m + 1;
    d->day = day - begin + 1;
}

static double field(const char *fn, int64_t secs)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    struct date d;
    abs_date(secs, &d);
    if (!strcmp(fn, "hour"))
        return d.hour;
    if (!strcmp(fn, "minute"))
        return d.minute;
    if (!strcmp(fn, "month"))
        return d.month;
    if (!strcmp(fn, "year"))
        return (double)d.year;
    if (!strcmp(fn, "day_of_month"))
        return d.day;
    if (!strcmp(fn, "day_of_week"))
        return d.weekday;
    if (!strcmp(fn, "day_of_year"))
        return d.yday + 1;
    return d.month == 2 && is_leap(d.year) ? 29 : mdays[d.month - 1]; /* days_in_month */
}

int pq_fn_date(struct pq_ctx *c, const struct pq_node *call, struct pq_val *args,
               struct pq_val *out)
{
    const char *fn = call->fn->name;
    int err;
    if (call->nargs == 0) {
        /* No argument: vector(time()), whole seconds. */
        if ((err = pq_vec_new(c, 1, &out->vec)) == 0)
            out->vec.s[out->vec.n++] = (struct pq_sample){NULL, 0, field(fn, c->t / 1000)};
        return err;
    }
    struct pq_vec *in = &args[0].vec;
    err = pq_vec_new(c, in->n, &out->vec);
    for (size_t i = 0; !err && i < in->n; i++) {
        struct pq_sample o = {in->s[i].l, in->s[i].n, field(fn, go_int64(in->s[i].v))};
        err = pq_labels_filter(c, o.l, o.n, NULL, 0, false, true, &o.l, &o.n);
        out->vec.s[out->vec.n++] = o;
    }
    return err ? err : pq_vec_check_unique(c, &out->vec);
}
