package io.pmig.daemon.control;

/** Who is on the other end of the control socket, as the kernel tells it (SO_PEERCRED): process, effective user and group. */
public record Caller(int pid, int uid, int gid) {
    public boolean root() {
        return uid == 0;
    }
}
