package cors

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkOriginSource compares an actual request allowed by a static
// exact origin with the same request allowed from an http source's cache,
// and one allowed by a 100,000-line file list with the 520-origin static
// policy: an origin source must cost about what the static policy does.
//
//	go test -run '^$' -bench BenchmarkOriginSource -benchmem -count 8 . | benchstat -col /policy -
func BenchmarkOriginSource(b *testing.B) {
	const o = "https://www.example.com"
	raw, _ := scripted(b, allowOnly(o))
	file := filepath.Join(b.TempDir(), "origins.txt")
	lines := manyOrigins(100_000, 0)
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	fileRaw, _ := json.Marshal(map[string]string{"source": "file", "path": file})
	for _, pol := range []struct {
		name string
		h    Handler
	}{
		{"static-exact", Handler{Origins: []string{o}}},
		{"http-cached", Handler{SourcesRaw: []json.RawMessage{raw}}},
		{"static-520", Handler{Origins: manyOrigins(500, 20)}},
		{"file-100000", Handler{SourcesRaw: []json.RawMessage{fileRaw}}},
	} {
		b.Run("policy="+pol.name, func(b *testing.B) {
			h := provisioned(b, pol.h)
			h.logger = infoLogger()
			if h.sources != nil {
				h.sources.log = h.logger
				for _, a := range h.sources.asked {
					a.log = h.logger
				}
			}
			b.Cleanup(func() { h.Cleanup() })
			serveN(b, h, "GET", from(o), nopNext)
		})
	}
}

// BenchmarkListSwap measures what reading a changed 100,000-line list costs
// the goroutine that swaps it in (requests keep the old list meanwhile).
func BenchmarkListSwap(b *testing.B) {
	content := []byte(strings.Join(manyOrigins(100_000, 1_000), "\n") + "\n")
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := parseOriginList(content, "bench", false); err != nil {
			b.Fatal(err)
		}
	}
}
