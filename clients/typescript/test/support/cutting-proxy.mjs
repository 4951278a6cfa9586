// A loopback TCP proxy that can cut every open connection, to test that
// streams reconnect and resume; it keeps each request's head so a test can
// read the headers a reconnect sent.

import { createServer, connect } from "node:net";

export async function startCuttingProxy(upstreamUrl) {
  const upstream = new URL(upstreamUrl);
  const sockets = new Set();
  const heads = [];
  const server = createServer((client) => {
    const server = connect(Number(upstream.port), upstream.hostname);
    sockets.add(client);
    sockets.add(server);
    let head = "";
    client.on("data", (chunk) => {
      if (!head.includes("\r\n\r\n")) {
        head += chunk.toString("latin1");
        if (head.includes("\r\n\r\n")) heads.push(head.slice(0, head.indexOf("\r\n\r\n")));
      }
    });
    client.pipe(server);
    server.pipe(client);
    const close = () => {
      client.destroy();
      server.destroy();
      sockets.delete(client);
      sockets.delete(server);
    };
    client.on("error", close).on("close", close);
    server.on("error", close).on("close", close);
  });
  await new Promise((ready) => server.listen(0, "127.0.0.1", ready));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    /** Request heads received, oldest first. */
    heads,
    /** Ends every open connection at once, as a dropped network would. */
    cut() {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
    async close() {
      this.cut();
      await new Promise((done) => server.close(done));
    },
  };
}
