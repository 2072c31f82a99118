package main

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bufbuild/protocompile"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/stocklake/stocklake/schemaregistry"
)

const venueProto = `syntax = "proto3";
package it.common;
message Venue { string mic = 1; }
`

const orderProto = `syntax = "proto3";
package it;
import "google/protobuf/timestamp.proto";
import "it/common.proto";
message Order {
  message Leg { double qty = 1; }
  int64 id = 1;
  repeated Leg legs = 2;
  google.protobuf.Timestamp ts = 3;
  it.common.Venue venue = 4;
}
`

// serializedFile is file (orderProto or venueProto) as Confluent's Python
// client registers it: a base64 FileDescriptorProto, its fields without
// json_name.
func serializedFile(t *testing.T, file string) string {
	t.Helper()
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
		Accessor: protocompile.SourceAccessorFromMap(map[string]string{"it/order.proto": orderProto, "it/common.proto": venueProto})})}
	files, err := c.Compile(context.Background(), file)
	if err != nil {
		t.Fatal(err)
	}
	fdp := protodesc.ToFileDescriptorProto(files[0])
	for _, m := range fdp.MessageType { // Python's descriptors have no json_name
		for _, f := range m.Field {
			f.JsonName = nil
		}
	}
	raw, err := proto.Marshal(fdp)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(raw)
}

// TestProtobufLikeConfluent: a Protobuf schema registered as a serialized
// descriptor (with a reference, registered the same way under a subject
// holding a /) is served as .proto text;
// ?format=serialized is answered with the descriptor, or ignored with
// -protobuf-serialized=false; and the sink's decoder reads records of it
// either way.
func TestProtobufLikeConfluent(t *testing.T) {
	for _, serialized := range []bool{true, false} {
		name := map[bool]string{true: "format=serialized answered", false: "format=serialized ignored"}[serialized]
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(newRegistry(serialized).Handler())
			defer srv.Close()
			ctx := context.Background()
			cl, err := sr.NewClient(sr.URLs(srv.URL))
			if err != nil {
				t.Fatal(err)
			}
			common, err := cl.CreateSchema(ctx, "it/common.proto", sr.Schema{Schema: serializedFile(t, "it/common.proto"), Type: sr.TypeProtobuf})
			if err != nil {
				t.Fatal(err)
			}
			order := sr.Schema{Schema: serializedFile(t, "it/order.proto"), Type: sr.TypeProtobuf,
				References: []sr.SchemaReference{{Name: "it/common.proto", Subject: "it/common.proto", Version: common.Version}}}
			ss, err := cl.CreateSchema(ctx, "orders-value", order)
			if err != nil {
				t.Fatal(err)
			}
			again, err := cl.CreateSchema(ctx, "orders-value", order)
			if err != nil || again.ID != ss.ID {
				t.Errorf("registering the same descriptor again: ID %d, %v; want ID %d", again.ID, err, ss.ID)
			}

			got, err := cl.SchemaByID(ctx, ss.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(got.Schema, "message Order {") || !strings.Contains(got.Schema, `import "it/common.proto";`) {
				t.Errorf("schema %d is served as\n%s\nwant .proto text", ss.ID, got.Schema)
			}
			gotSer, err := cl.SchemaByID(sr.WithParams(ctx, sr.Format("serialized")), ss.ID)
			if err != nil {
				t.Fatal(err)
			}
			raw, b64err := base64.StdEncoding.DecodeString(gotSer.Schema)
			var fdp descriptorpb.FileDescriptorProto
			switch {
			case !serialized && gotSer.Schema != got.Schema:
				t.Errorf("format=serialized ignored, but the answer is not the text:\n%s", gotSer.Schema)
			case serialized && (b64err != nil || proto.Unmarshal(raw, &fdp) != nil):
				t.Errorf("format=serialized answered with %q, not a base64 descriptor", gotSer.Schema)
			case serialized && (fdp.GetPackage() != "it" || len(fdp.GetMessageType()) != 1 || fdp.GetMessageType()[0].GetName() != "Order"):
				t.Errorf("format=serialized descriptor %v, want package it with message Order", &fdp)
			}

			dec, err := schemaregistry.New(schemaregistry.Config{URL: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			leg := protowire.AppendFixed64(protowire.AppendTag(nil, 1, protowire.Fixed64Type), 0x4004000000000000) // 2.5
			var rec []byte
			rec = protowire.AppendVarint(protowire.AppendTag(rec, 1, protowire.VarintType), 42)
			rec = protowire.AppendBytes(protowire.AppendTag(rec, 2, protowire.BytesType), leg)
			frame := append(binary.BigEndian.AppendUint32([]byte{0}, uint32(ss.ID)), 0)
			rs, v, err := dec.Decode(ctx, append(frame, rec...))
			if err != nil || rs.Name != "it.Order" || v["id"] != int64(42) {
				t.Errorf("Decode = %v %v %v, want it.Order id 42", rs, v, err)
			}
		})
	}
}

// TestProtobufBadDescriptorRefused: a base64 schema that is no descriptor
// is refused at registration (422), as a Confluent registry does.
func TestProtobufBadDescriptorRefused(t *testing.T) {
	srv := httptest.NewServer(newRegistry(true).Handler())
	defer srv.Close()
	cl, err := sr.NewClient(sr.URLs(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	_, err = cl.CreateSchema(context.Background(), "x-value", sr.Schema{Schema: base64.StdEncoding.EncodeToString([]byte{0xff, 0xff}), Type: sr.TypeProtobuf})
	var re *sr.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("registering a bad descriptor: %v, want 422", err)
	}
}
