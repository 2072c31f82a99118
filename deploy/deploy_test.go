package deploy_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"
)

// The tests here render the files every EC2 node gets, from the templates'
// own UserData and tags through deploy/stocklake-node, and check that each
// systemd unit runs a stocklake subcommand that exists, with flags that parse:
// the unit's arguments plus every STOCKLAKE_* variable of its environment
// files that the subcommand reads, given to the real binary followed by
// --help. The flag package rejects an undefined flag or a bad value before it
// reaches --help, so exit code 0 means the command line parses.
// (With --help, ff stops before reading the environment and --config, so
// the environment files are turned into flags to be checked too.)

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error

	cliOnce sync.Once
	cliInfo *cli
	cliErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// stocklakeBinary builds ./cmd/stocklake once for all tests.
func stocklakeBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "stocklake-deploy-test-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "stocklake")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/stocklake")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build ./cmd/stocklake: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// cli is what the real binary says about its subcommands and flags.
type cli struct {
	bin   string
	subs  []string
	flags map[string]map[string]bool // subcommand -> flag names
}

func loadCLI(t *testing.T) *cli {
	t.Helper()
	bin := stocklakeBinary(t)
	cliOnce.Do(func() {
		out, err := exec.Command(bin, "--help").CombinedOutput()
		if err != nil {
			cliErr = fmt.Errorf("stocklake --help: %v\n%s", err, out)
			return
		}
		c := &cli{bin: bin, flags: map[string]map[string]bool{}}
		c.subs = section(string(out), "SUBCOMMANDS", `^\s+([a-z][a-z-]*)\s`)
		if len(c.subs) == 0 {
			cliErr = fmt.Errorf("stocklake --help lists no subcommands:\n%s", out)
			return
		}
		for _, s := range c.subs {
			out, err := exec.Command(bin, s, "--help").CombinedOutput()
			if err != nil {
				cliErr = fmt.Errorf("stocklake %s --help: %v\n%s", s, err, out)
				return
			}
			c.flags[s] = map[string]bool{}
			for _, f := range section(string(out), "FLAGS", `^\s+--([a-z0-9][a-z0-9-]*)\s`) {
				c.flags[s][f] = true
			}
		}
		cliInfo = c
	})
	if cliErr != nil {
		t.Fatal(cliErr)
	}
	return cliInfo
}

// section returns the first submatch of re for each line of the help
// section that starts with a line beginning with title.
func section(help, title, re string) []string {
	rx := regexp.MustCompile(re)
	var out []string
	in := false
	for line := range strings.Lines(help) {
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(line, title):
			in = true
		case in && strings.TrimSpace(line) == "":
			in = false
		case in:
			if m := rx.FindStringSubmatch(line); m != nil {
				out = append(out, m[1])
			}
		}
	}
	return out
}

// definedAnywhere reports whether any subcommand has the flag.
func (c *cli) definedAnywhere(flag string) bool {
	for _, fs := range c.flags {
		if fs[flag] {
			return true
		}
	}
	return false
}

// unit is a parsed systemd unit file: section -> key -> values in order.
type unit map[string]map[string][]string

func parseUnit(path string) (unit, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	u := unit{}
	sec := ""
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			return nil, fmt.Errorf("%s:%d: line continuations are not supported by this check", path, i+1)
		}
		if line[0] == '[' && line[len(line)-1] == ']' {
			sec = line[1 : len(line)-1]
			u[sec] = map[string][]string{}
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || sec == "" {
			return nil, fmt.Errorf("%s:%d: not KEY=VALUE in a section: %q", path, i+1, line)
		}
		u[sec][strings.TrimSpace(k)] = append(u[sec][strings.TrimSpace(k)], strings.TrimSpace(v))
	}
	return u, nil
}

// specifiers expands the systemd specifiers the units use.
func specifiers(s, unitName string) (string, error) {
	base := strings.TrimSuffix(unitName, ".service")
	prefix, instance, _ := strings.Cut(base, "@")
	var err error
	out := regexp.MustCompile(`%.`).ReplaceAllStringFunc(s, func(m string) string {
		switch m[1] {
		case 'i', 'I':
			return instance
		case 'n':
			return unitName
		case 'N':
			return base
		case 'p', 'P':
			return prefix
		case '%':
			return "%"
		}
		err = fmt.Errorf("specifier %s is not supported by this check", m)
		return m
	})
	return out, err
}

// envVar is one KEY=VALUE of an environment file.
type envVar struct{ key, value string }

