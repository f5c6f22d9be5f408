#!/bin/sh
# Starts corosync and Pacemaker in a lab node, with state of the node's own: runs inside the node
# (its own mount namespace), so the tmpfs mounts vanish with it. Arguments: this node's name, then
# NAME=ADDRESS for every node of the cluster.
set -eu
self=$1
shift
for dir in /var/lib/pacemaker /var/lib/corosync /etc/corosync /var/log/pacemaker /var/log/corosync /run/crm /dev/shm; do
    mkdir -p "$dir"
    mount -t tmpfs -o mode=0755 "pacemaker-$self" "$dir"
done
chmod 1777 /dev/shm
# corosync locks /run/corosync.pid, a path every node sees: each node locks a file of its own there
[ -e /run/corosync.pid ] || : > /run/corosync.pid
: > /var/lib/corosync/corosync.pid
mount --bind /var/lib/corosync/corosync.pid /run/corosync.pid
mkdir -p /var/lib/pacemaker/cib /var/lib/pacemaker/pengine /var/lib/pacemaker/blackbox /var/lib/pacemaker/cores
chown -R hacluster:haclient /var/lib/pacemaker /var/log/pacemaker

{
    printf 'totem {\n  version: 2\n  cluster_name: pmiglab\n  transport: knet\n  crypto_cipher: none\n  crypto_hash: none\n}\n'
    printf 'nodelist {\n'
    id=1
    for node in "$@"; do
        printf '  node {\n    name: %s\n    nodeid: %d\n    ring0_addr: %s\n  }\n' "${node%%=*}" "$id" "${node#*=}"
        id=$((id + 1))
    done
    printf '}\n'
    two_node=$([ $# -eq 2 ] && echo 1 || echo 0)
    printf 'quorum {\n  provider: corosync_votequorum\n  two_node: %s\n}\n' "$two_node"
    printf 'logging {\n  to_logfile: yes\n  logfile: /var/log/corosync/corosync.log\n  to_syslog: no\n  to_stderr: no\n}\n'
} > /etc/corosync/corosync.conf

corosync
setsid pacemakerd </dev/null >/var/log/pacemaker/pacemakerd.out 2>&1 &
