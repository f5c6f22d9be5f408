package io.pmig.checkpoint.imagedir;

import io.pmig.checkpoint.RefusedException;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import javax.crypto.Cipher;
import javax.crypto.Mac;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * The authentication of an image file under the node key ({@link NodeKey}), kept next to it in
 * {@code image.pmig.mac} as one line {@code aes-gcm-chunks <nonce> <HMAC> <tag>...} in hex
 * (docs/image-format.md, "Authentication of image files"): every {@value #CHUNK_BYTES}-byte chunk of the file
 * has the AES-256-GCM tag of its encryption (the ciphertext thrown away) under a key derived from the node key,
 * with the image's random nonce and the chunk's index as IV; the HMAC-SHA256 under the node key of the nonce, the
 * tags in order and the file's length authenticates them all. AES-GCM runs at several GB/s a core (AES-NI,
 * VAES, VPCLMULQDQ), SHA-256 under 2, and each chunk can be checked alone: a checkpoint tags the chunks on every core
 * once the image is complete (tagging while it was written slowed its writing by more than the tagging took, on 2
 * cores: the frozen part of a 500 MB checkpoint 270-289 -> 212-226 ms, the whole 339-358 -> 328-339), a restore checks the objects' chunks before it acts on them and the pages' while it copies them into
 * the stopped process. Files of the first format ({@code hmac-sha256 <64 hex digits>}, the HMAC of the whole
 * file) are still verified.
 */
public final class ImageMac {
    public static final String SUFFIX = ".mac";
    /** The bytes of a chunk (the last may be shorter): part of the format. */
    public static final int CHUNK_BYTES = 4 << 20;
    private static final String PREFIX = "aes-gcm-chunks ";
    private static final String HMAC_PREFIX = "hmac-sha256 ";
    private static final byte[] DOMAIN = "pmig image chunks 1".getBytes(StandardCharsets.US_ASCII);
    private static final int NONCE_BYTES = 8;
    private static final int TAG_BITS = 128;
    /** How much of a chunk is encrypted at once: the thrown-away ciphertext stays in the cache. */
    private static final int PIECE = 16 << 10;
    /** How much of a chunk is read from the file at once. */
    private static final int READ_BYTES = 1 << 20;
    /** A warm-up ends once a MiB is tagged this fast (over 2 GB/s), or after this long at the most. */
    private static final long WARM_MIB_NANOS = 500_000;
    /** The bytes of each of a warm-up's first, short, tags. */
    private static final int WARM_UP_SHORT_TAG = 4096;
    private static final long WARM_UP_LIMIT_NANOS = 3_000_000_000L;
    /** The length of the line without its tags: the prefix, 16 and 64 hex digits, a space and a newline. */
    private static final int LINE_BYTES = PREFIX.length() + 2 * NONCE_BYTES + 1 + 64 + 1;
    private static final SecureRandom RANDOM = new SecureRandom();

    private ImageMac() {
    }

    /** Gives {@code out}, a file {@link ImageDirectory#createNew made new}, the size of an authentication line without its tags. */
    public static void reserve(FileChannel out) throws IOException {
        writeAt0(out, ByteBuffer.wrap(PREFIX.getBytes(StandardCharsets.US_ASCII)), LINE_BYTES);
    }

    /** Writes {@code line} (a {@link #sign}) into {@code out} (a file made new, {@link #reserve reserved} or not); leaves it open. */
    public static void write(FileChannel out, String line) throws IOException {
        byte[] bytes = line.getBytes(StandardCharsets.US_ASCII);
        writeAt0(out, ByteBuffer.wrap(bytes), bytes.length);
        out.force(true);
    }