// parseEnvFile reads a systemd EnvironmentFile.
func parseEnvFile(path string) ([]envVar, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []envVar
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || !regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`).MatchString(k) {
			return nil, fmt.Errorf("%s:%d: not KEY=VALUE: %q", path, n, line)
		}
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		out = append(out, envVar{k, v})
	}
	return out, sc.Err()
}

// flagName is the flag a STOCKLAKE_ variable sets ("" if it is none).
func flagName(key string) string {
	rest, ok := strings.CutPrefix(key, "STOCKLAKE_")
	if !ok {
		return ""
	}
	return strings.ReplaceAll(strings.ToLower(rest), "_", "-")
}

// profileFile is the environment file every stocklake unit shares; its
// variables may be meant for other subcommands. Variables in any other
// file must be flags of the unit's own subcommand, since stocklake
// silently ignores STOCKLAKE_ variables it has no flag for.
const profileFile = "/etc/stocklake/stocklake.env"

// checkUnit checks the unit unitName (an instance name for templates) as
// installed under root. A timer is checked with the service it starts,
// which needs no [Install] of its own.
func checkUnit(c *cli, root, unitName string) error {
	if base, ok := strings.CutSuffix(unitName, ".timer"); ok {
		return checkTimer(c, root, base)
	}
	return checkService(c, root, unitName, true)
}

// checkTimer checks base.timer (enabled at boot, with a schedule, its
// interval drop-ins well formed) and the service base.service it starts.
func checkTimer(c *cli, root, base string) error {
	dir := filepath.Join(root, "etc/systemd/system")
	u, err := parseUnit(filepath.Join(dir, base+".timer"))
	if err != nil {
		return err
	}
	if !slices.Contains(u["Install"]["WantedBy"], "timers.target") {
		return fmt.Errorf("%s.timer: not WantedBy=timers.target: enabling it would not start it at boot", base)
	}
	tm := u["Timer"]
	if len(tm["OnCalendar"])+len(tm["OnUnitInactiveSec"])+len(tm["OnUnitActiveSec"]) == 0 {
		return fmt.Errorf("%s.timer: no OnCalendar, OnUnitActiveSec or OnUnitInactiveSec: it would never fire again", base)
	}
	if unit := tm["Unit"]; len(unit) > 0 && unit[0] != base+".service" {
		return fmt.Errorf("%s.timer starts %s, want %s.service", base, unit[0], base)
	}
	dropins, _ := filepath.Glob(filepath.Join(dir, base+".timer.d", "*.conf"))
	for _, d := range dropins {
		du, err := parseUnit(d)
		if err != nil {
			return err
		}
		for _, v := range du["Timer"]["OnUnitInactiveSec"] {
			if v != "" && !regexp.MustCompile(`^[1-9][0-9]*(s|m|h)$`).MatchString(v) {
				return fmt.Errorf("%s: OnUnitInactiveSec=%q is not a positive interval", d, v)
			}
		}
	}
	svc, err := parseUnit(filepath.Join(dir, base+".service"))
	if err != nil {
		return err
	}
	if t := svc["Service"]["Type"]; len(t) != 1 || t[0] != "oneshot" {
		return fmt.Errorf("%s.service: Type=%v, want oneshot: a timer starts it again only once it has exited", base, t)
	}
	return checkService(c, root, base+".service", false)
}

// checkService checks the service unitName; wantInstall: it is enabled
// itself, so it needs an [Install] section.
func checkService(c *cli, root, unitName string, wantInstall bool) error {
	file := unitName
	if base, inst, ok := strings.Cut(strings.TrimSuffix(unitName, ".service"), "@"); ok && inst != "" {
		file = base + "@.service"
	}
	u, err := parseUnit(filepath.Join(root, "etc/systemd/system", file))
	if err != nil {
		return err
	}
	svc := u["Service"]
	if len(svc["ExecStart"]) != 1 {
		return fmt.Errorf("%s: want one ExecStart, got %q", unitName, svc["ExecStart"])
	}
	if wantInstall && len(u["Install"]["WantedBy"]) == 0 {
		return fmt.Errorf("%s: no WantedBy in [Install]: enabling it would not start it at boot", unitName)
	}
	execStart, err := specifiers(svc["ExecStart"][0], unitName)
	if err != nil {
		return fmt.Errorf("%s: %v", unitName, err)
	}
	if strings.ContainsAny(execStart, `"'$\;`) {
		return fmt.Errorf("%s: ExecStart %q uses quoting or variables, which this check does not interpret", unitName, execStart)
	}
	argv := strings.Fields(execStart)
	if len(argv) < 2 || argv[0] != "/usr/local/bin/stocklake" {
		return fmt.Errorf("%s: ExecStart %q does not run /usr/local/bin/stocklake SUBCOMMAND", unitName, execStart)
	}
	sub := argv[1]
	if !slices.Contains(c.subs, sub) {
		return fmt.Errorf("%s: stocklake has no subcommand %q (it has %v)", unitName, sub, c.subs)
	}
	var envFlags []string
	for _, ef := range svc["EnvironmentFile"] {
		ef, err = specifiers(ef, unitName)
		if err != nil {
			return fmt.Errorf("%s: %v", unitName, err)
		}
		optional := strings.HasPrefix(ef, "-")
		ef = strings.TrimPrefix(ef, "-")
		vars, err := parseEnvFile(filepath.Join(root, ef))
		if errors.Is(err, os.ErrNotExist) && optional {
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: EnvironmentFile %s: %v", unitName, ef, err)
		}
		for _, v := range vars {
			f := flagName(v.key)
			switch {
			case f == "":
				continue // AWS_REGION and the like
			case c.flags[sub][f]:
				envFlags = append(envFlags, "--"+f+"="+v.value)
			case ef == profileFile && c.definedAnywhere(f):
				// for other subcommands
			case ef == profileFile:
				return fmt.Errorf("%s: %s sets %s, but no stocklake subcommand has a --%s flag", unitName, ef, v.key, f)
			default:
				return fmt.Errorf("%s: %s sets %s, but stocklake %s has no --%s flag and would ignore it", unitName, ef, v.key, sub, f)
			}
		}
	}
	// The environment first: flags on the command line win, as with ff.
	args := append(append([]string{sub}, envFlags...), argv[2:]...)
	args = append(args, "--help")
	cmd := exec.Command(c.bin, args...)
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	if err != nil || bytes.Contains(out, []byte("flag provided but not defined")) || bytes.Contains(out, []byte("invalid value")) {
		return fmt.Errorf("%s: stocklake %s does not parse: %v\n%s", unitName, strings.Join(args, " "), err, firstLines(out, 3))
	}
	return nil
}

// cleanEnv is the test's environment without STOCKLAKE_ variables.
func cleanEnv() []string {
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "STOCKLAKE_") {
			env = append(env, e)
		}
	}
	return env
}

