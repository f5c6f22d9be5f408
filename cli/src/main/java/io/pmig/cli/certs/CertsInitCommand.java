package io.pmig.cli.certs;

import io.pmig.cli.ExitCodes;
import io.pmig.checkpoint.RefusedException;
import io.pmig.cli.Json;
import io.pmig.daemon.certs.ClusterCertificates;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code pmig certs init --dir DIR --nodes A,B,...}: a cluster CA and one certificate per node. */
@Command(name = "init",
        description = {
            "Make a cluster CA and a key and certificate for each node, for a lab or a small cluster.",
            "Writes DIR/ca.pem and DIR/ca.key (the CA), and DIR/NODE.pem and DIR/NODE.key per node (EC P-256; the"
                    + " node's name is the certificate's CN and DNS name). Keys are readable by their owner only."
                    + " Existing files are kept: run it again with more nodes to add them to the same cluster."
                    + " Copy ca.pem, NODE.pem and NODE.key to each node's /etc/pmig/tls; keep ca.key off the nodes."})
public final class CertsInitCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--dir", required = true, paramLabel = "DIR", description = "where the files go (created if needed)")
    Path dir;

    @Option(names = "--nodes", required = true, split = ",", paramLabel = "NODE[,NODE...]",
            description = "the node names, e.g. node-a,node-b")
    List<String> nodes;

    @Option(names = "--days", paramLabel = "N", defaultValue = "825", description = "validity in days (default: ${DEFAULT-VALUE})")
    long days;

    @Option(names = "--json", description = "print what was made (or the error) as one JSON object")
    boolean json;

    @Override
    public Integer call() {
        ClusterCertificates.Init init;
        try {
            ClusterCertificates.checkValidity(days);
            init = new ClusterCertificates(dir).init(nodes, Duration.ofDays(days));
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), (e.getMessage().startsWith("a certificate valid") ? "--days: " : "")
                    + e.getMessage());
        } catch (IllegalStateException e) {
            throw new RefusedException(e.getMessage());   // init leaves nothing it made behind
        }
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            Map<String, Object> result = new LinkedHashMap<>();
            result.put("dir", dir.toString());
            result.put("caCreated", init.caCreated());
            result.put("created", init.created());
            result.put("existing", init.existing());
            out.println(Json.write(result));
        } else {
            out.println((init.caCreated() ? "made the cluster CA " : "kept the cluster CA ") + dir.resolve(ClusterCertificates.CA_CERT));
            for (String node : init.created()) {
                out.println("made " + ClusterCertificates.certificate(dir, node) + " and " + ClusterCertificates.key(dir, node));
            }
            for (String node : init.existing()) {
                out.println("kept " + ClusterCertificates.certificate(dir, node) + " (it exists)");
            }
        }
        out.flush();
        return ExitCodes.OK;
    }
}
