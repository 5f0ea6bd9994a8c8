// Package ecsmetatest serves task metadata endpoint v4 responses from an
// httptest server, so code that reads task metadata can be tested off ECS.
//
//	srv := ecsmetatest.NewServer(ecsmetatest.EC2())
//	defer srv.Close()
//	t.Setenv(ecsmeta.EnvEndpointV4, srv.Endpoint())
//	c, _ := ecsmeta.FromEnv(nil)
//	task, _ := c.Task(ctx) // the recorded EC2 task
//
// EC2 and Fargate return AWS's documented example responses (recorded copies,
// see recorded/README.md); replace any field of Responses with your own
// recordings.
package ecsmetatest
