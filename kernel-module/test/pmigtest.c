// SPDX-License-Identifier: GPL-2.0
/*
 * pmig.ko's checks, run as root in a test-vm guest with the module loaded
 * (PmigModuleVmTest): refusals (no CAP_SYS_ADMIN, bad arguments), the hold
 * of an address's packets (kept in order, released in order, taken, dropped,
 * bounded) over the guest's loopback, and the TCP state of several
 * connections compared with what the getsockopts report one by one.
 * Prints "PASS name" or "FAIL name: why" per check; exits 1 if any failed.
 *
 *   pmigtest checks
 *   pmigtest bench SOCKETS PACKETS    the module's figures (bench/pmig-module)
 *   pmigtest send ADDRESS PORT COUNT  COUNT datagrams numbered from 0 (the bench's client)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../pmig.h"

#define VIP "127.0.0.2"
#define PORT 7410

static int failures;
static char why[512];

static int fail(const char *format, ...)
{
	va_list ap;

	va_start(ap, format);
	vsnprintf(why, sizeof(why), format, ap);
	va_end(ap);
	return -1;
}

static void check(const char *name, int (*fn)(int), int dev)
{
	why[0] = 0;
	if (fn(dev) == 0) {
		printf("PASS %s\n", name);
	} else {
		printf("FAIL %s: %s\n", name, why);
		failures++;
	}
	fflush(stdout);
}

/* ioctl's errno, 0 on success */
static int call(int dev, unsigned long cmd, void *arg)
{
	return ioctl(dev, cmd, arg) == 0 ? 0 : errno;
}

static struct pmig_address vip(void)
{
	struct pmig_address a = { .family = AF_INET };

	inet_pton(AF_INET, VIP, a.address);
	return a;
}

static struct pmig_hold hold_request(uint32_t flags, uint32_t packets)
{
	struct pmig_hold h = { .vip = vip(), .flags = flags, .max_packets = packets, .max_bytes = 1 << 20 };

	return h;
}

static int version(int dev)
{
	struct pmig_version v;
	int err = call(dev, PMIG_IOC_VERSION, &v);

	if (err)
		return fail("PMIG_IOC_VERSION: %s", strerror(err));
	if (v.version != PMIG_VERSION || v.features != (PMIG_FEATURE_HOLD | PMIG_FEATURE_TCP_STATE))
		return fail("version %u features %#x", v.version, v.features);
	return 0;
}

/* A process without CAP_SYS_ADMIN: open refused, and the root's descriptor it inherited refused too. */
static int unprivileged(int dev)
{
	pid_t child = fork();
	int status;

	if (child == 0) {
		struct pmig_version v;

		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(10);
		if (open("/dev/pmig", O_RDWR) >= 0)
			_exit(11);
		if (ioctl(dev, PMIG_IOC_VERSION, &v) == 0 || errno != EPERM)
			_exit(12);
		_exit(0);
	}
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status))
		return fail("the unprivileged child did not end");
	if (WEXITSTATUS(status) == 11)
		return fail("an unprivileged process opened /dev/pmig");
	if (WEXITSTATUS(status) == 12)
		return fail("an unprivileged process's ioctl was not refused with EPERM");
	return WEXITSTATUS(status) ? fail("child status %d", WEXITSTATUS(status)) : 0;
}

static int expect(int dev, unsigned long cmd, void *arg, int want, const char *what)
{
	int err = call(dev, cmd, arg);

	if (err != want)
		return fail("%s: %s, expected %s", what, err ? strerror(err) : "accepted", want ? strerror(want) : "success");
	return 0;
}

