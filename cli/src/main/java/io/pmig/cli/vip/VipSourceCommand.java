package io.pmig.cli.vip;

import io.pmig.cli.ExitCodes;
import io.pmig.vip.VipException;
import io.pmig.vip.source.SourceAddress;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code pmig vip source (--cgroup PATH | --pid PID) [VIP | --remove] [--json]}: a cgroup's source-address pin. */
@Command(name = "source", description = {"Pin the outbound connections and UDP of a cgroup's processes to a VIP (their sockets"
    + " are bound to it by cgroup BPF programs, so a connection moves with the service), remove the pin with --remove, or"
    + " show it when neither a VIP nor --remove is given. A migration carries the pin to the destination."})
public final class VipSourceCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @ParentCommand
    VipCommand vip;

    static final class Which {
        @Option(names = "--cgroup", paramLabel = "PATH", description = "a cgroup v2 directory, e.g. /sys/fs/cgroup/pmig/web")
        Path cgroup;

        @Option(names = "--pid", paramLabel = "PID", description = "the cgroup v2 of this process")
        Integer pid;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Which which;

    @Parameters(paramLabel = "VIP", arity = "0..1", description = "the address to pin to, e.g. 10.77.0.50 (on this node)")
    String address;

    @Option(names = "--remove", description = "remove pmig's pin from the cgroup")
    boolean remove;

    @Option(names = "--json", description = "print the result as one JSON object")
    boolean json;

    @Override
    public Integer call() {
        vip.requireRoot("source");
        if (remove && address != null) {
            throw new VipException("give either a VIP to pin to or --remove, not both");
        }
        Path cgroup = which.cgroup != null ? which.cgroup : SourceAddress.cgroupOf(which.pid);
        String text;
        if (address != null) {
            SourceAddress.pin(cgroup, parse(address));
            text = "the sockets of " + cgroup + " leave from " + address;
        } else if (remove) {
            text = SourceAddress.unpin(cgroup) ? "removed the source-address pin of " + cgroup : cgroup + " had no source-address pin";
        } else {
            text = null;
        }
        Optional<InetAddress> pin = SourceAddress.pinOf(cgroup);
        if (text == null) {
            text = pin.map(a -> cgroup + " pins its sockets to " + a.getHostAddress()).orElse(cgroup + " has no source-address pin");
        }
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("cgroup", cgroup.toString());
        result.put("vip", pin.map(InetAddress::getHostAddress).orElse(null));
        VipListCommand.print(spec, json, result, text);
        return ExitCodes.OK;
    }

    private static InetAddress parse(String text) {
        try {
            if (!text.matches("[0-9.]+|[0-9a-fA-F.]*:[0-9a-fA-F:.]*")) {
                throw new UnknownHostException(text);    // a literal only: no name lookup
            }
            return InetAddress.getByName(text);
        } catch (UnknownHostException e) {
            throw new VipException(text + " is not an IP address; give the VIP as e.g. 10.77.0.50");
        }
    }
}
