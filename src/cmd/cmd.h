/* cmd: one entry point per subcommand. Each takes the subcommand's own argv
 * (argv[0] is the subcommand name) and returns the process exit code. */
#ifndef EBB_CMD_CMD_H
#define EBB_CMD_CMD_H

int cmd_engine(int argc, char **argv);
int cmd_router(int argc, char **argv);
int cmd_autoscaler(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_metrics(int argc, char **argv);
int cmd_up(int argc, char **argv);
int cmd_load(int argc, char **argv);

#endif
