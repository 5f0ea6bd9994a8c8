package netem

import (
	"context"
	_ "embed"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultkit/faultkit/fault"
)

// ipRangesJSON is a small ip-ranges.json in AWS's format, embedded so the
// test binary also runs where the source tree is not (the kernel lab).
//
//go:embed testdata/ip-ranges.json
var ipRangesJSON []byte

// fixture writes ipRangesJSON to a temporary file and returns its path.
func fixture(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ip-ranges.json")
	if err := os.WriteFile(path, ipRangesJSON, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

type resolverMap map[string][]netip.Addr

func (r resolverMap) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := r[host]; ok {
		return a, nil
	}
	return nil, errors.New("no such host " + host)
}

func resolveWith(t *testing.T, sources string, s Scope) (targets, error) {
	t.Helper()
	srcs, err := fault.ParseSources(sources)
	if err != nil {
		t.Fatalf("ParseSources(%q): %v", sources, err)
	}
	return s.resolve(context.Background(), srcs)
}

func TestResolveSources(t *testing.T) {
	res := resolverMap{
		"db.example.com":  {netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::10"), netip.MustParseAddr("::ffff:192.0.2.10")},
		"api.example.com": {netip.MustParseAddr("192.0.2.20")},
	}
	scope := Scope{Resolver: res, IPRanges: fixture(t), Region: "us-east-1"}
	for _, tc := range []struct {
		sources string
		all     bool
		want    []netip.Prefix
	}{
		{"ALL", true, nil},
		{"10.0.0.0/8,10.0.0.0/8,192.0.2.1", false, prefixes("10.0.0.0/8", "192.0.2.1/32")},
		{"2001:db8::/32,fd00::1", false, prefixes("2001:db8::/32", "fd00::1/128")},
		{"db.example.com", false, prefixes("192.0.2.10/32", "2001:db8::10/128")},
		{"S3", false, prefixes("198.18.1.0/24", "198.18.2.0/25", "2001:db8:5300::/40")},
		{"DYNAMODB,api.example.com", false, prefixes("198.18.4.0/24", "192.0.2.20/32")},
		{"S3,ALL", true, nil},
	} {
		got, err := resolveWith(t, tc.sources, scope)
		if err != nil {
			t.Errorf("%s: %v", tc.sources, err)
			continue
		}
		if got.all != tc.all || !slices.Equal(got.prefixes, tc.want) {
			t.Errorf("%s: all=%v %v, want all=%v %v", tc.sources, got.all, got.prefixes, tc.all, tc.want)
		}
	}
	// Pins keep the name and its distinct addresses, for the hosts file.
	got, _ := resolveWith(t, "db.example.com", scope)
	if len(got.pins) != 1 || got.pins[0].name != "db.example.com" || len(got.pins[0].addrs) != 2 {
		t.Errorf("pins = %+v", got.pins)
	}
}

func TestResolveSourcesErrors(t *testing.T) {
	scope := Scope{Resolver: resolverMap{}, IPRanges: fixture(t), Region: "eu-west-1"}
	for _, tc := range []struct {
		sources string
		scope   Scope
		want    string
	}{
		// FIS's message for items that resolve to nothing.
		{"nowhere.example.com,10.0.0.1", scope, "Invalid sources (malformed service name, DNS or IP address): nowhere.example.com"},
		{"S3", Scope{IPRanges: fixture(t), Region: "ap-south-1"}, "Invalid sources (malformed service name, DNS or IP address): S3"},
		{"S3", Scope{IPRanges: fixture(t), Region: ""}, "need the AWS Region"},
		{"us-east-1a", scope, "need WithZoneResolver"},
		{"DYNAMODB", Scope{IPRanges: filepath.Join(t.TempDir(), "missing.json"), Region: "eu-west-1"}, "ip-ranges"},
	} {
		if tc.want == "need the AWS Region" {
			t.Setenv("AWS_REGION", "")
			t.Setenv("AWS_DEFAULT_REGION", "")
		}
		_, err := resolveWith(t, tc.sources, tc.scope)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to contain %q", tc.sources, err, tc.want)
		}
	}
	// DYNAMODB in eu-west-1 has only an IPv6 prefix: still resolves.
	got, err := resolveWith(t, "DYNAMODB", scope)
	if err != nil || !slices.Equal(got.prefixes, prefixes("2001:db8:dd00::/40")) {
		t.Errorf("DYNAMODB eu-west-1: %v, %v", got.prefixes, err)
	}
	// Zones through the resolver hook.
	scope.Zones = func(_ context.Context, z string) ([]netip.Prefix, error) {
		if z == "use1-az1" {
			return prefixes("10.1.0.0/20"), nil
		}
		return nil, nil
	}
	got, err = resolveWith(t, "use1-az1", scope)
	if err != nil || !slices.Equal(got.prefixes, prefixes("10.1.0.0/20")) {
		t.Errorf("zone: %v, %v", got.prefixes, err)
	}
	if _, err := resolveWith(t, "use1-az2", scope); err == nil || !strings.Contains(err.Error(), "Invalid sources") {
		t.Errorf("empty zone: %v", err)
	}
}

func TestIPRangesURL(t *testing.T) {
	body := ipRangesJSON
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ip-ranges.json" {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	}))
	defer srv.Close()
	got, err := resolveWith(t, "S3", Scope{IPRanges: srv.URL + "/ip-ranges.json", Region: "eu-west-1"})
	if err != nil || !slices.Equal(got.prefixes, prefixes("198.18.3.0/24")) {
		t.Errorf("S3 over HTTP: %v, %v", got.prefixes, err)
	}
	if _, err := resolveWith(t, "S3", Scope{IPRanges: srv.URL + "/missing", Region: "eu-west-1"}); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("404: %v", err)
	}
}

