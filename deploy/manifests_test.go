package deploy

import (
	"bufio"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/resid"
)

// manifests are the objects one kustomization builds, each decoded into its API type.
type manifests struct {
	deployments     map[string]*appsv1.Deployment
	cronJobs        map[string]*batchv1.CronJob
	services        map[string]*corev1.Service
	serviceAccounts map[string]*corev1.ServiceAccount
	configMaps      map[string]*corev1.ConfigMap
	secrets         map[string]*corev1.Secret
	namespaces      map[string]*corev1.Namespace
	pdbs            map[string]*policyv1.PodDisruptionBudget
	serviceMonitors map[string]*monitoringv1.ServiceMonitor
}

// build runs kustomize (the library kubectl apply -k uses) on the kustomization in dir, on disk,
// and decodes every object strictly.
func build(fs filesys.FileSystem, dir string) (*manifests, error) {
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	m := &manifests{
		deployments: map[string]*appsv1.Deployment{}, cronJobs: map[string]*batchv1.CronJob{},
		services: map[string]*corev1.Service{}, serviceAccounts: map[string]*corev1.ServiceAccount{},
		configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{},
		namespaces: map[string]*corev1.Namespace{}, pdbs: map[string]*policyv1.PodDisruptionBudget{},
		serviceMonitors: map[string]*monitoringv1.ServiceMonitor{},
	}
	var errs []error
	for _, r := range resources.Resources() {
		doc, err := r.MarshalJSON()
		if err != nil {
			return nil, err
		}
		if err := m.add(r.GetGvk(), r.GetName(), doc); err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", r.GetGvk().Kind, r.GetName(), err))
		}
	}
	return m, errors.Join(errs...)
}

// add decodes one object by its group, version and kind; a kind the manifests should not have is
// an error.
func (m *manifests) add(gvk resid.Gvk, name string, doc []byte) error {
	switch gvk.ApiVersion() + "/" + gvk.Kind {
	case "apps/v1/Deployment":
		return decodeInto(m.deployments, name, doc)
	case "batch/v1/CronJob":
		return decodeInto(m.cronJobs, name, doc)
	case "v1/Service":
		return decodeInto(m.services, name, doc)
	case "v1/ServiceAccount":
		return decodeInto(m.serviceAccounts, name, doc)
	case "v1/ConfigMap":
		return decodeInto(m.configMaps, name, doc)
	case "v1/Secret":
		return decodeInto(m.secrets, name, doc)
	case "v1/Namespace":
		return decodeInto(m.namespaces, name, doc)
	case "policy/v1/PodDisruptionBudget":
		return decodeInto(m.pdbs, name, doc)
	case "monitoring.coreos.com/v1/ServiceMonitor":
		return decodeInto(m.serviceMonitors, name, doc)
	}
	return fmt.Errorf("unexpected kind %s (apiVersion %s): no API type to check it against", gvk.Kind, gvk.ApiVersion())
}

// decodeInto decodes doc strictly, as the API server's strict field validation does: an unknown or
// duplicate field, a field in the wrong case or a value of the wrong type is an error.
func decodeInto[T any](into map[string]*T, name string, doc []byte) error {
	obj := new(T)
	strict, err := kjson.UnmarshalStrict(doc, obj)
	if err != nil {
		return err
	}
	if err := errors.Join(strict...); err != nil {
		return err
	}
	into[name] = obj
	return nil
}

// pod is one pod template of the manifests: the daemon's or a CronJob's.
type pod struct {
	owner string // e.g. "Deployment stsorgsync"
	spec  *corev1.PodSpec
	meta  map[string]string // the template's labels
}

// pods are the pod templates of every Deployment and CronJob, by owner.
func (m *manifests) pods() []pod {
	var ps []pod
	for _, name := range slices.Sorted(maps.Keys(m.deployments)) {
		d := m.deployments[name]
		ps = append(ps, pod{"Deployment " + name, &d.Spec.Template.Spec, d.Spec.Template.Labels})
	}
	for _, name := range slices.Sorted(maps.Keys(m.cronJobs)) {
		c := m.cronJobs[name]
		ps = append(ps, pod{"CronJob " + name, &c.Spec.JobTemplate.Spec.Template.Spec, c.Spec.JobTemplate.Spec.Template.Labels})
	}
	return ps
}