func firstLines(b []byte, n int) string {
	lines := strings.SplitN(string(b), "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

// Sample values for what the templates import and what CloudFormation
// decides at deploy time.
const (
	sampleBucket        = "stocklake-lake-lakebucket-1x2y3z4w5v6u"
	sampleReleaseBucket = "stocklake-lake-releasebucket-9a8b7c6d5e4f"
	sampleKafkaSecret   = "arn:aws:secretsmanager:us-east-1:123456789012:secret:KafkaSecret-AbCdEfGhIjKl-x1Y2z3"
	sampleNode1IP       = "10.42.0.11"
	sampleMskArn        = "arn:aws:kafka:us-east-1:123456789012:cluster/stocklake-kafka/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0-2"
	sampleMsk           = "b-1.stocklakekafka.abc123.c2.kafka.us-east-1.amazonaws.com:9098,b-2.stocklakekafka.abc123.c2.kafka.us-east-1.amazonaws.com:9098"
	// sampleKafkaPassword is what install reads from the Kafka secret.
	sampleKafkaPassword = "Zq8sampleScramPassword0fTheKafkaSecret42"
)

func nodeIP(id string) string { return "10.42.0.1" + id }

// lakeExports are the lake stack's exports as pipeline.yaml imports them
// (lake stack named stocklake-lake, its default).
func lakeExports(t *testing.T) map[string]string {
	t.Helper()
	lake, err := loadTemplate("aws/lake.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := newStack(lake, nil, map[string]string{
		"LakeBucket":        sampleBucket,
		"LakeBucket.Arn":    "arn:aws:s3:::" + sampleBucket,
		"ReleaseBucket":     sampleReleaseBucket,
		"ReleaseBucket.Arn": "arn:aws:s3:::" + sampleReleaseBucket,
		"Database":          "stocklake",
		"WorkGroup":         "stocklake",
	}, nil)
	s.pseudo["AWS::StackName"] = "stocklake-lake"
	out := map[string]string{}
	for name, o := range lake.section("Outputs") {
		om := o.(map[string]any)
		exp, ok := om["Export"]
		if !ok {
			continue
		}
		n, err := s.eval(exp.(map[string]any)["Name"])
		if err != nil {
			t.Fatalf("output %s: %v", name, err)
		}
		v, err := s.eval(om["Value"])
		if err != nil {
			t.Fatalf("output %s: %v", name, err)
		}
		out[n.(string)] = v.(string)
	}
	return out
}

// scenario is one way to deploy pipeline.yaml.
type scenario struct {
	name   string
	params map[string]string
	// units each node enables, by node ID
	units map[string][]string
	// exports overrides lake stack exports (default lakeExports)
	exports map[string]string
}

var scenarios = []scenario{
	{
		name: "defaults",
		units: map[string][]string{"1": {"kafka.service", "stocklake-produce.service", "stocklake-sink@ticks.service",
			"stocklake-analyze.service", "stocklake-sink@bars.1m.service", "stocklake-serve.service", "stocklake-crawl.service",
			"stocklake-maintain.timer"}},
	},
	{
		name:   "three-nodes",
		params: map[string]string{"NodeCount": "3", "Services": "produce sink@ticks sink@bars.5m serve crawl"},
		units: map[string][]string{
			"1": {"kafka.service", "stocklake-produce.service", "stocklake-sink@ticks.service", "stocklake-sink@bars.5m.service",
				"stocklake-serve.service", "stocklake-crawl.service"},
			"2": {"kafka.service"},
			"3": {"kafka.service"},
		},
	},
	{
		name:   "msk",
		params: map[string]string{"KafkaMode": "msk", "NodeCount": "3"},
		units: map[string][]string{"1": {"stocklake-produce.service", "stocklake-sink@ticks.service",
			"stocklake-analyze.service", "stocklake-sink@bars.1m.service", "stocklake-serve.service", "stocklake-crawl.service",
			"stocklake-maintain.timer"}},
	},
	{
		name:   "no-maintenance",
		params: map[string]string{"StocklakeMaintainInterval": "0m"},
		units: map[string][]string{"1": {"kafka.service", "stocklake-produce.service", "stocklake-sink@ticks.service",
			"stocklake-analyze.service", "stocklake-sink@bars.1m.service", "stocklake-serve.service", "stocklake-crawl.service"}},
	},
	{
		name:   "glue-crawler-instead",
		params: map[string]string{"StocklakeCrawlInterval": "0m", "Services": "sink@ticks serve crawl"},
		units:  map[string][]string{"1": {"kafka.service", "stocklake-sink@ticks.service", "stocklake-serve.service"}},
	},
}

// node is one rendered instance.
type node struct {
	id   string
	root string // its files, as under /
	env  string // its /etc/stocklake/node.env
}

// render evaluates pipeline.yaml for sc and renders each node's files with
// stocklake-node, as the node's UserData does.
func render(t *testing.T, sc scenario) (*stack, []node) {
	t.Helper()
	tmpl, err := loadTemplate("aws/pipeline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	imports := lakeExports(t)
	maps.Copy(imports, sc.exports)
	s := newStack(tmpl, sc.params, map[string]string{
		"Node1.PrivateIp": sampleNode1IP,
		"MskCluster":      sampleMskArn,
		"KafkaSecret":     sampleKafkaSecret,
	}, imports)
	// Every resource must evaluate: this catches references to missing
	// parameters, conditions, resources and exports.
	for name := range tmpl.section("Resources") {
		if _, err := s.resource(name); err != nil {
			t.Fatalf("%s: %v", sc.name, err)
		}
	}
	for name, o := range tmpl.section("Outputs") {
		om := o.(map[string]any)
		if c, ok := om["Condition"].(string); ok {
			if b, err := s.condition(c); err != nil || !b {
				continue
			}
		}
		if _, err := s.eval(om["Value"]); err != nil {
			t.Fatalf("%s: output %s: %v", sc.name, name, err)
		}
	}
	lt, err := s.resource("LaunchTemplate")
	if err != nil {
		t.Fatal(err)
	}
	ud64, _ := lt["LaunchTemplateData"].(map[string]any)["UserData"].(string)
	ud, err := base64.StdEncoding.DecodeString(ud64)
	if err != nil || len(ud) == 0 {
		t.Fatalf("%s: LaunchTemplate UserData is not base64: %v", sc.name, err)
	}
	userData := string(ud)
	dir := t.TempDir()
	udPath := filepath.Join(dir, "user-data.sh")
	if err := os.WriteFile(udPath, ud, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("bash", "-n", udPath).CombinedOutput(); err != nil {
		t.Fatalf("%s: UserData is not valid bash: %v\n%s", sc.name, err, out)
	}
	common := heredoc(t, userData, "cat >/etc/stocklake/node.env <<'EOF'")
	// The lines the UserData appends from the instance metadata.
	for _, want := range []string{
		`echo "SL_NODE_ID=$NODE"`,
		`echo "SL_PRIVATE_IP=$(imds local-ipv4)"`,
		`echo "SL_CONTROLLER=$(imds tags/instance/StocklakeController || true)"`,
		`NODE=$(imds tags/instance/StocklakeNode)`,
		"bash /opt/stocklake/release/stocklake-node install /etc/stocklake/node.env",
	} {
		if !strings.Contains(userData, want) {
			t.Fatalf("%s: UserData lacks %q; update this test with the UserData", sc.name, want)
		}
	}

	var nodes []node
	for _, name := range []string{"Node1", "Node2", "Node3"} {
		props, err := s.resource(name)
		if err != nil {
			t.Fatal(err)
		}
		if props == nil {
			continue
		}
		tags := map[string]string{}
		for _, tg := range props["Tags"].([]any) {
			m := tg.(map[string]any)
			tags[m["Key"].(string)] = m["Value"].(string)
		}
		id := tags["StocklakeNode"]
		if "Node"+id != name {
			t.Fatalf("%s: %s has tag StocklakeNode=%q; cfn-signal signals Node$NODE", sc.name, name, id)
		}
		env := common +
			"SL_NODE_ID=" + id + "\n" +
			"SL_PRIVATE_IP=" + map[bool]string{true: sampleNode1IP, false: nodeIP(id)}[id == "1"] + "\n" +
			"SL_CONTROLLER=" + tags["StocklakeController"] + "\n"
		if strings.Contains(common, "SL_KAFKA=msk") {
			env += "SL_MSK_BROKERS=" + sampleMsk + "\n" // what install looks up
		}
		if strings.Contains(common, "SL_KAFKA=self-run") && strings.Contains(common, "SL_KAFKA_AUTH=sasl") {
			env += "SL_KAFKA_PASSWORD=" + sampleKafkaPassword + "\n" // what install reads from the secret
		}
		n := node{id: id, root: filepath.Join(dir, "node"+id), env: filepath.Join(dir, "node"+id+".env")}
		if err := os.WriteFile(n.env, []byte(env), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("bash", "stocklake-node", "render", n.env, n.root)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: stocklake-node render (node %s): %v\n%s\nnode.env:\n%s", sc.name, id, err, out, env)
		}
		nodes = append(nodes, n)
	}
	return s, nodes
}

// heredoc returns the body of the here-document that starts at line start.
func heredoc(t *testing.T, script, start string) string {
	t.Helper()
	_, rest, ok := strings.Cut(script, start+"\n")
	if !ok {
		t.Fatalf("UserData has no %q", start)
	}
	body, _, ok := strings.Cut(rest, "\nEOF\n")
	if !ok {
		t.Fatalf("UserData: here-document %q has no EOF line", start)
	}
	if strings.Contains(body, "${") {
		t.Fatalf("UserData: unresolved ${...} in node.env:\n%s", body)
	}
	return body + "\n"
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

func readEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	vars, err := parseEnvFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, v := range vars {
		m[v.key] = v.value
	}
	return m
}

func readProperties(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		m[k] = v
	}
	return m
}

// TestNodeFiles renders every node of every scenario and checks each unit
// the node enables runs a command that parses, and the profile and Kafka
// configuration it gets.
func TestNodeFiles(t *testing.T) {
	c := loadCLI(t)
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			_, nodes := render(t, sc)
			got := map[string][]string{}
			for _, n := range nodes {
				got[n.id] = readLines(t, filepath.Join(n.root, "etc/stocklake/units"))
			}
			want := map[string][]string{}
			for _, n := range nodes {
				want[n.id] = sc.units[n.id]
				if want[n.id] == nil {
					want[n.id] = []string{"kafka.service"}
				}
			}
			if !maps.EqualFunc(got, want, slices.Equal) {
				t.Fatalf("enabled units: got %v, want %v", got, want)
			}
			msk := sc.params["KafkaMode"] == "msk"
			for _, n := range nodes {
				for _, u := range got[n.id] {
					if u == "kafka.service" {
						checkKafka(t, n, len(nodes), sc.params["KafkaAuthentication"] != "none")
						continue
					}
					if err := checkUnit(c, n.root, u); err != nil {
						t.Errorf("node %s: %v", n.id, err)
					}
				}
				checkProfile(t, n, msk, sc.params["KafkaAuthentication"] != "none")
			}
			if slices.Contains(got["1"], "stocklake-serve.service") {
				checkServeToken(t, nodes[0])
			}
		})
	}
}

