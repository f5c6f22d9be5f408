package io.pmig.checkpoint;

import io.pmig.checkpoint.image.Image;
import io.pmig.checkpoint.image.ImageException;
import io.pmig.checkpoint.image.ImageHeader;
import io.pmig.checkpoint.image.ImageObjects;
import io.pmig.checkpoint.image.PageRun;
import io.pmig.checkpoint.imagedir.ImageMac;
import io.pmig.checkpoint.memory.InheritedPages;
import io.pmig.checkpoint.memory.MemoryRestorer;
import io.pmig.checkpoint.restore.Puppet;

import java.io.IOException;
import java.util.List;

/**
 * An image file, memory-mapped and its framing checked before the restore starts; pages go from the mapping. Its
 * chunks are authenticated meanwhile ({@code verification}): the objects' before the restore acts on them, every one
 * once the pages are in the (stopped) process, before anything else is done to it.
 */
final class MappedImageSource implements ImageSource {
    private final Image image;
    private final ImageMac.Verification verification;

    MappedImageSource(Image image, ImageMac.Verification verification) {
        this.image = image;
        this.verification = verification;
    }

    @Override
    public String name() {
        return image.file().toString();
    }

    @Override
    public ImageHeader header() {
        return image.header();
    }

    @Override
    public void requireCompatibleWith(ImageHeader here) throws ImageException {
        image.requireCompatibleWith(here);
    }

    @Override
    public ImageObjects objects() {
        return image.objects();
    }

    /** The chunks up to the first page's (the header and every object come before it) are authentic. */
    @Override
    public void awaitAuthenticObjects() {
        List<PageRun> runs = image.pageRuns();
        if (runs.isEmpty()) {
            verification.awaitAll();
        } else {
            verification.awaitUpTo(runs.get(0).dataOffset());
        }
    }

    @Override
    public long writePages(Puppet puppet) throws IOException {
        long bytes = MemoryRestorer.fillPages(puppet, image);
        verification.awaitAll();
        return bytes;
    }

    /** A mapped image is one process's: no parent to inherit from. */
    @Override
    public long writePages(InheritedPages child) {
        throw new IllegalStateException(image.file() + " is mapped as the image of a single process");
    }

    /** A mapped image is one process's; a tree's file is read as a stream (RestoreEngine#restore(Path, RestoreOptions)). */
    @Override
    public ImageSource next() {
        throw new IllegalStateException(image.file() + " is mapped as the image of a single process");
    }
}
