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
 * Add the commands; `current` gives the pdit view they act on (null: disabled).
 * Returns their ids.
 */
export function addOutputCommands(
  commands: JupyterFrontEnd['commands'],
  current: () => PditView | null
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
    execute: () => current()?.restartAndClear()
  });
  return Object.values(OutputCommandIDs);
}
