/* pool_proc: the process side of the local pool — preparing a replica's
 * argv and environment, fork+exec with the guarantees uv_spawn cannot give
 * (PR_SET_PDEATHSIG in the child), signalling its process group and naming
 * how it ended. Internal to src/autoscaler/pool*.c. */
#ifndef EBB_AUTOSCALER_POOL_PROC_H
#define EBB_AUTOSCALER_POOL_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config/config.h"

#define POOL_ARG_MAX 65536          /* bytes of one substituted argument or env value */
#define POOL_SPAWN_BYTES (1u << 20) /* bytes of all substituted strings of one replica */

/* Creates dir and its missing parents (mode 0755), as mkdir -p. 0 or a
 * negative errno (-ENOTDIR when a part exists and is not a directory). */
int pool_mkdir_p(const char *dir);

/* Starts replica index of d listening on port: its own process group,
 * PR_SET_PDEATHSIG(SIGKILL), stdin /dev/null, stdout and stderr appended to
 * log_path (which gets a header line first), env = ebb's plus d->env, argv
 * = d->command, both with ${PORT}, ${INDEX} and ${MODEL} substituted, in
 * d->working_dir. A command that cannot be executed writes why into the log
 * and exits 127. 0 and *pid, or a negative errno with a message for people
 * in err (nothing was started). */
int pool_proc_spawn(const struct cfg_deployment *d, int32_t index, int32_t port,
                    const char *log_path, pid_t *pid, char *err, size_t errlen);

/* Sends sig to the process group pgid; a group already gone is not an error. */
void pool_proc_signal(pid_t pgid, int sig);

/* "exited with code 1", "was killed by signal 9 (Killed)" for a waitpid status. */
void pool_proc_describe_exit(int status, char *out, size_t len);

#endif
