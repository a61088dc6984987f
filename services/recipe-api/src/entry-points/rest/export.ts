import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import type { FaultRegistry } from '@recipe-mesh/platform/faults';
import type { RecipeCatalogue } from '../../domain/recipe-catalogue.js';
import type { Recipe } from '../../domain/recipe.js';

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

/**
 * `GET /recipes/export`: the whole catalogue as NDJSON, produced page by page only as fast as the
 * client reads (stream.pipeline propagates backpressure), and released when the client goes away:
 * pipeline destroys the source, which returns the generator and stops reading the store.
 *
 * With the `streamCleanup:false` fault it is wired by hand the way the Nodeload2 leak was: pause on
 * a full socket, resume on 'drain', and no 'close' handling. A client that leaves mid-export never
 * drains, so the paused source, the store cursor behind it and the response (with its socket) stay
 * referenced forever.
 */
export function exportHandler(
  catalogue: RecipeCatalogue,
  faults: FaultRegistry,
  tracker: ExportTracker,
  logger: Logger,
) {
  return async (req: Request, res: Response) => {
    const source = Readable.from(ndjson(catalogue.allRecipes()));
    tracker.track(source);
    res.status(200).type('application/x-ndjson');

    if (faults.get().streamCleanup === false) {
      // Writes after the client left fail with ERR_STREAM_DESTROYED; swallowing them is the bug.
      res.on('error', () => {});
      source.on('data', (line: string) => {
        if (!res.write(line)) {
          source.pause();
          res.once('drain', () => source.resume());
        }
      });
      source.on('end', () => res.end());
      return;
    }

    try {
      await pipeline(source, res);
    } catch (error) {
      // The client went away (or the socket failed): the source is already destroyed by pipeline.
      logger.info(
        { route: req.path, reason: (error as NodeJS.ErrnoException).code ?? (error as Error).message },
        'export stopped: client gone',
      );
    }
  };
}
