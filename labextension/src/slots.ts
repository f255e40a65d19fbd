/**
 * CodeMirror block widgets that hold statements' output elements below their last
 * line: the narrow-width layout of the pdit view.
 */
import { Extension, StateEffect, StateField } from '@codemirror/state';
import {
  Decoration,
  DecorationSet,
  EditorView,
  WidgetType
} from '@codemirror/view';

export interface ISlot {
  /** Document offset: the end of the statement's last line. */
  pos: number;
  dom: HTMLElement;
}

class OutputSlot extends WidgetType {
  constructor(readonly dom: HTMLElement) {
    super();
  }

  eq(other: OutputSlot): boolean {
    return other.dom === this.dom;
  }

  toDOM(): HTMLElement {
    return this.dom;
  }

  ignoreEvent(): boolean {
    return true;
  }
}

/** Replace every slot. */
export const setSlots = StateEffect.define<ISlot[]>();

const slotField = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(decorations, transaction) {
    for (const effect of transaction.effects) {
      if (effect.is(setSlots)) {
        return Decoration.set(
          effect.value.map(slot =>
            Decoration.widget({
              widget: new OutputSlot(slot.dom),
              block: true,
              side: 1
            }).range(slot.pos)
          ),
          true
        );
      }
    }
    return decorations.map(transaction.changes);
  },
  provide: field => EditorView.decorations.from(field)
});

/** The slots' field and a listener called on every geometry or document change. */
export function slotsExtension(onChange: () => void): Extension {
  return [
    slotField,
    EditorView.updateListener.of(update => {
      if (
        update.geometryChanged ||
        update.docChanged ||
        update.viewportChanged
      ) {
        onChange();
      }
    })
  ];
}

export interface ILineState {
  /** First and last line, 1-based. */
  lineStart: number;
  lineEnd: number;
  state: string;
}

/** Replace the statement states shown on the editor's lines. */
export const setLineStates = StateEffect.define<ILineState[]>();

const lineStateField = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(decorations, transaction) {
    for (const effect of transaction.effects) {
      if (effect.is(setLineStates)) {
        const doc = transaction.state.doc;
        const ranges = [];
        for (const statement of effect.value) {
          const last = Math.min(statement.lineEnd, doc.lines);
          for (let n = Math.max(statement.lineStart, 1); n <= last; n++) {
            ranges.push(
              Decoration.line({
                class: `jp-pdit-line jp-pdit-line-${statement.state}`
              }).range(doc.line(n).from)
            );
          }
        }
        return Decoration.set(ranges, true);
      }
    }
    return decorations.map(transaction.changes);
  },
  provide: field => EditorView.decorations.from(field)
});

/** Marks the lines of queued, running and failed statements. */
export function lineStatesExtension(): Extension {
  return lineStateField;
}
