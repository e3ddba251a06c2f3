// Regenerates the replay fixtures test/fixtures/histories/*.json from real runs of the tiny lineage on a Temporal
// dev server (TEMPORAL_ADDRESS, or one started for the run). Commit the result after a deliberate workflow change;
// the replay test (test/workflows/replay.test.ts) then guards the new command sequence.
//   npm run build && node dist/test/workflows/history-export.js
// (this file is the same entry point for when scripts/ is part of the build)
import { exportHistoriesMain } from '../test/workflows/history-export';

exportHistoriesMain().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
