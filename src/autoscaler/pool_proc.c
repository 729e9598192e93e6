/* pool_proc: fork+exec of one replica (pool_proc.h).
 *
 * Why not uv_spawn: a replica must die with ebb even when ebb is SIGKILLed,
 * and only prctl(PR_SET_PDEATHSIG) run in the child between fork and exec
 * gives that; uv_spawn has no hook there. So everything the child needs —
 * argv, envp, the executable's resolved path, the log descriptor, the line
 * to write if exec fails — is prepared before fork, and the child makes
 * only async-signal-safe calls (sigaction, setpgid, dup2, prctl, getppid,
 * close_range, chdir, execve, write, _exit): ebb is multi-threaded (libuv's
 * thread pool), and after fork only the calling thread exists, so a lock
 * held by another thread (malloc's, stdio's) would never be released. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "autoscaler/pool_proc.h"
#include "base/buf.h"

extern char **environ;

#define SPAWN_FAIL_MAX 512 /* bytes of the line the child writes when exec fails */

int pool_mkdir_p(const char *dir)
{
    char path[PATH_MAX];
    struct stat st;
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return -ENAMETOOLONG;
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
            return -errno;
        *p = c;
        if (!c)
            break;
    }
    if (stat(path, &st) < 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

/* What the child needs, prepared before fork. Strings live in strs; the
 * pointer arrays are filled once strs stops growing. */
struct spawn {
    struct buf strs;
    size_t *argv_off, *env_off;
    size_t argc, envc;
    char **argv, **envp;
    char exe[PATH_MAX];
    char fail[SPAWN_FAIL_MAX]; /* "ebb: cannot run ...: " */
    const char *cwd;
    int log_fd, null_fd;
    pid_t parent;
};

static void spawn_release(struct spawn *s)
{
    buf_release(&s->strs);
    free(s->argv_off);
    free(s->env_off);
    free(s->argv);
    free(s->envp);
    if (s->log_fd >= 0)
        close(s->log_fd);
    if (s->null_fd >= 0)
        close(s->null_fd);
}

/* Appends tmpl substituted and a NUL; *off gets where it starts. */
static int spawn_add(struct spawn *s, const char *prefix, const char *tmpl,
                     const struct cfg_replica_vars *v, size_t *off)
{
    struct buf one = BUF_INIT(POOL_ARG_MAX);
    int rc = cfg_expand(tmpl, v, &one);
    *off = s->strs.len;
    if (rc == 0 && prefix)
        rc = buf_append_str(&s->strs, prefix);
    if (rc == 0)
        rc = buf_append(&s->strs, one.data ? one.data : "", one.len + 1);
    buf_release(&one);
    return rc;
}

/* The environment variable key (len bytes) set by the deployment? */
static bool env_overridden(const struct cfg_deployment *d, const char *entry)
{
    const char *eq = strchr(entry, '=');
    size_t len = eq ? (size_t)(eq - entry) : strlen(entry);
    for (size_t i = 0; i < d->n_env; i++)
        if (strlen(d->env[i].key) == len && memcmp(d->env[i].key, entry, len) == 0)
            return true;
    return false;
}

static int spawn_strings(struct spawn *s, const struct cfg_deployment *d,
                         const struct cfg_replica_vars *v)
{
    size_t n_environ = 0;
    while (environ && environ[n_environ])
        n_environ++;
    s->argv_off = calloc(d->n_command + 1, sizeof *s->argv_off);
    s->env_off = calloc(d->n_env + 1, sizeof *s->env_off);
    s->argv = calloc(d->n_command + 1, sizeof *s->argv);
    s->envp = calloc(n_environ + d->n_env + 1, sizeof *s->envp);
    if (!s->argv_off || !s->env_off || !s->argv || !s->envp)
        return -ENOMEM;
    for (size_t i = 0; i < d->n_command; i++) {
        int rc = spawn_add(s, NULL, d->command[i], v, &s->argv_off[i]);
        if (rc < 0)
            return rc;
    }
    struct buf key = BUF_INIT(4096);
    for (size_t i = 0; i < d->n_env; i++) {
        buf_reset(&key);
        int rc = buf_appendf(&key, "%s=", d->env[i].key);
        if (rc == 0)
            rc = spawn_add(s, key.data, d->env[i].value, v, &s->env_off[i]);
        if (rc < 0) {
            buf_release(&key);
            return rc;
        }
    }
    buf_release(&key);
    for (size_t i = 0; i < d->n_command; i++)
        s->argv[i] = s->strs.data + s->argv_off[i];
    s->argc = d->n_command;
    for (size_t i = 0; i < n_environ; i++)
        if (!env_overridden(d, environ[i]))
            s->envp[s->envc++] = environ[i];
    for (size_t i = 0; i < d->n_env; i++)
        s->envp[s->envc++] = s->strs.data + s->env_off[i];
    return 0;
}

/* The replica's PATH: its own env's when it sets one, else ebb's. */
static const char *spawn_path_var(const struct spawn *s)
{
    const char *path = NULL;
    for (size_t i = 0; i < s->envc; i++)
        if (strncmp(s->envp[i], "PATH=", 5) == 0)
            path = s->envp[i] + 5;
    return path ? path : "/usr/local/bin:/usr/bin:/bin";
}

/* Resolves argv[0] as execvp would (PATH search unless it has a '/'), so
 * that the child need not allocate. false when not found in PATH (exe is
 * then the bare name and execve fails with ENOENT). */
static bool spawn_resolve(struct spawn *s)
{
    const char *name = s->argv[0];
    snprintf(s->exe, sizeof s->exe, "%s", name);
    if (strchr(name, '/'))
        return true;
    const char *p = spawn_path_var(s);
    while (*p) {
        size_t len = strcspn(p, ":");
        char cand[PATH_MAX];
        struct stat st;
        int n = snprintf(cand, sizeof cand, "%.*s/%s", len ? (int)len : 1, len ? p : ".", name);
        if (n > 0 && n < (int)sizeof cand && stat(cand, &st) == 0 && S_ISREG(st.st_mode) &&
            access(cand, X_OK) == 0) {
            memcpy(s->exe, cand, (size_t)n + 1);
            return true;
        }
        p += len + (p[len] == ':');
    }
    return false;
}

/* Opens path on a descriptor >= 3 (so that dup2 onto 0-2 in the child
 * always clears close-on-exec). */
static int open_high(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC, 0644);
    if (fd >= 0 && fd < 3) {
        int high = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        int e = errno;
        close(fd);
        errno = e;
        fd = high;
    }
    return fd;
}

