// Package k8s holds the Kubernetes manifests of participants-etl (a
// kustomize base in base/ and the Indexed-Job overlay in overlays/sharded/)
// and the test that proves them: no cluster is needed to run it.
//
// The test decodes every YAML document under this directory strictly into
// the k8s.io/api types (an unknown, misspelled or miscased field fails, as
// it would with kubectl's server-side field validation), renders both
// kustomizations with the kustomize library itself (krusty, as kubectl
// apply -k does) and decodes the output as strictly, and
// checks the rules of the deployment: scheduling (Forbid, deadlines shorter
// than the schedule's interval), failure handling (exit 2 fails the Job at
// once, disruptions are not failures), a hardened non-root pod, credentials
// from a Secret, and a shard count kept in one place.
package k8s
