// Command funcdeploy deploys a function directory with knative/func's own Knative deployer
// (knative.dev/func v0.50.1, pkg/knative), as `kn func deploy --build=false --push=false
// --image <image> --namespace <namespace>` hands it the function:
//
//   - fn.NewFunction(dir), the "initialized" check (cmd/deploy.go runDeploy), then the flag checks
//     of deployConfig.Validate: the namespace must be a DNS-1035 label (utils.ValidateNamespace)
//     and the image must parse as a reference (isDigested: name.ParseReference);
//   - the flags' fields, as deployConfig.Configure and runDeploy set them: f.Image = image
//     (buildConfig.Configure), f.Namespace = namespace, then f.Validate(), then
//     f.Deploy.Image = image (digested or not; with --build=false --push=false nothing replaces it);
//   - knative.NewDeployer(knative.WithDeployerVerbose(true)).Deploy(ctx, f).
//
// It does not go through fn.Client.Deploy (no undeploy from a previous deploy.namespace, no Function
// CR sync) and writes nothing back (no func.yaml update, no build stamp). The cluster is the one
// $KUBECONFIG (or ~/.kube/config) names, as for kn func. See README.md for what Deploy does.
//
// Usage:
//
//	funcdeploy <function dir> <namespace> <image>
//	    deploys; prints {"status","url","namespace","deployer"} as one JSON line on stdout.
//	funcdeploy --print-service <function dir> <namespace> <image>
//	    deploys to an in-process stand-in API server instead of a cluster, and prints the Knative
//	    Service the deployer POSTed to it (refused there, so nothing is created anywhere).
//
// Exits 1 with the error on stderr (2 for a usage error). The deployer's own progress (verbose) goes
// to stderr, including what it would print on stdout, so stdout holds only the result.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/google/go-containerregistry/pkg/name"
	fn "knative.dev/func/pkg/functions"
	"knative.dev/func/pkg/knative"
	"knative.dev/func/pkg/utils"
)

const usage = "usage: funcdeploy [--print-service] <function dir> <namespace> <image>"

func fail(code int, format string, args ...any) {
	fmt.Fprintf(os.Stderr, "funcdeploy: "+format+"\n", args...)
	os.Exit(code)
}

// load returns the function at dir configured as kn func deploy configures it for
// --namespace namespace --image image --build=false --push=false (cmd/deploy.go v0.50.1).
func load(dir, namespace, image string) fn.Function {
	f, err := fn.NewFunction(dir)
	if err != nil {
		fail(1, "loading %s/%s failed: %v", dir, fn.FunctionFile, err)
	}
	if !f.Initialized() {
		fail(1, "%q does not contain an initialized function (kn func deploy would refuse it): "+
			"func.yaml is missing, or has no `created` timestamp", f.Root)
	}
	// deployConfig.Validate: the namespace flag's format, and the image flag parsed (isDigested).
	if err := utils.ValidateNamespace(namespace); err != nil {
		fail(1, "%v: %v", fn.ErrInvalidNamespace, err)
	}
	if _, err := name.ParseReference(image); err != nil {
		fail(1, "invalid image %q: %v", image, err)
	}
	// deployConfig.Configure: buildConfig.Configure sets f.Image from --image, then f.Namespace
	// from --namespace (the target; f.Deploy.Namespace stays the last deployed namespace).
	f.Image = image
	f.Namespace = namespace
	if err := f.Validate(); err != nil {
		fail(1, "validation failed: %v", err)
	}
	// runDeploy, local (not --remote): an --image, digested or not, becomes f.Deploy.Image, the
	// image the deployer uses; only a build or a push (both off here) would replace it.
	f.Deploy.Image = image
	return f
}

// deploy runs the deployer with os.Stdout pointing at stderr: in verbose mode it prints
// "Waiting for Knative Service to become ready" and the final URL with fmt.Print*.
func deploy(ctx context.Context, f fn.Function) (fn.DeploymentResult, error) {
	stdout := os.Stdout
	os.Stdout = os.Stderr
	defer func() { os.Stdout = stdout }()
	return knative.NewDeployer(knative.WithDeployerVerbose(true)).Deploy(ctx, f)
}

func statusName(s fn.Status) string {
	switch s {
	case fn.Deployed:
		return "deployed"
	case fn.Updated:
		return "updated"
	case fn.Failed:
		return "failed"
	}
	return fmt.Sprintf("status-%d", int(s))
}

func main() {
	args := os.Args[1:]
	printService := len(args) > 0 && args[0] == "--print-service"
	if printService {
		args = args[1:]
	}
	if len(args) != 3 {
		fail(2, "%s", usage)
	}
	for _, a := range args {
		if a == "" || strings.HasPrefix(a, "-") {
			fail(2, "%s (got %q)", usage, a)
		}
	}
	dir, namespace, image := args[0], args[1], args[2]

	if printService {
		runPrintService(dir, namespace, image)
		return
	}

	f := load(dir, namespace, image)
	// kn func cancels its command's context on SIGINT/SIGTERM (pkg/app); the deployer's waits end.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	res, err := deploy(ctx, f)
	stop() // ends the deployer's log-streaming goroutine (GetKServiceLogs)
	if err != nil {
		fail(1, "deploy error. %v", err)
	}
	line, err := json.Marshal(map[string]string{
		"status":    statusName(res.Status),
		"url":       res.URL,
		"namespace": res.Namespace,
		"deployer":  res.Deployer,
	})
	if err != nil {
		fail(1, "writing the result: %v", err)
	}
	fmt.Println(string(line))
}