/* Writes "--- <time> ebb: starting <name>-<i> on port P: argv..." into the
 * log, so a reader sees where each run begins. */
static void spawn_header(const struct spawn *s, const struct cfg_deployment *d, int32_t index,
                         int32_t port)
{
    struct buf line = BUF_INIT(8192);
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    buf_appendf(&line, "--- %s ebb: starting replica \"%s-%d\" on port %d:", when, d->name, index,
                port);
    for (size_t i = 0; i < s->argc; i++)
        if (buf_appendf(&line, " %s", s->argv[i]) < 0)
            break;
    if (buf_append(&line, "\n", 1) < 0 && line.len)
        line.data[line.len - 1] = '\n';
    if (line.len && write(s->log_fd, line.data, line.len) < 0) {
        /* the log is best effort; the replica's own output will fail the same way */
    }
    buf_release(&line);
}

/* The child's message for errno e (strerror is not async-signal-safe). */
static const char *child_errtext(int e)
{
    switch (e) {
    case ENOENT: return "no such file or directory";
    case EACCES: return "permission denied";
    case ENOEXEC: return "not an executable format";
    case ENOTDIR: return "a part of the path is not a directory";
    case ENOMEM: return "out of memory";
    case E2BIG: return "argument list too long";
    case ELOOP: return "too many symbolic links";
    case ETXTBSY: return "text file busy";
    case EISDIR: return "is a directory";
    default: return "exec error";
    }
}

static void child_write(int fd, const char *s)
{
    if (write(fd, s, strlen(s)) < 0) {
        /* nothing left to tell */
    }
}

