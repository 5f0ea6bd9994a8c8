// Package nft is faultkit's nftables engine: port blackholes and random
// packet loss, programmed over netlink (never by running nft or iptables).
//
// Every fault lives in its own inet-family table, so one set of rules covers
// IPv4 and IPv6. Table names are deterministic and start with
// fault.OwnerPrefix:
//
//	faultkit_blackhole_<egress|ingress>_<tcp|udp>_<port>   one per blackhole
//	faultkit_loss_<interface>                             one per impaired interface
//
// so the kernel itself refuses a second loss fault on an interface, or a
// second blackhole of the same port, protocol and direction (the table
// already exists: fault.ErrConflict), and Status can tell what is active from
// the kernel alone.
//
// Each Apply and each Revert is exactly one nf_tables batch, i.e. one atomic
// kernel transaction: either every table, chain, set and rule appears, or
// none does. Tables carry the kernel's owner flag (NFT_TABLE_F_OWNER, 0x2 in
// linux/netfilter/nf_tables.h, Linux 5.12+) and are created over a netlink
// socket that Apply keeps open for the fault's life, so the kernel deletes
// them when the process dies, even by SIGKILL. On kernels without the flag
// the tables are plain and the fault.Journal's UndoNFTable entry (recorded
// in every case) removes them.
//
// google/nftables v0.3.0 builds the messages but ignores Table.Flags when
// it marshals a new table, so this package writes the NEWTABLE message
// itself and sends the batch over its own socket.
package nft
