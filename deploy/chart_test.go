package deploy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/kurzlink/kurz/deploy"
	"github.com/kurzlink/kurz/plugin"
)

// The kinds kurz's chart may render, each decoded into its own type: the
// Kubernetes API's, or small local structs of the fields kurz uses for the
// custom resources of Traefik, CloudNativePG, the OT redis-operator and KEDA.
var kinds = map[string]func() any{
	"v1/ConfigMap":                                        func() any { return &corev1.ConfigMap{} },
	"v1/Service":                                          func() any { return &corev1.Service{} },
	"apps/v1/Deployment":                                  func() any { return &appsv1.Deployment{} },
	"policy/v1/PodDisruptionBudget":                       func() any { return &policyv1.PodDisruptionBudget{} },
	"autoscaling/v2/HorizontalPodAutoscaler":              func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"traefik.io/v1alpha1/Middleware":                      func() any { return &middleware{} },
	"traefik.io/v1alpha1/IngressRoute":                    func() any { return &ingressRoute{} },
	"postgresql.cnpg.io/v1/Cluster":                       func() any { return &cnpgCluster{} },
	"redis.redis.opstreelabs.in/v1beta2/RedisReplication": func() any { return &redisReplication{} },
	"redis.redis.opstreelabs.in/v1beta2/RedisSentinel":    func() any { return &redisSentinel{} },
	"keda.sh/v1alpha1/ScaledObject":                       func() any { return &scaledObject{} },
	"monitoring.coreos.com/v1/PrometheusRule":             func() any { return &prometheusRule{} },
}

// prometheusRule is the Prometheus Operator's PrometheusRule, with the fields of a rule file.
type prometheusRule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              ruleFile `json:"spec"`
}

type ruleFile struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []struct {
			Record      string            `json:"record,omitempty"`
			Alert       string            `json:"alert,omitempty"`
			Expr        string            `json:"expr"`
			For         string            `json:"for,omitempty"`
			Labels      map[string]string `json:"labels,omitempty"`
			Annotations map[string]string `json:"annotations,omitempty"`
		} `json:"rules"`
	} `json:"groups"`
}

type middleware struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Plugin    map[string]json.RawMessage `json:"plugin,omitempty"`
		RateLimit *struct {
			Average int    `json:"average"`
			Burst   int    `json:"burst"`
			Period  string `json:"period"`
		} `json:"rateLimit,omitempty"`
		Retry *struct {
			Attempts        int    `json:"attempts"`
			InitialInterval string `json:"initialInterval"`
		} `json:"retry,omitempty"`
	} `json:"spec"`
}

type ingressRoute struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		EntryPoints []string `json:"entryPoints"`
		Routes      []struct {
			Kind        string `json:"kind"`
			Match       string `json:"match"`
			Priority    int    `json:"priority"`
			Middlewares []struct {
				Name string `json:"name"`
			} `json:"middlewares"`
			Services []struct {
				Name string `json:"name"`
				Port int32  `json:"port"`
			} `json:"services"`
		} `json:"routes"`
	} `json:"spec"`
}

type cnpgCluster struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Instances             int    `json:"instances"`
		PrimaryUpdateStrategy string `json:"primaryUpdateStrategy"`
		Storage               struct {
			Size string `json:"size"`
		} `json:"storage"`
		Bootstrap struct {
			Initdb struct {
				Database string `json:"database"`
				Owner    string `json:"owner"`
			} `json:"initdb"`
		} `json:"bootstrap"`
		Postgresql struct {
			Parameters map[string]string `json:"parameters"`
		} `json:"postgresql"`
		MinSyncReplicas int `json:"minSyncReplicas,omitempty"`
		MaxSyncReplicas int `json:"maxSyncReplicas,omitempty"`
	} `json:"spec"`
}

type redisKubernetesConfig struct {
	Image           string `json:"image"`
	ImagePullPolicy string `json:"imagePullPolicy"`
	RedisSecret     struct {
		Name string `json:"name"`
		Key  string `json:"key"`
	} `json:"redisSecret"`
}

