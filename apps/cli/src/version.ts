/** dopt's version, as apps/cli/package.json says (a test keeps the two equal; a bundle has no package.json beside it). */
export const VERSION = '0.1.0'
