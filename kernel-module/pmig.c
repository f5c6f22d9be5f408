// SPDX-License-Identifier: GPL-2.0
/*
 * pmig.ko: what pmig's daemon does slowly through upstream interfaces, in one
 * place (kernel-module/README.md): holding a VIP's inbound packets inside the
 * kernel and re-injecting them in order, and reading the TCP repair state of
 * all of a process's sockets in one call. /dev/pmig, CAP_SYS_ADMIN only.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/list.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/net.h>
#include <linux/netdevice.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/pid.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/socket.h>
#include <linux/spinlock.h>
#include <linux/tcp.h>
#include <linux/uaccess.h>
#include <linux/version.h>
#include <net/net_namespace.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "pmig.h"

/*
 * Built for Debian 12's 6.1 and its 6.12: 6.7 changed the fd iterator (it
 * takes the file's reference) and TCP_TIMESTAMP (its lowest bit: usec).
 */
#define PMIG_SINCE_6_7 (LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0))

/* a release re-injects in rounds while packets keep arriving; then it ends */
#define PMIG_RELEASE_ROUNDS 64

struct pmig_held {
	struct list_head list;
	struct sk_buff *skb;
	struct net_device *in;
	int (*okfn)(struct net *net, struct sock *sk, struct sk_buff *skb);
	u64 arrived_ns;
};

/* One held address. The hook takes only @lock; the rest under pmig_mutex. */
struct pmig_hold_entry {
	struct list_head list;		/* in pmig_holds */
	struct file *owner;
	struct net *net;
	struct pmig_address vip;
	struct nf_hook_ops ops;
	u32 max_packets;
	u64 max_bytes;
	spinlock_t lock;		/* the queue and its counters */
	struct list_head queue;		/* of struct pmig_held, oldest first */
	bool new_connections_only;
	bool passing;			/* ending: the hook lets everything by */
	u32 queued;
	u64 queued_bytes;
	u64 kept;
	u64 overflowed;
};

static DEFINE_MUTEX(pmig_mutex);
static LIST_HEAD(pmig_holds);

static bool pmig_is_new_connection(struct sk_buff *skb, unsigned int offset)
{
	struct tcphdr header;
	const struct tcphdr *th;

	th = skb_header_pointer(skb, offset, sizeof(header), &header);
	return th && th->syn && !th->ack;
}

/* Whether @skb is for the held address, and of the kind held. */
static bool pmig_matches(struct pmig_hold_entry *hold, struct sk_buff *skb)
{
	if (hold->vip.family == AF_INET) {
		const struct iphdr *iph = ip_hdr(skb);

		if (memcmp(&iph->daddr, hold->vip.address, 4))
			return false;
		if (!hold->new_connections_only)
			return true;
		return iph->protocol == IPPROTO_TCP &&
		       !(iph->frag_off & htons(IP_OFFSET)) &&
		       pmig_is_new_connection(skb, iph->ihl * 4);
	}
	if (memcmp(&ipv6_hdr(skb)->daddr, hold->vip.address, 16))
		return false;
	if (!hold->new_connections_only)
		return true;
	return ipv6_hdr(skb)->nexthdr == IPPROTO_TCP &&
	       pmig_is_new_connection(skb, sizeof(struct ipv6hdr));
}

static unsigned int pmig_hook(void *priv, struct sk_buff *skb,
			      const struct nf_hook_state *state)
{
	struct pmig_hold_entry *hold = priv;
	struct pmig_held *held;
	unsigned int verdict = NF_STOLEN;

	if (!pmig_matches(hold, skb))
		return NF_ACCEPT;
	held = kmalloc(sizeof(*held), GFP_ATOMIC);
	spin_lock(&hold->lock);
	if (hold->passing) {
		verdict = NF_ACCEPT;
	} else if (!held || hold->queued >= hold->max_packets ||
		   hold->queued_bytes + skb->len > hold->max_bytes) {
		hold->overflowed++;
		verdict = NF_DROP;
	} else {
		held->skb = skb;
		held->in = state->in;
		dev_hold(held->in);
		held->okfn = state->okfn;
		held->arrived_ns = ktime_get_real_ns();
		list_add_tail(&held->list, &hold->queue);
		hold->queued++;
		hold->queued_bytes += skb->len;
		hold->kept++;
		held = NULL;
	}
	spin_unlock(&hold->lock);
	kfree(held);
	return verdict;
}

