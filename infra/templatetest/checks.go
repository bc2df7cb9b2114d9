package templatetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/nectar-indexer/nectar/shared/config"
)

// problems collects what a check finds.
type problems []error

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Errorf(format, args...)) }

// attributes lists the Fn::GetAtt attributes of the resource types the templates use; a GetAtt
// of another attribute of these types is a typo. Other types are checked for existence only.
var attributes = map[string][]string{
	"AWS::SQS::Queue":                    {"Arn", "QueueName", "QueueUrl"},
	"AWS::Serverless::Function":          {"Arn"},
	"AWS::Lambda::Function":              {"Arn"},
	"AWS::IAM::Role":                     {"Arn", "RoleId"},
	"AWS::IAM::InstanceProfile":          {"Arn"},
	"AWS::Logs::LogGroup":                {"Arn"},
	"AWS::SNS::Topic":                    {"TopicArn", "TopicName"},
	"AWS::CloudWatch::Alarm":             {"Arn"},
	"AWS::CloudWatch::Dashboard":         {},
	"AWS::EC2::Instance":                 {"AvailabilityZone", "InstanceId", "PrivateDnsName", "PrivateIp", "PublicDnsName", "PublicIp"},
	"AWS::EC2::SecurityGroup":            {"GroupId", "VpcId"},
	"AWS::EC2::LaunchTemplate":           {"DefaultVersionNumber", "LatestVersionNumber", "LaunchTemplateId"},
	"AWS::EC2::Volume":                   {"VolumeId"},
	"AWS::CloudFormation::WaitCondition": {"Data"},
}

// CheckReferences checks that every Ref, Fn::GetAtt, Fn::Sub variable, Fn::FindInMap, DependsOn
// and condition name points at something the template declares.
func CheckReferences(t Template) []error {
	var p problems
	for _, section := range []string{"Conditions", "Resources", "Outputs", "Rules", "Metadata"} {
		for _, r := range References(t[section], section) {
			res, isRes := t.Resource(r.Name)
			switch {
			case r.Attr == "":
				if !PseudoParameters[r.Name] && !isParam(t, r.Name) && !isRes {
					p.add("%s: Ref %s: no such parameter or resource", r.Path, r.Name)
				}
			case !isRes:
				p.add("%s: %s.%s: no such resource", r.Path, r.Name, r.Attr)
			case r.Ref:
				// SAM's Ref Function.Version and Function.Alias need AutoPublishAlias.
				if res.Type != "AWS::Serverless::Function" || (r.Attr != "Version" && r.Attr != "Alias") ||
					res.Properties()["AutoPublishAlias"] == nil {
					p.add("%s: Ref %s.%s: only a SAM function with AutoPublishAlias has .Version and .Alias", r.Path, r.Name, r.Attr)
				}
			default:
				if attrs, known := attributes[res.Type]; known && !slices.Contains(attrs, r.Attr) {
					p.add("%s: GetAtt %s.%s: %s has no attribute %s (known: %s)", r.Path, r.Name, r.Attr, res.Type, r.Attr, strings.Join(attrs, ", "))
				}
			}
		}
	}
	// Fn::FindInMap with literal names.
	walk(map[string]any{"Resources": t["Resources"], "Outputs": t["Outputs"]}, "", func(m map[string]any, path string) {
		args, ok := m["Fn::FindInMap"].([]any)
		if !ok || len(m) != 1 {
			return
		}
		if len(args) != 3 {
			p.add("%s: Fn::FindInMap takes three arguments", path)
			return
		}
		name, ok := args[0].(string)
		if !ok {
			return
		}
		mapping, ok := t.Section("Mappings")[name].(map[string]any)
		if !ok {
			p.add("%s: Fn::FindInMap: no mapping %s", path, name)
			return
		}
		if k, ok := args[1].(string); ok {
			if _, ok := mapping[k]; !ok {
				p.add("%s: Fn::FindInMap: mapping %s has no key %s", path, name, k)
			}
		}
	})
	// DependsOn and conditions.
	conds := t.Section("Conditions")
	useCond := func(path, name string) {
		if _, ok := conds[name]; !ok {
			p.add("%s: condition %s is not declared", path, name)
		}
	}
	for _, r := range t.Resources() {
		for _, dep := range Strings(r.Raw["DependsOn"]) {
			if _, ok := t.Resource(dep); !ok {
				p.add("Resources.%s.DependsOn: no resource %s", r.Name, dep)
			}
		}
		if c, ok := r.Raw["Condition"].(string); ok {
			useCond("Resources."+r.Name+".Condition", c)
		}
	}
	for name, out := range t.Section("Outputs") {
		if m, ok := out.(map[string]any); ok {
			if c, ok := m["Condition"].(string); ok {
				useCond("Outputs."+name+".Condition", c)
			}
		}
	}
	walk(map[string]any{"Resources": t["Resources"], "Outputs": t["Outputs"], "Conditions": t["Conditions"]}, "", func(m map[string]any, path string) {
		if args, ok := m["Fn::If"].([]any); ok && len(m) == 1 && len(args) == 3 {
			if c, ok := args[0].(string); ok {
				useCond(path, c)
			}
		}
	})
	walk(t["Conditions"], "Conditions", func(m map[string]any, path string) {
		if c, ok := m["Condition"].(string); ok && len(m) == 1 {
			useCond(path, c)
		}
	})
	return p
}

