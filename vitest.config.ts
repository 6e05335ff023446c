import { defineConfig } from 'vitest/config';

/**
 * Three projects: pure unit tests (parallel), then the integration layer, which runs
 * real processes and timing-sensitive lock tests, so its files run one at a time
 * after the unit tests (groupOrder) and never compete with each other for the CPU,
 * then the real-host system tests (systemd-udevd on real uevents).
 */
export default defineConfig({
  test: {
    pool: 'forks',
    passWithNoTests: true,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/integration/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        test: {
          // Real systemd-udevd and systemd-analyze on this host (root): skip locally without them, fail under CI.
          name: 'system',
          include: ['test/system/**/*-host.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          fileParallelism: false,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
