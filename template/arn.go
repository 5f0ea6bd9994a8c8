package template

import (
	"fmt"
	"regexp"
	"strings"
)

// arn is a parsed Amazon Resource Name.
type arn struct {
	Partition, Service, Region, Account, Resource string
}

var (
	partitionRE = regexp.MustCompile(`^aws(-[a-z]+)*$`)
	regionRE    = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	accountRE   = regexp.MustCompile(`^[0-9]{12}$`)
	// placeholderRE finds the placeholders real templates carry:
	// <YOUR AWS ACCOUNT>, ${Var}, {{ aws:region }}.
	placeholderRE = regexp.MustCompile(`<[A-Za-z][A-Za-z0-9 _.:\-]*>|\$\{[^}]*\}|\{\{[^}]*\}\}`)
)

// arnRule says what an ARN in a given field must look like.
type arnRule struct {
	what      string   // "IAM role", "CloudWatch alarm", ...
	service   string   // "" = any service
	resource  []string // accepted resource prefixes; nil = any
	noRegion  bool     // global services (IAM, S3) have an empty region
	noAccount bool     // S3 bucket ARNs have an empty account
	optAcct   bool     // account may be empty (AWS-owned SSM documents)
}

func ruleRole() arnRule {
	return arnRule{what: "IAM role", service: "iam", resource: []string{"role/"}, noRegion: true}
}

func ruleAlarm() arnRule {
	return arnRule{what: "CloudWatch alarm", service: "cloudwatch", resource: []string{"alarm:"}}
}

func ruleLogGroup() arnRule {
	return arnRule{what: "CloudWatch Logs log group", service: "logs", resource: []string{"log-group:"}}
}

func ruleDocument() arnRule {
	return arnRule{what: "SSM document", service: "ssm", resource: []string{"document/", "automation-definition/"}, optAcct: true}
}

// arnRuleFor returns the ARN shape of a target's resourceArns. The shapes
// are AWS's documented ARN formats for each resource type.
func arnRuleFor(resourceType string) (arnRule, bool) {
	r := func(service string, prefixes ...string) (arnRule, bool) {
		return arnRule{what: resourceType, service: service, resource: prefixes}, true
	}
	switch resourceType {
	case "aws:directconnect:virtual-interface":
		return r("directconnect", "dxvif/")
	case "aws:dsql:cluster":
		return r("dsql", "cluster/")
	case "aws:dynamodb:global-table":
		return r("dynamodb", "table/")
	case "aws:ec2:autoscaling-group":
		return r("autoscaling", "autoScalingGroup:")
	case "aws:ec2:ebs-volume":
		return r("ec2", "volume/")
	case "aws:ec2:instance", "aws:ec2:spot-instance":
		return r("ec2", "instance/")
	case "aws:ec2:subnet":
		return r("ec2", "subnet/")
	case "aws:ec2:transit-gateway":
		return r("ec2", "transit-gateway/")
	case "aws:ec2:vpc-endpoint":
		return r("ec2", "vpc-endpoint/")
	case "aws:ecs:cluster":
		return r("ecs", "cluster/")
	case "aws:ecs:task":
		return r("ecs", "task/")
	case "aws:eks:cluster":
		return r("eks", "cluster/")
	case "aws:eks:nodegroup":
		return r("eks", "nodegroup/")
	case "aws:elasticache:replicationgroup":
		return r("elasticache", "replicationgroup:")
	case "aws:iam:role":
		return ruleRole(), true
	case "aws:kinesis:stream":
		return r("kinesis", "stream/")
	case "aws:lambda:function":
		return r("lambda", "function:")
	case "aws:memorydb:multi-region-cluster":
		return r("memorydb", "multiregioncluster/")
	case "aws:rds:cluster":
		return r("rds", "cluster:")
	case "aws:rds:db":
		return r("rds", "db:")
	case "aws:s3:bucket":
		return arnRule{what: resourceType, service: "s3", noRegion: true, noAccount: true}, true
	}
	return arnRule{}, false
}

// checkARN returns the problem code and message for s, or "" when s is an
// ARN that follows rule.
func checkARN(field, s string, rule arnRule) (code, msg string) {
	if ph := placeholderRE.FindString(s); ph != "" {
		return CodePlaceholder, fmt.Sprintf("%s %q contains the unfilled placeholder %s", field, s, ph)
	}
	bad := func(why string) (string, string) {
		return CodeARN, fmt.Sprintf("%s %q is not a valid %s ARN: %s", field, s, rule.what, why)
	}
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return bad("want arn:partition:service:region:account:resource")
	}
	a := arn{Partition: parts[1], Service: parts[2], Region: parts[3], Account: parts[4], Resource: parts[5]}
	switch {
	case !partitionRE.MatchString(a.Partition):
		return bad(fmt.Sprintf("partition %q is not aws, aws-cn, aws-us-gov, ...", a.Partition))
	case rule.service != "" && a.Service != rule.service:
		return bad(fmt.Sprintf("service is %q, want %q", a.Service, rule.service))
	case rule.noRegion && a.Region != "":
		return bad(fmt.Sprintf("region must be empty, got %q", a.Region))
	case !rule.noRegion && !regionRE.MatchString(a.Region):
		return bad(fmt.Sprintf("region %q is not a Region code such as us-east-1", a.Region))
	case rule.noAccount && a.Account != "":
		return bad(fmt.Sprintf("account must be empty, got %q", a.Account))
	case !rule.noAccount && !(rule.optAcct && a.Account == "") && !accountRE.MatchString(a.Account):
		return bad(fmt.Sprintf("account %q is not a 12-digit account ID", a.Account))
	case a.Resource == "" || strings.ContainsAny(a.Resource, " \t\r\n"):
		return bad("the resource part is empty or contains white space")
	}
	if rule.resource != nil {
		ok := false
		for _, p := range rule.resource {
			if strings.HasPrefix(a.Resource, p) && len(a.Resource) > len(p) {
				ok = true
			}
		}
		if !ok {
			return bad(fmt.Sprintf("resource %q does not start with %s", a.Resource, strings.Join(rule.resource, " or ")))
		}
	}
	return "", ""
}
