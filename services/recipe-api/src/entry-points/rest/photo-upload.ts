import { createHash } from 'node:crypto';
import type { Request } from 'express';
import busboy from 'busboy';
import { AppError } from '@recipe-mesh/platform/errors';
import type { PhotoRecord } from '../../domain/recipe-store.js';

export type ReceivedPhoto = Omit<PhotoRecord, 'recipeId'>;

/** Room for multipart boundaries and part headers on top of the file itself. */
const multipartOverheadBytes = 16 * 1024;

/**
 * Reads one file part from a multipart body. With a limit the file is streamed through a hash and
 * never held in memory; over the limit (file, file count, or whole body) it is a 413 and the rest of
 * the body is discarded so the client can read the answer rather than see a reset.
 * Without a limit (the `uploadLimits:false` fault, the upload-OOM experiment) the whole file is
 * buffered in memory first, the way an unguarded handler does it.
 */
export function receivePhoto(req: Request, maxBytes: number | undefined): Promise<ReceivedPhoto> {
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

    parser.on('file', (_field, file, info) => {
      if (pendingFile !== undefined) {
        file.resume();
        return;
      }
      const hash = createHash('sha256');
      let bytes = 0;
      const chunks: Buffer[] = [];
      pendingFile = new Promise<void>((done) => {
        file.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (maxBytes === undefined) chunks.push(chunk);
          else hash.update(chunk);
        });
        file.on('limit', () => tooLarge('file'));
        file.on('end', () => {
          if (maxBytes === undefined) hash.update(Buffer.concat(chunks));
          photo = { bytes, sha256: hash.digest('hex'), contentType: info.mimeType, filename: info.filename ?? '' };
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
            new AppError('VALIDATION_FAILED', 'no file part in the upload', [{ path: 'file', message: 'required' }]),
          );
      });
    });
    req.pipe(parser);
  });
}
