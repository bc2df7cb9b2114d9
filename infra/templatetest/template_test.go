package templatetest

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// root is the repository root, from this package's directory.
var root = filepath.Join("..", "..")

func load(tb testing.TB, rel string) Template {
	tb.Helper()
	t, err := Load(filepath.Join(root, rel))
	if err != nil {
		tb.Fatalf("%s: %v", rel, err)
	}
	return t
}

func readFile(tb testing.TB, rel string) string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

func noProblems(t *testing.T, what string, errs []error) {
	t.Helper()
	for _, err := range errs {
		t.Errorf("%s: %v", what, err)
	}
}

// at walks a template to the map at path (map keys, or list indexes as "[i]"), failing the test
// when something on the way is missing.
func at(tb testing.TB, t Template, path ...string) map[string]any {
	tb.Helper()
	var cur any = map[string]any(t)
	for _, p := range path {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[p]
		case []any:
			i, err := strconv.Atoi(strings.Trim(p, "[]"))
			if err != nil || i < 0 || i >= len(c) {
				tb.Fatalf("%v: no element %s", path, p)
			}
			cur = c[i]
		}
		if cur == nil {
			tb.Fatalf("%v: %s missing", path, p)
		}
	}
	m, ok := cur.(map[string]any)
	if !ok {
		tb.Fatalf("%v: not a map", path)
	}
	return m
}

func ref(name string) map[string]any { return map[string]any{"Ref": name} }
func getAtt(res, attr string) map[string]any {
	return map[string]any{"Fn::GetAtt": []any{res, attr}}
}

// allChecks runs every check that applies to the application template.
func allChecks(t Template) []error {
	var errs []error
	errs = append(errs, CheckReferences(t)...)
	errs = append(errs, CheckParametersUsed(t)...)
	errs = append(errs, CheckLogGroups(t)...)
	errs = append(errs, CheckQueues(t)...)
	errs = append(errs, CheckEventSources(t)...)
	errs = append(errs, CheckFunctions(t, EnvKeys())...)
	errs = append(errs, CheckFunctionPolicies(t)...)
	errs = append(errs, CheckAlarms(t)...)
	_, derrs := CheckDashboards(t)
	return append(errs, derrs...)
}

func TestAppTemplate(t *testing.T) {
	app := load(t, "template.yaml")
	if app["Transform"] != "AWS::Serverless-2016-10-31" {
		t.Errorf("Transform: %v, want AWS::Serverless-2016-10-31", app["Transform"])
	}
	checks := []struct {
		name string
		run  func(Template) []error
	}{
		{"references", CheckReferences},
		{"parameters used", CheckParametersUsed},
		{"log groups", CheckLogGroups},
		{"queues", CheckQueues},
		{"event sources", CheckEventSources},
		{"functions", func(t Template) []error { return CheckFunctions(t, EnvKeys()) }},
		{"least privilege", CheckFunctionPolicies},
		{"alarms", CheckAlarms},
		{"dashboard", func(t Template) []error { _, errs := CheckDashboards(t); return errs }},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) { noProblems(t, c.name, c.run(app)) })
	}
}

