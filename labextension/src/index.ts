/**
 * The pdit JupyterLab extension: a "pdit" view for `.py` files, its commands,
 * shortcuts and toolbar.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  IKernelStatusModel,
  WidgetTracker
} from '@jupyterlab/apputils';
import { IEditorServices } from '@jupyterlab/codeeditor';
import { ICompletionProviderManager } from '@jupyterlab/completer';
import { IInspector } from '@jupyterlab/inspector';
import { IMainMenu } from '@jupyterlab/mainmenu';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { DocumentWidget } from '@jupyterlab/docregistry';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import {
  closeIcon,
  CommandToolbarButton,
  fastForwardIcon,
  offlineBoltIcon,
  refreshIcon,
  runIcon,
  stopIcon,
  Toolbar
} from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';
import { addOutputCommands, OutputCommandIDs } from './outputcommands';
import {
  confirmRestart,
  exportLastRun,
  nextStatementLine,
  pickKernelSpec,
  PditCompletionProvider,
  runCells,
  showTooltip,
  shutDown
} from './lab';
// Both are needed at once: the inspector's handlers are registered in activate(), and a view's
// kernel link must exist before the view becomes current (the status bar item asks then).
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { addInspection } from './inspector';
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { PditKernelLink } from './sessioncontext';
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
export { percentCells, nextStatementLine } from './lab';

/** The widget factory's name: "Open With → pdit". */
export const FACTORY = 'pdit';

/** The plugin's id: its settings (schema/plugin.json) are under it. */
export const PLUGIN_ID = 'pdit-gateway:plugin';

