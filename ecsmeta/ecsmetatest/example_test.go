package ecsmetatest_test

import (
	"context"
	"fmt"
	"net/http"

	"github.com/faultkit/faultkit/ecsmeta"
	"github.com/faultkit/faultkit/ecsmeta/ecsmetatest"
)

// Serve AWS's recorded EC2 example and make the first request fail, as the
// endpoint can while a task starts; the client retries.
func ExampleNewServer() {
	srv := ecsmetatest.NewServer(ecsmetatest.EC2())
	defer srv.Close()
	srv.FailNext(1, http.StatusServiceUnavailable)

	c, _ := ecsmeta.New(srv.Endpoint(), nil)
	task, err := c.Task(context.Background())
	fmt.Println(task.TaskARN, err)
	fmt.Println(srv.Requests())
	// Output:
	// arn:aws:ecs:us-west-2:111122223333:task/default/158d1c8083dd49d6b527399fd6414f5c <nil>
	// [/task /task]
}
