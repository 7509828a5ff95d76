package deploy_test

import (
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// peer is one end of a connection: a pod (ns, nsLabels, pod labels) or an
// address outside the cluster (ip).
type peer struct {
	name     string
	ns       string
	nsLabels map[string]string
	pod      map[string]string
	ip       netip.Addr
}

func (p peer) isPod() bool { return p.pod != nil }

// peerMatches reports whether a NetworkPolicy peer selects p, for a policy
// living in namespace policyNS.
func peerMatches(np networkingv1.NetworkPolicyPeer, policyNS string, p peer) bool {
	if np.IPBlock != nil {
		if !p.ip.IsValid() {
			return false
		}
		pre, err := netip.ParsePrefix(np.IPBlock.CIDR)
		if err != nil || !pre.Contains(p.ip) {
			return false
		}
		for _, e := range np.IPBlock.Except {
			if ex, err := netip.ParsePrefix(e); err == nil && ex.Contains(p.ip) {
				return false
			}
		}
		return true
	}
	if !p.isPod() {
		return false
	}
	if np.NamespaceSelector != nil {
		sel, err := metav1.LabelSelectorAsSelector(np.NamespaceSelector)
		if err != nil || !sel.Matches(labels.Set(p.nsLabels)) {
			return false
		}
	} else if p.ns != policyNS {
		return false
	}
	if np.PodSelector != nil {
		sel, err := metav1.LabelSelectorAsSelector(np.PodSelector)
		return err == nil && sel.Matches(labels.Set(p.pod))
	}
	return true
}

func portMatches(ports []networkingv1.NetworkPolicyPort, port int32) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		if p.Protocol != nil && *p.Protocol != corev1.ProtocolTCP {
			continue
		}
		if p.Port == nil {
			return true
		}
		lo := int32(p.Port.IntValue())
		hi := lo
		if p.EndPort != nil {
			hi = *p.EndPort
		}
		if port >= lo && port <= hi {
			return true
		}
	}
	return false
}

// allowed reports whether the policies let self talk to (egress) or hear
// from (ingress) other on TCP port. A pod no policy of that type selects is
// not isolated.
func allowed(pols []*networkingv1.NetworkPolicy, self, other peer, port int32, typ networkingv1.PolicyType) bool {
	isolated := false
	for _, pol := range pols {
		if pol.Namespace != self.ns {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(&pol.Spec.PodSelector)
		if err != nil || !sel.Matches(labels.Set(self.pod)) {
			continue
		}
		hasType := false
		for _, pt := range pol.Spec.PolicyTypes {
			hasType = hasType || pt == typ
		}
		if !hasType {
			continue
		}
		isolated = true
		if typ == networkingv1.PolicyTypeIngress {
			for _, r := range pol.Spec.Ingress {
				if portMatches(r.Ports, port) && anyPeer(r.From, pol.Namespace, other) {
					return true
				}
			}
		} else {
			for _, r := range pol.Spec.Egress {
				if portMatches(r.Ports, port) && anyPeer(r.To, pol.Namespace, other) {
					return true
				}
			}
		}
	}
	return !isolated
}

func anyPeer(ps []networkingv1.NetworkPolicyPeer, ns string, p peer) bool {
	if len(ps) == 0 {
		return true
	}
	for _, np := range ps {
		if peerMatches(np, ns, p) {
			return true
		}
	}
	return false
}

// flowAllowed checks both ends: the source's egress and the destination's
// ingress, for ends that are pods of our namespace.
func flowAllowed(pols []*networkingv1.NetworkPolicy, src, dst peer, port int32) bool {
	if src.isPod() && !allowed(pols, src, dst, port, networkingv1.PolicyTypeEgress) {
		return false
	}
	if dst.isPod() && !allowed(pols, dst, src, port, networkingv1.PolicyTypeIngress) {
		return false
	}
	return true
}

func checkNetworkPolicies(t *testing.T, b *build) {
	denyAll := false
	for _, p := range b.netpols {
		if len(p.Spec.PodSelector.MatchLabels) == 0 && len(p.Spec.PodSelector.MatchExpressions) == 0 &&
			len(p.Spec.PolicyTypes) == 2 && len(p.Spec.Ingress) == 0 && len(p.Spec.Egress) == 0 {
			denyAll = true
		}
	}
	if !denyAll {
		t.Fatal("no default-deny NetworkPolicy (empty podSelector, Ingress and Egress, no rules)")
	}
	nsLabels := map[string]string{"kubernetes.io/metadata.name": b.ns}
	pod := func(component string) peer {
		for _, w := range b.workloads() {
			if w.template.Labels["app.kubernetes.io/component"] == component {
				return peer{name: component, ns: b.ns, nsLabels: nsLabels, pod: w.template.Labels}
			}
		}
		t.Fatalf("no %s workload", component)
		return peer{}
	}
	edge, executor, registry, nats := pod("edge"), pod("executor"), pod("registry"), pod("nats")
	ingressCtl := peer{name: "ingress-nginx", ns: "ingress-nginx",
		nsLabels: map[string]string{"kubernetes.io/metadata.name": "ingress-nginx"},
		pod:      map[string]string{"app.kubernetes.io/name": "ingress-nginx"}}
	prometheus := peer{name: "prometheus", ns: "monitoring",
		nsLabels: map[string]string{"kubernetes.io/metadata.name": "monitoring"},
		pod:      map[string]string{"app.kubernetes.io/name": "prometheus"}}
	dns := peer{name: "kube-dns", ns: "kube-system",
		nsLabels: map[string]string{"kubernetes.io/metadata.name": "kube-system"},
		pod:      map[string]string{"k8s-app": "kube-dns"}}
	stranger := peer{name: "other-namespace-pod", ns: "default",
		nsLabels: map[string]string{"kubernetes.io/metadata.name": "default"}, pod: map[string]string{"app": "x"}}
	postgres := peer{name: "postgres (outside)", ip: netip.MustParseAddr("10.20.30.40")}
	internet := peer{name: "public web server", ip: netip.MustParseAddr("93.184.215.14")}
	metadata := peer{name: "cloud metadata", ip: netip.MustParseAddr("169.254.169.254")}

	cases := []struct {
		src, dst peer
		port     int32
		want     bool
	}{
		{ingressCtl, edge, 8080, true},
		{edge, nats, 4222, true},
		{executor, nats, 4222, true},
		{registry, nats, 4222, true},
		{nats, nats, 6222, true},
		{registry, postgres, 5432, true},
		{prometheus, edge, 8080, true},
		{prometheus, executor, 8080, true},
		{prometheus, registry, 8080, true},
		{prometheus, nats, 7777, true},
		{executor, internet, 443, true},
		{edge, dns, 53, true},
		{nats, dns, 53, true},

		{ingressCtl, executor, 8080, false},
		{ingressCtl, nats, 4222, false},
		{stranger, edge, 8080, false},
		{stranger, nats, 4222, false},
		{edge, nats, 6222, false},
		{executor, edge, 8080, false},
		{edge, postgres, 5432, false},
		{executor, postgres, 5432, false},
		{executor, metadata, 80, false},
		{edge, internet, 443, false},
		{nats, internet, 443, false},
		{prometheus, nats, 4222, false},
	}
	for _, c := range cases {
		if got := flowAllowed(b.netpols, c.src, c.dst, c.port); got != c.want {
			t.Errorf("%s -> %s:%d allowed = %v, want %v", c.src.name, c.dst.name, c.port, got, c.want)
		}
	}
}
