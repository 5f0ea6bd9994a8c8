package fault_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/faultkit/faultkit/fault"
)

func TestParseSources(t *testing.T) {
	got, err := fault.ParseSources("ALL,10.0.0.1,10.0.0.0/8,2001:db8::1,2001:db8::/32,www.example.com,us-east-1a,use1-az1,DYNAMODB,S3")
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		kind   fault.SourceKind
		prefix string
	}{
		{fault.SourceAll, ""}, {fault.SourcePrefix, "10.0.0.1/32"}, {fault.SourcePrefix, "10.0.0.0/8"},
		{fault.SourcePrefix, "2001:db8::1/128"}, {fault.SourcePrefix, "2001:db8::/32"},
		{fault.SourceDomain, ""}, {fault.SourceAZName, ""}, {fault.SourceAZID, ""},
		{fault.SourceService, ""}, {fault.SourceService, ""},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d sources, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].Kind != w.kind {
			t.Errorf("item %d (%s): kind %v, want %v", i, got[i].Text, got[i].Kind, w.kind)
		}
		if w.prefix != "" && got[i].Prefix.String() != w.prefix {
			t.Errorf("item %d: prefix %v, want %s", i, got[i].Prefix, w.prefix)
		}
	}
	// A CIDR with host bits set is normalised, as tc and nft would.
	if s, _ := fault.ParseSources("10.1.2.3/8"); s[0].Prefix.String() != "10.0.0.0/8" {
		t.Errorf("10.1.2.3/8 -> %v", s[0].Prefix)
	}
}

func TestParseSourcesErrors(t *testing.T) {
	for _, in := range []string{"", "10.0.0.300", "10.0.0.0/33", "foo_bar", "a,,b.com", "10.0.0.1, 10.0.0.2",
		"localhost", "fe80::1%eth0", "dynamodb", "-bad.example.com"} {
		_, err := fault.ParseSources(in)
		if err == nil {
			t.Errorf("ParseSources(%q): no error", in)
			continue
		}
		var pe *fault.ParamError
		if !errors.As(err, &pe) || pe.Param != "sources" || !errors.Is(err, fault.ErrInvalidParameter) {
			t.Errorf("ParseSources(%q): error %v is not a sources *ParamError", in, err)
		}
	}
	_, err := fault.ParseSources("10.0.0.1,foo_bar,10.0.0.300")
	if err == nil || !strings.Contains(err.Error(), "Invalid sources (malformed service name, DNS or IP address): foo_bar,10.0.0.300") {
		t.Errorf("want FIS's wording naming both bad items, got %v", err)
	}
}

func FuzzParseSources(f *testing.F) {
	for _, s := range []string{"ALL", "10.0.0.0/8,example.com", "2001:db8::/32,S3", "us-east-1a,use1-az1", "a,,b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		srcs, err := fault.ParseSources(s)
		if err != nil {
			return
		}
		if len(srcs) != strings.Count(s, ",")+1 {
			t.Fatalf("ParseSources(%q): %d items for %d commas", s, len(srcs), strings.Count(s, ","))
		}
		for _, src := range srcs {
			if src.Kind == fault.SourcePrefix && !src.Prefix.IsValid() {
				t.Fatalf("ParseSources(%q): invalid prefix for %q", s, src.Text)
			}
		}
	})
}
