import type { Experiment, PhaseLoad, Setup, Verdict } from '../definition.js';
import { countByStatusAndFlag, type AccessLogEntry } from '@recipe-mesh/lab/mesh/access-log';
import { describeDelta, sumOf, type MetricDelta, type Scrape } from '@recipe-mesh/measure/metric-text';
import { sendRequest } from '../load/http.js';
import { multipartFile } from '../load/multipart.js';
import { phaseFromRecords } from '../load/phase.js';

/**
 * "Multipart Form Uploads - Busboy and Node Streams": an upload endpoint without a size limit
 * buffered whole files in memory and a production server died out of memory. recipe-api's photo
 * upload does the same with `uploadLimits:false`; with limits, busboy streams the file through a
 * hash and stops at `fileSize`, answering 413.
 */

const mb = 1024 * 1024;
export const oversizedBytes = 48 * mb;
export const concurrentUploads = 4;
export const smallBytes = 256 * 1024;
const sampleEveryMs = 100;

export interface MemoryReading {
  rss: number | null;
  heapUsed: number | null;
  external: number | null;
}

export interface UploadEvidence {
  uploadBytes: number;
  concurrent: number;
  small: PhaseLoad;
  oversized: PhaseLoad;
  /** recipe-api memory before the uploads and the highest value sampled (every 100 ms) during them. */
  before: MemoryReading;
  peak: MemoryReading;
  samples: number;
  metricDeltas: MetricDelta[];
  /** recipe-api sidecar lines of the uploads (status 201 vs 413). */
  sidecarUploads: AccessLogEntry[];
}

const readMemory = (s: Scrape): MemoryReading => ({
  rss: sumOf(s, 'process_resident_memory_bytes'),
  heapUsed: sumOf(s, 'nodejs_heap_size_used_bytes'),
  external: sumOf(s, 'nodejs_external_memory_bytes'),
});

/**
 * Growth of the memory that holds upload bytes. File chunks are Buffers, which V8 accounts as
 * external memory (nodejs_external_memory_bytes), not heap: external is where buffering shows,
 * without the ±10 MiB the JS heap swings between collections. RSS is no use after the first run:
 * the allocator keeps pages it got once.
 */
export function memoryGrowth(e: Pick<UploadEvidence, 'before' | 'peak'>): number | null {
  return e.before.external === null || e.peak.external === null ? null : e.peak.external - e.before.external;
}

const count = (p: PhaseLoad, status: string) =>
  Object.entries(p.byStatusFlag)
    .filter(([k]) => k.startsWith(status))
    .reduce((n, [, v]) => n + v, 0);

export function judgeUpload(e: UploadEvidence): Verdict {
  const growth = memoryGrowth(e);
  const inFlight = e.uploadBytes * e.concurrent;
  const accepted = count(e.oversized, '2');
  const rejected = count(e.oversized, '413');
  const reasons = [
    `${e.concurrent} concurrent uploads of ${(e.uploadBytes / mb).toFixed(0)} MiB: ${accepted} accepted, ${rejected} answered 413`,
    `recipe-api external memory (Buffers) grew by ${growth === null ? '–' : `${(growth / mb).toFixed(1)} MiB`} at its peak (${e.samples} samples), against ${(inFlight / mb).toFixed(0)} MiB in flight`,
    `a small upload (${smallBytes / 1024} KiB): ${Object.keys(e.small.byStatusFlag).join(', ') || 'none'}`,
  ];
  if (growth === null || e.samples < 3) return { outcome: 'inconclusive', reasons: [...reasons, 'no memory readings'] };
  if (accepted > 0 && growth >= inFlight / 3) return { outcome: 'incident', reasons };
  if (
    rejected === e.concurrent &&
    growth <= inFlight / 6 &&
    count(e.small, '2') === e.small.requests &&
    e.small.requests > 0
  ) {
    return { outcome: 'healthy', reasons };
  }
  return {
    outcome: 'inconclusive',
    reasons: [...reasons, 'neither buffered without limit nor rejected with flat memory'],
  };
}

const setup = (limits: boolean, describe: string): Setup => ({
  describe: [describe],
  appFaults: { 'recipe-api': limits ? { uploadLimits: true } : { uploadLimits: false } },
  mesh: [],
});

