// Package ssmtest is a fake AWS Systems Manager endpoint for tests. It speaks
// the real AWS JSON 1.1 protocol (POST /, X-Amz-Target: AmazonSSM.<Op>,
// Content-Type: application/x-amz-json-1.1) for the calls an ECS sidecar
// makes, checks SigV4 signatures, keeps activations and managed instances in
// memory, and records every call.
//
//	srv := ssmtest.NewServer(&ssmtest.Options{Credentials: map[string]string{"AKID": "SECRET"}})
//	defer srv.Close()
//	client := ssm.NewFromConfig(cfg, func(o *ssm.Options) { o.BaseEndpoint = aws.String(srv.URL()) })
//	// ... code under test calls CreateActivation ...
//	calls := srv.Calls("CreateActivation")
//
// Supported operations: CreateActivation, DeleteActivation,
// RegisterManagedInstance (unsigned, as the agent sends it; the fake agent in
// ./fakeagent calls it) and DeregisterManagedInstance. Others answer
// UnknownOperationException.
//
// BuildFakeAgent compiles ./fakeagent, a stand-in for amazon-ssm-agent that
// registers against this server and writes the registration file like the
// real agent.
package ssmtest
