package deploy_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/krusty"
	kusttypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

const k8sDir = "kubernetes"

// overlays maps each overlay to the namespace it deploys into.
var overlays = map[string]string{"dev": "avap-dev", "prod": "avap"}

// externalSecrets lists, per overlay, the Secrets (and their keys) the pods
// refer to that are created outside git, as the overlay's kustomization.yaml
// and deploy/README.md explain. Every other reference must resolve inside
// the build.
var externalSecrets = map[string]map[string][]string{
	"prod": {"avap-postgres": {"dsn"}},
}

// newTyped returns an empty object of the official type for apiVersion/kind;
// anything else is refused, so a manifest can only use kinds we check.
func newTyped(apiVersion, kind string) (any, bool) {
	switch apiVersion + "/" + kind {
	case "v1/Namespace":
		return new(corev1.Namespace), true
	case "v1/ServiceAccount":
		return new(corev1.ServiceAccount), true
	case "v1/Service":
		return new(corev1.Service), true
	case "v1/ConfigMap":
		return new(corev1.ConfigMap), true
	case "v1/Secret":
		return new(corev1.Secret), true
	case "apps/v1/Deployment":
		return new(appsv1.Deployment), true
	case "apps/v1/StatefulSet":
		return new(appsv1.StatefulSet), true
	case "policy/v1/PodDisruptionBudget":
		return new(policyv1.PodDisruptionBudget), true
	case "autoscaling/v2/HorizontalPodAutoscaler":
		return new(autoscalingv2.HorizontalPodAutoscaler), true
	case "networking.k8s.io/v1/Ingress":
		return new(networkingv1.Ingress), true
	case "networking.k8s.io/v1/NetworkPolicy":
		return new(networkingv1.NetworkPolicy), true
	}
	return nil, false
}

// decodeStrict decodes one YAML document into its official type, refusing
// unknown and duplicate fields.
func decodeStrict(doc []byte) (any, error) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return nil, err
	}
	obj, ok := newTyped(tm.APIVersion, tm.Kind)
	if !ok {
		return nil, fmt.Errorf("unsupported kind %s %s (add it to newTyped with its checks)", tm.APIVersion, tm.Kind)
	}
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return nil, fmt.Errorf("%s: %w", tm.Kind, err)
	}
	return obj, nil
}

// splitDocs splits a multi-document YAML stream, dropping empty documents.
func splitDocs(t *testing.T, b []byte) [][]byte {
	t.Helper()
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	var docs [][]byte
	for {
		d, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(d, &m); err != nil {
			t.Fatal(err)
		}
		if len(m) > 0 {
			docs = append(docs, d)
		}
	}
}