// container returns the pod's stsorgsync container.
func (p pod) container() (*corev1.Container, error) {
	for i := range p.spec.Containers {
		if p.spec.Containers[i].Name == "stsorgsync" {
			return &p.spec.Containers[i], nil
		}
	}
	return nil, fmt.Errorf("%s: no container named stsorgsync", p.owner)
}

// env returns the value of the container's environment variable name.
func env(c *corev1.Container, name string) (string, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}

// mountedVolume returns the volume the container mounts at the directory holding file, and the
// file's path below the mount.
func mountedVolume(spec *corev1.PodSpec, c *corev1.Container, file string) (*corev1.Volume, string, bool) {
	for _, vm := range c.VolumeMounts {
		rel, ok := strings.CutPrefix(file, strings.TrimSuffix(vm.MountPath, "/")+"/")
		if !ok || vm.SubPath != "" {
			continue
		}
		for i := range spec.Volumes {
			if spec.Volumes[i].Name == vm.Name {
				return &spec.Volumes[i], rel, vm.ReadOnly
			}
		}
	}
	return nil, "", false
}

// expectations are what the checks require of one kustomization.
type expectations struct {
	// complete: the ConfigMaps and Secrets the pods mount are part of the build (an overlay), so
	// every reference must resolve and every file must exist.
	complete bool
	// syncSuspended: the scheduled-sync CronJob must be suspended (the base), or must be exactly
	// when the config file sets SYNC_INTERVAL (an overlay, when nil).
	syncSuspended *bool
}

// secretFiles are the files every pod reads that hold a secret, by setting: the secret settings'
// NAME_FILE and the organisation certificate with its private key. Each must be on a Secret
// volume. (A secret setting the manifests do not use, e.g. REDIS_SENTINEL_PASSWORD, may be left
// out; if it is given, checkPod holds it to the same rules.)
var secretFiles = []string{"AMQP_URL_FILE", "REDIS_URL_FILE", "MO_CLIENT_SECRET_FILE", "STS_P12_PASSWORD_FILE", "STS_P12_FILE"}

// fileSettings are the settings naming a file every pod must have, besides secretFiles.
var fileSettings = []string{"STSORGSYNC_CONFIG", "STS_TOKEN_CERT_FILE", "STS_SERVICE_CERT_FILE"}

// check returns every way the manifests differ from what the daemon and the issue require.
func check(m *manifests, d *daemon, want expectations) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	dep, ok := m.deployments["stsorgsync"]
	if !ok {
		fail("no Deployment stsorgsync")
		return errs
	}
	// The daemon: 2 replicas of `stsorgsync run`, probes on the HTTP_LISTEN port.
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 2 {
		fail("Deployment stsorgsync: replicas %v, want 2", ptrString(dep.Spec.Replicas))
	}
	daemonPod := pod{"Deployment stsorgsync", &dep.Spec.Template.Spec, dep.Spec.Template.Labels}
	if c, err := daemonPod.container(); err != nil {
		errs = append(errs, err)
	} else {
		errs = append(errs, checkDaemonContainer(daemonPod, c)...)
	}
	if !spreadsOverNodes(daemonPod.spec, dep.Spec.Selector.MatchLabels) {
		fail("Deployment stsorgsync: replicas are not spread over nodes (topologySpreadConstraints or podAntiAffinity on kubernetes.io/hostname)")
	}

	for _, p := range m.pods() {
		errs = append(errs, checkPod(m, d, p, want)...)
	}
	errs = append(errs, checkCronJobs(m, want)...)
	errs = append(errs, checkMetrics(m, dep)...)

	if len(m.pdbs) != 1 {
		fail("%d PodDisruptionBudgets, want 1", len(m.pdbs))
	}
	for name, pdb := range m.pdbs {
		if pdb.Spec.MinAvailable == nil || *pdb.Spec.MinAvailable != intstr.FromInt32(1) {
			fail("PodDisruptionBudget %s: minAvailable %v, want 1", name, pdb.Spec.MinAvailable)
		}
		if !selects(pdb.Spec.Selector.MatchLabels, dep.Spec.Template.Labels) {
			fail("PodDisruptionBudget %s: selector %v does not select the daemon's pods %v", name, pdb.Spec.Selector.MatchLabels, dep.Spec.Template.Labels)
		}
	}
	sa, ok := m.serviceAccounts["stsorgsync"]
	if !ok {
		fail("no ServiceAccount stsorgsync")
	} else if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
		fail("ServiceAccount stsorgsync: automountServiceAccountToken must be false")
	}
	return errs
}

