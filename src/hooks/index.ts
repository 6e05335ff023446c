/**
 * Every fabric sanhook knows. Adding a fabric is adding its folder and one
 * line here; nothing in src/core or src/timerd changes.
 */
import type { Fabric } from '../core/fabric.js';
import { fcoe } from './fcoe/index.js';
import { nvmf } from './nvmf/index.js';
import { srp } from './srp/index.js';

export const FABRICS: readonly Fabric[] = [nvmf, fcoe, srp];