// TestManifestFilesDecodeStrictly decodes every manifest and patch file,
// and every kustomization.yaml, strictly.
func TestManifestFilesDecodeStrictly(t *testing.T) {
	n := 0
	err := filepath.WalkDir(k8sDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		switch filepath.Base(path) {
		case "kustomization.yaml":
			var k kusttypes.Kustomization
			if err := yaml.UnmarshalStrict(b, &k); err != nil {
				t.Errorf("%s: %v", path, err)
			}
			return nil
		case "avap.yaml": // the avap config file, checked by TestAvapConfig
			return nil
		}
		for i, doc := range splitDocs(t, b) {
			if _, err := decodeStrict(doc); err != nil {
				t.Errorf("%s document %d: %v", path, i+1, err)
			}
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 20 {
		t.Errorf("decoded only %d documents; is %s complete?", n, k8sDir)
	}
}

// build is one built overlay, decoded into official types.
type build struct {
	name, ns     string
	objs         []any
	namespaces   []*corev1.Namespace
	configMaps   map[string]*corev1.ConfigMap
	secrets      map[string]*corev1.Secret
	deployments  []*appsv1.Deployment
	statefulSets []*appsv1.StatefulSet
	services     []*corev1.Service
	ingresses    []*networkingv1.Ingress
	hpas         []*autoscalingv2.HorizontalPodAutoscaler
	pdbs         []*policyv1.PodDisruptionBudget
	netpols      []*networkingv1.NetworkPolicy
}

// workload is a Deployment or StatefulSet seen through what we check.
type workload struct {
	kind, name string
	replicas   int32
	template   *corev1.PodTemplateSpec
	selector   *metav1.LabelSelector
}

func (b *build) workloads() []workload {
	var ws []workload
	for _, d := range b.deployments {
		ws = append(ws, workload{"Deployment", d.Name, deref(d.Spec.Replicas, 1), &d.Spec.Template, d.Spec.Selector})
	}
	for _, s := range b.statefulSets {
		ws = append(ws, workload{"StatefulSet", s.Name, deref(s.Spec.Replicas, 1), &s.Spec.Template, s.Spec.Selector})
	}
	return ws
}

func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// buildOverlay runs kustomize (the library kubectl uses) on an overlay and
// decodes every resource strictly.
func buildOverlay(t *testing.T, name string) *build {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(k8sDir, "overlays", name))
	if err != nil {
		t.Fatalf("kustomize build overlays/%s: %v", name, err)
	}
	b := &build{name: name, ns: overlays[name], configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}}
	for _, r := range rm.Resources() {
		doc, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		obj, err := decodeStrict(doc)
		if err != nil {
			t.Errorf("overlays/%s: %s %s: %v", name, r.GetKind(), r.GetName(), err)
			continue
		}
		b.objs = append(b.objs, obj)
		switch o := obj.(type) {
		case *corev1.Namespace:
			b.namespaces = append(b.namespaces, o)
		case *corev1.ConfigMap:
			b.configMaps[o.Name] = o
		case *corev1.Secret:
			b.secrets[o.Name] = o
		case *appsv1.Deployment:
			b.deployments = append(b.deployments, o)
		case *appsv1.StatefulSet:
			b.statefulSets = append(b.statefulSets, o)
		case *corev1.Service:
			b.services = append(b.services, o)
		case *networkingv1.Ingress:
			b.ingresses = append(b.ingresses, o)
		case *autoscalingv2.HorizontalPodAutoscaler:
			b.hpas = append(b.hpas, o)
		case *policyv1.PodDisruptionBudget:
			b.pdbs = append(b.pdbs, o)
		case *networkingv1.NetworkPolicy:
			b.netpols = append(b.netpols, o)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return b
}

// TestOverlays builds each overlay and checks what an operator relies on.
func TestOverlays(t *testing.T) {
	for name := range overlays {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := buildOverlay(t, name)
			t.Run("inventory", func(t *testing.T) { checkInventory(t, b) })
			t.Run("namespace", func(t *testing.T) { checkNamespace(t, b) })
			t.Run("workloads", func(t *testing.T) { checkWorkloads(t, b) })
			t.Run("references", func(t *testing.T) { checkReferences(t, b) })
			t.Run("services", func(t *testing.T) { checkServices(t, b) })
			t.Run("autoscaling", func(t *testing.T) { checkAutoscaling(t, b) })
			t.Run("networkpolicies", func(t *testing.T) { checkNetworkPolicies(t, b) })
			t.Run("avap-config", func(t *testing.T) { checkAvapContainers(t, b) })
			t.Run("nats", func(t *testing.T) { checkNATS(t, b) })
		})
	}
}

func checkInventory(t *testing.T, b *build) {
	want := []string{"Deployment/avap-edge", "Deployment/avap-executor", "Deployment/avap-registry", "StatefulSet/avap-nats"}
	var got []string
	for _, w := range b.workloads() {
		got = append(got, w.kind+"/"+w.name)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("workloads = %v, want %v", got, want)
	}
	if len(b.ingresses) != 1 || len(b.hpas) != 2 || len(b.netpols) == 0 || len(b.namespaces) != 1 {
		t.Errorf("ingresses %d (want 1), HPAs %d (want 2), network policies %d, namespaces %d (want 1)",
			len(b.ingresses), len(b.hpas), len(b.netpols), len(b.namespaces))
	}
	if _, ok := b.configMaps[configMapFor(b, "avap-config")]; !ok {
		t.Error("no avap-config ConfigMap")
	}
}

