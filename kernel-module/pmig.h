/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * pmig.ko's interface: ioctls on /dev/pmig (kernel-module/README.md).
 * Every call needs CAP_SYS_ADMIN; every structure is checked whole
 * (reserved fields and unknown flags must be zero).
 */
#ifndef _UAPI_PMIG_H
#define _UAPI_PMIG_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define PMIG_VERSION 1

/* features in struct pmig_version */
#define PMIG_FEATURE_HOLD	(1U << 0)
#define PMIG_FEATURE_TCP_STATE	(1U << 1)

struct pmig_version {
	__u32 version;		/* out: PMIG_VERSION */
	__u32 features;		/* out: PMIG_FEATURE_* */
};

/* An address: family AF_INET (the first 4 bytes) or AF_INET6. */
struct pmig_address {
	__u32 family;
	__u8 address[16];
};

/* struct pmig_hold flags */
#define PMIG_HOLD_NEW_CONNECTIONS	(1U << 0) /* only TCP SYN without ACK */

/*
 * Starts holding the address's inbound packets in this network namespace:
 * they are taken at PRE_ROUTING and queued in arrival order, up to
 * max_packets and max_bytes (past either they are dropped and counted).
 * On an address already held by this descriptor, a hold of new connections
 * becomes a hold of everything (flags 0); the limits stay.
 */
struct pmig_hold {
	struct pmig_address vip;
	__u32 flags;
	__u32 max_packets;	/* 1 .. PMIG_MAX_PACKETS */
	__u32 reserved;
	__u64 max_bytes;	/* 1 .. PMIG_MAX_BYTES */
};

#define PMIG_MAX_PACKETS	(1U << 20)
#define PMIG_MAX_BYTES		(1ULL << 32)

/* struct pmig_release flags */
#define PMIG_RELEASE_END	(1U << 0) /* end the hold once its queue is empty */
#define PMIG_RELEASE_DROP	(1U << 1) /* drop what is queued instead */

/*
 * Re-injects the queued packets in order where they were taken (the stack
 * goes on with them as if they had just arrived), or drops them; with
 * PMIG_RELEASE_END the hold ends. Packets arriving meanwhile queue behind
 * and go in the same way, so none overtakes another.
 */
struct pmig_release {
	struct pmig_address vip;
	__u32 flags;
	__u32 released;		/* out: packets re-injected (or dropped) */
};

/*
 * Moves queued packets, oldest first, into the caller's buffer as records:
 * struct pmig_packet, then the IP packet, padded to 8 bytes. Stops at the
 * first packet that does not fit (none fits: EMSGSIZE). The hold goes on.
 */
struct pmig_take {
	struct pmig_address vip;
	__u32 length;		/* of the buffer */
	__u32 count;		/* out: packets written */
	__u32 reserved;
	__u64 buffer;		/* user address */
	__u64 used;		/* out: bytes written */
};

struct pmig_packet {
	__u32 length;		/* of the IP packet that follows */
	__u32 reserved;
	__u64 arrived_ns;	/* CLOCK_REALTIME when it was taken */
};

struct pmig_hold_stats {
	struct pmig_address vip;
	__u32 queued;		/* out: packets in the queue now */
	__u64 kept;		/* out: packets queued since the hold began */
	__u64 overflowed;	/* out: packets dropped at a limit */
	__u64 queued_bytes;	/* out */
};

/*
 * The TCP repair state of every TCP socket process pid (in the caller's pid
 * namespace) has open, in fd order: what TCP_INFO, TCP_QUEUE_SEQ,
 * TCP_REPAIR_WINDOW, TCP_MAXSEG (in repair mode), TCP_TIMESTAMP and
 * SIOCINQ/SIOCOUTQ/SIOCOUTQNSD report, read under the socket's lock.
 * Nothing is changed. count: how many there are; only the first capacity
 * are written (call again with a larger array).
 */
struct pmig_tcp_state {
	__s32 pid;
	__u32 capacity;		/* entries in sockets */
	__u64 sockets;		/* user address of struct pmig_tcp_socket[capacity] */
	__u32 count;		/* out */
	__u32 reserved;
};

struct pmig_tcp_socket {
	__s32 fd;
	__u8 state;		/* TCP_ESTABLISHED... */
	__u8 options;		/* tcpi_options */
	__u8 snd_wscale;
	__u8 rcv_wscale;
	__u64 inode;		/* of the socket, as in socket:[inode] */
	__u32 family;
	__u32 write_seq;	/* TCP_QUEUE_SEQ of the send queue */
	__u32 rcv_nxt;		/* TCP_QUEUE_SEQ of the receive queue */
	__u32 mss_clamp;	/* TCP_MAXSEG in repair mode */
	__u32 timestamp;	/* TCP_TIMESTAMP */
	__u32 inq;		/* SIOCINQ */
	__u32 outq;		/* SIOCOUTQ */
	__u32 notsent;		/* SIOCOUTQNSD */
	__u32 snd_wl1;		/* struct tcp_repair_window */
	__u32 snd_wnd;
	__u32 max_window;
	__u32 rcv_wnd;
	__u32 rcv_wup;
	__u32 reserved;
};

#define PMIG_IOC_MAGIC 0xb7

#define PMIG_IOC_VERSION	_IOR(PMIG_IOC_MAGIC, 1, struct pmig_version)
#define PMIG_IOC_HOLD		_IOW(PMIG_IOC_MAGIC, 2, struct pmig_hold)
#define PMIG_IOC_RELEASE	_IOWR(PMIG_IOC_MAGIC, 3, struct pmig_release)
#define PMIG_IOC_TAKE		_IOWR(PMIG_IOC_MAGIC, 4, struct pmig_take)
#define PMIG_IOC_HOLD_STATS	_IOWR(PMIG_IOC_MAGIC, 5, struct pmig_hold_stats)
#define PMIG_IOC_TCP_STATE	_IOWR(PMIG_IOC_MAGIC, 6, struct pmig_tcp_state)

#endif /* _UAPI_PMIG_H */
