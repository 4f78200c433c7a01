// ESLint flat config: typescript-eslint's recommended rules on every package and app; `console` only in apps and
// benchmarks, where printing is the job.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'coverage/**', '**/*.tmp.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly', Buffer: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly',
        setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', queueMicrotask: 'readonly',
        URL: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', TextEncoder: 'readonly',
        TextDecoder: 'readonly', EventTarget: 'readonly', CustomEvent: 'readonly', Event: 'readonly', NodeJS: 'readonly',
        performance: 'readonly', structuredClone: 'readonly', fetch: 'readonly'
      }
    },
    rules: {
      'no-console': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off'
    }
  },
  {
    files: ['apps/**', 'benchmarks/**', 'examples/**', '**/test/**', 'test/**'],
    rules: { 'no-console': 'off' }
  }
)
