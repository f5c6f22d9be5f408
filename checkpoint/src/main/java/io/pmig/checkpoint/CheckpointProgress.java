package io.pmig.checkpoint;

/**
 * How far a checkpoint has written its image, for a progress bar: called on the checkpointing
 * thread once the objects are written and after each buffer of pages. {@code expectedBytes} is
 * the exact size the image will have (known once the pages to store are found), so the last call
 * has {@code bytesWritten == expectedBytes}.
 */
@FunctionalInterface
public interface CheckpointProgress {
    CheckpointProgress NONE = (bytesWritten, expectedBytes) -> { };

    void update(long bytesWritten, long expectedBytes);
}
