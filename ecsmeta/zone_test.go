package ecsmeta_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/faultkit/faultkit/ecsmeta"
)

func TestRegionFromAvailabilityZone(t *testing.T) {
	for _, tc := range []struct{ az, region string }{
		{"us-west-2a", "us-west-2"},
		{"us-east-1f", "us-east-1"},
		{"ap-northeast-3c", "ap-northeast-3"},
		{"us-gov-west-1b", "us-gov-west-1"},
		{"cn-northwest-1a", "cn-northwest-1"},
		{"il-central-1a", "il-central-1"},
		{"mx-central-1b", "mx-central-1"},
		{"us-iso-east-1a", "us-iso-east-1"},
		{"us-isob-east-1a", "us-isob-east-1"},
		{"eusc-de-east-1a", "eusc-de-east-1"},
		{"us-west-2-lax-1a", "us-west-2"},
		{"us-east-1-bos-1a", "us-east-1"},
		{"us-east-1-wl1-bos-wlz-1", "us-east-1"},
	} {
		got, err := ecsmeta.RegionFromAvailabilityZone(tc.az)
		if err != nil || got != tc.region {
			t.Errorf("RegionFromAvailabilityZone(%q) = %q, %v; want %q", tc.az, got, err, tc.region)
		}
		if err := ecsmeta.CheckAvailabilityZoneName(tc.az); err != nil {
			t.Errorf("CheckAvailabilityZoneName(%q) = %v", tc.az, err)
		}
	}
	for _, tc := range []struct{ az, hint string }{
		{"use1-az1", "zone ID"},
		{"usw2-lax1-az1", "zone ID"},
		{"", "empty"},
		{" us-west-2a", "white space"},
		{"us-west-2", "not an availability zone name"},
		{"US-WEST-2A", "not an availability zone name"},
		{"us-west-2a;rm", "not an availability zone name"},
	} {
		_, err := ecsmeta.RegionFromAvailabilityZone(tc.az)
		if !errors.Is(err, ecsmeta.ErrInvalidAvailabilityZone) || !strings.Contains(err.Error(), tc.hint) ||
			!strings.Contains(err.Error(), `"`+tc.az+`"`) {
			t.Errorf("RegionFromAvailabilityZone(%q) err = %v, want ErrInvalidAvailabilityZone naming the value and %q", tc.az, err, tc.hint)
		}
	}
}

func TestCheckSidecarAvailabilityZone(t *testing.T) {
	for _, az := range []string{"us-west-2a", "us-gov-east-1a", "eu-central-1b", "ap-southeast-2c", "me-south-1a", "sa-east-1a", "cn-north-1a", "af-south-1a", "ca-central-1d"} {
		if err := ecsmeta.CheckSidecarAvailabilityZone(az); err != nil {
			t.Errorf("CheckSidecarAvailabilityZone(%q) = %v", az, err)
		}
	}
	// Real values the script rejects; the permissive check accepts the names.
	for _, tc := range []struct {
		az        string
		validName bool
	}{
		{"use1-az1", false},
		{"us-west-2-lax-1a", true},
		{"us-east-1-wl1-bos-wlz-1", true},
		{"il-central-1a", true},
		{"mx-central-1a", true},
		{"us-iso-east-1a", true},
		{"eu-west-10a", true},
		{"us-west-2", false},
	} {
		err := ecsmeta.CheckSidecarAvailabilityZone(tc.az)
		if !errors.Is(err, ecsmeta.ErrInvalidAvailabilityZone) || !strings.Contains(err.Error(), tc.az) {
			t.Errorf("CheckSidecarAvailabilityZone(%q) = %v, want rejection naming the value", tc.az, err)
		}
		if got := ecsmeta.CheckAvailabilityZoneName(tc.az) == nil; got != tc.validName {
			t.Errorf("CheckAvailabilityZoneName(%q) ok = %v, want %v", tc.az, got, tc.validName)
		}
	}
}

