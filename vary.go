package cors

import (
	"net/http"
	"strings"

	"github.com/caddy-cors/cors/internal/fetch"
)

// responseVary is the set of request headers a response depends on. A shared
// cache must see each of them in Vary, or it may hand one origin's answer to
// another; a token listed twice helps nobody, so merging keeps every other
// token and lists the module's exactly once.
type responseVary struct {
	tokens []string // at most maxVaryTokens
	value  string   // tokens joined with ", "
}

const maxVaryTokens = 4

func newResponseVary(tokens ...string) responseVary {
	return responseVary{tokens: tokens, value: strings.Join(tokens, ", ")}
}

// merge makes the Vary field lines of hdr, lines, list each token exactly
// once. When hdr has no Vary yet, the value goes into slot (one element of
// the request's own storage) if there is one.
func (v *responseVary) merge(hdr http.Header, lines, slot []string) {
	if len(lines) == 0 {
		if slot == nil {
			slot = make([]string, 1)
		}
		slot[0] = v.value
		hdr["Vary"] = slot[:1:1]
		return
	}
	var counts [maxVaryTokens]int
	for _, line := range lines {
		for line != "" {
			var t string
			t, line = fetch.NextElement(line)
			if t == "*" {
				return // varies on everything already
			}
			if i := v.index(t); i >= 0 {
				counts[i]++
			}
		}
	}
	exact := true
	for i := range v.tokens {
		exact = exact && counts[i] == 1
	}
	if exact {
		return
	}
	// Lines without the module's tokens stay as they are; the others lose
	// them, and the module's tokens follow on a line of their own.
	out := make([]string, 0, len(lines)+1)
	for _, line := range lines {
		var kept []string
		mentions := false
		for rest := line; rest != ""; {
			var t string
			t, rest = fetch.NextElement(rest)
			switch {
			case t == "":
			case v.index(t) >= 0:
				mentions = true
			default:
				kept = append(kept, t)
			}
		}
		switch {
		case !mentions:
			out = append(out, line)
		case len(kept) > 0:
			out = append(out, strings.Join(kept, ", "))
		}
	}
	hdr["Vary"] = append(out, v.value)
}

func (v *responseVary) index(token string) int {
	for i, t := range v.tokens {
		if strings.EqualFold(t, token) {
			return i
		}
	}
	return -1
}
