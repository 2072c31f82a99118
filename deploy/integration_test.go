package deploy_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
	"github.com/stocklake/stocklake/s3"
)

// TestAWSProfileIntegration runs the AWS code path of a deployment against
// local stand-ins: node 1's files are rendered from pipeline.yaml as in
// TestNodeFiles, and its services' exact command lines run with its AWS
// profile (/etc/stocklake/stocklake.env and the per-service files), with
// only the AWS endpoints pointed at an S3 server and a Glue/Athena API
// (AWS_ENDPOINT_URL_S3, _GLUE, _ATHENA, as the AWS SDKs read them) and the
// brokers at an embedded broker. It produces ticks, lands them with the sink
// unit's command into the s3:// lake registering partitions in glue://,
// crawls with the crawl unit's command, and checks the Glue stand-in holds
// the table and partitions at s3:// locations; with a query subcommand it
// also queries through the Athena stand-in.
//
// Needs STOCKLAKE_S3_ENDPOINT (scripts/s3 start) and STOCKLAKE_GLUE_ENDPOINT
// (scripts/glue start) and the S3 server's credentials in AWS_ACCESS_KEY_ID
// and AWS_SECRET_ACCESS_KEY (the Glue stand-in accepts any).
func TestAWSProfileIntegration(t *testing.T) {
	s3End, glueEnd := os.Getenv("STOCKLAKE_S3_ENDPOINT"), os.Getenv("STOCKLAKE_GLUE_ENDPOINT")
	if s3End == "" || glueEnd == "" {
		t.Skip("set STOCKLAKE_S3_ENDPOINT and STOCKLAKE_GLUE_ENDPOINT (eval \"$(scripts/s3 start)\"; eval \"$(scripts/glue start)\")")
	}
	c := loadCLI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	id := randomHex(t)
	bucket := "stocklake-it-" + id
	database := "stocklake_it_" + id
	workgroup := "stocklake-it-" + id
	// The embedded broker has no authentication: the profile of
	// KafkaAuthentication=none (TestNodeFiles checks the SASL one).
	_, nodes := render(t, scenario{name: "integration", params: map[string]string{"KafkaAuthentication": "none"}, exports: map[string]string{
		"stocklake-lake-Bucket":    bucket,
		"stocklake-lake-BucketArn": "arn:aws:s3:::" + bucket,
		"stocklake-lake-Database":  database,
		"stocklake-lake-WorkGroup": workgroup,
	}})
	root := nodes[0].root

	// The lake stack creates the bucket.
	store, err := s3.New(ctx, s3.Config{Bucket: bucket, Endpoint: s3End, Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateBucket(ctx); err != nil {
		t.Fatal(err)
	}

	addr := freeAddr(t)
	base := append(cleanEnv(),
		"AWS_ENDPOINT_URL_S3="+s3End,
		"AWS_ENDPOINT_URL_GLUE="+glueEnd,
		"AWS_ENDPOINT_URL_ATHENA="+glueEnd,
	)
	profile := envFile(t, filepath.Join(root, "etc/stocklake/stocklake.env"))
	if !slices.Contains(profile, "STOCKLAKE_LAKE=s3://"+bucket) || !slices.Contains(profile, "STOCKLAKE_CATALOG=glue://us-east-1") {
		t.Fatalf("profile is not the AWS one: %v", profile)
	}
	// env is what systemd gives the unit: the profile, its own file, and
	// here the embedded broker's address.
	env := func(files ...string) []string {
		e := append(slices.Clone(base), profile...)
		for _, f := range files {
			if _, err := os.Stat(filepath.Join(root, f)); err == nil {
				e = append(e, envFile(t, filepath.Join(root, f))...)
			}
		}
		return append(e, "STOCKLAKE_BROKERS="+addr)
	}

	broker := exec.CommandContext(ctx, c.bin, "broker", "--listen", addr, "--data", t.TempDir())
	broker.Env = base
	var brokerLog bytes.Buffer
	broker.Stdout, broker.Stderr = &brokerLog, &brokerLog
	if err := broker.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		broker.Process.Signal(os.Interrupt)
		broker.Wait()
	})
	if err := waitPort(addr); err != nil {
		broker.Process.Kill()
		broker.Wait()
		t.Fatalf("%v; broker log:\n%s", err, brokerLog.String())
	}

	const ticks = 3000
	run(t, ctx, env("etc/stocklake/produce.env"), append(unitArgs(t, root, "stocklake-produce.service"), "--count", fmt.Sprint(ticks), "--rate", "0")...)
	run(t, ctx, env("etc/stocklake/sink-ticks.env"), append(unitArgs(t, root, "stocklake-sink@ticks.service"), "--exit-when-idle", "--metrics-addr", "")...)
	objs, err := store.List(ctx, "ticks/")
	if err != nil {
		t.Fatal(err)
	}
	parquet := 0
	for _, o := range objs {
		if strings.HasSuffix(o.Key, ".parquet") {
			parquet++
		}
	}
	if parquet == 0 {
		t.Fatalf("no Parquet objects under s3://%s/ticks/: %v", bucket, objs)
	}
	run(t, ctx, env("etc/stocklake/crawl.env"), append(unitArgs(t, root, "stocklake-crawl.service"), "--every", "0s")...)

	// What stocklake sees in the catalog ...
	var tables []struct{ Name, Location string }
	mustJSON(t, run(t, ctx, env(), "catalog", "tables", "--format", "json"), &tables)
	if !slices.ContainsFunc(tables, func(tb struct{ Name, Location string }) bool { return tb.Name == "ticks" }) {
		t.Fatalf("catalog tables: no ticks in %+v", tables)
	}
	var parts []map[string]any
	mustJSON(t, run(t, ctx, env(), "catalog", "partitions", "ticks", "--format", "json"), &parts)
	if len(parts) == 0 {
		t.Fatal("catalog partitions ticks: none")
	}

	// ... and what the Glue stand-in itself holds.
	var table struct {
		Table struct {
			StorageDescriptor struct{ Location string }
			PartitionKeys     []struct{ Name string }
		}
	}
	glueCall(t, glueEnd, "AWSGlue.GetTable", map[string]any{"DatabaseName": database, "Name": "ticks"}, &table)
	if loc := table.Table.StorageDescriptor.Location; !strings.HasPrefix(loc, "s3://"+bucket+"/ticks") {
		t.Errorf("Glue table ticks location %q, want s3://%s/ticks...", loc, bucket)
	}
	if len(table.Table.PartitionKeys) == 0 {
		t.Error("Glue table ticks has no partition keys")
	}
	var gp struct {
		Partitions []struct {
			Values            []string
			StorageDescriptor struct{ Location string }
		}
	}
	glueCall(t, glueEnd, "AWSGlue.GetPartitions", map[string]any{"DatabaseName": database, "TableName": "ticks"}, &gp)
	if len(gp.Partitions) != len(parts) {
		t.Errorf("Glue holds %d partitions of ticks, stocklake catalog lists %d", len(gp.Partitions), len(parts))
	}
	for _, p := range gp.Partitions {
		if !strings.HasPrefix(p.StorageDescriptor.Location, "s3://"+bucket+"/ticks/") {
			t.Errorf("partition %v at %q, want under s3://%s/ticks/", p.Values, p.StorageDescriptor.Location, bucket)
		}
	}
	t.Logf("%d ticks -> %d Parquet objects, Glue table ticks with %d partitions", ticks, parquet, len(gp.Partitions))

	// SQL over the Glue table's s3:// partitions with the embedded engine:
	// every tick exactly once, and the result kept under query-results/,
	// the workgroup's result location that the lifecycle rule expires.
	got := run(t, ctx, env(), "query", "--engine", "duckdb://", "--format", "csv", "SELECT count(*) AS n FROM ticks")
	if rows, err := csv.NewReader(strings.NewReader(got)).ReadAll(); err != nil || len(rows) != 2 || rows[1][0] != fmt.Sprint(ticks) {
		t.Errorf("count(*) over the lake through Glue: got %q (%v), want n and %d", got, err, ticks)
	}
	results, err := store.List(ctx, "query-results/")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(results, func(o stocklake.ObjectInfo) bool { return strings.HasSuffix(o.Key, ".csv") }) {
		t.Errorf("no query result under s3://%s/query-results/: %v", bucket, results)
	}

	checkServe(t, ctx, c, root, env("etc/stocklake/serve.env"))

	if !slices.Contains(c.subs, "query") || !c.flags["query"]["engine"] {
		t.Logf("no stocklake query --engine yet: the Athena step is left out")
		return
	}
	queryAthena(t, ctx, c, glueEnd, workgroup, env())
}

