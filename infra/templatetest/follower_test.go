package templatetest

import (
	"encoding/json"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/nectar-indexer/nectar/follower"
	"github.com/nectar-indexer/nectar/shared/config"
)

const (
	followerStack = "infra/aws/follower.yaml"
	followerUnit  = "infra/aws/host/nectar-follower.service"
	nodeUnit      = "infra/aws/host/cardano-node.service"
	followerEnv   = "infra/aws/host/follower.env"
	agentConfig   = "infra/aws/host/cloudwatch-agent.json"
	scrapeConfig  = "infra/aws/host/prometheus.yaml"
	dockerfile    = "infra/aws/container/Dockerfile"
	taskDef       = "infra/aws/container/ecs-task-definition.json"
	deployDoc     = "docs/deploy.md"
)

// hostFiles maps each file the follower stack writes on the host to its source in the repository.
var hostFiles = map[string]string{
	"/etc/systemd/system/cardano-node.service":                    "infra/aws/host/cardano-node.service",
	"/etc/systemd/system/nectar-follower.service":                 "infra/aws/host/nectar-follower.service",
	"/etc/cardano/node.env":                                       "infra/aws/host/cardano-node.env",
	"/etc/nectar/follower.env":                                    "infra/aws/host/follower.env",
	"/usr/local/libexec/nectar/prepare-volume":                    "infra/aws/host/prepare-volume",
	"/etc/logrotate.d/nectar":                                     "infra/aws/host/logrotate-nectar",
	"/opt/aws/amazon-cloudwatch-agent/etc/nectar.json":            "infra/aws/host/cloudwatch-agent.json",
	"/opt/aws/amazon-cloudwatch-agent/etc/nectar-prometheus.yaml": "infra/aws/host/prometheus.yaml",
}

func initFiles(tb testing.TB, stack Template) map[string]any {
	tb.Helper()
	return at(tb, stack, "Resources", "FollowerInstance", "Metadata", "AWS::CloudFormation::Init", "configure", "files")
}

// fileContent returns a cfn-init file's content: a literal, or an Fn::Sub template.
func fileContent(v any) (text string, sub bool) {
	m, _ := v.(map[string]any)
	switch c := m["content"].(type) {
	case string:
		return c, false
	case map[string]any:
		if s, _, ok := Sub(c["Fn::Sub"]); ok {
			return s, true
		}
	}
	return "", false
}

func TestFollowerTemplate(t *testing.T) {
	stack := load(t, followerStack)
	noProblems(t, "references", CheckReferences(stack))
	noProblems(t, "parameters used", CheckParametersUsed(stack))
	noProblems(t, "log groups", CheckLogGroups(stack))
	for _, r := range stack.ResourcesOfType("AWS::IAM::Role") {
		sts, errs := RoleStatements(r)
		noProblems(t, r.Name, errs)
		noProblems(t, r.Name, CheckStatements(stack, sts))
	}
	// The batch settings the follower gets have shared/config's bounds, as the queues' do.
	bounds := map[string]map[string]float64{
		"BatchMaxMessageBytes": {"Default": config.DefaultBatchMessageBytes, "MinValue": config.MinMessageBytes, "MaxValue": config.MaxMessageBytes},
		"BatchMaxBytes":        {"Default": config.DefaultBatchBytes, "MaxValue": config.MaxMessageBytes / 4 * 3},
	}
	for name, want := range bounds {
		for k, v := range want {
			p, _ := stack.Parameter(name)
			if got, err := stack.Number(p[k], nil); err != nil || got != v {
				t.Errorf("Parameters.%s.%s: %v, want %v", name, k, p[k], v)
			}
		}
	}
}

// followerGrants returns action -> granted resources (Canonical) of the follower's role, with
// PutMetricData's namespace condition appended to its resource.
func followerGrants(tb testing.TB, stack Template) map[string][]string {
	tb.Helper()
	role, ok := stack.Resource("FollowerRole")
	if !ok {
		tb.Fatal("no FollowerRole")
	}
	sts, errs := RoleStatements(role)
	for _, err := range errs {
		tb.Error(err)
	}
	out := map[string][]string{}
	for _, s := range sts {
		if s.Raw["Effect"] != "Allow" {
			continue
		}
		for _, a := range s.Actions() {
			for _, r := range s.Resources() {
				res := Canonical(r)
				if cond := s.Raw["Condition"]; cond != nil {
					res += " if " + Canonical(cond)
				}
				out[a] = append(out[a], res)
			}
		}
	}
	for _, v := range out {
		sort.Strings(v)
	}
	return out
}

