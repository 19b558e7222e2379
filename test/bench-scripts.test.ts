// The bundled benchmark drivers (scripts/bench/) answer --help with their usage, without running anything.
import { execFileSync } from 'child_process';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..');

describe('benchmark drivers --help', () => {
  test.each([
    ['step.js', /Training-step benchmark[\s\S]*--configs[\s\S]*--omp-env/],
    ['e2e.js', /--variants[\s\S]*ours-ungrouped[\s\S]*--summarize/],
    ['distributed.js', /Data-parallel benchmark[\s\S]*--buckets[\s\S]*--help/],
  ])('%s', (script, usage) => {
    const out = execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'bench', script), '--help'], { encoding: 'utf8', timeout: 60_000 });
    expect(out).toMatch(usage);
    expect(out).not.toMatch(/^\/\//m); // the header comment, printed as text
  });
});
