#!/bin/sh
# The practice VM's boot: its own Docker engine in the background, then sshd in the
# foreground (docker-init, from `--init`, is PID 1 and reaps what they leave).
set -eu
# cgroup v2 (Docker Desktop, recent Linux): leave the root cgroup so the inner engine can
# make its own below it, as Docker's own docker-in-docker image does.
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    mkdir -p /sys/fs/cgroup/init
    xargs -rn1 < /sys/fs/cgroup/cgroup.procs > /sys/fs/cgroup/init/cgroup.procs || :
    sed -e 's/ / +/g' -e 's/^/+/' < /sys/fs/cgroup/cgroup.controllers \
        > /sys/fs/cgroup/cgroup.subtree_control || :
fi
# cgroup v1 without --privileged (an engine that cannot grant it, see practice_vm.py): the
# hierarchies come read-only; mount each afresh, writable, for the inner engine's cgroups.
if grep -q ' /sys/fs/cgroup/[^ ]* cgroup ro,' /proc/mounts; then
    awk '$3 == "cgroup" {print $2, $4}' /proc/mounts | while read -r point options; do
        controllers=$(echo "$options" | tr , '\n' \
            | grep -vxE 'ro|rw|nosuid|nodev|noexec|relatime' | paste -sd, -)
        umount "$point" && mount -t cgroup -o "$controllers" cgroup "$point"
    done
fi
[ -f /etc/ssh/ssh_host_ed25519_key ] || ssh-keygen -q -t ed25519 -N "" -f /etc/ssh/ssh_host_ed25519_key
# A VM stopped (or a start cut short) leaves its engine's pid files behind: a fresh boot
# has no engine running yet, and dockerd refuses to start beside a pid file.
rm -f /var/run/docker.pid /var/run/docker/containerd/containerd.pid
# /var/lib/docker is a volume of its own: overlay2 cannot sit on the container's overlay.
dockerd --host unix:///var/run/docker.sock > /var/log/dockerd.log 2>&1 &
mkdir -p /run/sshd
exec /usr/sbin/sshd -D -e
