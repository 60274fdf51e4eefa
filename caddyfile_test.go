package cors

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddytest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

var update = flag.Bool("update", false, "rewrite the expected JSON of testdata/caddyfile_adapt")

const adaptSeparator = "----------"

// TestCaddyfileAdapt pins the JSON each subdirective adapts to. Each file of
// testdata/caddyfile_adapt holds a Caddyfile, a separator line and the JSON;
// `go test -run TestCaddyfileAdapt -update` rewrites the JSON after a change
// that is meant to alter it.
func TestCaddyfileAdapt(t *testing.T) {
	files, err := filepath.Glob("testdata/caddyfile_adapt/*.caddyfiletest")
	if err != nil || len(files) == 0 {
		t.Fatalf("no adapt tests found: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".caddyfiletest"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			input, expected, _ := strings.Cut(string(data), adaptSeparator+"\n")
			if *update {
				out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(input), nil)
				if err != nil {
					t.Fatal(err)
				}
				var pretty bytes.Buffer
				if err := json.Indent(&pretty, out, "", "\t"); err != nil {
					t.Fatal(err)
				}
				expected = pretty.String()
				if err := os.WriteFile(file, []byte(input+adaptSeparator+"\n"+expected+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if !caddytest.CompareAdapt(t, file, input, "caddyfile", strings.TrimSuffix(expected, "\n")) {
				t.Errorf("%s: adapted JSON differs (see diff above)", file)
			}
		})
	}
}

// caddyfileErrors are mistakes and what their errors must say: the file,
// the line, the bad token and what to write instead.
var caddyfileErrors = []struct {
	name  string
	block string // the cors directive, starting on line 2 of the site
	want  []string
}{
	{"UnknownSubdirective", "cors {\n\t\torigin https://a.com\n\t}",
		[]string{`unknown subdirective "origin": did you mean origins? write one of origins,`, "Caddyfile:3"}},
	{"ListWithoutValues", "cors {\n\t\tmethods\n\t}",
		[]string{"methods needs at least one value, e.g. methods GET POST PUT DELETE", "Caddyfile:3"}},
	{"SingleValuedTwice", "cors https://a.com {\n\t\tmax_age 1m\n\t\tmax_age 2m\n\t}",
		[]string{"max_age is given twice: keep one", "Caddyfile:4"}},
	{"FlagTwice", "cors https://a.com {\n\t\tpreflight_passthrough\n\t\tpreflight_passthrough\n\t}",
		[]string{"preflight_passthrough is given twice", "Caddyfile:4"}},
	{"FlagWithValue", "cors https://a.com {\n\t\tallow_private_network yes\n\t}",
		[]string{`allow_private_network takes no value, not "yes"`, "Caddyfile:3"}},
	{"ProtectionTwice", "cors https://a.com {\n\t\tcross_origin_protection\n\t\tcross_origin_protection\n\t}",
		[]string{"cross_origin_protection is given twice: keep one", "Caddyfile:4"}},
	{"ProtectionWithValue", "cors https://a.com {\n\t\tcross_origin_protection on\n\t}",
		[]string{`cross_origin_protection takes no value, not "on": write cross_origin_protection alone`, "Caddyfile:3"}},
	{"ProtectionWithAnyOriginAtItsLine", "cors {\n\t\tmethods GET POST\n\t\tcross_origin_protection\n\t}",
		[]string{"cross_origin_protection: cross_origin_protection trusts the origins the policy allows, and origins allows any origin, so it would refuse nothing", "Caddyfile:4"}},
	{"CredentialsWithBadValue", "cors https://a.com {\n\t\tallow_credentials yes\n\t}",
		[]string{`allow_credentials takes no value, or true or false, not "yes"`, "Caddyfile:3"}},
	{"MaxAgeNotADuration", "cors {\n\t\tmax_age soon\n\t}",
		[]string{`max_age "soon"`, "write a duration such as 10m", "Caddyfile:3"}},
	{"MaxAgeNegative", "cors {\n\t\tmax_age -5\n\t}",
		[]string{`max_age "-5" is negative`, "Caddyfile:3"}},
	{"MaxAgeFractional", "cors {\n\t\tmax_age 1.5s\n\t}",
		[]string{`max_age "1.5s" is not whole seconds`, "write e.g. max_age 2s", "Caddyfile:3"}},
	{"MaxAgeQuotesTokenAsWritten", "cors {\n\t\tmax_age 1500ms\n\t}",
		[]string{`max_age "1500ms" is not whole seconds`, "Caddyfile:3"}},
	{"MaxAgeNamesExtraValue", "cors {\n\t\tmax_age 10m 20m\n\t}",
		[]string{`max_age takes one duration, e.g. max_age 10m or max_age 600 (seconds), not "10m 20m": remove "20m"`, "Caddyfile:3"}},
	{"MaxAgeTwoValues", "cors {\n\t\tmax_age 1 2\n\t}",
		[]string{"max_age takes one duration", "Caddyfile:3"}},
	{"PreflightStatusNotOK", "cors {\n\t\tpreflight_status 301\n\t}",
		[]string{"preflight_status: 301 is not a 2xx status", "write 204 or 200", "Caddyfile:3"}},
	{"PreflightStatusNotANumber", "cors {\n\t\tpreflight_status ok\n\t}",
		[]string{`preflight_status takes a status code, not "ok": write e.g. preflight_status 204`, "Caddyfile:3"}},
	{"PreflightStatusQuotesToken", "cors {\n\t\tpreflight_status abc\n\t}",
		[]string{`not "abc"`, "Caddyfile:3"}},
	{"CommaSeparatedOriginsOnDirectiveLine", "cors \"https://a.com, https://b.com\"",
		[]string{`origins: "https://a.com, https://b.com" is a list: separate the values with spaces, not commas`, "write origins https://a.com https://b.com", "Caddyfile:2"}},
	{"CommaSeparatedMethods", "cors https://a.com {\n\t\tmethods GET,PUT\n\t}",
		[]string{`methods: "GET,PUT" is a list: separate the values with spaces`, "write methods GET PUT", "Caddyfile:3"}},
	{"CommaSeparatedHeaders", "cors https://a.com {\n\t\tallowed_headers \"X-A, X-B\"\n\t}",
		[]string{`allowed_headers: "X-A, X-B" is a list`, "write allowed_headers X-A X-B", "Caddyfile:3"}},
	{"LowerCaseDeleteShowsUpperCase", "cors https://a.com {\n\t\tmethods get patch\n\t\tmethods delete\n\t}",
		[]string{`methods: "get" never matches: browsers send GET in upper case whatever the script wrote: write GET, at Caddyfile:3`, `methods: "delete" never matches: browsers send DELETE in upper case whatever the script wrote: write DELETE, at Caddyfile:4`}},
	{"RegexpMatchingAnyOriginWithCredentials", "cors {\n\t\torigin_regexp .*\n\t\tallow_credentials\n\t}",
		[]string{`origin_regexp: ".*" matches "https://`, `.invalid", an origin anybody can own, and allow_credentials would let it read with your users' cookies`, "Caddyfile:3"}},
	{"RegexpWithUnescapedDotWithCredentials", "cors {\n\t\torigin_regexp https://(www.)?example.com\n\t\tallow_credentials\n\t}",
		[]string{`origin_regexp: "https://(www.)?example.com" matches "https://examplexcom"`, "escape every dot", "Caddyfile:3"}},
	{"BadRegexpShowsUsersRegexp", "cors {\n\t\torigin_regexp [unclosed)\n\t}",
		[]string{`origin_regexp: "[unclosed)" is not an RE2 regular expression: missing closing ]`, "Caddyfile:3"}},
	{"NullWithCredentialsNamesBoth", "cors https://a.com null {\n\t\tallow_credentials\n\t}",
		[]string{`"null" cannot be allowed with allow_credentials`, `remove "null" or allow_credentials`, "Caddyfile:2"}},
	{"StarWithCredentialsAtDirective", "cors {\n\t\torigins *\n\t\tallow_credentials\n\t}",
		[]string{"allow_credentials: credentials need explicit origins", "Caddyfile:2"}},
	{"NoOriginWithCredentialsAtDirective", "cors {\n\t\tallow_credentials\n\t}",
		[]string{"allow_credentials: credentials need explicit origins", "Caddyfile:2"}},
	{"OriginWithPathAtItsLine", "cors {\n\t\torigins https://a.com\n\t\torigins https://b.com/api\n\t}",
		[]string{`"https://b.com/api": an origin has no path, query or fragment; write "https://b.com"`, "Caddyfile:4"}},
	{"OriginOnDirectiveLine", "cors https://a.com/",
		[]string{`write "https://a.com"`, "Caddyfile:2"}},
	{"StarBesideOrigins", "cors {\n\t\torigins * https://a.com\n\t}",
		[]string{`"*" already allows every origin`, "Caddyfile:3"}},
	{"ForbiddenMethod", "cors {\n\t\tmethods GET TRACE\n\t}",
		[]string{`methods: "TRACE" is a method browsers never let a script send`, "Caddyfile:3"}},
	{"ForbiddenHeader", "cors {\n\t\tallowed_headers Content-Type\n\t\tallowed_headers Cookie\n\t}",
		[]string{`allowed_headers: "Cookie" is a header browsers never let a script set`, "Caddyfile:4"}},
	{"ExposedSetCookie", "cors {\n\t\texposed_headers Set-Cookie\n\t}",
		[]string{`exposed_headers: "Set-Cookie" is never exposed`, "Caddyfile:3"}},
	{"ExposedStarWithCredentials", "cors https://a.com {\n\t\texposed_headers *\n\t\tallow_credentials\n\t}",
		[]string{`exposed_headers: "*" exposes nothing with allow_credentials`, "list the headers by name, or remove allow_credentials", "Caddyfile:3"}},
	{"PublicSuffixWithCredentials", "cors https://*.github.io {\n\t\tallow_credentials\n\t}",
		[]string{`"https://*.github.io" with allow_credentials hands your users' sessions to every owner of a site under the public suffix "github.io"`, "or remove allow_credentials", "Caddyfile:2"}},
	{"PrivateNetworkWithAnyOriginAtSubdirective", "cors {\n\t\tallow_private_network\n\t}",
		[]string{"allow_private_network: private network access needs explicit origins", "Caddyfile:3"}},
	{"BadRegexp", "cors {\n\t\torigin_regexp https://(a\n\t}",
		[]string{`origin_regexp: "https://(a" is not an RE2 regular expression: missing closing )`, "Caddyfile:3"}},
	{"FileOrigin", "cors file://",
		[]string{`"file://": browsers send the origin of file:// pages as "null"`, "Caddyfile:2"}},
	{"ReportOnlyWithPassthrough", "cors https://a.com {\n\t\tpreflight_passthrough\n\t\treport_only\n\t}",
		[]string{"report_only: report_only already passes every preflight on untouched", "remove preflight_passthrough", "Caddyfile:4"}},
	{"ReportOnlyWithPreflightStatus", "cors https://a.com {\n\t\treport_only\n\t\tpreflight_status 200\n\t}",
		[]string{"report_only: report_only never answers a preflight, so preflight_status 200 would never be used", "Caddyfile:3"}},
	{"ReportOnlyWithValue", "cors https://a.com {\n\t\treport_only yes\n\t}",
		[]string{`report_only takes no value, not "yes": write report_only alone`, "Caddyfile:3"}},
	{"ReportOnlyKeepsNormalErrors", "cors {\n\t\treport_only\n\t\tallow_credentials\n\t}",
		[]string{"allow_credentials: credentials need explicit origins", "Caddyfile:2"}},
	{"OriginSourceUnknown", "cors {\n\t\torigin_source nope\n\t}",
		[]string{`unknown origin source "nope": write http, file or storage (or the name of a module in http.handlers.cors.origins)`, "Caddyfile:3"}},
	{"OriginSourceMaxLookupsZero", "cors {\n\t\torigin_source http http://localhost:5555/ask {\n\t\t\tmax_lookups 0\n\t\t}\n\t}",
		[]string{`max_lookups "0" is not a positive number: write e.g. max_lookups 64`, "Caddyfile:4"}},
	{"OriginCacheMaxEntriesZero", "cors {\n\t\torigin_source http http://localhost:5555/ask\n\t\torigin_cache {\n\t\t\tmax_entries 0\n\t\t}\n\t}",
		[]string{`max_entries "0" is not a positive number: write e.g. max_entries 10000`, "Caddyfile:5"}},
	{"EveryErrorAtOnce", "cors https://a.com/ {\n\t\tmethods TRACE\n\t\tbogus\n\t}",
		[]string{`write "https://a.com", at Caddyfile:2`, `"TRACE" is a method browsers never let a script send (Fetch forbids it): remove it, at Caddyfile:3`, `unknown subdirective "bogus"`}},
}

// TestCaddyfileErrors pins that each mistake fails `caddy adapt` with the
// error caddyfileErrors gives.
func TestCaddyfileErrors(t *testing.T) {
	adapter := caddyconfig.GetAdapter("caddyfile")
	for _, tt := range caddyfileErrors {
		t.Run(tt.name, func(t *testing.T) {
			input := ":80 {\n\t" + tt.block + "\n}\n"
			_, _, err := adapter.Adapt([]byte(input), nil)
			if err == nil {
				t.Fatalf("adapting succeeded:\n%s", input)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not contain %q:\n%v", want, err)
				}
			}
		})
	}
}

