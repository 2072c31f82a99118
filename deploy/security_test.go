package deploy_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The checks in this file hold the templates to the security properties
// docs/aws.md and docs/security.md promise (issue 14): nodes cannot rewrite
// what they run as root at boot, nothing admits the internet, IMDSv2,
// encryption at rest and in transit, versioned buckets, authenticated Kafka
// by default, TLS for the dashboard.

// securityScenarios are the deployments the checks run over: every
// scenario of TestNodeFiles plus the dashboard opened to a CIDR.
func securityScenarios() []scenario {
	return append(slices.Clone(scenarios),
		scenario{name: "dashboard", params: map[string]string{"DashboardCidr": "203.0.113.0/24", "KafkaClientCidr": "198.51.100.0/24"}},
		scenario{name: "msk-client-cidr", params: map[string]string{"KafkaMode": "msk", "KafkaClientCidr": "198.51.100.0/24"}})
}

// statement is one evaluated IAM policy statement.
type statement struct {
	sid, effect        string
	actions, resources []string
}

func asList(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, fmt.Sprint(e))
		}
		return out
	}
	return nil
}

// roleStatements returns the statements of the inline policies of role.
func roleStatements(t *testing.T, s *stack, role string) []statement {
	t.Helper()
	props, err := s.resource(role)
	if err != nil || props == nil {
		t.Fatalf("%s: %v", role, err)
	}
	var out []statement
	for _, p := range props["Policies"].([]any) {
		for _, st := range p.(map[string]any)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			m := st.(map[string]any)
			out = append(out, statement{sid: fmt.Sprint(m["Sid"]), effect: fmt.Sprint(m["Effect"]),
				actions: asList(m["Action"]), resources: asList(m["Resource"])})
		}
	}
	return out
}

// iamMatch reports whether the IAM pattern (with * and ?) matches s.
func iamMatch(pattern, s string) bool {
	rx := "^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(pattern)) + "$"
	return regexp.MustCompile(rx).MatchString(s)
}

// s3Write reports whether the IAM action can change or delete an object.
func s3Write(action string) bool {
	for _, a := range []string{"s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectAcl", "s3:RestoreObject", "s3:ReplicateObject", "s3:PutObjectTagging"} {
		if iamMatch(action, a) {
			return true
		}
	}
	return false
}

// releaseSource returns the s3:// location the UserData copies the
// release from (what the node then runs as root).
func releaseSource(t *testing.T, s *stack) string {
	t.Helper()
	lt, err := s.resource("LaunchTemplate")
	if err != nil {
		t.Fatal(err)
	}
	ud := decodeUserData(t, lt)
	m := regexp.MustCompile(`aws s3 cp [^\n]*'(s3://[^']+)'`).FindStringSubmatch(ud)
	if m == nil {
		t.Fatalf("UserData copies no release from S3:\n%s", ud)
	}
	return m[1]
}

// TestInstanceRoleCannotWriteRelease: the instance role may not change
// the release the nodes download and run as root at boot (a compromised
// service would become root on the next launch).
func TestInstanceRoleCannotWriteRelease(t *testing.T) {
	for _, sc := range securityScenarios() {
		s, _ := render(t, sc)
		src := releaseSource(t, s)
		bucket, prefix, _ := strings.Cut(strings.TrimPrefix(src, "s3://"), "/")
		objects := []string{
			"arn:aws:s3:::" + bucket + "/" + path.Join(prefix, "stocklake-node"),
			"arn:aws:s3:::" + bucket + "/" + path.Join(prefix, "bin/stocklake-linux-amd64"),
		}
		readable := false
		for _, st := range roleStatements(t, s, "InstanceRole") {
			if st.effect != "Allow" {
				continue
			}
			for _, a := range st.actions {
				for _, r := range st.resources {
					for _, obj := range objects {
						if !iamMatch(r, obj) {
							continue
						}
						if s3Write(a) {
							t.Errorf("%s: statement %s lets the instance role %s %s, which the nodes run as root at boot", sc.name, st.sid, a, obj)
						}
						if iamMatch(a, "s3:GetObject") {
							readable = true
						}
					}
				}
			}
		}
		if !readable {
			t.Errorf("%s: the instance role cannot read the release at %s", sc.name, src)
		}
	}
}