// TestFollowerRoleIsExact: the instance may send to the two queues, read the one secret, put
// metrics only into Nectar/Follower, write its own two log groups, read its two artifacts and its
// own init metadata, and talk to Session Manager. Nothing else.
func TestFollowerRoleIsExact(t *testing.T) {
	stack := load(t, followerStack)
	c := func(v any) string { return Canonical(v) }
	sub := func(s string) string { return c(map[string]any{"Fn::Sub": s}) }
	want := map[string][]string{
		"sqs:SendMessage":               {c(ref("HistoryQueueArn")), c(ref("TipQueueArn"))},
		"secretsmanager:GetSecretValue": {c(ref("DatabaseSecretArn"))},
		"secretsmanager:DescribeSecret": {c(ref("DatabaseSecretArn"))},
		"cloudwatch:PutMetricData":      {`"*" if {"StringEquals":{"cloudwatch:namespace":"` + FollowerNamespace + `"}}`},
		"logs:CreateLogStream":          {c(getAtt("FollowerLogGroup", "Arn")), c(getAtt("MetricsLogGroup", "Arn"))},
		"logs:PutLogEvents":             {c(getAtt("FollowerLogGroup", "Arn")), c(getAtt("MetricsLogGroup", "Arn"))},
		"logs:DescribeLogStreams":       {c(getAtt("FollowerLogGroup", "Arn")), c(getAtt("MetricsLogGroup", "Arn"))},
		"s3:GetObject": {sub("arn:${AWS::Partition}:s3:::${ArtifactBucket}/${CardanoNodeArchiveKey}"),
			sub("arn:${AWS::Partition}:s3:::${ArtifactBucket}/${NectarBinaryKey}")},
		"cloudformation:DescribeStackResource": {c(ref("AWS::StackId"))},
		"ssm:UpdateInstanceInformation":        {`"*"`},
		"ssmmessages:CreateControlChannel":     {`"*"`},
		"ssmmessages:CreateDataChannel":        {`"*"`},
		"ssmmessages:OpenControlChannel":       {`"*"`},
		"ssmmessages:OpenDataChannel":          {`"*"`},
	}
	for _, v := range want {
		sort.Strings(v)
	}
	got := followerGrants(t, stack)
	for _, a := range slices.Sorted(maps.Keys(got)) {
		if !slices.Equal(got[a], want[a]) {
			t.Errorf("%s on %v, want %v", a, got[a], want[a])
		}
	}
	for a := range want {
		if got[a] == nil {
			t.Errorf("%s not granted", a)
		}
	}

	t.Run("mutations", func(t *testing.T) {
		cases := []struct {
			name   string
			mutate func(testing.TB, Template)
		}{
			{"send to any queue", func(tb testing.TB, s Template) {
				at(tb, s, "Resources", "FollowerRole", "Properties", "Policies", "[0]", "PolicyDocument", "Statement", "[0]")["Resource"] = "*"
			}},
			{"consume too", func(tb testing.TB, s Template) {
				at(tb, s, "Resources", "FollowerRole", "Properties", "Policies", "[0]", "PolicyDocument", "Statement", "[0]")["Action"] = []any{"sqs:SendMessage", "sqs:ReceiveMessage"}
			}},
			{"metrics in any namespace", func(tb testing.TB, s Template) {
				delete(at(tb, s, "Resources", "FollowerRole", "Properties", "Policies", "[2]", "PolicyDocument", "Statement", "[0]"), "Condition")
			}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				broken := stack.Clone()
				tc.mutate(t, broken)
				grants := followerGrants(t, broken)
				role, _ := broken.Resource("FollowerRole")
				sts, _ := RoleStatements(role)
				if maps.EqualFunc(grants, want, slices.Equal) && len(CheckStatements(broken, sts)) == 0 {
					t.Error("the mutated role passes")
				}
			})
		}
	})
}

