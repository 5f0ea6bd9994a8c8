package fault

import "fmt"

// OwnerPrefix starts the names of every kernel object faultkit creates
// (nftables tables, links); OwnerMarker is the file that marks a directory
// as created by faultkit. Undo refuses to touch objects without them.
const (
	OwnerPrefix = "faultkit"
	LinkPrefix  = "fk"
	OwnerMarker = ".faultkit-owned"
)

// Undo describes how to remove one object a fault creates. Engines record
// an Undo in the journal before creating the object; the journal's
// guardian and Recover apply it if the owner dies. Apply checks that the
// object is still the one faultkit made (its name, kind or marker) and
// treats an object that is already gone as success, so applying an Undo
// twice, or for an object never created, is harmless.
type Undo struct {
	Op     string `json:"op"` // "remove-dir", "qdisc", "link", "netns", "nft-table", "strip-lines", "kill"
	NetNS  *NetNS `json:"netns,omitempty"`
	Path   string `json:"path,omitempty"`
	Link   string `json:"link,omitempty"`
	Kind   string `json:"kind,omitempty"`
	Parent uint32 `json:"parent,omitempty"`
	Handle uint32 `json:"handle,omitempty"`
	Family uint8  `json:"family,omitempty"`
	Table  string `json:"table,omitempty"`
	Marker string `json:"marker,omitempty"`
	PID    int    `json:"pid,omitempty"`
	Start  uint64 `json:"start,omitempty"` // process start time, clock ticks since boot
}

// UndoRemoveDir removes a directory tree that contains an OwnerMarker file
// (see Journal.CreateDir).
func UndoRemoveDir(path string) Undo { return Undo{Op: "remove-dir", Path: path} }

// UndoQdisc deletes the qdisc with the given parent, handle and kind on a
// link in a namespace, if it is still there.
func UndoQdisc(ns NetNS, link string, parent, handle uint32, kind string) Undo {
	return Undo{Op: "qdisc", NetNS: &ns, Link: link, Parent: parent, Handle: handle, Kind: kind}
}

// UndoLink deletes a link (e.g. an ifb device) of the given kind whose
// name starts with LinkPrefix.
func UndoLink(ns NetNS, name, kind string) Undo {
	return Undo{Op: "link", NetNS: &ns, Link: name, Kind: kind}
}

// UndoNetNS removes a named network namespace: the bind mount at path
// (under /run/netns or /var/run/netns, named LinkPrefix*, as ip netns and
// the test harness make them) is unmounted and its file removed. The
// namespace itself ends when nothing else holds it.
func UndoNetNS(path string) Undo { return Undo{Op: "netns", Path: path} }

// UndoNFTable deletes an nftables table whose name starts with OwnerPrefix.
// family is the nftables family (unix.NFPROTO_INET, ...).
func UndoNFTable(ns NetNS, family uint8, name string) Undo {
	return Undo{Op: "nft-table", NetNS: &ns, Family: family, Table: name}
}

// UndoStripLines removes every line containing marker from the file at
// path (for example pinned /etc/hosts entries). marker must contain
// OwnerPrefix.
func UndoStripLines(path, marker string) Undo {
	return Undo{Op: "strip-lines", Path: path, Marker: marker}
}

func (u Undo) String() string {
	switch u.Op {
	case "remove-dir":
		return "remove directory " + u.Path
	case "qdisc":
		return fmt.Sprintf("delete %s qdisc %s parent %s on %s in %s", u.Kind, tcHandle(u.Handle), tcHandle(u.Parent), u.Link, u.netns())
	case "link":
		return fmt.Sprintf("delete %s link %s in %s", u.Kind, u.Link, u.netns())
	case "netns":
		return "remove network namespace " + u.Path
	case "nft-table":
		return fmt.Sprintf("delete nftables table %s (family %d) in %s", u.Table, u.Family, u.netns())
	case "strip-lines":
		return fmt.Sprintf("strip lines marked %q from %s", u.Marker, u.Path)
	case "kill":
		return fmt.Sprintf("kill process %d", u.PID)
	}
	return "undo " + u.Op
}

func (u Undo) netns() NetNS {
	if u.NetNS == nil {
		return NetNS{}
	}
	return *u.NetNS
}

func tcHandle(h uint32) string {
	switch h {
	case 0xFFFFFFFF:
		return "root"
	case 0xFFFFFFF1:
		return "ingress"
	}
	return fmt.Sprintf("%x:%x", h>>16, h&0xFFFF)
}
