// bench/RESULTS.md and its SVG plots, generated from the newest bench/results/*.json.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ApiCalls } from './audit.js';
import type { ColdMarks, Measured, Usage } from './scenarios.js';
import { round, SHARED } from './stats.js';
import { JITTER_MS, TICK_MS, type SystemName } from './systems.js';
import type { TickCost } from './tick-cost.js';

interface SystemResult {
  lateness: Measured[];
  drift: { phases: number; driftMs: number; meanLatenessMs: number };
  scale: Measured[];
  idle: Usage & { n: number; seconds: number; floor: Usage };
}
interface Results {
  profile: string;
  when: string;
  machine: { cpus: number; model?: string; memoryGb: number; node: string; kernel: string };
  versions: Record<string, string>;
  systems: { function: SystemResult; peer: SystemResult; 'function-tick'?: SystemResult };
  ceiling: { n: number; patchesPerSecond: number };
  sweep: {
    finished: number;
    running: number;
    sweepMs: number;
    swept: number;
    calls: ApiCalls;
    plainList: { ms: number; pages: number; items: number };
    selectedList: { ms: number; pages: number; items: number };
    smallList: { ms: number; pages: number; items: number };
  };
  tickCost?: TickCost[];
  coldStart: {
    runs: number;
    minMs: number;
    medianMs: number;
    maxMs: number;
    bareNodeMedianMs: number;
    rssAfterStartMb: number;
    events: number;
    rssCurve: [number, number][];
    breakdown?: Record<'bareNode' | 'dryRun' | 'realMode', ColdMarks>;
  };
  seconds: number;
}

const sum = (o: Record<string, number>, keep: (k: string) => boolean = () => true) =>
  round(
    Object.entries(o)
      .filter(([k]) => keep(k))
      .reduce((a, [, v]) => a + v, 0),
    2,
  );
const ratio = (a: number, b: number) => (b === 0 ? 'n/a' : `${round(a / b, 2)}x`);
const mark = (ok: boolean) => (ok ? '**met**' : '**missed**');

