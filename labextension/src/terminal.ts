/**
 * Terminal rendering of stream text (pure: no DOM, no JupyterLab).
 */

/**
 * Stream text as a terminal shows it: a carriage return goes back to the start of the
 * line (what follows overwrites it), a backspace removes the character before it.
 */
export function terminalText(text: string): string {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  return lines
    .map(line => {
      let shown = line;
      if (shown.includes('\r')) {
        // each \r starts the line again; a later segment overwrites the start of the earlier
        let screen = '';
        for (const segment of shown.split('\r')) {
          screen = segment + screen.slice(segment.length);
        }
        shown = screen;
      }
      while (shown.includes('\b')) {
        // the backspace is the control character this removes, with what it erases
        // eslint-disable-next-line no-control-regex
        shown = shown.replace(/[^\x08]?\x08/, '');
      }
      return shown;
    })
    .join('\n');
}
