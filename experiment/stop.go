package experiment

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// Stop-condition sources. The alarm source is FIS's; the two probes are
// faultkit extensions, given to the runner by flags (--stop-on-http,
// --stop-on-cmd) and never written in a template, so templates stay
// valid for FIS.
const (
	SourceAlarm   = "aws:cloudwatch:alarm"
	SourceHTTP    = "faultkit:http-probe"
	SourceCommand = "faultkit:command-probe"
)

// StopCondition is checked every Interval while the experiment runs. When
// Check reports tripped, the experiment stops: running actions revert and
// pending ones are cancelled.
type StopCondition struct {
	// Source is SourceAlarm, SourceHTTP, SourceCommand, or any name for a
	// custom check.
	Source string
	// Value is the alarm ARN, the URL or the command.
	Value string
	// Interval between checks; 0 means Config.PollInterval.
	Interval time.Duration
	// Check reports whether the condition has tripped, and why. An error
	// means the condition could not be evaluated; Config.MaxCheckErrors
	// errors in a row trip it (fail safe).
	Check func(ctx context.Context) (tripped bool, why string, err error)
}

// CloudWatchAPI is the part of the CloudWatch client an alarm condition
// uses; *cloudwatch.Client implements it.
type CloudWatchAPI interface {
	DescribeAlarms(ctx context.Context, in *cloudwatch.DescribeAlarmsInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error)
}

// ErrStopCondition is wrapped by errors about stop conditions.
var ErrStopCondition = errors.New("invalid stop condition")

// AlarmARN is a parsed CloudWatch alarm ARN,
// arn:PARTITION:cloudwatch:REGION:ACCOUNT:alarm:NAME.
type AlarmARN struct {
	Partition, Region, AccountID, Name string
}

// ParseAlarmARN parses a CloudWatch alarm ARN. Alarm names may contain
// colons; everything after "alarm:" is the name.
func ParseAlarmARN(s string) (AlarmARN, error) {
	parts := strings.SplitN(s, ":", 7)
	if len(parts) != 7 || parts[0] != "arn" || parts[2] != "cloudwatch" || parts[5] != "alarm" ||
		parts[1] == "" || parts[3] == "" || parts[6] == "" {
		return AlarmARN{}, fmt.Errorf("%w: %q is not a CloudWatch alarm ARN (arn:aws:cloudwatch:REGION:ACCOUNT:alarm:NAME)", ErrStopCondition, s)
	}
	return AlarmARN{Partition: parts[1], Region: parts[3], AccountID: parts[4], Name: parts[6]}, nil
}

// AlarmCondition trips when the CloudWatch alarm named by arn is in state
// ALARM, read with DescribeAlarms by name (metric and composite alarms).
// An alarm that does not exist is an error, as is any API error.
func AlarmCondition(cw CloudWatchAPI, arn string) (StopCondition, error) {
	a, err := ParseAlarmARN(arn)
	if err != nil {
		return StopCondition{}, err
	}
	if cw == nil {
		return StopCondition{}, fmt.Errorf("%w: alarm %s: no CloudWatch client", ErrStopCondition, arn)
	}
	check := func(ctx context.Context) (bool, string, error) {
		out, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{
			AlarmNames: []string{a.Name},
			AlarmTypes: []cwtypes.AlarmType{cwtypes.AlarmTypeMetricAlarm, cwtypes.AlarmTypeCompositeAlarm},
		})
		if err != nil {
			return false, "", fmt.Errorf("describe alarm %q: %w", a.Name, err)
		}
		var states []cwtypes.StateValue
		for _, m := range out.MetricAlarms {
			states = append(states, m.StateValue)
		}
		for _, c := range out.CompositeAlarms {
			states = append(states, c.StateValue)
		}
		if len(states) == 0 {
			return false, "", fmt.Errorf("alarm %q not found", a.Name)
		}
		for _, s := range states {
			if s == cwtypes.StateValueAlarm {
				return true, fmt.Sprintf("alarm %s is in state ALARM", a.Name), nil
			}
		}
		return false, "", nil
	}
	return StopCondition{Source: SourceAlarm, Value: arn, Check: check}, nil
}

// HTTPProbe trips when a GET of url does not answer 2xx within timeout
// (0 means 5 s). client may be nil (a fresh client without keep-alive
// state shared with the experiment).
func HTTPProbe(url string, timeout time.Duration, client *http.Client) StopCondition {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	if client == nil {
		client = &http.Client{}
	}
	check := func(ctx context.Context) (bool, string, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return true, fmt.Sprintf("probe %s: %v", url, err), nil
		}
		resp, err := client.Do(req)
		if err != nil {
			return true, fmt.Sprintf("probe %s: %v", url, err), nil
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return true, fmt.Sprintf("probe %s answered %s", url, resp.Status), nil
		}
		return false, "", nil
	}
	return StopCondition{Source: SourceHTTP, Value: url, Check: check}
}

// CommandProbe trips when `sh -c command` exits non-zero or does not
// finish within timeout (0 means 10 s).
func CommandProbe(command string, timeout time.Duration) StopCondition {
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	check := func(ctx context.Context) (bool, string, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
		ownProcessGroup(cmd)
		cmd.WaitDelay = time.Second
		out, err := cmd.CombinedOutput()
		if err == nil {
			return false, "", nil
		}
		if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return true, fmt.Sprintf("probe %q did not finish within %s", command, timeout), nil
		}
		why := fmt.Sprintf("probe %q: %v", command, err)
		if s := strings.TrimSpace(string(out)); s != "" {
			if len(s) > 200 {
				s = s[:200] + "..."
			}
			why += ": " + s
		}
		return true, why, nil
	}
	return StopCondition{Source: SourceCommand, Value: command, Check: check}
}
