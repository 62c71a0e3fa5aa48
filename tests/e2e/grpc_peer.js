// grpc_peer.js: an HTTP/2 cleartext server (Node's http2 module) that answers the way gRPC servers
// and broken deployments answer, for tests/e2e/33_grpc.sh: the shapes of reply real etcd does not
// produce on demand (no grpc-status, a compressed or second message, a percent-encoded grpc-message,
// Trailers-Only, an HTTP 404 page, a slow reply) and an echo of the request and its headers. It is a
// protocol peer for the gRPC client module, not an etcd stand-in: etcd behaviour is tested on etcd.
// usage: node grpc_peer.js LISTEN   (LISTEN = a unix socket path; LISTEN.ready is written once it
// listens; LISTEN ending in .port: a TCP port on 127.0.0.1 instead, written to that file)
'use strict';
const http2 = require('http2');
const fs = require('fs');

const listen = process.argv[2];

function frame(msg, flag) {
  const b = Buffer.alloc(5 + msg.length);
  b[0] = flag || 0;
  b.writeUInt32BE(msg.length, 1);
  msg.copy(b, 5);
  return b;
}

// replies with body, then trailers (grpc-status 0 unless given)
function reply(stream, body, trailers) {
  stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  stream.on('wantTrailers', () => stream.sendTrailers(trailers || { 'grpc-status': '0' }));
  stream.end(body);
}

const handlers = {
  '/test.Peer/Echo': (stream, req, headers) => reply(stream, frame(req.subarray(5))),
  '/test.Peer/Headers': (stream, req, headers) => {
    const seen = { te: headers['te'], 'content-type': headers['content-type'],
      'grpc-timeout': headers['grpc-timeout'] || null, method: headers[':method'] };
    reply(stream, frame(Buffer.from(JSON.stringify(seen))));
  },
  '/test.Peer/Fail': (stream) => reply(stream, Buffer.alloc(0),
    { 'grpc-status': '13', 'grpc-message': 'bad%20thing%3A 100%25 done' }),
  '/test.Peer/TrailersOnly': (stream) => stream.respond({ ':status': 200, 'content-type': 'application/grpc',
    'grpc-status': '5', 'grpc-message': 'no such object' }, { endStream: true }),
  '/test.Peer/NoStatus': (stream) => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
    stream.end(frame(Buffer.from('orphan')));
  },
  '/test.Peer/Compressed': (stream) => reply(stream, frame(Buffer.from('zzz'), 1)),
  '/test.Peer/Two': (stream) => reply(stream, Buffer.concat([frame(Buffer.from('a')), frame(Buffer.from('b'))])),
  '/test.Peer/Slow': (stream) => {
    const t = setTimeout(() => reply(stream, frame(Buffer.from('late'))), 5000);
    stream.on('close', () => clearTimeout(t));
  },
};

const server = http2.createServer();
server.on('stream', (stream, headers) => {
  const chunks = [];
  stream.on('data', (c) => chunks.push(c));
  stream.on('end', () => {
    const handler = handlers[headers[':path']];
    if (!handler) {
      stream.respond({ ':status': 404, 'content-type': 'text/plain' });
      stream.end('no such page\n');
      return;
    }
    handler(stream, Buffer.concat(chunks), headers);
  });
  stream.on('error', () => {});
});

if (listen.endsWith('.port')) {
  server.listen(0, '127.0.0.1', () => fs.writeFileSync(listen, String(server.address().port)));
} else {
  if (fs.existsSync(listen)) fs.unlinkSync(listen);
  server.listen(listen, () => fs.writeFileSync(listen + '.ready', 'ok'));
}
