package k8s

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	kusttypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// decodeStrict decodes JSON into v the way the API server's strict field
// validation does: unknown and duplicate fields are errors, and field names
// match case-sensitively. (encoding/json with DisallowUnknownFields would
// accept "readOnlyRootFileSystem" for readOnlyRootFilesystem: it matches
// names case-insensitively.)
func decodeStrict(data []byte, v any) error {
	strict, err := kjson.UnmarshalStrict(data, v)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

// document is one YAML document of one file, as JSON.
type document struct {
	file string
	json []byte
}

func (d document) String() string { return d.file }

// readDocuments splits the YAML file name, holding b, into its documents,
// skipping empty ones (only comments), and converts each to JSON,
// rejecting duplicate keys.
func readDocuments(name string, b []byte) ([]document, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	var docs []document
	for i := 0; ; i++ {
		y, err := r.Read()
		if err == io.EOF {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		j, err := yaml.YAMLToJSONStrict(y)
		if err != nil {
			return nil, fmt.Errorf("%s, document %d: %w", name, i, err)
		}
		if string(j) == "null" {
			continue
		}
		docs = append(docs, document{file: fmt.Sprintf("%s#%d", name, i), json: j})
	}
}

// typeOf returns a new typed object for a document's apiVersion and kind;
// a kind this test does not know is an error, so that it is not left
// unchecked.
func typeOf(doc document) (any, error) {
	var tm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := json.Unmarshal(doc.json, &tm); err != nil {
		return nil, fmt.Errorf("%s: %w", doc, err)
	}
	switch tm.APIVersion + " " + tm.Kind {
	case "batch/v1 CronJob":
		return &batchv1.CronJob{}, nil
	case "v1 ServiceAccount":
		return &corev1.ServiceAccount{}, nil
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}, nil
	case "kustomize.config.k8s.io/v1beta1 Kustomization":
		// kustomize itself rejects unknown fields but matches names
		// case-insensitively and allows duplicates; decodeStrict does not.
		return &kusttypes.Kustomization{}, nil
	}
	return nil, fmt.Errorf("%s: unexpected kind %q of %q", doc, tm.Kind, tm.APIVersion)
}

func decodeDocument(doc document) (any, error) {
	obj, err := typeOf(doc)
	if err != nil {
		return nil, err
	}
	if err := decodeStrict(doc.json, obj); err != nil {
		return nil, fmt.Errorf("%s: %w", doc, err)
	}
	return obj, nil
}

// yamlFiles lists the YAML files under k8s/, slash-separated and relative.
func yamlFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(".", func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			files = append(files, filepath.ToSlash(p))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no YAML files found")
	}
	return files
}

// TestEveryDocumentDecodesStrictly covers every YAML file under k8s/,
// including patches, which are partial objects of their kind.
func TestEveryDocumentDecodesStrictly(t *testing.T) {
	for _, f := range yamlFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs, err := readDocuments(f, b)
		if err != nil {
			t.Error(err)
			continue
		}
		if len(docs) == 0 {
			t.Errorf("%s: no documents", f)
		}
		for _, d := range docs {
			if _, err := decodeDocument(d); err != nil {
				t.Error(err)
			}
		}
	}
}

