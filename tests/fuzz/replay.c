/* replay: runs one fuzz target over every file of its saved corpus, so the
 * normal test suite (any compiler, ASan + UBSan) re-checks every input the
 * fuzzer kept, crash reproducers included.
 *
 * Usage: replay_TARGET PATH...  where each PATH is a corpus directory (every
 * regular file in it, in name order, hidden files skipped) or a single file.
 * Exits 1 when a path cannot be read or a directory holds no input, so a
 * missing corpus fails the test instead of passing with nothing replayed. */
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Reads path into a buffer of exactly its size, so that ASan sees a read one
 * byte past the input as it would under libFuzzer. The caller frees *out. */
static int read_input(const char *path, uint8_t **out, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        int err = -errno;
        fclose(f);
        return err;
    }
    size_t n = (size_t)st.st_size;
    uint8_t *data = malloc(n ? n : 1);
    if (!data) {
        fclose(f);
        return -ENOMEM;
    }
    if (n && fread(data, 1, n, f) != n) {
        free(data);
        fclose(f);
        return -EIO;
    }
    fclose(f);
    *out = data;
    *size = n;
    return 0;
}

static int replay_file(const char *path)
{
    uint8_t *data = NULL;
    size_t size = 0;
    int err = read_input(path, &data, &size);
    if (err) {
        fprintf(stderr, "replay: cannot read \"%s\": %s\n", path, strerror(-err));
        return err;
    }
    /* Named first, so that a sanitizer report or an abort below it says
     * which input it was. */
    fprintf(stderr, "replay: %s\n", path);
    LLVMFuzzerTestOneInput(data, size);
    free(data);
    return 0;
}

static int skip_hidden(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

/* Replays every regular file in dir; returns how many, or a negative errno. */
static int replay_dir(const char *dir)
{
    struct dirent **names;
    int n = scandir(dir, &names, skip_hidden, alphasort);
    if (n < 0) {
        int err = -errno;
        fprintf(stderr, "replay: cannot list \"%s\": %s\n", dir, strerror(errno));
        return err;
    }
    int replayed = 0, err = 0;
    for (int i = 0; i < n; i++) {
        char path[4096];
        struct stat st;
        int len = snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
        if (!err && len > 0 && (size_t)len < sizeof(path) && stat(path, &st) == 0 &&
            S_ISREG(st.st_mode)) {
            err = replay_file(path);
            replayed++;
        }
        free(names[i]);
    }
    free(names);
    return err ? err : replayed;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: \"%s\": %s\n", argv[i], strerror(errno));
            return 1;
        }
        if (!S_ISDIR(st.st_mode)) {
            if (replay_file(argv[i]))
                return 1;
            printf("replayed \"%s\"\n", argv[i]);
            continue;
        }
        int n = replay_dir(argv[i]);
        if (n < 0)
            return 1;
        if (n == 0) {
            fprintf(stderr, "replay: \"%s\" holds no input\n", argv[i]);
            return 1;
        }
        printf("replayed %d inputs from \"%s\"\n", n, argv[i]);
    }
    return 0;
}