func TestSidecarTaskARN(t *testing.T) {
	good := "arn:aws:ecs:us-west-2:111122223333:task/default/158d1c8083dd49d6b527399fd6414f5c"
	if err := ecsmeta.CheckSidecarTaskARN(good); err != nil {
		t.Error(err)
	}
	if err := ecsmeta.CheckSidecarTaskARN("arn:aws-us-gov:ecs:us-gov-west-1:111122223333:task/my_cluster-1/abc123"); err != nil {
		t.Error(err)
	}
	for _, tc := range []struct{ arn, reason string }{
		{"arn:aws:ecs:us-east-1:111122223333:task/1dc5c17a-422b-4dc4-b493-371970c6c4d6", "short-format"},
		{"arn:aws-iso:ecs:us-iso-east-1:111122223333:task/default/158d1c8083dd49d6b527399fd6414f5c", `partition "aws-iso"`},
		{"arn:aws:ecs:us-west-2:11112222333:task/default/abc", "pattern"},
		{"", "pattern"},
		{good + "\n", "pattern"},
	} {
		err := ecsmeta.CheckSidecarTaskARN(tc.arn)
		if !errors.Is(err, ecsmeta.ErrInvalidTaskARN) || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("CheckSidecarTaskARN(%q) = %v, want ErrInvalidTaskARN mentioning %q", tc.arn, err, tc.reason)
		}
	}
}

func TestParseTaskARN(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ecsmeta.TaskARN
	}{
		{"arn:aws:ecs:us-west-2:111122223333:task/default/158d1c8083dd49d6b527399fd6414f5c",
			ecsmeta.TaskARN{Partition: "aws", Region: "us-west-2", AccountID: "111122223333", Cluster: "default", TaskID: "158d1c8083dd49d6b527399fd6414f5c"}},
		{"arn:aws:ecs:us-east-1:012345678910:task/1dc5c17a-422b-4dc4-b493-371970c6c4d6",
			ecsmeta.TaskARN{Partition: "aws", Region: "us-east-1", AccountID: "012345678910", TaskID: "1dc5c17a-422b-4dc4-b493-371970c6c4d6"}},
		{"arn:aws-iso-b:ecs:us-isob-east-1:111122223333:task/prod_1/0123abcd",
			ecsmeta.TaskARN{Partition: "aws-iso-b", Region: "us-isob-east-1", AccountID: "111122223333", Cluster: "prod_1", TaskID: "0123abcd"}},
	} {
		got, err := ecsmeta.ParseTaskARN(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseTaskARN(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
		if got.String() != tc.in {
			t.Errorf("String() = %q, want %q", got.String(), tc.in)
		}
	}
	for _, bad := range []string{"", "arn:aws:ecs:us-west-2:111122223333:container/abc", "arn:aws:ec2:us-west-2:111122223333:task/a/b", "arn:aws:ecs:us-west-2:111122223333:task/"} {
		if _, err := ecsmeta.ParseTaskARN(bad); !errors.Is(err, ecsmeta.ErrInvalidTaskARN) {
			t.Errorf("ParseTaskARN(%q) err = %v", bad, err)
		}
	}
}

// FuzzSidecarZoneAgreesWithScript checks that, for every zone the script's
// pattern accepts, RegionFromAvailabilityZone gives the script's answer
// (the zone minus its last character).
func FuzzSidecarZoneAgreesWithScript(f *testing.F) {
	for _, s := range []string{"us-west-2a", "us-gov-west-1b", "use1-az1", "us-west-2-lax-1a", "ap-northeast-1c", "eu-west-1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, az string) {
		region, err := ecsmeta.RegionFromAvailabilityZone(az)
		if ecsmeta.CheckSidecarAvailabilityZone(az) != nil {
			return
		}
		if err != nil || region != az[:len(az)-1] {
			t.Fatalf("zone %q: RegionFromAvailabilityZone = %q, %v; the script derives %q", az, region, err, az[:len(az)-1])
		}
	})
}
