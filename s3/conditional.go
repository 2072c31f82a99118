package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/stocklake/stocklake"
)

// GetVersion reads a whole object and returns its ETag as its version.
func (s *ObjectStore) GetVersion(ctx context.Context, key string) ([]byte, string, error) {
	if err := checkKey(key); err != nil {
		return nil, "", err
	}
	out, err := s.client.GetObject(ctx, &awss3.GetObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.prefix + key),
	})
	if err != nil {
		return nil, "", s.wrap(ctx, "get", key, err)
	}
	defer out.Body.Close()
	s.bucketOK.Store(true)
	b, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, "", s.wrapRead(key, err)
	}
	return b, aws.ToString(out.ETag), nil
}

// PutIf uploads body in one PutObject request with If-Match: ifVersion (an
// ETag from GetVersion or PutIf), or If-None-Match: * for
// stocklake.IfAbsent, so S3 checks and writes atomically. It returns the
// new ETag. A condition that does not hold (HTTP 412 PreconditionFailed, or
// 409 ConditionalRequestConflict when another conditional write to the key
// is in flight) wraps stocklake.ErrPrecondition. Amazon S3 supports both
// headers on PutObject since 2024; a server that ignores them would make
// PutIf an unconditional Put, which the contract tests in
// internal/objectstoretest detect. Bodies are buffered: PutIf is meant for
// small state objects.
func (s *ObjectStore) PutIf(ctx context.Context, key string, body io.Reader, ifVersion string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	data, err := io.ReadAll(body)
	if err != nil {
		return "", fmt.Errorf("s3: put %s: reading body: %w", s.location(key), err)
	}
	in := &awss3.PutObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.prefix + key),
		Body:   bytes.NewReader(data),
	}
	if ifVersion == stocklake.IfAbsent {
		in.IfNoneMatch = aws.String("*")
	} else {
		in.IfMatch = aws.String(ifVersion)
	}
	out, err := s.client.PutObject(ctx, in)
	if err != nil {
		if isPrecondition(err) {
			cond := "If-Match " + ifVersion
			if ifVersion == stocklake.IfAbsent {
				cond = "If-None-Match *"
			}
			return "", fmt.Errorf("s3: put %s: %s does not hold (changed or created by another writer): %w", s.location(key), cond, stocklake.ErrPrecondition)
		}
		werr := s.wrap(ctx, "put", key, err)
		if ifVersion != stocklake.IfAbsent && errors.Is(werr, stocklake.ErrNotFound) && !errors.Is(werr, stocklake.ErrConfig) {
			// S3 answers If-Match on a missing key with 404 NoSuchKey.
			return "", fmt.Errorf("s3: put %s: object is gone, want version %s: %w", s.location(key), ifVersion, stocklake.ErrPrecondition)
		}
		return "", werr
	}
	s.bucketOK.Store(true)
	return aws.ToString(out.ETag), nil
}

// isPrecondition reports a failed If-Match or If-None-Match.
func isPrecondition(err error) bool {
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "PreconditionFailed", "ConditionalRequestConflict":
			return true
		}
	}
	var re *smithyhttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == 412
}
