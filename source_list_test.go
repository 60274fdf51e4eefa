package cors

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestParseOriginList(t *testing.T) {
	tests := []struct {
		name        string
		list        string
		credentials bool
		allows      []string
		refuses     []string
		wantErr     string // "" for none
		wantWarn    string
	}{
		{
			name:    "exact origins, patterns, ports, comments and blank lines",
			list:    "# tenants\nhttps://shop.tenant.example\n\n  https://*.other.example  # every shop\nhttp://localhost:*\nhttps://A.example:443\n",
			allows:  []string{"https://shop.tenant.example", "https://x.y.other.example", "http://localhost:5173", "https://a.example"},
			refuses: []string{"https://other.example", "https://shop.tenant.example.evil.net", "http://shop.tenant.example"},
		},
		{name: "star", list: "https://a.example\n*\n", wantErr: `origins.txt, line 2: "*" is not allowed in an origin list`},
		{name: "null", list: "null\n", wantErr: `origins.txt, line 1: "null" is not allowed in an origin list`},
		{name: "two on a line", list: "https://a.example https://b.example\n", wantErr: `line 1: "https://a.example https://b.example": write one origin per line`},
		{name: "commas", list: "https://a.example,https://b.example\n", wantErr: `write one origin per line`},
		{name: "path", list: "\n\nhttps://a.example/app\n", wantErr: `origins.txt, line 3: "https://a.example/app": an origin has no path, query or fragment; write "https://a.example"`},
		{name: "public suffix with credentials", list: "https://*.github.io\n", credentials: true, wantErr: `line 1: "https://*.github.io" with allow_credentials hands your users' sessions`},
		{name: "public suffix without credentials", list: "https://*.github.io\n", wantWarn: `line 1: origin pattern "https://*.github.io" matches the sites of every owner`},
		{name: "plain http with credentials", list: "http://a.example\n", credentials: true, wantWarn: `line 1: origin "http://a.example" is plain HTTP`},
		{name: "duplicate", list: "https://a.example\nhttps://A.example\n", wantWarn: `line 2: origins "https://a.example" and "https://A.example" are the same origin`},
		{name: "crlf", list: "https://a.example\r\nhttps://b.example\r\n", allows: []string{"https://a.example", "https://b.example"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, warnings, err := parseOriginList([]byte(tt.list), "origins.txt", tt.credentials)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			case tt.wantErr != "":
				return
			}
			if w := strings.Join(warnings, "\n"); !strings.Contains(w, tt.wantWarn) || tt.wantWarn == "" && w != "" {
				t.Errorf("warnings %q, want %q", w, tt.wantWarn)
			}
			for _, o := range tt.allows {
				if !list.match(o) {
					t.Errorf("%s refused", o)
				}
			}
			for _, o := range tt.refuses {
				if list.match(o) {
					t.Errorf("%s allowed", o)
				}
			}
		})
	}
}

// TestOriginListReload pins what a list source does with a changed list: a
// valid one replaces the old, an invalid one is logged once, at error level
// with its line, and the old list stays; so does a read error.
func TestOriginListReload(t *testing.T) {
	var mu sync.Mutex
	content, readErr := "https://a.example\n", error(nil)
	set := func(c string, err error) {
		mu.Lock()
		defer mu.Unlock()
		content, readErr = c, err
	}
	core, logs := observer.New(zapcore.InfoLevel)
	l := &originList{where: "file origins.txt", refresh: time.Second, logger: zap.New(core)}
	l.read = func(context.Context) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		return []byte(content), readErr
	}
	list, _, _ := parseOriginList([]byte(content), l.where, false)
	l.list.Store(list)
	l.seen = []byte(content)
	ctx := context.Background()
	errorsLogged := func() int { return logs.FilterLevelExact(zapcore.ErrorLevel).Len() }

	set("https://b.example\n", nil)
	l.reload(ctx)
	if l.MatchOrigin("https://a.example") || !l.MatchOrigin("https://b.example") {
		t.Error("a valid new list did not replace the old one")
	}
	set("https://c.example\n*\n", nil)
	l.reload(ctx)
	l.reload(ctx)
	if !l.MatchOrigin("https://b.example") || l.MatchOrigin("https://c.example") {
		t.Error("an invalid list was not refused whole")
	}
	if n := errorsLogged(); n != 1 {
		t.Errorf("%d error lines for one broken list, want 1", n)
	} else if msg := logs.FilterLevelExact(zapcore.ErrorLevel).All()[0].ContextMap()["error"]; !strings.Contains(fmt.Sprint(msg), "origins.txt, line 2") {
		t.Errorf("the error line does not name the line: %v", msg)
	}
	set("", fs.ErrNotExist)
	l.reload(ctx)
	l.reload(ctx)
	if n := errorsLogged(); n != 2 {
		t.Errorf("%d error lines after a read error, want 2", n)
	}
	if !l.MatchOrigin("https://b.example") {
		t.Error("a read error dropped the list")
	}
	set("https://d.example\n", nil)
	l.reload(ctx)
	if !l.MatchOrigin("https://d.example") {
		t.Error("the list was not read again after the error")
	}
}

