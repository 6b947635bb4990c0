package metrics_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// sampleValue returns the value of the sample name{labels} among mfs; labels are written as
// the text format writes them, sorted by name (`a="x",b="y"`). A histogram's samples are
// name_count and name_sum.
func sampleValue(t *testing.T, mfs []*dto.MetricFamily, name, labels string) float64 {
	t.Helper()
	for _, mf := range mfs {
		base := mf.GetName()
		suffix, ok := strings.CutPrefix(name, base)
		if !ok || suffix != "" && (mf.GetType() != dto.MetricType_HISTOGRAM || suffix != "_count" && suffix != "_sum") {
			continue
		}
		for _, m := range mf.GetMetric() {
			if formatLabels(m) != labels {
				continue
			}
			switch {
			case suffix == "_count":
				return float64(m.GetHistogram().GetSampleCount())
			case suffix == "_sum":
				return m.GetHistogram().GetSampleSum()
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Untyped != nil:
				return m.GetUntyped().GetValue()
			}
		}
	}
	t.Fatalf("no sample %s{%s}", name, labels)
	return 0
}

func formatLabels(m *dto.Metric) string {
	parts := make([]string, 0, len(m.GetLabel()))
	for _, l := range m.GetLabel() {
		parts = append(parts, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}
