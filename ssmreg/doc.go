// Package ssmreg registers an Amazon ECS task as an AWS Systems Manager
// managed instance the way AWS FIS needs for its aws:ecs:task-* actions,
// and supervises the SSM agent: the FIS sidecar script as typed Go.
//
//	task, err := ecsmetaClient.Task(ctx)
//	reg, err := ssmreg.Register(ctx, task, ssmreg.Options{RoleName: os.Getenv(ssmreg.EnvRoleName)})
//	if err != nil { return err }         // errors.Is(err, ssmreg.ErrAgentRunning), ...
//	<-ctx.Done()                         // e.g. SIGTERM from ECS
//	err = reg.Deregister(stopCtx)        // delete activation, deregister, stop the agent
//
// Register validates the task's zone and ARN with the script's patterns
// (ecsmeta.CheckSidecarAvailabilityZone, ecsmeta.CheckSidecarTaskARN, or the
// permissive checks with Options.Permissive), refuses to run when an
// amazon-ssm-agent process already exists (a /proc scan, see FindProcess),
// calls CreateActivation through aws-sdk-go-v2 (standard configuration chain
// and retryer) with the tags ECS_TASK_AVAILABILITY_ZONE, ECS_TASK_ARN and
// FAULT_INJECTION_SIDECAR=true, runs `amazon-ssm-agent -register`, then
// starts the agent and restarts it if asked to. Registration.Deregister
// deletes the activation, reads the managed instance ID from the agent's
// registration file, deregisters the instance and stops the agent, carrying
// on past failures and returning them joined.
//
// The activation code is a bearer secret for one registration: it is never
// logged or put in an error. It does appear on the agent's command line
// for the short life of `-register`, as the agent accepts it no other way.
//
// Package ssmtest provides a fake SSM endpoint and a fake agent for tests.
// ssmreg imports ecsmeta, aws-sdk-go-v2 and smithy-go only.
package ssmreg
