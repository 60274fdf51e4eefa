package cors

import (
	"math/rand/v2"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
)

// An origin_regexp is the classic way to open a CORS hole by accident:
// `https://example.com` (an unescaped dot), `https://(www.)?example\.com.*`
// (no end) or `.*` each let sites nobody vetted read responses. At load the
// module tries every regexp against origins no legitimate owner can hold:
// hosts under .invalid (a name reserved never to resolve), and the shapes
// those mistakes let through, built from the domains the regexp names.

// matchedProbe reports the first probe origin that re (the anchored form of
// expr) grants, and whether there is one.
func matchedProbe(re *regexp.Regexp, expr string) (string, bool) {
	for _, probe := range regexpProbes(expr) {
		// The matcher shows a regexp only well-formed Origin values, so a
		// probe no browser could send proves nothing.
		if _, ok := parseRequestOrigin(probe); ok && re.MatchString(probe) {
			return probe, true
		}
	}
	return "", false
}

// regexpProbes builds the probe origins for expr, on both schemes.
func regexpProbes(expr string) []string {
	r := unownedLabel
	hosts := []string{r + ".invalid"}
	for _, name := range regexpDomains(expr) {
		hosts = append(hosts,
			name+"."+r+".invalid",  // the end is not anchored
			r+name,                 // nor the start of the name
			name+"_."+r+".invalid", // nor what follows it, by \w or [^.]
		)
		// Each dot replaced by a letter: the dot was not escaped.
		for i := 0; i < len(name); i++ {
			if name[i] == '.' {
				hosts = append(hosts, name[:i]+"x"+name[i+1:])
			}
		}
	}
	var probes []string
	for _, scheme := range []string{"https://", "http://"} {
		for _, h := range hosts {
			probes = append(probes, scheme+h)
		}
	}
	return probes
}

// unownedLabel is drawn once per process, so that the warning `caddy run`
// logs while adapting a Caddyfile is the one its load would log again, and
// is logged once.
var unownedLabel = randomLabel()

func randomLabel() string {
	const letters = "abcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 12)
	for i := range b {
		b[i] = letters[rand.IntN(len(letters))]
	}
	return string(b)
}

// domainRE finds host names in a regexp's source once its escaped dots are
// plain dots: labels joined by dots, escaped or not.
var domainRE = regexp.MustCompile(`[a-z0-9-]+(?:\.[a-z0-9-]+)+`)

// regexpDomains returns the domain names expr mentions, in lower case, such
// as example.com in `https://([a-z0-9-]+\.)*example\.com`, and both
// example.com and example.org in `example\.(com|org)`.
func regexpDomains(expr string) []string {
	src := strings.ToLower(strings.NewReplacer(`\.`, ".", `\-`, "-").Replace(expr))
	// Each group of plain alternatives, such as (com|org), read once per
	// alternative: the nth source takes the nth of each group (or its last).
	groups := altGroupRE.FindAllString(src, -1)
	variants := 1
	for _, g := range groups {
		variants = max(variants, strings.Count(g, "|")+1)
	}
	var names []string
	for n := range variants {
		s := altGroupRE.ReplaceAllStringFunc(src, func(g string) string {
			alts := strings.Split(g[1:len(g)-1], "|")
			return alts[min(n, len(alts)-1)]
		})
		for _, name := range domainRE.FindAllString(s, -1) {
			name = strings.Trim(name, ".-")
			if strings.Contains(name, ".") && !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	return names
}

var altGroupRE = regexp.MustCompile(`\([a-z0-9-]+(?:\|[a-z0-9-]+)+\)`)

// regexpError drops the prefix Go's regexp errors carry, which repeats that
// a regexp could not be parsed.
func regexpError(err error) string {
	if e, ok := err.(*syntax.Error); ok {
		return e.Code.String()
	}
	return err.Error()
}

// regexpHint points a glob written as a regexp at the origin syntax that
// means what its author wanted.
func regexpHint(expr string) string {
	if strings.Contains(expr, "://*.") {
		return "; for any subdomain write origins " + strings.ReplaceAll(expr, `\.`, ".") + " instead (an origin pattern, not a regexp)"
	}
	return ""
}
