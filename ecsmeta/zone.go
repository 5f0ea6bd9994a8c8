package ecsmeta

import (
	"fmt"
	"regexp"
	"strings"
)

// The FIS sidecar script's checks, verbatim (fis-ecs reference §5.4).
var (
	sidecarAZPattern      = regexp.MustCompile(`^(af|ap|ca|cn|eu|me|sa|us|us-gov)-(central|north|(north(east|west))|south|south(east|west)|east|west)-[0-9]{1}[a-z]{1}$`)
	sidecarTaskARNPattern = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov):ecs:[a-z0-9-]+:[0-9]{12}:task/[a-zA-Z0-9_-]+/[a-zA-Z0-9]+$`)
)

// Patterns for the general (correct) helpers.
var (
	// A zone name is a Region name followed by a letter (standard AZ) or by
	// "-<location>-<n><letter>" (Local Zone) or "-wl1-<city>-wlz-<n>"
	// (Wavelength Zone). Group 1 is the Region.
	zoneNamePattern = regexp.MustCompile(`^([a-z]{2,4}(?:-[a-z]+)+-[0-9]+)(?:[a-z]|-[a-z0-9]+(?:-[a-z0-9]+)*)$`)
	// A zone ID is "<region code>-az<n>", or "<region code>-<location>-az<n>"
	// for Local Zones, e.g. "use1-az1", "usw2-lax1-az1".
	zoneIDPattern = regexp.MustCompile(`^[a-z]{2,}[0-9]+(?:-[a-z0-9]+)*-az[0-9]+$`)
)

// RegionFromAvailabilityZone returns the Region an availability zone name
// belongs to. It handles standard zones ("us-west-2a" -> "us-west-2"),
// Local Zones ("us-west-2-lax-1a" -> "us-west-2"), Wavelength Zones
// ("us-east-1-wl1-bos-wlz-1" -> "us-east-1") and every partition's Region
// names ("us-gov-west-1a", "cn-north-1a", "il-central-1a").
//
// It rejects zone IDs such as "use1-az1": an ID does not name its Region.
// When only an ID is at hand, take the Region from the task ARN instead
// (ParseTaskARN(task.TaskARN).Region), which is always present.
//
// Unlike the FIS sidecar script, which drops the last character of the zone
// name, this gives the right answer for Local and Wavelength Zones; for the
// zones the script accepts the two agree.
func RegionFromAvailabilityZone(az string) (string, error) {
	m := zoneNamePattern.FindStringSubmatch(az)
	if m == nil {
		return "", fmt.Errorf("ecsmeta: %w %q: %s", ErrInvalidAvailabilityZone, az, zoneHint(az))
	}
	return m[1], nil
}

// CheckAvailabilityZoneName reports whether az is a well-formed availability
// zone name: a standard AZ, a Local Zone or a Wavelength Zone, in any
// partition. It is the permissive counterpart of
// CheckSidecarAvailabilityZone. Zone IDs ("use1-az1") are rejected with a
// hint.
func CheckAvailabilityZoneName(az string) error {
	_, err := RegionFromAvailabilityZone(az)
	return err
}

// CheckSidecarAvailabilityZone applies the FIS sidecar script's zone check
// exactly:
//
//	^(af|ap|ca|cn|eu|me|sa|us|us-gov)-(central|north|(north(east|west))|south|south(east|west)|east|west)-[0-9]{1}[a-z]{1}$
//
// Real zones it rejects, so a task running there cannot register the way the
// script does:
//   - zone IDs such as "use1-az1" (the metadata field AvailabilityZone holds a
//     name, but AvailabilityZoneID holds an ID);
//   - Local Zones such as "us-west-2-lax-1a" and Wavelength Zones such as
//     "us-east-1-wl1-bos-wlz-1";
//   - Regions whose prefix is not in the list: "il-central-1a" (Israel),
//     "mx-central-1a" (Mexico), the ISO partitions ("us-iso-east-1a",
//     "us-isob-east-1a") and the European Sovereign Cloud ("eusc-de-east-1a");
//   - Region numbers of two digits.
//
// CheckAvailabilityZoneName accepts all of these names, and
// RegionFromAvailabilityZone derives their Region correctly.
func CheckSidecarAvailabilityZone(az string) error {
	if sidecarAZPattern.MatchString(az) {
		return nil
	}
	reason := "does not match the FIS sidecar zone pattern"
	if CheckAvailabilityZoneName(az) == nil {
		reason += " (it is a well-formed zone name the pattern does not cover, such as a Local Zone " +
			"or a Region outside the pattern's list)"
	} else {
		reason += ": " + zoneHint(az)
	}
	return fmt.Errorf("ecsmeta: %w %q: %s", ErrInvalidAvailabilityZone, az, reason)
}

func zoneHint(az string) string {
	switch {
	case az == "":
		return "empty (the task metadata has no AvailabilityZone)"
	case zoneIDPattern.MatchString(az):
		return "this is an availability zone ID, not a zone name; take the Region from the task ARN"
	case strings.TrimSpace(az) != az:
		return "contains leading or trailing white space"
	default:
		return "not an availability zone name like \"us-west-2a\" or \"us-west-2-lax-1a\""
	}
}

// CheckSidecarTaskARN applies the FIS sidecar script's task ARN check
// exactly:
//
//	^arn:(aws|aws-cn|aws-us-gov):ecs:[a-z0-9-]+:[0-9]{12}:task/[a-zA-Z0-9_-]+/[a-zA-Z0-9]+$
//
// Real ARNs it rejects: the old short format without the cluster name
// ("arn:aws:ecs:us-east-1:123456789012:task/1dc5c17a-422b-4dc4-b493-371970c6c4d6",
// used by accounts that never opted in to the long ARN format) and the
// partitions outside the list (aws-iso, aws-iso-b, aws-eusc). ParseTaskARN
// accepts both formats and every partition.
func CheckSidecarTaskARN(arn string) error {
	if sidecarTaskARNPattern.MatchString(arn) {
		return nil
	}
	reason := "does not match the FIS sidecar task ARN pattern"
	if a, err := ParseTaskARN(arn); err == nil {
		if a.Cluster == "" {
			reason += " (it is an old short-format task ARN without the cluster name)"
		} else {
			reason += fmt.Sprintf(" (partition %q is not aws, aws-cn or aws-us-gov)", a.Partition)
		}
	}
	return fmt.Errorf("ecsmeta: %w %q: %s", ErrInvalidTaskARN, arn, reason)
}

var taskARNPattern = regexp.MustCompile(`^arn:(aws[a-z-]*):ecs:([a-z]{2,4}(?:-[a-z]+)+-[0-9]+):([0-9]{12}):task/(?:([a-zA-Z0-9_-]{1,255})/)?([a-zA-Z0-9-]{1,64})$`)

// TaskARN is a parsed ECS task ARN.
type TaskARN struct {
	Partition string // "aws", "aws-cn", "aws-us-gov", "aws-iso", ...
	Region    string // e.g. "us-west-2"
	AccountID string // 12 digits
	Cluster   string // cluster name; empty for the old short format
	TaskID    string // 32 hex digits (long format) or a UUID (short format)
}

// ParseTaskARN parses a task ARN in the long format
// ("arn:aws:ecs:us-west-2:111122223333:task/default/158d1c80...") or the old
// short format ("arn:aws:ecs:us-west-2:111122223333:task/<uuid>"), in any
// partition.
func ParseTaskARN(s string) (TaskARN, error) {
	m := taskARNPattern.FindStringSubmatch(s)
	if m == nil {
		return TaskARN{}, fmt.Errorf("ecsmeta: %w %q: want arn:<partition>:ecs:<region>:<account>:task/[<cluster>/]<id>", ErrInvalidTaskARN, s)
	}
	return TaskARN{Partition: m[1], Region: m[2], AccountID: m[3], Cluster: m[4], TaskID: m[5]}, nil
}

// String formats the ARN back to its text form.
func (a TaskARN) String() string {
	if a.Cluster == "" {
		return fmt.Sprintf("arn:%s:ecs:%s:%s:task/%s", a.Partition, a.Region, a.AccountID, a.TaskID)
	}
	return fmt.Sprintf("arn:%s:ecs:%s:%s:task/%s/%s", a.Partition, a.Region, a.AccountID, a.Cluster, a.TaskID)
}
