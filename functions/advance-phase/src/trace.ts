// W3C trace context as Knative delivers it: the `traceparent` HTTP header (binary mode), or the
// CloudEvent's `traceparent` attribute (the distributed-tracing extension: `ce-traceparent` in
// binary mode, a member of the JSON in structured mode). Logged with the trace id on its own, so
// that a phase can be followed from Knative's traces into the function's log lines.
import type { IncomingHttpHeaders } from 'node:http';

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

export interface TraceFields {
  traceparent?: string;
  traceId?: string;
}

/** From the request's headers, else from the event's attribute; nothing if neither is valid. */
export function traceOf(headers: IncomingHttpHeaders, attribute?: unknown): TraceFields {
  for (const candidate of [headers['traceparent'], headers['ce-traceparent'], attribute]) {
    const value = typeof candidate === 'string' ? candidate.trim().toLowerCase() : '';
    const match = TRACEPARENT.exec(value);
    if (match) return { traceparent: value, traceId: match[1] as string };
  }
  return {};
}
