/* Shared by the src/config tests: YAML written to a temp dir or loaded from
 * memory, issues formatted as people see them, and table rows run as one
 * named cmocka test each ("so: threshold must be a number"). */
#ifndef EBB_TESTS_CONFIG_TEST_H
#define EBB_TESTS_CONFIG_TEST_H

#include "../scale/scale_test.h" /* run_rows, RUN_ROWS: one cmocka test per table row */

#include <stdbool.h>

#include "config/config.h"

/* One input file of a row: its name and text. */
struct tfile {
    const char *name;
    const char *text;
};

#define TFILES_MAX 4

/* A table row: files written to a fresh temp dir, those named *.yaml
 * loaded in order (the others are data, such as secret files; names are
 * relative, and the issues show them as given), then config_check(flags). */
struct irow {
    const char *name; /* the rule */
    struct tfile files[TFILES_MAX];
    unsigned flags;   /* CONFIG_LOCAL */
    const char *want; /* an issue line expected exactly (without its '\n') */
    int errors;       /* errors expected; -1: at least one */
};

/* A fresh temporary directory, made the working directory (so relative
 * names in rows land in it); removed with everything in it by tdir_leave. */
void tdir_enter(void);
void tdir_leave(void);
/* Writes text to name in the current directory. */
void tfile_write(const char *name, const char *text);
/* The temp dir's absolute path (valid between enter and leave). */
const char *tdir_path(void);

/* Loads the files of a row into c (config_init first) and checks it. */
void load_row(struct config *c, const struct tfile *files, unsigned flags);
/* Loads one text from memory as "t.yaml", checks it with flags. */
void load_text(struct config *c, const char *text, unsigned flags);

/* Every issue line of c, as config_format_issues writes them. Caller frees. */
char *issues_text(const struct config *c);
/* Asserts that line (without '\n') is one of c's issue lines; prints them
 * all when it is not. */
void assert_issue(const struct config *c, const char *line);
/* Asserts that c loaded with no error and no warning. */
void assert_clean(const struct config *c);

/* The row runner for struct irow tables. */
void check_irow(const struct irow *r);

#endif