// TestIntegrationCaddyfileErrors pins the same errors through a real
// Caddy's config load: its admin API answers with the error in JSON, the
// lines counted after the global options block.
func TestIntegrationCaddyfileErrors(t *testing.T) {
	for _, tt := range caddyfileErrors {
		t.Run(tt.name, func(t *testing.T) {
			input := ":80 {\n\t" + tt.block + "\n}\n"
			offset := strings.Count(caddyGlobals, "\n")
			for _, want := range tt.want {
				want = lineRE.ReplaceAllStringFunc(want, func(at string) string {
					n, _ := strconv.Atoi(strings.TrimPrefix(at, "Caddyfile:"))
					return "Caddyfile:" + strconv.Itoa(n+offset)
				})
				caddytest.AssertLoadError(t, caddyGlobals+input, "caddyfile", strings.ReplaceAll(want, `"`, `\"`))
				waitForOldServers(t)
			}
		})
	}
}

var lineRE = regexp.MustCompile(`Caddyfile:\d+`)

// TestCaddyfileWarnings pins that `caddy adapt` reports each risky-but-legal
// setting with its file and line (Caddy's adapter lets a directive return
// errors only, so warnings are logged), quoting the user's own tokens.
func TestCaddyfileWarnings(t *testing.T) {
	tests := []struct {
		name  string
		block string // the cors directive, starting on line 2 of the site
		want  string
		line  int
	}{
		{"RegexpMatchingAnyOrigin", "cors {\n\t\torigin_regexp https://.*\n\t}",
			`cors: "https://.*" matches "https://` + unownedLabel + `.invalid", an origin anybody can own`, 3},
		{"MethodNotUpperCase", "cors https://a.com {\n\t\tmethods GET patch\n\t}",
			`cors: method "patch" matches only scripts that spell it "patch" (browsers send it as written, and most scripts write PATCH): write PATCH`, 3},
		{"StarBesideMethods", "cors https://a.com {\n\t\tmethods DELETE GET * *\n\t}",
			`cors: "*" already covers DELETE, GET: remove them, or remove "*"`, 3},
		{"StarBesideHeaders", "cors https://a.com {\n\t\tallowed_headers * X-A\n\t}",
			`cors: "*" already covers X-A`, 3},
		{"SameOriginTwice", "cors https://a.com {\n\t\torigins https://A.com:443\n\t}",
			`cors: origins "https://a.com" and "https://A.com:443" are the same origin (https://a.com): keep one`, 3},
		{"OriginCoveredByPattern", "cors https://x.a.com https://*.a.com",
			`cors: origin "https://x.a.com" is already allowed by "https://*.a.com"`, 2},
		{"PublicSuffixPattern", "cors https://*.github.io",
			`cors: origin pattern "https://*.github.io" matches the sites of every owner under the public suffix "github.io"`, 2},
		{"NullOrigin", "cors https://a.com {\n\t\torigins null\n\t}", `cors: origin "null" is allowed`, 3},
		{"PrivateNetworkDeprecated", "cors https://a.com {\n\t\tallow_private_network\n\t}",
			"cors: " + privateNetworkDeprecated, 3},
		{"LongMaxAge", "cors {\n\t\tmax_age 24h\n\t}", "cors: max_age 24h0m0s is longer than browsers cache preflights", 3},
	}
	adapter := caddyconfig.GetAdapter("caddyfile")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core, logs := observer.New(zap.WarnLevel)
			orig := adaptLogger
			adaptLogger = func() *zap.Logger { return zap.New(core) }
			defer func() { adaptLogger = orig }()
			input := ":80 {\n\t" + tt.block + "\n}\n"
			if _, _, err := adapter.Adapt([]byte(input), nil); err != nil {
				t.Fatal(err)
			}
			entries := logs.All()
			if len(entries) != 1 {
				t.Fatalf("logged %d warnings, want 1: %v", len(entries), entries)
			}
			e := entries[0]
			if !strings.Contains(e.Message, tt.want) {
				t.Errorf("warning %q does not contain %q", e.Message, tt.want)
			}
			if f, l := e.ContextMap()["file"], e.ContextMap()["line"]; f != "Caddyfile" || l != int64(tt.line) {
				t.Errorf("warning at %v:%v, want Caddyfile:%d", f, l, tt.line)
			}
		})
	}
}

