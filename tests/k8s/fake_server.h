/* fake_server: fake_apiserver.py as a child process of a C test: started
 * with a fresh directory for its certificates, its port read from the line
 * it prints first, stopped and its directory removed at the end. Test code:
 * failures abort (cmocka). */
#ifndef EBB_TESTS_K8S_FAKE_SERVER_H
#define EBB_TESTS_K8S_FAKE_SERVER_H

#include <sys/types.h>

struct fake_server {
    pid_t pid;
    int port;
    char dir[256]; /* ca.crt is here */
};

/* Starts the server with this bearer token. */
void fake_server_start(struct fake_server *s, const char *token);
/* Stops it and removes its directory. 0, or -1 if the directory stayed. */
int fake_server_stop(struct fake_server *s);

#endif
