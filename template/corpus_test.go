package template

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The corpus is 42 real templates from aws-samples/fis-template-library
// (testdata/corpus/README.md). Each verdict below was written by hand from
// FIS's rules (fis-ecs.md §2, the API model's lengths and patterns, the
// AWS CLI's parameter validation), not generated from this package's
// output. A verdict is the set of errors, each "code path"; warnings are
// not part of it.
//
// Most templates ship with <YOUR AWS ACCOUNT>-style placeholders that FIS
// itself would reject inside ARNs, so every file is checked twice: as
// written, and with its <...> and {{ ... }} placeholders filled with
// plausible values (fillAngles), which shows whether anything else is wrong.

const corpusPrefix = "aws-samples__fis-template-library__"

// Shorthands for the verdicts.
const role = "placeholder roleArn"

func doc(action string) string { return "placeholder actions." + action + ".parameters.documentArn" }

var corpusVerdicts = []struct {
	file   string   // without corpusPrefix
	asIs   []string // errors as written
	filled []string // errors once <...> placeholders are filled
	why    string
}{
	{"StopExperiment.json", []string{"syntax "}, []string{"syntax "},
		`trailing comma after "duration": "PT2M" (line 37) is not JSON`},
	{"agentcore-strands-agent-faults__agentcore-strands-agent-faults-template.json",
		[]string{role, doc("Agent-Chaos-Injection")}, nil,
		"<YOUR AWS ACCOUNT>/<YOUR REGION> in the role and SSM document ARNs; no targets needed for start-automation-execution"},
	{"aurora-cluster-failover__aurora-cluster-failover-template.json", []string{role}, nil,
		"only the role ARN placeholder; tags-based aws:rds:cluster target with empty parameters is fine"},
	{"aurora-cluster-failover__fis-experiment-aurora-loadtest-concurrent.json",
		[]string{"length roleArn", "required targets.cluster", "required targets.EC2Instance",
			"placeholder actions.RunLoadTest.parameters.documentArn",
			"length logConfiguration.cloudWatchLogsConfiguration.logGroupArn"},
		[]string{"length roleArn", "required targets.cluster", "required targets.EC2Instance",
			"placeholder actions.RunLoadTest.parameters.documentArn",
			"length logConfiguration.cloudWatchLogsConfiguration.logGroupArn"},
		`roleArn "" (min 20), targets with resourceArns [] and no tags select nothing, ${SSMDocumentArn} unresolved, logGroupArn ""`},
	{"aurora-global-region-failover__aurora-global-region-failover-experiment-template.json",
		[]string{role, doc("aurora-global-failover")}, nil, "<ACCOUNT>/<REGION> in ARNs"},
	{"aurora-postgres-cluster-loadtest-failover__aurora-postgres-cluster-loadtest-failover-template.json",
		[]string{role, doc("RunLoadTest"), "placeholder logConfiguration.cloudWatchLogsConfiguration.logGroupArn"}, nil,
		"placeholders in role, document and log group ARNs"},
	{"cloudfront-impairment__cloudfront-impairment-tag-based-experiment-template.json",
		[]string{role, doc("impairCloudFront")}, nil, "placeholders in ARNs; empty action targets {} is fine"},
	{"database-blocking-locks__database-blocking-locks-template.json",
		[]string{role, doc("InjectBlockingLocks")}, nil, "placeholders in ARNs"},
	{"database-connection-limit-exhaustion__database-connection-limit-exhaustion-experiment-template.json",
		[]string{role, doc("ExhaustConnectionLimit")}, nil, "placeholders in ARNs"},
	{"database-connection-pool-exhaustion__database-connection-pool-exhaustion-experiment-template.json",
		[]string{role, doc("ExhaustConnectionPool")}, nil, "placeholders in ARNs"},
	{"direct-connect-resiliency__direct-connect-resiliency-template.json", []string{role}, nil,
		"role placeholder; duration PT10M is exactly the action's minimum"},
	{"dynamodb-region-impairment__dynamodb-region-impairment-experiment-template.json",
		[]string{role, doc("blockDynamoDBAccess")}, nil, "placeholders in ARNs"},
	{"dynamodb-traffic-blackhole-region-impairment__dynamodb-traffic-blackhole-region-impairment-template.json",
		[]string{role}, nil, "role placeholder; scope dynamodb is a valid disrupt-connectivity scope"},
	{"ec2-instances-terminate__ec2-instances-terminate-template.json", []string{role}, nil,
		"role placeholder; PERCENT(25) is valid"},
	{"ec2-spot-interruption__ec2-spot-interruption-template.json", []string{role}, nil,
		"role placeholder; durationBeforeInterruption PT2M is the minimum"},
	{"ec2-spot-interruption__fis-spot-interruption.json", []string{role}, nil, "role placeholder"},
	{"ec2-windows-stop-iis__ec2-windows-stop-iis-template.json", []string{role, doc("StopIIS")}, nil,
		"placeholders in ARNs"},
	{"ecs-fargate-az-impairment__ecs-fargate-az-impairment-experiment-template.json",
		[]string{role, doc("remove-subnet-from-service"), doc("restore-subnet-to-service")}, nil,
		"placeholders in ARNs; the aws:ecs:task-network-packet-loss parameters are valid for fault's spec"},
	{"ecs-fargate-az-impairment__ecs-fargate-az-impairment-template.json",
		[]string{role, doc("impair-subnet-in-az")}, nil, "placeholders in ARNs"},
	{"elasticache-az-power-interruption__elasticache-az-power-interruption-experiment-template.json",
		[]string{role, "placeholder targets.elasticache-replication-groups.parameters.availabilityZoneIdentifier"}, nil,
		"FIS's target-parameter pattern allows no < >; filled, the AZ is fine"},
	{"elasticache-primary-node-reboot__elasticache-primary-node-reboot-experiment-template.json",
		[]string{role, doc("rebootPrimaryNode")}, nil, "placeholders in ARNs"},
	{"elasticache-redis-connection-failure__redis-connection-failure-experiment-template.json",
		[]string{role, doc("disableRedisConnections")}, nil, "placeholders in ARNs"},
	{"elasticache-redis-memory-stress__redis-memory-stress-experiment-template.json",
		[]string{role, doc("applyMemoryStress")}, nil, "placeholders in ARNs"},
	{"elasticache-redis-primary-node-failover__elasticache-redis-primary-node-failover-experiment-template.json",
		[]string{role, doc("triggerPrimaryFailover")}, nil, "<YOUR-ACCOUNT-ID> and {{ aws:region }} in ARNs"},
	{"elasticache-redis-primary-node-reboot__elasticache-redis-primary-node-reboot-experiment-template.json",
		[]string{role, doc("triggerPrimaryNodeReboot")}, nil, "<YOUR-ACCOUNT-ID> in ARNs"},
	{"elasticache-replication-group-failover__elasticache-replication-group-failover-experiment-template.json",
		[]string{role, doc("triggerReplicationGroupFailover")}, nil, "placeholders in ARNs"},
	{"failover-aurora-cluster__failover-aurora-cluster-experiment.json", []string{role}, nil, "role placeholder"},
	{"msk-az-impairment__msk-az-impairment-experiment-template.json",
		[]string{role, "placeholder targets.msk-broker-subnet-in-target-az.resourceArns[0]"}, nil,
		"placeholders in the role and subnet ARNs"},
	{"msk-broker-reboot__msk-broker-reboot-experiment-template.json", []string{role, doc("rebootMSKBroker")}, nil,
		"placeholders in ARNs"},
	{"mysql-postgres-rds-loadtest-failover__fis-experiment.json",
		[]string{"type targets.Instances"}, []string{"type targets.Instances"},
		"the target is a JSON array, not an object; everything else is valid"},
	{"mysql-rds-loadtest-failover__fis-experiment-template.json",
		[]string{"placeholder roleArn", "placeholder targets.EC2Instance.resourceArns[0]",
			"placeholder targets.DBInstances.resourceArns[0]", "placeholder actions.RunLoadTest.parameters.documentArn",
			"placeholder actions.StopLoadTest.parameters.documentArn", "unknown-field actions.StopLoadTest.startAfterDelay",
			"placeholder logConfiguration.cloudWatchLogsConfiguration.logGroupArn"},
		[]string{"placeholder roleArn", "placeholder targets.EC2Instance.resourceArns[0]",
			"placeholder targets.DBInstances.resourceArns[0]", "placeholder actions.RunLoadTest.parameters.documentArn",
			"placeholder actions.StopLoadTest.parameters.documentArn", "unknown-field actions.StopLoadTest.startAfterDelay",
			"placeholder logConfiguration.cloudWatchLogsConfiguration.logGroupArn"},
		"CloudFormation ${...} placeholders in every ARN, and startAfterDelay is not a FIS action field"},
	{"mysql-rds-loadtest-failover__mysql-rds-loadtest-failover-template.json",
		[]string{role, doc("RunLoadTest"), doc("StopLoadTest"), "unknown-field actions.StopLoadTest.startAfterDelay",
			"placeholder logConfiguration.cloudWatchLogsConfiguration.logGroupArn"},
		[]string{"unknown-field actions.StopLoadTest.startAfterDelay"},
		"startAfterDelay is not a field of a FIS action; the AWS-owned document ARN with an empty account is fine"},
	{"postgres-rds-loadtest-failover__fis-experiment-template.json",
		[]string{"placeholder roleArn", "placeholder targets.EC2Instance.resourceArns[0]",
			"placeholder actions.RunLoadTest.parameters.documentArn",
			"placeholder logConfiguration.cloudWatchLogsConfiguration.logGroupArn"},
		[]string{"placeholder roleArn", "placeholder targets.EC2Instance.resourceArns[0]",
			"placeholder actions.RunLoadTest.parameters.documentArn",
			"placeholder logConfiguration.cloudWatchLogsConfiguration.logGroupArn"},
		"${FISRoleArn}, ${EC2InstanceArn}, ${SSMDocumentArn}, ${LogGroupArn} unresolved"},
	{"postgres-rds-loadtest-failover__fis-experiment.json",
		[]string{"placeholder roleArn", "placeholder targets.EC2Instance.resourceArns[0]",
			"placeholder actions.RunLoadTest.parameters.documentArn"},
		[]string{"placeholder roleArn", "placeholder targets.EC2Instance.resourceArns[0]",
			"placeholder actions.RunLoadTest.parameters.documentArn"},
		"${FISRoleArn}, ${EC2InstanceArn}, ${SSMDocumentArn} unresolved"},
	{"sap-ebs-pause-database-data__sap-ebs-pause-database-data-template.json", []string{role}, nil,
		"role placeholder; availabilityZoneIdentifier is a target parameter of aws:ec2:ebs-volume"},
	{"sap-ec2-instance-stop-ascs__sap-ec2-instance-stop-sap-ascs-template.json", []string{role}, nil,
		"role placeholder; startInstancesAfterDuration PT5M is within PT1M-PT12H"},
	{"sap-ec2-instance-stop-database__sap-ec2-instance-stop-sap-database-template.json", []string{role}, nil,
		"role placeholder"},
	{"sap-hdb-kill__sap-hdb-kill-template.json", []string{role, doc("KillHANAProcess")}, nil, "placeholders in ARNs"},
	{"sqs-queue-impairment__queue-name-based__sqs-queue-impairment-template.json",
		[]string{role, doc("impairSqs2m"), doc("impairSqs5m"), doc("impairSqs7m"), doc("impairSqs15m"),
			"placeholder logConfiguration.cloudWatchLogsConfiguration.logGroupArn"}, nil,
		"placeholders in ARNs; the log group ARN with a :* suffix is fine"},
	{"sqs-queue-impairment__sqs-queue-impairment-tag-based-experiment-template.json",
		[]string{role, doc("impairSqs2m"), doc("impairSqs5m"), doc("impairSqs7m"), doc("impairSqs15m")}, nil,
		"placeholders in ARNs"},
	{"sqs-queue-impairment__sqs-queue-impairment-tag-based-template-with-details.json", nil, nil,
		"real account, Region and names: valid as written"},
	{"sqs-queue-impairment__sqs-queue-impairment-tag-based-template.json",
		[]string{role, doc("impairSqs2m"), doc("impairSqs5m"), doc("impairSqs7m"), doc("impairSqs15m")}, nil,
		"placeholders in ARNs"},
}

