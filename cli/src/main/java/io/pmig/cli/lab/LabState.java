package io.pmig.cli.lab;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pmig.checkpoint.FailedException;
import io.pmig.checkpoint.RefusedException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * What {@code pmig lab up} built, kept in the state file ({@code /run/pmig-lab/state.json}) so that
 * the other lab commands find it: the subnet, the switch namespace and its bridge, and each host
 * with its namespace, address, the port of its veth pair on the bridge and, for a node, the host
 * PID of its init with that process's start time (so a reused PID is never taken for the init).
 */
record LabState(int version, String name, String subnet, String switchNetns, String bridge, List<Host> hosts) {
    static final int VERSION = 1;
    static final ObjectMapper MAPPER = new ObjectMapper().disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    record Host(String name, String role, String netns, String address, int prefixLength, String bridgePort,
            Long initPid, Long initStartTime) {
        @JsonIgnore
        boolean isNode() {
            return LabLayout.NODE_ROLE.equals(role);
        }

        Host withInit(long pid, long startTime) {
            return new Host(name, role, netns, address, prefixLength, bridgePort, pid, startTime);
        }
    }

    @JsonIgnore
    int nodeCount() {
        return (int) hosts.stream().filter(Host::isNode).count();
    }

    /** The host of the lab's DNS server (pmig lab up --dns), if it has one. */
    @JsonIgnore
    Optional<Host> dns() {
        return hosts.stream().filter(h -> LabDns.ROLE.equals(h.role())).findFirst();
    }

    Optional<Host> host(String hostName) {
        return hosts.stream().filter(h -> h.name().equals(hostName)).findFirst();
    }

    @JsonIgnore
    List<String> hostNames() {
        List<String> names = new ArrayList<>();
        hosts.forEach(h -> names.add(h.name()));
        return names;
    }

    /** "2 nodes on 10.77.0.0/24", "2 nodes on 10.77.0.0/24 with DNS". */
    String shape() {
        return nodeCount() + (nodeCount() == 1 ? " node" : " nodes") + " on " + subnet + (dns().isPresent() ? " with DNS" : "");
    }

    /** The state file, if there is one; a file that cannot be read or parsed fails with its path. */
    static Optional<LabState> read(Path file) {
        try {
            return Optional.of(MAPPER.readValue(Files.readAllBytes(file), LabState.class));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw new RefusedException("cannot read the lab's state file " + file + ": " + e.getMessage()
                    + "; pmig lab down removes the lab without it", e);
        }
    }

    /** Writes the file whole or not at all (a temporary file renamed over it). */
    void write(Path file) {
        Path temporary = file.resolveSibling(file.getFileName() + ".tmp");
        try {
            Files.createDirectories(file.getParent());
            Files.write(temporary, MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(this));
            Files.move(temporary, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new FailedException("cannot write the lab's state file " + file + ": " + e, e);
        }
    }
}
