import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

const CONFIG = fileURLToPath(new URL('../packages/node/src/config.ts', import.meta.url))
const LIBRARY = fileURLToPath(new URL('../docs/library.md', import.meta.url))

/** The settings createNode accepts, as the compiler sees NodeConfig (EngineInit's fields included) and its `origin`. */
function settings (): { node: string[], origin: string[] } {
  const program = ts.createProgram([CONFIG], {
    target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true, noEmit: true, types: ['node']
  })
  const checker = program.getTypeChecker()
  const source = program.getSourceFile(CONFIG)!
  const decl = source.statements.find((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === 'NodeConfig')!
  const type = checker.getTypeAtLocation(decl.name)
  const origin = checker.getNonNullableType(checker.getTypeOfSymbol(type.getProperty('origin')!))
  return {
    node: checker.getPropertiesOfType(type).map(p => p.name),
    origin: checker.getPropertiesOfType(origin).map(p => p.name)
  }
}

describe('docs/library.md', () => {
  it('lists every createNode setting in its table, and the origin client\'s settings, and nothing that is not one', async () => {
    const text = await readFile(LIBRARY, 'utf8')
    const section = text.slice(text.indexOf('## `createNode(config)`'), text.indexOf('\nThe node:\n'))
    const rows = [...section.matchAll(/^\| `(\w+)` \|/gm)].map(m => m[1])
    const originLine = section.split('\n\n').find(l => l.startsWith('`origin` (`OriginClientInit`)')) ?? ''
    const { node, origin } = settings()
    expect(node.length).toBeGreaterThan(30)
    expect([...rows].sort()).toEqual([...node].sort())
    expect(origin.filter(name => !originLine.includes(`\`${name}\``))).toEqual([])
  })
})