// checkDaemonContainer checks `stsorgsync run`: its probes and its shutdown.
func checkDaemonContainer(p pod, c *corev1.Container) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(p.owner+": "+format, args...)) }
	if !slices.Equal(c.Args, []string{"run"}) {
		fail("args %q, want [run]", c.Args)
	}
	listen, _ := env(c, "HTTP_LISTEN")
	_, port, _ := strings.Cut(listen, ":")
	for _, probe := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"livenessProbe", c.LivenessProbe, "/healthz"}, {"readinessProbe", c.ReadinessProbe, "/readyz"}} {
		if probe.probe == nil || probe.probe.HTTPGet == nil {
			fail("%s: not an HTTP GET", probe.name)
			continue
		}
		if probe.probe.HTTPGet.Path != probe.path {
			fail("%s: path %s, want %s", probe.name, probe.probe.HTTPGet.Path, probe.path)
		}
		if got := containerPort(c, probe.probe.HTTPGet.Port); strconv.Itoa(int(got)) != port {
			fail("%s: port %s (%d), but HTTP_LISTEN is %q", probe.name, probe.probe.HTTPGet.Port.String(), got, listen)
		}
	}
	// /readyz bounds its checks at 5 s: a shorter probe timeout would fail a slow but healthy check.
	if c.ReadinessProbe != nil && c.ReadinessProbe.TimeoutSeconds <= 5 {
		fail("readinessProbe: timeoutSeconds %d, want more than /readyz's own 5 s", c.ReadinessProbe.TimeoutSeconds)
	}
	shutdown, ok := env(c, "SHUTDOWN_TIMEOUT")
	if !ok {
		shutdown = "30s" // the daemon's default
	}
	timeout, err := time.ParseDuration(shutdown)
	grace := p.spec.TerminationGracePeriodSeconds
	switch {
	case err != nil:
		fail("SHUTDOWN_TIMEOUT %q: %w", shutdown, err)
	case grace == nil || time.Duration(*grace)*time.Second <= timeout:
		fail("terminationGracePeriodSeconds %v is not longer than SHUTDOWN_TIMEOUT %s: in-flight events would be killed", ptrString(grace), timeout)
	}
	return errs
}

// containerPort resolves a probe's port (a number or a port name) to a number.
func containerPort(c *corev1.Container, port intstr.IntOrString) int32 {
	if port.Type == intstr.Int {
		return port.IntVal
	}
	for _, p := range c.Ports {
		if p.Name == port.StrVal {
			return p.ContainerPort
		}
	}
	return 0
}