static int bad_arguments(int dev)
{
	struct pmig_hold h;
	struct pmig_release r = { .vip = vip() };
	struct pmig_take t = { .vip = vip() };
	struct pmig_tcp_state s = { .pid = getpid() };
	char small[8];

	h = hold_request(0, 16);
	h.vip.family = 12345;
	if (expect(dev, PMIG_IOC_HOLD, &h, EAFNOSUPPORT, "hold of family 12345"))
		return -1;
	h = hold_request(0, 16);
	h.vip.address[9] = 1;
	if (expect(dev, PMIG_IOC_HOLD, &h, EINVAL, "IPv4 address with bytes past the fourth"))
		return -1;
	h = hold_request(0x80, 16);
	if (expect(dev, PMIG_IOC_HOLD, &h, EINVAL, "unknown hold flag"))
		return -1;
	h = hold_request(0, 0);
	if (expect(dev, PMIG_IOC_HOLD, &h, EINVAL, "limit of 0 packets"))
		return -1;
	h = hold_request(0, PMIG_MAX_PACKETS + 1);
	if (expect(dev, PMIG_IOC_HOLD, &h, EINVAL, "limit past PMIG_MAX_PACKETS"))
		return -1;
	h = hold_request(0, 16);
	h.max_bytes = 0;
	if (expect(dev, PMIG_IOC_HOLD, &h, EINVAL, "limit of 0 bytes"))
		return -1;
	h = hold_request(0, 16);
	h.reserved = 1;
	if (expect(dev, PMIG_IOC_HOLD, &h, EINVAL, "reserved field set"))
		return -1;
	if (expect(dev, PMIG_IOC_HOLD, (void *)16, EFAULT, "hold at a bad address"))
		return -1;
	if (expect(dev, PMIG_IOC_RELEASE, &r, ENOENT, "release of an address not held"))
		return -1;
	r.flags = 0x40;
	if (expect(dev, PMIG_IOC_RELEASE, &r, EINVAL, "unknown release flag"))
		return -1;
	if (expect(dev, PMIG_IOC_TAKE, &t, ENOENT, "take from an address not held"))
		return -1;
	h = hold_request(0, 16);
	if (expect(dev, PMIG_IOC_HOLD, &h, 0, "hold"))
		return -1;
	if (expect(dev, PMIG_IOC_HOLD, &h, 0, "the same hold again"))
		return -1;
	t.buffer = 4096;
	t.length = 4096;
	if (expect(dev, PMIG_IOC_TAKE, &t, 0, "take of nothing queued into a bad buffer"))
		return -1;
	t.buffer = (uintptr_t)small;
	t.length = sizeof(small);
	t.count = 3;
	if (expect(dev, PMIG_IOC_TAKE, &t, EINVAL, "take with an output field set"))
		return -1;
	r.flags = PMIG_RELEASE_END | PMIG_RELEASE_DROP;
	if (expect(dev, PMIG_IOC_RELEASE, &r, 0, "drop"))
		return -1;
	s.pid = -1;
	if (expect(dev, PMIG_IOC_TCP_STATE, &s, EINVAL, "TCP state of pid -1"))
		return -1;
	s.pid = 0x3fffffff;
	if (expect(dev, PMIG_IOC_TCP_STATE, &s, ESRCH, "TCP state of a pid that does not exist"))
		return -1;
	if (expect(dev, _IO(PMIG_IOC_MAGIC, 99), NULL, ENOTTY, "unknown ioctl"))
		return -1;
	return 0;
}

static int udp_receiver(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(PORT) };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	int size = 8 << 20;

	inet_pton(AF_INET, VIP, &a.sin_addr);
	setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)))
		return -1;
	return s;
}

static void send_numbered_to(const char *address, int port, int from, int count)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int s = socket(AF_INET, SOCK_DGRAM, 0);

	inet_pton(AF_INET, address, &a.sin_addr);
	for (int i = from; i < from + count; i++) {
		uint32_t n = htonl(i);

		sendto(s, &n, sizeof(n), 0, (struct sockaddr *)&a, sizeof(a));
	}
	close(s);
}

static void send_numbered(int from, int count)
{
	send_numbered_to(VIP, PORT, from, count);
}

/* Receives datagrams numbered from..from+count-1 in that order, waiting up to 10 s for each. */
static int receive_in_order(int s, int from, int count)
{
	for (int i = from; i < from + count; i++) {
		struct pollfd p = { .fd = s, .events = POLLIN };
		uint32_t n;

		if (poll(&p, 1, 10000) != 1)
			return fail("datagram %d did not arrive", i);
		if (recv(s, &n, sizeof(n), 0) != sizeof(n))
			return fail("recv: %s", strerror(errno));
		if ((int)ntohl(n) != i)
			return fail("datagram %u arrived where %d was expected", ntohl(n), i);
	}
	return 0;
}

