// A password storm for `scripts/bench-oidc storm`: wrong passwords posted to
// tusk's password form at a fixed rate, from a process of its own, whatever
// the server answers (open loop: a slow answer does not slow the storm).
// Every guess names a different unknown email, so the per-account throttle
// never refuses one before it is hashed (each costs tusk a full argon2id
// hash of its dummy), and the per-address limit is off in the benchmark's
// values. It prints one JSON line when it is ready, and on SIGTERM one
// `STORM_JSON {...}` line with what it sent and what came back.
//
// Env: STORM_FORM=<issuer>/auth/<connector>/login?state=<id> (required)
//      STORM_COOKIE=<name>=<value>: the login-binding cookie of the browser
//        that started that login (required: tusk refuses the form otherwise)
//      STORM_RATE=50 (guesses per second)  STORM_SOCKETS=64

import http from 'node:http';
import { randomBytes } from 'node:crypto';

const form = new URL(process.env.STORM_FORM ?? '');
const cookie = process.env.STORM_COOKIE ?? '';
const rate = Number(process.env.STORM_RATE || 50);
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(process.env.STORM_SOCKETS || 64) });

const counts = { sent: 0, checked: 0, refused: 0, other: 0, errors: 0, pending: 0 };
const statuses = {};
let started = 0;

function guess() {
  counts.sent++;
  counts.pending++;
  const body = `login=${randomBytes(6).toString('hex')}%40storm.example&password=${randomBytes(6).toString('hex')}`;
  const req = http.request(form, {
    method: 'POST',
    agent,
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body), cookie },
  }, (res) => {
    res.resume();
    res.on('end', () => {
      counts.pending--;
      statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
      if (res.statusCode === 401) counts.checked++;
      else if (res.statusCode === 429) counts.refused++;
      else counts.other++;
    });
  });
  req.on('error', () => { counts.pending--; counts.errors++; });
  req.end(body);
}

function finish() {
  const seconds = (performance.now() - started) / 1000;
  console.log(`STORM_JSON ${JSON.stringify({ ...counts, statuses, seconds, rate })}`);
  agent.destroy();
  process.exit(0);
}
process.on('SIGTERM', finish);
process.on('SIGINT', finish);

// Ticks of 10 ms, each sending what the rate owes so far, so the average
// holds even when the timer is late.
started = performance.now();
setInterval(() => {
  const owed = Math.floor(((performance.now() - started) / 1000) * rate) - counts.sent;
  for (let i = 0; i < owed; i++) guess();
}, 10);
console.log(JSON.stringify({ ready: true, rate }));
