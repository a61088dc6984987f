import { photoField } from '../../services/recipe-api/src/entry-points/rest/photo-upload.js';

/**
 * The soak's request mix (docs/reliability.md): what users do, in proportion. Every kind states
 * the statuses its request can rightly get; anything else fails the soak.
 */
export interface RequestKind {
  name: string;
  weight: number;
  expect: number[];
  send(i: number): Promise<number>;
}

export interface MixTargets {
  /** The ingress: web-api as users reach it. */
  publicUrl: string;
  /** recipe-api's sidecar inbound listener: uploads exist only at recipe-api, reached through the mesh. */
  recipeApiViaSidecar: string;
  uploadMaxBytes: number;
}

const json = { 'content-type': 'application/json' };

/**
 * Longest a request may take: far above any healthy answer (the export's half included), so a
 * request that hangs fails the soak as `error TimeoutError` instead of stalling it.
 */
const requestTimeoutMs = 30_000;
const deadline = () => AbortSignal.timeout(requestTimeoutMs);

/** Reads the whole answer so its connection goes back to the pool. */
async function drained(response: Response): Promise<number> {
  await response.arrayBuffer();
  return response.status;
}

/** About half of the default 10,000-recipe catalogue's NDJSON (~5 MB), after which the client goes away. */
const exportBytesBeforeAbort = 2_500_000;

export function soakMix({ publicUrl, recipeApiViaSidecar, uploadMaxBytes }: MixTargets): RequestKind[] {
  const upload = async (bytes: number) => {
    const form = new FormData();
    form.append(photoField, new Blob([new Uint8Array(bytes)], { type: 'image/jpeg' }), 'photo.jpg');
    return drained(
      await fetch(`${recipeApiViaSidecar}/recipes/42/photo`, { method: 'POST', body: form, signal: deadline() }),
    );
  };
  return [
    ...(['http', 'graphql', 'grpc'] as const).map(
      (via): RequestKind => ({
        name: `get via ${via}`,
        weight: 20,
        expect: [200],
        send: async (i) =>
          drained(
            await fetch(`${publicUrl}/api/recipes/${1 + (i % 500)}?via=${via}`, {
              headers: { 'x-user-id': `soak-${i % 50}` },
              signal: deadline(),
            }),
          ),
      }),
    ),
    {
      name: 'menu',
      weight: 15,
      expect: [200],
      send: async (i) =>
        drained(
          await fetch(`${publicUrl}/api/menu?ids=${(i % 90) + 1},${(i % 90) + 2},${(i % 90) + 3}&via=grpc`, {
            signal: deadline(),
          }),
        ),
    },
    {
      name: 'preferences',
      weight: 10,
      expect: [200],
      send: async (i) =>
        drained(
          await fetch(`${publicUrl}/api/users/soak-${i % 50}/preferences`, {
            method: 'PUT',
            headers: json,
            body: JSON.stringify({ preferredServings: 1 + (i % 8), favourites: [(i % 100) + 1] }),
            signal: deadline(),
          }),
        ),
    },
    {
      name: 'export aborted halfway',
      weight: 3,
      expect: [200],
      send: async () => {
        const abort = new AbortController();
        const response = await fetch(`${publicUrl}/api/recipes/export`, {
          signal: AbortSignal.any([abort.signal, deadline()]),
        });
        const reader = response.body?.getReader();
        let read = 0;
        while (reader && read < exportBytesBeforeAbort) {
          const chunk = await reader.read();
          if (chunk.done) break;
          read += chunk.value.byteLength;
        }
        abort.abort();
        return response.status;
      },
    },
    { name: 'upload under the limit', weight: 2, expect: [201], send: () => upload(64 * 1024) },
    { name: 'upload over the limit', weight: 1, expect: [413], send: () => upload(uploadMaxBytes + 64 * 1024) },
  ];
}

/** The kind of the i-th request: a fixed interleaving with the weights' proportions (no randomness). */
export function kindPicker(mix: RequestKind[]): (i: number) => RequestKind {
  const totalWeight = mix.reduce((sum, kind) => sum + kind.weight, 0);
  return (i) => {
    // 7919 is prime and coprime with any total weight below it, so i → r visits every residue.
    let r = (i * 7919) % totalWeight;
    for (const kind of mix) if ((r -= kind.weight) < 0) return kind;
    return mix[0]!;
  };
}