static void pmig_free_held(struct pmig_held *held, bool consumed)
{
	dev_put(held->in);
	if (consumed)
		consume_skb(held->skb);
	else
		kfree_skb(held->skb);
	kfree(held);
}

/* Hands the stack what the hook took, as nf_reinject does after a verdict. */
static void pmig_reinject(struct pmig_hold_entry *hold, struct pmig_held *held)
{
	rcu_read_lock();
	local_bh_disable();
	held->okfn(hold->net, NULL, held->skb);
	local_bh_enable();
	rcu_read_unlock();
	dev_put(held->in);
	kfree(held);
}

/*
 * Re-injects (or drops) the queue in rounds until a round finds it empty;
 * with @end the hook lets packets by from then on, so the last queued one
 * goes in before any that comes after it.
 */
static u32 pmig_release_queue(struct pmig_hold_entry *hold, bool drop, bool end)
{
	struct pmig_held *held, *next;
	LIST_HEAD(batch);
	u32 released = 0;
	int round;

	for (round = 0; ; round++) {
		spin_lock_bh(&hold->lock);
		list_splice_init(&hold->queue, &batch);
		hold->queued = 0;
		hold->queued_bytes = 0;
		if (end && (list_empty(&batch) || round == PMIG_RELEASE_ROUNDS))
			hold->passing = true;
		spin_unlock_bh(&hold->lock);
		if (list_empty(&batch))
			break;
		list_for_each_entry_safe(held, next, &batch, list) {
			list_del(&held->list);
			if (drop)
				pmig_free_held(held, false);
			else
				pmig_reinject(hold, held);
			released++;
		}
		if (!end || hold->passing)
			break;
	}
	return released;
}

/*
 * Ends a hold: what is still queued is dropped, then the hook goes (until
 * then it lets packets by: nothing is queued after the first step).
 */
static void pmig_hold_free(struct pmig_hold_entry *hold)
{
	pmig_release_queue(hold, true, true);
	nf_unregister_net_hook(hold->net, &hold->ops);
	list_del(&hold->list);
	put_net(hold->net);
	kfree(hold);
}

static int pmig_check_address(const struct pmig_address *vip)
{
	if (vip->family == AF_INET)
		return memchr_inv(vip->address + 4, 0, 12) ? -EINVAL : 0;
	return vip->family == AF_INET6 ? 0 : -EAFNOSUPPORT;
}

/* Copies a hold request in; every one begins with its address, checked here. */
static int pmig_read_request(void *request, size_t size, void __user *arg)
{
	if (copy_from_user(request, arg, size))
		return -EFAULT;
	return pmig_check_address(request);
}

static struct pmig_hold_entry *pmig_find(struct file *owner,
					 const struct pmig_address *vip)
{
	struct pmig_hold_entry *hold;

	lockdep_assert_held(&pmig_mutex);
	list_for_each_entry(hold, &pmig_holds, list) {
		if (hold->owner == owner && hold->vip.family == vip->family &&
		    !memcmp(hold->vip.address, vip->address, 16))
			return hold;
	}
	return NULL;
}

/* Whether any descriptor holds @vip in @net already. */
static bool pmig_held_elsewhere(struct net *net, const struct pmig_address *vip)
{
	struct pmig_hold_entry *hold;

	list_for_each_entry(hold, &pmig_holds, list) {
		if (net_eq(hold->net, net) && hold->vip.family == vip->family &&
		    !memcmp(hold->vip.address, vip->address, 16))
			return true;
	}
	return false;
}

