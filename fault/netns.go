package fault

import "fmt"

// NetNS identifies a network namespace by a path and by the identity of the
// namespace file (device and inode), so a path that later points elsewhere
// is never mistaken for it. A zero NetNS means "the caller's current
// namespace at the time it is used".
type NetNS struct {
	Path string `json:"path"`
	Dev  uint64 `json:"dev"`
	Ino  uint64 `json:"ino"`
}

// IsZero reports whether n is the zero NetNS.
func (n NetNS) IsZero() bool { return n == NetNS{} }

func (n NetNS) String() string {
	if n.IsZero() {
		return "current netns"
	}
	return fmt.Sprintf("netns %s [%d:%d]", n.Path, n.Dev, n.Ino)
}