static int nothing_received(int s)
{
	uint32_t n;

	if (recv(s, &n, sizeof(n), MSG_DONTWAIT) >= 0)
		return fail("datagram %u reached the socket during the hold", ntohl(n));
	return 0;
}

static int stats(int dev, struct pmig_hold_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->vip = vip();
	return call(dev, PMIG_IOC_HOLD_STATS, st);
}

/*
 * Waits until the hold has taken @count packets in all (kept or overflowed):
 * a datagram sent over loopback reaches PRE_ROUTING in a softirq, which a
 * loaded machine may run later, in ksoftirqd.
 */
static int await_taken(int dev, unsigned long long count)
{
	struct pmig_hold_stats st;

	for (int i = 0; i < 30000; i++) {
		if (stats(dev, &st))
			return fail("hold stats: %s", strerror(errno));
		if (st.kept + st.overflowed >= count)
			return 0;
		usleep(1000);
	}
	return fail("the hold took %llu of %llu packets in 30 s", st.kept + st.overflowed, count);
}

static int hold_and_release_in_order(int dev)
{
	struct pmig_hold h = hold_request(0, 4096);
	struct pmig_release r = { .vip = vip(), .flags = PMIG_RELEASE_END };
	struct pmig_hold_stats st;
	int s = udp_receiver();
	int err = -1;

	if (s < 0)
		return fail("cannot bind %s:%d", VIP, PORT);
	if (call(dev, PMIG_IOC_HOLD, &h)) {
		fail("hold: %s", strerror(errno));
		goto out;
	}
	send_numbered(0, 1000);
	if (await_taken(dev, 1000))
		goto out;
	if (stats(dev, &st) || st.kept != 1000 || st.queued != 1000 || st.overflowed) {
		fail("after 1000 datagrams: kept %llu queued %u overflowed %llu", st.kept, st.queued, st.overflowed);
		goto out;
	}
	if (nothing_received(s))
		goto out;
	if (call(dev, PMIG_IOC_RELEASE, &r) || r.released != 1000) {
		fail("release: %s, %u released", strerror(errno), r.released);
		goto out;
	}
	if (receive_in_order(s, 0, 1000))
		goto out;
	/* ended: what comes now passes */
	send_numbered(1000, 1);
	err = receive_in_order(s, 1000, 1);
	if (!err && stats(dev, &st) != ENOENT)
		err = fail("the hold is still there after its end");
out:
	r.flags = PMIG_RELEASE_END | PMIG_RELEASE_DROP;
	call(dev, PMIG_IOC_RELEASE, &r);
	close(s);
	return err;
}

static int release_keeps_holding(int dev)
{
	struct pmig_hold h = hold_request(0, 4096);
	struct pmig_release r = { .vip = vip() };
	int s = udp_receiver();
	int err = -1;

	if (s < 0 || call(dev, PMIG_IOC_HOLD, &h))
		return fail("hold: %s", strerror(errno));
	send_numbered(0, 10);
	if (await_taken(dev, 10))
		goto out;
	if (call(dev, PMIG_IOC_RELEASE, &r) || r.released != 10 || receive_in_order(s, 0, 10)) {
		fail("%s; %u released", why[0] ? why : "release", r.released);
		goto out;
	}
	send_numbered(10, 5);
	if (await_taken(dev, 15) || nothing_received(s))
		goto out;
	r.flags = PMIG_RELEASE_END;
	r.released = 0;
	if (call(dev, PMIG_IOC_RELEASE, &r) || r.released != 5) {
		fail("the second release: %u released", r.released);
		goto out;
	}
	err = receive_in_order(s, 10, 5);
out:
	r.flags = PMIG_RELEASE_END | PMIG_RELEASE_DROP;
	call(dev, PMIG_IOC_RELEASE, &r);
	close(s);
	return err;
}