func isParam(t Template, name string) bool { _, ok := t.Parameter(name); return ok }

// CheckParametersUsed checks that every parameter is referenced somewhere outside Parameters.
func CheckParametersUsed(t Template) []error {
	used := map[string]bool{}
	for _, section := range []string{"Conditions", "Resources", "Outputs", "Rules", "Metadata"} {
		for _, r := range References(t[section], section) {
			if r.Attr == "" {
				used[r.Name] = true
			}
		}
	}
	var p problems
	for _, name := range sortedKeys(t.Section("Parameters")) {
		if !used[name] {
			p.add("Parameters.%s: never used", name)
		}
	}
	return p
}

// CheckLogGroups checks that every log group has a retention.
func CheckLogGroups(t Template) []error {
	var p problems
	for _, r := range t.ResourcesOfType("AWS::Logs::LogGroup") {
		if r.Properties()["RetentionInDays"] == nil {
			p.add("Resources.%s: no RetentionInDays (logs would be kept forever)", r.Name)
		}
	}
	return p
}

// queueOf returns the template queue an ARN expression names (Fn::GetAtt Q.Arn).
func queueOf(t Template, v any) (Resource, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return Resource{}, false
	}
	name, attr, ok := GetAtt(m["Fn::GetAtt"])
	if !ok || attr != "Arn" {
		return Resource{}, false
	}
	q, ok := t.Resource(name)
	return q, ok && q.Type == "AWS::SQS::Queue"
}

func isFIFO(q Resource) bool { return q.Properties()["FifoQueue"] == true }

// deadLetterQueues returns the names of the queues some RedrivePolicy sends to.
func deadLetterQueues(t Template) map[string]bool {
	dlqs := map[string]bool{}
	for _, q := range t.ResourcesOfType("AWS::SQS::Queue") {
		rp, _ := q.Properties()["RedrivePolicy"].(map[string]any)
		if dlq, ok := queueOf(t, rp["deadLetterTargetArn"]); ok {
			dlqs[dlq.Name] = true
		}
	}
	return dlqs
}

// SourceQueues returns the queues that are not a DLQ, sorted by name.
func SourceQueues(t Template) []Resource {
	dlqs := deadLetterQueues(t)
	var out []Resource
	for _, q := range t.ResourcesOfType("AWS::SQS::Queue") {
		if !dlqs[q.Name] {
			out = append(out, q)
		}
	}
	return out
}

