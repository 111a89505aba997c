import { benchChainLatency } from './chain-latency.ts';
import { machine } from './lib.ts';
import { benchStoreScale } from './store-scale.ts';

process.stdout.write(`autoctrl benchmarks — ${new Date().toISOString()} — ${machine()}\n`);
const figures = [...(await benchChainLatency()), ...(await benchStoreScale())];
const missed = figures.filter((f) => !f.ok);
process.stdout.write(`${figures.length - missed.length} of ${figures.length} targets met\n`);
