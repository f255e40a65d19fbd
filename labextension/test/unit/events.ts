/**
 * Scripted session events for the model's unit tests.
 */
import { ClientEvent } from '../../src/client';

export const TS = '2026-01-01T00:00:00.000Z';
let seq = 0;

/** A session event of execution `e1` (unless `fields` say another), with the next `seq`. */
export function e(
  type: string,
  fields: Record<string, unknown> = {}
): ClientEvent {
  return {
    type,
    seq: ++seq,
    ts: TS,
    executionId: 'e1',
    ...fields
  } as unknown as ClientEvent;
}

/** The statement fields of a one-line statement. */
export const st = (index: number, line: number) => ({
  index,
  lineStart: line,
  lineEnd: line
});