// checkPod checks what every pod needs: the restricted security profile, memory limits with
// GOMEMLIMIT, only environment variables the daemon knows, secrets as files from Secret volumes
// and the files it reads present.
func checkPod(m *manifests, d *daemon, p pod, want expectations) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(p.owner+": "+format, args...)) }
	c, err := p.container()
	if err != nil {
		return []error{err}
	}
	if err := d.validCommand(c.Args); err != nil {
		fail("args: %w", err)
	}
	if len(c.Command) != 0 {
		fail("command %q replaces the image's entrypoint", c.Command)
	}

	// Security: the "restricted" Pod Security Standard and a read-only root filesystem.
	ps, cs := p.spec.SecurityContext, c.SecurityContext
	if ps == nil {
		ps = &corev1.PodSecurityContext{}
	}
	if cs == nil {
		cs = &corev1.SecurityContext{}
	}
	if !isTrue(cs.RunAsNonRoot) && !isTrue(ps.RunAsNonRoot) {
		fail("runAsNonRoot is not true")
	}
	if uid := firstNonNil(cs.RunAsUser, ps.RunAsUser); uid != nil && *uid == 0 {
		fail("runAsUser 0")
	}
	if !isTrue(cs.ReadOnlyRootFilesystem) {
		fail("readOnlyRootFilesystem is not true")
	}
	if cs.AllowPrivilegeEscalation == nil || *cs.AllowPrivilegeEscalation {
		fail("allowPrivilegeEscalation is not false")
	}
	if isTrue(cs.Privileged) {
		fail("privileged")
	}
	if cs.Capabilities == nil || !slices.Equal(cs.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(cs.Capabilities.Add) != 0 {
		fail("capabilities must drop ALL and add none: %+v", cs.Capabilities)
	}
	seccomp := cs.SeccompProfile
	if seccomp == nil {
		seccomp = ps.SeccompProfile
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		fail("seccompProfile is not RuntimeDefault")
	}
	if p.spec.AutomountServiceAccountToken == nil || *p.spec.AutomountServiceAccountToken {
		fail("automountServiceAccountToken is not false")
	}

	// Memory: a limit, and GOMEMLIMIT at 80–90 % of it.
	limit, ok := c.Resources.Limits[corev1.ResourceMemory]
	if !ok || c.Resources.Requests.Memory().IsZero() || c.Resources.Requests.Cpu().IsZero() {
		fail("resources: want memory and CPU requests and a memory limit, have %v / %v", c.Resources.Requests, c.Resources.Limits)
	} else if v, ok := env(c, "GOMEMLIMIT"); !ok {
		fail("no GOMEMLIMIT")
	} else if soft, err := parseGoMemLimit(v); err != nil {
		fail("GOMEMLIMIT: %w", err)
	} else if ratio := float64(soft) / float64(limit.Value()); ratio < 0.8 || ratio > 0.9 {
		fail("GOMEMLIMIT %s is %.0f %% of the memory limit %s, want 80–90 %%", v, 100*ratio, limit.String())
	}

	// Environment: names the daemon knows, no secret in a variable.
	if len(c.EnvFrom) != 0 {
		fail("envFrom: every variable must be named (and so checked)")
	}
	for _, e := range c.Env {
		if !d.knows(e.Name) {
			fail("env %s is not a setting of the daemon (stsorgsync settings)", e.Name)
		}
		if d.settings[e.Name] {
			fail("env %s holds a secret: give it as %s_FILE on a Secret volume", e.Name, e.Name)
		}
		if e.ValueFrom != nil {
			fail("env %s: valueFrom: secrets are files, other settings literal or in the config file", e.Name)
		}
	}

	// Secrets: each as NAME_FILE, a file on a mounted Secret volume; every secret file given, also
	// one of an optional secret.
	for _, name := range secretFiles {
		if base, ok := strings.CutSuffix(name, "_FILE"); ok && name != "STS_P12_FILE" && !d.settings[base] {
			fail("%s: the daemon has no secret setting %s", name, base)
		}
		if _, ok := env(c, name); !ok {
			fail("no %s: the secret must be read from a file", name)
		}
	}
	for _, e := range c.Env {
		if base, ok := strings.CutSuffix(e.Name, "_FILE"); ok && (d.settings[base] || slices.Contains(secretFiles, e.Name)) {
			errs = append(errs, checkSecretFile(p, c, e.Name, e.Value)...)
		}
	}

	// Files: every file the daemon reads is on a volume, and in an overlay its key exists.
	config := map[string]string{}
	for _, name := range append(slices.Clone(fileSettings), secretFiles...) {
		file, ok := env(c, name)
		if !ok {
			if slices.Contains(fileSettings, name) {
				fail("no %s", name)
			}
			continue
		}
		v, key, _ := mountedVolume(p.spec, c, file)
		if v == nil {
			fail("%s=%s is on no mounted volume", name, file)
			continue
		}
		if !want.complete {
			continue
		}
		data, err := m.volumeData(v)
		if err != nil {
			fail("%s=%s: %w", name, file, err)
			continue
		}
		content, ok := data[key]
		if !ok {
			fail("%s=%s: volume %s has no key %s (has %v)", name, file, v.Name, key, slices.Sorted(maps.Keys(data)))
			continue
		}
		if name == "STSORGSYNC_CONFIG" {
			if config, err = checkConfigFile(d, content); err != nil {
				fail("config file %s: %w", file, err)
			}
			for k, v := range config { // a secret's NAME_FILE may be given in the file too
				if base, ok := strings.CutSuffix(k, "_FILE"); ok && d.settings[base] {
					errs = append(errs, checkSecretFile(p, c, k+" (config file)", v)...)
				}
			}
		}
	}
	if want.complete {
		// Every ConfigMap and Secret the pod mounts is in the build.
		for i := range p.spec.Volumes {
			if _, err := m.volumeData(&p.spec.Volumes[i]); err != nil {
				fail("volume %s: %w", p.spec.Volumes[i].Name, err)
			}
		}
	}
	if p.owner == "CronJob stsorgsync-sync" && want.complete && want.syncSuspended == nil {
		interval := config["SYNC_INTERVAL"]
		daemonSyncs := interval != "" && interval != "0" && interval != "0s"
		if suspended := isTrue(m.cronJobs["stsorgsync-sync"].Spec.Suspend); suspended != daemonSyncs {
			fail("suspend %v, but SYNC_INTERVAL is %q: run the full sync in the daemon or in the CronJob, one of them", suspended, interval)
		}
	}
	return errs
}

