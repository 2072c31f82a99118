package deploy_test

import (
	"encoding/base64"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// This file evaluates a CloudFormation template the way CloudFormation does
// for the intrinsic functions the stocklake templates use, so the tests see
// the UserData and tags an instance gets. It resolves parameters (defaults or
// overrides), pseudo parameters, conditions, Fn::Sub (both forms, ${!x}
// escapes), Fn::If, Fn::Base64, Fn::ImportValue and given resource
// attributes; anything it cannot resolve is an error, which also catches
// references to missing parameters, conditions and resources.
//
// (awslabs/goformation's intrinsics package was considered: it resolves
// Fn::Sub's two-argument form only for the listed variables, drops
// unresolvable references silently and hard-codes the pseudo parameters.)

// noValue is AWS::NoValue: the property or list item is removed.
type noValue struct{}

// template is a parsed CloudFormation template.
type template struct {
	path string
	doc  map[string]any
}

// cfnTags maps YAML short forms to long-form function names.
var cfnTags = map[string]string{
	"!Ref": "Ref", "!Condition": "Condition", "!Sub": "Fn::Sub", "!If": "Fn::If",
	"!Equals": "Fn::Equals", "!Not": "Fn::Not", "!And": "Fn::And", "!Or": "Fn::Or",
	"!GetAtt": "Fn::GetAtt", "!Base64": "Fn::Base64", "!ImportValue": "Fn::ImportValue",
	"!Join": "Fn::Join", "!Select": "Fn::Select", "!Split": "Fn::Split",
	"!GetAZs": "Fn::GetAZs", "!Cidr": "Fn::Cidr", "!FindInMap": "Fn::FindInMap",
}

func loadTemplate(path string) (*template, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var n yaml.Node
	if err := yaml.Unmarshal(b, &n); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	v, err := fromNode(&n)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: not a mapping", path)
	}
	return &template{path: path, doc: doc}, nil
}

// fromNode converts YAML to Go values, short-form tags to long form.
func fromNode(n *yaml.Node) (any, error) {
	var v any
	switch n.Kind {
	case yaml.DocumentNode:
		return fromNode(n.Content[0])
	case yaml.AliasNode:
		return fromNode(n.Alias)
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			val, err := fromNode(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = val
		}
		v = m
	case yaml.SequenceNode:
		l := []any{}
		for _, c := range n.Content {
			val, err := fromNode(c)
			if err != nil {
				return nil, err
			}
			l = append(l, val)
		}
		v = l
	case yaml.ScalarNode:
		v = n.Value
	}
	if !strings.HasPrefix(n.Tag, "!") || strings.HasPrefix(n.Tag, "!!") {
		return v, nil
	}
	fn, ok := cfnTags[n.Tag]
	if !ok {
		return nil, fmt.Errorf("line %d: unknown tag %s", n.Line, n.Tag)
	}
	if fn == "Fn::GetAtt" {
		if s, ok := v.(string); ok {
			a, b, _ := strings.Cut(s, ".")
			v = []any{a, b}
		}
	}
	return map[string]any{fn: v}, nil
}

func (t *template) section(name string) map[string]any {
	m, _ := t.doc[name].(map[string]any)
	return m
}

// stack is a template with values for everything outside it.
type stack struct {
	t       *template
	params  map[string]string // overrides of parameter defaults
	pseudo  map[string]string // AWS::Region, AWS::StackName, ...
	attrs   map[string]string // "Res" (Ref of a resource) and "Res.Attr" (Fn::GetAtt); default "<Res>", "<Res.Attr>"
	imports map[string]string // Fn::ImportValue names
	used    map[string]bool   // the imports used
	conds   map[string]bool
}

func newStack(t *template, params, attrs, imports map[string]string) *stack {
	return &stack{
		t:      t,
		params: params,
		pseudo: map[string]string{
			"AWS::Region":    "us-east-1",
			"AWS::AccountId": "123456789012",
			"AWS::Partition": "aws",
			"AWS::StackName": "stocklake",
			"AWS::StackId":   "arn:aws:cloudformation:us-east-1:123456789012:stack/stocklake/fc9b4e70-ca7c-11f0-8de9-0afffd3b1a5f",
			"AWS::URLSuffix": "amazonaws.com",
		},
		attrs:   attrs,
		imports: imports,
		used:    map[string]bool{},
		conds:   map[string]bool{},
	}
}

func (s *stack) param(name string) (string, bool) {
	p, ok := s.t.section("Parameters")[name].(map[string]any)
	if !ok {
		return "", false
	}
	if v, ok := s.params[name]; ok {
		return v, true
	}
	def, ok := p["Default"]
	if !ok {
		return "", false
	}
	return fmt.Sprint(def), true
}

