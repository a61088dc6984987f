import { Readable } from 'node:stream';

/**
 * A multipart/form-data body with one file part of `bytes` bytes, generated as it is sent (the
 * client never holds the file), with its exact Content-Length so servers can also reject early.
 */
export function multipartFile(
  bytes: number,
  options: { field?: string; filename?: string; contentType?: string } = {},
) {
  const boundary = `----recipe-mesh-${Math.random().toString(16).slice(2)}`;
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="${options.field ?? 'photo'}"; filename="${options.filename ?? 'photo.jpg'}"\r\n` +
      `Content-Type: ${options.contentType ?? 'image/jpeg'}\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const chunk = Buffer.alloc(64 * 1024, 0xab);
  async function* generate() {
    yield head;
    let left = bytes;
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      yield n === chunk.length ? chunk : chunk.subarray(0, n);
      left -= n;
    }
    yield tail;
  }
  return {
    headers: {
      'content-type': `multipart/form-data; boundary=${boundary}`,
      'content-length': String(head.length + bytes + tail.length),
    },
    body: () => Readable.from(generate(), { objectMode: false }),
  };
}