// checkSecretFile checks that a file holding a secret is on a Secret volume mounted read-only.
func checkSecretFile(p pod, c *corev1.Container, name, file string) []error {
	v, _, ro := mountedVolume(p.spec, c, file)
	switch {
	case v == nil:
		return []error{fmt.Errorf("%s: %s=%s is on no mounted volume", p.owner, name, file)}
	case v.Secret == nil:
		return []error{fmt.Errorf("%s: %s=%s is on volume %s, which is not a Secret", p.owner, name, file, v.Name)}
	case !ro:
		return []error{fmt.Errorf("%s: %s=%s: volume %s is not mounted read-only", p.owner, name, file, v.Name)}
	}
	return nil
}

// volumeData returns the keys and contents of the ConfigMap or Secret a volume mounts.
func (m *manifests) volumeData(v *corev1.Volume) (map[string]string, error) {
	data := map[string]string{}
	switch {
	case v.ConfigMap != nil:
		cm, ok := m.configMaps[v.ConfigMap.Name]
		if !ok {
			return nil, fmt.Errorf("ConfigMap %s is not in the build", v.ConfigMap.Name)
		}
		maps.Copy(data, cm.Data)
		for k, b := range cm.BinaryData {
			data[k] = string(b)
		}
	case v.Secret != nil:
		s, ok := m.secrets[v.Secret.SecretName]
		if !ok {
			return nil, fmt.Errorf("Secret %s is not in the build", v.Secret.SecretName)
		}
		for k, b := range s.Data {
			data[k] = string(b)
		}
		maps.Copy(data, s.StringData)
	default:
		return nil, fmt.Errorf("volume %s is neither a ConfigMap nor a Secret", v.Name)
	}
	return data, nil
}

// checkConfigFile checks the KEY=VALUE config file the way the daemon reads it (blank lines and #
// comments skipped, "export " allowed): every key a setting, no secret in it (a secret in the file
// would win over its NAME_FILE, and a ConfigMap is no place for it; its NAME_FILE may be there).
// It returns the values.
func checkConfigFile(d *daemon, content string) (map[string]string, error) {
	values := map[string]string{}
	var errs []error
	sc := bufio.NewScanner(strings.NewReader(content))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(strings.TrimPrefix(k, "export "))
		switch {
		case !ok || k == "":
			errs = append(errs, fmt.Errorf("line %d: not KEY=VALUE", n))
		case !d.knows(k) || runtimeEnv[k] != "":
			errs = append(errs, fmt.Errorf("line %d: %s is not a setting of the daemon (stsorgsync settings)", n, k))
		case d.settings[k]:
			errs = append(errs, fmt.Errorf("line %d: %s is a secret: it belongs in the Secret, read through %s_FILE", n, k, k))
		default:
			values[k] = strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	return values, errors.Join(errs...)
}

// checkCronJobs checks the verify and the scheduled-sync CronJobs.
func checkCronJobs(m *manifests, want expectations) []error {
	var errs []error
	for _, job := range []struct {
		name string
		args []string
	}{{"stsorgsync-verify", []string{"verify", "--json"}}, {"stsorgsync-sync", []string{"sync"}}} {
		cj, ok := m.cronJobs[job.name]
		if !ok {
			errs = append(errs, fmt.Errorf("no CronJob %s", job.name))
			continue
		}
		fail := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("CronJob "+job.name+": "+format, args...))
		}
		p := pod{"CronJob " + job.name, &cj.Spec.JobTemplate.Spec.Template.Spec, nil}
		if c, err := p.container(); err == nil && !slices.Equal(c.Args, job.args) {
			fail("args %q, want %q", c.Args, job.args)
		}
		if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
			fail("concurrencyPolicy %q, want Forbid", cj.Spec.ConcurrencyPolicy)
		}
		if p.spec.RestartPolicy != corev1.RestartPolicyNever {
			fail("restartPolicy %q, want Never (a failed run is reported, not repeated)", p.spec.RestartPolicy)
		}
		if job.name == "stsorgsync-sync" && want.syncSuspended != nil && isTrue(cj.Spec.Suspend) != *want.syncSuspended {
			fail("suspend %v, want %v", isTrue(cj.Spec.Suspend), *want.syncSuspended)
		}
	}
	return errs
}

