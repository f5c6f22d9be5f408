package io.pmig.vip.netlink;

import io.pmig.nativeio.Errno;
import io.pmig.vip.VipException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * Adds and removes elements of existing nftables sets over nfnetlink, with no `nft` process: the
 * switch that turns a pre-installed rule such as {@code ip daddr @hold4 drop} on or off for one
 * address in microseconds. Messages mirror linux/netfilter/nfnetlink.h (struct nfgenmsg {u8
 * nfgen_family; u8 version; be16 res_id;}, batch begin/end) and linux/netfilter/nf_tables.h
 * (NFT_MSG_NEWSETELEM/DELSETELEM/DESTROYSETELEM, NFTA_SET_ELEM_LIST_*, NFTA_LIST_ELEM, NFTA_SET_ELEM_KEY,
 * NFTA_DATA_VALUE). Lives in the network namespace of the thread that opened it. Not thread-safe.
 */
public final class NftSets implements AutoCloseable {
    /** NFPROTO_* families (linux/netfilter.h). */
    public static final int NFPROTO_INET = 1;
    public static final int NFPROTO_ARP = 3;
    private static final int NFNL_SUBSYS_NFTABLES = 10;
    private static final short NFNL_MSG_BATCH_BEGIN = 16;
    private static final short NFNL_MSG_BATCH_END = 17;
    private static final int NFT_MSG_NEWSETELEM = 12;
    private static final int NFT_MSG_DELSETELEM = 14;
    /** Linux 6.3 on: DELSETELEM that succeeds when the element is missing. */
    private static final int NFT_MSG_DESTROYSETELEM = 30;
    private static final int NFTA_SET_ELEM_LIST_TABLE = 1;
    private static final int NFTA_SET_ELEM_LIST_SET = 2;
    private static final int NFTA_SET_ELEM_LIST_ELEMENTS = 3;
    private static final int NFTA_LIST_ELEM = 1;
    private static final int NFTA_SET_ELEM_KEY = 1;
    private static final int NFTA_DATA_VALUE = 1;
    /** linux/netlink.h: the attribute holds attributes. */
    private static final int NLA_F_NESTED = 0x8000;
    private static final int NFGENMSG_SIZE = 4;

    private final NetlinkSocket netlink;
    /** Whether this kernel knows NFT_MSG_DESTROYSETELEM; false once it refused one. */
    private boolean destroyKnown = true;

    private NftSets(NetlinkSocket netlink) {
        this.netlink = netlink;
    }

    public static NftSets open() {
        return new NftSets(NetlinkSocket.openNetfilter());
    }

    /** Puts {@code key} (an address in network byte order) into set {@code set} of table {@code table}; already there: nothing to do. */
    public void add(int family, String table, String set, byte[] key) {
        NetlinkSocket.Ack ack = transact(NFT_MSG_NEWSETELEM, NetlinkSocket.NLM_F_CREATE, family, table, set, key);
        if (!ack.ok()) {
            throw new VipException("cannot add an element to nftables set " + table + " " + set + ": " + ack.describe()
                + (ack.errno() == Errno.ENOENT ? " (the set does not exist: prepare the hold first)" : ""));
        }
    }

    /**
     * Takes {@code key} out of the set; not there: nothing to do. A DELSETELEM of a missing element fails the batch, and
     * the kernel's abort of a batch waits for an RCU grace period (7-15 ms measured here, in a VIP's commit), where a
     * DESTROYSETELEM commits doing nothing; a kernel before 6.3 refuses that message type (EINVAL), and gets DELSETELEM.
     */
    public void remove(int family, String table, String set, byte[] key) {
        NetlinkSocket.Ack ack = null;
        if (destroyKnown) {
            ack = transact(NFT_MSG_DESTROYSETELEM, (short) 0, family, table, set, key);
            destroyKnown = ack.ok() || ack.errno() != Errno.EINVAL;
        }
        if (!destroyKnown) {
            ack = transact(NFT_MSG_DELSETELEM, (short) 0, family, table, set, key);
        }
        if (!ack.ok() && ack.errno() != Errno.ENOENT) {
            throw new VipException("cannot remove an element from nftables set " + table + " " + set + ": " + ack.describe());
        }
    }

    private NetlinkSocket.Ack transact(int message, short flags, int family, String table, String set, byte[] key) {
        byte[] batch = nfgenmsg(0, NFNL_SUBSYS_NFTABLES);
        byte[] value = attribute(NFTA_DATA_VALUE, key);
        byte[] element = attribute(NFTA_LIST_ELEM | NLA_F_NESTED, attribute(NFTA_SET_ELEM_KEY | NLA_F_NESTED, value));
        byte[] body = concat(nfgenmsg(family, 0),
            attribute(NFTA_SET_ELEM_LIST_TABLE, cString(table)),
            attribute(NFTA_SET_ELEM_LIST_SET, cString(set)),
            attribute(NFTA_SET_ELEM_LIST_ELEMENTS | NLA_F_NESTED, element));
        return netlink.ackedBatch(new NetlinkSocket.Message(NFNL_MSG_BATCH_BEGIN, (short) 0, batch),
            new NetlinkSocket.Message((short) (NFNL_SUBSYS_NFTABLES << 8 | message), flags, body),
            new NetlinkSocket.Message(NFNL_MSG_BATCH_END, (short) 0, batch));
    }

    /** struct nfgenmsg; res_id is big-endian (the subsystem in a batch header, else 0). */
    private static byte[] nfgenmsg(int family, int resId) {
        return ByteBuffer.allocate(NFGENMSG_SIZE).order(ByteOrder.BIG_ENDIAN).put((byte) family).put((byte) 0).putShort((short) resId).array();
    }

    /** struct nlattr {u16 nla_len; u16 nla_type;} + value, padded to 4 bytes. */
    private static byte[] attribute(int type, byte[] value) {
        ByteBuffer b = ByteBuffer.allocate(NetlinkSocket.align(4 + value.length)).order(ByteOrder.nativeOrder());
        b.putShort((short) (4 + value.length)).putShort((short) type).put(value);
        return b.array();
    }

    private static byte[] cString(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        return java.util.Arrays.copyOf(b, b.length + 1);
    }

    private static byte[] concat(byte[]... parts) {
        ByteBuffer b = ByteBuffer.allocate(java.util.Arrays.stream(parts).mapToInt(p -> p.length).sum());
        for (byte[] p : parts) {
            b.put(p);
        }
        return b.array();
    }

    @Override
    public void close() {
        netlink.close();
    }
}
