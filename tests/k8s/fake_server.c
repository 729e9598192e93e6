/* fake_server: see fake_server.h. */
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_server.h"

extern char **environ;

void fake_server_start(struct fake_server *s, const char *token)
{
    snprintf(s->dir, sizeof(s->dir), "/tmp/ebb-k8s-test-XXXXXX");
    assert_non_null(mkdtemp(s->dir));
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    char *argv[] = {"python3", SRCDIR "/fake_apiserver.py", "--dir", s->dir, "--token",
                    (char *)token, NULL};
    assert_int_equal(posix_spawnp(&s->pid, "python3", &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    char line[64] = "";
    size_t n = 0;
    while (n < sizeof(line) - 1 && !strchr(line, '\n')) {
        ssize_t r = read(fds[0], line + n, sizeof(line) - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        line[n] = '\0';
    }
    close(fds[0]);
    assert_int_equal(sscanf(line, "PORT %d", &s->port), 1);
}

int fake_server_stop(struct fake_server *s)
{
    kill(s->pid, SIGTERM);
    waitpid(s->pid, NULL, 0);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
    return system(cmd) == 0 ? 0 : -1;
}
