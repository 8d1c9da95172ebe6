package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	actionv1 "advance-phase/bench/peer/api/v1"
)

// The function's timestamp format: UTC, always three fractional digits.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

const fieldOwner = client.FieldOwner("advance-phase-peer")

// ActionReconciler walks an Action through spec.phases: phase k+1 begins spec.delay seconds
// after phase k began. All state lives in status.timestamps, so any replica, restart or
// resync picks up where the last one left off.
type ActionReconciler struct {
	client.Client
	Recorder record.EventRecorder
}

func (r *ActionReconciler) SetupWithManager(mgr ctrl.Manager, workers int) error {
	// No predicate: our own status write comes back through the watch, and that event is what
	// schedules the wait for the next phase (or begins it at once when the delay is 0).
	return ctrl.NewControllerManagedBy(mgr).
		For(&actionv1.Action{}).
		Named("action").
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Complete(r)
}

func (r *ActionReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var action actionv1.Action
	if err := r.Get(ctx, req.NamespacedName, &action); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !action.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	// Truncated to what is recorded: due times are whole milliseconds too, so "now >= due"
	// holds for the recorded start as well and a phase never begins early on paper.
	now := time.Now().UTC().Truncate(time.Millisecond)

	spec, timestamps := action.Spec, action.Status.Timestamps
	begun := len(timestamps)
	var lastStart time.Time
	if begun > 0 {
		var err error
		if lastStart, err = startOf(timestamps[begun-1]); err != nil {
			// Someone else wrote a status we cannot read; retrying will not fix it.
			return ctrl.Result{}, reconcile.TerminalError(err)
		}
	}

	// Finished: never advanced again. Only status (after a spec edit) and the TTL remain.
	if begun >= len(spec.Phases) {
		if err := r.syncStatus(ctx, &action, timestamps, now); err != nil {
			return ctrl.Result{}, err
		}
		if spec.TTLSecondsAfterFinished == nil {
			return ctrl.Result{}, nil
		}
		expires := lastStart.Add(time.Duration(*spec.TTLSecondsAfterFinished) * time.Second)
		if now.Before(expires) {
			return ctrl.Result{RequeueAfter: expires.Sub(now)}, nil
		}
		return ctrl.Result{}, r.expire(ctx, &action)
	}

	// Paused: no phase begins; the edit that unpauses brings us back through the watch.
	if spec.Paused != nil && *spec.Paused {
		return ctrl.Result{}, r.syncStatus(ctx, &action, timestamps, now)
	}

	due := now // the first phase begins at once
	if begun > 0 {
		due = lastStart.Add(time.Duration(spec.Delay) * time.Second)
	}
	if now.Before(due) {
		// A delay edit moves nextPhaseAt: write that, then wait for what is left. The delay is
		// read afresh at every reconcile, so an edit applies to the wait ahead.
		if err := r.syncStatus(ctx, &action, timestamps, now); err != nil {
			return ctrl.Result{}, err
		}
		return ctrl.Result{RequeueAfter: due.Sub(now)}, nil
	}

	// Due: begin the next phase with one status write. slices.Clip makes append copy, so the
	// cached object's slice is never written through.
	phase := spec.Phases[begun]
	next := append(slices.Clip(timestamps), map[string]string{phase: now.Format(timeFormat)})
	if err := r.syncStatus(ctx, &action, next, now); err != nil {
		// A conflict means our cached copy was stale (or someone else wrote): returning the
		// error requeues with backoff, and the next attempt decides again on fresh data.
		return ctrl.Result{}, err
	}
	log.FromContext(ctx).V(1).Info("phase started", "phase", phase, "position", begun+1)
	r.Recorder.Eventf(&action, corev1.EventTypeNormal, "PhaseStarted", "phase %d %s started", begun+1, phase)
	return ctrl.Result{}, nil
}

// syncStatus writes the status these timestamps call for, if it differs from what is there:
// one merge patch on the status subresource, guarded by resourceVersion so that two writers
// can never both append a phase.
func (r *ActionReconciler) syncStatus(ctx context.Context, action *actionv1.Action, timestamps []map[string]string, now time.Time) error {
	status := desiredStatus(action, timestamps, now)
	if equality.Semantic.DeepEqual(status, action.Status) {
		return nil
	}
	base := action.DeepCopy()
	action.Status = status
	return r.Status().Patch(ctx, action, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}), fieldOwner)
}

// expire deletes a finished Action whose TTL has passed. The UID precondition keeps a new
// Action that took the same name from being deleted in its place.
func (r *ActionReconciler) expire(ctx context.Context, action *actionv1.Action) error {
	uid := action.UID
	err := r.Delete(ctx, action, client.Preconditions{UID: &uid})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // already gone, or another incarnation holds the name
	}
	return err
}

// desiredStatus is the whole status for these timestamps; the same shape as the function's
// desiredStatus (functions/advance-phase/src/decide.ts).
func desiredStatus(action *actionv1.Action, timestamps []map[string]string, now time.Time) actionv1.ActionStatus {
	spec, generation := action.Spec, action.Generation
	total, begun := len(spec.Phases), len(timestamps)
	finished := begun >= total
	paused := spec.Paused != nil && *spec.Paused

	status := actionv1.ActionStatus{
		Timestamps:         timestamps,
		State:              actionv1.StateRunning,
		Progress:           fmt.Sprintf("%d/%d", min(begun, total), total),
		ObservedGeneration: generation,
		// A copy: SetStatusCondition edits in place and the original is compared against.
		Conditions: slices.Clone(action.Status.Conditions),
	}
	var due string
	if begun > 0 {
		for name, start := range timestamps[begun-1] {
			status.Phase = name
			if t, err := time.Parse(time.RFC3339, start); err == nil {
				due = t.Add(time.Duration(spec.Delay) * time.Second).UTC().Format(timeFormat)
			}
		}
	}

	condition := metav1.Condition{Type: actionv1.ConditionSucceeded, ObservedGeneration: generation, LastTransitionTime: metav1.NewTime(now)}
	switch {
	case finished:
		condition.Status, condition.Reason = metav1.ConditionTrue, "Completed"
		condition.Message = fmt.Sprintf("all %d phases begun", total)
		status.State = actionv1.StateSucceeded
		if ttl := spec.TTLSecondsAfterFinished; ttl != nil {
			condition.Message += fmt.Sprintf("; deleted %ds after finishing", *ttl)
			status.State = actionv1.StateExpiring
		}
	case paused:
		condition.Status, condition.Reason = metav1.ConditionUnknown, "Paused"
		condition.Message = "paused before phase " + spec.Phases[begun]
	default:
		condition.Status, condition.Reason = metav1.ConditionUnknown, "Running"
		condition.Message = fmt.Sprintf("%d/%d phases begun; next %s", begun, total, spec.Phases[begun])
		if due != "" {
			condition.Message += " at " + due
			status.NextPhaseAt = due
		}
	}
	// Moves lastTransitionTime only when the condition's status changes.
	meta.SetStatusCondition(&status.Conditions, condition)
	return status
}

// startOf reads the start time of one {phase: start} entry.
func startOf(entry map[string]string) (time.Time, error) {
	for _, start := range entry {
		return time.Parse(time.RFC3339, start)
	}
	return time.Time{}, fmt.Errorf("empty status.timestamps entry")
}
