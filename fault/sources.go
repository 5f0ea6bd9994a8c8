package fault

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
)

// SourceKind classifies one item of a FIS "sources" parameter.
type SourceKind int

// The kinds of source FIS accepts, plus IPv6 (a faultkit extension: FIS's
// documents do not impair IPv6, faultkit does).
const (
	SourceAll     SourceKind = iota + 1 // "ALL": every destination
	SourcePrefix                        // an IPv4/IPv6 address or CIDR
	SourceDomain                        // a DNS name, resolved at injection
	SourceService                       // "DYNAMODB" or "S3": the Region's prefixes
	SourceAZName                        // an Availability Zone name, e.g. us-east-1a
	SourceAZID                          // an Availability Zone ID, e.g. use1-az1
)

func (k SourceKind) String() string {
	switch k {
	case SourceAll:
		return "all"
	case SourcePrefix:
		return "prefix"
	case SourceDomain:
		return "domain"
	case SourceService:
		return "service"
	case SourceAZName:
		return "az-name"
	case SourceAZID:
		return "az-id"
	}
	return fmt.Sprintf("SourceKind(%d)", int(k))
}

// Source is one parsed item of a "sources" parameter.
type Source struct {
	Kind   SourceKind
	Text   string       // the item as written
	Prefix netip.Prefix // set for SourcePrefix; a bare address becomes /32 or /128
}

var (
	azNameRE = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9][a-z]$`)
	azIDRE   = regexp.MustCompile(`^[a-z]{3,5}[0-9]-az[0-9]+$`)
	labelRE  = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
)

// ErrInvalidSources is the message FIS's documents print for a bad item;
// ParseSources wraps it in a *ParamError for the "sources" parameter.
const invalidSourcesMsg = "Invalid sources (malformed service name, DNS or IP address): "

// ParseSources parses FIS's "sources" grammar: comma-separated items with
// no spaces, each an IPv4 or IPv6 address or CIDR, a domain name, an
// Availability Zone name or ID, "ALL", "DYNAMODB" or "S3". It checks syntax
// only: resolving names and services is the network engine's job. The error
// is a *ParamError for parameter "sources" whose reason follows FIS's
// wording ("Invalid sources (malformed service name, DNS or IP address): x").
func ParseSources(s string) ([]Source, error) {
	perr := func(reason string) error {
		return &ParamError{Param: "sources", Value: s, Reason: reason}
	}
	if s == "" {
		return nil, perr("must not be empty (use ALL for every destination)")
	}
	if strings.ContainsAny(s, " \t\r\n") {
		return nil, perr("must be comma-separated with no spaces")
	}
	var out []Source
	var bad []string
	for _, item := range strings.Split(s, ",") {
		src, ok := parseSource(item)
		if !ok {
			bad = append(bad, item)
			continue
		}
		out = append(out, src)
	}
	if len(bad) > 0 {
		return nil, perr(invalidSourcesMsg + strings.Join(bad, ","))
	}
	return out, nil
}

func parseSource(item string) (Source, bool) {
	switch item {
	case "":
		return Source{}, false
	case "ALL":
		return Source{Kind: SourceAll, Text: item}, true
	case "DYNAMODB", "S3":
		return Source{Kind: SourceService, Text: item}, true
	}
	if strings.Contains(item, "/") {
		p, err := netip.ParsePrefix(item)
		if err != nil {
			return Source{}, false
		}
		return Source{Kind: SourcePrefix, Text: item, Prefix: p.Masked()}, true
	}
	if a, err := netip.ParseAddr(item); err == nil {
		if a.Zone() != "" {
			return Source{}, false
		}
		return Source{Kind: SourcePrefix, Text: item, Prefix: netip.PrefixFrom(a, a.BitLen())}, true
	}
	if looksNumeric(item) { // "10.0.0.300" is a broken address, not a domain
		return Source{}, false
	}
	switch {
	case azNameRE.MatchString(item):
		return Source{Kind: SourceAZName, Text: item}, true
	case azIDRE.MatchString(item):
		return Source{Kind: SourceAZID, Text: item}, true
	case isDomain(item):
		return Source{Kind: SourceDomain, Text: item}, true
	}
	return Source{}, false
}

func looksNumeric(s string) bool {
	for _, r := range s {
		if (r < '0' || r > '9') && r != '.' {
			return false
		}
	}
	return true
}

// isDomain accepts RFC 1123 host names with at least two labels and a
// top-level label that is not all digits.
func isDomain(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if !labelRE.MatchString(l) {
			return false
		}
	}
	return !looksNumeric(labels[len(labels)-1])
}
