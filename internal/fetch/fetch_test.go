package fetch

import (
	"slices"
	"strings"
	"testing"
)

func TestPreflightDecision(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	repeat := func(name, value string, n int) []Header {
		var hs []Header
		for range n {
			hs = append(hs, Header{name, value})
		}
		return hs
	}
	for _, tc := range []struct {
		name       string
		method     string
		headers    []Header
		wantUnsafe []string
		wantFlight bool
	}{
		{"GET without headers goes straight", "GET", nil, nil, false},
		{"lower-case get is normalized and safelisted", "get", nil, nil, false},
		{"HEAD is safelisted", "head", nil, nil, false},
		{"POST with a form type goes straight", "POST", []Header{{"Content-Type", "application/x-www-form-urlencoded"}}, nil, false},
		{"POST multipart with boundary parameter goes straight", "POST", []Header{{"Content-Type", "multipart/form-data; boundary=xyz"}}, nil, false},
		{"text/plain in any case goes straight", "POST", []Header{{"content-type", "TEXT/Plain;charset=utf-8"}}, nil, false},
		{"JSON body type needs a preflight", "POST", []Header{{"Content-Type", "application/json"}}, []string{"content-type"}, true},
		{"quoted MIME parameter is an unsafe byte", "POST", []Header{{"Content-Type", `text/plain; charset="utf-8"`}}, []string{"content-type"}, true},
		{"malformed MIME type is unsafe", "POST", []Header{{"Content-Type", "text"}}, []string{"content-type"}, true},
		{"PUT needs a preflight", "PUT", nil, nil, true},
		{"lower-case delete is normalized but not safelisted", "delete", nil, nil, true},
		{"patch stays lower case and needs a preflight", "patch", nil, nil, true},
		{"Accept with a plain value is safelisted", "GET", []Header{{"Accept", "application/json, text/plain;q=0.9"}}, nil, false},
		{"Accept with a parenthesis is unsafe", "GET", []Header{{"Accept", "text/(html)"}}, []string{"accept"}, true},
		{"Accept-Language with q-values is safelisted", "GET", []Header{{"Accept-Language", "en-US,en;q=0.9"}}, nil, false},
		{"Accept-Language with an underscore is unsafe", "GET", []Header{{"Accept-Language", "en_US"}}, []string{"accept-language"}, true},
		{"Content-Language is safelisted", "GET", []Header{{"Content-Language", "de-DE"}}, nil, false},
		{"Accept-Language with the ends of each range and a space is safelisted", "GET", []Header{{"Accept-Language", "0 9 A Z a z"}}, nil, false},
		{"Accept with a tab is safelisted", "GET", []Header{{"Accept", "text/html,\ttext/plain"}}, nil, false},
		{"Accept with a control byte is unsafe", "GET", []Header{{"Accept", "text/html\x01"}}, []string{"accept"}, true},
		{"Range of one byte is safelisted", "GET", []Header{{"Range", "bytes=5-5"}}, nil, false},
		{"Range whose ends have as many digits is safelisted", "GET", []Header{{"Range", "bytes=10-19"}}, nil, false},
		{"Range from a start is safelisted", "GET", []Header{{"Range", "bytes=0-"}}, nil, false},
		{"Range with start and end is safelisted", "GET", []Header{{"Range", "bytes=0-99"}}, nil, false},
		{"suffix Range is not safelisted", "GET", []Header{{"Range", "bytes=-500"}}, []string{"range"}, true},
		{"Range ending before it starts is not safelisted", "GET", []Header{{"Range", "bytes=5-1"}}, []string{"range"}, true},
		{"multiple ranges are not safelisted", "GET", []Header{{"Range", "bytes=0-1,3-4"}}, []string{"range"}, true},
		{"Range with spaces is not safelisted", "GET", []Header{{"Range", "bytes= 0-1"}}, []string{"range"}, true},
		{"custom header needs a preflight", "GET", []Header{{"X-Requested-With", "XMLHttpRequest"}}, []string{"x-requested-with"}, true},
		{"Authorization needs a preflight", "GET", []Header{{"Authorization", "Bearer t"}}, []string{"authorization"}, true},
		{"names are lower-cased, sorted and de-duplicated", "GET", []Header{{"X-B", "1"}, {"x-a", "1"}, {"X-A", "2"}}, []string{"x-a", "x-b"}, true},
		{"a 128-byte value is safelisted", "GET", []Header{{"Accept-Language", long(128)}}, nil, false},
		{"a 129-byte value is not", "GET", []Header{{"Accept-Language", long(129)}}, []string{"accept-language"}, true},
		{"safelisted values totalling 1024 bytes pass", "GET", repeat("Content-Language", long(128), 8), nil, false},
		{"safelisted values over 1024 bytes all become unsafe", "GET",
			append(repeat("Content-Language", long(128), 8), Header{"Accept", "*/*"}),
			[]string{"accept", "content-language"}, true},
		{"unsafe values do not count towards 1024", "GET",
			append(repeat("Content-Language", long(128), 8), Header{"X-Big", long(500)}),
			[]string{"x-big"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := NormalizeMethod(tc.method)
			unsafe, _ := UnsafeHeaderNames(tc.headers)
			if !slices.Equal(unsafe, tc.wantUnsafe) {
				t.Errorf("unsafe names = %q, want %q", unsafe, tc.wantUnsafe)
			}
			if got := !IsSafelistedMethod(method) || len(unsafe) > 0; got != tc.wantFlight {
				t.Errorf("preflight = %v, want %v", got, tc.wantFlight)
			}
		})
	}
}

