package ecsmeta_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultkit/faultkit/ecsmeta"
)

// sharedCorpus is the shared reference corpus, present in the development
// checkout but not needed by the project.
const sharedCorpus = "../../shared/corpus/ecsmeta"

func TestCorpusTestdata(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 4 {
		t.Fatalf("testdata holds %d JSON files, want the 4 corpus copies", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { checkCorpusFile(t, f) })
	}
}

func TestCorpusShared(t *testing.T) {
	if _, err := os.Stat(sharedCorpus); err != nil {
		t.Skipf("shared corpus %s not available (%v); testdata copies are tested by TestCorpusTestdata", sharedCorpus, err)
	}
	files, err := filepath.Glob(filepath.Join(sharedCorpus, "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("%s is empty", sharedCorpus)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			checkCorpusFile(t, f)
			// The testdata copy must be byte-identical to its source.
			name := filepath.Base(f)
			i := strings.Index(name, "metadatav4-response-")
			if i < 0 {
				return
			}
			cp, err := os.ReadFile(filepath.Join("testdata", name[i:]))
			if err != nil {
				t.Fatalf("no testdata copy of %s: %v", name, err)
			}
			orig, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(cp, orig) {
				t.Errorf("testdata/%s differs from %s", name[i:], f)
			}
		})
	}
}

// checkCorpusFile decodes one recorded response and asserts its key fields.
// The expected values are those of AWS's documented examples.
func checkCorpusFile(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Base(path)
	switch {
	case strings.HasSuffix(base, "task-ec2.json"):
		task := decodeTask(t, data)
		want := taskWant{
			cluster: "default", arn: "arn:aws:ecs:us-west-2:111122223333:task/default/158d1c8083dd49d6b527399fd6414f5c",
			family: "curltest", revision: "26", az: "us-west-2d", launch: "EC2", containers: 2,
		}
		checkTask(t, task, want)
		pause, ok := task.Container("~internal~ecs~pause")
		if !ok || pause.Type != "CNI_PAUSE" || pause.KnownStatus != "RESOURCES_PROVISIONED" || pause.ImageID != "" {
			t.Errorf("pause container = %+v, %v", pause, ok)
		}
		if pause.Limits == nil || pause.Limits.CPU != 0 || pause.Limits.Memory != 0 {
			t.Errorf("pause Limits = %+v, want present and zero", pause.Limits)
		}
		curl, _ := task.Container("curl")
		if got := curl.LogOptions["awslogs-stream"]; got != "ecs/curl/158d1c8083dd49d6b527399fd6414f5c" {
			t.Errorf("curl awslogs-stream = %q", got)
		}
		if want := time.Date(2020, 10, 2, 0, 43, 6, 202617438, time.UTC); !task.PullStartedAt.Equal(want) {
			t.Errorf("PullStartedAt = %v, want %v", task.PullStartedAt, want)
		}
		if task.Limits != nil {
			t.Errorf("Limits = %+v, want nil (absent in the EC2 example)", task.Limits)
		}
	case strings.HasSuffix(base, "task-fargate.json"):
		task := decodeTask(t, data)
		checkTask(t, task, taskWant{
			cluster: "arn:aws:ecs:us-west-2:111122223333:cluster/default", arn: "arn:aws:ecs:us-west-2:111122223333:task/default/e9028f8d5d8e4f258373e7b93ce9a3c3",
			family: "curltest", revision: "3", az: "us-west-2a", launch: "FARGATE", containers: 1,
		})
		if task.Limits == nil || task.Limits.CPU != 0.25 || task.Limits.Memory != 512 {
			t.Errorf("Limits = %+v, want CPU 0.25 Memory 512", task.Limits)
		}
		c := task.Containers[0]
		if c.DockerID != "e9028f8d5d8e4f258373e7b93ce9a3c3-2495160603" || c.DockerName != c.Name {
			t.Errorf("Fargate container ids: DockerId %q DockerName %q Name %q", c.DockerID, c.DockerName, c.Name)
		}
		n := c.Networks[0]
		if len(n.IPv6Addresses) != 1 || n.IPv6SubnetCIDRBlock != "2600:1f13:10b:1a00::/64" || n.DomainNameServers[0] != "192.0.2.2" {
			t.Errorf("network = %+v", n)
		}
		if c.ClockDrift == nil || c.ClockDrift.ClockSynchronizationStatus != "SYNCHRONIZED" || c.ClockDrift.ClockErrorBound < 0.5458 || c.ClockDrift.ClockErrorBound > 0.5459 {
			t.Errorf("ClockDrift = %+v", c.ClockDrift)
		}
	case strings.HasSuffix(base, "container-ec2.json"):
		c := decodeContainer(t, data)
		checkContainer(t, c, "ea32192c8553fbff06c9340478a2ff089b2bb5646fb718b4ee206641c9086d66",
			"arn:aws:ecs:us-west-2:111122223333:task/default/8f03e41243824aea923aca126495f665", "10.0.2.100")
		if c.DockerName != "ecs-curltest-24-curl-cca48e8dcadd97805600" || c.Networks[0].SubnetGatewayIPv4Address != "10.0.2.1/24" {
			t.Errorf("container = %+v", c)
		}
	case strings.HasSuffix(base, "container-fargate.json"):
		c := decodeContainer(t, data)
		checkContainer(t, c, "cd189a933e5849daa93386466019ab50-2495160603",
			"arn:aws:ecs:us-west-2:111122223333:task/default/cd189a933e5849daa93386466019ab50", "192.0.2.3")
		if got := c.Networks[0].DomainNameSearchList; len(got) != 1 || got[0] != "us-west-2.compute.internal" {
			t.Errorf("DomainNameSearchList = %v", got)
		}
	default:
		// A file added to the corpus later: it must at least decode as one
		// of the two objects, with its identity fields set.
		var probe map[string]json.RawMessage
		if err := json.Unmarshal(data, &probe); err != nil {
			t.Fatalf("not a JSON object: %v", err)
		}
		if _, ok := probe["TaskARN"]; ok {
			task := decodeTask(t, data)
			if _, err := ecsmeta.ParseTaskARN(task.TaskARN); err != nil {
				t.Error(err)
			}
		} else {
			c := decodeContainer(t, data)
			if c.DockerID == "" || c.Name == "" {
				t.Errorf("container without DockerId/Name: %+v", c)
			}
		}
	}
}

