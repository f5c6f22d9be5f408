package io.pmig.checkpoint;

import io.pmig.checkpoint.image.ImageException;
import io.pmig.checkpoint.image.ImageHeader;
import io.pmig.checkpoint.image.ImageObjects;
import io.pmig.checkpoint.memory.InheritedPages;
import io.pmig.checkpoint.restore.Puppet;

import java.io.IOException;

/**
 * Where a restore takes its image from: the header and every object first (all the restore needs
 * before a process exists), then the pages, written straight into the restored process.
 */
interface ImageSource {
    /** The file or peer, for messages. */
    String name();

    ImageHeader header();

    /** Refuses an image made on a machine this one cannot restore (architecture, page size, FPU state). */
    void requireCompatibleWith(ImageHeader here) throws ImageException;

    ImageObjects objects();

    /**
     * Returns once the header and the objects are authentic, or refuses the image: nothing may be made from them before.
     * A file's chunks are verified on another core meanwhile; a stream's objects are checked as it is opened.
     */
    void awaitAuthenticObjects();

    /** Writes every page into the process; returns the bytes written. A stream is read to its END here. */
    long writePages(Puppet puppet) throws IOException;

    /** Writes every page into a child that inherited its parent's pages, but those it holds already; returns the bytes. */
    long writePages(InheritedPages child) throws IOException;

    /** The image that follows this one, its pages written: the next process of a tree. */
    ImageSource next() throws IOException;
}
