package cors

import (
	"net/http"
	"slices"
	"testing"
)

// TestVaryMergeListsEachOwnedTokenOnce pins what merge leaves in Vary: every
// token another handler put there, and each of the module's exactly once,
// whatever was there before.
func TestVaryMergeListsEachOwnedTokenOnce(t *testing.T) {
	actual := newResponseVary("Origin")
	preflight := newResponseVary("Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers")
	const preflightValue = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
	tests := []struct {
		name  string
		vary  *responseVary
		lines []string
		want  []string
	}{
		{"NoVaryYet", &actual, nil, []string{"Origin"}},
		{"AlreadyExact", &actual, []string{"Origin"}, []string{"Origin"}},
		{"AlreadyExactInAnotherCase", &actual, []string{"origin"}, []string{"origin"}},
		{"AlreadyExactAmongOthers", &actual, []string{"Accept-Encoding, Origin", "Cookie"}, []string{"Accept-Encoding, Origin", "Cookie"}},
		{"AlreadyExactWithEmptyElements", &actual, []string{" , Origin,,"}, []string{" , Origin,,"}},
		{"Star", &actual, []string{"*"}, []string{"*"}},
		{"StarAfterOrigin", &actual, []string{"Origin, Origin", "*"}, []string{"Origin, Origin", "*"}},
		{"OtherTokenOnly", &actual, []string{"Accept-Encoding"}, []string{"Accept-Encoding", "Origin"}},
		{"TwiceOnOneLine", &actual, []string{"Origin, Origin"}, []string{"Origin"}},
		{"TwiceInTwoCases", &actual, []string{"Origin, ORIGIN"}, []string{"Origin"}},
		{"TwiceOverTwoLines", &actual, []string{"Origin", "Origin"}, []string{"Origin"}},
		{"TwiceAmongOthers", &actual, []string{"Accept-Encoding, Origin, , Origin", "Cookie"}, []string{"Accept-Encoding", "Cookie", "Origin"}},
		{"EmptyLine", &actual, []string{""}, []string{"", "Origin"}},
		{"PreflightNoVaryYet", &preflight, nil, []string{preflightValue}},
		{"PreflightExact", &preflight, []string{"access-control-request-headers, Origin", "Access-Control-Request-Method"},
			[]string{"access-control-request-headers, Origin", "Access-Control-Request-Method"}},
		{"PreflightOnlyOrigin", &preflight, []string{"Origin"}, []string{preflightValue}},
		{"PreflightOneTokenBesideAnother", &preflight, []string{"Access-Control-Request-Method, X-A"}, []string{"X-A", preflightValue}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := http.Header{}
			if tt.lines != nil {
				hdr["Vary"] = slices.Clone(tt.lines)
			}
			tt.vary.merge(hdr, hdr["Vary"], nil)
			if got := hdr["Vary"]; !slices.Equal(got, tt.want) {
				t.Errorf("merge(%q) left Vary %q, want %q", tt.lines, got, tt.want)
			}
		})
	}
}

// TestVaryMergeUsesTheSlot pins that a response without Vary gets its value
// in the slot it is given (the request's own storage), so that adding Vary
// allocates nothing, and that the slot cannot grow into its neighbour.
func TestVaryMergeUsesTheSlot(t *testing.T) {
	v := newResponseVary("Origin")
	storage := []string{"", "neighbour"}
	hdr := http.Header{}
	v.merge(hdr, nil, storage[:1])
	if got := hdr["Vary"]; len(got) != 1 || &got[0] != &storage[0] || cap(got) != 1 {
		t.Fatalf("Vary = %q (cap %d), want it in the slot with capacity 1", got, cap(got))
	}
	if storage[0] != "Origin" || storage[1] != "neighbour" {
		t.Errorf("storage = %q, want [Origin neighbour]", storage)
	}
}

// TestVaryMergeRewriteAllocations pins the cost of the rare rewrite (a Vary
// naming an owned token twice) at two allocations, what it costs with the
// new slice of lines sized for every line and the module's own: a slice
// that has to grow costs a third.
func TestVaryMergeRewriteAllocations(t *testing.T) {
	v := newResponseVary("Origin")
	lines := []string{"Accept-Encoding", "Cookie", "Origin, Origin"}
	hdr := http.Header{}
	got := testing.AllocsPerRun(100, func() {
		v.merge(hdr, lines, nil)
	})
	if got > 2 {
		t.Errorf("%v allocations, want at most 2", got)
	}
	if want := []string{"Accept-Encoding", "Cookie", "Origin"}; !slices.Equal(hdr["Vary"], want) {
		t.Errorf("Vary = %q, want %q", hdr["Vary"], want)
	}
}
