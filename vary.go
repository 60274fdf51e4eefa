package cors

import (
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

// slots is how many field lines merging the module's tokens into lines, the
// Vary field lines a response has, makes: none when lines already list each
// token exactly once or vary on everything ("*"), so that merge leaves them
// as they are. The request's single allocation makes room for them.
func (v *responseVary) slots(lines []string) int {
	switch {
	case len(v.tokens) == 0:
		return 0
	case len(lines) == 0:
		return 1
	}
	return v.count(lines)
}

// count is slots for lines that must be parsed.
func (v *responseVary) count(lines []string) int {
	if len(lines) == 1 && lines[0] == v.value {
		return 0 // as the module left it
	}
	var counts [maxVaryTokens]int
	mentioned, kept := 0, 0 // lines naming a module token; other tokens on them
	for _, line := range lines {
		others, mentions := 0, false
		for rest := line; rest != ""; {
			var t string
			t, rest = fetch.NextElement(rest)
			if t == "*" {
				return 0 // varies on everything already
			}
			if i := v.index(t); i >= 0 {
				counts[i]++
				mentions = true
			} else if t != "" {
				others++
			}
		}
		if mentions {
			mentioned++
			kept += others
		}
	}
	exact := true
	for i := range v.tokens {
		exact = exact && counts[i] == 1
	}
	if exact {
		return 0
	}
	return len(lines) - mentioned + kept + 1
}

// merge returns the Vary field lines that list each of the module's tokens
// exactly once, given lines, the response's, and out, room for
// v.slots(lines) of them; it allocates nothing. Lines that do not name the
// module's tokens stay as they are; the other tokens of the lines that do
// each get a line of their own (a field sent on several lines is one list,
// RFC 9110 section 5.3), and the module's tokens follow on their own line.
// out may not alias lines.
func (v *responseVary) merge(lines, out []string) []string {
	n := 0
	if len(lines) > 0 {
		n = v.keep(lines, out)
	}
	out[n] = v.value
	return out[: n+1 : n+1]
}

// keep writes into out the lines, or the tokens of lines, that merge keeps,
// and returns how many it wrote.
func (v *responseVary) keep(lines, out []string) int {
	n := 0
	for _, line := range lines {
		if !v.mentioned(line) {
			out[n] = line
			n++
			continue
		}
		for rest := line; rest != ""; {
			var t string
			t, rest = fetch.NextElement(rest)
			if t != "" && v.index(t) < 0 {
				out[n] = t
				n++
			}
		}
	}
	return n
}

// mentioned reports whether line names one of the module's tokens.
func (v *responseVary) mentioned(line string) bool {
	for rest := line; rest != ""; {
		var t string
		t, rest = fetch.NextElement(rest)
		if v.index(t) >= 0 {
			return true
		}
	}
	return false
}

func (v *responseVary) index(token string) int {
	for i, t := range v.tokens {
		if strings.EqualFold(t, token) {
			return i
		}
	}
	return -1
}