// checkServeToken checks the dashboard's bearer token is private to root
// and survives a re-render (stocklake-node install on an update).
func checkServeToken(t *testing.T, n node) {
	t.Helper()
	path := filepath.Join(n.root, "etc/stocklake/serve.env")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("serve.env has mode %v, want 0600: it holds the dashboard token", fi.Mode().Perm())
	}
	token := readEnv(t, path)["STOCKLAKE_TOKEN"]
	if len(token) < 32 {
		t.Fatalf("serve.env token %q is missing or short", token)
	}
	// The dashboard's certificate: for the node's address, its key private.
	crt, key := filepath.Join(n.root, "etc/stocklake/tls/serve.crt"), filepath.Join(n.root, "etc/stocklake/tls/serve.key")
	pair, err := tls.LoadX509KeyPair(crt, key)
	if err != nil {
		t.Fatalf("dashboard certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil || cert.VerifyHostname(sampleNode1IP) != nil || cert.VerifyHostname("127.0.0.1") != nil {
		t.Errorf("dashboard certificate is not for %s and 127.0.0.1: %v %v", sampleNode1IP, err, cert.IPAddresses)
	}
	if fi, _ := os.Stat(key); fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("serve.key has mode %v, want 0600", fi.Mode().Perm())
	}
	if out, err := exec.Command("bash", "stocklake-node", "render", n.env, n.root).CombinedOutput(); err != nil {
		t.Fatalf("second render: %v\n%s", err, out)
	}
	if again := readEnv(t, path)["STOCKLAKE_TOKEN"]; again != token {
		t.Errorf("a second render changed the dashboard token from %q to %q", token, again)
	}
	if again, err := tls.LoadX509KeyPair(crt, key); err != nil || !bytes.Equal(again.Certificate[0], pair.Certificate[0]) {
		t.Errorf("a second render changed the dashboard certificate (%v): browsers that accepted it would warn again", err)
	}
}

// checkProfile checks the AWS profile of a node against the lake stack and
// the repository's stocklake-aws.yaml.
func checkProfile(t *testing.T, n node, msk, sasl bool) {
	t.Helper()
	env := readEnv(t, filepath.Join(n.root, "etc/stocklake/stocklake.env"))
	want := map[string]string{
		"AWS_REGION":                         "us-east-1",
		"STOCKLAKE_BROKERS":                  sampleNode1IP + ":9092",
		"STOCKLAKE_KAFKA_TLS":                "false",
		"STOCKLAKE_KAFKA_TLS_CA":             "",
		"STOCKLAKE_KAFKA_SASL_MECHANISM":     "",
		"STOCKLAKE_KAFKA_SASL_USER":          "",
		"STOCKLAKE_KAFKA_SASL_PASSWORD_FILE": "",
		"STOCKLAKE_LAKE":                     "s3://" + sampleBucket,
		"STOCKLAKE_CATALOG":                  "glue://us-east-1",
		"STOCKLAKE_DATABASE":                 "stocklake",
		"STOCKLAKE_ENGINE":                   "athena://stocklake",
	}
	switch {
	case msk:
		want["STOCKLAKE_BROKERS"] = sampleMsk
		want["STOCKLAKE_KAFKA_TLS"] = "true"
		if sasl {
			want["STOCKLAKE_KAFKA_SASL_MECHANISM"] = "AWS_MSK_IAM"
		}
	case sasl:
		want["STOCKLAKE_KAFKA_TLS"] = "true"
		want["STOCKLAKE_KAFKA_TLS_CA"] = "/etc/stocklake/kafka-ca.pem"
		want["STOCKLAKE_KAFKA_SASL_MECHANISM"] = "SCRAM-SHA-512"
		want["STOCKLAKE_KAFKA_SASL_USER"] = "stocklake"
		want["STOCKLAKE_KAFKA_SASL_PASSWORD_FILE"] = "/etc/stocklake/kafka-password"
		pw := filepath.Join(n.root, "etc/stocklake/kafka-password")
		if b, err := os.ReadFile(pw); err != nil || strings.TrimSpace(string(b)) != sampleKafkaPassword {
			t.Errorf("node %s: kafka-password holds %q (%v), want the secret's password", n.id, b, err)
		} else if fi, _ := os.Stat(pw); fi.Mode().Perm()&0o007 != 0 {
			t.Errorf("node %s: kafka-password has mode %v: other users can read it", n.id, fi.Mode().Perm())
		}
	}
	if !maps.Equal(env, want) {
		t.Errorf("node %s: stocklake.env:\n got %v\nwant %v", n.id, env, want)
	}
	// The --config form on the node has the same settings, and the same
	// keys as deploy/aws/stocklake-aws.yaml.
	nodeYAML := readYAML(t, filepath.Join(n.root, "etc/stocklake/stocklake-aws.yaml"))
	for k, v := range nodeYAML {
		if env["STOCKLAKE_"+strings.ToUpper(strings.ReplaceAll(k, "-", "_"))] != v {
			t.Errorf("node %s: stocklake-aws.yaml %s=%q differs from stocklake.env", n.id, k, v)
		}
	}
	repo := readYAML(t, "aws/stocklake-aws.yaml")
	if !slices.Equal(slices.Sorted(maps.Keys(repo)), slices.Sorted(maps.Keys(nodeYAML))) {
		t.Errorf("deploy/aws/stocklake-aws.yaml has keys %v, the nodes get %v", slices.Sorted(maps.Keys(repo)), slices.Sorted(maps.Keys(nodeYAML)))
	}
}

