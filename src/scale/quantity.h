/* quantity: the parts of Kubernetes' resource.Quantity that KEDA and the HPA
 * use, in integer milli-units ("5" is 5000, "2500m" is 2500). Pure.
 *
 * KEDA turns every float it reads into a Quantity by printing it with "%.3f"
 * and parsing that (so the HPA sees the value rounded to the nearest
 * thousandth, ties to even on the exact binary value, as printf rounds); the
 * HPA works on MilliValue() and prints Quantities in canonical DecimalSI form
 * ("2500m", "5", "9334m", "12M") in `kubectl get hpa`. */
#ifndef EBB_SCALE_QUANTITY_H
#define EBB_SCALE_QUANTITY_H

#include <stddef.h>
#include <stdint.h>

/* KEDA's GenerateMetricInMili / GetMetricTargetMili: v rounded to milli-units
 * as "%.3f" rounds it. NaN, +/-Inf and negative values give 0 (KEDA v2.20.2);
 * values past the int64 range saturate at INT64_MAX. */
int64_t quantity_milli_from_double(double v);

/* Quantity.AsApproximateFloat64 of a milli-unit quantity: milli * 10^-3. */
double quantity_milli_to_double(int64_t milli);

/* Writes the canonical DecimalSI text of a milli-unit quantity into out
 * (cap bytes, NUL-terminated): 0 -> "0", 500 -> "500m", 5000 -> "5",
 * 1000000 -> "1k". Returns the length, or -ENOSPC when out is too small. */
int quantity_format(int64_t milli, char *out, size_t cap);

#endif
