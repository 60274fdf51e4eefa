package cors

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCaddyRunLogsUnderModuleName runs a real `caddy run` and pins that every
// line the module logs names its logger, http.handlers.cors: the warnings
// found while adapting a Caddyfile (which Caddy buffers until the config's
// logs exist and replays without their logger names), those found when a
// JSON config loads, and the lines logged while serving. Only then does a
// log that filters on the module's name (`log { include http.handlers.cors }`)
// receive them. Each warning says where it stands: the Caddyfile's file and
// line, or the JSON field.
func TestCaddyRunLogsUnderModuleName(t *testing.T) {
	bin := buildCaddy(t)
	const caddyfileSite = "{\n\tadmin off\n\tpersist_config off\n\tGLOBAL\n}\n" +
		"http://127.0.0.1:PORT {\n" +
		"\tbind 127.0.0.1\n" +
		"\tcors https://app.example.com {\n" +
		"\t\torigins null\n" +
		"\t\tallow_private_network\n" +
		"\t}\n" +
		"\trespond ok\n" +
		"}\n"
	const jsonSite = `{"admin": {"disabled": true, "config": {"persist": false}}, GLOBAL
		"apps": {"http": {"servers": {"site": {"listen": ["127.0.0.1:PORT"], "routes": [{"handle": [
			{"handler": "cors", "origins": ["https://app.example.com", "null"], "allow_private_network": true},
			{"handler": "static_response", "body": "ok"}]}]}}}}}`
	const includeModule = "log cors {\n\t\toutput file MODULELOG\n\t\tformat json\n\t\tinclude http.handlers.cors\n\t}"
	const includeModuleJSON = `"logging": {"logs": {"default": {"exclude": ["http.handlers.cors"]},
		"cors": {"writer": {"output": "file", "filename": "MODULELOG"}, "encoder": {"format": "json"}, "include": ["http.handlers.cors"]}}},`
	const debugJSON = `"logging": {"logs": {"default": {"level": "DEBUG"}}},`

	// The warnings each site causes: where the Caddyfile has the token, or
	// the JSON field.
	type where struct{ token, field string }
	warnings := map[string]where{
		`cors: origin "null" is allowed`:            {"origins null", "origins[1]"},
		`cors: allow_private_network is deprecated`: {"allow_private_network", "allow_private_network"},
	}
	const refused = "refused CORS request"
	for _, tt := range []struct {
		name   string
		file   string // Caddyfile, or a .json file
		site   string
		global string // replaces GLOBAL; MODULELOG is a file the test reads
		// send a request the site refuses, and look for its debug line
		request bool
	}{
		{"CaddyfileDefaultLog", "Caddyfile", caddyfileSite, "debug", true},
		{"CaddyfileLogIncludingModule", "Caddyfile", caddyfileSite, includeModule, false},
		{"JSONDefaultLog", "caddy.json", jsonSite, debugJSON, true},
		{"JSONLogIncludingModule", "caddy.json", jsonSite, includeModuleJSON, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			port := freePorts(t, 1)[0]
			moduleLog := filepath.Join(dir, "cors.log")
			config := filepath.Join(dir, tt.file)
			site := strings.NewReplacer("MODULELOG", moduleLog, "PORT", port).Replace(strings.Replace(tt.site, "GLOBAL", tt.global, 1))
			if err := os.WriteFile(config, []byte(site), 0o644); err != nil {
				t.Fatal(err)
			}
			_, env := emptyHome(t, dir)

			log, exited, stop := startCaddy(t, bin, config, env)
			defer stop()
			url := "http://127.0.0.1:" + port + "/"
			waitHTTP(t, url, exited, log)
			if tt.request {
				req, _ := http.NewRequest(http.MethodGet, url, nil)
				req.Header.Set("Origin", "https://evil.example.net")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			}
			stop()

			lines := jsonLines(t, log.Bytes())
			if strings.Contains(tt.global, "MODULELOG") {
				fromFile, err := os.ReadFile(moduleLog)
				if err != nil {
					t.Fatalf("the log including http.handlers.cors: %v\nCaddy's output:\n%s", err, log)
				}
				lines = append(lines, jsonLines(t, fromFile)...)
			}
			found := map[string]int{}
			for _, l := range lines {
				msg, _ := l["msg"].(string)
				if !strings.HasPrefix(msg, "cors") && msg != refused {
					continue
				}
				if l["logger"] != "http.handlers.cors" {
					t.Errorf("line logged under %v, want http.handlers.cors: %v", l["logger"], l)
				}
				if msg == refused {
					found[refused]++
				}
				for prefix, w := range warnings {
					if !strings.HasPrefix(msg, prefix) {
						continue
					}
					found[prefix]++
					if tt.file != "Caddyfile" {
						if l["field"] != w.field {
							t.Errorf("%q logged for field %v, want %s", prefix, l["field"], w.field)
						}
						continue
					}
					before, _, _ := strings.Cut(site, w.token)
					if line := strings.Count(before, "\n") + 1; l["file"] != config || l["line"] != float64(line) {
						t.Errorf("%q logged at %v:%v, want %s:%d", prefix, l["file"], l["line"], config, line)
					}
				}
			}
			for prefix := range warnings {
				if found[prefix] != 1 {
					t.Errorf("%q logged %d times, want once\nCaddy's output:\n%s", prefix, found[prefix], log)
				}
			}
			if tt.request && found[refused] != 1 {
				t.Errorf("%q logged %d times, want once", refused, found[refused])
			}
		})
	}
}

// jsonLines decodes a log of JSON lines, failing on any other line.
func jsonLines(t *testing.T, log []byte) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(log))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("a log line that is not JSON: %s", sc.Bytes())
		}
		lines = append(lines, l)
	}
	return lines
}
