//go:build tools

// Package tools pins Prometheus's promtool and server, which build.sh compiles, so `go mod tidy`
// keeps them. Prometheus 3.x is published on the Go proxy as v0.3xx (v0.316.0 is Prometheus 3.16.0).
package tools

import (
	_ "github.com/prometheus/prometheus/cmd/prometheus"
	_ "github.com/prometheus/prometheus/cmd/promtool"
)
