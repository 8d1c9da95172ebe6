// Command prometheus-operator-config prints the prometheus.yaml that prometheus-operator gives a
// Prometheus selecting the PodMonitors and PrometheusRules it reads (a multi-document file such as
// `kubectl kustomize config/monitoring`, or stdin), with the operator's own code run as a library
// (go.mod pins the version): the Prometheus controller's selection and validation
// (pkg/prometheus.ResourceSelector, pkg/operator.PrometheusRuleSelector), its config generator
// (pkg/prometheus.ConfigGenerator), then the config-reloader's expansion of $(VAR). An object the
// operator would reject is an error here, where the operator would only leave it out.
//
// The Prometheus resource is minimal: podMonitorSelector, ruleSelector and their namespace selectors
// are {} (everything, in every namespace), so that it picks up what it is given wherever it lives.
//
// Two changes make the result run on a host rather than in the operator's pod, and only when asked:
// -rules-dir writes the rule files there, under the names the operator gives them in its ConfigMap
// (<namespace>-<name>-<uid>.yaml, the uid empty here), and points rule_files at them; -kubeconfig
// adds kubeconfig_file to every kubernetes_sd_configs entry, for Prometheus is not in the cluster
// and has no service account. Everything else is as the operator's pod would read it.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql/parser"
	yamlv2 "gopkg.in/yaml.v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/yaml"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus-operator/prometheus-operator/pkg/assets"
	monitoringfake "github.com/prometheus-operator/prometheus-operator/pkg/client/versioned/fake"
	"github.com/prometheus-operator/prometheus-operator/pkg/informers"
	"github.com/prometheus-operator/prometheus-operator/pkg/namespacelabeler"
	"github.com/prometheus-operator/prometheus-operator/pkg/operator"
	prompkg "github.com/prometheus-operator/prometheus-operator/pkg/prometheus"
)

type options struct {
	namespace, name, version   string
	scrapeInterval, evaluation string
	rulesDir, kubeconfig       string
}

func main() {
	var o options
	flag.StringVar(&o.namespace, "namespace", "monitoring", "the Prometheus resource's namespace")
	flag.StringVar(&o.name, "name", "prometheus", "the Prometheus resource's name")
	flag.StringVar(&o.version, "version", operator.DefaultPrometheusVersion, "spec.version: the Prometheus that will run the configuration (the generator writes what that version reads)")
	flag.StringVar(&o.scrapeInterval, "scrape-interval", "30s", "spec.scrapeInterval (a PodMonitor endpoint's interval wins)")
	flag.StringVar(&o.evaluation, "evaluation-interval", "30s", "spec.evaluationInterval")
	// Prometheus reads both paths relative to its config file's folder.
	flag.StringVar(&o.rulesDir, "rules-dir", "", "write the rule files to this folder (absolute) and set rule_files to <folder>/*.yaml")
	flag.StringVar(&o.kubeconfig, "kubeconfig", "", "add kubeconfig_file: <this> (absolute) to every kubernetes_sd_configs entry")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: %s [flags] [file|-]\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if err := run(o, flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, "prometheus-operator-config:", err)
		os.Exit(1)
	}
}