static long pmig_hold(struct file *file, void __user *arg)
{
	struct pmig_hold_entry *hold;
	struct pmig_hold request;
	struct net *net = current->nsproxy->net_ns;
	int err;

	err = pmig_read_request(&request, sizeof(request), arg);
	if (err)
		return err;
	if ((request.flags & ~PMIG_HOLD_NEW_CONNECTIONS) || request.reserved ||
	    !request.max_packets || request.max_packets > PMIG_MAX_PACKETS ||
	    !request.max_bytes || request.max_bytes > PMIG_MAX_BYTES)
		return -EINVAL;

	mutex_lock(&pmig_mutex);
	hold = pmig_find(file, &request.vip);
	if (hold) {
		/* widening to every packet; narrowing would let held ones be overtaken */
		if (!(request.flags & PMIG_HOLD_NEW_CONNECTIONS)) {
			spin_lock_bh(&hold->lock);
			hold->new_connections_only = false;
			spin_unlock_bh(&hold->lock);
		}
		err = 0;
		goto out;
	}
	err = -EBUSY;
	if (pmig_held_elsewhere(net, &request.vip))
		goto out;
	err = -ENOMEM;
	hold = kzalloc(sizeof(*hold), GFP_KERNEL);
	if (!hold)
		goto out;
	hold->owner = file;
	hold->net = get_net(net);
	hold->vip = request.vip;
	hold->max_packets = request.max_packets;
	hold->max_bytes = request.max_bytes;
	hold->new_connections_only = request.flags & PMIG_HOLD_NEW_CONNECTIONS;
	spin_lock_init(&hold->lock);
	INIT_LIST_HEAD(&hold->queue);
	hold->ops.hook = pmig_hook;
	hold->ops.priv = hold;
	hold->ops.pf = request.vip.family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6;
	hold->ops.hooknum = NF_INET_PRE_ROUTING;
	/* last: conntrack, NAT and the other hooks have seen the packet, okfn goes on from there */
	hold->ops.priority = NF_IP_PRI_LAST;
	err = nf_register_net_hook(net, &hold->ops);
	if (err) {
		put_net(hold->net);
		kfree(hold);
		goto out;
	}
	list_add(&hold->list, &pmig_holds);
out:
	mutex_unlock(&pmig_mutex);
	return err;
}

static long pmig_release(struct file *file, void __user *arg)
{
	struct pmig_hold_entry *hold;
	struct pmig_release request;
	bool drop, end;
	int err;

	err = pmig_read_request(&request, sizeof(request), arg);
	if (err)
		return err;
	if ((request.flags & ~(PMIG_RELEASE_END | PMIG_RELEASE_DROP)) || request.released)
		return -EINVAL;
	drop = request.flags & PMIG_RELEASE_DROP;
	end = request.flags & PMIG_RELEASE_END;

	mutex_lock(&pmig_mutex);
	hold = pmig_find(file, &request.vip);
	if (!hold) {
		mutex_unlock(&pmig_mutex);
		return -ENOENT;
	}
	request.released = pmig_release_queue(hold, drop, end);
	if (end)
		pmig_hold_free(hold);
	mutex_unlock(&pmig_mutex);
	return copy_to_user(arg, &request, sizeof(request)) ? -EFAULT : 0;
}

static struct pmig_held *pmig_dequeue(struct pmig_hold_entry *hold, u64 room)
{
	struct pmig_held *held;

	spin_lock_bh(&hold->lock);
	held = list_first_entry_or_null(&hold->queue, struct pmig_held, list);
	if (held && sizeof(struct pmig_packet) + ALIGN((u64)held->skb->len, 8) <= room) {
		list_del(&held->list);
		hold->queued--;
		hold->queued_bytes -= held->skb->len;
	} else {
		held = NULL;
	}
	spin_unlock_bh(&hold->lock);
	return held;
}

/* Copies one packet's record to @to; the packet goes whether or not that works. */
static int pmig_copy_packet(struct pmig_held *held, u8 __user *to)
{
	struct pmig_packet record = {
		.length = held->skb->len,
		.arrived_ns = held->arrived_ns,
	};
	u32 padded = ALIGN(held->skb->len, 8);
	void *data;
	int err = -ENOMEM;

	data = kzalloc(padded, GFP_KERNEL);
	if (!data)
		goto out;
	err = skb_copy_bits(held->skb, 0, data, held->skb->len);
	if (err)
		goto out;
	err = -EFAULT;
	if (copy_to_user(to, &record, sizeof(record)) ||
	    copy_to_user(to + sizeof(record), data, padded))
		goto out;
	err = 0;
out:
	kfree(data);
	pmig_free_held(held, true);
	return err;
}

static long pmig_take(struct file *file, void __user *arg)
{
	struct pmig_hold_entry *hold;
	struct pmig_held *held;
	struct pmig_take request;
	u8 __user *buffer;
	int err;

	err = pmig_read_request(&request, sizeof(request), arg);
	if (err)
		return err;
	if (request.count || request.reserved || request.used)
		return -EINVAL;
	buffer = u64_to_user_ptr(request.buffer);
	if (!access_ok(buffer, request.length))
		return -EFAULT;

	mutex_lock(&pmig_mutex);
	hold = pmig_find(file, &request.vip);
	if (!hold) {
		err = -ENOENT;
		goto out;
	}
	while ((held = pmig_dequeue(hold, request.length - request.used))) {
		u64 size = sizeof(struct pmig_packet) + ALIGN((u64)held->skb->len, 8);

		err = pmig_copy_packet(held, buffer + request.used);
		if (err)
			goto out;
		request.used += size;
		request.count++;
	}
	spin_lock_bh(&hold->lock);
	if (!request.count && hold->queued)
		err = -EMSGSIZE;
	spin_unlock_bh(&hold->lock);
out:
	mutex_unlock(&pmig_mutex);
	if (err)
		return err;
	return copy_to_user(arg, &request, sizeof(request)) ? -EFAULT : 0;
}

