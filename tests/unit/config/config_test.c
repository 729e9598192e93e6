/* Helpers of the src/config tests. See config_test.h. */
#include "config_test.h"

#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256];
static char old_cwd[4096];

void tdir_enter(void)
{
    snprintf(dir, sizeof(dir), "%s/ebb-config-test-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(dir));
    assert_non_null(getcwd(old_cwd, sizeof(old_cwd)));
    assert_int_equal(chdir(dir), 0);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void tdir_leave(void)
{
    assert_int_equal(chdir(old_cwd), 0);
    assert_int_equal(nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS), 0);
}

const char *tdir_path(void)
{
    return dir;
}

void tfile_write(const char *name, const char *text)
{
    FILE *f = fopen(name, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

void load_row(struct config *c, const struct tfile *files, unsigned flags)
{
    config_init(c);
    tdir_enter();
    for (size_t i = 0; i < TFILES_MAX && files[i].name; i++)
        tfile_write(files[i].name, files[i].text);
    for (size_t i = 0; i < TFILES_MAX && files[i].name; i++) {
        size_t n = strlen(files[i].name);
        if (n < 5 || strcmp(files[i].name + n - 5, ".yaml") != 0)
            continue; /* a secret or other data file, not a manifest */
        int rc = config_load_file(c, files[i].name);
        assert_true(rc == 0 || rc == -EINVAL);
    }
    config_check(c, flags);
    tdir_leave();
}

void load_text(struct config *c, const char *text, unsigned flags)
{
    config_init(c);
    int rc = config_load_buffer(c, "t.yaml", text, strlen(text));
    assert_true(rc == 0 || rc == -EINVAL);
    config_check(c, flags);
}

char *issues_text(const struct config *c)
{
    struct buf b = BUF_INIT(1u << 20);
    assert_int_equal(config_format_issues(c, &b), 0);
    if (!b.data)
        return calloc(1, 1);
    return b.data;
}

static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++) {
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return true;
    }
    return false;
}

void assert_issue(const struct config *c, const char *line)
{
    char *text = issues_text(c);
    bool ok = has_line(text, line);
    if (!ok)
        print_error("expected the issue\n  %s\ngot:\n%s", line, text);
    free(text);
    assert_true(ok);
}

void assert_clean(const struct config *c)
{
    char *text = issues_text(c);
    if (c->n_issues)
        print_error("expected no issue, got:\n%s", text);
    free(text);
    assert_int_equal(c->n_issues, 0);
}

void check_irow(const struct irow *r)
{
    struct config c;
    load_row(&c, r->files, r->flags);
    if (r->want)
        assert_issue(&c, r->want);
    bool ok = r->errors < 0 ? config_errors(&c) > 0 : config_errors(&c) == r->errors;
    if (!ok) {
        char *text = issues_text(&c);
        print_error("expected %d errors, got %d:\n%s", r->errors, config_errors(&c), text);
        free(text);
    }
    assert_true(ok);
    config_release(&c);
}