// TestAdaptWarningsAreLoggedOnce pins that `caddy run` on a Caddyfile,
// which adapts and loads in one process, logs each warning once: at adapt
// when the module's logger name survives there, else at load with the
// Caddyfile's file and line (TestCaddyRunLogsUnderModuleName runs the real
// thing).
func TestAdaptWarningsAreLoggedOnce(t *testing.T) {
	at := tokenPos{"Caddyfile", 7}
	for _, tt := range []struct {
		name     string
		buffered bool // Caddy buffers its start-up lines, dropping their logger names
	}{{"LoggedAtAdapt", false}, {"LeftForLoad", true}} {
		t.Run(tt.name, func(t *testing.T) {
			w := configProblem{"methods", 0, "test warning " + t.Name()}
			core, logs := observer.New(zap.WarnLevel)
			orig := adaptLogger
			adaptLogger = func() *zap.Logger {
				if tt.buffered {
					return nil
				}
				return zap.New(core)
			}
			defer func() { adaptLogger = orig }()
			if _, ok := takeAdaptWarning(w); ok {
				t.Fatal("a warning never found at adapt counts as found")
			}
			logAdaptWarning(w, at)
			if got, want := logs.Len(), map[bool]int{false: 1, true: 0}[tt.buffered]; got != want {
				t.Errorf("logged %d lines at adapt, want %d", got, want)
			}
			note, ok := takeAdaptWarning(w)
			if !ok || note.at != at || note.logged == tt.buffered {
				t.Errorf("at load: note %+v, found %v; want at %v, logged %v", note, ok, at, !tt.buffered)
			}
			if _, ok := takeAdaptWarning(w); ok {
				t.Error("a second load (a reload) takes the note again")
			}
			adaptWarnings.Lock()
			_, left := adaptWarnings.pending[w.jsonString()]
			adaptWarnings.Unlock()
			if left {
				t.Error("the note taken left an entry behind: a Caddy that adapts many configs would keep them all")
			}
		})
	}
}