// TestReleaseUpdateSource: the update script publish installs on the
// nodes fetches from the same read-only location as the UserData.
func TestReleaseUpdateSource(t *testing.T) {
	stage := t.TempDir()
	if out, err := runPublishStage(t, stage); err != nil {
		t.Fatalf("publish --stage: %v\n%s", err, out)
	}
	upd := readFile(t, filepath.Join(stage, "update"))
	if !strings.Contains(upd, `"$SL_RELEASE"`) {
		t.Errorf("update does not fetch from SL_RELEASE (the UserData's source):\n%s", upd)
	}
	s, nodes := render(t, scenarios[0])
	env := readFile(t, nodes[0].env)
	if !strings.Contains(env, "SL_RELEASE="+releaseSource(t, s)+"\n") {
		t.Errorf("node.env has no SL_RELEASE=%s:\n%s", releaseSource(t, s), env)
	}
}

// TestNoIngressFromEverywhere: no rule admits 0.0.0.0/0 or ::/0, and the
// CIDR parameters refuse them.
func TestNoIngressFromEverywhere(t *testing.T) {
	for _, sc := range securityScenarios() {
		s, _ := render(t, sc)
		for name, rules := range s.ingressRules() {
			for _, m := range rules {
				if m["CidrIp"] == "0.0.0.0/0" || m["CidrIpv6"] == "::/0" {
					t.Errorf("%s: %s admits the internet: %v", sc.name, name, m)
				}
			}
		}
	}
	tmpl, err := loadTemplate("aws/pipeline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"DashboardCidr", "KafkaClientCidr"} {
		pat := tmpl.section("Parameters")[p].(map[string]any)["AllowedPattern"].(string)
		rx := regexp.MustCompile(pat)
		for _, bad := range []string{"0.0.0.0/0", "0.0.0.0/1", "128.0.0.0/4"} {
			if rx.MatchString(bad) {
				t.Errorf("%s accepts %s (AllowedPattern %s): a CIDR that wide admits most of the internet", p, bad, pat)
			}
		}
		for _, good := range []string{"", "203.0.113.0/24", "198.51.100.7/32", "10.0.0.0/8"} {
			if !rx.MatchString(good) {
				t.Errorf("%s refuses %q (AllowedPattern %s)", p, good, pat)
			}
		}
	}
}

// TestIMDSv2AndEncryptedVolumes: every instance boots from the launch
// template, which requires IMDSv2 tokens (hop limit 1: containers on the
// node cannot reach the role's credentials) and encrypts its volumes.
func TestIMDSv2AndEncryptedVolumes(t *testing.T) {
	for _, sc := range securityScenarios() {
		s, _ := render(t, sc)
		lt, err := s.resource("LaunchTemplate")
		if err != nil {
			t.Fatal(err)
		}
		data := lt["LaunchTemplateData"].(map[string]any)
		md, _ := data["MetadataOptions"].(map[string]any)
		if md["HttpTokens"] != "required" || md["HttpPutResponseHopLimit"] != "1" {
			t.Errorf("%s: launch template metadata options %v, want HttpTokens required and hop limit 1", sc.name, md)
		}
		bdms, _ := data["BlockDeviceMappings"].([]any)
		if len(bdms) == 0 {
			t.Errorf("%s: no block device mappings: the root volume would not be encrypted", sc.name)
		}
		for _, b := range bdms {
			if ebs, _ := b.(map[string]any)["Ebs"].(map[string]any); ebs["Encrypted"] != "true" {
				t.Errorf("%s: volume %v is not encrypted", sc.name, b)
			}
		}
		for name, r := range s.t.section("Resources") {
			typ := r.(map[string]any)["Type"]
			props, err := s.resource(name)
			if err != nil || props == nil {
				continue
			}
			switch typ {
			case "AWS::EC2::Instance":
				if _, ok := props["LaunchTemplate"]; !ok {
					t.Errorf("%s: instance %s does not use the launch template", sc.name, name)
				}
				for _, k := range []string{"MetadataOptions", "BlockDeviceMappings", "UserData"} {
					if _, ok := props[k]; ok {
						t.Errorf("%s: instance %s overrides the launch template's %s", sc.name, name, k)
					}
				}
			case "AWS::EC2::Volume":
				if props["Encrypted"] != "true" {
					t.Errorf("%s: volume %s is not encrypted", sc.name, name)
				}
			}
		}
	}
}

