package stocklake

import (
	"strconv"
	"time"
)

// parseTickFast decodes the common shape of a wire-format tick without
// reflection: a flat object of strings without escapes, numbers and arrays of
// such strings. It returns ok=false for anything else (escapes, nesting,
// unusual whitespace), and ParseTick then falls back to encoding/json, so both
// paths accept exactly the same documents.
func parseTickFast(b []byte) (t Tick, ok bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return t, false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return t, false
	}
	var haveTS, havePrice bool
	for {
		key, j, ok := scanPlainString(b, i)
		if !ok {
			return t, false
		}
		i = skipSpace(b, j)
		if i >= len(b) || b[i] != ':' {
			return t, false
		}
		i = skipSpace(b, i+1)
		if i >= len(b) {
			return t, false
		}
		switch key {
		case "v":
			num, j, ok := scanNumber(b, i)
			if !ok || num != "1" {
				return t, false
			}
			i = j
		case "symbol", "exchange", "source":
			s, j, ok := scanPlainString(b, i)
			if !ok {
				return t, false
			}
			switch key {
			case "symbol":
				t.Symbol = s
			case "exchange":
				t.Exchange = s
			default:
				t.Source = s
			}
			i = j
		case "trade_id":
			if b[i] == '"' {
				s, j, ok := scanPlainString(b, i)
				if !ok {
					return t, false
				}
				t.TradeID, i = s, j
			} else {
				num, j, ok := scanNumber(b, i)
				if !ok || !isInteger(num) {
					return t, false
				}
				t.TradeID, i = num, j
			}
		case "ts":
			num, j, ok := scanNumber(b, i)
			if !ok {
				return t, false
			}
			us, err := strconv.ParseInt(num, 10, 64)
			if err != nil {
				return t, false
			}
			t.Time, haveTS, i = time.UnixMicro(us).UTC(), true, j
		case "price", "size":
			var f float64
			var err error
			var j int
			if b[i] == '"' {
				var s string
				s, j, ok = scanPlainString(b, i)
				if ok {
					f, err = strconv.ParseFloat(s, 64)
				}
			} else {
				var num string
				num, j, ok = scanNumber(b, i)
				if ok {
					f, err = strconv.ParseFloat(num, 64)
				}
			}
			if !ok || err != nil {
				return t, false
			}
			if key == "price" {
				t.Price, havePrice = f, true
			} else {
				t.Size = f
			}
			i = j
		case "conditions":
			if b[i] == 'n' {
				if len(b)-i < 4 || string(b[i:i+4]) != "null" {
					return t, false
				}
				i += 4
				break
			}
			if b[i] != '[' {
				return t, false
			}
			i = skipSpace(b, i+1)
			if i < len(b) && b[i] == ']' {
				t.Conditions = []string{}
				i++
				break
			}
			for {
				s, j, ok := scanPlainString(b, i)
				if !ok {
					return t, false
				}
				t.Conditions = append(t.Conditions, s)
				i = skipSpace(b, j)
				if i < len(b) && b[i] == ',' {
					i = skipSpace(b, i+1)
					continue
				}
				if i < len(b) && b[i] == ']' {
					i++
					break
				}
				return t, false
			}
		default:
			return t, false // unknown fields: let encoding/json skip them
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return t, false
		}
		if b[i] == ',' {
			i = skipSpace(b, i+1)
			continue
		}
		if b[i] == '}' {
			if skipSpace(b, i+1) != len(b) {
				return t, false
			}
			return t, haveTS && havePrice
		}
		return t, false
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// scanPlainString reads a JSON string starting at b[i] that has no escapes
// and only printable ASCII or well-formed bytes >= 0x80 handled by the
// fallback; it returns ok=false if the string needs the full decoder.
func scanPlainString(b []byte, i int) (string, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return "", i, false
	}
	for j := i + 1; j < len(b); j++ {
		c := b[j]
		if c == '"' {
			return string(b[i+1 : j]), j + 1, true
		}
		if c == '\\' || c < 0x20 || c >= 0x80 {
			return "", i, false
		}
	}
	return "", i, false
}

// scanNumber reads a JSON number token starting at b[i].
func scanNumber(b []byte, i int) (string, int, bool) {
	j := i
	if j < len(b) && b[j] == '-' {
		j++
	}
	digits := 0
	for j < len(b) {
		c := b[j]
		if c >= '0' && c <= '9' {
			digits++
		} else if c != '.' && c != 'e' && c != 'E' && c != '+' && c != '-' {
			break
		}
		j++
	}
	if digits == 0 {
		return "", i, false
	}
	return string(b[i:j]), j, true
}
