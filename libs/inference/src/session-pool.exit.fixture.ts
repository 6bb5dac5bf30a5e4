// Test fixture: opens a two-session pool, runs one pass (so one worker never gets a call), and
// leaves the pool unreleased. The process must still end on its own: idle workers hold nothing open.
import { SessionPool } from './session-pool.ts';

const pool = await SessionPool.open(process.argv[2]!, { sessions: 2, threads: 1 });
await pool.run({ feeds: { input_ids: new BigInt64Array(3).fill(5n), attention_mask: new BigInt64Array(3).fill(1n) }, batch: 1, seq: 3 });
console.log('ran one pass');