// checkServe runs the serve unit's command with its settings (on a free
// loopback port) and reads the Glue catalog through its API over HTTPS,
// trusting the certificate the node made, with the token from serve.env.
func checkServe(t *testing.T, ctx context.Context, c *cli, root string, env []string) {
	t.Helper()
	token, certFile := "", ""
	for i, e := range env {
		if v, ok := strings.CutPrefix(e, "STOCKLAKE_TOKEN="); ok {
			token = v
		}
		// The node's /etc is under root here.
		for _, k := range []string{"STOCKLAKE_TLS_CERT=", "STOCKLAKE_TLS_KEY="} {
			if v, ok := strings.CutPrefix(e, k); ok {
				env[i] = k + filepath.Join(root, v)
				if k == "STOCKLAKE_TLS_CERT=" {
					certFile = filepath.Join(root, v)
				}
			}
		}
	}
	if token == "" || certFile == "" {
		t.Fatal("serve.env has no STOCKLAKE_TOKEN or STOCKLAKE_TLS_CERT")
	}
	roots := x509.NewCertPool()
	pemBytes, err := os.ReadFile(certFile)
	if err != nil || !roots.AppendCertsFromPEM(pemBytes) {
		t.Fatalf("the dashboard certificate %s: %v", certFile, err)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	addr := freeAddr(t)
	args := append(unitArgs(t, root, "stocklake-serve.service"), "--http", addr)
	serve := exec.CommandContext(ctx, c.bin, args...)
	serve.Env = env
	var log bytes.Buffer
	serve.Stdout, serve.Stderr = &log, &log
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		serve.Process.Signal(os.Interrupt)
		serve.Wait()
	}()
	if err := waitPort(addr); err != nil {
		serve.Process.Kill()
		serve.Wait()
		t.Fatalf("%v; serve log:\n%s", err, log.String())
	}
	get := func(withToken bool) (int, string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+"/api/catalog/tables", nil)
		if withToken {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get(false); code != http.StatusUnauthorized {
		t.Errorf("serve without the token: status %d, want 401", code)
	}
	code, body := get(true)
	if code != http.StatusOK || !strings.Contains(body, `"ticks"`) {
		t.Errorf("serve /api/catalog/tables: status %d, body %.300s; want 200 listing ticks", code, body)
	}
}

// queryAthena runs stocklake query through the Athena stand-in, which
// returns the result posted to it beforehand.
func queryAthena(t *testing.T, ctx context.Context, c *cli, endpoint, workgroup string, env []string) {
	t.Helper()
	var out map[string]any
	athenaCall(t, endpoint, "AmazonAthena.CreateWorkGroup", map[string]any{
		"Name": workgroup,
		"Configuration": map[string]any{
			"ResultConfiguration": map[string]any{"OutputLocation": "s3://athena-results/"},
		},
	}, &out)
	const answer = "3000"
	result := map[string]any{
		"account_id": "123456789012",
		"region":     "us-east-1",
		"results": []any{map[string]any{
			"rows": []any{
				map[string]any{"Data": []any{map[string]any{"VarCharValue": "n"}}},
				map[string]any{"Data": []any{map[string]any{"VarCharValue": answer}}},
			},
			"column_info": []any{map[string]any{
				"CatalogName": "awsdatacatalog", "SchemaName": "", "TableName": "",
				"Name": "n", "Label": "n", "Type": "bigint", "Precision": 19, "Scale": 0,
				"Nullable": "UNKNOWN", "CaseSensitive": false,
			}},
		}},
	}
	b, _ := json.Marshal(result)
	resp, err := http.Post(strings.TrimRight(endpoint, "/")+"/moto-api/static/athena/query-results", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		t.Fatalf("posting the Athena result to moto: %s", resp.Status)
	}
	args := []string{"query", "--format", "csv", "SELECT count(*) AS n FROM ticks"}
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	got := stdout.String()
	if err != nil {
		t.Fatalf("stocklake %s: %v\n%s%s", strings.Join(args, " "), err, got, stderr.String())
	}
	if !strings.Contains(got, answer) {
		t.Fatalf("stocklake query through Athena printed %q, want %s", got, answer)
	}
}

// unitArgs returns the arguments after the binary of a rendered unit's ExecStart.
func unitArgs(t *testing.T, root, unitName string) []string {
	t.Helper()
	file := unitName
	if b, inst, ok := strings.Cut(strings.TrimSuffix(unitName, ".service"), "@"); ok && inst != "" {
		file = b + "@.service"
	}
	u, err := parseUnit(filepath.Join(root, "etc/systemd/system", file))
	if err != nil {
		t.Fatal(err)
	}
	line, err := specifiers(u["Service"]["ExecStart"][0], unitName)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(line)[1:]
}

// envFile returns an environment file as KEY=VALUE strings.
func envFile(t *testing.T, path string) []string {
	t.Helper()
	vars, err := parseEnvFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, v := range vars {
		out = append(out, v.key+"="+v.value)
	}
	return out
}

// run runs the stocklake binary with args and returns its standard output;
// it fails the test on a non-zero exit.
func run(t *testing.T, ctx context.Context, env []string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, loadCLI(t).bin, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("stocklake %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

func mustJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("not JSON (%v): %s", err, s)
	}
}

// awsJSON calls an AWS JSON-protocol API of the moto server directly,
// independently of stocklake's clients.
func awsJSON(t *testing.T, endpoint, target, service string, in, out any) {
	t.Helper()
	b, _ := json.Marshal(in)
	req, err := http.NewRequest(http.MethodPost, strings.TrimRight(endpoint, "/")+"/", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", target)
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/"+service+"/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %s: %s", target, resp.Status, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("%s: %v: %s", target, err, body)
	}
}

func glueCall(t *testing.T, endpoint, target string, in, out any) {
	t.Helper()
	awsJSON(t, endpoint, target, "glue", in, out)
}

func athenaCall(t *testing.T, endpoint, target string, in, out any) {
	t.Helper()
	awsJSON(t, endpoint, target, "athena", in, out)
}

func randomHex(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// freeAddr returns a free 127.0.0.1 address.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitPort waits until something accepts connections on addr.
func waitPort(addr string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("nothing listens on %s after 30s", addr)
}