func TestStrictDecodingCatchesMistakes(t *testing.T) {
	base, err := os.ReadFile("base/cronjob.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, old, new string
		// lenient says whether encoding/json with DisallowUnknownFields
		// lets the mistake through (it matches names case-insensitively).
		lenient bool
	}{
		{"misspelled", "concurrencyPolicy:", "concurencyPolicy:", false},
		{"miscased top-level", "concurrencyPolicy:", "ConcurrencyPolicy:", true},
		{"miscased nested", "readOnlyRootFilesystem:", "readOnlyRootFileSystem:", true},
		{"duplicate", "  concurrencyPolicy: Forbid\n", "  concurrencyPolicy: Forbid\n  concurrencyPolicy: Allow\n", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !bytes.Contains(base, []byte(tc.old)) {
				t.Fatalf("cronjob.yaml no longer contains %q; update the test", tc.old)
			}
			mutated := bytes.Replace(base, []byte(tc.old), []byte(tc.new), 1)
			docs, err := readDocuments("cronjob.yaml", mutated)
			if err == nil {
				_, err = decodeDocument(docs[0])
			}
			if err == nil {
				t.Fatalf("%s field decoded without error", tc.name)
			}
			t.Logf("rejected as expected: %v", err)

			if tc.lenient {
				j, err := yaml.YAMLToJSON(mutated)
				if err != nil {
					t.Fatal(err)
				}
				dec := json.NewDecoder(bytes.NewReader(j))
				dec.DisallowUnknownFields()
				if dec.Decode(&batchv1.CronJob{}) == nil {
					t.Log("encoding/json with DisallowUnknownFields accepts it: the reason for decodeStrict")
				}
			}
		})
	}

	t.Run("unknown kind", func(t *testing.T) {
		doc := document{file: "x", json: []byte(`{"apiVersion":"apps/v1","kind":"Deployment"}`)}
		if _, err := decodeDocument(doc); err == nil {
			t.Fatal("a Deployment was accepted")
		}
	})
	t.Run("miscased kustomization field", func(t *testing.T) {
		doc := document{file: "x", json: []byte(`{"apiVersion":"kustomize.config.k8s.io/v1beta1","kind":"Kustomization","Resources":["a.yaml"]}`)}
		if _, err := decodeDocument(doc); err == nil {
			t.Fatal("a miscased kustomization field was accepted")
		}
	})
}

// tree is a copy of k8s/ that kustomize reads: the directory on disk, or
// an edited copy in memory.
type tree struct {
	fs   filesys.FileSystem
	root string // absolute
}

func diskTree(t *testing.T) tree {
	t.Helper()
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	return tree{fs: filesys.MakeFsOnDisk(), root: root}
}

// memTree copies every YAML file under k8s/ into memory, where edit may
// change them.
func memTree(t *testing.T, edit func(name string, b []byte) []byte) tree {
	t.Helper()
	tr := tree{fs: filesys.MakeFsInMemory(), root: "/k8s"}
	for _, f := range yamlFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := tr.fs.WriteFile(tr.path(f), edit(f, b)); err != nil {
			t.Fatal(err)
		}
	}
	return tr
}

func (tr tree) path(name string) string { return filepath.Join(tr.root, filepath.FromSlash(name)) }

