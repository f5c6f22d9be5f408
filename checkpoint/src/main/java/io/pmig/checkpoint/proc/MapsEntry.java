package io.pmig.checkpoint.proc;

/** One line of /proc/PID/maps. {@code path} is empty for anonymous memory. */
public record MapsEntry(long start, long end, String perms, long offset, int devMajor, int devMinor, long inode, String path) {
    public long length() {
        return end - start;
    }

    public boolean readable() {
        return perms.charAt(0) == 'r';
    }

    public boolean writable() {
        return perms.charAt(1) == 'w';
    }

    public boolean executable() {
        return perms.charAt(2) == 'x';
    }

    public boolean shared() {
        return perms.charAt(3) == 's';
    }

    /** vdso, vvar, vsyscall: the kernel's own mappings, which each kernel provides itself. */
    public boolean kernelSpecial() {
        return path.equals("[vdso]") || path.startsWith("[vvar") || path.equals("[vsyscall]");
    }

    /** Backed by a file that can be reopened by path (not anonymous, not [heap]/[stack], not deleted). */
    public boolean fileBacked() {
        return inode != 0 && path.startsWith("/");
    }

    public static MapsEntry parse(String line) {
        // 7f0d0a2e4000-7f0d0a2e6000 rw-p 00034000 fd:01 1234   /usr/lib/x.so
        int dash = line.indexOf('-');
        int sp1 = line.indexOf(' ', dash);
        int sp2 = line.indexOf(' ', sp1 + 1);
        int sp3 = line.indexOf(' ', sp2 + 1);
        int sp4 = line.indexOf(' ', sp3 + 1);
        int sp5 = line.indexOf(' ', sp4 + 1);
        if (dash < 0 || sp1 < 0 || sp2 < 0 || sp3 < 0 || sp4 < 0) {
            throw new IllegalArgumentException("not a maps line: " + line);
        }
        long start = Long.parseUnsignedLong(line.substring(0, dash), 16);
        long end = Long.parseUnsignedLong(line.substring(dash + 1, sp1), 16);
        String perms = line.substring(sp1 + 1, sp2);
        long offset = Long.parseUnsignedLong(line.substring(sp2 + 1, sp3), 16);
        String dev = line.substring(sp3 + 1, sp4);
        int colon = dev.indexOf(':');
        int major = Integer.parseInt(dev.substring(0, colon), 16);
        int minor = Integer.parseInt(dev.substring(colon + 1), 16);
        String inodeText = sp5 < 0 ? line.substring(sp4 + 1) : line.substring(sp4 + 1, sp5);
        long inode = Long.parseLong(inodeText.trim());
        String path = sp5 < 0 ? "" : line.substring(sp5).trim();
        return new MapsEntry(start, end, perms, offset, major, minor, inode, path);
    }
}
