//go:build linux

package nft

import (
	"fmt"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

var msgNames = map[int]string{
	unix.NFT_MSG_NEWTABLE: "NEWTABLE", unix.NFT_MSG_DELTABLE: "DELTABLE",
	unix.NFT_MSG_NEWCHAIN: "NEWCHAIN", unix.NFT_MSG_DELCHAIN: "DELCHAIN",
	unix.NFT_MSG_NEWRULE: "NEWRULE", unix.NFT_MSG_DELRULE: "DELRULE",
	unix.NFT_MSG_NEWSET: "NEWSET", unix.NFT_MSG_DELSET: "DELSET",
	unix.NFT_MSG_NEWSETELEM: "NEWSETELEM", unix.NFT_MSG_DELSETELEM: "DELSETELEM",
}

// msgName names an nf_tables message type, e.g. "NEWTABLE".
func msgName(t netlink.HeaderType) string {
	switch t {
	case netlink.HeaderType(unix.NFNL_MSG_BATCH_BEGIN):
		return "BATCH_BEGIN"
	case netlink.HeaderType(unix.NFNL_MSG_BATCH_END):
		return "BATCH_END"
	}
	if int(t)>>8 == unix.NFNL_SUBSYS_NFTABLES {
		if n, ok := msgNames[int(t)&0xff]; ok {
			return n
		}
	}
	return fmt.Sprintf("type %#x", uint16(t))
}