// CheckQueues checks every queue: encrypted at rest; its maximum message size is the batch
// parameter, whose bounds are shared/config's; every queue that is not itself a DLQ has a
// redrive policy to a DLQ of the same kind (FIFO or standard) that keeps messages as long; FIFO
// queues take the follower's explicit deduplication ids.
func CheckQueues(t Template) []error {
	var p problems
	queues := t.ResourcesOfType("AWS::SQS::Queue")
	if len(queues) == 0 {
		p.add("Resources: no AWS::SQS::Queue")
	}
	dlqs := deadLetterQueues(t)
	sizeParam := ""
	for _, q := range queues {
		props := q.Properties()
		where := "Resources." + q.Name
		if props["SqsManagedSseEnabled"] != true && props["KmsMasterKeyId"] == nil {
			p.add("%s: not encrypted at rest (SqsManagedSseEnabled or KmsMasterKeyId)", where)
		}
		name, ok := RefName(props["MaximumMessageSize"])
		switch {
		case !ok:
			p.add("%s.MaximumMessageSize: must be a Ref to the batch size parameter, not %s", where, Canonical(props["MaximumMessageSize"]))
		case sizeParam != "" && name != sizeParam:
			p.add("%s.MaximumMessageSize: Ref %s, but other queues use %s", where, name, sizeParam)
		default:
			sizeParam = name
		}
		if isFIFO(q) && props["ContentBasedDeduplication"] != false {
			p.add("%s: a FIFO queue must set ContentBasedDeduplication false (the follower sends the batch id)", where)
		}
		if dlqs[q.Name] {
			continue
		}
		rp, ok := props["RedrivePolicy"].(map[string]any)
		if !ok {
			p.add("%s: no RedrivePolicy (no DLQ)", where)
			continue
		}
		dlq, ok := queueOf(t, rp["deadLetterTargetArn"])
		if !ok {
			p.add("%s.RedrivePolicy.deadLetterTargetArn: must be Fn::GetAtt <queue>.Arn of a queue in the template", where)
			continue
		}
		if rp["maxReceiveCount"] == nil {
			p.add("%s.RedrivePolicy: no maxReceiveCount", where)
		}
		if isFIFO(q) != isFIFO(dlq) {
			p.add("%s: its DLQ %s must be FIFO exactly when it is", where, dlq.Name)
		}
		srcKeep, err1 := t.Number(orDefault(props["MessageRetentionPeriod"], 345600.0), nil)
		dlqKeep, err2 := t.Number(orDefault(dlq.Properties()["MessageRetentionPeriod"], 345600.0), nil)
		if err1 == nil && err2 == nil && dlqKeep < srcKeep {
			p.add("%s: its DLQ %s keeps messages %gs, less than the queue's %gs (a standard DLQ keeps the original enqueue time)", where, dlq.Name, dlqKeep, srcKeep)
		}
	}
	if sizeParam != "" {
		param, ok := t.Parameter(sizeParam)
		switch {
		case !ok:
			p.add("Parameters.%s: the queues' MaximumMessageSize names it, but it is not declared", sizeParam)
		default:
			want := map[string]float64{"Default": config.DefaultBatchMessageBytes, "MinValue": config.MinMessageBytes, "MaxValue": config.MaxMessageBytes}
			for _, k := range []string{"Default", "MinValue", "MaxValue"} {
				if got, _ := t.Number(orDefault(param[k], "missing"), nil); got != want[k] {
					p.add("Parameters.%s.%s: %v, want %v (shared/config's batch.max_message_bytes)", sizeParam, k, param[k], want[k])
				}
			}
		}
	}
	return p
}

func orDefault(v, def any) any {
	if v == nil {
		return def
	}
	return v
}

// EventSource is one SQS event source of a function: a SAM event or an EventSourceMapping.
type EventSource struct {
	Where    string
	Function Resource
	Props    map[string]any
	Queue    any // the queue ARN expression
}

// SQSEventSources returns every SQS event source in the template.
func SQSEventSources(t Template) []EventSource {
	var out []EventSource
	for _, f := range t.ResourcesOfType("AWS::Serverless::Function") {
		events, _ := f.Properties()["Events"].(map[string]any)
		for _, name := range sortedKeys(events) {
			ev, _ := events[name].(map[string]any)
			if ev["Type"] != "SQS" {
				continue
			}
			props, _ := ev["Properties"].(map[string]any)
			if props == nil {
				props = map[string]any{}
			}
			out = append(out, EventSource{Where: "Resources." + f.Name + ".Properties.Events." + name, Function: f, Props: props, Queue: props["Queue"]})
		}
	}
	for _, m := range t.ResourcesOfType("AWS::Lambda::EventSourceMapping") {
		props := m.Properties()
		fn, _ := RefName(props["FunctionName"])
		f, _ := t.Resource(fn)
		if _, ok := queueOf(t, props["EventSourceArn"]); ok {
			out = append(out, EventSource{Where: "Resources." + m.Name, Function: f, Props: props, Queue: props["EventSourceArn"]})
		}
	}
	return out
}

// functionProperty is a function's property, or the Globals.Function one.
func functionProperty(t Template, f Resource, key string) any {
	if v, ok := f.Properties()[key]; ok {
		return v
	}
	if f.Type == "AWS::Serverless::Function" {
		g, _ := t.Section("Globals")["Function"].(map[string]any)
		return g[key]
	}
	return nil
}

