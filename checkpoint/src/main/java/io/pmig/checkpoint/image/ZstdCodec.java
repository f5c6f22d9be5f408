package io.pmig.checkpoint.image;

import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdCompressCtx;
import com.github.luben.zstd.ZstdDecompressCtx;
import com.github.luben.zstd.ZstdException;

import java.nio.ByteBuffer;

/**
 * Page codec 1 of compressed PAGES records (image-format.md, "Compressed page runs"): one zstd frame per
 * record, through zstd-jni, whose jar carries the native library. Level 1: pages leave faster than a
 * stronger level would pack them, and a slow link is where compression runs at all.
 */
final class ZstdCodec implements AutoCloseable {
    static final int ID = 1;
    static final String NAME = "zstd";
    private static final int LEVEL = 1;
    private static final String UNAVAILABLE = loadProblem();

    private ZstdCompressCtx compressor;
    private ZstdDecompressCtx decompressor;

    /** Null when zstd's native library loads on this host, else why not. */
    static String unavailable() {
        return UNAVAILABLE;
    }

    private static String loadProblem() {
        try (ZstdCompressCtx probe = new ZstdCompressCtx()) {
            probe.setLevel(LEVEL);
            return null;
        } catch (LinkageError | RuntimeException e) {
            return "zstd's native library does not load (" + e + "); the natives are unpacked into java.io.tmpdir,"
                + " which must allow executables";
        }
    }

    /**
     * Compresses {@code raw} (direct) into {@code into} (direct, from its start) and returns the compressed length, or -1
     * when the result would not fit {@code into}: a run that does not shrink to its capacity is kept raw.
     */
    int compress(ByteBuffer raw, ByteBuffer into) {
        if (compressor == null) {
            compressor = new ZstdCompressCtx().setLevel(LEVEL).setChecksum(false).setContentSize(false);
        }
        try {
            return compressor.compressDirectByteBuffer(into, 0, into.capacity(), raw, raw.position(), raw.remaining());
        } catch (ZstdException e) {
            return -1;  // "destination buffer too small": it did not shrink enough
        }
    }

    /**
     * Decompresses {@code compressed} (direct) into the first {@code capacity} bytes of {@code into} (direct) and returns
     * the length, -1 when it would not fit; throws ZstdException when it is no zstd frame.
     */
    int decompress(ByteBuffer compressed, ByteBuffer into, int capacity) {
        if (decompressor == null) {
            decompressor = new ZstdDecompressCtx();
        }
        try {
            return decompressor.decompressDirectByteBuffer(into, 0, capacity, compressed, compressed.position(), compressed.remaining());
        } catch (ZstdException e) {
            if (e.getErrorCode() == Zstd.errDstSizeTooSmall()) {
                return -1;
            }
            throw e;
        }
    }

    @Override
    public void close() {
        if (compressor != null) {
            compressor.close();
        }
        if (decompressor != null) {
            decompressor.close();
        }
    }
}
