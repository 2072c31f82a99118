package stream

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
)

func TestLoadExampleRules(t *testing.T) {
	path := filepath.Join("..", "testdata", "alerts.yaml")
	rules, err := LoadRules(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []Rule{
		{Name: "aapl-above-200", Kind: stocklake.AlertCross, Symbols: []string{"AAPL"}, Level: 200, Direction: Up, Cooldown: 5 * time.Minute, File: path, Line: 9},
		{Name: "msft-below-400-1m", Kind: stocklake.AlertCross, Symbols: []string{"MSFT"}, Level: 400, Direction: Down, Window: time.Minute, Cooldown: time.Minute, File: path, Line: 18},
		{Name: "big-move-5m", Kind: stocklake.AlertMove, Symbols: []string{"*"}, Window: 5 * time.Minute, Percent: 2, Direction: Either, Cooldown: 15 * time.Minute, File: path, Line: 26},
		{Name: "volume-spike-1m", Kind: stocklake.AlertVolumeSpike, Symbols: []string{"*"}, Window: time.Minute, Factor: 3, Bars: 20, Direction: Either, Cooldown: time.Minute, File: path, Line: 35},
		{Name: "close-zscore-1m", Kind: stocklake.AlertZScore, Symbols: []string{"AAPL", "MSFT", "NVDA"}, Window: time.Minute, Of: "close", Threshold: 3, Bars: 20, Direction: Up, Cooldown: time.Minute, File: path, Line: 44},
	}
	if !reflect.DeepEqual(rules, want) {
		t.Fatalf("rules:\n%+v\nwant\n%+v", rules, want)
	}
	if _, err := New(Config{Windows: []time.Duration{time.Minute, 5 * time.Minute}, Rules: rules}); err != nil {
		t.Fatalf("engine with the example rules: %v", err)
	}
	_, err = New(Config{Windows: []time.Duration{time.Minute}, Rules: rules})
	if !errors.Is(err, stocklake.ErrConfig) || !strings.Contains(err.Error(), "alerts.yaml:26: rule \"big-move-5m\" watches 5m0s bars") {
		t.Fatalf("rule window not among the windows: err = %v", err)
	}
}

func TestParseRulesErrors(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string // substrings of the error, in order
	}{
		{"not yaml", "rules: [", []string{"f.yaml: not valid YAML"}},
		{"empty", "", []string{"f.yaml: no rules"}},
		{"top level list", "- name: x\n", []string{"f.yaml:1:1: the top level must be a mapping"}},
		{"unknown top key", "rule:\n  - name: x\n", []string{`f.yaml:1:1: unknown top-level key "rule"`}},
		{"rules not a list", "rules: 3\n", []string{"f.yaml:1:8: rules must be a list"}},
		{"unknown kind", "rules:\n  - name: a\n    kind: crosses\n    level: 3\n",
			[]string{`f.yaml:3:11: rule "a": unknown kind "crosses"; want one of cross, move, volume_spike, zscore`}},
		{"missing kind and name", "rules:\n  - level: 3\n", []string{"f.yaml:2:5: rule 1 has no name", "f.yaml:2:5: rule 1 has no kind"}},
		{"missing field", "rules:\n  - name: a\n    kind: move\n    window: 5m\n",
			[]string{`f.yaml:2:5: rule "a": kind move needs percent`}},
		{"bad number", "rules:\n  - name: a\n    kind: cross\n    level: abc\n",
			[]string{`f.yaml:4:12: rule "a": level is "abc", want a number`}},
		{"negative number", "rules:\n  - name: a\n    kind: cross\n    level: -5\n",
			[]string{`f.yaml:4:12: rule "a": level is -5, want a finite number > 0`}},
		{"nan", "rules:\n  - name: a\n    kind: cross\n    level: .nan\n",
			[]string{`f.yaml:4:12: rule "a": level is .nan, want a finite number > 0`}},
		{"bad duration", "rules:\n  - name: a\n    kind: move\n    window: 5 minutes\n    percent: 2\n",
			[]string{`f.yaml:4:13: rule "a": window "5 minutes" is not a duration`}},
		{"unknown field", "rules:\n  - name: a\n    kind: cross\n    level: 5\n    lvl: 6\n",
			[]string{`f.yaml:5:5: rule "a": unknown field "lvl"`}},
		{"field of another kind", "rules:\n  - name: a\n    kind: cross\n    level: 5\n    percent: 6\n",
			[]string{`f.yaml:5:5: rule "a": percent does not apply to kind cross`}},
		{"bad direction", "rules:\n  - name: a\n    kind: cross\n    level: 5\n    direction: sideways\n",
			[]string{`f.yaml:5:16: rule "a": direction "sideways" is not up, down or either`}},
		{"bad bars", "rules:\n  - name: a\n    kind: zscore\n    window: 1m\n    threshold: 3\n    bars: 1.5\n",
			[]string{`f.yaml:6:11: rule "a": bars is "1.5", want a whole number`}},
		{"bars too small", "rules:\n  - name: a\n    kind: zscore\n    window: 1m\n    threshold: 3\n    bars: 1\n",
			[]string{`f.yaml:6:11: rule "a": bars is 1, want 2 to`}},
		{"bad of", "rules:\n  - name: a\n    kind: zscore\n    window: 1m\n    threshold: 3\n    of: price\n",
			[]string{`f.yaml:6:9: rule "a": of is "price", want close or volume`}},
		{"duplicate name", "rules:\n  - name: a\n    kind: cross\n    level: 5\n  - name: a\n    kind: cross\n    level: 6\n",
			[]string{`f.yaml:5:5: rule "a": the name is already used on line 2`}},
		{"duplicate key", "rules:\n  - name: a\n    kind: cross\n    level: 5\n    level: 6\n",
			[]string{`f.yaml:5:5: rule "a": level is given twice`}},
		{"empty symbols", "rules:\n  - name: a\n    kind: cross\n    level: 5\n    symbols: []\n",
			[]string{`f.yaml:5:14: rule "a": symbols is an empty list`}},
		{"rule not a mapping", "rules:\n  - just a string\n", []string{`f.yaml:2:5: rule 1 must be a mapping`}},
		{"negative cooldown", "rules:\n  - name: a\n    kind: cross\n    level: 5\n    cooldown: -1m\n",
			[]string{`f.yaml:5:15: rule "a": cooldown -1m0s is out of range`}},
		{"two bad rules", "rules:\n  - name: a\n    kind: cross\n  - name: b\n    kind: move\n    window: 0s\n    percent: 1\n",
			[]string{`f.yaml:2:5: rule "a": kind cross needs level`, `f.yaml:6:13: rule "b": window must be > 0`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rules, err := ParseRules("f.yaml", []byte(c.yaml))
			if err == nil {
				t.Fatalf("no error; rules %+v", rules)
			}
			if !errors.Is(err, stocklake.ErrConfig) {
				t.Errorf("err does not wrap ErrConfig: %v", err)
			}
			msg := err.Error()
			rest := msg
			for _, w := range c.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error\n%s\ndoes not contain (in order)\n%s", msg, w)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

func TestParseRulesDefaults(t *testing.T) {
	rules, err := ParseRules("f.yaml", []byte("rules:\n  - name: a\n    kind: volume_spike\n    window: 1m\n    factor: 2\n    symbols: AAPL\n    cooldown: 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	r := rules[0]
	if r.Bars != DefaultRuleBars || r.Direction != Either || r.Cooldown != 0 || !reflect.DeepEqual(r.Symbols, []string{"AAPL"}) {
		t.Errorf("rule = %+v, want default bars and direction, no cooldown, symbols [AAPL]", r)
	}
}
