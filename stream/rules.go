package stream

import (
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/stocklake/stocklake"
)

// Direction is which way a rule's value must move to fire.
type Direction string

// Directions.
const (
	Up     Direction = "up"
	Down   Direction = "down"
	Either Direction = "either"
)

// Rule defaults.
const (
	// DefaultCooldown is the cooldown of rules from a file that set none.
	DefaultCooldown = time.Minute
	// DefaultRuleBars is the number of previous bars volume_spike and zscore
	// rules compare against when Bars is 0.
	DefaultRuleBars = 20
)

// Rule is one alert rule. Kinds and their fields:
//
//   - cross: Level (> 0), Direction; Window optional. Without a window it is
//     checked on every tick against the symbol's previous tick (arrival
//     order): up fires when previous < Level <= price, down when previous >
//     Level >= price. With a window it compares the closes of successive
//     final bars instead.
//   - move: Window, Percent (> 0), Direction. On each final bar, the move
//     (close-open)/open*100 fires up when >= Percent, down when <= -Percent.
//   - volume_spike: Window, Factor (> 0), Bars. Fires when a final bar's
//     volume >= Factor * the mean volume of the Bars bars before it (when
//     that mean is > 0). Value is volume/mean.
//   - zscore: Window, Threshold (> 0), Of ("close" or "volume"), Bars,
//     Direction. Fires when (x - mean) / stddev over the Bars bars before
//     this one is >= Threshold (up), <= -Threshold (down).
//
// Each firing starts a cooldown per rule and symbol: the rule does not fire
// again for that symbol for an event earlier than the last alert's Time +
// Cooldown.
type Rule struct {
	Name      string
	Kind      string        // stocklake.AlertCross, AlertMove, AlertVolumeSpike or AlertZScore
	Symbols   []string      // symbols the rule watches; empty or "*" for all
	Window    time.Duration // bar window; required except for cross
	Direction Direction     // default Either
	Level     float64       // cross: price level
	Percent   float64       // move: percent, e.g. 2 for 2%
	Factor    float64       // volume_spike: multiple of the rolling mean
	Threshold float64       // zscore: standard deviations
	Of        string        // zscore: "close" (default) or "volume"
	Bars      int           // volume_spike, zscore: bars in the rolling mean; default DefaultRuleBars
	Cooldown  time.Duration // event time between alerts per symbol; 0 for none (files default to DefaultCooldown)

	// File and Line locate the rule in its rules file, for error messages;
	// empty and 0 for rules built in code.
	File string
	Line int
}

// normalize fills in defaults.
func (r *Rule) normalize() {
	if r.Direction == "" {
		r.Direction = Either
	}
	if r.Kind == stocklake.AlertZScore && r.Of == "" {
		r.Of = "close"
	}
	if (r.Kind == stocklake.AlertZScore || r.Kind == stocklake.AlertVolumeSpike) && r.Bars == 0 {
		r.Bars = DefaultRuleBars
	}
}

// where prefixes messages with the rule's file position, if known.
func (r *Rule) where() string {
	switch {
	case r.File != "" && r.Line > 0:
		return fmt.Sprintf("%s:%d: ", r.File, r.Line)
	case r.Line > 0:
		return fmt.Sprintf("line %d: ", r.Line)
	}
	return ""
}

// matches reports whether the rule watches symbol.
func (r *Rule) matches(symbol string) bool {
	if len(r.Symbols) == 0 {
		return true
	}
	for _, s := range r.Symbols {
		if s == "*" || s == symbol {
			return true
		}
	}
	return false
}

