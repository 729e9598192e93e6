/* fuzz target k8s_object: what ebb reads from the Kubernetes API — each
 * line of a watch stream (k8s_event_parse), the whole input as a list
 * (k8s_list_parse), and as an error answer (k8s_status_text). Input: the
 * bytes as the API server would send them. */
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "k8s/object.h"

static void check_field(const char *s, size_t max, bool may_be_empty)
{
    FUZZ_CHECK(s != NULL);
    size_t n = strlen(s);
    FUZZ_CHECK(n <= max && (may_be_empty || n > 0));
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK((unsigned char)s[i] >= 0x20);
}

static void one_event(const char *line, size_t len)
{
    struct k8s_event ev;
    char err[256] = "";
    if (k8s_event_parse(line, len, &ev, err, sizeof(err)) < 0) {
        FUZZ_CHECK(err[0] != '\0' && ev.root == NULL);
        return;
    }
    FUZZ_CHECK(ev.type <= K8S_ERROR && ev.object != NULL);
    FUZZ_CHECK(strcmp(k8s_event_type_name(ev.type), "?") != 0);
    if (ev.type == K8S_ERROR) {
        FUZZ_CHECK(ev.code >= 0 && ev.code < 1000 && ev.message != NULL);
    } else {
        check_field(ev.rv, K8S_RV_MAX, false);
        check_field(ev.name, K8S_NAME_MAX, ev.type == K8S_BOOKMARK);
    }
    k8s_event_release(&ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    size_t start = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i == size || in[i] == '\n') {
            one_event(in + start, i - start);
            start = i + 1;
        }
    }
    struct k8s_list l;
    char err[256] = "";
    if (k8s_list_parse(in, size, &l, err, sizeof(err)) == 0) {
        check_field(l.rv, K8S_RV_MAX, false);
        const cJSON *it;
        cJSON_ArrayForEach(it, l.items)
        {
            check_field(k8s_obj_name(it), K8S_NAME_MAX, false);
            check_field(k8s_obj_rv(it), K8S_RV_MAX, false);
        }
        k8s_list_release(&l);
    } else {
        FUZZ_CHECK(err[0] != '\0' && l.root == NULL);
    }
    char text[512];
    k8s_status_text(in, size, text, sizeof(text));
    FUZZ_CHECK(strlen(text) < sizeof(text));
    for (const char *p = text; *p; p++)
        FUZZ_CHECK((unsigned char)*p >= 0x20);
    return 0;
}
