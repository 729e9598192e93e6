/* prometheus: the syntaxes of a prometheus trigger's metadata, as KEDA parses
 * them (keda-hpa-spec.md §3.1). Internal to src/config; pure. */
#ifndef EBB_CONFIG_PROMETHEUS_H
#define EBB_CONFIG_PROMETHEUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A JSON number, as KEDA reads threshold and activationThreshold: "5",
 * "2.5", "1e3", "-1"; not ".5", "+5", "05" or "NaN". 0, -EINVAL, or -ERANGE
 * past a double's range. */
int prom_json_number(const char *s, double *out);
/* Go's strconv.ParseBool: 1 true, 0 false, -1 neither. */
int prom_go_bool(const char *s);
/* timeout: a bare integer is milliseconds, anything else a Go duration
 * ("500ms", "2s", "1m30s"). 0, -EINVAL, -ERANGE when negative, -E2BIG past
 * a day. */
int prom_timeout_ms(const char *s, int64_t *out);
/* authModes: a comma-separated list of enum cfg_auth_mode names. 0, or
 * -EINVAL with a message in err (unknown mode, tls, two exclusive modes). */
int prom_auth_modes(const char *s, unsigned *out, char *err, size_t errlen);
/* True for an HTTP header name (an RFC 9110 token). */
bool prom_http_token(const char *s);
/* True for a parameter KEDA reads only from a TriggerAuthentication. */
bool prom_is_secret_param(const char *key);

#endif
