import {
  ILabShell,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import {
  INotebookTracker,
  NotebookActions,
  NotebookPanel
} from '@jupyterlab/notebook';
import { LabIcon } from '@jupyterlab/ui-components';

import { MlopsPanel } from './panel';

const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
<g class="jp-icon3" fill="#616161"><path d="M3 20h18v2H3zM5 10h3v8H5zm5.5-5h3v13h-3zM16 13h3v5h-3z"/></g></svg>`;

export const mlopsIcon = new LabIcon({ name: 'nbmlops:mlops', svgstr: ICON_SVG });

namespace CommandIDs {
  export const open = 'nbmlops:open';
  export const refresh = 'nbmlops:refresh';
  export const runs = 'nbmlops:show-runs';
  export const models = 'nbmlops:show-models';
}

/** The notebook to insert into: the current one, or a new one when none is open. */
async function targetNotebook(
  app: JupyterFrontEnd,
  tracker: INotebookTracker | null
): Promise<NotebookPanel> {
  if (!tracker) {
    throw new Error('JupyterLab has no notebook tracker: cannot insert a cell.');
  }
  let panel = tracker.currentWidget;
  if (!panel) {
    panel = (await app.commands.execute('notebook:create-new', {
      kernelName: 'python3'
    })) as NotebookPanel;
  }
  await panel.context.ready;
  app.shell.activateById(panel.id);
  return panel;
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'nbmlops:plugin',
  description: 'The MLOps sidebar of nbmlops: runs, models, promote and rollback.',
  autoStart: true,
  optional: [ICommandPalette, INotebookTracker, ILabShell],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    tracker: INotebookTracker | null
  ) => {
    const panel = new MlopsPanel({
      insertCell: async (source: string) => {
        const notebook = await targetNotebook(app, tracker);
        const content = notebook.content;
        if (content.widgets.length === 0 || content.activeCell === null) {
          content.activeCellIndex = Math.max(0, content.widgets.length - 1);
        }
        NotebookActions.insertBelow(content);
        const cell = content.activeCell;
        if (!cell) {
          throw new Error('could not insert a cell into the notebook');
        }
        cell.model.sharedModel.setSource(source);
        content.scrollToItem(content.activeCellIndex);
      }
    });
    panel.title.icon = mlopsIcon;
    app.shell.add(panel, 'left', { rank: 850 });

    // Refresh after a notebook cell finishes executing (a %%track cell adds a run).
    let pending: number | undefined;
    NotebookActions.executed.connect(() => {
      if (!panel.isVisible) {
        return;
      }
      window.clearTimeout(pending);
      pending = window.setTimeout(() => void panel.refresh(), 300);
    });

    app.commands.addCommand(CommandIDs.open, {
      label: 'MLOps: Open Panel',
      icon: mlopsIcon,
      execute: () => app.shell.activateById(panel.id)
    });
    app.commands.addCommand(CommandIDs.refresh, {
      label: 'MLOps: Refresh Panel',
      execute: () => panel.refresh()
    });
    app.commands.addCommand(CommandIDs.runs, {
      label: 'MLOps: Show Runs',
      execute: () => {
        app.shell.activateById(panel.id);
        return panel.showTab('runs');
      }
    });
    app.commands.addCommand(CommandIDs.models, {
      label: 'MLOps: Show Models',
      execute: () => {
        app.shell.activateById(panel.id);
        return panel.showTab('models');
      }
    });
    if (palette) {
      for (const command of Object.values(CommandIDs)) {
        palette.addItem({ command, category: 'MLOps' });
      }
    }
  }
};

export default plugin;