func (tr tree) readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := tr.fs.ReadFile(tr.path(name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readRecorder notes every file kustomize reads.
type readRecorder struct {
	filesys.FileSystem
	read map[string]bool
}

func (r readRecorder) ReadFile(path string) ([]byte, error) {
	r.read[path] = true
	return r.FileSystem.ReadFile(path)
}

// render builds the kustomization in dir (relative to k8s/) with kustomize
// itself, as kubectl apply -k does, and returns the resources and the
// files it read (relative to k8s/, slash-separated).
func render(tr tree, dir string) (resmap.ResMap, []string, error) {
	rec := readRecorder{FileSystem: tr.fs, read: map[string]bool{}}
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(rec, tr.path(dir))
	if err != nil {
		return nil, nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	var files []string
	for p := range rec.read {
		rel, err := filepath.Rel(tr.root, p)
		if err != nil {
			return nil, nil, err
		}
		files = append(files, filepath.ToSlash(rel))
	}
	slices.Sort(files)
	return m, files, nil
}

// rendered is a kustomization's output, decoded strictly.
type rendered struct {
	cronJob         *batchv1.CronJob
	serviceAccounts map[string]*corev1.ServiceAccount
	configMaps      map[string]*corev1.ConfigMap
}

func renderTyped(t *testing.T, tr tree, dir string) rendered {
	t.Helper()
	m, _, err := render(tr, dir)
	if err != nil {
		t.Fatal(err)
	}
	out := rendered{serviceAccounts: map[string]*corev1.ServiceAccount{}, configMaps: map[string]*corev1.ConfigMap{}}
	for _, res := range m.Resources() {
		j, err := res.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		typed, err := decodeDocument(document{file: dir + ": " + res.GetKind() + " " + res.GetName(), json: j})
		if err != nil {
			t.Fatal(err)
		}
		switch v := typed.(type) {
		case *batchv1.CronJob:
			if out.cronJob != nil {
				t.Fatalf("%s: more than one CronJob", dir)
			}
			out.cronJob = v
		case *corev1.ServiceAccount:
			out.serviceAccounts[v.Name] = v
		case *corev1.ConfigMap:
			out.configMaps[v.Name] = v
		default:
			t.Fatalf("%s: rendered a %T", dir, v)
		}
	}
	if out.cronJob == nil {
		t.Fatalf("%s: no CronJob", dir)
	}
	return out
}

// scheduleInterval is the shortest gap between two ticks of a CronJob
// schedule over the next two years, in the CronJob's time zone (DST
// changes make some local schedules' gaps shorter than they look).
func scheduleInterval(schedule, timeZone string) (time.Duration, error) {
	if strings.Contains(schedule, "TZ=") {
		return 0, errors.New("time zone in the schedule; Kubernetes wants spec.timeZone")
	}
	loc, err := time.LoadLocation(timeZone)
	if err != nil {
		return 0, err
	}
	sched, err := cron.ParseStandard(schedule)
	if err != nil {
		return 0, err
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, loc)
	minGap := time.Duration(1<<63 - 1)
	prev := sched.Next(start)
	for t := sched.Next(prev); t.Before(start.AddDate(2, 0, 0)); prev, t = t, sched.Next(t) {
		minGap = min(minGap, t.Sub(prev))
	}
	return minGap, nil
}

func TestScheduleInterval(t *testing.T) {
	cases := []struct {
		schedule string
		want     time.Duration
	}{
		{"17 * * * *", time.Hour},
		{"@hourly", time.Hour},
		{"*/15 * * * *", 15 * time.Minute},
		{"0 3 * * *", 24 * time.Hour},
		{"0 9,17 * * 1-5", 8 * time.Hour},
	}
	for _, tc := range cases {
		got, err := scheduleInterval(tc.schedule, "Etc/UTC")
		if err != nil || got != tc.want {
			t.Errorf("scheduleInterval(%q) = %v, %v; want %v", tc.schedule, got, err, tc.want)
		}
	}
	// A daily run at 02:30 in Europe/Berlin: on the spring-forward day 02:30
	// does not exist, and the gap is shorter around the autumn change.
	if got, _ := scheduleInterval("30 2 * * *", "Europe/Berlin"); got >= 24*time.Hour {
		t.Errorf("DST: got %v, want less than 24h", got)
	}
	if _, err := scheduleInterval("CRON_TZ=UTC 0 * * * *", "Etc/UTC"); err == nil {
		t.Error("CRON_TZ in the schedule was accepted")
	}
}

func env(c corev1.Container) map[string]corev1.EnvVar {
	m := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		m[e.Name] = e
	}
	return m
}

// mountedFile reports whether p is a file inside a volume mounted into c,
// and returns that volume.
func mountedFile(pod corev1.PodSpec, c corev1.Container, p string) (corev1.Volume, string, bool) {
	for _, m := range c.VolumeMounts {
		rel, ok := strings.CutPrefix(p, strings.TrimSuffix(m.MountPath, "/")+"/")
		if !ok {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name == m.Name {
				return v, rel, true
			}
		}
	}
	return corev1.Volume{}, "", false
}

// checkCronJob asserts the rules every rendering of the CronJob must keep.
func checkCronJob(t *testing.T, r rendered) {
	cj := r.cronJob
	spec := cj.Spec
	job := spec.JobTemplate.Spec
	pod := job.Template.Spec

	t.Run("schedule", func(t *testing.T) {
		if spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
			t.Errorf("concurrencyPolicy = %q, want Forbid", spec.ConcurrencyPolicy)
		}
		if spec.TimeZone == nil {
			t.Fatal("no timeZone: the schedule would follow the controller's zone")
		}
		interval, err := scheduleInterval(spec.Schedule, *spec.TimeZone)
		if err != nil {
			t.Fatalf("schedule %q: %v", spec.Schedule, err)
		}
		if spec.StartingDeadlineSeconds == nil || *spec.StartingDeadlineSeconds < 10 {
			// Below 10 s the controller may miss the deadline between syncs.
			t.Fatalf("startingDeadlineSeconds = %v, want >= 10", spec.StartingDeadlineSeconds)
		}
		if job.ActiveDeadlineSeconds == nil {
			t.Fatal("no activeDeadlineSeconds")
		}
		active := time.Duration(*job.ActiveDeadlineSeconds) * time.Second
		starting := time.Duration(*spec.StartingDeadlineSeconds) * time.Second
		if active >= interval {
			t.Errorf("activeDeadlineSeconds %v is not below the schedule's interval %v", active, interval)
		}
		if starting+active > interval {
			t.Errorf("a run starting %v late and running %v would overlap the next tick (interval %v)", starting, active, interval)
		}
		if spec.SuccessfulJobsHistoryLimit == nil || spec.FailedJobsHistoryLimit == nil {
			t.Error("history limits not set")
		}
	})

	t.Run("failure handling", func(t *testing.T) {
		if job.BackoffLimit == nil && job.BackoffLimitPerIndex == nil {
			t.Error("neither backoffLimit nor backoffLimitPerIndex set")
		}
		if pod.RestartPolicy != corev1.RestartPolicyNever {
			t.Errorf("restartPolicy = %q, want Never (podFailurePolicy requires it)", pod.RestartPolicy)
		}
		if g := pod.TerminationGracePeriodSeconds; g == nil || *g < 10 || *g > 60 {
			t.Errorf("terminationGracePeriodSeconds = %v, want 10..60 (shutdown takes a few seconds)", g)
		}
		if job.PodFailurePolicy == nil {
			t.Fatal("no podFailurePolicy")
		}
		var failOnConfig, ignoreDisruption bool
		for _, rule := range job.PodFailurePolicy.Rules {
			if ec := rule.OnExitCodes; rule.Action == batchv1.PodFailurePolicyActionFailJob && ec != nil &&
				ec.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn && slices.Contains(ec.Values, 2) &&
				ec.ContainerName != nil && *ec.ContainerName == pod.Containers[0].Name {
				failOnConfig = true
			}
			for _, pc := range rule.OnPodConditions {
				if rule.Action == batchv1.PodFailurePolicyActionIgnore && pc.Type == corev1.DisruptionTarget &&
					(pc.Status == "" || pc.Status == corev1.ConditionTrue) {
					ignoreDisruption = true
				}
			}
		}
		if !failOnConfig {
			t.Error("no podFailurePolicy rule FailJob on exit code 2 of the container")
		}
		if !ignoreDisruption {
			t.Error("no podFailurePolicy rule Ignore on DisruptionTarget")
		}
	})

	t.Run("pod security", func(t *testing.T) {
		sc := pod.SecurityContext
		if sc == nil {
			t.Fatal("no pod securityContext")
		}
		if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
			t.Error("runAsNonRoot not true")
		}
		if sc.RunAsUser == nil || *sc.RunAsUser != 65532 || sc.RunAsGroup == nil || *sc.RunAsGroup != 65532 {
			t.Error("runAsUser/runAsGroup not 65532 (distroless nonroot)")
		}
		if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Error("seccompProfile not RuntimeDefault")
		}
		if pod.HostNetwork || pod.HostPID || pod.HostIPC {
			t.Error("host namespaces shared")
		}
		if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
			t.Error("service account token mounted; the job does not call the Kubernetes API")
		}
		if len(pod.Containers) != 1 || len(pod.InitContainers) != 0 {
			t.Fatalf("%d containers, %d init containers; want exactly one container", len(pod.Containers), len(pod.InitContainers))
		}
		c := pod.Containers[0]
		cs := c.SecurityContext
		if cs == nil {
			t.Fatal("no container securityContext")
		}
		if cs.AllowPrivilegeEscalation == nil || *cs.AllowPrivilegeEscalation {
			t.Error("allowPrivilegeEscalation not false")
		}
		if cs.ReadOnlyRootFilesystem == nil || !*cs.ReadOnlyRootFilesystem {
			t.Error("readOnlyRootFilesystem not true")
		}
		if cs.Capabilities == nil || !slices.Equal(cs.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(cs.Capabilities.Add) != 0 {
			t.Error("capabilities: want drop [ALL] and nothing added")
		}
		if cs.Privileged != nil && *cs.Privileged {
			t.Error("privileged")
		}
		if cs.RunAsUser != nil && *cs.RunAsUser == 0 {
			t.Error("container runs as root")
		}
	})

	t.Run("container", func(t *testing.T) {
		c := pod.Containers[0]
		if !slices.Equal(c.Args, []string{"run"}) || len(c.Command) != 0 {
			t.Errorf("command %q args %q; want the image's entrypoint with args [run]", c.Command, c.Args)
		}
		if c.Image == "" || strings.HasSuffix(c.Image, ":latest") || !strings.Contains(c.Image, ":") || c.Image != strings.ToLower(c.Image) {
			t.Errorf("image %q: want a lowercase name with a pinned tag", c.Image)
		}
		req, lim := c.Resources.Requests, c.Resources.Limits
		for _, q := range []struct {
			what string
			l    corev1.ResourceList
			name corev1.ResourceName
		}{{"requests", req, corev1.ResourceCPU}, {"requests", req, corev1.ResourceMemory}, {"limits", lim, corev1.ResourceMemory}} {
			if v, ok := q.l[q.name]; !ok || v.IsZero() {
				t.Errorf("resources.%s.%s not set", q.what, q.name)
			}
		}
		if m, l := req[corev1.ResourceMemory], lim[corev1.ResourceMemory]; l.Cmp(m) < 0 {
			t.Errorf("memory limit %s below request %s", l.String(), m.String())
		}
		// BenchmarkExport (cmd/participants-etl) measured a peak RSS of up
		// to 113 MiB at the default flags (4M rows in 615k small sessions),
		// and GCS adds its 8 MiB upload chunk: the request must cover both.
		if m := req[corev1.ResourceMemory]; m.Cmp(resource.MustParse("121Mi")) < 0 {
			t.Errorf("memory request %s is below the measured peak of ~113 MiB plus the 8 MiB GCS chunk", m.String())
		}
		if l := lim[corev1.ResourceMemory]; l.Cmp(resource.MustParse("128Mi")) < 0 {
			t.Errorf("memory limit %s is too small for a Parquet row group", l.String())
		}
	})

	t.Run("environment", func(t *testing.T) {
		c := pod.Containers[0]
		e := env(c)
		if len(e) != len(c.Env) {
			t.Error("an env var is set twice")
		}
		if v := e["VIDEOSDK_API_KEY"]; v.Value != "" || v.ValueFrom == nil || v.ValueFrom.SecretKeyRef == nil {
			t.Error("VIDEOSDK_API_KEY must come from a Secret by reference")
		}
		for _, name := range []string{"VIDEOSDK_SECRET_KEY", "VIDEOSDK_TOKEN"} {
			if _, ok := e[name]; ok {
				t.Errorf("%s set in the manifest; use VIDEOSDK_SECRET_KEY_FILE with a mounted Secret", name)
			}
		}
		keyFile := e["VIDEOSDK_SECRET_KEY_FILE"].Value
		if v, rel, ok := mountedFile(pod, c, keyFile); !ok || v.Secret == nil {
			t.Errorf("VIDEOSDK_SECRET_KEY_FILE %q is not a file of a mounted Secret", keyFile)
		} else if v.Secret.Items != nil && !slices.ContainsFunc(v.Secret.Items, func(k corev1.KeyToPath) bool { return k.Path == rel }) {
			t.Errorf("Secret volume %s does not project %s", v.Name, rel)
		} else if m := v.Secret.DefaultMode; m == nil || *m&0o007 != 0 {
			// The default, 0644, lets any UID in the container read the key.
			t.Errorf("Secret volume %s: defaultMode unset or readable by others", v.Name)
		}

		sessions := e["ETL_SESSIONS"].Value
		if !strings.HasPrefix(sessions, "gs://") && !strings.HasPrefix(sessions, "videosdk:") {
			v, rel, ok := mountedFile(pod, c, sessions)
			if !ok || v.ConfigMap == nil {
				t.Errorf("ETL_SESSIONS %q is neither videosdk:, gs:// nor a file of a mounted ConfigMap", sessions)
			} else if cm := r.configMaps[v.ConfigMap.Name]; cm == nil {
				t.Errorf("ConfigMap %s is not part of the deployment", v.ConfigMap.Name)
			} else if _, ok := cm.Data[rel]; !ok {
				t.Errorf("ConfigMap %s has no key %s", cm.Name, rel)
			}
		}
		if out := e["ETL_OUTPUT"].Value; !strings.HasPrefix(out, "gs://") {
			t.Errorf("ETL_OUTPUT %q is not a gs:// URL", out)
		}
		if got := e["ETL_SCHEDULE"].Value; got != spec.Schedule {
			t.Errorf("ETL_SCHEDULE %q differs from the CronJob's schedule %q", got, spec.Schedule)
		}
		if got := e["ETL_TIMEZONE"].Value; spec.TimeZone == nil || got != *spec.TimeZone {
			t.Errorf("ETL_TIMEZONE %q differs from the CronJob's timeZone", got)
		}
		if n, err := strconv.Atoi(e["ETL_CONCURRENCY"].Value); err != nil || n < 1 {
			t.Errorf("ETL_CONCURRENCY %q is not a positive number", e["ETL_CONCURRENCY"].Value)
		}
	})

	t.Run("volumes", func(t *testing.T) {
		c := pod.Containers[0]
		for _, v := range pod.Volumes {
			i := slices.IndexFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == v.Name })
			if i < 0 {
				t.Errorf("volume %s is not mounted", v.Name)
				continue
			}
			switch {
			case v.Secret != nil, v.ConfigMap != nil:
				if !c.VolumeMounts[i].ReadOnly {
					t.Errorf("volume %s mounted read-write", v.Name)
				}
			case v.EmptyDir != nil:
				if v.EmptyDir.SizeLimit == nil {
					t.Errorf("emptyDir %s without sizeLimit", v.Name)
				}
			default:
				t.Errorf("volume %s: only Secret, ConfigMap and emptyDir volumes belong here", v.Name)
			}
		}
	})

	t.Run("service account", func(t *testing.T) {
		sa := r.serviceAccounts[pod.ServiceAccountName]
		if sa == nil {
			t.Fatalf("ServiceAccount %q is not part of the deployment", pod.ServiceAccountName)
		}
		gsa := sa.Annotations["iam.gke.io/gcp-service-account"]
		if !strings.Contains(gsa, "@") || !strings.HasSuffix(gsa, ".iam.gserviceaccount.com") {
			t.Errorf("Workload Identity annotation %q is not a Google service account", gsa)
		}
		if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
			t.Error("ServiceAccount mounts its token by default")
		}
	})
}