func run(o options, path string) error {
	in := io.Reader(os.Stdin)
	if path != "" && path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	objs, namespaces, err := readObjects(in)
	if err != nil {
		return err
	}

	everything := &metav1.LabelSelector{}
	p := &monitoringv1.Prometheus{
		TypeMeta:   metav1.TypeMeta{APIVersion: monitoringv1.SchemeGroupVersion.String(), Kind: monitoringv1.PrometheusesKind},
		ObjectMeta: metav1.ObjectMeta{Namespace: o.namespace, Name: o.name},
		Spec: monitoringv1.PrometheusSpec{
			CommonPrometheusFields: monitoringv1.CommonPrometheusFields{
				Version:                     o.version,
				ScrapeInterval:              monitoringv1.Duration(o.scrapeInterval),
				PodMonitorSelector:          everything,
				PodMonitorNamespaceSelector: everything,
			},
			EvaluationInterval:    monitoringv1.Duration(o.evaluation),
			RuleSelector:          everything,
			RuleNamespaceSelector: everything,
		},
	}

	// The operator lists these objects from informers; here they are fed from a fake clientset and
	// a fixed list of the namespaces they are in (it resolves namespace selectors against those).
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	factories := informers.NewMonitoringInformerFactories(map[string]struct{}{metav1.NamespaceAll: {}}, nil, monitoringfake.NewSimpleClientset(objs...), 0, nil)
	pmonInf, err := informers.NewInformersForResource(factories, monitoringv1.SchemeGroupVersion.WithResource(monitoringv1.PodMonitorName))
	if err != nil {
		return err
	}
	ruleInf, err := informers.NewInformersForResource(factories, monitoringv1.SchemeGroupVersion.WithResource(monitoringv1.PrometheusRuleName))
	if err != nil {
		return err
	}
	nsInf := cache.NewSharedIndexInformer(namespaceList(namespaces), &corev1.Namespace{}, 0, cache.Indexers{})
	pmonInf.Start(ctx.Done())
	ruleInf.Start(ctx.Done())
	go nsInf.RunWithContext(ctx)
	if !cache.WaitForCacheSync(ctx.Done(), pmonInf.HasSynced, ruleInf.HasSynced, nsInf.HasSynced) {
		return errors.New("informers did not sync")
	}

	// Info: the operator says why it rejects a rule at that level.
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	// Room for an event per object (a rejection): the fake recorder blocks when its buffer is full.
	recorder := operator.NewFakeRecorder(len(objs), p)
	// No ConfigMap or Secret client: a PodMonitor that referred to one (credentials, TLS) fails here.
	store := assets.NewStoreBuilder(nil, nil)

	selector, err := prompkg.NewResourceSelector(logger, p, store, nsInf, operator.NewMetrics(prometheus.NewRegistry()), recorder)
	if err != nil {
		return err
	}
	pmons, err := selector.SelectPodMonitors(ctx, pmonInf.ListAllByNamespace)
	if err != nil {
		return err
	}
	valid := pmons.ValidResources()
	if len(valid) == 0 || len(valid) < len(pmons) {
		return fmt.Errorf("%d PodMonitor(s) read, %d selected, %d valid (the operator's reasons are logged above)", countKind[*monitoringv1.PodMonitor](objs), len(pmons), len(valid))
	}

	ruleNamespaces, err := operator.SelectNamespacesFromCache(p, p.Spec.RuleNamespaceSelector, nsInf)
	if err != nil {
		return err
	}
	// As the Prometheus controller builds it (pkg/prometheus/server/rules.go) for a Prometheus
	// without enforcedNamespaceLabel or enableFeatures.
	ruleSelector, err := operator.NewPrometheusRuleSelector(operator.PrometheusFormat, o.version, p.Spec.RuleSelector,
		namespacelabeler.New("", nil, true), ruleInf, recorder, logger, parser.Options{})
	if err != nil {
		return err
	}
	rules, err := ruleSelector.Select(ruleNamespaces)
	if err != nil {
		return err
	}
	if n := rules.RejectedLen(); n > 0 {
		return fmt.Errorf("%d PrometheusRule(s) rejected (the operator's reasons are logged above)", n)
	}

	cg, err := prompkg.NewConfigGenerator(logger, p)
	if err != nil {
		return err
	}
	// No rule ConfigMap names: rule_files is set below, or left empty.
	conf, err := cg.GenerateServerConfiguration(p, nil, valid, nil, nil, store, nil, nil, nil, nil)
	if err != nil {
		return err
	}
	conf, err = expandEnv(conf, p)
	if err != nil {
		return err
	}

	if o.rulesDir != "" {
		if err := os.MkdirAll(o.rulesDir, 0o755); err != nil {
			return err
		}
		for name, content := range rules.RuleFiles() {
			if err := os.WriteFile(filepath.Join(o.rulesDir, name), []byte(content), 0o644); err != nil {
				return err
			}
		}
	}
	if conf, err = forHost(conf, o); err != nil {
		return err
	}
	_, err = os.Stdout.Write(conf)
	return err
}

