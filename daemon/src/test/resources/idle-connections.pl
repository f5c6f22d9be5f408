# idle-connections.pl SOCKET N: opens up to N connections to a pmigd control socket and sends
# nothing (run under another uid by DaemonTest); prints how many it opened, then, for each line
# on stdin, "ANSWERED CLOSED OPEN": connections the daemon answered (a refusal line), closed
# without a word, and still keeps open.
use strict;
use warnings;
use IO::Socket::UNIX;
use IO::Select;

my ($path, $n) = @ARGV;
my @open;
for (1 .. $n) {
    my $c = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => $path) or last;
    push @open, $c;
}
$| = 1;
print scalar(@open), "\n";
my ($answered, $closed) = (0, 0);
while (<STDIN>) {
    my @still;
    for my $c (@open) {
        if (IO::Select->new($c)->can_read(0)) {
            my $line = '';
            if (sysread($c, $line, 4096)) { $answered++ } else { $closed++ }
            close($c);
        } else {
            push @still, $c;
        }
    }
    @open = @still;
    print "$answered $closed ", scalar(@open), "\n";
}