export namespace CommandIDs {
  export const open = 'pdit:open';
  export const runAll = 'pdit:run-all';
  export const runChanged = 'pdit:run-changed';
  export const runCurrent = 'pdit:run-current';
  export const interrupt = 'pdit:interrupt';
  export const restartKernel = 'pdit:restart-kernel';
  export const cancel = 'pdit:cancel';
  export const runAndAdvance = 'pdit:run-current-and-advance';
  export const restartAndRunAll = 'pdit:restart-run-all';
  export const changeKernel = 'pdit:change-kernel';
  export const shutdown = 'pdit:shutdown-kernel';
  export const runCells = 'pdit:run-cells';
  export const exportHtml = 'pdit:export-html';
  export const exportIpynb = 'pdit:export-ipynb';
  export const tooltip = 'pdit:tooltip';
  export const invokeCompleter = 'pdit:invoke-completer';
  export const selectCompleter = 'pdit:select-completer';
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'Run a .py file statement by statement, outputs beside the lines (pdit).',
  autoStart: true,
  requires: [IEditorServices, IRenderMimeRegistry, IDocumentManager],
  optional: [
    ILayoutRestorer,
    ICommandPalette,
    IMainMenu,
    ICompletionProviderManager,
    IKernelStatusModel,
    IInspector,
    ISettingRegistry
  ],
  activate: (
    app: JupyterFrontEnd,
    editorServices: IEditorServices,
    rendermime: IRenderMimeRegistry,
    docManager: IDocumentManager,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    mainMenu: IMainMenu | null,
    completion: ICompletionProviderManager | null,
    kernelStatus: IKernelStatusModel | null,
    inspector: IInspector | null,
    settingRegistry: ISettingRegistry | null
  ) => {
    const { commands, shell } = app;
    const tracker = new WidgetTracker<PditDocumentWidget>({
      namespace: 'pdit'
    });
    // the user's settings (schema/plugin.json), followed as they change
    let runChangedOnSave = false;
    if (settingRegistry) {
      void settingRegistry
        .load(PLUGIN_ID)
        .then(settings => {
          const read = () => {
            runChangedOnSave = settings.get('runChangedOnSave')
              .composite as boolean;
          };
          read();
          settings.changed.connect(read);
        })
        .catch(err => console.warn('pdit: settings not loaded:', err));
    }

    const populateToolbar = (toolbar: Toolbar<Widget>, view: PditView) => {
      const buttons: [string, string][] = [
        ['run-all', CommandIDs.runAll],
        ['run-changed', CommandIDs.runChanged],
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
    // the kernel status bar item follows the session context of the current pdit view
    const kernelLinks = new WeakMap<PditDocumentWidget, PditKernelLink>();
    if (kernelStatus) {
      kernelStatus.addSessionProvider(widget =>
        widget instanceof PditDocumentWidget
          ? (kernelLinks.get(widget)?.sessionContext ?? null)
          : null
      );
    }
    // Contextual Help (Help menu, Ctrl+I) is JupyterLab's inspector on the view's editor
    const inspect = inspector
      ? addInspection(
          app,
          inspector,
          rendermime,
          (widget): widget is PditDocumentWidget => tracker.has(widget)
        )
      : null;
    factory.widgetCreated.connect((_, widget) => {
      // a code runner: JupyterLab's editor leaves Ctrl+Enter (and Shift+Enter) to the commands
      widget.node.setAttribute('data-jp-code-runner', 'true');
      widget.context.pathChanged.connect(() => void tracker.save(widget));
      // with the setting on, each save of the document runs what changed
      widget.context.saveState.connect((_, state) => {
        if (state === 'completed' && runChangedOnSave) {
          widget.content.runChanged();
        }
      });
      // before the widget is current: the status item asks when it becomes current
      kernelLinks.set(
        widget,
        new PditKernelLink(
          app.serviceManager.sessions,
          app.serviceManager.kernelspecs,
          widget
        )
      );
      void tracker.add(widget);
      inspect?.(widget);
    });

    if (restorer) {
      void restorer.restore(tracker, {
        command: 'docmanager:open',
        args: widget => ({ path: widget.context.path, factory: FACTORY }),
        name: widget => widget.context.path
      });
    }

    /** The pdit document widget in the main area's focus, if it is one. */
    const currentWidget = (): PditDocumentWidget | null => {
      const widget = tracker.currentWidget;
      return widget !== null && widget === shell.currentWidget ? widget : null;
    };

    const addLabCommands = () => {
      commands.addCommand(CommandIDs.runAndAdvance, {
        label: 'Run Statement and Advance (pdit)',
        caption: 'Run the statement at the cursor and move to the next one',
        isEnabled,
        execute: () => {
          const view = current();
          if (!view) {
            return;
          }
          view.runCurrent();
          const editor = view.editor;
          const source = editor.model.sharedModel.getSource();
          const line = editor.getCursorPosition().line;
          const next = nextStatementLine(source, line, view.model.statements);
          editor.setCursorPosition({ line: next, column: 0 });
        }
      });
      commands.addCommand(CommandIDs.restartAndRunAll, {
        label: 'Restart Kernel and Run All (pdit)',
        isEnabled,
        execute: async () => {
          const widget = currentWidget();
          if (widget && (await confirmRestart(widget))) {
            widget.content.restartKernel();
            widget.content.runAll(); // queued behind the restart
            return true;
          }
          return false;
        }
      });
      commands.addCommand(CommandIDs.changeKernel, {
        label: 'Change Kernel… (pdit)',
        isEnabled,
        execute: async () => {
          const widget = currentWidget();
          if (!widget) {
            return null;
          }
          const state = await widget.content.client.getState();
          const name = await pickKernelSpec(app, state.kernel.name);
          if (name !== null) {
            widget.content.client.changeKernel(name);
          }
          return name;
        }
      });
      commands.addCommand(CommandIDs.shutdown, {
        label: 'Shut Down Kernel (pdit)',
        caption:
          "End the file's session and its kernel (a new one starts with the next connection)",
        isEnabled,
        execute: async () => {
          const view = current();
          if (view) {
            await shutDown(app.serviceManager.serverSettings, view);
          }
        }
      });
      commands.addCommand(CommandIDs.runCells, {
        label: 'Run Cells (pdit)',
        caption:
          'Run the file cell by cell (# %% cells), each as a notebook cell runs',
        isEnabled,
        execute: () => {
          const widget = currentWidget();
          return widget ? runCells(widget) : 0;
        }
      });
      for (const [id, format, label] of [
        [CommandIDs.exportHtml, 'html', 'Export Last Run as HTML (pdit)'],
        [CommandIDs.exportIpynb, 'ipynb', 'Export Last Run as Notebook (pdit)']
      ] as const) {
        commands.addCommand(id, {
          label,
          isEnabled,
          execute: () => {
            const widget = currentWidget();
            return widget
              ? exportLastRun(app.serviceManager.serverSettings, widget, format)
              : '';
          }
        });
      }
      commands.addCommand(CommandIDs.tooltip, {
        label: 'Show Tooltip (pdit)',
        isEnabled,
        execute: async () => {
          const widget = currentWidget();
          if (widget) {
            await showTooltip(widget, rendermime).catch(err =>
              console.warn('pdit: no tooltip:', err.message)
            );
          }
        }
      });
      if (completion) {
        completion.registerProvider(new PditCompletionProvider());
        const attach = () => {
          const widget = currentWidget();
          if (widget) {
            void completion.updateCompleter({
              widget,
              editor: widget.content.editor
            });
          }
        };
        tracker.currentChanged.connect(attach);
        tracker.widgetAdded.connect((_, widget) => {
          void widget.context.ready.then(() =>
            completion.updateCompleter({
              widget,
              editor: widget.content.editor
            })
          );
        });
        commands.addCommand(CommandIDs.invokeCompleter, {
          label: 'Show Completions (pdit)',
          execute: () => {
            const widget = currentWidget();
            if (widget) {
              completion.invoke(widget.id);
            }
          }
        });
        commands.addCommand(CommandIDs.selectCompleter, {
          label: 'Select Completion (pdit)',
          execute: () => {
            const widget = currentWidget();
            if (widget) {
              completion.select(widget.id);
            }
          }
        });
      }
    };

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
    commands.addCommand(CommandIDs.runChanged, {
      label: 'Run Changed (pdit)',
      caption:
        'Run what changed since the last run: edited statements and what depends on them; the others keep their outputs',
      icon: args => (args.toolbar ? offlineBoltIcon : undefined),
      isEnabled,
      execute: () => current()?.runChanged()
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
      execute: async () => {
        const widget = currentWidget();
        if (widget && (await confirmRestart(widget))) {
          widget.content.restartKernel();
          return true;
        }
        return false;
      }
    });
    addLabCommands();

    const confirmCurrent = async (): Promise<boolean> => {
      const widget = tracker.currentWidget;
      return (
        widget !== null &&
        (await confirmRestart(widget, ' The outputs are cleared.'))
      );
    };
    for (const command of addOutputCommands(
      commands,
      current,
      confirmCurrent
    )) {
      palette?.addItem({ command, category: 'pdit' });
    }

    if (palette) {
      for (const command of Object.values(CommandIDs)) {
        if (commands.hasCommand(command)) {
          palette.addItem({ command, category: 'pdit' });
        }
      }
    }

    if (mainMenu) {
      const isPdit = (widget: Widget) => tracker.has(widget);
      const runners = mainMenu.runMenu.codeRunners;
      runners.run.add({ id: CommandIDs.runCurrent, isEnabled: isPdit });
      runners.runAll.add({ id: CommandIDs.runAll, isEnabled: isPdit });
      // beside Run All (rank 999, JupyterLab's Run All group)
      mainMenu.runMenu.addItem({ command: CommandIDs.runChanged, rank: 999 });
      // JupyterLab's "Restart Kernel and Run All" runs `restart`, then `runAll`, and
      // "Restart Kernel and Clear" runs `restartKernel`, then `clearWidget`, as for a notebook
      runners.restart.add({ id: CommandIDs.restartKernel, isEnabled: isPdit });
      const users = mainMenu.kernelMenu.kernelUsers;
      users.interruptKernel.add({
        id: CommandIDs.interrupt,
        isEnabled: isPdit
      });
      users.restartKernel.add({
        id: CommandIDs.restartKernel,
        isEnabled: isPdit
      });
      users.clearWidget.add({
        id: OutputCommandIDs.clearOutputs,
        isEnabled: isPdit
      });
      users.changeKernel.add({
        id: CommandIDs.changeKernel,
        isEnabled: isPdit
      });
      users.shutdownKernel.add({ id: CommandIDs.shutdown, isEnabled: isPdit });
      mainMenu.runMenu.addGroup(
        [
          { command: CommandIDs.runCells },
          { command: OutputCommandIDs.clearOutputs }
        ],
        1000
      );
      mainMenu.fileMenu.addGroup(
        [
          { command: CommandIDs.exportHtml },
          { command: CommandIDs.exportIpynb }
        ],
        20
      );
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
    // the view's own context menu: the runs
    [CommandIDs.runCurrent, CommandIDs.runAll, CommandIDs.runChanged].forEach(
      (command, i) =>
        app.contextMenu.addItem({
          command,
          selector: '.jp-pdit-View',
          rank: 10 + i
        })
    );
  }
};

export default plugin;
