import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import type { FaultRegistry } from '@recipe-mesh/platform/faults';
import type { RecipeCatalogue } from '../../domain/recipe-catalogue.js';
import type { Recipe } from '../../domain/recipe.js';
import type { RecipeApiSwitches } from '../../faults.js';

async function* ndjson(recipes: AsyncIterable<Recipe>): AsyncGenerator<string> {
  for await (const recipe of recipes) yield `${JSON.stringify(recipe)}\n`;
}

/** Exports whose source has not been released yet: 0 when idle, unless `streamCleanup:false` leaked some. */
export class ExportTracker {
  private readonly sources = new Set<Readable>();
  get open(): number {
    return this.sources.size;
  }
  track(source: Readable): void {
    this.sources.add(source);
    source.once('close', () => this.sources.delete(source));
  }
}

/** How an export is written to the client: a named strategy, chosen per request by the fault document. */
interface ExportStreaming {
  readonly name: 'pipeline' | 'manual-no-cleanup';
  stream(source: Readable, req: Request, res: Response, logger: Logger): Promise<void>;
}

/**
 * `pipeline` (the default): produced page by page only as fast as the client reads (stream.pipeline
 * propagates backpressure), and released when the client goes away: pipeline destroys the source,
 * which returns the generator and stops reading the store.
 */
const pipelineStreaming: ExportStreaming = {
  name: 'pipeline',
  async stream(source, req, res, logger) {
    try {
      await pipeline(source, res);
    } catch (error) {
      // The client went away (or the socket failed): the source is already destroyed by pipeline.
      logger.info(
        { route: req.path, reason: (error as NodeJS.ErrnoException).code ?? (error as Error).message },
        'export stopped: client gone',
      );
    }
  },
};

/**
 * `manual-no-cleanup` (the `streamCleanup:false` fault, the client-abort-leak experiment): wired by
 * hand the way the Nodeload2 leak was: pause on a full socket, resume on 'drain', and no 'close'
 * handling. A client that leaves mid-export never drains, so the paused source, the store cursor
 * behind it and the response (with its socket) stay referenced forever.
 */
const manualNoCleanupStreaming: ExportStreaming = {
  name: 'manual-no-cleanup',
  async stream(source, _req, res) {
    // Writes after the client left fail with ERR_STREAM_DESTROYED; swallowing them is the bug.
    res.on('error', () => {});
    source.on('data', (line: string) => {
      if (!res.write(line)) {
        source.pause();
        res.once('drain', () => source.resume());
      }
    });
    source.on('end', () => res.end());
  },
};

/** The export strategy the fault document selects (read per request, so a flip takes effect at once). */
export function exportStreamingFor(faults: FaultRegistry<RecipeApiSwitches>): ExportStreaming {
  return faults.get().streamCleanup === false ? manualNoCleanupStreaming : pipelineStreaming;
}

/** `GET /recipes/export`: the whole catalogue as NDJSON, written by the selected strategy. */
export function exportHandler(
  catalogue: RecipeCatalogue,
  faults: FaultRegistry<RecipeApiSwitches>,
  tracker: ExportTracker,
  logger: Logger,
) {
  return async (req: Request, res: Response) => {
    const source = Readable.from(ndjson(catalogue.allRecipes()));
    tracker.track(source);
    res.status(200).type('application/x-ndjson');
    await exportStreamingFor(faults).stream(source, req, res, logger);
  };
}