// TestFollowerHostFilesMatchTemplate: the stack writes the files of infra/aws/host byte for byte,
// and every one of them.
func TestFollowerHostFilesMatchTemplate(t *testing.T) {
	stack := load(t, followerStack)
	files := initFiles(t, stack)
	for dst, src := range hostFiles {
		text, _ := fileContent(files[dst])
		if text != readFile(t, src) {
			t.Errorf("%s in %s differs from %s: copy the file into the template", dst, followerStack, src)
		}
	}
	entries, err := os.ReadDir(filepath.Join(root, "infra/aws/host"))
	if err != nil {
		t.Fatal(err)
	}
	installed := map[string]bool{}
	for _, src := range hostFiles {
		installed[filepath.Base(src)] = true
	}
	for _, e := range entries {
		if !installed[e.Name()] {
			t.Errorf("infra/aws/host/%s is not installed by %s", e.Name(), followerStack)
		}
	}
	for _, script := range []string{"/usr/local/libexec/nectar/prepare-volume"} {
		if m, _ := files[script].(map[string]any); m["mode"] != "000755" {
			t.Errorf("%s: mode %v, want 000755", script, m["mode"])
		}
	}
	// UserData runs cfn-init on the resource that holds the metadata and signals the wait condition.
	ud := at(t, stack, "Resources", "FollowerInstance", "Properties", "UserData")
	script, _, _ := Sub(ud["Fn::Base64"].(map[string]any)["Fn::Sub"])
	for _, want := range []string{"--resource FollowerInstance", "--configsets setup", "cfn-signal", "${SetupWaitHandle}"} {
		if !strings.Contains(script, want) {
			t.Errorf("UserData does not contain %q", want)
		}
	}
}

// followerDefinitions reads the unit, the container definition and the docs.
func followerDefinitions(t *testing.T) FollowerDefinitions {
	t.Helper()
	var d FollowerDefinitions

	unit := ParseUnit(readFile(t, followerUnit))
	execs := unit.Values("Service", "ExecStart")
	if len(execs) != 1 {
		t.Fatalf("%s: %d ExecStart lines, want 1", followerUnit, len(execs))
	}
	d.UnitExec = Exec(execs[0])
	d.UnitEnv = map[string]string{}
	for _, f := range unit.Values("Service", "EnvironmentFile") {
		switch path := strings.TrimPrefix(f, "-"); path {
		case "/etc/nectar/follower.env":
			vars, err := ParseEnvFile(readFile(t, followerEnv))
			if err != nil {
				t.Fatalf("%s: %v", followerEnv, err)
			}
			for _, v := range vars {
				d.UnitEnv[v.Name] = v.Value
			}
		default:
			t.Errorf("%s: EnvironmentFile %s: unknown to this test", followerUnit, path)
		}
	}
	for _, e := range unit.Values("Service", "Environment") {
		k, v, _ := strings.Cut(strings.Trim(e, `"`), "=")
		d.UnitEnv[k] = v
	}

	var entrypoint, cmd []string
	for _, in := range ParseDockerfile(readFile(t, dockerfile)) {
		var err error
		switch in.Cmd {
		case "ENTRYPOINT":
			entrypoint, err = ExecForm(in.Args)
		case "CMD":
			cmd, err = ExecForm(in.Args)
		case "ENV":
			t.Errorf("%s: ENV %s: configure the container in the task definition, as the unit does in its EnvironmentFile", dockerfile, in.Args)
		}
		if err != nil {
			t.Errorf("%s: %v", dockerfile, err)
		}
	}
	d.ImageExec = append(slices.Clone(entrypoint), cmd...)

	var td TaskDefinition
	if err := json.Unmarshal([]byte(readFile(t, taskDef)), &td); err != nil {
		t.Fatalf("%s: %v", taskDef, err)
	}
	c, ok := td.Container("nectar-follower")
	if !ok {
		t.Fatalf("%s: no container nectar-follower", taskDef)
	}
	// ECS runs the image's ENTRYPOINT and CMD where entryPoint and command are unset.
	ep, command := c.EntryPoint, c.Command
	if ep == nil {
		ep = entrypoint
	}
	if command == nil {
		command = cmd
	}
	d.ContainerExec = append(slices.Clone(ep), command...)
	d.ContainerEnv = map[string]string{}
	for _, e := range c.Environment {
		d.ContainerEnv[e.Name] = e.Value
	}
	valueFrom := regexp.MustCompile(`:([a-z_]+)::$`)
	for _, s := range c.Secrets {
		m := valueFrom.FindStringSubmatch(s.ValueFrom)
		if m == nil {
			t.Errorf("%s: secret %s: valueFrom %q does not name a JSON key (<arn>:<key>::)", taskDef, s.Name, s.ValueFrom)
			continue
		}
		d.ContainerEnv[s.Name] = "secret:" + m[1]
	}

	keys, err := DocKeys(readFile(t, deployDoc), "follower-keys")
	if err != nil {
		t.Fatalf("%s: %v", deployDoc, err)
	}
	d.DocKeys = keys
	return d
}

