import net from 'node:net';

/**
 * How long a server keeps an idle keep-alive connection open, measured: one request on a fresh
 * connection, then the time from the end of the answer until the server closes the socket.
 *
 * Measured rather than assumed because it is not `keepAliveTimeout`: Node adds
 * `server.keepAliveTimeoutBuffer` (1000 ms by default, nodejs/node#59243; a fixed constant on
 * Node 20.20) to the socket timeout, so a 1000 ms keepAliveTimeout closes after ~2000 ms.
 */
export function measureIdleClose(url: string, path: string, maxWaitMs = 20_000): Promise<number | null> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port) });
    let lastData = 0;
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(null);
    }, maxWaitMs);
    socket.on('connect', () =>
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}\r\nConnection: keep-alive\r\n\r\n`),
    );
    socket.on('data', () => {
      lastData = performance.now();
    });
    const closed = () => {
      clearTimeout(timer);
      resolve(lastData ? performance.now() - lastData : null);
    };
    socket.on('end', closed);
    socket.on('close', closed);
    socket.on('error', () => {});
  });
}