// TestAppShape pins what the checks leave open: which queue is which, what each function is given.
func TestAppShape(t *testing.T) {
	app := load(t, "template.yaml")

	t.Run("queues", func(t *testing.T) {
		want := map[string]bool{"HistoryQueue": false, "TipQueue": true} // FIFO?
		src := SourceQueues(app)
		if len(src) != len(want) {
			t.Fatalf("source queues %d, want %d", len(src), len(want))
		}
		for _, q := range src {
			fifo, ok := want[q.Name]
			if !ok || isFIFO(q) != fifo {
				t.Errorf("%s: unexpected, or FIFO=%v", q.Name, isFIFO(q))
			}
		}
	})
	t.Run("event sources", func(t *testing.T) {
		got := map[string]EventSource{}
		for _, es := range SQSEventSources(app) {
			q, _ := queueOf(app, es.Queue)
			got[q.Name] = es
			if es.Function.Name != "IngestFunction" {
				t.Errorf("%s: fed to %s, want IngestFunction", es.Where, es.Function.Name)
			}
		}
		if _, ok := got["HistoryQueue"]; !ok {
			t.Fatal("no event source for HistoryQueue")
		}
		if _, ok := got["TipQueue"]; !ok {
			t.Fatal("no event source for TipQueue")
		}
		sc, _ := got["HistoryQueue"].Props["ScalingConfig"].(map[string]any)
		if !IsRef(sc["MaximumConcurrency"], "MaxIngestConcurrency") {
			t.Errorf("history MaximumConcurrency: %v, want Ref MaxIngestConcurrency", sc["MaximumConcurrency"])
		}
	})
	t.Run("environment", func(t *testing.T) {
		for _, fn := range []string{"IngestFunction", "MigrateFunction", "VerifyFunction"} {
			vars := at(t, app, "Resources", fn, "Properties", "Environment", "Variables")
			want := map[string]any{
				"NECTAR_NETWORK":       ref("Network"),
				"NECTAR_DB_SECRET_ARN": ref("DatabaseSecretArn"),
				"NECTAR_DB_SSL_MODE":   "VERIFY_IDENTITY",
				"NECTAR_LOG_FORMAT":    "json",
			}
			for k, v := range want {
				if Canonical(vars[k]) != Canonical(v) {
					t.Errorf("%s %s: %s, want %s", fn, k, Canonical(vars[k]), Canonical(v))
				}
			}
		}
	})
	t.Run("migrations on deploy", func(t *testing.T) {
		schema := at(t, app, "Resources", "NectarSchema")
		if schema["Type"] != "Custom::NectarSchema" {
			t.Errorf("NectarSchema type %v", schema["Type"])
		}
		props := at(t, app, "Resources", "NectarSchema", "Properties")
		if Canonical(props["ServiceToken"]) != Canonical(getAtt("MigrateFunction", "Arn")) {
			t.Errorf("ServiceToken %s, want the migrate function's ARN", Canonical(props["ServiceToken"]))
		}
		if !IsRef(props["FunctionVersion"], "MigrateFunction.Version") {
			t.Errorf("FunctionVersion %s: without a property that changes with the code, migrations run only on create", Canonical(props["FunctionVersion"]))
		}
		ingest := at(t, app, "Resources", "IngestFunction")
		if deps := Strings(ingest["DependsOn"]); len(deps) != 1 || deps[0] != "NectarSchema" {
			t.Errorf("IngestFunction DependsOn %v, want NectarSchema (schema before code)", deps)
		}
	})
	t.Run("scheduled verify", func(t *testing.T) {
		ev := at(t, app, "Resources", "VerifyFunction", "Properties", "Events", "Hourly")
		if ev["Type"] != "Schedule" {
			t.Errorf("VerifyFunction's event is %v, want Schedule", ev["Type"])
		}
		// ChainGapAlarm: the verify's ChainGaps with every source queue's visible and in-flight
		// counts, each id of the expression defined.
		metrics, _ := at(t, app, "Resources", "ChainGapAlarm", "Properties")["Metrics"].([]any)
		ids, expr := map[string]bool{}, ""
		for _, m := range metrics {
			mm, _ := m.(map[string]any)
			ids[mm["Id"].(string)] = true
			if e, ok := mm["Expression"].(string); ok {
				expr = e
			}
		}
		for _, id := range regexp.MustCompile(`\b[a-z][a-z0-9_]*\b`).FindAllString(expr, -1) {
			if id != "" && !ids[id] && !slices.Contains([]string{"if", "and"}, id) {
				t.Errorf("ChainGapAlarm expression %q uses %s, which no metric defines", expr, id)
			}
		}
		alarms := Alarms(app)
		if !hasAlarm(alarms, "Nectar", "ChainGaps", "Function", Canonical("verify")) {
			t.Error("ChainGapAlarm does not read Nectar/ChainGaps of the verify function")
		}
		for _, q := range SourceQueues(app) {
			name := Canonical(getAtt(q.Name, "QueueName"))
			for _, m := range []string{"ApproximateNumberOfMessagesVisible", "ApproximateNumberOfMessagesNotVisible"} {
				found := false
				for _, a := range alarms {
					found = found || (a.Name == "ChainGapAlarm" && a.Metric == m && a.Dimensions["QueueName"] == name)
				}
				if !found {
					t.Errorf("ChainGapAlarm does not read %s of %s: a gap that batch is about to fill would alarm", m, q.Name)
				}
			}
		}
	})
	t.Run("failed messages", func(t *testing.T) {
		// The ingest function knows its queues and their DLQs (the ones the
		// redrive policies name), may shorten a failed tip message's
		// visibility and send what can never apply to the DLQ itself.
		vars := at(t, app, "Resources", "IngestFunction", "Properties", "Environment", "Variables")
		fn, _ := app.Resource("IngestFunction")
		sts, _ := FunctionStatements(app, fn)
		allowed := func(action, queue string) bool {
			for _, s := range sts {
				if s.Raw["Effect"] == "Allow" && slices.Contains(s.Actions(), action) {
					for _, r := range s.Resources() {
						if Canonical(r) == Canonical(getAtt(queue, "Arn")) {
							return true
						}
					}
				}
			}
			return false
		}
		for _, q := range []struct{ queue, url, dlqURL string }{
			{"HistoryQueue", "NECTAR_SQS_HISTORY_QUEUE_URL", "NECTAR_SQS_HISTORY_DLQ_URL"},
			{"TipQueue", "NECTAR_SQS_TIP_QUEUE_URL", "NECTAR_SQS_TIP_DLQ_URL"},
		} {
			rp, _ := at(t, app, "Resources", q.queue, "Properties")["RedrivePolicy"].(map[string]any)
			dlq, ok := queueOf(app, rp["deadLetterTargetArn"])
			if !ok {
				t.Fatalf("%s: no DLQ", q.queue)
			}
			if Canonical(vars[q.url]) != Canonical(ref(q.queue)) || Canonical(vars[q.dlqURL]) != Canonical(ref(dlq.Name)) {
				t.Errorf("IngestFunction %s=%s %s=%s, want Ref %s and Ref %s", q.url, Canonical(vars[q.url]), q.dlqURL, Canonical(vars[q.dlqURL]), q.queue, dlq.Name)
			}
			if !allowed("sqs:ChangeMessageVisibility", q.queue) || !allowed("sqs:SendMessage", dlq.Name) {
				t.Errorf("IngestFunction may not change visibility on %s or send to %s", q.queue, dlq.Name)
			}
		}
	})
	t.Run("ingest and verify alarms", func(t *testing.T) {
		alarms := Alarms(app)
		for _, m := range []struct{ fn, metric string }{{"ingest", "DBRefused"}, {"verify", "ChainForks"}, {"verify", "BlocksAboveHead"}} {
			if !hasAlarm(alarms, "Nectar", m.metric, "Function", Canonical(m.fn)) {
				t.Errorf("no alarm reads Nectar/%s of the %s function", m.metric, m.fn)
			}
		}
	})
	t.Run("outputs", func(t *testing.T) {
		outs := app.Section("Outputs")
		for _, k := range []string{"HistoryQueueUrl", "HistoryQueueArn", "TipQueueUrl", "TipQueueArn", "HistoryDLQUrl", "TipDLQUrl",
			"DatabaseSecretArn", "Network", "BatchMaxMessageBytes", "AlarmTopicArn"} {
			if outs[k] == nil {
				t.Errorf("no output %s", k)
			}
		}
	})
}