func TestBase(t *testing.T) {
	r := renderTyped(t, diskTree(t), "base")
	checkCronJob(t, r)
	if cm := r.cronJob.Spec.JobTemplate.Spec.CompletionMode; cm != nil && *cm != batchv1.NonIndexedCompletion {
		t.Errorf("base completionMode %q", *cm)
	}
	if _, ok := env(r.cronJob.Spec.JobTemplate.Spec.Template.Spec.Containers[0])["ETL_SHARD_COUNT"]; ok {
		t.Error("base sets ETL_SHARD_COUNT")
	}
}

// shardCount reads N from its one place, the overlay's shards ConfigMap.
func shardCount(t *testing.T, tr tree) int {
	t.Helper()
	const name = "overlays/sharded/shards.yaml"
	docs, err := readDocuments(name, tr.readFile(t, name))
	if err != nil {
		t.Fatal(err)
	}
	obj, err := decodeDocument(docs[0])
	if err != nil {
		t.Fatal(err)
	}
	cm := obj.(*corev1.ConfigMap)
	n, err := strconv.Atoi(cm.Data["count"])
	if err != nil || n < 2 {
		t.Fatalf("shard count %q: want a number >= 2", cm.Data["count"])
	}
	return n
}

func checkSharded(t *testing.T, r rendered, n int) {
	t.Helper()
	job := r.cronJob.Spec.JobTemplate.Spec
	if job.CompletionMode == nil || *job.CompletionMode != batchv1.IndexedCompletion {
		t.Error("completionMode not Indexed")
	}
	if job.Completions == nil || int(*job.Completions) != n || job.Parallelism == nil || int(*job.Parallelism) != n {
		t.Errorf("completions %v, parallelism %v; want both %d", job.Completions, job.Parallelism, n)
	}
	if got := env(job.Template.Spec.Containers[0])["ETL_SHARD_COUNT"].Value; got != strconv.Itoa(n) {
		t.Errorf("ETL_SHARD_COUNT = %q, want %d", got, n)
	}
	if job.BackoffLimitPerIndex == nil {
		t.Error("no backoffLimitPerIndex")
	}
	if job.BackoffLimit != nil {
		t.Error("backoffLimit set: it would count the failures of all shards together")
	}
	if _, ok := r.configMaps["participants-etl-shards"]; ok {
		t.Error("the local-config shards ConfigMap would be deployed")
	}
}

