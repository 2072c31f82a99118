// Package hive holds the Hive conventions that every catalog, engine and
// writer of stocklake shares: the column type grammar (ParseType,
// Type.String), partition folder names (Escape, Unescape, PartitionPath,
// ParsePartitionPath, DefaultPartitionName) and the Hadoop input format,
// output format and SerDe class names of each data format (Storage).
//
// Catalog partition values are always the unescaped values; folder names
// are always the escaped text. The package imports only the root package.
package hive

import (
	"fmt"
	"strings"

	"github.com/stocklake/stocklake"
)

// DefaultPartitionName is the folder value, and the catalog value, that
// Hive, Athena and Trino use for a null or empty partition value. Engines
// read it back as NULL.
const DefaultPartitionName = "__HIVE_DEFAULT_PARTITION__"

// escaped marks the bytes Hive's FileUtils.escapePathName escapes:
// control characters, DEL and "#%'*/:=?\{[]^. Other bytes, including
// spaces and UTF-8 beyond ASCII, are kept as they are.
var escaped = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t[0x7f] = true
	for _, c := range []byte("\"#%'*/:=?\\{[]^") {
		t[c] = true
	}
	return t
}()

func needsEscape(c byte) bool { return escaped[c] }

// Escape returns v as it appears in a partition folder name, following
// Hive's FileUtils.escapePathName: each byte that needsEscape becomes %XX
// (upper-case hex); an empty v becomes DefaultPartitionName.
func Escape(v string) string {
	for i := 0; i < len(v); i++ {
		if needsEscape(v[i]) {
			return string(AppendEscape(make([]byte, 0, len(v)+8), v))
		}
	}
	if v == "" {
		return DefaultPartitionName
	}
	return v
}

// AppendEscape appends Escape(v) to dst.
func AppendEscape(dst []byte, v string) []byte {
	if v == "" {
		return append(dst, DefaultPartitionName...)
	}
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(v); i++ {
		c := v[i]
		if needsEscape(c) {
			dst = append(dst, '%', hex[c>>4], hex[c&0xf])
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

// Unescape returns the value a partition folder name's text stands for,
// following Hive's FileUtils.unescapePathName: each %XX with two hex
// digits becomes that byte; any other '%' is kept as it is. Unlike
// url.PathUnescape it never fails, so one stray '%' does not leave the
// rest of the text escaped. DefaultPartitionName is returned unchanged:
// the catalog keeps it as the value.
func Unescape(s string) string {
	i := strings.IndexByte(s, '%')
	if i < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) {
			if h, ok := unhex(s[i+1]); ok {
				if l, ok := unhex(s[i+2]); ok {
					b = append(b, h<<4|l)
					i += 2
					continue
				}
			}
		}
		b = append(b, c)
	}
	return string(b)
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// PartitionPath returns the folder path of a partition, relative to its
// table and without a trailing slash: "k1=v1/k2=v2", keys lower-cased as
// Athena and Trino expect them, keys and values escaped with Escape.
// values shorter than keys are padded with empty (default) values.
func PartitionPath(keys, values []string) string {
	var b []byte
	for i, k := range keys {
		v := ""
		if i < len(values) {
			v = values[i]
		}
		b = AppendPartitionSegment(b, k, v)
	}
	return string(b)
}

// AppendPartitionSegment appends one "key=value" folder name of
// PartitionPath to dst, preceded by '/' unless dst is empty.
func AppendPartitionSegment(dst []byte, key, value string) []byte {
	if len(dst) > 0 {
		dst = append(dst, '/')
	}
	dst = AppendEscape(dst, strings.ToLower(key))
	dst = append(dst, '=')
	return AppendEscape(dst, value)
}

// IsPartitionSegment reports whether a folder name is a Hive-style
// "key=value" name: an '=' with a non-empty key before it. The value may
// be empty ("k="), which Hive never writes but other writers do.
func IsPartitionSegment(seg string) bool {
	return strings.IndexByte(seg, '=') > 0
}

// SplitPartitionSegment returns the unescaped key and value of a
// "key=value" folder name (ok false when seg is not one).
func SplitPartitionSegment(seg string) (key, value string, ok bool) {
	if !IsPartitionSegment(seg) {
		return "", "", false
	}
	k, v, _ := strings.Cut(seg, "=")
	return Unescape(k), Unescape(v), true
}

// ParsePartitionPath parses a partition folder path such as
// "dt=2026-11-26/exchange=NYA%2FX" (leading and trailing slashes allowed)
// into its keys and unescaped values. It fails, wrapping
// stocklake.ErrInvalid, when a segment is not key=value.
func ParsePartitionPath(path string) (keys, values []string, err error) {
	path = strings.Trim(path, "/")
	if path == "" {
		return nil, nil, nil
	}
	for seg := range strings.SplitSeq(path, "/") {
		k, v, ok := SplitPartitionSegment(seg)
		if !ok {
			return nil, nil, fmt.Errorf("partition path %q: folder %q is not key=value: %w", path, seg, stocklake.ErrInvalid)
		}
		keys = append(keys, k)
		values = append(values, v)
	}
	return keys, values, nil
}
