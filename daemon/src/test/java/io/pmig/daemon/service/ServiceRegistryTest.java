package io.pmig.daemon.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pmig.daemon.control.ControlRefusedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ServiceRegistryTest {
    @TempDir
    Path state;

    @Test
    void anEntryIsKeptForItsOwnerAloneAndReadAgainAtStart() throws Exception {
        Path dir = state.resolve("services");
        int self = (int) ProcessHandle.current().pid();
        Service web = Service.of("web", self, null, List.of("10.77.0.50/24"), "web.pmig.test");
        ServiceRegistry.open(dir).add(web);

        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("web.json"))));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)));
        try (var files = Files.list(dir)) {
            assertEquals(List.of(dir.resolve("web.json")), files.toList(), "no partial file stays");
        }
        ServiceRegistry again = ServiceRegistry.open(dir);
        assertEquals(List.of(web), again.list());
        assertEquals(web, again.byPid(self).orElseThrow(), "found by its pid while that is its process");
        assertThrows(ControlRefusedException.class, () -> again.add(web), "a name is one service");

        again.remove("web");
        assertFalse(Files.exists(dir.resolve("web.json")));
        assertEquals(List.of(), ServiceRegistry.open(dir).list());
    }

    @Test
    void aCorruptFileIsNamedAndTheOthersAreRead() throws Exception {
        Path dir = state.resolve("services");
        ServiceRegistry.open(dir).add(new Service("db", 7, null, List.of(), null, 0));
        Files.writeString(dir.resolve("web.json"), "{\"name\": \"web\", \"pid\": ");
        Files.writeString(dir.resolve("other.json"), "{\"name\": \"db2\", \"pid\": 8}");

        ServiceRegistry registry = ServiceRegistry.open(dir);
        assertEquals(List.of("db"), registry.list().stream().map(Service::name).toList());
        assertEquals(2, registry.problems().size(), registry.problems().toString());
        assertTrue(registry.problems().get(0).contains(dir.resolve("other.json").toString()), registry.problems().toString());
        assertTrue(registry.problems().get(1).contains(dir.resolve("web.json").toString()), registry.problems().toString());
    }

    @Test
    void aNameIsAFileNameOfItsOwn() {
        assertThrows(ControlRefusedException.class, () -> Service.requireValidName("../etc"));
        assertThrows(ControlRefusedException.class, () -> Service.requireValidName(""));
        assertEquals("web-1.a_b", Service.requireValidName("web-1.a_b"));
    }
}
