// The HTTP transport: routes, the sender check, the body limit, CloudEvents read off the wire
// and handed to the handler (handler.ts), replies written back, errors turned into status codes.
import express, { type NextFunction, type Request, type Response } from 'express';
import type { SenderAuth, Verdict } from './auth.js';
import { readCloudEvent } from './cloudevent.js';
import { createHandler, type HandlerDeps } from './handler.js';
import { eventContext } from './log.js';
import { asDryRunEvent, type Reply } from './reply.js';
import { traceOf } from './trace.js';

export interface AppOptions extends Omit<HandlerDeps, 'now'> {
  /** null: every sender is accepted (no OIDC); the writes' own proofs still hold. */
  auth: SenderAuth | null;
  maxBodyBytes: number;
  now?: () => Date;
  /** Flipped by the entry point on SIGTERM so readiness fails while requests drain. */
  isShuttingDown?: () => boolean;
}

export function createApp(opts: AppOptions): express.Express {
  const { metrics } = opts;
  const { handle, refuse } = createHandler({ ...opts, now: opts.now ?? (() => new Date()) });
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');

  app.get('/health/liveness', (_req, res) => void res.status(200).json({ status: 'ok' }));
  app.get('/health/readiness', (_req, res) => {
    const down = opts.isShuttingDown?.() ?? false;
    res.status(down ? 503 : 200).json({ status: down ? 'shutting down' : 'ok', dryRun: opts.kube === null });
  });
  app.get('/metrics', async (_req, res, next) => {
    try {
      const { contentType, text } = await metrics.render();
      res.type(contentType).send(text);
    } catch (error) {
      next(error);
    }
  });

  // The sender is checked before the body is even read.
  app.post('/', senderCheck(opts), express.raw({ type: () => true, limit: opts.maxBodyBytes }), (req, res, next) => {
    // Every log line from here on carries the event's trace context (and, once read, its id).
    void eventContext.run({ ...traceOf(req.headers) }, async () => {
      try {
        const read = readCloudEvent(req.headers, Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '');
        if ('error' in read) {
          send(res, refuse(read.error));
          return;
        }
        const { event } = read;
        Object.assign(eventContext.getStore() ?? {}, traceOf(req.headers, event['traceparent']), { id: event.id });
        const reply = await handle(event, res.locals['subject'] as string | null);
        send(res, opts.kube === null ? asDryRunEvent(reply, event.id) : reply);
      } catch (error) {
        next(error);
      }
    });
  });
  app.all('/', (_req, res) => void res.status(405).set('allow', 'POST').json({ error: 'POST a CloudEvent to /' }));

  app.use(errorReply(opts));

  return app;
}

function send(res: Response, reply: Reply): void {
  res.status(reply.status).set(reply.headers ?? {});
  if (reply.body === undefined) res.end();
  else res.json(reply.body);
}

/** The sender check as middleware: a request goes on only with a sender Knative authenticated (or with OIDC off). */
function senderCheck(opts: AppOptions): (req: Request, res: Response, next: NextFunction) => Promise<void> {
  const { log, metrics } = opts;
  return async (req, res, next) => {
    try {
      const verdict: Verdict = opts.auth
        ? await opts.auth.check(req.headers.authorization)
        : { ok: true, subject: null };
      if (verdict.ok) {
        res.locals['subject'] = verdict.subject;
        next();
        return;
      }
      const { status, reason } = verdict;
      if (status === 503) {
        metrics.errors.inc();
        log.error({ reason }, 'cannot authenticate senders');
        send(res, { status, body: { error: 'cannot authenticate senders now', reason } });
        return;
      }
      metrics.rejected.inc({ reason: status === 401 ? 'unauthenticated' : 'forbidden' });
      log.warn({ ...traceOf(req.headers), status, reason }, 'refused a sender');
      const headers: Record<string, string> =
        status === 401 ? { 'www-authenticate': 'Bearer error="invalid_token"' } : {};
      send(res, { status, headers, body: { error: status === 401 ? 'unauthenticated' : 'forbidden', reason } });
    } catch (error) {
      next(error);
    }
  };
}

/** Errors as answers: 413 and other 4xx as they are, everything else a 500 that Knative retries. */
function errorReply(
  opts: AppOptions,
): (error: Error & { type?: string; status?: number }, req: Request, res: Response, next: NextFunction) => void {
  return (error, _req, res, _next) => {
    if (error.type === 'entity.too.large') {
      opts.metrics.rejected.inc({ reason: 'too-large' });
      send(res, { status: 413, body: { error: 'body too large', limit: opts.maxBodyBytes } });
      return;
    }
    if (error.status && error.status >= 400 && error.status < 500) {
      send(res, { status: error.status, body: { error: error.message } });
      return;
    }
    // API server trouble and the unexpected: 5xx, so Knative retries the event.
    opts.metrics.errors.inc();
    opts.log.error({ err: error }, 'event failed');
    send(res, { status: 500, body: { error: error.message } });
  };
}
