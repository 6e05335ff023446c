/** The core's own verbs (fabric verbs come from the registry), in the order --help lists them after the fabrics'. */
import { coexistCommand } from './coexist.js';
import { doctorCommand } from './doctor.js';
import { installCommand } from './install.js';
import { metricsCommand } from './metrics.js';
import type { CoreCommand } from './runtime.js';
import { statusCommand } from './status.js';
import { timerdCommand } from './timerd.js';
import { timersCommand } from './timers-command.js';

export const CORE_COMMANDS: readonly CoreCommand[] = [timersCommand, statusCommand, doctorCommand, coexistCommand, installCommand, metricsCommand, timerdCommand];
