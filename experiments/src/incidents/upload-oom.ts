import type { Experiment, JudgeInput, PhaseLoad, Setup, SignalValues, Signals, Verdict } from '../definition.js';
import { countWhere, serviceSeries } from '../promql.js';
import { countByStatusAndFlag, type AccessLogEntry } from '@recipe-mesh/measure/access-log';
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
/**
 * Sized to fit recipe-api's memory limit (k8s/base: 320 Mi), so that on both targets the signal is
 * the memory growth, not an OOM kill: the uploads in flight, counted twice (the chunks and their
 * Buffer.concat copy at the digest), plus what the pod holds besides (memoryBudgetBytes) stay
 * under the limit; experiments/test/manifest-sizing.test.ts checks it against the manifests. Over
 * the upload limit (UPLOAD_MAX_BYTES, 5 MiB), so the fix answers 413.
 */
export const oversizedBytes = 10 * mb;
export const concurrentUploads = 4;
/** Copies of an upload's bytes the handler holds at its peak without limits (chunks + concat). */
export const copiesAtPeak = 2;

/**
 * What a pod holds besides the uploads, at most, from its NODE_OPTIONS: old space + 3 × semi
 * space + about 90 MiB outside the heap (the manifests' own budget beside the memory limit).
 */
export function memoryBudgetBytes(nodeOptions: string): number {
  const flag = (name: string) => Number(new RegExp(`--${name}=(\\d+)`).exec(nodeOptions)?.[1] ?? Number.NaN);
  return (flag('max-old-space-size') + 3 * flag('max-semi-space-size') + 90) * mb;
}
/**
 * recipe-api's upload limit (its UPLOAD_MAX_BYTES default, which the manifests keep;
 * experiments/test/manifest-sizing.test.ts checks both). With busboy's limits each upload still
 * passes up to this many bytes through Buffers before its 413, and they wait for a GC: the most
 * the fix's memory can honestly grow by is this times the uploads in flight, whatever their size.
 */
export const uploadLimitBytes = 5 * mb;
export const smallBytes = 256 * 1024;
const sampleEveryMs = 100;

export interface MemoryReading {
  rss: number | null;
  heapUsed: number | null;
  external: number | null;
}

export interface UploadEvidence {
  /** recipe-api's memory limit as the lab runs it (the manifests), null without one. */
  memoryLimitBytes: number | null;
  uploadBytes: number;
  concurrent: number;
  small: PhaseLoad;
  oversized: PhaseLoad;
  /** recipe-api memory before the uploads and the highest value sampled (every 100 ms) during them. */
  before: MemoryReading;
  peak: MemoryReading;
  /**
   * Growth of the memory that holds upload bytes. File chunks are Buffers, which V8 accounts as
   * external memory (nodejs_external_memory_bytes), not heap: external is where buffering shows,
   * without the ±10 MiB the JS heap swings between collections. RSS is no use after the first run:
   * the allocator keeps pages it got once.
   *
   * The largest rise of external memory above the lowest reading before it (the "before" reading
   * and every sample, in order): buffers an earlier run left for the GC can be collected during
   * this run's uploads, so peak minus before alone would hide growth behind that drop.
   */
  externalClimb: number | null;
  samples: number;
  metricDeltas: MetricDelta[];
  /** recipe-api sidecar lines of the uploads (status 201 vs 413). */
  sidecarUploads: AccessLogEntry[];
}

/**
 * The instance the uploads reach: recipe-api's sidecar inbound listener on the lab's ports fronts
 * the first instance, which keeps the service's name (lab/src/workloads/services.ts).
 */
const uploadPod = { pod: 'recipe-api' };

const readMemory = (s: Scrape): MemoryReading => ({
  rss: sumOf(s, 'process_resident_memory_bytes', uploadPod),
  heapUsed: sumOf(s, 'nodejs_heap_size_used_bytes', uploadPod),
  external: sumOf(s, 'nodejs_external_memory_bytes', uploadPod),
});

/** The largest rise of a reading above the lowest one before it; null without two numbers. */
export function largestClimb(readings: readonly (number | null)[]): number | null {
  let lowest: number | null = null;
  let climb: number | null = null;
  for (const value of readings) {
    if (value === null) continue;
    if (lowest !== null) climb = Math.max(climb ?? 0, value - lowest);
    lowest = lowest === null ? value : Math.min(lowest, value);
  }
  return climb;
}