static int take_and_limits(int dev)
{
	struct pmig_hold h = hold_request(0, 100);
	struct pmig_release r = { .vip = vip(), .flags = PMIG_RELEASE_END | PMIG_RELEASE_DROP };
	struct pmig_take t = { .vip = vip() };
	struct pmig_hold_stats st;
	static char buffer[1 << 16];
	int s = udp_receiver();
	int err = -1;
	size_t at = 0;

	if (s < 0 || call(dev, PMIG_IOC_HOLD, &h))
		return fail("hold: %s", strerror(errno));
	send_numbered(0, 150);
	if (await_taken(dev, 150))
		goto out;
	if (stats(dev, &st) || st.kept != 100 || st.overflowed != 50) {
		fail("150 datagrams at a limit of 100: kept %llu overflowed %llu", st.kept, st.overflowed);
		goto out;
	}
	t.buffer = (uintptr_t)buffer;
	t.length = 10;
	if (call(dev, PMIG_IOC_TAKE, &t) != EMSGSIZE) {
		fail("a take into 10 bytes was not refused with EMSGSIZE");
		goto out;
	}
	t.length = sizeof(buffer);
	if (call(dev, PMIG_IOC_TAKE, &t) || t.count != 100) {
		fail("take: %s, %u packets", strerror(errno), t.count);
		goto out;
	}
	for (uint32_t i = 0; i < t.count; i++) {
		struct pmig_packet *p = (struct pmig_packet *)(buffer + at);
		uint32_t n;

		/* IPv4 20 + UDP 8 + 4 */
		memcpy(&n, buffer + at + sizeof(*p) + 28, sizeof(n));
		if (p->length != 32 || ntohl(n) != i || !p->arrived_ns) {
			fail("record %u: length %u number %u", i, p->length, ntohl(n));
			goto out;
		}
		at += sizeof(*p) + ((p->length + 7) & ~7U);
	}
	if (at != t.used) {
		fail("%zu bytes of records, %llu used", at, t.used);
		goto out;
	}
	send_numbered(200, 3);
	if (await_taken(dev, 153))
		goto out;
	if (call(dev, PMIG_IOC_RELEASE, &r) || r.released != 3) {
		fail("drop: %u dropped", r.released);
		goto out;
	}
	err = nothing_received(s);
out:
	r.flags = PMIG_RELEASE_END | PMIG_RELEASE_DROP;
	call(dev, PMIG_IOC_RELEASE, &r);
	close(s);
	return err;
}

/*
 * A hold of new connections takes a TCP SYN and lets datagrams by; widened,
 * it takes everything; released, the SYN goes in and the connection is made.
 */
static int new_connections_then_everything(int dev)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(PORT + 1) };
	struct pmig_hold h = hold_request(PMIG_HOLD_NEW_CONNECTIONS, 100);
	struct pmig_release r = { .vip = vip(), .flags = PMIG_RELEASE_END };
	struct pollfd p = { .events = POLLIN };
	int listener = socket(AF_INET, SOCK_STREAM, 0);
	int client = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int s = udp_receiver();
	int err = -1;

	inet_pton(AF_INET, VIP, &a.sin_addr);
	if (listener < 0 || client < 0 || s < 0 || bind(listener, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(listener, 4)) {
		fail("sockets: %s", strerror(errno));
		goto out;
	}
	if (call(dev, PMIG_IOC_HOLD, &h)) {
		fail("hold of new connections: %s", strerror(errno));
		goto out;
	}
	send_numbered(0, 1);
	if (receive_in_order(s, 0, 1))
		goto out;
	if (connect(client, (struct sockaddr *)&a, sizeof(a)) == 0 || errno != EINPROGRESS) {
		fail("connect: %s", strerror(errno));
		goto out;
	}
	if (await_taken(dev, 1))
		goto out;
	p.fd = listener;
	if (poll(&p, 1, 0) != 0) {
		fail("the listener has a connection while its SYN is held");
		goto out;
	}
	h.flags = 0;
	if (call(dev, PMIG_IOC_HOLD, &h)) {
		fail("widening the hold: %s", strerror(errno));
		goto out;
	}
	send_numbered(1, 1);
	if (await_taken(dev, 2) || nothing_received(s))
		goto out;
	/* the client may have retransmitted its SYN meanwhile (after 1 s) */
	if (call(dev, PMIG_IOC_RELEASE, &r) || r.released < 2) {
		fail("release: %u released", r.released);
		goto out;
	}
	if (poll(&p, 1, 10000) != 1) {
		fail("the released SYN made no connection");
		goto out;
	}
	err = receive_in_order(s, 1, 1);
out:
	r.flags = PMIG_RELEASE_END | PMIG_RELEASE_DROP;
	call(dev, PMIG_IOC_RELEASE, &r);
	close(listener);
	close(client);
	close(s);
	return err;
}

