package io.pmig.checkpoint.nativeio;

import io.pmig.nativeio.NativeMemory;
import io.pmig.nativeio.Syscall;

/** ioctls on a namespace file (/proc/PID/ns/*), as in linux/nsfs.h. */
public final class Nsfs {
    /** _IO(0xb7, 0x4): the uid that created a user namespace, as the caller's namespace maps it. */
    private static final long NS_GET_OWNER_UID = 0xb704;

    private Nsfs() {
    }

    /** The owner uid of the user namespace file {@code path} (e.g. /proc/PID/ns/user). */
    public static int ownerUid(String path) {
        int fd = Linux.open(path, Linux.O_RDONLY | Linux.O_CLOEXEC, 0);
        try {
            NativeMemory uid = NativeMemory.allocate(4);
            Syscall.call("ioctl(" + path + ", NS_GET_OWNER_UID)", Nr.IOCTL, fd, NS_GET_OWNER_UID, uid.address());
            return uid.getInt(0);
        } finally {
            Linux.close(fd);
        }
    }
}
