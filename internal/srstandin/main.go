// Command srstandin is a STAND-IN for a Confluent-compatible Schema
// Registry, for integration tests only: scripts/registry runs it because
// Apicurio Registry cannot be started from the Maven artifacts this
// project can fetch (see docs/registry.md). It serves franz-go's in-memory
// srfake registry (the documented Confluent REST API: subjects and
// versions, GET /schemas/ids/{id}, config, mode, lookups) on a local port,
// and adds what srfake leaves out: a real compatibility check for Avro
// subjects (hamba/avro's schema resolution), applied when a schema is
// registered (409 when incompatible) and on POST /compatibility/...;
// Protobuf schemas kept as .proto text, as a Confluent registry keeps
// them (one registered as a serialized descriptor, as Confluent's Python
// client does, is printed as text), and GET ?format=serialized answered
// with the compiled descriptor unless -protobuf-serialized=false (then
// the parameter is ignored, as Apicurio's ccompat API and Karapace do).
// Schemas live in memory: they are gone when it stops.
//
//	srstandin -listen 127.0.0.1:8081 [-protobuf-serialized=false]
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8081", "address to serve on (loopback only for tests)")
	serialized := flag.Bool("protobuf-serialized", true, "answer ?format=serialized with a Protobuf schema's descriptor (false: ignore it and serve text)")
	flag.Parse()
	reg := newRegistry(*serialized)
	srv := &http.Server{Addr: *listen, Handler: logRequests(reg.Handler()), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		srv.Close()
	}()
	log.Printf("schema registry stand-in (srfake) listening on http://%s", *listen)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}

// newRegistry is the stand-in's registry; serialized: answer
// ?format=serialized for Protobuf schemas.
func newRegistry(serialized bool) *srfake.Registry {
	reg := srfake.NewRegistry()
	reg.Intercept(protobufText(reg))
	if serialized {
		reg.Intercept(protobufSerialized(reg))
	}
	reg.Intercept(compatibility(reg))
	return reg
}

func logRequests(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.Printf("%s %s", r.Method, r.URL.RequestURI())
		h.ServeHTTP(w, r)
	})
}

// compatibility checks Avro schemas against the subject's latest version
// under BACKWARD (and FULL) compatibility: the new schema must read data
// written with the latest one.
func compatibility(reg *srfake.Registry) srfake.Interceptor {
	return func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPost {
			return false
		}
		var subject string
		check := false
		switch parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/"); {
		case len(parts) == 3 && parts[0] == "subjects" && parts[2] == "versions":
			subject = parts[1]
		case len(parts) >= 4 && parts[0] == "compatibility" && parts[1] == "subjects" && parts[3] == "versions":
			subject, check = parts[2], true
		default:
			return false
		}
		subject, _ = url.PathUnescape(subject)
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return false
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		var s sr.Schema
		if json.Unmarshal(body, &s) != nil || s.Type != sr.TypeAvro {
			return false
		}
		err = checkAvro(reg, subject, s.Schema)
		switch {
		case check:
			w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
			resp := map[string]any{"is_compatible": err == nil}
			if err != nil {
				resp["messages"] = []string{err.Error()}
			}
			json.NewEncoder(w).Encode(resp)
			return true
		case err != nil:
			w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
			w.WriteHeader(http.StatusConflict)
			json.NewEncoder(w).Encode(map[string]any{"error_code": 409,
				"message": fmt.Sprintf("Schema being registered is incompatible with an earlier schema for subject %q: %v", subject, err)})
			return true
		}
		return false
	}
}

func checkAvro(reg *srfake.Registry, subject, schema string) error {
	level := get(reg, "/config/"+url.PathEscape(subject)+"?defaultToGlobal=true")["compatibilityLevel"]
	switch level {
	case "BACKWARD", "FULL", "BACKWARD_TRANSITIVE", "FULL_TRANSITIVE", nil:
	default:
		return nil // NONE, FORWARD...: not checked by the stand-in
	}
	latest := get(reg, "/subjects/"+url.PathEscape(subject)+"/versions/latest")
	text, _ := latest["schema"].(string)
	if typ, _ := latest["schemaType"].(string); text == "" || typ != "" && typ != "AVRO" {
		return nil
	}
	reader, err := avro.ParseWithCache(schema, "", &avro.SchemaCache{})
	if err != nil {
		return nil // srfake answers for a schema that does not parse
	}
	writer, err := avro.ParseWithCache(text, "", &avro.SchemaCache{})
	if err != nil {
		return nil
	}
	return avro.NewSchemaCompatibility().Compatible(reader, writer)
}

// get asks the registry's own handler.
func get(reg *srfake.Registry, path string) map[string]any {
	rec := httptest.NewRecorder()
	reg.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	out := map[string]any{}
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return out
}