// TestBucketsEncryptedAndVersioned: every bucket of the lake stack
// encrypts objects, refuses plain HTTP, blocks public access and keeps
// versions (an overwritten or deleted object can be restored).
func TestBucketsEncryptedAndVersioned(t *testing.T) {
	lake, err := loadTemplate("aws/lake.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, params := range []map[string]string{nil, {"CreateGlueCrawler": "true", "TicksRetentionDays": "30"}} {
		s := newStack(lake, params, nil, nil)
		buckets := 0
		policies := map[string]string{}
		for name, r := range lake.section("Resources") {
			if r.(map[string]any)["Type"] != "AWS::S3::BucketPolicy" {
				continue
			}
			props, err := s.resource(name)
			if err != nil {
				t.Fatal(err)
			}
			policies[fmt.Sprint(props["Bucket"])] = fmt.Sprint(props["PolicyDocument"])
		}
		for name, r := range lake.section("Resources") {
			if r.(map[string]any)["Type"] != "AWS::S3::Bucket" {
				continue
			}
			buckets++
			props, err := s.resource(name)
			if err != nil {
				t.Fatal(err)
			}
			enc := fmt.Sprint(props["BucketEncryption"])
			if !strings.Contains(enc, "SSEAlgorithm:AES256") && !strings.Contains(enc, "SSEAlgorithm:aws:kms") {
				t.Errorf("bucket %s: no default encryption: %v", name, enc)
			}
			if v, _ := props["VersioningConfiguration"].(map[string]any); v["Status"] != "Enabled" {
				t.Errorf("bucket %s: versioning is not enabled (%v)", name, props["VersioningConfiguration"])
			}
			if !strings.Contains(fmt.Sprint(props["LifecycleConfiguration"]), "NoncurrentVersionExpiration") {
				t.Errorf("bucket %s: old versions are never expired", name)
			}
			pab, _ := props["PublicAccessBlockConfiguration"].(map[string]any)
			for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
				if pab[k] != "true" {
					t.Errorf("bucket %s: %s = %v", name, k, pab[k])
				}
			}
			if !strings.Contains(policies["<"+name+">"], "aws:SecureTransport:false") {
				t.Errorf("bucket %s: no policy denies plain HTTP", name)
			}
		}
		if buckets < 2 {
			t.Errorf("lake.yaml has %d buckets, want the lake and the release bucket", buckets)
		}
	}
}

// TestKafkaAuthenticatedByDefault: by default MSK takes only IAM-
// authenticated TLS clients and encrypts within the cluster, and the
// self-run brokers' client listener is SASL_SSL with SCRAM; clients get
// the matching settings.
func TestKafkaAuthenticatedByDefault(t *testing.T) {
	for _, sc := range securityScenarios() {
		s, nodes := render(t, sc)
		if sc.params["KafkaMode"] == "msk" {
			msk, err := s.resource("MskCluster")
			if err != nil {
				t.Fatal(err)
			}
			auth := msk["ClientAuthentication"].(map[string]any)
			if u, ok := auth["Unauthenticated"].(map[string]any); ok && u["Enabled"] != "false" {
				t.Errorf("%s: MSK admits unauthenticated clients: %v", sc.name, auth)
			}
			if fmt.Sprint(auth["Sasl"]) != "map[Iam:map[Enabled:true]]" {
				t.Errorf("%s: MSK client authentication %v, want SASL/IAM only", sc.name, auth)
			}
			tr := msk["EncryptionInfo"].(map[string]any)["EncryptionInTransit"].(map[string]any)
			if tr["ClientBroker"] != "TLS" || tr["InCluster"] != "true" {
				t.Errorf("%s: MSK encryption in transit %v, want TLS only and in-cluster", sc.name, tr)
			}
			// At rest MSK always encrypts (an AWS managed key unless a
			// customer key is given); no setting turns that off.
			env := readEnv(t, filepath.Join(nodes[0].root, "etc/stocklake/stocklake.env"))
			if env["STOCKLAKE_KAFKA_SASL_MECHANISM"] != "AWS_MSK_IAM" || env["STOCKLAKE_KAFKA_TLS"] != "true" {
				t.Errorf("%s: clients use SASL %q TLS %q, want AWS_MSK_IAM over TLS", sc.name, env["STOCKLAKE_KAFKA_SASL_MECHANISM"], env["STOCKLAKE_KAFKA_TLS"])
			}
			continue
		}
		for _, n := range nodes {
			p := readProperties(t, filepath.Join(n.root, "etc/kafka/server.properties"))
			for _, l := range strings.Split(p["listeners"], ",") {
				name, _, _ := strings.Cut(l, "://")
				proto := name
				for _, m := range strings.Split(p["listener.security.protocol.map"], ",") {
					if k, v, _ := strings.Cut(m, ":"); k == name {
						proto = v
					}
				}
				if name != "CONTROLLER" && proto != "SASL_SSL" {
					t.Errorf("%s node %s: listener %s is %s, want SASL_SSL", sc.name, n.id, l, proto)
				}
			}
			if p["sasl.enabled.mechanisms"] != "SCRAM-SHA-512" {
				t.Errorf("%s node %s: sasl.enabled.mechanisms=%q", sc.name, n.id, p["sasl.enabled.mechanisms"])
			}
		}
		env := readEnv(t, filepath.Join(nodes[0].root, "etc/stocklake/stocklake.env"))
		if env["STOCKLAKE_KAFKA_SASL_MECHANISM"] != "SCRAM-SHA-512" || env["STOCKLAKE_KAFKA_TLS"] != "true" || env["STOCKLAKE_KAFKA_TLS_CA"] == "" {
			t.Errorf("%s: clients use SASL %q TLS %q CA %q, want SCRAM-SHA-512 over TLS with the deployment's CA", sc.name,
				env["STOCKLAKE_KAFKA_SASL_MECHANISM"], env["STOCKLAKE_KAFKA_TLS"], env["STOCKLAKE_KAFKA_TLS_CA"])
		}
	}
}