func TestShardedOverlay(t *testing.T) {
	tr := diskTree(t)
	r := renderTyped(t, tr, "overlays/sharded")
	checkCronJob(t, r)
	checkSharded(t, r, shardCount(t, tr))
}

// Changing N in shards.yaml alone changes every place that depends on it.
func TestShardCountHasOnePlace(t *testing.T) {
	n := shardCount(t, diskTree(t))
	mem := memTree(t, func(name string, b []byte) []byte {
		if name != "overlays/sharded/shards.yaml" {
			return b
		}
		return bytes.Replace(b, fmt.Appendf(nil, "count: %q", strconv.Itoa(n)), []byte(`count: "7"`), 1)
	})
	if shardCount(t, mem) != 7 {
		t.Fatal("could not change the shard count in shards.yaml; update the test")
	}
	r := renderTyped(t, mem, "overlays/sharded")
	checkSharded(t, r, 7)
}

// Every YAML file is part of a kustomization, so none escapes the rules.
func TestNoStrayManifests(t *testing.T) {
	tr := diskTree(t)
	used := map[string]bool{}
	for _, dir := range []string{"base", "overlays/sharded"} {
		_, files, err := render(tr, dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			used[f] = true
		}
	}
	for _, f := range yamlFiles(t) {
		if !used[f] {
			t.Errorf("%s is not used by any kustomization (have %v)", f, slices.Sorted(maps.Keys(used)))
		}
	}
}

