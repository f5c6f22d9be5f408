import com.fasterxml.jackson.databind.JsonNode;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Page compression on the migration stream (pmig migrate --compress): a service holding MB MiB of
 * compressible (a heap of session records) or random memory (bench/src/memfill.c), moved node-a ->
 * node-b through a lab's pmigds (mutual TLS) in bundle and staged mode under a bandwidth limit, with
 * --compress off (the anchor: what a migration cost before) and auto (the default); and without a
 * limit, where auto must cost nothing. Per case, medians of RUNS of the daemon's report: total time,
 * downtime, bytes sent, the compression ratio; and auto's total time and bytes over off's, from the
 * same run (off and auto take turns). Prints a table, writes JSON.
 *
 *   java -cp LAB_MIGRATION_CLASSES:CLI_CLASSPATH bench/src/CompressionBench.java BIN_PMIG MEMFILL OUT.json RUNS MB LIMIT_MB_PER_S
 */
public class CompressionBench {
    private static final int WARM_UPS = 2;

    record Case(String memory, String mode, String limit) {
        String name() {
            return memory + ", " + mode + ", " + (limit.equals("0") ? "no limit" : limit + " MB/s");
        }
    }

    record Result(double totalMs, double downtimeMs, double bytesSent, double ratio, double ran) {
        static Result of(JsonNode report) {
            JsonNode c = report.path("compression");
            return new Result(report.path("totalMillis").asDouble(), report.path("downtimeMillis").asDouble(),
                report.path("bytesSent").asDouble(), c.path("ratio").asDouble(1), c.path("ran").asBoolean() ? 1 : 0);
        }

        static Result median(List<Result> r) {
            return new Result(LabMigration.median(r, Result::totalMs), LabMigration.median(r, Result::downtimeMs),
                LabMigration.median(r, Result::bytesSent), LabMigration.median(r, Result::ratio), LabMigration.median(r, Result::ran));
        }
    }

    record Row(Case c, Result off, Result auto) {
    }

    public static void main(String[] args) throws Exception {
        LabMigration lab = new LabMigration(args[0]).awaitWarmedUp("node-a", "node-b");
        String memfill = args[1];
        Path out = Path.of(args[2]);
        int runs = Integer.parseInt(args[3]);
        int mb = Integer.parseInt(args[4]);
        String limit = args[5];
        List<Case> cases = List.of(
            new Case("text", "bundle", limit), new Case("random", "bundle", limit),
            new Case("text", "staged", limit), new Case("random", "staged", limit),
            new Case("text", "bundle", "0"), new Case("text", "staged", "0"));
        for (int i = 0; i < WARM_UPS; i++) {
            migrate(lab, memfill, 16, new Case("text", "bundle", limit), "auto");
            migrate(lab, memfill, 16, new Case("text", "staged", "0"), "off");
        }
        List<Row> rows = new ArrayList<>();
        for (Case c : cases) {
            List<Result> off = new ArrayList<>();
            List<Result> auto = new ArrayList<>();
            for (int r = 0; r < runs; r++) {
                for (String compress : List.of("off", "auto")) {
                    Result result = migrate(lab, memfill, mb, c, compress);
                    (compress.equals("off") ? off : auto).add(result);
                    System.out.printf(Locale.ROOT, "  %s, --compress %s, run %d: total %.1f ms, downtime %.1f ms, sent %.1f MB, ratio %.2f%n",
                        c.name(), compress, r + 1, result.totalMs(), result.downtimeMs(), result.bytesSent() / 1e6, result.ratio());
                }
            }
            rows.add(new Row(c, Result.median(off), Result.median(auto)));
        }
        print(rows, runs, mb);
        writeJson(out, rows, runs, mb);
    }

    private static Result migrate(LabMigration lab, String memfill, int mb, Case c, String compress) throws Exception {
        int pid = lab.start(memfill + " " + mb + " " + c.memory(), mb);
        JsonNode report = lab.migrate(pid, "--mode", c.mode(), "--bandwidth", c.limit(), "--compress", compress);
        lab.killOnNodeB(pid);
        return Result.of(report);
    }

    private static void print(List<Row> rows, int runs, int mb) {
        System.out.printf(Locale.ROOT, "page compression, %d MB service node-a -> node-b (lab pmigds, mutual TLS), median of %d runs;"
            + " anchor: --compress off in the same run%n", mb, runs);
        System.out.printf(Locale.ROOT, "%-32s %11s %11s %11s %11s %9s %9s %7s %9s %9s%n", "case", "total off", "total auto",
            "down off", "down auto", "MB off", "MB auto", "ratio", "time a/o", "MB a/o");
        for (Row r : rows) {
            System.out.printf(Locale.ROOT, "%-32s %8.1f ms %8.1f ms %8.1f ms %8.1f ms %9.1f %9.1f %6.2fx %9.2f %9.2f%n", r.c().name(),
                r.off().totalMs(), r.auto().totalMs(), r.off().downtimeMs(), r.auto().downtimeMs(), r.off().bytesSent() / 1e6,
                r.auto().bytesSent() / 1e6, r.auto().ratio(), r.auto().totalMs() / r.off().totalMs(),
                r.auto().bytesSent() / r.off().bytesSent());
        }
    }

    private static void writeJson(Path out, List<Row> rows, int runs, int mb) throws Exception {
        StringBuilder b = new StringBuilder("{\n  \"benchmark\": \"compression\",\n  \"runs\": " + runs + ",\n  \"memoryMb\": " + mb
            + ",\n  \"anchor\": \"--compress off, same run\",\n  \"rows\": [\n");
        for (int i = 0; i < rows.size(); i++) {
            Row r = rows.get(i);
            b.append(String.format(Locale.ROOT,
                "    {\"memory\": \"%s\", \"mode\": \"%s\", \"bandwidthMegabytesPerSecond\": %s, "
                    + "\"off\": {\"totalMs\": %.2f, \"downtimeMs\": %.2f, \"bytesSent\": %.0f}, "
                    + "\"auto\": {\"totalMs\": %.2f, \"downtimeMs\": %.2f, \"bytesSent\": %.0f, \"ratio\": %.2f, \"ranInMostRuns\": %b}, "
                    + "\"autoOverOffTotal\": %.3f, \"autoOverOffBytes\": %.3f}%s%n",
                r.c().memory(), r.c().mode(), r.c().limit(), r.off().totalMs(), r.off().downtimeMs(), r.off().bytesSent(),
                r.auto().totalMs(), r.auto().downtimeMs(), r.auto().bytesSent(), r.auto().ratio(), r.auto().ran() >= 0.5,
                r.auto().totalMs() / r.off().totalMs(), r.auto().bytesSent() / r.off().bytesSent(), i + 1 < rows.size() ? "," : ""));
        }
        b.append("  ]\n}\n");
        Files.createDirectories(out.toAbsolutePath().getParent());
        Files.writeString(out, b.toString());
        System.out.println("wrote " + out);
    }
}
