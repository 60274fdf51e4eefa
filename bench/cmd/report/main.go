// Command report turns the raw results of bench/run.sh (bench/out/) into
// BENCHMARKS.md and two SVG charts: ns/op per case per library, and the load
// test's requests per second per site. Every figure in the document comes
// from those results, so it can never claim more than the run measured.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"image/color"
	"io"
	"log"
	"maps"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/perf/benchfmt"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Library and case identifiers as the benchmarks name them.
const (
	ours   = "caddy-cors"
	rsCors = "rs-cors"
	chi    = "go-chi-cors"
)

var libraries = []string{ours, rsCors, chi}

// peerModules are the peers' module paths, whose versions the report reads
// from bench/go.mod: the versions the benchmarks were built with.
var peerModules = map[string]string{
	rsCors: "github.com/rs/cors",
	chi:    "github.com/go-chi/cors",
}

// libraryTitle names a library for the reader, the peers with the version
// from go.mod.
func libraryTitle(lib string, versions map[string]string) string {
	if lib == ours {
		return "caddy-cors (this module)"
	}
	return strings.TrimPrefix(peerModules[lib], "github.com/") + " " + versions[lib]
}

// readVersions reads the peers' versions from the require lines of a
// go.mod file.
func readVersions(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	versions := map[string]string{}
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		for lib, mod := range peerModules {
			if len(f) >= 2 && f[0] == mod {
				versions[lib] = f[1]
			}
		}
	}
	for lib, mod := range peerModules {
		if versions[lib] == "" {
			return nil, fmt.Errorf("%s: no require line for %s", path, mod)
		}
	}
	return versions, nil
}

// caseInfo describes each benchmark case for the reader, and whether a
// browser is granted (which bounds the allocations the design allows).
var caseInfo = []struct {
	name, desc string
	granted    bool
}{
	{"NonCORSGet", "GET without Origin", false},
	{"ActualAllowed", "GET from an allowed origin", true},
	{"ActualRefused", "GET from a refused origin", false},
	{"PreflightAllowed", "preflight PUT + 2 requested headers, allowed", true},
	{"PreflightRefusedOrigin", "preflight from a refused origin", false},
	{"PreflightRefusedHeader", "preflight requesting a header not allowed", false},
	{"LargePolicyExactHit", "500 origins + 20 patterns: last exact origin", true},
	{"LargePolicySubdomainHit", "500 origins + 20 patterns: 2 labels under the last pattern", true},
	{"LargePolicyMiss", "500 origins + 20 patterns: no match", false},
	{"PreflightHostile1MiB", "preflight with 1 MiB of `a,` as Access-Control-Request-Headers", false},
	{"RealisticNonCORSGet", "GET without Origin, answered with 16 typical API headers", false},
	{"RealisticActualAllowed", "GET from an allowed origin, answered with 16 typical API headers", true},
	{"RealisticPreflightAllowed", "preflight as PreflightAllowed, 16 typical API headers set in front", true},
}

var siteTitle = map[string]string{
	"bare":   "`respond` only",
	"recipe": "`header` + `@cors_preflight` recipe",
	"static": "`header` with `cors`'s 4 headers, no logic",
	"cors":   "`cors`",
	// The same policy with cross_origin_protection: what turning it on costs.
	"protected": "`cors` with `cross_origin_protection`",

	"realistic-static": "API headers + `header` with `cors`'s 4, no logic",
	"realistic-cors":   "API headers + `cors`",
	// The policy of cors with its origins from an ask service, answered
	// from the cache: what an origin source costs once it has answered.
	"sourced": "`cors` with `origin_source http`, cached",
}

func main() {
	in := flag.String("in", "out", "directory with run.sh's raw results")
	md := flag.String("md", "../BENCHMARKS.md", "Markdown file to write")
	readme := flag.String("readme", "../README.md", "Markdown file whose part between the "+readmeBegin+" and "+readmeEnd+" lines gets the summary")
	gomod := flag.String("gomod", "go.mod", "the bench module's go.mod, for the peers' versions")
	charts := flag.String("charts", ".", "directory for the SVG charts")
	flag.Parse()
	log.SetFlags(0)
	if err := run(*in, *md, *readme, *gomod, *charts); err != nil {
		log.Fatal("report: ", err)
	}
}

func run(in, mdPath, readmePath, gomod, chartDir string) error {
	env, err := readEnv(filepath.Join(in, "env.txt"))
	if err != nil {
		return err
	}
	versions, err := readVersions(gomod)
	if err != nil {
		return err
	}
	bench, err := readBench(filepath.Join(in, "bench.txt"), "lib")
	if err != nil {
		return err
	}
	policySize, err := readBench(filepath.Join(in, "policysize.txt"), "policy")
	if err != nil {
		return err
	}
	load, err := readLoad(filepath.Join(in, "load.tsv"))
	if err != nil {
		return err
	}
	handlerSVG := filepath.Join(chartDir, "benchmarks-handler.svg")
	loadSVG := filepath.Join(chartDir, "benchmarks-load.svg")
	if err := drawHandlerChart(bench, versions, handlerSVG); err != nil {
		return err
	}
	if err := drawLoadChart(load, loadSVG); err != nil {
		return err
	}
	rel := func(p string) string {
		r, err := filepath.Rel(filepath.Dir(mdPath), p)
		if err != nil {
			return p
		}
		return filepath.ToSlash(r)
	}
	r := &report{in: in, env: env, versions: versions, bench: bench, size: policySize, load: load}
	var doc bytes.Buffer
	r.writeDoc(&doc, rel(handlerSVG), rel(loadSVG))
	if err := os.WriteFile(mdPath, doc.Bytes(), 0o644); err != nil {
		return err
	}
	return r.writeReadme(readmePath)
}