func TestProtected(t *testing.T) {
	s := Scope{Region: "us-east-1", Allow: prefixes("10.9.0.0/16"), Resolver: resolverMap{
		"ssm.us-east-1.amazonaws.com":         {netip.MustParseAddr("198.19.0.1")},
		"ssmmessages.us-east-1.amazonaws.com": {netip.MustParseAddr("198.19.0.2")},
	}}
	got := s.protected(context.Background())
	want := append(prefixes("10.9.0.0/16"), ProtectedEndpoints()...)
	want = append(want, prefixes("198.19.0.1/32", "198.19.0.2/32")...)
	if !slices.Equal(got, want) {
		t.Errorf("protected = %v, want %v", got, want)
	}
	s.Unprotected = true
	if got := s.protected(context.Background()); !slices.Equal(got, prefixes("10.9.0.0/16")) {
		t.Errorf("unprotected = %v", got)
	}
	prot := ProtectedEndpoints()
	for _, tc := range []struct {
		in   []netip.Prefix
		want bool
	}{
		{prefixes("169.254.169.254/32"), true},
		{prefixes("169.254.169.254/32", "fd00:ec2::254/128", "169.254.170.2/32"), true},
		{prefixes("169.254.169.254/32", "10.0.0.1/32"), false},
		{prefixes("169.254.0.0/16"), false}, // wider than the protected address
		{nil, false},
	} {
		if got := onlyProtected(tc.in, prot); got != tc.want {
			t.Errorf("onlyProtected(%v) = %v", tc.in, got)
		}
	}
}

func TestHostsPinning(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hosts")
	orig := "127.0.0.1 localhost" // no final newline
	if err := os.WriteFile(path, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	j, err := fault.OpenJournal(fault.JournalConfig{Dir: t.TempDir(), NoGuardian: true})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	unpin, err := pinHosts(context.Background(), j, path, []hostPin{{name: "db.example.com",
		addrs: []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::10")}}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 3 || lines[0] != orig || !strings.HasPrefix(lines[1], "192.0.2.10 db.example.com # faultkit-pin-") ||
		!strings.HasPrefix(lines[2], "2001:db8::10 db.example.com # faultkit-pin-") {
		t.Fatalf("hosts file:\n%s", b)
	}
	if err := unpin(context.Background()); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); strings.TrimSpace(string(b)) != orig {
		t.Fatalf("after unpin: %q", b)
	}
}

func TestConstructorErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func() error
		param string
		want  string
	}{
		{"port 0", func() error { _, err := NewBlackhole(0, "tcp"); return err }, "port", "out of range"},
		{"protocol", func() error { _, err := NewBlackhole(80, "icmp"); return err }, "protocol", "tcp or udp"},
		{"blackhole engine", func() error { _, err := NewBlackhole(80, "tcp", WithEngine(EngineTC)); return err }, "engine", "nft"},
		{"blackhole flows", func() error { _, err := NewBlackhole(80, "tcp", WithFlowsPercent(50)); return err }, "WithFlowsPercent", "does not apply"},
		{"sources", func() error {
			_, err := NewLatency("eth0", time.Millisecond, 0, "10.0.0.300,ok.example.com")
			return err
		},
			"sources", "Invalid sources (malformed service name, DNS or IP address): 10.0.0.300"},
		{"delay and jitter 0", func() error { _, err := NewLatency("", 0, 0, ""); return err }, "delay", "both be 0"},
		{"negative jitter", func() error { _, err := NewLatency("", time.Millisecond, -1, ""); return err }, "jitter", "out of range"},
		{"latency on nft", func() error { _, err := NewLatency("", time.Millisecond, 0, "", WithEngine(EngineNFT)); return err }, "engine", "tc engine"},
		{"distribution", func() error { _, err := NewLatency("", time.Millisecond, 0, "", WithDistribution("gamma")); return err }, "distribution", "uniform"},
		{"flows", func() error { _, err := NewPacketLoss("", 5, "", WithFlowsPercent(101)); return err }, "flowsPercent", "1-100"},
		{"loss 0", func() error { _, err := NewPacketLoss("", 0, ""); return err }, "lossPercent", "out of range"},
		{"loss option", func() error { _, err := NewPacketLoss("", 5, "", WithCorrupt(1)); return err }, "WithCorrupt", "does not apply"},
		{"pid", func() error { _, err := NewPacketLoss("", 5, "", WithPID(-3)); return err }, "pid", "positive"},
		{"netns", func() error { _, err := NewPacketLoss("", 5, "", WithNetNS("run/netns/x")); return err }, "netns", "absolute"},
		{"iface mix", func() error { _, err := NewPacketLoss("DEFAULT,eth0", 5, ""); return err }, "interface", "cannot be combined"},
		{"iface twice", func() error { _, err := NewPacketLoss("eth0", 5, "", WithInterfaces("eth1")); return err }, "interface", "given both"},
		{"iface name", func() error { _, err := NewPacketLoss("a/b", 5, ""); return err }, "interface", "not a valid interface"},
	} {
		err := tc.build()
		var pe *fault.ParamError
		if !errors.Is(err, fault.ErrInvalidParameter) || !errors.As(err, &pe) || pe.Param != tc.param || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v; want a ParamError for %q containing %q", tc.name, err, tc.param, tc.want)
		}
	}
}