const count = (p: PhaseLoad, status: string) =>
  Object.entries(p.byStatusFlag)
    .filter(([k]) => k.startsWith(status))
    .reduce((n, [, v]) => n + v, 0);

const photoRoute = `${serviceSeries('recipe-api')},route="/recipes/:id/photo"`;
const photoAnswers = (filter: string) => countWhere('http_server_request_duration_seconds_count', photoRoute, filter);
const inFlightBytes = oversizedBytes * concurrentUploads;
/** Growth the fix may show: what the limit lets through before each 413 (uploadLimitBytes). */
export const limitedGrowthBytes = uploadLimitBytes * concurrentUploads;

export const uploadSignals = {
  required: {
    externalGrowthBytes: {
      title: 'recipe-api external memory (Buffers) growth',
      unit: 'bytes',
      lab: 'recipe-api admin /metrics nodejs_external_memory_bytes every 100 ms: peak minus before',
      labSource: { kind: 'metric', service: 'recipe-api', family: 'nodejs_external_memory_bytes' },
      k8s: 'max_over_time(nodejs_external_memory_bytes{service="recipe-api"}) over the run minus before it',
      promql: `max(max_over_time(nodejs_external_memory_bytes{${serviceSeries('recipe-api')}}[$window])) - min(min_over_time(nodejs_external_memory_bytes{${serviceSeries('recipe-api')}}[$window] offset $window))`,
    },
    oversizedAccepted: {
      title: 'oversized uploads accepted (2xx)',
      unit: 'uploads',
      lab: "the load's own records",
      labSource: { kind: 'client' },
      k8s: 'http_server_request_duration_seconds_count{service="recipe-api",route="/recipes/:id/photo",status_code=~"2.."}',
      promql: photoAnswers('status_code=~"2.."'),
    },
    oversizedRejected: {
      title: 'oversized uploads answered 413',
      unit: 'uploads',
      lab: "the load's own records and .lab/logs/recipe-api-sidecar.access.log",
      labSource: { kind: 'client' },
      k8s: 'http_server_request_duration_seconds_count{service="recipe-api",route="/recipes/:id/photo",status_code="413"}',
      promql: photoAnswers('status_code="413"'),
    },
  },
  optional: {
    smallUploadsFailed: {
      title: `uploads of ${smallBytes / 1024} KiB that did not succeed`,
      unit: 'uploads',
      lab: "the load's own records",
      labSource: { kind: 'client' },
      k8s: 'http_server_request_duration_seconds_count{route="/recipes/:id/photo",status_code!~"2..|413"}',
    },
  },
} satisfies Signals<string, string>;
type UploadRequired = keyof typeof uploadSignals.required;
type UploadOptional = keyof typeof uploadSignals.optional;

export function readUploadSignals(e: UploadEvidence): SignalValues<UploadRequired, UploadOptional> {
  return {
    externalGrowthBytes: e.externalClimb,
    oversizedAccepted: count(e.oversized, '2'),
    oversizedRejected: count(e.oversized, '413'),
    smallUploadsFailed: e.small.requests === 0 ? null : e.small.requests - count(e.small, '2'),
  };
}