/* Closing the descriptor ends its holds; what they queued is dropped. */
static int close_ends_holds(int dev)
{
	struct pmig_hold h = hold_request(0, 100);
	int other = open("/dev/pmig", O_RDWR);
	int s = udp_receiver();
	int err;

	if (other < 0 || s < 0 || call(other, PMIG_IOC_HOLD, &h))
		return fail("hold on a second descriptor: %s", strerror(errno));
	if (call(dev, PMIG_IOC_HOLD, &h) != EBUSY) {
		close(other);
		close(s);
		return fail("a second descriptor could hold the same address");
	}
	send_numbered(0, 4);
	err = await_taken(other, 4);
	close(other);
	if (!err)
		err = nothing_received(s);
	send_numbered(4, 1);
	if (!err)
		err = receive_in_order(s, 4, 1);
	close(s);
	return err;
}

struct connection {
	int client;
	int server;
};

/* count loopback connections, each with some bytes unread at both ends */
static int connect_pairs(struct connection *c, int count)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t length = sizeof(a);
	int listener = socket(AF_INET, SOCK_STREAM, 0);

	if (listener < 0 || bind(listener, (struct sockaddr *)&a, sizeof(a)) || listen(listener, count) ||
	    getsockname(listener, (struct sockaddr *)&a, &length))
		return -1;
	for (int i = 0; i < count; i++) {
		char data[64] = { 0 };

		c[i].client = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(c[i].client, (struct sockaddr *)&a, sizeof(a)))
			return -1;
		c[i].server = accept(listener, NULL, NULL);
		if (c[i].server < 0)
			return -1;
		if (send(c[i].client, data, i + 1, 0) != i + 1 || send(c[i].server, data, 2 * i + 1, 0) != 2 * i + 1)
			return -1;
	}
	close(listener);
	return 0;
}

static int getint(int fd, int level, int name)
{
	int value = -1;
	socklen_t length = sizeof(value);

	getsockopt(fd, level, name, &value, &length);
	return value;
}

static int setint(int fd, int level, int name, int value)
{
	return setsockopt(fd, level, name, &value, sizeof(value));
}

/* What the per-socket path (checkpoint's TcpSockets) reads, into the module's structure. */
static int read_by_getsockopt(int fd, struct pmig_tcp_socket *out)
{
	struct tcp_repair_window w;
	struct tcp_info info;
	socklen_t length = sizeof(info);
	int inq, outq, notsent;

	memset(out, 0, sizeof(*out));
	out->fd = fd;
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length))
		return -1;
	out->state = info.tcpi_state;
	out->options = info.tcpi_options;
	out->snd_wscale = info.tcpi_snd_wscale;
	out->rcv_wscale = info.tcpi_rcv_wscale;
	if (setint(fd, IPPROTO_TCP, TCP_REPAIR, 1))
		return -1;
	ioctl(fd, SIOCINQ, &inq);
	ioctl(fd, SIOCOUTQ, &outq);
	ioctl(fd, SIOCOUTQNSD, &notsent);
	out->inq = inq;
	out->outq = outq;
	out->notsent = notsent;
	setint(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE);
	out->rcv_nxt = getint(fd, IPPROTO_TCP, TCP_QUEUE_SEQ);
	setint(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE);
	out->write_seq = getint(fd, IPPROTO_TCP, TCP_QUEUE_SEQ);
	length = sizeof(w);
	if (getsockopt(fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, &length))
		return -1;
	out->snd_wl1 = w.snd_wl1;
	out->snd_wnd = w.snd_wnd;
	out->max_window = w.max_window;
	out->rcv_wnd = w.rcv_wnd;
	out->rcv_wup = w.rcv_wup;
	out->mss_clamp = getint(fd, IPPROTO_TCP, TCP_MAXSEG);
	out->timestamp = getint(fd, IPPROTO_TCP, TCP_TIMESTAMP);
	out->family = getint(fd, SOL_SOCKET, SO_DOMAIN);
	return setint(fd, IPPROTO_TCP, TCP_REPAIR, 0);
}