static long pmig_hold_stats(struct file *file, void __user *arg)
{
	struct pmig_hold_entry *hold;
	struct pmig_hold_stats request;
	int err;

	err = pmig_read_request(&request, sizeof(request), arg);
	if (err)
		return err;
	if (request.queued || request.kept || request.overflowed || request.queued_bytes)
		return -EINVAL;
	mutex_lock(&pmig_mutex);
	hold = pmig_find(file, &request.vip);
	if (hold) {
		spin_lock_bh(&hold->lock);
		request.queued = hold->queued;
		request.kept = hold->kept;
		request.overflowed = hold->overflowed;
		request.queued_bytes = hold->queued_bytes;
		spin_unlock_bh(&hold->lock);
	}
	mutex_unlock(&pmig_mutex);
	if (!hold)
		return -ENOENT;
	return copy_to_user(arg, &request, sizeof(request)) ? -EFAULT : 0;
}

/* TCP_TIMESTAMP: since 6.7 its lowest bit says the clock counts microseconds */
static u32 pmig_tcp_timestamp(const struct tcp_sock *tp)
{
#if PMIG_SINCE_6_7
	u32 value = tcp_clock_ts(tp->tcp_usec_ts) + tp->tsoffset;

	return tp->tcp_usec_ts ? value | 1 : value & ~1U;
#else
	return tcp_time_stamp_raw() + tp->tsoffset;
#endif
}

/* The next open file of @task from *@fd on, with a reference; NULL past the last. */
static struct file *pmig_next_file(struct task_struct *task, unsigned int *fd)
{
	struct file *file;

	rcu_read_lock();
#if PMIG_SINCE_6_7
	file = task_lookup_next_fdget_rcu(task, fd);
#else
	for (;; (*fd)++) {
		file = task_lookup_next_fd_rcu(task, fd);
		/* one being closed just now is skipped */
		if (!file || get_file_rcu(file))
			break;
	}
#endif
	rcu_read_unlock();
	return file;
}

/* What the TCP getsockopts and ioctls report, read under the socket's lock. */
static void pmig_read_tcp(struct sock *sk, struct pmig_tcp_socket *out)
{
	struct tcp_sock *tp = tcp_sk(sk);

	lock_sock(sk);
	out->state = sk->sk_state;
	out->family = sk->sk_family;
	if (tp->rx_opt.tstamp_ok)
		out->options |= TCPI_OPT_TIMESTAMPS;
	if (tcp_is_sack(tp))
		out->options |= TCPI_OPT_SACK;
	if (tp->rx_opt.wscale_ok) {
		out->options |= TCPI_OPT_WSCALE;
		out->snd_wscale = tp->rx_opt.snd_wscale;
		out->rcv_wscale = tp->rx_opt.rcv_wscale;
	}
	if (tp->ecn_flags & TCP_ECN_OK)
		out->options |= TCPI_OPT_ECN;
	if (tp->ecn_flags & TCP_ECN_SEEN)
		out->options |= TCPI_OPT_ECN_SEEN;
	if (tp->syn_data_acked)
		out->options |= TCPI_OPT_SYN_DATA;
#if PMIG_SINCE_6_7
	if (tp->tcp_usec_ts)
		out->options |= TCPI_OPT_USEC_TS;
#endif
	out->write_seq = tp->write_seq;
	out->rcv_nxt = tp->rcv_nxt;
	out->mss_clamp = tp->rx_opt.mss_clamp;
	out->timestamp = pmig_tcp_timestamp(tp);
	if (sk->sk_state != TCP_LISTEN) {
		out->inq = tcp_inq(sk);
		if (!((1 << sk->sk_state) & (TCPF_SYN_SENT | TCPF_SYN_RECV))) {
			out->outq = tp->write_seq - tp->snd_una;
			out->notsent = tp->write_seq - tp->snd_nxt;
		}
	}
	out->snd_wl1 = tp->snd_wl1;
	out->snd_wnd = tp->snd_wnd;
	out->max_window = tp->max_window;
	out->rcv_wnd = tp->rcv_wnd;
	out->rcv_wup = tp->rcv_wup;
	release_sock(sk);
}

