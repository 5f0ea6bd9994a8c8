package netem

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/faultkit/faultkit/fault"
)

// invalidSources is FIS's message for a source that is malformed or
// resolves to nothing.
const invalidSources = "Invalid sources (malformed service name, DNS or IP address): "

// ProtectedEndpoints returns the addresses faultkit never impairs unless
// told to (WithoutProtection): IMDS over IPv4 and IPv6 and the ECS task
// metadata endpoint. The Region's SSM endpoints are added at injection
// when the Region is known.
func ProtectedEndpoints() []netip.Prefix {
	return []netip.Prefix{
		netip.MustParsePrefix("169.254.169.254/32"), // IMDS
		netip.MustParsePrefix("fd00:ec2::254/128"),  // IMDS, IPv6
		netip.MustParsePrefix("169.254.170.2/32"),   // ECS task metadata endpoint (TMDS)
	}
}

// ssmEndpoints are the host names of the SSM agent's control channel in a
// Region, which FIS's documents refuse to impair.
func ssmEndpoints(region string) []string {
	return []string{"ssm." + region + ".amazonaws.com", "ssmmessages." + region + ".amazonaws.com",
		"ec2messages." + region + ".amazonaws.com"}
}

// hostPin is a resolved domain source, pinned in the hosts file on request.
type hostPin struct {
	name  string
	addrs []netip.Addr
}

// targets is what sources resolved to.
type targets struct {
	all      bool           // ALL: every destination
	prefixes []netip.Prefix // otherwise: these
	pins     []hostPin
}

func (s *Scope) region() string {
	if s.Region != "" {
		return s.Region
	}
	if r := os.Getenv("AWS_REGION"); r != "" {
		return r
	}
	return os.Getenv("AWS_DEFAULT_REGION")
}

func (s *Scope) resolver() Resolver {
	if s.Resolver != nil {
		return s.Resolver
	}
	return net.DefaultResolver
}

// resolve turns parsed sources into prefixes. Every item that resolves to
// nothing is reported in FIS's message shape.
func (s *Scope) resolve(ctx context.Context, srcs []fault.Source) (targets, error) {
	var t targets
	var bad []string
	var errs []error
	var ranges *ipRanges
	for _, src := range srcs {
		switch src.Kind {
		case fault.SourceAll:
			t.all = true
		case fault.SourcePrefix:
			t.prefixes = append(t.prefixes, src.Prefix.Masked())
		case fault.SourceDomain:
			addrs, err := s.resolver().LookupNetIP(ctx, "ip", src.Text)
			if err != nil || len(addrs) == 0 {
				bad = append(bad, src.Text)
				continue
			}
			pin := hostPin{name: strings.TrimSuffix(src.Text, ".")}
			for _, a := range addrs {
				a = a.Unmap().WithZone("")
				if !slices.Contains(pin.addrs, a) {
					pin.addrs = append(pin.addrs, a)
					t.prefixes = append(t.prefixes, netip.PrefixFrom(a, a.BitLen()))
				}
			}
			t.pins = append(t.pins, pin)
		case fault.SourceService:
			region := s.region()
			if region == "" {
				errs = append(errs, paramErr("sources", src.Text,
					"DYNAMODB and S3 need the AWS Region: WithRegion, WithIPRanges or $AWS_REGION"))
				continue
			}
			if ranges == nil {
				r, err := loadIPRanges(ctx, s.IPRanges)
				if err != nil {
					return targets{}, err
				}
				ranges = r
			}
			ps := ranges.lookup(src.Text, region)
			if len(ps) == 0 {
				bad = append(bad, src.Text)
				continue
			}
			t.prefixes = append(t.prefixes, ps...)
		case fault.SourceAZName, fault.SourceAZID:
			if s.Zones == nil {
				errs = append(errs, paramErr("sources", src.Text,
					"Availability Zone sources need WithZoneResolver (FIS maps them to the zone's subnets)"))
				continue
			}
			ps, err := s.Zones(ctx, src.Text)
			if err != nil {
				return targets{}, fmt.Errorf("netem: resolve zone %s: %w", src.Text, err)
			}
			if len(ps) == 0 {
				bad = append(bad, src.Text)
				continue
			}
			t.prefixes = append(t.prefixes, ps...)
		default:
			bad = append(bad, src.Text)
		}
	}
	if len(bad) > 0 {
		errs = append(errs, paramErr("sources", strings.Join(bad, ","), invalidSources+strings.Join(bad, ",")))
	}
	if len(errs) > 0 {
		return targets{}, errors.Join(errs...)
	}
	if t.all {
		t.prefixes = nil
	}
	t.prefixes = dedup(t.prefixes)
	return t, nil
}

