package dashboard

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	nethttp "net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stocklake/stocklake"
)

// testToken is long enough for MinTokenLength.
const testToken = "s3cret-s3cret-s3cret"

// raw sends a request with the given headers and returns status and body.
func (f *fixture) raw(t *testing.T, method, path, body string, hdr map[string]string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := nethttp.NewRequest(method, f.ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := nethttp.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestDNSRebinding: on loopback, a page whose name was made to resolve to
// 127.0.0.1 must not read the API (Host: evil.example).
func TestDNSRebinding(t *testing.T) {
	f := newFixture(t, nil)
	for _, p := range []string{"/api/symbols", "/api/queries", "/api/catalog/tables", "/api/health", "/metrics", "/"} {
		if got, body := f.raw(t, "GET", p, "", map[string]string{"Host": "evil.example"}); got != nethttp.StatusMisdirectedRequest {
			t.Errorf("GET %s with Host evil.example: %d %.80s, want 421", p, got, body)
		}
	}
	if got, _ := f.raw(t, "POST", "/api/query", `{"sql":"SELECT 1"}`, map[string]string{"Host": "evil.example:8080", "Content-Type": "application/json"}); got != nethttp.StatusMisdirectedRequest {
		t.Errorf("POST /api/query with Host evil.example: %d, want 421", got)
	}
	for _, h := range []string{"localhost:8080", "127.0.0.1:8080", "[::1]:8080", "LOCALHOST", "app.localhost:80", "127.0.0.2"} {
		if got, _ := f.raw(t, "GET", "/api/symbols", "", map[string]string{"Host": h}); got != 200 {
			t.Errorf("GET /api/symbols with Host %s: %d, want 200", h, got)
		}
	}
	g := newFixture(t, func(c *Config) { c.AllowedHosts = []string{"dash.internal"} })
	if got, _ := g.raw(t, "GET", "/api/symbols", "", map[string]string{"Host": "dash.internal:8080"}); got != 200 {
		t.Errorf("an --allowed-hosts name: %d, want 200", got)
	}
	if got, _ := g.raw(t, "GET", "/api/symbols", "", map[string]string{"Host": "evil.example"}); got != nethttp.StatusMisdirectedRequest {
		t.Errorf("a host not in --allowed-hosts: %d, want 421", got)
	}
}

// TestCSRF: a cross-site page can send simple POSTs (text/plain, forms)
// without a preflight; they must not start queries or crawls.
func TestCSRF(t *testing.T) {
	f := newFixture(t, nil)
	cases := []struct {
		name, path, body string
		hdr              map[string]string
		want             int
	}{
		{"text/plain query from another site", "/api/query", `{"sql":"SELECT 1"}`, map[string]string{"Content-Type": "text/plain", "Origin": "https://evil.example"}, 403},
		{"JSON query from another origin", "/api/query", `{"sql":"SELECT 1"}`, map[string]string{"Content-Type": "application/json", "Origin": "http://evil.example"}, 403},
		{"query, Sec-Fetch-Site cross-site", "/api/query", `{"sql":"SELECT 1"}`, map[string]string{"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}, 403},
		{"text/plain query without Origin", "/api/query", `{"sql":"SELECT 1"}`, map[string]string{"Content-Type": "text/plain"}, 415},
		{"form crawl from another site", "/api/crawl", "a=b", map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": "null"}, 403},
		{"text/plain crawl without Origin", "/api/crawl", "", map[string]string{"Content-Type": "text/plain"}, 415},
		{"crawl without Content-Type", "/api/crawl", "", nil, 415},
	}
	for _, c := range cases {
		if got, body := f.raw(t, "POST", c.path, c.body, c.hdr); got != c.want {
			t.Errorf("%s: %d %.100s, want %d", c.name, got, body, c.want)
		}
	}
	if f.crawls != 0 {
		t.Errorf("%d cross-site crawls ran, want 0", f.crawls)
	}
	var list struct{ Queries []queryView }
	f.do(t, "GET", "/api/queries", "", "", &list)
	if len(list.Queries) != 0 {
		t.Errorf("%d cross-site queries were started, want 0", len(list.Queries))
	}
	// The dashboard's own requests pass.
	if got, body := f.raw(t, "POST", "/api/crawl", "", map[string]string{"Content-Type": "application/json", "Origin": f.ts.URL, "Sec-Fetch-Site": "same-origin"}); got != 200 {
		t.Errorf("same-origin crawl: %d %s, want 200", got, body)
	}
	got, body := f.raw(t, "POST", "/api/query", `{"sql":"SELECT 1"}`, map[string]string{"Content-Type": "application/json; charset=utf-8", "Origin": f.ts.URL})
	if got != 202 {
		t.Errorf("same-origin query: %d %s, want 202", got, body)
	} else {
		var st struct{ ID string }
		json.Unmarshal([]byte(body), &st)
		f.wait(t, st.ID)
	}
	if got, _ := f.raw(t, "DELETE", "/api/query/0193a1b2-0000-7000-8000-000000000000", "", map[string]string{"Origin": "https://evil.example"}); got != 403 {
		t.Errorf("cross-origin DELETE: %d, want 403", got)
	}
}

// TestFraming: no answer may be framed by another site (clickjacking).
func TestFraming(t *testing.T) {
	f := newFixture(t, nil)
	for _, p := range []string{"/", "/api/symbols", "/api/nope", "/healthz"} {
		resp, err := nethttp.Get(f.ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("GET %s: Content-Security-Policy %q lacks frame-ancestors 'none'", p, csp)
		}
		if xfo := resp.Header.Get("X-Frame-Options"); xfo != "DENY" {
			t.Errorf("GET %s: X-Frame-Options %q, want DENY", p, xfo)
		}
	}
}

// TestAuthScheme: the scheme of Authorization is case-insensitive (RFC 9110).
func TestAuthScheme(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Token = testToken })
	for _, h := range []string{"bearer " + testToken, "BEARER " + testToken, "Bearer  " + testToken} {
		if got, _ := f.raw(t, "GET", "/api/symbols", "", map[string]string{"Authorization": h}); got != 200 {
			t.Errorf("Authorization %q: %d, want 200", h, got)
		}
	}
	for _, h := range []string{"Basic " + testToken, testToken, "Bearer", "Bearer " + testToken + "x"} {
		if got, _ := f.raw(t, "GET", "/api/symbols", "", map[string]string{"Authorization": h}); got != 401 {
			t.Errorf("Authorization %q: %d, want 401", h, got)
		}
	}
	if _, err := New(Config{Token: "short"}); err == nil {
		t.Errorf("New accepted a 5-character token")
	}
}

// TestPProf: the profiler is served only when asked for, and behind the token.
func TestPProf(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Token = testToken })
	if _, body := f.raw(t, "GET", "/debug/pprof/goroutine?debug=1", "", map[string]string{"Authorization": "Bearer " + testToken}); strings.Contains(body, "goroutine profile") {
		t.Errorf("/debug/pprof/ is served without PProf")
	}
	g := newFixture(t, func(c *Config) { c.Token = testToken; c.PProf = true })
	if got := g.do(t, "GET", "/debug/pprof/", "", "", nil); got != 401 {
		t.Errorf("/debug/pprof/ without the token: %d, want 401", got)
	}
	if got, body := g.raw(t, "GET", "/debug/pprof/goroutine?debug=1", "", map[string]string{"Authorization": "Bearer " + testToken}); got != 200 || !strings.Contains(body, "goroutine profile") {
		t.Errorf("/debug/pprof/goroutine with the token: %d %.80s, want a goroutine profile", got, body)
	}
}

// TestStreamClientCap: event-stream clients beyond the cap get 503.
func TestStreamClientCap(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxStreamClients = 2 })
	var open []*nethttp.Response
	defer func() {
		for _, r := range open {
			r.Body.Close()
		}
	}()
	for i := range 2 {
		resp, err := nethttp.Get(f.ts.URL + "/api/stream")
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, resp)
		if resp.StatusCode != 200 {
			t.Fatalf("stream client %d: %d, want 200", i+1, resp.StatusCode)
		}
	}
	resp, err := nethttp.Get(f.ts.URL + "/api/stream")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Errorf("third stream client: %d, want 503", resp.StatusCode)
	}
}

