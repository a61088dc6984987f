import { createHash } from 'node:crypto';
import type { Request } from 'express';
import busboy from 'busboy';
import { AppError } from '@recipe-mesh/platform/errors';
import type { RecipeApiFaults } from '../../faults.js';
import type { PhotoRecord } from '../../domain/recipe-store.js';

export type ReceivedPhoto = Omit<PhotoRecord, 'recipeId'>;

/** The one part an upload carries: the file, under this form field name (the OpenAPI document's too). */
export const photoField = 'photo';

/** Room for multipart boundaries and part headers on top of the file itself. */
const multipartOverheadBytes = 16 * 1024;

/** Where the bytes of the file part go while it arrives. */
interface FileSink {
  write(chunk: Buffer): void;
  /** The file's digest, once its last chunk was written. */
  digest(): string;
}

/**
 * How an upload is received: a named strategy, chosen per request by the fault document (the
 * `uploadLimits` key), as export streaming and cache invalidation are.
 */
export interface UploadReceiving {
  readonly name: 'streamed-limited' | 'buffered-unlimited';
  /** The byte limit this strategy enforces given the configured one; undefined for none. */
  limitOf(configuredMaxBytes: number): number | undefined;
  sink(): FileSink;
}

/**
 * `streamed-limited` (the default): the file is streamed through a hash and never held in memory;
 * over the limit (file, file count, or whole body) it is a 413.
 */
const streamedLimited: UploadReceiving = {
  name: 'streamed-limited',
  limitOf: (configured) => configured,
  sink() {
    const hash = createHash('sha256');
    return { write: (chunk) => hash.update(chunk), digest: () => hash.digest('hex') };
  },
};

/**
 * `buffered-unlimited` (the `uploadLimits:false` fault, the upload-oom experiment): no limit, and
 * the whole file is buffered in memory before it is hashed, the way an unguarded handler does it
 * ("Multipart Form Uploads - Busboy and Node Streams", docs/experiments.md).
 */
const bufferedUnlimited: UploadReceiving = {
  name: 'buffered-unlimited',
  limitOf: () => undefined,
  sink() {
    const chunks: Buffer[] = [];
    return {
      write: (chunk) => chunks.push(chunk),
      digest: () => createHash('sha256').update(Buffer.concat(chunks)).digest('hex'),
    };
  },
};

/** The strategy the fault document selects for this request. */
export function uploadReceivingFor(faults: Pick<RecipeApiFaults, 'uploadLimits'>): UploadReceiving {
  return faults.uploadLimits === false ? bufferedUnlimited : streamedLimited;
}

/**
 * Reads one file part from a multipart body with the given strategy. Over its limit, the rest of
 * the body is discarded so the client can read the 413 rather than see a reset.
 */
export function receivePhoto(
  req: Request,
  receiving: UploadReceiving,
  configuredMaxBytes: number,
): Promise<ReceivedPhoto> {
  const maxBytes = receiving.limitOf(configuredMaxBytes);
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: req.headers,
        limits:
          maxBytes === undefined ? undefined : { fileSize: maxBytes, files: 1, fields: 10, fieldSize: 1024, parts: 12 },
      });
    } catch (error) {
      reject(new AppError('BAD_REQUEST', `not a multipart body: ${(error as Error).message}`));
      return;
    }
    let settled = false;
    let photo: ReceivedPhoto | undefined;
    let pendingFile: Promise<void> | undefined;

    const fail = (error: AppError) => {
      if (settled) return;
      settled = true;
      req.unpipe(parser);
      req.resume();
      reject(error);
    };
    const tooLarge = (what: string) =>
      fail(new AppError('PAYLOAD_TOO_LARGE', `${what} exceeds the upload limit`, { maxBytes }));

    if (maxBytes !== undefined) {
      const declared = Number(req.headers['content-length'] ?? NaN);
      if (declared > maxBytes + multipartOverheadBytes) return tooLarge('request body');
      let received = 0;
      req.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > maxBytes + multipartOverheadBytes) tooLarge('request body');
      });
    }

    // A form with anything but the photo is a mistake the caller should hear about, as a JSON body
    // with an unknown key is (and the published contract says so).
    const unexpectedPart = (name: string) =>
      fail(
        new AppError('VALIDATION_FAILED', 'unexpected part in the upload', [
          { path: name, message: `only one file part, named "${photoField}", is accepted` },
        ]),
      );
    parser.on('field', (name) => unexpectedPart(name));
    parser.on('file', (field, file, info) => {
      if (field !== photoField) {
        file.resume();
        unexpectedPart(field);
        return;
      }
      if (pendingFile !== undefined) {
        file.resume();
        return;
      }
      const sink = receiving.sink();
      let bytes = 0;
      pendingFile = new Promise<void>((done) => {
        file.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          sink.write(chunk);
        });
        file.on('limit', () => tooLarge('file'));
        file.on('end', () => {
          photo = { bytes, sha256: sink.digest(), contentType: info.mimeType, filename: info.filename ?? '' };
          done();
        });
      });
    });
    parser.on('filesLimit', () => tooLarge('number of files'));
    parser.on('partsLimit', () => tooLarge('number of parts'));
    parser.on('error', (error: Error) =>
      fail(new AppError('BAD_REQUEST', `malformed multipart body: ${error.message}`)),
    );
    parser.on('close', () => {
      void (pendingFile ?? Promise.resolve()).then(() => {
        if (settled) return;
        settled = true;
        if (photo) resolve(photo);
        else
          reject(
            new AppError('VALIDATION_FAILED', 'no file part in the upload', [
              { path: photoField, message: 'required' },
            ]),
          );
      });
    });
    req.pipe(parser);
  });
}
