package fetch

import (
	"fmt"
	"slices"
	"strings"
)

// Header is one entry of a Fetch header list. Entries with the same name stay
// separate, as the standard's header list keeps them.
type Header struct {
	Name, Value string
}

// IsForbiddenHeaderName reports whether browsers refuse to let a script set
// the header, whatever its value (Fetch: "forbidden request-header"): a
// policy listing it can only be mistaken, and fetch() drops it silently.
// name is lower case.
func IsForbiddenHeaderName(name string) bool {
	switch name {
	case "accept-charset", "accept-encoding", "access-control-request-headers",
		"access-control-request-method", "connection", "content-length",
		"cookie", "cookie2", "date", "dnt", "expect", "host", "keep-alive",
		"origin", "referer", "set-cookie", "te", "trailer",
		"transfer-encoding", "upgrade", "via":
		return true
	}
	return strings.HasPrefix(name, "proxy-") || strings.HasPrefix(name, "sec-")
}

// IsForbiddenRequestHeader is Fetch's forbidden request-header, value
// included: the method-override headers are forbidden only when they name
// a forbidden method.
func IsForbiddenRequestHeader(name, value string) bool {
	lower := strings.ToLower(name)
	if IsForbiddenHeaderName(lower) {
		return true
	}
	switch lower {
	case "x-http-method", "x-http-method-override", "x-method-override":
		for m := range strings.SplitSeq(value, ",") {
			if IsForbiddenMethod(strings.Trim(m, " \t")) {
				return true
			}
		}
	}
	return false
}

// SafelistedResponseHeaders are readable by the script of any CORS response,
// whatever Access-Control-Expose-Headers says.
var SafelistedResponseHeaders = []string{
	"Cache-Control", "Content-Language", "Content-Length", "Content-Type",
	"Expires", "Last-Modified", "Pragma",
}

// SafelistReason returns "" when (name, value) is a CORS-safelisted
// request-header, and otherwise why it is not, in words a user can act on.
func SafelistReason(name, value string) string {
	lower := strings.ToLower(name)
	switch lower {
	case "accept", "accept-language", "content-language", "content-type", "range":
	default:
		return "not a CORS-safelisted header name"
	}
	if len(value) > 128 {
		return fmt.Sprintf("value is %d bytes, over the 128-byte limit for safelisted headers", len(value))
	}
	switch lower {
	case "accept":
		if c, ok := unsafeByte(value); ok {
			return fmt.Sprintf("value contains the CORS-unsafe byte %q", c)
		}
	case "accept-language", "content-language":
		for i := 0; i < len(value); i++ {
			c := value[i]
			if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || strings.IndexByte(" *,-.;=", c) >= 0) {
				return fmt.Sprintf("value contains %q; only letters, digits, space and *,-.;= are safelisted", c)
			}
		}
	case "content-type":
		if c, ok := unsafeByte(value); ok {
			return fmt.Sprintf("value contains the CORS-unsafe byte %q", c)
		}
		essence, ok := mimeEssence(value)
		if !ok {
			return "value is not a valid MIME type"
		}
		switch essence {
		case "application/x-www-form-urlencoded", "multipart/form-data", "text/plain":
		default:
			return "type " + essence + " is not application/x-www-form-urlencoded, multipart/form-data or text/plain"
		}
	case "range":
		if !isSimpleRange(value) {
			return `value is not a single range of the form "bytes=<start>-[<end>]"`
		}
	}
	return ""
}

// UnsafeHeaderNames is Fetch's "CORS-unsafe request-header names": the
// lower-cased, sorted, de-duplicated names a preflight must ask for, and for
// each why. The safelisted headers lose their status together when their
// values add up to more than 1024 bytes.
func UnsafeHeaderNames(headers []Header) (names []string, why map[string]string) {
	var potentially []string
	why = make(map[string]string)
	size := 0
	for _, h := range headers {
		name := strings.ToLower(h.Name)
		if r := SafelistReason(h.Name, h.Value); r != "" {
			names = append(names, name)
			if _, seen := why[name]; !seen {
				why[name] = r
			}
			continue
		}
		potentially = append(potentially, name)
		size += len(h.Value)
	}
	if size > 1024 {
		for _, name := range potentially {
			names = append(names, name)
			if _, seen := why[name]; !seen {
				why[name] = fmt.Sprintf("the safelisted headers' values total %d bytes, over the 1024-byte limit", size)
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names), why
}

// unsafeByte finds the first CORS-unsafe request-header byte in v.
func unsafeByte(v string) (byte, bool) {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if (c < 0x20 && c != '\t') || c == 0x7f || strings.IndexByte(`"():<>?@[\]{}`, c) >= 0 {
			return c, true
		}
	}
	return 0, false
}

// mimeEssence implements the part of WHATWG's "parse a MIME type" that the
// safelist needs: the lower-cased type/subtype. Parameters never make the
// parse fail, as in the standard.
func mimeEssence(v string) (string, bool) {
	v = strings.Trim(v, " \t\r\n")
	typ, rest, ok := strings.Cut(v, "/")
	if !ok || !IsToken(typ) {
		return "", false
	}
	sub, _, _ := strings.Cut(rest, ";")
	sub = strings.TrimRight(sub, " \t\r\n")
	if !IsToken(sub) {
		return "", false
	}
	return strings.ToLower(typ + "/" + sub), true
}

// isSimpleRange is Fetch's "parse a single range header value" (without
// white space) followed by the safelist's refusal of suffix ranges: it
// accepts "bytes=<digits>-" and "bytes=<digits>-<digits>" with start <= end.
func isSimpleRange(v string) bool {
	rest, ok := strings.CutPrefix(v, "bytes=")
	if !ok {
		return false
	}
	start, end, ok := strings.Cut(rest, "-")
	if !ok || !isDigits(start) || (end != "" && !isDigits(end)) {
		return false
	}
	if end == "" {
		return true
	}
	// Compare the decimal numbers without overflowing.
	s, e := strings.TrimLeft(start, "0"), strings.TrimLeft(end, "0")
	return len(s) < len(e) || (len(s) == len(e) && s <= e)
}

// isDigits reports whether s is a non-empty run of ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