/* The TCP socket behind @file, with a reference, or NULL. */
static struct sock *pmig_tcp_sock(struct file *file)
{
	struct socket *sock = sock_from_file(file);
	struct sock *sk;

	if (!sock || !sock->sk)
		return NULL;
	sk = sock->sk;
	if (sk->sk_type != SOCK_STREAM || sk->sk_protocol != IPPROTO_TCP ||
	    (sk->sk_family != AF_INET && sk->sk_family != AF_INET6))
		return NULL;
	sock_hold(sk);
	return sk;
}

static long pmig_tcp_state(void __user *arg)
{
	struct pmig_tcp_socket __user *sockets;
	struct pmig_tcp_state request;
	struct task_struct *task;
	struct pid *pid;
	unsigned int fd;
	int err = 0;

	if (copy_from_user(&request, arg, sizeof(request)))
		return -EFAULT;
	if (request.pid <= 0 || request.count || request.reserved)
		return -EINVAL;
	sockets = u64_to_user_ptr(request.sockets);
	if (request.capacity > INT_MAX / sizeof(*sockets) ||
	    !access_ok(sockets, (size_t)request.capacity * sizeof(*sockets)))
		return -EFAULT;

	pid = find_get_pid(request.pid);
	task = pid ? get_pid_task(pid, PIDTYPE_PID) : NULL;
	put_pid(pid);
	if (!task)
		return -ESRCH;
	for (fd = 0; ; fd++) {
		struct pmig_tcp_socket entry = {};
		struct file *file;
		struct sock *sk;

		file = pmig_next_file(task, &fd);
		if (!file)
			break;
		sk = pmig_tcp_sock(file);
		if (sk) {
			entry.fd = fd;
			entry.inode = file_inode(file)->i_ino;
			pmig_read_tcp(sk, &entry);
			sock_put(sk);
			if (request.count < request.capacity &&
			    copy_to_user(&sockets[request.count], &entry, sizeof(entry)))
				err = -EFAULT;
			request.count++;
		}
		fput(file);
		cond_resched();
		if (err || fatal_signal_pending(current)) {
			err = err ? err : -EINTR;
			break;
		}
	}
	put_task_struct(task);
	if (err)
		return err;
	return copy_to_user(arg, &request, sizeof(request)) ? -EFAULT : 0;
}

static long pmig_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *argp = (void __user *)arg;
	struct pmig_version version = {
		.version = PMIG_VERSION,
		.features = PMIG_FEATURE_HOLD | PMIG_FEATURE_TCP_STATE,
	};

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	switch (cmd) {
	case PMIG_IOC_VERSION:
		return copy_to_user(argp, &version, sizeof(version)) ? -EFAULT : 0;
	case PMIG_IOC_HOLD:
		return pmig_hold(file, argp);
	case PMIG_IOC_RELEASE:
		return pmig_release(file, argp);
	case PMIG_IOC_TAKE:
		return pmig_take(file, argp);
	case PMIG_IOC_HOLD_STATS:
		return pmig_hold_stats(file, argp);
	case PMIG_IOC_TCP_STATE:
		return pmig_tcp_state(argp);
	default:
		return -ENOTTY;
	}
}

static int pmig_open(struct inode *inode, struct file *file)
{
	return capable(CAP_SYS_ADMIN) ? 0 : -EPERM;
}

/* The descriptor's holds end with it: what they still queue is dropped. */
static int pmig_close(struct inode *inode, struct file *file)
{
	struct pmig_hold_entry *hold, *next;

	mutex_lock(&pmig_mutex);
	list_for_each_entry_safe(hold, next, &pmig_holds, list) {
		if (hold->owner == file)
			pmig_hold_free(hold);
	}
	mutex_unlock(&pmig_mutex);
	return 0;
}

static const struct file_operations pmig_fops = {
	.owner = THIS_MODULE,
	.open = pmig_open,
	.release = pmig_close,
	.unlocked_ioctl = pmig_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice pmig_device = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "pmig",
	.fops = &pmig_fops,
	.mode = 0600,
};

module_misc_device(pmig_device);

MODULE_DESCRIPTION("pmig: in-kernel packet hold and TCP repair state for live migration");
MODULE_LICENSE("GPL");