func TestConstructorDefaults(t *testing.T) {
	lat, err := NewLatency("", 50*time.Millisecond, 5*time.Millisecond, "", WithPID(42), WithDistribution("normal"))
	if err != nil {
		t.Fatal(err)
	}
	if lat.NetNS != "/proc/42/ns/net" || !slices.Equal(lat.Interfaces, []string{InterfaceDefault}) ||
		len(lat.Sources) != 1 || lat.Sources[0].Kind != fault.SourceAll || lat.Distribution != "normal" || lat.Name() != NameLatency {
		t.Errorf("latency = %+v", lat)
	}
	loss, err := NewPacketLoss("eth0, eth1", 12.5, "10.0.0.0/8,example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(loss.Interfaces, []string{"eth0", "eth1"}) || len(loss.Sources) != 2 || loss.Percent != 12.5 {
		t.Errorf("loss = %+v", loss)
	}
	bh, err := NewBlackhole(5432, "udp", WithDirection(Ingress), WithInterfaces("eth0"))
	if err != nil {
		t.Fatal(err)
	}
	if bh.Port != 5432 || bh.Protocol != "udp" || bh.Direction != Ingress || !slices.Equal(bh.Interfaces, []string{"eth0"}) {
		t.Errorf("blackhole = %+v", bh)
	}
}

// TestActions checks the registry entries against FIS's parameters and
// defaults.
func TestActions(t *testing.T) {
	reg, err := fault.NewRegistry(Actions(WithNetNS("/run/netns/task")))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{fault.ActionTaskNetworkBlackholePort, fault.ActionTaskNetworkLatency, fault.ActionTaskNetworkPacketLoss}
	if got := reg.IDs(); !slices.Equal(got, want) {
		t.Fatalf("IDs = %v", got)
	}
	f, d, err := reg.New(fault.ActionTaskNetworkLatency, map[string]string{"duration": "PT5M",
		"useEcsFaultInjectionEndpoints": "true", "installDependencies": "false"})
	if err != nil {
		t.Fatal(err)
	}
	lat := f.(*LatencyFault)
	if d != 5*time.Minute || lat.Delay != 200*time.Millisecond || lat.Jitter != 10*time.Millisecond ||
		lat.FlowsPercent != 100 || lat.Sources[0].Kind != fault.SourceAll || lat.NetNS != "/run/netns/task" ||
		!slices.Equal(lat.Interfaces, []string{InterfaceDefault}) {
		t.Errorf("latency defaults: %v %+v", d, lat)
	}
	f, _, err = reg.New(fault.ActionTaskNetworkPacketLoss, map[string]string{"duration": "PT1M", "flowsPercent": "25", "sources": "S3,10.0.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	if loss := f.(*LossFault); loss.Percent != 7 || loss.FlowsPercent != 25 || len(loss.Sources) != 2 {
		t.Errorf("loss defaults: %+v", loss)
	}
	f, _, err = reg.New(fault.ActionTaskNetworkBlackholePort, map[string]string{"duration": "PT1M", "port": "53", "trafficType": "ingress"})
	if err != nil {
		t.Fatal(err)
	}
	if bh := f.(*BlackholeFault); bh.Protocol != "tcp" || bh.Port != 53 || bh.Direction != Ingress {
		t.Errorf("blackhole defaults: %+v", bh)
	}
	_, _, err = reg.New(fault.ActionTaskNetworkBlackholePort, map[string]string{"duration": "PT1M", "port": "53"})
	if !errors.Is(err, fault.ErrInvalidParameter) || !strings.Contains(err.Error(), "trafficType") {
		t.Errorf("missing trafficType: %v", err)
	}
	_, _, err = reg.New(fault.ActionTaskNetworkLatency, map[string]string{"duration": "PT1M", "delayMilliseconds": "0", "jitterMilliseconds": "0"})
	if !errors.Is(err, fault.ErrInvalidParameter) {
		t.Errorf("zero delay and jitter: %v", err)
	}
}
