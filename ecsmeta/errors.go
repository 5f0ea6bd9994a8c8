package ecsmeta

import (
	"errors"
	"fmt"
)

// Sentinel errors, for errors.Is.
var (
	// ErrNoEndpoint reports that ECS_CONTAINER_METADATA_URI_V4 is unset or
	// empty: the process does not run in an ECS task (or the agent is older
	// than 1.39.0 / the Fargate platform older than 1.4.0).
	ErrNoEndpoint = errors.New("ecsmeta: task metadata endpoint not configured")
	// ErrInvalidAvailabilityZone reports an availability zone value that a
	// check rejected. The error text names the value and the reason.
	ErrInvalidAvailabilityZone = errors.New("invalid availability zone")
	// ErrInvalidTaskARN reports a task ARN that a check rejected.
	ErrInvalidTaskARN = errors.New("invalid task ARN")
)

// StatusError reports a metadata endpoint response with a non-2xx status.
// The client retries 5xx responses; a StatusError for a 5xx means the
// retries ran out.
type StatusError struct {
	Path       string // request path relative to the endpoint, e.g. "/task"
	StatusCode int    // HTTP status code
	Body       string // first bytes of the response body, trimmed
}

func (e *StatusError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("ecsmeta: GET %s: HTTP %d", e.Path, e.StatusCode)
	}
	return fmt.Sprintf("ecsmeta: GET %s: HTTP %d: %s", e.Path, e.StatusCode, e.Body)
}
