// What GET /metrics serves, through prom-client: every series with HELP and TYPE, plus the
// library's default process and Node.js metrics. The figure to alert on is phase lateness: how
// long after its due time each phase began (the first phase of a run has no due time).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Seconds: from "on time" (Knative's retries land within milliseconds) to "the sweep caught it". */
const LATENESS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export class Metrics {
  readonly registry = new Registry();
  readonly decisions = new Counter({
    name: 'advance_phase_decisions_total',
    help: 'Decisions answered, by kind (advance, refresh, wait, delete, reject, done).',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  readonly lateness = new Histogram({
    name: 'advance_phase_phase_lateness_seconds',
    help: 'How long after its due time (previous start plus spec.delay) each phase after the first began.',
    buckets: LATENESS_BUCKETS,
    registers: [this.registry],
  });
  readonly kubeRequests = new Counter({
    name: 'advance_phase_kube_requests_total',
    help: 'Kubernetes API requests, by verb and HTTP status code (0: no answer).',
    labelNames: ['verb', 'code'],
    registers: [this.registry],
  });
  readonly kubeLatency = new Histogram({
    name: 'advance_phase_kube_request_duration_seconds',
    help: 'Kubernetes API request latency, by verb.',
    labelNames: ['verb'],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly deadLetters = new Counter({
    name: 'advance_phase_dead_letters_total',
    help: 'Events Knative gave up on and dead-lettered to the function, by the HTTP code of the last attempt.',
    labelNames: ['code'],
    registers: [this.registry],
  });
  readonly rejected = new Counter({
    name: 'advance_phase_rejected_total',
    help: 'Requests refused with a 4xx, by reason.',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'advance_phase_errors_total',
    help: 'Requests answered 5xx other than a wait (API server trouble, or the senders cannot be checked).',
    registers: [this.registry],
  });
  readonly sweepDuration = new Histogram({
    name: 'advance_phase_sweep_duration_seconds',
    help: 'How long each sweep took.',
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly sweepListed = new Gauge({
    name: 'advance_phase_sweep_listed_actions',
    help: 'Unfinished Actions the last sweep listed.',
    registers: [this.registry],
  });
  readonly sweepDecisions = new Counter({
    name: 'advance_phase_sweep_decisions_total',
    help: 'Decisions the sweeps took, by kind.',
    labelNames: ['kind'],
    registers: [this.registry],
  });

  readonly tickDuration = new Histogram({
    name: 'advance_phase_tick_duration_seconds',
    help: 'How long each tick took (WAIT_MODE=tick), by scope: slots (the seconds since the last tick) or full (every unfinished Action).',
    labelNames: ['scope'],
    buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30],
    registers: [this.registry],
  });
  readonly tickListed = new Counter({
    name: 'advance_phase_tick_listed_actions_total',
    help: 'Actions the ticks listed, by scope: what the ticks cost the API server.',
    labelNames: ['scope'],
    registers: [this.registry],
  });
  readonly tickDecisions = new Counter({
    name: 'advance_phase_tick_decisions_total',
    help: 'Decisions the ticks took, by kind.',
    labelNames: ['kind'],
    registers: [this.registry],
  });

  constructor(opts: { processMetrics?: boolean } = {}) {
    if (opts.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** The exposition and its content type. */
  async render(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }
}
