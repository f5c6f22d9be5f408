import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Rectangle;
import java.nio.file.Files;
import java.text.DecimalFormat;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberTickUnit;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.category.BarRenderer;
import org.jfree.chart.renderer.category.StandardBarPainter;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.category.DefaultCategoryDataset;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;
import org.jfree.svg.SVGGraphics2D;

/**
 * The picture of a benchmark's results: reads bench/results/NAME.json and writes NAME.svg beside
 * it, a chart chosen by the JSON's "benchmark" field (migration time against memory beside NEC's
 * Table 2 line, downtime per workload staged against bundle, ...). JFreeChart draws, JFreeSVG
 * writes the SVG; no display is needed.
 *
 *   java -cp CLASSPATH bench/src/Charts.java RESULT.json...
 */
public class Charts {
    private static final int WIDTH = 760;
    private static final int HEIGHT = 420;
    /** NEC's Table 2: 6.1 s to migrate a process of 500 MB; the README scales it linearly by memory. */
    private static final double NEC_MS_PER_MB = 6100.0 / 500;
    private static final Color[] PALETTE = {new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c), new Color(0x555555),
        new Color(0xff7f0e), new Color(0x9467bd)};

    public static void main(String[] args) throws Exception {
        System.setProperty("java.awt.headless", "true");
        ObjectMapper mapper = new ObjectMapper();
        for (String file : args) {
            Path json = Path.of(file);
            JsonNode r = mapper.readTree(json.toFile());
            String name = r.path("benchmark").asText();
            JFreeChart chart = switch (name) {
                case "migration" -> migration(r);
                case "staged-migration" -> stagedMigration(r);
                case "tree-migration" -> treeMigration(r);
                case "checkpoint-restore" -> checkpointRestore(r);
                case "tcp-sockets" -> tcpSockets(r);
                case "vip-steps" -> vipSteps(r);
                case "switchover" -> switchover(r);
                case "precopy" -> precopy(r);
                case "precopy-threshold" -> precopyThreshold(r);
                case "data-filter" -> dataFilter(r);
                case "dirty-tracking" -> dirtyTracking(r);
                case "peer-stream" -> peerStream(r);
                case "startup" -> startup(r);
                case "compression" -> compression(r);
                default -> throw new IllegalArgumentException(file + ": no chart for benchmark '" + name + "'");
            };
            Path svg = json.resolveSibling(json.getFileName().toString().replaceFirst("\\.json$", "") + ".svg");
            write(chart, svg);
            System.out.println("chart: " + svg);
        }
    }

    private static JFreeChart migration(JsonNode r) {
        JsonNode rows = r.path("rows");
        XYSeries nec = new XYSeries("NEC Table 2 (6.1 s for 500 MB, scaled)");
        for (JsonNode row : rows) {
            nec.add(row.path("memoryMb").asDouble(), row.path("memoryMb").asDouble() * NEC_MS_PER_MB);
        }
        JFreeChart chart = lines("Bundle migration time against memory", "memory (MB)", "ms",
                series("migration (pmig migrate, lab daemons, TLS)", rows, "memoryMb", "migrationMs"),
                series("downtime", rows, "memoryMb", "downtimeMs"),
                series("local checkpoint + restore through a pipe", rows, "memoryMb", "localPipeCheckpointRestoreMs"), nec);
        ((XYPlot) chart.getPlot()).getRenderer().setSeriesStroke(3,
                new BasicStroke(2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {6f, 4f}, 0f));
        return chart;
    }

    private static JFreeChart stagedMigration(JsonNode r) {
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        for (JsonNode row : r.path("rows")) {
            data.addValue(row.path("downtimeMs").asDouble(), row.path("mode").asText(), workload(row));
        }
        return bars("Downtime per workload: staged against bundle", "ms (log scale)", data, true);
    }

    private static JFreeChart treeMigration(JsonNode r) {
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        for (JsonNode row : r.path("rows")) {
            String label = row.path("case").asText() + ", " + (row.path("processes").asInt() > 1
                    ? row.path("processes").asInt() + " processes" : row.path("threads").asInt() + " threads");
            data.addValue(row.path("totalMs").asDouble(), "total", label);
            data.addValue(row.path("downtimeMs").asDouble(), "downtime", label);
            data.addValue(row.path("clientStallMs").asDouble(), "client's longest stall", label);
            // NEC measured two of the cases: a bar of no height for the others
            Double nec = row.path("necTotalSeconds").isNumber() ? row.path("necTotalSeconds").asDouble() * 1000 : null;
            data.addValue(nec, "NEC Table 3 total", label);
        }
        return bars("Process trees moved whole (medians), beside NEC's Table 3", "ms (log scale)", data, true);
    }

    private static JFreeChart checkpointRestore(JsonNode r) {
        if (r.has("commands")) {
            // the commands beside the C tool, the benchmark's headline (the engine's own figures are in the JSON)
            DefaultCategoryDataset data = new DefaultCategoryDataset();
            for (JsonNode row : r.path("commands")) {
                String size = row.path("memoryMb").asInt() + " MB";
                for (String[] what : new String[][] {{"checkpointMs", "checkpoint"}, {"restoreMs", "restore"}, {"frozenMs", "frozen"}}) {
                    data.addValue(row.path("ownJvm").path(what[0]).asDouble(), "pmig " + what[1] + ", own JVM", size);
                    data.addValue(row.path("viaPmigd").path(what[0]).asDouble(), "pmig " + what[1] + ", via pmigd", size);
                    if (row.path("cTool").isObject()) {
                        data.addValue(row.path("cTool").path(what[0]).asDouble(), "C tool " + what[1] + " (" + r.path("cTool").asText() + ")",
                            size);
                    }
                }
            }
            return bars("pmig checkpoint / restore as commands beside the C tool (medians, load average " + r.path("loadAverageBefore").asText()
                + ")", "ms (log scale)", data, true);
        }
        JsonNode rows = r.path("rows");
        return lines("Checkpoint and restore against memory", "memory (MB)", "ms",
                series("checkpoint to tmpfs", rows, "memoryMb", "checkpointMs"), series("frozen", rows, "memoryMb", "frozenMs"),
                series("restore from tmpfs", rows, "memoryMb", "restoreMs"),
                series("checkpoint + restore through a pipe", rows, "memoryMb", "pipeCheckpointRestoreMs"),
                series("floor: copy into fresh memory", rows, "memoryMb", "memoryCopyFloorMs"));
    }

    private static JFreeChart compression(JsonNode r) {
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        for (JsonNode row : r.path("rows")) {
            double limit = row.path("bandwidthMegabytesPerSecond").asDouble();
            String c = row.path("memory").asText() + ", " + row.path("mode").asText() + ", "
                + (limit == 0 ? "no limit" : new DecimalFormat("0").format(limit) + " MB/s");
            data.addValue(row.path("off").path("totalMs").asDouble(), "--compress off", c);
            data.addValue(row.path("auto").path("totalMs").asDouble(), "--compress auto", c);
        }
        return bars("Migration time of " + r.path("memoryMb").asInt() + " MB with and without page compression", "ms", data, false);
    }

    private static JFreeChart dataFilter(JsonNode r) {
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        for (JsonNode row : r.path("rows")) {
            double link = row.path("linkMegabytesPerSecond").asDouble();
            String c = row.path("workload").asText() + ", " + (link == 0 ? "pipe" : new DecimalFormat("0").format(link) + " MB/s");
            data.addValue(row.path("off").path("bytes").asDouble() / 1e6, "MB sent, --filter off", c);
            data.addValue(row.path("on").path("bytes").asDouble() / 1e6, "MB sent, --filter on", c);
            data.addValue(row.path("off").path("lastPartBytes").asDouble() / 1e6, "of it in the last part, off", c);
            data.addValue(row.path("on").path("lastPartBytes").asDouble() / 1e6, "of it in the last part, on", c);
        }
        return bars("Pre-copy data with and without the data filter (medians)", "MB", data, false);
    }

    private static JFreeChart tcpSockets(JsonNode r) {
        JsonNode rows = r.path("rows");
        return lines("A service's TCP connections: checkpoint and restore", "established connections", "ms",
                series("checkpoint", rows, "connections", "checkpointMs"), series("frozen", rows, "connections", "frozenMs"),
                series("restore", rows, "connections", "restoreMs"));
    }

    private static JFreeChart vipSteps(JsonNode r) {
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        for (JsonNode step : r.path("steps")) {
            data.addValue(step.path("medianUs").asDouble(), "median", step.path("step").asText());
            data.addValue(step.path("p90Us").asDouble(), "90th percentile", step.path("step").asText());
        }
        JFreeChart chart = bars("The VIP manager's steps", "µs (log scale)", data, true);
        ((CategoryPlot) chart.getPlot()).setOrientation(PlotOrientation.HORIZONTAL);
        return chart;
    }

    private static JFreeChart switchover(JsonNode r) {
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        for (JsonNode mode : r.path("modes")) {
            data.addValue(mode.path("medianDowntimeMs").asDouble(), "downtime", mode.path("mode").asText());
            data.addValue(mode.path("medianClientStallMs").asDouble(), "client's stall", mode.path("mode").asText());
        }
        return bars("Switchover: held packets replayed or dropped (medians)", "ms", data, false);
    }

    private static JFreeChart precopy(JsonNode r) {
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        for (JsonNode row : r.path("rows")) {
            for (String mode : new String[] {"bundle", "staged"}) {
                data.addValue(row.path(mode).path("downtimeMs").asDouble(), mode, workload(row));
            }
        }
        return bars("Pre-copy: downtime per workload, staged against bundle", "ms (log scale)", data, true);
    }

    private static JFreeChart precopyThreshold(JsonNode r) {
        Map<String, XYSeries> byWorkload = new LinkedHashMap<>();
        for (JsonNode row : r.path("rows")) {
            byWorkload.computeIfAbsent(row.path("workload").asText(), XYSeries::new)
                    .add(row.path("stopBelowPages").asDouble(), row.path("staged").path("downtimeMs").asDouble());
        }
        return lines("Pre-copy: downtime against the stop threshold", "stop below (pages written in a round)", "downtime (ms)",
                byWorkload.values().toArray(XYSeries[]::new));
    }

    private static JFreeChart dirtyTracking(JsonNode r) {
        JsonNode rows = r.path("rows");
        return lines("Dirty tracking (" + r.path("method").asText() + ") against memory", "memory (MB)", "ms",
                series("start tracking", rows, "memoryMb", "startMs"), series("scan, nothing written", rows, "memoryMb", "idleScanMs"),
                series("scan, everything written", rows, "memoryMb", "fullScanMs"));
    }

    private static JFreeChart peerStream(JsonNode r) {
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        for (String mode : new String[] {"tls", "plaintext"}) {
            JsonNode m = r.path(mode);
            data.addValue(m.path("minMBps").asDouble(), "min", mode);
            data.addValue(m.path("medianMBps").asDouble(), "median", mode);
            data.addValue(m.path("maxMBps").asDouble(), "max", mode);
        }
        return bars("Peer stream throughput over loopback", "MB/s", data, false);
    }

    private static JFreeChart startup(JsonNode r) {
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        Map<String, String> measures = Map.of("pmigVersion", "pmig --version", "pmigdReady", "pmigd until it answers",
                "pmigStatus", "pmig status round trip");
        for (String key : new String[] {"pmigVersion", "pmigdReady", "pmigStatus"}) {
            JsonNode m = r.path(key);
            data.addValue(m.path("medianSeconds").asDouble(), "median", measures.get(key));
            data.addValue(m.path("targetSeconds").asDouble(), "target", measures.get(key));
        }
        return bars("Start-up through the launchers", "s", data, false);
    }

    /** One line of a chart: field {@code y} of each row against its field {@code x}. */
    private static XYSeries series(String label, JsonNode rows, String x, String y) {
        XYSeries series = new XYSeries(label);
        for (JsonNode row : rows) {
            series.add(row.path(x).asDouble(), row.path(y).asDouble());
        }
        return series;
    }

    /** A workload's label: its name, and its memory when the JSON names several sizes. */
    private static String workload(JsonNode row) {
        return row.path("workload").asText() + " (" + row.path("memoryMb").asInt() + " MB)";
    }

    private static JFreeChart lines(String title, String x, String y, XYSeries... series) {
        XYSeriesCollection data = new XYSeriesCollection();
        for (XYSeries s : series) {
            data.addSeries(s);
        }
        JFreeChart chart = ChartFactory.createXYLineChart(title, x, y, data, PlotOrientation.VERTICAL, true, false, false);
        XYPlot plot = (XYPlot) chart.getPlot();
        XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, true);
        for (int i = 0; i < series.length; i++) {
            renderer.setSeriesStroke(i, new BasicStroke(2f));
            renderer.setSeriesPaint(i, PALETTE[i % PALETTE.length]);
        }
        plot.setRenderer(renderer);
        return style(chart);
    }

    private static JFreeChart bars(String title, String value, DefaultCategoryDataset data, boolean logarithmic) {
        JFreeChart chart = ChartFactory.createBarChart(title, null, value, data, PlotOrientation.VERTICAL, true, false, false);
        CategoryPlot plot = (CategoryPlot) chart.getPlot();
        if (logarithmic) {
            LogAxis axis = new LogAxis(value);
            axis.setSmallestValue(1);
            axis.setTickUnit(new NumberTickUnit(1.0));           // one tick a decade: 1, 10, 100, ...
            axis.setNumberFormatOverride(new DecimalFormat("#,##0"));
            plot.setRangeAxis(axis);
        }
        BarRenderer renderer = (BarRenderer) plot.getRenderer();
        renderer.setBarPainter(new StandardBarPainter());
        renderer.setShadowVisible(false);
        for (int i = 0; i < data.getRowCount(); i++) {
            renderer.setSeriesPaint(i, PALETTE[i % PALETTE.length]);
        }
        plot.getDomainAxis().setMaximumCategoryLabelLines(3);
        return style(chart);
    }

    private static JFreeChart style(JFreeChart chart) {
        chart.setBackgroundPaint(Color.WHITE);
        chart.getTitle().setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
        chart.getPlot().setBackgroundPaint(Color.WHITE);
        if (chart.getPlot() instanceof XYPlot xy) {
            xy.setDomainGridlinePaint(Color.LIGHT_GRAY);
            xy.setRangeGridlinePaint(Color.LIGHT_GRAY);
        } else if (chart.getPlot() instanceof CategoryPlot category) {
            category.setRangeGridlinePaint(Color.LIGHT_GRAY);
        }
        return chart;
    }

    private static void write(JFreeChart chart, Path svg) throws Exception {
        SVGGraphics2D g = new SVGGraphics2D(WIDTH, HEIGHT);
        g.setDefsKeyPrefix("chart");                              // the same results give the same file
        chart.draw(g, new Rectangle(0, 0, WIDTH, HEIGHT));
        Files.writeString(svg, g.getSVGDocument());
    }
}