// TestAppTemplateMutations breaks a copy of template.yaml in one way at a time and checks that a
// check notices: a check that cannot fail proves nothing.
func TestAppTemplateMutations(t *testing.T) {
	app := load(t, "template.yaml")
	ingestPolicy := func(tb testing.TB, c Template, i int) map[string]any {
		return at(tb, c, "Resources", "IngestRole", "Properties", "Policies", "["+strconv.Itoa(i)+"]", "PolicyDocument", "Statement", "[0]")
	}
	cases := []struct {
		name   string
		mutate func(testing.TB, Template)
		want   string
	}{
		{"missing DLQ", func(tb testing.TB, c Template) {
			delete(at(tb, c, "Resources", "HistoryQueue", "Properties"), "RedrivePolicy")
		}, "HistoryQueue: no RedrivePolicy"},
		{"FIFO queue with a standard DLQ", func(tb testing.TB, c Template) {
			at(tb, c, "Resources", "TipQueue", "Properties", "RedrivePolicy")["deadLetterTargetArn"] = getAtt("HistoryDLQ", "Arn")
		}, "must be FIFO exactly when it is"},
		{"DLQ keeps messages shorter", func(tb testing.TB, c Template) {
			at(tb, c, "Resources", "HistoryDLQ", "Properties")["MessageRetentionPeriod"] = 86400.0
		}, "less than the queue's"},
		{"content-based deduplication", func(tb testing.TB, c Template) {
			at(tb, c, "Resources", "TipQueue", "Properties")["ContentBasedDeduplication"] = true
		}, "ContentBasedDeduplication false"},
		{"visibility under six timeouts", func(tb testing.TB, c Template) {
			at(tb, c, "Resources", "TipQueue", "Properties")["VisibilityTimeout"] = 600.0
		}, "TipQueue's visibility timeout 600s is under 6 x"},
		{"one mapping entry under six timeouts", func(tb testing.TB, c Template) {
			at(tb, c, "Mappings", "QueueVisibility", "900")["Seconds"] = 3600.0
		}, "map[IngestTimeout:900]"},
		{"no partial batch failures", func(tb testing.TB, c Template) {
			delete(at(tb, c, "Resources", "IngestFunction", "Properties", "Events", "History", "Properties"), "FunctionResponseTypes")
		}, "ReportBatchItemFailures"},
		{"no maximum concurrency", func(tb testing.TB, c Template) {
			delete(at(tb, c, "Resources", "IngestFunction", "Properties", "Events", "Tip", "Properties"), "ScalingConfig")
		}, "no ScalingConfig.MaximumConcurrency"},
		{"maximum concurrency may be 1", func(tb testing.TB, c Template) {
			at(tb, c, "Parameters", "MaxIngestConcurrency")["MinValue"] = 1.0
		}, "below SQS's minimum 2"},
		{"literal message size", func(tb testing.TB, c Template) {
			at(tb, c, "Resources", "HistoryQueue", "Properties")["MaximumMessageSize"] = 262144.0
		}, "must be a Ref to the batch size parameter"},
		{"batch parameter off shared/config", func(tb testing.TB, c Template) {
			at(tb, c, "Parameters", "BatchMaxMessageBytes")["MaxValue"] = 2097152.0
		}, "batch.max_message_bytes"},
		{"queue not encrypted", func(tb testing.TB, c Template) {
			delete(at(tb, c, "Resources", "TipDLQ", "Properties"), "SqsManagedSseEnabled")
		}, "TipDLQ: not encrypted"},
		{"queue actions on every queue", func(tb testing.TB, c Template) {
			ingestPolicy(tb, c, 0)["Resource"] = "*"
		}, `on resource "*": name the resource`},
		{"a queue that is not its own", func(tb testing.TB, c Template) {
			st := ingestPolicy(tb, c, 0)
			st["Resource"] = append(st["Resource"].([]any), getAtt("HistoryDLQ", "Arn"))
		}, "not one of its own queues"},
		{"migrate may read a queue", func(tb testing.TB, c Template) {
			doc := at(tb, c, "Resources", "MigrateRole", "Properties", "Policies", "[0]", "PolicyDocument")
			doc["Statement"] = append(doc["Statement"].([]any), map[string]any{
				"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": getAtt("TipQueue", "Arn")})
		}, "MigrateFunction grants sqs:ReceiveMessage"},
		{"dead letters for a queue it does not consume", func(tb testing.TB, c Template) {
			doc := at(tb, c, "Resources", "VerifyRole", "Properties", "Policies", "[0]", "PolicyDocument")
			doc["Statement"] = append(doc["Statement"].([]any), map[string]any{
				"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": getAtt("TipDLQ", "Arn")})
		}, "VerifyFunction grants sqs:SendMessage"},
		{"producer action", func(tb testing.TB, c Template) {
			st := ingestPolicy(tb, c, 0)
			st["Action"] = append(st["Action"].([]any), "sqs:SendMessage")
		}, "sqs:SendMessage is not needed"},
		{"another secret", func(tb testing.TB, c Template) {
			ingestPolicy(tb, c, 1)["Resource"] = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:other-AbCdEf"
		}, "must be the secret ARN parameter"},
		{"cannot describe the secret", func(tb testing.TB, c Template) {
			ingestPolicy(tb, c, 1)["Action"] = []any{"secretsmanager:GetSecretValue"}
		}, "cannot secretsmanager:DescribeSecret"},
		{"managed policy", func(tb testing.TB, c Template) {
			at(tb, c, "Resources", "IngestRole", "Properties")["ManagedPolicyArns"] = []any{"arn:aws:iam::aws:policy/AmazonSQSFullAccess"}
		}, "managed policies are not allowed"},
		{"SAM policy template", func(tb testing.TB, c Template) {
			at(tb, c, "Resources", "IngestFunction", "Properties")["Policies"] = []any{"AmazonSQSFullAccess"}
		}, "only inline policy documents"},
		{"wildcard action", func(tb testing.TB, c Template) {
			ingestPolicy(tb, c, 0)["Action"] = "sqs:*"
		}, "wildcard action sqs:*"},
		{"unused parameter", func(tb testing.TB, c Template) {
			c.Section("Parameters")["Unused"] = map[string]any{"Type": "String", "Default": ""}
		}, "Parameters.Unused: never used"},
		{"dangling Ref", func(tb testing.TB, c Template) {
			c.Section("Outputs")["Broken"] = map[string]any{"Value": ref("NoSuchQueue")}
		}, "Ref NoSuchQueue: no such parameter or resource"},
		{"GetAtt of an unknown attribute", func(tb testing.TB, c Template) {
			at(tb, c, "Outputs", "HistoryQueueUrl")["Value"] = getAtt("HistoryQueue", "QueueURL")
		}, "has no attribute QueueURL"},
		{"dangling Fn::Sub variable", func(tb testing.TB, c Template) {
			at(tb, c, "Outputs", "DashboardUrl")["Value"] = map[string]any{"Fn::Sub": "${NoSuchDashboard}"}
		}, "Ref NoSuchDashboard"},
		{"undeclared condition", func(tb testing.TB, c Template) {
			at(tb, c, "Resources", "AlarmTopic")["Condition"] = "NoSuchCondition"
		}, "condition NoSuchCondition is not declared"},
		{"Version without AutoPublishAlias", func(tb testing.TB, c Template) {
			delete(at(tb, c, "Resources", "MigrateFunction", "Properties"), "AutoPublishAlias")
		}, "only a SAM function with AutoPublishAlias"},
		{"DependsOn nothing", func(tb testing.TB, c Template) {
			at(tb, c, "Resources", "IngestFunction")["DependsOn"] = "NoSuchSchema"
		}, "no resource NoSuchSchema"},
		{"no DLQ alarm", func(tb testing.TB, c Template) {
			delete(c.Section("Resources"), "TipDLQDepthAlarm")
			dropFromDashboard(tb, c, "TipDLQDepthAlarm")
		}, "TipDLQ: no alarm on its depth"},
		{"heartbeat ignores silence", func(tb testing.TB, c Template) {
			at(tb, c, "Resources", "FollowerHeartbeatAlarm", "Properties")["TreatMissingData"] = "notBreaching"
		}, "no follower heartbeat alarm"},
		{"no throttles alarm", func(tb testing.TB, c Template) {
			delete(c.Section("Resources"), "IngestThrottlesAlarm")
			dropFromDashboard(tb, c, "IngestThrottlesAlarm")
		}, "IngestFunction: no alarm on its Throttles"},
		{"alarm nobody hears", func(tb testing.TB, c Template) {
			delete(at(tb, c, "Resources", "TipAgeAlarm", "Properties"), "AlarmActions")
		}, "TipAgeAlarm: no AlarmActions"},
		{"log group kept forever", func(tb testing.TB, c Template) {
			delete(at(tb, c, "Resources", "IngestLogGroup", "Properties"), "RetentionInDays")
		}, "IngestLogGroup: no RetentionInDays"},
		{"x86 function", func(tb testing.TB, c Template) {
			at(tb, c, "Resources", "IngestFunction", "Properties")["Architectures"] = []any{"x86_64"}
		}, "want [arm64]"},
		{"not built by the Makefile", func(tb testing.TB, c Template) {
			delete(at(tb, c, "Resources", "MigrateFunction", "Metadata"), "BuildMethod")
		}, "BuildMethod: <nil>, want makefile"},
		{"configuration key that does not exist", func(tb testing.TB, c Template) {
			at(tb, c, "Resources", "IngestFunction", "Properties", "Environment", "Variables")["NECTAR_DB_SSL"] = "VERIFY_IDENTITY"
		}, "NECTAR_DB_SSL: not a configuration key"},
		{"dashboard is not JSON", func(tb testing.TB, c Template) {
			replaceInSub(tb, c, "Dashboard", `"widgets": [`, `"widgets": `)
		}, "not valid JSON"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			broken := app.Clone()
			c.mutate(t, broken)
			errs := allChecks(broken)
			if !containsProblem(errs, c.want) {
				t.Errorf("no problem mentions %q; got:\n%v", c.want, errors.Join(errs...))
			}
		})
	}
}

