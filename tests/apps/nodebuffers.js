// nodebuffers.js [WORKERS=4] [ROUNDS=40] [MIB=24]: a Node service that compresses
// payloads in worker threads: each round a worker builds MIB MiB of Buffers (zlib
// deflate of 64 KiB pieces), keeps one and drops the rest. The Buffers live outside
// V8's heap (malloc'd), freed only when V8 collects their wrappers. Prints a checksum.
const { Worker, isMainThread, parentPort, workerData } = require('worker_threads');
const zlib = require('zlib');
if (isMainThread) {
  const workers = +(process.argv[2] || 4), rounds = +(process.argv[3] || 40), mib = +(process.argv[4] || 24);
  let done = 0, sum = 0;
  for (let i = 0; i < workers; i++) {
    const w = new Worker(__filename, { workerData: { i, rounds, mib } });
    w.on('message', (n) => { sum += n; if (++done === workers) console.log(sum); });
    w.on('error', (e) => { console.error(e); process.exit(1); });
  }
} else {
  const { i, rounds, mib } = workerData;
  let seed = i + 1;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const kept = [];
  for (let r = 0; r < rounds; r++) {
    const bufs = [];
    let n = 0;
    while (n < mib << 20) {
      const src = Buffer.alloc(65536, 97 + Math.floor(rnd() * 26));
      for (let k = 0; k < 64; k++) src[Math.floor(rnd() * 65536)] = Math.floor(rnd() * 256);
      const z = zlib.deflateSync(src, { level: 1 });
      bufs.push(src, z);
      n += src.length + z.length;
    }
    kept.push(bufs[Math.floor(rnd() * bufs.length)]);
    if (kept.length > 8) kept.shift();
  }
  parentPort.postMessage(kept.reduce((a, b) => a + b.length, 0));
}
