#!/bin/sh
# Every call the jail denies fails with EPERM, and each denial is counted in the report (which
# proves the filter fired even for calls whose own capability check would also say EPERM).
. "$(dirname "$0")/lib.sh"
jail_setup
U=sbxjsc$$
new_user "$U"

CALLS="mount umount2 pivot_root move_mount open_tree fsopen fsconfig fsmount fspick
mount_setattr chroot unshare setns clone-newuser keyctl add_key request_key bpf
perf_event_open userfaultfd io_uring_setup io_uring_enter io_uring_register ptrace
process_vm_readv process_vm_writev kexec_load kexec_file_load init_module finit_module
delete_module reboot swapon swapoff acct quotactl personality ioctl-tiocsti
ioctl-tiocsti-high ioctl-tioclinux socket-inet socket-inet6 socket-netlink socket-packet
socketpair-inet"
N=0
for c in $CALLS; do N=$((N + 1)); done

# shellcheck disable=SC2086
jrun "$U" -- "$PROBE" syscall $CALLS
for c in $CALLS; do
	assert_contains "$c fails with EPERM" "$OUT" "^syscall $c EPERM\$"
done
assert_eq "every denial is counted" "$(report_field seccomp_denials)" "$N"

jrun "$U" -- "$PROBE" syscall personality
assert_eq "one denial, one count" "$(report_field seccomp_denials)" 1

jrun "$U" -- /usr/bin/python3.11 -c 'import os, threading, subprocess
t = threading.Thread(target=lambda: None); t.start(); t.join()
print(subprocess.run(["/usr/bin/echo", "child"], capture_output=True).stdout.decode().strip())
r, w = os.pipe(); print("pipe ok")'
assert_contains "threads and subprocesses work (clone3 falls back)" "$OUT" "^child\$"
assert_eq "ordinary Python triggers no denial" "$(report_field seccomp_denials)" 0

jrun "$U" -- "$PROBE" denybench 20000
echo "cost: $(printf '%s' "$OUT" | tr '\n' ' ')(allowed vs denied+counted, ns per call)"
assert_eq "the benchmark's denials are counted" "$(report_field seccomp_denials)" 20000
finish
