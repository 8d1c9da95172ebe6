// Reads one CloudEvent from an HTTP request, binary or structured mode, and refuses what the
// spec refuses. The SDK invents an id and a time when they are missing, which would hide a
// malformed sender, so the required attributes are checked on the wire first.
import { HTTP, type CloudEventV1 } from 'cloudevents';
import type { IncomingHttpHeaders } from 'node:http';

const REQUIRED = ['specversion', 'id', 'source', 'type'] as const;

export type Read = { event: CloudEventV1<unknown> } | { error: string };

export function readCloudEvent(headers: IncomingHttpHeaders, body: string): Read {
  const contentType = headers['content-type'] ?? '';
  if (contentType.startsWith('application/cloudevents-batch+json'))
    return { error: 'batched CloudEvents are not supported' };

  // Structured mode: parsed once here, and the SDK is handed the object, not the text again.
  let message: string | Record<string, unknown> = body;
  let present: (name: string) => boolean;
  if (contentType.startsWith('application/cloudevents+json')) {
    let attributes: unknown;
    try {
      attributes = JSON.parse(body);
    } catch (error) {
      return { error: `malformed CloudEvent: ${(error as Error).message}` };
    }
    if (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes)) {
      return { error: 'malformed CloudEvent: not a JSON object' };
    }
    const parsed = attributes as Record<string, unknown>;
    message = parsed;
    present = (name) => typeof parsed[name] === 'string';
  } else {
    present = (name) => typeof headers[`ce-${name}`] === 'string';
  }
  const missing = REQUIRED.filter((name) => !present(name));
  if (missing.length) return { error: `malformed CloudEvent: missing ${missing.join(', ')}` };

  try {
    const event = HTTP.toEvent<unknown>({ headers, body: message });
    if (Array.isArray(event)) return { error: 'batched CloudEvents are not supported' };
    return { event };
  } catch (error) {
    return { error: `malformed CloudEvent: ${(error as Error).message}` };
  }
}
