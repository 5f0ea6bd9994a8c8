package netem

import "fmt"

// Active is a faultkit network fault found in the kernel.
type Active struct {
	// Fault is NameLatency, NameLoss, NameBlackhole, or "network-impairment"
	// for a tc tree with other netem settings (corrupt, rate, ...).
	Fault     string
	Engine    Engine
	Interface string // "" for a blackhole on every interface
	Direction Direction
	Port      int    // blackhole
	Protocol  string // blackhole: "tcp" or "udp"
	// Object names the kernel object, e.g. "nftables table
	// faultkit_blackhole_egress_tcp_80" or "tc qdisc fa10: on eth0".
	Object string
}

func (a Active) String() string {
	s := fmt.Sprintf("%s (%s, %s)", a.Fault, a.Engine, a.Direction)
	if a.Interface != "" {
		s += " on " + a.Interface
	}
	if a.Port != 0 {
		s += fmt.Sprintf(" port %s/%d", a.Protocol, a.Port)
	}
	return s
}
