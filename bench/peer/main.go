// The advance-phase peer: the controller-runtime operator that does the function's job, for
// side-by-side benchmarks. See README.md.
package main

import (
	"flag"
	"os"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	actionv1 "advance-phase/bench/peer/api/v1"
)

func main() {
	var (
		metricsAddr, probeAddr string
		workers                int
		qps                    float64
		burst                  int
	)
	// --kubeconfig is registered by controller-runtime itself; then KUBECONFIG, in-cluster,
	// ~/.kube/config.
	flag.StringVar(&metricsAddr, "metrics-bind-address", "0", `Prometheus metrics address, e.g. ":9090"; "0" turns it off.`)
	flag.StringVar(&probeAddr, "health-probe-bind-address", "0", `healthz/readyz address; "0" turns it off.`)
	flag.IntVar(&workers, "max-concurrent-reconciles", 4, "Actions reconciled at once.")
	// controller-runtime >= v0.21 turns client-go's client-side rate limiter off (QPS -1) and
	// leaves throttling to the API server's priority and fairness; older releases and plain
	// client-go default to 20/30 (5/10), which would hold a 1000-Action burst back for a minute.
	// Set both to cap the requests this process makes (e.g. --qps=200 --burst=400).
	flag.Float64Var(&qps, "qps", -1, "Client-side request rate limit; -1 means none (controller-runtime's default).")
	flag.IntVar(&burst, "burst", 400, "Client-side burst, when --qps > 0.")
	opts := zap.Options{} // production: JSON at info; --zap-log-level=debug logs every phase start
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	setup := ctrl.Log.WithName("setup")

	scheme := runtime.NewScheme()
	must(clientgoscheme.AddToScheme(scheme)) // Events
	must(actionv1.AddToScheme(scheme))

	cfg := ctrl.GetConfigOrDie()
	cfg.QPS, cfg.Burst = float32(qps), burst
	cfg.UserAgent = "advance-phase-peer"

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress: probeAddr,
		LeaderElection:         false, // one replica in the bench
	})
	if err != nil {
		setup.Error(err, "creating manager")
		os.Exit(1)
	}
	must(mgr.AddHealthzCheck("healthz", healthz.Ping))
	must(mgr.AddReadyzCheck("readyz", healthz.Ping))

	reconciler := &ActionReconciler{
		Client: mgr.GetClient(), // reads come from the informer cache, writes go to the API server
		// core/v1 Events through client-go's broadcaster: asynchronous, so recording one
		// costs the reconcile nothing. (The function writes events.k8s.io/v1 Events.)
		Recorder: mgr.GetEventRecorderFor("advance-phase-peer"),
	}
	if err := reconciler.SetupWithManager(mgr, workers); err != nil {
		setup.Error(err, "creating controller")
		os.Exit(1)
	}

	setup.Info("starting", "workers", workers, "qps", qps, "burst", burst)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		setup.Error(err, "running manager")
		os.Exit(1)
	}
}

func must(err error) {
	if err != nil {
		ctrl.Log.Error(err, "setup")
		os.Exit(1)
	}
}
