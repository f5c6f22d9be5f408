package io.pmig.deb;

import io.pmig.cli.Pmig;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.codegen.docgen.manpage.ManPageGenerator;

/**
 * Renders, from pmig's own command model, what the package installs beside it: one man page per
 * command (AsciiDoc, which asciidoctor turns into roff) and the bash completion script.
 * Usage: OperatorDocs ADOC_DIR COMPLETION_FILE.
 */
public final class OperatorDocs {
    private OperatorDocs() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 2) {
            System.err.println("usage: OperatorDocs ADOC_DIR COMPLETION_FILE");
            System.exit(2);
        }
        CommandLine pmig = Pmig.commandLine();
        int status = ManPageGenerator.generateManPage(new File(args[0]), null, new boolean[0], true, pmig.getCommandSpec());
        if (status != 0) {
            System.err.println("OperatorDocs: the man pages were not generated (picocli exit code " + status + ")");
            System.exit(1);
        }
        Path completion = Path.of(args[1]);
        Files.createDirectories(completion.getParent());
        Files.writeString(completion, AutoComplete.bash("pmig", pmig));
    }
}
