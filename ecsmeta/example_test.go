package ecsmeta_test

import (
	"context"
	"fmt"

	"github.com/faultkit/faultkit/ecsmeta"
	"github.com/faultkit/faultkit/ecsmeta/ecsmetatest"
)

// Read the task's identity the way the FIS sidecar does, against the fake
// endpoint serving AWS's recorded Fargate example.
func ExampleClient_Task() {
	srv := ecsmetatest.NewServer(ecsmetatest.Fargate())
	defer srv.Close()

	c, err := ecsmeta.New(srv.Endpoint(), nil) // in a task: ecsmeta.FromEnv(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	task, err := c.Task(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	region, _ := ecsmeta.RegionFromAvailabilityZone(task.AvailabilityZone)
	fmt.Println(task.LaunchType, task.AvailabilityZone, region)
	fmt.Println("sidecar checks:", ecsmeta.CheckSidecarAvailabilityZone(task.AvailabilityZone), ecsmeta.CheckSidecarTaskARN(task.TaskARN))
	// Output:
	// FARGATE us-west-2a us-west-2
	// sidecar checks: <nil> <nil>
}

// The FIS sidecar's zone check rejects Local Zones; the permissive helpers
// accept them and derive the right Region.
func ExampleCheckSidecarAvailabilityZone() {
	az := "us-west-2-lax-1a"
	fmt.Println(ecsmeta.CheckSidecarAvailabilityZone(az) != nil)
	region, err := ecsmeta.RegionFromAvailabilityZone(az)
	fmt.Println(region, err)
	// Output:
	// true
	// us-west-2 <nil>
}

// A task ARN names its Region, which also works when the metadata only
// offers a zone ID.
func ExampleParseTaskARN() {
	arn, err := ecsmeta.ParseTaskARN("arn:aws:ecs:us-west-2:111122223333:task/default/158d1c8083dd49d6b527399fd6414f5c")
	fmt.Println(arn.Region, arn.Cluster, arn.TaskID, err)
	// Output: us-west-2 default 158d1c8083dd49d6b527399fd6414f5c <nil>
}
