// Package experiment runs an AWS FIS experiment template locally, the way
// FIS runs it: targets resolved once at the start and narrowed by
// selectionMode, actions started when their startAfter actions complete
// (independent ones in parallel), each fault held for its duration and
// then reverted, stop conditions watched throughout, and FIS's experiment
// and action states, with reasons, in a timeline and a JSON report.
//
//	reg, _ := fault.NewRegistry(stress.Actions(), netem.Actions(), procs.Actions())
//	t, _ := template.ParseFile("cpu-stress.json")
//	rep, err := experiment.RunTemplate(ctx, t, experiment.Config{Registry: reg})
//	// err == nil only when rep.State.Status == experiment.StatusCompleted
//	json.NewEncoder(os.Stdout).Encode(rep) // schema: ReportSchema()
//
// # Targets
//
// An aws:ecs:task target resolves to local targets: this task when
// ECS_CONTAINER_METADATA_URI_V4 is set (DetectTargets, through package
// ecsmeta), otherwise the host, or the candidates in Config.Targets
// (ParseTarget: host, netns:NAME|PATH, pid:N, cgroup:PATH). Task
// candidates are matched against the target's resourceArns, resourceTags
// and AvailabilityZone filters; the other kinds stand in for any task.
// COUNT(n) and PERCENT(n) pick at random (PERCENT rounds down, as in FIS).
// A target that resolves to nothing fails the experiment unless the
// template's experimentOptions.emptyTargetResolutionMode (carried by the
// plan, Plan.ExperimentOptions) is "skip", which skips its actions.
// Config.RegistryFor binds faults to a target, e.g. network faults to its
// namespace with netem.Actions(netem.WithNetNS(t.NetNS)).
//
// # Lifecycle
//
// The experiment goes pending, initiating (targets resolved and every
// fault built, so bad parameters fail before anything is injected),
// running, then completed, or stopping and stopped (a stop condition
// tripped, Stop was called or Run's context ended: running actions
// revert, pending ones are cancelled), or failed (an action failed; the
// others are stopped or cancelled). Actions go pending, initiating,
// running, then completed, stopping and stopped, cancelled, failed or
// skipped (no targets under "skip", an action faultkit cannot run locally
// with SkipUnsupported, or a dry run, which is FIS's actionsMode
// skip-all). Faults record their undo in a fault.Journal, so nothing is
// left behind even if the process is killed.
//
// # Stop conditions
//
// A template's aws:cloudwatch:alarm conditions are read with
// DescribeAlarms (Config.CloudWatch, any *cloudwatch.Client) and trip in
// state ALARM. As a faultkit extension, local probes (HTTPProbe: a URL
// that must keep answering 2xx; CommandProbe: a command that must keep
// exiting 0) go in Config.StopConditions, never in the template, so
// templates stay valid for FIS. A condition that cannot be checked
// MaxCheckErrors times in a row trips too.
package experiment