// report is one run's results, and what the document says of them.
type report struct {
	in       string // run.sh's output directory
	env      env
	versions map[string]string // the peers' versions, by library
	bench    benchResults
	size     benchResults
	load     loadResults
}

// env holds run.sh's "key<TAB>value" lines about the machine and the run.
type env map[string]string

func readEnv(path string) (env, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	e := env{}
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(strings.TrimRight(line, "\n"), "\t")
		if ok {
			e[k] = v
		}
	}
	return e, nil
}

// busy reports whether a "1 5 15" load average line exceeds the cores.
func busy(loadavg, cores string) bool {
	n, err := strconv.ParseFloat(cores, 64)
	if err != nil || n == 0 {
		return false
	}
	f := strings.Fields(loadavg)
	if len(f) == 0 {
		return false
	}
	l, err := strconv.ParseFloat(f[0], 64)
	return err == nil && l > n
}

// sample is the measurements of one case for one library over -count runs.
type sample struct {
	ns, bytes, allocs []float64
	other             map[string][]float64 // metrics a benchmark reports itself, by unit
}

// benchResults maps case, then library (or the other configuration a
// benchmark compares), to its samples.
type benchResults map[string]map[string]*sample

// readBench reads a benchmark file whose results are compared along the
// name part key=value (lib, say): the case is the rest of the name.
func readBench(path, key string) (benchResults, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	res := benchResults{}
	r := benchfmt.NewReader(f, path)
	for r.Scan() {
		rec, ok := r.Result().(*benchfmt.Result)
		if !ok {
			continue
		}
		base, parts := rec.Name.Parts()
		lib, c := "", string(base)
		for _, p := range parts {
			if v, ok := bytes.CutPrefix(p, []byte("/"+key+"=")); ok {
				lib = string(v)
			} else if !bytes.HasPrefix(p, []byte("-")) { // not the GOMAXPROCS suffix
				c += string(p)
			}
		}
		if lib == "" {
			continue
		}
		if res[c] == nil {
			res[c] = map[string]*sample{}
		}
		s := res[c][lib]
		if s == nil {
			s = &sample{}
			res[c][lib] = s
		}
		for _, v := range rec.Values {
			switch v.Unit {
			case "sec/op":
				s.ns = append(s.ns, v.Value*1e9)
			case "B/op":
				s.bytes = append(s.bytes, v.Value)
			case "allocs/op":
				s.allocs = append(s.allocs, v.Value)
			default:
				if s.other == nil {
					s.other = map[string][]float64{}
				}
				s.other[v.Unit] = append(s.other[v.Unit], v.Value)
			}
		}
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	if len(res) == 0 {
		return nil, errors.New(path + ": no benchmark results")
	}
	return res, nil
}

// median is the statistic benchstat reports as the center.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

func (b benchResults) ns(c, lib string) float64 {
	if s := b[c][lib]; s != nil {
		return median(s.ns)
	}
	return math.NaN()
}

// metric is the median of a metric the benchmark reported in unit.
func (b benchResults) metric(c, lib, unit string) float64 {
	if s := b[c][lib]; s != nil {
		return median(s.other[unit])
	}
	return math.NaN()
}

func (b benchResults) allocs(c, lib string) float64 {
	if s := b[c][lib]; s != nil && len(s.allocs) > 0 {
		return slices.Max(s.allocs)
	}
	return math.NaN()
}

func (b benchResults) bytes(c, lib string) float64 {
	if s := b[c][lib]; s != nil && len(s.bytes) > 0 {
		return median(s.bytes)
	}
	return math.NaN()
}

// geomean of ours/lib over the cases where both ran.
func (b benchResults) geomean(lib string) float64 {
	sum, n := 0.0, 0
	for _, ci := range caseInfo {
		r := b.ns(ci.name, ours) / b.ns(ci.name, lib)
		if !math.IsNaN(r) && r > 0 {
			sum += math.Log(r)
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return math.Exp(sum / float64(n))
}

// loadRun is one wrk run.
type loadRun struct {
	round      int
	kind, site string
	rps        float64
	latency    string
	non2xx     int
}

type loadResults []loadRun

func readLoad(path string) (loadResults, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var runs loadResults
	sc := bufio.NewScanner(f)
	for first := true; sc.Scan(); first = false {
		if first {
			continue
		}
		fs := strings.Split(sc.Text(), "\t")
		if len(fs) != 6 {
			return nil, fmt.Errorf("%s: bad line %q", path, sc.Text())
		}
		round, err1 := strconv.Atoi(fs[0])
		rps, err2 := strconv.ParseFloat(fs[3], 64)
		non2xx, err3 := strconv.Atoi(fs[5])
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		runs = append(runs, loadRun{round, fs[1], fs[2], rps, fs[4], non2xx})
	}
	return runs, sc.Err()
}

func (l loadResults) rps(kind, site string) []float64 {
	var out []float64
	for _, r := range l {
		if r.kind == kind && r.site == site {
			out = append(out, r.rps)
		}
	}
	return out
}

// pairedRatio is the median over rounds of site's req/s divided by base's in
// the same round. Background load drifts over minutes; within a round the
// sites run back to back, so the per-round ratio cancels most of the drift
// that a ratio of medians would keep.
func (l loadResults) pairedRatio(kind, site, base string) float64 {
	return median(l.pairedRatios(kind, site, base))
}

// pairedRatios lists site's req/s over base's, one ratio per round.
func (l loadResults) pairedRatios(kind, site, base string) []float64 {
	byRound := map[int]map[string]float64{}
	for _, r := range l {
		if r.kind != kind {
			continue
		}
		if byRound[r.round] == nil {
			byRound[r.round] = map[string]float64{}
		}
		byRound[r.round][r.site] = r.rps
	}
	var ratios []float64
	for _, m := range byRound {
		if a, b := m[site], m[base]; a > 0 && b > 0 {
			ratios = append(ratios, a/b)
		}
	}
	return ratios
}

// loadTarget is the share of the static headers site's rate that cors must
// serve: that site sends the same bytes with no logic at all, the physical
// limit of a CORS handler in Caddy.
const loadTarget = 0.99

// verdicts says, per kind of request, how cors compares with the static
// headers site (and with bare respond), with a bare response and with a
// realistic one, and whether it meets loadTarget.
func (l loadResults) verdicts() []string {
	var lines []string
	for _, kind := range loadKinds {
		for _, p := range loadPairs {
			rs := l.pairedRatios(kind, p.cors, p.static)
			if len(rs) == 0 {
				continue
			}
			r := median(rs)
			verdict := "meets"
			if r < loadTarget {
				verdict = "misses"
			}
			vsBare := ""
			if p.bare != "" {
				vsBare = fmt.Sprintf(", and %s of bare `respond`'s", fmtPercent(median(l.pairedRatios(kind, p.cors, p.bare))))
			}
			lines = append(lines, fmt.Sprintf("**%s requests%s: %s serves %s of the static headers site's rate** (median of %d paired rounds, per-round %s to %s)%s: it %s the %s target.",
				kind, p.what, p.title, fmtPercent(r), len(rs), fmtPercent(slices.Min(rs)), fmtPercent(slices.Max(rs)),
				vsBare, verdict, fmtPercent(loadTarget)))
		}
	}
	return lines
}

// loadPairs are the sites compared for a verdict: cors against the same
// site sending the same headers statically.
var loadPairs = []struct{ cors, static, bare, what, title string }{
	{"cors", "static", "bare", "", "`cors`"},
	{"protected", "static", "bare", "", "`cors` with `cross_origin_protection`"},
	{"realistic-cors", "realistic-static", "", " with a realistic response", "`cors`"},
	{"sourced", "static", "bare", "", "`cors` with `origin_source http` answering from its cache"},
}

var (
	loadKinds = []string{"actual", "preflight"}
	loadSites = []string{"bare", "recipe", "static", "cors", "protected", "realistic-static", "realistic-cors", "sourced"}
)

var palette = map[string]color.Color{
	ours:     color.RGBA{0x1f, 0x77, 0xb4, 0xff},
	rsCors:   color.RGBA{0xff, 0x7f, 0x0e, 0xff},
	chi:      color.RGBA{0x2c, 0xa0, 0x2c, 0xff},
	"bare":   color.RGBA{0x99, 0x99, 0x99, 0xff},
	"recipe": color.RGBA{0xff, 0x7f, 0x0e, 0xff},
	"static": color.RGBA{0x9e, 0xc9, 0xe2, 0xff},
	"cors":   color.RGBA{0x1f, 0x77, 0xb4, 0xff},

	"protected":        color.RGBA{0x0b, 0x3d, 0x6b, 0xff},
	"realistic-static": color.RGBA{0xc7, 0xc7, 0xc7, 0xff},
	"realistic-cors":   color.RGBA{0x17, 0x4a, 0x7e, 0xff},
	"sourced":          color.RGBA{0x6b, 0xae, 0xd6, 0xff},
}

// drawHandlerChart draws horizontal bars of ns/op on a log scale (the
// hostile case spans five orders of magnitude), one group per case.
func drawHandlerChart(b benchResults, versions map[string]string, path string) error {
	p := plot.New()
	p.Title.Text = "CORS handler alone: time per request (lower is better)"
	p.X.Label.Text = "ns/op, log scale"
	const barWidth = vg.Length(7)
	n := len(caseInfo)
	names := make([]string, n)
	maxLog := 0.0
	for i, lib := range libraries {
		vals := make(plotter.Values, n)
		labels := plotter.XYLabels{XYs: make(plotter.XYs, n), Labels: make([]string, n)}
		for j, ci := range caseInfo {
			// The first case goes on top: NominalY counts from the bottom.
			row := n - 1 - j
			names[row] = ci.name
			ns := b.ns(ci.name, lib)
			if math.IsNaN(ns) {
				labels.Labels[row] = "n/a"
				continue
			}
			vals[row] = math.Log10(ns)
			maxLog = max(maxLog, vals[row])
			labels.XYs[row] = plotter.XY{X: vals[row], Y: float64(row)}
			labels.Labels[row] = formatNs(ns)
		}
		bars, err := plotter.NewBarChart(vals, barWidth)
		if err != nil {
			return err
		}
		bars.Horizontal = true
		bars.Color = palette[lib]
		bars.LineStyle.Width = 0
		// Within a group, caddy-cors on top.
		offset := barWidth * vg.Length(1-i)
		bars.Offset = offset
		l, err := plotter.NewLabels(labels)
		if err != nil {
			return err
		}
		for k := range l.TextStyle {
			l.TextStyle[k].Font.Size = vg.Points(6)
			l.TextStyle[k].YAlign = -0.5
		}
		l.Offset = vg.Point{X: 3, Y: offset}
		p.Add(bars, l)
		p.Legend.Add(libraryTitle(lib, versions), bars)
	}
	p.NominalY(names...)
	top := math.Ceil(maxLog + 0.6)
	p.X.Min, p.X.Max = 0, top
	p.X.Tick.Marker = logTicks(top)
	p.Legend.Top = true
	p.Legend.Left = false
	return p.Save(9*vg.Inch, 7.5*vg.Inch, path)
}

// decadeLabel names 10^e nanoseconds: "1 ns", "10 ns", ..., "1 s".
func decadeLabel(e int) string {
	units := []string{"ns", "µs", "ms", "s"}
	u := min(e/3, len(units)-1)
	return strconv.Itoa(int(math.Pow10(e-3*u))) + " " + units[u]
}

// logTicks labels a log10 axis in time units, with minor ticks between.
func logTicks(top float64) plot.ConstantTicks {
	var ts plot.ConstantTicks
	for e := 0.0; e <= top; e++ {
		ts = append(ts, plot.Tick{Value: e, Label: decadeLabel(int(e))})
		for m := 2.0; m < 10 && e+math.Log10(m) <= top; m++ {
			ts = append(ts, plot.Tick{Value: e + math.Log10(m)})
		}
	}
	return ts
}

func formatNs(ns float64) string {
	switch {
	case ns >= 1e9:
		return trimFloat(ns/1e9) + " s"
	case ns >= 1e6:
		return trimFloat(ns/1e6) + " ms"
	case ns >= 1e3:
		return trimFloat(ns/1e3) + " µs"
	default:
		return trimFloat(ns) + " ns"
	}
}

// trimFloat prints three significant digits at most.
func trimFloat(x float64) string {
	switch {
	case x >= 100:
		return strconv.FormatFloat(x, 'f', 0, 64)
	case x >= 10:
		return strconv.FormatFloat(x, 'f', 1, 64)
	default:
		return strconv.FormatFloat(x, 'f', 2, 64)
	}
}

// drawLoadChart draws the median requests/s of each site, one group per
// kind of request.
func drawLoadChart(l loadResults, path string) error {
	p := plot.New()
	p.Title.Text = "Caddy under wrk: requests per second (higher is better)"
	p.Y.Label.Text = "requests/s (median of rounds)"
	const barWidth = vg.Length(24)
	top := 0.0
	for i, site := range loadSites {
		vals := make(plotter.Values, len(loadKinds))
		labels := plotter.XYLabels{XYs: make(plotter.XYs, len(loadKinds)), Labels: make([]string, len(loadKinds))}
		for k, kind := range loadKinds {
			vals[k] = median(l.rps(kind, site))
			top = max(top, vals[k])
			labels.XYs[k] = plotter.XY{X: float64(k), Y: vals[k]}
			labels.Labels[k] = strconv.FormatFloat(vals[k], 'f', 0, 64)
		}
		bars, err := plotter.NewBarChart(vals, barWidth)
		if err != nil {
			return err
		}
		bars.Color = palette[site]
		bars.LineStyle.Width = 0
		offset := barWidth * (vg.Length(i) - vg.Length(len(loadSites)-1)/2)
		bars.Offset = offset
		lb, err := plotter.NewLabels(labels)
		if err != nil {
			return err
		}
		for k := range lb.TextStyle {
			lb.TextStyle[k].Font.Size = vg.Points(7)
			lb.TextStyle[k].XAlign = -0.5
		}
		lb.Offset = vg.Point{X: offset, Y: 3}
		p.Add(bars, lb)
		p.Legend.Add(strings.Trim(strings.ReplaceAll(siteTitle[site], "`", ""), " "), bars)
	}
	p.NominalX("GET with Origin (actual)", "OPTIONS preflight")
	// Headroom above the bars for the legend.
	p.Y.Min, p.Y.Max = 0, top*1.35
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.XOffs = vg.Points(10)
	return p.Save(7*vg.Inch, 4.5*vg.Inch, path)
}

func (r *report) writeDoc(w io.Writer, handlerSVG, loadSVG string) {
	in, e, b, l := r.in, r.env, r.bench, r.load
	rs, ch := libraryTitle(rsCors, r.versions), libraryTitle(chi, r.versions)
	pf := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	pf("# Benchmarks\n\n")
	pf("Generated by `bench/run.sh` on %s from commit %s; do not edit by hand, run the script again.\n", e["date"], e["commit"])
	pf("Every figure below comes from that one run, on one machine, with the baselines measured in the same run. ")
	pf("It compares this module's handler with `github.com/rs/cors` and `github.com/go-chi/cors` on the same policy and requests, and Caddy with `cors` with the same sites without it. ")
	pf("To reproduce it, run `bench/run.sh` from a checkout (it installs wrk if missing): it runs the commands below and rewrites this file and the figures of the README's performance section.")
	if e["elapsed"] != "" {
		pf(" This run took %s on %s cores.", e["elapsed"], e["cores"])
	}
	pf("\n\n")

	pf("## Machine\n\n")
	pf("| | |\n|---|---|\n")
	for _, k := range []string{"cpu", "cores", "memory", "kernel", "go", "caddy", "wrk"} {
		pf("| %s | %s |\n", k, e[k])
	}
	pf("| load average (1, 5, 15 min) at start / end | %s / %s |\n\n", e["load_start"], e["load_end"])
	if busy(e["load_start"], e["cores"]) || busy(e["load_end"], e["cores"]) {
		pf("**The machine was busy during this run** (load average above its core count): other processes took CPU time in bursts, ")
		pf("so single figures are noisy. The benchstat tables give each figure's spread, and the load-test table lists every round. ")
		pf("Run `bench/run.sh` again on an idle machine for figures to quote.\n\n")
	}

	pf("## Commands\n\nRun from `bench/` (a separate Go module, so that users of the root module never download the peers):\n\n```sh\n")
	if cmds, err := os.ReadFile(filepath.Join(in, "commands.txt")); err == nil {
		w.Write(cmds)
	}
	pf("```\n\n")

	pf("## Go benchmarks: the handler alone\n\n")
	pf("The same policy goes through each library: two exact origins (500 exact origins and 20 `https://*.` subdomain patterns in the `LargePolicy` cases), ")
	pf("methods GET POST PUT PATCH DELETE, allowed headers Content-Type Authorization X-Requested-With, exposed header X-Request-Id, credentials, max-age 10 minutes. ")
	pf("The next handler writes 200 and nothing else, except in the `Realistic` cases, where the response carries the 16 headers of a typical API answer (Content-Type, Cache-Control, ETag, Set-Cookie, Strict-Transport-Security, rate-limit headers, `Vary: Accept-Encoding` ...), added as `http.Header.Add` would but without allocating (a `Vary` a library set before calling the application gets the application's line appended, as it would with a real one): the application sets them on actual requests, and a layer in front of the CORS handler on preflights, which no library passes on; the response writer is reused and its header map emptied with `clear()` between iterations, so the map itself does not allocate and only the values a library stores count. ")
	pf("This module's handler is provisioned as Caddy provisions it and every request carries Caddy's request context. ")
	pf("`TestLibrariesAgree` checks, with a model of the browser's CORS check, that the three libraries give each case the same outcome (granted or refused), so no row compares a refusal with a grant.\n\n")
	pf("All three libraries express every case: %s and %s both take one `*` per origin as a prefix/suffix wildcard, so `https://*.tenant19.example.net` works in both ", ch, rs)
	pf("(more loosely than this module: their wildcard is a bare prefix/suffix match, e.g. `https://evil.com/.tenant19.example.net` matches it, which this module refuses; `TestPeersWildcardIsLooser` pins this).\n\n")
	pf("![ns/op per case and library](%s)\n\n", handlerSVG)
	pf("Medians of the runs; ratio = caddy-cors ÷ peer (below 1 is faster); allocs/op as caddy-cors / rs/cors / go-chi/cors.\n\n")
	pf("| case | what | caddy-cors | rs/cors | go-chi/cors | vs rs/cors | vs go-chi/cors | allocs/op | caddy-cors B/op |\n")
	pf("|---|---|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, ci := range caseInfo {
		pf("| %s | %s | %s | %s | %s | %s | %s | %s / %s / %s | %s |\n", ci.name, ci.desc,
			fmtNs(b.ns(ci.name, ours)), fmtNs(b.ns(ci.name, rsCors)), fmtNs(b.ns(ci.name, chi)),
			fmtRatio(b.ns(ci.name, ours)/b.ns(ci.name, rsCors)), fmtRatio(b.ns(ci.name, ours)/b.ns(ci.name, chi)),
			fmtCount(b.allocs(ci.name, ours)), fmtCount(b.allocs(ci.name, rsCors)), fmtCount(b.allocs(ci.name, chi)),
			fmtCount(b.bytes(ci.name, ours)))
	}
	pf("| **geomean** | | | | | **%s** | **%s** | | |\n\n", fmtRatio(b.geomean(rsCors)), fmtRatio(b.geomean(chi)))

	for _, t := range []struct{ file, title string }{
		{"benchstat-rs.txt", "benchstat, deltas against rs/cors"},
		{"benchstat-chi.txt", "benchstat, deltas against go-chi/cors"},
	} {
		if s, err := os.ReadFile(filepath.Join(in, t.file)); err == nil {
			pf("<details><summary>%s</summary>\n\n```\n%s```\n\n</details>\n\n", t.title, s)
		}
	}

	writePolicySize(pf, in, r.size)

	pf("## Load test: Caddy with and without CORS\n\n")
	pf("One Caddy process built with this module (`bench/cmd/caddy`) serves eight loopback sites that differ only in CORS and in the response, and the ask service of one of them (`bench/loadtest/Caddyfile`): ")
	pf("(a) `respond \"ok\" 200` alone; (b) the same plus the popular recipe, a `@cors_preflight method OPTIONS` matcher answered `respond @cors_preflight 204` and a `header` block setting fixed `Access-Control-*` headers on every response, whatever the origin; ")
	pf("(c) the same with `cors` and the benchmarks' policy; (d) `respond` plus a `header` block setting the four headers `cors` sends to an allowed origin on an actual request, without any logic; (e) and (f), (d) and (c) answering with a realistic response: a `header` block ahead of them sets 14 typical API headers, `Vary: Accept-Encoding` among them; (g) the policy of (c) with its origins from `origin_source http`, an ask service on another site of the same Caddy, which `cors` asks once before the rounds and then answers from its cache. wrk sends actual requests (GET with Origin) and preflights (OPTIONS with Origin, Access-Control-Request-Method PUT and Access-Control-Request-Headers `authorization,content-type`), ")
	pf("the same connections, threads and duration for every site; the rounds rotate the order of the sites. %s.\n\n", e["load"])
	pf("![requests per second per site](%s)\n\n", loadSVG)
	pf("Ratios are medians of per-round ratios (each round runs the %s sites back to back, so drift in background load cancels out).\n\n", spelled(l.sitesPerRound()))
	pf("| request | site | median req/s | vs bare `respond` | vs recipe | vs static headers | rounds (req/s) | non-2xx |\n|---|---|--:|--:|--:|--:|---|--:|\n")
	for _, kind := range loadKinds {
		for _, site := range loadSites {
			rs := l.rps(kind, site)
			var rounds []string
			for _, x := range rs {
				rounds = append(rounds, strconv.FormatFloat(x, 'f', 0, 64))
			}
			non2xx := 0
			for _, r := range l {
				if r.kind == kind && r.site == site {
					non2xx += r.non2xx
				}
			}
			vsBare, vsRecipe, vsStatic := "—", "—", "—"
			if site != "bare" {
				vsBare = fmtPercent(l.pairedRatio(kind, site, "bare"))
			}
			if site == "cors" {
				vsRecipe = fmtPercent(l.pairedRatio(kind, site, "recipe"))
			}
			for _, p := range loadPairs {
				if site == p.cors {
					vsStatic = fmtPercent(l.pairedRatio(kind, site, p.static))
				}
			}
			pf("| %s | %s | %.0f | %s | %s | %s | %s | %d |\n", kind, siteTitle[site], median(rs), vsBare, vsRecipe, vsStatic, strings.Join(rounds, ", "), non2xx)
		}
	}
	pf("\n")
	for _, line := range l.verdicts() {
		pf("- %s\n", line)
	}
	pf("\nBare `respond` and the static headers site answer a preflight with their 200 `ok` like any request: they are floors, not CORS answers. ")
	pf("%s\n\n", staticComparison(in))

	pf("<details><summary>What each site answered (checked by run.sh before the load)</summary>\n\n")
	for _, site := range loadSites {
		for _, kind := range loadKinds {
			if s, err := os.ReadFile(filepath.Join(in, "headers-"+site+"-"+kind+".txt")); err == nil {
				pf("%s, %s:\n\n```\n%s```\n\n", siteTitle[site], kind, strings.ReplaceAll(string(s), "\r", ""))
			}
		}
	}
	pf("</details>\n")
}

// policySizeRequests are BenchmarkPolicySize's requests, for the reader.
var policySizeRequests = []struct{ name, desc string }{
	{"exact", "GET from a listed exact origin"},
	{"subdomain", "GET from two labels under a listed pattern"},
	{"miss", "GET from an origin the policy refuses"},
	{"preflight", "preflight PUT + Content-Type from a listed origin"},
}

// writePolicySize writes the section on a policy's size: the cost of a
// request, of provisioning and of the heap it keeps, small against large.
func writePolicySize(pf func(string, ...any), in string, size benchResults) {
	const small, large = "520", "101000"
	pf("## Policy size: 100,000 origins and 1,000 patterns\n\n")
	pf("A multi-tenant service lists its customers' domains: `BenchmarkPolicySize` (in the root module, `bench_test.go`) provisions a policy of 100,000 exact origins and 1,000 `https://*.` patterns, ")
	pf("and one of 500 exact origins and 20 patterns (520), and sends each the same requests. ")
	pf("Provision time and heap are measured once per run outside the timed loop (the heap is what the provisioned handler keeps alive, after a GC); medians of the runs.\n\n")
	pf("| request | what | 520 origins | 101,000 origins | ratio | provision, 520 / 101,000 | heap, 520 / 101,000 |\n|---|---|--:|--:|--:|--:|--:|\n")
	for _, rq := range policySizeRequests {
		c := "PolicySize/request=" + rq.name
		pf("| %s | %s | %s | %s | %s | %s / %s | %s / %s |\n", rq.name, rq.desc,
			fmtNs(size.ns(c, small)), fmtNs(size.ns(c, large)), fmtRatio(size.ns(c, large)/size.ns(c, small)),
			fmtFixed(size.metric(c, small, "provision-ms"), 1, "ms"), fmtFixed(size.metric(c, large, "provision-ms"), 1, "ms"),
			fmtFixed(size.metric(c, small, "heap-MiB"), 2, "MiB"), fmtFixed(size.metric(c, large, "heap-MiB"), 2, "MiB"))
	}
	pf("\n")
	if s, err := os.ReadFile(filepath.Join(in, "benchstat-policysize.txt")); err == nil {
		pf("<details><summary>benchstat, 101,000 origins against 520</summary>\n\n```\n%s```\n\n</details>\n\n", s)
	}
}

// fmtFixed formats x with prec decimals and a unit.
func fmtFixed(x float64, prec int, unit string) string {
	if math.IsNaN(x) {
		return "n/a"
	}
	return strconv.FormatFloat(x, 'f', prec, 64) + " " + unit
}

func fmtNs(ns float64) string {
	if math.IsNaN(ns) {
		return "n/a"
	}
	switch {
	case ns >= 1e6:
		return strconv.FormatFloat(ns/1e6, 'f', 2, 64) + " ms"
	case ns >= 1e4:
		return strconv.FormatFloat(ns/1e3, 'f', 1, 64) + " µs"
	default:
		return strconv.FormatFloat(ns, 'f', 0, 64) + " ns"
	}
}

func fmtRatio(r float64) string {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return "n/a"
	}
	if r < 0.01 {
		return strconv.FormatFloat(r, 'g', 2, 64)
	}
	return strconv.FormatFloat(r, 'f', 2, 64)
}

func fmtPercent(r float64) string {
	if math.IsNaN(r) {
		return "n/a"
	}
	return strconv.FormatFloat(r*100, 'f', 1, 64) + "%"
}

func fmtCount(x float64) string {
	if math.IsNaN(x) {
		return "n/a"
	}
	return strconv.FormatFloat(x, 'f', -1, 64)
}

// sitesPerRound is the number of sites the load test ran in each round: the
// most any round ran.
func (l loadResults) sitesPerRound() int {
	sites := map[[2]int]map[string]bool{}
	n := 0
	for _, r := range l {
		k := [2]int{r.round, slices.Index(loadKinds, r.kind)}
		if sites[k] == nil {
			sites[k] = map[string]bool{}
		}
		sites[k][r.site] = true
		n = max(n, len(sites[k]))
	}
	return n
}

func spelled(n int) string {
	if n >= 0 && n < 10 {
		return [...]string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}[n]
	}
	return strconv.Itoa(n)
}

// staticComparison says how the static headers site's answer to an actual
// request compares with `cors`'s, field by field, from the answers run.sh
// captured: which of the headers `cors` sent the static site sent with the
// same value, and which it did not.
func staticComparison(in string) string {
	static, err1 := readAnswer(filepath.Join(in, "headers-static-actual.txt"))
	cors, err2 := readAnswer(filepath.Join(in, "headers-cors-actual.txt"))
	if err := errors.Join(err1, err2); err != nil {
		return "The answers of the static site and of `cors` were not captured: " + err.Error() + "."
	}
	var same, differ []string
	for _, name := range slices.Sorted(maps.Keys(cors)) {
		if !strings.HasPrefix(name, "Access-Control-") && name != "Vary" {
			continue
		}
		if slices.Equal(static[name], cors[name]) {
			same = append(same, name)
		} else {
			differ = append(differ, fmt.Sprintf("%s (%q, `cors` %q)", name, strings.Join(static[name], ", "), strings.Join(cors[name], ", ")))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(static)) {
		if (strings.HasPrefix(name, "Access-Control-") || name == "Vary") && cors[name] == nil {
			differ = append(differ, fmt.Sprintf("%s (%q, which `cors` did not send)", name, strings.Join(static[name], ", ")))
		}
	}
	if len(differ) > 0 {
		return "For actual requests the static site was meant to send the CORS headers `cors` sends to an allowed origin, but in this run it " +
			"differs on " + strings.Join(differ, "; ") + " (same: " + strings.Join(same, ", ") + "), so `cors` against it is not only the cost of deciding."
	}
	return "For actual requests the static site sends the same " + strings.Join(same, ", ") +
		" values as `cors` sends to an allowed origin (compared in the answers captured below), so `cors` against it is the cost of deciding, and the static site against bare `respond` the cost of the bytes."
}

// readAnswer reads the header fields of a response curl -D saved, by
// canonical name.
func readAnswer(path string) (http.Header, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	for i, line := range strings.Split(strings.ReplaceAll(string(b), "\r", ""), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && i > 0 {
			h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
	}
	return h, nil
}

// The README's performance figures sit between these lines, which the report
// rewrites, so that they always come from the run BENCHMARKS.md shows.
const (
	readmeBegin = "<!-- begin benchmarks: written by bench/cmd/report from the run in BENCHMARKS.md -->"
	readmeEnd   = "<!-- end benchmarks -->"
)

// writeReadme replaces the part of the README between readmeBegin and
// readmeEnd with the run's summary.
func (r *report) writeReadme(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	before, rest, ok1 := strings.Cut(string(b), readmeBegin+"\n")
	_, after, ok2 := strings.Cut(rest, readmeEnd+"\n")
	if !ok1 || !ok2 {
		return fmt.Errorf("%s: no %q line followed by a %q line", path, readmeBegin, readmeEnd)
	}
	var sum strings.Builder
	r.writeSummary(&sum)
	return os.WriteFile(path, []byte(before+readmeBegin+"\n"+sum.String()+readmeEnd+"\n"+after), 0o644)
}

// writeSummary writes the README's figures: a few of the run's, each with
// what it is measured against.
func (r *report) writeSummary(w io.Writer) {
	pf := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	e, b, l := r.env, r.bench, r.load
	pf("In the run of [`bench/run.sh`](bench/run.sh) of %s, on %s cores at commit %s ([BENCHMARKS.md](BENCHMARKS.md) has the tables, the commands and the charts", e["date"], e["cores"], e["commit"])
	if busy(e["load_start"], e["cores"]) || busy(e["load_end"], e["cores"]) {
		pf("; the machine was busy during the run, so the figures are noisy")
	}
	pf("):\n\n")

	pf("- against `%s` %s and `%s` %s on the same policy, the handler's geometric mean over %d cases is %sx rs/cors and %sx go-chi/cors",
		peerModules[rsCors], r.versions[rsCors], peerModules[chi], r.versions[chi], len(caseInfo), fmtRatio(b.geomean(rsCors)), fmtRatio(b.geomean(chi)))
	const hostile = "PreflightHostile1MiB"
	pf("; a 1 MiB hostile `Access-Control-Request-Headers` costs it %s (rs/cors: %s, go-chi/cors: %s)",
		fmtNs(b.ns(hostile, ours)), fmtNs(b.ns(hostile, rsCors)), fmtNs(b.ns(hostile, chi)))
	for _, lib := range []string{rsCors, chi} {
		var faster []string
		for _, ci := range caseInfo {
			if o, p := b.ns(ci.name, ours), b.ns(ci.name, lib); p < o {
				faster = append(faster, fmt.Sprintf("%s (%s against %s)", ci.name, fmtNs(p), fmtNs(o)))
			}
		}
		if len(faster) > 0 {
			pf("; %s is faster on %s", strings.TrimPrefix(peerModules[lib], "github.com/"), strings.Join(faster, ", "))
		}
	}
	pf(";\n")

	var ratios []float64
	for _, rq := range policySizeRequests {
		c := "PolicySize/request=" + rq.name
		if x := r.size.ns(c, "101000") / r.size.ns(c, "520"); !math.IsNaN(x) {
			ratios = append(ratios, x)
		}
	}
	if len(ratios) > 0 {
		c := "PolicySize/request=exact"
		pf("- a policy of 100,000 exact origins and 1,000 patterns provisions in %s and keeps %s of heap; a request costs it %sx to %sx what it costs with 520 origins;\n",
			fmtFixed(r.size.metric(c, "101000", "provision-ms"), 0, "ms"), fmtFixed(r.size.metric(c, "101000", "heap-MiB"), 1, "MiB"),
			fmtRatio(slices.Min(ratios)), fmtRatio(slices.Max(ratios)))
	}

	var sites []string
	for _, p := range loadPairs {
		a, f := l.pairedRatio("actual", p.cors, p.static), l.pairedRatio("preflight", p.cors, p.static)
		if math.IsNaN(a) || math.IsNaN(f) {
			continue
		}
		sites = append(sites, fmt.Sprintf("%s%s, %s on actual requests and %s on preflights", p.title, p.what, fmtPercent(a), fmtPercent(f)))
	}
	pf("- under load (wrk, loopback), against the same site sending the same headers with a static `header` block: %s; against the `header` + `@cors_preflight` recipe, `cors` serves %s on actual requests and %s on preflights.\n",
		strings.Join(sites, "; "),
		fmtPercent(l.pairedRatio("actual", "cors", "recipe")), fmtPercent(l.pairedRatio("preflight", "cors", "recipe")))
}
