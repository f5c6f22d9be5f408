package io.pmig.vip.nativeio;

/** x86_64 system call numbers the VIP manager uses, as in asm/unistd_64.h. */
public final class Nr {
    public static final int WRITE = 1;
    public static final int OPEN = 2;
    public static final int CLOSE = 3;
    public static final int POLL = 7;
    public static final int IOCTL = 16;
    public static final int SOCKET = 41;
    public static final int SENDTO = 44;
    public static final int RECVFROM = 45;
    public static final int BIND = 49;
    public static final int SETSOCKOPT = 54;
    public static final int SETNS = 308;
    public static final int BPF = 321;

    private Nr() {
    }
}