// TestDashboardServesTLS: wherever the dashboard listens beyond loopback
// (the VPC, DashboardCidr) it serves HTTPS, so the bearer token never
// crosses the network in clear text.
func TestDashboardServesTLS(t *testing.T) {
	for _, sc := range securityScenarios() {
		_, nodes := render(t, sc)
		if !slices.Contains(readLines(t, filepath.Join(nodes[0].root, "etc/stocklake/units")), "stocklake-serve.service") {
			continue
		}
		env := readEnv(t, filepath.Join(nodes[0].root, "etc/stocklake/serve.env"))
		if env["STOCKLAKE_TLS_CERT"] == "" || env["STOCKLAKE_TLS_KEY"] == "" {
			t.Errorf("%s: serve.env has no STOCKLAKE_TLS_CERT/STOCKLAKE_TLS_KEY: the token would cross the network in clear text", sc.name)
		}
	}
}

func decodeUserData(t *testing.T, lt map[string]any) string {
	t.Helper()
	ud64, _ := lt["LaunchTemplateData"].(map[string]any)["UserData"].(string)
	ud, err := base64.StdEncoding.DecodeString(ud64)
	if err != nil {
		t.Fatal(err)
	}
	return string(ud)
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// runPublishStage lays out a release in stage as deploy/aws/publish does.
func runPublishStage(t *testing.T, stage string) ([]byte, error) {
	t.Helper()
	return exec.Command("bash", "aws/publish", "--stage", stage, "--binary", stocklakeBinary(t)).CombinedOutput()
}

// checkKafkaCert checks the broker's PEM keystore: a PKCS#8 key and its
// certificate, valid for ip and signed by the CA in caFile.
func checkKafkaCert(t *testing.T, keystore, caFile, ip string) {
	t.Helper()
	ks := []byte(readFile(t, keystore))
	var certPEM, keyPEM []byte
	for rest := ks; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch b.Type {
		case "CERTIFICATE":
			certPEM = append(certPEM, pem.EncodeToMemory(b)...)
		case "PRIVATE KEY": // PKCS#8, what Kafka's PEM keystore reads
			keyPEM = pem.EncodeToMemory(b)
		default:
			t.Errorf("%s: PEM block %s; Kafka's PEM keystore wants a PKCS#8 PRIVATE KEY and certificates", keystore, b.Type)
		}
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatalf("%s: key and certificate: %v", keystore, err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(readFile(t, caFile))) {
		t.Fatalf("%s holds no certificate", caFile)
	}
	if _, err := cert.Verify(x509.VerifyOptions{DNSName: ip, Roots: roots}); err != nil {
		t.Errorf("%s: the broker's certificate does not verify for %s with the release's CA: %v", keystore, ip, err)
	}
}