export function renderReport(resultsDir: string, benchDir: string): void {
  // Files are <profile>-<time>.json: the newest by time, whatever its profile.
  const byTime = (f: string) => f.slice(f.indexOf('-'));
  const newest = readdirSync(resultsDir)
    .filter((f) => f.endsWith('.json'))
    .sort((a, b) => byTime(a).localeCompare(byTime(b)))
    .at(-1);
  if (!newest) throw new Error(`no results in ${resultsDir}`);
  const r = JSON.parse(readFileSync(join(resultsDir, newest), 'utf8')) as Results;
  const { function: fn, peer } = r.systems;
  const tick = r.systems['function-tick'];
  // Older results have two systems.
  const NAMES = (['function', 'function-tick', 'peer'] as SystemName[]).filter((n) => r.systems[n]);
  const system = (n: SystemName) => r.systems[n] as SystemResult;
  mkdirSync(join(benchDir, 'plots'), { recursive: true });

  // Plots: lateness distribution (steady runs), and lateness and CPU against concurrency.
  const steady = (s: SystemResult) => s.lateness.filter((m) => m.run.shape === 'steady').flatMap((m) => m.samples);
  writeFileSync(
    join(benchDir, 'plots/lateness-cdf.svg'),
    chart({
      title: 'Lateness per transition, steady load (delays 1 s and 3 s)',
      x: 'lateness (ms)',
      y: 'fraction of transitions',
      series: NAMES.map((n) => [n, cdf(steady(system(n)))]),
    }),
  );
  const scaleSeries = (s: SystemResult, f: (m: Measured) => number) =>
    s.scale.filter((m) => m.run.shape === 'steady').map((m) => [m.run.n, f(m)] as [number, number]);
  writeFileSync(
    join(benchDir, 'plots/lateness-vs-concurrency.svg'),
    chart({
      title: 'Lateness against concurrent Actions (5 phases, delay 2 s, steady)',
      x: 'concurrent Actions',
      y: 'lateness (ms)',
      logX: true,
      series: NAMES.flatMap(
        (n) =>
          [
            [`${n} p50`, scaleSeries(system(n), (m) => m.lateness.p50)],
            [`${n} p99`, scaleSeries(system(n), (m) => m.lateness.p99)],
          ] as [string, [number, number][]][],
      ),
    }),
  );
  writeFileSync(
    join(benchDir, 'plots/cpu-vs-concurrency.svg'),
    chart({
      title: 'CPU per transition, all processes (5 phases, delay 2 s, steady)',
      x: 'concurrent Actions',
      y: 'CPU ms per transition',
      logX: true,
      series: NAMES.map((n) => [n, scaleSeries(system(n), (m) => sum(m.cpuMsPerTransition))]),
    }),
  );

  // Targets.
  const happy = fn.lateness.filter((m) => m.run.shape === 'steady');
  const per = (ms: Measured[], k: keyof ApiCalls) =>
    round(ms.reduce((a, m) => a + m.api[k], 0) / ms.reduce((a, m) => a + m.transitions, 0), 2);
  const writes = round(per(happy, 'actionWrites') + per(happy, 'failedWrites'), 2);
  const reads = per(happy, 'actionReads');
  const at100 = fn.scale.find((m) => m.run.n === 100 && m.run.shape === 'steady');
  const biggestBurst = fn.scale.filter((m) => m.run.shape === 'burst').at(-1);
  const steadyP50 = (s: SystemResult) =>
    new Map(s.lateness.filter((m) => m.run.shape === 'steady').map((m) => [m.run.delay, m.lateness.p50]));
  const [fnP50, peerP50] = [steadyP50(fn), steadyP50(peer)];
  const p50Gaps = [...fnP50].map(([delay, ms]) => ({ delay, ms, peer: peerP50.get(delay) ?? Number.NaN }));
  const idleFn = sum(r.systems.function.idle.cpuSeconds, (k) => !SHARED.has(k));
  const idlePeer = sum(r.systems.peer.idle.cpuSeconds, (k) => !SHARED.has(k));
  const drainOk = biggestBurst?.drainRate !== undefined && biggestBurst.drainRate >= 0.8 * r.ceiling.patchesPerSecond;
  const targets: [string, string, boolean][] = [
    [
      'Action writes per transition 1.00, reads 0 (happy path)',
      `${writes} writes, ${reads} reads`,
      writes === 1 && reads === 0,
    ],
    [
      'Steady lateness at 100 Actions: p50 <= 20 ms, p99 <= 50 ms',
      at100 ? `p50 ${at100.lateness.p50} ms, p99 ${at100.lateness.p99} ms` : 'not measured',
      !!at100 && at100.lateness.p50 <= 20 && at100.lateness.p99 <= 50,
    ],
    [
      'No cumulative drift',
      `${fn.drift.driftMs} ms over ${fn.drift.phases - 1} waits (${fn.drift.meanLatenessMs} ms each)`,
      fn.drift.driftMs <= 50,
    ],
    [
      `Burst of ${biggestBurst?.run.n}: nothing lost or doubled, drain within 20% of the API server's ${r.ceiling.patchesPerSecond}/s`,
      `checked; drain ${biggestBurst?.drainRate}/s`,
      drainOk,
    ],
    [
      `Cold start median <= 1.3x a bare Node server's (${r.coldStart.bareNodeMedianMs} ms), RSS <= 80 MB`,
      `${r.coldStart.medianMs} ms (${round(r.coldStart.medianMs / r.coldStart.bareNodeMedianMs, 2)}x), ${r.coldStart.rssAfterStartMb} MB`,
      r.coldStart.medianMs <= 1.3 * r.coldStart.bareNodeMedianMs && r.coldStart.rssAfterStartMb <= 80,
    ],
    [
      `Lateness p50 within 10 ms of the peer (steady, ${fn.lateness[0]?.run.n} Actions)`,
      p50Gaps.map((g) => `delay ${g.delay} s: ${g.ms} vs ${g.peer} ms`).join('; '),
      p50Gaps.every((g) => g.ms - g.peer <= 10),
    ],
    [
      "Idle cost a fraction of the peer's",
      `${idleFn} vs ${idlePeer} CPU s over ${fn.idle.seconds} s (of which the dispatcher, holding the retries: ${fn.idle.cpuSeconds['dispatcher']})`,
      idleFn < idlePeer,
    ],
  ];
  if (tick) {
    // As for the function's target above: at 100 Actions, where the chain is not saturated.
    const worst = Math.max(...tick.lateness.filter((m) => m.run.shape === 'steady').map((m) => m.lateness.max));
    targets.push([
      `function-tick: every steady phase at ${tick.lateness[0]?.run.n} Actions within the tick (${TICK_MS / 1000} s) plus mtping's jitter (${JITTER_MS} ms) of its due time`,
      `max ${worst} ms`,
      worst <= TICK_MS + JITTER_MS,
    ]);
  }
  const biggest = r.tickCost?.at(-1);
  if (biggest) {
    targets.push([
      `A tick costs what is due, not what is running: an idle tick at ${biggest.running} running Actions lists nothing`,
      `${biggest.idle.lists} lists, ${biggest.idle.listed} Actions listed (a full list: ${biggest.full.listed})`,
      biggest.idle.listed === 0,
    ]);
  }

  const lines: string[] = [];
  const table = (head: string[], rows: (string | number | undefined)[][]) => {
    lines.push(`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`);
    for (const row of rows) lines.push(`| ${row.map((c) => c ?? '').join(' | ')} |`);
    lines.push('');
  };
  lines.push(
    '# Benchmark results',
    '',
    `Generated by \`npm run bench${r.profile === 'full' ? ' -- --full' : ''}\` (${r.profile} profile) on ${r.when}, ${r.seconds} s. ` +
      `Machine: ${r.machine['cpus']} cores (${r.machine['model']}), ${r.machine['memoryGb']} GiB, Node ${r.machine['node']}, Linux ${r.machine['kernel']}. ` +
      `Kubernetes ${r.versions['kubernetes']} (kube-apiserver + etcd as local processes), Knative Eventing data plane ${r.versions['knativeEventing']}. ` +
      `Raw figures: \`bench/results/${newest}\`.`,
    '',
    '**function**: the advance-phase function behind the local Knative chain (ApiServerSource adapter, broker ingress, IMC dispatcher, broker filter), ' +
      "on the test bed where Knative's controllers and webhooks, kube-controller-manager, kube-scheduler and the node's stand-ins run too: " +
      "per-process figures cover the chain's processes, whole-machine CPU covers everything. " +
      '**function-tick**: the same function on `config/knative/overlays/any-broker` (`WAIT_MODE=tick`): a not-yet-due event is answered 200 and a PingSource tick every ' +
      `${TICK_MS / 1000} s (through mtping, counted among its processes) begins what has come due, as on a broker that ignores \`Retry-After\`. ` +
      '**peer**: `bench/peer`, a controller-runtime reconciler (informer cache, `RequeueAfter`, one optimistic-lock status patch per transition). ' +
      'Same kube-apiserver, same Actions, one system switched on at a time. Every run is checked first (every phase once, in order, never early); a wrong run fails the bench.',
    '',
    '## Targets',
    '',
  );
  table(
    ['target', 'measured', ''],
    targets.map(([t, m, ok]) => [t, m, mark(ok)]),
  );
  lines.push('## Lateness per transition (ms): start_k - (start_k-1 + delay)', '');
  table(
    ['system', 'delay', 'shape', 'Actions', 'min', 'p50', 'p95', 'p99', 'max', 'burst drain /s'],
    NAMES.flatMap((name) =>
      system(name).lateness.map((m) => [
        name,
        `${m.run.delay} s`,
        m.run.shape,
        m.run.n,
        m.lateness.min,
        m.lateness.p50,
        m.lateness.p95,
        m.lateness.p99,
        m.lateness.max,
        m.drainRate,
      ]),
    ),
  );
  lines.push(
    `p50 ratio (function / peer), steady: ${p50Gaps.map((g) => `delay ${g.delay} s ${ratio(g.ms, g.peer)}`).join(', ')}.`,
    '',
  );
  if (at100) {
    const cpuMs = sum(at100.cpuMsPerTransition);
    lines.push(
      `Steady load asks for n / delay transitions per second; at ${cpuMs} CPU ms per transition (the function's chain at 100 steady Actions, below) that is ` +
        p50Gaps
          .map(
            (g) => `${round((((fn.lateness[0]?.run.n ?? 0) / g.delay) * cpuMs) / 1000, 2)} cores at delay ${g.delay} s`,
          )
          .join(' and ') +
        ` of this machine's ${r.machine['cpus']}: where it nears them, events queue and lateness grows.`,
      '',
    );
  }
  lines.push('![lateness distribution](plots/lateness-cdf.svg)', '');
  const reported = [...fn.lateness, ...fn.scale].filter((m) => m.reported);
  if (reported.length) {
    lines.push(
      "The function's own histogram (`advance_phase_phase_lateness_seconds` on `/metrics`, scraped before and after each run) against the timestamps, in the same runs:",
      '',
    );
    table(
      [
        'delay',
        'shape',
        'Actions',
        'phases (timestamps)',
        'phases (/metrics)',
        'sum ms (timestamps)',
        'sum ms (/metrics)',
      ],
      reported.map((m) => {
        const metrics = m.reported?.fromMetrics;
        const [count, sumMs] =
          metrics === 'restarted' || metrics === undefined
            ? ['restarted', 'restarted']
            : [metrics.count, metrics.sumMs];
        return [
          `${m.run.delay} s`,
          m.run.shape,
          m.run.n,
          m.reported?.fromTimestamps.count,
          count,
          m.reported?.fromTimestamps.sumMs,
          sumMs,
        ];
      }),
    );
  }
  lines.push('## Drift', '');
  table(
    ['system', 'phases at delay 1 s', '(last - first) - (phases - 1) s', 'per wait'],
    NAMES.map((n) => [
      n,
      system(n).drift.phases,
      `${system(n).drift.driftMs} ms`,
      `${system(n).drift.meanLatenessMs} ms`,
    ]),
  );
  lines.push(
    'Each phase waits from the previous *recorded* start (the contract: `spec.delay` seconds between phase starts), so a run drifts by the sum of its per-transition lateness, for both systems. ' +
      "Anchoring each wait on the previous *due* time instead cannot remove the function's share: Knative reads `Retry-After` as whole seconds or an HTTP date " +
      '(`parseRetryAfterDuration` in knative.dev/eventing `pkg/kncloudevents/retries.go`), and a wait can only start when the 503 reaches the dispatcher, so a ' +
      'sub-second shortfall cannot be asked for. It would pile up to a full second and then be repaid in one shorter wait: a saw-tooth of up to 1 s late, ' +
      'worse for every phase than a steady few ms. The lever is the per-transition latency itself.',
    '',
  );
  lines.push('## API calls per transition (steady lateness runs, from the audit log)', '');
  table(
    [
      'system',
      'Action writes',
      'failed Action writes (409, 422, 404)',
      'Action reads (GET, LIST)',
      'watches opened',
      'Event writes',
      'other',
    ],
    NAMES.map((n) => {
      const ms = system(n).lateness.filter((m) => m.run.shape === 'steady');
      return [
        n,
        per(ms, 'actionWrites'),
        per(ms, 'failedWrites'),
        per(ms, 'actionReads'),
        per(ms, 'actionWatches'),
        per(ms, 'eventWrites'),
        per(ms, 'other'),
      ];
    }),
  );
  lines.push('## Scale: 5 phases at delay 2 s', '');
  table(
    [
      'system',
      'Actions',
      'shape',
      'p50',
      'p99',
      'max',
      'transitions/s',
      'drain /s',
      'CPU ms/transition, whole machine',
      'CPU ms/transition, its processes',
      'CPU ms/transition by process',
      'peak RSS MB by process',
    ],
    NAMES.flatMap((name) =>
      system(name).scale.map((m) => [
        name,
        m.run.n,
        m.run.shape,
        m.lateness.p50,
        m.lateness.p99,
        m.lateness.max,
        m.throughput,
        m.drainRate,
        m.machineCpuMsPerTransition,
        sum(m.cpuMsPerTransition),
        Object.entries(m.cpuMsPerTransition)
          .map(([k, v]) => `${k} ${v}`)
          .join(', '),
        Object.entries(m.peakRssMb)
          .map(([k, v]) => `${k} ${v}`)
          .join(', '),
      ]),
    ),
  );
  lines.push(
    `kube-apiserver ceiling: ${r.ceiling.patchesPerSecond} status patches/s (${r.ceiling.n} patches, 16 in flight, straight at it).`,
    '',
  );
  lines.push('Where each system bends, from its largest burst:', '');
  for (const name of NAMES) {
    const burst = system(name)
      .scale.filter((m) => m.run.shape === 'burst')
      .at(-1);
    if (!burst) continue;
    const top = Object.entries(burst.cpuMsPerTransition)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([k, v]) => `${k} ${v} ms`)
      .join(', ');
    lines.push(
      `- ${name}: ${burst.throughput} transitions/s over the run, and a drain of ${burst.drainRate}/s per round (rounds overlap: one is still draining when the next comes due), ` +
        `with the machine ${burst.machineBusyPct}% busy (median of 1 s samples). CPU per transition: ${burst.machineCpuMsPerTransition} ms on the whole machine, ` +
        `${sum(burst.cpuMsPerTransition)} ms of it in ${name === 'peer' ? 'its' : "the chain's"} processes (largest: ${top}).`,
    );
  }
  lines.push(
    '',
    "Both bend where the cores run out. The function's chain does more work per transition (a watch event and two deliveries through four Knative processes, " +
      'against one status patch and an Event), so the same cores carry fewer of its transitions.',
    '',
    '![lateness against concurrency](plots/lateness-vs-concurrency.svg)',
    '',
    '![CPU against concurrency](plots/cpu-vs-concurrency.svg)',
    '',
  );
  lines.push(`## Idle: ${fn.idle.n} Actions waiting on a 60 s delay, ${fn.idle.seconds} s`, '');
  const byProcess = (o: Record<string, number>) =>
    Object.entries(o)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
  table(
    ['system', 'Actions', 'CPU s, own processes', 'CPU s by process', 'RSS MB by process'],
    NAMES.flatMap((n) => {
      const { idle } = system(n);
      return [
        [
          n,
          'none (just switched on)',
          sum(idle.floor.cpuSeconds, (k) => !SHARED.has(k)),
          byProcess(idle.floor.cpuSeconds),
          byProcess(idle.floor.rssMb),
        ],
        [
          n,
          `${idle.n} waiting`,
          sum(idle.cpuSeconds, (k) => !SHARED.has(k)),
          byProcess(idle.cpuSeconds),
          byProcess(idle.rssMb),
        ],
      ];
    }),
  );
  lines.push(
    'Own processes: all but kube-apiserver and etcd. Locally the function process stays up; under Knative Serving it scales to zero while Actions wait, ' +
      'and of its processes only the dispatcher holds the retries. The adapter, ingress, dispatcher and filter serve every source and function on the cluster. ' +
      "function-tick's idle figure includes its ticks (the function and mtping answer one every 2 s); under Knative Serving the ticks keep its pod up.",
    '',
  );
  const s = r.sweep;
  lines.push(`## Sweep: ${s.finished} finished + ${s.running} overdue Actions`, '');
  table(
    ['what', 'time', 'pages', 'items returned'],
    [
      [
        'one sweep (POST ping to the function: field-selected list + one patch per overdue Action)',
        `${s.sweepMs} ms`,
        '',
        s.swept,
      ],
      ['plain list of everything', `${s.plainList.ms} ms`, s.plainList.pages, s.plainList.items],
      [
        'field-selected list (what the sweep asks)',
        `${s.selectedList.ms} ms`,
        s.selectedList.pages,
        s.selectedList.items,
      ],
      [
        `list of a namespace holding only ${s.running} Actions`,
        `${s.smallList.ms} ms`,
        s.smallList.pages,
        s.smallList.items,
      ],
    ],
  );
  lines.push(
    `The sweep's API calls: ${s.calls.actionReads} list/get, ${s.calls.actionWrites} writes on Actions, ${s.calls.eventWrites} Events. ` +
      `What remains of the selected list's cost over the small list (${s.selectedList.ms - s.smallList.ms} ms) is the API server scanning every Action in its cache to apply the selector.`,
    '',
  );
  if (r.tickCost?.length) {
    lines.push('## Tick cost (WAIT_MODE=tick) against running Actions', '');
    lines.push(
      `The function as its own process in tick mode, n Actions running with nothing due for an hour, ticks posted ${TICK_MS / 1000} s apart as the overlay's PingSource sends them. ` +
        "Per tick, from the audit log and /proc: kube-apiserver's and etcd's CPU less what they use idle over the same time (a few ms is within the noise). " +
        "A process's first tick sweeps (every running Action listed): that row is what every tick would cost without `status.dueSlot`.",
      '',
    );
    const f = (t: TickCost['idle']) => [`${t.ms} ms`, t.lists, t.listed, t.writes, t.apiserverCpuMs, t.etcdCpuMs];
    table(
      [
        'running Actions',
        'tick',
        'answered in',
        'lists',
        'Actions listed',
        'patches',
        'kube-apiserver CPU ms',
        'etcd CPU ms',
      ],
      r.tickCost.flatMap((t) => [
        [t.running, 'first (full sweep)', ...f(t.full)],
        [t.running, 'idle (nothing due)', ...f(t.idle)],
        [t.running, `${t.due.due} come due`, ...f(t.due)],
      ]),
    );
    const big = r.tickCost.at(-1) as TickCost;
    lines.push(
      `At ${big.running} running Actions a tick every ${TICK_MS / 1000} s costs the API server ${round((big.idle.apiserverCpuMs / TICK_MS) * 100, 1)}% of a core idle ` +
        `(${big.idle.lists} field-selected lists per tick that return nothing; the server still scans its cache to apply the selector), against ` +
        `${round((big.full.apiserverCpuMs / TICK_MS) * 100, 1)}% if each tick listed every running Action (${big.full.listed} Actions listed per tick).`,
      '',
    );
  }
  if (tick) {
    const steadyOf = (s: SystemResult) => s.lateness.filter((m) => m.run.shape === 'steady');
    const p99 = (s: SystemResult) => Math.max(...steadyOf(s).map((m) => m.lateness.p99));
    lines.push('## Which mode to choose', '');
    lines.push(
      `- **Retry-After (config/knative)** on the MT channel-based broker over the in-memory channel, the only broker whose dispatcher honours \`Retry-After\`: ` +
        `punctual to the millisecond (steady p99 up to ${p99(fn)} ms here), the function scales to zero between phases, and a wait costs one delivery. ` +
        "Its pending retries live in the dispatcher's memory: a dispatcher restart leaves them to the sweep.",
      `- **Ticks (config/knative/overlays/any-broker)** on Kafka, RabbitMQ or NATS JetStream brokers, which ignore \`Retry-After\`: every phase within a tick plus jitter ` +
        `(steady p99 up to ${p99(tick)} ms here, bounded by ${TICK_MS + JITTER_MS} ms), no event is ever retried for a wait, and a restart loses nothing. ` +
        `Each wait counts from the previous recorded start, so a run drifts by that lateness at every phase (${tick.drift.meanLatenessMs} ms per wait above). ` +
        'The ticks keep the function from scaling to zero, and each tick costs a few field-selected lists (above) whether or not anything is due.',
      '',
    );
  }
  const c = r.coldStart;
  lines.push('## Function cold start (real mode: process spawn to the first 2xx on a CloudEvent)', '');
  table(
    ['runs', 'min', 'median', 'max', 'a bare Node server, median', 'RSS after start', 'RSS as events arrive'],
    [
      [
        c.runs,
        `${c.minMs} ms`,
        `${c.medianMs} ms`,
        `${c.maxMs} ms`,
        `${c.bareNodeMedianMs} ms`,
        `${c.rssAfterStartMb} MB`,
        c.rssCurve.map(([events, mb]) => `${mb} MB after ${events}`).join(', '),
      ],
    ],
  );
  lines.push(
    'A bare Node server is `node -e` with `http.createServer` answering 200 and nothing else, timed the same way: the floor for any Node function here. ' +
      'The function runs one bundle (`dist/main.cjs`) from the V8 code cache that `npm run build` writes (`functions/advance-phase/src/boot.ts`).',
    '',
  );
  const b = c.breakdown;
  if (b) {
    lines.push(
      'Where the time goes: the same starts with `bench/lib/cold-marks.cjs` preloaded, medians in ms since the process began ' +
        "(it adds a little to each; the client's connection attempts are not in it).",
      '',
    );
    const row = (name: string, m: ColdMarks) => [
      name,
      m.nodeReady,
      m.codeCacheMs ?? '',
      m.evaluateMs ?? '',
      m.listening,
      m.request,
      m.finish,
      round(m.finish - b.bareNode.finish),
    ];
    table(
      [
        'start',
        'Node ready',
        'code cache loaded (ms)',
        'bundle evaluated (ms)',
        'listening',
        'first request in',
        'first 2xx out',
        'over the bare server',
      ],
      [row('bare Node server', b.bareNode), row('function, dry-run', b.dryRun), row('function, real mode', b.realMode)],
    );
    lines.push(
      "Real mode minus dry-run is @kubernetes/client-node and the kubeconfig, which load after the bundle's synchronous part " +
        '(`index.ts` imports `kube.js` only in real mode). A V8 startup snapshot (`node --build-snapshot`) would replace the evaluation ' +
        'with a heap deserialization, but Node 24 and 26 abort while building one that holds `node:http` (`CheckGlobalAndEternalHandles`, ' +
        'nodejs/node#48672), which express, cloudevents and client-node all load at the top level.',
      '',
    );
  }
  lines.push('Rerun: `npm run bench` (quick, < 10 min) or `npm run bench -- --full`.', '');
  writeFileSync(join(benchDir, 'RESULTS.md'), lines.join('\n'));
}