static _Noreturn void child_fail(const struct spawn *s, const char *what, int e)
{
    child_write(2, s->fail);
    child_write(2, what);
    child_write(2, child_errtext(e));
    child_write(2, "\n");
    _exit(127);
}

/* Runs in the child between fork and exec: async-signal-safe calls only. */
static _Noreturn void spawn_child(const struct spawn *s)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    /* Handlers and ignored signals (SIGPIPE) must not leak into the replica. */
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, &dfl, NULL);
    setpgid(0, 0);
    if (dup2(s->null_fd, 0) < 0 || dup2(s->log_fd, 1) < 0 || dup2(s->log_fd, 2) < 0)
        _exit(126);
    /* Dies with ebb; if ebb already died before prctl, nobody would send it. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != s->parent)
        _exit(126);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    close_range(3, ~0u, 0); /* descriptors ebb forgot to mark close-on-exec */
    if (s->cwd && chdir(s->cwd) < 0)
        child_fail(s, "cannot change to the working directory: ", errno);
    execve(s->exe, s->argv, s->envp);
    child_fail(s, "", errno);
}

static int spawn_prepare(struct spawn *s, const struct cfg_deployment *d, int32_t index,
                         int32_t port, const char *log_path, char *err, size_t errlen)
{
    struct cfg_replica_vars v = {.port = port, .index = index, .model = d->model};
    int rc = d->n_command ? spawn_strings(s, d, &v) : -EINVAL;
    if (rc < 0) {
        snprintf(err, errlen, "cannot prepare the command of replica \"%s-%d\": %s", d->name, index,
                 rc == -ENOBUFS ? "substituted arguments too long" : strerror(-rc));
        return rc;
    }
    bool found = spawn_resolve(s);
    snprintf(s->fail, sizeof s->fail,
             "ebb: cannot run \"%.200s\"%s for replica \"%.100s-%d\": ", s->exe,
             found ? "" : " (not found in PATH)", d->name, index);
    s->cwd = d->working_dir && d->working_dir[0] ? d->working_dir : NULL;
    s->log_fd = open_high(log_path, O_WRONLY | O_CREAT | O_APPEND);
    if (s->log_fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "cannot open the log file \"%s\" of replica \"%s-%d\": %s", log_path,
                 d->name, index, strerror(errno));
        return rc;
    }
    s->null_fd = open_high("/dev/null", O_RDONLY);
    if (s->null_fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "cannot open /dev/null for replica \"%s-%d\": %s", d->name, index,
                 strerror(errno));
        return rc;
    }
    spawn_header(s, d, index, port);
    return 0;
}

int pool_proc_spawn(const struct cfg_deployment *d, int32_t index, int32_t port,
                    const char *log_path, pid_t *pid, char *err, size_t errlen)
{
    struct spawn s;
    memset(&s, 0, sizeof s);
    buf_init(&s.strs, POOL_SPAWN_BYTES);
    s.log_fd = s.null_fd = -1;
    int rc = spawn_prepare(&s, d, index, port, log_path, err, errlen);
    if (rc < 0) {
        spawn_release(&s);
        return rc;
    }
    /* Signals stay blocked across fork so that ebb's handlers (libuv writes
     * to its signal pipe, shared with the child) never run in the child
     * before it has reset them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    s.parent = getpid();
    pid_t child = fork();
    if (child == 0)
        spawn_child(&s);
    int e = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (child < 0) {
        snprintf(err, errlen, "cannot start replica \"%s-%d\": fork: %s", d->name, index,
                 strerror(e));
        spawn_release(&s);
        return -e;
    }
    /* Also here: whichever of parent and child runs first, the group exists
     * before the parent may signal it. */
    setpgid(child, child);
    *pid = child;
    spawn_release(&s);
    return 0;
}

void pool_proc_signal(pid_t pgid, int sig)
{
    if (pgid > 0)
        kill(-pgid, sig);
}

void pool_proc_describe_exit(int status, char *out, size_t len)
{
    if (WIFEXITED(status))
        snprintf(out, len, "exited with code %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(out, len, "was killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(out, len, "ended with status 0x%x", (unsigned)status);
}