// ref resolves Ref NAME.
func (s *stack) ref(name string) (any, error) {
	if name == "AWS::NoValue" {
		return noValue{}, nil
	}
	if v, ok := s.pseudo[name]; ok {
		return v, nil
	}
	if v, ok := s.param(name); ok {
		return v, nil
	}
	if _, ok := s.t.section("Parameters")[name]; ok {
		return nil, fmt.Errorf("parameter %s has no default and no value", name)
	}
	if _, ok := s.t.section("Resources")[name]; !ok {
		return nil, fmt.Errorf("Ref %s: no such parameter or resource", name)
	}
	if ok, err := s.resourceExists(name); err != nil || !ok {
		return nil, fmt.Errorf("Ref %s: resource is not created (condition false): %v", name, err)
	}
	if v, ok := s.attrs[name]; ok {
		return v, nil
	}
	return "<" + name + ">", nil
}

func (s *stack) getAtt(res, attr string) (any, error) {
	if _, ok := s.t.section("Resources")[res]; !ok {
		return nil, fmt.Errorf("Fn::GetAtt %s.%s: no such resource", res, attr)
	}
	if ok, err := s.resourceExists(res); err != nil || !ok {
		return nil, fmt.Errorf("Fn::GetAtt %s.%s: resource is not created (condition false): %v", res, attr, err)
	}
	if v, ok := s.attrs[res+"."+attr]; ok {
		return v, nil
	}
	return "<" + res + "." + attr + ">", nil
}

// condition evaluates the named condition.
func (s *stack) condition(name string) (bool, error) {
	if v, ok := s.conds[name]; ok {
		return v, nil
	}
	expr, ok := s.t.section("Conditions")[name]
	if !ok {
		return false, fmt.Errorf("no condition %s", name)
	}
	v, err := s.eval(expr)
	if err != nil {
		return false, fmt.Errorf("condition %s: %v", name, err)
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("condition %s is not a boolean: %v", name, v)
	}
	s.conds[name] = b
	return b, nil
}

func (s *stack) resourceExists(name string) (bool, error) {
	r, ok := s.t.section("Resources")[name].(map[string]any)
	if !ok {
		return false, fmt.Errorf("no resource %s", name)
	}
	c, ok := r["Condition"].(string)
	if !ok {
		return true, nil
	}
	return s.condition(c)
}

// resource returns a created resource's evaluated Properties, or nil when
// its condition is false.
func (s *stack) resource(name string) (map[string]any, error) {
	ok, err := s.resourceExists(name)
	if err != nil || !ok {
		return nil, err
	}
	r := s.t.section("Resources")[name].(map[string]any)
	v, err := s.eval(r["Properties"])
	if err != nil {
		return nil, fmt.Errorf("resource %s: %v", name, err)
	}
	m, _ := v.(map[string]any)
	return m, nil
}

// ingressRules returns the ingress rules of the created security groups
// (their SecurityGroupIngress) and of the stand-alone
// AWS::EC2::SecurityGroupIngress resources, by resource name.
func (s *stack) ingressRules() map[string][]map[string]any {
	out := map[string][]map[string]any{}
	for name, r := range s.t.section("Resources") {
		typ := r.(map[string]any)["Type"]
		props, err := s.resource(name)
		if err != nil || props == nil {
			continue
		}
		var rules []any
		switch typ {
		case "AWS::EC2::SecurityGroupIngress":
			rules = []any{props}
		case "AWS::EC2::SecurityGroup":
			rules, _ = props["SecurityGroupIngress"].([]any)
		}
		for _, rule := range rules {
			out[name] = append(out[name], rule.(map[string]any))
		}
	}
	return out
}

var subVar = regexp.MustCompile(`\$\{([^}]*)\}`)

// sub implements Fn::Sub.
func (s *stack) sub(str string, vars map[string]any) (string, error) {
	var firstErr error
	out := subVar.ReplaceAllStringFunc(str, func(m string) string {
		name := m[2 : len(m)-1]
		if strings.HasPrefix(name, "!") {
			return "${" + name[1:] + "}"
		}
		var v any
		var err error
		if val, ok := vars[name]; ok {
			v = val
		} else if res, attr, ok := strings.Cut(name, "."); ok {
			v, err = s.getAtt(res, attr)
		} else {
			v, err = s.ref(name)
		}
		if err == nil {
			if _, ok := v.(string); !ok {
				err = fmt.Errorf("${%s} is not a string: %v", name, v)
			}
		}
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("Fn::Sub: %v", err)
			}
			return m
		}
		return v.(string)
	})
	return out, firstErr
}

func asString(v any, what string) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	}
	return "", fmt.Errorf("%s: want a string, got %T %v", what, v, v)
}

// eval resolves every intrinsic function in v.
func (s *stack) eval(v any) (any, error) {
	switch x := v.(type) {
	case []any:
		out := []any{}
		for _, e := range x {
			r, err := s.eval(e)
			if err != nil {
				return nil, err
			}
			if _, skip := r.(noValue); !skip {
				out = append(out, r)
			}
		}
		return out, nil
	case map[string]any:
		if len(x) == 1 {
			for k, arg := range x {
				if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
					return s.fn(k, arg)
				}
			}
		}
		out := map[string]any{}
		for k, e := range x {
			r, err := s.eval(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", k, err)
			}
			if _, skip := r.(noValue); !skip {
				out[k] = r
			}
		}
		return out, nil
	}
	return v, nil
}

