package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// latencyMs is a latency summary in milliseconds.
type latencyMs struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func summarize(h *Hist) latencyMs {
	return latencyMs{
		P50:  ms(h.Quantile(0.50)),
		P90:  ms(h.Quantile(0.90)),
		P99:  ms(h.Quantile(0.99)),
		P999: ms(h.Quantile(0.999)),
		Max:  ms(h.Max()),
		Mean: ms(h.Mean()),
	}
}

// serverStats is what the processes under test used during the measured
// phase (warm-up excluded), summed over all of them.
type serverStats struct {
	Processes      int     `json:"processes"`
	StartToReadyMs float64 `json:"start_to_ready_ms"`
	IdleRSSMB      float64 `json:"idle_rss_mb"`    // right after /readyz
	PeakRSSMB      float64 `json:"peak_rss_mb"`    // max of sampled VmRSS sums during the load
	HWMMB          float64 `json:"hwm_mb"`         // sum of VmHWM at the end (includes warm-up)
	CPUSeconds     float64 `json:"cpu_s"`          // utime+stime during the measured phase
	CPUPerReqUs    float64 `json:"cpu_us_per_req"` // CPUSeconds / requests
	StopMs         float64 `json:"stop_ms"`        // SIGTERM to exit
	StopError      string  `json:"stop_error,omitempty"`
}

// overloadStats describes shedding under an offered load above saturation.
type overloadStats struct {
	SaturationRPS float64   `json:"saturation_rps"`
	OfferedRPS    float64   `json:"offered_rps"`
	SentRPS       float64   `json:"sent_rps"`
	Dropped       uint64    `json:"dropped_at_client"` // all connections busy: not sent
	Admitted      uint64    `json:"admitted"`          // 2xx answers
	AdmittedLat   latencyMs `json:"admitted_latency_ms"`
	Shed          uint64    `json:"shed_503"`
	ShedLat       latencyMs `json:"shed_latency_ms"`
}

// scenarioReport is the outcome of one scenario.
type scenarioReport struct {
	Name            string            `json:"name"`
	Description     string            `json:"description"`
	Topology        string            `json:"topology"`
	Mode            string            `json:"mode"`
	Connections     int               `json:"connections"`
	DurationS       float64           `json:"duration_s"`
	Requests        uint64            `json:"requests"`
	RPS             float64           `json:"rps"`
	ItemsPerS       float64           `json:"items_per_s,omitempty"`
	RatioToBaseline float64           `json:"ratio_to_baseline,omitempty"`
	Latency         latencyMs         `json:"latency_ms"`
	Errors          uint64            `json:"errors"`
	ErrorSamples    []string          `json:"error_samples,omitempty"`
	Non2xx          uint64            `json:"non_2xx"`
	Status          map[string]uint64 `json:"status"`
	Server          serverStats       `json:"server"`
	LoadgenCPUS     float64           `json:"loadgen_cpu_s"`
	Overload        *overloadStats    `json:"overload,omitempty"`
	Profiles        []string          `json:"profiles,omitempty"` // files written by --profile, or why not
	Failed          string            `json:"failed,omitempty"`
}

// hostInfo describes the conditions of a run.
type hostInfo struct {
	CPUs          int    `json:"cpus"`
	GoVersion     string `json:"go_version"`
	Kernel        string `json:"kernel,omitempty"`
	LoadAvgBefore string `json:"loadavg_before,omitempty"`
	LoadAvgAfter  string `json:"loadavg_after,omitempty"`
}

// runReport is the whole run, as written by --json.
type runReport struct {
	Date        string           `json:"date"`
	Host        hostInfo         `json:"host"`
	Engine      string           `json:"engine"`
	Connections int              `json:"connections"`
	DurationS   float64          `json:"duration_s"`
	WarmupS     float64          `json:"warmup_s"`
	Bin         string           `json:"bin"`
	Scenarios   []scenarioReport `json:"scenarios"`
}

// fillFromLoad copies the client-side measurements into r.
func (r *scenarioReport) fillFromLoad(lr *loadResult, items int) {
	r.DurationS = lr.Elapsed.Seconds()
	r.Requests = lr.Requests
	if lr.Elapsed > 0 {
		r.RPS = float64(lr.Requests) / lr.Elapsed.Seconds()
	}
	if items > 1 {
		r.ItemsPerS = r.RPS * float64(items)
	}
	r.Latency = summarize(&lr.Lat)
	r.Errors = lr.Errors
	r.ErrorSamples = lr.ErrorMsg
	r.Non2xx = lr.non2xx()
	r.Status = map[string]uint64{}
	for k, v := range lr.Status {
		r.Status[strconv.Itoa(k)] = v
	}
}