// replaceInSub edits a dashboard's Fn::Sub body.
func replaceInSub(tb testing.TB, t Template, dashboard, old, new string) {
	tb.Helper()
	props := at(tb, t, "Resources", dashboard, "Properties")
	body := props["DashboardBody"].(map[string]any)
	s := body["Fn::Sub"].(string)
	if !strings.Contains(s, old) {
		tb.Fatalf("dashboard body has no %q", old)
	}
	body["Fn::Sub"] = strings.Replace(s, old, new, 1)
}

// dropFromDashboard removes an alarm from the dashboard's alarm widget.
func dropFromDashboard(tb testing.TB, t Template, alarm string) {
	tb.Helper()
	body := at(tb, t, "Resources", "Dashboard", "Properties", "DashboardBody")
	re := regexp.MustCompile(`"\$\{` + alarm + `\.Arn\}",?\s*`)
	s := body["Fn::Sub"].(string)
	if !re.MatchString(s) {
		tb.Fatalf("the dashboard does not show %s", alarm)
	}
	body["Fn::Sub"] = re.ReplaceAllString(s, "")
}

func containsProblem(errs []error, want string) bool {
	for _, err := range errs {
		if strings.Contains(err.Error(), want) {
			return true
		}
	}
	return false
}

// TestMakefileBuildsFunctions: SAM's BuildMethod makefile runs `make build-<LogicalId>` in the
// CodeUri directory (the repository root) with ARTIFACTS_DIR set.
func TestMakefileBuildsFunctions(t *testing.T) {
	app := load(t, "template.yaml")
	mk := readFile(t, "Makefile")
	for _, f := range app.ResourcesOfType("AWS::Serverless::Function") {
		target := regexp.MustCompile(`(?m)^build-` + regexp.QuoteMeta(f.Name) + `:`)
		if !target.MatchString(mk) {
			t.Errorf("Makefile has no target build-%s (sam build runs it for %s)", f.Name, f.Name)
		}
	}
}
