package schemaregistry

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/sr"
)

func newProtoDecoder(id int, s sr.Schema, refs []namedSchema) (*decoder, error) {
	return nil, fmt.Errorf("protobuf schemas are not decoded yet")
}
