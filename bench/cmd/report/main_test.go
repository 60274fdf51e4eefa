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

// TestRunWritesWhatTheRunMeasured runs the report on a small fake run of
// run.sh: the prose must count the sites it ran, read the peers' versions
// from go.mod, compare the static site's headers with cors's field by
// field, and rewrite only the README's part between the markers.
func TestRunWritesWhatTheRunMeasured(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "out")
	write := func(path, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(in, "env.txt"), "date\t2030-01-02 03:04 UTC\ncommit\tabc1234\ncores\t2\nload_start\t0.1 0.1 0.1\nload_end\t0.2 0.2 0.2\nelapsed\t6 min 40 s\n")
	var bench strings.Builder
	for _, ci := range caseInfo {
		for lib, ns := range map[string]int{ours: 100, rsCors: 200, chi: 400} {
			if ci.name == "NonCORSGet" && lib == rsCors {
				ns = 50
			}
			fmt.Fprintf(&bench, "Benchmark%s/lib=%s-2 \t 1000\t %d ns/op\t 16 B/op\t 1 allocs/op\n", ci.name, lib, ns)
		}
	}
	write(filepath.Join(in, "bench.txt"), bench.String())
	var size strings.Builder
	for i, rq := range policySizeRequests {
		fmt.Fprintf(&size, "BenchmarkPolicySize/request=%s/policy=520-2 \t 100\t 100 ns/op\t 0.1 heap-MiB\t 0.7 provision-ms\n", rq.name)
		fmt.Fprintf(&size, "BenchmarkPolicySize/request=%s/policy=101000-2 \t 100\t %d ns/op\t 8.0 heap-MiB\t 210 provision-ms\n", rq.name, 95+5*i)
	}
	write(filepath.Join(in, "policysize.txt"), size.String())
	load := "round\tkind\tsite\trequests_per_sec\tlatency_avg\tnon_2xx\n"
	for round := 1; round <= 2; round++ {
		for _, kind := range loadKinds {
			for i, site := range loadSites {
				load += fmt.Sprintf("%d\t%s\t%s\t%d\t1ms\t0\n", round, kind, site, 1000+100*i)
			}
		}
	}
	write(filepath.Join(in, "load.tsv"), load)
	write(filepath.Join(in, "headers-cors-actual.txt"), "HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: https://app.example.com\r\nAccess-Control-Allow-Credentials: true\r\nVary: Origin\r\n\r\n")
	write(filepath.Join(in, "headers-static-actual.txt"), "HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: https://app.example.com\r\nAccess-Control-Allow-Credentials: true\r\nVary: Origin\r\nAccess-Control-Max-Age: 600\r\n\r\n")
	gomod := filepath.Join(dir, "go.mod")
	write(gomod, "module x\n\nrequire (\n\tgithub.com/go-chi/cors v9.8.7\n\tgithub.com/rs/cors v1.2.3\n)\n")
	readme := filepath.Join(dir, "README.md")
	write(readme, "# Title\n\nBefore.\n\n"+readmeBegin+"\nold figures\n"+readmeEnd+"\n\nAfter.\n")
	md := filepath.Join(dir, "BENCHMARKS.md")

	if err := run(in, md, readme, gomod, dir); err != nil {
		t.Fatal(err)
	}
	doc, _ := os.ReadFile(md)
	for _, want := range []string{
		"This run took 6 min 40 s on 2 cores.",
		"go-chi/cors v9.8.7 and rs/cors v1.2.3 both take one `*`",
		"each round runs the eight sites back to back",
		`differs on Access-Control-Max-Age ("600", which ` + "`cors`" + ` did not send) (same: Access-Control-Allow-Credentials, Access-Control-Allow-Origin, Vary)`,
	} {
		if !strings.Contains(string(doc), want) {
			t.Errorf("BENCHMARKS.md lacks %q", want)
		}
	}
	for _, wrong := range []string{"three sites", "byte for byte", "v1.11.1", "v1.2.2"} {
		if strings.Contains(string(doc), wrong) {
			t.Errorf("BENCHMARKS.md says %q", wrong)
		}
	}
	got, _ := os.ReadFile(readme)
	want := "# Title\n\nBefore.\n\n" + readmeBegin + "\n" +
		"In the run of [`bench/run.sh`](bench/run.sh) of 2030-01-02 03:04 UTC, on 2 cores at commit abc1234 ([BENCHMARKS.md](BENCHMARKS.md) has the tables, the commands and the charts):\n\n" +
		"- against `github.com/rs/cors` v1.2.3 and `github.com/go-chi/cors` v9.8.7 on the same policy, the handler's geometric mean over 13 cases is 0.56x rs/cors and 0.25x go-chi/cors; " +
		"a 1 MiB hostile `Access-Control-Request-Headers` costs it 100 ns (rs/cors: 200 ns, go-chi/cors: 400 ns); rs/cors is faster on NonCORSGet (50 ns against 100 ns);\n" +
		"- a policy of 100,000 exact origins and 1,000 patterns provisions in 210 ms and keeps 8.0 MiB of heap; a request costs it 0.95x to 1.10x what it costs with 520 origins;\n" +
		"- under load (wrk, loopback), against the same site sending the same headers with a static `header` block: `cors`, 108.3% on actual requests and 108.3% on preflights; " +
		"`cors` with `cross_origin_protection`, 116.7% on actual requests and 116.7% on preflights; `cors` with a realistic response, 106.7% on actual requests and 106.7% on preflights; " +
		"`cors` with `origin_source http` answering from its cache, 141.7% on actual requests and 141.7% on preflights; " +
		"against the `header` + `@cors_preflight` recipe, `cors` serves 118.2% on actual requests and 118.2% on preflights.\n" +
		readmeEnd + "\n\nAfter.\n"
	if string(got) != want {
		t.Errorf("README:\n%s\nwant:\n%s", got, want)
	}
}