type redisReplication struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		ClusterSize      int                       `json:"clusterSize"`
		KubernetesConfig redisKubernetesConfig     `json:"kubernetesConfig"`
		Storage          json.RawMessage           `json:"storage"`
		PodSecurityCtx   corev1.PodSecurityContext `json:"podSecurityContext"`
	} `json:"spec"`
}

type redisSentinel struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		ClusterSize         int `json:"clusterSize"`
		RedisSentinelConfig struct {
			RedisReplicationName     string              `json:"redisReplicationName"`
			MasterGroupName          string              `json:"masterGroupName"`
			Quorum                   string              `json:"quorum"`
			DownAfterMilliseconds    string              `json:"downAfterMilliseconds"`
			RedisReplicationPassword corev1.EnvVarSource `json:"redisReplicationPassword"`
		} `json:"redisSentinelConfig"`
		KubernetesConfig redisKubernetesConfig     `json:"kubernetesConfig"`
		PodSecurityCtx   corev1.PodSecurityContext `json:"podSecurityContext"`
	} `json:"spec"`
}

type scaledObject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		ScaleTargetRef struct {
			Name string `json:"name"`
		} `json:"scaleTargetRef"`
		MinReplicaCount int `json:"minReplicaCount"`
		MaxReplicaCount int `json:"maxReplicaCount"`
		Triggers        []struct {
			Type     string            `json:"type"`
			Metadata map[string]string `json:"metadata"`
		} `json:"triggers"`
	} `json:"spec"`
}

// decodeStrict decodes case-sensitively, refusing unknown and duplicate fields.
func decodeStrict(data []byte, v any) error {
	strict, err := sigsjson.UnmarshalStrict(data, v, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
	if err != nil {
		return err
	}
	if len(strict) > 0 {
		return fmt.Errorf("%v", strict)
	}
	return nil
}

// rendered is a rendering of the chart, each object decoded strictly.
type rendered struct {
	objects []deploy.Object
	decoded map[string]any // kind/name → typed object
}

func (r rendered) get(kind, name string) any { return r.decoded[kind+"/"+name] }

func (r rendered) all(kind string) []any {
	var out []any
	for _, o := range r.objects {
		if o.Kind == kind {
			out = append(out, r.decoded[o.Kind+"/"+o.Name])
		}
	}
	return out
}

func MustRender(tb testing.TB, valueFiles ...string) rendered {
	tb.Helper()
	objects, err := deploy.Render("kurz", valueFiles...)
	if err != nil {
		tb.Fatal(err)
	}
	r := rendered{objects: objects, decoded: map[string]any{}}
	for _, o := range objects {
		newObject := kinds[o.APIVersion+"/"+o.Kind]
		if newObject == nil {
			tb.Fatalf("%s: %s %s is not a kind kurz's chart may render", o.Source, o.APIVersion, o.Kind)
		}
		v := newObject()
		if err := decodeStrict(o.JSON, v); err != nil {
			tb.Fatalf("%s: %s %s: %v", o.Source, o.Kind, o.Name, err)
		}
		if r.decoded[o.Kind+"/"+o.Name] != nil {
			tb.Fatalf("%s %s rendered twice", o.Kind, o.Name)
		}
		r.decoded[o.Kind+"/"+o.Name] = v
	}
	return r
}

// Strict decoding refuses what a lenient one would let through.
func TestDecodeStrict(t *testing.T) {
	for _, tc := range []struct{ name, doc string }{
		{"ErrUnknownField", `{"apiVersion":"v1","kind":"Service","metadata":{"name":"x"},"spec":{"selectr":{}}}`},
		{"ErrCase", `{"apiVersion":"v1","kind":"Service","metadata":{"name":"x"},"spec":{"Selector":{}}}`},
		{"ErrDuplicate", `{"apiVersion":"v1","kind":"Service","metadata":{"name":"x"},"spec":{"type":"ClusterIP","type":"NodePort"}}`},
	} {
		if err := decodeStrict([]byte(tc.doc), &corev1.Service{}); err == nil {
			t.Errorf("%s: decoded without an error", tc.name)
		}
	}
	if _, err := yaml.YAMLToJSONStrict([]byte("a: 1\na: 2\n")); err == nil {
		t.Error("a YAML document with a duplicate key converted without an error")
	}
}

func TestChartRenders(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []string
		want   map[string]int // kind → count
	}{
		{"Default", nil, map[string]int{"Deployment": 1, "Service": 1, "ConfigMap": 1, "PodDisruptionBudget": 1, "HorizontalPodAutoscaler": 1,
			"Middleware": 3, "IngressRoute": 1, "Cluster": 1, "RedisReplication": 1, "RedisSentinel": 1}},
		{"HAOff", []string{"values-ha-off.yaml"}, map[string]int{"Deployment": 1, "Service": 1, "ConfigMap": 1,
			"Middleware": 3, "IngressRoute": 1, "Cluster": 1, "RedisReplication": 1, "RedisSentinel": 1}},
		{"KEDA", []string{"testdata/keda.yaml"}, map[string]int{"Deployment": 1, "Service": 1, "ConfigMap": 1, "PodDisruptionBudget": 1, "ScaledObject": 1,
			"Middleware": 3, "IngressRoute": 1, "Cluster": 1, "RedisReplication": 1, "RedisSentinel": 1}},
		{"PrometheusRule", []string{"testdata/prometheus-rule.yaml"}, map[string]int{"Deployment": 1, "Service": 1, "ConfigMap": 1, "PodDisruptionBudget": 1,
			"HorizontalPodAutoscaler": 1, "Middleware": 3, "IngressRoute": 1, "Cluster": 1, "RedisReplication": 1, "RedisSentinel": 1, "PrometheusRule": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := MustRender(t, tc.values...)
			got := map[string]int{}
			for _, o := range r.objects {
				got[o.Kind]++
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("kinds = %v, want %v", got, tc.want)
			}
			checkReferences(t, r)
		})
	}
}

