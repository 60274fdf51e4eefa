package cors

import (
	"strings"
	"testing"
)

func TestHeaderSetCheck(t *testing.T) {
	explicit := newHeaderSet([]string{"Content-Type", "X-Api-Key", "Authorization"})
	wildcard := newHeaderSet([]string{"*"})
	wildcardAuth := newHeaderSet([]string{"*", "Authorization"})
	zone := newHeaderSet([]string{"X-Zone"})
	tests := []struct {
		name          string
		set           *headerSet
		lines         []string
		wantRequested bool
		wantOK        bool
		wantRefused   string
	}{
		{"NoHeaderRequested", &explicit, nil, false, true, ""},
		{"OnlyEmptyElements", &explicit, []string{" , ,,"}, false, true, ""},
		{"AsChromiumSendsIt", &explicit, []string{"authorization,content-type,x-api-key"}, true, true, ""},
		{"AnyCaseAndOrder", &explicit, []string{"X-API-KEY, Content-type"}, true, true, ""},
		{"SpacesTabsAndEmptyElements", &explicit, []string{" x-api-key\t,, ,content-type , "}, true, true, ""},
		{"Duplicates", &explicit, []string{"x-api-key,x-api-key,X-Api-Key"}, true, true, ""},
		{"SplitOverSeveralLines", &explicit, []string{"x-api-key", "content-type", ""}, true, true, ""},
		{"UnlistedName", &explicit, []string{"content-type,x-other"}, true, false, "x-other"},
		{"UnlistedNameOnSecondLine", &explicit, []string{"content-type", "x-other"}, true, false, "x-other"},
		{"PrefixOfAListedName", &explicit, []string{"x-api"}, true, false, "x-api"},
		{"ListedNameWithSuffix", &explicit, []string{"x-api-keys"}, true, false, "x-api-keys"},
		{"NotAToken", &explicit, []string{"x-api key"}, true, false, "x-api key"},
		{"NonASCIIFoldingIsNotCaseFolding", &explicit, []string{"x-api-\u212aey"}, true, false, "x-api-\u212aey"},
		{"WildcardAllowsAnyToken", &wildcard, []string{"x-anything, x-else"}, true, true, ""},
		{"WildcardDoesNotCoverAuthorization", &wildcard, []string{"x-a,AUTHORIZATION"}, true, false, "AUTHORIZATION"},
		{"WildcardWithAuthorizationListed", &wildcardAuth, []string{"x-a,authorization"}, true, true, ""},
		{"WildcardAllowsANameOf128Bytes", &wildcard, []string{strings.Repeat("x", 128)}, true, true, ""},
		{"UpperCaseZFolds", &zone, []string{"X-ZONE"}, true, true, ""},
		{"WildcardRefusesNonTokens", &wildcard, []string{"x-a,x\x00b"}, true, false, "x\x00b"},
		{"TooManyLines", &explicit, strings.Split(strings.Repeat("x-api-key\n", maxRequestHeaderLines+1), "\n"), true, false, ""},
		{"AsManyLinesAsTheBoundAllows", &explicit, strings.Split(strings.Repeat("x-api-key\n", maxRequestHeaderLines-1), "\n"), true, true, ""},
		{"UnlistedNameOnTheLastLineTheBoundAllows", &explicit, append(strings.Split(strings.Repeat("x-api-key\n", maxRequestHeaderLines-1), "\n")[:maxRequestHeaderLines-1], "x-other"), true, false, "x-other"},
		{"LongerThanThePolicyCouldAllow", &explicit, []string{strings.Repeat("x-api-key,", 100)}, true, false, ""},
		{"HostileMegabyteOfCommas", &explicit, []string{strings.Repeat(",", 1<<20)}, true, false, ""},
		{"HostileMegabyteWithWildcard", &wildcard, []string{strings.Repeat("a,", 1<<19)}, true, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			requested, refused, ok := tt.set.check(tt.lines)
			if requested != tt.wantRequested || ok != tt.wantOK {
				t.Errorf("check(%.40q) = requested %v, ok %v; want %v, %v", tt.lines, requested, ok, tt.wantRequested, tt.wantOK)
			}
			if refused != tt.wantRefused {
				t.Errorf("refused = %q, want %q", refused, tt.wantRefused)
			}
			if len(refused) > 64 {
				t.Errorf("refused name is %d bytes: logs would carry the hostile value", len(refused))
			}
		})
	}
}

// TestHeaderSetExceeds pins the bounds beyond which a preflight is not read
// and which one is named: the handler answers those preflights with a 403.
func TestHeaderSetExceeds(t *testing.T) {
	explicit := newHeaderSet([]string{"Authorization"})
	three := newHeaderSet([]string{"Content-Type", "Authorization", "X-Request-Id"})
	wildcard := newHeaderSet([]string{"*"})
	tests := []struct {
		name      string
		set       *headerSet
		lines     []string
		want      bound
		wantLimit int
		wantGot   int
	}{
		{"OneLine", &explicit, []string{"authorization"}, withinBounds, 0, 0},
		{"NoLine", &explicit, nil, withinBounds, 0, 0},
		{"SixteenLines", &explicit, strings.Split(strings.Repeat("authorization\n", 15), "\n"), withinBounds, 0, 0},
		{"SeventeenLines", &explicit, strings.Split(strings.Repeat("authorization\n", 16), "\n"), boundRequestHeaderLines, 16, 17},
		// One name of 13 bytes allows 4*(13+len(", "))+256 = 316 bytes.
		{"AsLongAsOneNameAllows", &explicit, []string{"authorization" + strings.Repeat(",", 316-13)}, withinBounds, 0, 0},
		{"OneByteLonger", &explicit, []string{"authorization" + strings.Repeat(",", 316-13+1)}, boundRequestHeadersLength, 316, 317},
		{"AuthorizationAnd400Commas", &explicit, []string{"authorization" + strings.Repeat(",", 400)}, boundRequestHeadersLength, 316, 413},
		{"LengthSummedOverLines", &explicit, []string{strings.Repeat(" ", 200), strings.Repeat(",", 200)}, boundRequestHeadersLength, 316, 400},
		// Three names: 4*(12+2 + 13+2 + 12+2)+256 = 428.
		{"ThreeNamesAllow428", &three, []string{strings.Repeat(",", 428)}, withinBounds, 0, 0},
		{"ThreeNamesRefuse429", &three, []string{strings.Repeat(",", 429)}, boundRequestHeadersLength, 428, 429},
		{"WildcardAllowsEightKiB", &wildcard, []string{strings.Repeat("a,", 4<<10)}, withinBounds, 0, 0},
		{"WildcardRefusesMore", &wildcard, []string{strings.Repeat("a,", 4<<10) + "a"}, boundRequestHeadersLength, 8 << 10, 8<<10 + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, limit, got := tt.set.exceeds(tt.lines)
			if b != tt.want || limit != tt.wantLimit || got != tt.wantGot {
				t.Errorf("exceeds = %q, limit %d, got %d; want %q, %d, %d", b, limit, got, tt.want, tt.wantLimit, tt.wantGot)
			}
		})
	}
}

func TestAllowedNamesListsOnlyAllowedNames(t *testing.T) {
	s := newHeaderSet([]string{"*"})
	got := s.allowedNames(nil, []string{"x-a, authorization", ",X-B"})
	if strings.Join(got, "|") != "x-a|X-B" {
		t.Errorf("allowedNames = %q, want [x-a X-B]", got)
	}
}