func (s *stack) fn(name string, arg any) (any, error) {
	list, _ := arg.([]any)
	switch name {
	case "Ref":
		n, err := asString(arg, "Ref")
		if err != nil {
			return nil, err
		}
		return s.ref(n)
	case "Condition":
		n, err := asString(arg, "Condition")
		if err != nil {
			return nil, err
		}
		return s.condition(n)
	case "Fn::GetAtt":
		if len(list) != 2 {
			return nil, fmt.Errorf("Fn::GetAtt: want [resource, attribute], got %v", arg)
		}
		return s.getAtt(fmt.Sprint(list[0]), fmt.Sprint(list[1]))
	case "Fn::If":
		if len(list) != 3 {
			return nil, fmt.Errorf("Fn::If: want 3 arguments, got %v", arg)
		}
		c, err := s.condition(fmt.Sprint(list[0]))
		if err != nil {
			return nil, err
		}
		if c {
			return s.eval(list[1])
		}
		return s.eval(list[2])
	case "Fn::Equals":
		if len(list) != 2 {
			return nil, fmt.Errorf("Fn::Equals: want 2 arguments")
		}
		a, err := s.eval(list[0])
		if err != nil {
			return nil, err
		}
		b, err := s.eval(list[1])
		if err != nil {
			return nil, err
		}
		return fmt.Sprint(a) == fmt.Sprint(b), nil
	case "Fn::Not", "Fn::And", "Fn::Or":
		var vals []bool
		for _, e := range list {
			r, err := s.eval(e)
			if err != nil {
				return nil, err
			}
			b, ok := r.(bool)
			if !ok {
				return nil, fmt.Errorf("%s: %v is not a boolean", name, r)
			}
			vals = append(vals, b)
		}
		switch name {
		case "Fn::Not":
			if len(vals) != 1 {
				return nil, fmt.Errorf("Fn::Not: want 1 argument")
			}
			return !vals[0], nil
		case "Fn::And":
			return !slices.Contains(vals, false), nil
		}
		return slices.Contains(vals, true), nil
	case "Fn::Sub":
		vars := map[string]any{}
		str, isString := arg.(string)
		if !isString {
			if len(list) != 2 {
				return nil, fmt.Errorf("Fn::Sub: want a string or [string, variables]")
			}
			var err error
			if str, err = asString(list[0], "Fn::Sub"); err != nil {
				return nil, err
			}
			m, _ := list[1].(map[string]any)
			for k, e := range m {
				r, err := s.eval(e)
				if err != nil {
					return nil, fmt.Errorf("Fn::Sub variable %s: %v", k, err)
				}
				vars[k] = r
			}
		}
		return s.sub(str, vars)
	case "Fn::Base64":
		r, err := s.eval(arg)
		if err != nil {
			return nil, err
		}
		str, err := asString(r, name)
		if err != nil {
			return nil, err
		}
		return base64.StdEncoding.EncodeToString([]byte(str)), nil
	case "Fn::ImportValue":
		r, err := s.eval(arg)
		if err != nil {
			return nil, err
		}
		n, err := asString(r, name)
		if err != nil {
			return nil, err
		}
		v, ok := s.imports[n]
		if !ok {
			return nil, fmt.Errorf("Fn::ImportValue %s: no such export", n)
		}
		s.used[n] = true
		return v, nil
	case "Fn::Select":
		if len(list) != 2 {
			return nil, fmt.Errorf("Fn::Select: want [index, list]")
		}
		i, err := strconv.Atoi(fmt.Sprint(list[0]))
		if err != nil {
			return nil, fmt.Errorf("Fn::Select: index %v", list[0])
		}
		r, err := s.eval(list[1])
		if err != nil {
			return nil, err
		}
		l, ok := r.([]any)
		if !ok || i < 0 || i >= len(l) {
			return nil, fmt.Errorf("Fn::Select: %d out of %v", i, r)
		}
		return l[i], nil
	case "Fn::GetAZs":
		r := s.pseudo["AWS::Region"]
		return []any{r + "a", r + "b", r + "c"}, nil
	case "Fn::Cidr":
		if len(list) != 3 {
			return nil, fmt.Errorf("Fn::Cidr: want 3 arguments")
		}
		if _, err := s.eval(list[0]); err != nil {
			return nil, err
		}
		n, err := strconv.Atoi(fmt.Sprint(list[1]))
		if err != nil {
			return nil, fmt.Errorf("Fn::Cidr: count %v", list[1])
		}
		var out []any
		for i := range n {
			out = append(out, fmt.Sprintf("<cidr %d>", i))
		}
		return out, nil
	case "Fn::Join":
		if len(list) != 2 {
			return nil, fmt.Errorf("Fn::Join: want [delimiter, list]")
		}
		r, err := s.eval(list[1])
		if err != nil {
			return nil, err
		}
		l, _ := r.([]any)
		parts := make([]string, len(l))
		for i, e := range l {
			if parts[i], err = asString(e, name); err != nil {
				return nil, err
			}
		}
		return strings.Join(parts, fmt.Sprint(list[0])), nil
	}
	return nil, fmt.Errorf("%s is not supported by this test's evaluator", name)
}