// TestListSwapDoesNotBlockRequests builds a 100,000-line list, and matches
// origins against the old one while it does.
func TestListSwapDoesNotBlockRequests(t *testing.T) {
	var b strings.Builder
	for i := range 100000 {
		fmt.Fprintf(&b, "https://shop%d.tenant.example\n", i)
	}
	big := b.String()
	l := &originList{where: "big", refresh: time.Second, logger: zap.NewNop()}
	l.read = func(context.Context) ([]byte, error) { return []byte(big), nil }
	small, _, _ := parseOriginList([]byte("https://a.example\n"), "small", false)
	l.list.Store(small)
	done := make(chan struct{})
	go func() { l.reload(context.Background()); close(done) }()
	matched := 0
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		default:
			if l.MatchOrigin("https://a.example") {
				matched++
			}
		}
	}
	if matched == 0 {
		t.Error("no request was answered while the list was built")
	}
	if !l.MatchOrigin("https://shop99999.tenant.example") || l.MatchOrigin("https://a.example") {
		t.Error("the big list was not swapped in")
	}
}

func init() {
	caddy.RegisterModule(memoryStorage{})
}

// memoryStorage is a second storage module, registered by the tests as a
// fleet's Redis or S3 storage would be: `storage cors_test_memory`.
type memoryStorage struct{}

var memoryKeys = struct {
	sync.Mutex
	m map[string][]byte
}{m: map[string][]byte{}}

func (memoryStorage) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "caddy.storage.cors_test_memory",
		New: func() caddy.Module { return new(memoryStorage) },
	}
}

func (*memoryStorage) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next()
	return nil
}

func (memoryStorage) CertMagicStorage() (certmagic.Storage, error) { return memoryStorage{}, nil }

func (memoryStorage) Lock(context.Context, string) error   { return nil }
func (memoryStorage) Unlock(context.Context, string) error { return nil }
func (memoryStorage) Store(_ context.Context, key string, value []byte) error {
	memoryKeys.Lock()
	defer memoryKeys.Unlock()
	memoryKeys.m[key] = append([]byte(nil), value...)
	return nil
}

func (memoryStorage) Load(_ context.Context, key string) ([]byte, error) {
	memoryKeys.Lock()
	defer memoryKeys.Unlock()
	v, ok := memoryKeys.m[key]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return append([]byte(nil), v...), nil
}

func (memoryStorage) Delete(_ context.Context, key string) error {
	memoryKeys.Lock()
	defer memoryKeys.Unlock()
	delete(memoryKeys.m, key)
	return nil
}

func (s memoryStorage) Exists(ctx context.Context, key string) bool {
	_, err := s.Load(ctx, key)
	return err == nil
}

func (memoryStorage) List(context.Context, string, bool) ([]string, error) { return nil, nil }

func (s memoryStorage) Stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	v, err := s.Load(ctx, key)
	return certmagic.KeyInfo{Key: key, Size: int64(len(v)), IsTerminal: true}, err
}

