package io.pmig.checkpoint.task;

import java.util.ArrayList;
import java.util.List;

/** One POSIX timer as /proc/PID/timers lists it (fs/proc/base.c show_timer). */
record ProcTimer(int id, int signal, long sigval, int notification, int threadId, int clock) {
    /** sigev_notify values of asm-generic/siginfo.h */
    static final int SIGEV_SIGNAL = 0;
    static final int SIGEV_NONE = 1;
    static final int SIGEV_THREAD_ID = 4;

    static List<ProcTimer> parse(String text) {
        List<ProcTimer> out = new ArrayList<>();
        int id = -1;
        int signal = 0;
        long sigval = 0;
        int notify = SIGEV_SIGNAL;
        int threadId = 0;
        for (String line : text.split("\n")) {
            line = line.trim();
            if (line.startsWith("ID:")) {
                id = Integer.parseInt(line.substring(3).trim());
            } else if (line.startsWith("signal:")) {
                String[] sv = line.substring(7).trim().split("/");
                signal = Integer.parseInt(sv[0]);
                sigval = Long.parseUnsignedLong(sv[1], 16);
            } else if (line.startsWith("notify:")) {
                // "notify: signal/pid.123", "thread/tid.124" or "none/pid.123"
                String v = line.substring(7).trim();
                String how = v.substring(0, v.indexOf('/'));
                String target = v.substring(v.indexOf('/') + 1);
                boolean toThread = target.startsWith("tid.");
                notify = how.equals("none") ? SIGEV_NONE : toThread ? SIGEV_THREAD_ID : SIGEV_SIGNAL;
                threadId = toThread ? Integer.parseInt(target.substring(4)) : 0;
            } else if (line.startsWith("ClockID:")) {
                out.add(new ProcTimer(id, signal, sigval, notify, threadId, Integer.parseInt(line.substring(8).trim())));
            }
        }
        return out;
    }
}