export function judgeUpload(v: JudgeInput<UploadRequired, UploadOptional>): Verdict {
  const growth = v.externalGrowthBytes;
  const reasons = [
    `uploads of ${(oversizedBytes / mb).toFixed(0)} MiB, ${concurrentUploads} at a time: ${Math.round(v.oversizedAccepted)} accepted, ${Math.round(v.oversizedRejected)} answered 413`,
    `recipe-api external memory (Buffers) grew by ${(growth / mb).toFixed(1)} MiB at its peak, against ${(inFlightBytes / mb).toFixed(0)} MiB in flight`,
  ];
  const smallFailed = v.smallUploadsFailed ?? null;
  if (smallFailed !== null) reasons.push(`small uploads (${smallBytes / 1024} KiB) that failed: ${smallFailed}`);
  if (v.oversizedAccepted >= 0.5 && growth >= inFlightBytes / 3) return { outcome: 'incident', reasons };
  if (v.oversizedRejected >= 0.5 && v.oversizedAccepted < 0.5 && growth <= limitedGrowthBytes && !smallFailed)
    return { outcome: 'healthy', reasons };
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

export const uploadOom: Experiment<UploadEvidence, UploadRequired, UploadOptional> = {
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
  signals: uploadSignals,
  verdictRule:
    "incident when an oversized upload is accepted and recipe-api's external memory (Buffers) grows by ≥1/3 of the bytes in flight; healthy when every oversized upload gets 413, the small one succeeds, and growth stays within what the upload limit lets through before each 413 (UPLOAD_MAX_BYTES × uploads in flight, half the bytes in flight)",
  k8s: {
    load: {
      // No ingress route reaches recipe-api's upload (the ingress serves web-api's /api/ only), so the
      // uploads go to one recipe-api pod's port: kubectl port-forward enters the pod's network
      // namespace on localhost, past its sidecar, which is why the lab's sidecar hop is absent here.
      describe: `One ${smallBytes / 1024} KiB upload, then ${concurrentUploads} concurrent ${oversizedBytes / mb} MiB multipart uploads to POST /recipes/42/photo of one recipe-api pod (kubectl port-forward pod/…: no ingress route leads there), as the lab sends them (load/multipart.ts)`,
      drive: async (ctx) => {
        // One forward per upload: a 413 before the body is read ends the connection, and kubectl
        // port-forward quits on that broken pipe ("lost connection to pod"), taking every other
        // upload through the same forward with it.
        const upload = async (bytes: number) => {
          const base = await ctx.podUrl('recipe-api', 'http');
          const form = multipartFile(bytes);
          return sendRequest({
            url: `${base}/recipes/42/photo`,
            method: 'POST',
            headers: form.headers,
            body: form.body,
            timeoutMs: 60_000,
          });
        };
        const small = await upload(smallBytes);
        ctx.log(`small upload: ${small.status}`);
        return Promise.all(Array.from({ length: concurrentUploads }, () => upload(oversizedBytes)));
      },
    },
    exact: {
      oversizedAccepted: {
        from: 'client',
        describe: "the load's own records, oversized uploads answered 2xx",
        reduce: (records) => records.filter((r) => r.status >= 200 && r.status < 300).length,
      },
      oversizedRejected: {
        from: 'client',
        describe: "the load's own records, oversized uploads answered 413",
        reduce: (records) => records.filter((r) => r.status === 413).length,
      },
    },
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
      memoryLimitBytes: target.pods['recipe-api'].memoryLimitBytes,
      uploadBytes: oversizedBytes,
      concurrent: concurrentUploads,
      small: phaseFromRecords('small upload', [small]),
      oversized: phaseFromRecords(
        ctx.fix ? `${oversizedBytes / mb} MiB, with fix` : `${oversizedBytes / mb} MiB uploads`,
        records,
      ),
      before: readMemory(s0),
      peak: sampled.peak,
      externalClimb: largestClimb([readMemory(s0).external, ...readings.map((r) => r.external)]),
      samples: sampled.samples,
      metricDeltas: [
        describeDelta('recipe-api', s0, s1, 'process_resident_memory_bytes', uploadPod),
        describeDelta('recipe-api', s0, s1, 'nodejs_heap_size_used_bytes', uploadPod),
        describeDelta('recipe-api', s0, s1, 'nodejs_external_memory_bytes', uploadPod),
      ],
      sidecarUploads: (logs['recipe-api-sidecar'] ?? []).filter((e) => e.path.includes('/photo')),
    };
  },

  readSignals: readUploadSignals,
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
      findings:
        e.memoryLimitBytes === null || e.peak.rss === null
          ? []
          : [
              `recipe-api's peak RSS ${(e.peak.rss / mb).toFixed(0)} MiB against the ${(e.memoryLimitBytes / mb).toFixed(0)} MiB memory limit of its Deployment: ${e.peak.rss < e.memoryLimitBytes ? 'fits (on the cluster the signal is the same memory growth, not an OOM kill)' : 'OVER: the pod would be OOMKilled on the cluster'}`,
            ],
    };
  },
};