// waitFor polls cond until it holds or a few seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestIntegrationListSources runs the file and storage sources in a real
// Caddy and rewrites their lists while it serves.
func TestIntegrationListSources(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "origins.txt")
	storageDir := filepath.Join(dir, "storage")
	writeFile := func(path, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(file, "https://a.example\n")
	writeFile(filepath.Join(storageDir, "cors", "origins.txt"), "https://fleet.example\n")

	for _, tc := range []struct {
		name    string
		storage string
		rewrite func(content string)
		first   string // allowed by the first list
	}{
		{"File", "file_system " + storageDir, func(c string) { writeFile(file, c) }, "https://a.example"},
		{"FileSystemStorage", "file_system " + storageDir, func(c string) { writeFile(filepath.Join(storageDir, "cors", "origins.txt"), c) }, "https://fleet.example"},
		{"OtherStorageModule", "cors_test_memory", func(c string) { memoryStorage{}.Store(context.Background(), "cors/origins.txt", []byte(c)) }, "https://fleet.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			source := "origin_source storage cors/origins.txt {\n\t\t\trefresh 50ms\n\t\t}"
			if tc.name == "File" {
				source = "origin_source file " + file + " {\n\t\t\trefresh 50ms\n\t\t}"
			}
			tc.rewrite(tc.first + "\n")
			globals := strings.Replace(caddyGlobals, "\tgrace_period 1ns\n", "\tgrace_period 1ns\n\tstorage "+tc.storage+"\n", 1)
			tester := caddytest.NewTester(t)
			loadConfig(t, tester, globals+`
http://localhost:9080 {
	cors {
		`+source+`
		allow_credentials
	}
	respond "ok"
}
`, "caddyfile")
			client := reloadProofClient()
			acao := func(o string) string {
				resp := getFrom(t, client, o)
				if !strings.Contains(resp.Header.Get("Vary"), "Origin") {
					t.Errorf("%s: Vary %q", o, resp.Header.Values("Vary"))
				}
				return resp.Header.Get("Access-Control-Allow-Origin")
			}
			if got := acao(tc.first); got != tc.first {
				t.Fatalf("%s: Access-Control-Allow-Origin %q", tc.first, got)
			}
			if got := acao("https://b.example"); got != "" {
				t.Errorf("unlisted origin: Access-Control-Allow-Origin %q", got)
			}
			tc.rewrite("# rewritten\nhttps://b.example\n")
			waitFor(t, "the rewritten list", func() bool { return acao("https://b.example") == "https://b.example" })
			if got := acao(tc.first); got != "" {
				t.Errorf("origin removed from the list: Access-Control-Allow-Origin %q", got)
			}
			tc.rewrite("https://c.example\nnull\n")
			time.Sleep(300 * time.Millisecond) // several refreshes
			if acao("https://b.example") != "https://b.example" || acao("https://c.example") != "" {
				t.Error("a broken list replaced the old one")
			}
		})
	}
}

func TestIntegrationListSourceConfigErrors(t *testing.T) {
	dir := t.TempDir()
	star := filepath.Join(dir, "star.txt")
	suffix := filepath.Join(dir, "suffix.txt")
	os.WriteFile(star, []byte("https://a.example\n*\n"), 0o644)
	os.WriteFile(suffix, []byte("# tenants\nhttps://*.github.io\n"), 0o644)
	for _, tc := range []struct {
		name, block, want string
	}{
		{"MissingFile", "origin_source file " + filepath.Join(dir, "missing.txt"), "file " + filepath.Join(dir, "missing.txt") + ": open "},
		{"StarLine", "origin_source file " + star, `file ` + star + `, line 2: "*" is not allowed in an origin list`},
		{"CredentialsBrokenByALine", "origin_source file " + suffix + "\n\tallow_credentials", `file ` + suffix + `, line 2: "https://*.github.io" with allow_credentials`},
		{"MissingStorageKey", "origin_source storage cors/none.txt", `storage key cors/none.txt: not found in the configured storage`},
		{"NegativeRefresh", "origin_source file " + star + " {\n\t\trefresh -1s\n\t}", `refresh "-1s" must be positive: write a duration such as 10s, at Caddyfile:15`},
		{"TwoPaths", "origin_source file a.txt b.txt", `origin_source file takes one path of the file, not also "b.txt"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := strings.ReplaceAll(tc.want, `"`, `\"`)
			caddytest.AssertLoadError(t, caddyGlobals+"\nhttp://localhost:9080 {\n\tcors {\n\t"+tc.block+"\n\t}\n}\n", "caddyfile", want)
			waitForOldServers(t)
		})
	}
}

// TestParseOriginListNamesTenProblemsThenCounts pins the bound on one
// error: a list with many bad lines names the first ten and counts the
// rest, so that a broken list cannot flood the log with one error.
func TestParseOriginListNamesTenProblemsThenCounts(t *testing.T) {
	for _, tt := range []struct {
		bad      int
		wantMore string
	}{
		{10, ""},
		{11, "and 1 more problems"},
		{13, "and 3 more problems"},
	} {
		_, _, err := parseOriginList([]byte(strings.Repeat("null\n", tt.bad)), "list.txt", false)
		if err == nil {
			t.Fatalf("%d bad lines: no error", tt.bad)
		}
		lines := strings.Split(err.Error(), "\n")
		named := 0
		for _, l := range lines {
			if strings.Contains(l, `"null" is not allowed`) {
				named++
			}
		}
		if named != 10 {
			t.Errorf("%d bad lines: the error names %d, want 10:\n%v", tt.bad, named, err)
		}
		more := strings.Contains(err.Error(), "more problems")
		if tt.wantMore == "" && more || tt.wantMore != "" && !strings.Contains(lines[len(lines)-1], tt.wantMore) {
			t.Errorf("%d bad lines: last line %q, want %q", tt.bad, lines[len(lines)-1], tt.wantMore)
		}
	}
}
