package icebergrest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/apache/iceberg-go/catalog/rest"
	"github.com/apache/iceberg-go/table"

	"github.com/stocklake/stocklake/iceberg"
	"github.com/stocklake/stocklake/icebergrest"
)

// listPage is a ListTablesResponse or ListNamespacesResponse.
type listPage struct {
	Identifiers []struct{ Name string }
	Namespaces  [][]string
	Next        *string `json:"next-page-token"`
	hasNext     bool
}

func getPage(t *testing.T, rawURL string) (int, listPage, string) {
	t.Helper()
	code, body := do(t, http.MethodGet, rawURL, "", "")
	var p listPage
	if code == 200 {
		var raw map[string]json.RawMessage
		if err := json.Unmarshal([]byte(body), &raw); err != nil {
			t.Fatalf("GET %.100s: %s: %v", rawURL, body, err)
		}
		_, p.hasNext = raw["next-page-token"]
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			t.Fatalf("GET %.100s: %s: %v", rawURL, body, err)
		}
	}
	return code, p, body
}

// TestRESTPagination: list endpoints page as the spec says: with pageToken
// (empty for the first page) or pageSize, pages of at most pageSize names
// in order and a next-page-token until the last (null); without, all at
// once with a null token. A table created between pages does not make a
// page repeat or skip a name. Crafted pageSize and pageToken values get
// clear 400s in the spec's error shape, never a panic or a 500.
func TestRESTPagination(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "")
	var names []string
	for i := range 7 {
		name := fmt.Sprintf("t%d", i)
		if _, err := f.cat.CreateTickTable(ctx, "market", name, iceberg.TableOptions{}); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	names = append(names, "ticks") // sorted: t0..t6, ticks
	uri := serve(t, icebergrest.Config{Catalog: f.cat})
	tables := uri + "/v1/namespaces/market/tables"

	code, all, body := getPage(t, tables)
	if code != 200 || len(all.Identifiers) != len(names) || !all.hasNext || all.Next != nil {
		t.Fatalf("unpaged list: %d %s; want all %d tables and a null next-page-token", code, body, len(names))
	}
	for i, first := range []string{"?pageToken=", "?pageSize=3", "?pageToken=&pageSize=3"} {
		var got []string
		next, pages := first, 0
		if !strings.Contains(first, "pageSize") {
			next += "&pageSize=3"
		}
		for {
			code, p, body := getPage(t, tables+next)
			if code != 200 || len(p.Identifiers) > 3 || !p.hasNext {
				t.Fatalf("page %d from %s: %d %s", pages, first, code, body)
			}
			for _, id := range p.Identifiers {
				got = append(got, id.Name)
			}
			if pages++; pages == 1 {
				// Added after the first page, sorted after t2: the next
				// pages hold it, and none repeats t0..t2.
				if _, err := f.cat.CreateTickTable(ctx, "market", fmt.Sprint("t2a", i), iceberg.TableOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			if p.Next == nil || pages > 10 {
				break
			}
			next = "?pageSize=3&pageToken=" + url.QueryEscape(*p.Next)
		}
		if pages != (len(names)+1+2)/3 || len(got) != len(names)+1 || got[0] != "t0" || got[2] != "t2" || !strings.HasPrefix(got[3], "t2a") {
			t.Errorf("pages from %s: %d pages %v; want pages of 3 of every table once, in order", first, pages, got)
		}
		names = append(names, got[3])
	}
	// A huge pageSize is an upper bound: everything in one page.
	if code, p, body := getPage(t, tables+"?pageSize=2147483647"); code != 200 || len(p.Identifiers) != len(names) || p.Next != nil {
		t.Errorf("pageSize=MaxInt32: %d %.300s; want one page of %d", code, body, len(names))
	}
	// Namespaces page the same way.
	code, p, body := getPage(t, uri+"/v1/namespaces?pageSize=1")
	if code != 200 || len(p.Namespaces) != 1 || p.Namespaces[0][0] != "market" || p.Next == nil {
		t.Fatalf("namespaces page 1: %d %s", code, body)
	}
	code, p, body = getPage(t, uri+"/v1/namespaces?pageSize=1&pageToken="+url.QueryEscape(*p.Next))
	if code != 200 || len(p.Namespaces) != 1 || p.Namespaces[0][0] != "other" || p.Next != nil {
		t.Errorf("namespaces page 2: %d %s; want other and a null token", code, body)
	}
	// Past the end: an empty last page.
	if code, p, body := getPage(t, tables+"?pageToken=enp6"); code != 200 || len(p.Identifiers) != 0 || p.Next != nil {
		t.Errorf("a token past the last name: %d %s; want an empty last page", code, body)
	}

	for _, q := range []string{
		"pageSize=0", "pageSize=-1", "pageSize=abc", "pageSize=1e3", "pageSize=2147483648", "pageSize=99999999999999999999999",
		"pageSize=%00", "pageSize=+3x", "pageToken=!!!", "pageToken=%00%FF", "pageToken=" + strings.Repeat("A", 70000),
		"pageToken=x&pageSize=-5",
	} {
		for _, path := range []string{"/v1/namespaces/market/tables", "/v1/namespaces", "/v1/namespaces/market/views"} {
			code, body := do(t, http.MethodGet, uri+path+"?"+q, "", "")
			e := errorModel(t, body)
			if code != 400 || e.Code != 400 || e.Type != "BadRequestException" || !(strings.Contains(e.Message, "pageSize") || strings.Contains(e.Message, "pageToken")) {
				t.Errorf("GET %s?%.60s: %d %.200s; want 400 naming the parameter", path, q, code, body)
			}
		}
	}
}

// TestRESTClientPages: iceberg-go's REST client with a page size of 2
// follows next-page-token through several requests and lists every table.
func TestRESTClientPages(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "")
	for i := range 4 {
		if _, err := f.cat.CreateTickTable(ctx, "market", fmt.Sprintf("p%d", i), iceberg.TableOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := icebergrest.New(icebergrest.Config{Catalog: f.cat})
	if err != nil {
		t.Fatal(err)
	}
	var lists atomic.Int32
	mux := http.NewServeMux()
	mux.Handle("/iceberg/", http.StripPrefix("/iceberg", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/namespaces/market/tables" {
			lists.Add(1)
		}
		srv.ServeHTTP(w, r)
	})))
	uri := serveMux(t, mux) + "/iceberg"
	cat, err := rest.NewCatalog(ctx, "stocklake", uri)
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	var got []table.Identifier
	for id, err := range cat.ListTables(cat.SetPageSize(ctx, 2), table.Identifier{"market"}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, id)
	}
	if s := fmtIdents(got); s != "market.p0 market.p1 market.p2 market.p3 market.ticks" || lists.Load() != 3 {
		t.Errorf("iceberg-go listed %s in %d requests; want the 5 tables in 3 pages", s, lists.Load())
	}
}
