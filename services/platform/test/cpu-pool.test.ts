import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CpuPool } from '../src/cpu-pool.js';
import { z } from 'zod';
import { FaultRegistry, noSwitches, serviceSwitches } from '../src/faults.js';

test('the pool burns off the event loop: a timer fires while a burn is still running', async (t) => {
  const pool = new CpuPool(1);
  t.after(() => pool.close());
  const order: string[] = [];
  const burn = pool.burn(300).then(() => order.push('burn done'));
  // A timer on the main thread: it can only fire while the loop is free.
  await new Promise<void>((resolve) =>
    setTimeout(() => {
      order.push('timer');
      resolve();
    }, 10),
  );
  await burn;
  // On the loop, the 300 ms busy-wait would run before any timer could fire.
  assert.deepEqual(order, ['timer', 'burn done']);
});

test('the pool queues beyond its size, answers every burn, and close fails what is left', async (t) => {
  const pool = new CpuPool(2);
  t.after(() => pool.close());
  await Promise.all(Array.from({ length: 5 }, () => pool.burn(5)));
  const single = new CpuPool(1);
  const running = assert.rejects(single.burn(200), /cpu pool closed/);
  const queued = assert.rejects(single.burn(200), /cpu pool closed/);
  await single.close();
  await Promise.all([running, queued]);
});

test('cpuBurnPercent burns some requests; cpuWork says where', () => {
  const rolls = [0.1, 0.9];
  let i = 0;
  const faults = new FaultRegistry(noSwitches, undefined, () => rolls[i++ % rolls.length]!);
  faults.set({ cpuBurnMs: 20, cpuBurnPercent: 50, cpuWork: 'worker-pool' });
  assert.deepEqual(faults.decide('/recipes/1'), { delayMs: 0, cpuBurnMs: 20, cpuWork: 'worker-pool' });
  assert.deepEqual(faults.decide('/recipes/1'), { delayMs: 0, cpuBurnMs: 0, cpuWork: 'worker-pool' });
  faults.set({ cpuBurnMs: 20 });
  assert.equal(faults.decide('/x').cpuBurnMs, 20, 'every request burns when no percent is given');
  assert.equal(faults.decide('/x').cpuWork, 'event-loop');
});

test('roll decides per call by the percentage, never at 0', () => {
  const rolls = [0.2, 0.6];
  let i = 0;
  const faults = new FaultRegistry(noSwitches, undefined, () => rolls[i++ % rolls.length]!);
  assert.equal(faults.roll(0), false);
  assert.equal(faults.roll(40), true);
  assert.equal(faults.roll(40), false);
});

test("a service's document is the platform's faults and its own switches, nothing else", () => {
  const switches = serviceSwitches(
    { mode: z.enum(['a', 'b']).optional() },
    { mode: ['mode_b', (d) => d.mode === 'b'] },
  );
  const faults = new FaultRegistry(switches);
  assert.deepEqual(faults.set({ mode: 'b', unready: true }), { mode: 'b', unready: true });
  assert.throws(() => faults.set({ resetAfterCreate: 10 }), /invalid fault document/);
  assert.throws(() => new FaultRegistry(noSwitches).set({ mode: 'b' }), /invalid fault document/);
  assert.deepEqual(faults.get(), { mode: 'b', unready: true }, 'a refused document leaves the active one');
});