// CheckEventSources checks every SQS event source: it reports batch item failures, has a maximum
// concurrency of at least 2, reads a queue of the template, FIFO batches are at most 10, and the
// queue's visibility timeout is at least six times the function's timeout (plus the batching
// window), for every value the parameters involved can take.
func CheckEventSources(t Template) []error {
	var p problems
	sources := SQSEventSources(t)
	if len(sources) == 0 {
		p.add("Resources: no SQS event source")
	}
	for _, es := range sources {
		if !slices.Contains(Strings(es.Props["FunctionResponseTypes"]), "ReportBatchItemFailures") {
			p.add("%s: FunctionResponseTypes must include ReportBatchItemFailures", es.Where)
		}
		sc, _ := es.Props["ScalingConfig"].(map[string]any)
		mc, ok := sc["MaximumConcurrency"]
		if !ok {
			p.add("%s: no ScalingConfig.MaximumConcurrency (it bounds the database connections)", es.Where)
		} else if low, ok := minValue(t, mc); !ok || low < 2 || low > 1000 {
			p.add("%s.ScalingConfig.MaximumConcurrency: %s can be below SQS's minimum 2 or unbounded", es.Where, Canonical(mc))
		}
		q, ok := queueOf(t, es.Queue)
		if !ok {
			p.add("%s: the queue must be Fn::GetAtt <queue>.Arn of a queue in the template, not %s", es.Where, Canonical(es.Queue))
			continue
		}
		window := orDefault(es.Props["MaximumBatchingWindowInSeconds"], 0.0)
		if isFIFO(q) {
			if n, err := t.Number(orDefault(es.Props["BatchSize"], 10.0), nil); err != nil || n > 10 {
				p.add("%s: a FIFO queue takes batches of at most 10", es.Where)
			}
			if es.Props["MaximumBatchingWindowInSeconds"] != nil {
				p.add("%s: a FIFO queue has no batching window", es.Where)
			}
		}
		if es.Function.Name == "" {
			p.add("%s: no function in the template", es.Where)
			continue
		}
		timeout := orDefault(functionProperty(t, es.Function, "Timeout"), 3.0)
		vis := orDefault(q.Properties()["VisibilityTimeout"], 30.0)
		params := t.ParamsIn([]any{timeout, vis, window})
		for _, a := range t.Assignments(params) {
			tv, err1 := t.Number(timeout, a)
			vv, err2 := t.Number(vis, a)
			wv, err3 := t.Number(window, a)
			if err := firstErr(err1, err2, err3); err != nil {
				p.add("%s: cannot evaluate the visibility timeout of %s against %s's timeout: %v", es.Where, q.Name, es.Function.Name, err)
				break
			}
			if vv < 6*tv+wv {
				p.add("%s: %s's visibility timeout %gs is under 6 x %s's timeout %gs (+ window %gs) with %v", es.Where, q.Name, vv, es.Function.Name, tv, wv, a)
			}
		}
	}
	return p
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// minValue is the smallest value v can take: a literal, or a parameter's lower bound.
func minValue(t Template, v any) (float64, bool) {
	if name, ok := RefName(v); ok {
		return t.MinNumber(name)
	}
	f, err := t.Number(v, nil)
	return f, err == nil
}

// CheckFunctions checks every SAM function: Go on provided.al2023 for arm64 with the handler
// binary bootstrap built by the Makefile (BuildMethod makefile) from the repository root, a
// timeout, a log group of the template with retention, and NECTAR_* variables that are real
// configuration keys (env, e.g. from EnvKeys).
func CheckFunctions(t Template, env map[string]bool) []error {
	var p problems
	fns := t.ResourcesOfType("AWS::Serverless::Function")
	if len(fns) == 0 {
		p.add("Resources: no AWS::Serverless::Function")
	}
	for _, f := range fns {
		where := "Resources." + f.Name
		for _, want := range [][2]string{{"Runtime", "provided.al2023"}, {"Handler", "bootstrap"}, {"CodeUri", "."}} {
			if got := functionProperty(t, f, want[0]); got != want[1] {
				p.add("%s.Properties.%s: %v, want %s", where, want[0], got, want[1])
			}
		}
		if arch := Strings(functionProperty(t, f, "Architectures")); !slices.Equal(arch, []string{"arm64"}) {
			p.add("%s.Properties.Architectures: %v, want [arm64]", where, arch)
		}
		md, _ := f.Raw["Metadata"].(map[string]any)
		if md["BuildMethod"] != "makefile" {
			p.add("%s.Metadata.BuildMethod: %v, want makefile", where, md["BuildMethod"])
		}
		if functionProperty(t, f, "Timeout") == nil {
			p.add("%s.Properties: no Timeout", where)
		}
		lc, _ := functionProperty(t, f, "LoggingConfig").(map[string]any)
		lg, _ := RefName(lc["LogGroup"])
		if g, ok := t.Resource(lg); !ok || g.Type != "AWS::Logs::LogGroup" {
			p.add("%s.Properties.LoggingConfig.LogGroup: must Ref a log group of the template (with retention)", where)
		}
		envProps, _ := functionProperty(t, f, "Environment").(map[string]any)
		vars, _ := envProps["Variables"].(map[string]any)
		for _, k := range sortedKeys(vars) {
			if strings.HasPrefix(k, config.EnvPrefix) && !env[k] {
				p.add("%s.Properties.Environment.Variables.%s: not a configuration key of shared/config", where, k)
			}
		}
	}
	return p
}

// EnvKeys returns every NECTAR_* variable shared/config reads.
func EnvKeys() map[string]bool {
	keys := map[string]bool{config.ConfigEnv: true}
	for _, k := range config.Keys() {
		keys[config.EnvName(k)] = true
	}
	return keys
}

// Statement is one IAM policy statement and where it is.
type Statement struct {
	Where string
	Raw   map[string]any
}

// Actions returns the statement's actions.
func (s Statement) Actions() []string { return Strings(s.Raw["Action"]) }

// Resources returns the statement's resources (strings and intrinsic expressions).
func (s Statement) Resources() []any {
	switch r := s.Raw["Resource"].(type) {
	case []any:
		return r
	case nil:
		return nil
	default:
		return []any{r}
	}
}

func statementsOf(doc any, where string) []Statement {
	d, _ := doc.(map[string]any)
	var out []Statement
	switch st := d["Statement"].(type) {
	case []any:
		for i, s := range st {
			if m, ok := s.(map[string]any); ok {
				out = append(out, Statement{Where: fmt.Sprintf("%s.Statement[%d]", where, i), Raw: m})
			}
		}
	case map[string]any:
		out = append(out, Statement{Where: where + ".Statement", Raw: st})
	}
	return out
}

// RoleStatements returns the statements of a role's inline policies; managed policies are
// problems, since they cannot be checked here.
func RoleStatements(role Resource) ([]Statement, []error) {
	var p problems
	props := role.Properties()
	where := "Resources." + role.Name
	if mp := props["ManagedPolicyArns"]; mp != nil {
		p.add("%s.Properties.ManagedPolicyArns: managed policies are not allowed (%s)", where, Canonical(mp))
	}
	var out []Statement
	pols, _ := props["Policies"].([]any)
	for i, pol := range pols {
		m, _ := pol.(map[string]any)
		out = append(out, statementsOf(m["PolicyDocument"], fmt.Sprintf("%s.Properties.Policies[%d].PolicyDocument", where, i))...)
	}
	return out, p
}

// FunctionStatements returns the statements a function runs with: its role's (Role must be
// Fn::GetAtt <role>.Arn of a role in the template) and its SAM Policies (inline documents only).
func FunctionStatements(t Template, f Resource) ([]Statement, []error) {
	var p problems
	where := "Resources." + f.Name + ".Properties"
	var out []Statement
	if role := functionProperty(t, f, "Role"); role != nil {
		m, _ := role.(map[string]any)
		name, attr, ok := GetAtt(m["Fn::GetAtt"])
		r, found := t.Resource(name)
		if !ok || attr != "Arn" || !found || r.Type != "AWS::IAM::Role" {
			p.add("%s.Role: must be Fn::GetAtt <role>.Arn of a role in the template, not %s", where, Canonical(role))
		} else {
			st, errs := RoleStatements(r)
			out = append(out, st...)
			p = append(p, errs...)
		}
	}
	pols := functionProperty(t, f, "Policies")
	var list []any
	switch x := pols.(type) {
	case []any:
		list = x
	case nil:
	default:
		list = []any{x}
	}
	for i, pol := range list {
		m, ok := pol.(map[string]any)
		if !ok || m["Statement"] == nil {
			p.add("%s.Policies[%d]: only inline policy documents are allowed, not %s", where, i, Canonical(pol))
			continue
		}
		out = append(out, statementsOf(m, fmt.Sprintf("%s.Policies[%d]", where, i))...)
	}
	return out, p
}

// starActions may be granted on Resource "*": they take no resource. PutMetricData only with a
// cloudwatch:namespace condition (checked by CheckStatements).
var starActions = map[string]bool{
	"cloudwatch:PutMetricData":         true,
	"ssm:UpdateInstanceInformation":    true,
	"ssmmessages:CreateControlChannel": true,
	"ssmmessages:CreateDataChannel":    true,
	"ssmmessages:OpenControlChannel":   true,
	"ssmmessages:OpenDataChannel":      true,
}

// CheckStatements checks IAM statements for what least privilege rules out everywhere: wildcard
// actions, NotAction/NotResource, Resource "*" except for actions that take no resource,
// PutMetricData without a namespace condition, and SQS or Secrets Manager resources that are not
// named queues and secrets (a template queue's Arn or a parameter).
func CheckStatements(t Template, sts []Statement) []error {
	var p problems
	for _, s := range sts {
		if s.Raw["NotAction"] != nil || s.Raw["NotResource"] != nil {
			p.add("%s: NotAction/NotResource grant more than they name", s.Where)
		}
		if s.Raw["Effect"] != "Allow" {
			continue
		}
		actions := s.Actions()
		for _, a := range actions {
			if strings.Contains(a, "*") {
				p.add("%s: wildcard action %s", s.Where, a)
			}
		}
		for _, r := range s.Resources() {
			str, isStr := r.(string)
			if isStr && strings.Contains(str, "*") {
				for _, a := range actions {
					if !starActions[a] {
						p.add("%s: %s on resource %q: name the resource", s.Where, a, str)
					}
				}
			}
			for _, a := range actions {
				switch {
				case strings.HasPrefix(a, "sqs:"):
					_, isQueue := queueOf(t, r)
					name, isRef := RefName(r)
					if !isQueue && !(isRef && isParam(t, name)) {
						p.add("%s: %s on %s: must be a queue of the template (GetAtt .Arn) or a queue ARN parameter", s.Where, a, Canonical(r))
					}
				case strings.HasPrefix(a, "secretsmanager:"):
					name, isRef := RefName(r)
					if !isRef || !isParam(t, name) {
						p.add("%s: %s on %s: must be the secret ARN parameter", s.Where, a, Canonical(r))
					}
				}
			}
		}
		if slices.Contains(actions, "cloudwatch:PutMetricData") {
			cond, _ := s.Raw["Condition"].(map[string]any)
			eq, _ := cond["StringEquals"].(map[string]any)
			if eq["cloudwatch:namespace"] == nil {
				p.add("%s: cloudwatch:PutMetricData without a StringEquals cloudwatch:namespace condition", s.Where)
			}
		}
	}
	return p
}

// consumerActions are what a Lambda event source needs on its queue.
var consumerActions = []string{"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"}

// CheckFunctionPolicies checks, for every function, that its statements pass CheckStatements,
// that its SQS actions are only the consumer's, on exactly the queues of its own event sources,
// or sqs:SendMessage on those queues' DLQs (the ingest function dead-letters a message that can
// never apply itself), and that its Secrets Manager actions name only the secret of its
// NECTAR_DB_SECRET_ARN (which it can read and describe: the caching client calls both).
func CheckFunctionPolicies(t Template) []error {
	var p problems
	sources := SQSEventSources(t)
	for _, f := range t.ResourcesOfType("AWS::Serverless::Function") {
		where := "Resources." + f.Name
		sts, errs := FunctionStatements(t, f)
		p = append(p, errs...)
		p = append(p, CheckStatements(t, sts)...)

		own, ownDLQ := map[string]bool{}, map[string]bool{}
		for _, es := range sources {
			if es.Function.Name == f.Name {
				own[Canonical(es.Queue)] = true
				if q, ok := queueOf(t, es.Queue); ok {
					rp, _ := q.Properties()["RedrivePolicy"].(map[string]any)
					if _, ok := queueOf(t, rp["deadLetterTargetArn"]); ok {
						ownDLQ[Canonical(rp["deadLetterTargetArn"])] = true
					}
				}
			}
		}
		envProps, _ := functionProperty(t, f, "Environment").(map[string]any)
		vars, _ := envProps["Variables"].(map[string]any)
		secret, hasSecret := vars[config.EnvName("db.secret_arn")]

		granted := map[string]map[string]bool{} // queue -> actions
		secretActions := map[string]bool{}
		for _, s := range sts {
			if s.Raw["Effect"] != "Allow" {
				continue
			}
			for _, a := range s.Actions() {
				for _, r := range s.Resources() {
					switch {
					case a == "sqs:SendMessage" && ownDLQ[Canonical(r)]:
						// Dead-lettering to the DLQ of a queue it consumes.
					case strings.HasPrefix(a, "sqs:"):
						q := Canonical(r)
						if !own[q] {
							p.add("%s: %s grants %s on %s, which is not one of its own queues", s.Where, f.Name, a, q)
							continue
						}
						if !slices.Contains(consumerActions, a) {
							p.add("%s: %s is not needed to consume a queue", s.Where, a)
						}
						if granted[q] == nil {
							granted[q] = map[string]bool{}
						}
						granted[q][a] = true
					case strings.HasPrefix(a, "secretsmanager:"):
						if !hasSecret || Canonical(r) != Canonical(secret) {
							p.add("%s: %s grants %s on %s, which is not its NECTAR_DB_SECRET_ARN", s.Where, f.Name, a, Canonical(r))
							continue
						}
						secretActions[a] = true
					}
				}
			}
		}
		for _, q := range sortedKeys(toAny(own)) {
			for _, a := range []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"} {
				if !granted[q][a] {
					p.add("%s: cannot %s on its queue %s", where, a, q)
				}
			}
		}
		if hasSecret {
			for _, a := range []string{"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"} {
				if !secretActions[a] {
					p.add("%s: cannot %s on its secret", where, a)
				}
			}
		}
	}
	for _, r := range t.ResourcesOfType("AWS::IAM::Role") {
		_, errs := RoleStatements(r)
		p = append(p, errs...)
	}
	return dedupe(p)
}

