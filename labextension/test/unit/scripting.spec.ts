import { channelUrl, END_OF_INPUT } from '../../src/client';
import { OutputModel } from '../../src/model';
import { terminalText } from '../../src/terminal';
import { e, st as at } from './events';

describe('terminalText', () => {
  it('overwrites a line from its start at each carriage return', () => {
    expect(terminalText('progress 10%\rprogress 50%\rprogress 100%\n')).toBe(
      'progress 100%\n'
    );
    // a shorter later text leaves the end of the earlier one, as a terminal does
    expect(terminalText('abcdef\rXY')).toBe('XYcdef');
    expect(terminalText('a\r\nb')).toBe('a\nb');
    expect(terminalText('done\r')).toBe('done');
    expect(terminalText('ab\bc')).toBe('ac');
  });
});

describe('input() and exits in the model', () => {
  it('asks while the statement waits, and stops asking once answered or on output', () => {
    const model = new OutputModel();
    model.apply(e('expressions', { expressions: [at(0, 1), at(1, 2)] }));
    model.apply(e('running', at(0, 1)));
    model.apply(
      e('input-request', { ...at(0, 1), prompt: 'Name: ', password: false })
    );
    const [first] = model.statements;
    expect(first.inputRequest).toEqual({ prompt: 'Name: ', password: false });
    model.inputAnswered(first.key, 'Ada');
    expect(first.inputRequest).toBeUndefined();
    expect(first.answers).toEqual([{ prompt: 'Name: ', value: 'Ada' }]);
    model.apply(
      e('input-request', { ...at(0, 1), prompt: 'Pin: ', password: true })
    );
    expect(first.inputRequest?.password).toBe(true);
    model.apply(e('stream', { ...at(0, 1), name: 'stdout', text: 'ok\n' }));
    expect(first.inputRequest).toBeUndefined();
    model.inputAnswered(first.key, 'not asked'); // nothing waits: nothing recorded
    expect(first.answers).toHaveLength(1);
  });

  it('shows an exit: status 0 done, another status an error', () => {
    const model = new OutputModel();
    model.apply(e('expressions', { expressions: [at(0, 1)] }));
    model.apply(
      e('result', {
        ...at(0, 1),
        output: [],
        isInvisible: true,
        status: 'exited',
        exitCode: 3,
        durationMs: 1,
        executionCount: 1
      })
    );
    model.apply(
      e('complete', { status: 'exited', exitCode: 3, durationMs: 2 })
    );
    const [statement] = model.statements;
    expect([statement.state, statement.exitCode]).toEqual(['error', 3]);
    expect(model.activeExecutions).toEqual([]);
  });
});

describe('channelUrl', () => {
  it('names the document of a session the client creates', () => {
    expect(
      channelUrl({
        baseUrl: 'http://h:8888/base/',
        sessionId: 's',
        token: 't',
        path: 'reports/monthly sales.py'
      })
    ).toBe(
      'ws://h:8888/base/pdit/api/sessions/s/channel?token=t&path=reports%2Fmonthly%20sales.py'
    );
    expect(channelUrl({ baseUrl: 'http://h/', sessionId: 's' })).toBe(
      'ws://h/pdit/api/sessions/s/channel'
    );
  });

  it('ends input with the kernel end-of-input character', () => {
    expect(END_OF_INPUT).toBe('\u0004');
  });
});
