package deploy

import (
	"bufio"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

const (
	baseDir    = "kustomize/base"
	exampleDir = "kustomize/overlays/example"
	tlsDir     = "kustomize/components/tls"
)

// TestManifests builds the base and the example overlay as `kubectl apply -k` would, decodes every
// object strictly into its API type and checks it against the daemon and the requirements.
func TestManifests(t *testing.T) {
	t.Parallel()
	suspended := true
	tests := []struct {
		dir  string
		want expectations
		kind map[string]int // objects of each kind the build must hold
	}{
		{
			dir:  baseDir,
			want: expectations{syncSuspended: &suspended},
			kind: map[string]int{"Deployment": 1, "CronJob": 2, "Service": 1, "ServiceAccount": 1, "PodDisruptionBudget": 1, "ServiceMonitor": 1},
		},
		{
			dir:  exampleDir,
			want: expectations{complete: true},
			kind: map[string]int{"Deployment": 1, "CronJob": 2, "Service": 1, "ServiceAccount": 1, "PodDisruptionBudget": 1, "ServiceMonitor": 1, "ConfigMap": 2, "Secret": 1, "Namespace": 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			t.Parallel()
			m, err := build(filesys.MakeFsOnDisk(), tt.dir)
			if err != nil {
				t.Fatal(err)
			}
			for kind, n := range tt.kind {
				if got := m.count(kind); got != n {
					t.Errorf("%d objects of kind %s, want %d", got, kind, n)
				}
			}
			for _, err := range check(m, testDaemon, tt.want) {
				t.Error(err)
			}
		})
	}
}

// count returns how many objects of a kind the build holds.
func (m *manifests) count(kind string) int {
	return map[string]int{
		"Deployment": len(m.deployments), "CronJob": len(m.cronJobs), "Service": len(m.services),
		"ServiceAccount": len(m.serviceAccounts), "ConfigMap": len(m.configMaps), "Secret": len(m.secrets),
		"Namespace": len(m.namespaces), "PodDisruptionBudget": len(m.pdbs), "ServiceMonitor": len(m.serviceMonitors),
	}[kind]
}

// TestExampleOverlayNamespace: the overlay puts everything in its namespace, which enforces the
// restricted Pod Security Standard the pods are written for.
func TestExampleOverlayNamespace(t *testing.T) {
	t.Parallel()
	m, err := build(filesys.MakeFsOnDisk(), exampleDir)
	if err != nil {
		t.Fatal(err)
	}
	ns, ok := m.namespaces["stsorgsync"]
	if !ok {
		t.Fatalf("no Namespace stsorgsync")
	}
	if got := ns.Labels["pod-security.kubernetes.io/enforce"]; got != "restricted" {
		t.Errorf("Namespace stsorgsync enforces %q, want restricted", got)
	}
	for _, p := range m.pods() {
		if c, err := p.container(); err != nil {
			t.Error(err)
		} else if c.Image != "registry.example.invalid/stsorgsync:1.0.0" {
			t.Errorf("%s: image %q, want the overlay's", p.owner, c.Image)
		}
	}
	for name, d := range m.deployments {
		if d.Namespace != "stsorgsync" {
			t.Errorf("Deployment %s in namespace %q", name, d.Namespace)
		}
	}
}

// TestChecksCatchFaults: each fault, made in the example overlay's built objects, is reported.
func TestChecksCatchFaults(t *testing.T) {
	t.Parallel()
	daemonContainer := func(m *manifests) *corev1.Container {
		return &m.deployments["stsorgsync"].Spec.Template.Spec.Containers[0]
	}
	setEnv := func(c *corev1.Container, name, value string) {
		for i := range c.Env {
			if c.Env[i].Name == name {
				c.Env[i].Value = value
				return
			}
		}
		c.Env = append(c.Env, corev1.EnvVar{Name: name, Value: value})
	}
	configMap := func(m *manifests, prefix string) *corev1.ConfigMap {
		for name, cm := range m.configMaps {
			if strings.HasPrefix(name, prefix) {
				return cm
			}
		}
		t.Fatalf("no ConfigMap %s-…", prefix)
		return nil
	}
	tests := []struct {
		name  string
		fault func(m *manifests)
		want  string
	}{
		{"one replica", func(m *manifests) { one := int32(1); m.deployments["stsorgsync"].Spec.Replicas = &one }, "replicas 1, want 2"},
		{"liveness on the wrong path", func(m *manifests) { daemonContainer(m).LivenessProbe.HTTPGet.Path = "/health" }, "livenessProbe: path /health"},
		{"readiness on another port", func(m *manifests) { setEnv(daemonContainer(m), "HTTP_LISTEN", ":8080") }, "readinessProbe: port http (9090)"},
		{"readiness timeout within /readyz's own", func(m *manifests) { daemonContainer(m).ReadinessProbe.TimeoutSeconds = 5 }, "timeoutSeconds 5"},
		{"GOMEMLIMIT above the limit", func(m *manifests) { setEnv(daemonContainer(m), "GOMEMLIMIT", "600MiB") }, "GOMEMLIMIT 600MiB is 117 %"},
		{"GOMEMLIMIT in Kubernetes' syntax", func(m *manifests) { setEnv(daemonContainer(m), "GOMEMLIMIT", "435Mi") }, "not a number with B, KiB"},
		{"no GOMEMLIMIT", func(m *manifests) {
			c := daemonContainer(m)
			c.Env = slices.DeleteFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == "GOMEMLIMIT" })
		}, "no GOMEMLIMIT"},
		{"a secret in a variable", func(m *manifests) { setEnv(daemonContainer(m), "AMQP_URL", "amqp://u:p@h/") }, "env AMQP_URL holds a secret"},
		{"a misspelt setting", func(m *manifests) { setEnv(daemonContainer(m), "AMQP_URL_FIEL", "/x") }, "env AMQP_URL_FIEL is not a setting"},
		{"a secret file on a ConfigMap volume", func(m *manifests) {
			setEnv(daemonContainer(m), "MO_CLIENT_SECRET_FILE", "/etc/stsorgsync/config/mo-client-secret")
		}, "MO_CLIENT_SECRET_FILE=/etc/stsorgsync/config/mo-client-secret is on volume config, which is not a Secret"},
		{"the organisation certificate on no volume", func(m *manifests) { setEnv(daemonContainer(m), "STS_P12_FILE", "/pki/client.p12") }, "STS_P12_FILE=/pki/client.p12 is on no mounted volume"},
		{"a secret key missing", func(m *manifests) {
			for _, s := range m.secrets {
				delete(s.Data, "redis-url")
			}
		}, "volume secrets has no key redis-url"},
		{"a ConfigMap not in the build", func(m *manifests) {
			for k := range m.configMaps {
				if strings.HasPrefix(k, "stsorgsync-kombit-certs") {
					delete(m.configMaps, k)
				}
			}
		}, "ConfigMap stsorgsync-kombit-certs-"},
		{"a secret in the config file", func(m *manifests) {
			configMap(m, "stsorgsync-config").Data["stsorgsync.env"] += "MO_CLIENT_SECRET=hunter2\n"
		}, "MO_CLIENT_SECRET is a secret"},
		{"a misspelt key in the config file", func(m *manifests) {
			configMap(m, "stsorgsync-config").Data["stsorgsync.env"] += "SYNC_INTERVALL=24h\n"
		}, "SYNC_INTERVALL is not a setting"},
		{"writable root filesystem", func(m *manifests) { f := false; daemonContainer(m).SecurityContext.ReadOnlyRootFilesystem = &f }, "readOnlyRootFilesystem is not true"},
		{"may run as root", func(m *manifests) {
			m.cronJobs["stsorgsync-verify"].Spec.JobTemplate.Spec.Template.Spec.SecurityContext.RunAsNonRoot = nil
		}, "CronJob stsorgsync-verify: runAsNonRoot is not true"},
		{"capabilities kept", func(m *manifests) { daemonContainer(m).SecurityContext.Capabilities = nil }, "capabilities must drop ALL"},
		{"privilege escalation", func(m *manifests) { tr := true; daemonContainer(m).SecurityContext.AllowPrivilegeEscalation = &tr }, "allowPrivilegeEscalation is not false"},
		{"no seccomp profile", func(m *manifests) {
			m.deployments["stsorgsync"].Spec.Template.Spec.SecurityContext.SeccompProfile = nil
		}, "seccompProfile is not RuntimeDefault"},
		{"a service account token", func(m *manifests) {
			tr := true
			m.cronJobs["stsorgsync-sync"].Spec.JobTemplate.Spec.Template.Spec.AutomountServiceAccountToken = &tr
		}, "CronJob stsorgsync-sync: automountServiceAccountToken is not false"},
		{"grace period not above SHUTDOWN_TIMEOUT", func(m *manifests) {
			g := int64(30)
			m.deployments["stsorgsync"].Spec.Template.Spec.TerminationGracePeriodSeconds = &g
		}, "terminationGracePeriodSeconds 30 is not longer than SHUTDOWN_TIMEOUT 30s"},
		{"replicas on one node", func(m *manifests) { m.deployments["stsorgsync"].Spec.Template.Spec.TopologySpreadConstraints = nil }, "not spread over nodes"},
		{"no PodDisruptionBudget", func(m *manifests) { m.pdbs = map[string]*policyv1.PodDisruptionBudget{} }, "0 PodDisruptionBudgets"},
		{"ServiceMonitor on a port name the Service lacks", func(m *manifests) {
			m.serviceMonitors["stsorgsync"].Spec.Endpoints[0].Port = "metrics"
		}, `port "metrics" is not a port name of Service stsorgsync-metrics`},
		{"ServiceMonitor selecting no Service", func(m *manifests) {
			m.services["stsorgsync-metrics"].Labels = map[string]string{"app": "other"}
		}, "selects no Service"},
		{"Service selecting other pods", func(m *manifests) {
			m.services["stsorgsync-metrics"].Spec.Selector = map[string]string{"app.kubernetes.io/component": "verify"}
		}, "does not select the daemon's pods"},
		{"a misspelt command", func(m *manifests) {
			m.cronJobs["stsorgsync-verify"].Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args = []string{"vrify", "--json"}
		}, `CronJob stsorgsync-verify: args: ["vrify" "--json"]`},
		{"an unknown flag", func(m *manifests) {
			m.cronJobs["stsorgsync-verify"].Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args = []string{"verify", "--jsno"}
		}, "unknown flag: --jsno"},
		{"verify runs concurrently", func(m *manifests) { m.cronJobs["stsorgsync-verify"].Spec.ConcurrencyPolicy = "Allow" }, `concurrencyPolicy "Allow", want Forbid`},
		{"sync in the daemon and in the CronJob", func(m *manifests) {
			f := false
			m.cronJobs["stsorgsync-sync"].Spec.Suspend = &f
		}, `suspend false, but SYNC_INTERVAL is "24h"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := build(filesys.MakeFsOnDisk(), exampleDir)
			if err != nil {
				t.Fatal(err)
			}
			if errs := check(m, testDaemon, expectations{complete: true}); len(errs) != 0 {
				t.Fatalf("the overlay fails before the fault: %v", errors.Join(errs...))
			}
			tt.fault(m)
			errs := check(m, testDaemon, expectations{complete: true})
			if !slices.ContainsFunc(errs, func(err error) bool { return strings.Contains(err.Error(), tt.want) }) {
				t.Errorf("no error containing %q; got %v", tt.want, errors.Join(errs...))
			}
		})
	}
}

// TestStrictDecoding: kustomize passes any YAML through, so a misspelt or mistyped field must fail
// in the decoding, as the API server's strict field validation would.
func TestStrictDecoding(t *testing.T) {
	t.Parallel()
	const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: stsorgsync
spec:
  %s
  selector:
    matchLabels: {app: stsorgsync}
  template:
    metadata:
      labels: {app: stsorgsync}
    spec:
      containers:
        - name: stsorgsync
          image: stsorgsync
          livenessProbe:
            httpGet: {%s: /healthz, port: 9090}
`
	tests := []struct {
		name string
		doc  string
		want string // "" for no error
	}{
		{"valid", fmt.Sprintf(deployment, "replicas: 2", "path"), ""},
		{"misspelt field", fmt.Sprintf(deployment, "replica: 2", "path"), `unknown field "spec.replica"`},
		{"field in the wrong case", fmt.Sprintf(deployment, "Replicas: 2", "path"), `unknown field "spec.Replicas"`},
		{"misspelt nested field", fmt.Sprintf(deployment, "replicas: 2", "paht"), `unknown field "spec.template.spec.containers[0].livenessProbe.httpGet.paht"`},
		{"wrong type", fmt.Sprintf(deployment, "replicas: two", "path"), "cannot unmarshal string"},
		{"misspelt ServiceMonitor field", "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: x}\nspec:\n  selector: {matchLabels: {a: b}}\n  endpoint: [{port: http-metrics}]\n", `unknown field "spec.endpoint"`},
		{"misspelt CronJob field", "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: x}\nspec:\n  schedule: '@daily'\n  concurrencyPolicies: Forbid\n  jobTemplate: {spec: {template: {spec: {containers: [{name: x, image: x}]}}}}\n", `unknown field "spec.concurrencyPolicies"`},
		{"a retired API version", "apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata: {name: x}\nspec: {minAvailable: 1}\n", "unexpected kind PodDisruptionBudget (apiVersion policy/v1beta1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fs := filesys.MakeFsInMemory()
			must(t, fs.WriteFile("/k/kustomization.yaml", []byte("resources: [object.yaml]\n")))
			must(t, fs.WriteFile("/k/object.yaml", []byte(tt.doc)))
			_, err := build(fs, "/k")
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("build: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("build: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestHAExample checks the example's high-availability part, commented out in the overlay until
// the daemon has the settings: the TLS component mounts the Secret stsorgsync-tls in every pod and
// every file the commented settings name is one of its keys. The commented setting names must be
// the daemon's once it has any of them (then uncomment them; TestManifests checks them as every
// other key).
func TestHAExample(t *testing.T) {
	t.Parallel()
	ha, err := commentedHASettings(filepath.Join(exampleDir, "config", "stsorgsync.env"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ha) < 4 {
		t.Fatalf("found %d commented HA settings (#HA: KEY=VALUE) in the example, want the RabbitMQ and Redis ones", len(ha))
	}

	// The overlay with the TLS component, the Secret stsorgsync-tls and the Sentinel password, as
	// the example's comments say.
	overlay, err := filepath.Abs(exampleDir)
	must(t, err)
	component, err := filepath.Abs(tlsDir)
	must(t, err)
	dir := t.TempDir()
	// kustomize takes only relative paths to other kustomizations.
	overlay, err = filepath.Rel(dir, overlay)
	must(t, err)
	component, err = filepath.Rel(dir, component)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(`namespace: stsorgsync
resources: [`+overlay+`]
components: [`+component+`]
secretGenerator:
  - name: stsorgsync-tls
    literals: [ca.pem=fake, client.pem=fake, client-key.pem=fake]
  - name: stsorgsync-secrets
    behavior: merge
    literals: [redis-sentinel-password=fake]
`), 0o644))
	m, err := build(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range check(m, testDaemon, expectations{complete: true}) {
		t.Error(err)
	}
	for _, p := range m.pods() {
		c, err := p.container()
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range ha {
			name, file, _ := strings.Cut(kv, "=")
			if !strings.HasSuffix(name, "_FILE") {
				continue
			}
			v, key, ro := mountedVolume(p.spec, c, file)
			if v == nil || v.Secret == nil || !ro {
				t.Errorf("%s: %s is on no read-only Secret volume", p.owner, kv)
				continue
			}
			if data, err := m.volumeData(v); err != nil {
				t.Errorf("%s: %s: %v", p.owner, kv, err)
			} else if _, ok := data[key]; !ok {
				t.Errorf("%s: %s: Secret %s has no key %s", p.owner, kv, v.Secret.SecretName, key)
			}
		}
	}

	// The settings come in families (AMQP_, REDIS_), each added to the daemon at once: a family
	// the daemon has none of is not there yet; one it has only some of is misnamed here.
	families := map[string][]string{}
	for _, kv := range ha {
		name, _, _ := strings.Cut(kv, "=")
		family, _, _ := strings.Cut(name, "_")
		families[family] = append(families[family], name)
	}
	var uncommentable []string
	for _, family := range slices.Sorted(maps.Keys(families)) {
		names := families[family]
		known := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return !testDaemon.knows(n) })
		switch {
		case len(known) == 0:
			t.Errorf("the daemon knows none of the example's %s_ HA settings %v: correct the example's names", family, names)
		case len(known) != len(names):
			t.Errorf("the daemon knows the HA settings %v but not all of %v: correct the example's names", known, names)
		default:
			for _, kv := range ha {
				if strings.HasPrefix(kv, family+"_") {
					uncommentable = append(uncommentable, kv)
				}
			}
		}
	}
	// Uncommented, the settings the daemon has would pass as the config file's other keys do.
	if _, err := checkConfigFile(testDaemon, strings.Join(uncommentable, "\n")); err != nil {
		t.Errorf("the HA settings, uncommented: %v", err)
	}
}

// commentedHASettings returns the KEY=VALUE of every "#HA: KEY=VALUE" line of a config file.
func commentedHASettings(file string) ([]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var kvs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if kv, ok := strings.CutPrefix(sc.Text(), "#HA: "); ok {
			kvs = append(kvs, strings.TrimSpace(kv))
		}
	}
	return kvs, sc.Err()
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
