package ssmreg

import "errors"

// Sentinel errors, for errors.Is. Validation failures of the task identity
// wrap ecsmeta.ErrInvalidAvailabilityZone or ecsmeta.ErrInvalidTaskARN.
var (
	// ErrNoRoleName reports an empty Options.RoleName (the sidecar reads it
	// from MANAGED_INSTANCE_ROLE_NAME).
	ErrNoRoleName = errors.New("ssmreg: managed instance role name is empty")
	// ErrInvalidRoleName reports a role name that is not an IAM role name
	// (too long, or a path or ARN).
	ErrInvalidRoleName = errors.New("ssmreg: invalid managed instance role name")
	// ErrAWSConfig reports that the AWS SDK configuration could not be
	// loaded.
	ErrAWSConfig = errors.New("ssmreg: load AWS configuration")
	// ErrInvalidOptions reports another unusable option value; the error
	// names the field and value.
	ErrInvalidOptions = errors.New("ssmreg: invalid options")
	// ErrAgentRunning reports that an amazon-ssm-agent process already runs
	// in the PID namespace, for example because ECS Exec is enabled. FIS
	// needs the agent that this package registers; two agents would fight
	// over the registration.
	ErrAgentRunning = errors.New("ssmreg: SSM agent is already running")
	// ErrActivation reports a failed CreateActivation call.
	ErrActivation = errors.New("ssmreg: create activation failed")
	// ErrAgentRegister reports that `amazon-ssm-agent -register` failed.
	ErrAgentRegister = errors.New("ssmreg: agent registration failed")
	// ErrAgentStart reports that the agent could not be started.
	ErrAgentStart = errors.New("ssmreg: agent start failed")
	// ErrAgentExited reports that the supervised agent exited on its own
	// and was not (or no longer) restarted.
	ErrAgentExited = errors.New("ssmreg: SSM agent exited")
	// ErrRegistrationFile reports a missing or malformed registration file.
	ErrRegistrationFile = errors.New("ssmreg: bad registration file")
)