func readYAML(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

// checkKafka checks a self-run Kafka node's configuration.
func checkKafka(t *testing.T, n node, nodes int, sasl bool) {
	t.Helper()
	if _, err := parseUnit(filepath.Join(n.root, "etc/systemd/system/kafka.service")); err != nil {
		t.Fatal(err)
	}
	props := filepath.Join(n.root, "etc/kafka/server.properties")
	p := readProperties(t, props)
	l := "PLAINTEXT"
	if sasl {
		l = "SASL_SSL"
		if fi, _ := os.Stat(props); fi.Mode().Perm()&0o007 != 0 {
			t.Errorf("node %s: server.properties (with the SCRAM password) has mode %v", n.id, fi.Mode().Perm())
		}
		for k, v := range map[string]string{
			"inter.broker.listener.name":           l,
			"listener.security.protocol.map":       "SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT",
			"sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
			"ssl.keystore.location":                "/etc/kafka/tls/server.pem",
			"ssl.truststore.location":              "/etc/kafka/tls/ca.pem",
		} {
			if p[k] != v {
				t.Errorf("node %s: server.properties %s=%q, want %q", n.id, k, p[k], v)
			}
		}
		if jaas := p["listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config"]; !strings.Contains(jaas, `username="stocklake" password="`+sampleKafkaPassword+`";`) {
			t.Errorf("node %s: inter-broker JAAS config %q lacks the stocklake user", n.id, jaas)
		}
	}
	ip := nodeIP(n.id)
	roles, listeners, advertised := "broker", l+"://:9092", l+"://"+ip+":9092"
	if n.id == "1" {
		ip = sampleNode1IP
		roles, listeners = "broker,controller", l+"://:9092,CONTROLLER://:9093"
		advertised = l + "://" + ip + ":9092,CONTROLLER://" + ip + ":9093"
	}
	rf := fmt.Sprint(min(nodes, 3))
	want := map[string]string{
		"node.id":                                  n.id,
		"process.roles":                            roles,
		"listeners":                                listeners,
		"advertised.listeners":                     advertised,
		"controller.quorum.bootstrap.servers":      sampleNode1IP + ":9093",
		"controller.listener.names":                "CONTROLLER",
		"default.replication.factor":               rf,
		"offsets.topic.replication.factor":         rf,
		"transaction.state.log.replication.factor": rf,
		"log.retention.hours":                      "24",
	}
	for k, v := range want {
		if p[k] != v {
			t.Errorf("node %s: server.properties %s=%q, want %q", n.id, k, p[k], v)
		}
	}
	env := readEnv(t, filepath.Join(n.root, "etc/kafka/kafka.env"))
	if env["KAFKA_HEAP_OPTS"] != "-Xms1g -Xmx1g" {
		t.Errorf("node %s: kafka.env KAFKA_HEAP_OPTS=%q", n.id, env["KAFKA_HEAP_OPTS"])
	}
}

// writeFiles writes files (path under root: body), making their folders.
func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		f := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// wantCheckErr fails t unless err is nil when want is "", or an error
// whose text holds want.
func wantCheckErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("want no error, got %v", err)
	case want != "" && err == nil:
		t.Fatalf("want an error with %q, got none", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Fatalf("want an error with %q, got %v", want, err)
	}
}

// TestUnitCheckCatchesMistakes shows checkUnit fails for the mistakes it is
// meant to catch, and passes the same unit without them.
func TestUnitCheckCatchesMistakes(t *testing.T) {
	c := loadCLI(t)
	cases := []struct {
		name, exec, profile, own, want string
	}{
		{"ok", "/usr/local/bin/stocklake sink --topic %i --group g-%i", "STOCKLAKE_BROKERS=10.0.0.1:9092\nSTOCKLAKE_LAKE=s3://b\n", "STOCKLAKE_MAX_ROWS=5000\n", ""},
		{"misspelled flag", "/usr/local/bin/stocklake sink --topci %i", "", "", "flag provided but not defined: -topci"},
		{"bad value", "/usr/local/bin/stocklake sink --topic %i --flush-interval soon", "", "", "invalid value"},
		{"bad value from the environment", "/usr/local/bin/stocklake sink --topic %i", "", "STOCKLAKE_MAX_ROWS=many\n", "invalid value"},
		{"misspelled variable", "/usr/local/bin/stocklake sink --topic %i", "", "STOCKLAKE_MAX_ROWZ=5\n", "has no --max-rowz flag"},
		{"misspelled profile variable", "/usr/local/bin/stocklake sink --topic %i", "STOCKLAKE_BROKRES=x:9092\n", "", "no stocklake subcommand has a --brokres flag"},
		{"unknown subcommand", "/usr/local/bin/stocklake sinq --topic %i", "", "", `no subcommand "sinq"`},
		{"not stocklake", "/usr/bin/stocklake sink", "", "", "does not run /usr/local/bin/stocklake"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			writeFiles(t, root, map[string]string{
				"etc/systemd/system/stocklake-sink@.service": "[Unit]\nDescription=x\n[Service]\n" +
					"EnvironmentFile=" + profileFile + "\nEnvironmentFile=-/etc/stocklake/sink-%i.env\n" +
					"ExecStart=" + tc.exec + "\n[Install]\nWantedBy=multi-user.target\n",
				"etc/stocklake/stocklake.env":  tc.profile,
				"etc/stocklake/sink-ticks.env": tc.own,
			})
			err := checkUnit(c, root, "stocklake-sink@ticks.service")
			wantCheckErr(t, err, tc.want)
		})
	}
}

