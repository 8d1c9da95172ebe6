// promparse: parses a Prometheus text exposition with Prometheus's own parser
// (github.com/prometheus/common/expfmt, what the Prometheus server and promtool use) and prints
// each metric family as JSON: name, help, type and samples. Reads the exposition on stdin;
// exits non-zero with the parser's error when it is not valid.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

type sample struct {
	Labels map[string]string `json:"labels"`
	Value  float64           `json:"value"`
	// Histograms: cumulative bucket counts by upper bound, the sample count and sum.
	Buckets map[string]uint64 `json:"buckets,omitempty"`
	Count   uint64            `json:"count,omitempty"`
	Sum     float64           `json:"sum,omitempty"`
}

type family struct {
	Name    string   `json:"name"`
	Help    string   `json:"help"`
	Type    string   `json:"type"`
	Samples []sample `json:"samples"`
}

func main() {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "promparse:", err)
		os.Exit(1)
	}
	names := make([]string, 0, len(families))
	for name := range families {
		names = append(names, name)
	}
	sort.Strings(names)
	out := make([]family, 0, len(names))
	for _, name := range names {
		f := families[name]
		fam := family{Name: name, Help: f.GetHelp(), Type: f.GetType().String()}
		for _, m := range f.Metric {
			fam.Samples = append(fam.Samples, sampleOf(f.GetType(), m))
		}
		out = append(out, fam)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "promparse:", err)
		os.Exit(1)
	}
}

func sampleOf(kind dto.MetricType, m *dto.Metric) sample {
	s := sample{Labels: map[string]string{}}
	for _, l := range m.Label {
		s.Labels[l.GetName()] = l.GetValue()
	}
	switch kind {
	case dto.MetricType_COUNTER:
		s.Value = m.GetCounter().GetValue()
	case dto.MetricType_GAUGE:
		s.Value = m.GetGauge().GetValue()
	case dto.MetricType_HISTOGRAM:
		h := m.GetHistogram()
		s.Count, s.Sum, s.Buckets = h.GetSampleCount(), h.GetSampleSum(), map[string]uint64{}
		for _, b := range h.Bucket {
			s.Buckets[fmt.Sprint(b.GetUpperBound())] = b.GetCumulativeCount()
		}
	default:
		s.Value = m.GetUntyped().GetValue()
	}
	return s
}