// serveFixture serves f's server with Serve (not httptest), so the
// connection limits and timeouts apply.
func serveFixture(t *testing.T, f *fixture) string {
	t.Helper()
	ln, err := f.srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

// TestSlowClients: a client that never finishes its headers or body is
// dropped, and slow clients cannot hold more than MaxConns connections.
func TestSlowClients(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.ReadHeaderTimeout, c.ReadTimeout, c.MaxConns = 300*time.Millisecond, 500*time.Millisecond, 2
	})
	addr := serveFixture(t, f)
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// A slow body: the headers promise 1 MB that never comes.
	slow := dial()
	defer slow.Close()
	fmt.Fprintf(slow, "POST /api/query HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{")
	slow.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadAll(slow); err != nil {
		t.Errorf("a slow body was not dropped by the server: %v", err)
	}
	// Slow headers.
	hdr := dial()
	defer hdr.Close()
	fmt.Fprintf(hdr, "GET /api/symbols HTTP/1.1\r\nHost: 127.0.0.1\r\n")
	hdr.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadAll(hdr); err != nil {
		t.Errorf("slow headers were not dropped by the server: %v", err)
	}

	// Connection cap: two idle connections use both slots; a third
	// client is served only once one of them closes.
	g := newFixture(t, func(c *Config) { c.MaxConns = 2 })
	addr = serveFixture(t, g)
	a, b := dial2(t, addr), dial2(t, addr)
	defer b.Close()
	got := make(chan int, 1)
	go func() {
		resp, err := nethttp.Get("http://" + addr + "/healthz")
		if err != nil {
			got <- -1
			return
		}
		resp.Body.Close()
		got <- resp.StatusCode
	}()
	select {
	case c := <-got:
		t.Fatalf("a third connection was served (%d) while two were open, want it held back", c)
	case <-time.After(300 * time.Millisecond):
	}
	a.Close()
	if c := <-got; c != 200 {
		t.Errorf("third client after a slot freed: %d, want 200", c)
	}
}

