/**
 * The TypeScript client of the pdit gateway (no JupyterLab imports).
 */
export * from './protocol';
export * from './buffer';
export * from './client';
