package ssmreg

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
)

// DefaultRegistrationFile is where amazon-ssm-agent on Linux writes the
// result of -register.
const DefaultRegistrationFile = "/var/lib/amazon/ssm/registration"

var managedInstanceIDPattern = regexp.MustCompile(`^mi-[0-9a-f]{17}$`)

// RegistrationInfo is the content of the agent's registration file:
// {"ManagedInstanceID":"mi-0123456789abcdef0","Region":"us-east-1"}.
type RegistrationInfo struct {
	ManagedInstanceID string `json:"ManagedInstanceID"`
	Region            string `json:"Region"`
}

// ReadRegistrationFile reads and checks the agent's registration file. The
// error wraps ErrRegistrationFile (and os.ErrNotExist when it is missing)
// and names the path.
func ReadRegistrationFile(path string) (RegistrationInfo, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return RegistrationInfo{}, fmt.Errorf("%w: %w", ErrRegistrationFile, err)
	}
	var info RegistrationInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return RegistrationInfo{}, fmt.Errorf("%w: %s: %w", ErrRegistrationFile, path, err)
	}
	if !managedInstanceIDPattern.MatchString(info.ManagedInstanceID) {
		return info, fmt.Errorf("%w: %s: ManagedInstanceID %q does not match mi-<17 hex digits>",
			ErrRegistrationFile, path, info.ManagedInstanceID)
	}
	return info, nil
}