func toAny(m map[string]bool) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func dedupe(errs []error) []error {
	seen := map[string]bool{}
	var out []error
	for _, e := range errs {
		if !seen[e.Error()] {
			seen[e.Error()] = true
			out = append(out, e)
		}
	}
	return out
}

// Alarm is a metric alarm's essentials.
type Alarm struct {
	Name       string
	Namespace  string
	Metric     string
	Dimensions map[string]string // value as Canonical JSON
	Props      map[string]any
}

// Alarms returns the template's alarms; a metric math alarm yields one Alarm per metric it reads.
func Alarms(t Template) []Alarm {
	var out []Alarm
	dims := func(v any) map[string]string {
		out := map[string]string{}
		list, _ := v.([]any)
		for _, d := range list {
			m, _ := d.(map[string]any)
			if n, ok := m["Name"].(string); ok {
				out[n] = Canonical(m["Value"])
			}
		}
		return out
	}
	for _, r := range t.ResourcesOfType("AWS::CloudWatch::Alarm") {
		props := r.Properties()
		if ns, ok := props["Namespace"].(string); ok {
			name, _ := props["MetricName"].(string)
			out = append(out, Alarm{Name: r.Name, Namespace: ns, Metric: name, Dimensions: dims(props["Dimensions"]), Props: props})
		}
		metrics, _ := props["Metrics"].([]any)
		for _, m := range metrics {
			mm, _ := m.(map[string]any)
			ms, _ := mm["MetricStat"].(map[string]any)
			metric, _ := ms["Metric"].(map[string]any)
			if ns, ok := metric["Namespace"].(string); ok {
				name, _ := metric["MetricName"].(string)
				out = append(out, Alarm{Name: r.Name, Namespace: ns, Metric: name, Dimensions: dims(metric["Dimensions"]), Props: props})
			}
		}
	}
	return out
}

