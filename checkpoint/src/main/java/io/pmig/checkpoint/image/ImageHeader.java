package io.pmig.checkpoint.image;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

public record ImageHeader(
        int formatVersion,
        String arch,
        int pageSize,
        String kernelRelease,
        long xfeatures,
        int xstateSize,
        String createdBy,
        long createdAtMillis) {

    /** The version of an image whose pages are all stored raw: readers of version 1 read it. */
    public static final int FORMAT_VERSION = 1;
    /** The version of an image that may hold compressed page runs (image-format.md, "Compressed page runs"). */
    public static final int COMPRESSED_PAGES_VERSION = 2;

    private static final int DEFAULT_PAGE_SIZE = 4096;
    private static final long AT_PAGESZ = 6;

    public static ImageHeader forThisMachine(long xfeatures, int xstateSize) {
        return new ImageHeader(FORMAT_VERSION, hostArch(), hostPageSize(), hostKernelRelease(),
                xfeatures, xstateSize, "pmig " + pmigVersion(), System.currentTimeMillis());
    }

    /** This header in an image of format version {@code version}. */
    public ImageHeader withFormatVersion(int version) {
        return new ImageHeader(version, arch, pageSize, kernelRelease, xfeatures, xstateSize, createdBy, createdAtMillis);
    }

    static boolean isReadableVersion(int version) {
        return version == FORMAT_VERSION || version == COMPRESSED_PAGES_VERSION;
    }

    public static String hostArch() {
        String arch = System.getProperty("os.arch", "unknown").toLowerCase(Locale.ROOT);
        return switch (arch) {
            case "amd64", "x86_64", "x64" -> "x86_64";
            case "aarch64", "arm64" -> "aarch64";
            case "x86", "i386", "i486", "i586", "i686" -> "i386";
            case "ppc64le", "powerpc64le" -> "ppc64le";
            default -> arch;
        };
    }

    public static String hostKernelRelease() {
        try {
            return Files.readString(Path.of("/proc/sys/kernel/osrelease")).trim();
        } catch (IOException | RuntimeException e) {
            return System.getProperty("os.version", "unknown");
        }
    }

    // The kernel hands every process its page size in the aux vector; nothing else in the JDK exposes it.
    public static int hostPageSize() {
        try {
            byte[] auxv = Files.readAllBytes(Path.of("/proc/self/auxv"));
            boolean wide = !"32".equals(System.getProperty("sun.arch.data.model"));
            int word = wide ? 8 : 4;
            ByteBuffer b = ByteBuffer.wrap(auxv).order(ByteOrder.nativeOrder());
            while (b.remaining() >= 2 * word) {
                long key = wide ? b.getLong() : Integer.toUnsignedLong(b.getInt());
                long value = wide ? b.getLong() : Integer.toUnsignedLong(b.getInt());
                if (key == 0) {
                    break;
                }
                if (key == AT_PAGESZ && isValidPageSize(value)) {
                    return (int) value;
                }
            }
        } catch (IOException | RuntimeException e) {
            // Not Linux or /proc not mounted: fall through to the common page size.
        }
        return DEFAULT_PAGE_SIZE;
    }

    static String pmigVersion() {
        String v = ImageHeader.class.getPackage().getImplementationVersion();
        if (v == null || v.isBlank()) {
            return "0.1.0";
        }
        return v.endsWith("-SNAPSHOT") ? v.substring(0, v.length() - "-SNAPSHOT".length()) : v;
    }

    static boolean isValidPageSize(long size) {
        return size >= 1024 && size <= (1 << 20) && Long.bitCount(size) == 1;
    }

    List<String> problemsAsHeader(int fileVersion) {
        List<String> problems = new ArrayList<>();
        if (formatVersion != fileVersion) {
            problems.add("formatVersion " + formatVersion + " does not match the file's format version " + fileVersion);
        }
        if (arch == null || arch.isBlank()) {
            problems.add("arch is missing");
        }
        if (!isValidPageSize(pageSize)) {
            problems.add("pageSize " + pageSize + " is not a power of two between 1024 and 1048576");
        }
        if (xstateSize < 0) {
            problems.add("xstateSize " + xstateSize + " is negative");
        }
        return problems;
    }

    List<String> incompatibilitiesWith(ImageHeader here) {
        List<String> problems = new ArrayList<>();
        if (!String.valueOf(arch).equals(here.arch)) {
            problems.add("the architecture differs");
        }
        if (pageSize != here.pageSize) {
            problems.add("the page size differs");
        }
        long missing = xfeatures & ~here.xfeatures;
        if (missing != 0) {
            problems.add("the image uses XSAVE features 0x" + Long.toHexString(missing) + " that this CPU lacks");
        }
        if (xstateSize > here.xstateSize) {
            problems.add("the image's xstate area (" + xstateSize + " bytes) is larger than this CPU's ("
                    + here.xstateSize + " bytes)");
        }
        return problems;
    }

    void requireCompatibleWith(ImageHeader here, String source) throws ImageException {
        List<String> problems = incompatibilitiesWith(here);
        if (!problems.isEmpty()) {
            throw new ImageException(ImageException.Reason.INCOMPATIBLE, source, "image made on " + describeMachine()
                    + "; this host is " + here.describeMachine() + ": " + String.join("; ", problems));
        }
    }

    String describeMachine() {
        return arch + "/" + kernelRelease + " (page size " + pageSize + ", xfeatures 0x" + Long.toHexString(xfeatures)
                + ", xstate " + xstateSize + " bytes)";
    }
}