var angleRE = regexp.MustCompile(`<[A-Za-z][A-Za-z0-9 _.:\-]*>|\{\{[^}]*\}\}`)

// fillAngles replaces <...> and {{ ... }} placeholders with values of the
// right shape: an account ID, a Region, or a plain name. ${...} is left
// alone (see TestCorpusVariables).
func fillAngles(data []byte) []byte {
	return angleRE.ReplaceAllFunc(data, func(m []byte) []byte {
		s := strings.ToLower(string(m))
		switch {
		case strings.Contains(s, "account"):
			return []byte("123456789012")
		case strings.Contains(s, "region"):
			return []byte("us-east-1")
		}
		return []byte("placeholder-value")
	})
}

func errorKeys(ps Problems) []string {
	var keys []string
	for _, p := range ps.Errors() {
		keys = append(keys, p.Code+" "+p.Path)
	}
	slices.Sort(keys)
	return keys
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

func TestCorpus(t *testing.T) {
	files, err := filepath.Glob("testdata/corpus/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(corpusVerdicts) {
		t.Errorf("%d corpus files, %d verdicts: every file needs a hand-written verdict", len(files), len(corpusVerdicts))
	}
	for _, tc := range corpusVerdicts {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata/corpus", corpusPrefix+tc.file))
			if err != nil {
				t.Fatal(err)
			}
			_, ps := Check(data)
			if got, want := errorKeys(ps), sortedCopy(tc.asIs); !slices.Equal(got, want) {
				t.Errorf("as written (%s):\n got  %q\n want %q\n%v", tc.why, got, want, ps)
			}
			_, ps = Check(fillAngles(data))
			if got, want := errorKeys(ps), sortedCopy(tc.filled); !slices.Equal(got, want) {
				t.Errorf("placeholders filled (%s):\n got  %q\n want %q\n%v", tc.why, got, want, ps)
			}
		})
	}
}

