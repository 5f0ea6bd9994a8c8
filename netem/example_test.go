package netem_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/faultkit/faultkit/fault"
	"github.com/faultkit/faultkit/netem"
)

// Build a latency fault and inspect it before injecting it.
func ExampleNewLatency() {
	f, err := netem.NewLatency("eth0", 100*time.Millisecond, 10*time.Millisecond, "10.0.0.0/8,2001:db8::/32",
		netem.WithFlowsPercent(50), netem.WithDistribution("normal"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(f.Name(), f.Interfaces, f.Delay, f.Jitter, f.FlowsPercent, len(f.Sources))
	// Output: network-latency [eth0] 100ms 10ms 50 2
}

// Bad parameters are reported with FIS's wording and the parameter name.
func ExampleNewPacketLoss_invalidSources() {
	_, err := netem.NewPacketLoss("", 7, "10.0.0.1,not_a_host")
	fmt.Println(err)
	// Output: network-packet-loss: parameter "sources" value "10.0.0.1,not_a_host": Invalid sources (malformed service name, DNS or IP address): not_a_host
}

// Blackhole port 5432/tcp for traffic the task receives, in the network
// namespace of process 1234.
func ExampleNewBlackhole() {
	f, err := netem.NewBlackhole(5432, "tcp", netem.WithDirection(netem.Ingress), netem.WithPID(1234))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(f.Name(), f.Protocol, f.Port, f.Direction, f.NetNS)
	// Output: network-blackhole-port tcp 5432 ingress /proc/1234/ns/net
}

// Build the FIS actions from their string parameters, defaults applied.
func ExampleActions() {
	reg, err := fault.NewRegistry(netem.Actions(netem.WithNetNS("/run/netns/task")))
	if err != nil {
		log.Fatal(err)
	}
	f, d, err := reg.New(fault.ActionTaskNetworkLatency, map[string]string{"duration": "PT2M", "sources": "S3"})
	if err != nil {
		log.Fatal(err)
	}
	lat := f.(*netem.LatencyFault)
	fmt.Println(d, lat.Delay, lat.Jitter, lat.FlowsPercent, lat.Interfaces)
	// Output: 2m0s 200ms 10ms 100 [DEFAULT]
}

// Addresses that are never impaired unless WithoutProtection is given.
func ExampleProtectedEndpoints() {
	fmt.Println(netem.ProtectedEndpoints())
	// Output: [169.254.169.254/32 fd00:ec2::254/128 169.254.170.2/32]
}

// Run a function under 5 % packet loss towards one address; the fault is
// reverted when the function returns, even if it panics.
func Example_during() {
	f, err := netem.NewPacketLoss("DEFAULT", 5, "192.0.2.10")
	if err != nil {
		log.Fatal(err)
	}
	rep, err := fault.During(context.Background(), f, func(ctx context.Context) error {
		_, err := http.Get("http://192.0.2.10/health")
		return err
	})
	fmt.Println(rep.Metrics, err)
}

// Ask the kernel which faultkit faults are active in a namespace, e.g.
// after a restart.
func ExampleStatus() {
	act, err := netem.Status(context.Background(), netem.WithNetNS("/run/netns/task"))
	if err != nil {
		log.Fatal(err)
	}
	for _, a := range act {
		fmt.Println(a)
	}
}
