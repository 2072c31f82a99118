package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stocklake/stocklake"
)

// TestFlagHints: library errors name settings, not flags; the command line
// adds the flag that sets them, so the user still learns what to pass.
func TestFlagHints(t *testing.T) {
	dir := t.TempDir()
	lake := "file://" + filepath.Join(dir, "lake")
	for _, c := range []struct {
		args []string
		want []string // in the message, in this order
	}{
		{[]string{"sink", "--topic", "", "--lake", lake}, []string{"sink needs a topic", "bad configuration (see --topic)"}},
		{[]string{"sink", "--topic", "t", "--lake", lake, "--partition-by", "dt,dt"}, []string{`partition key "dt" is listed twice`, "(see --partition-by)"}},
		{[]string{"sink", "--topic", "t", "--lake", lake, "--format", "avro"}, []string{`format "avro"`, "(see --format)"}},
		{[]string{"produce", "--dry-run", "--source", "csv:" + filepath.Join(dir, "missing.csv")}, []string{"missing.csv does not exist", "(see --source csv:PATH)"}},
		{[]string{"produce", "--dry-run", "--source", "binance", "--symbols", ","}, []string{"binance: no symbols", "(see --symbols)"}},
		{[]string{"sink", "--topic", "t", "--lake", lake, "--brokers", " , "}, []string{"no Kafka brokers given", "(see --brokers (or STOCKLAKE_BROKERS))"}},
		{[]string{"serve", "--http", "0.0.0.0:0", "--catalog", "", "--brokers", "127.0.0.1:1"}, []string{"without a token", "(see --token (or STOCKLAKE_TOKEN))"}},
	} {
		root := rootCommand()
		if err := root.Parse(c.args); err != nil {
			t.Fatalf("%q: %v", c.args, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		err := root.Run(ctx)
		cancel()
		if !errors.Is(err, stocklake.ErrConfig) && !errors.Is(err, stocklake.ErrNotFound) {
			t.Errorf("stocklake %q: %v, want a configuration error", c.args, err)
			continue
		}
		msg, at := err.Error(), 0
		for _, w := range c.want {
			i := strings.Index(msg[at:], w)
			if i < 0 {
				t.Errorf("stocklake %q: %q, want %q after byte %d", c.args, msg, w, at)
				break
			}
			at += i + len(w)
		}
		if strings.Count(msg, "(see ") != 1 {
			t.Errorf("stocklake %q: %q, want one hint", c.args, msg)
		}
	}
}

// TestSettingFlagsComplete: every setting a library names in a
// stocklake.SettingErr has a flag here, and no library error tells the
// user a flag to pass (that is the command line's business).
func TestSettingFlagsComplete(t *testing.T) {
	call := regexp.MustCompile(`SettingErr\(`)
	name := regexp.MustCompile(`"([a-z]+\.[A-Z][A-Za-z]*\.[A-Z][A-Za-z]*)"`)
	flagInError := regexp.MustCompile(`(fmt\.Errorf|errors\.New|fatalf|settingFatalf|bad)\("([^"]*[\s(])?--[a-z]`)
	seen := 0
	err := filepath.WalkDir("../..", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "../.." && (d.Name() == "cmd" || d.Name() == "bench" || d.Name() == "deploy" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if flagInError.MatchString(line) {
				t.Errorf("%s: library error names a flag: %s", path, strings.TrimSpace(line))
			}
		}
		for _, loc := range call.FindAllStringIndex(string(b), -1) {
			end := min(loc[1]+600, len(b))
			// The settings follow the wrapped error, up to the call's end.
			for _, m := range name.FindAllStringSubmatch(string(b[loc[1]:end]), -1) {
				seen++
				if _, ok := settingFlags[m[1]]; !ok {
					t.Errorf("%s: setting %s has no flag in settingFlags", path, m[1])
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < 20 {
		t.Errorf("found %d settings named in SettingErr calls, want the 20+ the libraries have", seen)
	}
}
