// A stand-in for apps/trainer/src/main.ts, run by launcher.test.ts: JSON lines on stdout, the last one
// the result. FAKE_TRAINER_MODE picks the ending: success | fail | crash | slow | stubborn.
const print = (record) => process.stdout.write(`${JSON.stringify(record)}\n`);
const mode = process.env.FAKE_TRAINER_MODE ?? 'success';
const args = process.argv.slice(2);

print({ phase: 'start', args, echo: process.env.FAKE_TRAINER_ECHO ?? null });
process.stdout.write('a library printed this, not JSON\n');
process.stdout.write('{"half": \n');
print({ phase: 'core', event: 'step', step: 1, steps_total: 2 });

if (mode === 'success') {
  print({ phase: 'result', ok: true, version: 'v2', args });
} else if (mode === 'fail') {
  print({ phase: 'result', ok: false, code: 'NOT_FOUND', error: 'training data not found' });
  process.exitCode = 1;
} else if (mode === 'crash') {
  process.stderr.write('loading…\n');
  throw new Error('fixture exploded');
} else if (mode === 'slow' || mode === 'stubborn') {
  const timer = setInterval(() => print({ phase: 'core', event: 'tick' }), 50);
  process.on('SIGTERM', () => {
    if (mode === 'stubborn') return; // ignores it: only SIGKILL ends this one
    clearInterval(timer);
    print({ phase: 'result', ok: false, code: 'ABORTED', error: 'training aborted' });
    process.exitCode = 1;
  });
  print({ phase: 'waiting' });
}
