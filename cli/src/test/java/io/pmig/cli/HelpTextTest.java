package io.pmig.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * Every command's help, rendered as an operator sees it: whole sentences that picocli wraps (no
 * line break typed into a text), a summary that is a sentence of its own, every subcommand listed.
 */
class HelpTextTest {
    private static final int WIDTH = 80;

    /** Every command of pmig, the top one first, with its help rendered {@link #WIDTH} columns wide. */
    private static List<CommandLine> everyCommand() {
        List<CommandLine> all = new ArrayList<>();
        collect(Pmig.commandLine(new FakeEngines(), () -> true), all);
        return all;
    }

    private static void collect(CommandLine command, List<CommandLine> all) {
        command.getCommandSpec().usageMessage().width(WIDTH);
        all.add(command);
        command.getSubcommands().values().forEach(sub -> collect(sub, all));
    }

    @Test
    void everyDescriptionIsParagraphsOfWholeSentencesWithTheSummaryFirst() {
        for (CommandLine command : everyCommand()) {
            String name = command.getCommandSpec().qualifiedName();
            String[] paragraphs = command.getCommandSpec().usageMessage().description();
            assertTrue(paragraphs.length > 0, name + " has no description");
            String summary = paragraphs[0];
            assertTrue(summary.matches("[A-Z].*\\."), name + "'s summary (what every command list shows) is not a whole sentence: " + summary);
            for (String paragraph : paragraphs) {
                assertFalse(paragraph.contains("\n") || paragraph.contains("%n"), name + ": a hand-made line break in: " + paragraph);
                assertTrue(paragraph.matches("[A-Z].*\\."), name + ": a paragraph that is not whole sentences: " + paragraph);
            }
        }
    }

    @Test
    void everyOptionAndParameterIsDescribedInOneParagraph() {
        for (CommandLine command : everyCommand()) {
            CommandSpec spec = command.getCommandSpec();
            List<ArgSpec> args = new ArrayList<>(spec.options());
            args.addAll(spec.positionalParameters());
            for (ArgSpec arg : args) {
                String what = spec.qualifiedName() + " " + arg.paramLabel() + Arrays.toString(arg.description());
                assertEquals(1, arg.description().length, what + ": one paragraph, wrapped by picocli");
                assertFalse(arg.description()[0].contains("\n"), what + ": a hand-made line break");
            }
        }
    }

    @Test
    void everyRenderedDescriptionLineThatEndsMidSentenceWasWrappedByPicocli() {
        for (CommandLine command : everyCommand()) {
            List<String> lines = command.getHelp().description().lines().toList();
            for (int i = 0; i + 1 < lines.size(); i++) {
                String line = lines.get(i);
                if (line.endsWith(".")) {
                    continue;
                }
                String nextWord = lines.get(i + 1).strip().split(" ")[0];
                // picocli keeps the last column free: a line holds WIDTH - 1 characters
                assertTrue(line.length() + 1 + nextWord.length() > WIDTH - 1, command.getCommandSpec().qualifiedName()
                        + "'s help breaks a sentence where the next word would still fit: '" + line + "' / '" + nextWord + "'");
            }
        }
    }

    @Test
    void aCommandLineBuildsOnlyTheSubcommandItNamesAndAllWhenItNamesNone() {
        assertEquals(List.of("status"), List.copyOf(Pmig.commandLine(new FakeEngines(), () -> true, "status").getSubcommands().keySet()));
        assertEquals(List.of(), List.copyOf(Pmig.commandLine(new FakeEngines(), () -> true, "--version").getSubcommands().keySet()));
        assertEquals(List.copyOf(everyCommand().get(0).getSubcommands().keySet()),
                List.copyOf(Pmig.commandLine(new FakeEngines(), () -> true, "--help").getSubcommands().keySet()));

        StringWriter out = new StringWriter();
        CommandLine version = Pmig.commandLine(new FakeEngines(), () -> true, "--version");
        version.setOut(new PrintWriter(out, true));
        assertEquals(ExitCodes.OK, version.execute("--version"));
        assertTrue(out.toString().startsWith("pmig "), out.toString());
        StringWriter err = new StringWriter();
        CommandLine typo = Pmig.commandLine(new FakeEngines(), () -> true, "stauts");
        typo.setErr(new PrintWriter(err, true));
        assertEquals(ExitCodes.USAGE, typo.execute("stauts"));
        assertTrue(err.toString().contains("status"), "the error suggests the command: " + err);
    }

    @Test
    void everySubcommandIsInItsParentsHelpAndInTheErrorWithoutOne() {
        for (CommandLine command : everyCommand()) {
            if (command.getSubcommands().isEmpty()) {
                continue;
            }
            String usage = command.getUsageMessage();
            String path = command.getCommandSpec().qualifiedName(" ");
            String[] args = path.contains(" ") ? path.substring(path.indexOf(' ') + 1).split(" ") : new String[0];
            Run missing = Run.of(new FakeEngines(), true, args);
            assertEquals(ExitCodes.USAGE, missing.exitCode(), path + ": " + missing);
            for (String sub : command.getSubcommands().keySet()) {
                assertTrue(usage.contains("\n  " + sub + " "), path + "'s help does not list " + sub + ":\n" + usage);
                assertTrue(missing.err().matches("(?s)pmig: missing command: .*\\b" + sub + "\\b.*"),
                        path + " without a command does not name " + sub + ": " + missing.err());
            }
        }
    }
}
