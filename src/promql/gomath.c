/* gomath: the few math functions where Go's results (and so Prometheus's)
 * differ from the C library's in the last digits: log2 and log10 as Go
 * derives them from the natural log (Go's amd64 log agrees with glibc's),
 * and atan/atan2 (Go's port of Cephes), so log2(), log10(), atan() and
 * the atan2 operator print the same digits as Prometheus 2.42. */
#include <math.h>

double pq_go_log2(double x);
double pq_go_log10(double x);
double pq_go_atan(double x);
double pq_go_atan2(double y, double x);

double pq_go_log2(double x)
{
    int e;
    double frac = frexp(x, &e);
    /* Exact powers of two give exact answers. */
    if (frac == 0.5)
        return (double)(e - 1);
    return log(frac) * M_LOG2E + (double)e;
}

double pq_go_log10(double x)
{
    return log(x) * M_LOG10E; /* Go: Log(x) * (1/Ln10), the constant exact */
}

/* A series valid in [0, 0.66]. */
static double xatan(double x)
{
    static const double p0 = -8.750608600031904122785e-01, p1 = -1.615753718733365076637e+01,
                        p2 = -7.500855792314704667340e+01, p3 = -1.228866684490136173410e+02,
                        p4 = -6.485021904942025371773e+01, q0 = +2.485846490142306297962e+01,
                        q1 = +1.650270098316988542046e+02, q2 = +4.328810604912902668951e+02,
                        q3 = +4.853903996359136964868e+02, q4 = +1.945506571482613964425e+02;
    double z = x * x;
    z = z * ((((p0 * z + p1) * z + p2) * z + p3) * z + p4) /
        (((((z + q0) * z + q1) * z + q2) * z + q3) * z + q4);
    return x * z + x;
}

/* Reduces x > 0 to [0, 0.66]. */
static double satan(double x)
{
    static const double morebits = 6.123233995736765886130e-17, tan3pio8 = 2.41421356237309504880;
    if (x <= 0.66)
        return xatan(x);
    if (x > tan3pio8)
        return M_PI / 2 - xatan(1 / x) + morebits;
    return M_PI / 4 + xatan((x - 1) / (x + 1)) + 0.5 * morebits;
}

double pq_go_atan(double x)
{
    if (x == 0)
        return x;
    return x > 0 ? satan(x) : -satan(-x);
}

double pq_go_atan2(double y, double x)
{
    if (isnan(y) || isnan(x))
        return (double)NAN;
    if (y == 0)
        return x >= 0 && !signbit(x) ? copysign(0, y) : copysign(M_PI, y);
    if (x == 0)
        return copysign(M_PI / 2, y);
    if (isinf(x)) {
        if (x > 0)
            return isinf(y) ? copysign(M_PI / 4, y) : copysign(0, y);
        return isinf(y) ? copysign(3 * M_PI / 4, y) : copysign(M_PI, y);
    }
    if (isinf(y))
        return copysign(M_PI / 2, y);
    double q = pq_go_atan(y / x);
    if (x < 0)
        return q <= 0 ? q + M_PI : q - M_PI;
    return q;
}
