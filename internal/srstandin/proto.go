package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/bufbuild/protocompile"
	"github.com/jhump/protoreflect/v2/protoprint"
	"github.com/twmb/franz-go/pkg/sr/srfake"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// protobufText makes the stand-in keep Protobuf schemas as a Confluent
// registry does: a schema registered as a serialized descriptor (base64,
// what Confluent's Python client sends) is stored as .proto text, printed
// from the descriptor, and a schema registered as text is stored as
// given. Registrations (POST /subjects/{s}/versions) and lookups (POST
// /subjects/{s}) are rewritten before srfake sees them.
func protobufText(reg *srfake.Registry) srfake.Interceptor {
	return func(w http.ResponseWriter, r *http.Request) bool {
		parts := strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/") // a subject may hold an escaped /
		if r.Method != http.MethodPost || parts[0] != "subjects" || !(len(parts) == 2 || len(parts) == 3 && parts[2] == "versions") {
			return false
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return false
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		var s map[string]any
		if json.Unmarshal(body, &s) != nil || s["schemaType"] != "PROTOBUF" {
			return false
		}
		text, _ := s["schema"].(string)
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(text))
		if err != nil {
			return false // text: kept as given
		}
		if text, err = printProto(raw); err != nil {
			w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
			w.WriteHeader(http.StatusUnprocessableEntity)
			json.NewEncoder(w).Encode(map[string]any{"error_code": 42201, "message": "Invalid schema: " + err.Error()})
			return true
		}
		s["schema"] = text
		body, _ = json.Marshal(s)
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		return false
	}
}

// protobufSerialized answers ?format=serialized on GET /schemas/ids/{id}
// and GET /subjects/{s}/versions/{v} with the schema's descriptor,
// compiled from its text and base64-encoded, as a Confluent registry does.
func protobufSerialized(reg *srfake.Registry) srfake.Interceptor {
	return func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || r.URL.Query().Get("format") != "serialized" {
			return false
		}
		parts := strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/") // a subject may hold an escaped /
		if !(len(parts) == 3 && parts[0] == "schemas" && parts[1] == "ids" || len(parts) == 4 && parts[0] == "subjects" && parts[2] == "versions") {
			return false
		}
		q := r.URL.Query()
		q.Del("format")
		u := *r.URL
		u.RawQuery = q.Encode()
		rec := httptest.NewRecorder()
		reg.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, u.RequestURI(), nil))
		var s map[string]any
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &s) != nil || s["schemaType"] != "PROTOBUF" {
			return false // srfake answers
		}
		text, _ := s["schema"].(string)
		refs, _ := s["references"].([]any)
		fd, err := compileProto(reg, "schema.proto", protocompile.SearchResult{Source: strings.NewReader(text)}, refs)
		if err != nil {
			log.Printf("format=serialized: %v", err)
			return false
		}
		raw, err := proto.Marshal(protodesc.ToFileDescriptorProto(fd))
		if err != nil {
			return false
		}
		s["schema"] = base64.StdEncoding.EncodeToString(raw)
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		json.NewEncoder(w).Encode(s)
		return true
	}
}

// printProto prints a serialized descriptor as .proto text.
func printProto(raw []byte) (string, error) {
	var fdp descriptorpb.FileDescriptorProto
	if err := proto.Unmarshal(raw, &fdp); err != nil {
		return "", fmt.Errorf("not a serialized FileDescriptorProto: %w", err)
	}
	if fdp.GetName() == "" {
		fdp.Name = proto.String("schema.proto")
	}
	// Linked on its own (imports as placeholders: their names are all
	// printing needs); protocompile would take fields without json_name,
	// as Python's are, for fields with the custom JSON name "".
	fd, err := protodesc.FileOptions{AllowUnresolvable: true}.New(&fdp, &protoregistry.Files{})
	if err != nil {
		return "", err
	}
	return (&protoprint.Printer{}).PrintProtoToString(fd)
}

// compileProto links file main, found under name, with the references
// (registry JSON: name, subject, version) it imports, fetched from reg,
// and the well-known types.
func compileProto(reg *srfake.Registry, name string, main protocompile.SearchResult, refs []any) (protoreflect.FileDescriptor, error) {
	srcs := map[string]string{}
	if err := addReferences(reg, refs, srcs, 0); err != nil {
		return nil, err
	}
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(protocompile.ResolverFunc(func(path string) (protocompile.SearchResult, error) {
		if path == name {
			return main, nil
		}
		if text, ok := srcs[path]; ok {
			return protocompile.SearchResult{Source: strings.NewReader(text)}, nil
		}
		return protocompile.SearchResult{}, fs.ErrNotExist
	}))}
	files, err := c.Compile(context.Background(), name)
	if err != nil {
		return nil, err
	}
	return files[0], nil
}

// addReferences puts the text of each reference, and of theirs, into
// srcs by import name.
func addReferences(reg *srfake.Registry, refs []any, srcs map[string]string, depth int) error {
	if depth > 16 {
		return fmt.Errorf("references nest more than 16 deep")
	}
	for _, ref := range refs {
		m, _ := ref.(map[string]any)
		name, _ := m["name"].(string)
		subject, _ := m["subject"].(string)
		version, _ := m["version"].(float64)
		s := get(reg, fmt.Sprintf("/subjects/%s/versions/%d", url.PathEscape(subject), int(version)))
		text, ok := s["schema"].(string)
		if !ok {
			return fmt.Errorf("reference %s: subject %s version %d not found", name, subject, int(version))
		}
		srcs[name] = text
		sub, _ := s["references"].([]any)
		if err := addReferences(reg, sub, srcs, depth+1); err != nil {
			return err
		}
	}
	return nil
}