func hasAlarm(alarms []Alarm, ns, metric, dim, value string) bool {
	for _, a := range alarms {
		if a.Namespace == ns && a.Metric == metric && (dim == "" || a.Dimensions[dim] == value) {
			return true
		}
	}
	return false
}

// CheckAlarms checks the application's alarms: every alarm notifies someone; every DLQ alarms when
// it holds a message; every source queue alarms on the age of its oldest message; every function
// fed by SQS alarms on errors and throttles; the follower's lag alarms, and its heartbeat alarms
// when its metrics stop (missing data is breaching).
func CheckAlarms(t Template) []error {
	var p problems
	alarms := Alarms(t)
	for _, r := range t.ResourcesOfType("AWS::CloudWatch::Alarm") {
		if len(asList(r.Properties()["AlarmActions"])) == 0 {
			p.add("Resources.%s: no AlarmActions", r.Name)
		}
	}
	getAtt := func(res, attr string) string {
		return Canonical(map[string]any{"Fn::GetAtt": []any{res, attr}})
	}
	for name := range deadLetterQueues(t) {
		found := false
		for _, a := range alarms {
			if a.Namespace == "AWS/SQS" && a.Metric == "ApproximateNumberOfMessagesVisible" && a.Dimensions["QueueName"] == getAtt(name, "QueueName") {
				found = true
				th, _ := t.Number(orDefault(a.Props["Threshold"], -1.0), nil)
				if th != 0 || a.Props["ComparisonOperator"] != "GreaterThanThreshold" {
					p.add("Resources.%s: the DLQ alarm on %s must fire on one message (> 0)", a.Name, name)
				}
			}
		}
		if !found {
			p.add("Resources.%s: no alarm on its depth (ApproximateNumberOfMessagesVisible > 0)", name)
		}
	}
	for _, q := range SourceQueues(t) {
		if !hasAlarm(alarms, "AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", getAtt(q.Name, "QueueName")) {
			p.add("Resources.%s: no alarm on ApproximateAgeOfOldestMessage", q.Name)
		}
	}
	fed := map[string]bool{}
	for _, es := range SQSEventSources(t) {
		fed[es.Function.Name] = true
	}
	for _, name := range sortedKeys(toAny(fed)) {
		ref := Canonical(map[string]any{"Ref": name})
		for _, m := range []string{"Errors", "Throttles"} {
			if !hasAlarm(alarms, "AWS/Lambda", m, "FunctionName", ref) {
				p.add("Resources.%s: no alarm on its %s", name, m)
			}
		}
	}
	lag, heartbeat := false, false
	for _, a := range alarms {
		if a.Namespace != FollowerNamespace {
			continue
		}
		if strings.Contains(a.Metric, "lag") {
			lag = true
		}
		if a.Props["TreatMissingData"] == "breaching" {
			heartbeat = true
		}
	}
	if !lag {
		p.add("Resources: no alarm on the follower's lag (%s)", FollowerNamespace)
	}
	if !heartbeat {
		p.add("Resources: no follower heartbeat alarm (%s with TreatMissingData breaching)", FollowerNamespace)
	}
	return p
}

