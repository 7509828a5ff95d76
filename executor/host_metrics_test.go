package executor

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/avapmesh/avap/bus"
	"github.com/avapmesh/avap/vm"
)

// metricValue returns the counter value or histogram sample count of the
// series name{labels} in reg.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			return value(m)
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return 0
}

func value(m *dto.Metric) float64 {
	if h := m.GetHistogram(); h != nil {
		return float64(h.GetSampleCount())
	}
	return m.GetCounter().GetValue()
}

func TestHostCallMetrics(t *testing.T) {
	srv := echoServer(t)
	reg := prometheus.NewRegistry()
	m, err := newHostCallMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	host := meterHost(newTestHost(t, HostOptions{Egress: EgressOptions{Allow: []string{"127.0.0.1"}}}), m)
	if _, ok := host.(CapabilityHost); !ok {
		t.Fatal("the metered Host hides CapabilityHost")
	}
	calls := func(cmd, result string) float64 {
		return metricValue(t, reg, "avap_executor_host_calls_total", map[string]string{"command": cmd, "result": result})
	}
	if _, err := runScript(t, host, fmt.Sprintf("RequestGet(\"%s/echo\", \"\", \"\", r)\naddResult(r)\n", srv.URL), vm.Limits{}); err != nil {
		t.Fatal(err)
	}
	if got := calls("RequestGet", "ok"); got != 1 {
		t.Errorf("RequestGet ok = %v", got)
	}
	if got := metricValue(t, reg, "avap_executor_host_call_duration_seconds", map[string]string{"command": "RequestGet"}); got != 1 {
		t.Errorf("RequestGet durations = %v", got)
	}
	// A 4xx raises: error; a refused address: denied; a capability the
	// run lacks: denied; an unknown command: other.
	_, _ = runScript(t, host, fmt.Sprintf("RequestGet(\"%s/missing\", \"\", \"\", r)\n", srv.URL), vm.Limits{})
	_, _ = runScript(t, host, "RequestGet(\"http://10.0.0.1/\", \"\", \"\", r)\n", vm.Limits{})
	_, _ = runScript(t, host.(CapabilityHost).WithCapabilities(bus.CapSQL), fmt.Sprintf("RequestGet(\"%s/echo\", \"\", \"\", r)\n", srv.URL), vm.Limits{})
	_, _ = host.Call(t.Context(), "noSuchCommand", nil)
	_, _ = runScript(t, host, fmt.Sprintf("RequestGet(\"%s/slow\", \"\", \"\", r)\n", srv.URL), vm.Limits{Timeout: 100 * time.Millisecond})
	if got := calls("RequestGet", "error"); got != 1 {
		t.Errorf("RequestGet error = %v", got)
	}
	if got := calls("RequestGet", "denied"); got != 2 {
		t.Errorf("RequestGet denied = %v", got)
	}
	if got := calls("RequestGet", "timeout"); got != 1 {
		t.Errorf("RequestGet timeout = %v", got)
	}
	if got := calls("other", "error"); got != 1 {
		t.Errorf("other error = %v", got)
	}
}
