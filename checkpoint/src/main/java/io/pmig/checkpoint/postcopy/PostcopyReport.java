package io.pmig.checkpoint.postcopy;

/**
 * What a post-copy moved, as one side saw it: the pages left at the source when the copy resumed, those sent because
 * the copy touched them ({@code pagesOnFault}) and those pushed in address order ({@code pagesPushed}), and the time
 * from the copy's resume (the source's first page) to the last page in place.
 */
public record PostcopyReport(long pagesLeft, long pagesOnFault, long pagesPushed, long nanos) {
}