type taskWant struct {
	cluster, arn, family, revision, az, launch string
	containers                                 int
}

func decodeTask(t *testing.T, data []byte) *ecsmeta.Task {
	t.Helper()
	var task ecsmeta.Task
	if err := json.Unmarshal(data, &task); err != nil {
		t.Fatalf("decode task: %v", err)
	}
	return &task
}

func decodeContainer(t *testing.T, data []byte) *ecsmeta.Container {
	t.Helper()
	var c ecsmeta.Container
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatalf("decode container: %v", err)
	}
	return &c
}

func checkTask(t *testing.T, task *ecsmeta.Task, w taskWant) {
	t.Helper()
	if task.Cluster != w.cluster || task.TaskARN != w.arn || task.Family != w.family || task.Revision != w.revision ||
		task.AvailabilityZone != w.az || task.LaunchType != w.launch || task.KnownStatus != "RUNNING" || task.DesiredStatus != "RUNNING" {
		t.Errorf("task = {Cluster %q TaskARN %q Family %q Revision %q AZ %q LaunchType %q Known %q Desired %q}, want %+v",
			task.Cluster, task.TaskARN, task.Family, task.Revision, task.AvailabilityZone, task.LaunchType, task.KnownStatus, task.DesiredStatus, w)
	}
	if len(task.Containers) != w.containers {
		t.Fatalf("%d containers, want %d", len(task.Containers), w.containers)
	}
	// Both examples satisfy the FIS sidecar's checks.
	if err := ecsmeta.CheckSidecarAvailabilityZone(task.AvailabilityZone); err != nil {
		t.Error(err)
	}
	if err := ecsmeta.CheckSidecarTaskARN(task.TaskARN); err != nil {
		t.Error(err)
	}
	region, err := ecsmeta.RegionFromAvailabilityZone(task.AvailabilityZone)
	if err != nil || region != "us-west-2" {
		t.Errorf("RegionFromAvailabilityZone(%q) = %q, %v", task.AvailabilityZone, region, err)
	}
	arn, err := ecsmeta.ParseTaskARN(task.TaskARN)
	if err != nil || arn.Region != region || arn.AccountID != "111122223333" || arn.Cluster != "default" {
		t.Errorf("ParseTaskARN = %+v, %v", arn, err)
	}
	for _, c := range task.Containers {
		if c.Labels["com.amazonaws.ecs.task-arn"] != task.TaskARN {
			t.Errorf("container %s task-arn label %q", c.Name, c.Labels["com.amazonaws.ecs.task-arn"])
		}
		if c.CreatedAt.IsZero() || c.StartedAt.Before(c.CreatedAt) {
			t.Errorf("container %s times: created %v started %v", c.Name, c.CreatedAt, c.StartedAt)
		}
	}
}

func checkContainer(t *testing.T, c *ecsmeta.Container, dockerID, taskARN, ipv4 string) {
	t.Helper()
	if c.DockerID != dockerID || c.Name != "curl" || c.Type != "NORMAL" || c.KnownStatus != "RUNNING" {
		t.Errorf("container identity = {%q %q %q %q}", c.DockerID, c.Name, c.Type, c.KnownStatus)
	}
	if c.Labels["com.amazonaws.ecs.task-arn"] != taskARN || c.Labels["com.amazonaws.ecs.container-name"] != "curl" {
		t.Errorf("labels = %v", c.Labels)
	}
	if c.Limits == nil || c.Limits.CPU != 10 || c.Limits.Memory != 128 {
		t.Errorf("Limits = %+v", c.Limits)
	}
	if c.LogDriver != "awslogs" || c.LogOptions["awslogs-region"] != "us-west-2" {
		t.Errorf("log = %q %v", c.LogDriver, c.LogOptions)
	}
	if !strings.HasPrefix(c.ContainerARN, "arn:aws:ecs:us-west-2:111122223333:container/") {
		t.Errorf("ContainerARN = %q", c.ContainerARN)
	}
	if len(c.Networks) != 1 {
		t.Fatalf("%d networks", len(c.Networks))
	}
	n := c.Networks[0]
	if n.NetworkMode != "awsvpc" || len(n.IPv4Addresses) != 1 || n.IPv4Addresses[0] != ipv4 ||
		n.AttachmentIndex == nil || *n.AttachmentIndex != 0 || n.MACAddress == "" || n.PrivateDNSName == "" {
		t.Errorf("network = %+v", n)
	}
	if c.ExitCode != nil {
		t.Errorf("ExitCode = %d, want nil for a running container", *c.ExitCode)
	}
}
