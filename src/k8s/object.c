/* k8s/object: see object.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "k8s/object.h"

static const char *const type_names[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"};

const char *k8s_event_type_name(enum k8s_event_type t)
{
    return (unsigned)t < 5 ? type_names[t] : "?";
}

static const char *str_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

const char *k8s_obj_meta(const cJSON *obj, const char *key)
{
    return str_of(cJSON_GetObjectItemCaseSensitive(obj, "metadata"), key);
}

const char *k8s_obj_name(const cJSON *obj)
{
    return k8s_obj_meta(obj, "name");
}

const char *k8s_obj_rv(const cJSON *obj)
{
    return k8s_obj_meta(obj, "resourceVersion");
}

/* A name or resourceVersion ebb can keep and print: not empty, within its
 * limit, no control characters. */
static bool field_ok(const char *s, size_t max)
{
    if (!s || !s[0] || strlen(s) > max)
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20)
            return false;
    return true;
}

void k8s_event_release(struct k8s_event *ev)
{
    cJSON_Delete(ev->root);
    memset(ev, 0, sizeof(*ev));
}

int k8s_event_parse(const char *line, size_t len, struct k8s_event *ev, char *err, size_t errlen)
{
    memset(ev, 0, sizeof(*ev));
    cJSON *root = cJSON_ParseWithLength(line, len);
    const char *why = NULL;
    const char *type = str_of(root, "type");
    cJSON *obj = root ? cJSON_GetObjectItemCaseSensitive(root, "object") : NULL;
    int t = -1;
    for (int i = 0; type && i < 5; i++)
        if (strcmp(type, type_names[i]) == 0)
            t = i;
    if (!cJSON_IsObject(root))
        why = "is not a JSON object";
    else if (!type)
        why = "has no \"type\"";
    else if (t < 0)
        why = "has an unknown \"type\"";
    else if (!cJSON_IsObject(obj))
        why = "has no \"object\"";
    if (why) {
        cJSON_Delete(root);
        snprintf(err, errlen, "a watch event %s", why);
        return -EINVAL;
    }
    ev->type = (enum k8s_event_type)t;
    ev->root = root;
    ev->object = obj;
    ev->name = "";
    ev->rv = "";
    ev->message = "";
    if (ev->type == K8S_ERROR) {
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(obj, "code");
        const char *msg = str_of(obj, "message");
        ev->code = cJSON_IsNumber(code) && code->valuedouble >= 0 && code->valuedouble < 1000
                       ? (long)code->valuedouble
                       : 0;
        ev->message = msg ? msg : "";
        return 0;
    }
    const char *rv = k8s_obj_rv(obj), *name = k8s_obj_name(obj);
    if (!field_ok(rv, K8S_RV_MAX))
        why = "has no valid metadata.resourceVersion";
    else if (ev->type != K8S_BOOKMARK && !field_ok(name, K8S_NAME_MAX))
        why = "has no valid metadata.name";
    if (why) {
        k8s_event_release(ev);
        snprintf(err, errlen, "a %s watch event %s", type_names[t], why);
        return -EINVAL;
    }
    ev->rv = rv;
    ev->name = ev->type == K8S_BOOKMARK ? "" : name;
    return 0;
}

void k8s_list_release(struct k8s_list *l)
{
    cJSON_Delete(l->root);
    memset(l, 0, sizeof(*l));
}

int k8s_list_parse(const char *body, size_t len, struct k8s_list *l, char *err, size_t errlen)
{
    memset(l, 0, sizeof(*l));
    cJSON *root = cJSON_ParseWithLength(body, len);
    cJSON *items = root ? cJSON_GetObjectItemCaseSensitive(root, "items") : NULL;
    const char *rv = str_of(cJSON_GetObjectItemCaseSensitive(root, "metadata"), "resourceVersion");
    char why[128] = "";
    if (!cJSON_IsObject(root))
        snprintf(why, sizeof(why), "is not a JSON object");
    else if (!field_ok(rv, K8S_RV_MAX))
        snprintf(why, sizeof(why), "has no valid metadata.resourceVersion");
    else if (!cJSON_IsArray(items) && !cJSON_IsNull(items) && items)
        snprintf(why, sizeof(why), "has \"items\" that is not a list");
    int i = 0;
    const cJSON *it;
    cJSON *list = cJSON_IsArray(items) ? items : NULL;
    cJSON_ArrayForEach(it, list)
    {
        if (why[0])
            break;
        if (!field_ok(k8s_obj_name(it), K8S_NAME_MAX) || !field_ok(k8s_obj_rv(it), K8S_RV_MAX))
            snprintf(why, sizeof(why), "has items[%d] without a valid metadata.name and "
                     "resourceVersion", i);
        i++;
    }
    if (why[0]) {
        cJSON_Delete(root);
        snprintf(err, errlen, "a list %s", why);
        return -EINVAL;
    }
    l->root = root;
    l->items = cJSON_IsArray(items) ? items : NULL;
    l->rv = rv;
    return 0;
}

void k8s_status_text(const char *body, size_t len, char *out, size_t cap)
{
    cJSON *root = cJSON_ParseWithLength(body, len);
    const char *kind = str_of(root, "kind");
    const char *reason = str_of(root, "reason"), *msg = str_of(root, "message");
    if (kind && strcmp(kind, "Status") == 0 && (reason || msg))
        snprintf(out, cap, "%.64s%s%.300s", reason ? reason : "", reason && msg ? ": " : "",
                 msg ? msg : "");
    else
        snprintf(out, cap, "%.*s", (int)(len < 200 ? len : 200), body);
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
    cJSON_Delete(root);
}