func TestCorpusSyntaxPosition(t *testing.T) {
	data, err := os.ReadFile("testdata/corpus/" + corpusPrefix + "StopExperiment.json")
	if err != nil {
		t.Fatal(err)
	}
	_, ps := Check(data, WithFilename("StopExperiment.json"))
	if len(ps) != 1 {
		t.Fatalf("got %d problems, want 1: %v", len(ps), ps)
	}
	// Line 37 is `            },` after `"duration": "PT2M",`; the } is in column 13.
	if p := ps[0]; p.Line != 37 || p.Col != 13 || p.Location() != "StopExperiment.json:37:13" {
		t.Errorf("syntax error at %s (line %d col %d), want StopExperiment.json:37:13", p.Location(), p.Line, p.Col)
	}
}

// TestCorpusVariables substitutes the ${...} placeholders of the
// CloudFormation-style templates.
func TestCorpusVariables(t *testing.T) {
	vars := map[string]string{
		"FISRoleArn":           "arn:aws:iam::123456789012:role/fis",
		"FISExperimentRoleArn": "arn:aws:iam::123456789012:role/fis",
		"EC2InstanceArn":       "arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0",
		"RDSInstanceArn":       "arn:aws:rds:us-east-1:123456789012:db:orders",
		"SSMDocumentArn":       "arn:aws:ssm:us-east-1:123456789012:document/LoadTest",
		"LogGroupArn":          "arn:aws:logs:us-east-1:123456789012:log-group:fis",
		"AWS::Region":          "us-east-1",
		"AWS::AccountId":       "123456789012",
	}
	tests := []struct {
		file string
		want []string
		why  string
	}{
		{"postgres-rds-loadtest-failover__fis-experiment.json", nil, "every placeholder has a value"},
		{"postgres-rds-loadtest-failover__fis-experiment-template.json", nil, "every placeholder has a value"},
		{"mysql-rds-loadtest-failover__fis-experiment-template.json",
			[]string{"unknown-field actions.StopLoadTest.startAfterDelay",
				// documentParameters carries ${RDSEndpoint}, ${DBName}, ${DBUsername},
				// ${DBPassword}, ${RDSInstanceId}, which are not given.
				"unresolved actions.RunLoadTest.parameters.documentParameters",
				"unresolved actions.RunLoadTest.parameters.documentParameters",
				"unresolved actions.RunLoadTest.parameters.documentParameters",
				"unresolved actions.RunLoadTest.parameters.documentParameters",
				"unresolved actions.RunLoadTest.parameters.documentParameters"},
			"five variables missing, and startAfterDelay"},
		{"aurora-cluster-failover__fis-experiment-aurora-loadtest-concurrent.json",
			[]string{"length roleArn", "required targets.cluster", "required targets.EC2Instance",
				"length logConfiguration.cloudWatchLogsConfiguration.logGroupArn"},
			"the document ARN resolves; the empty role and log group ARNs and empty targets remain"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata/corpus", corpusPrefix+tc.file))
			if err != nil {
				t.Fatal(err)
			}
			_, ps := Check(data, WithVars(vars))
			if got, want := errorKeys(ps), sortedCopy(tc.want); !slices.Equal(got, want) {
				t.Errorf("%s:\n got  %q\n want %q\n%v", tc.why, got, want, ps)
			}
		})
	}
}
