// A gateway process in a cluster: joins the primary's hub (hub.ts) so the processes act as one
// gateway. Its guarded outcomes go out in small batches (guard-outbox.ts: never a message per
// request) and the others' come in; its rollback decisions are claimed; /admin/registry,
// POST /admin/reload and the console ask every process; a scrape answers the sum of all.
import cluster from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import type { ConsolePart } from '../console/snapshot.js';
import type { Gateway } from '../gateway.js';
import type { ReloadOutcome } from '../rollout/reloader.js';
import type { RegistryStatus } from '../service/admin-service.js';
import { GuardOutbox } from './guard-outbox.js';
import type { ClusterLogger } from './primary.js';
import {
  isMessage,
  METRICS_REPLY,
  METRICS_REQUEST,
  type MetricsReply,
  type MetricsRequest,
  type PrimaryMessage,
  type Question,
  type WorkerMessage,
} from './messages.js';

/** In a cluster worker: joins the hub. False outside a cluster (nothing to do). */
export function joinCluster(gateway: Gateway, log: ClusterLogger): boolean {
  if (!cluster.isWorker) return false;
  const send = (message: WorkerMessage | MetricsRequest): void => void process.send?.(message);
  const pending = new Map<number, (reply: PrimaryMessage | MetricsReply) => void>();
  let nextId = 1;
  const call = <T extends PrimaryMessage | MetricsReply>(message: (id: number) => WorkerMessage | MetricsRequest): Promise<T> =>
    new Promise((resolve) => {
      const id = nextId++;
      pending.set(id, resolve as (reply: PrimaryMessage | MetricsReply) => void);
      send(message(id));
    });
  const ask = async <T>(question: Question): Promise<{ answers: T[]; missing: number }> => {
    const reply = await call<Extract<PrimaryMessage, { type: 'mg:answers' }>>((id) => ({ type: 'mg:ask', id, question }));
    return { answers: reply.answers as T[], missing: reply.missing };
  };

  // --- metrics: a scrape of any process answers the sum over all of them ---
  // Constructing one registers prom-client's worker-side listener; setRegistries names ours.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([gateway.metrics.registry]);
  gateway.metrics.serveTextFrom(async () => {
    const reply = await call<MetricsReply>((id) => ({ type: METRICS_REQUEST, id }));
    if (reply.text === undefined) throw new Error(reply.error ?? 'no metrics');
    return reply.text;
  });

  // --- the guard: outcomes out in batches, decisions claimed ---
  const outbox = new GuardOutbox((batches) => send({ type: 'mg:guard', batches }));
  gateway.controller.usePeers({
    share: (model, version, error, latencyMs) => outbox.add(model, version, error, latencyMs),
    claim: async (claim) => {
      outbox.flush(); // the others' guards see what this one saw before they hear of the claim
      return (await call<Extract<PrimaryMessage, { type: 'mg:claimed' }>>((id) => ({ type: 'mg:claim', id, claim }))).won;
    },
    persisted: (model, version) => send({ type: 'mg:persisted', model, version }),
  });

  // --- questions for every process ---
  // This process answers its own questions too; should even that fail, it speaks for itself alone.
  gateway.admin.usePeers({
    statuses: async () => orOwn((await ask<RegistryStatus>('status')).answers, () => gateway.admin.status()),
    reloads: async () => {
      const { answers, missing } = await ask<ReloadOutcome>('reload');
      if (missing === 0) return answers;
      const revision = answers[0]?.revision ?? gateway.registry.current().id;
      return [...answers, { result: 'unreachable', revision, problems: [`${missing} gateway process(es) did not finish the reload`] }];
    },
  });
  gateway.console.usePeers(async () => orOwn((await ask<ConsolePart>('console')).answers, () => gateway.console.localPart()));
  const answer = (question: Question): Promise<unknown> | unknown => {
    if (question === 'status') return gateway.admin.status();
    if (question === 'console') return gateway.console.localPart();
    return gateway.admin.reloadHere();
  };

  process.on('message', (message: unknown) => {
    if (!isMessage(message) && (message as { type?: unknown } | null)?.type !== METRICS_REPLY) return;
    const m = message as PrimaryMessage | MetricsReply;
    switch (m.type) {
      case 'mg:guard':
        for (const b of m.batches) gateway.controller.observeShared(b.model, b.version, b.samples);
        break;
      case 'mg:rolled-back':
        gateway.controller.rolledBackElsewhere(m.claim);
        break;
      case 'mg:persisted':
        gateway.controller.persistedElsewhere(m.model, m.version).catch((err: unknown) => log.error({ err: String(err) }, 'registry check failed'));
        break;
      case 'mg:question':
        Promise.resolve()
          .then(() => answer(m.question))
          .then(
            (data) => send({ type: 'mg:answer', id: m.id, data }),
            (err: unknown) => send({ type: 'mg:answer', id: m.id, error: err instanceof Error ? err.message : String(err) }),
          );
        break;
      case 'mg:claimed':
      case 'mg:answers':
      case METRICS_REPLY: {
        const resolve = pending.get(m.id);
        pending.delete(m.id);
        resolve?.(m);
        break;
      }
    }
  });
  send({ type: 'mg:joined' });
  return true;
}

async function orOwn<T>(answers: T[], own: () => T | Promise<T>): Promise<T[]> {
  return answers.length > 0 ? answers : [await own()];
}
