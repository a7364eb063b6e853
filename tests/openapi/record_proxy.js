// record_proxy.js UPSTREAM READY LOG - an HTTP proxy on a free loopback
// port that passes every request to UPSTREAM (https://host:port, trusting
// the PEM file $CURL_CA_BUNDLE: the room CA; or http://) unchanged
// and appends one JSON line per exchange to LOG:
//   {"method", "path", "status", "content_type", "body"}   (body: text)
// It writes its own URL and a newline to READY once it listens.  Used by
// tests/integration/test_openapi.sh to capture real answers of cdrd to
// the real client, for conform.js.  Only Node's own modules.
'use strict';
const http = require('http');
const https = require('https');
const fs = require('fs');

const [upstream, readyFile, logFile] = process.argv.slice(2);
if (!upstream || !readyFile || !logFile) {
  console.error('usage: node record_proxy.js UPSTREAM READY LOG');
  process.exit(2);
}
const up = new URL(upstream);
const tls = up.protocol === 'https:';
const ca = tls && process.env.CURL_CA_BUNDLE ? fs.readFileSync(process.env.CURL_CA_BUNDLE) : undefined;

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const headers = { ...req.headers, host: up.host };
    const preq = (tls ? https : http).request(
      { host: up.hostname, port: up.port, method: req.method, path: req.url, headers, ca },
      (pres) => {
        const out = [];
        pres.on('data', (c) => out.push(c));
        pres.on('end', () => {
          const text = Buffer.concat(out);
          fs.appendFileSync(logFile, JSON.stringify({
            method: req.method, path: req.url.split('?')[0], status: pres.statusCode,
            content_type: pres.headers['content-type'] || '', retry_after: pres.headers['retry-after'] || null,
            body: text.toString('utf8'),
          }) + '\n');
          res.writeHead(pres.statusCode, pres.headers);
          res.end(text);
        });
      });
    preq.on('error', (e) => { res.writeHead(502); res.end(String(e)); });
    preq.end(body);
  });
});
server.listen(0, '127.0.0.1', () => {
  fs.writeFileSync(readyFile, `http://127.0.0.1:${server.address().port}\n`);
});