// The pod's fixed UID and GID are the image's user, so that the distroless
// nonroot image and runAsNonRoot agree; and the image is built static and
// version-stamped, as the CronJob expects of its entrypoint.
func TestPodRunsAsTheImageUser(t *testing.T) {
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	dockerfile := string(b)
	for _, want := range []string{
		"CGO_ENABLED=0", "-trimpath", "-X main.version=${VERSION}", "./cmd/participants-etl",
		"FROM gcr.io/distroless/static-debian12:nonroot", `ENTRYPOINT ["/participants-etl"]`,
	} {
		if !strings.Contains(dockerfile, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	user := regexp.MustCompile(`(?m)^USER (\d+):(\d+)$`).FindStringSubmatch(dockerfile)
	if user == nil {
		t.Fatal("Dockerfile sets no numeric USER uid:gid")
	}
	r := renderTyped(t, diskTree(t), "base")
	sc := r.cronJob.Spec.JobTemplate.Spec.Template.Spec.SecurityContext
	if sc == nil || sc.RunAsUser == nil || sc.RunAsGroup == nil ||
		strconv.FormatInt(*sc.RunAsUser, 10) != user[1] || strconv.FormatInt(*sc.RunAsGroup, 10) != user[2] {
		t.Errorf("pod runs as %v, the image as %s:%s", sc, user[1], user[2])
	}
}