// FollowerNamespace is where the follower host's CloudWatch agent puts the follower's metrics.
const FollowerNamespace = "Nectar/Follower"

func asList(v any) []any {
	switch x := v.(type) {
	case []any:
		return x
	case nil:
		return nil
	default:
		return []any{x}
	}
}

// DashboardMetric is one metric a dashboard widget shows.
type DashboardMetric struct{ Namespace, Name string }

// CheckDashboards checks that every dashboard body is valid JSON once its Fn::Sub variables are
// filled in, and returns the metrics its widgets show.
func CheckDashboards(t Template) ([]DashboardMetric, []error) {
	var p problems
	var out []DashboardMetric
	for _, d := range t.ResourcesOfType("AWS::CloudWatch::Dashboard") {
		where := "Resources." + d.Name + ".Properties.DashboardBody"
		body := d.Properties()["DashboardBody"]
		m, _ := body.(map[string]any)
		str, _, ok := Sub(m["Fn::Sub"])
		if !ok {
			if str, ok = body.(string); !ok {
				p.add("%s: must be a string or an Fn::Sub string", where)
				continue
			}
		}
		filled := subVar.ReplaceAllString(str, "x")
		var dash struct {
			Widgets []struct {
				Type       string `json:"type"`
				Properties struct {
					Metrics [][]any `json:"metrics"`
				} `json:"properties"`
			} `json:"widgets"`
		}
		if err := json.Unmarshal([]byte(filled), &dash); err != nil {
			p.add("%s: not valid JSON: %v", where, err)
			continue
		}
		for _, w := range dash.Widgets {
			for _, metric := range w.Properties.Metrics {
				if len(metric) >= 2 {
					ns, _ := metric[0].(string)
					name, _ := metric[1].(string)
					out = append(out, DashboardMetric{ns, name})
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Namespace+out[i].Name < out[j].Namespace+out[j].Name })
	return out, p
}
