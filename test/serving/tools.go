//go:build tools

// Package tools pins the Knative Serving commands build.sh compiles, control plane and data
// plane, so `go mod tidy` keeps them.
package tools

import (
	_ "knative.dev/serving/cmd/activator"
	_ "knative.dev/serving/cmd/autoscaler"
	_ "knative.dev/serving/cmd/controller"
	_ "knative.dev/serving/cmd/queue"
	_ "knative.dev/serving/cmd/webhook"
)