// configMapFor returns the generated (hash-suffixed) name of a ConfigMap.
func configMapFor(b *build, prefix string) string {
	for n := range b.configMaps {
		if n == prefix || strings.HasPrefix(n, prefix+"-") && !strings.Contains(n[len(prefix)+1:], "-") {
			return n
		}
	}
	return ""
}

func checkNamespace(t *testing.T, b *build) {
	for _, ns := range b.namespaces {
		if ns.Name != b.ns {
			t.Errorf("Namespace %s, want %s", ns.Name, b.ns)
		}
		if ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
			t.Errorf("Namespace %s does not enforce the restricted Pod Security Standard", ns.Name)
		}
	}
	for _, o := range b.objs {
		m := objectMeta(o)
		if _, isNS := o.(*corev1.Namespace); !isNS && m.Namespace != b.ns {
			t.Errorf("%T %s in namespace %q, want %q", o, m.Name, m.Namespace, b.ns)
		}
		if m.Labels["app.kubernetes.io/part-of"] != "avap" {
			t.Errorf("%T %s lacks label app.kubernetes.io/part-of=avap", o, m.Name)
		}
	}
}

func objectMeta(o any) metav1.ObjectMeta {
	switch o := o.(type) {
	case *corev1.Namespace:
		return o.ObjectMeta
	case *corev1.ServiceAccount:
		return o.ObjectMeta
	case *corev1.Service:
		return o.ObjectMeta
	case *corev1.ConfigMap:
		return o.ObjectMeta
	case *corev1.Secret:
		return o.ObjectMeta
	case *appsv1.Deployment:
		return o.ObjectMeta
	case *appsv1.StatefulSet:
		return o.ObjectMeta
	case *policyv1.PodDisruptionBudget:
		return o.ObjectMeta
	case *autoscalingv2.HorizontalPodAutoscaler:
		return o.ObjectMeta
	case *networkingv1.Ingress:
		return o.ObjectMeta
	case *networkingv1.NetworkPolicy:
		return o.ObjectMeta
	}
	panic(fmt.Sprintf("objectMeta: %T", o))
}

func checkWorkloads(t *testing.T, b *build) {
	for _, w := range b.workloads() {
		id := w.kind + "/" + w.name
		spec := &w.template.Spec
		sel, err := metav1.LabelSelectorAsSelector(w.selector)
		if err != nil || !sel.Matches(labels.Set(w.template.Labels)) {
			t.Errorf("%s: selector does not match its pod template labels (%v)", id, err)
		}
		if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
			t.Errorf("%s: automountServiceAccountToken must be false", id)
		}
		psc := spec.SecurityContext
		if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
			t.Errorf("%s: pod securityContext.runAsNonRoot must be true", id)
		}
		if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("%s: pod seccompProfile must be RuntimeDefault", id)
		}
		if psc != nil && psc.RunAsUser != nil && *psc.RunAsUser == 0 {
			t.Errorf("%s: runAsUser 0", id)
		}
		if spec.TerminationGracePeriodSeconds == nil {
			t.Errorf("%s: no terminationGracePeriodSeconds", id)
		}
		if len(spec.Containers) == 0 {
			t.Errorf("%s: no containers", id)
		}
		for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
			checkContainer(t, id, c)
		}
		if pdb := pdbFor(b, w.template.Labels); pdb == nil {
			t.Errorf("%s: no PodDisruptionBudget selects its pods", id)
		} else if pdb.Spec.MinAvailable != nil && pdb.Spec.MinAvailable.IntValue() >= int(w.replicas) {
			t.Errorf("%s: PDB %s minAvailable %s blocks every eviction at %d replicas", id, pdb.Name, pdb.Spec.MinAvailable, w.replicas)
		}
	}
}