// --print-service: the deployer's exported API has no way to build its Service without a cluster
// (generateNewService is unexported), so this runs the same Deploy against a stand-in Kubernetes
// API server in this process and keeps the body of the Service create, which the stand-in refuses.
//
// The stand-in answers like an empty cluster without Dapr (no dapr-system namespace, so no dapr.io
// annotations) where the Service does not exist yet (so the create path, not the update path), and
// where every Secret, ConfigMap, PVC and ServiceAccount the function references exists (each is
// listed on stderr: a real cluster must hold them, CheckResourcesArePresent refuses otherwise).
// The registry lookup (checkPullPermissions) is routed to the stand-in too, through HTTP(S)_PROXY,
// and answered 404, so nothing leaves the machine (a registry on a loopback address is dialled
// directly, as Go never proxies loopback): the deployer then only prints its pull-secret warning.

type standIn struct {
	namespace string
	mu        sync.Mutex
	service   []byte   // the body of the POST of the Knative Service
	checked   []string // the resources the deployer looked up, as "kind/name"
}

func status(w http.ResponseWriter, code int, reason, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{},
		"status": "Failure", "message": msg, "reason": reason, "code": code,
	})
}

func (s *standIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Proxied registry requests (CONNECT host:443, or an absolute http:// URL).
	if r.Method == http.MethodConnect || r.URL.IsAbs() {
		fmt.Fprintf(os.Stderr, "funcdeploy: stand-in: refused registry request %s %s\n", r.Method, r.Host)
		http.Error(w, "funcdeploy --print-service: no registry access", http.StatusNotFound)
		return
	}
	core := "/api/v1/namespaces/" + s.namespace + "/"
	services := "/apis/serving.knative.dev/v1/namespaces/" + s.namespace + "/services"
	p := r.URL.Path
	switch {
	case r.Method == http.MethodPost && p == services:
		body, err := io.ReadAll(r.Body)
		if err != nil {
			status(w, http.StatusBadRequest, "BadRequest", err.Error())
			return
		}
		s.mu.Lock()
		s.service = body
		s.mu.Unlock()
		status(w, http.StatusForbidden, "Forbidden", "funcdeploy --print-service: Service recorded, not created")
		return
	case r.Method == http.MethodGet && strings.HasPrefix(p, core) && !strings.Contains(r.URL.RawQuery, "watch"):
		parts := strings.Split(strings.TrimPrefix(p, core), "/")
		kinds := map[string]string{"secrets": "Secret", "configmaps": "ConfigMap",
			"persistentvolumeclaims": "PersistentVolumeClaim", "serviceaccounts": "ServiceAccount"}
		if kind, ok := kinds[parts[0]]; ok && len(parts) == 2 {
			s.mu.Lock()
			s.checked = append(s.checked, kind+"/"+parts[1])
			s.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"kind": kind, "apiVersion": "v1",
				"metadata": map[string]any{"name": parts[1], "namespace": s.namespace}})
			return
		}
	}
	// The dapr-system namespace, the Service itself (not deployed yet), the pod watch of the log
	// streamer, and anything else: not found.
	status(w, http.StatusNotFound, "NotFound", "funcdeploy --print-service: stand-in has no "+p)
}

// serviceFromStandIn runs Deploy against the stand-in and returns the Service it POSTed, the
// resources it checked, and Deploy's error (expected: the stand-in refused the create).
func serviceFromStandIn(f fn.Function, namespace string) (service []byte, checked []string, deployErr, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, nil, fmt.Errorf("stand-in API server: %w", err)
	}
	s := &standIn{namespace: namespace}
	srv := &http.Server{Handler: s}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	tmp, err := os.MkdirTemp("", "funcdeploy-")
	if err != nil {
		return nil, nil, nil, err
	}
	defer os.RemoveAll(tmp)
	kubeconfig := filepath.Join(tmp, "kubeconfig")
	addr := "http://" + ln.Addr().String()
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: stand-in, cluster: {server: %q}}]
users: [{name: stand-in, user: {}}]
contexts: [{name: stand-in, context: {cluster: stand-in, user: stand-in, namespace: %q}}]
current-context: stand-in
`, addr, namespace)
	if err := os.WriteFile(kubeconfig, []byte(kc), 0o600); err != nil {
		return nil, nil, nil, err
	}
	// Before any HTTP client exists: Go reads the proxy variables once.
	for k, v := range map[string]string{"KUBECONFIG": kubeconfig, "HTTPS_PROXY": addr, "https_proxy": addr,
		"HTTP_PROXY": addr, "http_proxy": addr, "NO_PROXY": "", "no_proxy": "", "ALL_PROXY": "", "all_proxy": ""} {
		if err := os.Setenv(k, v); err != nil {
			return nil, nil, nil, err
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	_, deployErr = deploy(ctx, f)
	cancel()

	s.mu.Lock()
	defer s.mu.Unlock()
	return s.service, s.checked, deployErr, nil
}

func runPrintService(dir, namespace, image string) {
	f := load(dir, namespace, image)
	body, checked, deployErr, err := serviceFromStandIn(f, namespace)
	if err != nil {
		fail(1, "%v", err)
	}
	for _, c := range checked {
		fmt.Fprintf(os.Stderr, "funcdeploy: the deployer checked that %s exists in namespace %q (a cluster must hold it)\n", c, namespace)
	}
	if body == nil {
		if deployErr == nil {
			deployErr = errors.New("it returned no error")
		}
		fail(1, "the deployer did not get as far as creating the Service: %v", deployErr)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, body, "", "  "); err != nil {
		fail(1, "the deployer's Service is not JSON: %v", err)
	}
	out.WriteByte('\n')
	if _, err := os.Stdout.Write(out.Bytes()); err != nil {
		fail(1, "writing the Service: %v", err)
	}
}