// TestAdaptWarningsAreNotRepeatedAtLoad pins that `caddy run` on a
// Caddyfile, which adapts and loads in one process, logs each warning once:
// at adapt, where the line is known, and not again when Provision loads the
// adapted handler; a later load of the same config (a reload) logs it.
func TestAdaptWarningsAreNotRepeatedAtLoad(t *testing.T) {
	orig := adaptLogger
	core, adaptLogs := observer.New(zap.WarnLevel)
	adaptLogger = func() *zap.Logger { return zap.New(core) }
	defer func() { adaptLogger = orig }()
	input := ":80 {\n\tcors https://a.com {\n\t\tmethods patch-" + t.Name() + "\n\t}\n}\n"
	adapted, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(input), nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(adaptLogs.All()); n != 1 {
		t.Fatalf("adapt logged %d warnings, want 1", n)
	}
	raw := corsHandlerJSON(t, adapted)
	for _, tc := range []struct {
		load string
		want int
	}{{"load after adapt", 0}, {"reload", 1}} {
		var h Handler
		if err := json.Unmarshal(raw, &h); err != nil {
			t.Fatal(err)
		}
		// Provision logs through the context's logger, which a context
		// without a config writes to stderr.
		logged := captureStderr(t, func() { provisioned(t, h) })
		// The method is this test's own: other tests adapt too.
		if n := strings.Count(logged, `cors: method "patch-`+t.Name()+`"`); n != tc.want {
			t.Errorf("%s logged the warning %d times, want %d:\n%s", tc.load, n, tc.want, logged)
		}
	}
}

