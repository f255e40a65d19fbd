/**
 * A tiny typed signal: `connect` a slot, `emit` a value to every slot.
 *
 * The client has no Lumino dependency; JupyterLab code can wrap a `Signal` in a
 * Lumino signal where it needs one.
 */
export type Slot<T> = (value: T) => void;

export interface ISignal<T> {
  /** Call `slot` on every emission; the returned function disconnects it. */
  connect(slot: Slot<T>): () => void;
  /** Disconnect `slot`; returns whether it was connected. */
  disconnect(slot: Slot<T>): boolean;
}

export class Signal<T> implements ISignal<T> {
  private _slots = new Set<Slot<T>>();

  connect(slot: Slot<T>): () => void {
    this._slots.add(slot);
    return () => {
      this._slots.delete(slot);
    };
  }

  disconnect(slot: Slot<T>): boolean {
    return this._slots.delete(slot);
  }

  /** Call every slot with `value`; a slot that throws does not stop the others. */
  emit(value: T): void {
    for (const slot of [...this._slots]) {
      try {
        slot(value);
      } catch (err) {
        console.error('pdit: a signal handler failed', err);
      }
    }
  }

  /** Disconnect every slot. */
  clear(): void {
    this._slots.clear();
  }
}
