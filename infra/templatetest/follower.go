package templatetest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Unit is a systemd unit file: its directives by section, in order.
type Unit map[string][][2]string

// ParseUnit parses a systemd unit: [Section] headers, Key=Value lines, backslash continuations,
// comments starting with # or ;.
func ParseUnit(text string) Unit {
	u := Unit{}
	section := ""
	var pending string
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if pending == "" && (line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";")) {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			pending += strings.TrimSuffix(line, "\\") + " "
			continue
		}
		line, pending = pending+line, ""
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = strings.Trim(line, "[]")
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if ok {
			u[section] = append(u[section], [2]string{strings.TrimSpace(k), strings.TrimSpace(v)})
		}
	}
	return u
}

// Values returns every value of a key in a section, in order.
func (u Unit) Values(section, key string) []string {
	var out []string
	for _, kv := range u[section] {
		if kv[0] == key {
			out = append(out, kv[1])
		}
	}
	return out
}

// Exec returns the command line of an Exec* value, without systemd's prefixes (-, +, @, !, :).
func Exec(v string) []string {
	return strings.Fields(strings.TrimLeft(v, "-+@!:"))
}

// EnvVar is one line of an environment file.
type EnvVar struct{ Name, Value string }

// ParseEnvFile parses NAME=VALUE lines (comments and blank lines skipped; one level of single or
// double quotes removed), as systemd's EnvironmentFile reads them.
func ParseEnvFile(text string) ([]EnvVar, error) {
	var out []EnvVar
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: not NAME=VALUE", i+1)
		}
		if len(v) >= 2 && (v[0] == '\'' || v[0] == '"') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		out = append(out, EnvVar{strings.TrimSpace(k), v})
	}
	return out, nil
}

// Instruction is one Dockerfile instruction.
type Instruction struct{ Cmd, Args string }

// ParseDockerfile returns the instructions (continuations joined, comments skipped).
func ParseDockerfile(text string) []Instruction {
	var out []Instruction
	var pending string
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if pending == "" && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			pending += strings.TrimSuffix(trimmed, "\\") + " "
			continue
		}
		full := pending + trimmed
		pending = ""
		cmd, args, _ := strings.Cut(full, " ")
		out = append(out, Instruction{strings.ToUpper(cmd), strings.TrimSpace(args)})
	}
	return out
}

// ExecForm decodes an exec-form (JSON array) ENTRYPOINT or CMD.
func ExecForm(args string) ([]string, error) {
	var out []string
	if err := json.Unmarshal([]byte(args), &out); err != nil {
		return nil, fmt.Errorf("not an exec-form JSON array: %s", args)
	}
	return out, nil
}

// TaskDefinition is the part of an ECS task definition these checks read.
type TaskDefinition struct {
	ContainerDefinitions []ContainerDefinition `json:"containerDefinitions"`
}

// ContainerDefinition is one container of a task definition.
type ContainerDefinition struct {
	Name        string   `json:"name"`
	EntryPoint  []string `json:"entryPoint"`
	Command     []string `json:"command"`
	Environment []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"environment"`
	Secrets []struct {
		Name      string `json:"name"`
		ValueFrom string `json:"valueFrom"`
	} `json:"secrets"`
	MountPoints []struct {
		ContainerPath string `json:"containerPath"`
		ReadOnly      bool   `json:"readOnly"`
	} `json:"mountPoints"`
}

// Container returns the named container.
func (td TaskDefinition) Container(name string) (ContainerDefinition, bool) {
	for _, c := range td.ContainerDefinitions {
		if c.Name == name {
			return c, true
		}
	}
	return ContainerDefinition{}, false
}

var envName = regexp.MustCompile(`\bNECTAR_[A-Z0-9_]+\b`)

// MentionedKeys returns every NECTAR_* name in a text, sorted and unique.
func MentionedKeys(text string) []string {
	set := map[string]bool{}
	for _, k := range envName.FindAllString(text, -1) {
		set[k] = true
	}
	return sortedKeys(toAny(set))
}

// DocKeys returns the NECTAR_* names in the first column of the table between the lines
// "<!-- name -->" and "<!-- /name -->" of a Markdown document.
func DocKeys(md, name string) ([]string, error) {
	start, end := "<!-- "+name+" -->", "<!-- /"+name+" -->"
	i := strings.Index(md, start)
	j := strings.Index(md, end)
	if i < 0 || j < i {
		return nil, fmt.Errorf("no %s ... %s block", start, end)
	}
	var keys []string
	for _, line := range strings.Split(md[i+len(start):j], "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if k := envName.FindString(cells[0]); k != "" {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("the %s table lists no NECTAR_* variable", name)
	}
	return keys, nil
}

// FollowerDefinitions are the follower's systemd unit and container definition, reduced to what
// must agree: the command and the configuration. Variable values are literal values, a
// "${Parameter}" of the follower stack, a container placeholder, or "secret:<key>" for a value
// taken from the database secret's JSON key.
type FollowerDefinitions struct {
	UnitExec      []string          // nectar-follower.service ExecStart
	UnitEnv       map[string]string // its EnvironmentFiles
	ImageExec     []string          // the Dockerfile's ENTRYPOINT + CMD
	ContainerExec []string          // the task definition's entryPoint + command (the image's when unset)
	ContainerEnv  map[string]string // the task definition's environment and secrets
	DocKeys       []string          // the variables docs/deploy.md lists for the follower
}

// CompareFollower checks that the unit and the container run the same command with the same
// variables, that literal values agree and secrets come from the same JSON keys, that the docs list
// exactly those variables, and that every variable is a configuration key (known: EnvKeys).
func CompareFollower(d FollowerDefinitions, known map[string]bool) []error {
	var p problems
	if len(d.UnitExec) == 0 {
		p.add("nectar-follower.service: no ExecStart")
	}
	if !slices.Equal(d.UnitExec, d.ImageExec) {
		p.add("the unit runs %q but the image's ENTRYPOINT+CMD is %q", d.UnitExec, d.ImageExec)
	}
	if !slices.Equal(d.UnitExec, d.ContainerExec) {
		p.add("the unit runs %q but the task definition runs %q", d.UnitExec, d.ContainerExec)
	}
	for _, k := range union(d.UnitEnv, d.ContainerEnv) {
		u, inUnit := d.UnitEnv[k]
		c, inContainer := d.ContainerEnv[k]
		switch {
		case !inUnit:
			p.add("%s: set by the container, not by the unit", k)
		case !inContainer:
			p.add("%s: set by the unit, not by the container", k)
		case strings.HasPrefix(u, "secret:") || strings.HasPrefix(c, "secret:"):
			if u != c {
				p.add("%s: the unit takes %q, the container %q", k, u, c)
			}
		case !strings.Contains(u, "${") && u != c:
			p.add("%s: the unit sets %q, the container %q", k, u, c)
		}
		if !known[k] {
			p.add("%s: not a configuration key of shared/config", k)
		}
	}
	docs := map[string]bool{}
	for _, k := range d.DocKeys {
		docs[k] = true
		if _, ok := d.UnitEnv[k]; !ok {
			p.add("docs/deploy.md lists %s, which the follower is not given", k)
		}
	}
	for k := range d.UnitEnv {
		if !docs[k] {
			p.add("docs/deploy.md does not list %s", k)
		}
	}
	sort.Slice(p, func(i, j int) bool { return p[i].Error() < p[j].Error() })
	return p
}

func union(a, b map[string]string) []string {
	set := map[string]any{}
	for k := range a {
		set[k] = true
	}
	for k := range b {
		set[k] = true
	}
	return sortedKeys(set)
}
