package io.pmig.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pmig.checkpoint.CheckpointReport;
import io.pmig.checkpoint.RestoreReport;
import io.pmig.checkpoint.StepTimes;
import java.nio.file.Path;

/**
 * What {@code pmig checkpoint} and {@code pmig restore} print, as text or as JSON with the same
 * fields. The rate is memory bytes over the command's total time.
 */
final class Reports {
    private Reports() {
    }

    static String text(CheckpointReport r) {
        long rate = Units.bytesPerSecond(r.pageBytes(), r.totalNanos());
        return "checkpointed pid " + r.pid() + " into " + r.image()
                + (r.leftRunning() ? " (the process was left running)" : " (the process was killed after the checkpoint)")
                + "\n" + row("processes", processes(r.processes()))
                + row("threads", r.threads())
                + row("mappings", r.mappings())
                + row("memory", r.pagesStored() + " pages, " + Units.bytes(r.pageBytes()))
                + row("descriptors", r.descriptors())
                + row("image", Units.bytes(r.imageBytes()))
                + row("frozen", Units.duration(r.frozenNanos()))
                + row("total", Units.duration(r.totalNanos()) + (rate > 0 ? ", " + Units.rate(rate) : ""));
    }

    static ObjectNode json(CheckpointReport r) {
        ObjectNode json = Json.object();
        json.put("pid", r.pid());
        json.put("image", r.image().toString());
        r.processes().forEach(json.putArray("processes")::add);
        json.put("threads", r.threads());
        json.put("mappings", r.mappings());
        json.put("pagesStored", r.pagesStored());
        json.put("pageBytes", r.pageBytes());
        json.put("imageBytes", r.imageBytes());
        json.put("descriptors", r.descriptors());
        json.put("leftRunning", r.leftRunning());
        json.put("frozenNanos", r.frozenNanos());
        json.put("totalNanos", r.totalNanos());
        json.put("bytesPerSecond", Units.bytesPerSecond(r.pageBytes(), r.totalNanos()));
        putSteps(json.putArray("frozenSteps"), r.steps());
        putSteps(json.putArray("totalSteps"), r.totalSteps());
        return json;
    }

    static String text(RestoreReport r, Path image) {
        long rate = Units.bytesPerSecond(r.pageBytes(), r.totalNanos());
        return "restored pid " + r.pid() + " from " + image
                + "\n" + row("processes", processes(r.processes()))
                + row("threads", r.threads())
                + row("mappings", r.mappings())
                + row("memory", r.pagesRestored() + " pages, " + Units.bytes(r.pageBytes()))
                + row("descriptors", r.descriptors())
                + row("total", Units.duration(r.totalNanos()) + (rate > 0 ? ", " + Units.rate(rate) : ""));
    }

    static ObjectNode json(RestoreReport r, Path image) {
        ObjectNode json = Json.object();
        json.put("pid", r.pid());
        json.put("image", image.toString());
        r.processes().forEach(json.putArray("processes")::add);
        json.put("threads", r.threads());
        json.put("mappings", r.mappings());
        json.put("pagesRestored", r.pagesRestored());
        json.put("pageBytes", r.pageBytes());
        json.put("descriptors", r.descriptors());
        json.put("totalNanos", r.totalNanos());
        json.put("bytesPerSecond", Units.bytesPerSecond(r.pageBytes(), r.totalNanos()));
        putSteps(json.putArray("steps"), r.steps());
        return json;
    }

    /** Where the time went, as pmig migrate reports it: [{"step": "freeze", "millis": 1.2}, ...]. */
    private static void putSteps(ArrayNode into, StepTimes times) {
        times.steps().forEach(s -> into.addObject().put("step", s.name()).put("millis", s.nanos() / 1e6));
    }

    /** "1234", or "1234 and its 3 descendants: 1235 1236 1240" for a tree (the root first). */
    private static String processes(java.util.List<Integer> pids) {
        String all = pids.stream().map(String::valueOf).collect(java.util.stream.Collectors.joining(" "));
        return pids.size() == 1 ? all : pids.get(0) + " and its " + (pids.size() - 1) + " descendant(s): "
            + all.substring(all.indexOf(' ') + 1);
    }

    private static String row(String name, Object value) {
        return String.format("  %-12s %s%n", name, value);
    }
}
