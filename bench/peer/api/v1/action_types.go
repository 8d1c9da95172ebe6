// Package v1 holds the Go types of the Action resource (core.opdemo.net/v1, crds/action.yaml).
// The CRD is the schema; these types only mirror it, so there are no kubebuilder markers and
// no controller-gen: the few deep copies are written by hand below.
package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	GroupVersion  = schema.GroupVersion{Group: "core.opdemo.net", Version: "v1"}
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}
	AddToScheme   = SchemeBuilder.AddToScheme
)

func init() {
	SchemeBuilder.Register(&Action{}, &ActionList{})
}

// States written to status.state.
const (
	StateRunning   = "Running"
	StateExpiring  = "Expiring" // finished, waiting for ttlSecondsAfterFinished to delete it
	StateSucceeded = "Succeeded"
)

// ConditionSucceeded is Unknown while phases remain, True once the last phase has begun.
const ConditionSucceeded = "Succeeded"

type ActionSpec struct {
	// Phase names in order; repeats allowed, so the run position is a count, not a search.
	Phases []string `json:"phases"`
	// Seconds between phase starts. The CRD defaults it to 5, so it is always present on the
	// server; no omitempty, so that a Go client creating delay 0 does not get 5.
	Delay int32 `json:"delay"`
	// While true, no further phase begins.
	Paused *bool `json:"paused,omitempty"`
	// Delete the Action this many seconds after its last phase began.
	TTLSecondsAfterFinished *int32 `json:"ttlSecondsAfterFinished,omitempty"`
}

type ActionStatus struct {
	// The phase that began last.
	Phase string `json:"phase,omitempty"`
	// One {phase: start} entry per phase begun, in order. Strings rather than metav1.Time:
	// the function writes milliseconds and metav1.Time would round them to seconds.
	Timestamps []map[string]string `json:"timestamps,omitempty"`
	State      string              `json:"state,omitempty"`
	// Phases begun / phases in all, e.g. "2/4".
	Progress string `json:"progress,omitempty"`
	// When the next phase is due (RFC 3339, milliseconds); absent when finished or paused.
	NextPhaseAt        string             `json:"nextPhaseAt,omitempty"`
	ObservedGeneration int64              `json:"observedGeneration,omitempty"`
	Conditions         []metav1.Condition `json:"conditions,omitempty"`
}

type Action struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ActionSpec   `json:"spec"`
	Status ActionStatus `json:"status,omitempty"`
}

type ActionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Action `json:"items"`
}

// Deep copies: what controller-gen would generate, by hand.

func (in *ActionSpec) DeepCopyInto(out *ActionSpec) {
	*out = *in
	if in.Phases != nil {
		out.Phases = append([]string(nil), in.Phases...)
	}
	if in.Paused != nil {
		v := *in.Paused
		out.Paused = &v
	}
	if in.TTLSecondsAfterFinished != nil {
		v := *in.TTLSecondsAfterFinished
		out.TTLSecondsAfterFinished = &v
	}
}

func (in *ActionStatus) DeepCopyInto(out *ActionStatus) {
	*out = *in
	if in.Timestamps != nil {
		out.Timestamps = make([]map[string]string, len(in.Timestamps))
		for i, entry := range in.Timestamps {
			if entry == nil {
				continue
			}
			m := make(map[string]string, len(entry))
			for k, v := range entry {
				m[k] = v
			}
			out.Timestamps[i] = m
		}
	}
	if in.Conditions != nil {
		out.Conditions = make([]metav1.Condition, len(in.Conditions))
		for i := range in.Conditions {
			in.Conditions[i].DeepCopyInto(&out.Conditions[i])
		}
	}
}

func (in *Action) DeepCopyInto(out *Action) {
	*out = *in
	out.TypeMeta = in.TypeMeta
	in.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	in.Spec.DeepCopyInto(&out.Spec)
	in.Status.DeepCopyInto(&out.Status)
}

func (in *Action) DeepCopy() *Action {
	if in == nil {
		return nil
	}
	out := new(Action)
	in.DeepCopyInto(out)
	return out
}

func (in *Action) DeepCopyObject() runtime.Object { return in.DeepCopy() }

func (in *ActionList) DeepCopyInto(out *ActionList) {
	*out = *in
	out.TypeMeta = in.TypeMeta
	in.ListMeta.DeepCopyInto(&out.ListMeta)
	if in.Items != nil {
		out.Items = make([]Action, len(in.Items))
		for i := range in.Items {
			in.Items[i].DeepCopyInto(&out.Items[i])
		}
	}
}

func (in *ActionList) DeepCopy() *ActionList {
	if in == nil {
		return nil
	}
	out := new(ActionList)
	in.DeepCopyInto(out)
	return out
}

func (in *ActionList) DeepCopyObject() runtime.Object { return in.DeepCopy() }
