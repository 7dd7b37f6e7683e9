// Merges vitest JSON reports (one per lane of scripts/test) into one:
// node scripts/merge-reports.mjs OUT IN... A missing input (a lane that crashed before
// writing its report) counts as a failed suite, so the merged report never looks green.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const [out, ...inputs] = process.argv.slice(2);
if (!out || inputs.length === 0) {
  console.error('usage: node scripts/merge-reports.mjs OUT IN...');
  process.exit(2);
}
const merged = {
  numTotalTestSuites: 0, numPassedTestSuites: 0, numFailedTestSuites: 0, numPendingTestSuites: 0,
  numTotalTests: 0, numPassedTests: 0, numFailedTests: 0, numPendingTests: 0, numTodoTests: 0,
  startTime: Date.now(), success: true, testResults: [],
};
for (const path of inputs) {
  if (!existsSync(path)) {
    console.error(`merge-reports: ${path} was not written (its lane ended before reporting): counted as a failed suite`);
    merged.numTotalTestSuites++;
    merged.numFailedTestSuites++;
    merged.success = false;
    continue;
  }
  const r = JSON.parse(readFileSync(path, 'utf8'));
  for (const key of Object.keys(merged)) if (key.startsWith('num')) merged[key] += Number(r[key] ?? 0);
  merged.startTime = Math.min(merged.startTime, r.startTime ?? merged.startTime);
  merged.success &&= r.success === true;
  merged.testResults.push(...(r.testResults ?? []));
}
writeFileSync(out, JSON.stringify(merged));