// Validate reports what is wrong with a rule (after defaults), wrapping
// stocklake.ErrConfig, or nil.
func (r *Rule) Validate() error {
	c := *r
	c.normalize()
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%srule %q: "+format+": %w", append(append([]any{r.where(), r.Name}, args...), stocklake.ErrConfig)...)
	}
	positive := func(name string, v float64) error {
		if !(v > 0) || math.IsInf(v, 0) {
			return bad("%s is %v, want a number > 0", name, v)
		}
		return nil
	}
	if c.Name == "" {
		return bad("has no name; give every rule a unique name")
	}
	switch c.Direction {
	case Up, Down, Either:
	default:
		return bad("direction %q is not up, down or either", c.Direction)
	}
	if c.Window < 0 || c.Window > MaxDuration || c.Window%time.Microsecond != 0 {
		return bad("window %v is out of range, want a whole number of microseconds up to %v", c.Window, MaxDuration)
	}
	if c.Cooldown < 0 || c.Cooldown > MaxDuration {
		return bad("cooldown %v is out of range, want 0 to %v", c.Cooldown, MaxDuration)
	}
	for _, s := range c.Symbols {
		if s == "" {
			return bad("has an empty symbol; list symbols or use \"*\"")
		}
	}
	if c.Kind != stocklake.AlertCross && c.Window == 0 {
		return bad("kind %s needs a window, e.g. window: 5m", c.Kind)
	}
	if (c.Kind == stocklake.AlertVolumeSpike || c.Kind == stocklake.AlertZScore) && (c.Bars < 1 || c.Bars > MaxPeriod || c.Kind == stocklake.AlertZScore && c.Bars < 2) {
		return bad("bars is %d, want 2 to %d", c.Bars, MaxPeriod)
	}
	switch c.Kind {
	case stocklake.AlertCross:
		return positive("level", c.Level)
	case stocklake.AlertMove:
		return positive("percent", c.Percent)
	case stocklake.AlertVolumeSpike:
		return positive("factor", c.Factor)
	case stocklake.AlertZScore:
		if c.Of != "close" && c.Of != "volume" {
			return bad("of is %q, want close or volume", c.Of)
		}
		return positive("threshold", c.Threshold)
	case "":
		return bad("has no kind; want one of %s", kindList)
	default:
		return bad("unknown kind %q; want one of %s", c.Kind, kindList)
	}
}

var kindList = strings.Join([]string{stocklake.AlertCross, stocklake.AlertMove, stocklake.AlertVolumeSpike, stocklake.AlertZScore}, ", ")

// ruleKeys lists the keys each kind accepts besides name, kind, symbols and
// cooldown, and which of them are required.
var ruleKeys = map[string]struct{ allowed, required []string }{
	stocklake.AlertCross:       {[]string{"level", "direction", "window"}, []string{"level"}},
	stocklake.AlertMove:        {[]string{"window", "percent", "direction"}, []string{"window", "percent"}},
	stocklake.AlertVolumeSpike: {[]string{"window", "factor", "bars"}, []string{"window", "factor"}},
	stocklake.AlertZScore:      {[]string{"window", "threshold", "of", "bars", "direction"}, []string{"window", "threshold"}},
}

var allRuleKeys = []string{"name", "kind", "symbols", "cooldown", "window", "direction", "level", "percent", "factor", "threshold", "of", "bars"}

// LoadRules reads and validates an alert rules file; see ParseRules.
func LoadRules(path string) ([]Rule, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("alert rules file %s does not exist; check its path: %w", path, stocklake.ErrConfig)
		}
		return nil, fmt.Errorf("read alert rules: %w: %w", err, stocklake.ErrConfig)
	}
	return ParseRules(path, data)
}

// ParseRules parses and validates alert rules in YAML; name (the file name)
// prefixes error messages. The document is a mapping with one key, rules, a
// list of rules:
//
//	rules:
//	  - name: aapl-200            # unique, required
//	    kind: cross               # cross | move | volume_spike | zscore
//	    symbols: [AAPL]           # list, or "*" (the default) for all
//	    level: 200
//	    direction: up             # up | down | either (default)
//	    cooldown: 5m              # default 1m; 0s for none
//
// Durations use Go syntax (90s, 5m, 1h). Every problem is reported, each
// with its line and column, joined into one error wrapping
// stocklake.ErrConfig.
func ParseRules(name string, data []byte) ([]Rule, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: not valid YAML: %w: %w", name, err, stocklake.ErrConfig)
	}
	p := ruleParser{file: name}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s: no rules; the file needs a top-level rules: list: %w", name, stocklake.ErrConfig)
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		p.errorf(root, "the top level must be a mapping with a rules: list, found %s", nodeKind(root))
		return nil, p.err()
	}
	var list *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Value != "rules" {
			p.errorf(k, "unknown top-level key %q; the file holds one key, rules", k.Value)
			continue
		}
		list = v
	}
	if list == nil {
		if len(p.errs) == 0 {
			p.errorf(root, "no rules: list")
		}
		return nil, p.err()
	}
	if list.Kind != yaml.SequenceNode {
		p.errorf(list, "rules must be a list of rules, found %s", nodeKind(list))
		return nil, p.err()
	}
	rules := make([]Rule, 0, len(list.Content))
	seen := map[string]int{}
	for i, n := range list.Content {
		r, ok := p.rule(i, n)
		if !ok {
			continue
		}
		if line, dup := seen[r.Name]; dup {
			p.errorf(n, "rule %q: the name is already used on line %d; names must be unique", r.Name, line)
			continue
		}
		seen[r.Name] = n.Line
		rules = append(rules, r)
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return rules, nil
}

