package cors

import (
	"net/http"
	"slices"
	"testing"
)

// TestVaryMerge pins how the module's tokens join the Vary lines a response
// already has: each exactly once, every other token kept, the lines left as
// they are when they are already right, and nothing allocated but the slots
// slots asked for, no more than merge fills.
func TestVaryMerge(t *testing.T) {
	actual := newResponseVary("Origin")
	preflight := newResponseVary("Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers")
	tests := []struct {
		name  string
		vary  *responseVary
		lines []string
		want  []string // nil: lines stay as they are
	}{
		{"NoVaryGetsTheModulesLine", &actual, nil, []string{"Origin"}},
		{"OtherTokensAreKeptAndTheModulesLineFollows", &actual, []string{"Accept-Encoding"}, []string{"Accept-Encoding", "Origin"}},
		{"SeveralLinesAreKept", &actual, []string{"Accept-Encoding", "Cookie, User-Agent"}, []string{"Accept-Encoding", "Cookie, User-Agent", "Origin"}},
		{"TheModulesOwnLineIsLeftAlone", &actual, []string{"Origin"}, nil},
		{"TokenOnceInAnyCaseIsLeftAlone", &actual, []string{"Accept-Encoding, origin"}, nil},
		{"TokenOnceOnAnotherLineIsLeftAlone", &actual, []string{"Accept-Encoding", "ORIGIN", "Cookie"}, nil},
		{"StarIsLeftAlone", &actual, []string{"Accept-Encoding", "*"}, nil},
		{"DuplicateOnOneLineIsListedOnce", &actual, []string{"Origin, Accept-Encoding, origin"}, []string{"Accept-Encoding", "Origin"}},
		{"DuplicateOverTwoLinesIsListedOnce", &actual, []string{"Origin", "Cookie", "Origin"}, []string{"Cookie", "Origin"}},
		{"EmptyElementsAreDropped", &actual, []string{" , Origin,, origin ,"}, []string{"Origin"}},
		{"EmptyLinesWithoutTheTokenStay", &actual, []string{"", "Accept-Encoding"}, []string{"", "Accept-Encoding", "Origin"}},
		{"PreflightTokensAreAddedOnce", &preflight, []string{"Origin"}, []string{preflight.value}},
		{"PreflightPartialLineKeepsItsOtherTokens", &preflight,
			[]string{"Accept-Encoding", "Access-Control-Request-Method, Cookie"},
			[]string{"Accept-Encoding", "Cookie", preflight.value}},
		{"PreflightExactOverLinesIsLeftAlone", &preflight,
			[]string{"origin", "Access-Control-Request-Headers, access-control-request-method"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := slices.Clone(tt.lines)
			n := tt.vary.slots(lines)
			if tt.want == nil {
				if n != 0 {
					t.Fatalf("slots(%q) = %d, want 0: the lines are right as they are", lines, n)
				}
				return
			}
			// Exactly: the slots are the request's one allocation, and a
			// slot merge leaves empty is memory every request pays for.
			if n != len(tt.want) {
				t.Fatalf("slots(%q) = %d, want %d", lines, n, len(tt.want))
			}
			hdr := http.Header{}
			if lines != nil {
				hdr["Vary"] = lines
			}
			out := make([]string, n)
			if allocs := testing.AllocsPerRun(10, func() { hdr["Vary"] = tt.vary.merge(lines, out) }); allocs != 0 {
				t.Errorf("merge allocated %v times, want 0", allocs)
			}
			if got := hdr["Vary"]; !slices.Equal(got, tt.want) {
				t.Errorf("Vary = %q, want %q", got, tt.want)
			}
			if !slices.Equal(lines, tt.lines) {
				t.Errorf("merge changed the response's own lines to %q", lines)
			}
			if got := hdr["Vary"]; cap(got) != len(got) {
				t.Errorf("Vary has spare capacity %d: a later append would write into the request's storage", cap(got)-len(got))
			}
		})
	}
}
