// Package deploy holds stsorgsync's Kubernetes manifests (kustomize/: a base, a component and an
// example overlay) and, in its tests, their validation without a cluster: each kustomization is
// built with kustomize's own library and every object decoded strictly into its Kubernetes API
// type, then checked against what the daemon expects (its settings, commands, probes and files).
//
// It is a Go module of its own so that the Kubernetes libraries the tests need stay out of the
// daemon's dependencies. The tests build the daemon (../cmd/stsorgsync) and ask it for its settings
// and commands, so the manifests cannot drift from it.
package deploy