// TestFollowerUnitAndContainerAgree is the test 3: the systemd unit and the container
// definition start the same binary with the same configuration keys, the ones docs/deploy.md
// describes, and each is a real key of shared/config.
func TestFollowerUnitAndContainerAgree(t *testing.T) {
	d := followerDefinitions(t)
	noProblems(t, "follower", CompareFollower(d, EnvKeys()))
	if !slices.Equal(d.UnitExec, []string{"/usr/local/bin/nectar", "follow"}) {
		t.Errorf("unit runs %q, want /usr/local/bin/nectar follow", d.UnitExec)
	}
	want := map[string]string{
		"NECTAR_FOLLOWER_SINK":        config.SinkSQS,
		"NECTAR_FOLLOWER_NODE_SOCKET": "/var/lib/cardano/node.socket",
		"NECTAR_HTTP_ADDR":            config.DefaultHTTPAddr,
		"NECTAR_DB_SSL_MODE":          string(config.SSLVerifyIdentity),
	}
	for k, v := range want {
		if d.UnitEnv[k] != v {
			t.Errorf("%s=%q, want %q", k, d.UnitEnv[k], v)
		}
	}
	// The binary is the one built from ./follower/cmd/nectar, installed where the unit runs it.
	doc := readFile(t, deployDoc)
	df := readFile(t, dockerfile)
	for where, text := range map[string]string{dockerfile: df, deployDoc: doc} {
		if !strings.Contains(text, "./follower/cmd/nectar") {
			t.Errorf("%s does not build ./follower/cmd/nectar", where)
		}
	}
	if !strings.Contains(df, "COPY --from=build /out/nectar "+d.UnitExec[0]) {
		t.Errorf("%s does not install the binary at %s", dockerfile, d.UnitExec[0])
	}
	if !strings.Contains(doc, "nectar follow") {
		t.Errorf("%s does not show the command `nectar follow`", deployDoc)
	}
	// The node's socket is where the follower looks for it.
	node := ParseUnit(readFile(t, nodeUnit))
	exec := Exec(strings.Join(node.Values("Service", "ExecStart"), " "))
	if i := slices.Index(exec, "--socket-path"); i < 0 || i+1 >= len(exec) || exec[i+1] != d.UnitEnv["NECTAR_FOLLOWER_NODE_SOCKET"] {
		t.Errorf("cardano-node's --socket-path is not NECTAR_FOLLOWER_NODE_SOCKET (%s)", d.UnitEnv["NECTAR_FOLLOWER_NODE_SOCKET"])
	}

	t.Run("mutations", func(t *testing.T) {
		cases := []struct {
			name   string
			mutate func(*FollowerDefinitions)
			want   string
		}{
			{"container sets a key the unit does not", func(d *FollowerDefinitions) { d.ContainerEnv["NECTAR_LOG_LEVEL"] = "debug" }, "NECTAR_LOG_LEVEL: set by the container"},
			{"unit sets a key the container does not", func(d *FollowerDefinitions) { delete(d.ContainerEnv, "NECTAR_SQS_REGION") }, "NECTAR_SQS_REGION: set by the unit"},
			{"different sink", func(d *FollowerDefinitions) { d.ContainerEnv["NECTAR_FOLLOWER_SINK"] = "local" }, `the container "local"`},
			{"password from the environment", func(d *FollowerDefinitions) { d.ContainerEnv["NECTAR_DB_PASSWORD"] = "secret:password" }, "NECTAR_DB_PASSWORD: set by the container"},
			{"different command", func(d *FollowerDefinitions) { d.ContainerExec = []string{"/usr/local/bin/nectar", "verify"} }, "the task definition runs"},
			{"image runs something else", func(d *FollowerDefinitions) { d.ImageExec = []string{"/nectar"} }, "ENTRYPOINT+CMD"},
			{"docs miss a key", func(d *FollowerDefinitions) { d.DocKeys = d.DocKeys[1:] }, "docs/deploy.md does not list"},
			{"docs list a key nobody sets", func(d *FollowerDefinitions) { d.DocKeys = append(d.DocKeys, "NECTAR_FOLLOWER_CHUNK_DIR") }, "which the follower is not given"},
			{"a key that does not exist", func(d *FollowerDefinitions) {
				d.UnitEnv["NECTAR_SQS_QUEUE"] = "x"
				d.ContainerEnv["NECTAR_SQS_QUEUE"] = "x"
				d.DocKeys = append(d.DocKeys, "NECTAR_SQS_QUEUE")
			}, "NECTAR_SQS_QUEUE: not a configuration key"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				broken := d
				broken.UnitEnv, broken.ContainerEnv = maps.Clone(d.UnitEnv), maps.Clone(d.ContainerEnv)
				broken.DocKeys = slices.Clone(d.DocKeys)
				tc.mutate(&broken)
				if errs := CompareFollower(broken, EnvKeys()); !containsProblem(errs, tc.want) {
					t.Errorf("no problem mentions %q; got:\n%v", tc.want, errors.Join(errs...))
				}
			})
		}
	})
}

