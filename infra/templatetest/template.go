// Package templatetest checks Nectar's deployment definitions without AWS: the SAM application
// (template.yaml) and the follower's stack (infra/aws/follower.yaml) as raw JSON, and the
// follower's systemd unit, container definition and documentation against each other and against
// shared/config.
//
// Templates are read with goformation's intrinsics.ProcessYAML with NoProcess set: short-form tags
// (!Ref, !GetAtt, !Sub, ...) become their long forms and nothing is resolved or dropped.
// goformation's typed model is not used: it drops SAM fields (Events' ScalingConfig, Metadata).
//
// Each Check* function returns the problems it finds, each naming where it is; an empty result
// means the template passes. The tests run them on the real files and on mutated copies, so that a
// check that could never fail is caught too.
package templatetest

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/awslabs/goformation/v7/intrinsics"
)

// Template is a CloudFormation or SAM template as decoded JSON.
type Template map[string]any

// Load reads a YAML or JSON template into its raw JSON form.
func Load(path string) (Template, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(b)
}

// Parse decodes a YAML or JSON template.
func Parse(b []byte) (Template, error) {
	js, err := intrinsics.ProcessYAML(b, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	var t Template
	if err := json.Unmarshal(js, &t); err != nil {
		return nil, fmt.Errorf("decode template: %w", err)
	}
	// One form for GetAtt, so that expressions compare equal: "R.A" becomes ["R", "A"].
	walk(map[string]any(t), "", func(m map[string]any, _ string) {
		if s, ok := m["Fn::GetAtt"].(string); ok && len(m) == 1 {
			if r, a, ok := strings.Cut(s, "."); ok {
				m["Fn::GetAtt"] = []any{r, a}
			}
		}
	})
	return t, nil
}

// Clone returns a deep copy, for tests that mutate a template.
func (t Template) Clone() Template {
	b, err := json.Marshal(t)
	if err != nil {
		panic(err) // a decoded template always encodes
	}
	var c Template
	if err := json.Unmarshal(b, &c); err != nil {
		panic(err)
	}
	return c
}

// Section returns a top-level section (Parameters, Resources, ...), or an empty map.
func (t Template) Section(name string) map[string]any {
	m, _ := t[name].(map[string]any)
	if m == nil {
		return map[string]any{}
	}
	return m
}

// Resource is one entry of Resources.
type Resource struct {
	Name string
	Type string
	Raw  map[string]any
}

// Properties returns the resource's Properties (empty when it has none).
func (r Resource) Properties() map[string]any {
	m, _ := r.Raw["Properties"].(map[string]any)
	if m == nil {
		return map[string]any{}
	}
	return m
}

// Resources returns the resources sorted by name.
func (t Template) Resources() []Resource {
	res := t.Section("Resources")
	out := make([]Resource, 0, len(res))
	for _, name := range sortedKeys(res) {
		raw, _ := res[name].(map[string]any)
		typ, _ := raw["Type"].(string)
		out = append(out, Resource{Name: name, Type: typ, Raw: raw})
	}
	return out
}

// ResourcesOfType returns the resources of one type, sorted by name.
func (t Template) ResourcesOfType(typ string) []Resource {
	var out []Resource
	for _, r := range t.Resources() {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// Resource returns the named resource.
func (t Template) Resource(name string) (Resource, bool) {
	raw, ok := t.Section("Resources")[name].(map[string]any)
	if !ok {
		return Resource{}, false
	}
	typ, _ := raw["Type"].(string)
	return Resource{Name: name, Type: typ, Raw: raw}, true
}

// Parameter returns the named parameter's declaration.
func (t Template) Parameter(name string) (map[string]any, bool) {
	p, ok := t.Section("Parameters")[name].(map[string]any)
	return p, ok
}

// PseudoParameters are the names every template may Ref.
var PseudoParameters = map[string]bool{
	"AWS::AccountId": true, "AWS::NotificationARNs": true, "AWS::NoValue": true, "AWS::Partition": true,
	"AWS::Region": true, "AWS::StackId": true, "AWS::StackName": true, "AWS::URLSuffix": true,
}

// RefTarget is what a Ref names, or what a GetAtt (Attr set) reads.
type RefTarget struct {
	Name string
	Attr string // the attribute a GetAtt or Fn::Sub ${Name.Attr} reads; SAM's Ref Name.Version
	Ref  bool   // a Ref (not a GetAtt)
	Path string // where it occurs
}

// Sub splits an Fn::Sub value into its template string and its variable map.
func Sub(v any) (string, map[string]any, bool) {
	switch s := v.(type) {
	case string:
		return s, nil, true
	case []any:
		if len(s) == 0 {
			return "", nil, false
		}
		str, ok := s[0].(string)
		if !ok {
			return "", nil, false
		}
		vars := map[string]any{}
		if len(s) > 1 {
			vars, _ = s[1].(map[string]any)
		}
		return str, vars, true
	}
	return "", nil, false
}

var subVar = regexp.MustCompile(`\$\{([^}]*)\}`)

// SubVariables returns the ${...} names of an Fn::Sub string, without ${!literals}.
func SubVariables(s string) []string {
	var out []string
	for _, m := range subVar.FindAllStringSubmatch(s, -1) {
		if strings.HasPrefix(m[1], "!") {
			continue
		}
		out = append(out, strings.TrimSpace(m[1]))
	}
	return out
}

// GetAtt returns the resource and attribute of an Fn::GetAtt value (["R", "A"] or "R.A").
func GetAtt(v any) (res, attr string, ok bool) {
	switch g := v.(type) {
	case string:
		res, attr, ok = strings.Cut(g, ".")
		return res, attr, ok
	case []any:
		if len(g) != 2 {
			return "", "", false
		}
		res, ok1 := g[0].(string)
		attr, ok2 := g[1].(string)
		return res, attr, ok1 && ok2
	}
	return "", "", false
}

// References returns every Ref, GetAtt and Fn::Sub variable under v (Fn::Sub variables with a
// dot are GetAtts), with the path where each occurs. Names bound by an Fn::Sub variable map are
// not references.
func References(v any, path string) []RefTarget {
	var out []RefTarget
	walk(v, path, func(m map[string]any, p string) {
		if len(m) != 1 {
			return
		}
		for k, val := range m {
			switch k {
			case "Ref":
				if s, ok := val.(string); ok {
					name, attr, _ := strings.Cut(s, ".") // SAM: Ref Function.Version
					out = append(out, RefTarget{Name: name, Attr: attr, Ref: true, Path: p})
				}
			case "Fn::GetAtt":
				if r, a, ok := GetAtt(val); ok {
					out = append(out, RefTarget{Name: r, Attr: a, Path: p})
				} else {
					out = append(out, RefTarget{Name: fmt.Sprint(val), Attr: "?", Path: p})
				}
			case "Fn::Sub":
				s, vars, ok := Sub(val)
				if !ok {
					return
				}
				for _, name := range SubVariables(s) {
					if _, bound := vars[name]; bound {
						continue
					}
					r, a, _ := strings.Cut(name, ".")
					out = append(out, RefTarget{Name: r, Attr: a, Path: p})
				}
			}
		}
	})
	return out
}

// walk calls fn for every map under v, depth first, with its path.
func walk(v any, path string, fn func(m map[string]any, path string)) {
	switch x := v.(type) {
	case map[string]any:
		fn(x, path)
		for _, k := range sortedKeys(x) {
			walk(x[k], path+"."+k, fn)
		}
	case []any:
		for i, e := range x {
			walk(e, fmt.Sprintf("%s[%d]", path, i), fn)
		}
	}
}

// Strings returns v as a list of strings: a string, or a list of strings.
func Strings(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// Canonical renders a JSON value compactly, for comparing intrinsic expressions.
func Canonical(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// IsRef reports whether v is {"Ref": name}.
func IsRef(v any, name string) bool {
	m, ok := v.(map[string]any)
	return ok && len(m) == 1 && m["Ref"] == name
}

// RefName returns the name of {"Ref": name}.
func RefName(v any) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", false
	}
	s, ok := m["Ref"].(string)
	return s, ok
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