// checkReferences checks what refers to what across the rendered objects.
func checkReferences(t *testing.T, r rendered) {
	t.Helper()
	deployments := r.all("Deployment")
	if len(deployments) != 1 {
		t.Fatalf("%d Deployments", len(deployments))
	}
	d := deployments[0].(*appsv1.Deployment)
	pod := d.Spec.Template
	t.Run("ServiceSelectsThePods", func(t *testing.T) {
		for _, o := range r.all("Service") {
			svc := o.(*corev1.Service)
			for k, v := range svc.Spec.Selector {
				if pod.Labels[k] != v {
					t.Errorf("Service %s selects %s=%s, the pods have %q", svc.Name, k, v, pod.Labels[k])
				}
			}
			for _, p := range svc.Spec.Ports {
				if !hasContainerPort(pod.Spec, p.TargetPort.StrVal) {
					t.Errorf("Service %s targets port %q, which no container names", svc.Name, p.TargetPort.StrVal)
				}
			}
		}
		for k, v := range d.Spec.Selector.MatchLabels {
			if pod.Labels[k] != v {
				t.Errorf("the Deployment selects %s=%s, its pods have %q", k, v, pod.Labels[k])
			}
		}
	})
	t.Run("PodIsHardened", func(t *testing.T) {
		sc := pod.Spec.SecurityContext
		if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
			t.Error("the pod may run as root")
		}
		for _, c := range pod.Spec.Containers {
			if c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
				t.Errorf("container %s: root filesystem writable", c.Name)
			}
			if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
				t.Errorf("container %s: no CPU request or memory limit", c.Name)
			}
		}
	})
	t.Run("ProbesHitRealRoutes", func(t *testing.T) {
		routes := MustOpenAPIPaths(t)
		for _, c := range pod.Spec.Containers {
			for what, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe, "startup": c.StartupProbe} {
				if p == nil || p.HTTPGet == nil {
					t.Errorf("container %s: no HTTP %s probe", c.Name, what)
					continue
				}
				if !routes[p.HTTPGet.Path] {
					t.Errorf("%s probe: GET %s is no route of the backend's OpenAPI document", what, p.HTTPGet.Path)
				}
				if !hasContainerPort(pod.Spec, p.HTTPGet.Port.StrVal) {
					t.Errorf("%s probe: port %q is not the container's", what, p.HTTPGet.Port.StrVal)
				}
			}
			if c.ReadinessProbe != nil && c.ReadinessProbe.HTTPGet.Path != "/health/ready" {
				t.Errorf("readiness probe on %s, want /health/ready (fails only when the replica can serve nothing)", c.ReadinessProbe.HTTPGet.Path)
			}
		}
	})
	t.Run("ConfigAndSecretKeys", func(t *testing.T) {
		documented := MustDocumentedSecretKeys(t)
		for _, c := range pod.Spec.Containers {
			for _, from := range c.EnvFrom {
				if from.ConfigMapRef == nil || r.get("ConfigMap", from.ConfigMapRef.Name) == nil {
					t.Errorf("envFrom %+v names no rendered ConfigMap", from)
				}
			}
			defined := map[string]bool{}
			for _, e := range c.Env {
				for _, ref := range regexp.MustCompile(`\$\(([A-Z_]+)\)`).FindAllStringSubmatch(e.Value, -1) {
					if !defined[ref[1]] {
						t.Errorf("env %s uses $(%s) before it is defined", e.Name, ref[1])
					}
				}
				defined[e.Name] = true
				if e.ValueFrom == nil {
					continue
				}
				if ref := e.ValueFrom.SecretKeyRef; ref != nil && !documented[ref.Name+"/"+ref.Key] {
					t.Errorf("env %s reads Secret %s key %s, which deploy/README.md does not document", e.Name, ref.Name, ref.Key)
				}
				if ref := e.ValueFrom.ConfigMapKeyRef; ref != nil {
					cm, _ := r.get("ConfigMap", ref.Name).(*corev1.ConfigMap)
					if cm == nil || cm.Data[ref.Key] == "" {
						t.Errorf("env %s reads ConfigMap %s key %s, which is not rendered", e.Name, ref.Name, ref.Key)
					}
				}
			}
		}
		for _, o := range r.all("Middleware") {
			for _, settings := range o.(*middleware).Spec.Plugin {
				for _, urn := range regexp.MustCompile(`urn:k8s:secret:([^:"]+):([^"]+)`).FindAllStringSubmatch(string(settings), -1) {
					if !documented[urn[1]+"/"+urn[2]] {
						t.Errorf("the plugin reads Secret %s key %s, which deploy/README.md does not document", urn[1], urn[2])
					}
				}
			}
		}
	})
	t.Run("RoutesAsInTheFileProvider", func(t *testing.T) {
		want := MustFileRouters(t)
		routes := r.all("IngressRoute")
		if len(routes) != 1 {
			t.Fatalf("%d IngressRoutes, want 1", len(routes))
		}
		ir := routes[0].(*ingressRoute)
		if len(ir.Spec.Routes) != len(want) {
			t.Fatalf("%d routes, want %d as traefik/dynamic/kurz.yml", len(ir.Spec.Routes), len(want))
		}
		for i, route := range ir.Spec.Routes {
			w := want[i]
			var names []string
			for _, m := range route.Middlewares {
				names = append(names, m.Name)
				if r.get("Middleware", m.Name) == nil {
					t.Errorf("route %d names middleware %s, which is not rendered", i, m.Name)
				}
			}
			if route.Match != w.Rule || route.Priority != w.Priority || !slices.Equal(names, w.Middlewares) {
				t.Errorf("route %d = %q priority %d %v, want %q priority %d %v", i, route.Match, route.Priority, names, w.Rule, w.Priority, w.Middlewares)
			}
			for _, s := range route.Services {
				svc, _ := r.get("Service", s.Name).(*corev1.Service)
				if svc == nil || !hasServicePort(svc, s.Port) {
					t.Errorf("route %d sends to Service %s port %d, which is not rendered", i, s.Name, s.Port)
				}
			}
		}
	})
	t.Run("PluginSettingsDecode", func(t *testing.T) {
		edge, _ := r.get("Middleware", "kurz-edge").(*middleware)
		if edge == nil || edge.Spec.Plugin["kurz"] == nil {
			t.Fatal("no kurz-edge Middleware with the kurz plugin")
		}
		cfg := MustPluginConfig(t, edge.Spec.Plugin["kurz"])
		cm := r.all("ConfigMap")[0].(*corev1.ConfigMap)
		if len(cfg.SentinelAddresses) != 1 || cfg.SentinelAddresses[0] != cm.Data["KURZ_REDIS_SENTINELS"] || cfg.MasterName != cm.Data["KURZ_REDIS_MASTER_NAME"] {
			t.Errorf("the plugin asks %v for %q, the backends %q for %q", cfg.SentinelAddresses, cfg.MasterName, cm.Data["KURZ_REDIS_SENTINELS"], cm.Data["KURZ_REDIS_MASTER_NAME"])
		}
		if cfg.CodeSecret == "" {
			t.Error("the plugin has no codeSecret: unknown codes would reach the backends")
		}
	})
	t.Run("DataServices", func(t *testing.T) {
		cm := r.all("ConfigMap")[0].(*corev1.ConfigMap)
		sentinels := r.all("RedisSentinel")
		if len(sentinels) != 1 {
			t.Fatalf("%d RedisSentinels", len(sentinels))
		}
		s := sentinels[0].(*redisSentinel)
		// The operator names the Sentinels' Service <name>-sentinel.
		if want := s.Name + "-sentinel." + deploy.Namespace + ".svc:26379"; cm.Data["KURZ_REDIS_SENTINELS"] != want {
			t.Errorf("KURZ_REDIS_SENTINELS = %q, want %q", cm.Data["KURZ_REDIS_SENTINELS"], want)
		}
		if s.Spec.RedisSentinelConfig.MasterGroupName != cm.Data["KURZ_REDIS_MASTER_NAME"] {
			t.Errorf("Sentinel's master group %q, the backends ask for %q", s.Spec.RedisSentinelConfig.MasterGroupName, cm.Data["KURZ_REDIS_MASTER_NAME"])
		}
		if r.get("RedisReplication", s.Spec.RedisSentinelConfig.RedisReplicationName) == nil {
			t.Errorf("the Sentinels watch RedisReplication %q, which is not rendered", s.Spec.RedisSentinelConfig.RedisReplicationName)
		}
		pg := r.all("Cluster")[0].(*cnpgCluster)
		var replicaURL, databaseURL string
		for _, e := range pod.Spec.Containers[0].Env {
			switch e.Name {
			case "DATABASE_REPLICA_URL":
				replicaURL = e.Value
			case "DATABASE_URL":
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					databaseURL = e.ValueFrom.SecretKeyRef.Name
				}
			}
		}
		if databaseURL != pg.Name+"-app" {
			t.Errorf("DATABASE_URL from Secret %q, want CloudNativePG's %s-app", databaseURL, pg.Name)
		}
		if hasReplica := pg.Spec.Instances > 1; hasReplica != strings.Contains(replicaURL, "@"+pg.Name+"-ro:") {
			t.Errorf("%d instances, DATABASE_REPLICA_URL %q: want reads from %s-ro exactly when there are replicas", pg.Spec.Instances, replicaURL, pg.Name)
		}
	})
	t.Run("Autoscaling", func(t *testing.T) {
		for _, o := range r.all("HorizontalPodAutoscaler") {
			if h := o.(*autoscalingv2.HorizontalPodAutoscaler); h.Spec.ScaleTargetRef.Name != d.Name {
				t.Errorf("HPA scales %q, not the Deployment", h.Spec.ScaleTargetRef.Name)
			}
		}
		for _, o := range r.all("ScaledObject") {
			if s := o.(*scaledObject); s.Spec.ScaleTargetRef.Name != d.Name {
				t.Errorf("ScaledObject scales %q, not the Deployment", s.Spec.ScaleTargetRef.Name)
			}
		}
		if len(r.all("HorizontalPodAutoscaler")) > 0 && len(r.all("ScaledObject")) > 0 {
			t.Error("an HPA and a KEDA ScaledObject on the same Deployment")
		}
		for _, o := range r.all("PodDisruptionBudget") {
			p := o.(*policyv1.PodDisruptionBudget)
			for k, v := range p.Spec.Selector.MatchLabels {
				if pod.Labels[k] != v {
					t.Errorf("PDB selects %s=%s, the pods have %q", k, v, pod.Labels[k])
				}
			}
		}
	})
}