// TestFollowerConfigurationIsValid loads the unit's and the container's variables, with example
// values for the stack parameters and placeholders, through shared/config and validates them as
// `nectar follow` does.
const exampleSecretARN = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:nectar/mainnet/tidb-AbCdEf"

func TestFollowerConfigurationIsValid(t *testing.T) {
	stack := load(t, followerStack)
	d := followerDefinitions(t)
	examples := map[string]string{
		"${Network}": "mainnet", "NETWORK": "mainnet",
		"${AWS::Region}": "eu-central-1", "REGION": "eu-central-1", "ACCOUNT_ID": "123456789012", "STACK": "nectar-mainnet",
		"${HistoryQueueUrl}":   "https://sqs.eu-central-1.amazonaws.com/123456789012/nectar-mainnet-history",
		"${TipQueueUrl}":       "https://sqs.eu-central-1.amazonaws.com/123456789012/nectar-mainnet-tip.fifo",
		"${DatabaseSecretArn}": exampleSecretARN, "DATABASE_SECRET_ARN": exampleSecretARN,
	}
	for _, p := range []string{"BatchMaxMessageBytes", "BatchMaxBytes"} {
		v, err := stack.Scalar(ref(p), nil)
		if err != nil {
			t.Fatal(err)
		}
		examples["${"+p+"}"] = v
	}
	for name, env := range map[string]map[string]string{"unit": d.UnitEnv, "container": d.ContainerEnv} {
		t.Run(name, func(t *testing.T) {
			vars := map[string]string{}
			for k, v := range env {
				for ph, ex := range examples {
					v = strings.ReplaceAll(v, ph, ex)
				}
				vars[k] = v
			}
			cfg, err := config.Load(nil, func(k string) string { return vars[k] })
			if err != nil {
				t.Fatal(err)
			}
			if err := errors.Join(cfg.Validate(), cfg.ValidateFollower()); err != nil {
				t.Errorf("nectar follow would refuse this configuration: %v", err)
			}
			// The credentials come from the secret the follower reads itself, never from a variable.
			if cfg.Follower.Sink != config.SinkSQS || cfg.DB.SecretARN != exampleSecretARN {
				t.Errorf("loaded sink %q secret %q: the variables did not reach the config", cfg.Follower.Sink, cfg.DB.SecretARN)
			}
			if cfg.DB.Password != "" || cfg.DB.User != "" || cfg.DB.DSN != "" {
				t.Errorf("the %s sets database credentials in a variable; they belong in the secret", name)
			}
		})
	}
}

