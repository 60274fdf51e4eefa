package bench

import (
	"testing"
)

// Each Benchmark<Case> runs one request through every library, as
// sub-benchmarks named lib=<library>, so that
//
//	benchstat -col /lib bench.txt
//
// lines the libraries up side by side for each case.

func BenchmarkNonCORSGet(b *testing.B)              { benchmarkCase(b, "NonCORSGet") }
func BenchmarkActualAllowed(b *testing.B)           { benchmarkCase(b, "ActualAllowed") }
func BenchmarkActualRefused(b *testing.B)           { benchmarkCase(b, "ActualRefused") }
func BenchmarkPreflightAllowed(b *testing.B)        { benchmarkCase(b, "PreflightAllowed") }
func BenchmarkPreflightRefusedOrigin(b *testing.B)  { benchmarkCase(b, "PreflightRefusedOrigin") }
func BenchmarkPreflightRefusedHeader(b *testing.B)  { benchmarkCase(b, "PreflightRefusedHeader") }
func BenchmarkLargePolicyExactHit(b *testing.B)     { benchmarkCase(b, "LargePolicyExactHit") }
func BenchmarkLargePolicySubdomainHit(b *testing.B) { benchmarkCase(b, "LargePolicySubdomainHit") }
func BenchmarkLargePolicyMiss(b *testing.B)         { benchmarkCase(b, "LargePolicyMiss") }
func BenchmarkPreflightHostile1MiB(b *testing.B)    { benchmarkCase(b, "PreflightHostile1MiB") }

// The Realistic cases answer with the headers of a real API response
// (realisticHeaders, Vary: Accept-Encoding among them) instead of a bare 200.
func BenchmarkRealisticNonCORSGet(b *testing.B)       { benchmarkCase(b, "RealisticNonCORSGet") }
func BenchmarkRealisticActualAllowed(b *testing.B)    { benchmarkCase(b, "RealisticActualAllowed") }
func BenchmarkRealisticPreflightAllowed(b *testing.B) { benchmarkCase(b, "RealisticPreflightAllowed") }

func benchmarkCase(b *testing.B, name string) {
	c := caseByName(name)
	for _, lib := range libraries {
		b.Run("lib="+lib.name, func(b *testing.B) {
			if reason := c.skip[lib.name]; reason != "" {
				b.Skip(reason)
			}
			h, err := c.handler(lib)
			if err != nil {
				b.Fatal(err)
			}
			r, rec := c.request(), newRecorder()
			// Check the outcome once outside the timed loop: a benchmark
			// must never compare a refusal with a grant.
			h.ServeHTTP(rec, r)
			if got := judge(r, rec); got != c.want {
				b.Fatalf("outcome %s, want %s", got, c.want)
			}
			b.ReportAllocs()
			for b.Loop() {
				rec.reset()
				h.ServeHTTP(rec, r)
			}
		})
	}
}