func hasContainerPort(spec corev1.PodSpec, name string) bool {
	for _, c := range spec.Containers {
		for _, p := range c.Ports {
			if p.Name == name {
				return true
			}
		}
	}
	return false
}

func hasServicePort(svc *corev1.Service, port int32) bool {
	for _, p := range svc.Spec.Ports {
		if p.Port == port {
			return true
		}
	}
	return false
}

// MustPluginConfig decodes the plugin's settings into plugin.Config as
// Traefik would, refusing fields the plugin does not know.
func MustPluginConfig(tb testing.TB, settings json.RawMessage) *plugin.Config {
	tb.Helper()
	cfg := plugin.CreateConfig()
	dec := json.NewDecoder(bytes.NewReader(settings))
	dec.DisallowUnknownFields()
	if err := dec.Decode(cfg); err != nil {
		tb.Fatalf("plugin settings: %v", err)
	}
	return cfg
}

// MustOpenAPIPaths are the backend's GET routes.
func MustOpenAPIPaths(tb testing.TB) map[string]bool {
	tb.Helper()
	b, err := os.ReadFile("../backend/http/openapi.json")
	if err != nil {
		tb.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		tb.Fatal(err)
	}
	get := map[string]bool{}
	for path, ops := range doc.Paths {
		if ops["get"] != nil {
			get[path] = true
		}
	}
	return get
}