function cdf(values: number[]): [number, number][] {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.map((v, i) => [v, (i + 1) / sorted.length]);
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

/** A plain SVG line chart: enough for a distribution or a figure against concurrency. */
function chart(o: {
  title: string;
  x: string;
  y: string;
  series: [string, [number, number][]][];
  logX?: boolean;
}): string {
  const W = 640,
    H = 360,
    L = 60,
    R = 150,
    T = 40,
    B = 50;
  const pts = o.series.flatMap(([, p]) => p);
  const fx = (v: number) => (o.logX ? Math.log10(Math.max(v, 1)) : v);
  const xs = pts.map(([x]) => fx(x));
  const ys = pts.map(([, y]) => y);
  const [x0, x1] = [Math.min(...xs, 0), Math.max(...xs, 1)];
  const [y0, y1] = [Math.min(0, ...ys), Math.max(...ys, 1e-9) * 1.05];
  const px = (v: number) => L + ((fx(v) - x0) / (x1 - x0 || 1)) * (W - L - R);
  const py = (v: number) => H - B - ((v - y0) / (y1 - y0 || 1)) * (H - T - B);
  const ticks = (a: number, b: number) => Array.from({ length: 5 }, (_, i) => a + ((b - a) * i) / 4);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="13">${o.title}</text>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/>`,
    `<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>`,
    `<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">${o.x}</text>`,
    `<text x="14" y="${(T + H - B) / 2}" text-anchor="middle" transform="rotate(-90 14 ${(T + H - B) / 2})">${o.y}</text>`,
  ];
  for (const t of ticks(x0, x1)) {
    const v = o.logX ? 10 ** t : t;
    out.push(`<text x="${px(v)}" y="${H - B + 15}" text-anchor="middle">${round(v, v < 10 ? 1 : 0)}</text>`);
  }
  for (const t of ticks(y0, y1))
    out.push(`<text x="${L - 5}" y="${py(t) + 4}" text-anchor="end">${round(t, t < 10 ? 2 : 0)}</text>`);
  o.series.forEach(([name, p], i) => {
    const color = COLORS[i % COLORS.length];
    out.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2" points="${p.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>`,
    );
    out.push(`<text x="${W - R + 10}" y="${T + 15 + i * 16}" fill="${color}">${name}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}
