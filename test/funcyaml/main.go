// Command funcyaml loads a function directory the way `kn func deploy` does (knative.dev/func
// v0.50.1, cmd/deploy.go runDeploy): fn.NewFunction(dir), then the "initialized" check, then
// f.Validate(). It prints a JSON summary of what kn func understood on stdout, or exits 1 with the
// reason on stderr. The summary also lists what a strict decode of func.yaml reports
// (strictDecodeErrors): kn func only warns about unknown keys and mistyped values, and drops them.
//
// Given paths after the directory, the summary also says which of them kn func leaves out of the
// build context (fn.IsIgnored over the directory's .funcignore, fn.ParseFuncIgnore).
//
// Usage: funcyaml <dir> [path...]
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v2"
	fn "knative.dev/func/pkg/functions"
)

type env struct {
	Name  *string `json:"name"`
	Value *string `json:"value"`
}

type summary struct {
	Root        string `json:"root"`
	SpecVersion string `json:"specVersion"`
	Created     string `json:"created"`
	Name        string `json:"name"`
	Runtime     string `json:"runtime"`
	Invoke      string `json:"invoke"`
	Build       struct {
		Builder   string `json:"builder"`
		BuildEnvs []env  `json:"buildEnvs"`
	} `json:"build"`
	Run struct {
		Envs []env `json:"envs"`
	} `json:"run"`
	Deploy struct {
		ServiceAccountName string `json:"serviceAccountName"`
		Options            struct {
			Scale struct {
				Min *int64 `json:"min"`
				Max *int64 `json:"max"`
			} `json:"scale"`
		} `json:"options"`
		HealthEndpoints struct {
			Liveness  string `json:"liveness"`
			Readiness string `json:"readiness"`
		} `json:"healthEndpoints"`
	} `json:"deploy"`
	// What a strict decode of func.yaml into fn.Function reports (unknown keys, wrong types).
	// kn func deploy only warns about these on stderr and goes on with the fields dropped.
	StrictDecodeErrors []string `json:"strictDecodeErrors"`
	// For each path given after the directory: whether kn func excludes it from the build.
	Ignored map[string]bool `json:"ignored"`
}

func envs(in fn.Envs) []env {
	out := make([]env, 0, len(in))
	for _, e := range in {
		out = append(out, env{Name: e.Name, Value: e.Value})
	}
	return out
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "funcyaml: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: funcyaml <function dir> [path...]")
	}
	dir := os.Args[1]

	// Exactly what kn func deploy does first. Note: NewFunction only reports a YAML unmarshal
	// error when a migration also fails; for an up-to-date specVersion it drops it (and only
	// warns on stderr about unknown fields).
	f, err := fn.NewFunction(dir)
	if err != nil {
		fail("loading %s/%s failed: %v", dir, fn.FunctionFile, err)
	}
	// kn func deploy then refuses a function whose func.yaml has no `created` stamp (an older
	// specVersion with name+runtime would be migrated to one; the current one is not).
	if !f.Initialized() {
		fail("%q does not contain an initialized function (kn func deploy would refuse it): "+
			"func.yaml is missing, or has no `created` timestamp", f.Root)
	}
	if err := f.Validate(); err != nil {
		fail("validation failed: %v", err)
	}

	var s summary
	s.Root = f.Root
	s.StrictDecodeErrors = []string{}
	// The same check as kn func's Migrate() warning (yaml.v2 UnmarshalStrict into fn.Function).
	bb, err := os.ReadFile(filepath.Join(f.Root, fn.FunctionFile))
	if err != nil {
		fail("reading %s: %v", fn.FunctionFile, err)
	}
	var strict fn.Function
	if err := yaml.UnmarshalStrict(bb, &strict); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			s.StrictDecodeErrors = append(s.StrictDecodeErrors, te.Errors...)
		} else {
			s.StrictDecodeErrors = append(s.StrictDecodeErrors, err.Error())
		}
	}
	s.SpecVersion = f.SpecVersion
	s.Created = f.Created.UTC().Format("2006-01-02T15:04:05Z07:00")
	s.Name = f.Name
	s.Runtime = f.Runtime
	s.Invoke = f.Invoke
	s.Build.Builder = f.Build.Builder
	s.Build.BuildEnvs = envs(f.Build.BuildEnvs)
	s.Run.Envs = envs(f.Run.Envs)
	s.Deploy.ServiceAccountName = f.Deploy.ServiceAccountName
	if sc := f.Deploy.Options.Scale; sc != nil {
		s.Deploy.Options.Scale.Min = sc.Min
		s.Deploy.Options.Scale.Max = sc.Max
	}
	s.Deploy.HealthEndpoints.Liveness = f.Deploy.HealthEndpoints.Liveness
	s.Deploy.HealthEndpoints.Readiness = f.Deploy.HealthEndpoints.Readiness
	s.Ignored = map[string]bool{}
	patterns := fn.ParseFuncIgnore(dir)
	for _, p := range os.Args[2:] {
		s.Ignored[p] = fn.IsIgnored(p, patterns)
	}

	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil {
		fail("writing the summary: %v", err)
	}
}
