#!/bin/bash
# Runs every test program once without checkpoint, the way the Java harness does (detached, stdin
# /dev/null, stdout+stderr appended to STATEDIR/log, no inherited descriptors), and prints each result.
#   run-standalone.sh BINDIR [PAUSE_SECONDS] [PROGRAM...]
# PAUSE_SECONDS (default 0) waits between ready and go. Exit status 0 iff every program PASSes.
set -u
bindir=${1:?usage: run-standalone.sh BINDIR [PAUSE_SECONDS] [PROGRAM...]}
pause=${2:-0}
shift $(( $# >= 2 ? 2 : 1 ))
progs=("$@")
[ ${#progs[@]} -gt 0 ] || progs=(mem threads signals timers procstate fds inotify)
failed=0
for p in "${progs[@]}"; do
    d=$(mktemp -d "/tmp/pmig-standalone-$p.XXXXXX")
    # close every inherited descriptor above 2, then run detached in its own session
    ( for f in /proc/self/fd/*; do n=${f##*/}; [ "$n" -gt 2 ] && eval "exec $n>&-" 2>/dev/null; done
      exec setsid "$bindir/$p" "$d" </dev/null >>"$d/log" 2>&1 ) &
    pid=$!
    for _ in $(seq 800); do [ -e "$d/ready" ] && break; kill -0 $pid 2>/dev/null || break; sleep 0.025; done
    if [ ! -e "$d/ready" ]; then
        echo "$p: never ready"; cat "$d/log"; kill -9 $pid 2>/dev/null; failed=1; rm -rf "$d"; continue
    fi
    sleep "$pause"
    touch "$d/go"
    for _ in $(seq 1200); do [ -e "$d/result" ] && break; sleep 0.025; done
    wait $pid; rc=$?
    result=$(cat "$d/result" 2>/dev/null || echo "NO RESULT")
    echo "$p: exit $rc, $result"
    if [ "$rc" != 0 ] || [ "$result" != PASS ]; then failed=1; cat "$d/log"; kill -9 $pid 2>/dev/null; fi
    rm -rf "$d"
done
exit $failed