func dedup(ps []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range ps {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// protected returns the prefixes to keep unimpaired: the caller's
// allow-list plus, unless Unprotected, the protected endpoints and the
// Region's SSM endpoints (resolved now; a failed lookup is skipped).
func (s *Scope) protected(ctx context.Context) []netip.Prefix {
	allow := append([]netip.Prefix(nil), s.Allow...)
	if s.Unprotected {
		return dedup(allow)
	}
	allow = append(allow, ProtectedEndpoints()...)
	if region := s.region(); region != "" {
		lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		for _, h := range ssmEndpoints(region) {
			addrs, err := s.resolver().LookupNetIP(lctx, "ip", h)
			if err != nil {
				continue
			}
			for _, a := range addrs {
				a = a.Unmap().WithZone("")
				allow = append(allow, netip.PrefixFrom(a, a.BitLen()))
			}
		}
	}
	return dedup(allow)
}

// onlyProtected reports whether every prefix is inside a protected one.
func onlyProtected(ps, protected []netip.Prefix) bool {
	if len(ps) == 0 {
		return false
	}
	for _, p := range ps {
		covered := false
		for _, q := range protected {
			if q.Bits() <= p.Bits() && q.Contains(p.Addr()) {
				covered = true
				break
			}
		}
		if !covered {
			return false
		}
	}
	return true
}

// ipRanges is the part of AWS's ip-ranges.json faultkit reads.
type ipRanges struct {
	Prefixes []struct {
		IPPrefix string `json:"ip_prefix"`
		Region   string `json:"region"`
		Service  string `json:"service"`
	} `json:"prefixes"`
	IPv6Prefixes []struct {
		IPv6Prefix string `json:"ipv6_prefix"`
		Region     string `json:"region"`
		Service    string `json:"service"`
	} `json:"ipv6_prefixes"`
}

func (r *ipRanges) lookup(service, region string) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range r.Prefixes {
		if p.Service == service && p.Region == region {
			if pp, err := netip.ParsePrefix(p.IPPrefix); err == nil {
				out = append(out, pp.Masked())
			}
		}
	}
	for _, p := range r.IPv6Prefixes {
		if p.Service == service && p.Region == region {
			if pp, err := netip.ParsePrefix(p.IPv6Prefix); err == nil {
				out = append(out, pp.Masked())
			}
		}
	}
	return out
}

// maxIPRanges bounds the ip-ranges document (the real one is about 2 MB).
const maxIPRanges = 64 << 20

// loadIPRanges reads the ip-ranges JSON from a file or an http(s) URL.
func loadIPRanges(ctx context.Context, src string) (*ipRanges, error) {
	if src == "" {
		src = DefaultIPRangesURL
	}
	var rd io.Reader
	if strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
		if err != nil {
			return nil, fmt.Errorf("netem: ip-ranges %s: %w", src, err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, fmt.Errorf("netem: ip-ranges %s: %w", src, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("netem: ip-ranges %s: HTTP %s", src, resp.Status)
		}
		rd = resp.Body
	} else {
		f, err := os.Open(src)
		if err != nil {
			return nil, fmt.Errorf("netem: ip-ranges: %w", err)
		}
		defer f.Close()
		rd = f
	}
	var r ipRanges
	if err := json.NewDecoder(io.LimitReader(rd, maxIPRanges)).Decode(&r); err != nil {
		return nil, fmt.Errorf("netem: ip-ranges %s: %w", src, err)
	}
	return &r, nil
}
