package io.pmig.checkpoint;

import io.pmig.checkpoint.image.Image;
import io.pmig.checkpoint.image.ImageException;
import io.pmig.checkpoint.image.ImageHeader;
import io.pmig.checkpoint.image.ImageObjects;
import io.pmig.checkpoint.memory.InheritedPages;
import io.pmig.checkpoint.memory.MemoryRestorer;
import io.pmig.checkpoint.restore.Puppet;

import java.io.IOException;

/**
 * An image file, memory-mapped and its framing checked before the restore starts; pages go from the mapping.
 * {@code afterPages} runs once they are in the (stopped) process, before anything else is done to it: what waits
 * for the pages' authentication.
 */
final class MappedImageSource implements ImageSource {
    private final Image image;
    private final Runnable afterPages;

    MappedImageSource(Image image, Runnable afterPages) {
        this.image = image;
        this.afterPages = afterPages;
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

    @Override
    public long writePages(Puppet puppet) throws IOException {
        long bytes = MemoryRestorer.fillPages(puppet, image);
        afterPages.run();
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