func checkContainer(t *testing.T, id string, c corev1.Container) {
	id += " container " + c.Name
	if c.ReadinessProbe == nil || c.LivenessProbe == nil {
		t.Errorf("%s: needs readiness and liveness probes", id)
	}
	for _, p := range []*corev1.Probe{c.StartupProbe, c.ReadinessProbe, c.LivenessProbe} {
		if p == nil {
			continue
		}
		var port string
		switch {
		case p.HTTPGet != nil:
			port = p.HTTPGet.Port.String()
		case p.TCPSocket != nil:
			port = p.TCPSocket.Port.String()
		}
		if port != "" && !slices.ContainsFunc(c.Ports, func(cp corev1.ContainerPort) bool {
			return cp.Name == port || fmt.Sprint(cp.ContainerPort) == port
		}) {
			t.Errorf("%s: probe port %s is not a container port", id, port)
		}
	}
	r := c.Resources
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := r.Requests[name]; !ok {
			t.Errorf("%s: no %s request", id, name)
		}
	}
	mem, ok := r.Limits[corev1.ResourceMemory]
	if !ok {
		t.Errorf("%s: no memory limit", id)
	}
	for name, q := range r.Requests {
		if l, ok := r.Limits[name]; ok && q.Cmp(l) > 0 {
			t.Errorf("%s: %s request %s above limit %s", id, name, q.String(), l.String())
		}
	}
	for _, e := range c.Env {
		if e.Name == "GOMEMLIMIT" && ok {
			q, err := resource.ParseQuantity(strings.TrimSuffix(e.Value, "B"))
			if err != nil || q.Cmp(mem) >= 0 {
				t.Errorf("%s: GOMEMLIMIT %s must be below the memory limit %s (%v)", id, e.Value, mem.String(), err)
			}
		}
	}
	sc := c.SecurityContext
	switch {
	case sc == nil:
		t.Errorf("%s: no securityContext", id)
	default:
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("%s: allowPrivilegeEscalation must be false", id)
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("%s: readOnlyRootFilesystem must be true", id)
		}
		if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
			t.Errorf("%s: capabilities must drop ALL and add none", id)
		}
		if sc.Privileged != nil && *sc.Privileged {
			t.Errorf("%s: privileged", id)
		}
	}
	ref := c.Image
	if i := strings.LastIndex(ref, "/"); i >= 0 {
		ref = ref[i+1:]
	}
	if !strings.Contains(ref, "@sha256:") && (!strings.Contains(ref, ":") || strings.HasSuffix(ref, ":latest")) {
		t.Errorf("%s: image %q must carry a version tag or a digest", id, c.Image)
	}
}

func pdbFor(b *build, podLabels map[string]string) *policyv1.PodDisruptionBudget {
	for _, p := range b.pdbs {
		sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(podLabels)) {
			return p
		}
	}
	return nil
}

