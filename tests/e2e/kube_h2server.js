// kube_h2server.js: a small HTTPS server (Node's http2 module: h2 by ALPN, HTTP/1.1 fallback) used by
// tests/e2e/41_kube_transport.sh to check the API client's transport: protocol negotiation, streams
// multiplexed on one connection, authentication headers and client certificates, retry behaviour.
// Kubernetes semantics are tested against the sandbox, not here.
// usage: node kube_h2server.js DIR [--http1 | --plain]  (DIR holds tls.crt, tls.key, ca.crt, tokens;
// writes DIR/port)
'use strict';
const http = require('http');
const http2 = require('http2');
const https = require('https');
const fs = require('fs');
const path = require('path');

const dir = process.argv[2];
const http1Only = process.argv.includes('--http1');
const plain = process.argv.includes('--plain'); // plain HTTP/1.1, no TLS (an http:// server)
const read = (f) => fs.readFileSync(path.join(dir, f));
const tokens = () => read('tokens').toString().split('\n').filter((t) => t.length > 0);
const counters = new Map();
const connections = new Set();

function status(res, code, reason, message, extra) {
  const body = Object.assign({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, message, code },
    extra || {});
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function whoami(req) {
  const auth = req.headers['authorization'] || '';
  if (auth.startsWith('Bearer ')) {
    const tok = auth.slice(7);
    return tokens().includes(tok) ? 'token:' + tok : null;
  }
  const cert = req.socket.getPeerCertificate && req.socket.getPeerCertificate();
  if (req.socket.authorized && cert && cert.subject) return 'cert:' + cert.subject.CN;
  return null;
}

// Discovery with names at and past rekeyctl's limits (255 characters for a resource name, 63 for a
// version), for the client's discovery (item 7 of issue 11): /apis lists the groups, /apis/G/V the
// resources of one group version.
const longGroup = 'g'.repeat(241) + '.example.com'; // 253 characters, a DNS subdomain's most
const discoveryGroups = {
  'example.com': { version: 'v1', resources: [
    { name: 'a'.repeat(241), kind: 'LongA' }, { name: 'b'.repeat(243), kind: 'LongB' },
    { name: 'd'.repeat(200), kind: 'LongD' }, { name: 'longkind', kind: 'K'.repeat(300) },
    { name: 'widgets', kind: 'Widget' }] },
  [longGroup]: { version: 'v1', resources: [{ name: 'w', kind: 'W' }] },
  'badver.example.com': { version: 'v' + '1'.repeat(99), resources: [] },
};

function json(res, body) {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function discovery(res, parts) {
  if (parts.length === 1) {
    return json(res, { kind: 'APIGroupList', apiVersion: 'v1', groups: Object.entries(discoveryGroups).map(
      ([name, g]) => ({ name, versions: [{ groupVersion: `${name}/${g.version}`, version: g.version }],
        preferredVersion: { groupVersion: `${name}/${g.version}`, version: g.version } })) });
  }
  const g = discoveryGroups[parts[1]];
  if (parts.length !== 3 || !g || g.version !== parts[2]) return status(res, 404, 'NotFound', 'no such group');
  return json(res, { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: `${parts[1]}/${parts[2]}`,
    resources: g.resources.map((r) => Object.assign({ namespaced: true, verbs: ['get', 'list'] }, r)) });
}

function handle(req, res) {
  const url = new URL(req.url, 'https://x');
  const proto = req.httpVersion === '2.0' ? 'h2' : 'http/1.1';
  fs.appendFileSync(path.join(dir, 'requests.log'),
    `${req.method} ${url.pathname} ${proto} ${req.headers['user-agent'] || ''}\n`);
  const who = whoami(req);
  if (!who) return status(res, 401, 'Unauthorized', 'Unauthorized');
  const parts = url.pathname.split('/').filter((p) => p);
  if (parts[0] === 'apis') return discovery(res, parts);
  if (parts[0] === 'version') {
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ gitVersion: 'v1.32.0-test', proto, who, connections: connections.size }));
  }
  if (parts[0] === 'slow') { // /slow/MS: answers after MS milliseconds
    return setTimeout(() => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{}'); },
      Number(parts[1]));
  }
  if (parts[0] === 'flaky') { // /flaky/ID?fail=N&code=C&ra=S: the first N requests for ID fail
    const n = (counters.get(parts[1]) || 0) + 1;
    counters.set(parts[1], n);
    const code = Number(url.searchParams.get('code') || 503);
    if (n <= Number(url.searchParams.get('fail') || 0)) {
      const ra = url.searchParams.get('ra');
      if (ra) res.setHeader('retry-after', ra);
      return status(res, code, code === 429 ? 'TooManyRequests' : 'ServiceUnavailable', `failure ${n}`,
        ra ? { details: { retryAfterSeconds: Number(ra) } } : {});
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ attempts: n }));
  }
  if (parts[0] === 'code') { // /code/C: always C
    const code = Number(parts[1]);
    return status(res, code, 'Test', `always ${code}`);
  }
  return status(res, 404, 'NotFound', `${url.pathname} not found`);
}

const tlsOptions = {
  key: read('tls.key'), cert: read('tls.crt'), ca: read('ca.crt'), requestCert: true, rejectUnauthorized: false,
};
// --http1: a server that offers only HTTP/1.1 in ALPN (the sandbox and many proxies do that)
const server = plain ? http.createServer(handle) : http1Only ? https.createServer(tlsOptions, handle)
  : http2.createSecureServer(Object.assign({ allowHTTP1: true }, tlsOptions), handle);
server.on('secureConnection', (s) => { connections.add(s); s.on('close', () => connections.delete(s)); });
server.listen(0, '127.0.0.1', () => {
  fs.writeFileSync(path.join(dir, 'port.tmp'), String(server.address().port));
  fs.renameSync(path.join(dir, 'port.tmp'), path.join(dir, 'port'));
});
process.on('SIGTERM', () => process.exit(0));