type ruleParser struct {
	file string
	errs []error
}

func (p *ruleParser) errorf(n *yaml.Node, format string, args ...any) {
	if len(p.errs) >= 50 {
		return
	}
	p.errs = append(p.errs, fmt.Errorf("%s:%d:%d: %s: %w", p.file, n.Line, n.Column, fmt.Sprintf(format, args...), stocklake.ErrConfig))
}

func (p *ruleParser) err() error { return errors.Join(p.errs...) }

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}

// rule parses the i-th rule; ok is false if it had errors (already recorded).
func (p *ruleParser) rule(i int, n *yaml.Node) (Rule, bool) {
	before := len(p.errs)
	r := Rule{File: p.file, Line: n.Line, Cooldown: DefaultCooldown}
	label := fmt.Sprintf("rule %d", i+1)
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s must be a mapping of name, kind, ..., found %s", label, nodeKind(n))
		return r, false
	}
	// First pass: name and kind, so messages can use them.
	kindNode := n
	for j := 0; j+1 < len(n.Content); j += 2 {
		k, v := n.Content[j], n.Content[j+1]
		switch k.Value {
		case "name":
			if s, ok := p.str(v, label, "name"); ok && s != "" {
				r.Name = s
				label = fmt.Sprintf("rule %q", s)
			}
		case "kind":
			if s, ok := p.str(v, label, "kind"); ok {
				r.Kind, kindNode = s, v
			}
		}
	}
	keys, knownKind := ruleKeys[r.Kind]
	switch {
	case r.Name == "":
		p.errorf(n, "%s has no name; give every rule a unique name", label)
	}
	switch {
	case r.Kind == "":
		p.errorf(n, "%s has no kind; want one of %s", label, kindList)
	case !knownKind:
		p.errorf(kindNode, "%s: unknown kind %q; want one of %s", label, r.Kind, kindList)
	}
	seen := map[string]bool{}
	for j := 0; j+1 < len(n.Content); j += 2 {
		k, v := n.Content[j], n.Content[j+1]
		key := k.Value
		if seen[key] {
			p.errorf(k, "%s: %s is given twice", label, key)
			continue
		}
		seen[key] = true
		if !slices.Contains(allRuleKeys, key) {
			p.errorf(k, "%s: unknown field %q; known fields are %s", label, key, strings.Join(allRuleKeys, ", "))
			continue
		}
		switch key {
		case "name", "kind":
			continue
		case "symbols", "cooldown":
		default:
			if knownKind && !slices.Contains(keys.allowed, key) {
				p.errorf(k, "%s: %s does not apply to kind %s (it takes %s)", label, key, r.Kind, strings.Join(keys.allowed, ", "))
				continue
			}
		}
		switch key {
		case "symbols":
			r.Symbols = p.symbols(v, label)
		case "cooldown":
			if d, ok := p.duration(v, label, key); ok {
				r.Cooldown = d
			}
		case "window":
			if d, ok := p.duration(v, label, key); ok {
				if d == 0 {
					p.errorf(v, "%s: window must be > 0, e.g. 5m", label)
				}
				r.Window = d
			}
		case "direction":
			if s, ok := p.str(v, label, key); ok {
				switch Direction(s) {
				case Up, Down, Either:
					r.Direction = Direction(s)
				default:
					p.errorf(v, "%s: direction %q is not up, down or either", label, s)
				}
			}
		case "of":
			if s, ok := p.str(v, label, key); ok {
				if s != "close" && s != "volume" {
					p.errorf(v, "%s: of is %q, want close or volume", label, s)
				}
				r.Of = s
			}
		case "bars":
			if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!int" {
				p.errorf(v, "%s: bars is %s, want a whole number of bars", label, nodeKind(v))
				continue
			}
			b, err := strconv.Atoi(v.Value)
			lo := 1
			if r.Kind == stocklake.AlertZScore {
				lo = 2
			}
			if err != nil || b < lo || b > MaxPeriod {
				p.errorf(v, "%s: bars is %s, want %d to %d", label, v.Value, lo, MaxPeriod)
				continue
			}
			r.Bars = b
		case "level", "percent", "factor", "threshold":
			f, ok := p.number(v, label, key)
			if !ok {
				continue
			}
			switch key {
			case "level":
				r.Level = f
			case "percent":
				r.Percent = f
			case "factor":
				r.Factor = f
			default:
				r.Threshold = f
			}
		}
	}
	if knownKind {
		for _, req := range keys.required {
			if !seen[req] {
				p.errorf(n, "%s: kind %s needs %s", label, r.Kind, req)
			}
		}
	}
	if len(p.errs) > before {
		return r, false
	}
	r.normalize()
	if err := r.Validate(); err != nil {
		p.errs = append(p.errs, err)
		return r, false
	}
	return r, true
}