/** The peak of each memory field over the readings (each field is its own maximum). */
function peakMemory(readings: readonly MemoryReading[]): MemoryReading {
  const max = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));
  return readings.reduce<MemoryReading>(
    (peak, m) => ({
      rss: max(peak.rss, m.rss),
      heapUsed: max(peak.heapUsed, m.heapUsed),
      external: max(peak.external, m.external),
    }),
    { rss: null, heapUsed: null, external: null },
  );
}

export const uploadOom: Experiment<UploadEvidence> = {
  name: 'upload-oom',
  title: 'Unlimited multipart uploads buffer whole files in memory',
  incident: {
    title: 'Multipart Form Uploads - Busboy and Node Streams',
    source: 'the blog post of that title (docs/experiments.md)',
  },
  hypothesis:
    'Without limits, the photo upload handler collects each file in memory before using it: memory grows with the bytes in flight (and a process with a small --max-old-space-size or container limit dies). With busboy limits the file streams through and an oversized upload is a 413 while memory stays flat.',
  incidentSetup: setup(false, 'recipe-api buffers uploads without any limit (PUT /faults {"uploadLimits":false})'),
  fixes: [
    {
      name: 'busboy-limits',
      summary:
        'Stream the multipart body with busboy limits (fileSize, files, parts) and a request-size check: 413 for oversize, never the whole file in memory.',
      setup: setup(true, 'recipe-api streams uploads through busboy with limits (UPLOAD_MAX_BYTES, default 5 MiB)'),
      production: [
        {
          kind: 'code-pattern',
          title: 'busboy with limits, streaming the file instead of buffering it',
          snippet: [
            'const bb = busboy({ headers: req.headers, limits: { fileSize: 5 * 1024 * 1024, files: 1, fields: 10, parts: 12 } });',
            "bb.on('file', (_name, file) => {",
            "  file.on('limit', () => reply(413));            // stop at fileSize, do not collect",
            '  pipeline(file, hashOrObjectStorageUpload());    // stream: never Buffer.concat the file',
            '});',
            'req.pipe(bb);',
          ].join('\n'),
          repoFile: 'services/recipe-api/src/entry-points/rest/photo-upload.ts (receivePhoto)',
        },
      ],
    },
  ],
  load: {
    describe: `A ${smallBytes / 1024} KiB upload (must succeed), then ${concurrentUploads} concurrent POST /recipes/42/photo of ${oversizedBytes / mb} MiB each through recipe-api's sidecar, generated while sent; recipe-api's memory sampled every ${sampleEveryMs} ms.`,
    defaultDurationS: 5,
  },
  signals: [
    {
      name: 'recipe-api external memory (Buffers) growth',
      lab: 'admin /metrics nodejs_external_memory_bytes every 100 ms',
      k8s: 'max_over_time(nodejs_external_memory_bytes{service="recipe-api"}) over the run minus before it',
      promql:
        'max_over_time(nodejs_external_memory_bytes{namespace="$namespace",service="recipe-api"}[$window]) - min_over_time(nodejs_external_memory_bytes{namespace="$namespace",service="recipe-api"}[$window] offset $window)',
    },
    {
      name: 'upload answers 413',
      lab: 'client outcomes and .lab/logs/recipe-api-sidecar.access.log',
      k8s: 'istio_requests_total{destination_workload="recipe-api",response_code="413"}',
      promql:
        'sum(increase(istio_requests_total{reporter="destination",destination_workload="recipe-api",destination_workload_namespace="$namespace",response_code="413"}[$window]))',
    },
    {
      name: 'restarts (OOMKilled)',
      lab: '—',
      k8s: 'kube_pod_container_status_last_terminated_reason{container="recipe-api",reason="OOMKilled"}',
    },
  ],
  verdictRule:
    "incident when an oversized upload is accepted and recipe-api's external memory (Buffers) grows by ≥1/3 of the bytes in flight; healthy when every oversized upload gets 413, the small one succeeds, and growth stays ≤1/6 of them",
  k8sLoad: {
    path: '/recipes/42/photo',
    describe:
      'POST /recipes/42/photo on recipe-api (port-forward); send the 48 MiB uploads with curl -F photo=@big.jpg',
    via: 'recipe-api',
  },
  k8sJudge(values) {
    const growth = values['recipe-api external memory (Buffers) growth'] ?? null;
    const rejected = values['upload answers 413'] ?? 0;
    const inFlight = oversizedBytes * concurrentUploads;
    const reasons = [
      `Prometheus: external memory +${growth === null ? '–' : (growth / mb).toFixed(1)} MiB, ${rejected.toFixed(0)} answers 413`,
    ];
    if (growth === null) return { outcome: 'inconclusive', reasons };
    if (growth >= inFlight / 3 && rejected < 0.5) return { outcome: 'incident', reasons };
    return rejected >= 0.5 && growth <= inFlight / 6
      ? { outcome: 'healthy', reasons }
      : { outcome: 'inconclusive', reasons };
  },

  async run(ctx) {
    const { target } = ctx;
    const url = `${target.urls.recipeApiSidecar}/recipes/42/photo`;
    const upload = (bytes: number) => {
      const form = multipartFile(bytes);
      return sendRequest({ url, method: 'POST', headers: form.headers, body: form.body, timeoutMs: 60_000 });
    };
    await ctx.applySetup();
    const small = await upload(smallBytes);
    // A settled heap to compare with: read until two readings ~250 ms apart agree within 5 %.
    let previousHeap: number | null = null;
    const { value: s0 } = await target.settle(
      () => target.scrape('recipe-api'),
      (scrape) => {
        const heap = readMemory(scrape).heapUsed;
        const steady = heap !== null && previousHeap !== null && Math.abs(heap - previousHeap) <= 0.05 * previousHeap;
        previousHeap = heap;
        return steady;
      },
      { maxMs: 3000 },
    );
    const mark = await target.accessLogMark();
    ctx.log(`${concurrentUploads} concurrent uploads of ${oversizedBytes / mb} MiB`);
    const uploads = Promise.all(Array.from({ length: concurrentUploads }, () => upload(oversizedBytes)));
    // Sampled for at least 1.5 s: a fast 413 must still be watched a while.
    const [records, readings] = await Promise.all([
      uploads,
      target.sampleWhile(async () => readMemory(await target.scrape('recipe-api')), uploads, {
        everyMs: sampleEveryMs,
        minMs: 1500,
      }),
    ]);
    const sampled = { peak: peakMemory(readings), samples: readings.length };
    const answered = records.filter((r) => r.status > 0).length;
    const logs = await target.accessLogWhen(
      mark,
      (l) => (l['recipe-api-sidecar'] ?? []).filter((e) => e.path.includes('/photo')).length >= answered,
      { what: `${answered} answered uploads logged by recipe-api's sidecar` },
    );
    const s1 = await target.scrape('recipe-api');
    return {
      uploadBytes: oversizedBytes,
      concurrent: concurrentUploads,
      small: phaseFromRecords('small upload', [small]),
      oversized: phaseFromRecords(
        ctx.fix ? `${oversizedBytes / mb} MiB, with fix` : `${oversizedBytes / mb} MiB uploads`,
        records,
      ),
      before: readMemory(s0),
      peak: sampled.peak,
      samples: sampled.samples,
      metricDeltas: [
        describeDelta('recipe-api', s0, s1, 'process_resident_memory_bytes'),
        describeDelta('recipe-api', s0, s1, 'nodejs_heap_size_used_bytes'),
        describeDelta('recipe-api', s0, s1, 'nodejs_external_memory_bytes'),
      ],
      sidecarUploads: (logs['recipe-api-sidecar'] ?? []).filter((e) => e.path.includes('/photo')),
    };
  },

  judge: judgeUpload,

  present(e) {
    const mib = (v: number | null) => (v === null ? null : v / mb);
    return {
      load: [e.small, e.oversized],
      signals: [
        {
          name: 'recipe-api external memory (MiB), before → peak',
          baseline: mib(e.before.external),
          observed: mib(e.peak.external),
          unit: 'MiB',
        },
        {
          name: 'recipe-api heap used (MiB), before → peak',
          baseline: mib(e.before.heapUsed),
          observed: mib(e.peak.heapUsed),
          unit: 'MiB',
        },
        {
          name: 'recipe-api RSS (MiB), before → peak',
          baseline: mib(e.before.rss),
          observed: mib(e.peak.rss),
          unit: 'MiB',
        },
      ],
      metricDeltas: e.metricDeltas,
      accessLog: e.sidecarUploads.slice(0, 5).map((entry) => ({ proxy: 'recipe-api-sidecar', entry })),
      accessLogCounts: { 'recipe-api-sidecar: photo uploads': countByStatusAndFlag(e.sidecarUploads) },
      trace: null,
      findings: [],
    };
  },
};