// corsHandlerJSON finds the cors handler in an adapted config.
func corsHandlerJSON(t *testing.T, config []byte) json.RawMessage {
	t.Helper()
	var find func(v any) map[string]any
	find = func(v any) map[string]any {
		switch v := v.(type) {
		case map[string]any:
			if v["handler"] == "cors" {
				return v
			}
			for _, e := range v {
				if m := find(e); m != nil {
					return m
				}
			}
		case []any:
			for _, e := range v {
				if m := find(e); m != nil {
					return m
				}
			}
		}
		return nil
	}
	var cfg any
	if err := json.Unmarshal(config, &cfg); err != nil {
		t.Fatal(err)
	}
	h := find(cfg)
	if h == nil {
		t.Fatalf("no cors handler in %s", config)
	}
	raw, _ := json.Marshal(h)
	return raw
}

// captureStderr returns what f writes to os.Stderr.
func captureStderr(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	orig := os.Stderr
	os.Stderr = w
	done := make(chan []byte)
	go func() { b, _ := io.ReadAll(r); done <- b }()
	func() {
		defer func() { os.Stderr = orig }()
		f()
	}()
	w.Close()
	return string(<-done)
}

// TestParseMaxAge pins max_age's bound: a bare number of seconds is
// accepted up to a year either way (31,536,000 s), as written.
func TestParseMaxAge(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"600", 10 * time.Minute, false},
		{"10m", 10 * time.Minute, false},
		{"31536000", 8760 * time.Hour, false},
		{"31536001", 0, true},
		{"-31536000", -8760 * time.Hour, false},
		{"-31536001", 0, true},
	} {
		got, err := parseMaxAge(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("parseMaxAge(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestDidYouMean pins the suggestions for a mistyped subdirective: other
// servers' spellings, a singular, the header's own name, a name without
// allow_, and none for a word that means nothing here.
func TestDidYouMean(t *testing.T) {
	for sub, want := range map[string]string{
		"max-age":                          "max_age",
		"MAX_AGE":                          "max_age",
		"origin":                           "origins",
		"method":                           "methods",
		"Access-Control-Allow-Credentials": "allow_credentials",
		"access-control-max-age":           "max_age",
		"credentials":                      "allow_credentials",
		"private_network":                  "allow_private_network",
		"bogus":                            "",
		"allow":                            "",
	} {
		got := didYouMean(sub)
		if want != "" {
			want = "did you mean " + want + "? "
		}
		if got != want {
			t.Errorf("didYouMean(%q) = %q, want %q", sub, got, want)
		}
	}
}
