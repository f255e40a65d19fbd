/**
 * The pdit JupyterLab extension: a "pdit" view for `.py` files, its commands,
 * shortcuts and toolbar.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, WidgetTracker } from '@jupyterlab/apputils';
import { IEditorServices } from '@jupyterlab/codeeditor';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { DocumentWidget } from '@jupyterlab/docregistry';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import {
  closeIcon,
  CommandToolbarButton,
  fastForwardIcon,
  refreshIcon,
  runIcon,
  stopIcon,
  Toolbar
} from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';
import { addOutputCommands } from './outputcommands';
import {
  PditDocumentWidget,
  PditStatus,
  PditView,
  PditWidgetFactory
} from './widget';

export * from './client';
export { OutputModel } from './model';
export { addOutputCommands, OutputCommandIDs } from './outputcommands';
export { optionsFromServerSettings } from './settings';
export { sessionIdForPath } from './sessionid';
export { PditView, PditDocumentWidget } from './widget';

/** The widget factory's name: "Open With → pdit". */
export const FACTORY = 'pdit';

export namespace CommandIDs {
  export const open = 'pdit:open';
  export const runAll = 'pdit:run-all';
  export const runCurrent = 'pdit:run-current';
  export const interrupt = 'pdit:interrupt';
  export const restartKernel = 'pdit:restart-kernel';
  export const cancel = 'pdit:cancel';
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'pdit-gateway:plugin',
  description:
    'Run a .py file statement by statement, outputs beside the lines (pdit).',
  autoStart: true,
  requires: [IEditorServices, IRenderMimeRegistry, IDocumentManager],
  optional: [ILayoutRestorer, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    editorServices: IEditorServices,
    rendermime: IRenderMimeRegistry,
    docManager: IDocumentManager,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null
  ) => {
    const { commands, shell } = app;
    const tracker = new WidgetTracker<PditDocumentWidget>({
      namespace: 'pdit'
    });

    const populateToolbar = (toolbar: Toolbar<Widget>, view: PditView) => {
      const buttons: [string, string][] = [
        ['run-all', CommandIDs.runAll],
        ['run-current', CommandIDs.runCurrent],
        ['interrupt', CommandIDs.interrupt],
        ['cancel', CommandIDs.cancel],
        ['restart-kernel', CommandIDs.restartKernel]
      ];
      for (const [name, id] of buttons) {
        toolbar.addItem(
          `pdit-${name}`,
          new CommandToolbarButton({
            commands,
            id,
            args: { toolbar: true },
            label: ''
          })
        );
      }
      toolbar.addItem('spacer', Toolbar.createSpacerItem());
      toolbar.addItem('pdit-status', new PditStatus(view));
    };

    const factory = new PditWidgetFactory({
      name: FACTORY,
      label: 'pdit',
      fileTypes: ['python'],
      modelName: 'text',
      rendermime,
      editorFactory: editorServices.factoryService.newDocumentEditor,
      serverSettings: app.serviceManager.serverSettings,
      populateToolbar
    });
    app.docRegistry.addWidgetFactory(factory);
    factory.widgetCreated.connect((_, widget) => {
      widget.context.pathChanged.connect(() => void tracker.save(widget));
      void tracker.add(widget);
    });

    if (restorer) {
      void restorer.restore(tracker, {
        command: 'docmanager:open',
        args: widget => ({ path: widget.context.path, factory: FACTORY }),
        name: widget => widget.context.path
      });
    }

    /** The pdit view of the main area's current widget, if it is one. */
    const current = (): PditView | null => {
      const widget = tracker.currentWidget;
      return widget !== null && widget === shell.currentWidget
        ? widget.content
        : null;
    };
    const isEnabled = () => current() !== null;

    commands.addCommand(CommandIDs.open, {
      label: 'Open in pdit',
      caption: 'Open the current Python file in the pdit view',
      execute: args => {
        let path = args.path as string | undefined;
        if (!path) {
          const widget = shell.currentWidget;
          path =
            widget instanceof DocumentWidget ? widget.context.path : undefined;
        }
        if (!path) {
          return;
        }
        return docManager.openOrReveal(path, FACTORY);
      }
    });
    commands.addCommand(CommandIDs.runAll, {
      label: 'Run All (pdit)',
      caption: 'Run the whole file',
      icon: args => (args.toolbar ? fastForwardIcon : undefined),
      isEnabled,
      execute: () => current()?.runAll()
    });
    commands.addCommand(CommandIDs.runCurrent, {
      label: 'Run Statement (pdit)',
      caption:
        'Run the statement at the cursor, or the statements in the selection',
      icon: args => (args.toolbar ? runIcon : undefined),
      isEnabled,
      execute: () => current()?.runCurrent()
    });
    commands.addCommand(CommandIDs.interrupt, {
      label: 'Interrupt (pdit)',
      caption: 'Interrupt the running execution',
      icon: args => (args.toolbar ? stopIcon : undefined),
      isEnabled,
      execute: () => current()?.interrupt()
    });
    commands.addCommand(CommandIDs.cancel, {
      label: 'Cancel All Runs (pdit)',
      caption: 'Cancel the running and the queued executions',
      icon: args => (args.toolbar ? closeIcon : undefined),
      isEnabled,
      execute: () => current()?.cancel()
    });
    commands.addCommand(CommandIDs.restartKernel, {
      label: 'Restart Kernel (pdit)',
      caption:
        'Cancel everything and restart the kernel (clears the namespace)',
      icon: args => (args.toolbar ? refreshIcon : undefined),
      isEnabled,
      execute: () => current()?.restartKernel()
    });

    const selector = '.jp-pdit-View';
    const keys: [string, string[]][] = [
      [CommandIDs.runCurrent, ['Shift Enter']],
      [CommandIDs.runAll, ['Accel Shift Enter']],
      [CommandIDs.interrupt, ['Accel Alt C']],
      [CommandIDs.cancel, ['Accel Alt X']],
      [CommandIDs.restartKernel, ['Accel Alt R']]
    ];
    for (const [command, k] of keys) {
      commands.addKeyBinding({ command, keys: k, selector });
    }

    for (const command of addOutputCommands(commands, current)) {
      palette?.addItem({ command, category: 'pdit' });
    }

    if (palette) {
      for (const command of Object.values(CommandIDs)) {
        palette.addItem({ command, category: 'pdit' });
      }
    }

    const refresh = () => {
      for (const id of Object.values(CommandIDs)) {
        commands.notifyCommandChanged(id);
      }
    };
    tracker.currentChanged.connect(refresh);
    shell.currentChanged?.connect(refresh);

    app.contextMenu.addItem({
      command: CommandIDs.open,
      selector: '.jp-FileEditor',
      rank: 100
    });
  }
};

export default plugin;