// TestFollowerMetricsShipped: every follower metric an alarm or the dashboard reads is one the
// follower registers, the CloudWatch agent scrapes from NECTAR_HTTP_ADDR and selects into
// Nectar/Follower with the dimension the alarms use; host metrics come from the agent's metrics
// section; the ingest function's EMF metrics are ones shared/lambdafn emits.
func TestFollowerMetricsShipped(t *testing.T) {
	app := load(t, "template.yaml")
	stack := load(t, followerStack)
	d := followerDefinitions(t)

	reg := prometheus.NewRegistry()
	m := follower.NewMetrics(reg)
	m.BatchesPublished.WithLabelValues("history", "batch") // a vector shows once it has a series
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	registered := map[string]bool{}
	metricLabels := map[string]map[string]bool{} // the follower's own labels per metric
	for _, f := range families {
		registered[f.GetName()] = true
		metricLabels[f.GetName()] = map[string]bool{}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				metricLabels[f.GetName()][l.GetName()] = true
			}
		}
	}

	var agent struct {
		Metrics struct {
			Namespace string                    `json:"namespace"`
			Collected map[string]map[string]any `json:"metrics_collected"`
		} `json:"metrics"`
		Logs struct {
			MetricsCollected struct {
				Prometheus struct {
					ConfigPath string `json:"prometheus_config_path"`
					EMF        struct {
						Namespace    string `json:"metric_namespace"`
						Declarations []struct {
							Dimensions [][]string `json:"dimensions"`
							Selectors  []string   `json:"metric_selectors"`
						} `json:"metric_declaration"`
					} `json:"emf_processor"`
				} `json:"prometheus"`
			} `json:"metrics_collected"`
		} `json:"logs"`
	}
	if err := json.Unmarshal([]byte(readFile(t, agentConfig)), &agent); err != nil {
		t.Fatalf("%s: %v", agentConfig, err)
	}
	prom := agent.Logs.MetricsCollected.Prometheus
	if prom.EMF.Namespace != FollowerNamespace || agent.Metrics.Namespace != FollowerNamespace {
		t.Errorf("agent namespaces %q and %q, want %s", prom.EMF.Namespace, agent.Metrics.Namespace, FollowerNamespace)
	}
	if _, ok := initFiles(t, stack)[prom.ConfigPath]; !ok || hostFiles[prom.ConfigPath] != scrapeConfig {
		t.Errorf("the agent reads %s, which the stack does not write from %s", prom.ConfigPath, scrapeConfig)
	}

	var scrape struct {
		ScrapeConfigs []struct {
			MetricsPath   string `yaml:"metrics_path"`
			StaticConfigs []struct {
				Targets []string          `yaml:"targets"`
				Labels  map[string]string `yaml:"labels"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal([]byte(readFile(t, scrapeConfig)), &scrape); err != nil {
		t.Fatalf("%s: %v", scrapeConfig, err)
	}
	labels := map[string]bool{"job": true}
	targets := 0
	for _, sc := range scrape.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			for _, tg := range st.Targets {
				targets++
				if tg != d.UnitEnv["NECTAR_HTTP_ADDR"] || sc.MetricsPath != "/metrics" {
					t.Errorf("the agent scrapes %s%s, the follower serves %s/metrics", tg, sc.MetricsPath, d.UnitEnv["NECTAR_HTTP_ADDR"])
				}
			}
			for l := range st.Labels {
				labels[l] = true
			}
		}
	}
	if targets == 0 {
		t.Errorf("%s scrapes nothing", scrapeConfig)
	}

	// selected returns the dimension sets the agent gives a follower metric.
	selected := func(name string) [][]string {
		var dims [][]string
		for _, decl := range prom.EMF.Declarations {
			for _, sel := range decl.Selectors {
				if regexp.MustCompile(sel).MatchString(name) {
					dims = append(dims, decl.Dimensions...)
				}
			}
		}
		return dims
	}
	for _, decl := range prom.EMF.Declarations {
		for _, sel := range decl.Selectors {
			re := regexp.MustCompile(sel)
			names := slices.Collect(maps.Keys(registered))
			if !slices.ContainsFunc(names, re.MatchString) {
				t.Errorf("agent selector %s matches no metric the follower registers", sel)
			}
			// A dimension is a label of the scrape or of every metric the selector picks.
			for _, set := range decl.Dimensions {
				for _, dim := range set {
					for _, name := range names {
						if re.MatchString(name) && !labels[dim] && !metricLabels[name][dim] {
							t.Errorf("agent dimension %s is no label of %s", dim, name)
						}
					}
				}
			}
		}
	}
	hostMetric := func(name string) bool {
		for plugin, conf := range agent.Metrics.Collected {
			for _, m := range Strings(conf["measurement"]) {
				if name == plugin+"_"+m {
					return true
				}
			}
		}
		return false
	}

	used := map[string][]string{} // metric -> dimension names
	for _, tmpl := range []Template{app, stack} {
		for _, a := range Alarms(tmpl) {
			if a.Namespace == FollowerNamespace {
				used[a.Metric] = slices.Sorted(maps.Keys(a.Dimensions))
			}
		}
	}
	dash, _ := CheckDashboards(app)
	for _, dm := range dash {
		if dm.Namespace == FollowerNamespace && used[dm.Name] == nil {
			used[dm.Name] = []string{"network"}
		}
	}
	// The functions' metrics: every emf.Metric named in shared/lambdafn (the ingest and verify handlers).
	var ingestSource string
	sources, _ := filepath.Glob(filepath.Join(root, "shared", "lambdafn", "*.go"))
	for _, f := range sources {
		if !strings.HasSuffix(f, "_test.go") {
			rel, _ := filepath.Rel(root, f)
			ingestSource += readFile(t, rel)
		}
	}
	for _, a := range append(Alarms(app), dashAlarms(dash)...) {
		if a.Namespace == "Nectar" && !strings.Contains(ingestSource, `Name: "`+a.Metric+`"`) {
			t.Errorf("%s reads Nectar/%s, which shared/lambdafn does not emit", a.Name, a.Metric)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(used)) {
		if hostMetric(name) {
			continue
		}
		if !registered[name] {
			t.Errorf("%s/%s: the follower registers no such metric", FollowerNamespace, name)
			continue
		}
		if !slices.ContainsFunc(selected(name), func(set []string) bool { return slices.Equal(set, used[name]) }) {
			t.Errorf("%s/%s: read with dimensions %v, but the agent ships it with %v", FollowerNamespace, name, used[name], selected(name))
		}
	}
}

func dashAlarms(dash []DashboardMetric) []Alarm {
	out := make([]Alarm, len(dash))
	for i, d := range dash {
		out[i] = Alarm{Name: "Dashboard", Namespace: d.Namespace, Metric: d.Name}
	}
	return out
}

// TestInfraFilesParse: every CloudFormation template under infra/ parses and passes the reference
// and parameter checks; every other YAML and JSON file there parses.
func TestInfraFilesParse(t *testing.T) {
	dir := filepath.Join(root, "infra")
	templates := 0
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			if e.Name() == "node_modules" {
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		switch filepath.Ext(path) {
		case ".yaml", ".yml", ".json":
		default:
			return nil
		}
		var doc map[string]any
		if err := yaml.Unmarshal(b, &doc); err != nil {
			if tmpl, terr := Parse(b); terr == nil && tmpl["Resources"] != nil {
				doc = tmpl // short-form intrinsics need the template parser
			} else {
				t.Errorf("%s: %v", rel, err)
				return nil
			}
		}
		if doc["Resources"] != nil {
			templates++
			tmpl, err := Parse(b)
			if err != nil {
				t.Errorf("%s: %v", rel, err)
				return nil
			}
			noProblems(t, rel, CheckReferences(tmpl))
			noProblems(t, rel, CheckParametersUsed(tmpl))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if templates == 0 {
		t.Error("no CloudFormation template under infra/")
	}
}

// TestDocs: docs/deploy.md describes every parameter of both stacks, and every NECTAR_* name the
// deployment docs mention is a real configuration key.
func TestDocs(t *testing.T) {
	deploy := readFile(t, deployDoc)
	for _, rel := range []string{"template.yaml", followerStack} {
		tmpl := load(t, rel)
		for _, p := range sortedKeys(tmpl.Section("Parameters")) {
			if !strings.Contains(deploy, "`"+p+"`") {
				t.Errorf("%s does not describe %s's parameter `%s`", deployDoc, rel, p)
			}
		}
	}
	known := EnvKeys()
	for _, rel := range []string{deployDoc, "docs/runbook.md", "docs/cost.md"} {
		for _, k := range MentionedKeys(readFile(t, rel)) {
			if !known[k] {
				t.Errorf("%s mentions %s, which is not a configuration key (see `nectar follow --help`)", rel, k)
			}
		}
	}
}
