// ESLint as the JupyterLab extension template configures it (typescript-eslint,
// @jupyter/eslint-plugin, prettier), over the sources and the tests.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';
import prettierRecommended from 'eslint-plugin-prettier/recommended';
import globals from 'globals';
import jupyterPlugin from '@jupyter/eslint-plugin';

export default defineConfig([
  {
    ignores: ['node_modules', 'lib', 'coverage', '**/*.js', '**/*.d.ts']
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    plugins: {
      jupyter: jupyterPlugin
    }
  },
  jupyterPlugin.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: {
      globals: {
        ...globals.browser,
        ...globals.es2015,
        ...globals.node
      },
      parserOptions: {
        project: ['tsconfig.json', 'test/tsconfig.json'],
        sourceType: 'module'
      }
    },
    rules: {
      '@typescript-eslint/naming-convention': [
        'error',
        {
          selector: 'interface',
          format: ['PascalCase'],
          custom: {
            regex: '^I[A-Z]',
            match: true
          }
        }
      ],
      '@typescript-eslint/no-unused-vars': ['warn', { args: 'none' }],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-namespace': 'off',
      '@typescript-eslint/no-use-before-define': 'off',
      curly: ['error', 'all'],
      eqeqeq: 'error',
      'prefer-arrow-callback': 'error'
    }
  },
  {
    // The wire protocol's message types keep the names docs/protocol.md gives them
    // (`ResultEvent`, `WelcomeReply`, ...): they are the client's public API.
    files: ['src/client/protocol.ts'],
    rules: {
      '@typescript-eslint/naming-convention': 'off'
    }
  },
  {
    // The view's strings are not translated yet (no ITranslator, no language pack),
    // and its commands take no arguments to describe.
    rules: {
      'jupyter/no-untranslated-string': 'off',
      'jupyter/command-described-by': 'off'
    }
  },
  prettierRecommended
]);
