// A few counters in Prometheus text format on GET /metrics: enough to see decisions, dead
// letters and API writes per transition without pulling in a metrics library.
export class Counters {
  private readonly values = new Map<string, number>();

  inc(name: string, labels: Record<string, string> = {}, by = 1): void {
    const key = `${name}${format(labels)}`;
    this.values.set(key, (this.values.get(key) ?? 0) + by);
  }

  get(name: string, labels: Record<string, string> = {}): number {
    return this.values.get(`${name}${format(labels)}`) ?? 0;
  }

  render(): string {
    return [...this.values].map(([key, value]) => `advance_phase_${key} ${value}\n`).join('');
  }
}

function format(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}