static struct pmig_tcp_socket *module_state(int dev, pid_t pid, uint32_t capacity, uint32_t *count)
{
	struct pmig_tcp_socket *sockets = calloc(capacity, sizeof(*sockets));
	struct pmig_tcp_state s = { .pid = pid, .capacity = capacity, .sockets = (uintptr_t)sockets };

	if (call(dev, PMIG_IOC_TCP_STATE, &s)) {
		free(sockets);
		return NULL;
	}
	*count = s.count;
	return sockets;
}

#define CONNECTIONS 8

static int tcp_state_matches_getsockopt(int dev)
{
	struct pmig_tcp_state bad = { .capacity = 4, .sockets = 16 };
	struct connection c[CONNECTIONS];
	struct pmig_tcp_socket *got;
	uint32_t count = 0, small = 0;
	int err = 0;

	if (connect_pairs(c, CONNECTIONS))
		return fail("cannot make %d loopback connections: %s", CONNECTIONS, strerror(errno));
	bad.pid = getpid();
	if (expect(dev, PMIG_IOC_TCP_STATE, &bad, EFAULT, "TCP state into a bad array"))
		return -1;
	got = module_state(dev, getpid(), 4, &small);
	free(got);
	if (!got || small != 2 * CONNECTIONS)
		return fail("with room for 4: %u sockets counted, expected %d", small, 2 * CONNECTIONS);
	got = module_state(dev, getpid(), 64, &count);
	if (!got || count != 2 * CONNECTIONS)
		return fail("%u TCP sockets reported, expected %d", count, 2 * CONNECTIONS);
	for (uint32_t i = 0; i < count && !err; i++) {
		struct pmig_tcp_socket want;
		struct pmig_tcp_socket *m = &got[i];

		if (read_by_getsockopt(m->fd, &want))
			err = fail("getsockopts of fd %d: %s", m->fd, strerror(errno));
		else if (m->state != want.state || m->options != want.options || m->snd_wscale != want.snd_wscale ||
			 m->rcv_wscale != want.rcv_wscale || m->write_seq != want.write_seq ||
			 m->rcv_nxt != want.rcv_nxt || m->mss_clamp != want.mss_clamp || m->inq != want.inq ||
			 m->outq != want.outq || m->notsent != want.notsent || m->snd_wl1 != want.snd_wl1 ||
			 m->snd_wnd != want.snd_wnd || m->max_window != want.max_window ||
			 m->rcv_wnd != want.rcv_wnd || m->rcv_wup != want.rcv_wup || m->family != AF_INET ||
			 (uint32_t)(want.timestamp - m->timestamp) > 10000)
			err = fail("fd %d: module state %u seq %u/%u inq %u outq %u mss %u ts %u win %u/%u/%u/%u/%u; "
				   "getsockopt state %u seq %u/%u inq %u outq %u mss %u ts %u win %u/%u/%u/%u/%u", m->fd,
				   m->state, m->write_seq, m->rcv_nxt, m->inq, m->outq, m->mss_clamp, m->timestamp,
				   m->snd_wl1, m->snd_wnd, m->max_window, m->rcv_wnd, m->rcv_wup, want.state,
				   want.write_seq, want.rcv_nxt, want.inq, want.outq, want.mss_clamp, want.timestamp,
				   want.snd_wl1, want.snd_wnd, want.max_window, want.rcv_wnd, want.rcv_wup);
		else if (i && m->fd <= got[i - 1].fd)
			err = fail("not in fd order: %d after %d", m->fd, got[i - 1].fd);
	}
	if (!err && got[0].inq == 0)
		err = fail("fd %d reports no unread bytes", got[0].fd);
	free(got);
	for (int i = 0; i < CONNECTIONS; i++) {
		close(c[i].client);
		close(c[i].server);
	}
	return err;
}