// MustDocumentedSecretKeys are the "secret/key" pairs deploy/README.md
// documents, as `secret/key` in its table of secrets.
func MustDocumentedSecretKeys(tb testing.TB) map[string]bool {
	tb.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		tb.Fatal(err)
	}
	keys := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z0-9-]+)/([A-Za-z0-9_]+)` \\|").FindAllStringSubmatch(string(b), -1) {
		keys[m[1]+"/"+m[2]] = true
	}
	if len(keys) == 0 {
		tb.Fatal("deploy/README.md documents no secret keys")
	}
	return keys
}

type fileRouter struct {
	Rule        string
	Priority    int
	Middlewares []string
}

// MustFileRouters are the routers of traefik/dynamic/kurz.yml (the native
// stack's and docker-compose's), highest priority first.
func MustFileRouters(tb testing.TB) []fileRouter {
	tb.Helper()
	b, err := os.ReadFile("../traefik/dynamic/kurz.yml")
	if err != nil {
		tb.Fatal(err)
	}
	// The routers section holds no template actions outside quoted strings.
	text, _, ok := strings.Cut(string(b), "\n  middlewares:")
	if !ok {
		tb.Fatal("traefik/dynamic/kurz.yml: no middlewares section after the routers")
	}
	var doc struct {
		HTTP struct {
			Routers map[string]fileRouter `json:"routers"`
		} `json:"http"`
	}
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		tb.Fatal(err)
	}
	var routers []fileRouter
	for _, r := range doc.HTTP.Routers {
		routers = append(routers, r)
	}
	slices.SortFunc(routers, func(a, b fileRouter) int { return b.Priority - a.Priority })
	return routers
}

// With several short domains the edge gets the backends' list and every
// route matches those hosts only.
func TestChartServesSeveralDomains(t *testing.T) {
	r := MustRender(t, "testdata/domains.yaml")
	cm := r.all("ConfigMap")[0].(*corev1.ConfigMap)
	if got := cm.Data["KURZ_DOMAINS"]; got != "kurz.example,s.example.org" {
		t.Errorf("the backends' KURZ_DOMAINS = %q", got)
	}
	edge, _ := r.get("Middleware", "kurz-edge").(*middleware)
	if edge == nil {
		t.Fatal("no kurz-edge Middleware")
	}
	if got := MustPluginConfig(t, edge.Spec.Plugin["kurz"]).Domains; fmt.Sprint(got) != "[kurz.example s.example.org]" {
		t.Errorf("the edge's domains = %v, want the backends' list", got)
	}
	want := MustFileRouters(t)
	for i, route := range r.all("IngressRoute")[0].(*ingressRoute).Spec.Routes {
		if w := "(Host(`kurz.example`) || Host(`s.example.org`)) && (" + want[i].Rule + ")"; route.Match != w {
			t.Errorf("route %d = %q, want %q", i, route.Match, w)
		}
	}
}