// TestTimerCheckCatchesMistakes: checkTimer refuses a timer that never
// fires again, one not enabled at boot, a service a timer could not start
// again (not oneshot), a bad interval drop-in and a bad maintain flag.
func TestTimerCheckCatchesMistakes(t *testing.T) {
	c := loadCLI(t)
	const (
		okTimer   = "[Timer]\nOnBootSec=5min\nOnUnitInactiveSec=15min\n[Install]\nWantedBy=timers.target\n"
		okService = "[Service]\nType=oneshot\nEnvironmentFile=" + profileFile + "\nExecStart=/usr/local/bin/stocklake maintain\n"
	)
	cases := []struct{ name, timer, service, dropin, own, want string }{
		{"ok", okTimer, okService, "[Timer]\nOnUnitInactiveSec=\nOnUnitInactiveSec=30m\n", "STOCKLAKE_GRACE=1h\n", ""},
		{"no schedule", "[Timer]\nOnBootSec=5min\n[Install]\nWantedBy=timers.target\n", okService, "", "", "never fire again"},
		{"not at boot", "[Timer]\nOnUnitInactiveSec=15min\n", okService, "", "", "timers.target"},
		{"long-running service", okTimer, strings.Replace(okService, "oneshot", "simple", 1), "", "", "want oneshot"},
		{"bad interval", okTimer, okService, "[Timer]\nOnUnitInactiveSec=0m\n", "", "not a positive interval"},
		{"bad flag", okTimer, okService, "", "STOCKLAKE_ORPHAN_AGE=soon\n", "invalid value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			writeFiles(t, root, map[string]string{
				"etc/systemd/system/stocklake-maintain.timer":              tc.timer,
				"etc/systemd/system/stocklake-maintain.service":            tc.service + "EnvironmentFile=-/etc/stocklake/maintain.env\n",
				"etc/stocklake/stocklake.env":                              "STOCKLAKE_LAKE=s3://b\n",
				"etc/stocklake/maintain.env":                               tc.own,
				"etc/systemd/system/stocklake-maintain.timer.d/every.conf": tc.dropin,
			})
			err := checkUnit(c, root, "stocklake-maintain.timer")
			wantCheckErr(t, err, tc.want)
		})
	}
}

// TestEveryUnitFileChecked makes sure each unit file in deploy/systemd is
// enabled in some scenario, so TestNodeFiles checks it.
func TestEveryUnitFileChecked(t *testing.T) {
	files, err := filepath.Glob("systemd/*.service")
	if err != nil || len(files) == 0 {
		t.Fatalf("no unit files: %v", err)
	}
	timers, _ := filepath.Glob("systemd/*.timer")
	files = append(files, timers...)
	checked := map[string]bool{}
	for _, sc := range scenarios {
		for _, units := range sc.units {
			for _, u := range units {
				if b, inst, ok := strings.Cut(strings.TrimSuffix(u, ".service"), "@"); ok && inst != "" {
					u = b + "@.service"
				}
				checked[u] = true
				if b, ok := strings.CutSuffix(u, ".timer"); ok {
					checked[b+".service"] = true // checkTimer checks it
				}
			}
		}
	}
	for _, f := range files {
		if !checked[filepath.Base(f)] {
			t.Errorf("%s is enabled in no scenario of TestNodeFiles", f)
		}
	}
}

// TestLakeExportsMatchImports checks pipeline.yaml imports exactly what
// lake.yaml exports, so the two stacks connect.
func TestLakeExportsMatchImports(t *testing.T) {
	exports := lakeExports(t)
	want := []string{"stocklake-lake-Bucket", "stocklake-lake-BucketArn", "stocklake-lake-Database",
		"stocklake-lake-ReleaseBucket", "stocklake-lake-ReleaseBucketArn", "stocklake-lake-WorkGroup"}
	if got := slices.Sorted(maps.Keys(exports)); !slices.Equal(got, want) {
		t.Fatalf("lake.yaml exports %v, want %v", got, want)
	}
	if exports["stocklake-lake-BucketArn"] != "arn:aws:s3:::"+sampleBucket {
		t.Errorf("BucketArn export = %q", exports["stocklake-lake-BucketArn"])
	}
	for _, sc := range scenarios {
		s, _ := render(t, sc)
		if got := slices.Sorted(maps.Keys(s.used)); !slices.Equal(got, want) {
			t.Errorf("%s: pipeline.yaml imports %v, want %v", sc.name, got, want)
		}
	}
}

// TestLakeTemplate checks the lake bucket and workgroup settings the docs
// promise.
func TestLakeTemplate(t *testing.T) {
	lake, err := loadTemplate("aws/lake.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, params := range []map[string]string{nil, {"CreateGlueCrawler": "true", "TicksRetentionDays": "30"}} {
		s := newStack(lake, params, map[string]string{"LakeBucket": sampleBucket, "LakeBucket.Arn": "arn:aws:s3:::" + sampleBucket}, nil)
		for name := range lake.section("Resources") {
			if _, err := s.resource(name); err != nil {
				t.Fatal(err)
			}
		}
		bucket, _ := s.resource("LakeBucket")
		pab := bucket["PublicAccessBlockConfiguration"].(map[string]any)
		for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
			if pab[k] != "true" {
				t.Errorf("LakeBucket %s = %v", k, pab[k])
			}
		}
		if _, ok := bucket["BucketEncryption"]; !ok {
			t.Error("LakeBucket has no encryption")
		}
		rules := bucket["LifecycleConfiguration"].(map[string]any)["Rules"].([]any)
		var prefixes []string
		for _, r := range rules {
			if p, ok := r.(map[string]any)["Prefix"].(string); ok {
				prefixes = append(prefixes, p)
			}
		}
		wantPrefixes := []string{"query-results/"}
		if params != nil {
			wantPrefixes = append(wantPrefixes, "ticks/")
		}
		if !slices.Equal(prefixes, wantPrefixes) {
			t.Errorf("lifecycle prefixes %v, want %v", prefixes, wantPrefixes)
		}
		policy, _ := s.resource("LakeBucketPolicy")
		if !strings.Contains(fmt.Sprint(policy), "aws:SecureTransport:false") {
			t.Errorf("bucket policy does not deny insecure transport: %v", policy)
		}
		wg, _ := s.resource("WorkGroup")
		cfg := wg["WorkGroupConfiguration"].(map[string]any)
		if got := cfg["ResultConfiguration"].(map[string]any)["OutputLocation"]; got != "s3://"+sampleBucket+"/query-results/" {
			t.Errorf("workgroup output location %v", got)
		}
		if cfg["BytesScannedCutoffPerQuery"] == nil {
			t.Error("workgroup has no bytes-scanned cutoff")
		}
		crawler, _ := s.resource("GlueCrawler")
		if (crawler != nil) != (params != nil) {
			t.Errorf("GlueCrawler created = %v with %v", crawler != nil, params)
		}
	}
}

