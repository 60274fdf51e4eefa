package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A benchmark compared along another name part than lib (BenchmarkPolicySize
// along policy) keeps the rest of its name as the case, without the
// GOMAXPROCS suffix, and the metrics it reports itself.
func TestReadBenchComparesAlongTheKeyAndKeepsOtherMetrics(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policysize.txt")
	lines := "goos: linux\n" +
		"BenchmarkPolicySize/request=exact/policy=520-2 \t 100\t 140.0 ns/op\t 0.1000 heap-MiB\t 0.7 provision-ms\t 32 B/op\t 1 allocs/op\n" +
		"BenchmarkPolicySize/request=exact/policy=520-2 \t 100\t 150.0 ns/op\t 0.1000 heap-MiB\t 0.9 provision-ms\t 32 B/op\t 1 allocs/op\n" +
		"BenchmarkPolicySize/request=exact/policy=101000-2 \t 100\t 160.0 ns/op\t 8.0 heap-MiB\t 200 provision-ms\t 32 B/op\t 1 allocs/op\n"
	if err := os.WriteFile(path, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := readBench(path, "policy")
	if err != nil {
		t.Fatal(err)
	}
	const c = "PolicySize/request=exact"
	if got := res.ns(c, "520"); got != 145 {
		t.Errorf("ns(%s, 520) = %v; want the median 145", c, got)
	}
	if got := res.metric(c, "520", "provision-ms"); got != 0.8 {
		t.Errorf("provision-ms = %v; want 0.8", got)
	}
	if got := res.metric(c, "101000", "heap-MiB"); got != 8 {
		t.Errorf("heap-MiB = %v; want 8", got)
	}
	if got := res.allocs(c, "101000"); got != 1 {
		t.Errorf("allocs = %v; want 1", got)
	}

	var doc strings.Builder
	writePolicySize(func(f string, a ...any) { fmt.Fprintf(&doc, f, a...) }, t.TempDir(), res)
	const row = "| exact | GET from a listed exact origin | 145 ns | 160 ns | 1.10 | 0.8 ms / 200.0 ms | 0.10 MiB / 8.00 MiB |"
	if !strings.Contains(doc.String(), row) {
		t.Errorf("the policy-size section lacks\n%s\nit reads:\n%s", row, doc.String())
	}
}

func TestVerdictsAgainstTheStaticSite(t *testing.T) {
	round := func(n int, kind string, bare, static, cors float64) []loadRun {
		return []loadRun{
			{round: n, kind: kind, site: "bare", rps: bare},
			{round: n, kind: kind, site: "static", rps: static},
			{round: n, kind: kind, site: "cors", rps: cors},
		}
	}
	var l loadResults
	l = append(l, round(1, "actual", 1000, 900, 900)...)   // 100% of static
	l = append(l, round(2, "actual", 1000, 1000, 990)...)  // 99%
	l = append(l, round(3, "actual", 1000, 1000, 1020)...) // 102%
	l = append(l, round(1, "preflight", 1000, 1000, 980)...)
	got := l.verdicts()
	want := []string{
		"**actual requests: `cors` serves 100.0% of the static headers site's rate** (median of 3 paired rounds, per-round 99.0% to 102.0%), and 99.0% of bare `respond`'s: it meets the 99.0% target.",
		"**preflight requests: `cors` serves 98.0% of the static headers site's rate** (median of 1 paired rounds, per-round 98.0% to 98.0%), and 98.0% of bare `respond`'s: it misses the 99.0% target.",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("verdicts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// The realistic pair and the sourced site each get a verdict of their own,
// against their own static site, after the bare-response one of the same
// kind.
func TestVerdictsForPairedSites(t *testing.T) {
	for _, tc := range []struct {
		name, kind, site, static string
		staticRPS                float64
		want                     string
	}{
		{"realistic response", "actual", "realistic-cors", "realistic-static", 800,
			"**actual requests with a realistic response: `cors` serves 99.5% of the static headers site's rate** (median of 3 paired rounds, per-round 98.5% to 100.0%): it meets the 99.0% target."},
		{"origin source", "preflight", "sourced", "static", 1000,
			"**preflight requests: `cors` with `origin_source http` answering from its cache serves 99.5% of the static headers site's rate** (median of 3 paired rounds, per-round 98.5% to 100.0%), and 99.5% of bare `respond`'s: it meets the 99.0% target."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l loadResults
			for n, r := range []float64{0.985, 0.995, 1.0} {
				l = append(l,
					loadRun{round: n + 1, kind: tc.kind, site: "bare", rps: 1000},
					loadRun{round: n + 1, kind: tc.kind, site: "static", rps: 1000},
					loadRun{round: n + 1, kind: tc.kind, site: "cors", rps: 1000})
				if tc.static != "static" {
					l = append(l, loadRun{round: n + 1, kind: tc.kind, site: tc.static, rps: tc.staticRPS})
				}
				l = append(l, loadRun{round: n + 1, kind: tc.kind, site: tc.site, rps: tc.staticRPS * r})
			}
			got := l.verdicts()
			want := []string{
				"**" + tc.kind + " requests: `cors` serves 100.0% of the static headers site's rate** (median of 3 paired rounds, per-round 100.0% to 100.0%), and 100.0% of bare `respond`'s: it meets the 99.0% target.",
				tc.want,
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("verdicts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}