static double now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

/* Prints the figures as JSON fields: the repair state of 2*connections sockets, and a hold of packets. */
static int bench(int dev, int connections, int packets)
{
	struct connection *c = calloc(connections, sizeof(*c));
	struct pmig_tcp_socket *sockets = calloc(2 * connections, sizeof(*sockets));
	struct pmig_tcp_state s = { .pid = getpid(), .capacity = 2 * connections, .sockets = (uintptr_t)sockets };
	struct pmig_hold h = hold_request(0, packets);
	struct pmig_release r = { .vip = vip(), .flags = PMIG_RELEASE_END };
	double start, module_us, getsockopt_us, release_us, receive_us;
	int receiver;

	if (connect_pairs(c, connections))
		return fail("cannot make %d connections: %s", connections, strerror(errno));
	start = now_us();
	if (call(dev, PMIG_IOC_TCP_STATE, &s) || s.count != 2 * (uint32_t)connections)
		return fail("TCP state: %s", strerror(errno));
	module_us = now_us() - start;
	start = now_us();
	for (uint32_t i = 0; i < s.count; i++) {
		struct pmig_tcp_socket one;

		if (read_by_getsockopt(sockets[i].fd, &one))
			return fail("getsockopt: %s", strerror(errno));
	}
	getsockopt_us = now_us() - start;

	receiver = udp_receiver();
	if (receiver < 0 || call(dev, PMIG_IOC_HOLD, &h))
		return fail("hold: %s", strerror(errno));
	send_numbered(0, packets);
	if (await_taken(dev, packets))
		return -1;
	start = now_us();
	if (call(dev, PMIG_IOC_RELEASE, &r) || r.released != (uint32_t)packets)
		return fail("release: %u of %d", r.released, packets);
	release_us = now_us() - start;
	if (receive_in_order(receiver, 0, packets))
		return -1;
	receive_us = now_us() - start;
	printf("{\"sockets\": %d, \"tcpStateOneCallUs\": %.1f, \"tcpStateGetsockoptUs\": %.1f, "
	       "\"packets\": %d, \"moduleReleaseUs\": %.1f, \"moduleReleaseToLastReceivedUs\": %.1f}\n",
	       2 * connections, module_us, getsockopt_us, packets, release_us, receive_us);
	return 0;
}

int main(int argc, char **argv)
{
	int dev;

	if (argc == 5 && !strcmp(argv[1], "send")) {
		send_numbered_to(argv[2], atoi(argv[3]), 0, atoi(argv[4]));
		return 0;
	}
	dev = open("/dev/pmig", O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		fprintf(stderr, "pmigtest: cannot open /dev/pmig: %s (insmod pmig.ko first)\n", strerror(errno));
		return 2;
	}
	if (argc == 4 && !strcmp(argv[1], "bench")) {
		if (bench(dev, atoi(argv[2]), atoi(argv[3]))) {
			fprintf(stderr, "pmigtest bench: %s\n", why);
			return 1;
		}
		return 0;
	}
	if (argc != 2 || strcmp(argv[1], "checks")) {
		fprintf(stderr, "usage: pmigtest checks | bench SOCKETS PACKETS | send ADDRESS PORT COUNT\n");
		return 2;
	}
	check("version", version, dev);
	check("refusesUnprivilegedCallers", unprivileged, dev);
	check("refusesBadArguments", bad_arguments, dev);
	check("holdsAndReleasesInOrder", hold_and_release_in_order, dev);
	check("releaseWithoutEndKeepsHolding", release_keeps_holding, dev);
	check("takesAndDropsWithinLimits", take_and_limits, dev);
	check("closingTheDeviceEndsItsHolds", close_ends_holds, dev);
	check("holdsNewConnectionsThenEverything", new_connections_then_everything, dev);
	check("tcpStateMatchesTheGetsockopts", tcp_state_matches_getsockopt, dev);
	return failures ? 1 : 0;
}
