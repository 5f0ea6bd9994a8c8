// Package ecsmeta reads the Amazon ECS task metadata endpoint version 4 and
// checks the task identity the AWS FIS sidecar relies on.
//
//	c, err := ecsmeta.FromEnv(nil) // ECS_CONTAINER_METADATA_URI_V4
//	if err != nil { return err }
//	task, err := c.Task(ctx)                                  // GET /task, retried on 5xx
//	region, err := ecsmeta.RegionFromAvailabilityZone(task.AvailabilityZone)
//	err = ecsmeta.CheckSidecarTaskARN(task.TaskARN)          // the FIS sidecar's rule
//
// The Client covers the five v4 paths: the container itself, /task,
// /taskWithTags, /stats and /task/stats. The structs carry every documented
// field, ignore unknown ones, and decode Docker counters up to uint64 max.
// Calls take a context; each attempt has a timeout, and connection errors
// and 5xx responses (which a task can see for a moment while it starts) are
// retried with capped exponential backoff.
//
// # FIS sidecar checks
//
// CheckSidecarAvailabilityZone and CheckSidecarTaskARN apply the FIS
// sidecar script's regular expressions verbatim. They reject some real
// values: zone IDs ("use1-az1"), Local and Wavelength Zones
// ("us-west-2-lax-1a"), Regions outside the script's prefix list
// ("il-central-1a", "mx-central-1a", ISO partitions) and old short-format task
// ARNs. CheckAvailabilityZoneName, RegionFromAvailabilityZone and
// ParseTaskARN are the correct, permissive alternatives; the Region can
// always be taken from the task ARN.
//
// Package ecsmetatest provides a fake endpoint for tests. ecsmeta imports
// only the standard library.
package ecsmeta
