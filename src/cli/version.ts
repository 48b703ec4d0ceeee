// Replaced with package.json's version by tsup (`define`); `dev` when run from source.
declare const __SWITCHYARD_VERSION__: string | undefined;

/** The package version, as built into dist/cli.js. */
export const VERSION: string = typeof __SWITCHYARD_VERSION__ === 'string' ? __SWITCHYARD_VERSION__ : 'dev';
