package template

import "cmp"

// Template is a FIS experiment template: the input of FIS's
// CreateExperimentTemplate, field for field, with FIS's JSON names.
// Parse fills it from JSON; a Template built in code works the same way,
// only its problems carry no line and column.
type Template struct {
	// ClientToken is the idempotency token of CreateExperimentTemplate.
	// SDKs fill it in; templates rarely carry it.
	ClientToken string `json:"clientToken,omitempty"`
	// Description is required, at most 512 characters.
	Description string `json:"description"`
	// Targets maps a target name to the resources it selects.
	Targets map[string]Target `json:"targets,omitempty"`
	// Actions maps an action name to the action; at most 20.
	Actions map[string]Action `json:"actions"`
	// StopConditions stop the experiment when they fire; at most 5.
	StopConditions []StopCondition `json:"stopConditions"`
	// RoleArn is the IAM role FIS assumes.
	RoleArn string `json:"roleArn"`
	// Tags of the template; at most 50.
	Tags map[string]string `json:"tags,omitempty"`
	// LogConfiguration sends the experiment log to CloudWatch Logs or S3.
	LogConfiguration *LogConfiguration `json:"logConfiguration,omitempty"`
	// ExperimentOptions sets account targeting and empty-target handling.
	ExperimentOptions *ExperimentOptions `json:"experimentOptions,omitempty"`
	// ExperimentReportConfiguration asks FIS for an experiment report.
	ExperimentReportConfiguration *ExperimentReportConfiguration `json:"experimentReportConfiguration,omitempty"`

	// src holds the positions of the JSON the template was parsed from.
	src *source
}

// Target selects resources of one type, by ARN or by tags and filters.
type Target struct {
	ResourceType  string            `json:"resourceType"`
	ResourceArns  []string          `json:"resourceArns,omitempty"`
	ResourceTags  map[string]string `json:"resourceTags,omitempty"`
	Filters       []Filter          `json:"filters,omitempty"`
	Parameters    map[string]string `json:"parameters,omitempty"`
	SelectionMode string            `json:"selectionMode"`
}

// Filter narrows a target by a path into the resource's Describe output
// (PascalCase, "." for nesting); any of Values matches.
type Filter struct {
	Path   string   `json:"path"`
	Values []string `json:"values"`
}

// Action is one step of the experiment.
type Action struct {
	ActionID    string            `json:"actionId"`
	Description string            `json:"description,omitempty"`
	Parameters  map[string]string `json:"parameters,omitempty"`
	// Targets maps the action's target key (e.g. "Tasks") to a target name.
	Targets map[string]string `json:"targets,omitempty"`
	// StartAfter names the actions that must complete before this one.
	StartAfter []string `json:"startAfter,omitempty"`
}

// StopCondition is {"source": "none"} or a CloudWatch alarm.
type StopCondition struct {
	Source string `json:"source"`
	Value  string `json:"value,omitempty"`
}

// Stop condition sources.
const (
	StopSourceNone  = "none"
	StopSourceAlarm = "aws:cloudwatch:alarm"
)

// LogConfiguration is where FIS writes the experiment log.
type LogConfiguration struct {
	CloudWatchLogsConfiguration *CloudWatchLogsConfiguration `json:"cloudWatchLogsConfiguration,omitempty"`
	S3Configuration             *S3LogConfiguration          `json:"s3Configuration,omitempty"`
	LogSchemaVersion            *int64                       `json:"logSchemaVersion"`
}

// CloudWatchLogsConfiguration names the log group of the experiment log.
type CloudWatchLogsConfiguration struct {
	LogGroupArn string `json:"logGroupArn"`
}

// S3LogConfiguration names the bucket of the experiment log.
type S3LogConfiguration struct {
	BucketName string `json:"bucketName"`
	Prefix     string `json:"prefix,omitempty"`
}

// ExperimentOptions are the template's experiment options.
type ExperimentOptions struct {
	// AccountTargeting is "single-account" (default) or "multi-account".
	AccountTargeting string `json:"accountTargeting,omitempty"`
	// EmptyTargetResolutionMode is "fail" (default) or "skip".
	EmptyTargetResolutionMode string `json:"emptyTargetResolutionMode,omitempty"`
}

// Values of ExperimentOptions.
const (
	AccountTargetingSingle = "single-account" // the default
	AccountTargetingMulti  = "multi-account"
	EmptyTargetFail        = "fail" // the default: a target that selects nothing fails the experiment
	EmptyTargetSkip        = "skip" // the actions of a target that selects nothing are skipped
)

// Effective returns the options with FIS's defaults filled in: a nil o
// or an empty field means single-account and fail.
func (o *ExperimentOptions) Effective() ExperimentOptions {
	var eo ExperimentOptions
	if o != nil {
		eo = *o
	}
	eo.AccountTargeting = cmp.Or(eo.AccountTargeting, AccountTargetingSingle)
	eo.EmptyTargetResolutionMode = cmp.Or(eo.EmptyTargetResolutionMode, EmptyTargetFail)
	return eo
}

// ExperimentReportConfiguration asks FIS to write a report of the run.
type ExperimentReportConfiguration struct {
	Outputs                *ReportOutputs     `json:"outputs,omitempty"`
	DataSources            *ReportDataSources `json:"dataSources,omitempty"`
	PreExperimentDuration  string             `json:"preExperimentDuration,omitempty"`
	PostExperimentDuration string             `json:"postExperimentDuration,omitempty"`
}

// ReportOutputs is where the report goes.
type ReportOutputs struct {
	S3Configuration *ReportS3Configuration `json:"s3Configuration,omitempty"`
}

// ReportS3Configuration is the report's bucket and prefix.
type ReportS3Configuration struct {
	BucketName string `json:"bucketName"`
	Prefix     string `json:"prefix,omitempty"`
}

// ReportDataSources lists the dashboards the report includes.
type ReportDataSources struct {
	CloudWatchDashboards []ReportDashboard `json:"cloudWatchDashboards,omitempty"`
}

// ReportDashboard is one CloudWatch dashboard of the report.
type ReportDashboard struct {
	DashboardIdentifier string `json:"dashboardIdentifier"`
}