// setRatios fills RatioToBaseline of every scenario from the baseline's req/s.
func setRatios(rs []scenarioReport) {
	var base float64
	for _, r := range rs {
		if r.Name == "baseline" && r.Failed == "" {
			base = r.RPS
		}
	}
	if base == 0 {
		return
	}
	for i := range rs {
		if rs[i].Failed == "" {
			rs[i].RatioToBaseline = rs[i].RPS / base
		}
	}
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

func f0(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) }
func f2(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// writeTable prints the human summary of rep.
func writeTable(w io.Writer, rep *runReport) error {
	fmt.Fprintf(w, "avap-load %s  engine=%s connections=%d duration=%gs warmup=%gs cpus=%d load=%s\n",
		rep.Date, rep.Engine, rep.Connections, rep.DurationS, rep.WarmupS, rep.Host.CPUs, rep.Host.LoadAvgBefore)
	// Names are padded here so that they read left-aligned while the
	// numbers are right-aligned by the tabwriter.
	nameW := len("scenario")
	for _, r := range rep.Scenarios {
		nameW = max(nameW, len(r.Name))
	}
	pad := func(s string) string { return s + strings.Repeat(" ", nameW-len(s)) }
	var tb strings.Builder
	tw := tabwriter.NewWriter(&tb, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, pad("scenario")+"\treq/s\tx base\tp50 ms\tp90 ms\tp99 ms\tp99.9 ms\terrors\tnon-2xx\tpeak RSS MB\tCPU s\tCPU us/req\tready ms\tgen CPU s\t")
	for _, r := range rep.Scenarios {
		if r.Failed != "" {
			fmt.Fprintf(tw, "%s\tFAILED\t\t\t\t\t\t\t\t\t\t\t\t\t\n", pad(r.Name))
			continue
		}
		ratio := "-"
		if r.RatioToBaseline > 0 {
			ratio = f2(r.RatioToBaseline)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t\n",
			pad(r.Name), f0(r.RPS), ratio, f2(r.Latency.P50), f2(r.Latency.P90), f2(r.Latency.P99), f2(r.Latency.P999),
			r.Errors, r.Non2xx, f1(r.Server.PeakRSSMB), f2(r.Server.CPUSeconds), f1(r.Server.CPUPerReqUs), f0(r.Server.StartToReadyMs), f2(r.LoadgenCPUS))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for line := range strings.Lines(tb.String()) {
		if _, err := fmt.Fprintln(w, strings.TrimRight(line, " \n")); err != nil {
			return err
		}
	}
	for _, r := range rep.Scenarios {
		switch {
		case r.Failed != "":
			fmt.Fprintf(w, "%s: FAILED: %s\n", r.Name, firstLine(r.Failed))
		case r.Overload != nil:
			o := r.Overload
			fmt.Fprintf(w, "%s: saturation %s req/s, offered %s/s, sent %s/s (%d not sent: client connections busy); admitted %d p99 %s ms max %s ms; shed 503 %d p99 %s ms max %s ms\n",
				r.Name, f0(o.SaturationRPS), f0(o.OfferedRPS), f0(o.SentRPS), o.Dropped,
				o.Admitted, f2(o.AdmittedLat.P99), f2(o.AdmittedLat.Max), o.Shed, f2(o.ShedLat.P99), f2(o.ShedLat.Max))
		case r.ItemsPerS > 0:
			fmt.Fprintf(w, "%s: %s items/s\n", r.Name, f0(r.ItemsPerS))
		}
		for _, p := range r.Profiles {
			fmt.Fprintf(w, "%s: profile %s\n", r.Name, p)
		}
		if r.Failed == "" && (r.Non2xx > 0 || r.Errors > 0) && r.Overload == nil {
			fmt.Fprintf(w, "%s: status %s errors %v\n", r.Name, statusString(r.Status), r.ErrorSamples)
		}
	}
	return nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func statusString(m map[string]uint64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

// writeJSON writes rep as indented JSON.
func writeJSON(w io.Writer, rep any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