// dial2 opens a connection and makes sure the server accepted it (a
// request answered on it).
func dial2(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	resp, err := nethttp.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return c
}

// TestTLS: with a certificate and key the server speaks HTTPS only, so the
// bearer token does not cross the network in clear text.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)

	if _, err := New(Config{TLSCert: certFile}); err == nil {
		t.Errorf("New accepted a certificate without a key")
	}
	f := newFixture(t, func(c *Config) { c.Token = testToken; c.TLSCert, c.TLSKey = certFile, keyFile })
	if f.srv.Scheme() != "https" {
		t.Errorf("Scheme() = %q, want https", f.srv.Scheme())
	}
	addr := serveFixture(t, f)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	client := &nethttp.Client{Transport: &nethttp.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	req, _ := nethttp.NewRequest("GET", "https://"+addr+"/api/symbols", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("HTTPS request: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Errorf("HTTPS: %d (TLS %v), want 200 over TLS", resp.StatusCode, resp.TLS != nil)
	}
	// Plain HTTP gets no API answer.
	resp, err = nethttp.Get("http://" + addr + "/api/symbols")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 || resp.StatusCode == 401 {
			t.Errorf("plain HTTP to the TLS server: %d, want the request refused", resp.StatusCode)
		}
	}
}

// TestLongRequestsOutliveReadTimeout: ReadTimeout bounds reading a request,
// not the event stream or a crawl that runs longer.
func TestLongRequestsOutliveReadTimeout(t *testing.T) {
	release := make(chan struct{})
	f := newFixture(t, func(c *Config) {
		c.ReadHeaderTimeout, c.ReadTimeout = 200*time.Millisecond, 200*time.Millisecond
		c.Crawl = func(ctx context.Context) (stocklake.CrawlRun, error) {
			select {
			case <-release:
				return stocklake.CrawlRun{ID: "slow"}, nil
			case <-ctx.Done():
				return stocklake.CrawlRun{}, ctx.Err()
			}
		}
	})
	addr := serveFixture(t, f)
	resp, err := nethttp.Get("http://" + addr + "/api/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	crawl := make(chan int, 1)
	go func() {
		req, _ := nethttp.NewRequest("POST", "http://"+addr+"/api/crawl", nil)
		req.Header.Set("Content-Type", "application/json")
		r, err := nethttp.DefaultClient.Do(req)
		if err != nil {
			crawl <- -1
			return
		}
		r.Body.Close()
		crawl <- r.StatusCode
	}()
	time.Sleep(time.Second) // well past ReadTimeout
	close(release)
	if c := <-crawl; c != 200 {
		t.Errorf("a crawl longer than ReadTimeout: %d, want 200", c)
	}
	f.srv.board.AddBar(testBar("AAPL", 9, false), stocklake.Indicators{})
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "event: ") {
			return // the stream still delivers
		}
	}
	t.Errorf("the event stream ended after ReadTimeout: %v", sc.Err())
}

// TestMounts: a mounted handler (the Iceberg REST catalog) gets its path
// with the prefix stripped, and form POSTs (its OAuth endpoint), but stays
// behind the Host guard (DNS rebinding) and the cross-origin check; the
// dashboard's token is not asked for (the handler checks its own).
func TestMounts(t *testing.T) {
	var got []string
	h := nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		got = append(got, r.Method+" "+r.URL.Path)
		w.WriteHeader(299)
	})
	f := newFixture(t, func(c *Config) { c.Token = testToken; c.Mounts = map[string]nethttp.Handler{"/iceberg/": h} })
	if code, _ := f.raw(t, "GET", "/iceberg/v1/config", "", nil); code != 299 {
		t.Errorf("GET /iceberg/v1/config: %d, want the mounted handler's 299", code)
	}
	if code, _ := f.raw(t, "POST", "/iceberg/v1/oauth/tokens", "grant_type=client_credentials", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}); code != 299 {
		t.Errorf("form POST to the mount: %d, want 299", code)
	}
	if code, _ := f.raw(t, "GET", "/iceberg/v1/config", "", map[string]string{"Host": "evil.example"}); code != nethttp.StatusMisdirectedRequest {
		t.Errorf("mount with Host evil.example: %d, want 421", code)
	}
	if code, _ := f.raw(t, "POST", "/iceberg/v1/namespaces", "{}", map[string]string{"Content-Type": "application/json", "Origin": "https://evil.example"}); code != 403 {
		t.Errorf("cross-origin POST to the mount: %d, want 403", code)
	}
	if want := "GET /v1/config,POST /v1/oauth/tokens"; strings.Join(got, ",") != want {
		t.Errorf("the mounted handler saw %q, want %q", strings.Join(got, ","), want)
	}
}