// checkReferences checks that every ConfigMap and Secret key a pod uses
// exists in the build (or is a documented external Secret).
func checkReferences(t *testing.T, b *build) {
	hasKey := func(kind, name, key string) error {
		switch kind {
		case "ConfigMap":
			cm, ok := b.configMaps[name]
			if !ok {
				return fmt.Errorf("ConfigMap %s not in the build", name)
			}
			if _, ok := cm.Data[key]; !ok && key != "" {
				return fmt.Errorf("ConfigMap %s has no key %q", name, key)
			}
		case "Secret":
			if keys, ok := externalSecrets[b.name][name]; ok {
				if key != "" && !slices.Contains(keys, key) {
					return fmt.Errorf("external Secret %s: key %q is not documented", name, key)
				}
				return nil
			}
			s, ok := b.secrets[name]
			if !ok {
				return fmt.Errorf("Secret %s not in the build and not a documented external Secret", name)
			}
			_, inData := s.Data[key]
			_, inString := s.StringData[key]
			if key != "" && !inData && !inString {
				return fmt.Errorf("Secret %s has no key %q", name, key)
			}
		}
		return nil
	}
	for _, w := range b.workloads() {
		id := w.kind + "/" + w.name
		spec := &w.template.Spec
		for _, v := range spec.Volumes {
			switch {
			case v.ConfigMap != nil:
				if err := hasKey("ConfigMap", v.ConfigMap.Name, ""); err != nil {
					t.Errorf("%s volume %s: %v", id, v.Name, err)
				}
				for _, it := range v.ConfigMap.Items {
					if err := hasKey("ConfigMap", v.ConfigMap.Name, it.Key); err != nil {
						t.Errorf("%s volume %s: %v", id, v.Name, err)
					}
				}
			case v.Secret != nil:
				if err := hasKey("Secret", v.Secret.SecretName, ""); err != nil {
					t.Errorf("%s volume %s: %v", id, v.Name, err)
				}
				for _, it := range v.Secret.Items {
					if err := hasKey("Secret", v.Secret.SecretName, it.Key); err != nil {
						t.Errorf("%s volume %s: %v", id, v.Name, err)
					}
				}
			}
		}
		for _, c := range spec.Containers {
			for _, e := range c.Env {
				if e.ValueFrom == nil {
					continue
				}
				if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
					if err := hasKey("ConfigMap", r.Name, r.Key); err != nil {
						t.Errorf("%s env %s: %v", id, e.Name, err)
					}
				}
				if r := e.ValueFrom.SecretKeyRef; r != nil {
					if err := hasKey("Secret", r.Name, r.Key); err != nil {
						t.Errorf("%s env %s: %v", id, e.Name, err)
					}
				}
			}
			for _, ef := range c.EnvFrom {
				if ef.ConfigMapRef != nil {
					if err := hasKey("ConfigMap", ef.ConfigMapRef.Name, ""); err != nil {
						t.Errorf("%s envFrom: %v", id, err)
					}
				}
				if ef.SecretRef != nil {
					if err := hasKey("Secret", ef.SecretRef.Name, ""); err != nil {
						t.Errorf("%s envFrom: %v", id, err)
					}
				}
			}
			for _, m := range c.VolumeMounts {
				if !slices.ContainsFunc(spec.Volumes, func(v corev1.Volume) bool { return v.Name == m.Name }) &&
					!isClaimTemplate(b, w, m.Name) {
					t.Errorf("%s: mount %s has no volume", id, m.Name)
				}
			}
		}
	}
}

func isClaimTemplate(b *build, w workload, name string) bool {
	for _, s := range b.statefulSets {
		if s.Name == w.name {
			return slices.ContainsFunc(s.Spec.VolumeClaimTemplates, func(p corev1.PersistentVolumeClaim) bool { return p.Name == name })
		}
	}
	return false
}

// podsMatching returns the workloads whose pods a selector picks.
func podsMatching(b *build, sel map[string]string) []workload {
	var out []workload
	if len(sel) == 0 {
		return nil
	}
	for _, w := range b.workloads() {
		if labels.SelectorFromSet(sel).Matches(labels.Set(w.template.Labels)) {
			out = append(out, w)
		}
	}
	return out
}

func checkServices(t *testing.T, b *build) {
	svcs := map[string]*corev1.Service{}
	for _, s := range b.services {
		svcs[s.Name] = s
		ws := podsMatching(b, s.Spec.Selector)
		if len(ws) == 0 {
			t.Errorf("Service %s selects no workload", s.Name)
		}
		for _, p := range s.Spec.Ports {
			for _, w := range ws {
				if !hasPort(w.template.Spec.Containers, p.TargetPort.String()) {
					t.Errorf("Service %s port %s: %s has no container port %s", s.Name, p.Name, w.name, p.TargetPort.String())
				}
			}
		}
	}
	for _, s := range b.statefulSets {
		if svc, ok := svcs[s.Spec.ServiceName]; !ok || svc.Spec.ClusterIP != corev1.ClusterIPNone {
			t.Errorf("StatefulSet %s: serviceName %s is not a headless Service of the build", s.Name, s.Spec.ServiceName)
		}
	}
	for _, ing := range b.ingresses {
		for _, r := range ing.Spec.Rules {
			for _, p := range r.HTTP.Paths {
				be := p.Backend.Service
				svc, ok := svcs[be.Name]
				if !ok {
					t.Errorf("Ingress %s: backend Service %s not in the build", ing.Name, be.Name)
					continue
				}
				if !slices.ContainsFunc(svc.Spec.Ports, func(sp corev1.ServicePort) bool {
					return sp.Name == be.Port.Name || be.Port.Number != 0 && sp.Port == be.Port.Number
				}) {
					t.Errorf("Ingress %s: Service %s has no port %v", ing.Name, be.Name, be.Port)
				}
			}
		}
	}
}