// TestSecurityGroupsExposeNothing checks no ingress rule admits the
// internet by default, and DashboardCidr opens only the dashboard.
func TestSecurityGroupsExposeNothing(t *testing.T) {
	for _, sc := range append(scenarios, scenario{name: "dashboard", params: map[string]string{"DashboardCidr": "203.0.113.0/24"}}) {
		s, _ := render(t, sc)
		var open []string
		for name, rules := range s.ingressRules() {
			for _, m := range rules {
				cidr, _ := m["CidrIp"].(string)
				if cidr == "" || cidr == "10.42.0.0/16" {
					continue // a security group or the VPC
				}
				open = append(open, fmt.Sprintf("%s %v-%v from %s", name, m["FromPort"], m["ToPort"], cidr))
			}
		}
		want := []string(nil)
		if sc.name == "dashboard" {
			want = []string{"DashboardFromCidr 8080-8080 from 203.0.113.0/24"}
		}
		if !slices.Equal(open, want) {
			t.Errorf("%s: ingress from outside the VPC: %v, want %v", sc.name, open, want)
		}
	}
}

// TestPublishStage lays out the release as publish uploads it and renders
// a node from it, as the instance does.
func TestPublishStage(t *testing.T) {
	bin := stocklakeBinary(t)
	stage := t.TempDir()
	out, err := exec.Command("bash", "aws/publish", "--stage", stage, "--binary", bin).CombinedOutput()
	if err != nil {
		t.Fatalf("publish --stage: %v\n%s", err, out)
	}
	for _, f := range []string{"stocklake-node", "update", "VERSION", "bin/stocklake-linux-amd64", "systemd/kafka.service", "systemd/stocklake-sink@.service",
		"kafka-ca/ca.pem", "kafka-ca/ca.key"} {
		if _, err := os.Stat(filepath.Join(stage, f)); err != nil {
			t.Errorf("release lacks %s: %v", f, err)
		}
	}
	_, nodes := render(t, scenarios[0])
	root := t.TempDir()
	if out, err := exec.Command("bash", filepath.Join(stage, "stocklake-node"), "render", nodes[0].env, root).CombinedOutput(); err != nil {
		t.Fatalf("stocklake-node render from the release: %v\n%s", err, out)
	}
	for _, f := range []string{"etc/stocklake/stocklake.env", "etc/systemd/system/stocklake-produce.service", "etc/kafka/server.properties"} {
		a, errA := os.ReadFile(filepath.Join(root, f))
		b, errB := os.ReadFile(filepath.Join(nodes[0].root, f))
		if errA != nil || errB != nil || !bytes.Equal(a, b) {
			t.Errorf("%s from the release differs from the repository's (%v, %v)", f, errA, errB)
		}
	}
	// The broker's certificate chains to the release's Kafka CA, for the
	// node's address, and the clients get that CA.
	checkKafkaCert(t, filepath.Join(root, "etc/kafka/tls/server.pem"), filepath.Join(stage, "kafka-ca/ca.pem"), sampleNode1IP)
	if a, b := readFile(t, filepath.Join(root, "etc/stocklake/kafka-ca.pem")), readFile(t, filepath.Join(stage, "kafka-ca/ca.pem")); a != b {
		t.Error("etc/stocklake/kafka-ca.pem is not the release's CA")
	}
	// A second publish into the same stage keeps the CA.
	ca := readFile(t, filepath.Join(stage, "kafka-ca/ca.key"))
	if out, err := runPublishStage(t, stage); err != nil {
		t.Fatalf("publish --stage again: %v\n%s", err, out)
	}
	if readFile(t, filepath.Join(stage, "kafka-ca/ca.key")) != ca {
		t.Error("a second publish replaced the Kafka CA: running brokers' certificates would no longer verify")
	}
}