func (p *ruleParser) str(v *yaml.Node, label, key string) (string, bool) {
	if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!str" {
		p.errorf(v, "%s: %s is %s, want a string", label, key, nodeKind(v))
		return "", false
	}
	return v.Value, true
}

func (p *ruleParser) number(v *yaml.Node, label, key string) (float64, bool) {
	tag := v.ShortTag()
	if v.Kind != yaml.ScalarNode || tag != "!!int" && tag != "!!float" {
		p.errorf(v, "%s: %s is %s, want a number", label, key, nodeKind(v))
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(v.Value, "_", ""), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f <= 0 {
		p.errorf(v, "%s: %s is %s, want a finite number > 0", label, key, v.Value)
		return 0, false
	}
	return f, true
}

func (p *ruleParser) duration(v *yaml.Node, label, key string) (time.Duration, bool) {
	if v.Kind != yaml.ScalarNode {
		p.errorf(v, "%s: %s is %s, want a duration such as 90s, 5m or 1h", label, key, nodeKind(v))
		return 0, false
	}
	if v.Value == "0" {
		return 0, true
	}
	d, err := time.ParseDuration(v.Value)
	if err != nil {
		p.errorf(v, "%s: %s %q is not a duration; write e.g. 90s, 5m or 1h", label, key, v.Value)
		return 0, false
	}
	if d < 0 || d > MaxDuration || d%time.Microsecond != 0 {
		p.errorf(v, "%s: %s %v is out of range, want 0 to %v in whole microseconds", label, key, d, MaxDuration)
		return 0, false
	}
	return d, true
}

func (p *ruleParser) symbols(v *yaml.Node, label string) []string {
	switch v.Kind {
	case yaml.ScalarNode:
		if v.Value == "" {
			p.errorf(v, "%s: symbols is empty; list symbols or use \"*\"", label)
			return nil
		}
		return []string{v.Value}
	case yaml.SequenceNode:
		if len(v.Content) == 0 {
			p.errorf(v, "%s: symbols is an empty list; list symbols or use \"*\"", label)
			return nil
		}
		out := make([]string, 0, len(v.Content))
		for _, s := range v.Content {
			if s.Kind != yaml.ScalarNode || s.Value == "" {
				p.errorf(s, "%s: symbols entry is %s, want a symbol", label, nodeKind(s))
				continue
			}
			out = append(out, s.Value)
		}
		return out
	}
	p.errorf(v, "%s: symbols is %s, want a list of symbols or \"*\"", label, nodeKind(v))
	return nil
}
