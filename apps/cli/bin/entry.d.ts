/** The module bin/dopt.js runs: the bundle when current, else dist/bin.js (see entry.js). */
export declare function cliEntry (cli?: URL, root?: URL): URL
