package realistic

import (
	"net/http"
	"slices"
	"testing"
)

// TestResponseAddsLikeHeaderAdd pins that Add gives the map http.Header.Add
// would, without allocating, and that a value edited in place on one
// response is back to its own on the next.
func TestResponseAddsLikeHeaderAdd(t *testing.T) {
	headers := append(slices.Clip(Headers), [2]string{"Vary", "Cookie"}, [2]string{"x-lower", "1"})
	rr := NewResponse(headers...)
	got, want := http.Header{"Vary": {"Origin"}}, http.Header{"Vary": {"Origin"}}
	rr.Add(got)
	for _, kv := range headers {
		want[kv[0]] = append(want[kv[0]], kv[1]) // Add would canonicalize x-lower
	}
	for k, v := range want {
		if !slices.Equal(got[k], v) {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d names, want %d", len(got), len(want))
	}

	h := http.Header{}
	rr.Add(h)
	h["Vary"][0] = "edited"
	clear(h)
	if allocs := testing.AllocsPerRun(10, func() { clear(h); rr.Add(h) }); allocs != 0 {
		t.Errorf("Add allocated %v times, want 0", allocs)
	}
	if got := h["Vary"]; !slices.Equal(got, []string{"Accept-Encoding", "Cookie"}) {
		t.Errorf("Vary = %q after an edit in place, want the given values", got)
	}
}
