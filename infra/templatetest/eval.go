package templatetest

import (
	"fmt"
	"sort"
	"strconv"
)

// scalar renders a JSON scalar as CloudFormation sees a parameter value: a string.
func scalar(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// Candidates returns the values of a parameter that a bound can depend on: its AllowedValues, or
// else whichever of Default, MinValue and MaxValue it declares.
func (t Template) Candidates(param string) []string {
	p, ok := t.Parameter(param)
	if !ok {
		return nil
	}
	var out []string
	if av, ok := p["AllowedValues"].([]any); ok {
		for _, v := range av {
			if s, ok := scalar(v); ok {
				out = append(out, s)
			}
		}
		return out
	}
	seen := map[string]bool{}
	for _, k := range []string{"Default", "MinValue", "MaxValue"} {
		if s, ok := scalar(p[k]); ok && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// MinNumber returns the smallest value a parameter can take (from AllowedValues, MinValue or
// Default) and whether it has a lower bound at all.
func (t Template) MinNumber(param string) (float64, bool) {
	p, ok := t.Parameter(param)
	if !ok {
		return 0, false
	}
	if av, ok := p["AllowedValues"].([]any); ok && len(av) > 0 {
		low, found := 0.0, false
		for _, v := range av {
			s, _ := scalar(v)
			f, err := strconv.ParseFloat(s, 64)
			if err == nil && (!found || f < low) {
				low, found = f, true
			}
		}
		return low, found
	}
	if s, ok := scalar(p["MinValue"]); ok {
		f, err := strconv.ParseFloat(s, 64)
		return f, err == nil
	}
	return 0, false
}

// ParamsIn returns the template parameters Ref'd under v, sorted.
func (t Template) ParamsIn(v any) []string {
	set := map[string]bool{}
	for _, r := range References(v, "") {
		if _, ok := t.Parameter(r.Name); ok && r.Attr == "" {
			set[r.Name] = true
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Assignments returns every combination of the parameters' candidate values.
func (t Template) Assignments(params []string) []map[string]string {
	out := []map[string]string{{}}
	for _, p := range params {
		var next []map[string]string
		for _, a := range out {
			for _, v := range t.Candidates(p) {
				c := map[string]string{p: v}
				for k, x := range a {
					c[k] = x
				}
				next = append(next, c)
			}
		}
		out = next
	}
	return out
}

// Number evaluates v to a number with the parameters set as in assign. It understands number
// literals, numeric strings, Refs to parameters and Fn::FindInMap (keys literal or Refs).
func (t Template) Number(v any, assign map[string]string) (float64, error) {
	s, err := t.Scalar(v, assign)
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	return f, nil
}

// Scalar evaluates v to a string with the parameters set as in assign (see Number).
func (t Template) Scalar(v any, assign map[string]string) (string, error) {
	if s, ok := scalar(v); ok {
		return s, nil
	}
	if name, ok := RefName(v); ok {
		if val, ok := assign[name]; ok {
			return val, nil
		}
		if p, ok := t.Parameter(name); ok {
			if s, ok := scalar(p["Default"]); ok {
				return s, nil
			}
			return "", fmt.Errorf("parameter %s has no value", name)
		}
		return "", fmt.Errorf("cannot evaluate Ref %s", name)
	}
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", fmt.Errorf("cannot evaluate %s", Canonical(v))
	}
	if args, ok := m["Fn::FindInMap"].([]any); ok && len(args) == 3 {
		var keys [3]string
		for i, a := range args {
			k, err := t.Scalar(a, assign)
			if err != nil {
				return "", err
			}
			keys[i] = k
		}
		top, ok := t.Section("Mappings")[keys[0]].(map[string]any)
		if !ok {
			return "", fmt.Errorf("no mapping %s", keys[0])
		}
		second, ok := top[keys[1]].(map[string]any)
		if !ok {
			return "", fmt.Errorf("mapping %s has no key %s", keys[0], keys[1])
		}
		val, ok := second[keys[2]]
		if !ok {
			return "", fmt.Errorf("mapping %s.%s has no key %s", keys[0], keys[1], keys[2])
		}
		return t.Scalar(val, assign)
	}
	return "", fmt.Errorf("cannot evaluate %s", Canonical(v))
}