// TestCfnLintIntegration runs cfn-lint on the templates; scripts/cfn-lint
// installs it from PyPI once. It runs with STOCKLAKE_CFN_LINT=1, and with
// the integration suites (STOCKLAKE_GLUE_ENDPOINT set: scripts/glue has
// installed moto from PyPI, so PyPI is reachable).
func TestCfnLintIntegration(t *testing.T) {
	if os.Getenv("STOCKLAKE_CFN_LINT") == "" && os.Getenv("STOCKLAKE_GLUE_ENDPOINT") == "" {
		t.Skip("set STOCKLAKE_CFN_LINT=1 (or STOCKLAKE_GLUE_ENDPOINT) to run cfn-lint (scripts/cfn-lint) on deploy/aws/*.yaml")
	}
	out, err := exec.Command("bash", "../scripts/cfn-lint").CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/cfn-lint: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// sdkCalls returns the AWS SDK operations the non-test Go files of dir
// call: client methods and paginators.
func sdkCalls(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	rx := regexp.MustCompile(`\.(?:client|uploader)\.([A-Z]\w+)\(|\.New(\w+)Paginator\(`)
	seen := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range rx.FindAllStringSubmatch(string(b), -1) {
			op := m[1] + m[2]
			if op != "Options" { // the client's configuration, not a call
				seen[op] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// TestInstanceRoleCoversSDKCalls checks the instance role in pipeline.yaml
// against the AWS calls in the s3, glue and athena packages: every call
// stocklake makes is allowed, and nothing else is, except what Athena needs
// from the caller to run a query.
func TestInstanceRoleCoversSDKCalls(t *testing.T) {
	// IAM actions for S3 API operations (several are covered by one).
	s3Actions := map[string][]string{
		"GetObject":            {"s3:GetObject"},
		"HeadObject":           {"s3:GetObject"},
		"PutObject":            {"s3:PutObject"},
		"UploadObject":         {"s3:PutObject", "s3:AbortMultipartUpload"}, // transfermanager: multipart
		"DeleteObject":         {"s3:DeleteObject"},
		"ListObjectsV2":        {"s3:ListBucket"},
		"HeadBucket":           {"s3:ListBucket"},
		"ListMultipartUploads": {"s3:ListBucketMultipartUploads"},
		"AbortMultipartUpload": {"s3:AbortMultipartUpload"},
		// Only with ?create_bucket=true, for test servers: the lake stack
		// creates the bucket.
		"CreateBucket": nil,
	}
	need := map[string]string{} // action -> why
	for _, op := range sdkCalls(t, "../s3") {
		acts, ok := s3Actions[op]
		if !ok {
			t.Errorf("s3 package calls %s: add its IAM action to the instance role in aws/pipeline.yaml and to this test", op)
		}
		for _, a := range acts {
			need[a] = "s3." + op
		}
	}
	glueOps := sdkCalls(t, "../glue")
	if len(glueOps) < 10 {
		t.Fatalf("found only %v in the glue package", glueOps)
	}
	// Glue calls the package has but no command makes: the lake stack owns
	// the database.
	glueUnused := map[string]bool{"DeleteDatabase": true}
	for op := range glueUnused {
		if out, _ := exec.Command("grep", "-rl", "--include=*.go", "--exclude=*_test.go", op+"(", "../cmd").Output(); len(out) > 0 {
			t.Errorf("cmd/ calls %s (%s): grant glue:%s to the instance role and drop it from glueUnused", op, bytes.TrimSpace(out), op)
		}
	}
	for _, op := range glueOps {
		if !glueUnused[op] {
			need["glue:"+op] = "glue." + op
		}
	}
	if _, err := os.Stat("../athena"); err == nil {
		for _, op := range sdkCalls(t, "../athena") {
			need["athena:"+op] = "athena." + op
		}
	} else {
		for _, op := range []string{"StartQueryExecution", "GetQueryExecution", "GetQueryResults", "StopQueryExecution"} {
			need["athena:"+op] = "the athena:// engine"
		}
	}
	// Athena runs a query with the caller's permissions: it reads the
	// tables and partitions from Glue, reads the lake and writes results.
	athenaNeeds := []string{"glue:GetDatabase", "glue:GetTable", "glue:GetPartitions", "glue:BatchGetPartition",
		"s3:GetBucketLocation", "s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload",
		"s3:ListBucketMultipartUploads", "s3:ListMultipartUploadParts"}
	for _, a := range athenaNeeds {
		if need[a] == "" {
			need[a] = "Athena queries"
		}
	}

	for _, sc := range []scenario{scenarios[0], scenarios[2]} {
		s, _ := render(t, sc)
		role, err := s.resource("InstanceRole")
		if err != nil {
			t.Fatal(err)
		}
		granted := map[string]bool{}
		for _, p := range role["Policies"].([]any) {
			for _, st := range p.(map[string]any)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
				stm := st.(map[string]any)
				if stm["Effect"] != "Allow" {
					continue
				}
				res := fmt.Sprint(stm["Resource"])
				if strings.Contains(res, ":*:") || res == "*" || strings.Contains(res, "[*]") {
					t.Errorf("%s: statement %v allows every resource", sc.name, stm["Sid"])
				}
				acts := stm["Action"]
				if a, ok := acts.(string); ok {
					acts = []any{a}
				}
				for _, a := range acts.([]any) {
					if strings.Contains(a.(string), "*") {
						t.Errorf("%s: wildcard action %s", sc.name, a)
					}
					granted[a.(string)] = true
				}
			}
		}
		// What the nodes' boot (stocklake-node install) and Kafka clients
		// need beyond the SDK calls: MSK's brokers and IAM access control,
		// the self-run brokers' SCRAM password.
		wantMsk := sc.params["KafkaMode"] == "msk"
		boot := map[string]bool{"kafka:GetBootstrapBrokers": wantMsk, "secretsmanager:GetSecretValue": !wantMsk}
		for _, a := range []string{"kafka-cluster:Connect", "kafka-cluster:DescribeCluster", "kafka-cluster:WriteDataIdempotently",
			"kafka-cluster:CreateTopic", "kafka-cluster:DescribeTopic", "kafka-cluster:DescribeTopicDynamicConfiguration",
			"kafka-cluster:ReadData", "kafka-cluster:WriteData", "kafka-cluster:AlterGroup", "kafka-cluster:DescribeGroup",
			"kafka-cluster:AlterTransactionalId", "kafka-cluster:DescribeTransactionalId"} {
			boot[a] = wantMsk
		}
		for a, want := range boot {
			if granted[a] != want {
				t.Errorf("%s: %s granted = %v, want %v", sc.name, a, granted[a], want)
			}
			delete(granted, a)
		}
		for a, why := range need {
			if !granted[a] {
				t.Errorf("%s: the instance role lacks %s (needed by %s)", sc.name, a, why)
			}
		}
		for a := range granted {
			if need[a] == "" {
				t.Errorf("%s: the instance role grants %s, which stocklake does not call", sc.name, a)
			}
		}
	}
}

// TestProfileConfigFile reads deploy/aws/stocklake-aws.yaml with the real
// binary (not --help, which stops before the config file is read): serve,
// the one subcommand with every key of the profile, must start with it.
// Flags point the catalog, lake and brokers at local ones, so nothing
// reaches AWS; they override the file's values, which are still parsed.
func TestProfileConfigFile(t *testing.T) {
	c := loadCLI(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	cmd := exec.Command(c.bin, "serve", "--config", "aws/stocklake-aws.yaml",
		"--catalog", "sqlite://"+filepath.Join(dir, "catalog.db"), "--lake", "file://"+filepath.Join(dir, "lake"),
		"--engine", "duckdb://", "--brokers", "127.0.0.1:1", "--http", addr,
		"--kafka-sasl-mechanism", "", "--kafka-sasl-user", "", "--kafka-sasl-password-file", "", "--kafka-tls-ca", "")
	cmd.Env = cleanEnv()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	listening := make(chan error, 1)
	go func() { listening <- waitPort(addr) }()
	select {
	case err := <-exited:
		t.Fatalf("stocklake serve --config aws/stocklake-aws.yaml exited: %v\n%s", err, out.String())
	case err := <-listening:
		cmd.Process.Signal(os.Interrupt)
		<-exited
		if err != nil {
			t.Fatalf("stocklake serve --config aws/stocklake-aws.yaml: %v\n%s", err, out.String())
		}
	}
}
