package io.pmig.checkpoint;

import io.pmig.checkpoint.image.Image;
import io.pmig.checkpoint.image.ImageException;
import io.pmig.checkpoint.image.ImageHeader;
import io.pmig.checkpoint.image.ImageObjects;
import io.pmig.checkpoint.memory.InheritedPages;
import io.pmig.checkpoint.memory.MemoryRestorer;
import io.pmig.checkpoint.restore.Puppet;

import java.io.IOException;

/** An image file, memory-mapped and verified whole before the restore starts; pages go from the mapping. */
final class MappedImageSource implements ImageSource {
    private final Image image;

    MappedImageSource(Image image) {
        this.image = image;
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
        return MemoryRestorer.fillPages(puppet, image);
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
