// The e2e-any-broker project: the chain and recovery scenarios again, on config/knative/overlays/any-broker.
// Knative's own dispatcher then ignores Retry-After (the Trigger has no retryAfterMax), as the
// Kafka, RabbitMQ and NATS brokers do: every wait is a PingSource tick's.
import type { TestProject } from 'vitest/node';
import { provideStack } from './global-setup.js';

export default (project: TestProject) => provideStack(project, { overlay: 'config/knative/overlays/any-broker' });