func TestNormalizeMethod(t *testing.T) {
	for in, want := range map[string]string{
		"get": "GET", "Post": "POST", "delete": "DELETE", "options": "OPTIONS", "put": "PUT", "head": "HEAD",
		"patch": "patch", "PATCH": "PATCH", "Purge": "Purge",
	} {
		if got := NormalizeMethod(in); got != want {
			t.Errorf("NormalizeMethod(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestUnsafeHeaderNamesSayWhy(t *testing.T) {
	_, why := UnsafeHeaderNames([]Header{
		{"Content-Type", "application/json"},
		{"X-Api-Key", "k"},
		{"Accept-Language", strings.Repeat("a", 129)},
	})
	for name, want := range map[string]string{
		"content-type":    "type application/json is not application/x-www-form-urlencoded, multipart/form-data or text/plain",
		"x-api-key":       "not a CORS-safelisted header name",
		"accept-language": "value is 129 bytes, over the 128-byte limit for safelisted headers",
	} {
		if why[name] != want {
			t.Errorf("why[%q] = %q, want %q", name, why[name], want)
		}
	}
}

func TestForbiddenRequestHeaders(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		want        bool
	}{
		{"Cookie", "a=b", true},
		{"Host", "x", true},
		{"Sec-Fetch-Mode", "cors", true},
		{"Proxy-Authorization", "x", true},
		{"Access-Control-Request-Method", "PUT", true},
		{"X-HTTP-Method-Override", "TRACE", true},
		{"X-Method-Override", "get, connect", true},
		{"X-HTTP-Method", "PATCH", false},
		{"Authorization", "Bearer t", false},
		{"Content-Type", "application/json", false},
		{"X-Api-Key", "k", false},
	} {
		if got := IsForbiddenRequestHeader(tc.name, tc.value); got != tc.want {
			t.Errorf("IsForbiddenRequestHeader(%q, %q) = %v, want %v", tc.name, tc.value, got, tc.want)
		}
	}
}

func TestForbiddenMethodsInAnyCase(t *testing.T) {
	for m, want := range map[string]bool{
		"CONNECT": true, "trace": true, "Track": true, "PATCH": false, "OPTIONS": false,
	} {
		if got := IsForbiddenMethod(m); got != want {
			t.Errorf("IsForbiddenMethod(%q) = %v, want %v", m, got, want)
		}
	}
}

func TestTokens(t *testing.T) {
	for s, want := range map[string]bool{
		"X-Api-Key": true, "GET": true, "!#$%&'*+-.^_`|~09az": true,
		"": false, "a b": false, "a,b": false, "a:b": false, "\xff": false, "é": false,
	} {
		if got := IsToken(s); got != want {
			t.Errorf("IsToken(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestParseTokenListReadsAsBrowsers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		lines  []string
		want   []string
		wantOK bool
	}{
		{"one line", []string{"GET, POST"}, []string{"GET", "POST"}, true},
		{"several lines are one list", []string{"GET", "PUT,DELETE"}, []string{"GET", "PUT", "DELETE"}, true},
		{"white space and empty elements are ignored", []string{" ,GET ,\t, PUT,"}, []string{"GET", "PUT"}, true},
		{"no lines is an empty list", nil, nil, true},
		{"a non-token element fails the whole field", []string{"GET, PUT DELETE"}, nil, false},
		{"a quoted element fails it too", []string{`"GET"`}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ParseTokenList(tc.lines)
			if ok != tc.wantOK || !slices.Equal(got, tc.want) {
				t.Errorf("ParseTokenList(%q) = %q, %v; want %q, %v", tc.lines, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

// TestNextElement pins how a request's list is split: at the first comma,
// even the very first byte, with the white space around the element gone.
func TestNextElement(t *testing.T) {
	for _, tc := range []struct {
		list, elem, rest string
	}{
		{"GET, PUT", "GET", " PUT"},
		{",PUT", "", "PUT"},
		{" \tGET \t,", "GET", ""},
		{"GET", "GET", ""},
		{"", "", ""},
	} {
		if elem, rest := NextElement(tc.list); elem != tc.elem || rest != tc.rest {
			t.Errorf("NextElement(%q) = %q, %q; want %q, %q", tc.list, elem, rest, tc.elem, tc.rest)
		}
	}
}

func TestListContains(t *testing.T) {
	for _, tc := range []struct {
		lines []string
		name  string
		star  bool
		want  bool
	}{
		{[]string{"Accept-Encoding, origin"}, "Origin", false, true},
		{[]string{"Accept-Encoding", " Origin "}, "Origin", false, true},
		{[]string{"Accept-Encoding, Originator"}, "Origin", false, false},
		{[]string{"*"}, "Origin", true, true},
		{[]string{"*"}, "Origin", false, false},
		{nil, "Origin", true, false},
	} {
		if got := ListContains(tc.lines, tc.name, tc.star); got != tc.want {
			t.Errorf("ListContains(%q, %q, %v) = %v, want %v", tc.lines, tc.name, tc.star, got, tc.want)
		}
	}
}
