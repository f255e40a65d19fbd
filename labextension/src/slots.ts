/**
 * The pdit view's CodeMirror extensions: where each statement's lines are (anchors,
 * mapped through the edits), the room its output needs beside them (spacers, the wide
 * layout), the output elements under the statements (slots, the narrow layout) and
 * the statement states on the lines.
 */
import {
  ChangeDesc,
  ChangeSet,
  EditorState,
  Extension,
  StateEffect,
  StateField,
  Text
} from '@codemirror/state';
import {
  Decoration,
  DecorationSet,
  EditorView,
  WidgetType
} from '@codemirror/view';
import { refineChanges } from './sources';

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

// -- spacers: the wide layout ------------------------------------------------------

export interface ISpacer {
  /** Document offset: the end of the line the spacer follows. */
  pos: number;
  /** Height in px. */
  height: number;
}

/** Empty room after a statement's lines, as tall as its output needs beyond them. */
class Spacer extends WidgetType {
  constructor(readonly height: number) {
    super();
  }

  eq(other: Spacer): boolean {
    return other.height === this.height;
  }

  /** Exact, so CodeMirror's height map is right before it measures the element. */
  get estimatedHeight(): number {
    return this.height;
  }

  toDOM(): HTMLElement {
    const dom = document.createElement('div');
    dom.className = 'jp-pdit-spacer';
    dom.setAttribute('aria-hidden', 'true');
    dom.style.height = `${this.height}px`;
    return dom;
  }

  updateDOM(dom: HTMLElement): boolean {
    dom.style.height = `${this.height}px`;
    return true;
  }

  ignoreEvent(): boolean {
    return true;
  }
}

/** Replace every spacer. */
export const setSpacers = StateEffect.define<ISpacer[]>();

const spacerField = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(decorations, transaction) {
    for (const effect of transaction.effects) {
      if (effect.is(setSpacers)) {
        return Decoration.set(
          effect.value.map(spacer =>
            Decoration.widget({
              widget: new Spacer(spacer.height),
              block: true,
              side: 1
            }).range(spacer.pos)
          ),
          true
        );
      }
    }
    return decorations.map(transaction.changes);
  },
  provide: field => EditorView.decorations.from(field)
});

/** The spacers now in the editor, in document order. */
export function currentSpacers(state: EditorState): ISpacer[] {
  const spacers: ISpacer[] = [];
  const cursor = state.field(spacerField, false)?.iter();
  while (cursor?.value) {
    spacers.push({
      pos: cursor.from,
      height: (cursor.value.spec.widget as Spacer).height
    });
    cursor.next();
  }
  return spacers;
}

// -- anchors: where each statement's lines are now -----------------------------------

/** A statement's text in the document: `from` the start of its first line, `to` the end of its last. */
export interface IAnchor {
  from: number;
  to: number;
}

export interface IMappedAnchor extends IAnchor {
  /** The changes altered the statement's own text. */
  edited: boolean;
  /** The changes removed all of it. */
  deleted: boolean;
}

/**
 * Map a statement's range through document changes. Inserting whole lines just before
 * or just after it (text ending, or starting, with a line break at its edges) moves it
 * without editing it; any other change that reaches into the range edits it; a change
 * that removes all of it deletes it.
 */
export function mapAnchor(changes: ChangeDesc, anchor: IAnchor): IMappedAnchor {
  let edited = false;
  let covered = false;
  const { from, to } = anchor;
  const check = (fromA: number, toA: number, inserted?: Text) => {
    if (fromA <= from && toA >= to && toA > fromA) {
      covered = true;
    } else if (fromA < to && toA > from) {
      edited = true; // removed or replaced some of the statement's text
    } else if (fromA === toA && fromA > from && fromA < to) {
      edited = true; // typed inside
    } else if (fromA === toA && inserted !== undefined) {
      const text = inserted.toString();
      if (fromA === from && toA === from && !text.endsWith('\n')) {
        edited = true; // typed at the start of its first line
      } else if (fromA === to && !text.startsWith('\n')) {
        edited = true; // typed at the end of its last line
      }
    }
  };
  if (changes instanceof ChangeSet) {
    changes.iterChanges((fromA, toA, _fromB, _toB, inserted) =>
      check(fromA, toA, inserted)
    );
  } else {
    changes.iterChangedRanges((fromA, toA) => check(fromA, toA));
  }
  const mappedFrom = changes.mapPos(from, 1);
  const mappedTo = changes.mapPos(to, -1);
  const deleted = covered || (to > from && mappedTo <= mappedFrom);
  return {
    from: mappedFrom,
    to: Math.max(mappedFrom, mappedTo),
    edited: edited && !deleted,
    deleted
  };
}

/** Set (add or move) the anchors of these statements. */
export const setAnchors = StateEffect.define<Map<string, IAnchor>>();
/** Forget the anchors of these statements. */
export const dropAnchors = StateEffect.define<string[]>();

/** Each shown statement's range, mapped through every change of the document. */
export const anchorField = StateField.define<ReadonlyMap<string, IAnchor>>({
  create: () => new Map(),
  update(anchors, transaction) {
    let next: Map<string, IAnchor> | null = null;
    if (transaction.docChanged) {
      next = new Map();
      const changes = refineChanges(
        transaction.changes,
        transaction.startState.doc,
        transaction.newDoc
      );
      for (const [key, anchor] of anchors) {
        const mapped = mapAnchor(changes, anchor);
        if (!mapped.deleted) {
          next.set(key, { from: mapped.from, to: mapped.to });
        }
      }
    }
    for (const effect of transaction.effects) {
      if (effect.is(setAnchors)) {
        next ??= new Map(anchors);
        for (const [key, anchor] of effect.value) {
          next.set(key, anchor);
        }
      } else if (effect.is(dropAnchors)) {
        next ??= new Map(anchors);
        for (const key of effect.value) {
          next.delete(key);
        }
      }
    }
    return next ?? anchors;
  }
});

/** The spacers and anchors of the wide layout. */
export function layoutExtension(): Extension {
  return [spacerField, anchorField];
}
