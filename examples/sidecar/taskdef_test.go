package main

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultkit/faultkit/ssmreg"
)

// taskDefinition is the part of an ECS task definition the FIS sidecar
// depends on.
type taskDefinition struct {
	Family                  string   `json:"family"`
	RequiresCompatibilities []string `json:"requiresCompatibilities"`
	NetworkMode             string   `json:"networkMode"`
	PidMode                 string   `json:"pidMode"`
	EnableFaultInjection    *bool    `json:"enableFaultInjection"`
	TaskRoleArn             string   `json:"taskRoleArn"`
	ContainerDefinitions    []struct {
		Name        string   `json:"name"`
		Image       string   `json:"image"`
		Essential   *bool    `json:"essential"`
		Command     []string `json:"command"`
		StopTimeout *int     `json:"stopTimeout"`
		Environment []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"environment"`
		LinuxParameters *struct {
			InitProcessEnabled bool `json:"initProcessEnabled"`
			Capabilities       struct {
				Add []string `json:"add"`
			} `json:"capabilities"`
		} `json:"linuxParameters"`
	} `json:"containerDefinitions"`
}

func TestTaskDefinitionExample(t *testing.T) {
	b, err := os.ReadFile("taskdef.json")
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	var td taskDefinition
	if err := dec.Decode(&td); err != nil {
		t.Fatalf("taskdef.json: %v", err)
	}
	if td.PidMode != "task" {
		t.Errorf("pidMode %q, want task (kill-process and network actions)", td.PidMode)
	}
	if td.EnableFaultInjection == nil || !*td.EnableFaultInjection {
		t.Error("enableFaultInjection is not true")
	}
	if td.NetworkMode != "awsvpc" && td.NetworkMode != "host" {
		t.Errorf("networkMode %q: FIS network actions need awsvpc or host", td.NetworkMode)
	}
	if td.TaskRoleArn == "" {
		t.Error("no taskRoleArn: the sidecar needs ssm:CreateActivation and iam:PassRole")
	}
	sidecars := 0
	for _, c := range td.ContainerDefinitions {
		var role string
		for _, e := range c.Environment {
			if e.Name == ssmreg.EnvRoleName {
				role = e.Value
			}
		}
		if role == "" {
			continue
		}
		sidecars++
		if !regexp.MustCompile(`^[\w+=,.@-]{1,64}$`).MatchString(role) {
			t.Errorf("%s = %q is not an IAM role name", ssmreg.EnvRoleName, role)
		}
		if c.Essential == nil || *c.Essential {
			t.Errorf("container %s: essential must be false, as in the FIS sidecar", c.Name)
		}
		if c.LinuxParameters == nil || !slices.Contains(c.LinuxParameters.Capabilities.Add, "NET_ADMIN") {
			t.Errorf("container %s: linuxParameters.capabilities.add lacks NET_ADMIN", c.Name)
		} else if !c.LinuxParameters.InitProcessEnabled {
			t.Errorf("container %s: initProcessEnabled should be true (the sidecar does not reap orphans)", c.Name)
		}
		// NET_ADMIN cannot be added on Fargate.
		if slices.Contains(td.RequiresCompatibilities, "FARGATE") {
			t.Errorf("requiresCompatibilities %v: Fargate rejects NET_ADMIN", td.RequiresCompatibilities)
		}
		// The command must be valid sidecar flags, and the cleanup budget
		// must fit in the container's stop timeout.
		c, code, done := parseFlags(c.Command, &strings.Builder{})
		if done {
			t.Fatalf("command %v is not valid sidecar flags (exit %d)", c, code)
		}
		stop := 30 * time.Second // ECS default
		if sc := td.ContainerDefinitions[len(td.ContainerDefinitions)-1].StopTimeout; sc != nil {
			stop = time.Duration(*sc) * time.Second
		}
		if c.stopTimeout >= stop {
			t.Errorf("-stop-timeout %s does not fit in the container stopTimeout %s", c.stopTimeout, stop)
		}
	}
	if sidecars != 1 {
		t.Errorf("%d containers set %s, want 1", sidecars, ssmreg.EnvRoleName)
	}
}

// TestDockerfileAgreesWithDefaults reads the Dockerfile for the facts the
// binary relies on: the agent at ssmreg.DefaultAgentPath, a CGO-off build
// and a distroless/static default target.
func TestDockerfileAgreesWithDefaults(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	var froms []string
	for _, l := range strings.Split(df, "\n") {
		if strings.HasPrefix(l, "FROM ") {
			froms = append(froms, l)
		}
	}
	if len(froms) == 0 || !strings.Contains(froms[len(froms)-1], "gcr.io/distroless/static") {
		t.Errorf("last stage %q is not distroless/static", froms[len(froms)-1:])
	}
	for _, want := range []string{"CGO_ENABLED=0", "./examples/sidecar", "/usr/bin/amazon-ssm-agent", `ENTRYPOINT ["/usr/bin/faultkit-sidecar"]`} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if ssmreg.DefaultAgentPath != "/usr/bin/amazon-ssm-agent" {
		t.Errorf("DefaultAgentPath %q differs from the Dockerfile's", ssmreg.DefaultAgentPath)
	}
}
