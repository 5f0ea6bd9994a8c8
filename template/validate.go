package template

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/faultkit/faultkit/fault"
)

// Limits of CreateExperimentTemplate: field lengths from FIS's API model,
// counts from FIS's service quotas.
const (
	MaxDescriptionLen   = 512
	MaxNameLen          = 64 // target, action, parameter names and startAfter items
	MaxActionIDLen      = 128
	MaxActions          = 20
	MaxStopConditions   = 5
	MaxTags             = 50
	MaxTagKeyLen        = 128
	MaxTagValueLen      = 256
	MaxResourceArns     = 5
	MaxParamValueLen    = 1024
	MaxFilterPathLen    = 256
	MaxFilterValueLen   = 128
	MinArnLen           = 20
	MaxArnLen           = 2048
	MaxParallelActions  = 10
	MaxExperimentLength = 12 * time.Hour
)

// targetParamRE is FIS's pattern for target parameter values (no commas).
var targetParamRE = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$`)

// ECS task network actions FIS forbids running in parallel.
var ecsNetworkActions = []string{fault.ActionTaskNetworkBlackholePort, fault.ActionTaskNetworkLatency,
	fault.ActionTaskNetworkPacketLoss}

// Validate checks the template against FIS's rules and returns every
// problem found, each with its JSON path (and line and column when the
// template was parsed): the problems Parse found, then required fields,
// lengths and counts, targets, actions, parameters, startAfter and stop
// conditions. Messages use FIS's or the AWS CLI's wording where they have
// one. Parameters of the six aws:ecs:task fault actions are checked by
// fault's specs, exactly as the fault registry checks them.
//
// The template is valid when the result has no errors (Problems.Err() ==
// nil); warnings point at things FIS accepts but that are likely mistakes.
func (t *Template) Validate() Problems {
	v := newValidator(t)
	v.run()
	return v.probs
}

type validator struct {
	t        *Template
	src      *source
	probs    Problems
	specs    map[string]*fault.ActionSpec // by action name, for known action IDs
	byID     map[string]*fault.ActionSpec // LookupAction results, by action ID
	resolved map[string]fault.Params      // by action name, when parameters are valid
	sched    *schedule
}

func newValidator(t *Template) *validator {
	return &validator{t: t, src: t.src, specs: map[string]*fault.ActionSpec{}, resolved: map[string]fault.Params{}}
}

// lookup memoizes LookupAction for one validation: specs are built per
// call, and templates repeat action IDs.
func (v *validator) lookup(id string) (*fault.ActionSpec, bool) {
	if s, ok := v.byID[id]; ok {
		return s, s != nil
	}
	if v.byID == nil {
		v.byID = make(map[string]*fault.ActionSpec)
	}
	s, ok := LookupAction(id)
	if !ok {
		s = nil
	}
	v.byID[id] = s
	return s, ok
}

func (v *validator) run() {
	if v.src != nil {
		v.probs = append(v.probs, v.src.parseProblems...)
	}
	v.top()
	v.targets()
	v.actions()
	v.stopConditions()
	v.logConfiguration()
	v.experimentOptions()
	v.reportConfiguration()
	v.graph()
	v.probs.sort()
}

func (v *validator) add(sev Severity, code, path, msg string) {
	v.addAt(sev, code, path, msg, false)
}

// addAt records a problem; atKey locates it at the key that names path
// rather than at its value (for problems with the name, not the value).
func (v *validator) addAt(sev Severity, code, path, msg string, atKey bool) {
	p := Problem{Severity: sev, Code: code, Path: path, Message: msg}
	if code == CodePlaceholder && v.src != nil && v.src.unresolved[path] {
		return // the unresolved ${NAME} is already reported here
	}
	if v.src != nil {
		p.File = v.src.file
		if atKey {
			p.Line, p.Col = v.src.keyPosition(path)
		} else {
			p.Line, p.Col = v.src.position(path)
		}
	}
	v.probs = append(v.probs, p)
}

func (v *validator) errorf(code, path, format string, args ...any) {
	v.add(SeverityError, code, path, fmt.Sprintf(format, args...))
}

func (v *validator) warnf(code, path, format string, args ...any) {
	v.add(SeverityWarning, code, path, fmt.Sprintf(format, args...))
}

// present reports whether a field was given: for parsed templates, whether
// the key was in the JSON; for templates built in code, whether it is set.
func (v *validator) present(path string, set bool) bool {
	if v.src == nil {
		return set
	}
	_, ok := v.src.pos[path]
	return ok
}

// badType reports whether Parse already flagged path as having the wrong
// type, so it is not reported again as missing.
func (v *validator) badType(path string) bool {
	return v.src != nil && v.src.bad[path]
}

// required reports a missing field in the AWS CLI's wording.
func (v *validator) required(parent, field string, set bool) bool {
	path := joinPath(parent, field)
	if v.present(path, set) || v.badType(path) {
		return true
	}
	name := parent
	if name == "" {
		name = "input"
	}
	v.errorf(CodeRequired, path, "Missing required parameter in %s: %q", name, field)
	return false
}

// length checks a string's length in characters against [lo, hi]; hi 0
// means no maximum.
func (v *validator) length(path, s string, lo, hi int) bool {
	n := utf8.RuneCountInString(s)
	if n < lo || (hi > 0 && n > hi) {
		rng := fmt.Sprintf("%d-%d", lo, hi)
		if hi == 0 {
			rng = fmt.Sprintf("%d-", lo)
		}
		v.errorf(CodeLength, path, "Invalid length for parameter %s, value: %d, valid range: %s", path, n, rng)
		return false
	}
	return true
}

// name checks a target, action or parameter name: 1-64 characters, at
// least one of them not white space (FIS's [\S]+).
func (v *validator) name(path, kind, s string) {
	if strings.TrimSpace(s) == "" {
		v.errorf(CodeValue, path, "%s name must contain a non-space character", kind)
		return
	}
	if n := utf8.RuneCountInString(s); n > MaxNameLen {
		v.errorf(CodeLength, path, "%s name %q is %d characters long; the maximum is %d", kind, s, n, MaxNameLen)
	}
}

func (v *validator) arnField(path, field, s string, rule arnRule) {
	if placeholderRE.MatchString(s) {
		_, msg := checkARN(field, s, rule)
		v.errorf(CodePlaceholder, path, "%s", msg)
		return
	}
	if !v.length(path, s, MinArnLen, MaxArnLen) {
		return
	}
	if code, msg := checkARN(field, s, rule); code != "" {
		v.errorf(code, path, "%s", msg)
	}
}

func (v *validator) placeholderWarning(path, s string) {
	if ph := placeholderRE.FindString(s); ph != "" {
		v.warnf(CodePlaceholder, path, "value %q contains the unfilled placeholder %s", s, ph)
	}
}

func (v *validator) tags(path string, tags map[string]string, limit int) {
	if len(tags) > limit {
		v.errorf(CodeCount, path, "%d tags given; the maximum is %d", len(tags), limit)
	}
	for _, k := range sortedKeys(tags) {
		p := joinPath(path, k)
		if n := utf8.RuneCountInString(k); n < 1 || n > MaxTagKeyLen {
			v.errorf(CodeLength, p, "tag key %q is %d characters long; allowed 1-%d", k, n, MaxTagKeyLen)
		}
		if n := utf8.RuneCountInString(tags[k]); n > MaxTagValueLen {
			v.errorf(CodeLength, p, "tag value is %d characters long; the maximum is %d", n, MaxTagValueLen)
		}
	}
}

func (v *validator) top() {
	t := v.t
	v.required("", "description", t.Description != "")
	if utf8.RuneCountInString(t.Description) > MaxDescriptionLen {
		v.length("description", t.Description, 0, MaxDescriptionLen)
	}
	if v.present("clientToken", t.ClientToken != "") {
		v.length("clientToken", t.ClientToken, 1, 1024)
	}
	if v.required("", "roleArn", t.RoleArn != "") && !v.badType("roleArn") {
		v.arnField("roleArn", "roleArn", t.RoleArn, ruleRole())
	}
	v.tags("tags", t.Tags, MaxTags)
}

// --- targets -----------------------------------------------------------------

func (v *validator) targets() {
	used := map[string]bool{}
	for _, a := range v.t.Actions {
		for _, name := range a.Targets {
			used[name] = true
		}
	}
	for _, name := range sortedKeys(v.t.Targets) {
		path := joinPath("targets", name)
		if v.badType(path) {
			continue
		}
		v.name(path, "target", name)
		v.target(path, name, v.t.Targets[name])
		if !used[name] {
			v.warnf(CodeUnusedTarget, path, "target %q is not used by any action", name)
		}
	}
}

func (v *validator) target(path, name string, t Target) {
	rtOK := false
	var rt ResourceType
	if v.required(path, "resourceType", t.ResourceType != "") && !v.badType(joinPath(path, "resourceType")) &&
		v.length(joinPath(path, "resourceType"), t.ResourceType, 1, 64) {
		rt, rtOK = LookupResourceType(t.ResourceType)
		if !rtOK {
			v.errorf(CodeUnknownResource, joinPath(path, "resourceType"),
				"resource type %q is not a FIS resource type (known: %s)", t.ResourceType, strings.Join(ResourceTypes(), ", "))
		}
	}
	if v.required(path, "selectionMode", t.SelectionMode != "") && !v.badType(joinPath(path, "selectionMode")) {
		if _, err := ParseSelectionMode(t.SelectionMode); err != nil {
			v.errorf(CodeSelectionMode, joinPath(path, "selectionMode"), "%v", err)
		}
	}
	hasArns, hasTags := len(t.ResourceArns) > 0, len(t.ResourceTags) > 0
	if hasArns && hasTags {
		v.errorf(CodeConflict, path, "You cannot specify both resource ARNs and resource tags for target %s.", name)
	}
	if hasArns && len(t.Filters) > 0 {
		v.errorf(CodeConflict, path, "You cannot specify both resource ARNs and filters for target %s.", name)
	}
	if !hasArns && !hasTags && len(t.Filters) == 0 && len(t.Parameters) == 0 && !v.badType(joinPath(path, "resourceArns")) &&
		!v.badType(joinPath(path, "resourceTags")) {
		v.errorf(CodeRequired, path, "target %s selects no resources: give resourceArns, or resourceTags, filters or parameters", name)
	}
	// ARNs.
	if len(t.ResourceArns) > MaxResourceArns {
		v.errorf(CodeCount, joinPath(path, "resourceArns"), "%d resource ARNs given; a target takes at most %d",
			len(t.ResourceArns), MaxResourceArns)
	}
	rule, haveRule := arnRuleFor(t.ResourceType)
	if !haveRule {
		rule = arnRule{what: "resource"}
	}
	for i, a := range t.ResourceArns {
		v.arnField(indexPath(joinPath(path, "resourceArns"), i), "resource ARN", a, rule)
	}
	// Tags and filters.
	v.tags(joinPath(path, "resourceTags"), t.ResourceTags, MaxTags)
	for i, f := range t.Filters {
		fp := indexPath(joinPath(path, "filters"), i)
		if v.required(fp, "path", f.Path != "") {
			v.length(joinPath(fp, "path"), f.Path, 1, MaxFilterPathLen)
		}
		if v.required(fp, "values", len(f.Values) > 0) && len(f.Values) == 0 && !v.badType(joinPath(fp, "values")) {
			v.errorf(CodeCount, joinPath(fp, "values"), "a filter needs at least one value")
		}
		for j, val := range f.Values {
			vp := indexPath(joinPath(fp, "values"), j)
			v.length(vp, val, 0, MaxFilterValueLen)
			v.placeholderWarning(vp, val)
		}
	}
	// Target parameters.
	if !rtOK {
		return
	}
	pp := joinPath(path, "parameters")
	for _, k := range sortedKeys(t.Parameters) {
		kp := joinPath(pp, k)
		val := t.Parameters[k]
		idx := slices.IndexFunc(rt.Parameters, func(p TargetParam) bool { return p.Name == k })
		if idx < 0 {
			known := "none"
			if len(rt.Parameters) > 0 {
				names := make([]string, len(rt.Parameters))
				for i, p := range rt.Parameters {
					names[i] = p.Name
				}
				known = strings.Join(names, ", ")
			}
			v.addAt(SeverityError, CodeParameter, kp, fmt.Sprintf("resource type %s has no target parameter %q (known: %s)", rt.ID, k, known), true)
			continue
		}
		switch {
		case placeholderRE.MatchString(val):
			v.errorf(CodePlaceholder, kp, "value %q contains the unfilled placeholder %s", val, placeholderRE.FindString(val))
		case utf8.RuneCountInString(val) < 1 || utf8.RuneCountInString(val) > MaxParamValueLen:
			v.errorf(CodeLength, kp, "value must be 1-%d characters long", MaxParamValueLen)
		case !targetParamRE.MatchString(val):
			v.errorf(CodeParameter, kp, "value %q has characters FIS does not allow in target parameters (letters, digits, spaces and _.:/=+-@ only)", val)
		case len(rt.Parameters[idx].Values) > 0 && !slices.Contains(rt.Parameters[idx].Values, val):
			v.errorf(CodeParameter, kp, "value %q must be one of %s", val, strings.Join(rt.Parameters[idx].Values, ", "))
		}
	}
	for _, p := range rt.Parameters {
		if _, ok := t.Parameters[p.Name]; p.Required && !ok && !v.badType(pp) {
			v.errorf(CodeParameter, joinPath(pp, p.Name), "resource type %s requires target parameter %q", rt.ID, p.Name)
		}
	}
}

// --- actions -----------------------------------------------------------------

func (v *validator) actions() {
	t := v.t
	if v.required("", "actions", t.Actions != nil) && len(t.Actions) == 0 && !v.badType("actions") {
		v.errorf(CodeCount, "actions", "a template needs at least one action")
	}
	if len(t.Actions) > MaxActions {
		v.errorf(CodeQuota, "actions", "%d actions given; FIS allows at most %d per template", len(t.Actions), MaxActions)
	}
	for _, name := range sortedKeys(t.Actions) {
		if v.badType(joinPath("actions", name)) {
			continue
		}
		v.action(joinPath("actions", name), name, t.Actions[name])
	}
}

func (v *validator) action(path, name string, a Action) {
	v.name(path, "action", name)
	if utf8.RuneCountInString(a.Description) > MaxDescriptionLen {
		v.length(joinPath(path, "description"), a.Description, 0, MaxDescriptionLen)
	}
	for i, s := range a.StartAfter {
		sp := indexPath(joinPath(path, "startAfter"), i)
		switch _, ok := v.t.Actions[s]; {
		case s == name:
			v.errorf(CodeStartAfter, sp, "action %q cannot start after itself", name)
		case !ok:
			v.errorf(CodeStartAfter, sp, "startAfter of action %q names %q, which is not an action of this template", name, s)
		}
	}
	idPath := joinPath(path, "actionId")
	if !v.required(path, "actionId", a.ActionID != "") || v.badType(idPath) {
		return
	}
	if !v.length(idPath, a.ActionID, 1, MaxActionIDLen) {
		return
	}
	spec, ok := v.lookup(a.ActionID)
	if !ok {
		if to, renamed := RenamedAction(a.ActionID); renamed {
			v.errorf(CodeUnknownAction, idPath, "action %q was renamed; use %q", a.ActionID, to)
		} else {
			v.errorf(CodeUnknownAction, idPath, "%q is not a FIS action ID", a.ActionID)
		}
		return
	}
	v.specs[name] = spec
	v.actionTargets(path, name, a, spec)
	v.actionParams(path, name, a, spec)
}

func (v *validator) actionTargets(path, name string, a Action, spec *fault.ActionSpec) {
	tp := joinPath(path, "targets")
	for _, key := range sortedKeys(a.Targets) {
		kp := joinPath(tp, key)
		if spec.TargetKey == "" || key != spec.TargetKey {
			v.addAt(SeverityError, CodeTargetKey, kp, fmt.Sprintf("Unexpected target %q found in action %q.", key, name), true)
			continue
		}
		tname := a.Targets[key]
		tgt, ok := v.t.Targets[tname]
		if v.badType(joinPath("targets", tname)) {
			continue
		}
		if !ok {
			if !v.badType("targets") {
				v.errorf(CodeTargetRef, kp, "action %q refers to target %q, which is not defined in targets", name, tname)
			}
			continue
		}
		if _, known := LookupResourceType(tgt.ResourceType); known && tgt.ResourceType != spec.ResourceType {
			v.errorf(CodeTargetRef, kp, "target %q has resource type %s, but %s (action %q) acts on %s",
				tname, tgt.ResourceType, spec.ID, name, spec.ResourceType)
		}
	}
	if spec.TargetKey != "" {
		if len(a.Targets) == 0 && !v.badType(tp) {
			v.errorf(CodeTargetKey, tp, "action %q (%s) needs a target under key %q", name, spec.ID, spec.TargetKey)
		}
	}
}

func (v *validator) actionParams(path, name string, a Action, spec *fault.ActionSpec) {
	pp := joinPath(path, "parameters")
	raw := make(map[string]string, len(a.Parameters))
	for _, k := range sortedKeys(a.Parameters) {
		val := a.Parameters[k]
		kp := joinPath(pp, k)
		if v.badType(kp) {
			continue // reported by Parse; the spec must not call it missing
		}
		if utf8.RuneCountInString(k) > MaxNameLen {
			v.errorf(CodeLength, kp, "parameter name is %d characters long; the maximum is %d", utf8.RuneCountInString(k), MaxNameLen)
		}
		if utf8.RuneCountInString(val) > MaxParamValueLen {
			v.errorf(CodeLength, kp, "parameter value is %d characters long; the maximum is %d", utf8.RuneCountInString(val), MaxParamValueLen)
			continue
		}
		if strings.TrimSpace(val) == "" {
			v.errorf(CodeParameter, kp, "parameter %q has an empty value", k)
			continue
		}
		raw[k] = val
	}
	params, err := spec.Resolve(raw)
	failed := map[string]bool{}
	for _, pe := range paramErrors(err) {
		failed[pe.Param] = true
		kp := joinPath(pp, pe.Param)
		if v.badType(kp) {
			continue
		}
		if ph := placeholderRE.FindString(pe.Value); ph != "" {
			v.errorf(CodePlaceholder, kp, "parameter %q value %q contains the unfilled placeholder %s", pe.Param, pe.Value, ph)
			continue
		}
		msg := (&fault.ParamError{Param: pe.Param, Value: pe.Value, Reason: pe.Reason}).Error()
		_, known := spec.Param(pe.Param)
		v.addAt(SeverityError, CodeParameter, kp, msg, !known)
	}
	if err != nil && len(failed) == 0 {
		v.errorf(CodeParameter, pp, "%v", err)
	}
	// Shapes the spec leaves loose: ARNs, and placeholders in free text.
	for _, k := range sortedKeys(raw) {
		if failed[k] {
			continue
		}
		kp := joinPath(pp, k)
		switch catParamType(spec.ID, k) {
		case "arn":
			if k == "documentArn" {
				v.arnField(kp, k, raw[k], ruleDocument())
			}
		case "arn-list":
			for _, one := range strings.Split(raw[k], ",") {
				v.arnField(kp, k, one, ruleAlarm())
			}
		default:
			v.placeholderWarning(kp, raw[k])
		}
	}
	if err == nil {
		v.resolved[name] = params
	}
}

// paramErrors flattens the errors Resolve and Check return.
func paramErrors(err error) []*fault.ParamError {
	if err == nil {
		return nil
	}
	var out []*fault.ParamError
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		var pe *fault.ParamError
		if errors.As(e, &pe) {
			out = append(out, pe)
		}
	}
	walk(err)
	return out
}

// --- stop conditions, logs, options, report ----------------------------------------

func (v *validator) stopConditions() {
	t := v.t
	v.required("", "stopConditions", t.StopConditions != nil)
	if len(t.StopConditions) > MaxStopConditions {
		v.errorf(CodeQuota, "stopConditions", "%d stop conditions given; FIS allows at most %d per template",
			len(t.StopConditions), MaxStopConditions)
	}
	for i, sc := range t.StopConditions {
		p := indexPath("stopConditions", i)
		if !v.required(p, "source", sc.Source != "") {
			continue
		}
		switch sc.Source {
		case StopSourceNone:
			if sc.Value != "" {
				v.warnf(CodeValue, joinPath(p, "value"), "a stop condition with source %q takes no value", StopSourceNone)
			}
		case StopSourceAlarm:
			if v.required(p, "value", sc.Value != "") {
				v.arnField(joinPath(p, "value"), "alarm", sc.Value, ruleAlarm())
			}
		default:
			v.errorf(CodeValue, joinPath(p, "source"), "stop condition source %q is not %q or %q",
				sc.Source, StopSourceNone, StopSourceAlarm)
		}
	}
}

func (v *validator) logConfiguration() {
	lc := v.t.LogConfiguration
	if lc == nil {
		return
	}
	const p = "logConfiguration"
	if v.required(p, "logSchemaVersion", lc.LogSchemaVersion != nil) && lc.LogSchemaVersion != nil && *lc.LogSchemaVersion < 1 {
		v.errorf(CodeValue, p+".logSchemaVersion", "logSchemaVersion must be 1 or more, got %d", *lc.LogSchemaVersion)
	}
	if lc.CloudWatchLogsConfiguration == nil && lc.S3Configuration == nil {
		v.errorf(CodeRequired, p, "logConfiguration needs cloudWatchLogsConfiguration or s3Configuration")
	}
	if cw := lc.CloudWatchLogsConfiguration; cw != nil {
		cp := p + ".cloudWatchLogsConfiguration"
		if v.required(cp, "logGroupArn", cw.LogGroupArn != "") {
			v.arnField(cp+".logGroupArn", "logGroupArn", cw.LogGroupArn, ruleLogGroup())
		}
	}
	if s3 := lc.S3Configuration; s3 != nil {
		sp := p + ".s3Configuration"
		if v.required(sp, "bucketName", s3.BucketName != "") {
			v.length(sp+".bucketName", s3.BucketName, 3, 63)
		}
		if v.present(sp+".prefix", s3.Prefix != "") {
			v.length(sp+".prefix", s3.Prefix, 1, 1024)
		}
	}
}

func (v *validator) experimentOptions() {
	eo := v.t.ExperimentOptions
	if eo == nil {
		return
	}
	check := func(field, val string, allowed ...string) {
		if val != "" && !slices.Contains(allowed, val) {
			v.errorf(CodeValue, "experimentOptions."+field, "%s %q must be one of %s", field, val, strings.Join(allowed, ", "))
		}
	}
	check("accountTargeting", eo.AccountTargeting, AccountTargetingSingle, AccountTargetingMulti)
	check("emptyTargetResolutionMode", eo.EmptyTargetResolutionMode, EmptyTargetFail, EmptyTargetSkip)
}

func (v *validator) reportConfiguration() {
	rc := v.t.ExperimentReportConfiguration
	if rc == nil {
		return
	}
	const p = "experimentReportConfiguration"
	for field, val := range map[string]string{"preExperimentDuration": rc.PreExperimentDuration,
		"postExperimentDuration": rc.PostExperimentDuration} {
		if val == "" {
			continue
		}
		fp := p + "." + field
		if v.length(fp, val, 1, 32) {
			if _, err := fault.ParseDuration(val); err != nil {
				v.errorf(CodeValue, fp, "%v", err)
			}
		}
	}
	if rc.Outputs != nil && rc.Outputs.S3Configuration != nil {
		sp := p + ".outputs.s3Configuration"
		s3 := rc.Outputs.S3Configuration
		if v.required(sp, "bucketName", s3.BucketName != "") {
			v.length(sp+".bucketName", s3.BucketName, 3, 63)
		}
		if s3.Prefix != "" {
			v.length(sp+".prefix", s3.Prefix, 1, 256)
		}
	}
	if rc.DataSources != nil {
		for i, d := range rc.DataSources.CloudWatchDashboards {
			dp := indexPath(p+".dataSources.cloudWatchDashboards", i)
			if v.required(dp, "dashboardIdentifier", d.DashboardIdentifier != "") {
				v.length(dp+".dashboardIdentifier", d.DashboardIdentifier, 1, 512)
			}
		}
	}
}

// --- the action graph ------------------------------------------------------------

func (v *validator) graph() {
	durations := make(map[string]time.Duration, len(v.t.Actions))
	for name, p := range v.resolved {
		durations[name] = durationOf(v.specs[name], p)
	}
	s, cycle := newSchedule(v.t.Actions, durations)
	if cycle != nil {
		v.errorf(CodeStartAfter, joinPath("actions", cycle[0]), "startAfter forms a cycle: %s", strings.Join(cycle, " -> "))
		return
	}
	v.sched = s
	if s.length > MaxExperimentLength {
		v.warnf(CodeQuota, "actions", "the longest path of actions lasts %s; FIS stops experiments after %s",
			fault.FormatDuration(s.length), fault.FormatDuration(MaxExperimentLength))
	}
	if n, at := s.maxParallel(); n > MaxParallelActions {
		v.warnf(CodeQuota, "actions", "%d actions run at once at T+%s; FIS runs at most %d in parallel",
			n, fault.FormatDuration(at), MaxParallelActions)
	}
	// FIS: the three ECS task network actions cannot run in parallel.
	var names []string
	for _, n := range sortedKeys(v.t.Actions) {
		if slices.Contains(ecsNetworkActions, v.t.Actions[n].ActionID) {
			names = append(names, n)
		}
	}
	// One warning per action, naming the first one it overlaps.
	for j, b := range names {
		for _, a := range names[:j] {
			if s.overlap(a, b) {
				ida, idb := v.t.Actions[a].ActionID, v.t.Actions[b].ActionID
				v.warnf(CodeConflict, joinPath("actions", b), "actions %q (%s) and %q (%s) overlap in time; FIS does not run ECS task network actions in parallel",
					a, ida, b, idb)
				break
			}
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
