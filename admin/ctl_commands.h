/* The sandboxctl commands: each takes its own argv (argv[0] is the command's name) and returns
 * an exit status (CTL_EXIT_* in admin/ctl_util.h). The table in sandboxctl.c lists them. */
#pragma once

int ctl_quota_main(int argc, char **argv);
int ctl_lock_main(int argc, char **argv);
int ctl_unlock_main(int argc, char **argv);
int ctl_status_main(int argc, char **argv);
int ctl_audit_main(int argc, char **argv);
int ctl_sessions_main(int argc, char **argv);
int ctl_kill_main(int argc, char **argv);
int ctl_reload_main(int argc, char **argv);
int ctl_replay_main(int argc, char **argv);
int ctl_penalties_main(int argc, char **argv);