// checkMetrics checks that the Service selects the daemon's pods on its HTTP port and the
// ServiceMonitor selects the Service and its port by name.
func checkMetrics(m *manifests, dep *appsv1.Deployment) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(m.serviceMonitors) == 0 {
		fail("no ServiceMonitor")
	}
	for smName, sm := range m.serviceMonitors {
		var svc *corev1.Service
		for _, s := range m.services {
			if selects(sm.Spec.Selector.MatchLabels, s.Labels) {
				if svc != nil {
					fail("ServiceMonitor %s selects more than one Service", smName)
				}
				svc = s
			}
		}
		if svc == nil {
			fail("ServiceMonitor %s: selector %v selects no Service", smName, sm.Spec.Selector.MatchLabels)
			continue
		}
		if !selects(svc.Spec.Selector, dep.Spec.Template.Labels) {
			fail("Service %s: selector %v does not select the daemon's pods %v", svc.Name, svc.Spec.Selector, dep.Spec.Template.Labels)
		}
		if len(sm.Spec.Endpoints) == 0 {
			fail("ServiceMonitor %s: no endpoints", smName)
		}
		for _, ep := range sm.Spec.Endpoints {
			i := slices.IndexFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == ep.Port })
			if i < 0 {
				fail("ServiceMonitor %s: port %q is not a port name of Service %s", smName, ep.Port, svc.Name)
				continue
			}
			c := &dep.Spec.Template.Spec.Containers[0]
			listen, _ := env(c, "HTTP_LISTEN")
			if got := containerPort(c, svc.Spec.Ports[i].TargetPort); !strings.HasSuffix(listen, ":"+strconv.Itoa(int(got))) {
				fail("Service %s: port %s targets container port %d, but HTTP_LISTEN is %q", svc.Name, ep.Port, got, listen)
			}
			if ep.Path != "/metrics" {
				fail("ServiceMonitor %s: path %q, want /metrics", smName, ep.Path)
			}
		}
	}
	return errs
}

// spreadsOverNodes reports whether the pod's replicas are kept on different nodes: a topology
// spread constraint or a pod anti-affinity on kubernetes.io/hostname that selects them.
func spreadsOverNodes(spec *corev1.PodSpec, podLabels map[string]string) bool {
	for _, c := range spec.TopologySpreadConstraints {
		if c.TopologyKey == corev1.LabelHostname && c.LabelSelector != nil && selects(c.LabelSelector.MatchLabels, podLabels) {
			return true
		}
	}
	if a := spec.Affinity; a != nil && a.PodAntiAffinity != nil {
		for _, t := range a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
			if t.TopologyKey == corev1.LabelHostname && t.LabelSelector != nil && selects(t.LabelSelector.MatchLabels, podLabels) {
				return true
			}
		}
		for _, w := range a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			t := w.PodAffinityTerm
			if t.TopologyKey == corev1.LabelHostname && t.LabelSelector != nil && selects(t.LabelSelector.MatchLabels, podLabels) {
				return true
			}
		}
	}
	return false
}

// selects reports whether a non-empty label selector matches the labels.
func selects(selector, set map[string]string) bool {
	return len(selector) > 0 && labels.SelectorFromSet(selector).Matches(labels.Set(set))
}

// goMemLimit is GOMEMLIMIT's syntax (runtime/debug): a number and B, KiB, MiB, GiB or TiB.
var goMemLimit = regexp.MustCompile(`^([0-9]+)(B|KiB|MiB|GiB|TiB)?$`)

// parseGoMemLimit returns GOMEMLIMIT's value in bytes.
func parseGoMemLimit(v string) (int64, error) {
	m := goMemLimit.FindStringSubmatch(v)
	if m == nil {
		return 0, fmt.Errorf("%q is not a number with B, KiB, MiB, GiB or TiB (Go's syntax; not Kubernetes' Mi)", v)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", v, err)
	}
	shift := map[string]uint{"": 0, "B": 0, "KiB": 10, "MiB": 20, "GiB": 30, "TiB": 40}[m[2]]
	return n << shift, nil
}

func isTrue(b *bool) bool { return b != nil && *b }

func firstNonNil[T any](ps ...*T) *T {
	for _, p := range ps {
		if p != nil {
			return p
		}
	}
	return nil
}

func ptrString[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}