// readObjects decodes the PodMonitors and PrometheusRules among the documents (other kinds are
// skipped; an unknown field is an error, as kubectl apply's strict field validation makes it) and
// returns them with the namespaces they are in.
func readObjects(in io.Reader) ([]runtime.Object, []corev1.Namespace, error) {
	var (
		objs []runtime.Object
		nss  []corev1.Namespace
		seen = map[string]bool{}
	)
	docs := utilyaml.NewYAMLReader(bufio.NewReader(in))
	for {
		doc, err := docs.Read()
		if err == io.EOF {
			return objs, nss, nil
		}
		if err != nil {
			return nil, nil, err
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			return nil, nil, err
		}
		var obj interface {
			runtime.Object
			metav1.Object
		}
		switch tm.GroupVersionKind() {
		case monitoringv1.SchemeGroupVersion.WithKind(monitoringv1.PodMonitorsKind):
			obj = &monitoringv1.PodMonitor{}
		case monitoringv1.SchemeGroupVersion.WithKind(monitoringv1.PrometheusRuleKind):
			obj = &monitoringv1.PrometheusRule{}
		default:
			continue
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", tm.Kind, err)
		}
		if obj.GetNamespace() == "" {
			obj.SetNamespace(metav1.NamespaceDefault)
		}
		if ns := obj.GetNamespace(); !seen[ns] {
			seen[ns] = true
			nss = append(nss, corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{corev1.LabelMetadataName: ns}}})
		}
		objs = append(objs, obj)
	}
}

// namespaceList lists a fixed set of Namespaces, and never changes, for an informer.
type namespaceList []corev1.Namespace

func (l namespaceList) List(metav1.ListOptions) (runtime.Object, error) {
	return &corev1.NamespaceList{Items: l}, nil
}

func (namespaceList) Watch(metav1.ListOptions) (watch.Interface, error) { return watch.NewFake(), nil }

// IsWatchListSemanticsUnSupported has the reflector list, as it does with a fake clientset: else
// (client-go's WatchListClient) it waits forever for the initial events of a watch.
func (namespaceList) IsWatchListSemanticsUnSupported() bool { return true }

func countKind[T runtime.Object](objs []runtime.Object) (n int) {
	for _, o := range objs {
		if _, ok := o.(T); ok {
			n++
		}
	}
	return n
}

// The generator leaves $(POD_NAME) and $(SHARD) in the configuration (the replica external label,
// and the sharding relabeling every scrape job ends with); prometheus-config-reloader replaces
// them from its environment before Prometheus reads the file (thanos pkg/reloader, expandEnv:
// same pattern). Left as they are, the keep rule's regex `$(SHARD);|.+;.+` matches no target.
var envRe = regexp.MustCompile(`\$\(([a-zA-Z_0-9]+)\)`)

// expandEnv does the reloader's expansion with the values the operator's StatefulSet gives the
// first pod of shard 0; any other variable is an error (the reloader would leave it).
func expandEnv(conf []byte, p *monitoringv1.Prometheus) ([]byte, error) {
	env := map[string]string{
		operator.PodNameEnvVar: prompkg.ExpectedStatefulSetShardNames(p)[0] + "-0",
		operator.ShardEnvVar:   "0",
	}
	var err error
	conf = envRe.ReplaceAllFunc(conf, func(m []byte) []byte {
		v, ok := env[string(m[2:len(m)-1])]
		if !ok {
			err = fmt.Errorf("the configuration refers to %s, which the operator's pod would set", m)
		}
		return []byte(v)
	})
	return conf, err
}

// forHost makes the changes -rules-dir and -kubeconfig ask for (the package comment says why).
func forHost(conf []byte, o options) ([]byte, error) {
	if o.rulesDir == "" && o.kubeconfig == "" {
		return conf, nil
	}
	var cfg yamlv2.MapSlice
	if err := yamlv2.Unmarshal(conf, &cfg); err != nil {
		return nil, err
	}
	for i, item := range cfg {
		switch {
		case item.Key == "rule_files" && o.rulesDir != "":
			cfg[i].Value = []string{filepath.Join(o.rulesDir, "*.yaml")}
		case item.Key == "scrape_configs" && o.kubeconfig != "":
			for _, job := range item.Value.([]any) {
				for _, field := range job.(yamlv2.MapSlice) {
					if field.Key != "kubernetes_sd_configs" {
						continue
					}
					for j, sd := range field.Value.([]any) {
						field.Value.([]any)[j] = append(sd.(yamlv2.MapSlice), yamlv2.MapItem{Key: "kubeconfig_file", Value: o.kubeconfig})
					}
				}
			}
		}
	}
	return yamlv2.Marshal(cfg)
}