func hasPort(cs []corev1.Container, port string) bool {
	for _, c := range cs {
		for _, p := range c.Ports {
			if p.Name == port || fmt.Sprint(p.ContainerPort) == port {
				return true
			}
		}
	}
	return false
}

func checkAutoscaling(t *testing.T, b *build) {
	for _, h := range b.hpas {
		ref := h.Spec.ScaleTargetRef
		var target *workload
		for _, w := range b.workloads() {
			if w.kind == ref.Kind && w.name == ref.Name {
				target = &w
			}
		}
		if target == nil || ref.APIVersion != "apps/v1" {
			t.Errorf("HPA %s: target %s %s/%s not in the build", h.Name, ref.APIVersion, ref.Kind, ref.Name)
			continue
		}
		if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas > h.Spec.MaxReplicas || *h.Spec.MinReplicas < 1 {
			t.Errorf("HPA %s: bad replica range", h.Name)
		}
		hasCPU := false
		for _, m := range h.Spec.Metrics {
			if m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource.Name == corev1.ResourceCPU {
				hasCPU = true
				// Utilization is relative to the request: every container needs one.
				for _, c := range target.template.Spec.Containers {
					if _, ok := c.Resources.Requests[corev1.ResourceCPU]; !ok {
						t.Errorf("HPA %s scales on CPU but container %s has no CPU request", h.Name, c.Name)
					}
				}
			}
		}
		if !hasCPU {
			t.Errorf("HPA %s has no CPU metric", h.Name)
		}
	}
}

func checkNATS(t *testing.T, b *build) {
	for _, s := range b.statefulSets {
		if s.Name != "avap-nats" {
			continue
		}
		conf := ""
		for _, v := range s.Spec.Template.Spec.Volumes {
			if v.ConfigMap != nil {
				conf = b.configMaps[v.ConfigMap.Name].Data["nats.conf"]
			}
		}
		if !strings.Contains(conf, "jetstream") {
			t.Fatalf("avap-nats: nats.conf without JetStream:\n%s", conf)
		}
		replicas := deref(s.Spec.Replicas, 1)
		clustered := strings.Contains(conf, "cluster {")
		if replicas > 1 && !clustered || replicas == 1 && clustered {
			t.Errorf("avap-nats: %d replicas but clustered=%v", replicas, clustered)
		}
		if b.name == "prod" && replicas != 3 {
			t.Errorf("avap-nats: prod has %d replicas, want 3", replicas)
		}
		if clustered {
			for i := range replicas {
				route := fmt.Sprintf("avap-nats-%d.%s:6222", i, s.Spec.ServiceName)
				if !strings.Contains(conf, route) {
					t.Errorf("avap-nats: nats.conf has no route to %s", route)
				}
			}
		}
		if len(s.Spec.VolumeClaimTemplates) != 1 {
			t.Errorf("avap-nats: want one volumeClaimTemplate for the JetStream store")
		}
		ld := natsDuration(t, conf, "lame_duck_duration") + natsDuration(t, conf, "lame_duck_grace_period")
		if tg := deref(s.Spec.Template.Spec.TerminationGracePeriodSeconds, 30); int64(ld.Seconds()) >= tg {
			t.Errorf("avap-nats: terminationGracePeriodSeconds %d <= lame duck %s", tg, ld)
		}
	}
}