    /** The authentication line of the complete file {@code image}, computed on every core. */
    public static String sign(Path image, NodeKey key) throws IOException {
        byte[] nonce = new byte[NONCE_BYTES];
        RANDOM.nextBytes(nonce);
        try (FileChannel in = FileChannel.open(image, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
            long length = in.size();
            int chunks = Math.toIntExact((length + CHUNK_BYTES - 1) / CHUNK_BYTES);
            return line(nonce, tagsOf(in, length, key.chunkCipherKey(), nonce, 0, chunks, Runtime.getRuntime().availableProcessors()), key,
                length);
        }
    }

    /** Writes {@code length} bytes of {@code bytes}, zeros after them, at the start of {@code out}. */
    private static void writeAt0(FileChannel out, ByteBuffer bytes, int length) throws IOException {
        ByteBuffer all = ByteBuffer.allocate(length).put(bytes).position(0);
        for (long at = 0; all.hasRemaining(); ) {
            at += out.write(all, at);
        }
    }

    /**
     * Refuses {@code image} unless {@code image}.mac authenticates its bytes under {@code key}: it was
     * written by a checkpoint on a node with this key, and not changed since.
     */
    public static void verify(Path image, NodeKey key) {
        Authentication authentication = authentication(image, key);
        try (FileChannel in = FileChannel.open(image, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
            authentication.verify(in, 0, in.size(), Runtime.getRuntime().availableProcessors());
        } catch (IOException e) {
            throw new RefusedException("cannot read the image " + image + ": " + e.getMessage(), e);
        }
    }

    /**
     * The authentication of {@code image}, its own HMAC checked against the file's length, to {@link Authentication#verify}
     * the file's chunks with: refused if missing, not an authentication, or not this image's under {@code key}. A file
     * of the first format is verified whole here.
     */
    public static Authentication authentication(Path image, NodeKey key) {
        Path macFile = image.resolveSibling(image.getFileName() + SUFFIX);
        String stored;
        long length;
        try {
            stored = Files.readString(macFile, StandardCharsets.US_ASCII);
            length = Files.size(image);
        } catch (NoSuchFileException e) {
            throw new RefusedException("the image " + image + " has no authentication (" + macFile + "), so pmig will not restore"
                + " it: make images with pmig checkpoint, which writes it");
        } catch (IOException e) {
            throw new RefusedException("cannot read " + macFile + ": " + e.getMessage(), e);
        }
        Authentication authentication = new Authentication(image, key);
        if (stored.matches(HMAC_PREFIX + "[0-9a-f]{64}\n")) {
            try (FileChannel in = FileChannel.open(image, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
                authentication.require(HexFormat.of().parseHex(stored, HMAC_PREFIX.length(), stored.length() - 1), wholeFileHmac(in, key));
            } catch (IOException e) {
                throw new RefusedException("cannot read the image " + image + ": " + e.getMessage(), e);
            }
            return authentication;
        }
        if (!stored.matches(PREFIX + "[0-9a-f]{16} [0-9a-f]{64}( [0-9a-f]{32})*\n")) {
            throw new RefusedException(macFile + " is not an image authentication (one line: aes-gcm-chunks, a nonce, an HMAC and"
                + " a tag per chunk, in hex)");
        }
        String[] fields = stored.trim().split(" ");
        byte[] nonce = HexFormat.of().parseHex(fields[1]);
        byte[][] tags = new byte[fields.length - 3][];
        for (int i = 0; i < tags.length; i++) {
            tags[i] = HexFormat.of().parseHex(fields[3 + i]);
        }
        authentication.require(HexFormat.of().parseHex(fields[2]), combined(key, nonce, tags, length));
        authentication.chunks(nonce, tags);
        return authentication;
    }

    /** The stored tag of each chunk of an image file, authenticated: its chunks are verified against them in any order. */
    public static final class Authentication {
        private final Path image;
        private final NodeKey key;
        private byte[] nonce;
        /** Null for a file of the first format, verified whole when its authentication was read. */
        private byte[][] tags;

        private Authentication(Path image, NodeKey key) {
            this.image = image;
            this.key = key;
        }

        private void chunks(byte[] nonce, byte[][] tags) {
            this.nonce = nonce;
            this.tags = tags;
        }

        /**
         * Refuses the image unless every chunk holding a byte of [{@code from}, {@code to}) of {@code in} (the image,
         * open) has its tag; {@code workers} threads at most (this one included) share the chunks.
         */
        public void verify(FileChannel in, long from, long to, int workers) throws IOException {
            if (tags == null || from >= to) {
                return;
            }
            int first = Math.toIntExact(from / CHUNK_BYTES);
            int end = Math.toIntExact((to + CHUNK_BYTES - 1) / CHUNK_BYTES);
            byte[][] actual = tagsOf(in, in.size(), key.chunkCipherKey(), nonce, first, end, workers);
            for (int i = first; i < end; i++) {
                require(tags[i], actual[i - first]);
            }
        }

        /**
         * Starts verifying every chunk of {@code in} (the image, open), in file order, on {@code workers} threads of their
         * own; the returned verification tells how far they got, and a thread that waits for it helps.
         */
        public Verification verifyInBackground(FileChannel in, int workers) throws IOException {
            Verification verification = new Verification(this, in);
            for (int i = 0; i < Math.min(workers, verification.chunks); i++) {
                Thread thread = new Thread(() -> verification.verifyUpTo(verification.chunks), "pmig-image-verify-" + i);
                thread.setDaemon(true);
                thread.start();
            }
            return verification;
        }

        private void require(byte[] expected, byte[] actual) {
            if (!MessageDigest.isEqual(expected, actual)) {
                throw new RefusedException("the image " + image + " does not authenticate with this node's key " + key.file()
                    + ": it was changed after pmig checkpoint wrote it, or made on a node with another key; pmig will not restore it");
            }
        }
    }

    /**
     * The chunks of an image file verified in file order on threads of their own ({@link Authentication#verifyInBackground}),
     * each from a mapping of the file (reading it would copy every byte once more): a restore waits for the chunks of the
     * objects before it acts on them, and for every chunk before the process it built may run.
     */
    public static final class Verification implements AutoCloseable {
        private final Authentication authentication;
        private final FileChannel in;
        private final long length;
        private final int chunks;
        /** The next chunk no thread has taken. */
        private final AtomicInteger next = new AtomicInteger();
        /** Guarded by this: the chunks found authentic, the first refusal. */
        private final boolean[] authentic;
        private RuntimeException failure;
        private volatile boolean closed;

        private Verification(Authentication authentication, FileChannel in) throws IOException {
            this.authentication = authentication;
            this.in = in;
            this.length = in.size();
            // a file of the first format was verified whole when its authentication was read
            this.chunks = authentication.tags == null ? 0 : Math.toIntExact((length + CHUNK_BYTES - 1) / CHUNK_BYTES);
            this.authentic = new boolean[chunks];
        }

        /** Returns once every chunk holding a byte of [0, {@code to}) is authentic, verifying chunks meanwhile; throws the refusal if one is not. */
        public void awaitUpTo(long to) {
            int needed = (int) Math.min(chunks, (to + CHUNK_BYTES - 1) / CHUNK_BYTES);
            verifyUpTo(needed);
            synchronized (this) {
                boolean interrupted = false;
                while (failure == null && !authenticUpTo(needed)) {
                    try {
                        wait();
                    } catch (InterruptedException e) {
                        interrupted = true;
                    }
                }
                if (interrupted) {
                    Thread.currentThread().interrupt();
                }
                if (failure != null) {
                    throw failure;
                }
            }
        }

        /** {@link #awaitUpTo} the end of the file. */
        public void awaitAll() {
            awaitUpTo(length);
        }

        /** No thread takes another chunk; the verification is given up. */
        @Override
        public void close() {
            closed = true;
        }

        private boolean authenticUpTo(int needed) {
            for (int i = 0; i < needed; i++) {
                if (!authentic[i]) {
                    return false;
                }
            }
            return true;
        }

        /** Verifies chunks no thread has taken, in order, while there are some before {@code limit}. */
        private void verifyUpTo(int limit) {
            ChunkTagger tagger = null;
            for (int i = next.get(); i < limit && !closed; i = next.get()) {
                if (!next.compareAndSet(i, i + 1)) {
                    continue;
                }
                tagger = tagger == null ? new ChunkTagger(authentication.key.chunkCipherKey(), authentication.nonce) : tagger;
                long from = (long) i * CHUNK_BYTES;
                try {
                    ByteBuffer chunk = in.map(FileChannel.MapMode.READ_ONLY, from, Math.min(CHUNK_BYTES, length - from));
                    authentication.require(authentication.tags[i], tagger.tag(chunk, i));
                    synchronized (this) {
                        authentic[i] = true;
                        notifyAll();
                    }
                } catch (IOException | RuntimeException e) {
                    synchronized (this) {
                        failure = failure != null ? failure : e instanceof RefusedException r ? r
                            : new RefusedException("cannot read the image " + authentication.image + ": " + e.getMessage(), e);
                        notifyAll();
                    }
                    closed = true;
                }
            }
        }
    }

    /**
     * Runs the tagging until the JIT has compiled it with the CPU's AES and carry-less multiply instructions: cold, it
     * tags under 100 MB/s, which would cost a daemon's first checkpoint to a file (or restore from one) a second per GB.
     * The JIT compiles after so many calls: many short tags first (a call at a fraction of a MiB's cost), then tags of the
     * buffers a tagger is given, until a MiB takes under {@value #WARM_MIB_NANOS} ns (a slower tagging, half compiled, had
     * passed a laxer bar and stayed in use, at a few hundred MB/s).
     */
    public static void warmUp() {
        byte[] throwAway = new byte[32];
        RANDOM.nextBytes(throwAway);
        ChunkTagger tagger = new ChunkTagger(new SecretKeySpec(throwAway, "AES"), new byte[NONCE_BYTES]);
        // buffers of the classes a tagger is given: one a file is read into (a checkpoint's tags) and a read-only one, as a
        // file mapped to be verified is; code compiled for one class would be compiled again for the other
        ByteBuffer read = ByteBuffer.allocateDirect(READ_BYTES);
        ByteBuffer mapped = read.asReadOnlyBuffer();
        long deadline = System.nanoTime() + WARM_UP_LIMIT_NANOS;
        int index = 0;
        for (boolean warm = false; !warm && System.nanoTime() < deadline; ) {
            long t = System.nanoTime();
            for (int at = 0; at < READ_BYTES; at += WARM_UP_SHORT_TAG, index++) {
                tagger.tag(read.clear().position(at).limit(at + WARM_UP_SHORT_TAG), index);
            }
            warm = System.nanoTime() - t < WARM_MIB_NANOS;
        }
        boolean readWarm = false;
        boolean mappedWarm = false;
        while (!(readWarm && mappedWarm) && System.nanoTime() < deadline) {
            boolean even = index % 2 == 0;
            long t = System.nanoTime();
            tagger.tag(even ? read.clear() : mapped.clear(), index++);
            boolean warm = System.nanoTime() - t < WARM_MIB_NANOS;
            readWarm |= even && warm;
            mappedWarm |= !even && warm;
        }
    }

    /** The first format: the HMAC-SHA256 of every byte of the file. */
    private static byte[] wholeFileHmac(FileChannel in, NodeKey key) throws IOException {
        Mac mac = key.newMac();
        ByteBuffer buffer = ByteBuffer.allocateDirect(1 << 20);
        while (in.read(buffer.clear()) >= 0) {
            mac.update(buffer.flip());
        }
        return mac.doFinal();
    }

    /**
     * The tags of chunks [{@code first}, {@code end}) of the first {@code length} bytes of {@code in}, shared out to
     * {@code workers} threads at most (this one included).
     */
    private static byte[][] tagsOf(FileChannel in, long length, SecretKeySpec cipherKey, byte[] nonce, int first, int end, int workers)
        throws IOException {
        byte[][] tags = new byte[end - first][];
        AtomicInteger next = new AtomicInteger(first);
        List<Thread> helpers = new ArrayList<>();
        IOException[] failure = new IOException[1];
        Runnable work = () -> {
            ChunkTagger tagger = new ChunkTagger(cipherKey, nonce);
            try {
                for (int i = next.getAndIncrement(); i < end; i = next.getAndIncrement()) {
                    tags[i - first] = tagger.tag(in, i, length);
                }
            } catch (IOException e) {
                synchronized (failure) {
                    failure[0] = e;
                }
                next.set(end);
            }
        };
        for (int i = 1; i < Math.min(workers, end - first); i++) {
            Thread helper = new Thread(work, "pmig-image-mac-" + i);
            helper.setDaemon(true);
            helper.start();
            helpers.add(helper);
        }
        work.run();
        for (Thread helper : helpers) {
            joinUninterruptibly(helper);
        }
        synchronized (failure) {
            if (failure[0] != null) {
                throw failure[0];
            }
        }
        return tags;
    }

    /** The HMAC under the node key of what the line authenticates: the nonce, each chunk's tag in order, the length. */
    private static byte[] combined(NodeKey key, byte[] nonce, byte[][] tags, long length) {
        Mac mac = key.newMac();
        mac.update(DOMAIN);
        mac.update(nonce);
        for (byte[] tag : tags) {
            mac.update(tag);
        }
        mac.update(ByteBuffer.allocate(Long.BYTES).order(ByteOrder.LITTLE_ENDIAN).putLong(length).array());
        return mac.doFinal();
    }

    /** The authentication line: the nonce, the HMAC of it all, each chunk's tag. */
    private static String line(byte[] nonce, byte[][] tags, NodeKey key, long length) {
        StringBuilder line = new StringBuilder(PREFIX).append(HexFormat.of().formatHex(nonce)).append(' ')
            .append(HexFormat.of().formatHex(combined(key, nonce, tags, length)));
        for (byte[] tag : tags) {
            line.append(' ').append(HexFormat.of().formatHex(tag));
        }
        return line.append('\n').toString();
    }

    private static void joinUninterruptibly(Thread thread) {
        boolean interrupted = false;
        while (true) {
            try {
                thread.join();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * One thread's AES-GCM over chunks: its cipher, the buffer the file is read into (a checkpoint reads, not maps: a
     * mapping would keep a deleted image's pages until the garbage collector unmapped it; a restore maps the file anyway)
     * and the one the ciphertext is thrown into.
     */
    private static final class ChunkTagger {
        private final SecretKeySpec key;
        private final byte[] iv = new byte[12];
        private final Cipher cipher;
        /** Made at the first chunk read from a file: a tagger given mapped chunks needs none. */
        private ByteBuffer read;
        /**
         * A piece is copied into an array before it is encrypted: the JDK's GCM runs its CPU instructions (the intrinsics) on
         * arrays, while on a direct buffer its GHASH fell back to Java code (at a few hundred MB/s) in a daemon whose code was warm.
         */
        private final byte[] piece = new byte[PIECE];
        private final byte[] scratch = new byte[PIECE + TAG_BITS / 8];

        ChunkTagger(SecretKeySpec key, byte[] nonce) {
            this.key = key;
            System.arraycopy(nonce, 0, iv, 0, NONCE_BYTES);
            try {
                cipher = Cipher.getInstance("AES/GCM/NoPadding");
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException("this JDK has no AES/GCM", e);
            }
        }

        /** The tag of chunk {@code index} of the first {@code length} bytes of {@code in}. */
        byte[] tag(FileChannel in, int index, long length) throws IOException {
            long end = Math.min((long) (index + 1) * CHUNK_BYTES, length);
            read = read == null ? ByteBuffer.allocateDirect(READ_BYTES) : read;
            begin(index);
            for (long at = (long) index * CHUNK_BYTES; at < end; ) {
                read.clear().limit((int) Math.min(READ_BYTES, end - at));
                while (read.hasRemaining()) {
                    if (in.read(read, at + read.position()) < 0) {
                        throw new EOFException("the image ends at " + (at + read.position()) + " bytes, before " + end);
                    }
                }
                at += read.flip().remaining();
                feed(read);
            }
            return end(index);
        }

        byte[] tag(ByteBuffer chunk, int index) {
            begin(index);
            feed(chunk);
            return end(index);
        }

        private void begin(int index) {
            ByteBuffer.wrap(iv, NONCE_BYTES, Integer.BYTES).putInt(index);
            try {
                cipher.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, iv));
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException("AES/GCM refused the key of image chunks: " + e.getMessage(), e);
            }
        }

        private void feed(ByteBuffer bytes) {
            try {
                while (bytes.hasRemaining()) {
                    int length = Math.min(PIECE, bytes.remaining());
                    bytes.get(piece, 0, length);
                    cipher.update(piece, 0, length, scratch, 0);
                }
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException("AES/GCM failed: " + e.getMessage(), e);
            }
        }

        private byte[] end(int index) {
            try {
                // the ciphertext of a last partial block comes out with the tag
                byte[] last = cipher.doFinal();
                return Arrays.copyOfRange(last, last.length - TAG_BITS / 8, last.length);
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException("AES/GCM failed on chunk " + index + ": " + e.getMessage(), e);
            }
        }
    }
}
