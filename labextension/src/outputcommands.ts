/**
 * The commands that clear the pdit view's outputs: Clear Outputs, and Restart Kernel
 * and Clear. Kept apart from the plugin so menus and shortcuts can take them by id.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { PditView } from './widget';

export namespace OutputCommandIDs {
  export const clearOutputs = 'pdit:clear-outputs';
  export const restartClear = 'pdit:restart-clear';
}

/**
 * Add the commands; `current` gives the pdit view they act on (null: disabled), and
 * `confirmRestart` asks before a restart (as the notebook does). Returns their ids.
 */
export function addOutputCommands(
  commands: JupyterFrontEnd['commands'],
  current: () => PditView | null,
  confirmRestart: () => Promise<boolean> = () => Promise.resolve(true)
): string[] {
  const isEnabled = () => current() !== null;
  commands.addCommand(OutputCommandIDs.clearOutputs, {
    label: 'Clear Outputs (pdit)',
    caption: 'Take away the outputs of every statement that is not running',
    isEnabled,
    execute: () => current()?.clearOutputs()
  });
  commands.addCommand(OutputCommandIDs.restartClear, {
    label: 'Restart Kernel and Clear (pdit)',
    caption: 'Cancel everything, restart the kernel and take every output away',
    isEnabled,
    execute: async () => {
      if (current() === null || !(await confirmRestart())) {
        return false;
      }
      current()?.restartAndClear();
      return true;
    }
  });
  return Object.values(OutputCommandIDs);
}
